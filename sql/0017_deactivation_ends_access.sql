-- A deactivation ends the advisor's access for good, in its own transaction, however it is made.
--
-- Deactivation used to hide sessions (each request checks `is_active`) without ending them, so
-- `advisors activate` revived every session of the last 12 hours, a lost laptop's included, and
-- unspent sign-in links worked again. This trigger ends the advisor's console sessions, spends
-- their open sign-in links and revokes their API tokens in the very transaction that sets
-- `is_active` to false: the CLI, the console, the API and a plain SQL `UPDATE` alike. Activating
-- again brings none of it back; the advisor signs in afresh.
CREATE OR REPLACE FUNCTION advisor_bot_deactivation_ends_access() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE console_sessions SET ended_at = now() WHERE advisor_id = NEW.id AND ended_at IS NULL;
    UPDATE console_links SET used_at = now() WHERE advisor_id = NEW.id AND used_at IS NULL;
    UPDATE advisor_tokens SET revoked_at = now() WHERE advisor_id = NEW.id AND revoked_at IS NULL;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS advisors_deactivation_ends_access ON advisors;
CREATE TRIGGER advisors_deactivation_ends_access AFTER UPDATE OF is_active ON advisors
    FOR EACH ROW WHEN (OLD.is_active IS DISTINCT FROM false AND NEW.is_active IS NOT TRUE)
    EXECUTE FUNCTION advisor_bot_deactivation_ends_access();

-- Advisors inactive today: what they left open is ended now.
UPDATE console_sessions s SET ended_at = now()
FROM advisors a
WHERE a.id = s.advisor_id AND a.is_active IS NOT TRUE AND s.ended_at IS NULL;
UPDATE console_links l SET used_at = now()
FROM advisors a
WHERE a.id = l.advisor_id AND a.is_active IS NOT TRUE AND l.used_at IS NULL;
