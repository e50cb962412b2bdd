-- Accounts, sessions, API tokens and the audit log. Times are Unix seconds (UTC).

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,            -- argon2id PHC string
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'viewer')),
    created_at    INTEGER NOT NULL
);

-- Only the SHA-256 of a session id is stored: a copy of the database does not sign anyone in.
CREATE TABLE sessions (
    id_hash    TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,      -- SHA-256 of the token; tokens are 256-bit random
    prefix       TEXT    NOT NULL,             -- first characters, for recognising a token in lists
    role         TEXT    NOT NULL CHECK (role IN ('admin', 'viewer')),
    created_by   INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    actor  TEXT    NOT NULL,                   -- username, "cli" or "anonymous"
    action TEXT    NOT NULL,                   -- e.g. "login", "user.create", "token.revoke"
    detail TEXT    NOT NULL DEFAULT ''         -- never a secret
);
CREATE INDEX audit_log_by_time ON audit_log (at);
