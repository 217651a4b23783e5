"""Owns the customer's copy of their data: everything held about one advisor's customer."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from memory.records.erasure import held_elsewhere
from memory.records.models import Conn

# table → the columns a customer is given (ids that mean nothing outside are left out). Every
# table erasure deletes from is here (a test checks it), the checkpoints as the AI's summary.
_PARTS = {
    "messages": "id, direction, author, body, media, status, transcript, sources, created_at",
    "drafts": "body, status, sent_body, decided_by, decided_at, created_at",
    "message_flags": "message_id, category, comment, flagged_by, created_at",
    "conversation_summaries": "summary, through_message_id, updated_at AS created_at",
    "conversation_notes": "body, author, created_at",
    "handovers": "reason, category, brief, created_at",
    "consent_changes": "consent, changed_by, created_at",
    "stage_changes": "stage_from, stage, created_at",
}
# held_elsewhere's tables → what of their rows is given (the checkpoints are the summary above)
_ELSEWHERE = {
    "advisor_channel": "direction, body, reply, created_at",
    "advisor_bot_events": "body, created_at",
    "procrastinate_jobs": "task_name, status::text AS status, scheduled_at AS created_at",
    "conversation_mappings": (
        "conversation_id, hubspot_id, prospect, source_updated_at, imported_at AS created_at"
    ),
}
# Tables the export gives under another key: the conversation's own fields, the profile and CRM
# contact inline; LangGraph's serialised state as what it means (the summary, and the messages it
# was made of); `media_files` are the bytes of the media that `messages` lists.
EXPORTED_AS = {
    "chat_history": "phone_number",
    "customer_profiles": "profile",
    "crm_contacts": "crm_contact",
    "media_files": "messages",
    "checkpoint_writes": "conversation_summaries",
    "checkpoint_blobs": "conversation_summaries",
    "checkpoints": "conversation_summaries",
}


def exported_tables() -> set[str]:
    """The tables whose rows the export gives, each as a list of its own."""
    return {*_PARTS, *_ELSEWHERE}


async def everything_about(*, conn: Conn, advisor_id: UUID, conversation_id: UUID) -> dict[str, Any]:
    """Everything erasure would delete about this customer, readable (see `_PARTS`, `_ELSEWHERE`).

    The conversation, profile and CRM contact; messages, drafts, flags, the AI's summary, notes,
    hand-overs and consent changes; the advisor's notices naming them, events and queued jobs.
    """
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
    phone = str(held.get("phone_number") or "")
    for table, where, params in held_elsewhere(advisor_id, conversation_id, phone) if phone else []:
        if table in _ELSEWHERE:
            cursor = await conn.execute(
                f"SELECT {_ELSEWHERE[table]} FROM {table} WHERE {where} ORDER BY created_at",  # noqa: S608 - ours
                params,
            )
            held[table] = list(await cursor.fetchall())
    held["exported_at"] = datetime.now().astimezone()
    return held


def to_json(held: dict[str, Any]) -> str:
    """The export as indented JSON (dates in ISO 8601)."""
    return json.dumps(held, ensure_ascii=False, indent=1, default=_plain)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)
