"""Owns the durable job queue (procrastinate on the same PostgreSQL): its tasks and retry policy."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

import procrastinate
import psycopg
import psycopg_pool
from procrastinate import JobContext, RetryStrategy

from bot.database import Database
from bot.processing import ConversationProcessor, TransientModelError
from bot.sender import TransientSendError
from bot.settings import Settings

logger = logging.getLogger(__name__)

ANSWER_TASK = "answer_conversation"
RETRY_STALLED_TASK = "retry_stalled_jobs"
PROCESSOR_KEY = "processor"

# Failures worth waiting out: Twilio or the model busy or down, the database restarting.
RETRYABLE_ERRORS: tuple[type[Exception], ...] = (
    TransientSendError,
    TransientModelError,
    psycopg.OperationalError,
    psycopg_pool.PoolTimeout,
)


def conversation_lock(advisor_id: UUID | str, phone: str) -> str:
    """Return the queue lock of one advisor + customer: its jobs run one at a time, in order."""
    return f"conversation:{advisor_id}:{phone}"


def create_queue(database: Database, settings: Settings) -> procrastinate.App:
    """Build the queue app with its tasks; the caller opens it (`open_async`)."""
    pool_kwargs: dict[str, Any] = {}
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

    @app.task(name=ANSWER_TASK, pass_context=True, retry=retry)
    async def answer_conversation(
        context: JobContext, advisor_id: str, conversation_id: str, message_id: int
    ) -> str:
        processor: ConversationProcessor = context.additional_context[PROCESSOR_KEY]
        try:
            outcome = await processor.answer(
                advisor_id=UUID(advisor_id),
                conversation_id=UUID(conversation_id),
                message_id=message_id,
            )
        except RETRYABLE_ERRORS as error:
            attempts = (context.job.attempts if context.job else 0) + 1
            if attempts > max_retries:
                failed = await processor.fail_pending(
                    advisor_id=UUID(advisor_id),
                    conversation_id=UUID(conversation_id),
                    reason=f"gave up after {attempts} attempts: {error}",
                )
                logger.error(
                    "giving up on a reply",
                    extra={
                        "advisor": advisor_id,
                        "conversation": conversation_id,
                        "attempts": attempts,
                        "failed_messages": failed,
                    },
                )
            else:
                logger.warning(
                    "transient failure, will retry",
                    extra={
                        "advisor": advisor_id,
                        "conversation": conversation_id,
                        "attempts": attempts,
                        "error": str(error)[:200],
                    },
                )
            raise
        return outcome.action

    @app.periodic(cron="* * * * *", periodic_id=RETRY_STALLED_TASK)
    @app.task(name=RETRY_STALLED_TASK, queueing_lock=RETRY_STALLED_TASK, pass_context=True)
    async def retry_stalled_jobs(context: JobContext, timestamp: int) -> int:
        """Requeue jobs whose worker died (SIGKILL, lost machine) so every message is answered."""
        manager = context.app.job_manager
        stalled = list(await manager.get_stalled_jobs())
        for job in stalled:
            await manager.retry_job(job)
        if stalled:
            logger.warning("requeued stalled jobs", extra={"count": len(stalled)})
        return len(stalled)

    return app
