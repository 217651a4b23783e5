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

from bot.infra.database import Database
from bot.settings import Settings

ANSWER_TASK = "answer_conversation"
DELIVER_TASK = "deliver_conversation"
NOTICE_TASK = "send_advisor_notice"
RESUME_TASK = "resume_ai"
EVENT_TASK = "deliver_event"
CLEANUP_MEDIA_TASK = "cleanup_media"
PRUNE_MEMORY_TASK = "prune_ai_memory"
EMBED_PASSAGES_TASK = "embed_knowledge_passages"
HISTORY_TASK = "mark_historical_customers"
CAMPAIGN_TASK = "send_campaign"
HUBSPOT_TASK = "sync_hubspot"
PRUNE_EVENTS_TASK = "prune_events"


def campaign_lock(advisor_id: UUID | str) -> str:
    """Return the queue lock of one advisor's campaigns: one at a time, so their number's rate holds."""
    return f"campaign:{advisor_id}"


def conversation_lock(advisor_id: UUID | str, conversation_id: UUID | str) -> str:
    """Return the queue lock of one advisor + customer: its jobs run one at a time, in order.

    Named by ids, never by the customer's number: the queue library logs locks and arguments.
    """
    return f"conversation:{advisor_id}:{conversation_id}"


def create_job_queue(database: Database, settings: Settings) -> procrastinate.App:
    """Build the queue app (procrastinate on the same PostgreSQL); the caller opens it."""
    pool_kwargs: dict[str, Any] = {"application_name": "advisor-bot queue"}
    if database.transaction_pooler:
        pool_kwargs["prepare_threshold"] = None
    connector = procrastinate.PsycopgConnector(
        conninfo=database.conninfo,
        kwargs=pool_kwargs,
        min_size=1,
        max_size=max(4, min(settings.worker_concurrency + 2, settings.database_pool_size)),
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
