-- HubSpot sync: what was last pushed for each conversation, and which notes were written.
CREATE TABLE IF NOT EXISTS crm_sync (
    conversation_id uuid PRIMARY KEY,
    advisor_id uuid NOT NULL,
    hubspot_id text NOT NULL,
    synced_profile_at timestamptz,   -- the profile_updated_at last pushed
    noted_through date,              -- days whose conversation is logged as a note
    last_error text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (conversation_id, advisor_id)
        REFERENCES chat_history (conversation_id, advisor_id) ON DELETE CASCADE
);
ALTER TABLE handovers ADD COLUMN IF NOT EXISTS crm_noted_at timestamptz;
