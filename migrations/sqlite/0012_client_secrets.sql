-- Client secrets (issue 22): an app may have two live at a time, as on GitHub, so that it can
-- rotate without downtime (generate a second, deploy it, delete the first). Each is stored as
-- its SHA-256 only, with the last eight characters GitHub shows as its hint. An app's existing
-- secret moves here unchanged; its hint is unknown (NULL), since only its digest was kept.
CREATE TABLE app_secrets (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id       INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    -- SHA-256 of the client secret
    digest       BLOB    NOT NULL,
    -- the secret's last eight characters; NULL for a secret made before grantd kept them
    last_eight   TEXT,
    -- Unix seconds
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);

-- an app's secrets in the order they were made: the token check reads the first two
CREATE INDEX app_secrets_app ON app_secrets (app_id, id);

INSERT INTO app_secrets (app_id, digest, last_eight, created_at)
    SELECT id, client_secret_digest, NULL, updated_at FROM apps ORDER BY id;

ALTER TABLE apps DROP COLUMN client_secret_digest;

-- A new or deleted secret changes what signs an app in: a server's token index drops its
-- cached apps (0003's change log), as for any change of an app.
CREATE TRIGGER app_secrets_added AFTER INSERT ON app_secrets BEGIN
    INSERT INTO cache_changes (token_hash, changed_at) VALUES (NULL, CAST(strftime('%s', 'now') AS INTEGER));
END;

CREATE TRIGGER app_secrets_removed AFTER DELETE ON app_secrets BEGIN
    INSERT INTO cache_changes (token_hash, changed_at) VALUES (NULL, CAST(strftime('%s', 'now') AS INTEGER));
END;

-- "Last used" of tokens (the settings pages): when the token last authenticated a request or
-- passed an app's check, to the hour. Recorded from memory in batches, never on the check
-- itself (src/domain/usage.rs); NULL until first used. Not part of `updated_at`.
ALTER TABLE authorizations ADD COLUMN last_used_at INTEGER;
