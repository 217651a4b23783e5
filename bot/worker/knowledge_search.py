"""Owns the database side of the agent's `search_knowledge` tool, for the advisor of the run only."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from memory.knowledge import store

PASSAGES_PER_SEARCH = 3


class PostgresKnowledge:
    """Searches the advisor's documents and the shared ones; never another advisor's."""

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self._pool = pool

    async def search(self, *, advisor_id: str, query: str) -> list[str]:
        """The best passages for `query`, each headed by its source."""
        async with self._pool.connection() as conn:
            found = await store.search(
                conn=conn, advisor_id=UUID(advisor_id), query=query, limit=PASSAGES_PER_SEARCH
            )
        return [f"[{passage.source}]\n{passage.body}" for passage in found]
