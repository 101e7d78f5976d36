-- The OAuth web application flow (issue 19): an app's authorization callback URL, and the
-- authorization codes `GET /login/oauth/authorize` hands out. Only a code's SHA-256 is stored;
-- a code is deleted when it is exchanged (one statement, so it is used at most once) and
-- pruned once expired. Codes are not exported: they live ten minutes.
ALTER TABLE apps ADD COLUMN callback_url TEXT;

-- Tokens of the web flow are marked 'web': a user may hold several of one app (up to ten per
-- scope set, GitHub's limit), so the Authorizations API's one-per-fingerprint rule leaves
-- them out.
ALTER TABLE authorizations ADD COLUMN flow TEXT;
DROP INDEX authorizations_app_fingerprint;
CREATE UNIQUE INDEX authorizations_app_fingerprint
    ON authorizations (user_id, app_id, fingerprint)
    WHERE app_id IS NOT NULL AND scope_target_id IS NULL AND flow IS NULL;

CREATE TABLE oauth_codes (
    -- SHA-256 of the code the redirect carries
    code_hash      BLOB    NOT NULL PRIMARY KEY,
    app_id         INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    user_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- the redirect_uri the code was sent to: the exchange must name the same one
    redirect_uri   TEXT    NOT NULL,
    -- the granted scopes, normalised, space-separated
    scopes         TEXT    NOT NULL,
    -- the PKCE S256 challenge, when one was sent
    code_challenge TEXT,
    -- Unix seconds
    expires_at     INTEGER NOT NULL
);

CREATE INDEX oauth_codes_expires_at ON oauth_codes (expires_at);
