-- Kept in step with migrations/sqlite/0012_client_secrets.sql: up to two live client secrets
-- per app, each stored as its SHA-256 with GitHub's last-eight-characters hint. (PostgreSQL
-- servers keep no token index, so no change-log triggers.)
CREATE TABLE app_secrets (
    id           BIGSERIAL PRIMARY KEY,
    app_id       BIGINT  NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    -- SHA-256 of the client secret
    digest       BYTEA   NOT NULL,
    -- the secret's last eight characters; NULL for a secret made before grantd kept them
    last_eight   TEXT,
    -- Unix seconds
    created_at   BIGINT  NOT NULL,
    last_used_at BIGINT
);

CREATE INDEX app_secrets_app ON app_secrets (app_id, id);

INSERT INTO app_secrets (app_id, digest, last_eight, created_at)
    SELECT id, client_secret_digest, NULL, updated_at FROM apps ORDER BY id;

ALTER TABLE apps DROP COLUMN client_secret_digest;

-- "Last used" of tokens (the settings pages): when the token last authenticated a request or
-- passed an app's check, to the hour. Recorded from memory in batches, never on the check
-- itself (src/domain/usage.rs); NULL until first used. Not part of `updated_at`.
ALTER TABLE authorizations ADD COLUMN last_used_at BIGINT;
