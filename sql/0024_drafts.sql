-- Draft mode: the AI writes the reply, a person approves it.
--
-- A conversation's own mode (NULL follows the advisor's `ai_mode` setting, itself 'auto' by
-- default). A draft is never a `messages` row until it is approved, so it is never sent and
-- never in the AI's memory (which reads `messages`); approving it records the text that was
-- sent, as written or as edited, as the AI's turn. A newer customer message supersedes it (the
-- webhook's own statement); a draft left for DRAFT_TIMEOUT_MINUTES becomes a hand-over.
ALTER TABLE chat_history ADD COLUMN IF NOT EXISTS ai_mode text
    CONSTRAINT chat_history_ai_mode_known CHECK (ai_mode IS NULL OR ai_mode IN ('auto', 'draft'));

CREATE TABLE IF NOT EXISTS drafts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    advisor_id uuid NOT NULL,
    conversation_id uuid NOT NULL,
    reply_to bigint NOT NULL,          -- the newest customer message it answers
    body text NOT NULL,                -- what the AI wrote
    sources jsonb,                     -- the knowledge passages it used (as messages.sources)
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'approved', 'edited', 'rejected', 'superseded', 'timed_out')),
    sent_body text,                    -- what was sent: the body, or the advisor's edit
    message_id bigint,                 -- the first message it became
    decided_by text,                   -- advisor, admin, whatsapp, system
    decided_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (conversation_id, advisor_id)
        REFERENCES chat_history (conversation_id, advisor_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS idx_drafts_conversation ON drafts (advisor_id, conversation_id, id DESC);
CREATE INDEX IF NOT EXISTS idx_drafts_pending ON drafts (advisor_id, conversation_id)
    WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS idx_drafts_decided ON drafts (advisor_id, decided_at) WHERE decided_at IS NOT NULL;
