"""Owns the Advisor model and its per-advisor settings."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal, get_args
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from advisors.hours import WEEKDAYS, Availability, InvalidHoursError, availability, parse_ranges, zone
from advisors.texts import Language, language_code, spoken_time, text

# The advisor's own instructions when they wrote none; the deployment's fixed rules come before
# them (bot.agent.rulebook), the same for every advisor.
DEFAULT_SYSTEM_PROMPT = (
    "Eres el asistente virtual de {advisor_name}, asesor comercial de este negocio: respondes a "
    "sus clientes en su nombre. Si el cliente pregunta con quién habla, dile que eres el "
    "asistente virtual de {advisor_name} y que {advisor_name} lo atiende en persona cuando lo pida."
)
DEFAULT_TIME_ZONE = "America/Bogota"
_LANGUAGE_NAMES = {"es": "español", "en": "inglés"}


# How the AI's replies go out: at once, or as drafts a person approves (sql/0024).
AiMode = Literal["auto", "draft"]
AI_MODES: tuple[str, ...] = get_args(AiMode)

# A Twilio Content SID: what an approved WhatsApp template is sent by.
CONTENT_SID_PATTERN = r"^HX[0-9a-fA-F]{32}$"


# The category Meta approved a template under: what each delivered one is billed as.
TemplateCategory = Literal["utility", "marketing", "authentication"]


class ApprovedTemplate(BaseModel):
    """A WhatsApp template Twilio approved (its Content SID), offered outside the 24 h window."""

    name: str
    content_sid: str = Field(pattern=CONTENT_SID_PATTERN)
    variables: list[str] = []
    category: TemplateCategory = "utility"


class AdvisorSettings(BaseModel):
    """What each advisor can tune (the `advisors.settings` jsonb column); unknown keys are kept."""

    model_config = ConfigDict(extra="allow")

    system_prompt: str | None = None
    language: str = "es"
    away_message: str | None = None
    holding_message: str | None = None  # when the AI's answer cannot be sent (figures nobody gave)
    default_region: str | None = None
    tts_voice: str | None = None
    audio_default: bool = False
    audio_reciprocal: bool = True
    templates: list[ApprovedTemplate] = []
    notice_content_sid: str | None = None  # the hand-over notice's template (NOTICE_CONTENT_SID)
    # auto: the AI's replies go out; draft: they wait for a person (a conversation may override).
    ai_mode: AiMode = "auto"
    time_zone: str = DEFAULT_TIME_ZONE
    working_hours: dict[str, list[str]] = {}

    @field_validator("time_zone", mode="before")
    @classmethod
    def _known_zone_only(cls, value: object) -> object:
        """An unknown zone falls back to the default; it must never stop the advisor's routing."""
        try:
            zone(str(value))
        except InvalidHoursError:
            return DEFAULT_TIME_ZONE
        return value

    @field_validator("working_hours", mode="before")
    @classmethod
    def _readable_hours_only(cls, value: object) -> object:
        """Unreadable days are left out (the console and API refuse them when they are written)."""
        if not isinstance(value, dict):
            return {}
        kept: dict[str, list[str]] = {}
        for day, ranges in value.items():
            if day in WEEKDAYS and isinstance(ranges, list):
                try:
                    parse_ranges([str(entry) for entry in ranges])
                except InvalidHoursError:
                    continue
                kept[day] = [str(entry) for entry in ranges]
        return kept

    @field_validator("ai_mode", mode="before")
    @classmethod
    def _known_mode_only(cls, value: object) -> object:
        """A mistyped mode means auto, as before the setting existed; routing never stops on it."""
        return value if value in AI_MODES else "auto"

    @field_validator("notice_content_sid", mode="before")
    @classmethod
    def _content_sid_only(cls, value: object) -> object:
        """A mistyped Content SID is ignored (the global one applies); routing never stops on it."""
        return value if isinstance(value, str) and re.fullmatch(CONTENT_SID_PATTERN, value) else None

    @field_validator("templates", mode="before")
    @classmethod
    def _only_valid_templates(cls, value: object) -> object:
        """A mistyped template is left out of the picker; it must never stop the advisor's routing."""
        if not isinstance(value, list):
            return []
        kept = []
        for entry in value:
            try:
                kept.append(ApprovedTemplate.model_validate(entry))
            except ValueError:
                continue
        return kept


class Advisor(BaseModel):
    """One human sales advisor and the Twilio WhatsApp number customers write to.

    Built from an `advisors` row by column name: `Advisor.model_validate(row)`.
    """

    model_config = ConfigDict(frozen=True)

    id: UUID
    name: str
    phone_number: str
    twilio_phone_number: str
    is_active: bool
    settings: AdvisorSettings

    @field_validator("is_active", mode="before")
    @classmethod
    def _unset_is_inactive(cls, value: object) -> object:
        return bool(value)

    @field_validator("settings", mode="before")
    @classmethod
    def _no_settings_are_defaults(cls, value: object) -> object:
        return value or {}

    def language(self) -> Language:
        """The advisor's language: of their commands and notices, and the customers' fallback."""
        return language_code(self.settings.language)

    def availability(self, at: datetime | None = None) -> Availability:
        """Whether the advisor is at work now (always, when no working hours are set)."""
        return availability(self.settings.working_hours, self.settings.time_zone, at=at or datetime.now(UTC))

    def instructions(self) -> str:
        """What the agent is told of this advisor, the same on every turn: who, how, which language.

        Nothing here changes from one turn to the next (the date and hours are `moment`), so
        every conversation of the advisor shares this part of the prompt (bot.agent.rulebook).
        """
        template = self.settings.system_prompt or DEFAULT_SYSTEM_PROMPT
        language = _LANGUAGE_NAMES[self.language()]
        return (
            f"Instrucciones de {self.name}, el asesor en cuyo nombre respondes:\n"
            f"{template.replace('{advisor_name}', self.name)}\n"
            f"Idioma de {self.name} (si no está claro el del cliente): {language}."
        )

    def away_message(self, *, customer_language: Language | None = None, at: datetime | None = None) -> str:
        """The reply sent when no AI model answers, in the customer's language when guessed.

        The advisor's own text, else the catalogue's; outside working hours it adds when the
        advisor is back.
        """
        language = customer_language or self.language()
        if self.settings.away_message:
            message = self.settings.away_message.replace("{advisor_name}", self.name)
        else:
            message = text("away.default", language, advisor_name=self.name)
        now = self.availability(at)
        if not now.available and now.back_at is not None:
            when = spoken_time(now.back_at, language, now=now.now)
            message = f"{message} {text('away.back_at', language, when=when)}"
        return message

    def holding_message(self, *, customer_language: Language | None = None) -> str:
        """What the customer reads when the AI's answer is held back: a person will confirm.

        The advisor's own text, else the catalogue's, in the customer's language when guessed.
        """
        if self.settings.holding_message:
            return self.settings.holding_message.replace("{advisor_name}", self.name)
        return text("reply.holding", customer_language or self.language(), advisor_name=self.name)

    def moment(self, at: datetime | None = None) -> str:
        """Today's date and whether the advisor is at work: what the agent is told of this moment.

        The date is always there: a model without it guesses "today" from its training, and a
        date it states must come from somewhere it was given (the figure check). No clock: a
        line that changes every minute would change the prompt on every turn, and the cache of
        the model's server with it; the hours status changes only at opening and closing.
        """
        now = self.availability(at)
        weekday = text(f"weekday.{now.now.weekday()}", "es")
        today = f"Hoy es {weekday} {now.now:%d/%m/%Y} ({self.settings.time_zone})."
        if not self.settings.working_hours:
            return today
        if now.available:
            return f"{today} {self.name} está en horario de trabajo."
        back = spoken_time(now.back_at, "es", now=now.now) if now.back_at else "más adelante"
        return (
            f"{today} {self.name} está fuera de horario y vuelve {back}. Si pasas la conversación "
            f"a {self.name}, dile al cliente que le responderá {back}."
        )
