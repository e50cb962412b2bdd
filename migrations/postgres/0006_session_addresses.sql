-- The address each session signed in from: lockout protection never bans an address an
-- administrator is signed in from without an explicit confirmation.
ALTER TABLE sessions ADD COLUMN address TEXT NOT NULL DEFAULT '';
