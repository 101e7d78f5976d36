-- The audit log (issue 22): one row per change to tokens, grants, apps, two-factor
-- authentication, passwords or suspension, and per sign-in, written in the same transaction as
-- the change it records. `/settings/security-log` shows a user's rows, `/stafftools/audit-log`,
-- `GET /enterprises/{enterprise}/audit-log` and `grantd audit` all of them.
--
-- No foreign keys: an event outlives the user, app and token it names (a deleted app's
-- `oauth_application.destroy` must stay readable), so the logins and names are copied in.
-- Never a token, secret or password: a token is named by its authorization id and the
-- SHA-256 GitHub calls `hashed_token`.
CREATE TABLE audit_events (
    -- in the order the events were written; the API's cursors are these ids
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    -- GitHub's action name (`oauth_access.create`, `user.login`, …)
    action      TEXT    NOT NULL,
    -- Unix seconds, from the server's clock
    created_at  INTEGER NOT NULL,
    -- who did it; NULL for `grantd` commands run on the server and unknown sign-in names
    actor_id    INTEGER,
    actor       TEXT,
    -- whom it is about (the token's or account's owner)
    user_id     INTEGER,
    user_login  TEXT,
    -- the app concerned, if any
    app_id      INTEGER,
    app_name    TEXT,
    client_id   TEXT,
    -- the request's source address and `User-Agent` (at most 512 bytes); NULL from the CLI
    actor_ip    TEXT,
    user_agent  TEXT,
    -- a small JSON object of the action's details (`token_id`, `hashed_token`, `scopes`, …)
    data        TEXT    NOT NULL DEFAULT '{}'
);

-- the security log reads a user's events newest first, by the user concerned or as the actor
CREATE INDEX audit_events_user ON audit_events (user_id, id);
CREATE INDEX audit_events_actor ON audit_events (actor_id, id);
-- `action:` filters by prefix
CREATE INDEX audit_events_action ON audit_events (action, id);
