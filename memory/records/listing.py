"""Owns the read queries of the API: conversation pages, message pages and CRM look-ups.

Each takes `advisor_id` explicitly; `None` is spelled out by the caller only for the admin.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from memory.records.models import MESSAGE_PRIVATE_FIELDS, Conn, Conversation, Message

_CONVERSATION_FIELDS = Conversation.columns(prefix="c.")
_MESSAGE_FIELDS = Message.columns(exclude=MESSAGE_PRIVATE_FIELDS)


class BadCursorError(ValueError):
    """A pagination cursor that this server did not issue."""


def encode_cursor(values: dict[str, Any]) -> str:
    """Return an opaque cursor for the position after `values`."""
    raw = json.dumps(values, default=str, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    """Read a cursor back, or raise BadCursorError."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError) as error:
        raise BadCursorError("invalid cursor") from error
    if not isinstance(values, dict):
        raise BadCursorError("invalid cursor")
    return values


async def list_conversations(
    *,
    conn: Conn,
    advisor_id: UUID | None,
    ai_attention: bool | None = None,
    updated_since: datetime | None = None,
    after: str | None = None,
    limit: int = 50,
) -> tuple[list[Conversation], str | None]:
    """Return one page of conversations, oldest first, and the cursor of the next page.

    The order is by creation (`created_at`, then id), which never changes: paging through while
    new conversations arrive returns each one exactly once, new ones at the end.
    """
    conditions: list[str] = ["true"]
    params: list[Any] = []
    if advisor_id is not None:
        conditions.append("c.advisor_id = %s")
        params.append(advisor_id)
    if ai_attention is not None:
        conditions.append("c.ai_attention = %s")
        params.append(ai_attention)
    if updated_since is not None:
        conditions.append("c.updated_at >= %s")
        params.append(updated_since)
    if after is not None:
        position = decode_cursor(after)
        try:
            conditions.append("(c.created_at, c.conversation_id) > (%s::timestamptz, %s::uuid)")
            params += [datetime.fromisoformat(position["created_at"]), UUID(position["id"])]
        except (KeyError, TypeError, ValueError) as error:
            raise BadCursorError("invalid cursor") from error
    cursor = await conn.execute(
        f"SELECT {_CONVERSATION_FIELDS} FROM chat_history c WHERE {' AND '.join(conditions)} "  # noqa: S608
        "ORDER BY c.created_at, c.conversation_id LIMIT %s",
        (*params, limit + 1),
    )
    rows = [Conversation.model_validate(row) for row in await cursor.fetchall()]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(
            {"created_at": last.created_at.isoformat(), "id": str(last.conversation_id)}
        )
    return rows, next_cursor


async def find_visible_conversation(
    *, conn: Conn, advisor_id: UUID | None, conversation_id: UUID
) -> Conversation | None:
    """Return one conversation, if it exists and (for an advisor) is theirs."""
    conditions: list[str] = ["c.conversation_id = %s"]
    params: list[Any] = [conversation_id]
    if advisor_id is not None:
        conditions.append("c.advisor_id = %s")
        params.append(advisor_id)
    cursor = await conn.execute(
        f"SELECT {_CONVERSATION_FIELDS} FROM chat_history c WHERE {' AND '.join(conditions)}",  # noqa: S608
        params,
    )
    row = await cursor.fetchone()
    return Conversation.model_validate(row) if row else None


async def list_messages(
    *, conn: Conn, advisor_id: UUID, conversation_id: UUID, after: str | None, limit: int
) -> tuple[list[Message], str | None]:
    """Return one page of a conversation's messages, oldest first, and the next cursor."""
    after_id = 0
    if after is not None:
        position = decode_cursor(after).get("id")
        # Only what encode_cursor writes: a message id, which is a positive bigint.
        if type(position) is not int or not 0 <= position < 2**63:
            raise BadCursorError("invalid cursor")
        after_id = position
    cursor = await conn.execute(
        f"SELECT {_MESSAGE_FIELDS} FROM messages "  # noqa: S608
        "WHERE advisor_id = %s AND conversation_id = %s AND id > %s ORDER BY id LIMIT %s",
        (advisor_id, conversation_id, after_id, limit + 1),
    )
    rows = [Message.model_validate(row) for row in await cursor.fetchall()]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor({"id": rows[-1].id})
    return rows, next_cursor


async def find_by_crm_ref(
    *, conn: Conn, advisor_id: UUID | None, system: str, external_id: str
) -> list[Conversation]:
    """Return the conversations linked to one contact of one external system."""
    conditions: list[str] = ["c.crm_refs @> %s"]
    params: list[Any] = [Jsonb({system: external_id})]
    if advisor_id is not None:
        conditions.append("c.advisor_id = %s")
        params.append(advisor_id)
    cursor = await conn.execute(
        f"SELECT {_CONVERSATION_FIELDS} FROM chat_history c WHERE {' AND '.join(conditions)} "  # noqa: S608
        "ORDER BY c.created_at, c.conversation_id LIMIT 500",
        params,
    )
    return [Conversation.model_validate(row) for row in await cursor.fetchall()]
