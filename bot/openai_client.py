"""Owns how every OpenAI-compatible client is configured: key, base URL, timeout, retries."""

from __future__ import annotations

import openai

from bot.settings import Settings


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
