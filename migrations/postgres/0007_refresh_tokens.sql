-- Refresh tokens of expiring user tokens. Same as migrations/sqlite/0007_refresh_tokens.sql.
CREATE TABLE refresh_tokens (
    refresh_hash     BYTEA   NOT NULL PRIMARY KEY,
    authorization_id BIGINT  NOT NULL UNIQUE REFERENCES authorizations (id) ON DELETE CASCADE,
    flow             TEXT    NOT NULL,
    created_at       BIGINT  NOT NULL,
    expires_at       BIGINT  NOT NULL
);

CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);
