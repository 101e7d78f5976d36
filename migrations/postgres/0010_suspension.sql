-- Kept in step with migrations/sqlite/0010_suspension.sql: a suspended user cannot sign in
-- and their tokens stop working (PostgreSQL servers keep no token index, so every check reads
-- the column).
-- Unix seconds; NULL while the user is not suspended
ALTER TABLE users ADD COLUMN suspended_at BIGINT;
-- the reason the site admin gave; at most 200 characters
ALTER TABLE users ADD COLUMN suspension_reason TEXT;
