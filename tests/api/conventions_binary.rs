//! The HTTP conventions through the built `grantd serve` binary: the request id on the request's
//! log line, and the command-line flags and environment variables of rate limits, login
//! throttling and the Authorizations API's retirement.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::Client;
use serde_json::json;

use crate::conventions::assert_request_id;
use crate::retirement::{assert_deprecated, assert_gone};
use crate::support::{
    ALICE, BIN, DEFAULT_FIXTURE, OAUTH_APP, RequestExt, ServerProcess, TestServer, User,
    assert_json, error_body, sqlite_url, token_of, write_file,
};

/// Starts `grantd serve --listen 127.0.0.1:0 --db DB ARGS…` with `envs` added to its
/// environment, its stderr (the log) written to `dir/stderr.log`.
pub fn serve(dir: &Path, db: &str, args: &[&str], envs: &[(&str, &str)]) -> ServerProcess {
    let log = dir.join("stderr.log");
    let stderr = std::fs::File::create(&log).expect("stderr file");
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--db", db])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr);
    // On PostgreSQL the suite's shared secret key (a PostgreSQL node is never given one it did
    // not ask for); a test's own variables come after, and win.
    if let Some(key) = crate::support::secret_key_file_for(db) {
        command.env("GRANTD_SECRET_KEY_FILE", key);
    }
    for (name, value) in envs {
        command.env(name, value);
    }
    let child = command.spawn().expect("start grantd serve");
    ServerProcess::from_child(child, &log)
}

/// A fresh database seeded with `DEFAULT_FIXTURE`, as `--seed` loads it.
pub fn seeded(dir: &Path) -> (String, String) {
    let seed = write_file(dir, "seed.toml", DEFAULT_FIXTURE);
    let db = sqlite_url(&dir.join("grantd.db"));
    (db, seed.to_str().expect("utf-8 path").to_owned())
}

/// Sends SIGTERM to our own server process and waits (off the runtime) for it to exit.
pub async fn stop(server: ServerProcess) {
    let pid = server.pid();
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM {pid} failed");
    let mut server = server;
    let waited = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::task::spawn_blocking(move || server.child.wait()),
    )
    .await;
    let exit = waited
        .expect("grantd exits within 20 s of SIGTERM")
        .expect("join the waiting thread")
        .expect("wait for grantd");
    assert!(exit.success(), "grantd exited with {exit}");
}

#[tokio::test]
async fn each_request_id_is_on_its_requests_log_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (db, seed) = seeded(dir.path());
    let server = serve(
        dir.path(),
        &db,
        &["--seed", &seed],
        // The line per answered request is at DEBUG (see docs/nodes.md, "Logs").
        &[("GRANTD_LOG", "info,grantd::access=debug")],
    );
    let client = Client::new();
    let forged = "CAFE:CAFE:CAFEC:CAFEC:CAFECAFE";
    let replies = [
        client
            .get(server.url("/authorizations"))
            .login_as(&ALICE)
            .header("X-GitHub-Request-Id", forged)
            .go()
            .await,
        client.get(server.url("/authorizations")).go().await,
        client.get(server.url("/no/such/path")).go().await,
        client.get(server.url("/healthz")).go().await,
    ];
    let ids: Vec<String> = replies.iter().map(assert_request_id).collect();
    assert_eq!(replies[0].status, 200, "{}", replies[0].body);
    drop(client);
    stop(server).await;

    let log = std::fs::read_to_string(dir.path().join("stderr.log")).expect("read the log");
    for (id, reply) in ids.iter().zip(&replies) {
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(id.as_str())).collect();
        assert!(
            !lines.is_empty(),
            "request id {id} (status {}) is not in the log:\n{log}",
            reply.status
        );
    }
    assert!(
        !log.contains(forged),
        "the client's own request id reached the log:\n{log}"
    );
    // Each answer's id is on a line of its own request, not shared with another's.
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "{ids:?}");
}

#[tokio::test]
async fn the_removed_flag_answers_410_while_the_app_side_keeps_working() {
    // An enabled server makes the token; a removed one, on the same database, must still let
    // the app check it and its user use it.
    let srv = TestServer::spawn().await;
    let authz = srv
        .create_app_authorization(&ALICE, &OAUTH_APP, json!({ "scopes": ["gist"] }))
        .await;
    let token = token_of(&authz, "gho_");
    let server = serve(
        srv.dir(),
        srv.db_url(),
        &["--authorizations-api", "removed"],
        &[],
    );
    let client = Client::new();
    let list = client
        .get(server.url("/authorizations"))
        .login_as(&ALICE)
        .go()
        .await;
    assert_gone(&list, "GET /authorizations");
    let create = client
        .post(server.url("/api/v3/authorizations"))
        .json(&json!({ "note": "n" }))
        .go()
        .await;
    assert_gone(&create, "POST /api/v3/authorizations without credentials");
    let grants = client
        .get(server.url("/applications/grants"))
        .login_as(&ALICE)
        .go()
        .await;
    assert_gone(&grants, "GET /applications/grants");

    let checked = client
        .post(server.url(&format!("/applications/{}/token", OAUTH_APP.client_id)))
        .basic_auth(OAUTH_APP.client_id, Some(OAUTH_APP.client_secret))
        .json(&json!({ "access_token": token }))
        .go()
        .await;
    let body = checked.expect_status(200);
    assert_eq!(body["token"], token.as_str());
    assert_eq!(body["user"]["login"], ALICE.login);
    assert_eq!(checked.header("Deprecation"), None);
    let me = client
        .get(server.url("/user"))
        .header("Authorization", format!("token {token}"))
        .go()
        .await;
    assert_eq!(me.expect_status(200)["login"], ALICE.login);
    assert_eq!(me.header("X-OAuth-Scopes").as_deref(), Some("gist"));
}

#[tokio::test]
async fn the_environment_variable_sets_the_authorizations_apis_status() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (db, seed) = seeded(dir.path());
    let server = serve(
        dir.path(),
        &db,
        &["--seed", &seed],
        &[("GRANTD_AUTHORIZATIONS_API", "deprecated")],
    );
    let client = Client::new();
    let created = client
        .post(server.url("/authorizations"))
        .login_as(&ALICE)
        .json(&json!({ "note": "from the environment" }))
        .go()
        .await;
    created.expect_status(201);
    assert_deprecated(&created, "POST /authorizations");
    drop(server);

    let dir = tempfile::tempdir().expect("temp dir");
    let (db, seed) = seeded(dir.path());
    let server = serve(
        dir.path(),
        &db,
        &["--seed", &seed],
        &[("GRANTD_AUTHORIZATIONS_API", "removed")],
    );
    let list = client
        .get(server.url("/authorizations"))
        .login_as(&ALICE)
        .go()
        .await;
    assert_gone(&list, "GET /authorizations");
}

#[tokio::test]
async fn the_rate_limit_and_login_attempt_flags_are_applied() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (db, seed) = seeded(dir.path());
    let server = serve(
        dir.path(),
        &db,
        &[
            "--seed",
            &seed,
            "--rate-limit",
            "2",
            "--rate-limit-window",
            "10m",
            "--login-attempts",
            "2",
            "--login-attempts-window",
            "5m",
        ],
        &[],
    );
    let client = Client::new();
    let list = || client.get(server.url("/authorizations"));

    let first = list().login_as(&ALICE).go().await;
    first.expect_status(200);
    assert_eq!(first.header("X-RateLimit-Limit").as_deref(), Some("2"));
    assert_eq!(first.header("X-RateLimit-Remaining").as_deref(), Some("1"));
    let reset: i64 = first
        .header("X-RateLimit-Reset")
        .expect("X-RateLimit-Reset")
        .parse()
        .expect("Unix seconds");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        (now + 10 * 60 - 5..=now + 10 * 60).contains(&reset),
        "a 10-minute window from now ({now}) resets at about {}, not {reset}",
        now + 600
    );
    list().login_as(&ALICE).go().await.expect_status(200);
    let refused = list().login_as(&ALICE).go().await;
    let body = refused.expect_status(403);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("API rate limit exceeded for user ID ")),
        "{body}"
    );
    assert_eq!(
        refused.header("X-RateLimit-Remaining").as_deref(),
        Some("0")
    );

    let wrong = User {
        login: "bob",
        password: "wrong",
    };
    for _ in 0..2 {
        assert_eq!(list().login_as(&wrong).go().await.status, 401);
    }
    let throttled = list().login_as(&crate::support::BOB).go().await;
    assert_json(
        &throttled.expect_status(403),
        &error_body(
            403,
            "Maximum number of login attempts exceeded. Please try again later.",
        ),
    );
}

#[tokio::test]
async fn the_rate_limit_is_read_from_the_environment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (db, seed) = seeded(dir.path());
    let server = serve(
        dir.path(),
        &db,
        &["--seed", &seed],
        &[("GRANTD_RATE_LIMIT", "7"), ("GRANTD_LOGIN_ATTEMPTS", "1")],
    );
    let client = Client::new();
    let reply = client
        .get(server.url("/authorizations"))
        .login_as(&ALICE)
        .go()
        .await;
    reply.expect_status(200);
    assert_eq!(reply.header("X-RateLimit-Limit").as_deref(), Some("7"));
    assert_eq!(reply.header("X-RateLimit-Used").as_deref(), Some("1"));
    let wrong = User {
        login: "bob",
        password: "wrong",
    };
    assert_eq!(
        client
            .get(server.url("/authorizations"))
            .login_as(&wrong)
            .go()
            .await
            .status,
        401
    );
    let throttled = client
        .get(server.url("/authorizations"))
        .login_as(&crate::support::BOB)
        .go()
        .await;
    assert_eq!(throttled.status, 403, "{}", throttled.body);
}
