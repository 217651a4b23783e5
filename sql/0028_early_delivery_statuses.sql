-- A delivery status can reach /webhooks/twilio/status before the worker has stored Twilio's answer
-- to the send (the SID): Twilio calls back as soon as it has queued or delivered the message, and
-- the worker's commit may come later. Such a status was lost, and the message stayed 'queued'
-- for ever. It is kept here and applied when the SID is stored (the trigger below), whichever of
-- the two commits first: both take the same transaction lock on the SID. A status no stored
-- message ever claims (a send of another system from the same number) is dropped after a day.
CREATE TABLE IF NOT EXISTS early_delivery_statuses (
    advisor_id uuid NOT NULL REFERENCES advisors (id) ON DELETE CASCADE,
    twilio_sid varchar(64) NOT NULL,
    status text NOT NULL,
    error_code text,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (advisor_id, twilio_sid, status)
);
CREATE INDEX IF NOT EXISTS idx_early_delivery_statuses_received ON early_delivery_statuses (received_at);

CREATE OR REPLACE FUNCTION advisor_bot_status_lock(sid text) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(hashtext('advisor_bot_status:' || sid))
$$;

CREATE OR REPLACE FUNCTION advisor_bot_apply_early_status() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    early record;
BEGIN
    IF NEW.twilio_sid IS NULL OR NEW.direction <> 'outbound'
       OR (TG_OP = 'UPDATE' AND OLD.twilio_sid IS NOT DISTINCT FROM NEW.twilio_sid) THEN
        RETURN NEW;
    END IF;
    PERFORM advisor_bot_status_lock(NEW.twilio_sid);
    FOR early IN
        DELETE FROM early_delivery_statuses
         WHERE advisor_id = NEW.advisor_id AND twilio_sid = NEW.twilio_sid
        RETURNING status, error_code
    LOOP
        IF advisor_bot_status_rank(early.status) > advisor_bot_status_rank(NEW.status) THEN
            NEW.status := early.status;
            NEW.error_code := coalesce(early.error_code, NEW.error_code);
        END IF;
    END LOOP;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS messages_early_status ON messages;
CREATE TRIGGER messages_early_status BEFORE INSERT OR UPDATE OF twilio_sid ON messages
    FOR EACH ROW EXECUTE FUNCTION advisor_bot_apply_early_status();
DROP TRIGGER IF EXISTS advisor_channel_early_status ON advisor_channel;
CREATE TRIGGER advisor_channel_early_status BEFORE INSERT OR UPDATE OF twilio_sid ON advisor_channel
    FOR EACH ROW EXECUTE FUNCTION advisor_bot_apply_early_status();
