-- The web console: who the customer is by name, sign-in links and sessions, internal notes,
-- message search, and a notification on every change a console page may be showing.

-- The customer's WhatsApp profile name (Twilio's ProfileName), the inbox's name until a better
-- one is known.
ALTER TABLE chat_history ADD COLUMN IF NOT EXISTS profile_name text;
CREATE INDEX IF NOT EXISTS idx_chat_history_updated_at ON chat_history (updated_at);

-- Single-use sign-in links (`advisor-bot console link`, `#web`): stored as SHA-256, like tokens.
CREATE TABLE IF NOT EXISTS console_links (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    advisor_id uuid NOT NULL REFERENCES advisors (id) ON DELETE CASCADE,
    link_sha256 char(64) NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
CREATE INDEX IF NOT EXISTS idx_console_links_advisor_id ON console_links (advisor_id);

-- Console sessions: the cookie holds a random id (signed); only its hash is stored. An advisor's
-- session is valid while the advisor is active and, when it began with an API token, while that
-- token is unrevoked: checked on every request, so a deactivation ends it at once everywhere.
CREATE TABLE IF NOT EXISTS console_sessions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_sha256 char(64) NOT NULL UNIQUE,
    advisor_id uuid REFERENCES advisors (id) ON DELETE CASCADE,  -- NULL: the admin
    token_id bigint REFERENCES advisor_tokens (id) ON DELETE CASCADE,
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    ended_at timestamptz
);
CREATE INDEX IF NOT EXISTS idx_console_sessions_advisor_id ON console_sessions (advisor_id);

-- The key that signs session cookies, the same for every process; made once, here.
CREATE TABLE IF NOT EXISTS console_keys (
    name text PRIMARY KEY,
    secret text NOT NULL
);
INSERT INTO console_keys (name, secret)
VALUES ('cookie', replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''))
ON CONFLICT (name) DO NOTHING;

-- Internal notes: written by advisors about a conversation, never sent to the customer.
CREATE TABLE IF NOT EXISTS conversation_notes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    advisor_id uuid NOT NULL,
    conversation_id uuid NOT NULL,
    author text NOT NULL,
    body text NOT NULL CHECK (length(body) BETWEEN 1 AND 4000),
    created_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (conversation_id, advisor_id)
        REFERENCES chat_history (conversation_id, advisor_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS idx_conversation_notes ON conversation_notes (advisor_id, conversation_id, id);

-- Message search: Spanish stemming ("precios" finds "precio") and a simple configuration for
-- codes, names and words Spanish would stem away. The query repeats this exact expression.
CREATE INDEX IF NOT EXISTS idx_messages_search ON messages USING gin (
    (to_tsvector('spanish'::regconfig, body) || to_tsvector('simple'::regconfig, body))
);
-- Behind a transaction pooler (no LISTEN) the console polls for changes by time.
CREATE INDEX IF NOT EXISTS idx_messages_updated_at ON messages (updated_at);

-- Live console: every change to a conversation or its messages names the conversation on one
-- channel; each web process LISTENs and tells the open pages of that advisor (or the admin).
CREATE OR REPLACE FUNCTION advisor_bot_console_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('advisor_bot_console', NEW.advisor_id::text || ' ' || NEW.conversation_id::text);
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS messages_console_changed ON messages;
CREATE TRIGGER messages_console_changed AFTER INSERT OR UPDATE ON messages
    FOR EACH ROW EXECUTE FUNCTION advisor_bot_console_changed();
DROP TRIGGER IF EXISTS chat_history_console_changed ON chat_history;
CREATE TRIGGER chat_history_console_changed AFTER INSERT OR UPDATE ON chat_history
    FOR EACH ROW EXECUTE FUNCTION advisor_bot_console_changed();
DROP TRIGGER IF EXISTS conversation_notes_console_changed ON conversation_notes;
CREATE TRIGGER conversation_notes_console_changed AFTER INSERT ON conversation_notes
    FOR EACH ROW EXECUTE FUNCTION advisor_bot_console_changed();
