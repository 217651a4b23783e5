"""Owns the shape of a conversation and of a message: one definition for the SQL, the worker and the API.

Rows become models by column name (`Model.model_validate(row)`), and the column lists of the
queries are derived from the fields, so a new column is added in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

Conn = AsyncConnection[Any]

WHATSAPP_SESSION_WINDOW = timedelta(hours=24)


def unstorable_text(text: str) -> str | None:
    """Why PostgreSQL's text type cannot hold `text` (a NUL, a lone surrogate), or None when it can.

    One rule for every text that arrives from outside (query strings, imported records).
    """
    if "\x00" in text:
        return "holds a NUL character, which PostgreSQL cannot store"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "holds invalid text (a lone surrogate)"
    return None


class Record(BaseModel):
    """A row read from the database: immutable, built from a dict row by column name."""

    model_config = ConfigDict(frozen=True)

    @classmethod
    def columns(cls, *, prefix: str = "", exclude: frozenset[str] = frozenset()) -> str:
        """The SELECT list for this model's fields, optionally qualified by a table alias."""
        return ", ".join(prefix + name for name in cls.model_fields if name not in exclude)


class Conversation(Record):
    """One advisor + customer conversation (a `chat_history` row) and its flags."""

    conversation_id: UUID
    advisor_id: UUID
    phone_number: str
    profile_name: str | None = Field(default=None, description="The customer's WhatsApp profile name")
    ai_attention: bool
    audio_available: bool
    handover_reason: str | None
    ai_attention_changed_at: datetime | None
    ai_attention_changed_by: str | None
    opted_out: bool
    opted_out_at: datetime | None
    last_inbound_at: datetime | None
    last_advisor_message_at: datetime | None
    crm_refs: dict[str, str]
    ai_mode: str | None = Field(
        default=None, description="auto or draft for this conversation; null follows the advisor's ai_mode"
    )
    profile_updated_at: datetime | None = Field(default=None, description="When the profile last changed")
    legacy_conversation_ids: list[str] = Field(
        default_factory=list,
        description="The old bot's ids of this conversation, when it was moved from its tables (db upgrade)",
    )
    created_at: datetime
    updated_at: datetime

    def session_window_open(self, *, now: datetime | None = None) -> bool:
        """Whether free-form messages may still be sent (within 24 h of the customer's last one)."""
        if self.last_inbound_at is None:
            return False
        return (now or datetime.now(UTC)) - self.last_inbound_at < WHATSAPP_SESSION_WINDOW

    @computed_field(description="Free-form messages allowed (customer wrote within 24 h)")  # type: ignore[prop-decorator]
    @property
    def window_open(self) -> bool:
        """The session window, as the API shows it."""
        return self.session_window_open()

    @computed_field(  # type: ignore[prop-decorator]
        description="Waiting for the advisor: the AI is off (hand-over, away message, takeover) and "
        "the customer wrote after the advisor's last message"
    )
    @property
    def waiting(self) -> bool:
        """Whether a person owes this customer an answer; the advisor's reply clears it."""
        if self.ai_attention or self.opted_out:
            return False
        if self.last_advisor_message_at is None:
            return True
        return self.last_inbound_at is not None and self.last_inbound_at > self.last_advisor_message_at


class Message(Record):
    """One message of a conversation (a `messages` row), inbound or outbound."""

    id: int
    direction: str
    author: str
    body: str
    media: list[dict[str, Any]]
    payload: dict[str, Any] | None = Field(default=None, exclude=True)
    twilio_sid: str | None
    status: str
    part: int | None = Field(default=None, exclude=True)
    error_code: str | None
    error_message: str | None
    transcript: str | None = Field(description="What a voice note said, once transcribed")
    media_error: str | None = Field(description="Why the media could not be understood")
    attempts: int = Field(default=0, exclude=True)
    sources: list[dict[str, Any]] = Field(
        default_factory=list,
        description="For an AI answer, the knowledge passages it used: document, passage_id, rank",
    )
    created_at: datetime
    updated_at: datetime

    @field_validator("media", "sources", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return [] if value is None else value


# The API never shows Twilio's raw form, how a reply was split or how often a worker tried;
# the worker needs all three.
MESSAGE_PRIVATE_FIELDS = frozenset({"payload", "part", "attempts"})


@dataclass(frozen=True)
class InboundMessage:
    """A customer's message as the webhook received it, before it is stored."""

    twilio_sid: str
    body: str
    media: list[dict[str, str]]
    payload: dict[str, Any]
    profile_name: str | None = None
