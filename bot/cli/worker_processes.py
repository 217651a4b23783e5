"""Owns `advisor-bot worker --processes N`: one worker process per core, started and stopped together.

A worker is one Python process, so one core: its answers per second stop there however idle the
other cores are. With N processes the parent does what must happen once (the database is found,
the embedded one started, the schema upgraded), then starts N ordinary workers on that database
and only supervises them: it forwards SIGINT and SIGTERM, starts again a child that died, and
is the only one serving WORKER_METRICS_PORT, where the children's counters are added up
(prometheus_client's multiprocess folder, as `serve --workers` does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
import time

from bot.cli.console import say
from bot.settings import Settings

logger = logging.getLogger(__name__)

# Set in a child's environment to the parent's pid: the parent upgraded the schema, serves the
# metrics, and the child stops when that process is gone.
CHILD_ENV = "ADVISOR_BOT_WORKER_PARENT"
STOP_SECONDS = 30.0  # a child's graceful stop (its jobs finish) before it is killed
RESTART_PAUSE_SECONDS = 1.0  # a child that keeps dying is not restarted in a tight loop
PARENT_CHECK_SECONDS = 1.0


def is_child() -> bool:
    """Whether this worker was started by `worker --processes N` (which did the shared start-up)."""
    return os.environ.get(CHILD_ENV, "").isdigit()


async def parent_gone() -> None:
    """Return once the parent is gone (killed without passing a signal on): the child stops too.

    An orphan would go on answering beside the parent's replacement, unseen by its metrics.
    """
    parent = int(os.environ[CHILD_ENV])
    while os.getppid() == parent:
        await asyncio.sleep(PARENT_CHECK_SECONDS)
    logger.warning("the worker's parent process is gone; stopping")


async def run_processes(settings: Settings, count: int) -> int:
    """Run `count` worker processes until SIGINT or SIGTERM; 0 once all stopped cleanly."""
    from bot.cli.server import _metrics_server, start_worker_side

    stop = asyncio.Event()
    received: list[signal.Signals] = []

    def on_signal(signum: signal.Signals) -> None:
        received.append(signum)
        stop.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    started = await start_worker_side(settings, upgrade=True)
    if isinstance(started, int):
        return started
    metrics_socket, database = started
    folder = tempfile.mkdtemp(prefix="advisor-bot-worker-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder  # this process's /metrics reads the children's
    # The children reach the database this process resolved (the embedded one included); a
    # configured URL is passed as written, so its transaction-pooler flag goes with it.
    url = settings.database_url.get_secret_value() if settings.database_url else database.conninfo
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "PROMETHEUS_MULTIPROC_DIR": folder,
        CHILD_ENV: str(os.getpid()),
    }
    environment.pop("WORKER_METRICS_PORT", None)
    children = _Children(environment, count)
    try:
        async with _metrics_server(settings, metrics_socket):
            await children.start()
            say(f"{count} worker processes running (pids {children.pids()}); Ctrl+C to stop")
            await children.supervise(stop)
            clean = await children.stop(received[-1] if received else signal.SIGTERM)
    finally:
        await children.kill()
        shutil.rmtree(folder, ignore_errors=True)
        if database.keepalive is not None:
            database.keepalive.cleanup()
    return 0 if clean else 1


class _Children:
    """The worker processes and what became of each."""

    def __init__(self, environment: dict[str, str], count: int) -> None:
        self._environment = environment
        self._processes: list[asyncio.subprocess.Process | None] = [None] * count

    def pids(self) -> str:
        return ", ".join(str(process.pid) for process in self._processes if process is not None)

    async def _spawn(self, slot: int) -> None:
        self._processes[slot] = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "worker", env=self._environment
        )

    async def start(self) -> None:
        for slot in range(len(self._processes)):
            await self._spawn(slot)

    async def supervise(self, stop: asyncio.Event) -> None:
        """Until `stop`: a child that exits is started again (its jobs were requeued by the sweep)."""
        stopping = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                waits = {
                    asyncio.create_task(process.wait()): slot
                    for slot, process in enumerate(self._processes)
                    if process is not None
                }
                done, pending = await asyncio.wait({stopping, *waits}, return_when=asyncio.FIRST_COMPLETED)
                for task in pending - {stopping}:
                    task.cancel()
                if stop.is_set():
                    return
                for task in done & set(waits):
                    slot = waits[task]
                    old = self._processes[slot]
                    assert old is not None
                    _forget(old.pid)
                    logger.error(
                        "a worker process stopped by itself; starting another",
                        extra={"pid": old.pid, "exit_code": old.returncode},
                    )
                    await asyncio.sleep(RESTART_PAUSE_SECONDS)
                    await self._spawn(slot)
        finally:
            stopping.cancel()

    async def stop(self, signum: signal.Signals) -> bool:
        """Pass `signum` on and wait for every child's graceful stop; True when all stopped cleanly."""
        running = [
            process for process in self._processes if process is not None and process.returncode is None
        ]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signum)
        deadline = time.monotonic() + STOP_SECONDS
        clean = True
        for process in running:
            try:
                code = await asyncio.wait_for(process.wait(), timeout=max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                clean = False
                continue
            _forget(process.pid)
            # Ended by the signal itself: a child still starting had no handler for it yet.
            clean = clean and code in (0, -signum)
        return clean

    async def kill(self) -> None:
        """Kill what did not stop in time (never leaves a child behind the parent)."""
        for process in self._processes:
            if process is not None and process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()


def _forget(pid: int) -> None:
    """Drop a dead child's live gauges from the added-up metrics (its counters stay counted)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
