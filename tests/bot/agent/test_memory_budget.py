"""The business's memory strategies, and the settings that override them."""

from __future__ import annotations

import pytest

from bot.agent.model import context_tokens_for, memory_budget_for
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


@pytest.mark.parametrize(
    ("model", "context"),
    [
        ("gpt-4o-mini", 128_000),
        ("gpt-4o", 128_000),
        ("openai/gpt-4.1-mini", 1_047_576),
        ("gpt-4-0613", 8_192),
        ("GPT-5-nano", 400_000),
        ("llama3.1:8b", 128_000),
        ("my-local-model", 8_192),
    ],
)
def test_the_window_follows_the_configured_model_unless_set(model: str, context: int) -> None:
    """Found by the audit: 16k for every model, while the default one has 128k."""
    assert context_tokens_for(Settings(openai_model=model)) == context
    assert context_tokens_for(Settings(openai_model=model, model_context_tokens=4_096)) == 4_096


def test_the_default_model_gets_the_128k_strategy() -> None:
    assert memory_budget_for(Settings()).memory_tokens == 120_000
