"""Owns the customer's copy of their data: everything held about one advisor's customer."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from memory.records.models import Conn

# table → the columns a customer is given (ids that mean nothing outside are left out)
_PARTS = {
    "messages": "id, direction, author, body, media, status, transcript, created_at",
    "conversation_notes": "body, author, created_at",
    "handovers": "reason, category, created_at",
    "consent_changes": "consent, changed_by, created_at",
}


async def everything_about(*, conn: Conn, advisor_id: UUID, conversation_id: UUID) -> dict[str, Any]:
    """The conversation, profile, CRM contact, messages, notes, handovers and consent changes."""
    cursor = await conn.execute(
        "SELECT c.phone_number, c.profile_name, c.created_at, c.opted_out, c.opted_out_at, c.crm_refs,"
        " c.audio_available, to_jsonb(p) - 'conversation_id' - 'advisor_id' AS profile,"
        " to_jsonb(k) AS crm_contact, a.name AS advisor"
        " FROM chat_history c JOIN advisors a ON a.id = c.advisor_id"
        " LEFT JOIN customer_profiles p ON p.conversation_id = c.conversation_id"
        " LEFT JOIN crm_contacts k ON k.hubspot_id = c.crm_refs ->> 'hubspot'"
        " WHERE c.advisor_id = %s AND c.conversation_id = %s",
        (advisor_id, conversation_id),
    )
    held: dict[str, Any] = dict(await cursor.fetchone() or {})
    for table, columns in _PARTS.items():
        cursor = await conn.execute(
            f"SELECT {columns} FROM {table} "  # noqa: S608 - table and columns are ours
            "WHERE advisor_id = %s AND conversation_id = %s ORDER BY created_at",
            (advisor_id, conversation_id),
        )
        held[table] = list(await cursor.fetchall())
    held["exported_at"] = datetime.now().astimezone()
    return held


def to_json(held: dict[str, Any]) -> str:
    """The export as indented JSON (dates in ISO 8601)."""
    return json.dumps(held, ensure_ascii=False, indent=1, default=_plain)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)
