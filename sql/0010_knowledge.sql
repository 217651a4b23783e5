-- What the business sells: documents per advisor (advisor_id NULL: shared by all advisors), split
-- into passages searched with full-text search. Accents are folded by a plain SQL function rather
-- than the unaccent extension, which the embedded PostgreSQL does not ship: the same everywhere.
CREATE OR REPLACE FUNCTION advisor_bot_fold(raw text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT translate(lower(raw), 'áàäâãéèëêíìïîóòöôõúùüûñç', 'aaaaaeeeeiiiiooooouuuunc')
$$;

CREATE TABLE IF NOT EXISTS knowledge_documents (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    advisor_id uuid REFERENCES advisors (id) ON DELETE CASCADE,
    source text NOT NULL CHECK (length(source) BETWEEN 1 AND 500),
    content_sha256 char(64) NOT NULL,
    passages integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT knowledge_documents_source_key UNIQUE NULLS NOT DISTINCT (advisor_id, source)
);

CREATE TABLE IF NOT EXISTS knowledge_passages (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    document_id bigint NOT NULL REFERENCES knowledge_documents (id) ON DELETE CASCADE,
    advisor_id uuid REFERENCES advisors (id) ON DELETE CASCADE,
    position integer NOT NULL,
    body text NOT NULL,
    search tsvector GENERATED ALWAYS AS (
        to_tsvector('spanish'::regconfig, advisor_bot_fold(body))
        || to_tsvector('simple'::regconfig, advisor_bot_fold(body))
    ) STORED
);
CREATE INDEX IF NOT EXISTS idx_knowledge_passages_search ON knowledge_passages USING gin (search);
CREATE INDEX IF NOT EXISTS idx_knowledge_passages_document ON knowledge_passages (document_id, position);
CREATE INDEX IF NOT EXISTS idx_knowledge_passages_advisor ON knowledge_passages (advisor_id);
