"""Owns advisor commands over WhatsApp: `#ia`, `#audio`, `#r`, `#borrador`/`#auto`, `#ok`, `#lista`, `#web`.

An advisor writes from their personal number to their own Twilio number; such a message is a
command for that advisor and acts only on that advisor's conversations. Each command is answered
in the webhook's own TwiML response, so the confirmation needs no extra API call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import phonenumbers
import procrastinate

from advisors.console_access import issue_link
from advisors.models import Advisor, AiMode
from advisors.numbers import InvalidNumberError, normalize_whatsapp_address
from advisors.texts import Language, text
from bot.infra.events import EventPublisher, attention_event
from bot.settings import Settings
from bot.web.advisor_replies import ManualReplyRefusedError, queue_manual_reply
from bot.web.drafts import DraftRefusedError, approve_draft, switch_ai_mode
from memory.records import conversations, drafts
from memory.records.models import Conn, Conversation

_PHONE_TOKEN = re.compile(r"^[+\d().\-]+$")


@dataclass(frozen=True)
class Command:
    """A parsed command; `phone` is E.164, `text` a relay's words or a template's name."""

    name: str
    phone: str | None = None
    enabled: bool | None = None
    text: str | None = None
    variables: tuple[str, ...] = ()  # a template's, in order
    problem: str | None = None  # a catalogue key, filled from `problem_values`
    problem_values: dict[str, str] = field(default_factory=dict)


def default_region(advisor: Advisor) -> str | None:
    """The country assumed for numbers typed without a prefix: the advisor's own, or their setting."""
    if advisor.settings.default_region:
        return advisor.settings.default_region.upper()
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(advisor.phone_number))
    except phonenumbers.NumberParseException:
        return None


def _phone(raw: str, region: str | None) -> str:
    candidate = raw.strip()
    if not candidate.startswith("+") and region is None:
        raise InvalidNumberError(raw)
    return normalize_whatsapp_address(candidate, default_region=None if candidate.startswith("+") else region)


def _split_phone_and_text(rest: str, region: str | None) -> tuple[str, str] | None:
    """Split `+57 300 111 2233 texto` into the longest leading valid number and the text after it."""
    tokens = rest.split()
    phone_like = 0
    while phone_like < len(tokens) and _PHONE_TOKEN.match(tokens[phone_like]):
        phone_like += 1
    for end in range(min(phone_like, len(tokens) - 1), 0, -1):
        try:
            number = _phone(" ".join(tokens[:end]), region)
        except InvalidNumberError:
            continue
        if phonenumbers.is_valid_number(phonenumbers.parse(number)):
            return number, " ".join(tokens[end:])
    if len(tokens) > 1 and tokens[0].startswith("+"):  # one '+' token: the number as written
        try:
            return _phone(tokens[0], region), " ".join(tokens[1:])
        except InvalidNumberError:
            return None
    return None


def parse_command(text: str, *, region: str | None) -> Command:
    """Read one advisor message as a command; anything not understood asks for help."""
    words = text.strip().split(maxsplit=1)
    if not words or not words[0].startswith("#"):
        return Command("help")
    head, rest = words[0].lower(), (words[1] if len(words) > 1 else "").strip()
    if head == "#lista":
        return Command("list")
    if head == "#web":
        return Command("web")
    if head in {"#ia", "#audio"}:
        switch, _, target = rest.partition(" ")
        if switch.lower() not in {"on", "off"} or not target.strip():
            return Command("help", problem="command.usage_switch", problem_values={"command": head})
        try:
            phone = _phone(target, region)
        except InvalidNumberError:
            return Command("help", problem="command.bad_phone", problem_values={"phone": target.strip()[:40]})
        return Command("ai" if head == "#ia" else "audio", phone=phone, enabled=switch.lower() == "on")
    if head in {"#borrador", "#auto"}:
        if not rest:
            return Command("help", problem="command.usage_mode", problem_values={"command": head})
        try:
            phone = _phone(rest, region)
        except InvalidNumberError:
            return Command("help", problem="command.bad_phone", problem_values={"phone": rest[:40]})
        return Command("mode", phone=phone, text="draft" if head == "#borrador" else "auto")
    if head == "#ok":
        if not rest:
            return Command("approve")
        try:
            return Command("approve", phone=_phone(rest, region))
        except InvalidNumberError:
            return Command("help", problem="command.bad_phone", problem_values={"phone": rest[:40]})
    if head == "#plantillas":
        return Command("templates")
    if head in {"#plantilla", "#t"}:
        split = _split_phone_and_text(rest, region)
        if split is None:
            return Command("help", problem="command.usage_template")
        name, _, given = split[1].partition(" ")
        words = given.split("|") if "|" in given else given.split()
        return Command(
            "template", phone=split[0], text=name, variables=tuple(w.strip() for w in words if w.strip())
        )
    if head == "#r":
        split = _split_phone_and_text(rest, region)
        if split is None:
            return Command("help", problem="command.usage_reply")
        return Command("relay", phone=split[0], text=split[1])
    return Command("help")


async def run_command(
    command: Command,
    *,
    conn: Conn,
    advisor: Advisor,
    queue: procrastinate.App,
    settings: Settings,
    events: EventPublisher,
    console_base: str = "",
) -> str:
    """Carry out a command inside the caller's transaction; return the confirmation to send back.

    `console_base` is the server's public address, for the sign-in link `#web` answers with.
    """
    language = advisor.language()
    if command.name == "list":
        waiting = await conversations.waiting_conversations(conn=conn, advisor_id=advisor.id)
        if not waiting:
            return text("command.nobody_waiting", language)
        lines = [
            f"• {c.phone_number}" + (f" — {c.handover_reason}" if c.handover_reason else "") for c in waiting
        ]
        return text("command.waiting", language) + "\n" + "\n".join(lines)
    if command.name == "web":
        secret = await issue_link(conn=conn, advisor_id=advisor.id)
        return text("command.console_link", language, link=f"{console_base}/console/link/{secret}")
    if command.name == "approve" and command.phone is None:
        newest = await drafts.newest_pending(conn=conn, advisor_id=advisor.id)
        found = (
            await conversations.get_conversation(
                conn=conn, advisor_id=advisor.id, conversation_id=newest.conversation_id
            )
            if newest
            else None
        )
        if found is None:
            return text("command.no_draft", language, whom="")
        return await _approve(conn, queue, events, advisor, found)
    if command.name == "templates":
        if not advisor.settings.templates:
            return text("command.no_templates", language)
        return (
            text("command.templates", language)
            + "\n"
            + "\n".join(
                f"• {t.name}" + (f" ({', '.join(t.variables)})" if t.variables else "")
                for t in advisor.settings.templates
            )
        )
    if command.name == "help" or command.phone is None:
        help_text = text("command.help", language)
        if command.problem:
            return text(command.problem, language, **command.problem_values) + "\n\n" + help_text
        return help_text
    conversation = await conversations.find_conversation(
        conn=conn, advisor_id=advisor.id, phone=command.phone
    )
    if conversation is None:
        return text("command.no_conversation", language, phone=command.phone)
    if command.name == "ai":
        assert command.enabled is not None
        await conversations.set_ai_attention(
            conn=conn,
            advisor_id=advisor.id,
            phone=command.phone,
            enabled=command.enabled,
            changed_by="advisor",
        )
        if conversation.ai_attention != command.enabled:
            await events.publish(
                conn, "ai_attention.changed", attention_event(conversation, command.enabled, "advisor")
            )
        return text("command.ai_on" if command.enabled else "command.ai_off", language, phone=command.phone)
    if command.name == "mode":
        mode: AiMode = "draft" if command.text == "draft" else "auto"
        await switch_ai_mode(
            conn=conn, events=events, conversation=conversation, mode=mode, changed_by="advisor"
        )
        return text(f"command.mode_{mode}", language, phone=command.phone)
    if command.name == "approve":
        return await _approve(conn, queue, events, advisor, conversation)
    if command.name == "audio":
        assert command.enabled is not None
        await conversations.set_audio_available(
            conn=conn, advisor_id=advisor.id, phone=command.phone, enabled=command.enabled
        )
        return text(
            "command.audio_on" if command.enabled else "command.audio_off", language, phone=command.phone
        )
    if command.name == "template":
        return await _send_template(command, conn, queue, settings, events, advisor, conversation)
    refused = await _queue_from_phone(conn, queue, settings, events, advisor, conversation, body=command.text)
    if refused:
        return refused
    paused = text("command.ai_paused", language) if settings.ai_pause_on_manual_reply else ""
    return text("command.sending", language, phone=command.phone) + paused


async def _approve(
    conn: Conn, queue: procrastinate.App, events: EventPublisher, advisor: Advisor, conversation: Conversation
) -> str:
    """`#ok`: send the conversation's newest waiting draft as the AI wrote it."""
    language, phone = advisor.language(), conversation.phone_number
    try:
        await approve_draft(
            conn=conn,
            queue=queue,
            events=events,
            advisor=advisor,
            conversation=conversation,
            draft_id=None,
            body=None,
            decided_by="whatsapp",
        )
    except DraftRefusedError as error:
        if error.reason == "not_found":
            return text(
                "command.no_draft", language, whom=text("command.no_draft_for", language, phone=phone)
            )
        return text("command.not_sent", language, phone=phone, reason=str(error))
    except ManualReplyRefusedError as error:
        return text("command.not_sent", language, phone=phone, reason=_refusal_text(error, language))
    return text("command.draft_sent", language, phone=phone)


def _refusal_text(error: ManualReplyRefusedError, language: Language, phone: str = "") -> str:
    """Why a message was not sent, from the catalogue (else the error's own words).

    A closed window names what can still be sent from the phone: `#plantilla`.
    """
    if error.reason == "window_closed" and phone:
        return text("refusal.window_closed_phone", language, phone=phone)
    reason = text(f"refusal.{error.reason}", language)
    return str(error) if reason.startswith("refusal.") else reason


async def _send_template(
    command: Command,
    conn: Conn,
    queue: procrastinate.App,
    settings: Settings,
    events: EventPublisher,
    advisor: Advisor,
    conversation: Conversation,
) -> str:
    """`#plantilla <tel> <nombre> [variables…]`: one of the advisor's approved templates, by name."""
    language, phone, wanted = advisor.language(), conversation.phone_number, (command.text or "").lower()
    template = next((t for t in advisor.settings.templates if t.name.lower() == wanted), None)
    if template is None:
        if not advisor.settings.templates:
            return text("command.no_templates", language)
        names = ", ".join(t.name for t in advisor.settings.templates)
        return text("command.unknown_template", language, name=command.text or "", names=names)
    if len(command.variables) != len(template.variables):
        return text(
            "command.template_variables",
            language,
            name=template.name,
            wanted=str(len(template.variables)),
            variables=", ".join(template.variables) or "—",
            given=str(len(command.variables)),
        )
    refused = await _queue_from_phone(
        conn,
        queue,
        settings,
        events,
        advisor,
        conversation,
        body=f"[{template.name}] {' · '.join(command.variables)}".rstrip(),
        content_sid=template.content_sid,
        content_variables={str(n): value for n, value in enumerate(command.variables, start=1)},
    )
    return refused or text("command.template_sending", language, phone=phone, name=template.name)


async def _queue_from_phone(
    conn: Conn,
    queue: procrastinate.App,
    settings: Settings,
    events: EventPublisher,
    advisor: Advisor,
    conversation: Conversation,
    *,
    body: str | None,
    content_sid: str | None = None,
    content_variables: dict[str, str] | None = None,
) -> str | None:
    """Queue what the advisor sends from their phone (`#r`, `#plantilla`); the refusal line, or None."""
    try:
        await queue_manual_reply(
            conn=conn,
            queue=queue,
            settings=settings,
            advisor=advisor,
            conversation=conversation,
            text=body,
            events=events,
            content_sid=content_sid,
            content_variables=content_variables,
        )
    except ManualReplyRefusedError as error:
        phone, language = conversation.phone_number, advisor.language()
        return text("command.not_sent", language, phone=phone, reason=_refusal_text(error, language, phone))
    return None
