"""Owns the hand-over brief: what the advisor needs to pick a conversation up without reading it all.

A brief travels with every hand-over (on its `handovers` row, in the notice, on the console's
conversation head, in the API): what the customer wants, what is known of them (their profile),
what they last said, what the AI already told them, and the kind of hand-over. It is a summary
of stored rows, written when the hand-over happens, so it never needs the model.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args
from uuid import UUID

from pydantic import BaseModel, Field

from memory.records.models import Conn
from memory.records.profiles import get_profile

# The kinds of hand-over (sql/0021's CHECK), named by the agent's tool, counted in the stats.
HandoverCategory = Literal[
    "customer_request",
    "missing_knowledge",
    "negotiation",
    "complaint",
    "out_of_scope",
    "after_hours",
    "tool_failure",
    "loop",
]
HANDOVER_CATEGORIES: tuple[str, ...] = get_args(HandoverCategory)
SAID_CHARS = 300  # each quoted message, cut: the brief is read on a phone


class HandoverBrief(BaseModel):
    """What the advisor reads when a conversation is handed to them."""

    category: str | None = Field(description="The kind of hand-over (customer_request, complaint, …)")
    wants: str = Field(description="Why a person should take over, in the AI's words")
    customer_name: str | None = None
    facts: dict[str, Any] = Field(default_factory=dict, description="From the customer's profile")
    labels: list[str] = Field(default_factory=list)
    stage: str | None = None
    customer_said: str | None = Field(default=None, description="The customer's last message")
    ai_told: list[str] = Field(default_factory=list, description="The AI's last replies, oldest first")
    waiting_draft: str | None = Field(
        default=None, description="Draft mode: the AI's draft that waited with nobody approving it"
    )


async def compose_brief(
    *,
    conn: Conn,
    advisor_id: UUID,
    conversation_id: UUID,
    reason: str,
    category: str | None,
    waiting_draft: str | None = None,
) -> HandoverBrief:
    """The brief of a hand-over happening now in this advisor's conversation."""
    profile = await get_profile(conn=conn, advisor_id=advisor_id, conversation_id=conversation_id)
    cursor = await conn.execute(
        "SELECT direction, author, body FROM messages WHERE advisor_id = %s AND conversation_id = %s "
        "AND coalesce(body, '') <> '' AND (direction = 'inbound' OR author = 'ai') "
        "ORDER BY id DESC LIMIT 12",
        (advisor_id, conversation_id),
    )
    rows = await cursor.fetchall()
    said = next((row["body"] for row in rows if row["direction"] == "inbound"), None)
    told = [row["body"] for row in rows if row["direction"] == "outbound"][:2]
    return HandoverBrief(
        category=category,
        wants=reason,
        customer_name=profile.name if profile else None,
        facts=dict(profile.data) if profile else {},
        labels=list(profile.labels) if profile else [],
        stage=profile.stage if profile else None,
        customer_said=_cut(said) if said else None,
        ai_told=[_cut(body) for body in reversed(told)],
        waiting_draft=_cut(waiting_draft) if waiting_draft else None,
    )


def _cut(text: str) -> str:
    return text if len(text) <= SAID_CHARS else text[: SAID_CHARS - 1].rstrip() + "…"


class LatestHandover(BaseModel):
    """A conversation's latest hand-over: its brief, and whether its notice reached the advisor."""

    id: int
    category: str | None
    reason: str | None
    brief: HandoverBrief | None
    notice_status: str | None = Field(
        description="The notice's delivery: pending, sent, …, failed, or undeliverable (not attempted: "
        "the advisor's 24 h window was closed and no notice template is configured)"
    )
    created_at: datetime


async def latest_handover(*, conn: Conn, advisor_id: UUID, conversation_id: UUID) -> LatestHandover | None:
    """The latest hand-over of this advisor's conversation, if it ever had one."""
    cursor = await conn.execute(
        "SELECT h.id, h.category, h.reason, h.brief, h.created_at, c.status AS notice_status "
        "FROM handovers h LEFT JOIN advisor_channel c ON c.advisor_id = h.advisor_id AND c.id = h.notice_id "
        "WHERE h.advisor_id = %s AND h.conversation_id = %s ORDER BY h.id DESC LIMIT 1",
        (advisor_id, conversation_id),
    )
    row = await cursor.fetchone()
    return LatestHandover.model_validate(row) if row else None
