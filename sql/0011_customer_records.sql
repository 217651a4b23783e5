-- Customer records: CRM contacts imported without a phone, consent changes, erasures, history.

-- A contact of the CRM known from an old bot's conversation mapping, with no phone or advisor yet.
-- A conversation is linked to it later by its CRM reference: crm_refs->>'hubspot' = hubspot_id
-- (PUT /api/conversations/{id}/crm), and its profile then reads the prospect's data from here.
CREATE TABLE IF NOT EXISTS crm_contacts (
    hubspot_id text PRIMARY KEY CHECK (length(hubspot_id) BETWEEN 1 AND 200),
    source_conversation_id text,
    prospect jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(prospect) = 'object'),
    source_created_at timestamptz,
    source_updated_at timestamptz,
    imported_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_chat_history_hubspot ON chat_history ((crm_refs ->> 'hubspot'))
    WHERE crm_refs ? 'hubspot';

-- Every change of a customer's marketing consent: when, to what, and by whom (customer, ai,
-- advisor, admin, import). Deleted with the conversation when the customer is erased.
CREATE TABLE IF NOT EXISTS consent_changes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id uuid NOT NULL,
    advisor_id uuid NOT NULL,
    consent boolean NOT NULL,
    changed_by text NOT NULL CHECK (changed_by IN ('customer', 'ai', 'advisor', 'admin', 'import')),
    created_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (conversation_id, advisor_id)
        REFERENCES chat_history (conversation_id, advisor_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS idx_consent_changes_conversation ON consent_changes (conversation_id, id);

-- Who erased a customer, when, and how many rows went: no personal data, by design.
CREATE TABLE IF NOT EXISTS customer_erasures (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    advisor_id uuid NOT NULL,
    erased_by text NOT NULL,
    erased_at timestamptz NOT NULL DEFAULT now(),
    rows_deleted jsonb NOT NULL
);

-- Historical clients: the history job marks customers silent for HISTORICAL_AFTER_DAYS as
-- `inactive` and remembers the stage they had; their next message gives it back (trigger below).
ALTER TABLE customer_profiles ADD COLUMN IF NOT EXISTS inactive_since timestamptz;
ALTER TABLE customer_profiles ADD COLUMN IF NOT EXISTS stage_before_inactive text
    CHECK (stage_before_inactive IN ('new', 'interested', 'booked'));
CREATE INDEX IF NOT EXISTS idx_customer_profiles_last_interaction
    ON customer_profiles (advisor_id, last_interaction_at);

CREATE OR REPLACE FUNCTION advisor_bot_reactivate_customer() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    WITH back AS (
        UPDATE customer_profiles
           SET stage = coalesce(stage_before_inactive, 'new'), stage_before_inactive = NULL,
               inactive_since = NULL, last_interaction_at = NEW.created_at, updated_at = now()
         WHERE conversation_id = NEW.conversation_id AND inactive_since IS NOT NULL
        RETURNING conversation_id
    )
    UPDATE chat_history SET profile_updated_at = now()
     WHERE conversation_id IN (SELECT conversation_id FROM back);
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS advisor_bot_reactivate_customer ON messages;
CREATE TRIGGER advisor_bot_reactivate_customer AFTER INSERT ON messages
    FOR EACH ROW WHEN (NEW.direction = 'inbound') EXECUTE FUNCTION advisor_bot_reactivate_customer();

-- Bulk imports set `advisor_bot.bulk` for their transactions: a million imported customers must
-- not become a million live-console notifications (open pages reload on their next change).
CREATE OR REPLACE FUNCTION advisor_bot_console_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('advisor_bot.bulk', true), '') <> 'on' THEN
        PERFORM pg_notify('advisor_bot_console', NEW.advisor_id::text || ' ' || NEW.conversation_id::text);
    END IF;
    RETURN NULL;
END
$$;
