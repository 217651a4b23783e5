"""Owns re-engagement campaigns: who is on one, and what happened to each of them.

The list is fixed when the campaign is made (the customers matching its filters then); whether
each may be sent to is checked again just before sending, since consent can be withdrawn
meanwhile: a customer who opted out or never consented is skipped, and counted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb
from pydantic import Field

from memory.records.customers import CustomerFilter, matching_ids
from memory.records.models import Conn, Record


class Campaign(Record):
    """A campaign and its counts."""

    id: int
    advisor_id: UUID
    content_sid: str
    variables: dict[str, str]
    status: str
    created_by: str
    created_at: datetime
    finished_at: datetime | None
    held_reason: str | None = None
    recipients: int = 0
    pending: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    skipped_reasons: dict[str, int] = Field(default_factory=dict)


class Recipient(Record):
    """The next customer to send to, with what the template's variables are filled from."""

    conversation_id: UUID
    phone_number: str
    opted_out: bool
    marketing_consent: bool
    name: str | None
    stage: str
    labels: list[str]
    data: dict[str, Any]


async def create_campaign(
    *,
    conn: Conn,
    advisor_id: UUID,
    content_sid: str,
    variables: dict[str, str],
    found: CustomerFilter,
    created_by: str,
) -> int:
    """Make a campaign for the advisor's customers matching `found`; return its id."""
    cursor = await conn.execute(
        "INSERT INTO campaigns (advisor_id, content_sid, variables, filters, created_by) "
        "VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (advisor_id, content_sid, Jsonb(variables), Jsonb(found.model_dump(mode="json")), created_by),
    )
    row = await cursor.fetchone()
    assert row is not None
    campaign_id = int(row["id"])
    query, params = matching_ids(advisor_id, found)
    await conn.execute(
        f"INSERT INTO campaign_recipients (campaign_id, conversation_id, advisor_id) "  # noqa: S608
        f"SELECT %s, conversation_id, advisor_id FROM ({query}) matching",
        [campaign_id, *params],
    )
    return campaign_id


async def get_campaign(*, conn: Conn, advisor_id: UUID | None, campaign_id: int) -> Campaign | None:
    """One campaign with its counts (an advisor's own only; None: the admin sees any)."""
    cursor = await conn.execute(
        """
        SELECT k.*, count(r.*) AS recipients,
               count(*) FILTER (WHERE r.status = 'pending') AS pending,
               count(*) FILTER (WHERE r.status = 'sent') AS sent,
               count(*) FILTER (WHERE r.status = 'skipped') AS skipped,
               count(*) FILTER (WHERE r.status = 'failed') AS failed,
               coalesce((SELECT jsonb_object_agg(reason, n) FROM (
                   SELECT reason, count(*) AS n FROM campaign_recipients
                    WHERE campaign_id = k.id AND status = 'skipped' GROUP BY reason) s), '{}'::jsonb)
                   AS skipped_reasons
          FROM campaigns k LEFT JOIN campaign_recipients r ON r.campaign_id = k.id
         WHERE k.id = %s AND (%s::uuid IS NULL OR k.advisor_id = %s)
         GROUP BY k.id
        """,
        (campaign_id, advisor_id, advisor_id),
    )
    row = await cursor.fetchone()
    return Campaign.model_validate(row) if row else None


async def next_recipient(*, conn: Conn, campaign_id: int) -> Recipient | None:
    """The next pending recipient, locked until the caller's transaction ends."""
    cursor = await conn.execute(
        """
        SELECT c.conversation_id, c.phone_number, c.opted_out,
               coalesce(p.marketing_consent, false) AS marketing_consent,
               coalesce(p.name, c.profile_name) AS name, coalesce(p.stage, 'new') AS stage,
               coalesce(p.labels, '[]'::jsonb) AS labels, coalesce(p.data, '{}'::jsonb) AS data
          FROM campaign_recipients r
          JOIN chat_history c ON c.conversation_id = r.conversation_id AND c.advisor_id = r.advisor_id
          LEFT JOIN customer_profiles p ON p.conversation_id = c.conversation_id
         WHERE r.campaign_id = %s AND r.status = 'pending'
         ORDER BY r.conversation_id
         LIMIT 1
         FOR UPDATE OF r SKIP LOCKED
        """,
        (campaign_id,),
    )
    row = await cursor.fetchone()
    return Recipient.model_validate(row) if row else None


async def settle_recipient(
    *,
    conn: Conn,
    campaign_id: int,
    conversation_id: UUID,
    status: str,
    reason: str | None = None,
    message_id: int | None = None,
) -> None:
    """Record what happened to one recipient."""
    await conn.execute(
        "UPDATE campaign_recipients SET status = %s, reason = %s, message_id = %s, updated_at = now() "
        "WHERE campaign_id = %s AND conversation_id = %s",
        (status, reason, message_id, campaign_id, conversation_id),
    )


async def finish_campaign(*, conn: Conn, campaign_id: int) -> None:
    """Mark the campaign finished once no recipient is pending."""
    await conn.execute(
        "UPDATE campaigns SET status = 'finished', finished_at = now() WHERE id = %s AND NOT EXISTS ("
        " SELECT 1 FROM campaign_recipients WHERE campaign_id = %s AND status = 'pending')",
        (campaign_id, campaign_id),
    )


async def hold_campaign(*, conn: Conn, campaign_id: int, reason: str) -> None:
    """Stop a campaign where it is (its pending recipients stay pending), saying why."""
    await conn.execute(
        "UPDATE campaigns SET status = 'held', held_reason = %s WHERE id = %s AND status = 'sending'",
        (reason, campaign_id),
    )


async def advisor_is_active(*, conn: Conn, advisor_id: UUID) -> bool:
    """Whether the advisor may still send, read now (not from any cache)."""
    cursor = await conn.execute("SELECT is_active FROM advisors WHERE id = %s", (advisor_id,))
    row = await cursor.fetchone()
    return bool(row and row["is_active"])


async def recently_sent(
    *, conn: Conn, advisor_id: UUID, conversation_id: UUID, content_sid: str, campaign_id: int, hours: float
) -> bool:
    """Whether this customer got this template (from another campaign or by hand) within `hours`."""
    if hours <= 0:
        return False
    cursor = await conn.execute(
        "SELECT 1 FROM messages WHERE advisor_id = %s AND conversation_id = %s AND payload ? 'content_sid' "
        "AND payload ->> 'content_sid' = %s AND created_at > now() - make_interval(secs => %s) "
        "AND status NOT IN ('failed', 'undelivered') "
        "AND (payload ->> 'campaign_id') IS DISTINCT FROM %s LIMIT 1",
        (advisor_id, conversation_id, content_sid, hours * 3600, str(campaign_id)),
    )
    return await cursor.fetchone() is not None


async def campaigns_since(*, conn: Conn, advisor_id: UUID, hours: float) -> int:
    """How many campaigns this advisor started in the last `hours`."""
    cursor = await conn.execute(
        "SELECT count(*) AS n FROM campaigns "
        "WHERE advisor_id = %s AND created_at > now() - make_interval(secs => %s)",
        (advisor_id, hours * 3600),
    )
    row = await cursor.fetchone()
    return int(row["n"]) if row else 0


async def insert_campaign_message(
    *,
    conn: Conn,
    advisor_id: UUID,
    conversation_id: UUID,
    campaign_id: int,
    content_sid: str,
    content_variables: dict[str, str],
) -> int:
    """Record one campaign template to send, like any outbound message (status callbacks and all)."""
    cursor = await conn.execute(
        "INSERT INTO messages (advisor_id, conversation_id, direction, author, body, payload, status, part) "
        "VALUES (%s, %s, 'outbound', 'system', %s, %s, 'pending', 1) RETURNING id",
        (
            advisor_id,
            conversation_id,
            f"[template {content_sid}]",
            Jsonb(
                {
                    "content_sid": content_sid,
                    "content_variables": content_variables,
                    "campaign_id": campaign_id,
                }
            ),
        ),
    )
    row = await cursor.fetchone()
    assert row is not None
    return int(row["id"])


async def refusal_of(*, conn: Conn, advisor_id: UUID, message_id: int) -> str | None:
    """Why a campaign's message failed (`twilio <code>`, or our reason), or None if it did not."""
    cursor = await conn.execute(
        "SELECT error_code, error_message FROM messages "
        "WHERE advisor_id = %s AND id = %s AND status = 'failed'",
        (advisor_id, message_id),
    )
    row = await cursor.fetchone()
    if row is None:
        return None
    if row["error_code"] is None and row["error_message"]:
        return str(row["error_message"])[:200]  # not Twilio's: e.g. the advisor was deactivated
    return f"twilio {row['error_code'] or 'error'}"
