"""Owns storing what a job's model calls used and cost (bot.infra.usage, memory.records.usage)."""

from __future__ import annotations

import logging
from decimal import Decimal
from uuid import UUID

import psycopg
from psycopg_pool import PoolTimeout

from bot.infra.metrics import COSTS, MODEL_TOKENS
from bot.infra.usage import ModelUse, UsageLog
from bot.worker.parts import WorkerParts
from memory.records.usage import ModelCall, record_model_calls

logger = logging.getLogger(__name__)


def priced(parts: WorkerParts, advisor_id: UUID, uses: list[ModelUse]) -> list[ModelCall]:
    """The calls with their cost (MODEL_PRICES), their tokens and cost counted in /metrics."""
    calls = []
    for use in uses:
        cost = (
            parts.pricing.models.cost(
                use.model,
                prompt_tokens=use.prompt_tokens,
                cached_tokens=use.cached_tokens,
                completion_tokens=use.completion_tokens,
                audio_seconds=use.audio_seconds,
                characters=use.characters,
            )
            if parts.pricing is not None
            else Decimal(0)
        )
        calls.append(ModelCall(**use.__dict__, cost_usd=cost))
        COSTS.labels(str(advisor_id), f"model_{use.purpose}").inc(float(cost))
        MODEL_TOKENS.labels(str(advisor_id), "prompt").inc(use.prompt_tokens)
        MODEL_TOKENS.labels(str(advisor_id), "cached").inc(use.cached_tokens)
        MODEL_TOKENS.labels(str(advisor_id), "completion").inc(use.completion_tokens)
    return calls


async def store_usage(
    parts: WorkerParts, advisor_id: UUID, conversation_id: UUID | None, usage: UsageLog
) -> None:
    """Store what is left in the job's log, in one statement.

    Usually nothing: the turn's calls go with its reply (memory.records.turn_end); a fold after
    the reply, or a job that failed before recording, leaves some.

    A database that fails now loses the record, said in the log: the job's work is done and
    must not be redone for it.
    """
    if not usage.uses:
        return
    calls = priced(parts, advisor_id, usage.uses)
    usage.uses = []
    try:
        async with parts.pool.connection() as conn:
            await record_model_calls(
                conn=conn, advisor_id=advisor_id, conversation_id=conversation_id, calls=calls
            )
    except (psycopg.Error, PoolTimeout) as error:
        logger.error(
            "model usage not recorded",
            extra={"advisor": str(advisor_id), "calls": len(calls), "error": type(error).__name__},
        )
