-- Commits without NOTIFY where messages arrive and leave.
--
-- A transaction that NOTIFYs holds one lock for the whole database from just before its commit
-- until the commit is on disk, so such transactions commit one at a time and never share a WAL
-- flush. Every webhook used to NOTIFY three times (the console's triggers on `messages` and
-- `chat_history`, and the queue's trigger on the new job), and so did most of the worker's
-- writes: at the webhook's ceiling most of its statements waited on that lock.
--
-- 1. The live console polls for changed rows (bot/web/live.py), as it already did behind a
--    transaction pooler, instead of hearing a NOTIFY per changed row. The poll reads
--    `updated_at` of messages and conversations, `profile_updated_at` (a customer's profile) and
--    notes' `created_at`; these indexes keep each look an index scan.
DROP TRIGGER IF EXISTS messages_console_changed ON messages;
DROP TRIGGER IF EXISTS chat_history_console_changed ON chat_history;
DROP TRIGGER IF EXISTS conversation_notes_console_changed ON conversation_notes;
DROP FUNCTION IF EXISTS advisor_bot_console_changed();
CREATE INDEX IF NOT EXISTS idx_chat_history_profile_updated_at ON chat_history (profile_updated_at)
    WHERE profile_updated_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_conversation_notes_created_at ON conversation_notes (created_at);

-- 2. The queue's NOTIFY tells workers that a job can start now. An answer job waits
--    DEBOUNCE_SECONDS first, so its NOTIFY woke every worker to find nothing due; workers pick
--    up jobs that become due by polling (every 0.5 s, bot/worker/runner.py). Jobs due at once
--    still NOTIFY. This replaces procrastinate's own trigger of the same name with a narrower
--    condition; its function is untouched. Runs after the queue's schema (QUEUE_SCHEMA_BEFORE).
DROP TRIGGER IF EXISTS procrastinate_jobs_notify_queue_job_inserted_v1 ON procrastinate_jobs;
CREATE TRIGGER procrastinate_jobs_notify_queue_job_inserted_v1
    AFTER INSERT ON procrastinate_jobs
    FOR EACH ROW
    WHEN (NEW.status = 'todo' AND (NEW.scheduled_at IS NULL OR NEW.scheduled_at <= now()))
    EXECUTE FUNCTION procrastinate_notify_queue_job_inserted_v1();
