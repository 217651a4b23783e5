"""Owns what a worker reads to start a turn, in one statement: one round trip instead of seven.

The advisor, the conversation, the customer's unanswered messages, the replies recorded but not
yet sent, the customer's profile, the conversation's recent turns before the unanswered messages,
the AI's recent replies (the bot-loop check) and the database's clock, each as one column. The
parts are the same queries the record modules run one at a time; here they share a snapshot,
which also makes them agree. The same statement counts this attempt on the unanswered messages.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from memory.records.history import NOT_RECEIVED, recent_turns_sql
from memory.records.messages import AI_REPLIES_SINCE_HUMAN
from memory.records.models import Conn, Conversation, Message
from memory.records.profiles import PROFILE_SELECT, CustomerProfile

_CONVERSATION = Conversation.columns()
_MESSAGE = Message.columns()
_UNANSWERED = (
    "advisor_id = %(advisor_id)s AND conversation_id = %(conversation_id)s "
    "AND direction = 'inbound' AND processed_at IS NULL"
)

_HISTORY = recent_turns_sql(f"(SELECT min(id) FROM messages WHERE {_UNANSWERED})")
# Counted by the job of the newest message only (older jobs return at once), and not on the
# messages already tried max_attempts times (the job gives those up). The columns below read the
# statement's snapshot, so they show the attempts before this one.
_READ = f"""
WITH counted AS (
  UPDATE messages SET attempts = attempts + 1
   WHERE {_UNANSWERED} AND attempts < %(max_attempts)s
     AND NOT EXISTS (SELECT 1 FROM messages WHERE {_UNANSWERED} AND id > %(message_id)s)
)
SELECT clock_timestamp() AS now,
  (SELECT row_to_json(a) FROM advisors a WHERE a.id = %(advisor_id)s) AS advisor,
  (SELECT row_to_json(c) FROM (SELECT {_CONVERSATION} FROM chat_history
      WHERE advisor_id = %(advisor_id)s AND conversation_id = %(conversation_id)s) c) AS conversation,
  (SELECT coalesce(json_agg(m ORDER BY m.id), '[]') FROM (SELECT {_MESSAGE} FROM messages
      WHERE {_UNANSWERED}) m) AS inbound,
  (SELECT coalesce(json_agg(m ORDER BY m.id), '[]') FROM (SELECT {_MESSAGE} FROM messages
      WHERE advisor_id = %(advisor_id)s AND conversation_id = %(conversation_id)s
        AND direction = 'outbound' AND status IN ('pending', 'sending')) m) AS pending,
  (SELECT row_to_json(p) FROM ({PROFILE_SELECT}
      WHERE c.advisor_id = %(advisor_id)s AND c.conversation_id = %(conversation_id)s) p) AS profile,
  (SELECT coalesce(json_agg(h ORDER BY h.id), '[]') FROM ({_HISTORY}) h) AS history,
  ({AI_REPLIES_SINCE_HUMAN}) AS ai_replies
"""  # noqa: S608 - every interpolated part is ours


@functools.cache
def _read_with(joined: str) -> str:
    """The turn's read with one more query's row beside it: `joined` returns at most one row."""
    return (
        _READ
        + f"""  , joined.*
  FROM (SELECT 1) AS one LEFT JOIN LATERAL (SELECT true AS joined_found, j.* FROM ({joined}) j) joined ON true
"""
    )


def _joined_of(cursor: Any, row: dict[str, Any]) -> dict[str, Any] | None:
    """The columns after `joined_found` (the caller's query's), when that query found a row."""
    if not row.get("joined_found"):
        return None
    names = [column.name for column in cursor.description]
    return {name: row[name] for name in names[names.index("joined_found") + 1 :]}


@dataclass(frozen=True)
class TurnStart:
    """One conversation as a job finds it; `advisor` is the raw row (records do not know advisors)."""

    now: datetime
    advisor: dict[str, Any] | None
    conversation: Conversation | None
    inbound: list[Message]
    pending: list[Message]
    profile: CustomerProfile | None
    history: list[Message]
    ai_replies: int  # in the bot-loop window, since the advisor last wrote (`AI_REPLIES_SINCE_HUMAN`)
    joined: dict[str, Any] | None = None  # the row of the caller's `joined` query, if it found one


async def read_turn_start(
    *,
    conn: Conn,
    advisor_id: UUID,
    conversation_id: UUID,
    message_id: int,
    max_attempts: int,
    history_chars: int,
    loop_window_seconds: float,
    joined: tuple[str, dict[str, Any]] | None = None,
) -> TurnStart:
    """Read everything the job of message `message_id` needs to decide and answer, as one snapshot.

    Run in autocommit: the attempt counted here is committed before the work begins, so a
    worker killed on a message still counts towards giving it up after `max_attempts`.
    `history` is the newest `history_chars` of the turns before the oldest unanswered message
    (none when nothing is unanswered); what the AI's summary already covers is left to the agent,
    which knows how far its summary goes once it has loaded its memory.

    `joined` (a query returning at most one row, its parameters) is read in the same statement,
    in binary as every column here: the caller's own read that would otherwise be one more
    round trip (the worker's: the AI's latest checkpoint). Its parameter names must not be ours.
    """
    sql, extra = (_read_with(joined[0]), joined[1]) if joined else (_READ, {})
    cursor = await conn.execute(
        sql,
        {
            **extra,
            "advisor_id": advisor_id,
            "conversation_id": conversation_id,
            "message_id": message_id,
            "max_attempts": max_attempts,
            "after_id": 0,
            "not_received": NOT_RECEIVED,
            "max_chars": history_chars,
            "window_seconds": loop_window_seconds,
        },
        binary=True,
    )
    row = await cursor.fetchone()
    assert row is not None
    # json columns arrive parsed (psycopg's json loader).
    conversation, profile = row["conversation"], row["profile"]
    return TurnStart(
        now=row["now"],
        advisor=row["advisor"],
        conversation=Conversation.model_validate(conversation) if conversation else None,
        inbound=[Message.model_validate(item) for item in row["inbound"]],
        pending=[Message.model_validate(item) for item in row["pending"]],
        profile=CustomerProfile.model_validate(profile) if profile else None,
        history=[Message.model_validate(item) for item in row["history"]],
        ai_replies=int(row["ai_replies"]),
        joined=_joined_of(cursor, row),
    )
