-- What the outside probe found in administration: seeds, deactivated advisors and their tokens.

-- 1. A seed may write a number as '+1 415 555 0102', '+57 (300) 111-2233', '00573001112233' or
--    'whatsapp:+14155550102'. varchar(20) refused the longer forms before the normalising trigger
--    ran, so the columns become text; the trigger normalises, then the CHECKs hold the E.164 form.
ALTER TABLE advisors ALTER COLUMN phone_number TYPE text, ALTER COLUMN twilio_phone_number TYPE text;
ALTER TABLE advisors DROP CONSTRAINT IF EXISTS advisors_phone_number_e164;
ALTER TABLE advisors ADD CONSTRAINT advisors_phone_number_e164
    CHECK (phone_number ~ '^\+[1-9][0-9]{6,14}$') NOT VALID;
ALTER TABLE advisors DROP CONSTRAINT IF EXISTS advisors_twilio_phone_number_e164;
ALTER TABLE advisors ADD CONSTRAINT advisors_twilio_phone_number_e164
    CHECK (twilio_phone_number ~ '^\+[1-9][0-9]{6,14}$') NOT VALID;

-- A number without '+' (or the international '00') has no country: '310 555 0103' could be
-- Colombia or the United States. Guessing stored +3105550103, a number nobody owns; refuse it,
-- naming the row and the value.
CREATE OR REPLACE FUNCTION advisor_bot_e164(raw text, advisor_name text, field text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    bare text;
    digits text;
BEGIN
    IF raw IS NULL THEN
        RETURN NULL;
    END IF;
    bare := btrim(regexp_replace(raw, '^\s*whatsapp:', '', 'i'));
    IF bare ~ '[^0-9+ ().\-]' THEN
        RAISE EXCEPTION 'advisor "%": % "%" is not a phone number', advisor_name, field, raw
            USING ERRCODE = 'check_violation',
                  HINT = 'Write it as +<country code><number>, e.g. +573001112233.';
    END IF;
    digits := regexp_replace(bare, '[^0-9]', '', 'g');
    IF left(bare, 1) = '+' THEN
        NULL;
    ELSIF left(bare, 2) = '00' THEN
        digits := substr(digits, 3);
    ELSE
        RAISE EXCEPTION 'advisor "%": % "%" has no country code', advisor_name, field, raw
            USING ERRCODE = 'check_violation',
                  HINT = 'Write it as +<country code><number>, e.g. +573001112233.';
    END IF;
    IF digits !~ '^[1-9][0-9]{6,14}$' THEN
        RAISE EXCEPTION 'advisor "%": % "%" is not a phone number (7 to 15 digits after +)',
            advisor_name, field, raw
            USING ERRCODE = 'check_violation',
                  HINT = 'Write it as +<country code><number>, e.g. +573001112233.';
    END IF;
    RETURN '+' || digits;
END
$$;

-- 2. A Twilio number that is also someone's personal phone makes the advisor's own commands and
--    a customer's messages indistinguishable: refuse the conflict in both directions.
CREATE OR REPLACE FUNCTION advisor_bot_advisors_normalize() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    other text;
BEGIN
    NEW.phone_number := advisor_bot_e164(NEW.phone_number, NEW.name, 'phone_number');
    NEW.twilio_phone_number := advisor_bot_e164(NEW.twilio_phone_number, NEW.name, 'twilio_phone_number');
    IF NEW.phone_number = NEW.twilio_phone_number THEN
        RAISE EXCEPTION 'advisor "%": phone_number and twilio_phone_number are both %',
            NEW.name, NEW.phone_number
            USING ERRCODE = 'unique_violation',
                  HINT = 'phone_number is the advisor''s own phone; twilio_phone_number the WhatsApp sender customers write to.';
    END IF;
    SELECT name INTO other FROM advisors
        WHERE phone_number = NEW.twilio_phone_number AND id IS DISTINCT FROM NEW.id LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'advisor "%": twilio_phone_number % is the personal phone of advisor "%"',
            NEW.name, NEW.twilio_phone_number, other
            USING ERRCODE = 'unique_violation';
    END IF;
    SELECT name INTO other FROM advisors
        WHERE twilio_phone_number = NEW.phone_number AND id IS DISTINCT FROM NEW.id LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'advisor "%": phone_number % is the Twilio number of advisor "%"',
            NEW.name, NEW.phone_number, other
            USING ERRCODE = 'unique_violation';
    END IF;
    IF NEW.settings IS NULL THEN
        NEW.settings := '{}'::jsonb;
    END IF;
    RETURN NEW;
END
$$;

-- 3. Tokens: a label, when each was last used, and every change announced like an advisor change,
--    so a revoked token stops working in every process within seconds.
ALTER TABLE advisor_tokens
    ADD COLUMN IF NOT EXISTS label text,
    ADD COLUMN IF NOT EXISTS last_used_at timestamptz;

CREATE OR REPLACE FUNCTION advisor_bot_tokens_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('advisor_bot_advisors', coalesce(
        (SELECT twilio_phone_number FROM advisors WHERE id = coalesce(NEW.advisor_id, OLD.advisor_id)), ''));
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS advisor_tokens_changed ON advisor_tokens;
CREATE TRIGGER advisor_tokens_changed AFTER UPDATE OF revoked_at OR DELETE ON advisor_tokens
    FOR EACH ROW EXECUTE FUNCTION advisor_bot_tokens_changed();
