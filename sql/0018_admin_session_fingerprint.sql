-- An admin's console session is bound to the ADMIN_TOKEN it began with.
--
-- Rotating ADMIN_TOKEN (it leaked, someone left) used to leave every admin session valid for its
-- remaining 12 hours. Each admin session now stores a fingerprint of the token it signed in with
-- (an HMAC keyed by the cookie key, never the token), and a session whose fingerprint is not the
-- current token's is refused: rotating the token ends them all. Admin sessions from before this
-- column have none, so they end too (the admin signs in again once).
ALTER TABLE console_sessions ADD COLUMN IF NOT EXISTS admin_fingerprint text;
