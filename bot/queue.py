"""Owns the durable job queue (procrastinate on the same PostgreSQL): its tasks and retry policy."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any
from uuid import UUID

import procrastinate
import psycopg
import psycopg_pool
from procrastinate import JobContext, RetryStrategy

from bot.database import Database
from bot.events import TransientEventError, deliver_event
from bot.jobs import (
    ANSWER_TASK,
    CLEANUP_MEDIA_TASK,
    DELIVER_TASK,
    EVENT_TASK,
    NOTICE_TASK,
    PRUNE_MEMORY_TASK,
    RESUME_TASK,
)
from bot.media_store import delete_old_files
from bot.processing import ConversationProcessor, Outcome, TransientModelError
from bot.sender import TransientSendError
from bot.settings import Settings

logger = logging.getLogger(__name__)

PROCESSOR_KEY = "processor"

# Failures worth waiting out: Twilio or the model busy or down, the database restarting.
RETRYABLE_ERRORS: tuple[type[Exception], ...] = (
    TransientSendError,
    TransientModelError,
    psycopg.OperationalError,
    psycopg_pool.PoolTimeout,
)


async def _action(work: Awaitable[Outcome]) -> str:
    return (await work).action


def create_queue(database: Database, settings: Settings) -> procrastinate.App:
    """Build the queue app with its tasks; the caller opens it (`open_async`)."""
    pool_kwargs: dict[str, Any] = {"application_name": "advisor-bot queue"}
    if database.transaction_pooler:
        pool_kwargs["prepare_threshold"] = None
    connector = procrastinate.PsycopgConnector(
        conninfo=database.conninfo,
        kwargs=pool_kwargs,
        min_size=1,
        max_size=max(4, min(settings.worker_concurrency + 2, settings.database_pool_size)),
    )
    app = procrastinate.App(connector=connector)
    max_retries = settings.job_max_attempts - 1
    retry = RetryStrategy(
        max_attempts=max_retries,
        exponential_wait=settings.job_retry_base_seconds,
        retry_exceptions=set(RETRYABLE_ERRORS),
    )

    async def run_retrying(
        context: JobContext,
        advisor_id: str,
        conversation_id: str | None,
        work: Awaitable[str],
        *,
        message_id: int | None = None,
    ) -> str:
        """Run a job's work; on a transient failure log it, and on the last attempt give up cleanly."""
        processor: ConversationProcessor = context.additional_context[PROCESSOR_KEY]
        try:
            return await work
        except RETRYABLE_ERRORS as error:
            attempts = (context.job.attempts if context.job else 0) + 1
            facts = {
                "advisor": advisor_id,
                "conversation": conversation_id,
                "attempts": attempts,
                "error": str(error)[:200],
            }
            if attempts > max_retries:
                if conversation_id is not None:
                    facts["failed_messages"] = await processor.fail_pending(
                        advisor_id=UUID(advisor_id),
                        conversation_id=UUID(conversation_id),
                        reason=f"gave up after {attempts} attempts: {error}",
                        up_to_inbound_id=message_id,
                    )
                logger.error("giving up after repeated transient failures", extra=facts)
            else:
                logger.warning("transient failure, will retry", extra=facts)
            raise

    @app.task(name=ANSWER_TASK, pass_context=True, retry=retry)
    async def answer_conversation(
        context: JobContext, advisor_id: str, conversation_id: str, message_id: int
    ) -> str:
        processor: ConversationProcessor = context.additional_context[PROCESSOR_KEY]
        work = processor.answer(
            advisor_id=UUID(advisor_id), conversation_id=UUID(conversation_id), message_id=message_id
        )
        return await run_retrying(context, advisor_id, conversation_id, _action(work), message_id=message_id)

    @app.task(name=DELIVER_TASK, pass_context=True, retry=retry)
    async def deliver_conversation(context: JobContext, advisor_id: str, conversation_id: str) -> str:
        """Send an advisor's manual messages (and anything else pending) of one conversation."""
        processor: ConversationProcessor = context.additional_context[PROCESSOR_KEY]
        work = processor.deliver_pending(advisor_id=UUID(advisor_id), conversation_id=UUID(conversation_id))
        return await run_retrying(context, advisor_id, conversation_id, _action(work))

    @app.task(name=NOTICE_TASK, pass_context=True, retry=retry)
    async def send_advisor_notice(context: JobContext, advisor_id: str, notice_id: int) -> str:
        """Tell an advisor, on their personal phone, that a customer needs them."""
        processor: ConversationProcessor = context.additional_context[PROCESSOR_KEY]
        work = processor.send_notice(advisor_id=UUID(advisor_id), notice_id=notice_id)
        return await run_retrying(context, advisor_id, None, _action(work))

    @app.task(name=RESUME_TASK, pass_context=True, retry=retry)
    async def resume_ai(context: JobContext, advisor_id: str, conversation_id: str) -> str:
        """Hand a conversation back to the AI if its advisor has been silent long enough."""
        processor: ConversationProcessor = context.additional_context[PROCESSOR_KEY]
        assert settings.ai_resume_after_minutes is not None
        work = processor.resume_if_idle(
            advisor_id=UUID(advisor_id),
            conversation_id=UUID(conversation_id),
            idle_minutes=settings.ai_resume_after_minutes,
        )
        return await run_retrying(context, advisor_id, conversation_id, _action(work))

    event_retry = RetryStrategy(
        max_attempts=max_retries,
        exponential_wait=settings.job_retry_base_seconds,
        retry_exceptions={TransientEventError},
    )
    secret = settings.event_webhook_secret.get_secret_value() if settings.event_webhook_secret else None

    @app.task(name=EVENT_TASK, pass_context=True, retry=event_retry)
    async def deliver_event_job(context: JobContext, url: str, event: dict[str, Any]) -> int:
        """Send one event to one receiver; transient failures are retried with backoff."""
        try:
            return await deliver_event(url, event, secret=secret)
        except TransientEventError as error:
            attempts = (context.job.attempts if context.job else 0) + 1
            level = logging.ERROR if attempts > max_retries else logging.WARNING
            logger.log(
                level,
                "event delivery failed",
                extra={"event": event.get("type"), "attempts": attempts, "error": str(error)},
            )
            raise

    @app.periodic(cron="17 * * * *", periodic_id=CLEANUP_MEDIA_TASK)
    @app.task(name=CLEANUP_MEDIA_TASK, queueing_lock=CLEANUP_MEDIA_TASK)
    async def cleanup_media(timestamp: int) -> int:
        """Delete local voice replies older than MEDIA_RETENTION_HOURS (their links expired long ago)."""
        removed = await asyncio.to_thread(
            delete_old_files, settings.media_dir, older_than_seconds=settings.media_retention_hours * 3600
        )
        if removed:
            logger.info("old media files deleted", extra={"count": removed})
        return removed

    @app.periodic(cron="*/10 * * * *", periodic_id=PRUNE_MEMORY_TASK)
    @app.task(name=PRUNE_MEMORY_TASK, queueing_lock=PRUNE_MEMORY_TASK, pass_context=True)
    async def prune_ai_memory(context: JobContext, timestamp: int) -> int:
        """Keep only the latest checkpoint of each conversation's AI memory."""
        processor: ConversationProcessor = context.additional_context[PROCESSOR_KEY]
        pruned = await processor.prune_memory()
        if pruned:
            logger.info("superseded AI memory checkpoints deleted", extra={"conversations": pruned})
        return pruned

    return app
