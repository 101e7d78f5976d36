-- The OAuth device flow (issue 19): apps opt in ("Enable Device Flow" on GitHub), and the
-- device codes `POST /login/device/code` hands out. Only the SHA-256 of the device code and of
-- the user code is stored. A code row lives until it is redeemed (deleted by the transaction
-- that inserts the token, so it is used at most once) or a day after it expired (so that late
-- polls still read `expired_token`, not `incorrect_device_code`). Codes are not exported: they
-- live fifteen minutes.
ALTER TABLE apps ADD COLUMN device_flow INTEGER NOT NULL DEFAULT 0;

CREATE TABLE device_codes (
    -- SHA-256 of the device_code the app polls with
    device_code_hash BLOB    NOT NULL PRIMARY KEY,
    -- SHA-256 of the user_code (normalised: upper case, no hyphen) the user types in
    user_code_hash   BLOB    NOT NULL UNIQUE,
    app_id           INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    -- the requested scopes, normalised, space-separated
    scopes           TEXT    NOT NULL,
    -- 'pending' until the user decides, then 'approved' or 'denied'
    state            TEXT    NOT NULL DEFAULT 'pending',
    -- who decided; a deleted user's decisions go with them
    user_id          INTEGER REFERENCES users (id) ON DELETE CASCADE,
    -- the slow_down bookkeeping: the poll interval in force (5 s, plus 5 s per slow_down) and
    -- the last poll (Unix seconds; NULL before the first)
    interval_seconds INTEGER NOT NULL,
    last_polled_at   INTEGER,
    -- Unix seconds
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL
);

CREATE INDEX device_codes_expires_at ON device_codes (expires_at);
