-- Embedding the shared knowledge (documents of no advisor) costs too, and is no one advisor's:
-- such calls are kept with no advisor, as the business's own (docs/costs.md).
ALTER TABLE model_usage ALTER COLUMN advisor_id DROP NOT NULL;
