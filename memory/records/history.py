"""Owns reading a conversation back as the AI remembers it: the newest turns, within a size.

Every message is stored once, in `messages`; the AI's memory reads its verbatim turns from here
instead of copying them into every checkpoint, so a turn costs the same bytes at turn 200 as at
turn 10. What the customer never received (a send Twilio refused, a reply dropped before it was
recorded) is not remembered, because it is not here; nor is a customer message given up after
repeated failures (status `failed`), which must not break every later turn too.
"""

from __future__ import annotations

from uuid import UUID

from memory.records.models import Conn, Message

_COLUMNS = Message.columns()
NOT_RECEIVED = ["failed", "undelivered", "canceled"]  # a list: psycopg sends it as an array


def recent_turns_sql(before: str) -> str:
    """The query of `recent_turns`, with the bound `before` given as an SQL expression.

    Named parameters: advisor_id, conversation_id, after_id, not_received, max_chars. The worker's
    one-statement read of a turn (`memory.records.turn_start`) embeds it with a subquery bound.
    """
    return (
        f"SELECT {_COLUMNS} FROM ("  # noqa: S608 - the column list is ours
        f" SELECT {_COLUMNS}, sum(length(body) + coalesce(length(transcript), 0) + 16)"
        "  OVER (ORDER BY id DESC) AS running_chars"
        " FROM messages"
        " WHERE advisor_id = %(advisor_id)s AND conversation_id = %(conversation_id)s"
        f"  AND id < {before} AND id > %(after_id)s"
        "  AND NOT status = ANY(%(not_received)s) AND (direction = 'inbound' OR author IN ('ai', 'advisor'))"
        " ORDER BY id DESC LIMIT 5000"
        ") newest WHERE running_chars <= %(max_chars)s ORDER BY id"
    )


async def recent_turns(
    *,
    conn: Conn,
    advisor_id: UUID,
    conversation_id: UUID,
    before_id: int,
    after_id: int,
    max_chars: int,
) -> list[Message]:
    """Messages between `after_id` and `before_id` (both excluded), newest up to `max_chars`.

    The customer's, the AI's and the advisor's, returned oldest first.
    The size cut happens in SQL (a running sum over the index on conversation and id), so a
    conversation of ten thousand messages reads only what can be remembered.
    """
    cursor = await conn.execute(
        recent_turns_sql("%(before_id)s"),
        {
            "advisor_id": advisor_id,
            "conversation_id": conversation_id,
            "before_id": before_id,
            "after_id": after_id,
            "not_received": NOT_RECEIVED,
            "max_chars": max_chars,
        },
    )
    return [Message.model_validate(row) for row in await cursor.fetchall()]
