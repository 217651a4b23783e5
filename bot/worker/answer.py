"""Owns answering a conversation: what the worker does with a customer's unanswered messages.

One job per inbound message, run in order per advisor + customer (the queue's lock). The job
of the newest message answers every unanswered one, so a burst gets one reply; older jobs
return at once. The reply is checked again just before it is recorded: a human who took over,
or a newer message, wins over it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from uuid import UUID

import openai
from langchain_core.runnables import RunnableConfig

from advisors import texts as catalogue
from advisors.models import Advisor
from advisors.repository import get_advisor
from advisors.texts import Language, guess_language
from bot.agent.context import AgentContext, RememberedMessage
from bot.agent.graph import final_reply, new_turn
from bot.agent.memory_edits import messages_from
from bot.agent.model import memory_budget_for
from bot.agent.prompts import human_messages, remembered_messages
from bot.agent.speech import needs_text_too
from bot.twilio.sender import split_reply
from bot.worker.delivery import deliver
from bot.worker.media_understanding import images_for_model, understand_media
from bot.worker.parts import Outcome, WorkerParts, log_facts
from bot.worker.voice_reply import voice_reply
from memory.ai.thread import run_config_for
from memory.records import conversations
from memory.records import messages as message_records
from memory.records.history import recent_turns
from memory.records.models import Conversation, Message

logger = logging.getLogger(__name__)

_TRANSIENT_MODEL_ERRORS = (
    openai.APITimeoutError,
    openai.APIConnectionError,
    openai.RateLimitError,
    openai.InternalServerError,
)


class TransientModelError(Exception):
    """The model did not answer now (timeout, 5xx, 429): the job is retried with backoff."""


async def answer_conversation(
    parts: WorkerParts, *, advisor_id: UUID, conversation_id: UUID, message_id: int
) -> Outcome:
    """Process the job of inbound message `message_id`."""
    async with parts.pool.connection() as conn:
        advisor = await get_advisor(conn=conn, advisor_id=str(advisor_id))
        conversation = await conversations.get_conversation(
            conn=conn, advisor_id=advisor_id, conversation_id=conversation_id
        )
        if advisor is None or conversation is None:
            logger.warning(
                "job for a conversation that no longer exists",
                extra={"advisor": str(advisor_id), "conversation": str(conversation_id)},
            )
            return Outcome("gone")
    # Replies recorded by an earlier attempt go out first, and are never generated twice.
    # No connection is held across the call: a job holds at most one at any time, so
    # WORKER_CONCURRENCY jobs can never starve each other of connections.
    sent = await deliver(parts, advisor, conversation)
    async with parts.pool.connection() as conn:
        inbound = await message_records.unprocessed_inbound(
            conn=conn, advisor_id=advisor_id, conversation_id=conversation_id
        )
        cursor = await conn.execute("SELECT clock_timestamp() AS now")
        started_row = await cursor.fetchone()
    started_at: datetime = started_row["now"]
    if not inbound:
        return Outcome("nothing_pending", sent)
    if inbound[-1].id > message_id:
        return Outcome("superseded", sent)
    inbound = await _give_up_on_poison(parts, advisor, conversation, inbound)
    if not inbound:
        return Outcome("gave_up", sent)
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
    if await _answering_a_bot(parts, advisor, conversation):
        await _hold_for_advisor(parts, advisor, conversation, inbound, outcome="held_for_advisor")
        return Outcome("loop_handed_over", sent)
    return await _reply(parts, advisor, conversation, inbound, started_at, sent)


async def _system_prompt(parts: WorkerParts, advisor: Advisor, conversation: Conversation) -> str:
    """The advisor's instructions, then what is known of this customer."""
    known = await parts.profile_prompts.block(parts.pool, conversation)
    instructions = advisor.system_prompt(at=datetime.now(UTC))
    return f"{instructions}\n\n{known}" if known else instructions


async def _remembered(
    parts: WorkerParts, conversation: Conversation, config: RunnableConfig, *, before_id: int
) -> tuple[RememberedMessage, ...]:
    """The conversation before this turn that the summary does not cover, as the model reads it.

    Twice the verbatim bound is read, so the fold can see that the bound was passed; when folds
    keep failing, the oldest of what is past it is simply not shown (and never blocks a reply).
    """
    budget = memory_budget_for(parts.settings)
    after_id = await parts.memory.summarized_through(config)
    async with parts.pool.connection() as conn:
        rows = await recent_turns(
            conn=conn,
            advisor_id=conversation.advisor_id,
            conversation_id=conversation.conversation_id,
            before_id=before_id,
            after_id=after_id,
            max_chars=2 * budget.turns_tokens * 4,
        )
    return tuple(RememberedMessage(row.id, message) for row, message in remembered_messages(rows))


async def _give_up_on_poison(
    parts: WorkerParts, advisor: Advisor, conversation: Conversation, inbound: list[Message]
) -> list[Message]:
    """Fail the messages already tried JOB_MAX_ATTEMPTS times; count this attempt for the rest.

    Whatever keeps failing (a crash, a bug, a worker killed on it) stops here with its reason
    shown in the API, and the customer's later messages are answered without it.
    """
    bound = parts.settings.job_max_attempts
    poisoned = [message for message in inbound if message.attempts >= bound]
    rest = [message for message in inbound if message.attempts < bound]
    async with parts.pool.connection() as conn, conn.transaction():
        for message in poisoned:
            reason = (
                f"gave up after {message.attempts} attempts: {message.error_message or 'the worker stopped'}"
            )
            await message_records.give_up(
                conn=conn, advisor_id=advisor.id, message_id=message.id, reason=reason[:1000]
            )
        if rest:
            await message_records.count_attempt(
                conn=conn, advisor_id=advisor.id, message_ids=[message.id for message in rest]
            )
    if poisoned:
        logger.error(
            "customer messages given up after repeated failures",
            extra={**log_facts(advisor, conversation), "messages": [m.id for m in poisoned]},
        )
    return rest


async def _answering_a_bot(parts: WorkerParts, advisor: Advisor, conversation: Conversation) -> bool:
    """Hand over when the AI has replied AI_LOOP_MAX_REPLIES times in a short window with no human.

    Another bot (an auto-responder, or a number we do not know is ours) would otherwise be
    answered for ever, each reply costing a model call and a WhatsApp message.
    """
    limit = parts.settings.ai_loop_max_replies
    if limit == 0:
        return False
    async with parts.pool.connection() as conn:
        replies = await message_records.ai_replies_since_human(
            conn=conn,
            advisor_id=advisor.id,
            conversation_id=conversation.conversation_id,
            window_seconds=parts.settings.ai_loop_window_seconds,
        )
    if replies < limit:
        return False
    minutes = parts.settings.ai_loop_window_seconds / 60
    await parts.flags.hand_over(
        advisor_id=str(advisor.id),
        phone=conversation.phone_number,
        reason=catalogue.text(
            "handover.bot_loop", advisor.language(), replies=replies, minutes=f"{minutes:.0f}"
        ),
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


async def _reply(
    parts: WorkerParts,
    advisor: Advisor,
    conversation: Conversation,
    inbound: list[Message],
    started_at: datetime,
    sent_before: int,
) -> Outcome:
    """Ask the agent (or take the away message), record the reply unless overtaken, and send it."""
    config = run_config_for(advisor.id, conversation.phone_number)
    outcome_status = "answered"
    model_error: str | None = None
    if parts.graph is None:
        text = advisor.away_message(customer_language=_language_of(inbound))
        outcome_status = "away_message"
    else:
        humans = human_messages(inbound, await images_for_model(parts, advisor, inbound))
        context = AgentContext(
            system_prompt=await _system_prompt(parts, advisor, conversation),
            history=await _remembered(parts, conversation, config, before_id=inbound[0].id),
        )
        try:
            result = await parts.graph.ainvoke(
                new_turn(humans),
                config,
                context=context,
                # One checkpoint per turn, at its end, instead of one per step: each checkpoint
                # stores the whole memory again. A crash mid-turn simply reruns the turn.
                durability="exit",
            )
        except _TRANSIENT_MODEL_ERRORS as error:
            raise TransientModelError(f"model unavailable: {type(error).__name__}") from error
        except openai.APIError as error:
            logger.error(
                "model refused the request; sending the away message",
                extra={**log_facts(advisor, conversation), "error": type(error).__name__},
            )
            text = advisor.away_message(customer_language=_language_of(inbound))
            outcome_status = "ai_failed"
            model_error = f"{type(error).__name__}: {error}"[:1000]
        else:
            text = final_reply(messages_from(result["messages"], first_id=humans[0].id))

    texts = split_reply(text) if text else []
    voice_url = (
        await voice_reply(parts, advisor, conversation, text) if outcome_status == "answered" else None
    )
    if voice_url is not None and not needs_text_too(text):
        texts = []
    async with parts.pool.connection() as conn, conn.transaction():
        # Check again just before recording: a human who took over, or a newer message,
        # wins over this reply.
        current = await conversations.get_conversation(
            conn=conn, advisor_id=advisor.id, conversation_id=conversation.conversation_id, for_update=True
        )
        latest = await message_records.latest_inbound_id(
            conn=conn, advisor_id=advisor.id, conversation_id=conversation.conversation_id
        )
        newer_message = latest is not None and latest > inbound[-1].id
        human_took_over = current is None or (
            not current.ai_attention and not _handed_over_by_this_run(current, started_at)
        )
        if not newer_message and not human_took_over:
            await message_records.mark_processed(
                conn=conn,
                advisor_id=advisor.id,
                conversation_id=conversation.conversation_id,
                up_to_id=inbound[-1].id,
                outcome=outcome_status,
                error_message=model_error,
            )
            await message_records.insert_pending_replies(
                conn=conn,
                advisor_id=advisor.id,
                conversation_id=conversation.conversation_id,
                reply_to=inbound[-1].id,
                parts=texts,
                author="ai" if outcome_status == "answered" else "system",
                voice_url=voice_url,
                spoken=text if voice_url else None,
            )
        elif human_took_over:
            await message_records.mark_processed(
                conn=conn,
                advisor_id=advisor.id,
                conversation_id=conversation.conversation_id,
                up_to_id=inbound[-1].id,
                outcome="held_for_advisor",
            )
    if newer_message or human_took_over:
        reason = "newer_message" if newer_message else "human_took_over"
        logger.info("reply dropped", extra={**log_facts(advisor, conversation), "reason": reason})
        return Outcome(f"dropped_{reason}", sent_before)
    sent = await deliver(parts, advisor, conversation)
    return Outcome(outcome_status, sent_before + sent)


def _language_of(inbound: list[Message]) -> Language | None:
    """The customer's language as their messages show it, for the fixed texts they get."""
    return guess_language(" ".join(message.body or message.transcript or "" for message in inbound))


def _handed_over_by_this_run(conversation: Conversation, started_at: datetime) -> bool:
    """Whether the AI switched itself off during this very run (its own handover is no takeover)."""
    changed_at = conversation.ai_attention_changed_at
    return (
        changed_at is not None and changed_at >= started_at and conversation.ai_attention_changed_by == "ai"
    )
