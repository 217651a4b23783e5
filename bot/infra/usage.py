"""Owns counting what each model call used, wherever in a job it is made.

The agent's answer, the summary fold, the knowledge search's embedding, the transcription of a
voice note and the speech of a voice reply are made in different places, all within one job.
A job opens a `UsageLog` (`usage_scope`); every call notes what it used (tokens, cached prompt
tokens as the API reports them, audio seconds, characters) into the log of the job it runs in,
and the job stores the log once, at its end, with the cost of each call (memory.records.usage).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal

Purpose = Literal["answer", "summary", "embedding", "transcription", "speech", "other"]


@dataclass(frozen=True)
class ModelUse:
    """One model call: what for, which model, and what it used."""

    purpose: Purpose
    model: str
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    audio_seconds: float = 0.0
    characters: int = 0


@dataclass
class UsageLog:
    """The model calls of one job, in the order they were made."""

    uses: list[ModelUse] = field(default_factory=list)


_CURRENT: ContextVar[UsageLog | None] = ContextVar("advisor_bot_usage", default=None)


@contextlib.contextmanager
def usage_scope() -> Iterator[UsageLog]:
    """Count the model calls made inside the block (and the tasks it starts) into one log."""
    log = UsageLog()
    token = _CURRENT.set(log)
    try:
        yield log
    finally:
        _CURRENT.reset(token)


def note_use(use: ModelUse) -> None:
    """Add a call to the current job's log (outside a job nothing is counted)."""
    log = _CURRENT.get()
    if log is not None:
        log.uses.append(use)


def model_name_of(model: Any) -> str:
    """The name a LangChain chat model was configured with (what its calls are priced by)."""
    return str(getattr(model, "model_name", None) or getattr(model, "model", None) or "unknown")


def note_chat(purpose: Purpose, response: Any, fallback_model: str) -> ModelUse:
    """Note a chat call from its answer, and return what it used.

    LangChain's `usage_metadata` holds the tokens (cached prompt tokens are
    `input_token_details.cache_read`); the model is the one the server says answered.
    """
    usage: Mapping[str, Any] = getattr(response, "usage_metadata", None) or {}
    details: Mapping[str, Any] = usage.get("input_token_details") or {}
    metadata: Mapping[str, Any] = getattr(response, "response_metadata", None) or {}
    use = ModelUse(
        purpose=purpose,
        model=str(metadata.get("model_name") or fallback_model),
        prompt_tokens=int(usage.get("input_tokens") or 0),
        cached_tokens=int(details.get("cache_read") or 0),
        completion_tokens=int(usage.get("output_tokens") or 0),
    )
    note_use(use)
    return use


def take_uses() -> list[ModelUse]:
    """The current job's calls so far, taken out of its log (they are being stored now)."""
    log = _CURRENT.get()
    if log is None:
        return []
    taken, log.uses = log.uses, []
    return taken
