"""Owns the running summary: folding a conversation's oldest turns into a few lines, by the model.

A customer's name given at turn 3 must still be known at turn 200, yet the prompt cannot grow
for ever. Once the verbatim turns pass their bound, the oldest half is rewritten into the summary
(one extra model call every so many turns); the summary itself is condensed when it passes its
own bound, and cut as a last resort, so it can never crowd out the conversation.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.messages.utils import count_tokens_approximately, trim_messages

from bot.agent.context import RememberedMessage
from memory.ai.budget import MemoryBudget
from memory.ai.tokens import TokenCounter

logger = logging.getLogger(__name__)

SUMMARY_INSTRUCTIONS = (
    "Resume la conversación de ventas por WhatsApp que sigue, para que el asistente la recuerde. "
    "Conserva todo dato concreto del cliente (nombre, presupuesto, fechas, preferencias, familia, "
    "mascotas, objeciones, lo que ya se le ofreció y lo que quedó pendiente). Integra el resumen "
    "anterior; no inventes nada. Escribe frases cortas, en el idioma del cliente, en menos de "
    "{words} palabras."
)
CONDENSE_INSTRUCTIONS = (
    "Resume la conversación: condensa este resumen en menos de {words} palabras sin perder los "
    "datos concretos del cliente (nombre, presupuesto, fechas, preferencias)."
)
SUMMARY_HEADER = "Resumen de lo anterior de esta conversación (los mensajes más antiguos ya no se muestran):"


class EmptySummaryError(Exception):
    """The model answered the summary request with nothing usable."""


def unsummarised(history: Sequence[RememberedMessage], summarized_through: int) -> list[RememberedMessage]:
    """The remembered messages that the summary does not cover yet, oldest first."""
    return [item for item in history if item.row_id > summarized_through]


def turns_to_fold(
    history: Sequence[RememberedMessage],
    budget: MemoryBudget,
    counter: TokenCounter = count_tokens_approximately,
) -> list[RememberedMessage]:
    """The oldest messages to fold now: none while the verbatim turns fit their bound.

    What stays is the newest `fold_down_to` tokens, cut at the start of a customer turn, so the
    model never reads an answer without its question.
    """
    messages = [item.message for item in history]
    if counter(messages) <= budget.turns_tokens:
        return []
    kept = trim_messages(
        messages,
        max_tokens=budget.fold_down_to,
        token_counter=counter,
        strategy="last",
        start_on="human",
        allow_partial=False,
    )
    return list(history[: len(history) - len(kept)])  # what is kept is always the newest part


async def fold_into_summary(
    model: BaseChatModel,
    summary: str,
    turns: Sequence[RememberedMessage],
    *,
    max_tokens: int,
    counter: TokenCounter = count_tokens_approximately,
) -> str:
    """The summary with `turns` folded in, at most `max_tokens`; raises if the model fails."""
    words = max(20, max_tokens * 3 // 5)  # ~0.75 words a token, with room to spare
    transcript = "\n".join(_transcript_line(item.message) for item in turns)
    request = f"Resumen anterior:\n{summary or '(ninguno)'}\n\nMensajes nuevos:\n{transcript}"
    answer = await model.ainvoke(
        [SystemMessage(SUMMARY_INSTRUCTIONS.format(words=words)), HumanMessage(request)]
    )
    folded = answer.text.strip()
    if counter([HumanMessage(folded)]) > max_tokens:
        logger.info("summary past its bound; condensing it")
        answer = await model.ainvoke(
            [SystemMessage(CONDENSE_INSTRUCTIONS.format(words=words // 2)), HumanMessage(folded)]
        )
        folded = answer.text.strip()
    if not folded:
        raise EmptySummaryError("the model returned an empty summary")
    return _cut(folded, max_tokens)


def with_summary(system_prompt: str, summary: str) -> str:
    """The system prompt followed by the summary (one system message: some servers allow no more)."""
    if not summary:
        return system_prompt
    kept = summary.replace("</resumen>", "").replace("<resumen>", "")  # data: it cannot close its fence
    return f"{system_prompt}\n\n{SUMMARY_HEADER}\n<resumen>\n{kept}\n</resumen>"


def _transcript_line(message: BaseMessage) -> str:
    if isinstance(message, HumanMessage):
        who = "Cliente"
    elif isinstance(message, AIMessage):
        who = "Asesor" if message.name == "advisor" else "Asistente"
    else:
        who = "Nota"
    return f"{who}: {message.text.strip()}"


def _cut(text: str, max_tokens: int) -> str:
    """Last resort when even the condensed summary is too long: keep its beginning, whole lines."""
    limit = max_tokens * 4 - 8  # the approximate counter's characters per token, with its overhead
    if len(text) <= limit:
        return text
    cut = text[:limit]
    return cut[: cut.rfind("\n")] if "\n" in cut else cut
