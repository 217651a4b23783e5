"""Owns how knowledge is searched in this deployment: full text alone, or hybrid with embeddings.

Decided once at start and said in the log: hybrid when an embeddings model is configured and the
database has pgvector; otherwise full text alone, with the reason. A search whose query cannot be
embedded (the embeddings server down) falls back to full text for that search, with a warning:
the customer still gets an answer. Passages are embedded in the background (`embed_missing`),
so adding a document never waits for the embeddings server.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from memory.knowledge import store
from memory.knowledge.embeddings import Embedder, EmbeddingError
from memory.knowledge.vectors import missing_embeddings, prepare_vectors, store_embeddings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class KnowledgeSearcher:
    """Searches passages for one advisor at a time; `embedder` None means full text alone."""

    pool: AsyncConnectionPool[Any]
    embedder: Embedder | None = None

    @property
    def mode(self) -> str:
        """`hybrid` or `full_text`, as the API and the log say it."""
        return "hybrid" if self.embedder is not None else "full_text"

    @classmethod
    async def start(cls, pool: AsyncConnectionPool[Any], embedder: Embedder | None) -> KnowledgeSearcher:
        """Detect which search this deployment can do, prepare it, and say so in the log."""
        if embedder is None:
            logger.info("knowledge search: full text (no OPENAI_EMBEDDING_MODEL)")
            return cls(pool)
        async with pool.connection() as conn:
            problem = await prepare_vectors(conn)
        if problem is not None:
            logger.warning("knowledge search: full text only, %s", problem)
            return cls(pool)
        logger.info("knowledge search: hybrid (full text + pgvector, model %s)", embedder.model)
        return cls(pool, embedder)

    async def search(self, *, advisor_id: UUID | None, query: str, limit: int) -> list[store.Passage]:
        """The best passages for `query`; hybrid when possible, else full text."""
        vector = None
        if self.embedder is not None and query.strip():
            try:
                vector = (await self.embedder.embed([query.strip()[:2000]]))[0]
            except EmbeddingError as error:
                logger.warning("query not embedded; full text only for this search: %s", error)
        model = self.embedder.model if self.embedder else None
        async with self.pool.connection() as conn:
            return await store.search(
                conn=conn, advisor_id=advisor_id, query=query, limit=limit, vector=vector, model=model
            )

    async def aclose(self) -> None:
        """Close the embeddings server's connection, if any (at shutdown)."""
        if self.embedder is not None:
            await self.embedder.aclose()

    async def embed_missing(self, *, limit: int = 512) -> int:
        """Embed up to `limit` passages that have no embedding of the model; return how many.

        Raises EmbeddingError when the server fails: the queue retries the job later.
        """
        total = 0
        async for _, count in self.embed_missing_by_owner(limit=limit):
            total += count
        return total

    async def embed_missing_by_owner(self, *, limit: int = 512) -> AsyncIterator[tuple[UUID | None, int]]:
        """As `embed_missing`, one owner at a time: (advisor, or None for shared, passages embedded).

        Each owner's passages are embedded in calls of their own and stored before the next
        owner's, so what the calls between two steps used is that owner's cost.
        """
        if self.embedder is None:
            return
        async with self.pool.connection() as conn:
            pending = await missing_embeddings(conn=conn, model=self.embedder.model, limit=limit)
        owners: dict[UUID | None, list[tuple[int, UUID | None, str]]] = {}
        for row in pending:
            owners.setdefault(row[1], []).append(row)
        for owner, passages in owners.items():
            vectors = await self.embedder.embed([body for _, _, body in passages])
            rows = [
                (passage, advisor, vector)
                for (passage, advisor, _), vector in zip(passages, vectors, strict=True)
            ]
            async with self.pool.connection() as conn, conn.transaction():
                await store_embeddings(conn=conn, model=self.embedder.model, rows=rows)
            yield owner, len(rows)
