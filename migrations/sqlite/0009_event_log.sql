-- What happened, kept for digests and the Overview: bans from engine alerts and from
-- administrators, and the engine's state changes. Rows older than 90 days are deleted.
CREATE TABLE event_log (
    at       INTEGER NOT NULL,               -- Unix seconds
    kind     TEXT    NOT NULL,               -- 'ban' or 'engine'
    value    TEXT    NOT NULL DEFAULT '',    -- bans: the address or range; engine: its new state
    scenario TEXT    NOT NULL DEFAULT '',
    origin   TEXT    NOT NULL DEFAULT '',
    site     TEXT    NOT NULL DEFAULT '',
    country  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX event_log_by_time ON event_log (kind, at);

-- When each channel's scheduled digest last went out (the period it ended at, Unix seconds).
ALTER TABLE notify_channels ADD COLUMN digest_done_at INTEGER;
