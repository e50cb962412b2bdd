-- Bans and exceptions narrower than the engine's decisions, enforced by Charon's bouncer alone:
-- a ban on chosen sites; an exception for an address or range on chosen sites (or all), under a
-- path prefix, for one scenario.
CREATE TABLE scoped_rules (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT    NOT NULL CHECK (kind IN ('ban', 'allow')),
    value       TEXT    NOT NULL,               -- normalised IP or CIDR
    sites       TEXT    NOT NULL DEFAULT '',    -- comma-separated proxy-host domains; '' = every site
    path_prefix TEXT    NOT NULL DEFAULT '',    -- exceptions only: a canonical path prefix
    scenario    TEXT    NOT NULL DEFAULT '',    -- exceptions only: the scenario it forgives
    ban_type    TEXT    NOT NULL DEFAULT 'ban', -- bans only: ban, captcha, throttle
    reason      TEXT    NOT NULL DEFAULT '',
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER                         -- bans: when they end; exceptions: NULL
);
CREATE INDEX scoped_rules_by_expiry ON scoped_rules (expires_at) WHERE expires_at IS NOT NULL;
