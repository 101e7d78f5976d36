-- grantd's schema. Timestamps are Unix seconds (UTC); GitHub's have no fractions.
-- AUTOINCREMENT (not just INTEGER PRIMARY KEY) so SQLite never reuses the id of a deleted row:
-- a client holding a stale id must get 404, never somebody else's new object.

-- Users and organizations share one table, as they share one namespace on GitHub: a login
-- or an id names exactly one account, which a scoped token's `target`/`target_id` relies on.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    type          TEXT    NOT NULL DEFAULT 'User' CHECK (type IN ('User', 'Organization')),
    login         TEXT    NOT NULL,
    -- lower-cased login: GitHub logins are case-insensitive
    login_key     TEXT    NOT NULL UNIQUE,
    email         TEXT,
    -- argon2id, PHC string; NULL for organizations, which cannot sign in
    password_hash TEXT,
    -- base32; TOTP needs the shared secret itself, so it cannot be hashed
    totp_secret   TEXT,
    site_admin    INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE apps (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    kind                 TEXT    NOT NULL CHECK (kind IN ('oauth', 'github')),
    name                 TEXT    NOT NULL,
    url                  TEXT    NOT NULL,
    owner_id             INTEGER NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    client_id            TEXT    NOT NULL UNIQUE,
    -- SHA-256 of the client secret
    client_secret_digest BLOB    NOT NULL,
    -- GitHub Apps may issue user tokens that expire after user_token_ttl seconds
    expire_user_tokens   INTEGER NOT NULL DEFAULT 0,
    user_token_ttl       INTEGER,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);

CREATE INDEX apps_owner_name ON apps (owner_id, name);

CREATE TABLE org_members (
    org_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (org_id, user_id)
);

CREATE TABLE repositories (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name     TEXT    NOT NULL,
    -- lower-cased name: repository names are case-insensitive on GitHub
    name_key TEXT    NOT NULL,
    UNIQUE (owner_id, name_key)
);

-- One row per (user, app) with at least one authorization. Scopes and updated_at are derived
-- from the authorizations; the row exists to give the grant a stable id of its own.
CREATE TABLE grants (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    app_id     INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    UNIQUE (user_id, app_id)
);

CREATE TABLE authorizations (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id          INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- NULL for personal access tokens
    app_id           INTEGER REFERENCES apps (id) ON DELETE CASCADE,
    grant_id         INTEGER REFERENCES grants (id) ON DELETE CASCADE,
    -- space-separated, normalised
    scopes           TEXT    NOT NULL,
    -- SHA-256 of the token: the token itself is never stored
    token_hash       BLOB    NOT NULL UNIQUE,
    token_last_eight TEXT    NOT NULL,
    note             TEXT,
    note_url         TEXT,
    -- '' when absent, so that "no fingerprint" is one value under the unique index below
    fingerprint      TEXT    NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    expires_at       INTEGER,
    -- Repository- and permission-scoped tokens (POST /applications/{client_id}/token/scoped):
    -- the account they are scoped to, the permissions as a JSON object, and the repositories
    -- (space-separated ids) when repository_selection is 'selected'.
    scope_target_id            INTEGER REFERENCES users (id) ON DELETE CASCADE,
    scope_permissions          TEXT,
    scope_repository_selection TEXT CHECK (scope_repository_selection IN ('all', 'selected')),
    scope_repository_ids       TEXT,
    CHECK ((app_id IS NULL) = (grant_id IS NULL)),
    CHECK ((scope_target_id IS NULL) = (scope_repository_selection IS NULL))
);

-- Scoped tokens are extra tokens derived from an authorization, outside the fingerprint rule.
CREATE UNIQUE INDEX authorizations_app_fingerprint
    ON authorizations (user_id, app_id, fingerprint) WHERE app_id IS NOT NULL AND scope_target_id IS NULL;
CREATE UNIQUE INDEX authorizations_personal_note
    ON authorizations (user_id, note) WHERE app_id IS NULL;
CREATE INDEX authorizations_user ON authorizations (user_id, id);
CREATE INDEX authorizations_grant ON authorizations (grant_id);
