"""Owns answering a conversation: what the worker does with a customer's unanswered messages.

One job per inbound message, run in order per advisor + customer (the queue's lock). The job
of the newest message answers every unanswered one, so a burst gets one reply; older jobs
return at once.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import openai
import procrastinate
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, RemoveMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.graph.state import CompiledStateGraph
from psycopg_pool import AsyncConnectionPool

from advisors.models import Advisor
from advisors.repository import get_advisor
from bot.agent import AgentContext, final_reply
from bot.events import EventPublisher, attention_event
from bot.inbound import is_audio, is_image, text_for_agent
from bot.jobs import NOTICE_TASK
from bot.media import MediaError, fetch_media
from bot.media_store import MediaStore, MediaStoreError
from bot.sender import PermanentSendError, TwilioSender, split_reply
from bot.settings import Settings
from bot.transcribe import Transcriber
from bot.voice import SynthesisError, Synthesizer, needs_text_too, speakable
from memory import store
from memory.checkpointer import prune_superseded_checkpoints
from memory.thread import run_config_for

logger = logging.getLogger(__name__)

_TRANSIENT_MODEL_ERRORS = (
    openai.APITimeoutError,
    openai.APIConnectionError,
    openai.RateLimitError,
    openai.InternalServerError,
)


class TransientModelError(Exception):
    """The model did not answer now (timeout, 5xx, 429): the job is retried with backoff."""


@dataclass(frozen=True)
class Outcome:
    """What one job did, for logs and tests."""

    action: str
    sent: int = 0


class PostgresConversationFlags:
    """The agent tools' view of a conversation's flags, backed by `chat_history`."""

    def __init__(
        self, pool: AsyncConnectionPool[Any], queue: procrastinate.App, events: EventPublisher
    ) -> None:
        self._pool = pool
        self._queue = queue
        self._events = events

    async def hand_over(self, *, advisor_id: str, phone: str, reason: str) -> None:
        """Switch the AI off for this advisor + customer only, record why, and tell the advisor."""
        async with self._pool.connection() as conn, conn.transaction():
            changed = await store.set_ai_attention(
                conn=conn,
                advisor_id=UUID(advisor_id),
                phone=phone,
                enabled=False,
                changed_by="ai",
                reason=reason,
            )
            if changed:
                notice_id = await store.insert_advisor_notice(
                    conn=conn, advisor_id=UUID(advisor_id), body=handover_notice(phone, reason)
                )
                await self._queue.configure_task(NOTICE_TASK, connection=conn).defer_async(
                    advisor_id=advisor_id, notice_id=notice_id
                )
                conversation = await store.find_conversation(
                    conn=conn, advisor_id=UUID(advisor_id), phone=phone
                )
                assert conversation is not None
                await store.record_handover(
                    conn=conn,
                    advisor_id=UUID(advisor_id),
                    conversation_id=conversation.conversation_id,
                    reason=reason,
                )
                await self._events.publish(
                    conn,
                    "handover.requested",
                    {**attention_event(conversation, False, "ai"), "reason": reason},
                )
                await self._events.publish(
                    conn, "ai_attention.changed", attention_event(conversation, False, "ai")
                )
        logger.info("handover requested", extra={"advisor": advisor_id, "customer": phone})

    async def set_audio(self, *, advisor_id: str, phone: str, enabled: bool) -> None:
        """Record the customer's voice-reply preference for this advisor only."""
        async with self._pool.connection() as conn:
            await store.set_audio_available(
                conn=conn, advisor_id=UUID(advisor_id), phone=phone, enabled=enabled
            )


class ConversationProcessor:
    """Answers one conversation's pending messages with the agent, or holds them for the human."""

    def __init__(
        self,
        *,
        pool: AsyncConnectionPool[Any],
        graph: CompiledStateGraph[Any, Any, Any, Any] | None,
        sender: TwilioSender,
        events: EventPublisher,
        settings: Settings,
        transcriber: Transcriber | None = None,
        synthesizer: Synthesizer | None = None,
        media_store: MediaStore | None = None,
    ) -> None:
        self._pool = pool
        self._graph = graph
        self._sender = sender
        self._events = events
        self._settings = settings
        self._transcriber = transcriber
        self._synthesizer = synthesizer
        self._media_store = media_store

    async def answer(self, *, advisor_id: UUID, conversation_id: UUID, message_id: int) -> Outcome:
        """Process the job of inbound message `message_id`."""
        async with self._pool.connection() as conn:
            advisor = await get_advisor(conn=conn, advisor_id=str(advisor_id))
            conversation = await store.get_conversation(
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
        sent = await self._deliver(advisor, conversation)
        async with self._pool.connection() as conn:
            inbound = await store.unprocessed_inbound(
                conn=conn, advisor_id=advisor_id, conversation_id=conversation_id
            )
            cursor = await conn.execute("SELECT clock_timestamp() AS now")
            started_row = await cursor.fetchone()
        started_at: datetime = started_row["now"]
        if not inbound:
            return Outcome("nothing_pending", sent)
        if inbound[-1].id > message_id:
            return Outcome("superseded", sent)
        inbound = await self._understand_media(advisor, inbound)
        if conversation.opted_out:
            await self._hold_for_advisor(advisor, conversation, inbound, outcome="opted_out")
            return Outcome("opted_out", sent)
        if not advisor.is_active:
            # Deactivated after the message was accepted (routing caches advisors): stay quiet.
            await self._hold_for_advisor(advisor, conversation, inbound, outcome="advisor_inactive")
            return Outcome("advisor_inactive", sent)
        if not conversation.ai_attention:
            await self._hold_for_advisor(advisor, conversation, inbound)
            return Outcome("held_for_advisor", sent)
        return await self._reply(advisor, conversation, inbound, started_at, sent)

    async def _understand_media(
        self, advisor: Advisor, inbound: list[store.StoredMessage]
    ) -> list[store.StoredMessage]:
        """Transcribe voice notes not yet understood; a failure is recorded, never fatal."""
        if self._transcriber is None:
            return inbound
        understood = []
        for message in inbound:
            audio = next((item for item in message.media if is_audio(item)), None)
            if audio is None or message.transcript or message.media_error:
                understood.append(message)
                continue
            transcript, failure = None, None
            started = time.perf_counter()
            try:
                media = await fetch_media(str(audio.get("url")), settings=self._settings)
                transcript = await self._transcriber.transcribe(media)
            except MediaError as error:
                failure = f"{error.reason}: {error}"[:500]
                logger.warning(
                    "voice note not understood", extra={"advisor": str(advisor.id), "reason": error.reason}
                )
            async with self._pool.connection() as conn:
                await store.record_media_understanding(
                    conn=conn,
                    advisor_id=advisor.id,
                    message_id=message.id,
                    transcript=transcript,
                    media_error=failure,
                )
            logger.info(
                "voice note processed",
                extra={
                    "advisor": str(advisor.id),
                    "ok": failure is None,
                    "seconds": round(time.perf_counter() - started, 3),
                },
            )
            understood.append(dataclasses.replace(message, transcript=transcript, media_error=failure))
        return understood

    async def _images_for_model(
        self, advisor: Advisor, inbound: list[store.StoredMessage]
    ) -> dict[int, list[str]]:
        """Download the customer's pictures as data URLs, when the model accepts image input."""
        if not self._settings.image_input_enabled():
            return {}
        found: dict[int, list[str]] = {}
        for message in inbound:
            for item in message.media:
                if not is_image(item):
                    continue
                try:
                    media = await fetch_media(str(item.get("url")), settings=self._settings)
                except MediaError as error:
                    logger.warning(
                        "image not fetched; the agent is told one arrived",
                        extra={"advisor": str(advisor.id), "reason": error.reason},
                    )
                    continue
                if len(media.data) > self._settings.max_image_bytes:
                    continue
                content_type = media.content_type or str(item.get("content_type") or "image/jpeg")
                encoded = base64.b64encode(media.data).decode()
                found.setdefault(message.id, []).append(f"data:{content_type};base64,{encoded}")
        return found

    async def _hold_for_advisor(
        self,
        advisor: Advisor,
        conversation: store.Conversation,
        inbound: list[store.StoredMessage],
        *,
        outcome: str = "held_for_advisor",
    ) -> None:
        """Keep the messages for the human; the AI's memory still learns what was said."""
        if self._graph is not None:
            config = run_config_for(advisor.id, conversation.phone_number)
            await self._graph.aupdate_state(config, {"messages": _human_messages(inbound)}, as_node="agent")
        async with self._pool.connection() as conn:
            await store.mark_processed(
                conn=conn,
                advisor_id=advisor.id,
                conversation_id=conversation.conversation_id,
                up_to_id=inbound[-1].id,
                outcome=outcome,
            )
        logger.info(
            "message held for the advisor", extra={**_log_facts(advisor, conversation), "outcome": outcome}
        )

    async def _reply(
        self,
        advisor: Advisor,
        conversation: store.Conversation,
        inbound: list[store.StoredMessage],
        started_at: datetime,
        sent_before: int,
    ) -> Outcome:
        config = run_config_for(advisor.id, conversation.phone_number)
        added: list[BaseMessage] = []
        outcome_status = "answered"
        model_error: str | None = None
        if self._graph is None:
            text = advisor.away_message()
            outcome_status = "away_message"
        else:
            images = await self._images_for_model(advisor, inbound)
            humans = _human_messages(inbound, images)
            await self._discard_unrecorded_turn(config, humans)
            try:
                result = await self._graph.ainvoke(
                    {"messages": humans},
                    config,
                    context=AgentContext(system_prompt=advisor.system_prompt()),
                    # One checkpoint per turn, at its end, instead of one per step: each checkpoint
                    # stores the whole memory again. A crash mid-turn simply reruns the turn.
                    durability="exit",
                )
            except _TRANSIENT_MODEL_ERRORS as error:
                raise TransientModelError(f"model unavailable: {type(error).__name__}") from error
            except openai.APIError as error:
                logger.error(
                    "model refused the request; sending the away message",
                    extra={**_log_facts(advisor, conversation), "error": type(error).__name__},
                )
                text = advisor.away_message()
                outcome_status = "ai_failed"
                model_error = f"{type(error).__name__}: {error}"[:1000]
            else:
                messages: list[BaseMessage] = result["messages"]
                added = _messages_from(messages, first_id=humans[0].id)
                text = final_reply(added)

        parts = split_reply(text) if text else []
        voice_url = (
            await self._voice_reply(advisor, conversation, text) if outcome_status == "answered" else None
        )
        if voice_url is not None and not needs_text_too(text):
            parts = []
        async with self._pool.connection() as conn, conn.transaction():
            # Check again just before sending: a human who took over, or a newer message,
            # wins over this reply.
            current = await store.get_conversation(
                conn=conn,
                advisor_id=advisor.id,
                conversation_id=conversation.conversation_id,
                for_update=True,
            )
            latest = await store.latest_inbound_id(
                conn=conn, advisor_id=advisor.id, conversation_id=conversation.conversation_id
            )
            newer_message = latest is not None and latest > inbound[-1].id
            human_took_over = current is None or (
                not current.ai_attention and not _handed_over_by_this_run(current, started_at)
            )
            if not newer_message and not human_took_over:
                await store.mark_processed(
                    conn=conn,
                    advisor_id=advisor.id,
                    conversation_id=conversation.conversation_id,
                    up_to_id=inbound[-1].id,
                    outcome=outcome_status,
                    error_message=model_error,
                )
                await store.insert_pending_replies(
                    conn=conn,
                    advisor_id=advisor.id,
                    conversation_id=conversation.conversation_id,
                    reply_to=inbound[-1].id,
                    parts=parts,
                    author="ai" if outcome_status == "answered" else "system",
                    voice_url=voice_url,
                )
            elif human_took_over:
                await store.mark_processed(
                    conn=conn,
                    advisor_id=advisor.id,
                    conversation_id=conversation.conversation_id,
                    up_to_id=inbound[-1].id,
                    outcome="held_for_advisor",
                )
        if newer_message or human_took_over:
            await self._forget(config, added, keep_humans=not newer_message)
            reason = "newer_message" if newer_message else "human_took_over"
            logger.info("reply dropped", extra={**_log_facts(advisor, conversation), "reason": reason})
            return Outcome(f"dropped_{reason}", sent_before)
        sent = await self._deliver(advisor, conversation)
        return Outcome(outcome_status, sent_before + sent)

    async def _voice_reply(self, advisor: Advisor, conversation: store.Conversation, text: str) -> str | None:
        """Speak the reply and publish it for Twilio, when this customer gets voice replies.

        Any failure leaves the text reply to go out alone: a voice note is never worth a lost answer.
        """
        if self._synthesizer is None or self._media_store is None or not speakable(text):
            return None
        async with self._pool.connection() as conn:
            # The agent's own tool may have just changed the preference during this run.
            current = await store.get_conversation(
                conn=conn, advisor_id=advisor.id, conversation_id=conversation.conversation_id
            )
        if current is None or not current.audio_available:
            return None
        started = time.perf_counter()
        try:
            audio = await self._synthesizer.speak(text, voice=advisor.settings.tts_voice)
            url = await self._media_store.publish(audio, content_type="audio/ogg", suffix="ogg")
        except (SynthesisError, MediaStoreError) as error:
            logger.warning(
                "voice reply failed; sending text",
                extra={**_log_facts(advisor, conversation), "error": str(error)[:200]},
            )
            return None
        logger.info(
            "voice reply ready",
            extra={
                **_log_facts(advisor, conversation),
                "bytes": len(audio),
                "seconds": round(time.perf_counter() - started, 3),
            },
        )
        return url

    async def _discard_unrecorded_turn(self, config: RunnableConfig, humans: list[HumanMessage]) -> None:
        """Undo what an earlier attempt of this turn left in the AI's memory before it died.

        A worker killed after the checkpoint saved the model's answer but before the reply was
        recorded would otherwise show the model an answer the customer never received.
        """
        if self._graph is None:
            return
        state = await self._graph.aget_state(config)
        leftover = _messages_from(list(state.values.get("messages", [])), first_id=humans[0].id)
        if leftover:
            logger.warning("discarding an interrupted attempt's answer", extra={"messages": len(leftover)})
            await self._forget(config, leftover, keep_humans=False)

    async def _forget(self, config: RunnableConfig, added: list[BaseMessage], *, keep_humans: bool) -> None:
        """Remove a dropped run's messages from the AI's memory, so it never 'said' them."""
        if self._graph is None or not added:
            return
        removals = [
            RemoveMessage(id=message.id)
            for message in added
            if message.id and not (keep_humans and isinstance(message, HumanMessage))
        ]
        if removals:
            await self._graph.aupdate_state(config, {"messages": removals}, as_node="agent")

    async def deliver_pending(self, *, advisor_id: UUID, conversation_id: UUID) -> Outcome:
        """Send whatever is recorded and unsent in one conversation (an advisor's manual replies)."""
        async with self._pool.connection() as conn:
            advisor = await get_advisor(conn=conn, advisor_id=str(advisor_id))
            conversation = await store.get_conversation(
                conn=conn, advisor_id=advisor_id, conversation_id=conversation_id
            )
        if advisor is None or conversation is None:
            return Outcome("gone")
        return Outcome("delivered", await self._deliver(advisor, conversation))

    async def _deliver(self, advisor: Advisor, conversation: store.Conversation) -> int:
        """Send every recorded, unsent reply of this conversation; return how many went out."""
        async with self._pool.connection() as conn:
            current = await store.get_conversation(
                conn=conn, advisor_id=advisor.id, conversation_id=conversation.conversation_id
            )
            pending = await store.pending_outbound(
                conn=conn, advisor_id=advisor.id, conversation_id=conversation.conversation_id
            )
            if pending and (current is None or current.opted_out):
                # The customer opted out after these were queued: nothing more reaches them.
                for message in pending:
                    await store.mark_outbound(
                        conn=conn,
                        advisor_id=advisor.id,
                        message_id=message.id,
                        status="failed",
                        error_message="not sent: the customer opted out",
                    )
                return 0
        sent = 0
        for message in pending:
            template = message.payload or {}
            try:
                result = None
                if message.status == "sending":
                    result = await self._sender.find_sent(
                        from_number=advisor.twilio_phone_number,
                        to_number=conversation.phone_number,
                        body="" if template.get("content_sid") else message.body,
                        with_media=bool(template.get("media_url")),
                        since=message.created_at,
                    )
                    if result is not None:
                        logger.warning(
                            "an earlier attempt had already sent this message; not resending",
                            extra={**_log_facts(advisor, conversation), "sid": result.sid},
                        )
                if result is None:
                    async with self._pool.connection() as conn:
                        await store.mark_sending(conn=conn, advisor_id=advisor.id, message_id=message.id)
                    result = await self._sender.send(
                        from_number=advisor.twilio_phone_number,
                        to_number=conversation.phone_number,
                        body=message.body,
                        content_sid=template.get("content_sid"),
                        content_variables=template.get("content_variables"),
                        media_url=template.get("media_url"),
                    )
            except PermanentSendError as error:
                async with self._pool.connection() as conn, conn.transaction():
                    await store.mark_outbound(
                        conn=conn,
                        advisor_id=advisor.id,
                        message_id=message.id,
                        status="failed",
                        error_code=error.code,
                        error_message=str(error)[:1000],
                    )
                    await self._events.publish(
                        conn,
                        "message.failed",
                        {
                            **_message_event(conversation, message),
                            "error_code": error.code,
                            "error_message": str(error)[:1000],
                        },
                    )
                logger.error(
                    "Twilio refused a message",
                    extra={**_log_facts(advisor, conversation), "direction": "outbound"},
                )
                continue
            async with self._pool.connection() as conn, conn.transaction():
                await store.mark_outbound(
                    conn=conn,
                    advisor_id=advisor.id,
                    message_id=message.id,
                    status=result.status,
                    twilio_sid=result.sid,
                )
                await self._events.publish(
                    conn,
                    "message.sent",
                    {
                        **_message_event(conversation, message),
                        "twilio_sid": result.sid,
                        "status": result.status,
                    },
                )
            sent += 1
            if message.author == "advisor":
                await self._remember_advisor_message(advisor, conversation, message)
            facts = {**_log_facts(advisor, conversation), "direction": "outbound", "sid": result.sid}
            if result.sid is None:
                logger.info("dry run: no Twilio credentials, message stored but not sent", extra=facts)
            else:
                logger.info("message sent", extra={**facts, "author": message.author})
        return sent

    async def _remember_advisor_message(
        self, advisor: Advisor, conversation: store.Conversation, message: store.StoredMessage
    ) -> None:
        """Add what the human said to the AI's memory, so the AI knows it when it takes over again."""
        if self._graph is None:
            return
        said = AIMessage(content=message.body, id=f"advisor-{message.id}", name="advisor")
        await self._graph.aupdate_state(
            run_config_for(advisor.id, conversation.phone_number), {"messages": [said]}, as_node="agent"
        )

    async def send_notice(self, *, advisor_id: UUID, notice_id: int) -> Outcome:
        """Send one notice to the advisor's personal phone, from their Twilio number."""
        async with self._pool.connection() as conn:
            advisor = await get_advisor(conn=conn, advisor_id=str(advisor_id))
            notice = await store.get_advisor_notice(conn=conn, advisor_id=advisor_id, notice_id=notice_id)
        if advisor is None or notice is None or notice["status"] != "pending":
            return Outcome("nothing_pending")
        try:
            result = await self._sender.send(
                from_number=advisor.twilio_phone_number, to_number=advisor.phone_number, body=notice["body"]
            )
        except PermanentSendError as error:
            async with self._pool.connection() as conn:
                await store.mark_advisor_notice(
                    conn=conn,
                    advisor_id=advisor_id,
                    notice_id=notice_id,
                    status="failed",
                    error_code=error.code,
                    error_message=str(error)[:1000],
                )
            return Outcome("failed")
        async with self._pool.connection() as conn:
            await store.mark_advisor_notice(
                conn=conn,
                advisor_id=advisor_id,
                notice_id=notice_id,
                status=result.status,
                twilio_sid=result.sid,
            )
        return Outcome("notified", 1)

    async def resume_if_idle(self, *, advisor_id: UUID, conversation_id: UUID, idle_minutes: int) -> Outcome:
        """Give the conversation back to the AI if the advisor paused it and then went quiet."""
        async with self._pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(
                "UPDATE chat_history SET ai_attention = true, ai_attention_changed_at = now(), "
                "ai_attention_changed_by = 'auto_resume', handover_reason = NULL, updated_at = now() "
                "WHERE advisor_id = %s AND conversation_id = %s AND NOT ai_attention "
                "AND ai_attention_changed_by = 'advisor' "
                "AND last_advisor_message_at <= now() - make_interval(mins => %s)",
                (advisor_id, conversation_id, idle_minutes),
            )
            if cursor.rowcount:
                conversation = await store.get_conversation(
                    conn=conn, advisor_id=advisor_id, conversation_id=conversation_id
                )
                assert conversation is not None
                await self._events.publish(
                    conn, "ai_attention.changed", attention_event(conversation, True, "auto_resume")
                )
        return Outcome("resumed" if cursor.rowcount else "still_with_advisor")

    async def prune_memory(self) -> int:
        """Delete superseded checkpoints (see memory.checkpointer); return conversations pruned."""
        checkpointer = self._graph.checkpointer if self._graph is not None else None
        if not isinstance(checkpointer, AsyncPostgresSaver):
            return 0
        pruned = 0
        for _ in range(10):  # bounded per run; the next run goes on
            batch = await prune_superseded_checkpoints(checkpointer)
            pruned += batch
            if batch == 0:
                break
        return pruned

    async def fail_pending(
        self, *, advisor_id: UUID, conversation_id: UUID, reason: str, up_to_inbound_id: int | None = None
    ) -> int:
        """Record that the queue gave up retrying; return how many unsent replies failed.

        Unsent replies become `failed`. With `up_to_inbound_id` (an answer job), the customer's
        unanswered messages up to it become `failed` too, so the API shows why they got no
        answer and the recovery sweep does not retry them for ever; newer ones have their own job.
        """
        async with self._pool.connection() as conn, conn.transaction():
            if up_to_inbound_id is not None:
                await store.mark_processed(
                    conn=conn,
                    advisor_id=advisor_id,
                    conversation_id=conversation_id,
                    up_to_id=up_to_inbound_id,
                    outcome="failed",
                    error_message=reason[:1000],
                )
            conversation = await store.get_conversation(
                conn=conn, advisor_id=advisor_id, conversation_id=conversation_id
            )
            pending = await store.pending_outbound(
                conn=conn, advisor_id=advisor_id, conversation_id=conversation_id
            )
            for message in pending:
                await store.mark_outbound(
                    conn=conn,
                    advisor_id=advisor_id,
                    message_id=message.id,
                    status="failed",
                    error_message=reason[:1000],
                )
                if conversation is not None:
                    await self._events.publish(
                        conn,
                        "message.failed",
                        {**_message_event(conversation, message), "error_message": reason[:1000]},
                    )
        return len(pending)


def _message_event(conversation: store.Conversation, message: store.StoredMessage) -> dict[str, Any]:
    return {
        "advisor_id": conversation.advisor_id,
        "conversation_id": conversation.conversation_id,
        "phone_number": conversation.phone_number,
        "message_id": message.id,
        "author": message.author,
        "body": message.body,
    }


def handover_notice(phone: str, reason: str) -> str:
    """The WhatsApp text that tells an advisor a customer is waiting for them."""
    return (
        f"🔔 {phone} necesita atención humana: {reason}\n"
        f"La IA dejó de responderle. Contesta con: #r {phone} <texto>\n"
        f"Devuélvela a la IA con: #ia on {phone}"
    )


def _human_messages(
    inbound: list[store.StoredMessage], images: dict[int, list[str]] | None = None
) -> list[HumanMessage]:
    """One HumanMessage per stored message, with an id derived from the row.

    The stable id makes a retried job replace, not duplicate, these turns in the AI's memory.
    With `images` (data URLs by message id), the pictures go to the model as image input.
    """
    messages = []
    for message in inbound:
        text = text_for_agent(
            message.body,
            message.media,
            message.payload,
            transcript=message.transcript,
            media_error=message.media_error,
        )
        pictures = (images or {}).get(message.id)
        content: str | list[str | dict[str, Any]] = text
        if pictures:
            parts: list[str | dict[str, Any]] = [{"type": "text", "text": text}]
            parts += [{"type": "image_url", "image_url": {"url": url}} for url in pictures]
            content = parts
        messages.append(HumanMessage(content=content, id=f"inbound-{message.id}"))
    return messages


def _messages_from(messages: list[BaseMessage], *, first_id: str | None) -> list[BaseMessage]:
    for index, message in enumerate(messages):
        if message.id == first_id:
            return messages[index:]
    return []


def _handed_over_by_this_run(conversation: store.Conversation, started_at: datetime) -> bool:
    changed_at = conversation.ai_attention_changed_at
    return (
        changed_at is not None and changed_at >= started_at and conversation.ai_attention_changed_by == "ai"
    )


def _log_facts(advisor: Advisor, conversation: store.Conversation) -> dict[str, str]:
    return {
        "advisor": str(advisor.id),
        "advisor_number": advisor.twilio_phone_number,
        "customer": conversation.phone_number,
        "conversation": str(conversation.conversation_id),
    }
