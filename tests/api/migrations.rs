//! Schema migrations: applied by `grantd migrate` (and at every start), idempotent, and a
//! database migrated by a newer grantd is refused with a message that says so.

use crate::support::{fresh_database_url, grantd};

#[tokio::test]
async fn migrate_is_idempotent_and_refuses_a_newer_schema() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = fresh_database_url(&dir.path().join("grantd.db")).await;
    for _ in 0..2 {
        let ran = grantd(&["migrate", "--db", &db, "--json"], None);
        assert!(
            ran.status.success(),
            "{}",
            String::from_utf8_lossy(&ran.stderr)
        );
        let out: serde_json::Value = serde_json::from_slice(&ran.stdout).expect("JSON");
        assert_eq!(out, serde_json::json!({ "migrated": true }));
    }

    // A migration this binary does not have, as a newer grantd would have left it.
    let future = "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                  VALUES (99990101000000, 'from the future', TRUE, '\\x00'::bytea, 0)";
    let future_sqlite = "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                         VALUES (99990101000000, 'from the future', 1, x'00', 0)";
    if db.starts_with("postgres") {
        let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(&db)
            .await
            .expect("connect");
        sqlx::Executor::execute(&mut connection, future)
            .await
            .expect("insert");
    } else {
        let mut connection = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db)
            .await
            .expect("connect");
        sqlx::Executor::execute(&mut connection, future_sqlite)
            .await
            .expect("insert");
    }

    for command in [
        vec!["migrate", "--db", &db],
        vec!["user", "list", "--db", &db],
    ] {
        let ran = grantd(&command, None);
        assert!(!ran.status.success(), "{command:?} accepted a newer schema");
        let stderr = String::from_utf8_lossy(&ran.stderr);
        assert!(stderr.contains("99990101000000"), "{stderr}");
        assert!(stderr.contains("migrated by a newer grantd"), "{stderr}");
    }
}

/// An unreachable database stops the start with a message, quickly, instead of hanging.
#[test]
fn serve_refuses_to_start_on_an_unreachable_database() {
    // A loopback port nobody listens on: connections are refused at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let url = format!("postgres://grantd@127.0.0.1:{port}/grantd");
    let started = std::time::Instant::now();
    let ran = grantd(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            &url,
            "--db-acquire-timeout",
            "2s",
        ],
        None,
    );
    assert!(!ran.status.success());
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert!(stderr.contains("cannot open the database"), "{stderr}");
    assert!(stderr.contains("database unavailable"), "{stderr}");
    assert!(
        !String::from_utf8_lossy(&ran.stdout).contains("listening"),
        "it must not serve"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}
