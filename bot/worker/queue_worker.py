"""Owns how the worker takes jobs off the queue: procrastinate's worker, fetching in batches.

procrastinate's loop fetches one job per round trip, each time a slot frees. Here it takes
every free slot at once and fetches that many jobs in one statement (`advisor_bot_fetch_jobs`,
sql/0033, which calls procrastinate's own fetch once per slot, so priority, order and one
running job per lock hold unchanged). A backlog, a burst after a restart, or a wave of jobs
due together starts in one round trip instead of WORKER_CONCURRENCY. Everything else (running,
retrying, finishing, aborting, heartbeats) is procrastinate's own; its version is pinned below
3.11 in pyproject.toml because this reaches into the loop it wrote.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from procrastinate import job_context, jobs, utils
from procrastinate.worker import Worker

FETCH_JOBS = """
SELECT id, status, task_name, priority, lock, queueing_lock, args, scheduled_at, queue_name, attempts,
       worker_id
  FROM advisor_bot_fetch_jobs(%(queues)s::varchar[], %(worker_id)s, %(how_many)s)
"""


class BatchFetchingWorker(Worker):
    """procrastinate's worker, whose every fetch fills all the slots that are free."""

    async def _fetch_and_process_jobs(self) -> None:
        """Fetch and start jobs until none is due or the worker is asked to stop."""
        while not self._stop_event.is_set():
            first_slot = asyncio.create_task(self._job_semaphore.acquire())
            slots, fetched = 0, []
            try:
                await utils.wait_any(first_slot, self._stop_event.wait())
                if self._stop_event.is_set():
                    break
                slots = 1
                while slots < self.concurrency and not self._job_semaphore.locked():
                    await self._job_semaphore.acquire()  # free now: returns at once
                    slots += 1
                fetched = await self._fetch(slots)
            finally:
                if slots == 0 and first_slot.done():
                    self._job_semaphore.release()  # stopped as the first slot came free
                for _ in range(slots - len(fetched)):  # slots no job was found for (or a failed fetch)
                    self._job_semaphore.release()
                self._new_job_event.clear()
            for job in fetched:  # fetched jobs are `doing`: they run, even when a stop came meanwhile
                self._start(job)
            if len(fetched) < slots:
                break

    async def _fetch(self, how_many: int) -> list[jobs.Job]:
        assert self.worker_id is not None
        rows: list[dict[str, Any]] = await self.app.connector.execute_query_all_async(
            FETCH_JOBS,
            queues=list(self.queues) if self.queues is not None else None,
            worker_id=self.worker_id,
            how_many=how_many,
        )
        return [jobs.Job.from_row(row) for row in rows]

    def _start(self, job: jobs.Job) -> None:
        """Run one fetched job in its own task, holding its slot until it is done (as procrastinate)."""
        job_id = job.id
        context = job_context.JobContext(
            app=self.app,
            worker_name=self.worker_name,
            worker_queues=self.queues,
            additional_context=self.additional_context.copy() if self.additional_context else {},
            job=job,
            abort_reason=lambda: self._job_ids_to_abort.get(job_id) if job_id else None,
            start_timestamp=time.time(),
        )
        task = asyncio.create_task(self._process_job(context), name=f"process job {job.task_name}[{job.id}]")
        self._running_jobs[task] = context

        def on_job_complete(done: asyncio.Task[Any]) -> None:
            del self._running_jobs[done]
            self._job_semaphore.release()

        task.add_done_callback(on_job_complete)
