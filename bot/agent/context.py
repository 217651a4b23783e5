"""Owns what one agent run knows that is not memory: the advisor's system prompt."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AgentContext:
    """Per-run data that must not be checkpointed (LangGraph copies string config into metadata)."""

    system_prompt: str
