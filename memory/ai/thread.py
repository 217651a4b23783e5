"""Owns the one rule that isolates AI memory: the LangGraph thread id of a conversation."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from langchain_core.runnables import RunnableConfig


def thread_id_for(advisor_id: UUID | str, phone: str) -> str:
    """Return the checkpoint thread id of one advisor + customer conversation.

    The format matches the existing system (`f"{advisor_id}_{phone}"`), so memories carry over.
    """
    advisor = str(advisor_id).strip()
    customer = phone.strip()
    if not advisor or not customer:
        raise ValueError("a thread needs both an advisor id and a customer phone")
    return f"{advisor}_{customer}"


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
