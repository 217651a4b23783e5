"""Owns the SQL of drafts: the AI's replies that wait for a person in draft mode (sql/0024).

A draft is kept apart from `messages` until it is approved, so it is never sent and never read
back into the AI's memory. Every function takes `advisor_id` and filters on it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from psycopg.types.json import Jsonb
from pydantic import Field, field_validator

from memory.records.models import Conn, Record

DraftStatus = Literal["pending", "approved", "edited", "rejected", "superseded", "timed_out"]
# What the stats count per advisor and day: how each decided draft ended.
DECIDED_STATUSES: tuple[str, ...] = ("approved", "edited", "rejected", "timed_out", "superseded")


class Draft(Record):
    """One reply the AI wrote in draft mode, and what became of it."""

    id: int
    conversation_id: UUID
    reply_to: int = Field(description="The newest customer message it answers")
    body: str = Field(description="What the AI wrote")
    sources: list[dict[str, Any]] = Field(
        default_factory=list, description="The knowledge passages it used: document, passage_id, rank"
    )
    status: DraftStatus = Field(
        description="pending; approved (sent as written), edited (sent as edited), rejected, "
        "superseded (a newer customer message came), timed_out (became a hand-over)"
    )
    sent_body: str | None = Field(description="What was sent: the AI's text or the edit")
    message_id: int | None = Field(description="The first message it was sent as")
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime

    @field_validator("sources", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return [] if value is None else value


_COLUMNS = Draft.columns()


async def list_drafts(*, conn: Conn, advisor_id: UUID, conversation_id: UUID, limit: int = 50) -> list[Draft]:
    """The conversation's drafts, newest first."""
    cursor = await conn.execute(
        f"SELECT {_COLUMNS} FROM drafts WHERE advisor_id = %s AND conversation_id = %s "  # noqa: S608
        "ORDER BY id DESC LIMIT %s",
        (advisor_id, conversation_id, limit),
    )
    return [Draft.model_validate(row) for row in await cursor.fetchall()]


async def pending_draft(*, conn: Conn, advisor_id: UUID, conversation_id: UUID) -> Draft | None:
    """The conversation's newest draft still waiting for a person, if any."""
    cursor = await conn.execute(
        f"SELECT {_COLUMNS} FROM drafts WHERE advisor_id = %s AND conversation_id = %s "  # noqa: S608
        "AND status = 'pending' ORDER BY id DESC LIMIT 1",
        (advisor_id, conversation_id),
    )
    row = await cursor.fetchone()
    return Draft.model_validate(row) if row else None


async def newest_pending(*, conn: Conn, advisor_id: UUID) -> Draft | None:
    """The advisor's newest draft still waiting, in any of their conversations (`#ok`)."""
    cursor = await conn.execute(
        f"SELECT {_COLUMNS} FROM drafts WHERE advisor_id = %s AND status = 'pending' "  # noqa: S608
        "ORDER BY id DESC LIMIT 1",
        (advisor_id,),
    )
    row = await cursor.fetchone()
    return Draft.model_validate(row) if row else None


async def get_draft(*, conn: Conn, advisor_id: UUID, conversation_id: UUID, draft_id: int) -> Draft | None:
    """One draft of this advisor's conversation, locked until the caller's transaction ends."""
    cursor = await conn.execute(
        f"SELECT {_COLUMNS} FROM drafts WHERE advisor_id = %s AND conversation_id = %s "  # noqa: S608
        "AND id = %s FOR UPDATE",
        (advisor_id, conversation_id, draft_id),
    )
    row = await cursor.fetchone()
    return Draft.model_validate(row) if row else None


async def insert_draft(
    *,
    conn: Conn,
    advisor_id: UUID,
    conversation_id: UUID,
    reply_to: int,
    body: str,
    sources: list[dict[str, Any]] | None,
) -> int:
    """Keep a reply as a draft (an AI reply caught by a switch to draft mode); return its id."""
    cursor = await conn.execute(
        "INSERT INTO drafts (advisor_id, conversation_id, reply_to, body, sources) "
        "VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (advisor_id, conversation_id, reply_to, body, Jsonb(sources) if sources else None),
    )
    row = await cursor.fetchone()
    assert row is not None
    return int(row["id"])


async def decide_draft(
    *,
    conn: Conn,
    advisor_id: UUID,
    draft_id: int,
    status: DraftStatus,
    decided_by: str,
    sent_body: str | None = None,
    message_id: int | None = None,
) -> Draft | None:
    """Settle a pending draft; None when it was no longer pending (someone else settled it)."""
    cursor = await conn.execute(
        "UPDATE drafts SET status = %s, decided_by = %s, decided_at = now(), sent_body = %s, "
        "message_id = %s WHERE advisor_id = %s AND id = %s AND status = 'pending' "
        f"RETURNING {_COLUMNS}",
        (status, decided_by, sent_body, message_id, advisor_id, draft_id),
    )
    row = await cursor.fetchone()
    return Draft.model_validate(row) if row else None
