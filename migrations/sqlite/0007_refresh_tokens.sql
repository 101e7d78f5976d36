-- Refresh tokens (`ghr_`) of expiring user tokens (issue 19): GitHub Apps whose user tokens
-- expire get one with each token the web or device flow issues, and trade it once for a new
-- pair. Only a refresh token's SHA-256 is stored. Each belongs to one authorization and goes
-- with it (ON DELETE CASCADE): revoking the token, deleting the grant, the app or the user
-- kills its refresh token in the same statement. Expired ones are pruned.
CREATE TABLE refresh_tokens (
    -- SHA-256 of the refresh token
    refresh_hash     BLOB    NOT NULL PRIMARY KEY,
    -- the authorization whose token it renews: one refresh token per expiring user token
    authorization_id INTEGER NOT NULL UNIQUE REFERENCES authorizations (id) ON DELETE CASCADE,
    -- 'web' or 'device': a device flow's token may be refreshed without the client secret
    flow             TEXT    NOT NULL,
    -- Unix seconds
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL
);

CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);
