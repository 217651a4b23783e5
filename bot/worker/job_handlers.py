"""Owns what each queued job does and how it is retried: the worker's side of the job queue.

Producers defer these jobs by name (`bot.infra.job_queue`); here each name gets its handler
and retry policy, registered on the queue app of a worker process only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import procrastinate
import psycopg
import psycopg_pool
from procrastinate import JobContext, RetryStrategy
from procrastinate.jobs import Job
from procrastinate.retry import RetryDecision

from bot.infra.events import ReceiverBreakers, TransientEventError, deliver_event, load_event, prune_events
from bot.infra.job_queue import (
    ANSWER_TASK,
    CAMPAIGN_TASK,
    CLEANUP_MEDIA_TASK,
    DELIVER_TASK,
    DRAFT_TIMEOUT_TASK,
    EMBED_PASSAGES_TASK,
    EVENT_TASK,
    EVENTS_QUEUE,
    HISTORY_TASK,
    HUBSPOT_TASK,
    NOTICE_TASK,
    PRUNE_EVENTS_TASK,
    PRUNE_MEMORY_TASK,
    RESUME_TASK,
)
from bot.infra.knowledge import embed_passages
from bot.infra.metrics import JOB_SECONDS, JOBS, REPLIES
from bot.settings import Settings
from bot.twilio.media_hosting import delete_old_files
from bot.twilio.sender import TransientSendError
from bot.worker.answer import TransientModelError, answer_conversation, hand_over_unanswered
from bot.worker.campaigns import send_campaign
from bot.worker.conversation_flags import resume_if_idle
from bot.worker.delivery import deliver_pending, fail_pending
from bot.worker.drafts import time_out_draft
from bot.worker.hubspot_sync import HubSpotSync, TransientCrmError
from bot.worker.notices import send_notice
from bot.worker.parts import Outcome, WorkerParts
from memory.knowledge.embeddings import EmbeddingError
from memory.records import customers
from memory.records.media_files import delete_old_media
from memory.records.messages import note_failure

logger = logging.getLogger(__name__)

PARTS_KEY = "parts"

# Failures worth waiting out: Twilio or the model busy or down, the database restarting.
RETRYABLE_ERRORS: tuple[type[Exception], ...] = (
    TransientSendError,
    TransientModelError,
    psycopg.OperationalError,
    psycopg_pool.PoolTimeout,
)


def parts_of(context: JobContext) -> WorkerParts:
    """The worker's clients, handed to every job through the queue's context."""
    parts: WorkerParts = context.additional_context[PARTS_KEY]
    return parts


async def _action(work: Awaitable[Outcome]) -> str:
    return (await work).action


async def _measured(task: str, work: Awaitable[str]) -> str:
    """Time and count a job's work by task and outcome (an exception counts as `error`)."""
    started = time.perf_counter()
    outcome = "error"
    try:
        outcome = await work
        return outcome
    finally:
        JOB_SECONDS.labels(task).observe(time.perf_counter() - started)
        JOBS.labels(task, outcome).inc()
        if task == ANSWER_TASK:
            REPLIES.labels(outcome).inc()


class RetryAfterStrategy(RetryStrategy):
    """Exponential backoff, unless the failure says how long to wait (a 429's `Retry-After`).

    Retrying a rate-limited model sooner than it asked only earns another 429.
    """

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        """The backoff's decision, moved later when the failure asked for a longer wait."""
        decision = super().get_retry_decision(exception=exception, job=job)
        asked = getattr(exception, "retry_after", None)
        if decision is None or not isinstance(asked, int | float):
            return decision
        now = datetime.now(UTC)
        backoff = decision.retry_at or now
        return RetryDecision(retry_at=max(backoff, now + timedelta(seconds=float(asked))))


def _retry_strategy(
    max_retries: int, base_seconds: int, errors: tuple[type[Exception], ...]
) -> RetryStrategy | bool:
    """The queue's retry policy; no retry at all for JOB_MAX_ATTEMPTS=1.

    procrastinate reads `max_attempts=0` as "no limit", so one attempt must be spelled `False`.
    """
    if max_retries <= 0:
        return False
    return RetryAfterStrategy(
        max_attempts=max_retries, exponential_wait=base_seconds, retry_exceptions=set(errors)
    )


def register_job_handlers(app: procrastinate.App, settings: Settings) -> None:
    """Register every job's handler, retry policy and schedule on the worker's queue app."""
    max_retries = settings.job_max_attempts - 1
    retry = _retry_strategy(max_retries, settings.job_retry_base_seconds, RETRYABLE_ERRORS)

    async def run_retrying(
        context: JobContext,
        advisor_id: str,
        conversation_id: str | None,
        work: Awaitable[str],
        *,
        message_id: int | None = None,
    ) -> str:
        """Run a job's work; on a transient failure log it, and on the last attempt give up cleanly."""
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
                    facts["failed_messages"] = await fail_pending(
                        parts_of(context),
                        advisor_id=UUID(advisor_id),
                        conversation_id=UUID(conversation_id),
                        reason=f"gave up after {attempts} attempts: {error}",
                        up_to_inbound_id=message_id,
                    )
                    if isinstance(error, TransientModelError):  # someone waits: the advisor is told
                        await hand_over_unanswered(
                            parts_of(context),
                            advisor_id=UUID(advisor_id),
                            conversation_id=UUID(conversation_id),
                            attempts=attempts,
                            error=str(error),
                        )
                logger.error("giving up after repeated transient failures", extra=facts)
            else:
                logger.warning("transient failure, will retry", extra=facts)
            raise
        except Exception as error:
            # Not transient: the job fails now and the recovery sweep tries again later. The
            # reason is kept on the messages; after JOB_MAX_ATTEMPTS starts they are given up
            # (bot.worker.answer), so one bad message never blocks its conversation for good.
            logger.exception("job failed", extra={"advisor": advisor_id, "conversation": conversation_id})
            if conversation_id is not None and message_id is not None:
                async with parts_of(context).pool.connection() as conn:
                    await note_failure(
                        conn=conn,
                        advisor_id=UUID(advisor_id),
                        conversation_id=UUID(conversation_id),
                        up_to_id=message_id,
                        error=f"{type(error).__name__}: {error}"[:500],
                    )
            raise

    @app.task(name=ANSWER_TASK, pass_context=True, retry=retry)
    async def answer_conversation_job(
        context: JobContext, advisor_id: str, conversation_id: str, message_id: int
    ) -> str:
        """Answer a customer's unanswered messages (or hold them for the advisor)."""
        work = answer_conversation(
            parts_of(context),
            advisor_id=UUID(advisor_id),
            conversation_id=UUID(conversation_id),
            message_id=message_id,
        )
        return await run_retrying(
            context, advisor_id, conversation_id, _measured(ANSWER_TASK, _action(work)), message_id=message_id
        )

    @app.task(name=DELIVER_TASK, pass_context=True, retry=retry)
    async def deliver_conversation_job(context: JobContext, advisor_id: str, conversation_id: str) -> str:
        """Send an advisor's manual messages (and anything else pending) of one conversation."""
        work = deliver_pending(
            parts_of(context), advisor_id=UUID(advisor_id), conversation_id=UUID(conversation_id)
        )
        return await run_retrying(
            context, advisor_id, conversation_id, _measured(DELIVER_TASK, _action(work))
        )

    @app.task(name=NOTICE_TASK, pass_context=True, retry=retry)
    async def send_advisor_notice_job(context: JobContext, advisor_id: str, notice_id: int) -> str:
        """Tell an advisor, on their personal phone, that a customer needs them."""
        work = send_notice(parts_of(context), advisor_id=UUID(advisor_id), notice_id=notice_id)
        return await run_retrying(context, advisor_id, None, _measured(NOTICE_TASK, _action(work)))

    @app.task(name=RESUME_TASK, pass_context=True, retry=retry)
    async def resume_ai_job(context: JobContext, advisor_id: str, conversation_id: str) -> str:
        """Hand a conversation back to the AI if its advisor has been silent long enough."""
        assert settings.ai_resume_after_minutes is not None
        work = resume_if_idle(
            parts_of(context),
            advisor_id=UUID(advisor_id),
            conversation_id=UUID(conversation_id),
            idle_minutes=settings.ai_resume_after_minutes,
        )
        return await run_retrying(context, advisor_id, conversation_id, _action(work))

    @app.task(name=DRAFT_TIMEOUT_TASK, pass_context=True, retry=retry)
    async def time_out_draft_job(
        context: JobContext, advisor_id: str, conversation_id: str, draft_id: int
    ) -> str:
        """Hand the conversation to the advisor if the AI's draft is still waiting for approval."""
        work = time_out_draft(
            parts_of(context),
            advisor_id=UUID(advisor_id),
            conversation_id=UUID(conversation_id),
            draft_id=draft_id,
        )
        return await run_retrying(context, advisor_id, conversation_id, _action(work))

    event_retry = _retry_strategy(max_retries, settings.job_retry_base_seconds, (TransientEventError,))
    secret = settings.event_webhook_secret.get_secret_value() if settings.event_webhook_secret else None

    breakers = ReceiverBreakers(
        failures=settings.event_circuit_failures, seconds=settings.event_circuit_seconds
    )

    @app.task(name=EVENT_TASK, queue=EVENTS_QUEUE, pass_context=True, retry=event_retry)
    async def deliver_event_job(
        context: JobContext, url: str, event_id: str | None = None, event: dict[str, Any] | None = None
    ) -> int:
        """Send one stored event to one receiver; transient failures are retried with backoff.

        `event` is the argument of jobs queued before events were stored (migration 0007).
        """
        if event is None and event_id is not None:
            async with parts_of(context).pool.connection() as conn:
                event = await load_event(conn, event_id)
        if event is None:
            logger.warning("event no longer stored; not delivered", extra={"event_id": event_id})
            return 0
        try:
            return await deliver_event(
                url, event, secret=secret, timeout=settings.event_timeout_seconds, breakers=breakers
            )
        except TransientEventError as error:
            attempts = (context.job.attempts if context.job else 0) + 1
            level = logging.ERROR if attempts > max_retries else logging.WARNING
            logger.log(
                level,
                "event delivery failed",
                extra={"event": event.get("type"), "attempts": attempts, "error": str(error)},
            )
            raise

    @app.periodic(cron="41 3 * * *", periodic_id=PRUNE_EVENTS_TASK)
    @app.task(name=PRUNE_EVENTS_TASK, queueing_lock=PRUNE_EVENTS_TASK, pass_context=True)
    async def prune_events_job(context: JobContext, timestamp: int) -> int:
        """Delete stored events older than their retention."""
        async with parts_of(context).pool.connection() as conn:
            return await prune_events(conn)

    @app.periodic(cron="17 * * * *", periodic_id=CLEANUP_MEDIA_TASK)
    @app.task(name=CLEANUP_MEDIA_TASK, queueing_lock=CLEANUP_MEDIA_TASK, pass_context=True)
    async def cleanup_media_job(context: JobContext, timestamp: int) -> int:
        """Delete voice replies older than MEDIA_RETENTION_HOURS (their links expired long ago)."""
        seconds = settings.media_retention_hours * 3600
        if settings.media_backend == "database":
            async with parts_of(context).pool.connection() as conn:
                removed = await delete_old_media(conn=conn, older_than_seconds=seconds)
        else:
            removed = await asyncio.to_thread(
                delete_old_files, settings.media_dir, older_than_seconds=seconds
            )
        if removed:
            logger.info("old media files deleted", extra={"count": removed})
        return removed

    @app.periodic(cron="*/10 * * * *", periodic_id=PRUNE_MEMORY_TASK)
    @app.task(name=PRUNE_MEMORY_TASK, queueing_lock=PRUNE_MEMORY_TASK, pass_context=True)
    async def prune_ai_memory_job(context: JobContext, timestamp: int) -> int:
        """Keep only the latest checkpoint of each conversation's AI memory."""
        pruned = await parts_of(context).memory.prune()
        if pruned:
            logger.info("superseded AI memory checkpoints deleted", extra={"conversations": pruned})
        return pruned

    @app.task(name=CAMPAIGN_TASK, pass_context=True, retry=retry)
    async def send_campaign_job(context: JobContext, advisor_id: str, campaign_id: int) -> str:
        """Send a re-engagement campaign, one customer at a time (locked per advisor: the rate holds)."""
        work = send_campaign(parts_of(context), advisor_id=UUID(advisor_id), campaign_id=campaign_id)
        return await run_retrying(context, advisor_id, None, _measured(CAMPAIGN_TASK, _action(work)))

    @app.periodic(cron="23 * * * *", periodic_id=HISTORY_TASK)
    @app.task(name=HISTORY_TASK, queueing_lock=HISTORY_TASK, pass_context=True)
    async def mark_historical_job(context: JobContext, timestamp: int) -> int:
        """Mark customers silent for HISTORICAL_AFTER_DAYS as historical (`inactive`)."""
        marked = total = 0
        while True:
            async with parts_of(context).pool.connection() as conn:
                marked = await customers.mark_historical(conn=conn, after_days=settings.historical_after_days)
            total += marked
            if marked < customers.HISTORY_BATCH:
                break
        if total:
            logger.info("customers marked historical", extra={"customers": total})
        return total

    if settings.openai_embedding_model:
        _register_embedding(app)
    if settings.hubspot_access_token is not None:
        _register_hubspot(app, HubSpotSync(settings))


def _register_embedding(app: procrastinate.App) -> None:
    """Every minute, embed the knowledge passages added since (only with an embeddings model)."""

    @app.periodic(cron="* * * * *", periodic_id=EMBED_PASSAGES_TASK)
    @app.task(
        name=EMBED_PASSAGES_TASK,
        queueing_lock=EMBED_PASSAGES_TASK,
        pass_context=True,
        retry=RetryStrategy(max_attempts=3, exponential_wait=5),
    )
    async def embed_passages_job(context: JobContext, timestamp: int) -> int:
        """Embed up to 512 passages with no embedding yet; the rest on the next run."""
        parts = parts_of(context)
        if parts.knowledge is None:
            return 0
        try:
            embedded = await embed_passages(parts.knowledge, parts.pool, parts.pricing)
        except EmbeddingError as error:
            logger.warning("knowledge passages not embedded; retried: %s", error)
            raise
        if embedded:
            logger.info("knowledge passages embedded", extra={"passages": embedded})
        return embedded


def _register_hubspot(app: procrastinate.App, sync: HubSpotSync) -> None:
    """Every 5 minutes, push profile changes, handovers and finished days to HubSpot."""

    @app.periodic(cron="*/5 * * * *", periodic_id=HUBSPOT_TASK)
    @app.task(
        name=HUBSPOT_TASK,
        queueing_lock=HUBSPOT_TASK,
        pass_context=True,
        retry=RetryStrategy(max_attempts=3, exponential_wait=10, retry_exceptions={TransientCrmError}),
    )
    async def sync_hubspot_job(context: JobContext, timestamp: int) -> dict[str, int]:
        """One HubSpot sync pass; HubSpot down fails this job only (retried), never answering."""
        try:
            counts = await sync.run(parts_of(context).pool)
        except TransientCrmError as error:
            logger.warning("HubSpot sync failed; retried: %s", error)
            raise
        done = {name: value for name, value in vars(counts).items() if isinstance(value, int) and value}
        if done:
            logger.info("HubSpot synced", extra=done)
        return done
