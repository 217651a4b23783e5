"""Owns when the running summary moves: after the reply is recorded, and gently when it fails.

Folding old turns into the summary is a model call the customer should not wait for, so it runs
once the turn's reply is recorded and sent (the worker calls `MemoryFolder.fold`), and the
summary it writes is in the next turn's prompt. A fold that fails is not tried again on every
turn (that once made 128 failed calls in 128 turns while the prompt grew 2.4×): it waits 1, 3,
7 due turns (doubling, then every 7th), and from the second failure in a row the summary is made
from the customer's own sentences instead (`extractive_summary`), so the memory stays bounded
while the model is down. Each outcome is counted in /metrics (`advisor_bot_folds_total`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph

from bot.agent.context import RememberedMessage
from bot.agent.graph import AGENT_NODE, FoldRecord, RunningSummary, summary_of
from bot.agent.summary import (
    EmptySummaryError,
    extractive_summary,
    fold_into_summary,
    turns_to_fold,
    unsummarised,
)
from bot.infra.metrics import FOLDS
from memory.ai.budget import MemoryBudget
from memory.ai.tokens import TokenCounter

logger = logging.getLogger(__name__)

FoldOutcome = Literal["not_due", "folded", "failed", "extractive", "waiting"]
EXTRACTIVE_AFTER = 2  # failures in a row before the customer's own sentences make the summary
MAX_WAIT_DOUBLINGS = 3  # at most 7 due turns between two tries of the model


@dataclass(frozen=True)
class Folded:
    """What a fold did, and the summary to keep with the records when it moved."""

    outcome: FoldOutcome
    summary: RunningSummary | None = None


class MemoryFolder:
    """Folds a conversation's oldest turns into its checkpointed summary, after the reply."""

    def __init__(self, model: BaseChatModel, memory: MemoryBudget, counter: TokenCounter) -> None:
        self._model, self._memory, self._counter = model, memory, counter

    async def fold(
        self,
        graph: CompiledStateGraph[Any, Any, Any, Any],
        config: RunnableConfig,
        history: Sequence[RememberedMessage],
        state: dict[str, Any],
    ) -> Folded:
        """Fold `history`'s oldest turns when they pass the bound; the checkpoint is updated.

        `state` is what the turn's run ended with (its summary and fold record): read from the
        run's result, not the database, so a turn with nothing to fold costs no round trip.
        """
        summary = summary_of(state)
        folding = turns_to_fold(unsummarised(history, summary["through"]), self._memory, self._counter)
        if not folding:
            return Folded("not_due")
        record: FoldRecord = state.get("fold") or FoldRecord(failures=0, wait=0)
        outcome: FoldOutcome
        text: str | None = None
        if record["wait"] > 0:
            record = FoldRecord(failures=record["failures"], wait=record["wait"] - 1)
            outcome = "waiting"
        else:
            try:
                text = await fold_into_summary(
                    self._model,
                    summary["text"],
                    folding,
                    max_tokens=self._memory.summary_tokens,
                    counter=self._counter,
                )
            except (openai.OpenAIError, EmptySummaryError, ValueError) as error:
                failures = record["failures"] + 1
                record = FoldRecord(failures=failures, wait=2 ** min(failures, MAX_WAIT_DOUBLINGS) - 1)
                outcome = "failed"
                logger.warning(
                    "could not fold old turns into the summary; tried again later",
                    extra={"error": type(error).__name__, "failures": failures, "wait_turns": record["wait"]},
                )
            else:
                record, outcome = FoldRecord(failures=0, wait=0), "folded"
        if text is None and record["failures"] >= EXTRACTIVE_AFTER:
            text = extractive_summary(
                summary["text"], folding, max_tokens=self._memory.summary_tokens, counter=self._counter
            )
            FOLDS.labels("extractive").inc()
        FOLDS.labels(outcome).inc()
        update: dict[str, Any] = {"fold": record}
        moved = RunningSummary(text=text, through=folding[-1].row_id) if text else None
        if moved is not None:
            update["summary"] = moved
            logger.info("old turns folded into the summary", extra={"messages": len(folding), "how": outcome})
        # Attributed to the agent node, whose answer ended the turn: the thread stays finished.
        await graph.aupdate_state(config, update, as_node=AGENT_NODE)
        return Folded("extractive" if moved is not None and outcome != "folded" else outcome, moved)
