"""Owns the API's request and response bodies that are not records themselves.

Conversations and messages are answered as `memory.records.models` defines them; only pages,
inputs and the advisor and statistics views are declared here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, computed_field, model_validator

from advisors.models import CONTENT_SID_PATTERN, AiMode
from memory.records.drafts import Draft
from memory.records.handover_briefs import LatestHandover
from memory.records.message_flags import COMMENT_CHARS, FlagCategory
from memory.records.models import Conversation, Message

SystemName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_\-]{1,50}$")]
# PostgreSQL text and jsonb cannot hold NUL: refused here as 422 rather than failing there.
ExternalId = Annotated[str, StringConstraints(pattern=r"^[^\x00]{1,200}$")]


class ConversationPage(BaseModel):
    """A page of conversations; pass `next_cursor` as `cursor` for the next one."""

    items: list[Conversation]
    next_cursor: str | None


class MessagePage(BaseModel):
    """A page of messages, oldest first."""

    items: list[Message]
    next_cursor: str | None


class ConversationDetail(Conversation):
    """A conversation with (a page of) its messages, and its latest hand-over's brief."""

    messages: MessagePage
    handover: LatestHandover | None = None


class ConversationPatch(BaseModel):
    """The flags an advisor may change; at least one."""

    model_config = ConfigDict(extra="forbid")

    ai_attention: bool | None = None
    audio_available: bool | None = None
    ai_mode: AiMode | None = Field(
        default=None,
        description="auto (the AI's replies go out) or draft (they wait for approval); "
        "null follows the advisor's ai_mode setting",
    )

    @model_validator(mode="after")
    def _something(self) -> ConversationPatch:
        if (
            self.ai_attention is None
            and self.audio_available is None
            and "ai_mode" not in self.model_fields_set
        ):
            raise ValueError("give ai_attention, audio_available and/or ai_mode")
        return self


class Refusal(BaseModel):
    """Why the request changed nothing, in words a person can act on."""

    detail: str


class FlagIn(BaseModel):
    """What was wrong with an AI answer."""

    model_config = ConfigDict(extra="forbid")

    category: FlagCategory
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=COMMENT_CHARS)] | None = None


class DraftPage(BaseModel):
    """A conversation's drafts, newest first, and the mode its AI answers in now."""

    ai_mode: AiMode = Field(description="The mode in effect: the conversation's, else the advisor's")
    items: list[Draft]


class DraftApproval(BaseModel):
    """Approve a draft as written, or send `body` instead (an edited draft)."""

    model_config = ConfigDict(extra="forbid")

    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4800)] | None = (
        None
    )


class ManualReplyIn(BaseModel):
    """A message the advisor sends by hand: free text, or an approved template."""

    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1600)] | None = (
        None
    )
    content_sid: Annotated[str, StringConstraints(pattern=CONTENT_SID_PATTERN)] | None = None
    content_variables: dict[str, Annotated[str, StringConstraints(max_length=1024)]] | None = None
    options: (
        Annotated[list[Annotated[str, StringConstraints(max_length=200)]], Field(min_length=2, max_length=10)]
        | None
    ) = Field(
        None,
        description="Choices the customer picks with one tap; `text` is their question. Each option is "
        "'title' or 'title | description'. 2-3 short ones become quick-reply buttons, up to 10 a list.",
    )
    options_kind: Literal["quick_reply", "list"] | None = Field(
        None, description="Force buttons or a list; by default the options decide."
    )

    @model_validator(mode="after")
    def _text_or_template(self) -> ManualReplyIn:
        if self.text is None and self.content_sid is None:
            raise ValueError("give text, or content_sid for an approved template")
        if self.content_variables and self.content_sid is None:
            raise ValueError("content_variables go with content_sid")
        if self.options is not None and (self.content_sid is not None or self.text is None):
            raise ValueError("options go with text (their question), not with a template")
        if self.options_kind is not None and self.options is None:
            raise ValueError("options_kind goes with options")
        return self


class ManualReplyOut(BaseModel):
    """The accepted message; the worker sends it and reports through events and status."""

    message_id: int
    conversation_id: UUID
    status: str


class AdvisorOut(BaseModel):
    """One registered advisor, with the settings exactly as stored."""

    id: UUID
    name: str
    phone_number: str
    twilio_phone_number: str
    is_active: bool
    created_at: datetime
    settings: dict[str, Any]


class OutcomesOut(BaseModel):
    """What the AI carried in one advisor's period and what it cost; docs/outcomes.md defines each."""

    advisor_id: UUID
    since: date
    until: date
    conversations: int = Field(description="Conversations with a customer message in the period")
    ai_answered: int = Field(description="Of those, answered by the AI at least once in the period")
    coverage: float | None = Field(description="ai_answered / conversations")
    booked: int = Field(description="Conversations whose stage became booked in the period")
    autonomous: int = Field(description="Booked with no message of the advisor before the booking")
    assisted: int = Field(description="Booked with a message of the advisor before the booking")
    autonomous_share: float | None = Field(description="autonomous / conversations")
    assisted_share: float | None = Field(description="assisted / conversations")
    handovers_by_category: dict[str, int]
    after_hours: int = Field(
        description="Conversations whose first message of the period came outside working hours"
    )
    after_hours_answered: int = Field(description="Of those, answered (by the AI or a person)")
    median_first_response_ai_seconds: float | None
    median_first_response_human_seconds: float | None
    came_back_within_7_days: int = Field(description="Booked customers who wrote again within 7 days")
    funnel: dict[str, int] = Field(
        description="Of the conversations: new (all), reached interested, reached booked"
    )
    cost_usd: float = Field(description="What the advisor's messages and model calls cost in the period")
    cost_per_booked_lead_usd: float | None = Field(description="cost_usd / booked")


class StatsDay(BaseModel):
    """One day (UTC) of an advisor's activity."""

    day: date
    conversations: int
    inbound: int
    ai_replies: int
    human_replies: int
    handovers: int
    handovers_by_category: dict[str, int] = Field(
        default_factory=dict,
        description="Hand-overs per kind (customer_request, complaint, …; unknown before kinds)",
    )
    drafts: dict[str, int] = Field(
        default_factory=dict,
        description="Draft mode: drafts settled that day by outcome (approved as written, edited, "
        "rejected, timed_out, superseded)",
    )
    flags_by_category: dict[str, int] = Field(
        default_factory=dict,
        description="Advisors' flags on AI messages that day per kind (incorrect, inappropriate, …)",
    )
    median_first_response_seconds: float | None
    median_first_human_response_seconds: float | None
    whatsapp_cost_usd: float = Field(
        description="WhatsApp's charge for the messages Twilio accepted that day (rate card)"
    )
    twilio_cost_usd: float = Field(description="Twilio's fee for those messages (TWILIO_FEE_PER_MESSAGE)")
    model_cost_usd: float = Field(
        description="The model calls of that day: answers, summaries, embeddings, audio"
    )
    prompt_tokens: int
    cached_tokens: int = Field(
        description="Of the prompt tokens, those the model's server read from its cache"
    )
    completion_tokens: int

    @computed_field(description="whatsapp + twilio + model")  # type: ignore[prop-decorator]
    @property
    def cost_usd(self) -> float:
        """What the day cost in all: WhatsApp, Twilio and the model."""
        return round(self.whatsapp_cost_usd + self.twilio_cost_usd + self.model_cost_usd, 6)


class StatsOut(BaseModel):
    """Per-day activity of one advisor."""

    advisor_id: UUID
    days: list[StatsDay]


class CacheInvalidated(BaseModel):
    """The advisor cache was dropped in every process."""

    status: str
