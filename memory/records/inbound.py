"""Owns accepting a customer's message in one statement: conversation, message and answer job.

The webhook's work used to be a transaction of six statements (a round trip each); this is one
statement, atomic on its own, so acknowledging Twilio costs one round trip to the database.
It also refuses, in the same statement, a message whose sender is one of our own numbers, and a
MessageSid already stored; and it queues the answer job with procrastinate's own SQL function,
exactly as `defer_async` would, only without the extra round trips.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from psycopg.types.json import Jsonb

from memory.records.models import Conn, InboundMessage


@dataclass(frozen=True)
class AnswerJob:
    """The queue job that answers the message: its arguments are the message's ids.

    `lock_prefix` + the conversation id is the job's lock (one job at a time per conversation).
    """

    queue_name: str
    task_name: str
    priority: int
    lock_prefix: str
    delay_seconds: float


@dataclass(frozen=True)
class Accepted:
    """What became of one inbound message."""

    from_own_number: bool
    conversation_id: UUID | None
    message_id: int | None  # None: a duplicate (or from our own number): nothing was written


_ACCEPT = """
WITH refused AS (
    SELECT EXISTS (SELECT 1 FROM advisors WHERE twilio_phone_number = %(customer)s) AS own,
           EXISTS (SELECT 1 FROM messages WHERE twilio_sid = %(sid)s) AS seen
), conversation AS (
    INSERT INTO chat_history (advisor_id, phone_number, last_inbound_at, audio_available, profile_name)
    SELECT %(advisor_id)s, %(customer)s, now(), %(audio_default)s OR %(voice_note)s, %(profile_name)s
      FROM refused WHERE NOT own AND NOT seen
    ON CONFLICT (advisor_id, phone_number)
    DO UPDATE SET updated_at = now(), last_inbound_at = now(),
        audio_available = chat_history.audio_available OR %(voice_note)s,
        profile_name = coalesce(excluded.profile_name, chat_history.profile_name)
    RETURNING conversation_id
), message AS (
    INSERT INTO messages (advisor_id, conversation_id, direction, author, body, media, payload,
                          twilio_sid, status)
    SELECT %(advisor_id)s, conversation_id, 'inbound', 'customer', %(body)s, %(media)s,
           -- A quoted reply (or a tap on a button or list item) names the message it answers:
           -- what that said is kept with it, for the agent and the console.
           (%(payload)s - '_replying_to') || coalesce((
               SELECT jsonb_build_object('_replying_to', jsonb_build_object(
                          'author', q.author, 'body', left(q.body, 500)))
                 FROM messages q WHERE q.advisor_id = %(advisor_id)s AND q.twilio_sid = %(replied_sid)s
           ), '{}'::jsonb),
           %(sid)s, 'received'
      FROM conversation
    ON CONFLICT (twilio_sid) DO NOTHING
    RETURNING id, conversation_id
), superseded AS (
    -- A newer customer message supersedes the AI's draft (draft mode): it no longer answers.
    UPDATE drafts SET status = 'superseded', decided_by = 'system', decided_at = now()
      FROM message m
     WHERE drafts.advisor_id = %(advisor_id)s AND drafts.conversation_id = m.conversation_id
       AND drafts.status = 'pending'
), job AS (
    SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(
        %(queue_name)s, %(task_name)s, %(priority)s, %(lock_prefix)s || m.conversation_id::text, NULL,
        jsonb_build_object('advisor_id', %(advisor_id)s::text, 'conversation_id', m.conversation_id::text,
                           'message_id', m.id),
        now() + make_interval(secs => %(delay)s)
    )::procrastinate_job_to_defer_v1]) AS ids
      FROM message m
)
SELECT (SELECT own FROM refused) AS own,
       (SELECT conversation_id FROM conversation) AS conversation_id,
       (SELECT id FROM message) AS message_id,
       (SELECT ids FROM job) AS job_ids
"""


async def accept_inbound(
    *,
    conn: Conn,
    advisor_id: UUID,
    customer: str,
    message: InboundMessage,
    audio_default: bool,
    voice_note: bool,
    job: AnswerJob,
) -> Accepted:
    """Store the message in its conversation (created or marked active) and queue its answer job.

    Nothing is written for a sender that is one of our own Twilio numbers, nor for a MessageSid
    already stored (the unique key settles a race between two copies of one request). A new
    conversation starts with the advisor's default for voice replies; a voice note from the
    customer (`voice_note`) switches them on; the WhatsApp profile name is kept as it last came.
    A draft waiting for the advisor is superseded: the customer said more since it was written.
    """
    cursor = await conn.execute(
        _ACCEPT,
        {
            "advisor_id": advisor_id,
            "customer": customer,
            "sid": message.twilio_sid,
            "audio_default": audio_default,
            "voice_note": voice_note,
            "profile_name": message.profile_name,
            "body": message.body,
            "media": Jsonb(message.media),
            "payload": Jsonb(message.payload),
            "replied_sid": str(message.payload.get("OriginalRepliedMessageSid") or "")[:64] or None,
            "queue_name": job.queue_name,
            "task_name": job.task_name,
            "priority": job.priority,
            "lock_prefix": job.lock_prefix,
            "delay": job.delay_seconds,
        },
    )
    row = await cursor.fetchone()
    assert row is not None
    return Accepted(
        from_own_number=bool(row["own"]),
        conversation_id=row["conversation_id"],
        message_id=row["message_id"],
    )
