"""Owns the running summary: folding a conversation's oldest turns into a few lines, by the model.

A customer's name given at turn 3 must still be known at turn 200, yet the prompt cannot grow
for ever. Once the verbatim turns pass their bound, the oldest half is rewritten into the summary
(one extra model call every so many turns); the summary itself is condensed when it passes its
own bound, and cut as a last resort, so it can never crowd out the conversation.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.messages.utils import count_tokens_approximately, trim_messages

from bot.agent.context import RememberedMessage
from bot.agent.grounding import source_figures, ungrounded_figures
from bot.infra.usage import model_name_of, note_chat
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
KEEP_NOTE = (
    "(Nota del sistema.) Tu resumen anterior perdía estos datos del resumen previo; inclúyelos: {facts}."
)
KEPT_HEADER = "Datos anteriores:"
SAID_PREFIX, SAID_CHARS = "Cliente: ", 200  # a line of the extractive summary, and its length
_SENTENCE = re.compile(r"(?<=[.!?¿¡\n])\s+")
_WORD = re.compile(r"[\wÁÉÍÓÚÑáéíóúñ]+")
# Capitalised words that are not names, when they begin a clause inside a sentence.
_COMMON = frozenset(
    "cliente asesor asistente resumen datos hoy mañana lunes martes miércoles jueves viernes sábado "
    "domingo whatsapp".split()
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
    """The summary with `turns` folded in, at most `max_tokens`; raises if the model fails.

    A fact the previous summary held (a name, a figure) must survive: a summary that drops one
    is asked for once more, naming what it lost, and if it still lacks it the previous
    summary's sentences that held it are kept after it, in code (`kept_with`): once a fact
    leaves the summary nothing brings it back.
    """
    words = max(20, max_tokens * 3 // 5)  # ~0.75 words a token, with room to spare
    transcript = "\n".join(_transcript_line(item.message) for item in turns)
    request = f"Resumen anterior:\n{summary or '(ninguno)'}\n\nMensajes nuevos:\n{transcript}"
    instructions = SystemMessage(SUMMARY_INSTRUCTIONS.format(words=words))
    answer = await model.ainvoke([instructions, HumanMessage(request)])
    note_chat("summary", answer, model_name_of(model))
    folded = await _condensed(model, answer.text, max_tokens, words, counter)
    if not folded:
        raise EmptySummaryError("the model returned an empty summary")
    lost = lost_facts(summary, folded)
    if lost:
        logger.info(
            "the new summary dropped facts of the previous one; asked again", extra={"facts": len(lost)}
        )
        again = f"{request}\n\n{KEEP_NOTE.format(facts=', '.join(lost))}"
        answer = await model.ainvoke([instructions, HumanMessage(again)])
        note_chat("summary", answer, model_name_of(model))
        folded = await _condensed(model, answer.text, max_tokens, words, counter) or folded
        folded = kept_with(
            folded, summary, lost_facts(summary, folded), max_tokens=max_tokens, counter=counter
        )
    return _cut(folded, max_tokens)


async def _condensed(
    model: BaseChatModel, answer: str, max_tokens: int, words: int, counter: TokenCounter
) -> str:
    """The model's summary, condensed once by the model when it is past its bound."""
    folded = answer.strip()
    if counter([HumanMessage(folded)]) > max_tokens:
        logger.info("summary past its bound; condensing it")
        condensed = await model.ainvoke(
            [SystemMessage(CONDENSE_INSTRUCTIONS.format(words=words // 2)), HumanMessage(folded)]
        )
        note_chat("summary", condensed, model_name_of(model))
        folded = condensed.text.strip()
    return folded


def facts_of(text: str) -> set[str]:
    """What a summary must not lose: its figures (as written) and the names in it.

    A name is a capitalised word that does not begin a sentence; figures are those the figure
    check reads (bot.agent.grounding), counts below ten left out.
    """
    facts = set(ungrounded_figures(text, set()))
    for sentence in _SENTENCE.split(text):
        for word in _WORD.findall(sentence)[1:]:
            if word[0].isupper() and len(word) > 2 and word.lower() not in _COMMON:
                facts.add(word)
    return facts


def lost_facts(previous: str, folded: str) -> list[str]:
    """The facts of `previous` that `folded` no longer holds (figures compared by value)."""
    if not previous:
        return []
    kept_figures = source_figures([folded])
    lost = []
    for fact in sorted(facts_of(previous)):
        if fact[0].isdigit() or fact[0] in "+$":
            if not ungrounded_figures(fact, kept_figures):
                continue
        elif fact in folded:
            continue
        lost.append(fact)
    return lost


def kept_with(
    folded: str,
    previous: str,
    lost: list[str],
    *,
    max_tokens: int,
    counter: TokenCounter = count_tokens_approximately,
) -> str:
    """`folded`, with the sentences of `previous` that held the facts it lost after it.

    Those sentences take at most half the summary's bound (the newest of them kept), and the
    model's summary is cut to leave them room: neither crowds the other out.
    """
    if not lost:
        return folded
    kept = list(
        dict.fromkeys(s.strip()[:SAID_CHARS] for s in _SENTENCE.split(previous) if any(f in s for f in lost))
    )
    line = f"{KEPT_HEADER} {' '.join(kept)}"
    while kept and counter([HumanMessage(line)]) > max_tokens // 2:
        kept = kept[1:]
        line = f"{KEPT_HEADER} {' '.join(kept)}"
    if not kept:
        return folded
    room = max_tokens - counter([HumanMessage(line)])
    return f"{_cut(folded, room)}\n{line}"


def extractive_summary(
    summary: str,
    turns: Sequence[RememberedMessage],
    *,
    max_tokens: int,
    counter: TokenCounter = count_tokens_approximately,
) -> str:
    """A summary made without the model, for when the model keeps failing.

    The customer's own sentences that carry a name or a figure, one line each, after the
    previous summary; when it is too long the oldest of those lines go first (what the model
    wrote stays). Worse than the model's, but it keeps the facts and bounds the memory:
    without it the prompt would grow with every turn while the model is down
    (bench.prompt_cache).
    """
    said = [
        sentence.strip()[:SAID_CHARS]
        for item in turns
        if isinstance(item.message, HumanMessage)
        for sentence in _SENTENCE.split(item.message.text)
        if sentence.strip() and facts_of(sentence)
    ]
    lines = [line for line in summary.splitlines() if line.strip()]
    lines += [f"{SAID_PREFIX}{sentence}" for sentence in dict.fromkeys(said)]
    while counter([HumanMessage("\n".join(lines))]) > max_tokens and len(lines) > 1:
        oldest = next((i for i, line in enumerate(lines) if line.startswith(SAID_PREFIX)), 0)
        del lines[oldest]
    return _cut("\n".join(lines), max_tokens)


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
