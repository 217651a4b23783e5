"""Owns the database side of the agent's `search_knowledge` tool, for the advisor of the run only."""

from __future__ import annotations

from uuid import UUID

from bot.agent.tools import FoundPassage
from memory.knowledge.searcher import KnowledgeSearcher

PASSAGES_PER_SEARCH = 3


class PostgresKnowledge:
    """Searches the advisor's documents and the shared ones; never another advisor's."""

    def __init__(self, searcher: KnowledgeSearcher) -> None:
        self._searcher = searcher

    async def search(self, *, advisor_id: str, query: str) -> list[FoundPassage]:
        """The best passages for `query`, best first, with their document and id."""
        found = await self._searcher.search(
            advisor_id=UUID(advisor_id), query=query, limit=PASSAGES_PER_SEARCH
        )
        return [FoundPassage(passage.source, passage.id, passage.body) for passage in found]
