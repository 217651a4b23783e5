-- Media this server publishes for Twilio to fetch (voice replies), when MEDIA_BACKEND=database:
-- every web process reaches them, whichever machine's worker wrote them. Deleted after
-- MEDIA_RETENTION_HOURS by the media clean-up job.
CREATE TABLE IF NOT EXISTS media_files (
    name text PRIMARY KEY CHECK (name ~ '^[a-z0-9_.-]{8,100}$'),
    content_type text NOT NULL,
    data bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_media_files_created ON media_files (created_at);
