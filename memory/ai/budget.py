"""Owns how much of a conversation the AI keeps word for word, and how long its summary may grow.

The business's own strategies are the defaults: an 8k-token model remembers 6,000 tokens, a 32k
model 28,000, a 128k model a summary buffer of 120,000. Within that memory the running summary of
older turns takes at most a sixth (2,000 tokens at most); the newest turns fill the rest, and once
they pass it the oldest are folded into the summary.
"""

from __future__ import annotations

from dataclasses import dataclass

# (model context in tokens, memory in tokens), largest first; a context at least the first
# figure takes the second. 8,192-token models count as 8k models, and so on.
MEMORY_STRATEGIES: tuple[tuple[int, int], ...] = ((128_000, 120_000), (32_000, 28_000), (8_000, 6_000))
_SMALL_MODEL_SHARE = 0.75  # below 8k, the memory is this share of the context
_SUMMARY_SHARE = 6  # the summary may take 1/6 of the memory …
_SUMMARY_CAP = 2_000  # … and never more than this


@dataclass(frozen=True)
class MemoryBudget:
    """How many approximate tokens (characters / 4) each part of the AI's memory may take."""

    memory_tokens: int  # summary + verbatim turns
    summary_tokens: int

    @property
    def turns_tokens(self) -> int:
        """Verbatim turns kept before the oldest are folded into the summary."""
        return self.memory_tokens - self.summary_tokens

    @property
    def fold_down_to(self) -> int:
        """What a fold leaves verbatim: half, so that folds (one model call each) stay rare."""
        return self.turns_tokens // 2


def memory_tokens_for(context_tokens: int) -> int:
    """The business's memory strategy for a model with `context_tokens` of context."""
    for context, memory in MEMORY_STRATEGIES:
        if context_tokens >= context:
            return memory
    return int(context_tokens * _SMALL_MODEL_SHARE)


def memory_budget(
    *, context_tokens: int, memory_tokens: int | None = None, summary_tokens: int | None = None
) -> MemoryBudget:
    """The budget from the settings: explicit figures win, the strategy fills in the rest."""
    memory = memory_tokens if memory_tokens is not None else memory_tokens_for(context_tokens)
    summary = summary_tokens if summary_tokens is not None else min(memory // _SUMMARY_SHARE, _SUMMARY_CAP)
    return MemoryBudget(memory_tokens=memory, summary_tokens=min(summary, memory // 2))
