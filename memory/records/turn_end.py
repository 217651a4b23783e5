"""Owns how a worker ends a turn: one transaction, sent as one message to the server.

It locks the conversation, then consumes the customer's messages and records the reply (or holds
the messages for the advisor). Two statements, because the second must see what the lock waited
for: the webhook's statement locks the conversation while it stores a message, so a message being
stored at that moment is committed by the time the second statement takes its snapshot, and wins
over this reply. They go as one query string, bound by psycopg on the client (`mogrify`):
PostgreSQL runs the statements of one such string as one transaction, each with its own snapshot,
and rolls them all back if one fails. One write and one round trip, where pipeline mode cost one
write per statement (BEGIN, lock, the caller's, record, COMMIT).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncClientCursor
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from memory.records.models import Conn, Conversation, Message
from memory.records.usage import INSERT_CALLS, ModelCall, calls_json

_CONVERSATION = Conversation.columns()
_MESSAGE = Message.columns()
_THIS = "advisor_id = %(advisor_id)s AND conversation_id = %(conversation_id)s"

_LOCK = f"SELECT {_CONVERSATION} FROM chat_history WHERE {_THIS} FOR UPDATE"  # noqa: S608 - ours

# `ai_may_answer`: the AI is on, or switched itself off during this very turn (its own handover
# is no takeover). `newest_answered`: no customer message newer than the ones answered.
# `drafting`: an answer that waits for a person (the worker found draft mode, or it is now).
# The first part is recorded `sending` at once: what `messages.mark_sending` checks just before
# a send (the advisor active, no person took over, no draft mode) is checked here under the
# conversation's lock, and the caller sends it next; later parts are marked one by one.
_RECORD = f"""
WITH decision AS (
    SELECT coalesce((SELECT ai_attention
                         OR (ai_attention_changed_by = 'ai' AND ai_attention_changed_at >= %(started_at)s)
                       FROM chat_history WHERE {_THIS}), false) AS ai_may_answer,
           (SELECT coalesce(max(id), 0) <= %(up_to_id)s FROM messages
             WHERE {_THIS} AND direction = 'inbound') AS newest_answered,
           %(outcome)s = 'answered' AND %(draft_body)s::text <> '' AND (%(as_draft)s OR coalesce(
               (SELECT coalesce(c.ai_mode, a.settings ->> 'ai_mode') = 'draft'
                  FROM chat_history c JOIN advisors a ON a.id = c.advisor_id
                 WHERE c.advisor_id = %(advisor_id)s AND c.conversation_id = %(conversation_id)s),
               false)) AS drafting,
           coalesce((SELECT is_active FROM advisors WHERE id = %(advisor_id)s), false) AS advisor_active
), processed AS (
    UPDATE messages
       SET processed_at = now(),
           status = CASE WHEN NOT d.ai_may_answer THEN 'held_for_advisor'
                         WHEN d.drafting THEN 'drafted' ELSE %(outcome)s END,
           error_message = CASE WHEN d.ai_may_answer THEN %(error)s END,
           updated_at = now()
      FROM decision d
     WHERE {_THIS} AND direction = 'inbound' AND processed_at IS NULL AND id <= %(up_to_id)s
       AND (d.newest_answered OR NOT d.ai_may_answer)
), replies AS (
    INSERT INTO messages (advisor_id, conversation_id, direction, author, body, media, payload,
                          status, reply_to, part, transcript, sources)
    SELECT %(advisor_id)s, %(conversation_id)s, 'outbound', %(author)s, r.body,
           coalesce(r.media, '[]'::jsonb), r.payload,
           CASE WHEN r.part = %(first_part)s AND d.advisor_active THEN 'sending' ELSE 'pending' END,
           %(up_to_id)s, r.part, r.transcript,
           %(sources)s
      FROM jsonb_to_recordset(%(replies)s)
           AS r(body text, media jsonb, payload jsonb, part int, transcript text),
           decision d
     WHERE d.ai_may_answer AND d.newest_answered AND NOT d.drafting
     ORDER BY r.part
    RETURNING {_MESSAGE}
), draft AS (
    INSERT INTO drafts (advisor_id, conversation_id, reply_to, body, sources)
    SELECT %(advisor_id)s, %(conversation_id)s, %(up_to_id)s, %(draft_body)s, %(sources)s
      FROM decision d
     WHERE d.ai_may_answer AND d.newest_answered AND d.drafting
    RETURNING id
), spent AS (
    -- The model calls of this turn, stored in the same round trip (sql/0030).
    {INSERT_CALLS.strip()}
     WHERE EXISTS (SELECT 1 FROM chat_history WHERE {_THIS})
    RETURNING 1
), draft_timeout AS (
    SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(
        %(job_queue)s, %(job_task)s, %(job_priority)s, NULL, NULL,
        jsonb_build_object('advisor_id', %(advisor_id)s::text,
                           'conversation_id', %(conversation_id)s::text, 'draft_id', dr.id),
        now() + make_interval(secs => %(job_delay)s)
    )::procrastinate_job_to_defer_v1]) AS ids
      FROM draft dr
)
SELECT d.ai_may_answer, d.newest_answered,
       (SELECT coalesce(json_agg(r ORDER BY r.id), '[]') FROM replies r) AS replies,
       (SELECT id FROM draft) AS draft_id,
       (SELECT ids FROM draft_timeout) AS timeout_jobs
  FROM decision d
"""  # noqa: S608 - every interpolated part is ours


@dataclass(frozen=True)
class DraftTimeoutJob:
    """The queue job that turns a draft nobody decided on into a hand-over, deferred with it."""

    queue_name: str
    task_name: str
    priority: int
    delay_seconds: float


@dataclass(frozen=True)
class DraftMode:
    """How an answer may be kept as a draft: `as_draft` when the worker found draft mode.

    Recording checks the mode again (it may have been switched during the turn); `body` is the
    whole answer, which a draft keeps in one piece.
    """

    as_draft: bool
    body: str
    timeout_job: DraftTimeoutJob


@dataclass(frozen=True)
class TurnEnd:
    """What recording found and did.

    `conversation` is the row as locked (None when it was deleted meanwhile); `replies` the rows
    recorded, in sending order, or None when nothing was: a human took over (`held`: the
    messages are consumed as `held_for_advisor`) or a newer customer message exists (nothing
    written; that message's job answers all of them).
    """

    conversation: Conversation | None
    held: bool
    replies: list[Message] | None
    draft_id: int | None = None  # the answer was kept as this draft (draft mode); replies is []
    cleared: int | None = None  # the reply recorded `sending`, cleared to be sent now (see _RECORD)


async def record_turn_end(
    *,
    conn: Conn,
    advisor_id: UUID,
    conversation_id: UUID,
    up_to_id: int,
    started_at: datetime,
    outcome: str,
    error_message: str | None,
    parts: list[str],
    author: str,
    voice_url: str | None = None,
    spoken: str | None = None,
    sources: list[dict[str, Any]] | None = None,
    draft: DraftMode | None = None,
    choices: tuple[str, dict[str, Any]] | None = None,
    model_calls: list[ModelCall] | None = None,
    along: Sequence[tuple[str, dict[str, Any]]] = (),
) -> TurnEnd:
    """Consume the customer's messages up to `up_to_id` and record the reply to them, at once.

    `started_at` is when the turn began (the database's clock): a switch-off by the AI since then
    is its own handover, not a human's takeover. With `voice_url`, a voice note goes first and
    `parts` (possibly none) follow as text; what the note says (`spoken`) is its transcript, so
    the AI remembers its own spoken answers. `sources` (the knowledge passages the answer used)
    go on every part. With `draft` (an AI answer), the answer is kept as a draft instead when the
    conversation is in draft mode, and its timeout job is queued in the same statement. `conn`
    must be in autocommit (the worker's pool), with dict rows. `model_calls` (what the turn's model calls used
    and cost) are stored in the same statement, whatever becomes of the reply. `choices`
    (their text, their payload) is one more message after the parts: buttons or a list.
    `along` are the caller's own statements (SQL, parameters) made in the same transaction,
    after the lock: the worker's, the AI's checkpoint writes of this turn.
    """
    replies: list[dict[str, Any]] = [
        {"body": text, "media": None, "payload": None, "part": index + 1, "transcript": None}
        for index, text in enumerate(parts)
    ]
    if choices is not None:
        replies.append(
            {
                "body": choices[0],
                "media": None,
                "payload": {"choices": choices[1]},
                "part": len(replies) + 1,
                "transcript": None,
            }
        )
    if voice_url is not None:
        note = [{"url": voice_url, "content_type": "audio/ogg"}]
        replies.insert(
            0,
            {"body": "", "media": note, "payload": {"media_url": voice_url}, "part": 0, "transcript": spoken},
        )
    params = {
        "advisor_id": advisor_id,
        "conversation_id": conversation_id,
        "up_to_id": up_to_id,
        "started_at": started_at,
        "outcome": outcome,
        "error": error_message,
        "author": author,
        "replies": Jsonb(replies),
        "sources": Jsonb(sources) if sources else None,
        "as_draft": draft.as_draft if draft else False,
        "draft_body": draft.body if draft else "",
        "job_queue": draft.timeout_job.queue_name if draft else "",
        "job_task": draft.timeout_job.task_name if draft else "",
        "job_priority": draft.timeout_job.priority if draft else 0,
        "job_delay": draft.timeout_job.delay_seconds if draft else 0,
        "calls": calls_json(model_calls or []),
        "first_part": min((reply["part"] for reply in replies), default=0),
    }
    cursor = AsyncClientCursor(conn, row_factory=dict_row)
    statements = [(_LOCK, params), *along, (_RECORD, params)]
    await cursor.execute(";\n".join(cursor.mogrify(sql, values) for sql, values in statements))
    conversation_row = await cursor.fetchone()
    for _ in range(len(along) + 1):
        cursor.nextset()
    row = await cursor.fetchone()
    assert row is not None
    conversation = Conversation.model_validate(conversation_row) if conversation_row else None
    if not row["ai_may_answer"]:
        return TurnEnd(conversation, held=True, replies=None)
    if not row["newest_answered"]:
        return TurnEnd(conversation, held=False, replies=None)
    # json arrives parsed (psycopg's json loader)
    replies_recorded = [Message.model_validate(m) for m in row["replies"]]
    first = replies_recorded[0] if replies_recorded else None
    return TurnEnd(
        conversation,
        held=False,
        replies=replies_recorded,
        draft_id=row["draft_id"],
        cleared=first.id if first is not None and first.status == "sending" else None,
    )
