"""Owns the Advisor model and its per-advisor settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

DEFAULT_SYSTEM_PROMPT = (
    "Eres {advisor_name}, asesor comercial. Respondes por WhatsApp a clientes en nombre de "
    "{advisor_name}: breve, cordial y concreto. Si el cliente pide hablar con una persona, o "
    "no puedes ayudarle, usa la herramienta para pasar la conversación al asesor humano."
)
DEFAULT_AWAY_MESSAGE = "Hola, soy {advisor_name}. Recibí tu mensaje y te responderé personalmente muy pronto."


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


@dataclass(frozen=True)
class Advisor:
    """One human sales advisor and the Twilio WhatsApp number customers write to."""

    id: UUID
    name: str
    phone_number: str
    twilio_phone_number: str
    is_active: bool
    settings: AdvisorSettings

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Advisor:
        """Build an Advisor from a row of the `advisors` table."""
        return cls(
            id=row["id"],
            name=row["name"],
            phone_number=row["phone_number"],
            twilio_phone_number=row["twilio_phone_number"],
            is_active=bool(row["is_active"]),
            settings=AdvisorSettings.model_validate(row.get("settings") or {}),
        )

    def system_prompt(self) -> str:
        """The prompt the agent answers this advisor's customers with."""
        template = self.settings.system_prompt or DEFAULT_SYSTEM_PROMPT
        prompt = template.replace("{advisor_name}", self.name)
        return f"{prompt}\n\nIdioma de respuesta: {self.settings.language}."

    def away_message(self) -> str:
        """The reply sent when no AI model is configured."""
        template = self.settings.away_message or DEFAULT_AWAY_MESSAGE
        return template.replace("{advisor_name}", self.name)
