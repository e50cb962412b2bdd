-- Persistent settings: the user's wishes that survive restarts (e.g. crowdsec.enabled).
CREATE TABLE settings (
    key        TEXT   PRIMARY KEY,
    value      TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);
