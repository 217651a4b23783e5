-- Every hand-over says which kind it is, so an evaluation can check the agent chose the right
-- one and the statistics can count them per kind. Rows from before this migration have none.
ALTER TABLE handovers ADD COLUMN IF NOT EXISTS category text
    CONSTRAINT handovers_category_known CHECK (
        category IS NULL OR category IN (
            'customer_request', 'missing_knowledge', 'negotiation', 'complaint',
            'out_of_scope', 'after_hours', 'tool_failure', 'loop'
        )
    );
