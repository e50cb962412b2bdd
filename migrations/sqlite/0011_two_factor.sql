-- TOTP (RFC 6238) as a second factor for local accounts. Secrets are sealed with the data dir's
-- key (`support::sealed`); recovery codes are stored as SHA-256 hashes and used once.
ALTER TABLE users ADD COLUMN totp_secret BLOB;                          -- NULL: no second factor
ALTER TABLE users ADD COLUMN totp_pending BLOB;                         -- a secret being set up
ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0; -- a code's time step is accepted once

CREATE TABLE recovery_codes (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT    NOT NULL,
    used_at   INTEGER
);
CREATE INDEX recovery_codes_by_user ON recovery_codes (user_id);
