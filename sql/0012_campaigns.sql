-- Re-engagement campaigns: an approved template to a filtered list of one advisor's customers,
-- sent by the job queue at a bounded rate; each recipient's fate, each send a `messages` row.
CREATE TABLE IF NOT EXISTS campaigns (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    advisor_id uuid NOT NULL REFERENCES advisors (id) ON DELETE CASCADE,
    content_sid text NOT NULL,
    variables jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(variables) = 'object'),
    filters jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_by text NOT NULL,
    status text NOT NULL DEFAULT 'sending' CHECK (status IN ('sending', 'finished')),
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);

-- Deleted with the conversation when the customer is erased.
CREATE TABLE IF NOT EXISTS campaign_recipients (
    campaign_id bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    conversation_id uuid NOT NULL,
    advisor_id uuid NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'skipped', 'failed')),
    reason text,
    message_id bigint,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign_id, conversation_id),
    FOREIGN KEY (conversation_id, advisor_id)
        REFERENCES chat_history (conversation_id, advisor_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS idx_campaign_recipients_pending ON campaign_recipients (campaign_id)
    WHERE status = 'pending';
