"""Owns the SQL of messages (`messages`): what customers sent, and what was sent back, with its fate.

Every function takes `advisor_id` and filters on it: one advisor's data is never reachable
through a query written for another's.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from psycopg.types.json import Jsonb

from memory.records.models import Conn, InboundMessage, Message

_COLUMNS = Message.columns()


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


async def unprocessed_inbound(*, conn: Conn, advisor_id: UUID, conversation_id: UUID) -> list[Message]:
    """Return the customer's messages that no job has consumed yet, oldest first."""
    cursor = await conn.execute(
        f"SELECT {_COLUMNS} FROM messages "  # noqa: S608
        "WHERE advisor_id = %s AND conversation_id = %s "
        "AND direction = 'inbound' AND processed_at IS NULL ORDER BY id",
        (advisor_id, conversation_id),
    )
    return [Message.model_validate(row) for row in await cursor.fetchall()]


async def give_up(*, conn: Conn, advisor_id: UUID, message_id: int, reason: str) -> None:
    """Mark one customer message failed for good (processed, so it holds nothing up)."""
    await conn.execute(
        "UPDATE messages SET processed_at = now(), status = 'failed', error_message = %s, "
        "updated_at = now() WHERE advisor_id = %s AND id = %s AND processed_at IS NULL",
        (reason, advisor_id, message_id),
    )


async def note_failure(
    *, conn: Conn, advisor_id: UUID, conversation_id: UUID, up_to_id: int, error: str
) -> None:
    """Keep the latest failure on unprocessed customer messages, for when they are given up."""
    await conn.execute(
        "UPDATE messages SET error_message = %s, updated_at = now() "
        "WHERE advisor_id = %s AND conversation_id = %s AND direction = 'inbound' "
        "AND processed_at IS NULL AND id <= %s",
        (error, advisor_id, conversation_id, up_to_id),
    )


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


async def record_media_understanding(
    *, conn: Conn, advisor_id: UUID, message_id: int, transcript: str | None, media_error: str | None
) -> None:
    """Store what a customer's media said, or why it could not be understood."""
    await conn.execute(
        "UPDATE messages SET transcript = %s, media_error = %s, updated_at = now() "
        "WHERE advisor_id = %s AND id = %s",
        (transcript, media_error, advisor_id, message_id),
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
    spoken: str | None = None,
) -> list[int]:
    """Record the intent to send each part before any call to Twilio; return their ids.

    With `voice_url`, a voice note goes first and `parts` (possibly none) follow as text; what
    the note says (`spoken`) is its transcript, so the AI remembers its own spoken answers.
    """
    ids: list[int] = []
    if voice_url is not None:
        cursor = await conn.execute(
            """
            INSERT INTO messages (advisor_id, conversation_id, direction, author, body, media,
                payload, status, reply_to, part, transcript)
            VALUES (%s, %s, 'outbound', %s, '', %s, %s, 'pending', %s, 0, %s)
            RETURNING id
            """,
            (
                advisor_id,
                conversation_id,
                author,
                Jsonb([{"url": voice_url, "content_type": "audio/ogg"}]),
                Jsonb({"media_url": voice_url}),
                reply_to,
                spoken,
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


async def insert_approved_draft(
    *,
    conn: Conn,
    advisor_id: UUID,
    conversation_id: UUID,
    draft_id: int,
    reply_to: int,
    parts: list[str],
    sources: list[dict[str, Any]] | None,
) -> list[int]:
    """Record an approved draft as the AI's reply (to be sent by the worker); return the rows' ids.

    It is the AI's turn in its memory, as the person sent it; `payload.draft_id` tells the
    sender a person approved it, so a later pause of the AI does not hold it back.
    """
    cursor = await conn.execute(
        "INSERT INTO messages (advisor_id, conversation_id, direction, author, body, payload, status, "
        "reply_to, part, sources) "
        "SELECT %s, %s, 'outbound', 'ai', p.body, %s, 'pending', %s, p.part, %s "
        "FROM unnest(%s::text[]) WITH ORDINALITY AS p(body, part) ORDER BY p.part RETURNING id",
        (
            advisor_id,
            conversation_id,
            Jsonb({"draft_id": draft_id}),
            reply_to,
            Jsonb(sources) if sources else None,
            parts,
        ),
    )
    return sorted(int(row["id"]) for row in await cursor.fetchall())


async def pending_outbound(*, conn: Conn, advisor_id: UUID, conversation_id: UUID) -> list[Message]:
    """Return replies recorded but not yet known to be accepted by Twilio, in sending order.

    `sending` ones were handed to Twilio by an attempt that never heard back (a timeout, a
    crash): they may have gone out, and the caller must ask Twilio before sending them again.
    """
    cursor = await conn.execute(
        f"SELECT {_COLUMNS} FROM messages "  # noqa: S608
        "WHERE advisor_id = %s AND conversation_id = %s "
        "AND direction = 'outbound' AND status IN ('pending', 'sending') ORDER BY id",
        (advisor_id, conversation_id),
    )
    return [Message.model_validate(row) for row in await cursor.fetchall()]


SendPermission = Literal["ok", "advisor_inactive", "taken_over", "draft_mode"]


async def mark_sending(*, conn: Conn, advisor_id: UUID, message_id: int) -> SendPermission:
    """Record that a message is about to be handed to Twilio (committed before the call).

    Returns, read in the same statement, whether it may go: not from a deactivated advisor's
    number (not a retried manual reply, not a campaign's next template), and not an AI reply
    once a person paused the AI after it was written (the advisor took over while it was being
    sent, or before a crashed attempt was retried), nor once the conversation is in draft mode
    (`draft_mode`: the reply must wait for a person instead). The AI pausing itself (a hand-over
    in the same turn) lets its own reply through; so does an approved draft (a person sent it).
    """
    cursor = await conn.execute(
        "WITH advisor AS (SELECT coalesce(bool_or(is_active), false) AS active FROM advisors "
        " WHERE id = %(a)s), "
        "ai_reply AS (SELECT m.created_at, c.ai_attention, c.ai_attention_changed_by, "
        "  c.ai_attention_changed_at, coalesce(c.ai_mode, a.settings ->> 'ai_mode') = 'draft' AS drafting "
        "  FROM messages m JOIN chat_history c "
        "  ON c.conversation_id = m.conversation_id AND c.advisor_id = m.advisor_id "
        "  JOIN advisors a ON a.id = m.advisor_id "
        "  WHERE m.advisor_id = %(a)s AND m.id = %(m)s AND m.author = 'ai' "
        "  AND NOT coalesce(m.payload ? 'draft_id', false)), "
        "taken AS (SELECT EXISTS (SELECT 1 FROM ai_reply WHERE NOT ai_attention "
        "  AND ai_attention_changed_by IS DISTINCT FROM 'ai' "
        "  AND ai_attention_changed_at > created_at) AS yes, "
        "  EXISTS (SELECT 1 FROM ai_reply WHERE drafting) AS drafting), "
        "marked AS (UPDATE messages SET status = 'sending', updated_at = now() "
        " WHERE advisor_id = %(a)s AND id = %(m)s AND status = 'pending' "
        " AND (SELECT active FROM advisor) AND NOT (SELECT yes OR drafting FROM taken)) "
        "SELECT (SELECT active FROM advisor) AS active, (SELECT yes FROM taken) AS taken, "
        "(SELECT drafting FROM taken) AS drafting",
        {"a": advisor_id, "m": message_id},
    )
    row = await cursor.fetchone()
    if not (row and row["active"]):
        return "advisor_inactive"
    if row["taken"]:
        return "taken_over"
    return "draft_mode" if row["drafting"] else "ok"


async def mark_outbound(
    *,
    conn: Conn,
    advisor_id: UUID,
    message_id: int,
    status: str,
    twilio_sid: str | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
    billing: Billing | None = None,
) -> None:
    """Record what became of one outbound message (and, once accepted, what it cost)."""
    await record_send_outcome(
        conn, "messages", advisor_id, message_id, status, twilio_sid, error_code, error_message, billing
    )


@dataclass(frozen=True)
class Billing:
    """What an accepted message is billed as, and what it cost then (USD; bot.infra.pricing)."""

    category: str
    country: str | None
    whatsapp_usd: Decimal
    twilio_usd: Decimal


async def record_send_outcome(
    conn: Conn,
    table: Literal["messages", "advisor_channel"],
    advisor_id: UUID,
    row_id: int,
    status: str,
    twilio_sid: str | None,
    error_code: str | None,
    error_message: str | None,
    billing: Billing | None = None,
) -> None:
    """Record Twilio's answer to a send, for a customer message or an advisor notice alike.

    With `billing` (Twilio accepted it), its category, country and cost are kept with it.
    """
    await conn.execute(
        f"UPDATE {table} SET status = %s, twilio_sid = coalesce(%s, twilio_sid), "  # noqa: S608
        "error_code = %s, error_message = %s, updated_at = now(), "
        "billing_category = coalesce(%s, billing_category), "
        "billing_country = coalesce(%s, billing_country), "
        "whatsapp_cost_usd = coalesce(%s, whatsapp_cost_usd), "
        "twilio_cost_usd = coalesce(%s, twilio_cost_usd) "
        "WHERE advisor_id = %s AND id = %s",
        (
            status,
            twilio_sid,
            error_code,
            error_message,
            billing.category if billing else None,
            billing.country if billing else None,
            billing.whatsapp_usd if billing else None,
            billing.twilio_usd if billing else None,
            advisor_id,
            row_id,
        ),
    )


async def left_twilio(*, conn: Conn, advisor_id: UUID, message_id: int) -> bool:
    """Whether Twilio has reported this outbound message sent (or further, or failed)."""
    cursor = await conn.execute(
        "SELECT advisor_bot_status_rank(status) >= advisor_bot_status_rank('sent') AS gone "
        "FROM messages WHERE advisor_id = %s AND id = %s",
        (advisor_id, message_id),
    )
    row = await cursor.fetchone()
    return bool(row is None or row["gone"])


async def record_delivery_status(
    *, conn: Conn, advisor_id: UUID, twilio_sid: str, status: str, error_code: str | None
) -> bool:
    """Move one of the advisor's sent messages to `status`, only ever forwards; return if it moved.

    Twilio may deliver callbacks late or twice: `advisor_bot_status_rank` keeps 'read' from
    falling back to 'sent', and ignores statuses it does not know. A status for a SID not stored
    yet (the worker has not recorded Twilio's answer) is kept and applied when it is (sql/0028).
    """
    changed = False
    async with conn.transaction():
        await conn.execute("SELECT advisor_bot_status_lock(%s)", (twilio_sid,))
        for table in ("messages", "advisor_channel"):
            cursor = await conn.execute(
                f"UPDATE {table} SET status = %s, error_code = coalesce(%s, error_code), "  # noqa: S608
                "updated_at = now() "
                "WHERE advisor_id = %s AND twilio_sid = %s AND direction = 'outbound' "
                "AND advisor_bot_status_rank(%s) > advisor_bot_status_rank(status)",
                (status, error_code, advisor_id, twilio_sid, status),
            )
            changed = changed or cursor.rowcount > 0
        if not changed:
            await conn.execute(
                _KEEP_EARLY_STATUS, {"a": advisor_id, "sid": twilio_sid, "s": status, "e": error_code}
            )
    return changed


_KEEP_EARLY_STATUS = """
    WITH stale AS (DELETE FROM early_delivery_statuses WHERE received_at < now() - interval '1 day')
    INSERT INTO early_delivery_statuses (advisor_id, twilio_sid, status, error_code)
    SELECT %(a)s::uuid, %(sid)s::text, %(s)s::text, %(e)s::text
     WHERE advisor_bot_status_rank(%(s)s::text) >= 0
       AND NOT EXISTS (SELECT 1 FROM messages WHERE advisor_id = %(a)s::uuid AND twilio_sid = %(sid)s::text)
       AND NOT EXISTS (
           SELECT 1 FROM advisor_channel WHERE advisor_id = %(a)s::uuid AND twilio_sid = %(sid)s::text)
    ON CONFLICT DO NOTHING
"""


async def messages_after(
    *, conn: Conn, advisor_id: UUID, phone: str, after_id: int, direction: str
) -> list[Message]:
    """Return one advisor + customer's messages in one direction with ids above `after_id`."""
    cursor = await conn.execute(
        f"SELECT {Message.columns(prefix='m.')} "  # noqa: S608
        "FROM messages m JOIN chat_history c "
        "ON c.conversation_id = m.conversation_id AND c.advisor_id = m.advisor_id "
        "WHERE m.advisor_id = %s AND c.phone_number = %s AND m.direction = %s AND m.id > %s "
        "ORDER BY m.id",
        (advisor_id, phone, direction, after_id),
    )
    return [Message.model_validate(row) for row in await cursor.fetchall()]


# How many replies the AI wrote in the last `window_seconds` since the advisor last wrote; a reply
# split into several WhatsApp messages counts once. A high count with no human in between is what
# two bots answering each other look like (read by `memory.records.turn_start`).
AI_REPLIES_SINCE_HUMAN = (
    "SELECT count(DISTINCT reply_to) AS n FROM messages "
    "WHERE advisor_id = %(advisor_id)s AND conversation_id = %(conversation_id)s "
    "AND direction = 'outbound' AND author = 'ai' "
    "AND created_at > now() - make_interval(secs => %(window_seconds)s) "
    "AND id > coalesce((SELECT max(id) FROM messages WHERE advisor_id = %(advisor_id)s "
    "AND conversation_id = %(conversation_id)s AND direction = 'outbound' AND author = 'advisor'), 0)"
)
