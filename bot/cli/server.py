"""Owns `advisor-bot serve` and `advisor-bot worker`: the long-running processes."""

from __future__ import annotations

import asyncio
import signal

import psycopg

from bot.cli.console import say
from bot.infra.database import Database, connection_kwargs, resolve_database
from bot.settings import Settings


def serve(settings: Settings, host: str, port: int, *, run_worker: bool) -> int:
    """Run the web server (and, unless told otherwise, a worker) until Ctrl+C."""
    import uvicorn

    from bot.app import create_app

    # Found before uvicorn starts, a missing or unreachable database is one clear line (from the
    # caller), not a startup traceback. The embedded server started here is reused by the app.
    database = resolve_database(settings)
    asyncio.run(check_reachable(database, settings))
    say(f"advisor-bot listening on http://{host}:{port} (webhook: /webhooks/twilio); Ctrl+C to stop")
    uvicorn.run(
        create_app(settings, run_worker=run_worker),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
    )
    if database.keepalive is not None:
        database.keepalive.cleanup()  # the embedded PostgreSQL stops with the last process using it
        say("embedded PostgreSQL stopped (unless another advisor-bot process still uses it)")
    return 0


async def check_reachable(database: Database, settings: Settings) -> None:
    """Connect once; raises psycopg.OperationalError when the database cannot be reached."""
    async with await psycopg.AsyncConnection.connect(
        database.conninfo,
        connect_timeout=max(1, round(settings.database_timeout_seconds)),
        **connection_kwargs(database),
    ):
        pass


async def worker(settings: Settings) -> int:
    """Run a queue worker only (for scaling out) until SIGINT or SIGTERM."""
    from bot.infra.job_queue import open_job_queue
    from bot.migrations import upgrade_on_start
    from bot.worker.runner import run_worker

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    database = resolve_database(settings)
    await check_reachable(database, settings)
    await upgrade_on_start(database)
    async with open_job_queue(database, settings) as queue, run_worker(settings, database, queue) as running:
        say("worker running; Ctrl+C to stop")
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait({waiter, running.task}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
    return 0
