-- What changed, in commit order, so that a server's in-memory token index (src/store/cache.rs)
-- can drop exactly the entries that went stale, whoever made the change: this process, another
-- grantd on the same file, or a `grantd` command run beside the server. A server notices that
-- something was committed through `PRAGMA data_version` and then reads the rows after the last
-- one it applied. New tokens need no row: their ids only grow, so a server reads them by id.
CREATE TABLE cache_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    -- the token whose record changed or went away; NULL when an account or an app changed,
    -- which may touch any cached token
    token_hash BLOB,
    -- Unix seconds; rows older than a few minutes are pruned
    changed_at INTEGER NOT NULL
);

CREATE TRIGGER authorizations_changed AFTER UPDATE ON authorizations BEGIN
    INSERT INTO cache_changes (token_hash, changed_at)
        VALUES (OLD.token_hash, CAST(strftime('%s', 'now') AS INTEGER));
    -- a reset swaps the hash: the new token must become known too
    INSERT INTO cache_changes (token_hash, changed_at)
        SELECT NEW.token_hash, CAST(strftime('%s', 'now') AS INTEGER)
        WHERE NEW.token_hash <> OLD.token_hash;
END;

CREATE TRIGGER authorizations_removed AFTER DELETE ON authorizations BEGIN
    INSERT INTO cache_changes (token_hash, changed_at)
        VALUES (OLD.token_hash, CAST(strftime('%s', 'now') AS INTEGER));
END;

CREATE TRIGGER users_changed AFTER UPDATE ON users BEGIN
    INSERT INTO cache_changes (token_hash, changed_at) VALUES (NULL, CAST(strftime('%s', 'now') AS INTEGER));
END;

CREATE TRIGGER users_removed AFTER DELETE ON users BEGIN
    INSERT INTO cache_changes (token_hash, changed_at) VALUES (NULL, CAST(strftime('%s', 'now') AS INTEGER));
END;

CREATE TRIGGER apps_changed AFTER UPDATE ON apps BEGIN
    INSERT INTO cache_changes (token_hash, changed_at) VALUES (NULL, CAST(strftime('%s', 'now') AS INTEGER));
END;

CREATE TRIGGER apps_removed AFTER DELETE ON apps BEGIN
    INSERT INTO cache_changes (token_hash, changed_at) VALUES (NULL, CAST(strftime('%s', 'now') AS INTEGER));
END;
