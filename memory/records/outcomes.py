"""Owns what the AI brought, per advisor and period: coverage, bookings with and without a person.

Every figure is counted from rows anyone can query (docs/outcomes.md gives each definition
and the query behind it): `messages` (who wrote what, when), `stage_changes` (sql/0031: every
change of a customer's stage), `handovers`. The period is [since, until] in UTC days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from memory.records.models import Conn

RETURN_DAYS = 7

_CONVERSATIONS = """
WITH active AS (
    SELECT conversation_id, min(created_at) AS first_inbound
      FROM messages
     WHERE advisor_id = %(advisor)s AND direction = 'inbound'
       AND created_at >= %(since)s::date AND created_at < %(until)s::date + 1
     GROUP BY conversation_id
), booked AS (
    SELECT conversation_id, min(created_at) AS booked_at
      FROM stage_changes
     WHERE advisor_id = %(advisor)s AND stage = 'booked'
       AND created_at >= %(since)s::date AND created_at < %(until)s::date + 1
     GROUP BY conversation_id
)
SELECT a.conversation_id, a.first_inbound,
       EXISTS (SELECT 1 FROM messages m
                WHERE m.advisor_id = %(advisor)s AND m.conversation_id = a.conversation_id
                  AND m.direction = 'outbound' AND m.author = 'ai'
                  AND m.status NOT IN ('failed', 'pending', 'cancelled')
                  AND m.created_at >= %(since)s::date AND m.created_at < %(until)s::date + 1) AS ai_answered,
       (SELECT min(m.created_at) FROM messages m
         WHERE m.advisor_id = %(advisor)s AND m.conversation_id = a.conversation_id
           AND m.direction = 'outbound' AND m.author IN ('ai', 'advisor')
           AND m.status NOT IN ('failed', 'pending', 'cancelled')
           AND m.created_at >= a.first_inbound) AS first_reply,
       (SELECT min(m.created_at) FROM messages m
         WHERE m.advisor_id = %(advisor)s AND m.conversation_id = a.conversation_id
           AND m.direction = 'outbound' AND m.author = 'ai'
           AND m.status NOT IN ('failed', 'pending', 'cancelled')
           AND m.created_at >= a.first_inbound) AS first_ai_reply,
       (SELECT min(m.created_at) FROM messages m
         WHERE m.advisor_id = %(advisor)s AND m.conversation_id = a.conversation_id
           AND m.direction = 'outbound' AND m.author = 'advisor'
           AND m.status NOT IN ('failed', 'pending', 'cancelled')
           AND m.created_at >= a.first_inbound) AS first_human_reply,
       EXISTS (SELECT 1 FROM stage_changes s
                WHERE s.advisor_id = %(advisor)s AND s.conversation_id = a.conversation_id
                  AND s.stage IN ('interested', 'booked')
                  AND s.created_at < %(until)s::date + 1) AS reached_interested,
       b.booked_at
  FROM active a LEFT JOIN booked b USING (conversation_id)
UNION ALL
-- Booked in the period without writing in it (a booking set from the console later on).
SELECT b.conversation_id, NULL, false, NULL, NULL, NULL, true, b.booked_at
  FROM booked b WHERE b.conversation_id NOT IN (SELECT conversation_id FROM active)
"""

_BOOKINGS = """
SELECT b.conversation_id,
       EXISTS (SELECT 1 FROM messages m
                WHERE m.advisor_id = %(advisor)s AND m.conversation_id = b.conversation_id
                  AND m.direction = 'outbound' AND m.author = 'advisor'
                  AND m.status NOT IN ('failed', 'pending', 'cancelled')
                  AND m.created_at <= b.booked_at) AS human_before,
       EXISTS (SELECT 1 FROM messages m
                WHERE m.advisor_id = %(advisor)s AND m.conversation_id = b.conversation_id
                  AND m.direction = 'inbound' AND m.created_at > b.booked_at
                  AND m.created_at <= b.booked_at + make_interval(days => %(return_days)s)) AS came_back
  FROM unnest(%(ids)s::uuid[], %(at)s::timestamptz[]) AS b(conversation_id, booked_at)
"""

_HANDOVERS = """
SELECT coalesce(category, 'unknown') AS category, count(*) AS n
  FROM handovers
 WHERE advisor_id = %(advisor)s AND created_at >= %(since)s::date AND created_at < %(until)s::date + 1
 GROUP BY 1
"""


@dataclass(frozen=True)
class ActiveConversation:
    """One conversation of the period, as the outcomes read it."""

    conversation_id: UUID
    first_inbound: datetime | None
    ai_answered: bool
    first_reply: datetime | None
    first_ai_reply: datetime | None
    first_human_reply: datetime | None
    reached_interested: bool
    booked_at: datetime | None


@dataclass(frozen=True)
class Bookings:
    """Of the conversations booked in the period: with a person's message before, and back after."""

    assisted: int
    autonomous: int
    came_back: int


async def active_conversations(
    *, conn: Conn, advisor_id: UUID, since: date, until: date
) -> list[ActiveConversation]:
    """The advisor's conversations with a customer message in the period, or booked in it."""
    cursor = await conn.execute(_CONVERSATIONS, {"advisor": advisor_id, "since": since, "until": until})
    return [ActiveConversation(**row) for row in await cursor.fetchall()]


async def bookings(*, conn: Conn, advisor_id: UUID, booked: list[ActiveConversation]) -> Bookings:
    """Whether each booking had a person's message before it, and the customer wrote within 7 days."""
    if not booked:
        return Bookings(0, 0, 0)
    cursor = await conn.execute(
        _BOOKINGS,
        {
            "advisor": advisor_id,
            "ids": [b.conversation_id for b in booked],
            "at": [b.booked_at for b in booked],
            "return_days": RETURN_DAYS,
        },
    )
    rows: list[dict[str, Any]] = list(await cursor.fetchall())
    assisted = sum(1 for row in rows if row["human_before"])
    return Bookings(
        assisted=assisted,
        autonomous=len(rows) - assisted,
        came_back=sum(1 for row in rows if row["came_back"]),
    )


async def handovers_by_category(*, conn: Conn, advisor_id: UUID, since: date, until: date) -> dict[str, int]:
    """Hand-overs of the period per reason category (`unknown` for rows from before categories)."""
    cursor = await conn.execute(_HANDOVERS, {"advisor": advisor_id, "since": since, "until": until})
    return {row["category"]: int(row["n"]) for row in await cursor.fetchall()}
