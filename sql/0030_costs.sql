-- What the AI earns and what it costs (bot/infra/pricing.py). Every outbound message keeps the
-- category WhatsApp bills it by, the recipient's country and what it cost when Twilio accepted
-- it (Meta's charge and Twilio's fee apart); every model call keeps its tokens (cached prompt
-- tokens apart), its audio seconds or spoken characters, and its cost. Costs are stored when
-- they are spent, in USD: a later change of prices never rewrites them.
ALTER TABLE messages
    ADD COLUMN IF NOT EXISTS billing_category text
        CHECK (billing_category IN ('service', 'utility', 'marketing', 'authentication')),
    ADD COLUMN IF NOT EXISTS billing_country text,
    ADD COLUMN IF NOT EXISTS whatsapp_cost_usd numeric(12, 6),
    ADD COLUMN IF NOT EXISTS twilio_cost_usd numeric(12, 6);

CREATE TABLE IF NOT EXISTS model_usage (
    id bigserial PRIMARY KEY,
    advisor_id uuid NOT NULL REFERENCES advisors (id) ON DELETE CASCADE,
    -- none for work of no one conversation, or once the customer was erased: what was spent
    -- stays spent (the advisor's costs keep it), only the link to the person goes.
    conversation_id uuid,
    purpose text NOT NULL
        CHECK (purpose IN ('answer', 'summary', 'embedding', 'transcription', 'speech', 'other')),
    model text NOT NULL,
    prompt_tokens integer NOT NULL DEFAULT 0,
    cached_tokens integer NOT NULL DEFAULT 0,
    completion_tokens integer NOT NULL DEFAULT 0,
    audio_seconds real NOT NULL DEFAULT 0,
    characters integer NOT NULL DEFAULT 0,
    cost_usd numeric(12, 6) NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (conversation_id, advisor_id)
        REFERENCES chat_history (conversation_id, advisor_id) ON DELETE SET NULL (conversation_id)
);
CREATE INDEX IF NOT EXISTS model_usage_by_advisor_day ON model_usage (advisor_id, created_at);
CREATE INDEX IF NOT EXISTS model_usage_by_conversation ON model_usage (advisor_id, conversation_id)
    WHERE conversation_id IS NOT NULL;

-- The advisors' own notices (hand-overs, drafts, the morning summary) are billed messages too.
ALTER TABLE advisor_channel
    ADD COLUMN IF NOT EXISTS billing_category text
        CHECK (billing_category IN ('service', 'utility', 'marketing', 'authentication')),
    ADD COLUMN IF NOT EXISTS billing_country text,
    ADD COLUMN IF NOT EXISTS whatsapp_cost_usd numeric(12, 6),
    ADD COLUMN IF NOT EXISTS twilio_cost_usd numeric(12, 6);
