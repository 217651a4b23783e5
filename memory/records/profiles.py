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
    crm_contact: dict[str, Any] | None = Field(
        default=None, description="The imported CRM contact this conversation's hubspot reference names"
    )


PROFILE_SELECT = """
    SELECT c.conversation_id, c.advisor_id, c.phone_number,
           coalesce(p.name, nullif(concat_ws(' ', k.prospect ->> 'nombres', k.prospect ->> 'apellidos'), ''),
                    c.profile_name) AS name,
           coalesce(p.labels, '[]'::jsonb) AS labels, p.notes, coalesce(p.data, '{}'::jsonb) AS data,
           coalesce(p.stage, 'new') AS stage, coalesce(p.marketing_consent, false) AS marketing_consent,
           least(p.first_interaction_at, c.created_at) AS first_interaction_at,
           greatest(p.last_interaction_at, c.last_inbound_at) AS last_interaction_at,
           p.updated_at,
           CASE WHEN k.hubspot_id IS NOT NULL
                THEN k.prospect || jsonb_build_object('hubspot_id', k.hubspot_id) END AS crm_contact
      FROM chat_history c
      LEFT JOIN customer_profiles p ON p.conversation_id = c.conversation_id AND p.advisor_id = c.advisor_id
      LEFT JOIN crm_contacts k ON k.hubspot_id = c.crm_refs ->> 'hubspot'
"""


async def get_profile(*, conn: Conn, advisor_id: UUID, conversation_id: UUID) -> CustomerProfile | None:
    """The profile of one conversation of one advisor (None if there is no such conversation)."""
    cursor = await conn.execute(
        PROFILE_SELECT + " WHERE c.advisor_id = %s AND c.conversation_id = %s", (advisor_id, conversation_id)
    )
    row = await cursor.fetchone()
    return CustomerProfile.model_validate(row) if row else None


async def find_profile(*, conn: Conn, advisor_id: UUID, phone: str) -> CustomerProfile | None:
    """The profile of one advisor's customer, by the customer's phone."""
    cursor = await conn.execute(
        PROFILE_SELECT + " WHERE c.advisor_id = %s AND c.phone_number = %s", (advisor_id, phone)
    )
    row = await cursor.fetchone()
    return CustomerProfile.model_validate(row) if row else None


ConsentChanger = Literal["customer", "ai", "advisor", "admin", "import"]


async def set_consent(
    *, conn: Conn, advisor_id: UUID, conversation_id: UUID, consent: bool, changed_by: ConsentChanger
) -> bool:
    """Set marketing consent and record the change (when, to what, by whom); False if unchanged."""
    cursor = await conn.execute(
        """
        WITH old AS (
            SELECT c.conversation_id, coalesce(p.marketing_consent, false) AS consent
              FROM chat_history c LEFT JOIN customer_profiles p USING (conversation_id)
             WHERE c.advisor_id = %(advisor)s AND c.conversation_id = %(conversation)s
        ), written AS (
            INSERT INTO customer_profiles (conversation_id, advisor_id, marketing_consent)
            SELECT conversation_id, %(advisor)s, %(consent)s FROM old WHERE consent <> %(consent)s
            ON CONFLICT (conversation_id) DO UPDATE SET marketing_consent = excluded.marketing_consent,
                updated_at = now()
            RETURNING conversation_id
        )
        INSERT INTO consent_changes (conversation_id, advisor_id, consent, changed_by)
        SELECT conversation_id, %(advisor)s, %(consent)s, %(by)s FROM written
        RETURNING id
        """,
        {"advisor": advisor_id, "conversation": conversation_id, "consent": consent, "by": changed_by},
    )
    return await cursor.fetchone() is not None


async def consent_history(*, conn: Conn, advisor_id: UUID, conversation_id: UUID) -> list[dict[str, Any]]:
    """Every consent change of one customer, oldest first."""
    cursor = await conn.execute(
        "SELECT consent, changed_by, created_at FROM consent_changes "
        "WHERE advisor_id = %s AND conversation_id = %s ORDER BY id",
        (advisor_id, conversation_id),
    )
    return list(await cursor.fetchall())


async def update_profile(
    *,
    conn: Conn,
    advisor_id: UUID,
    conversation_id: UUID,
    changes: dict[str, Any],
    changed_by: ConsentChanger = "advisor",
) -> CustomerProfile | None:
    """Write the given fields (any of EDITABLE); `data` is merged key by key, the rest replaced.

    A change of marketing consent is recorded with `changed_by` (see `set_consent`).
    """
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    changes = dict(changes)
    if "marketing_consent" in changes:
        await set_consent(
            conn=conn,
            advisor_id=advisor_id,
            conversation_id=conversation_id,
            consent=bool(changes.pop("marketing_consent")),
            changed_by=changed_by,
        )

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
