-- Campaigns stop when their advisor is deactivated, and are bounded.
--
-- A campaign whose advisor is deactivated mid-way is `held` with the reason; nothing more is sent
-- from the number (the worker checks before each send). A recipient who got the same template
-- within CAMPAIGN_REPEAT_HOURS is skipped (`recently_sent`); five identical campaigns in a row
-- once sent one customer the same template five times in five seconds.
ALTER TABLE campaigns DROP CONSTRAINT IF EXISTS campaigns_status_check;
ALTER TABLE campaigns ADD CONSTRAINT campaigns_status_check CHECK (status IN ('sending', 'finished', 'held'));
ALTER TABLE campaigns ADD COLUMN IF NOT EXISTS held_reason text;
-- The repeat check: this customer's templates, newest first.
CREATE INDEX IF NOT EXISTS idx_messages_templates
    ON messages (advisor_id, conversation_id, (payload ->> 'content_sid'), created_at)
    WHERE payload ? 'content_sid';
-- The daily cap: an advisor's campaigns by when they were made.
CREATE INDEX IF NOT EXISTS idx_campaigns_advisor_created ON campaigns (advisor_id, created_at);
