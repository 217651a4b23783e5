"""Owns storing what a job's model calls used and cost, at the job's end (bot.infra.usage_costs)."""

from __future__ import annotations

from uuid import UUID

from bot.infra.usage import ModelUse, UsageLog
from bot.infra.usage_costs import priced as priced_by
from bot.infra.usage_costs import store_calls
from bot.worker.parts import WorkerParts
from memory.records.usage import ModelCall


def priced(parts: WorkerParts, advisor_id: UUID | None, uses: list[ModelUse]) -> list[ModelCall]:
    """The calls with their cost (MODEL_PRICES), their tokens and cost counted in /metrics."""
    return priced_by(parts.pricing, advisor_id, uses)


async def store_usage(
    parts: WorkerParts, advisor_id: UUID | None, conversation_id: UUID | None, usage: UsageLog
) -> None:
    """Store what is left in the job's log, in one statement.

    Usually nothing: the turn's calls go with its reply (memory.records.turn_end); a fold after
    the reply, or a job that failed before recording, leaves some.
    """
    uses, usage.uses = usage.uses, []
    await store_calls(
        parts.pool, parts.pricing, advisor_id=advisor_id, conversation_id=conversation_id, uses=uses
    )
