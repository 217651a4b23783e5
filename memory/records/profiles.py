"""Owns customer profiles (`customer_profiles`): who the customer is, per advisor + customer.

A profile is read through its conversation: until something is written, it is what the
conversation already knows (the WhatsApp profile name, the first and last message). Every
function takes `advisor_id` and filters on it, like every other record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from psycopg.types.json import Jsonb
from pydantic import Field

from memory.records.models import Conn, Record

Stage = Literal["new", "interested", "booked", "inactive"]
STAGES: tuple[Stage, ...] = ("new", "interested", "booked", "inactive")
EDITABLE = ("name", "labels", "notes", "data", "stage", "marketing_consent")


class CustomerProfile(Record):
    """What is known of one customer of one advisor."""

    conversation_id: UUID
    advisor_id: UUID
    phone_number: str
    name: str | None = Field(description="The name the customer gave, else their WhatsApp profile name")
    labels: list[str]
    notes: str | None
    data: dict[str, Any]
    stage: Stage
    marketing_consent: bool
    first_interaction_at: datetime | None
    last_interaction_at: datetime | None
    updated_at: datetime | None


_SELECT = """
    SELECT c.conversation_id, c.advisor_id, c.phone_number,
           coalesce(p.name, c.profile_name) AS name,
           coalesce(p.labels, '[]'::jsonb) AS labels, p.notes, coalesce(p.data, '{}'::jsonb) AS data,
           coalesce(p.stage, 'new') AS stage, coalesce(p.marketing_consent, false) AS marketing_consent,
           least(p.first_interaction_at, c.created_at) AS first_interaction_at,
           greatest(p.last_interaction_at, c.last_inbound_at) AS last_interaction_at,
           p.updated_at
      FROM chat_history c
      LEFT JOIN customer_profiles p ON p.conversation_id = c.conversation_id AND p.advisor_id = c.advisor_id
"""


async def get_profile(*, conn: Conn, advisor_id: UUID, conversation_id: UUID) -> CustomerProfile | None:
    """The profile of one conversation of one advisor (None if there is no such conversation)."""
    cursor = await conn.execute(
        _SELECT + " WHERE c.advisor_id = %s AND c.conversation_id = %s", (advisor_id, conversation_id)
    )
    row = await cursor.fetchone()
    return CustomerProfile.model_validate(row) if row else None


async def find_profile(*, conn: Conn, advisor_id: UUID, phone: str) -> CustomerProfile | None:
    """The profile of one advisor's customer, by the customer's phone."""
    cursor = await conn.execute(
        _SELECT + " WHERE c.advisor_id = %s AND c.phone_number = %s", (advisor_id, phone)
    )
    row = await cursor.fetchone()
    return CustomerProfile.model_validate(row) if row else None


async def update_profile(
    *, conn: Conn, advisor_id: UUID, conversation_id: UUID, changes: dict[str, Any]
) -> CustomerProfile | None:
    """Write the given fields (any of EDITABLE); `data` is merged key by key, the rest replaced."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    columns = list(changes)
    values = [Jsonb(changes[c]) if c in ("labels", "data") else changes[c] for c in columns]
    assignments = "".join(
        f"{c} = customer_profiles.data || excluded.data, " if c == "data" else f"{c} = excluded.{c}, "
        for c in columns
    )
    cursor = await conn.execute(
        f"""
        INSERT INTO customer_profiles (conversation_id, advisor_id{"".join(", " + c for c in columns)})
        SELECT c.conversation_id, c.advisor_id{"".join(", %s" for _ in columns)}
          FROM chat_history c WHERE c.advisor_id = %s AND c.conversation_id = %s
        ON CONFLICT (conversation_id) DO UPDATE SET {assignments}updated_at = now()
        RETURNING conversation_id
        """,  # noqa: S608 - column names come from EDITABLE only; values are parameters
        (*values, advisor_id, conversation_id),
    )
    if await cursor.fetchone() is None:
        return None
    await conn.execute(
        "UPDATE chat_history SET profile_updated_at = clock_timestamp() "
        "WHERE advisor_id = %s AND conversation_id = %s",
        (advisor_id, conversation_id),
    )
    return await get_profile(conn=conn, advisor_id=advisor_id, conversation_id=conversation_id)
