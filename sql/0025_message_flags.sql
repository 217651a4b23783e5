-- Advisors' feedback on the AI: a flag on one AI message says what was wrong with it, so the
-- business sees per advisor and kind where the AI errs (dashboard, stats, CSV) and which answers
-- to fix in the knowledge or the instructions. The same message may be flagged more than once
-- (by the advisor and by an admin, or for two reasons).
CREATE TABLE IF NOT EXISTS message_flags (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    advisor_id uuid NOT NULL,
    conversation_id uuid NOT NULL,
    message_id bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    category text NOT NULL
        CONSTRAINT message_flags_category_known
        CHECK (category IN ('incorrect', 'inappropriate', 'incomplete', 'outdated', 'other')),
    comment text,
    flagged_by text NOT NULL,          -- advisor or admin
    created_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (conversation_id, advisor_id)
        REFERENCES chat_history (conversation_id, advisor_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS idx_message_flags_message ON message_flags (advisor_id, message_id);
CREATE INDEX IF NOT EXISTS idx_message_flags_created ON message_flags (advisor_id, created_at);
