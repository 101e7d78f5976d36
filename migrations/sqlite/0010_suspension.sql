-- User suspension (GHES's `PUT /users/{username}/suspended`, `grantd user suspend`): a
-- suspended user cannot sign in and their tokens stop working; unsuspending restores both.
-- The row's update fires `users_changed` (0003), so every server's token index drops the
-- user's cached tokens at once.
-- Unix seconds; NULL while the user is not suspended
ALTER TABLE users ADD COLUMN suspended_at INTEGER;
-- the reason the site admin gave, shown on /stafftools/users; at most 200 characters
ALTER TABLE users ADD COLUMN suspension_reason TEXT;
