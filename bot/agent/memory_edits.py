"""Owns reading and tidying a conversation's checkpointed AI memory outside a model turn.

The checkpoint holds the running summary and the last turn; the verbatim turns live in
`messages` (see bot.agent.graph). So what the customer actually saw is what the AI remembers
without edits: messages held for the human, an advisor's own words, a dropped answer (never
recorded) need nothing here. What is left is where the summary stops, and pruning superseded
checkpoints. Without a model (the away-message mode) there is no memory.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import BaseMessage
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.graph.state import CompiledStateGraph

from memory.ai.checkpointer import prune_superseded_checkpoints

_PRUNE_BATCHES_PER_RUN = 10  # bounded per run; the next run goes on


def messages_from(messages: list[BaseMessage], *, first_id: str | None) -> list[BaseMessage]:
    """Return `messages` from the one with id `first_id` on (what one turn added), or nothing."""
    for index, message in enumerate(messages):
        if message.id == first_id:
            return messages[index:]
    return []


class AgentMemory:
    """Reads and prunes the checkpointed memory of the compiled agent graph (None: no model)."""

    def __init__(self, graph: CompiledStateGraph[Any, Any, Any, Any] | None) -> None:
        self._graph = graph

    async def prune(self) -> int:
        """Delete superseded checkpoints (see memory.ai.checkpointer); return conversations pruned."""
        checkpointer = self._graph.checkpointer if self._graph is not None else None
        if not isinstance(checkpointer, AsyncPostgresSaver):
            return 0
        pruned = 0
        for _ in range(_PRUNE_BATCHES_PER_RUN):
            batch = await prune_superseded_checkpoints(checkpointer)
            pruned += batch
            if batch == 0:
                break
        return pruned
