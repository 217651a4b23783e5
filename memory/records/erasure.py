"""Owns forgetting a customer: every row about one advisor's customer, in one transaction.

What goes: the conversation (`chat_history`, its CRM references), its messages, profile, notes,
handovers and consent changes; the AI memory's checkpoints of its thread; the advisor's notices
and commands that name the customer's number; stored events about the conversation; queued
jobs for it; the old bot's mappings of it; an imported CRM contact no other conversation links
to. What stays: one `customer_erasures` row with who erased, when and how many rows went, and
no personal data.
Voice replies kept in the database go with the rest; files on a disk or in Supabase Storage are
the caller's to delete, after the commit (their links are returned).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from uuid import UUID

from memory.records.media_files import published_name
from memory.records.models import Conn
from memory.threads import thread_id_for

# Tables holding this customer by advisor and conversation, in the order they are erased
# (referencing tables first); the export reads the same list (memory.records.exports).
SCOPED_TABLES = (
    "message_flags",
    "messages",
    "drafts",
    "conversation_summaries",
    "conversation_notes",
    "handovers",
    "consent_changes",
    "stage_changes",
    "customer_profiles",
    "chat_history",
)


def held_elsewhere(
    advisor_id: UUID, conversation_id: UUID, phone: str
) -> list[tuple[str, str, tuple[object, ...]]]:
    """The other rows about this customer, as (table, condition, parameters).

    What erasure deletes and the export gives: the AI memory's checkpoints of their thread, the
    advisor's notices and commands that name their number, stored events and queued jobs about
    the conversation, and the old bot's mappings of it (seed 000's, by its old ids).
    """
    thread = thread_id_for(advisor_id, phone)
    conversation = str(conversation_id)
    return [
        ("checkpoint_writes", "thread_id = %s", (thread,)),
        ("checkpoint_blobs", "thread_id = %s", (thread,)),
        ("checkpoints", "thread_id = %s", (thread,)),
        (
            "advisor_channel",
            "advisor_id = %s AND (strpos(body, %s) > 0 OR strpos(body, %s) > 0 "
            "OR strpos(coalesce(reply, ''), %s) > 0)",
            (advisor_id, phone, phone.lstrip("+"), phone),
        ),
        (
            "advisor_bot_events",
            "strpos(body::text, %s) > 0 OR strpos(body::text, %s) > 0",
            (conversation, phone),
        ),
        ("procrastinate_jobs", "args ->> 'conversation_id' = %s AND status <> 'doing'", (conversation,)),
        (
            "conversation_mappings",
            "conversation_id = %s OR conversation_id IN (SELECT unnest(legacy_conversation_ids) "
            "FROM chat_history WHERE advisor_id = %s AND conversation_id = %s)",
            (conversation, advisor_id, conversation_id),
        ),
    ]


@dataclass(frozen=True)
class Erasure:
    """What one erasure deleted: rows per table, and the media links its messages held."""

    rows: dict[str, int]
    media_urls: list[str]


async def erase_customer(
    *, conn: Conn, advisor_id: UUID, conversation_id: UUID, erased_by: str
) -> Erasure | None:
    """Delete everything about one customer of one advisor; None if there is no such customer.

    Call inside a transaction: the audit row and the deletions commit together.
    """
    cursor = await conn.execute(
        "SELECT phone_number, crm_refs ->> 'hubspot' AS hubspot FROM chat_history "
        "WHERE advisor_id = %s AND conversation_id = %s FOR UPDATE",
        (advisor_id, conversation_id),
    )
    row = await cursor.fetchone()
    if row is None:
        return None
    phone, hubspot = row["phone_number"], row["hubspot"]
    cursor = await conn.execute(
        "SELECT media FROM messages WHERE advisor_id = %s AND conversation_id = %s "
        "AND media IS NOT NULL AND media <> '[]'::jsonb",
        (advisor_id, conversation_id),
    )
    media_urls = [
        str(item["url"])
        for message in await cursor.fetchall()
        for item in message["media"] or []
        if isinstance(item, dict) and item.get("url")
    ]
    rows: dict[str, int] = {}
    for table, where, params in held_elsewhere(advisor_id, conversation_id, phone):
        result = await conn.execute(f"DELETE FROM {table} WHERE {where}", params)  # noqa: S608 - ours
        rows[table] = result.rowcount
    for table in SCOPED_TABLES:
        result = await conn.execute(
            f"DELETE FROM {table} WHERE advisor_id = %s AND conversation_id = %s",  # noqa: S608 - ours
            (advisor_id, conversation_id),
        )
        rows[table] = result.rowcount
    names = [name for url in media_urls if (name := published_name(url))]
    if names:
        result = await conn.execute("DELETE FROM media_files WHERE name = ANY(%s)", (names,))
        rows["media_files"] = result.rowcount
    if hubspot:
        result = await conn.execute(
            "DELETE FROM crm_contacts WHERE hubspot_id = %s AND NOT EXISTS ("
            " SELECT 1 FROM chat_history WHERE crm_refs ->> 'hubspot' = %s)",
            (hubspot, hubspot),
        )
        rows["crm_contacts"] = result.rowcount
    rows = {table: count for table, count in rows.items() if count}
    await conn.execute(
        "INSERT INTO customer_erasures (advisor_id, erased_by, rows_deleted) VALUES (%s, %s, %s::jsonb)",
        (advisor_id, erased_by, json.dumps(rows, sort_keys=True)),
    )
    return Erasure(rows=rows, media_urls=media_urls)
