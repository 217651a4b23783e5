"""Owns `advisor-bot serve` and `advisor-bot worker`: the long-running processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import psycopg

from bot.cli.console import fail, say
from bot.infra.database import Database, connection_kwargs, resolve_database
from bot.infra.heap import freeze_startup_objects
from bot.settings import Settings


def serve(settings: Settings, host: str, port: int, *, run_worker: bool, workers: int = 1) -> int:
    """Run the web server (and, unless told otherwise, a worker) until Ctrl+C.

    With `workers` > 1, uvicorn runs that many processes on the port, each building the app from
    the environment (`bot.app:app_from_environment`); they share nothing but PostgreSQL.
    """
    import uvicorn

    from bot.migrations import upgrade_on_start

    busy = port_in_use(host, port)
    if busy:
        return fail(
            f"{host}:{port} cannot be listened on ({busy}): stop what uses it, or choose another with --port",
            2,
        )
    # Found before uvicorn starts, a missing or unreachable database is one clear line (from the
    # caller), not a startup traceback. The embedded server started here is reused by the app.
    database = resolve_database(settings)
    asyncio.run(check_reachable(database, settings))
    # So is a schema that cannot be upgraded (an old bot's tables awaiting --legacy-advisor, say):
    # the app's own upgrade at start then finds it current.
    asyncio.run(upgrade_on_start(database))
    asyncio.run(note_address(database, port, serving=True))
    say(f"advisor-bot listening on http://{host}:{port} (webhook: /webhooks/twilio); Ctrl+C to stop")
    app: str | Callable[..., Any]
    if workers > 1:
        from bot.app import RUN_WORKER_ENV

        # The processes connect to the database this one resolved (the embedded one included),
        # and add up their metrics in one folder.
        os.environ["DATABASE_URL"] = database.conninfo
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="advisor-bot-metrics-"))
        os.environ[RUN_WORKER_ENV] = "true" if run_worker else "false"
        app = "bot.app:app_from_environment"
    else:
        from bot.app import create_app

        app = create_app(settings, run_worker=run_worker)
    uvicorn.run(
        app,
        factory=workers > 1,
        workers=workers,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
    )
    asyncio.run(note_address(database, port, serving=False))
    if database.keepalive is not None:
        database.keepalive.cleanup()  # the embedded PostgreSQL stops with the last process using it
        say("embedded PostgreSQL stopped (unless another advisor-bot process still uses it)")
    return 0


def port_in_use(host: str, port: int) -> str | None:
    """Why the port cannot be listened on (in use, not allowed), or None when it can.

    Checked before the embedded PostgreSQL and the app start, which would otherwise take their
    time and end in uvicorn's traceback. Bound as uvicorn binds (SO_REUSEADDR), so a port left
    in TIME_WAIT by the previous run is free.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return error.strerror or str(error)
    return None


def run_on_fast_loop(main: Coroutine[Any, Any, int]) -> int:
    """Run `main` on uvloop where it is installed (uvicorn[standard] brings it), as uvicorn runs the web.

    The worker spends much of its CPU in the event loop (a dozen database round trips and three
    HTTP calls per reply); uvloop's loop does that work in C. Without uvloop, asyncio's own loop.
    """
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


async def note_address(database: Database, port: int, *, serving: bool) -> None:
    """Record (or, at a clean stop, remove) the port this server listens on (bot.infra.server_addresses).

    Only `advisor-bot console link` reads it: a failure costs a line, never the server.
    """
    from bot.infra.server_addresses import forget_server, record_server

    try:
        async with await psycopg.AsyncConnection.connect(
            database.conninfo, connect_timeout=5, **connection_kwargs(database, autocommit=True)
        ) as conn:
            await (record_server if serving else forget_server)(conn, port)
    except psycopg.Error as error:
        say(
            f"warning: the server's port was not recorded ({type(error).__name__}); "
            "`advisor-bot console link` needs --base-url"
        )


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
    from bot.cli.worker_processes import is_child, parent_gone
    from bot.infra.job_queue import open_job_queue
    from bot.worker.runner import run_worker

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    # A child of `worker --processes N`: its parent upgraded the schema and serves the metrics.
    started = await start_worker_side(settings, upgrade=not is_child())
    if isinstance(started, int):
        return started
    metrics_socket, database = started
    async with (
        open_job_queue(database, settings) as queue,
        run_worker(settings, database, queue) as running,
        _metrics_server(settings, metrics_socket),
    ):
        freeze_startup_objects()
        say("worker running; Ctrl+C to stop")
        watches: set[asyncio.Task[Any]] = {asyncio.create_task(stop.wait())}
        if is_child():  # a child whose parent is gone stops too
            watches.add(asyncio.create_task(parent_gone()))
        await asyncio.wait({*watches, running.task}, return_when=asyncio.FIRST_COMPLETED)
        for watch in watches:
            watch.cancel()
    return 0


async def start_worker_side(
    settings: Settings, *, upgrade: bool
) -> tuple[socket.socket | None, Database] | int:
    """A worker's first steps (or the parent's of several): the metrics port, then the database.

    WORKER_METRICS_PORT is bound first, so a port in use is one line and an exit code; then the
    database is found (the embedded one started), reached and, with `upgrade`, upgraded.
    """
    from bot.migrations import upgrade_on_start

    try:
        metrics_socket = _metrics_socket(settings.worker_metrics_port)
    except OSError as error:
        return fail(f"WORKER_METRICS_PORT {settings.worker_metrics_port} cannot be used: {error.strerror}", 2)
    database = resolve_database(settings)
    await check_reachable(database, settings)
    if upgrade:
        await upgrade_on_start(database)
    return metrics_socket, database


def _metrics_socket(port: int | None) -> socket.socket | None:
    """The worker's metrics port, bound before anything starts: a port in use is one clear line."""
    if port is None:
        return None
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        # Every interface: scraped from another machine of the private network.
        sock.bind(("0.0.0.0", port))  # noqa: S104
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


@contextlib.asynccontextmanager
async def _metrics_server(settings: Settings, sock: socket.socket | None) -> AsyncIterator[None]:
    """GET /metrics on the bound WORKER_METRICS_PORT while the worker runs (nothing when unset)."""
    if sock is None:
        yield
        return
    import uvicorn

    from bot.infra.metrics import metrics_app

    config = uvicorn.Config(
        metrics_app(settings.metrics_token),
        lifespan="off",
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield
    finally:
        server.should_exit = True
        await task
