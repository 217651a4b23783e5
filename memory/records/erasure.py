"""Owns forgetting a customer: every row about one advisor's customer, in one transaction.

What goes: the conversation (`chat_history`, its CRM references), its messages, profile, notes,
handovers and consent changes; the AI memory's checkpoints of its thread; the advisor's notices
and commands that name the customer's number; stored events about the conversation; queued
jobs for it; an imported CRM contact no other conversation links to. What stays: one
`customer_erasures` row with who erased, when and how many rows went, and no personal data.
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
    thread = thread_id_for(advisor_id, phone)
    conversation = str(conversation_id)
    rows: dict[str, int] = {}
    scoped = "WHERE advisor_id = %s AND conversation_id = %s"
    own = (advisor_id, conversation_id)
    for table, sql, params in (
        ("checkpoint_writes", "DELETE FROM checkpoint_writes WHERE thread_id = %s", (thread,)),
        ("checkpoint_blobs", "DELETE FROM checkpoint_blobs WHERE thread_id = %s", (thread,)),
        ("checkpoints", "DELETE FROM checkpoints WHERE thread_id = %s", (thread,)),
        (
            "advisor_channel",
            "DELETE FROM advisor_channel WHERE advisor_id = %s AND (strpos(body, %s) > 0 "
            "OR strpos(body, %s) > 0 OR strpos(coalesce(reply, ''), %s) > 0)",
            (advisor_id, phone, phone.lstrip("+"), phone),
        ),
        (
            "advisor_bot_events",
            "DELETE FROM advisor_bot_events WHERE strpos(body::text, %s) > 0 OR strpos(body::text, %s) > 0",
            (conversation, phone),
        ),
        (
            "procrastinate_jobs",
            "DELETE FROM procrastinate_jobs WHERE args ->> 'conversation_id' = %s AND status <> 'doing'",
            (conversation,),
        ),
        *(
            (table, f"DELETE FROM {table} {scoped}", own)  # noqa: S608 - table names are ours
            for table in (
                "message_flags",
                "messages",
                "drafts",
                "conversation_notes",
                "handovers",
                "consent_changes",
                "customer_profiles",
                "chat_history",
            )
        ),
    ):
        result = await conn.execute(sql, params)
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
