-- The worker takes its next job with procrastinate_fetch_job_v2, which checks for each waiting job
-- whether an earlier job of the same lock (the same conversation) is waiting or running.
-- procrastinate's own index for that check leads with the job id, so each check read every
-- waiting job: with a backlog of 1,500 one fetch took ~100 ms, and draining a backlog took time
-- that grew with its square. Looked up by lock, a check is one index probe (about 1 ms a fetch).
-- Runs after the job queue's own schema (see bot.migrations: QUEUE_SCHEMA_BEFORE).
CREATE INDEX IF NOT EXISTS idx_procrastinate_jobs_waiting_lock
    ON procrastinate_jobs (lock)
    WHERE status IN ('todo', 'doing');
