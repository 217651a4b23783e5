"""Owns the OpenAI-compatible clients (chat, audio): key, URL, retries, and the memory they allow."""

from __future__ import annotations

import openai
from langchain_core.language_models import BaseChatModel
from langchain_openai import ChatOpenAI

from bot.settings import Settings
from memory.ai.budget import MemoryBudget, memory_budget


def openai_api_key(settings: Settings) -> str:
    """The API key; a local OpenAI-compatible server (OPENAI_BASE_URL alone) needs none."""
    return settings.openai_api_key.get_secret_value() if settings.openai_api_key else "local"


def audio_client(settings: Settings) -> openai.AsyncOpenAI:
    """A client for the audio endpoints: one quick retry inside, the rest is the caller's fallback."""
    return openai.AsyncOpenAI(
        api_key=openai_api_key(settings),
        base_url=settings.openai_base_url,
        timeout=settings.openai_timeout_seconds,
        max_retries=1,
    )


def memory_budget_for(settings: Settings) -> MemoryBudget:
    """The AI's memory bounds; unset figures follow MODEL_CONTEXT_TOKENS (see memory.ai.budget)."""
    return memory_budget(
        context_tokens=settings.model_context_tokens,
        memory_tokens=settings.ai_memory_tokens,
        summary_tokens=settings.ai_summary_tokens,
    )


def build_chat_model(settings: Settings) -> BaseChatModel | None:
    """Return the configured chat model, or None when neither a key nor a base URL is set.

    Retries belong to the job queue (with backoff and a bounded number of attempts), so the
    client itself does not retry.
    """
    if not settings.model_configured:
        return None
    return ChatOpenAI(
        model=settings.openai_model,
        api_key=openai_api_key(settings),  # type: ignore[arg-type]
        base_url=settings.openai_base_url,
        timeout=settings.openai_timeout_seconds,
        max_retries=0,
        # The answer's bound: what the prompt budget keeps free for it, never a 17,000-character reply.
        max_tokens=settings.reply_token_reserve,  # type: ignore[call-arg]
    )
