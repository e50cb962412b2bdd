-- Addresses and ranges that are never blocked (written into a CrowdSec whitelist parser too).
CREATE TABLE allowlist (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    value      TEXT    NOT NULL UNIQUE,        -- normalised IP or CIDR
    reason     TEXT    NOT NULL DEFAULT '',
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
