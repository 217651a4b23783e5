"""Owns what one agent run knows that is not checkpointed: the prompt and the remembered turns."""

from __future__ import annotations

from dataclasses import dataclass, field

from langchain_core.messages import BaseMessage


@dataclass(frozen=True)
class RememberedMessage:
    """One earlier message of the conversation, as the model reads it, with its `messages` row id.

    The row id orders messages against the summary: everything up to the running summary's
    `through` is in the summary, everything after it is shown word for word.
    """

    row_id: int
    message: BaseMessage


@dataclass(frozen=True)
class AgentContext:
    """Per-run data that must not be checkpointed (LangGraph copies string config into metadata).

    `history` is read from the `messages` table by the worker for every turn: storing it in the
    checkpoint too would write the whole memory again on every turn. `system_prompt` is what
    stays the same turn after turn (the rulebook and the advisor's instructions); `turn_note`
    what this moment adds (date, hours, the customer's profile), read just before this turn's
    messages so that the prompt's beginning stays cacheable (bot.agent.rulebook).
    """

    system_prompt: str
    history: tuple[RememberedMessage, ...] = field(default=())
    turn_note: str = ""
