-- Events for the business's receivers are stored here and their delivery jobs carry only the id:
-- the job queue logs a failed job's arguments, and an event holds customer numbers and texts.
CREATE TABLE IF NOT EXISTS advisor_bot_events (
    id text PRIMARY KEY,
    body jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_advisor_bot_events_created_at ON advisor_bot_events (created_at);
