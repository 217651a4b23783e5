"""Owns the read queries of the API: conversation pages, message pages, CRM look-ups, statistics.

Each takes `advisor_id` explicitly; `None` is spelled out by the caller only for the admin.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date, datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from memory.store import Conn

_CONVERSATION_FIELDS = (
    "c.conversation_id, c.advisor_id, c.phone_number, c.ai_attention, c.audio_available, "
    "c.handover_reason, c.ai_attention_changed_at, c.ai_attention_changed_by, c.opted_out, "
    "c.opted_out_at, c.last_inbound_at, c.last_advisor_message_at, c.crm_refs, c.created_at, "
    "c.updated_at"
)
_MESSAGE_FIELDS = (
    "id, direction, author, body, media, twilio_sid, status, error_code, error_message, "
    "transcript, media_error, created_at, updated_at"
)


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
) -> tuple[list[dict[str, Any]], str | None]:
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
    rows = list(await cursor.fetchall())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(
            {"created_at": last["created_at"].isoformat(), "id": str(last["conversation_id"])}
        )
    return rows, next_cursor


async def get_conversation_row(
    *, conn: Conn, advisor_id: UUID | None, conversation_id: UUID
) -> dict[str, Any] | None:
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
    return await cursor.fetchone()


async def list_messages(
    *, conn: Conn, advisor_id: UUID, conversation_id: UUID, after: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Return one page of a conversation's messages, oldest first, and the next cursor."""
    after_id = 0
    if after is not None:
        try:
            after_id = int(decode_cursor(after)["id"])
        except (KeyError, TypeError, ValueError) as error:
            raise BadCursorError("invalid cursor") from error
    cursor = await conn.execute(
        f"SELECT {_MESSAGE_FIELDS} FROM messages "  # noqa: S608
        "WHERE advisor_id = %s AND conversation_id = %s AND id > %s ORDER BY id LIMIT %s",
        (advisor_id, conversation_id, after_id, limit + 1),
    )
    rows = list(await cursor.fetchall())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor({"id": rows[-1]["id"]})
    return rows, next_cursor


async def set_crm_refs(*, conn: Conn, advisor_id: UUID, conversation_id: UUID, refs: dict[str, str]) -> None:
    """Replace a conversation's external ids (system name → id in that system)."""
    await conn.execute(
        "UPDATE chat_history SET crm_refs = %s, updated_at = now() "
        "WHERE advisor_id = %s AND conversation_id = %s",
        (Jsonb(refs), advisor_id, conversation_id),
    )


async def find_by_crm_ref(
    *, conn: Conn, advisor_id: UUID | None, system: str, external_id: str
) -> list[dict[str, Any]]:
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
    return list(await cursor.fetchall())


async def advisor_stats(*, conn: Conn, advisor_id: UUID, since: date, until: date) -> list[dict[str, Any]]:
    """Return per-day activity of one advisor between two dates (inclusive, UTC days).

    First-response time: for each conversation and day, from the customer's first message of the
    day to the first reply (AI or human) after it.
    """
    cursor = await conn.execute(
        """
        WITH days AS (
            SELECT d::date AS day FROM generate_series(%(since)s::date, %(until)s::date, interval '1 day') d
        ),
        msgs AS (
            SELECT (created_at AT TIME ZONE 'UTC')::date AS day, conversation_id, direction, author,
                created_at
            FROM messages
            WHERE advisor_id = %(advisor)s
              AND created_at >= %(since)s::date AND created_at < %(until)s::date + 1
        ),
        firsts AS (
            SELECT day, conversation_id, min(created_at) AS first_inbound
            FROM msgs WHERE direction = 'inbound' GROUP BY day, conversation_id
        ),
        responses AS (
            SELECT f.day, extract(epoch FROM (
                SELECT min(m.created_at) FROM messages m
                WHERE m.advisor_id = %(advisor)s AND m.conversation_id = f.conversation_id
                  AND m.direction = 'outbound' AND m.created_at >= f.first_inbound
                  AND m.status NOT IN ('failed', 'pending')
            ) - f.first_inbound) AS seconds
            FROM firsts f
        ),
        handover_days AS (
            SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n FROM handovers
            WHERE advisor_id = %(advisor)s
              AND created_at >= %(since)s::date AND created_at < %(until)s::date + 1
            GROUP BY 1
        )
        SELECT d.day,
            (SELECT count(DISTINCT conversation_id) FROM msgs WHERE msgs.day = d.day) AS conversations,
            (SELECT count(*) FROM msgs WHERE msgs.day = d.day AND direction = 'inbound') AS inbound,
            (SELECT count(*) FROM msgs WHERE msgs.day = d.day AND direction = 'outbound'
                AND author = 'ai') AS ai_replies,
            (SELECT count(*) FROM msgs WHERE msgs.day = d.day AND direction = 'outbound'
                AND author = 'advisor') AS human_replies,
            coalesce((SELECT n FROM handover_days h WHERE h.day = d.day), 0) AS handovers,
            (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) FROM responses r
                WHERE r.day = d.day AND seconds IS NOT NULL) AS median_first_response_seconds
        FROM days d ORDER BY d.day
        """,
        {"advisor": advisor_id, "since": since, "until": until},
    )
    return list(await cursor.fetchall())
