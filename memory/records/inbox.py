"""Owns the console's queries: the inbox, a conversation's timeline, notes, and what changed.

The inbox lists newest activity first, filtered and searched; the timeline merges messages,
internal notes and handovers in one order.

Message text is searched through the full-text index of `sql/0008_console.sql` (Spanish stemming
or-ed with a simple configuration), so a search stays an index look-up at a million messages.
Every query takes `advisor_id`; `None` is spelled out by the caller only for the admin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from memory.records.conversations import waiting_condition
from memory.records.models import MESSAGE_PRIVATE_FIELDS, Conn, Conversation, Message

InboxFilter = Literal["all", "waiting", "ai"]
SEARCH_VECTOR = "(to_tsvector('spanish'::regconfig, m.body) || to_tsvector('simple'::regconfig, m.body))"
SEARCH_QUERY = "(websearch_to_tsquery('spanish', %(q)s) || websearch_to_tsquery('simple', %(q)s))"
_CONVERSATION_FIELDS = Conversation.columns(prefix="c.")
_MESSAGE_FIELDS = Message.columns(prefix="m.", exclude=MESSAGE_PRIVATE_FIELDS)


class InboxRow(Conversation):
    """A conversation as the inbox lists it: who, the last message, and what waits."""

    display_name: str | None = Field(description="The name the customer gave, else their WhatsApp name")
    last_body: str | None
    last_author: str | None
    last_at: datetime | None
    last_media: int | None
    unanswered: int
    draft_waiting: bool = Field(default=False, description="An AI draft waits for approval (draft mode)")


@dataclass(frozen=True)
class Note:
    """An internal note on a conversation, never sent to the customer."""

    id: int
    author: str
    body: str
    created_at: datetime


@dataclass(frozen=True)
class Handover:
    """The AI passed the conversation to its human, and why."""

    id: int
    reason: str | None
    created_at: datetime


TimelineItem = Message | Note | Handover


async def inbox(
    *,
    conn: Conn,
    advisor_id: UUID | None,
    show: InboxFilter = "all",
    search: str = "",
    label: str = "",
    limit: int = 50,
) -> list[InboxRow]:
    """The newest `limit` conversations by activity, filtered, optionally matching `search`.

    A search matches the customer's name, digits of their phone, or the text of any message;
    `label` keeps the customers whose profile carries that label.
    """
    conditions = ["true"]
    params: dict[str, Any] = {"limit": limit}
    if advisor_id is not None:
        conditions.append("c.advisor_id = %(advisor)s")
        params["advisor"] = advisor_id
    if label.strip():
        conditions.append("coalesce(p.labels, '[]'::jsonb) ? %(label)s")
        params["label"] = label.strip()
    if show == "waiting":
        conditions.append(waiting_condition("c"))
    elif show == "ai":
        conditions.append("c.ai_attention")
    text = search.strip()
    if text:
        params["q"] = text
        params["name"] = f"%{_escape_like(text)}%"
        matches = ["coalesce(p.name, c.profile_name) ILIKE %(name)s"]
        digits = re.sub(r"\D", "", text)
        if len(digits) >= 3:
            params["digits"] = f"%{digits}%"
            matches.append("c.phone_number LIKE %(digits)s")
        scope = "m.advisor_id = %(advisor)s AND " if advisor_id is not None else ""
        matches.append(
            f"c.conversation_id IN (SELECT m.conversation_id FROM messages m "  # noqa: S608
            f"WHERE {scope}{SEARCH_VECTOR} @@ {SEARCH_QUERY})"
        )
        conditions.append("(" + " OR ".join(matches) + ")")
    cursor = await conn.execute(
        f"""
        SELECT {_CONVERSATION_FIELDS}, coalesce(p.name, c.profile_name) AS display_name,
            last.body AS last_body, last.author AS last_author, last.created_at AS last_at,
            last.media_count AS last_media,
            EXISTS (SELECT 1 FROM drafts d WHERE d.advisor_id = c.advisor_id
                    AND d.conversation_id = c.conversation_id AND d.status = 'pending') AS draft_waiting,
            (SELECT count(*) FROM messages u
             WHERE u.advisor_id = c.advisor_id AND u.conversation_id = c.conversation_id
               AND u.direction = 'inbound'
               AND u.id > coalesce((SELECT max(o.id) FROM messages o
                                    WHERE o.advisor_id = c.advisor_id
                                      AND o.conversation_id = c.conversation_id
                                      AND o.direction = 'outbound'), 0)) AS unanswered
        FROM chat_history c
        LEFT JOIN customer_profiles p ON p.conversation_id = c.conversation_id AND p.advisor_id = c.advisor_id
        LEFT JOIN LATERAL (
            SELECT m.body, m.author, m.created_at, jsonb_array_length(m.media) AS media_count
            FROM messages m
            WHERE m.advisor_id = c.advisor_id AND m.conversation_id = c.conversation_id
            ORDER BY m.id DESC LIMIT 1
        ) last ON true
        WHERE {" AND ".join(conditions)}
        ORDER BY c.updated_at DESC, c.conversation_id DESC
        LIMIT %(limit)s
        """,  # noqa: S608 - only fixed fragments are formatted in; values are parameters
        params,
        # Never a prepared (generic) plan: it cannot see how many messages this advisor has, and
        # for a rare word it scans them all instead of the full-text index (measured: 74 vs 15 ms).
        prepare=False,
    )
    return [InboxRow.model_validate(row) for row in await cursor.fetchall()]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def timeline(
    *, conn: Conn, advisor_id: UUID, conversation_id: UUID, limit: int = 200
) -> list[TimelineItem]:
    """The newest `limit` messages of a conversation with its notes and handovers, oldest first."""
    cursor = await conn.execute(
        # Of Twilio's raw form the console shows only what a reply quotes and a reaction (both
        # kept by the webhook).
        f"SELECT {_MESSAGE_FIELDS}, "  # noqa: S608
        "jsonb_strip_nulls(jsonb_build_object('_replying_to', m.payload -> '_replying_to', "
        "'_reaction', m.payload -> '_reaction')) AS payload "
        "FROM messages m "
        "WHERE m.advisor_id = %s AND m.conversation_id = %s ORDER BY m.id DESC LIMIT %s",
        (advisor_id, conversation_id, limit),
    )
    messages = [Message.model_validate(row) for row in await cursor.fetchall()]
    since = messages[-1].created_at if len(messages) == limit else None
    cursor = await conn.execute(
        "SELECT id, author, body, created_at FROM conversation_notes "
        "WHERE advisor_id = %s AND conversation_id = %s AND (%s::timestamptz IS NULL OR created_at >= %s) "
        "ORDER BY id",
        (advisor_id, conversation_id, since, since),
    )
    notes = [Note(**row) for row in await cursor.fetchall()]
    cursor = await conn.execute(
        "SELECT id, reason, created_at FROM handovers "
        "WHERE advisor_id = %s AND conversation_id = %s AND (%s::timestamptz IS NULL OR created_at >= %s) "
        "ORDER BY id",
        (advisor_id, conversation_id, since, since),
    )
    handovers = [Handover(**row) for row in await cursor.fetchall()]
    items: list[TimelineItem] = [*messages, *notes, *handovers]
    return sorted(items, key=lambda item: item.created_at)


async def add_note(*, conn: Conn, advisor_id: UUID, conversation_id: UUID, author: str, body: str) -> int:
    """Keep an internal note on a conversation; it is never sent to the customer."""
    cursor = await conn.execute(
        "INSERT INTO conversation_notes (advisor_id, conversation_id, author, body) "
        "VALUES (%s, %s, %s, %s) RETURNING id",
        (advisor_id, conversation_id, author, body),
    )
    row = await cursor.fetchone()
    assert row is not None
    return int(row["id"])


@dataclass(frozen=True)
class Changes:
    """What one look saw: the database's clock, and each changed conversation's latest change."""

    seen_at: datetime
    latest: dict[tuple[UUID, UUID], datetime]


async def changed_since(*, conn: Conn, since: datetime | None, overlap: timedelta) -> Changes:
    """Conversations whose messages, state, profile or notes changed after `since` - `overlap`.

    `since` None: the database's clock now. The live console's poll, one round trip. Every write
    the console shows sets one of these columns, so the poll needs no trigger and no NOTIFY
    (see sql/0016_quiet_commits.sql).
    """
    cursor = await conn.execute(
        """
        WITH look AS (
            SELECT coalesce(%(since)s, statement_timestamp()) - %(overlap)s AS after
        )
        SELECT statement_timestamp() AS seen_at, changed.* FROM look LEFT JOIN (
            SELECT advisor_id, conversation_id, max(at) AS at FROM (
                SELECT advisor_id, conversation_id, updated_at AS at FROM messages
                WHERE updated_at > (SELECT after FROM look)
                UNION ALL
                SELECT advisor_id, conversation_id, updated_at FROM chat_history
                WHERE updated_at > (SELECT after FROM look)
                UNION ALL
                SELECT advisor_id, conversation_id, profile_updated_at FROM chat_history
                WHERE profile_updated_at > (SELECT after FROM look)
                UNION ALL
                SELECT advisor_id, conversation_id, created_at FROM conversation_notes
                WHERE created_at > (SELECT after FROM look)
            ) rows GROUP BY advisor_id, conversation_id
        ) AS changed ON true
        """,
        {"since": since, "overlap": overlap},
    )
    rows = await cursor.fetchall()
    changed = [row for row in rows if row["advisor_id"] is not None]
    return Changes(
        seen_at=rows[0]["seen_at"],
        latest={(row["advisor_id"], row["conversation_id"]): row["at"] for row in changed},
    )


async def labels_in_use(*, conn: Conn, advisor_id: UUID | None) -> list[str]:
    """The labels on the customers' profiles (one advisor's, or everyone's), for the inbox's filter."""
    cursor = await conn.execute(
        "SELECT DISTINCT label FROM customer_profiles p, jsonb_array_elements_text(p.labels) AS label "
        "WHERE %(advisor)s::uuid IS NULL OR p.advisor_id = %(advisor)s::uuid ORDER BY label LIMIT 200",
        {"advisor": advisor_id},
    )
    return [row["label"] for row in await cursor.fetchall()]
