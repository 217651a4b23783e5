"""Owns pricing model calls and storing them, for the worker's jobs and the web's searches alike.

What a call cost comes from MODEL_PRICES (bot.infra.pricing); its tokens and cost are counted in
`/metrics` as they are priced, and stored in `model_usage` (memory.records.usage). A call of no
one advisor (embedding the shared knowledge) is the business's own: stored with no advisor, and
counted in `/metrics` under `advisor="shared"`.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from bot.infra.metrics import COSTS, MODEL_TOKENS
from bot.infra.pricing import Pricing
from bot.infra.usage import ModelUse
from memory.records.usage import ModelCall, record_model_calls

logger = logging.getLogger(__name__)

SHARED = "shared"  # the metrics label of the business's own calls (no advisor)


def priced(pricing: Pricing | None, advisor_id: UUID | None, uses: list[ModelUse]) -> list[ModelCall]:
    """The calls with their cost (MODEL_PRICES), their tokens and cost counted in /metrics."""
    label = str(advisor_id) if advisor_id is not None else SHARED
    calls = []
    for use in uses:
        cost = (
            pricing.models.cost(
                use.model,
                prompt_tokens=use.prompt_tokens,
                cached_tokens=use.cached_tokens,
                completion_tokens=use.completion_tokens,
                audio_seconds=use.audio_seconds,
                characters=use.characters,
            )
            if pricing is not None
            else Decimal(0)
        )
        calls.append(ModelCall(**use.__dict__, cost_usd=cost))
        COSTS.labels(label, f"model_{use.purpose}").inc(float(cost))
        MODEL_TOKENS.labels(label, "prompt").inc(use.prompt_tokens)
        MODEL_TOKENS.labels(label, "cached").inc(use.cached_tokens)
        MODEL_TOKENS.labels(label, "completion").inc(use.completion_tokens)
    return calls


async def store_calls(
    pool: AsyncConnectionPool[Any],
    pricing: Pricing | None,
    *,
    advisor_id: UUID | None,
    conversation_id: UUID | None,
    uses: list[ModelUse],
) -> None:
    """Price and store `uses` in one statement.

    A database that fails now loses the record, said in the log: the work that made the calls
    is done and must not be redone for it.
    """
    if not uses:
        return
    calls = priced(pricing, advisor_id, uses)
    try:
        async with pool.connection() as conn:
            await record_model_calls(
                conn=conn, advisor_id=advisor_id, conversation_id=conversation_id, calls=calls
            )
    except (psycopg.Error, PoolTimeout) as error:
        logger.error(
            "model usage not recorded",
            extra={"advisor": str(advisor_id), "calls": len(calls), "error": type(error).__name__},
        )
