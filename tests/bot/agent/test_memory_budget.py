"""The business's memory strategies, and the settings that override them."""

from __future__ import annotations

import pytest

from bot.agent.model import memory_budget_for
from bot.settings import Settings
from memory.ai.budget import memory_budget


@pytest.mark.parametrize(
    ("context", "memory"),
    [(8_000, 6_000), (8_192, 6_000), (16_000, 6_000), (32_000, 28_000), (32_768, 28_000), (128_000, 120_000)],
)
def test_the_business_strategies_are_the_defaults(context: int, memory: int) -> None:
    budget = memory_budget_for(Settings(model_context_tokens=context))
    assert budget.memory_tokens == memory
    assert 0 < budget.summary_tokens <= min(memory // 6, 2_000)
    assert budget.turns_tokens + budget.summary_tokens == memory


def test_small_models_keep_three_quarters_of_their_context() -> None:
    assert memory_budget(context_tokens=4_000).memory_tokens == 3_000


def test_explicit_settings_win_and_the_summary_never_takes_more_than_half() -> None:
    budget = memory_budget_for(Settings(ai_memory_tokens=1_000, ai_summary_tokens=900))
    assert (budget.memory_tokens, budget.summary_tokens) == (1_000, 500)
    assert budget.fold_down_to == 250
