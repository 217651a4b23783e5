-- The AI's running summary of each conversation, kept with the records as well as in its
-- memory (the checkpoints): the summary is something held about the customer, so the customer's
-- export must include it, and the web side that serves the export never reads LangGraph's
-- checkpoints. The worker writes it in the statement that ends a turn whenever a fold moved it;
-- `advisor-bot db upgrade` copies the summaries already in the checkpoints once.
CREATE TABLE IF NOT EXISTS conversation_summaries (
    advisor_id uuid NOT NULL,
    conversation_id uuid NOT NULL,
    summary text NOT NULL,
    through_message_id bigint NOT NULL,  -- the newest message the summary covers
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (advisor_id, conversation_id),
    FOREIGN KEY (conversation_id, advisor_id)
        REFERENCES chat_history (conversation_id, advisor_id) ON DELETE CASCADE
);
