-- Who the customer is, per advisor + customer (the same customer writing to two advisors has two
-- profiles). A row exists once something is known beyond what the conversation already holds:
-- until then the profile is read from chat_history (WhatsApp profile name, first and last message).
CREATE TABLE IF NOT EXISTS customer_profiles (
    conversation_id uuid PRIMARY KEY,
    advisor_id uuid NOT NULL,
    name text CHECK (length(name) <= 200),
    labels jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(labels) = 'array'),
    notes text CHECK (length(notes) <= 8000),
    data jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(data) = 'object'),
    stage text NOT NULL DEFAULT 'new' CHECK (stage IN ('new', 'interested', 'booked', 'inactive')),
    marketing_consent boolean NOT NULL DEFAULT false,
    first_interaction_at timestamptz,
    last_interaction_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (conversation_id, advisor_id)
        REFERENCES chat_history (conversation_id, advisor_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS idx_customer_profiles_labels ON customer_profiles USING gin (labels jsonb_path_ops);
CREATE INDEX IF NOT EXISTS idx_customer_profiles_advisor_stage ON customer_profiles (advisor_id, stage);

-- When the profile last changed, on the conversation row the worker reads anyway: the rendered
-- profile in the agent's prompt is cached under it, so a change anywhere is seen at the next turn.
ALTER TABLE chat_history ADD COLUMN IF NOT EXISTS profile_updated_at timestamptz;
