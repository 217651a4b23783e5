-- One row per handover (the agent passing a conversation to its human), for per-day statistics.
CREATE TABLE IF NOT EXISTS handovers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    advisor_id uuid NOT NULL,
    conversation_id uuid NOT NULL,
    reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (conversation_id, advisor_id)
        REFERENCES chat_history (conversation_id, advisor_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS idx_handovers_advisor_id ON handovers (advisor_id, created_at);
CREATE INDEX IF NOT EXISTS idx_messages_advisor_created ON messages (advisor_id, created_at);
