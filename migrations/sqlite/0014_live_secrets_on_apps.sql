-- Kept in step with migrations/postgres/0014_live_secrets_on_apps.sql. The digests of an
-- app's two live client secrets (the first two of app_secrets by id), copied onto the app's
-- row, so that reading an app needs no subqueries. app_secrets stays the record of each secret
-- (its hint, dates); these columns are kept equal to it by the triggers below, in the
-- transaction that changes it, whatever statement does. (SQLite has one writer at a time: no
-- locking to think about. Updating the app's row also tells the token index, 0003.)
ALTER TABLE apps ADD COLUMN secret_1 BLOB;
ALTER TABLE apps ADD COLUMN secret_2 BLOB;

-- One statement, repeated for each event that changes an app's secrets, as SQLite triggers
-- cannot share a procedure: only the apps it touches (the WHERE) differ.
CREATE TRIGGER app_secrets_copied_on_insert AFTER INSERT ON app_secrets BEGIN
    UPDATE apps SET
        secret_1 = (SELECT digest FROM app_secrets WHERE app_id = apps.id ORDER BY id LIMIT 1),
        secret_2 = (SELECT digest FROM app_secrets WHERE app_id = apps.id ORDER BY id LIMIT 1 OFFSET 1)
    WHERE id = NEW.app_id;
END;

CREATE TRIGGER app_secrets_copied_on_delete AFTER DELETE ON app_secrets BEGIN
    UPDATE apps SET
        secret_1 = (SELECT digest FROM app_secrets WHERE app_id = apps.id ORDER BY id LIMIT 1),
        secret_2 = (SELECT digest FROM app_secrets WHERE app_id = apps.id ORDER BY id LIMIT 1 OFFSET 1)
    WHERE id = OLD.app_id;
END;

-- (Marking a secret used changes only last_used_at, which fires nothing.)
CREATE TRIGGER app_secrets_copied_on_update AFTER UPDATE OF app_id, digest ON app_secrets BEGIN
    UPDATE apps SET
        secret_1 = (SELECT digest FROM app_secrets WHERE app_id = apps.id ORDER BY id LIMIT 1),
        secret_2 = (SELECT digest FROM app_secrets WHERE app_id = apps.id ORDER BY id LIMIT 1 OFFSET 1)
    WHERE id IN (OLD.app_id, NEW.app_id);
END;

-- The apps made before it.
UPDATE apps SET
    secret_1 = (SELECT digest FROM app_secrets WHERE app_id = apps.id ORDER BY id LIMIT 1),
    secret_2 = (SELECT digest FROM app_secrets WHERE app_id = apps.id ORDER BY id LIMIT 1 OFFSET 1);
