-- Web sign-in sessions, shared by every node of a deployment.
-- Same as migrations/sqlite/0004_sessions.sql.
CREATE TABLE sessions (
    session_hash       BYTEA   NOT NULL PRIMARY KEY,
    user_id            BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    two_factor_pending BOOLEAN NOT NULL DEFAULT FALSE,
    created_at         BIGINT  NOT NULL,
    expires_at         BIGINT  NOT NULL
);

CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
