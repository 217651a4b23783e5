"""Owns the process's background tasks: running one for good, and stopping it without hanging.

The queue worker, the sweeps and the advisor-change watcher all run until the process stops, and
all must survive a database restart. They share one loop here, so each states only its own step.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

HEALTHY_RUN_SECONDS = 60.0  # a step that ran this long before failing starts the back-off over


def cancellation_requested() -> bool:
    """Whether the current task was cancelled, even if a library swallowed the CancelledError.

    psycopg and procrastinate may turn a cancellation into an ordinary error or a normal return;
    a loop that retries for ever must check this as well, or it would never stop.
    """
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def keep_running(
    step: Callable[[], Awaitable[object]],
    *,
    what: str,
    pause: float,
    retry_after: float | None = None,
    max_retry_after: float | None = None,
    failure_level: int = logging.WARNING,
) -> None:
    """Run `step` again and again until the task is cancelled.

    After a normal return, wait `pause` seconds. After a failure, log it and wait `retry_after`
    (default `pause`), doubling up to `max_retry_after` while failures follow quickly; a step that
    ran for a minute before failing was healthy, and starts the back-off over.
    """
    first_retry = pause if retry_after is None else retry_after
    ceiling = first_retry if max_retry_after is None else max_retry_after
    delay = first_retry
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        failure: Exception | None = None
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - every failure is logged and the step run again
            failure = error
        if cancellation_requested():
            return  # asked to stop while the step ran, and a library swallowed the request
        if failure is None:
            delay = first_retry
            await asyncio.sleep(pause)
            continue
        if loop.time() - started > HEALTHY_RUN_SECONDS:
            delay = first_retry
        logger.log(
            failure_level,
            "background task failed; running it again",
            extra={"task": what, "error": f"{type(failure).__name__}: {failure}"[:300], "in_seconds": delay},
        )
        await asyncio.sleep(delay)
        delay = min(delay * 2, ceiling)


async def stop_task(task: asyncio.Task[None] | None, what: str, *, timeout: float = 30.0) -> None:
    """Cancel a background task and wait for it, but never let a wedged one block the shutdown.

    The queue worker waits up to 10 s for its running jobs before it returns.
    """
    if task is None:
        return
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        logger.error("background task did not stop in time; leaving it", extra={"task": what})
    elif not task.cancelled() and task.exception() is not None:
        logger.error(
            "background task ended with an error", extra={"task": what, "error": repr(task.exception())}
        )
