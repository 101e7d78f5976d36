-- Windowed counters: API requests per user or app (rate limits) and failed sign-ins per login
-- or client id (throttling). In the database, not in memory, so that every node of a
-- deployment counts the same requests.
CREATE TABLE counters (
    -- 'requests' or 'failed_logins'
    kind         TEXT    NOT NULL,
    -- 'user:<id>', 'app:<client id>', 'login:<lower-cased login>'
    subject      TEXT    NOT NULL,
    -- Unix seconds; the window ends window_seconds later
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (kind, subject)
);
