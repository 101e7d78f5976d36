-- grantd's schema on PostgreSQL: the same tables, columns and rules as
-- migrations/sqlite/0001_initial.sql (keep the two trees in step). Timestamps are Unix seconds.
-- BIGSERIAL sequences never hand out a number twice, even after deletes, so a stale id can
-- never reach a new object.

-- Users and organizations share one table, as they share one namespace on GitHub.
CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    type          TEXT    NOT NULL DEFAULT 'User' CHECK (type IN ('User', 'Organization')),
    login         TEXT    NOT NULL,
    -- lower-cased login: GitHub logins are case-insensitive
    login_key     TEXT    NOT NULL UNIQUE,
    email         TEXT,
    -- argon2id, PHC string; NULL for organizations, which cannot sign in
    password_hash TEXT,
    -- base32; TOTP needs the shared secret itself, so it cannot be hashed
    totp_secret   TEXT,
    site_admin    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);

CREATE TABLE apps (
    id                   BIGSERIAL PRIMARY KEY,
    kind                 TEXT    NOT NULL CHECK (kind IN ('oauth', 'github')),
    name                 TEXT    NOT NULL,
    url                  TEXT    NOT NULL,
    owner_id             BIGINT  NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    client_id            TEXT    NOT NULL UNIQUE,
    -- SHA-256 of the client secret
    client_secret_digest BYTEA   NOT NULL,
    expire_user_tokens   BOOLEAN NOT NULL DEFAULT FALSE,
    user_token_ttl       BIGINT,
    created_at           BIGINT  NOT NULL,
    updated_at           BIGINT  NOT NULL
);

CREATE INDEX apps_owner_name ON apps (owner_id, name);

CREATE TABLE org_members (
    org_id  BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (org_id, user_id)
);

CREATE TABLE repositories (
    id       BIGSERIAL PRIMARY KEY,
    owner_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name     TEXT   NOT NULL,
    name_key TEXT   NOT NULL,
    UNIQUE (owner_id, name_key)
);

-- One row per (user, app) with at least one authorization; scopes and updated_at are derived.
CREATE TABLE grants (
    id         BIGSERIAL PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    app_id     BIGINT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    UNIQUE (user_id, app_id)
);

CREATE TABLE authorizations (
    id                         BIGSERIAL PRIMARY KEY,
    user_id                    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    app_id                     BIGINT REFERENCES apps (id) ON DELETE CASCADE,
    grant_id                   BIGINT REFERENCES grants (id) ON DELETE CASCADE,
    scopes                     TEXT   NOT NULL,
    -- SHA-256 of the token: the token itself is never stored
    token_hash                 BYTEA  NOT NULL UNIQUE,
    token_last_eight           TEXT   NOT NULL,
    note                       TEXT,
    note_url                   TEXT,
    fingerprint                TEXT   NOT NULL DEFAULT '',
    created_at                 BIGINT NOT NULL,
    updated_at                 BIGINT NOT NULL,
    expires_at                 BIGINT,
    scope_target_id            BIGINT REFERENCES users (id) ON DELETE CASCADE,
    scope_permissions          TEXT,
    scope_repository_selection TEXT CHECK (scope_repository_selection IN ('all', 'selected')),
    scope_repository_ids       TEXT,
    CHECK ((app_id IS NULL) = (grant_id IS NULL)),
    CHECK ((scope_target_id IS NULL) = (scope_repository_selection IS NULL))
);

CREATE UNIQUE INDEX authorizations_app_fingerprint
    ON authorizations (user_id, app_id, fingerprint) WHERE app_id IS NOT NULL AND scope_target_id IS NULL;
CREATE UNIQUE INDEX authorizations_personal_note
    ON authorizations (user_id, note) WHERE app_id IS NULL;
CREATE INDEX authorizations_user ON authorizations (user_id, id);
CREATE INDEX authorizations_grant ON authorizations (grant_id);
