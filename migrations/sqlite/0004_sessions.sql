-- Web sign-in sessions (the `user_session` cookie of the sign-in pages). In the database, not in
-- memory, so that any node of a deployment serves a session another node started. Only the
-- SHA-256 of the session id is stored: a leaked database signs nobody in. Not exported by
-- `grantd export`: a move between engines only asks people to sign in again.
CREATE TABLE sessions (
    -- SHA-256 of the id the cookie carries
    session_hash       BLOB    NOT NULL PRIMARY KEY,
    -- a deleted user's sessions go with them
    user_id            INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- 1 while the password was right but the two-factor code is still to come: such a session
    -- is short-lived and never counts as signed in
    two_factor_pending INTEGER NOT NULL DEFAULT 0,
    -- Unix seconds
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL
);

CREATE INDEX sessions_user ON sessions (user_id);
-- pruning deletes by expiry
CREATE INDEX sessions_expires_at ON sessions (expires_at);
