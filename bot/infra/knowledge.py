"""Owns building the knowledge searcher from the settings, and embedding the pending passages.

The web side and the worker build it alike; the embedding of passages still without a vector
keeps each owner's calls as that owner's cost.
"""

from __future__ import annotations

from typing import Any

from psycopg_pool import AsyncConnectionPool

from bot.infra.pricing import Pricing
from bot.infra.usage import ModelUse, note_use, take_uses, usage_scope
from bot.infra.usage_costs import store_calls
from bot.settings import Settings
from memory.knowledge.embeddings import OPENAI_API_BASE, Embedder
from memory.knowledge.searcher import KnowledgeSearcher


def embedder_for(settings: Settings) -> Embedder | None:
    """The embeddings model of OPENAI_EMBEDDING_MODEL at OPENAI_BASE_URL, or None when unset."""
    if not settings.openai_embedding_model:
        return None
    model = settings.openai_embedding_model
    return Embedder(
        model=model,
        base_url=settings.openai_base_url or OPENAI_API_BASE,
        api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else "local",
        timeout_seconds=min(settings.openai_timeout_seconds, 30.0),
        on_usage=lambda tokens: note_use(ModelUse("embedding", model, prompt_tokens=tokens)),
    )


async def open_knowledge(settings: Settings, pool: AsyncConnectionPool[Any]) -> KnowledgeSearcher:
    """Detect hybrid or full-text search for this deployment (logged), on `pool`."""
    return await KnowledgeSearcher.start(pool, embedder_for(settings))


async def embed_passages(
    knowledge: KnowledgeSearcher, pool: AsyncConnectionPool[Any], pricing: Pricing | None
) -> int:
    """Embed what is pending (up to the searcher's batch); return how many passages.

    Each owner's calls are stored as that owner's cost; the shared documents' have no advisor
    (the business's own, bot.infra.usage_costs). Raises EmbeddingError as `embed_missing` does,
    after storing what the owners embedded before the failure cost.
    """
    embedded = 0
    with usage_scope():
        async for owner, count in knowledge.embed_missing_by_owner():
            embedded += count
            await store_calls(pool, pricing, advisor_id=owner, conversation_id=None, uses=take_uses())
    return embedded
