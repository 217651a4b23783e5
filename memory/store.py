"""Owns the SQL of conversations (`chat_history`) and their messages (`messages`).

Every function takes `advisor_id` and filters on it: one advisor's data is never reachable
through a query written for another's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

Conn = AsyncConnection[Any]


@dataclass(frozen=True)
class Conversation:
    """One advisor + customer conversation and its flags."""

    conversation_id: UUID
    advisor_id: UUID
    phone_number: str
    ai_attention: bool
    audio_available: bool
    handover_reason: str | None
    ai_attention_changed_at: datetime | None
    ai_attention_changed_by: str | None
    opted_out: bool = False
    last_inbound_at: datetime | None = None
    last_advisor_message_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Conversation:
        """Build from a `chat_history` row."""
        return cls(
            opted_out=row["opted_out"],
            last_inbound_at=row["last_inbound_at"],
            last_advisor_message_at=row["last_advisor_message_at"],
            updated_at=row["updated_at"],
            conversation_id=row["conversation_id"],
            advisor_id=row["advisor_id"],
            phone_number=row["phone_number"],
            ai_attention=row["ai_attention"],
            audio_available=row["audio_available"],
            handover_reason=row["handover_reason"],
            ai_attention_changed_at=row["ai_attention_changed_at"],
            ai_attention_changed_by=row["ai_attention_changed_by"],
        )


@dataclass(frozen=True)
class StoredMessage:
    """A row of `messages`, as the worker needs it."""

    id: int
    direction: str
    author: str
    body: str
    media: list[dict[str, Any]]
    payload: dict[str, Any] | None
    twilio_sid: str | None
    status: str
    part: int | None
    created_at: datetime
    transcript: str | None = None
    media_error: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> StoredMessage:
        """Build from a `messages` row."""
        return cls(
            transcript=row.get("transcript"),
            media_error=row.get("media_error"),
            id=row["id"],
            direction=row["direction"],
            author=row["author"],
            body=row["body"],
            media=row["media"] or [],
            payload=row["payload"],
            twilio_sid=row["twilio_sid"],
            status=row["status"],
            part=row["part"],
            created_at=row["created_at"],
        )


@dataclass(frozen=True)
class InboundMessage:
    """A customer's message as the webhook received it."""

    twilio_sid: str
    body: str
    media: list[dict[str, str]]
    payload: dict[str, Any]


@dataclass(frozen=True)
class RecordedInbound:
    """Where an accepted inbound message was stored."""

    conversation_id: UUID
    message_id: int


_CONVERSATION_COLUMNS = (
    "conversation_id, advisor_id, phone_number, ai_attention, audio_available, "
    "handover_reason, ai_attention_changed_at, ai_attention_changed_by, opted_out, "
    "last_inbound_at, last_advisor_message_at, updated_at"
)
_MESSAGE_COLUMNS = (
    "id, direction, author, body, media, payload, twilio_sid, status, part, created_at, transcript, "
    "media_error"
)


async def touch_conversation(
    *, conn: Conn, advisor_id: UUID, phone: str, audio_default: bool = False, voice_note: bool = False
) -> UUID:
    """Create the advisor + customer conversation, or mark it active; return its id.

    A new conversation starts with the advisor's default for voice replies; a voice note from
    the customer (when the advisor's settings make audio reciprocal) switches them on.
    """
    cursor = await conn.execute(
        """
        INSERT INTO chat_history (advisor_id, phone_number, last_inbound_at, audio_available)
        VALUES (%s, %s, now(), %s OR %s)
        ON CONFLICT (advisor_id, phone_number)
        DO UPDATE SET updated_at = now(), last_inbound_at = now(),
            audio_available = chat_history.audio_available OR %s
        RETURNING conversation_id
        """,
        (advisor_id, phone, audio_default, voice_note, voice_note),
    )
    row = await cursor.fetchone()
    assert row is not None
    return row["conversation_id"]  # type: ignore[no-any-return]


async def insert_inbound(
    *, conn: Conn, advisor_id: UUID, conversation_id: UUID, message: InboundMessage
) -> int | None:
    """Store an inbound message; return its id, or None when its MessageSid is already stored.

    The unique key on `twilio_sid` makes the dedupe atomic: a replayed or retried request
    loses the race inside the database, never in process memory.
    """
    cursor = await conn.execute(
        """
        INSERT INTO messages
            (advisor_id, conversation_id, direction, author, body, media, payload,
             twilio_sid, status)
        VALUES (%s, %s, 'inbound', 'customer', %s, %s, %s, %s, 'received')
        ON CONFLICT (twilio_sid) DO NOTHING
        RETURNING id
        """,
        (
            advisor_id,
            conversation_id,
            message.body,
            Jsonb(message.media),
            Jsonb(message.payload),
            message.twilio_sid,
        ),
    )
    row = await cursor.fetchone()
    return int(row["id"]) if row else None


async def get_conversation(
    *, conn: Conn, advisor_id: UUID, conversation_id: UUID, for_update: bool = False
) -> Conversation | None:
    """Return one conversation of one advisor."""
    lock = " FOR UPDATE" if for_update else ""
    cursor = await conn.execute(
        f"SELECT {_CONVERSATION_COLUMNS} FROM chat_history "  # noqa: S608
        f"WHERE advisor_id = %s AND conversation_id = %s{lock}",
        (advisor_id, conversation_id),
    )
    row = await cursor.fetchone()
    return Conversation.from_row(row) if row else None


async def find_conversation(*, conn: Conn, advisor_id: UUID, phone: str) -> Conversation | None:
    """Return the conversation of one advisor with one customer phone."""
    cursor = await conn.execute(
        f"SELECT {_CONVERSATION_COLUMNS} FROM chat_history "  # noqa: S608
        "WHERE advisor_id = %s AND phone_number = %s",
        (advisor_id, phone),
    )
    row = await cursor.fetchone()
    return Conversation.from_row(row) if row else None


async def unprocessed_inbound(*, conn: Conn, advisor_id: UUID, conversation_id: UUID) -> list[StoredMessage]:
    """Return the customer's messages that no job has consumed yet, oldest first."""
    cursor = await conn.execute(
        f"SELECT {_MESSAGE_COLUMNS} FROM messages "  # noqa: S608
        "WHERE advisor_id = %s AND conversation_id = %s "
        "AND direction = 'inbound' AND processed_at IS NULL ORDER BY id",
        (advisor_id, conversation_id),
    )
    return [StoredMessage.from_row(row) for row in await cursor.fetchall()]


async def latest_inbound_id(*, conn: Conn, advisor_id: UUID, conversation_id: UUID) -> int | None:
    """Return the id of the customer's newest message in a conversation."""
    cursor = await conn.execute(
        "SELECT max(id) AS id FROM messages "
        "WHERE advisor_id = %s AND conversation_id = %s AND direction = 'inbound'",
        (advisor_id, conversation_id),
    )
    row = await cursor.fetchone()
    return row["id"] if row else None


async def mark_processed(
    *,
    conn: Conn,
    advisor_id: UUID,
    conversation_id: UUID,
    up_to_id: int,
    outcome: str,
    error_message: str | None = None,
) -> None:
    """Mark the customer's messages up to `up_to_id` as consumed, with what became of them."""
    await conn.execute(
        "UPDATE messages SET processed_at = now(), status = %s, error_message = %s, "
        "updated_at = now() "
        "WHERE advisor_id = %s AND conversation_id = %s AND direction = 'inbound' "
        "AND processed_at IS NULL AND id <= %s",
        (outcome, error_message, advisor_id, conversation_id, up_to_id),
    )


async def insert_pending_replies(
    *,
    conn: Conn,
    advisor_id: UUID,
    conversation_id: UUID,
    reply_to: int,
    parts: list[str],
    author: str,
    voice_url: str | None = None,
) -> list[int]:
    """Record the intent to send each part before any call to Twilio; return their ids.

    With `voice_url`, a voice note goes first and `parts` (possibly none) follow as text.
    """
    ids: list[int] = []
    if voice_url is not None:
        cursor = await conn.execute(
            """
            INSERT INTO messages (advisor_id, conversation_id, direction, author, body, media,
                payload, status, reply_to, part)
            VALUES (%s, %s, 'outbound', %s, '', %s, %s, 'pending', %s, 0)
            RETURNING id
            """,
            (
                advisor_id,
                conversation_id,
                author,
                Jsonb([{"url": voice_url, "content_type": "audio/ogg"}]),
                Jsonb({"media_url": voice_url}),
                reply_to,
            ),
        )
        row = await cursor.fetchone()
        assert row is not None
        ids.append(int(row["id"]))
    for index, text in enumerate(parts):
        cursor = await conn.execute(
            """
            INSERT INTO messages
                (advisor_id, conversation_id, direction, author, body, status, reply_to, part)
            VALUES (%s, %s, 'outbound', %s, %s, 'pending', %s, %s)
            RETURNING id
            """,
            (advisor_id, conversation_id, author, text, reply_to, index + 1),
        )
        row = await cursor.fetchone()
        assert row is not None
        ids.append(int(row["id"]))
    return ids


async def pending_outbound(*, conn: Conn, advisor_id: UUID, conversation_id: UUID) -> list[StoredMessage]:
    """Return replies recorded but not yet known to be accepted by Twilio, in sending order.

    `sending` ones were handed to Twilio by an attempt that never heard back (a timeout, a
    crash): they may have gone out, and the caller must ask Twilio before sending them again.
    """
    cursor = await conn.execute(
        f"SELECT {_MESSAGE_COLUMNS} FROM messages "  # noqa: S608
        "WHERE advisor_id = %s AND conversation_id = %s "
        "AND direction = 'outbound' AND status IN ('pending', 'sending') ORDER BY id",
        (advisor_id, conversation_id),
    )
    return [StoredMessage.from_row(row) for row in await cursor.fetchall()]


async def mark_outbound(
    *,
    conn: Conn,
    advisor_id: UUID,
    message_id: int,
    status: str,
    twilio_sid: str | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
) -> None:
    """Record what became of one outbound message."""
    await _record_send_outcome(
        conn, "messages", advisor_id, message_id, status, twilio_sid, error_code, error_message
    )


async def _record_send_outcome(
    conn: Conn,
    table: Literal["messages", "advisor_channel"],
    advisor_id: UUID,
    row_id: int,
    status: str,
    twilio_sid: str | None,
    error_code: str | None,
    error_message: str | None,
) -> None:
    await conn.execute(
        f"UPDATE {table} SET status = %s, twilio_sid = coalesce(%s, twilio_sid), "  # noqa: S608
        "error_code = %s, error_message = %s, updated_at = now() WHERE advisor_id = %s AND id = %s",
        (status, twilio_sid, error_code, error_message, advisor_id, row_id),
    )


async def set_ai_attention(
    *,
    conn: Conn,
    advisor_id: UUID,
    phone: str,
    enabled: bool,
    changed_by: str,
    reason: str | None = None,
) -> bool:
    """Switch the AI on or off for one advisor + customer; return whether a row changed."""
    cursor = await conn.execute(
        "UPDATE chat_history SET ai_attention = %s, ai_attention_changed_at = now(), "
        "ai_attention_changed_by = %s, handover_reason = %s, updated_at = now() "
        "WHERE advisor_id = %s AND phone_number = %s",
        (enabled, changed_by, reason, advisor_id, phone),
    )
    return cursor.rowcount > 0


async def set_audio_available(*, conn: Conn, advisor_id: UUID, phone: str, enabled: bool) -> bool:
    """Set whether one advisor's customer receives voice replies; return whether a row changed."""
    cursor = await conn.execute(
        "UPDATE chat_history SET audio_available = %s, updated_at = now() "
        "WHERE advisor_id = %s AND phone_number = %s",
        (enabled, advisor_id, phone),
    )
    return cursor.rowcount > 0


async def messages_after(
    *, conn: Conn, advisor_id: UUID, phone: str, after_id: int, direction: str
) -> list[StoredMessage]:
    """Return one advisor + customer's messages in one direction with ids above `after_id`."""
    cursor = await conn.execute(
        f"SELECT {', '.join('m.' + c.strip() for c in _MESSAGE_COLUMNS.split(','))} "  # noqa: S608
        "FROM messages m JOIN chat_history c "
        "ON c.conversation_id = m.conversation_id AND c.advisor_id = m.advisor_id "
        "WHERE m.advisor_id = %s AND c.phone_number = %s AND m.direction = %s AND m.id > %s "
        "ORDER BY m.id",
        (advisor_id, phone, direction, after_id),
    )
    return [StoredMessage.from_row(row) for row in await cursor.fetchall()]


async def record_delivery_status(
    *, conn: Conn, advisor_id: UUID, twilio_sid: str, status: str, error_code: str | None
) -> bool:
    """Move one of the advisor's sent messages to `status`, only ever forwards; return if it moved.

    Twilio may deliver callbacks late or twice: `advisor_bot_status_rank` keeps 'read' from
    falling back to 'sent', and ignores statuses it does not know.
    """
    changed = False
    for table in ("messages", "advisor_channel"):
        cursor = await conn.execute(
            f"UPDATE {table} SET status = %s, error_code = coalesce(%s, error_code), "  # noqa: S608
            "updated_at = now() "
            "WHERE advisor_id = %s AND twilio_sid = %s AND direction = 'outbound' "
            "AND advisor_bot_status_rank(%s) > advisor_bot_status_rank(status)",
            (status, error_code, advisor_id, twilio_sid, status),
        )
        changed = changed or cursor.rowcount > 0
    return changed


async def set_opt_out(*, conn: Conn, advisor_id: UUID, conversation_id: UUID, opted_out: bool) -> None:
    """Record that the customer stopped (or resumed) receiving messages from this advisor."""
    await conn.execute(
        "UPDATE chat_history SET opted_out = %s, opted_out_at = CASE WHEN %s THEN now() END, "
        "updated_at = now() WHERE advisor_id = %s AND conversation_id = %s",
        (opted_out, opted_out, advisor_id, conversation_id),
    )


async def insert_manual_reply(
    *,
    conn: Conn,
    advisor_id: UUID,
    conversation_id: UUID,
    body: str,
    payload: dict[str, Any] | None,
    pause_ai: bool,
) -> int:
    """Record an advisor's own message to the customer (to be sent by the worker); return its id."""
    cursor = await conn.execute(
        """
        INSERT INTO messages
            (advisor_id, conversation_id, direction, author, body, payload, status, part)
        VALUES (%s, %s, 'outbound', 'advisor', %s, %s, 'pending', 1)
        RETURNING id
        """,
        (advisor_id, conversation_id, body, Jsonb(payload) if payload else None),
    )
    row = await cursor.fetchone()
    assert row is not None
    await conn.execute(
        "UPDATE chat_history SET last_advisor_message_at = now(), updated_at = now(), "
        "ai_attention = CASE WHEN %s THEN false ELSE ai_attention END, "
        "ai_attention_changed_at = CASE WHEN %s AND ai_attention THEN now() "
        "ELSE ai_attention_changed_at END, "
        "ai_attention_changed_by = CASE WHEN %s AND ai_attention THEN 'advisor' "
        "ELSE ai_attention_changed_by END "
        "WHERE advisor_id = %s AND conversation_id = %s",
        (pause_ai, pause_ai, pause_ai, advisor_id, conversation_id),
    )
    return int(row["id"])


async def waiting_conversations(*, conn: Conn, advisor_id: UUID, limit: int = 10) -> list[Conversation]:
    """Return the advisor's conversations waiting for a human (AI off), newest first."""
    cursor = await conn.execute(
        f"SELECT {_CONVERSATION_COLUMNS} FROM chat_history "  # noqa: S608
        "WHERE advisor_id = %s AND NOT ai_attention AND NOT opted_out "
        "ORDER BY updated_at DESC LIMIT %s",
        (advisor_id, limit),
    )
    return [Conversation.from_row(row) for row in await cursor.fetchall()]


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


async def insert_advisor_notice(*, conn: Conn, advisor_id: UUID, body: str) -> int:
    """Record a notice for the advisor's personal phone (sent by the worker); return its id."""
    cursor = await conn.execute(
        "INSERT INTO advisor_channel (advisor_id, direction, body, status) "
        "VALUES (%s, 'outbound', %s, 'pending') RETURNING id",
        (advisor_id, body),
    )
    row = await cursor.fetchone()
    assert row is not None
    return int(row["id"])


async def get_advisor_notice(*, conn: Conn, advisor_id: UUID, notice_id: int) -> dict[str, Any] | None:
    """Return one notice row of one advisor."""
    cursor = await conn.execute(
        "SELECT id, body, status FROM advisor_channel "
        "WHERE advisor_id = %s AND id = %s AND direction = 'outbound'",
        (advisor_id, notice_id),
    )
    return await cursor.fetchone()


async def mark_advisor_notice(
    *,
    conn: Conn,
    advisor_id: UUID,
    notice_id: int,
    status: str,
    twilio_sid: str | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
) -> None:
    """Record what became of a notice."""
    await _record_send_outcome(
        conn, "advisor_channel", advisor_id, notice_id, status, twilio_sid, error_code, error_message
    )


async def record_handover(*, conn: Conn, advisor_id: UUID, conversation_id: UUID, reason: str) -> None:
    """Keep a row per handover, so statistics can count them per day."""
    await conn.execute(
        "INSERT INTO handovers (advisor_id, conversation_id, reason) VALUES (%s, %s, %s)",
        (advisor_id, conversation_id, reason),
    )


async def record_media_understanding(
    *, conn: Conn, advisor_id: UUID, message_id: int, transcript: str | None, media_error: str | None
) -> None:
    """Store what a customer's media said, or why it could not be understood."""
    await conn.execute(
        "UPDATE messages SET transcript = %s, media_error = %s, updated_at = now() "
        "WHERE advisor_id = %s AND id = %s",
        (transcript, media_error, advisor_id, message_id),
    )


async def mark_sending(*, conn: Conn, advisor_id: UUID, message_id: int) -> None:
    """Record that a message is about to be handed to Twilio (committed before the call)."""
    await conn.execute(
        "UPDATE messages SET status = 'sending', updated_at = now() "
        "WHERE advisor_id = %s AND id = %s AND status = 'pending'",
        (advisor_id, message_id),
    )
