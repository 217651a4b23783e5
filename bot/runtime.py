"""Owns the process's long-lived clients: pool, resolver, queue and, in workers, agent and sender.

`serve`, `worker` and the tests all build them here, so every entry point wires the same parts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import procrastinate
from langgraph.graph.state import CompiledStateGraph
from psycopg_pool import AsyncConnectionPool

from advisors.invalidation import listen_for_changes, poll_for_changes
from advisors.models import Advisor
from advisors.repository import get_advisor_by_number
from advisors.resolver import AdvisorResolver
from bot.agent import build_agent_graph, build_chat_model, build_tools
from bot.database import Database, connection_kwargs, open_pool, resolve_database
from bot.events import EventPublisher
from bot.media_store import LocalMediaStore, MediaStore, MediaStoreError, SupabaseMediaStore
from bot.migrations import upgrade
from bot.paths import STATUS_CALLBACK_PATH
from bot.processing import ConversationProcessor, PostgresConversationFlags
from bot.queue import PROCESSOR_KEY, create_queue
from bot.ratelimit import RateLimiter
from bot.recovery import defer_orphaned_work, requeue_stalled_jobs
from bot.sender import TwilioSender
from bot.settings import Settings
from bot.signature import local_auth_token
from bot.tasks import cancellation_requested, stop_task
from bot.transcribe import Transcriber
from bot.voice import Synthesizer
from memory.checkpointer import open_checkpointer

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything a request handler or a job needs, built once per process."""

    settings: Settings
    database: Database
    pool: AsyncConnectionPool[Any]
    resolver: AdvisorResolver
    queue: procrastinate.App
    events: EventPublisher
    auth_token: str | None
    media_key: bytes
    webhook_limiter: RateLimiter
    api_limiter: RateLimiter
    processor: ConversationProcessor | None = None
    graph: CompiledStateGraph[Any, Any, Any, Any] | None = None
    worker_task: asyncio.Task[None] | None = None
    webhook_in_flight: int = 0  # one event loop per process: a plain counter is exact


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings, *, worker: bool, migrate: bool = True) -> AsyncIterator[Runtime]:
    """Open every client; with `worker`, also run the queue worker until the context exits."""
    database = resolve_database(settings)
    if migrate:
        report = await upgrade(database)
        if report.applied:
            logger.info("database schema upgraded", extra={"steps": report.applied})
    pool = await open_pool(database, settings=settings, name="app")
    closers: list[Any] = [pool.close]
    try:

        async def lookup(number: str) -> Advisor | None:
            async with pool.connection() as conn:
                return await get_advisor_by_number(conn=conn, number=number)

        resolver = AdvisorResolver(
            lookup, ttl=settings.advisor_cache_ttl, negative_ttl=settings.unknown_number_cache_ttl
        )
        queue = create_queue(database, settings)
        await queue.open_async()
        closers.append(queue.close_async)
        runtime = Runtime(
            settings=settings,
            database=database,
            pool=pool,
            resolver=resolver,
            queue=queue,
            events=EventPublisher(settings, queue),
            auth_token=local_auth_token(settings),
            media_key=settings.media_key(local_auth_token(settings)),
            webhook_limiter=RateLimiter(settings.webhook_rate_limit),
            api_limiter=RateLimiter(settings.api_rate_limit),
        )
        await _watch_advisor_changes(runtime, closers)
        if settings.validate_twilio_signature and runtime.auth_token is None:
            logger.warning("no TWILIO_AUTH_TOKEN: every webhook will be refused with 403")
        if worker:
            await _start_worker(runtime, closers)
        yield runtime
    finally:
        for close in reversed(closers):
            with contextlib.suppress(Exception):
                await close()


async def _watch_advisor_changes(runtime: Runtime, closers: list[Any]) -> None:
    """Keep the advisor cache in step with the table; waits until the watcher is in place."""
    ready = asyncio.Event()
    kwargs = {**connection_kwargs(runtime.database), "application_name": "advisor-bot listener"}
    if runtime.database.transaction_pooler:
        watcher = poll_for_changes(
            runtime.database.conninfo, runtime.resolver, connection_kwargs=kwargs, ready=ready
        )
    else:
        watcher = listen_for_changes(
            runtime.database.conninfo, runtime.resolver, connection_kwargs=kwargs, ready=ready
        )
    task = asyncio.create_task(watcher, name="advisor-bot-advisor-watcher")
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(ready.wait(), timeout=10)

    closers.append(lambda: stop_task(task, "advisor change watcher"))


def _media_store(runtime: Runtime) -> MediaStore | None:
    """Where voice replies are published, or None (text only) when it cannot be set up."""
    settings = runtime.settings
    try:
        if settings.media_backend == "supabase":
            return SupabaseMediaStore(settings)
        return LocalMediaStore(settings, key=runtime.media_key)
    except MediaStoreError as error:
        logger.warning("voice replies disabled: %s", error)
        return None


def status_callback_url(settings: Settings) -> str | None:
    """The absolute URL Twilio reports delivery to; needs PUBLIC_BASE_URL to be reachable."""
    if not settings.public_base_url:
        return None
    return settings.public_base_url + STATUS_CALLBACK_PATH


WORKER_RESTART_MAX_SECONDS = 10.0


async def _supervise_worker(queue: procrastinate.App, options: dict[str, Any]) -> None:
    """Run the queue worker for as long as the process lives, restarting it when it stops.

    procrastinate stops its worker when a side task fails, e.g. its LISTEN connection while the
    database restarts; an in-process worker that stayed stopped would leave every later message
    unanswered although the webhook accepts them again.
    """
    delay = 0.5
    while True:
        started = asyncio.get_running_loop().time()
        failure: Exception | None = None
        try:
            await queue.run_worker_async(**options)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - any crash is logged and the worker restarted
            failure = error
        if cancellation_requested():
            return  # asked to stop while the worker wound down, which swallowed the request
        logger.error(
            "queue worker crashed; restarting it" if failure else "queue worker stopped; restarting it",
            extra={"error": f"{type(failure).__name__}: {failure}" if failure else None, "in_seconds": delay},
        )
        if asyncio.get_running_loop().time() - started > 60:
            delay = 0.5  # it had been healthy: start over with a short wait
        await asyncio.sleep(delay)
        delay = min(delay * 2, WORKER_RESTART_MAX_SECONDS)


async def _sweep_stalled_jobs(runtime: Runtime) -> None:
    """Requeue a dead worker's jobs, and queue work left without a job, every half stall period.

    A SIGKILLed worker leaves its jobs `doing`; a stopped one leaves them `aborted`. Without this
    their customers would never be answered.
    """
    seconds = runtime.settings.stalled_worker_seconds
    while True:
        try:
            await requeue_stalled_jobs(runtime.queue, seconds_since_heartbeat=seconds)
            await defer_orphaned_work(
                runtime.queue, runtime.pool, grace_seconds=seconds + runtime.settings.debounce_seconds
            )
        except Exception as error:  # noqa: BLE001 - database or queue trouble: try again next period
            logger.warning("stalled job sweep failed; will retry", extra={"error": repr(error)})
        if cancellation_requested():
            return  # a stop request swallowed by a library while the sweep ran
        await asyncio.sleep(seconds / 2)


async def _start_worker(runtime: Runtime, closers: list[Any]) -> None:
    settings = runtime.settings
    # The worker has its own pool: a busy worker can never take the connections that the
    # webhook needs to acknowledge Twilio within its time limit.
    # Autocommit: a lone read or write is one round trip instead of three (BEGIN, it, COMMIT);
    # every multi-statement change of the worker runs in an explicit `conn.transaction()`.
    worker_pool = await open_pool(
        runtime.database,
        settings=settings,
        name="worker",
        max_size=settings.worker_concurrency + 2,
        autocommit=True,
    )
    closers.append(worker_pool.close)
    sender = TwilioSender(settings, status_callback_url=status_callback_url(settings))
    if sender.dry_run:
        logger.warning("no Twilio credentials: replies are stored but not sent (dry run)")
    model = build_chat_model(settings)
    if model is None:
        logger.warning("no OPENAI_API_KEY or OPENAI_BASE_URL: answering with each advisor's away message")
    else:
        checkpointer, checkpoint_pool = await open_checkpointer(
            runtime.database, max_size=max(2, settings.worker_concurrency)
        )
        closers.append(checkpoint_pool.close)
        runtime.graph = build_agent_graph(
            model,
            build_tools(PostgresConversationFlags(worker_pool, runtime.queue, runtime.events)),
            prompt_token_budget=settings.model_context_tokens - settings.reply_token_reserve,
            memory_token_budget=settings.ai_memory_tokens,
            checkpointer=checkpointer,
        )
    runtime.processor = ConversationProcessor(
        pool=worker_pool,
        graph=runtime.graph,
        sender=sender,
        events=runtime.events,
        settings=settings,
        transcriber=Transcriber(settings) if model is not None else None,
        synthesizer=Synthesizer(settings) if model is not None else None,
        media_store=_media_store(runtime) if model is not None else None,
    )
    worker_options: dict[str, Any] = {
        "concurrency": settings.worker_concurrency,
        "additional_context": {PROCESSOR_KEY: runtime.processor},
        "install_signal_handlers": False,
        "listen_notify": not runtime.database.transaction_pooler,
        # Debounced jobs become due without a NOTIFY, so poll often enough to honour the delay.
        "fetch_job_polling_interval": 0.5,
        "shutdown_graceful_timeout": 10.0,
        "delete_jobs": "successful",
        "update_heartbeat_interval": settings.worker_heartbeat_seconds,
        "stalled_worker_timeout": settings.stalled_worker_seconds,
    }
    runtime.worker_task = asyncio.create_task(
        _supervise_worker(runtime.queue, worker_options), name="advisor-bot-worker"
    )
    sweeper = asyncio.create_task(_sweep_stalled_jobs(runtime), name="advisor-bot-stalled-sweeper")

    closers.append(lambda: stop_task(sweeper, "stalled job sweep"))

    closers.append(lambda: stop_task(runtime.worker_task, "queue worker"))
