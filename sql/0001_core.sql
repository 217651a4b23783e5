-- Core schema (gen_random_uuid is built into PostgreSQL 13+). An existing advisors / chat_history / messages of the
-- business's old bot is first brought to this shape in place by `db upgrade` (bot/infra/adoption), so the
-- CREATE TABLE IF NOT EXISTS below skips it and everything after finds the columns it needs.

-- Admins type numbers in many forms ('+57 300 111 2233', 'whatsapp:+1415...'); store E.164-like '+digits'
-- so the webhook's normalised To always finds the row.
CREATE OR REPLACE FUNCTION advisor_bot_normalize_phone(raw text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN raw IS NULL THEN NULL
        ELSE '+' || regexp_replace(regexp_replace(raw, '^\s*whatsapp:', '', 'i'), '[^0-9]', '', 'g')
    END
$$;

CREATE TABLE IF NOT EXISTS advisors (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name varchar(100) NOT NULL,
    phone_number varchar(20) NOT NULL,
    twilio_phone_number varchar(20) UNIQUE NOT NULL,
    is_active boolean DEFAULT true,
    created_at timestamptz DEFAULT now(),
    settings jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS idx_advisors_twilio_phone_number ON advisors (twilio_phone_number);

CREATE OR REPLACE FUNCTION advisor_bot_advisors_normalize() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.phone_number := advisor_bot_normalize_phone(NEW.phone_number);
    NEW.twilio_phone_number := advisor_bot_normalize_phone(NEW.twilio_phone_number);
    IF NEW.twilio_phone_number !~ '^\+[0-9]{6,15}$' THEN
        RAISE EXCEPTION 'advisors.twilio_phone_number % is not a phone number', NEW.twilio_phone_number;
    END IF;
    IF NEW.settings IS NULL THEN
        NEW.settings := '{}'::jsonb;
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS advisors_normalize ON advisors;
CREATE TRIGGER advisors_normalize BEFORE INSERT OR UPDATE ON advisors
    FOR EACH ROW EXECUTE FUNCTION advisor_bot_advisors_normalize();

CREATE TABLE IF NOT EXISTS chat_history (
    conversation_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    advisor_id uuid NOT NULL REFERENCES advisors (id) ON DELETE CASCADE,
    phone_number varchar(20) NOT NULL,
    ai_attention boolean NOT NULL DEFAULT true,
    audio_available boolean NOT NULL DEFAULT false,
    ai_attention_changed_at timestamptz,
    ai_attention_changed_by text,
    handover_reason text,
    last_inbound_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT chat_history_advisor_phone_key UNIQUE (advisor_id, phone_number),
    -- Lets messages reference (conversation, advisor) together, so a row can never mix tenants.
    CONSTRAINT chat_history_conversation_advisor_key UNIQUE (conversation_id, advisor_id)
);
CREATE INDEX IF NOT EXISTS idx_chat_history_advisor_id ON chat_history (advisor_id, updated_at DESC);

CREATE TABLE IF NOT EXISTS messages (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    advisor_id uuid NOT NULL,
    conversation_id uuid NOT NULL,
    direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    author text NOT NULL CHECK (author IN ('customer', 'ai', 'advisor', 'system')),
    body text NOT NULL DEFAULT '',
    media jsonb NOT NULL DEFAULT '[]'::jsonb,
    payload jsonb,
    twilio_sid varchar(64) UNIQUE,
    status text NOT NULL,
    error_code text,
    error_message text,
    reply_to bigint REFERENCES messages (id) ON DELETE SET NULL,
    part smallint,
    processed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (conversation_id, advisor_id)
        REFERENCES chat_history (conversation_id, advisor_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS idx_messages_advisor_id ON messages (advisor_id, conversation_id, id);
CREATE INDEX IF NOT EXISTS idx_messages_unprocessed ON messages (conversation_id, id)
    WHERE direction = 'inbound' AND processed_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_messages_pending_outbound ON messages (conversation_id, id)
    WHERE direction = 'outbound' AND status = 'pending';
