"""Owns how the worker takes jobs off the queue: procrastinate's worker, fetching in batches.

procrastinate's loop spends two round trips per job besides the job's own: one to fetch it
and one to finish it. Here a job that succeeds is finished by the same statement that fetches
the next job for the slot it frees (`advisor_bot_finish_and_fetch`, sql/0034), which then
starts in that slot; and when the loop fetches, it takes every free slot at once and fetches
that many jobs in one statement (`advisor_bot_fetch_jobs`, sql/0033). Both call
procrastinate's own fetch once per slot and its own finish, so priority, order and one running
job per lock hold unchanged. While there is work, a job costs one queue round trip instead of
two; a burst after a restart starts in one instead of WORKER_CONCURRENCY. Everything else
(running, retrying, failing, aborting, heartbeats) is procrastinate's own; its version is
pinned below 3.11 in pyproject.toml because this reaches into the loop it wrote.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from procrastinate import job_context, jobs, retry, utils
from procrastinate.worker import Worker

_JOB_COLUMNS = (
    "id, status, task_name, priority, lock, queueing_lock, args, scheduled_at, queue_name, attempts, "
    "worker_id"
)
FETCH_JOBS = f"""
SELECT {_JOB_COLUMNS}
  FROM advisor_bot_fetch_jobs(%(queues)s::varchar[], %(worker_id)s, %(how_many)s)
"""
FINISH_AND_FETCH = f"""
SELECT {_JOB_COLUMNS}
  FROM advisor_bot_finish_and_fetch(%(job_id)s, %(status)s, %(delete_job)s,
                                    %(queues)s::varchar[], %(worker_id)s, 1)
"""


class BatchFetchingWorker(Worker):
    """procrastinate's worker, whose every fetch fills all the slots that are free.

    A job that succeeds hands its slot to the job fetched with its finish (`_successors`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._successors: dict[int, jobs.Job] = {}

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

    async def _persist_job_status(
        self,
        job: jobs.Job,
        status: jobs.Status,
        retry_decision: retry.RetryDecision | None,
        context: job_context.JobContext,
        job_result: job_context.JobResult | None,
    ) -> None:
        """Finish a job that succeeded and fetch its slot's next job, in one statement.

        Anything else (a retry, a failure, an abort, a worker stopping) is procrastinate's own.
        """
        if status != jobs.Status.SUCCEEDED or retry_decision or self._stop_event.is_set():
            await super()._persist_job_status(job, status, retry_decision, context, job_result)
            return
        assert job.id is not None and self.worker_id is not None
        rows: list[dict[str, Any]] = await self.app.connector.execute_query_all_async(
            FINISH_AND_FETCH,
            job_id=job.id,
            status=status.value,
            delete_job=self.delete_jobs != jobs.DeleteJobCondition.NEVER,
            queues=list(self.queues) if self.queues is not None else None,
            worker_id=self.worker_id,
        )
        self._job_ids_to_abort.pop(job.id, None)
        if rows:
            self._successors[job.id] = jobs.Job.from_row(rows[0])

    async def _shutdown(self, side_tasks: list[asyncio.Task[Any]]) -> None:
        """Wait, as procrastinate does, for the running jobs, including any started as the stop came.

        A job finishing as the stop arrives may already have fetched its successor (it is
        `doing`): it runs to its end like the others instead of being aborted.
        """
        bound = self.shutdown_graceful_timeout
        deadline = None if bound is None else time.monotonic() + bound
        while self._running_jobs and (deadline is None or time.monotonic() < deadline):
            left = None if deadline is None else deadline - time.monotonic()
            await asyncio.wait(list(self._running_jobs), timeout=left)
        self.shutdown_graceful_timeout = 0 if self._running_jobs else bound  # waited already
        try:
            await super()._shutdown(side_tasks)
        finally:
            self.shutdown_graceful_timeout = bound

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
            successor = self._successors.pop(job_id, None) if job_id is not None else None
            if successor is not None:  # fetched with this job's finish: it takes the slot
                self._start(successor)
            else:
                self._job_semaphore.release()

        task.add_done_callback(on_job_complete)
