-- Hand-overs that always reach the advisor, or say why they could not.
--
-- WhatsApp refuses free text (error 63016) from the advisor's Twilio number when the advisor
-- has not written to it in 24 hours, so a notice then goes as an approved template, whose
-- variables are kept with it; with no template it is not attempted ('undeliverable') and the
-- console shows it. Each hand-over keeps its brief (what the customer wants, what is known,
-- what the AI told them, the kind) and the notice that told the advisor.
ALTER TABLE handovers ADD COLUMN IF NOT EXISTS brief jsonb;
ALTER TABLE handovers ADD COLUMN IF NOT EXISTS notice_id bigint;
ALTER TABLE advisor_channel ADD COLUMN IF NOT EXISTS template_variables jsonb;
-- The advisor's own window: their latest message to their Twilio number.
CREATE INDEX IF NOT EXISTS idx_advisor_channel_inbound
    ON advisor_channel (advisor_id, created_at DESC) WHERE direction = 'inbound';
