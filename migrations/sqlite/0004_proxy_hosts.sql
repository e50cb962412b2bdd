-- Sites Charon's Caddy serves: a domain proxied to an upstream, optionally behind the bouncer.
CREATE TABLE proxy_hosts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    domain     TEXT    NOT NULL UNIQUE,
    upstream   TEXT    NOT NULL,
    enabled    INTEGER NOT NULL DEFAULT 1,
    protect    INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
