"""Owns choices the AI offers in one tap: quick-reply buttons (2–3) or a list picker (up to 10).

WhatsApp sends them inside the 24 h window as Twilio Content (`twilio/quick-reply`,
`twilio/list-picker`), with no approval by Meta. Their limits are WhatsApp's: a button's title
at most 20 characters, a list item's 24 and its description 72, the question 1,024. What breaks
them is refused with the reason, in the agent's language, so the model can try again shorter.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

ChoiceKind = Literal["quick_reply", "list"]
MAX_BUTTONS, MAX_ITEMS = 3, 10
MAX_BUTTON_TITLE, MAX_ITEM_TITLE, MAX_ITEM_DESCRIPTION = 20, 24, 72
MAX_QUESTION = 1024
LIST_BUTTON = "Ver opciones"
DESCRIPTION_SEPARATOR = "|"


class ChoicesRefusedError(ValueError):
    """The choices break a WhatsApp limit; the message (Spanish) says which, for the model."""


@dataclass(frozen=True)
class Choice:
    """One option: what the customer reads, and the id their tap comes back with."""

    title: str
    id: str
    description: str = ""


BODY_VARIABLE = "{{1}}"  # the message's text, given with each send: one Content per set of options


@dataclass(frozen=True)
class Choices:
    """A question and its options, as one WhatsApp message.

    `lead` is the reply the options close, when it fits in the same message: "Tenemos tres
    proyectos… ¿Cuál te interesa?" and its buttons are one billed message, not two.
    """

    kind: ChoiceKind
    question: str
    options: tuple[Choice, ...]
    lead: str = ""

    def body(self) -> str:
        """The message's text above the options: the reply they close, then the question."""
        return f"{self.lead}\n\n{self.question}" if self.lead else self.question

    def with_lead(self, reply: str) -> Choices | None:
        """These choices carrying `reply` above the question, or None when both do not fit one message."""
        lead = reply.strip()
        if not lead or len(lead) + 2 + len(self.question) > MAX_QUESTION:
            return None
        return Choices(self.kind, self.question, self.options, lead)

    def content_variables(self) -> dict[str, str]:
        """What each send fills the Content's body with."""
        return {"1": self.body()}

    def content_types(self) -> dict[str, Any]:
        """The Content API's `types` of this message (a text fallback for other channels).

        The text is a variable, so the same options are created once however they are asked.
        """
        if self.kind == "quick_reply":
            rich: dict[str, Any] = {
                "twilio/quick-reply": {
                    "body": BODY_VARIABLE,
                    "actions": [{"title": o.title, "id": o.id} for o in self.options],
                }
            }
        else:
            rich = {
                "twilio/list-picker": {
                    "body": BODY_VARIABLE,
                    "button": LIST_BUTTON,
                    "items": [
                        {
                            "item": o.title,
                            "id": o.id,
                            **({"description": o.description} if o.description else {}),
                        }
                        for o in self.options
                    ],
                }
            }
        return {**rich, "twilio/text": {"body": "\n".join([BODY_VARIABLE, *self._option_lines()])}}

    def shape_hash(self) -> str:
        """What identifies this content: the same kind and options are created once."""
        return hashlib.sha256(json.dumps(self.content_types(), sort_keys=True).encode()).hexdigest()

    def as_text(self) -> str:
        """The message as text: what is stored, remembered, shown in the console."""
        return "\n".join([self.body(), *self._option_lines()])

    def _option_lines(self) -> list[str]:
        return [
            f"{n}. {o.title}" + (f" — {o.description}" if o.description else "")
            for n, o in enumerate(self.options, 1)
        ]

    def to_payload(self) -> dict[str, Any]:
        """What the message row keeps, for delivery to create and send the content."""
        return {
            "kind": self.kind,
            "question": self.question,
            "options": [{"title": o.title, "id": o.id, "description": o.description} for o in self.options],
            **({"lead": self.lead} if self.lead else {}),
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Choices:
        """The choices a message row keeps (`to_payload`)."""
        return cls(
            kind=payload["kind"],
            question=payload["question"],
            options=tuple(Choice(o["title"], o["id"], o.get("description", "")) for o in payload["options"]),
            lead=str(payload.get("lead") or ""),
        )


def build_choices(question: str, options: list[str], kind: ChoiceKind | None = None) -> Choices:
    """The message for `options` (each "título" or "título | descripción"); raises with the reason.

    Without `kind`: buttons for 2 or 3 short options, a list otherwise.

    Raises:
        ChoicesRefusedError: a WhatsApp limit is broken (the message says which).
    """
    asked = question.strip()
    if not asked:
        raise ChoicesRefusedError("Falta la pregunta que acompaña a las opciones.")
    if len(asked) > MAX_QUESTION:
        raise ChoicesRefusedError(f"La pregunta pasa de {MAX_QUESTION} caracteres; acórtala.")
    split = [_split(option) for option in options if option.strip()]
    if not 2 <= len(split) <= MAX_ITEMS:
        raise ChoicesRefusedError(f"Ofrece entre 2 y {MAX_ITEMS} opciones (diste {len(split)}).")
    if len({title.lower() for title, _ in split}) != len(split):
        raise ChoicesRefusedError("Hay opciones repetidas; cada una debe ser distinta.")
    fits_buttons = len(split) <= MAX_BUTTONS and all(len(t) <= MAX_BUTTON_TITLE and not d for t, d in split)
    chosen: ChoiceKind = kind or ("quick_reply" if fits_buttons else "list")
    if chosen == "quick_reply":
        if len(split) > MAX_BUTTONS:
            raise ChoicesRefusedError(f"Los botones son {MAX_BUTTONS} como máximo; usa una lista.")
        long = [t for t, _ in split if len(t) > MAX_BUTTON_TITLE]
        if long:
            raise ChoicesRefusedError(
                f"Cada botón admite {MAX_BUTTON_TITLE} caracteres; acorta: {', '.join(long)}."
            )
    else:
        long = [t for t, _ in split if len(t) > MAX_ITEM_TITLE]
        if long:
            raise ChoicesRefusedError(
                f"Cada opción de la lista admite {MAX_ITEM_TITLE} caracteres; acorta: {', '.join(long)} "
                f"(pon el detalle tras «{DESCRIPTION_SEPARATOR}», hasta {MAX_ITEM_DESCRIPTION})."
            )
        wordy = [t for t, d in split if len(d) > MAX_ITEM_DESCRIPTION]
        if wordy:
            raise ChoicesRefusedError(
                f"Cada descripción admite {MAX_ITEM_DESCRIPTION} caracteres; "
                f"acorta la de: {', '.join(wordy)}."
            )
    return Choices(
        kind=chosen,
        question=asked,
        options=tuple(Choice(t, f"opcion_{n}", d) for n, (t, d) in enumerate(split, 1)),
    )


def choice_kind(named: str | None) -> ChoiceKind | None:
    """The kind a form names ("quick_reply" or "list"); anything else leaves it to the options."""
    if named == "quick_reply":
        return "quick_reply"
    if named == "list":
        return "list"
    return None


def _split(option: str) -> tuple[str, str]:
    title, _, description = option.partition(DESCRIPTION_SEPARATOR)
    return title.strip(), description.strip()
