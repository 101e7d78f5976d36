-- Kept in step with migrations/sqlite/0014_live_secrets_on_apps.sql. The digests of an app's
-- two live client secrets (the first two of app_secrets by id), copied onto the app's row, so
-- that a token check reads them with the app instead of two subqueries per check, which
-- slowed PostgreSQL's batched lookups measurably (BENCHMARKS.md). app_secrets stays the
-- record of each secret (its hint, dates); these columns are kept equal to it by the trigger
-- below, in the transaction that changes it, whatever statement does.
ALTER TABLE apps ADD COLUMN secret_1 BYTEA, ADD COLUMN secret_2 BYTEA;

CREATE FUNCTION apps_copy_live_secrets(target BIGINT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- The app's row is locked first, in a statement of its own: it waits for any other
    -- transaction changing this app's secrets, and the UPDATE after it, whose snapshot is
    -- taken later (READ COMMITTED), sees what that transaction committed. (Every statement that
    -- fires this locks the app's row before the secrets' rows, so the wait closes no cycle;
    -- marking a secret used locks only the secret's row and fires nothing.)
    PERFORM 1 FROM apps WHERE id = target FOR UPDATE;
    UPDATE apps SET
        secret_1 = (SELECT digest FROM app_secrets WHERE app_id = target ORDER BY id LIMIT 1),
        secret_2 = (SELECT digest FROM app_secrets WHERE app_id = target ORDER BY id LIMIT 1 OFFSET 1)
    WHERE id = target;
END $$;

CREATE FUNCTION app_secrets_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        PERFORM apps_copy_live_secrets(OLD.app_id);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.app_id <> OLD.app_id) THEN
        PERFORM apps_copy_live_secrets(NEW.app_id);
    END IF;
    RETURN NULL;
END $$;

-- (Marking a secret used changes only last_used_at, which fires nothing.)
CREATE TRIGGER app_secrets_copied AFTER INSERT OR DELETE OR UPDATE OF app_id, digest
    ON app_secrets FOR EACH ROW EXECUTE FUNCTION app_secrets_changed();

-- The apps made before it.
SELECT apps_copy_live_secrets(id) FROM apps;
