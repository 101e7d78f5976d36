//! Issue 18, item 8, as the attack: another local user reads grantd's files, or someone gets a
//! copy of the database alone. Every file grantd writes is its owner's only, and the database
//! holds no TOTP secret in a form that opens without the key kept beside it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::json;

use crate::support::{
    ALICE, ALICE2FA, BIN, DEFAULT_FIXTURE, ServerProcess, TOTP_SECRET, current_otp,
    fresh_database_url, grantd, sqlite_url, write_file,
};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn sibling(db: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// The secret's raw bytes (what it is in base32).
fn raw_secret() -> Vec<u8> {
    totp_rs::Secret::Encoded(TOTP_SECRET.to_owned())
        .to_bytes()
        .expect("base32")
}

/// Asserts that no file of `files` holds the TOTP secret, in base32 or raw.
fn assert_no_secret_in(files: &[std::path::PathBuf]) {
    let raw = raw_secret();
    for file in files {
        let Ok(bytes) = std::fs::read(file) else {
            continue;
        };
        for needle in [TOTP_SECRET.as_bytes(), &raw[..]] {
            assert!(
                !bytes.windows(needle.len()).any(|window| window == needle),
                "{} holds the TOTP secret ({needle:?})",
                file.display()
            );
        }
    }
}

async fn status_with_otp(server: &ServerProcess) -> u16 {
    reqwest::Client::new()
        .get(server.url("/authorizations"))
        .basic_auth(ALICE2FA.login, Some(ALICE2FA.password))
        .header("X-GitHub-OTP", current_otp())
        .send()
        .await
        .expect("the server answers")
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_served_database_is_owner_only_and_a_copy_of_it_holds_no_totp_secret() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("grantd.db");
    let url = sqlite_url(&db);
    let seed = write_file(dir.path(), "seed.toml", DEFAULT_FIXTURE);
    let server = ServerProcess::start(
        &url,
        &["--seed", seed.to_str().expect("utf-8")],
        &dir.path().join("serve.log"),
    );
    assert_eq!(status_with_otp(&server).await, 200, "2FA sign-in works");
    let created = reqwest::Client::new()
        .post(server.url("/authorizations"))
        .basic_auth(ALICE.login, Some(ALICE.password))
        .json(&json!({ "note": "a write in the log" }))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(created.status(), 201);

    // While it serves: the database, its log and index, and the key.
    let files: Vec<_> = ["", "-wal", "-shm", ".key"]
        .iter()
        .map(|suffix| sibling(&db, suffix))
        .collect();
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    // A copy of the database files alone (the key aside) does not hold the secret.
    assert_no_secret_in(&files[..3]);
    drop(server);

    // What the commands write: an export and minted tokens.
    let dump = dir.path().join("dump.json");
    let exported = grantd(
        &[
            "export",
            "--db",
            &url,
            "--out",
            dump.to_str().expect("utf-8"),
        ],
        None,
    );
    assert!(exported.status.success(), "{exported:?}");
    assert_eq!(mode(&dump), 0o600);
    assert_no_secret_in(std::slice::from_ref(&dump));
    let minted = dir.path().join("tokens.txt");
    let ran = grantd(
        &[
            "token",
            "mint",
            "--db",
            &url,
            "--client-id",
            crate::support::OAUTH_APP.client_id,
            "--user",
            ALICE.login,
            "--count",
            "2",
            "--out",
            minted.to_str().expect("utf-8"),
        ],
        None,
    );
    assert!(ran.status.success(), "{ran:?}");
    assert_eq!(mode(&minted), 0o600);
}

/// The library, whatever the umask of the process that uses it (the tests' own is the usual
/// 022, which `grantd`'s `main` replaces with 077): the database is created owner-only before
/// SQLite creates it, and an old world-readable one is tightened when opened.
#[tokio::test]
async fn the_store_creates_its_files_owner_only_and_tightens_old_ones() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("lib.db");
    let url = sqlite_url(&db);
    let seed = write_file(dir.path(), "seed.toml", DEFAULT_FIXTURE);
    let files: Vec<_> = ["", "-wal", "-shm", ".key"]
        .iter()
        .map(|suffix| sibling(&db, suffix))
        .collect();
    {
        let store = grantd::store::open(&url).await.expect("open");
        grantd::fixture::load_file(&*store, &seed, time::OffsetDateTime::now_utc())
            .await
            .expect("seed");
        for file in &files {
            assert_eq!(mode(file), 0o600, "{}", file.display());
        }
        assert_no_secret_in(&files[..3]);
        // As an older grantd left them.
        for file in &files[..3] {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        }
        let _again = grantd::store::open(&url).await.expect("reopen");
        for file in &files {
            assert_eq!(mode(file), 0o600, "{} tightened", file.display());
        }
    }
}

/// A database from before sealing holds its TOTP secrets in clear: the next start seals them
/// (and leaves no clear copy in the files), and 2FA sign-in goes on working.
#[tokio::test]
async fn secrets_stored_in_clear_are_sealed_at_the_next_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("old.db");
    let url = sqlite_url(&db);
    let seed = write_file(dir.path(), "seed.toml", DEFAULT_FIXTURE);
    assert!(
        grantd(&["seed", "--db", &url, seed.to_str().expect("utf-8")], None)
            .status
            .success()
    );
    {
        // What an older grantd stored.
        let old = rusqlite::Connection::open(&db).expect("open");
        old.execute(
            "UPDATE users SET totp_secret = ?1 WHERE login = 'alice2fa'",
            [TOTP_SECRET],
        )
        .expect("store in clear");
    }
    let clear: Vec<u8> = std::fs::read(&db).expect("read");
    assert!(
        clear
            .windows(TOTP_SECRET.len())
            .any(|w| w == TOTP_SECRET.as_bytes()),
        "the test's premise: the secret is in the file in clear"
    );

    let server = ServerProcess::start(&url, &[], &dir.path().join("serve.log"));
    assert_eq!(
        status_with_otp(&server).await,
        200,
        "2FA sign-in still works"
    );
    let stored: String = rusqlite::Connection::open(&db)
        .expect("open")
        .query_row(
            "SELECT totp_secret FROM users WHERE login = 'alice2fa'",
            [],
            |row| row.get(0),
        )
        .expect("read");
    assert!(stored.starts_with("v1:"), "{stored}");
    assert_no_secret_in(&[db.clone(), sibling(&db, "-wal")]);
    let log = std::fs::read_to_string(dir.path().join("serve.log")).expect("log");
    assert!(log.contains("sealed 1 TOTP secrets"), "{log}");
}

/// A start with the wrong key, or without the key, fails and says why, rather than serving
/// and refusing every 2FA user's sign-in.
#[tokio::test]
async fn a_wrong_or_lost_key_stops_the_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("keyed.db");
    let url = sqlite_url(&db);
    let seed = write_file(dir.path(), "seed.toml", DEFAULT_FIXTURE);
    assert!(
        grantd(&["seed", "--db", &url, seed.to_str().expect("utf-8")], None)
            .status
            .success()
    );
    let wrong = write_file(dir.path(), "wrong.key", &format!("{}\n", "ab".repeat(32)));
    let serve = |extra: &[&str]| {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--db", &url];
        args.extend_from_slice(extra);
        grantd(&args, None)
    };
    let out = serve(&["--secret-key-file", wrong.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("does not open with the secret key"),
        "{stderr}"
    );

    let key = sibling(&db, ".key");
    std::fs::rename(&key, dir.path().join("elsewhere.key")).expect("move the key");
    let out = serve(&[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does not exist"), "{stderr}");
    assert!(!key.exists(), "a lost key is not replaced by a new one");
    std::fs::rename(dir.path().join("elsewhere.key"), &key).expect("restore the key");
    let server = ServerProcess::start(&url, &[], &dir.path().join("serve.log"));
    assert_eq!(status_with_otp(&server).await, 200);
}

/// Tests of what only PostgreSQL deployments do; `scripts/test` runs them in its PostgreSQL pass.
mod postgres_only {
    use super::*;
    use crate::support::{Engine, require_engine};

    /// No key is made up (nodes would disagree), so a node given none refuses to start once
    /// the database holds a TOTP secret.
    #[tokio::test]
    async fn a_node_needs_a_key_given_once_a_user_has_2fa() {
        require_engine(Engine::Postgres);
        let dir = tempfile::tempdir().expect("temp dir");
        let url = fresh_database_url(&dir.path().join("unused.db")).await;
        let without_key = || {
            Command::new(BIN)
                .args(["migrate", "--db", &url])
                .env_remove("GRANTD_SECRET_KEY_FILE")
                .stdin(Stdio::null())
                .output()
                .expect("run grantd")
        };
        assert!(
            without_key().status.success(),
            "no secret yet: no key needed"
        );
        let seed = write_file(dir.path(), "seed.toml", DEFAULT_FIXTURE);
        // (The suite gives its shared key to every command on PostgreSQL.)
        assert!(
            grantd(&["seed", "--db", &url, seed.to_str().expect("utf-8")], None)
                .status
                .success()
        );
        let out = without_key();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--secret-key-file"), "{stderr}");
        let missing = Command::new(BIN)
            .args(["migrate", "--db", &url, "--secret-key-file"])
            .arg(dir.path().join("missing.key"))
            .stdin(Stdio::null())
            .output()
            .expect("run grantd");
        assert!(!missing.status.success());
        assert!(!dir.path().join("missing.key").exists(), "never made up");
    }
}
