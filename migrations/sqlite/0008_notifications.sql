-- Notifications: channels (where messages go; their URL, token and signing secret sealed with
-- <data>/secrets.key) and messages, stored before they are sent. A message gathers a burst of
-- events while `open_until` lies ahead, is retried with growing pauses, and ends sent or failed.
CREATE TABLE notify_channels (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL,
    name       TEXT    NOT NULL UNIQUE,
    enabled    INTEGER NOT NULL DEFAULT 1,
    sealed     BLOB    NOT NULL,
    rules      TEXT    NOT NULL,             -- JSON: events, filters, window, hourly limit, quiet hours
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE notify_messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id      INTEGER NOT NULL REFERENCES notify_channels (id) ON DELETE CASCADE,
    event           TEXT    NOT NULL,
    body            TEXT    NOT NULL,        -- JSON: the message (event, time, count, items)
    count           INTEGER NOT NULL DEFAULT 1,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    open_until      INTEGER,
    next_attempt_at INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX notify_messages_due ON notify_messages (status, next_attempt_at);
CREATE INDEX notify_messages_by_channel ON notify_messages (channel_id, id);
