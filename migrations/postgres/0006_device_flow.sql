-- The OAuth device flow. Same as migrations/sqlite/0006_device_flow.sql.
ALTER TABLE apps ADD COLUMN device_flow BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE device_codes (
    device_code_hash BYTEA   NOT NULL PRIMARY KEY,
    user_code_hash   BYTEA   NOT NULL UNIQUE,
    app_id           BIGINT  NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    scopes           TEXT    NOT NULL,
    state            TEXT    NOT NULL DEFAULT 'pending',
    user_id          BIGINT  REFERENCES users (id) ON DELETE CASCADE,
    interval_seconds BIGINT  NOT NULL,
    last_polled_at   BIGINT,
    created_at       BIGINT  NOT NULL,
    expires_at       BIGINT  NOT NULL
);

CREATE INDEX device_codes_expires_at ON device_codes (expires_at);
