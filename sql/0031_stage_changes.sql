-- Every change of a customer's sales stage, whoever made it (the agent's tool, the API, the
-- console, an import): the outcomes (bench-free figures of what the AI brought: booked with or
-- without a person, the funnel new → interested → booked, who came back after booking) are
-- counted from these rows, so each can be checked from the tables (docs/outcomes.md). Written
-- by a trigger, so no writer can forget it; profiles already past `new` get one row, dated at
-- their last update, when this file is applied.
CREATE TABLE IF NOT EXISTS stage_changes (
    id bigserial PRIMARY KEY,
    advisor_id uuid NOT NULL,
    conversation_id uuid NOT NULL,
    stage_from text,
    stage text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (conversation_id, advisor_id)
        REFERENCES chat_history (conversation_id, advisor_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS stage_changes_by_advisor ON stage_changes (advisor_id, stage, created_at);

CREATE OR REPLACE FUNCTION advisor_bot_note_stage_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' AND NEW.stage <> 'new' THEN
        INSERT INTO stage_changes (advisor_id, conversation_id, stage_from, stage)
        VALUES (NEW.advisor_id, NEW.conversation_id, NULL, NEW.stage);
    ELSIF TG_OP = 'UPDATE' AND NEW.stage IS DISTINCT FROM OLD.stage THEN
        INSERT INTO stage_changes (advisor_id, conversation_id, stage_from, stage)
        VALUES (NEW.advisor_id, NEW.conversation_id, OLD.stage, NEW.stage);
    END IF;
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS customer_profiles_stage_changes ON customer_profiles;
CREATE TRIGGER customer_profiles_stage_changes
    AFTER INSERT OR UPDATE OF stage ON customer_profiles
    FOR EACH ROW EXECUTE FUNCTION advisor_bot_note_stage_change();

INSERT INTO stage_changes (advisor_id, conversation_id, stage_from, stage, created_at)
SELECT p.advisor_id, p.conversation_id, NULL, p.stage, p.updated_at
  FROM customer_profiles p
 WHERE p.stage <> 'new'
   AND NOT EXISTS (SELECT 1 FROM stage_changes s WHERE s.conversation_id = p.conversation_id);
