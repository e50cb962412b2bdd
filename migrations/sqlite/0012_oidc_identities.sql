-- Accounts made by OpenID Connect sign-in, by the provider's issuer and subject (a later sign-in
-- finds the same account whatever its username became). Such accounts have no usable password.
CREATE TABLE oidc_identities (
    issuer  TEXT    NOT NULL,
    subject TEXT    NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (issuer, subject)
);
