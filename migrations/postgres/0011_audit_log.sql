-- The audit log (issue 22). Same as migrations/sqlite/0011_audit_log.sql.
CREATE TABLE audit_events (
    id          BIGSERIAL PRIMARY KEY,
    action      TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    actor_id    BIGINT,
    actor       TEXT,
    user_id     BIGINT,
    user_login  TEXT,
    app_id      BIGINT,
    app_name    TEXT,
    client_id   TEXT,
    actor_ip    TEXT,
    user_agent  TEXT,
    data        TEXT    NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_events_user ON audit_events (user_id, id);
CREATE INDEX audit_events_actor ON audit_events (actor_id, id);
CREATE INDEX audit_events_action ON audit_events (action text_pattern_ops, id);
