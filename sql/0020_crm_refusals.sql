-- HubSpot refusals are remembered, so they never stall the sync.
--
-- A refused push used to record its error only for a conversation synced before: the same
-- refused contacts came first in every pass (57,600 requests a day for 200 of them) and every
-- contact after them was never pushed. Now each refusal is kept: the refused profile version is
-- tried again only once the profile changes, or after a backoff that doubles up to a day; and
-- every batch takes the oldest attempts first. Hand-over and day notes back off the same way.
CREATE TABLE IF NOT EXISTS crm_attempts (
    conversation_id uuid PRIMARY KEY,
    advisor_id uuid NOT NULL,
    refused_profile_at timestamptz NOT NULL,  -- the profile version HubSpot refused
    attempts integer NOT NULL DEFAULT 1,
    last_error text,
    last_attempt_at timestamptz NOT NULL DEFAULT now(),
    retry_after timestamptz NOT NULL,
    FOREIGN KEY (conversation_id, advisor_id)
        REFERENCES chat_history (conversation_id, advisor_id) ON DELETE CASCADE
);
ALTER TABLE handovers ADD COLUMN IF NOT EXISTS crm_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE handovers ADD COLUMN IF NOT EXISTS crm_retry_after timestamptz;
ALTER TABLE crm_sync ADD COLUMN IF NOT EXISTS note_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE crm_sync ADD COLUMN IF NOT EXISTS notes_retry_after timestamptz;
