"""Owns how the process's background tasks (worker, sweeps, listeners) are stopped."""

from __future__ import annotations

import asyncio
import logging

logger = logging.getLogger(__name__)


def cancellation_requested() -> bool:
    """Whether the current task was cancelled, even if a library swallowed the CancelledError.

    psycopg and procrastinate may turn a cancellation into an ordinary error or a normal return;
    a loop that retries for ever must check this as well, or it would never stop.
    """
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


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
