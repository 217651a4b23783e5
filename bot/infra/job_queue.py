"""Owns the durable job queue's shared side: its connection, the job names and the conversation lock.

Producers (the web side, inside their own transactions) defer jobs by name through this queue;
only the worker registers what each job does (`bot.worker.job_handlers`), so enqueuing work never
loads the code that runs it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import procrastinate
import psycopg
import psycopg_pool

from bot.infra.database import Database, pool_checking_quietly
from bot.settings import Settings
from memory.records.inbound import AnswerJob
from memory.records.turn_end import DraftTimeoutJob

ANSWER_TASK = "answer_conversation"
DELIVER_TASK = "deliver_conversation"
NOTICE_TASK = "send_advisor_notice"
RESUME_TASK = "resume_ai"
DRAFT_TIMEOUT_TASK = "time_out_draft"
EVENT_TASK = "deliver_event"
CLEANUP_MEDIA_TASK = "cleanup_media"
PRUNE_MEMORY_TASK = "prune_ai_memory"
EMBED_PASSAGES_TASK = "embed_knowledge_passages"
HISTORY_TASK = "mark_historical_customers"
CAMPAIGN_TASK = "send_campaign"
HUBSPOT_TASK = "sync_hubspot"
PRUNE_EVENTS_TASK = "prune_events"
# Queues: everything answers-related on the default one; event deliveries apart, with their own
# worker slots, so a slow receiver never delays a reply (EVENT_WORKER_CONCURRENCY).
DEFAULT_QUEUE = "default"
EVENTS_QUEUE = "events"


def campaign_lock(advisor_id: UUID | str) -> str:
    """Return the queue lock of one advisor's campaigns: one at a time, so their number's rate holds."""
    return f"campaign:{advisor_id}"


def conversation_lock(advisor_id: UUID | str, conversation_id: UUID | str) -> str:
    """Return the queue lock of one advisor + customer: its jobs run one at a time, in order.

    Named by ids, never by the customer's number: the queue library logs locks and arguments.
    """
    return conversation_lock_prefix(advisor_id) + str(conversation_id)


def conversation_lock_prefix(advisor_id: UUID | str) -> str:
    """The part of `conversation_lock` known before the conversation's id is."""
    return f"conversation:{advisor_id}:"


def answer_job(queue: procrastinate.App, advisor_id: UUID, *, delay_seconds: float) -> AnswerJob:
    """How to queue an answer job inside the statement that stores the message (see AnswerJob).

    The queue name and priority are the ones procrastinate itself would give the task.
    """
    job = queue.configure_task(ANSWER_TASK).job
    return AnswerJob(
        queue_name=job.queue,
        task_name=ANSWER_TASK,
        priority=job.priority,
        lock_prefix=conversation_lock_prefix(advisor_id),
        delay_seconds=delay_seconds,
    )


def draft_timeout_job(queue: procrastinate.App, settings: Settings) -> DraftTimeoutJob:
    """How to queue a draft's timeout inside the statement that records the draft.

    No conversation lock: a scheduled job holding the lock would block the conversation's
    answers until it ran.
    """
    job = queue.configure_task(DRAFT_TIMEOUT_TASK).job
    return DraftTimeoutJob(
        queue_name=job.queue,
        task_name=DRAFT_TIMEOUT_TASK,
        priority=job.priority,
        delay_seconds=settings.draft_timeout_minutes * 60,
    )


async def _autocommit(conn: psycopg.AsyncConnection[Any]) -> None:
    await conn.set_autocommit(True)


def _queue_pool(**kwargs: Any) -> psycopg_pool.AsyncConnectionPool:
    """The queue's pool: in autocommit, and checked without a query (`check_quietly`).

    Each of the queue's calls is one statement, so autocommit spares a BEGIN and a COMMIT each.
    It is set per connection, not in `kwargs`, which procrastinate also passes to its LISTEN
    connection along with its own autocommit.
    """
    return pool_checking_quietly(**kwargs, configure=_autocommit)


def create_job_queue(database: Database, settings: Settings) -> procrastinate.App:
    """Build the queue app (procrastinate on the same PostgreSQL); the caller opens it."""
    pool_kwargs: dict[str, Any] = {"application_name": "advisor-bot queue"}
    if database.transaction_pooler:
        pool_kwargs["prepare_threshold"] = None
    connector = procrastinate.PsycopgConnector(
        conninfo=database.conninfo,
        kwargs=pool_kwargs,
        pool_factory=_queue_pool,
        min_size=1,
        # The answer worker's slots, the event worker's, and each worker's fetch and LISTEN.
        max_size=max(
            6,
            min(
                settings.worker_concurrency + settings.event_worker_concurrency + 4,
                settings.database_pool_size,
            ),
        ),
    )
    return procrastinate.App(connector=connector)


@contextlib.asynccontextmanager
async def open_job_queue(database: Database, settings: Settings) -> AsyncIterator[procrastinate.App]:
    """Open the queue for the life of the block."""
    queue = create_job_queue(database, settings)
    await queue.open_async()
    try:
        yield queue
    finally:
        await queue.close_async()
