-- The fleet: one-time join tokens (only their digest is kept) and the edge nodes that joined.
CREATE TABLE fleet_join_tokens (
    digest TEXT PRIMARY KEY NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    used_by TEXT
);

CREATE TABLE fleet_nodes (
    name TEXT PRIMARY KEY NOT NULL,
    -- The address it joined from, then the one it last reported from.
    address TEXT NOT NULL,
    version TEXT NOT NULL,
    -- SHA-256 of its bouncer key: how its calls to Charon are recognised.
    key_digest TEXT NOT NULL UNIQUE,
    joined_at INTEGER NOT NULL,
    -- Its last report (JSON) and when it came.
    report TEXT,
    reported_at INTEGER
);
