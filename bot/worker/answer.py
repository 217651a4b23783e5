"""Owns answering a conversation: what the worker does with a customer's unanswered messages.

One job per inbound message, run in order per advisor + customer (the queue's lock). The job
of the newest message answers every unanswered one, so a burst gets one reply; older jobs
return at once. The reply is checked again just before it is recorded: a human who took over,
or a newer message, wins over it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import openai
import psycopg
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from psycopg_pool import PoolTimeout

from advisors import texts as catalogue
from advisors.models import Advisor
from advisors.repository import get_advisor
from advisors.texts import Language, guess_language
from bot.agent.context import AgentContext, RememberedMessage
from bot.agent.graph import answer_sources, final_reply, new_turn, offered_choices
from bot.agent.memory_edits import messages_from
from bot.agent.model import memory_budget_for
from bot.agent.prompts import human_messages, profile_block, remembered_messages
from bot.agent.rulebook import moment_note, system_message
from bot.agent.speech import needs_text_too
from bot.agent.tools import WINDOW_OPEN_KEY
from bot.infra.database import maybe_transaction
from bot.infra.job_queue import draft_timeout_job
from bot.infra.usage import take_uses, usage_scope
from bot.twilio.choices import Choices
from bot.twilio.inbound import REACTION_KEY
from bot.twilio.sender import WHATSAPP_BODY_LIMIT, split_reply
from bot.worker.delivery import send_recorded
from bot.worker.drafts import announce_draft
from bot.worker.media_understanding import images_for_model, understand_media
from bot.worker.parts import Outcome, WorkerParts, log_facts
from bot.worker.usage import priced, store_usage
from bot.worker.voice_reply import voice_reply
from memory.ai.checkpointer import (
    CONVERSATION_KEY,
    DEFERRED_KEY,
    PRELOADED_KEY,
    ConversationGoneError,
    DeferredWrites,
    GuardedPostgresSaver,
    PreloadedCheckpoint,
    latest_checkpoint_sql,
)
from memory.ai.thread import run_config_for, thread_id_for
from memory.records import messages as message_records
from memory.records.conversations import get_conversation
from memory.records.handover_briefs import HandoverCategory
from memory.records.history import recent_turns
from memory.records.models import Conversation, Message
from memory.records.profiles import CustomerProfile
from memory.records.summaries import keep_summary
from memory.records.turn_end import DraftMode, record_turn_end
from memory.records.turn_start import read_turn_start
from memory.threads import thread_id_sql

logger = logging.getLogger(__name__)

# How an answer held back for figures nobody gave says so on the customer's message row.
UNGROUNDED_PREFIX, FIGURE_SEPARATOR = "figures nobody gave: ", ", "

_TRANSIENT_MODEL_ERRORS = (
    openai.APITimeoutError,
    openai.APIConnectionError,
    openai.RateLimitError,
    openai.InternalServerError,
)


# The AI's latest checkpoint of the job's conversation, read by the turn's first statement.
_CHECKPOINT_READ = latest_checkpoint_sql(
    f"(SELECT {thread_id_sql()} FROM chat_history "
    "WHERE advisor_id = %(advisor_id)s AND conversation_id = %(conversation_id)s)"
)

MAX_RETRY_AFTER_SECONDS = 300.0  # a server asking for longer is retried on the queue's schedule


class TransientModelError(Exception):
    """The model did not answer now (timeout, 5xx, 429): the job is retried with backoff.

    `retry_after` is the wait the server asked for (a 429's `Retry-After`), which the queue's
    retry honours instead of its own backoff when it is longer.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def retry_after_of(error: openai.APIError) -> float | None:
    """The seconds a rate-limited answer says to wait (`retry-after-ms` or `retry-after`), if any."""
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None) or {}
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            seconds = float(raw) / scale
        except ValueError:
            continue  # an HTTP date: rare for model servers; the queue's backoff applies
        if seconds >= 0:
            return min(seconds, MAX_RETRY_AFTER_SECONDS)
    return None


async def answer_conversation(
    parts: WorkerParts, *, advisor_id: UUID, conversation_id: UUID, message_id: int
) -> Outcome:
    """Process the job of inbound message `message_id`; what its model calls used is stored."""
    with usage_scope() as usage:
        try:
            return await _answer(
                parts, advisor_id=advisor_id, conversation_id=conversation_id, message_id=message_id
            )
        finally:  # a call that was made is spent, whether or not the job goes on to fail
            await store_usage(parts, advisor_id, conversation_id, usage)


async def _answer(parts: WorkerParts, *, advisor_id: UUID, conversation_id: UUID, message_id: int) -> Outcome:
    # The agent's memory comes with the turn's first read: its run needs no read of its own.
    preload = parts.graph is not None and isinstance(parts.graph.checkpointer, GuardedPostgresSaver)
    async with parts.pool.connection() as conn:
        start = await read_turn_start(
            conn=conn,
            advisor_id=advisor_id,
            conversation_id=conversation_id,
            message_id=message_id,
            max_attempts=parts.settings.job_max_attempts,
            history_chars=_history_chars(parts),
            loop_window_seconds=parts.settings.ai_loop_window_seconds,
            joined=(_CHECKPOINT_READ, {}) if preload else None,
        )
    if start.advisor is None or start.conversation is None:
        logger.warning(
            "job for a conversation that no longer exists",
            extra={"advisor": str(advisor_id), "conversation": str(conversation_id)},
        )
        return Outcome("gone")
    advisor = Advisor.model_validate(start.advisor)
    conversation = start.conversation
    # Replies recorded by an earlier attempt go out first, and are never generated twice.
    # No connection is held across a call: a job holds at most one at any time, so
    # WORKER_CONCURRENCY jobs can never starve each other of connections.
    sent = await send_recorded(parts, advisor, conversation, start.pending) if start.pending else 0
    inbound = start.inbound
    if not inbound:
        return Outcome("nothing_pending", sent)
    if inbound[-1].id > message_id:
        return Outcome("superseded", sent)
    inbound = await _give_up_on_poison(parts, advisor, conversation, inbound)
    if not inbound:
        return Outcome("gave_up", sent)
    # A message given up before the others moves the turn's start: its history is read again.
    history = start.history if inbound[0].id == start.inbound[0].id else None
    inbound = await understand_media(parts, advisor, inbound)
    if conversation.opted_out:
        await _hold_for_advisor(parts, advisor, conversation, inbound, outcome="opted_out")
        return Outcome("opted_out", sent)
    if not advisor.is_active:
        # Deactivated after the message was accepted (routing caches advisors): stay quiet.
        await _hold_for_advisor(parts, advisor, conversation, inbound, outcome="advisor_inactive")
        return Outcome("advisor_inactive", sent)
    if not conversation.ai_attention:
        await _hold_for_advisor(parts, advisor, conversation, inbound, outcome="held_for_advisor")
        return Outcome("held_for_advisor", sent)
    if await _answering_a_bot(parts, advisor, conversation, start.ai_replies):
        await _hold_for_advisor(parts, advisor, conversation, inbound, outcome="held_for_advisor")
        return Outcome("loop_handed_over", sent)
    if not any(wants_an_answer(message) for message in inbound):
        # A ❤️ on "gracias por tu visita" is an acknowledgement: a reply would be a billed
        # message nobody asked for. The agent still reads it as context at the next turn.
        await _hold_for_advisor(parts, advisor, conversation, inbound, outcome="reaction_noted")
        return Outcome("reaction_noted", sent)
    memory = (
        PreloadedCheckpoint(thread_id_for(advisor.id, conversation.phone_number), start.joined)
        if preload
        else None
    )
    turn = _Turn(advisor, conversation, inbound, start.now, start.profile, history, memory)
    _show_typing(parts, turn)
    return await _reply(parts, turn, sent)


def wants_an_answer(message: Message) -> bool:
    """Whether a customer's message calls for a reply: any message does, but not every reaction.

    A reaction answers only when it reacts to a question (👍 to "¿Te agendo el sábado?" is a
    yes); to anything else, or when taken back, it is noted, not answered.
    """
    reaction = (message.payload or {}).get(REACTION_KEY)
    if not isinstance(reaction, dict):
        return True
    quoted = (message.payload or {}).get("_replying_to")
    said = str(quoted.get("body", "")) if isinstance(quoted, dict) else ""
    return bool(reaction.get("emoji")) and "?" in said


def _show_typing(parts: WorkerParts, turn: _Turn) -> None:
    """Blue ticks and "typing…" on the newest message while the AI writes, beside the reply.

    Only for a turn the AI answers now: the advisor has not taken over (checked above), it is
    not a draft waiting for a person, and a model is there to write (an away message is instant).
    """
    sid = turn.inbound[-1].twilio_sid
    if not parts.settings.typing_indicator or turn.drafting or parts.graph is None or not sid:
        return
    task = asyncio.create_task(parts.sender.show_typing(message_sid=sid))
    parts.courtesies.add(task)
    task.add_done_callback(parts.courtesies.discard)


@dataclass(frozen=True)
class _Turn:
    """What a reply is made of, as the job's first read found it."""

    advisor: Advisor
    conversation: Conversation
    inbound: list[Message]
    started_at: datetime
    profile: CustomerProfile | None
    history: list[Message] | None  # None: to be read again (see answer_conversation)
    memory: PreloadedCheckpoint | None  # the agent's checkpoint as the first read found it

    @property
    def drafting(self) -> bool:
        """Draft mode: the answer waits for a person (the conversation's mode, else the advisor's)."""
        return (self.conversation.ai_mode or self.advisor.settings.ai_mode) == "draft"


def _history_chars(parts: WorkerParts) -> int:
    """How much of the conversation is read for the model: twice the verbatim bound.

    Twice, so the fold can see that the bound was passed; when folds keep failing, the oldest
    of what is past it is simply not shown (and never blocks a reply).
    """
    return 2 * memory_budget_for(parts.settings).turns_tokens * 4


def _context(turn: _Turn, history: tuple[RememberedMessage, ...]) -> AgentContext:
    """What the agent reads besides the turns: the fixed part first, this moment's note apart."""
    known = profile_block(turn.profile) if turn.profile else ""
    return AgentContext(
        system_prompt=system_message(turn.advisor.instructions()),
        history=history,
        turn_note=moment_note(turn.advisor.moment(at=datetime.now(UTC)), known),
    )


async def _remembered(parts: WorkerParts, turn: _Turn) -> tuple[RememberedMessage, ...]:
    """The conversation before this turn, as the model reads it.

    The agent leaves out what its summary already covers: it knows how far that goes once it
    has loaded its memory, so no separate read of the checkpoint is needed here.
    """
    rows = turn.history
    if rows is None:
        async with parts.pool.connection() as conn:
            rows = await recent_turns(
                conn=conn,
                advisor_id=turn.advisor.id,
                conversation_id=turn.conversation.conversation_id,
                before_id=turn.inbound[0].id,
                after_id=0,
                max_chars=_history_chars(parts),
            )
    return tuple(RememberedMessage(row.id, message) for row, message in remembered_messages(rows))


async def _give_up_on_poison(
    parts: WorkerParts, advisor: Advisor, conversation: Conversation, inbound: list[Message]
) -> list[Message]:
    """Fail the messages already tried JOB_MAX_ATTEMPTS times; return the rest.

    Whatever keeps failing (a crash, a bug, a worker killed on it) stops here with its reason
    shown in the API, and the customer's later messages are answered without it. This attempt
    was counted on the rest by the job's first read (`read_turn_start`).
    """
    bound = parts.settings.job_max_attempts
    poisoned = [message for message in inbound if message.attempts >= bound]
    if not poisoned:
        return inbound
    async with parts.pool.connection() as conn, maybe_transaction(conn, len(poisoned) > 1):
        for message in poisoned:
            reason = (
                f"gave up after {message.attempts} attempts: {message.error_message or 'the worker stopped'}"
            )
            await message_records.give_up(
                conn=conn, advisor_id=advisor.id, message_id=message.id, reason=reason[:1000]
            )
    logger.error(
        "customer messages given up after repeated failures",
        extra={**log_facts(advisor, conversation), "messages": [m.id for m in poisoned]},
    )
    return [message for message in inbound if message.attempts < bound]


async def _answering_a_bot(
    parts: WorkerParts, advisor: Advisor, conversation: Conversation, replies: int
) -> bool:
    """Hand over when the AI has replied AI_LOOP_MAX_REPLIES times in a short window with no human.

    Another bot (an auto-responder, or a number we do not know is ours) would otherwise be
    answered for ever, each reply costing a model call and a WhatsApp message.
    """
    limit = parts.settings.ai_loop_max_replies
    if limit == 0 or replies < limit:
        return False
    minutes = parts.settings.ai_loop_window_seconds / 60
    await parts.flags.hand_over(
        advisor_id=str(advisor.id),
        phone=conversation.phone_number,
        reason=catalogue.text(
            "handover.bot_loop", advisor.language(), replies=replies, minutes=f"{minutes:.0f}"
        ),
        category="loop",
    )
    logger.warning(
        "possible bot loop; conversation handed to the advisor",
        extra={**log_facts(advisor, conversation), "ai_replies": replies},
    )
    return True


async def _hold_for_advisor(
    parts: WorkerParts, advisor: Advisor, conversation: Conversation, inbound: list[Message], *, outcome: str
) -> None:
    """Keep the messages for the human; the AI reads them from `messages` when it is back."""
    async with parts.pool.connection() as conn:
        await message_records.mark_processed(
            conn=conn,
            advisor_id=advisor.id,
            conversation_id=conversation.conversation_id,
            up_to_id=inbound[-1].id,
            outcome=outcome,
        )
    logger.info(
        "message held for the advisor", extra={**log_facts(advisor, conversation), "outcome": outcome}
    )


async def _reply(parts: WorkerParts, turn: _Turn, sent_before: int) -> Outcome:
    """Ask the agent (or take the away message), record the reply unless overtaken, and send it."""
    advisor, conversation, inbound = turn.advisor, turn.conversation, turn.inbound
    # Naming the conversation makes the checkpoint write refuse a conversation erased meanwhile;
    # with a read-ahead memory (the guarded saver), its writes wait for the turn's end.
    writes = DeferredWrites() if turn.memory is not None else None
    config = run_config_for(
        advisor.id,
        conversation.phone_number,
        **{
            CONVERSATION_KEY: str(conversation.conversation_id),
            WINDOW_OPEN_KEY: conversation.session_window_open(),
            **({PRELOADED_KEY: turn.memory, DEFERRED_KEY: writes} if turn.memory is not None else {}),
        },
    )
    outcome_status = "answered"
    offered: dict[str, Any] | None = None
    model_error: str | None = None
    sources: list[dict[str, Any]] = []
    context: AgentContext | None = None
    result: dict[str, Any] = {}
    if parts.graph is None:
        text = advisor.away_message(customer_language=_language_of(inbound))
        outcome_status = "away_message"
    else:
        humans = human_messages(inbound, await images_for_model(parts, advisor, inbound))
        context = _context(turn, await _remembered(parts, turn))
        try:
            result = await _run_agent(parts, turn, humans, config, context)
        except ConversationGoneError:
            logger.info(
                "conversation erased during its turn; nothing remembered",
                extra=log_facts(advisor, conversation),
            )
            return Outcome("gone", sent_before)
        except _TRANSIENT_MODEL_ERRORS as error:
            wait = retry_after_of(error) if isinstance(error, openai.APIStatusError) else None
            raise TransientModelError(
                f"model unavailable: {type(error).__name__}", retry_after=wait
            ) from error
        except openai.APIError as error:
            logger.error(
                "model refused the request; sending the away message",
                extra={**log_facts(advisor, conversation), "error": type(error).__name__},
            )
            text = advisor.away_message(customer_language=_language_of(inbound))
            outcome_status = "ai_failed"
            model_error = f"{type(error).__name__}: {error}"[:1000]
        else:
            this_turn = messages_from(result["messages"], first_id=humans[0].id)
            text = final_reply(this_turn)
            sources = answer_sources(this_turn)
            offered = offered_choices(this_turn)
            ungrounded = list(result.get("ungrounded") or [])
            gave_up = result.get("gave_up")
            if ungrounded:  # asked again once, still figures nobody gave: they never reach the customer
                outcome_status, model_error = (
                    "ungrounded",
                    UNGROUNDED_PREFIX + FIGURE_SEPARATOR.join(ungrounded),
                )
            elif gave_up:  # tools for ever, or nothing to say twice: a person answers
                outcome_status, model_error = "ai_gave_up", f"the model gave no answer: {gave_up}"
            if outcome_status != "answered":
                text = advisor.holding_message(customer_language=_language_of(inbound))

    choices = None
    if offered is not None and outcome_status == "answered":
        if turn.drafting:  # a draft is approved as text: the options go in it
            listed = Choices.from_payload(offered).as_text()
            text = f"{text}\n\n{listed}" if text else listed
        else:
            choices = Choices.from_payload(offered)
    texts = split_reply(text) if text else []
    if len(texts) > parts.settings.max_reply_parts:  # a runaway answer: WhatsApp is not a document
        logger.warning(
            "answer cut to MAX_REPLY_PARTS messages",
            extra={**log_facts(advisor, conversation), "parts": len(texts)},
        )
        texts = texts[: parts.settings.max_reply_parts]
        last = texts[-1].rstrip()
        texts[-1] = (last if len(last) < WHATSAPP_BODY_LIMIT else last[:-1]) + "…"
    speak = outcome_status == "answered" and not turn.drafting  # a draft is read, then sent as text
    voice_url = await voice_reply(parts, advisor, conversation, text) if speak else None
    if voice_url is not None and not needs_text_too(text):
        texts = []
    if choices is not None and texts:  # every message is billed: the options close the reply's own
        carried = choices.with_lead(texts[-1])
        if carried is not None:
            texts, choices = texts[:-1], carried
    # Checked again as it is recorded: a human who took over, or a newer message, wins over
    # this reply (see memory.records.turn_end).
    async with parts.pool.connection() as conn:
        end = await record_turn_end(
            conn=conn,
            advisor_id=advisor.id,
            conversation_id=conversation.conversation_id,
            up_to_id=inbound[-1].id,
            started_at=turn.started_at,
            outcome=outcome_status,
            error_message=model_error,
            parts=texts,
            author="ai" if outcome_status == "answered" else "system",
            voice_url=voice_url,
            spoken=text if voice_url else None,
            sources=sources if outcome_status == "answered" else None,
            draft=DraftMode(turn.drafting, text, draft_timeout_job(parts.queue, parts.settings))
            if outcome_status == "answered"
            else None,
            choices=(choices.as_text(), choices.to_payload()) if choices is not None else None,
            model_calls=priced(parts, advisor.id, take_uses()),
            along=writes.take() if writes is not None else (),
        )
    if end.conversation is None:  # erased during the turn: its reply and memory went with it
        logger.info(
            "conversation erased during its turn; nothing remembered", extra=log_facts(advisor, conversation)
        )
        return Outcome("gone", sent_before)
    if end.replies is None:
        reason = "human_took_over" if end.held else "newer_message"
        logger.info("reply dropped", extra={**log_facts(advisor, conversation), "reason": reason})
        return Outcome(f"dropped_{reason}", sent_before)
    if end.draft_id is not None:
        await announce_draft(parts, advisor, end.conversation, draft_id=end.draft_id, body=text)
        await _fold_memory(parts, turn, config, context, result)
        return Outcome("drafted", sent_before)
    sent = await send_recorded(parts, advisor, end.conversation, end.replies, cleared=end.cleared)
    if outcome_status != "answered":
        await _promised_a_person(parts, advisor, conversation, outcome_status, model_error)
    await _fold_memory(parts, turn, config, context, result)
    return Outcome(outcome_status, sent_before + sent)


async def _fold_memory(
    parts: WorkerParts,
    turn: _Turn,
    config: RunnableConfig,
    context: AgentContext | None,
    result: dict[str, Any],
) -> None:
    """Once the reply is out, fold the oldest turns into the summary if they passed the bound.

    The customer never waits for it; the summary is in the next turn's prompt, and kept with
    the records too (the customer's export holds it).
    """
    if parts.folder is None or parts.graph is None or context is None or not result:
        return  # no model, or its run failed: the state it would fold from is unknown
    try:
        folded = await parts.folder.fold(parts.graph, config, context.history, result)
        if folded.summary is None:
            return
        async with parts.pool.connection() as conn:
            await keep_summary(
                conn=conn,
                advisor_id=turn.advisor.id,
                conversation_id=turn.conversation.conversation_id,
                summary=folded.summary["text"],
                through=folded.summary["through"],
            )
    except ConversationGoneError:
        return  # erased meanwhile: nothing to remember
    except (psycopg.Error, PoolTimeout) as error:
        # The reply is out; failing the job now would not bring the fold back. The next turn
        # finds the same turns past the bound and folds them.
        logger.error(
            "the fold could not be saved; the next turn folds again",
            extra={**log_facts(turn.advisor, turn.conversation), "error": type(error).__name__},
        )


async def _run_agent(
    parts: WorkerParts,
    turn: _Turn,
    humans: list[HumanMessage],
    config: RunnableConfig,
    context: AgentContext,
) -> dict[str, Any]:
    """One agent run; a model whose context is smaller than the memory sent is asked again with less.

    A server's context window can be smaller than the memory this server was told to keep
    (AI_MEMORY_TOKENS, or a local model's own limit): the newest quarter of the remembered
    turns is sent instead, once. If that fails too, the caller's away message and hand-over apply.
    """
    assert parts.graph is not None
    try:
        # One checkpoint per turn, at its end, instead of one per step: each checkpoint stores
        # the whole memory again. A crash mid-turn simply reruns the turn.
        result: dict[str, Any] = await parts.graph.ainvoke(
            new_turn(humans), config, context=context, durability="exit"
        )
    except openai.BadRequestError as error:
        if not context_too_long(error) or not context.history:
            raise
        kept = context.history[-max(1, len(context.history) // 4) :]
        logger.warning(
            "the model's context is smaller than the memory sent; asked again with less "
            "(lower AI_MEMORY_TOKENS to match the model)",
            extra={
                **log_facts(turn.advisor, turn.conversation),
                "remembered": len(context.history),
                "kept": len(kept),
            },
        )
        smaller = dataclasses.replace(context, history=kept)
        result = await parts.graph.ainvoke(new_turn(humans), config, context=smaller, durability="exit")
    return result


def context_too_long(error: openai.BadRequestError) -> bool:
    """Whether a 400 says the prompt does not fit the model's context window."""
    if error.code == "context_length_exceeded":
        return True
    words = str(error).lower()
    return any(
        sign in words for sign in ("context length", "context window", "maximum context", "too many tokens")
    )


async def _promised_a_person(
    parts: WorkerParts,
    advisor: Advisor,
    conversation: Conversation,
    outcome_status: str,
    model_error: str | None,
) -> None:
    """The away or holding message promised a person: hand over, so the advisor is told and it waits.

    Without it the customer would be promised an answer nobody knows is owed (no badge, no
    `#lista`, no notice), and the next message would get the same text again.
    """
    language = advisor.language()
    category: HandoverCategory = "tool_failure"
    if outcome_status == "ungrounded":  # the figures stay on the message's row, never in a WhatsApp
        reason, category = catalogue.text("handover.ungrounded", language), "missing_knowledge"
    elif outcome_status == "ai_gave_up":
        reason = catalogue.text("handover.ai_gave_up", language)
    elif model_error:
        reason = catalogue.text("handover.model_failed", language, error=model_error.split(":")[0])
    else:
        reason = catalogue.text("handover.no_model", language)
    await parts.flags.hand_over(
        advisor_id=str(advisor.id), phone=conversation.phone_number, reason=reason, category=category
    )


def _language_of(inbound: list[Message]) -> Language | None:
    """The customer's language as their messages show it, for the fixed texts they get."""
    return guess_language(" ".join(message.body or message.transcript or "" for message in inbound))


async def hand_over_unanswered(
    parts: WorkerParts, *, advisor_id: UUID, conversation_id: UUID, attempts: int, error: str
) -> None:
    """The model stayed unavailable through every retry: the advisor is told the customer waits.

    The customer's messages are already `failed` with the reason (`fail_pending`); without this
    nobody would know someone is waiting for an answer.
    """
    async with parts.pool.connection() as conn:
        advisor = await get_advisor(conn=conn, advisor_id=str(advisor_id))
        conversation = await get_conversation(
            conn=conn, advisor_id=advisor_id, conversation_id=conversation_id
        )
    if advisor is None or conversation is None or not advisor.is_active or conversation.opted_out:
        return
    await parts.flags.hand_over(
        advisor_id=str(advisor_id),
        phone=conversation.phone_number,
        reason=catalogue.text(
            "handover.model_unavailable", advisor.language(), attempts=attempts, error=error.split(":")[0]
        ),
        category="tool_failure",
    )
