-- The OAuth web application flow. Same as migrations/sqlite/0005_web_flow.sql.
ALTER TABLE apps ADD COLUMN callback_url TEXT;

ALTER TABLE authorizations ADD COLUMN flow TEXT;
DROP INDEX authorizations_app_fingerprint;
CREATE UNIQUE INDEX authorizations_app_fingerprint
    ON authorizations (user_id, app_id, fingerprint)
    WHERE app_id IS NOT NULL AND scope_target_id IS NULL AND flow IS NULL;

CREATE TABLE oauth_codes (
    code_hash      BYTEA   NOT NULL PRIMARY KEY,
    app_id         BIGINT  NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    user_id        BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri   TEXT    NOT NULL,
    scopes         TEXT    NOT NULL,
    code_challenge TEXT,
    expires_at     BIGINT  NOT NULL
);

CREATE INDEX oauth_codes_expires_at ON oauth_codes (expires_at);
