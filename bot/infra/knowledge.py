"""Owns building the knowledge searcher from the settings, for the web side and the worker alike."""

from __future__ import annotations

from typing import Any

from psycopg_pool import AsyncConnectionPool

from bot.infra.usage import ModelUse, note_use
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
