"""Owns the agent's tools: what the model may change, always for the advisor + customer of the run.

The tools only say what to do; `ConversationFlags` is the database side, implemented by the
worker (`bot.worker.conversation_flags`), so the agent never holds a connection of its own.
"""

from __future__ import annotations

from typing import Protocol

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, tool


class ConversationFlags(Protocol):
    """What the agent's tools may change, always for the advisor + customer of the run."""

    async def hand_over(self, *, advisor_id: str, phone: str, reason: str) -> None:
        """Stop the AI and leave the conversation to the human advisor."""

    async def set_audio(self, *, advisor_id: str, phone: str, enabled: bool) -> None:
        """Set whether the customer receives voice replies."""


def _conversation_of(config: RunnableConfig) -> tuple[str, str]:
    configurable = config.get("configurable") or {}
    advisor_id, phone = configurable.get("advisor_id"), configurable.get("phone_number")
    if not advisor_id or not phone:
        raise ValueError("the run config lacks advisor_id or phone_number")
    return str(advisor_id), str(phone)


def build_tools(flags: ConversationFlags) -> list[BaseTool]:
    """Return the agent's tools; each acts only on the conversation named in the run config."""

    @tool
    async def hand_over_to_advisor(reason: str, config: RunnableConfig) -> str:  # noqa: D417
        """Pass this conversation to the human advisor and stop answering it.

        Use it when the customer asks for a person, wants to close a deal or negotiate,
        complains, or asks something you cannot answer reliably.

        Args:
            reason: One short sentence the advisor reads: why a human should take over.
        """
        advisor_id, phone = _conversation_of(config)
        await flags.hand_over(advisor_id=advisor_id, phone=phone, reason=reason[:500])
        return "The advisor has been notified and will continue this conversation."

    @tool
    async def set_audio_preference(enabled: bool, config: RunnableConfig) -> str:  # noqa: D417
        """Record whether the customer wants replies as voice notes (true) or text (false).

        Args:
            enabled: True when the customer asks for audio replies, false for text only.
        """
        advisor_id, phone = _conversation_of(config)
        await flags.set_audio(advisor_id=advisor_id, phone=phone, enabled=enabled)
        return "Preference saved."

    return [hand_over_to_advisor, set_audio_preference]
