"""Owns changes to a conversation's AI memory made outside a model turn.

The worker keeps the memory true to what the customer actually saw: messages held for the human
are remembered, an advisor's own words are added, a dropped or interrupted answer is removed,
and superseded checkpoints are pruned. Without a model (the away-message mode) there is no
memory, and every edit is a no-op.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, RemoveMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.graph.state import CompiledStateGraph

from bot.agent.graph import AGENT_NODE
from memory.ai.checkpointer import prune_superseded_checkpoints
from memory.ai.thread import run_config_for

logger = logging.getLogger(__name__)

_PRUNE_BATCHES_PER_RUN = 10  # bounded per run; the next run goes on


def messages_from(messages: list[BaseMessage], *, first_id: str | None) -> list[BaseMessage]:
    """Return `messages` from the one with id `first_id` on (what one turn added), or nothing."""
    for index, message in enumerate(messages):
        if message.id == first_id:
            return messages[index:]
    return []


class AgentMemory:
    """Edits the checkpointed memory of the compiled agent graph (None: no model, no memory)."""

    def __init__(self, graph: CompiledStateGraph[Any, Any, Any, Any] | None) -> None:
        self._graph = graph

    async def remember(self, config: RunnableConfig, messages: list[BaseMessage]) -> None:
        """Add messages the model did not answer (held for the human) to the memory."""
        if self._graph is not None and messages:
            await self._graph.aupdate_state(config, {"messages": messages}, as_node=AGENT_NODE)

    async def remember_advisor_message(
        self, *, advisor_id: UUID, phone: str, message_id: int, body: str
    ) -> None:
        """Add what the human said, so the AI knows it when it takes over again."""
        said = AIMessage(content=body, id=f"advisor-{message_id}", name="advisor")
        await self.remember(run_config_for(advisor_id, phone), [said])

    async def forget(self, config: RunnableConfig, added: list[BaseMessage], *, keep_humans: bool) -> None:
        """Remove a dropped run's messages from the AI's memory, so it never 'said' them."""
        removals: list[BaseMessage] = [
            RemoveMessage(id=message.id)
            for message in added
            if message.id and not (keep_humans and isinstance(message, HumanMessage))
        ]
        await self.remember(config, removals)

    async def discard_unrecorded_turn(self, config: RunnableConfig, *, first_id: str | None) -> None:
        """Undo what an earlier attempt of this turn left in the AI's memory before it died.

        A worker killed after the checkpoint saved the model's answer but before the reply was
        recorded would otherwise show the model an answer the customer never received.
        """
        if self._graph is None:
            return
        state = await self._graph.aget_state(config)
        leftover = messages_from(list(state.values.get("messages", [])), first_id=first_id)
        if leftover:
            logger.warning("discarding an interrupted attempt's answer", extra={"messages": len(leftover)})
            await self.forget(config, leftover, keep_humans=False)

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
