//! The built `grantd serve` binary: the `grantd listening on ADDR` line, `/healthz`, `--seed`,
//! `--public-url`, a graceful exit on SIGTERM and SIGINT, and durability across `kill -9`.

use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::support::{
    ALICE, DEFAULT_FIXTURE, OAUTH_APP, RequestExt, ServerProcess, assert_json, id_of, sha256_hex,
    sqlite_url, token_of, write_file,
};

/// Waits (off the runtime) for the process to exit, failing the test after 20 s.
async fn wait_for_exit(server: ServerProcess) -> std::process::ExitStatus {
    let pid = server.pid();
    let mut server = server;
    let waited = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::task::spawn_blocking(move || server.child.wait()),
    )
    .await;
    let Ok(joined) = waited else {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        panic!("grantd did not exit within 20 s of the signal");
    };
    joined
        .expect("join the waiting thread")
        .expect("wait for grantd")
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {sig} {pid} failed");
}

#[tokio::test]
async fn serve_reports_its_address_answers_healthz_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let seed = write_file(dir.path(), "seed.toml", DEFAULT_FIXTURE);
    let db = sqlite_url(&dir.path().join("grantd.db"));
    let server = ServerProcess::start(
        &db,
        &["--seed", seed.to_str().expect("utf-8 path")],
        &dir.path().join("stderr.log"),
    );
    let client = reqwest::Client::new();

    let health = client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);

    // The seed was loaded: alice can create a token, and url fields default to http://<listen>.
    let res = client
        .post(server.url("/authorizations"))
        .basic_auth(ALICE.login, Some(ALICE.password))
        .json(&json!({ "note": "from the binary" }))
        .send()
        .await
        .expect("POST /authorizations");
    assert_eq!(res.status(), 201);
    let body: serde_json::Value = res.json().await.expect("JSON");
    let id = id_of(&body);
    assert_eq!(body["url"], server.url(&format!("/authorizations/{id}")));
    drop(client);

    signal(server.pid(), "-TERM");
    let status = wait_for_exit(server).await;
    assert!(
        status.success(),
        "grantd exited with {status} after SIGTERM"
    );
}

#[tokio::test]
async fn serve_exits_cleanly_on_sigint() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = sqlite_url(&dir.path().join("grantd.db"));
    let server = ServerProcess::start(&db, &[], &dir.path().join("stderr.log"));
    let health = reqwest::get(server.url("/healthz")).await.expect("healthz");
    assert_eq!(health.status(), 200);
    signal(server.pid(), "-INT");
    let status = wait_for_exit(server).await;
    assert!(status.success(), "grantd exited with {status} after SIGINT");
}

#[tokio::test]
async fn serve_builds_urls_on_the_public_url() {
    let dir = tempfile::tempdir().expect("temp dir");
    let seed = write_file(dir.path(), "seed.toml", DEFAULT_FIXTURE);
    let db = sqlite_url(&dir.path().join("grantd.db"));
    let server = ServerProcess::start(
        &db,
        &[
            "--seed",
            seed.to_str().expect("utf-8 path"),
            "--public-url",
            "https://ghe.example.com",
        ],
        &dir.path().join("stderr.log"),
    );
    let res = reqwest::Client::new()
        .post(server.url("/authorizations"))
        .basic_auth(ALICE.login, Some(ALICE.password))
        .json(&json!({ "note": "n" }))
        .send()
        .await
        .expect("POST /authorizations");
    assert_eq!(res.status(), 201);
    let body: serde_json::Value = res.json().await.expect("JSON");
    assert_eq!(
        body["url"],
        format!("https://ghe.example.com/authorizations/{}", id_of(&body))
    );
}

#[tokio::test]
async fn an_acknowledged_write_survives_kill_9() {
    let dir = tempfile::tempdir().expect("temp dir");
    let seed = write_file(dir.path(), "seed.toml", DEFAULT_FIXTURE);
    let db = sqlite_url(&dir.path().join("grantd.db"));
    let seed_arg = seed.to_str().expect("utf-8 path");
    let mut server =
        ServerProcess::start(&db, &["--seed", seed_arg], &dir.path().join("stderr1.log"));
    let client = reqwest::Client::new();

    let res = client
        .put(server.url(&format!("/authorizations/clients/{}/durable", OAUTH_APP.client_id)))
        .basic_auth(ALICE.login, Some(ALICE.password))
        .json(&json!({ "client_secret": OAUTH_APP.client_secret, "scopes": ["repo"], "note": "survives" }))
        .send()
        .await
        .expect("PUT");
    assert_eq!(res.status(), 201);
    let created: serde_json::Value = res.json().await.expect("JSON");
    let token = token_of(&created, "gho_");
    let id = id_of(&created);

    // SIGKILL right after the 2xx: no graceful shutdown, no chance to flush anything late.
    server.child.kill().expect("kill -9");
    server.child.wait().expect("reap");
    drop(server);

    // Restart on the same file (the seed again: loading it twice must change nothing).
    let server = ServerProcess::start(&db, &["--seed", seed_arg], &dir.path().join("stderr2.log"));
    let client = reqwest::Client::new();
    let res = client
        .get(server.url(&format!("/authorizations/{id}")))
        .basic_auth(ALICE.login, Some(ALICE.password))
        .send()
        .await
        .expect("GET");
    assert_eq!(res.status(), 200);
    let read: serde_json::Value = res.json().await.expect("JSON");
    assert_json(
        &read,
        &json!({
            "id": id,
            "url": server.url(&format!("/authorizations/{id}")),
            "scopes": ["repo"],
            "token": "",
            "token_last_eight": &token[32..],
            "hashed_token": sha256_hex(&token),
            "app": OAUTH_APP.json(),
            "note": "survives",
            "note_url": null,
            "updated_at": created["updated_at"],
            "created_at": created["created_at"],
            "expires_at": null,
            "fingerprint": "durable",
        }),
    );
    // And the new process carries on from there: get-or-create finds it.
    let res = client
        .put(server.url(&format!(
            "/authorizations/clients/{}/durable",
            OAUTH_APP.client_id
        )))
        .basic_auth(ALICE.login, Some(ALICE.password))
        .json(&json!({ "client_secret": OAUTH_APP.client_secret }))
        .send()
        .await
        .expect("PUT");
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn serve_reads_its_settings_from_the_environment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let seed = write_file(dir.path(), "seed.toml", DEFAULT_FIXTURE);
    let db = sqlite_url(&dir.path().join("env.db"));
    let stderr = std::fs::File::create(dir.path().join("stderr.log")).expect("stderr file");
    let child = Command::new(crate::support::BIN)
        .arg("serve")
        .env("GRANTD_LISTEN", "127.0.0.1:0")
        .env("GRANTD_DB", &db)
        .env("GRANTD_SEED", &seed)
        .env("GRANTD_PUBLIC_URL", "http://env.example")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start grantd serve");
    let server = crate::support::ServerProcess::from_child(child, &dir.path().join("stderr.log"));
    let res = reqwest::Client::new()
        .post(server.url("/authorizations"))
        .basic_auth(ALICE.login, Some(ALICE.password))
        .json(&json!({ "note": "env" }))
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), 201);
    let body: serde_json::Value = res.json().await.expect("JSON");
    assert_eq!(
        body["url"],
        format!("http://env.example/authorizations/{}", id_of(&body))
    );
    assert!(dir.path().join("env.db").exists(), "GRANTD_DB was not used");
}

#[tokio::test]
async fn two_factor_users_from_the_seed_work_through_the_binary() {
    let dir = tempfile::tempdir().expect("temp dir");
    let seed = write_file(dir.path(), "seed.toml", DEFAULT_FIXTURE);
    let db = sqlite_url(&dir.path().join("grantd.db"));
    let server = ServerProcess::start(
        &db,
        &["--seed", seed.to_str().expect("utf-8 path")],
        &dir.path().join("stderr.log"),
    );
    let reply = reqwest::Client::new()
        .get(server.url("/authorizations"))
        .login_as(&crate::support::ALICE2FA)
        .header("X-GitHub-OTP", crate::support::current_otp())
        .go()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}
