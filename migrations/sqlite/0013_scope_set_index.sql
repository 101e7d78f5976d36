-- GitHub's limit of ten tokens per user, app and scope set: the delete that keeps it, in the
-- transaction of every token a flow issues, finds the user's tokens of one app and scope set
-- (newest first) through this index instead of reading all of the user's tokens through
-- authorizations_user. created_at last: the delete ranks them by it without sorting.
CREATE INDEX authorizations_scope_set ON authorizations (user_id, app_id, scopes, created_at);
