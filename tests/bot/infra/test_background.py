"""The one loop every background task runs in: retried after failures, stopped when asked."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.infra.background import keep_running, stop_task


async def test_a_failing_step_is_logged_and_run_again_until_cancelled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs: list[int] = []
    third_run = asyncio.Event()

    async def step() -> None:
        runs.append(len(runs))
        if len(runs) == 3:
            third_run.set()
        if len(runs) <= 2:
            raise ConnectionError("database restarting")

    with caplog.at_level(logging.WARNING, logger="bot.infra.background"):
        task = asyncio.create_task(keep_running(step, what="sweep", pause=0.01, retry_after=0.01))
        await asyncio.wait_for(third_run.wait(), timeout=5)
        await stop_task(task, "sweep")
    assert task.cancelled() and len(runs) >= 3
    failures = [
        record
        for record in caplog.records
        if record.getMessage() == "background task failed; running it again"
    ]
    assert len(failures) == 2 and all(getattr(record, "task", None) == "sweep" for record in failures)
    assert "ConnectionError: database restarting" in getattr(failures[0], "error", "")


async def test_it_stops_even_when_a_library_swallows_the_cancellation() -> None:
    started = asyncio.Event()

    async def stubborn_step() -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            return  # what psycopg and procrastinate may do: a normal return instead

    task = asyncio.create_task(keep_running(stubborn_step, what="listener", pause=0.01))
    await asyncio.wait_for(started.wait(), timeout=5)
    await stop_task(task, "listener", timeout=5)
    assert task.done()


async def test_back_off_doubles_up_to_its_ceiling(caplog: pytest.LogCaptureFixture) -> None:
    enough = asyncio.Event()
    runs = 0

    async def always_failing() -> None:
        nonlocal runs
        runs += 1
        if runs == 5:
            enough.set()
        raise RuntimeError("stopped")

    with caplog.at_level(logging.ERROR, logger="bot.infra.background"):
        task = asyncio.create_task(
            keep_running(
                always_failing,
                what="queue worker",
                pause=0.001,
                max_retry_after=0.004,
                failure_level=logging.ERROR,
            )
        )
        await asyncio.wait_for(enough.wait(), timeout=5)
        await stop_task(task, "queue worker")
    delays = [getattr(record, "in_seconds", None) for record in caplog.records][:5]
    assert delays == [0.001, 0.002, 0.004, 0.004, 0.004]
