-- Where an AI answer came from: the knowledge passages its searches returned in that turn, in
-- the order they ranked ([{"document": "catalogo.md", "passage_id": 12, "rank": 1}, …]). Shown
-- under the AI's bubble in the console and returned by the API; NULL for every other message.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS sources jsonb;
