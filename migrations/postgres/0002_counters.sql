-- Windowed counters (rate limits, failed sign-ins), shared by every node of a deployment.
-- Same as migrations/sqlite/0002_counters.sql.
CREATE TABLE counters (
    kind         TEXT   NOT NULL,
    subject      TEXT   NOT NULL,
    window_start BIGINT NOT NULL,
    count        BIGINT NOT NULL,
    PRIMARY KEY (kind, subject)
);
