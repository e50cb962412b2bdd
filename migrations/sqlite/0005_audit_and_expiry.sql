-- Allowlist entries that end by themselves ("unban and allow for 1 h"); NULL = until removed.
ALTER TABLE allowlist ADD COLUMN expires_at INTEGER;
CREATE INDEX allowlist_by_expiry ON allowlist (expires_at) WHERE expires_at IS NOT NULL;

-- The audit log says through what (web UI, API token "name", CLI), from where, on what, and how
-- it ended. `detail` keeps what changed.
ALTER TABLE audit_log ADD COLUMN via     TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN target  TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN result  TEXT NOT NULL DEFAULT 'ok';  -- "ok" or the error
CREATE INDEX audit_log_by_actor ON audit_log (actor, at);

-- Who made each decision made through Charon (its engine id): "banned by alice via the web UI".
CREATE TABLE decision_authors (
    decision_id INTEGER PRIMARY KEY,
    actor       TEXT    NOT NULL,
    via         TEXT    NOT NULL,
    at          INTEGER NOT NULL
);
