"""Owns the database side of the agent's `search_knowledge` tool, for the advisor of the run only."""

from __future__ import annotations

from uuid import UUID

from memory.knowledge.searcher import KnowledgeSearcher

PASSAGES_PER_SEARCH = 3


class PostgresKnowledge:
    """Searches the advisor's documents and the shared ones; never another advisor's."""

    def __init__(self, searcher: KnowledgeSearcher) -> None:
        self._searcher = searcher

    async def search(self, *, advisor_id: str, query: str) -> list[str]:
        """The best passages for `query`, each headed by its source."""
        found = await self._searcher.search(
            advisor_id=UUID(advisor_id), query=query, limit=PASSAGES_PER_SEARCH
        )
        return [f"[{passage.source}]\n{passage.body}" for passage in found]
