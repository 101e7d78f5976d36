-- Kept in step with migrations/sqlite/0003_cache_changes.sql, which adds the change log that a
-- SQLite server's in-memory token index follows. PostgreSQL servers keep no such index (several
-- nodes could not drop a revoked token from it at the same instant), so nothing changes here.
SELECT 1;
