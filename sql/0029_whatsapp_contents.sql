-- The Twilio Content (quick replies, list pickers) the AI or an advisor offered, created once per
-- distinct shape: the next offer of the same question and options reuses its ContentSid instead
-- of creating it again (bot/worker/choices.py). Keyed by a hash of what is created; the Twilio
-- account is one for every advisor, so the content is too.
CREATE TABLE IF NOT EXISTS whatsapp_contents (
    shape_hash text PRIMARY KEY CHECK (length(shape_hash) = 64),
    content_sid text NOT NULL CHECK (content_sid ~ '^HX[0-9a-fA-F]{32}$'),
    kind text NOT NULL CHECK (kind IN ('quick_reply', 'list')),
    created_at timestamptz NOT NULL DEFAULT now()
);
