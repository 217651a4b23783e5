-- Seed 000's conversation_mappings.json, one row per conversation as the file keys it: the old
-- bot's conversation id → the HubSpot contact and the prospect's data. Keyed by HubSpot id alone
-- (crm_contacts), a contact's second conversation replaced the first one's mapping. crm_contacts
-- stays the contact as a profile reads it (the newest mapping of each HubSpot id).
CREATE TABLE IF NOT EXISTS conversation_mappings (
    conversation_id text PRIMARY KEY CHECK (length(conversation_id) BETWEEN 1 AND 200),
    hubspot_id text NOT NULL CHECK (length(hubspot_id) BETWEEN 1 AND 200),
    prospect jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(prospect) = 'object'),
    source_created_at timestamptz,
    source_updated_at timestamptz,
    imported_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_conversation_mappings_hubspot ON conversation_mappings (hubspot_id);

-- The mappings imported before this table existed: each contact's one kept conversation.
INSERT INTO conversation_mappings
    (conversation_id, hubspot_id, prospect, source_created_at, source_updated_at, imported_at)
SELECT source_conversation_id, hubspot_id, prospect, source_created_at, source_updated_at, imported_at
  FROM crm_contacts
 WHERE source_conversation_id IS NOT NULL AND length(source_conversation_id) BETWEEN 1 AND 200
ON CONFLICT (conversation_id) DO NOTHING;

-- The old bot's ids of a conversation adopted from its tables (several when its rows were merged;
-- bot/infra/adoption fills it): a mapping belongs to the advisor whose conversation holds its id.
ALTER TABLE chat_history ADD COLUMN IF NOT EXISTS legacy_conversation_ids text[] NOT NULL DEFAULT '{}';
CREATE INDEX IF NOT EXISTS idx_chat_history_legacy_conversation_ids ON chat_history
    USING gin (legacy_conversation_ids) WHERE legacy_conversation_ids <> '{}';
