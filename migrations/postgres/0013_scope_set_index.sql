-- Kept in step with migrations/sqlite/0013_scope_set_index.sql: the index the ten-token
-- limit's delete (user, app, scope set, newest first) reads instead of the user's tokens.
CREATE INDEX authorizations_scope_set ON authorizations (user_id, app_id, scopes, created_at);
