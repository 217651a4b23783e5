"""Owns the Advisor model and its per-advisor settings."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_SYSTEM_PROMPT = (
    "Eres {advisor_name}, asesor comercial. Respondes por WhatsApp a clientes en nombre de "
    "{advisor_name}: breve, cordial y concreto. Si el cliente pide hablar con una persona, o "
    "no puedes ayudarle, usa la herramienta para pasar la conversación al asesor humano."
)
DEFAULT_AWAY_MESSAGE = "Hola, soy {advisor_name}. Recibí tu mensaje y te responderé personalmente muy pronto."


# A Twilio Content SID: what an approved WhatsApp template is sent by.
CONTENT_SID_PATTERN = r"^HX[0-9a-fA-F]{32}$"


class ApprovedTemplate(BaseModel):
    """A WhatsApp template Twilio approved (its Content SID), offered outside the 24 h window."""

    name: str
    content_sid: str = Field(pattern=CONTENT_SID_PATTERN)
    variables: list[str] = []


class AdvisorSettings(BaseModel):
    """What each advisor can tune (the `advisors.settings` jsonb column); unknown keys are kept."""

    model_config = ConfigDict(extra="allow")

    system_prompt: str | None = None
    language: str = "es"
    away_message: str | None = None
    default_region: str | None = None
    tts_voice: str | None = None
    audio_default: bool = False
    audio_reciprocal: bool = True
    templates: list[ApprovedTemplate] = []

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

    def system_prompt(self) -> str:
        """The prompt the agent answers this advisor's customers with."""
        template = self.settings.system_prompt or DEFAULT_SYSTEM_PROMPT
        prompt = template.replace("{advisor_name}", self.name)
        return f"{prompt}\n\nIdioma de respuesta: {self.settings.language}."

    def away_message(self) -> str:
        """The reply sent when no AI model is configured."""
        template = self.settings.away_message or DEFAULT_AWAY_MESSAGE
        return template.replace("{advisor_name}", self.name)
