-- What a customer's media said (a voice note's transcript), or why it could not be understood.
ALTER TABLE messages
    ADD COLUMN IF NOT EXISTS transcript text,
    ADD COLUMN IF NOT EXISTS media_error text;
