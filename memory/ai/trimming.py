"""Owns the prompt budget: which part of a long conversation the model is shown."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_core.messages.utils import count_tokens_approximately, trim_messages

from memory.ai.tokens import TokenCounter


def messages_within_budget(
    system_prompt: str,
    history: Sequence[BaseMessage],
    *,
    max_tokens: int,
    current: Sequence[BaseMessage] = (),
    counter: TokenCounter = count_tokens_approximately,
) -> list[BaseMessage]:
    """Return the system prompt, the newest turns of `history` that fit in `max_tokens`, and `current`.

    `current` is the turn being answered (the customer's messages, then each tool call with its
    result): it is always sent whole, since a tool result without its call is refused by the API
    and an answer without the question is no answer; the earlier turns get what budget is left.
    `counter` is the model's tokenizer where its vocabulary is at hand (memory.ai.tokens), an
    estimate otherwise. The cut never starts on a tool result or an AI message, so the model
    always sees a turn from its beginning.
    """
    system = SystemMessage(content=system_prompt)
    left = max_tokens - counter([system, *current])
    kept: list[BaseMessage] = []
    if history and left > 0:
        kept = trim_messages(
            list(history),
            max_tokens=left,
            token_counter=counter,
            strategy="last",
            start_on="human",
            allow_partial=False,
        )
    if not kept and not current and history:
        # The newest message alone exceeds the budget: still answer it rather than nothing.
        kept = [history[-1]]
    return [system, *kept, *current]


def pictures_as_text(history: Sequence[BaseMessage]) -> list[HumanMessage]:
    """Text-only replacements (same ids) for customer messages that still carry pictures.

    A picture travels to the model as a data URL of up to MAX_IMAGE_BYTES. Once the model has
    answered the turn that showed it, keeping it would copy it into every later checkpoint and
    prompt; its caption and the "[El cliente envió … imagen(es)]" note stay.
    """
    replaced = []
    for message in history:
        if not isinstance(message, HumanMessage) or isinstance(message.content, str):
            continue
        text = " ".join(
            part.get("text", "") if isinstance(part, dict) else str(part)
            for part in message.content
            if not isinstance(part, dict) or part.get("type") == "text"
        )
        replaced.append(HumanMessage(content=text, id=message.id, name=message.name))
    return replaced
