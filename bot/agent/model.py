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


# Context windows of the models people configure, by name prefix (longest wins), from the
# providers' model pages; a model not here (a local one) is taken to have UNKNOWN_CONTEXT_TOKENS
# until MODEL_CONTEXT_TOKENS says otherwise.
KNOWN_CONTEXT_TOKENS: dict[str, int] = {
    "gpt-5": 400_000,
    "gpt-4.1": 1_047_576,
    "gpt-4o": 128_000,
    "gpt-4-turbo": 128_000,
    "gpt-4": 8_192,
    "gpt-3.5-turbo": 16_385,
    "o1": 200_000,
    "o3": 200_000,
    "o4-mini": 200_000,
    "llama3.1": 128_000,
    "llama3.2": 128_000,
    "llama3": 8_192,
    "qwen2.5": 32_768,
    "mistral": 32_768,
}
UNKNOWN_CONTEXT_TOKENS = 8_192  # small on purpose: a prompt too long for the model is refused


def context_tokens_for(settings: Settings) -> int:
    """The model's context window: MODEL_CONTEXT_TOKENS, else the known figure for OPENAI_MODEL."""
    if settings.model_context_tokens is not None:
        return settings.model_context_tokens
    name = settings.openai_model.lower().rsplit("/", 1)[-1]  # "openai/gpt-4o" → "gpt-4o"
    known = [prefix for prefix in KNOWN_CONTEXT_TOKENS if name.startswith(prefix)]
    return KNOWN_CONTEXT_TOKENS[max(known, key=len)] if known else UNKNOWN_CONTEXT_TOKENS


def memory_budget_for(settings: Settings) -> MemoryBudget:
    """The AI's memory bounds; unset figures follow the model's window (see memory.ai.budget)."""
    return memory_budget(
        context_tokens=context_tokens_for(settings),
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
