"""Owns the SQL of the advisor's own channel (`advisor_channel`): commands in, notices out.

These are the messages between an advisor's personal phone and their Twilio number, kept apart
from customer conversations.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from memory.records.messages import Billing, record_send_outcome
from memory.records.models import Conn


async def record_advisor_command(*, conn: Conn, advisor_id: UUID, twilio_sid: str, body: str) -> int | None:
    """Store a command from the advisor's own phone; None when this MessageSid was seen before."""
    cursor = await conn.execute(
        "INSERT INTO advisor_channel (advisor_id, direction, body, twilio_sid, status) "
        "VALUES (%s, 'inbound', %s, %s, 'received') ON CONFLICT (twilio_sid) DO NOTHING RETURNING id",
        (advisor_id, body, twilio_sid),
    )
    row = await cursor.fetchone()
    return int(row["id"]) if row else None


async def command_reply(*, conn: Conn, advisor_id: UUID, twilio_sid: str) -> str | None:
    """Return the confirmation already given for a command (a retried request gets the same)."""
    cursor = await conn.execute(
        "SELECT reply FROM advisor_channel WHERE advisor_id = %s AND twilio_sid = %s",
        (advisor_id, twilio_sid),
    )
    row = await cursor.fetchone()
    return row["reply"] if row else None


async def finish_advisor_command(*, conn: Conn, advisor_id: UUID, command_id: int, reply: str) -> None:
    """Store the confirmation a command got."""
    await conn.execute(
        "UPDATE advisor_channel SET reply = %s, status = 'done', updated_at = now() "
        "WHERE advisor_id = %s AND id = %s",
        (reply, advisor_id, command_id),
    )


async def insert_advisor_notice(
    *, conn: Conn, advisor_id: UUID, body: str, template_variables: dict[str, str] | None = None
) -> int:
    """Record a notice for the advisor's personal phone (sent by the worker); return its id.

    `template_variables` are what its approved template gets, should it go as one.
    """
    cursor = await conn.execute(
        "INSERT INTO advisor_channel (advisor_id, direction, body, status, template_variables) "
        "VALUES (%s, 'outbound', %s, 'pending', %s) RETURNING id",
        (advisor_id, body, Jsonb(template_variables) if template_variables is not None else None),
    )
    row = await cursor.fetchone()
    assert row is not None
    return int(row["id"])


async def get_advisor_notice(*, conn: Conn, advisor_id: UUID, notice_id: int) -> dict[str, Any] | None:
    """Return one notice row of one advisor."""
    cursor = await conn.execute(
        "SELECT c.id, c.body, c.status, c.template_variables, h.id AS handover_id FROM advisor_channel c "
        "LEFT JOIN handovers h ON h.advisor_id = c.advisor_id AND h.notice_id = c.id "
        "WHERE c.advisor_id = %s AND c.id = %s AND c.direction = 'outbound'",
        (advisor_id, notice_id),
    )
    return await cursor.fetchone()


# WhatsApp's customer-service window, as it applies to the advisor's own phone.
ADVISOR_WINDOW_HOURS = 24


async def advisor_window_open(*, conn: Conn, advisor_id: UUID) -> bool:
    """Whether the advisor wrote to their Twilio number in the last 24 h (free text may go to them)."""
    cursor = await conn.execute(
        "SELECT EXISTS (SELECT 1 FROM advisor_channel WHERE advisor_id = %s AND direction = 'inbound' "
        "AND created_at > now() - make_interval(hours => %s)) AS open",
        (advisor_id, ADVISOR_WINDOW_HOURS),
    )
    row = await cursor.fetchone()
    return bool(row and row["open"])


async def mark_advisor_notice(
    *,
    conn: Conn,
    advisor_id: UUID,
    notice_id: int,
    status: str,
    twilio_sid: str | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
    billing: Billing | None = None,
) -> None:
    """Record what became of a notice (and, once accepted, what it cost)."""
    await record_send_outcome(
        conn, "advisor_channel", advisor_id, notice_id, status, twilio_sid, error_code, error_message, billing
    )
