"""Owns running the worker: its pools and clients, the queue worker under supervision, the sweeps.

`advisor-bot worker` runs this alone; `advisor-bot serve` runs it beside the web side, on the
same queue app. Everything the jobs need is built here once, as `WorkerParts`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from typing import Any

import procrastinate
from psycopg_pool import AsyncConnectionPool

from bot.agent.folding import MemoryFolder
from bot.agent.graph import build_agent_graph
from bot.agent.memory_edits import AgentMemory
from bot.agent.model import build_chat_model, context_tokens_for, memory_budget_for
from bot.agent.speech import Synthesizer
from bot.agent.tools import build_tools
from bot.agent.transcription import Transcriber
from bot.infra.background import keep_running, stop_task
from bot.infra.database import Database, check_quietly, open_pool
from bot.infra.events import EventPublisher
from bot.infra.http import shared_http_session
from bot.infra.job_queue import DEFAULT_QUEUE, EVENTS_QUEUE
from bot.infra.knowledge import open_knowledge
from bot.infra.metrics import SCRAPE_TIME, pool_stats
from bot.infra.pricing import Pricing
from bot.settings import Settings
from bot.twilio.media_hosting import (
    DatabaseMediaStore,
    LocalMediaStore,
    MediaStore,
    MediaStoreError,
    SupabaseMediaStore,
)
from bot.twilio.paths import STATUS_CALLBACK_PATH
from bot.twilio.sender import TwilioSender
from bot.twilio.signature import local_auth_token
from bot.worker.conversation_flags import PostgresConversationFlags
from bot.worker.job_handlers import PARTS_KEY, register_job_handlers
from bot.worker.knowledge_search import PostgresKnowledge
from bot.worker.parts import WorkerParts
from bot.worker.queue_worker import BatchFetchingWorker
from bot.worker.recovery import defer_orphaned_work, requeue_stalled_jobs
from memory.ai.checkpointer import open_checkpointer
from memory.ai.tokens import token_counter_for

logger = logging.getLogger(__name__)

WORKER_RESTART_FIRST_SECONDS = 0.5
WORKER_RESTART_MAX_SECONDS = 10.0


class QueueWorkerStoppedError(RuntimeError):
    """procrastinate's worker returned although nobody asked it to stop."""


@dataclass(frozen=True)
class RunningWorker:
    """The worker of this process while it runs: its parts, and the supervised queue worker."""

    parts: WorkerParts
    task: asyncio.Task[None]

    @property
    def status(self) -> str:
        """`running`, or `stopped` once the supervised queue worker ended for good."""
        return "stopped" if self.task.done() else "running"


def status_callback_url(settings: Settings) -> str | None:
    """The absolute URL Twilio reports delivery to; needs PUBLIC_BASE_URL to be reachable."""
    if not settings.public_base_url:
        return None
    return settings.public_base_url + STATUS_CALLBACK_PATH


def _media_store(settings: Settings, pool: AsyncConnectionPool[Any]) -> MediaStore | None:
    """Where voice replies are published, or None (text only) when it cannot be set up."""
    try:
        if settings.media_backend == "supabase":
            return SupabaseMediaStore(settings)
        key = settings.media_key(local_auth_token(settings))
        if settings.media_backend == "database":
            return DatabaseMediaStore(settings, key=key, pool=pool)
        return LocalMediaStore(settings, key=key)
    except MediaStoreError as error:
        logger.warning("voice replies disabled: %s", error)
        return None


@contextlib.asynccontextmanager
async def run_worker(
    settings: Settings, database: Database, queue: procrastinate.App
) -> AsyncIterator[RunningWorker]:
    """Run the worker on an opened queue app until the block ends, then stop it cleanly."""
    async with contextlib.AsyncExitStack() as stack:
        # The worker has its own pool: a busy worker can never take the connections that the
        # webhook needs to acknowledge Twilio within its time limit.
        # Autocommit: a lone read or write is one round trip instead of three (BEGIN, it, COMMIT);
        # every multi-statement change of the worker runs in an explicit `conn.transaction()`.
        pool = await open_pool(
            database,
            settings=settings,
            name="worker",
            max_size=settings.worker_concurrency + 2,
            autocommit=True,
        )
        stack.push_async_callback(pool.close)
        SCRAPE_TIME.register("worker_pool", lambda: pool_stats(pool, "worker"))
        stack.callback(SCRAPE_TIME.unregister, "worker_pool")
        events = EventPublisher(settings, queue)
        http = await stack.enter_async_context(shared_http_session())  # the model's and Twilio's
        sender = TwilioSender(settings, status_callback_url=status_callback_url(settings), http_session=http)
        stack.push_async_callback(sender.aclose)
        if sender.dry_run:
            logger.warning("no Twilio credentials: replies are stored but not sent (dry run)")
        flags = PostgresConversationFlags(pool, queue, events)
        model = build_chat_model(settings, http_session=http)
        knowledge = await open_knowledge(settings, pool)
        stack.push_async_callback(knowledge.aclose)
        graph, folder = None, None
        if model is None:
            logger.warning("no OPENAI_API_KEY or OPENAI_BASE_URL: answering with each advisor's away message")
        else:
            checkpointer, checkpoint_pool = await open_checkpointer(
                database.conninfo,
                transaction_pooler=database.transaction_pooler,
                max_size=max(2, settings.worker_concurrency),
                check=check_quietly,
            )
            stack.push_async_callback(checkpoint_pool.close)
            counter, counted_by = token_counter_for(settings.openai_model)
            logger.info("prompt tokens counted", extra={"model": settings.openai_model, "by": counted_by})
            graph = build_agent_graph(
                model,
                build_tools(flags, PostgresKnowledge(knowledge)),
                prompt_token_budget=context_tokens_for(settings) - settings.reply_token_reserve,
                checkpointer=checkpointer,
                max_tool_rounds=settings.ai_max_tool_rounds,
                token_counter=counter,
                prompt_cache_keys=settings.prompt_cache_key_enabled(),
            )
            folder = MemoryFolder(model, memory_budget_for(settings), counter)
        parts = WorkerParts(
            settings=settings,
            pool=pool,
            queue=queue,
            events=events,
            sender=sender,
            graph=graph,
            memory=AgentMemory(graph),
            flags=flags,
            knowledge=knowledge,
            transcriber=Transcriber(settings) if model is not None else None,
            synthesizer=Synthesizer(settings) if model is not None else None,
            media_store=_media_store(settings, pool) if model is not None else None,
            folder=folder,
            pricing=Pricing.from_settings(settings),
        )
        register_job_handlers(queue, settings)
        sweeper = asyncio.create_task(_sweeps(queue, parts), name="advisor-bot-stalled-sweeper")
        stack.push_async_callback(stop_task, sweeper, "stalled job sweep")
        worker = RunningWorker(
            parts=parts,
            task=asyncio.create_task(
                _supervised_queue_worker(queue, parts, database), name="advisor-bot-worker"
            ),
        )
        stack.push_async_callback(stop_task, worker.task, "queue worker")  # stops first: LIFO
        yield worker


async def _supervised_queue_worker(queue: procrastinate.App, parts: WorkerParts, database: Database) -> None:
    """Run procrastinate's workers for as long as the process lives, restarting one that stops.

    Two workers share the process: one for answers and everything else (WORKER_CONCURRENCY
    slots), one for event deliveries (EVENT_WORKER_CONCURRENCY slots), so a receiver that takes
    its whole timeout on every event never keeps a customer waiting for a reply.

    procrastinate stops its worker when a side task fails, e.g. its LISTEN connection while the
    database restarts; an in-process worker that stayed stopped would leave every later message
    unanswered although the webhook accepts them again.
    """
    settings = parts.settings
    common: dict[str, Any] = {
        "additional_context": {PARTS_KEY: parts},
        "install_signal_handlers": False,
        "listen_notify": not database.transaction_pooler,
        # Debounced jobs become due without a NOTIFY, so poll often enough to honour the delay.
        "fetch_job_polling_interval": 0.5,
        "shutdown_graceful_timeout": 10.0,
        "delete_jobs": "successful",
        "update_heartbeat_interval": settings.worker_heartbeat_seconds,
        "stalled_worker_timeout": settings.stalled_worker_seconds,
    }
    workers = {
        "queue worker": {**common, "queues": [DEFAULT_QUEUE], "concurrency": settings.worker_concurrency},
        "event worker": {
            **common,
            "queues": [EVENTS_QUEUE],
            "concurrency": settings.event_worker_concurrency,
            "name": "events",
        },
    }

    def supervised(what: str, options: dict[str, Any]) -> Coroutine[Any, Any, None]:
        async def run_once() -> None:
            # As `queue.run_worker_async(**options)` does, with the worker that fetches in batches.
            queue.perform_import_paths()  # type: ignore[no-untyped-call]
            await BatchFetchingWorker(app=queue, **{**queue.worker_defaults, **options}).run()  # type: ignore[no-untyped-call]
            raise QueueWorkerStoppedError(f"the {what} stopped")

        return keep_running(
            run_once,
            what=what,
            pause=WORKER_RESTART_FIRST_SECONDS,
            max_retry_after=WORKER_RESTART_MAX_SECONDS,
            failure_level=logging.ERROR,
        )

    tasks = [
        asyncio.create_task(supervised(what, options), name=f"advisor-bot-{what}")
        for what, options in workers.items()
    ]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _sweeps(queue: procrastinate.App, parts: WorkerParts) -> None:
    """Requeue a dead worker's jobs, and queue work left without a job, every half stall period.

    A SIGKILLed worker leaves its jobs `doing`; a stopped one leaves them `aborted`. Without this
    their customers would never be answered.
    """
    seconds = parts.settings.stalled_worker_seconds

    async def sweep_once() -> None:
        await requeue_stalled_jobs(queue, seconds_since_heartbeat=seconds)
        await defer_orphaned_work(queue, parts.pool, grace_seconds=seconds + parts.settings.debounce_seconds)

    await keep_running(sweep_once, what="stalled job sweep", pause=seconds / 2)
