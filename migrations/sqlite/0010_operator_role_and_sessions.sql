-- The `operator` role (users and API tokens), and what the Sessions page shows of a session.
-- SQLite cannot change a CHECK constraint in place: `users` and `api_tokens` are rebuilt, as
-- SQLite's documentation prescribes, with foreign keys off (migrations run on a connection of
-- their own that has them off, so dropping the old `users` does not cascade into `sessions`;
-- `db::connect` checks the keys afterwards).

CREATE TABLE users_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,            -- argon2id PHC string
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    created_at    INTEGER NOT NULL
);
INSERT INTO users_new (id, username, password_hash, role, created_at) SELECT id, username, password_hash, role, created_at FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;

CREATE TABLE api_tokens_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,      -- SHA-256 of the token; tokens are 256-bit random
    prefix       TEXT    NOT NULL,             -- first characters, for recognising a token in lists
    role         TEXT    NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    created_by   INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
INSERT INTO api_tokens_new SELECT id, name, token_hash, prefix, role, created_by, created_at, last_used_at, revoked_at FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_new RENAME TO api_tokens;

-- The Sessions page: the browser that signed in and when the session was last used.
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER;
