"""Owns the last line of "every accepted message is answered": dead workers' and lost jobs.

A SIGKILLed worker's jobs stay `doing`: they are requeued once its heartbeat is stale. And jobs
are the normal path. But a job can end without doing its work and without a retry left:
procrastinate aborts the jobs still running when a worker is stopped (its database connection
died, say), and a job given up after repeated failures is final. The rows say what is owed: a
customer message not yet processed, or a reply still pending, with no live job for its
conversation, gets a fresh job here.
"""

from __future__ import annotations

import logging
from typing import Any

import procrastinate
from psycopg_pool import AsyncConnectionPool

from bot.infra.job_queue import ANSWER_TASK, DELIVER_TASK, conversation_lock

logger = logging.getLogger(__name__)

# Oldest first, a bounded batch per sweep; the partial indexes on unprocessed inbound and pending
# outbound rows keep this cheap however large `messages` grows.
_ORPHANS = """
SELECT m.advisor_id, m.conversation_id, max(m.id) AS message_id,
       bool_or(m.direction = 'inbound') AS unanswered
  FROM messages m
  JOIN chat_history c ON c.conversation_id = m.conversation_id AND c.advisor_id = m.advisor_id
 WHERE ((m.direction = 'inbound' AND m.processed_at IS NULL)
        OR (m.direction = 'outbound' AND m.status IN ('pending', 'sending')))
   AND m.created_at < now() - make_interval(secs => %(grace)s)
   AND NOT EXISTS (
        SELECT 1 FROM procrastinate_jobs j
         WHERE j.status IN ('todo', 'doing')
           AND j.task_name IN (%(answer)s, %(deliver)s)
           AND j.args ->> 'conversation_id' = m.conversation_id::text)
 GROUP BY m.advisor_id, m.conversation_id
 ORDER BY min(m.id)
 LIMIT 500
"""


async def defer_orphaned_work(
    queue: procrastinate.App, pool: AsyncConnectionPool[Any], *, grace_seconds: float
) -> int:
    """Give a job to every conversation that is owed an answer or a delivery and has none.

    `grace_seconds` leaves alone work whose job is merely about to be created or just finished.
    """
    deferred = 0
    async with pool.connection() as conn:
        cursor = await conn.execute(
            _ORPHANS, {"grace": grace_seconds, "answer": ANSWER_TASK, "deliver": DELIVER_TASK}
        )
        for row in await cursor.fetchall():
            lock = conversation_lock(row["advisor_id"], row["conversation_id"])
            ids = {"advisor_id": str(row["advisor_id"]), "conversation_id": str(row["conversation_id"])}
            if row["unanswered"]:
                task = queue.configure_task(ANSWER_TASK, lock=lock, connection=conn)
                await task.defer_async(**ids, message_id=row["message_id"])
            else:
                await queue.configure_task(DELIVER_TASK, lock=lock, connection=conn).defer_async(**ids)
            deferred += 1
    if deferred:
        logger.warning("work without a job found and queued again", extra={"conversations": deferred})
    return deferred


async def requeue_stalled_jobs(app: procrastinate.App, *, seconds_since_heartbeat: float) -> int:
    """Requeue the running jobs of workers that stopped sending heartbeats (SIGKILL, lost machine).

    Several workers may sweep at once: a job another sweeper already requeued is skipped.
    """
    manager = app.job_manager
    requeued = 0
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=seconds_since_heartbeat):
        try:
            await manager.retry_job(job)
        except Exception as error:  # noqa: BLE001 - a lost race with another sweeper is expected
            logger.info("stalled job already handled", extra={"job_id": job.id, "error": str(error)})
            continue
        requeued += 1
    if requeued:
        logger.warning("requeued stalled jobs", extra={"count": requeued})
    return requeued
