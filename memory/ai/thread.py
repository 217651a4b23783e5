"""Owns the LangGraph run config of a conversation, keyed by its thread id (memory.threads)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from langchain_core.runnables import RunnableConfig

from memory.threads import thread_id_for

__all__ = ["run_config_for", "thread_id_for"]


def run_config_for(advisor_id: UUID | str, phone: str, **extra: Any) -> RunnableConfig:
    """Return the LangGraph run config for a conversation; every agent run is built here."""
    return {
        "configurable": {
            "thread_id": thread_id_for(advisor_id, phone),
            "advisor_id": str(advisor_id),
            "phone_number": phone,
            **extra,
        }
    }
