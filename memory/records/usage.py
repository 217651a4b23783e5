"""Owns the record of model calls: what each used and cost, per advisor and conversation (sql/0030)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from psycopg.types.json import Jsonb

from memory.records.models import Conn


@dataclass(frozen=True)
class ModelCall:
    """One model call as stored: its purpose, model, what it used and what it cost (USD)."""

    purpose: str
    model: str
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    audio_seconds: float
    characters: int
    cost_usd: Decimal


# The insert, as the turn's end statement embeds it too (memory.records.turn_end): the calls of a
# turn are stored in the round trip that records its reply.
INSERT_CALLS = """
INSERT INTO model_usage (advisor_id, conversation_id, purpose, model, prompt_tokens, cached_tokens,
                         completion_tokens, audio_seconds, characters, cost_usd)
SELECT %(advisor_id)s, %(conversation_id)s, c.purpose, c.model, c.prompt_tokens, c.cached_tokens,
       c.completion_tokens, c.audio_seconds, c.characters, c.cost_usd
  FROM jsonb_to_recordset(coalesce(%(calls)s, '[]'::jsonb))
       AS c(purpose text, model text, prompt_tokens int, cached_tokens int, completion_tokens int,
            audio_seconds real, characters int, cost_usd numeric)
"""

_RECORD = (
    INSERT_CALLS
    + """ WHERE %(conversation_id)s::uuid IS NULL OR EXISTS (
       SELECT 1 FROM chat_history
        WHERE advisor_id = %(advisor_id)s AND conversation_id = %(conversation_id)s)"""
)


async def record_model_calls(
    *, conn: Conn, advisor_id: UUID | None, conversation_id: UUID | None, calls: list[ModelCall]
) -> None:
    """Store model calls in one statement (none for an erased conversation's; no advisor: shared)."""
    if not calls:
        return
    await conn.execute(
        _RECORD, {"advisor_id": advisor_id, "conversation_id": conversation_id, "calls": calls_json(calls)}
    )


def calls_json(calls: list[ModelCall]) -> Jsonb | None:
    """The calls as the insert reads them (None: none to store)."""
    return Jsonb([{**call.__dict__, "cost_usd": str(call.cost_usd)} for call in calls]) if calls else None


async def conversation_cost(*, conn: Conn, advisor_id: UUID, conversation_id: UUID) -> Decimal:
    """What a conversation has cost so far (USD): its messages' charges and fees, its model calls."""
    cursor = await conn.execute(
        """
        SELECT coalesce((SELECT sum(coalesce(whatsapp_cost_usd, 0) + coalesce(twilio_cost_usd, 0))
                           FROM messages
                          WHERE advisor_id = %(a)s AND conversation_id = %(c)s
                            AND twilio_cost_usd IS NOT NULL), 0)
             + coalesce((SELECT sum(cost_usd) FROM model_usage
                          WHERE advisor_id = %(a)s AND conversation_id = %(c)s), 0) AS cost
        """,
        {"a": advisor_id, "c": conversation_id},
    )
    row = await cursor.fetchone()
    return Decimal(row["cost"]) if row else Decimal(0)
