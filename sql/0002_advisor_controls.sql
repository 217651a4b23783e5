-- Advisor controls: opt-out, manual replies, CRM references, the advisor's own command channel,
-- per-advisor API tokens, delivery-status ordering, and cache invalidation by NOTIFY.

ALTER TABLE chat_history
    ADD COLUMN IF NOT EXISTS opted_out boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS opted_out_at timestamptz,
    ADD COLUMN IF NOT EXISTS last_advisor_message_at timestamptz,
    ADD COLUMN IF NOT EXISTS crm_refs jsonb NOT NULL DEFAULT '{}'::jsonb;
CREATE INDEX IF NOT EXISTS idx_chat_history_crm_refs ON chat_history USING gin (crm_refs jsonb_path_ops);
CREATE INDEX IF NOT EXISTS idx_chat_history_waiting ON chat_history (advisor_id, updated_at DESC)
    WHERE NOT ai_attention;

-- Messages between an advisor's personal number and their Twilio number: commands in, notices out.
-- Kept apart from `messages`, which holds only customer conversations.
CREATE TABLE IF NOT EXISTS advisor_channel (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    advisor_id uuid NOT NULL REFERENCES advisors (id) ON DELETE CASCADE,
    direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    body text NOT NULL,
    reply text,
    twilio_sid varchar(64) UNIQUE,
    status text NOT NULL,
    error_code text,
    error_message text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_advisor_channel_advisor_id ON advisor_channel (advisor_id, id);

CREATE TABLE IF NOT EXISTS advisor_tokens (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    advisor_id uuid NOT NULL REFERENCES advisors (id) ON DELETE CASCADE,
    token_sha256 char(64) NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX IF NOT EXISTS idx_advisor_tokens_advisor_id ON advisor_tokens (advisor_id);

-- Delivery statuses only move forward: a late 'sent' never overwrites 'read'.
CREATE OR REPLACE FUNCTION advisor_bot_status_rank(status text) RETURNS int
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE status
        WHEN 'pending' THEN 0
        WHEN 'dry_run' THEN 1
        WHEN 'accepted' THEN 1
        WHEN 'queued' THEN 2
        WHEN 'sending' THEN 3
        WHEN 'sent' THEN 4
        WHEN 'delivered' THEN 5
        WHEN 'undelivered' THEN 5
        WHEN 'failed' THEN 6
        WHEN 'read' THEN 6
        ELSE -1
    END
$$;

-- Every process LISTENs on this channel and drops the cached entry of the numbers named.
CREATE OR REPLACE FUNCTION advisor_bot_advisors_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM pg_notify('advisor_bot_advisors', OLD.twilio_phone_number);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM pg_notify('advisor_bot_advisors', NEW.twilio_phone_number);
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS advisors_changed ON advisors;
CREATE TRIGGER advisors_changed AFTER INSERT OR UPDATE OR DELETE ON advisors
    FOR EACH ROW EXECUTE FUNCTION advisor_bot_advisors_changed();
