-- How many times a worker started on each customer message. A message that fails every time (a
-- "poison" message) is marked failed once this reaches JOB_MAX_ATTEMPTS, instead of being retried
-- by the recovery sweep for ever and holding up the conversation behind it.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS attempts integer NOT NULL DEFAULT 0;
