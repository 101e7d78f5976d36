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

/// Migration 0014 copies each app's first two secrets (by id) onto its row, for the token
/// check to read: apps made before it keep signing in with the secrets they had.
#[tokio::test]
async fn migration_0014_copies_each_apps_live_secrets_onto_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = fresh_database_url(&dir.path().join("grantd.db")).await;
    // Before 0014: a user, an app with two secrets, one with one, one with none (as only a
    // hand-edited database could have).
    let setup = [
        "INSERT INTO users (id, login, login_key, password_hash, created_at, updated_at) \
         VALUES (1, 'octocat', 'octocat', 'x', 0, 0)",
        "INSERT INTO apps (id, kind, name, url, owner_id, client_id, created_at, updated_at) VALUES \
         (1, 'oauth', 'two', 'https://a.example', 1, 'client-two', 0, 0), \
         (2, 'oauth', 'one', 'https://a.example', 1, 'client-one', 0, 0), \
         (3, 'oauth', 'none', 'https://a.example', 1, 'client-none', 0, 0)",
    ];
    let secrets = "INSERT INTO app_secrets (id, app_id, digest, created_at) VALUES \
                   (1, 1, $1, 0), (2, 2, $2, 0), (3, 1, $3, 0)";
    let copied = "SELECT id, secret_1, secret_2 FROM apps ORDER BY id";
    let digest = |byte: u8| vec![byte; 32];
    let expected = vec![
        (1, Some(digest(1)), Some(digest(3))),
        (2, Some(digest(2)), None),
        (3, None, None),
    ];
    macro_rules! before_and_after {
        ($connection:ty, $migrations:literal) => {{
            // SQLite: the file is made here (`mode=rwc`).
            let url = if db.starts_with("sqlite") {
                format!("{db}?mode=rwc")
            } else {
                db.clone()
            };
            let mut connection = <$connection as sqlx::Connection>::connect(&url)
                .await
                .expect("connect");
            let migrator = sqlx::migrate::Migrator::new(std::path::Path::new($migrations))
                .await
                .expect("migrations");
            migrator
                .run_to(13, &mut connection)
                .await
                .expect("migrate to 0013");
            for sql in setup {
                sqlx::query(sql).execute(&mut connection).await.expect(sql);
            }
            sqlx::query(secrets)
                .bind(digest(1))
                .bind(digest(2))
                .bind(digest(3))
                .execute(&mut connection)
                .await
                .expect(secrets);
            let ran = grantd(&["migrate", "--db", &db], None);
            assert!(
                ran.status.success(),
                "{}",
                String::from_utf8_lossy(&ran.stderr)
            );
            let rows: Vec<(i64, Option<Vec<u8>>, Option<Vec<u8>>)> = sqlx::query_as(copied)
                .fetch_all(&mut connection)
                .await
                .expect("apps");
            assert_eq!(rows, expected);
        }};
    }
    if db.starts_with("postgres") {
        before_and_after!(sqlx::PgConnection, "migrations/postgres");
    } else {
        before_and_after!(sqlx::SqliteConnection, "migrations/sqlite");
    }
}
