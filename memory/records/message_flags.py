"""Owns the SQL of advisors' flags on AI messages (sql/0025): what was wrong with an answer.

Every function takes `advisor_id` and filters on it; only the AI's own messages can be flagged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args
from uuid import UUID

from pydantic import Field

from memory.records.models import Conn, Record

FlagCategory = Literal["incorrect", "inappropriate", "incomplete", "outdated", "other"]
FLAG_CATEGORIES: tuple[str, ...] = get_args(FlagCategory)
COMMENT_CHARS = 1000


class MessageFlag(Record):
    """One flag an advisor or admin put on an AI message."""

    id: int
    message_id: int
    category: FlagCategory = Field(description="incorrect, inappropriate, incomplete, outdated or other")
    comment: str | None
    flagged_by: str = Field(description="advisor or admin")
    created_at: datetime


_COLUMNS = MessageFlag.columns()


class NotAnAiMessageError(Exception):
    """The message is not one of the AI's in this conversation (or does not exist)."""


async def flag_message(
    *,
    conn: Conn,
    advisor_id: UUID,
    conversation_id: UUID,
    message_id: int,
    category: FlagCategory,
    comment: str | None,
    flagged_by: str,
) -> MessageFlag:
    """Flag one of the AI's messages of this advisor's conversation.

    Raises:
        NotAnAiMessageError: no AI message with that id in the conversation.
    """
    cursor = await conn.execute(
        "INSERT INTO message_flags (advisor_id, conversation_id, message_id, category, comment, flagged_by) "
        "SELECT advisor_id, conversation_id, id, %s, %s, %s FROM messages "
        "WHERE advisor_id = %s AND conversation_id = %s AND id = %s AND author = 'ai' "
        f"RETURNING {_COLUMNS}",
        (category, comment, flagged_by, advisor_id, conversation_id, message_id),
    )
    row = await cursor.fetchone()
    if row is None:
        raise NotAnAiMessageError(message_id)
    return MessageFlag.model_validate(row)


async def conversation_flags(*, conn: Conn, advisor_id: UUID, conversation_id: UUID) -> list[MessageFlag]:
    """The flags on this advisor's conversation, oldest first."""
    cursor = await conn.execute(
        f"SELECT {_COLUMNS} FROM message_flags WHERE advisor_id = %s AND conversation_id = %s "  # noqa: S608
        "ORDER BY id",
        (advisor_id, conversation_id),
    )
    return [MessageFlag.model_validate(row) for row in await cursor.fetchall()]
