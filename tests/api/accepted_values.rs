//! Issue 18, item 7, as the attack: values that were accepted, then crashed the requests that
//! used them (a token lifetime or a rate-limit window past what dates can hold), or came back
//! to clients as links they should not follow (`--public-url notaurl`, a `javascript:`
//! `note_url`). Each is now refused where it enters, with a message saying why.

use serde_json::json;

use crate::support::{
    ALICE, DEFAULT_FIXTURE, OAUTH_APP, RequestExt, TestServer, assert_json, grantd, sqlite_url,
    write_file,
};

/// A GitHub App whose user tokens live ten years, the longest lifetime accepted.
const TEN_YEAR_APP: &str = r#"
[[apps]]
name = "long-lived"
url = "https://long-lived.example.com"
owner = "alice"
kind = "github"
client_id = "Iv1.00000000000000aa"
client_secret = "00000000000000000000000000000000000000aa"
expire_user_tokens = true
user_token_ttl = "10y"
"#;

#[tokio::test]
async fn app_add_refuses_a_user_token_lifetime_past_ten_years() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = sqlite_url(&dir.path().join("grantd.db"));
    let added = grantd(
        &["user", "add", "ivan", "--password-stdin", "--db", &db],
        Some("ivan-pass"),
    );
    assert!(added.status.success(), "{added:?}");
    let out = grantd(
        &[
            "app",
            "add",
            "--owner",
            "ivan",
            "--name",
            "forever",
            "--url",
            "https://forever.example.com",
            "--kind",
            "github",
            "--user-token-ttl",
            "1000000y",
            "--db",
            &db,
        ],
        None,
    );
    assert!(
        !out.status.success(),
        "a million-year lifetime was accepted"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("'--user-token-ttl <USER_TOKEN_TTL>': must be at most 10years"),
        "stderr: {stderr}"
    );
}

#[tokio::test]
async fn a_seed_file_with_a_user_token_lifetime_past_ten_years_loads_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = sqlite_url(&dir.path().join("grantd.db"));
    let seed = write_file(
        dir.path(),
        "seed.toml",
        &format!(
            "{DEFAULT_FIXTURE}{}",
            TEN_YEAR_APP.replace("10y", "1000000y")
        ),
    );
    let out = grantd(
        &["seed", seed.to_str().expect("utf-8 path"), "--db", &db],
        None,
    );
    assert!(!out.status.success(), "a million-year lifetime was seeded");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("user_token_ttl \"1000000y\": must be at most 10years"),
        "stderr: {stderr}"
    );
}

/// The longest lifetime accepted makes tokens: the date arithmetic holds at the bound.
#[tokio::test]
async fn tokens_of_an_app_with_the_longest_lifetime_are_made() {
    let srv = TestServer::spawn_seeded(&format!("{DEFAULT_FIXTURE}{TEN_YEAR_APP}"), None).await;
    let reply = srv
        .post("/authorizations")
        .login_as(&ALICE)
        .json(&json!({
            "client_id": "Iv1.00000000000000aa",
            "client_secret": "00000000000000000000000000000000000000aa",
            "note": "ten years",
        }))
        .go()
        .await;
    let created = reply.expect_status(201);
    let expires_at = created["expires_at"].as_str().expect("an expiry");
    let year: i32 = expires_at[..4].parse().expect("a year");
    let now = time::OffsetDateTime::now_utc().year();
    assert!(
        (now + 9..=now + 10).contains(&year),
        "expires_at {expires_at}"
    );
}

/// `serve` refuses before it touches the database, naming the flag and the bound.
fn serve_refuses(flags: &[&str], says: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = sqlite_url(&dir.path().join("grantd.db"));
    let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--db", &db];
    args.extend(flags);
    let out = grantd(&args, None);
    assert!(!out.status.success(), "serve started with {flags:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(says), "{flags:?}: stderr: {stderr}");
    assert!(
        !dir.path().join("grantd.db").exists(),
        "{flags:?}: the database was created before the flag was checked"
    );
}

#[tokio::test]
async fn serve_refuses_durations_and_limits_out_of_bounds() {
    serve_refuses(
        &["--rate-limit-window", "100000y"],
        "'--rate-limit-window <RATE_LIMIT_WINDOW>': must be at most 1day",
    );
    serve_refuses(
        &["--login-attempts-window", "100000y"],
        "'--login-attempts-window <LOGIN_ATTEMPTS_WINDOW>': must be at most 1day",
    );
    serve_refuses(
        &["--idle-timeout", "2days"],
        "'--idle-timeout <IDLE_TIMEOUT>': must be at most 1day",
    );
    serve_refuses(
        &["--header-read-timeout", "1ms"],
        "'--header-read-timeout <HEADER_READ_TIMEOUT>': must be at least 100ms",
    );
    serve_refuses(
        &["--max-connections", "0"],
        "'--max-connections <MAX_CONNECTIONS>'",
    );
    serve_refuses(
        &["--db-pool-size", "1001"],
        "'--db-pool-size <DB_POOL_SIZE>': 1001 is not in 1..=1000",
    );
    serve_refuses(
        &["--db-busy-timeout", "2h"],
        "'--db-busy-timeout <DB_BUSY_TIMEOUT>': must be at most 1h",
    );
    serve_refuses(
        &["--change-log-retention", "30s"],
        "'--change-log-retention <CHANGE_LOG_RETENTION>': must be at least 1m",
    );
    serve_refuses(
        &["--request-timeout", "2h"],
        "'--request-timeout <REQUEST_TIMEOUT>': must be at most 1h",
    );
}

/// A database URL of another kind is refused at start, with the two kinds grantd serves,
/// before anything is opened or bound.
#[tokio::test]
async fn serve_refuses_a_database_url_of_another_kind() {
    let out = grantd(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            "mysql://grantd@127.0.0.1/grantd",
        ],
        None,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim_end(),
        "error: --db mysql://grantd@127.0.0.1/grantd: unsupported database URL scheme; use \
         sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE"
    );
}

#[tokio::test]
async fn serve_refuses_a_public_url_that_is_not_an_http_url() {
    for url in [
        "notaurl",
        "javascript:alert(1)",
        "ftp://grantd.example.com",
        "https://",
    ] {
        serve_refuses(
            &["--public-url", url],
            "must be an absolute http:// or https:// URL with a host",
        );
    }
    serve_refuses(
        &["--public-url", "https://grantd.example.com/?a=b"],
        "must not have a query (?) or a fragment (#)",
    );
}

/// GitHub's answer to a `note_url` it will not store, from the operation documented at
/// `#anchor`.
fn invalid_note_url(anchor: &str) -> serde_json::Value {
    json!({
        "message": "Validation Failed",
        "errors": [{ "resource": "OauthAccess", "code": "invalid", "field": "note_url" }],
        "documentation_url": format!(
            "https://docs.github.com/enterprise-server@3.19/rest/oauth-authorizations/oauth-authorizations#{anchor}"
        ),
        "status": "422",
    })
}

#[tokio::test]
async fn a_javascript_note_url_is_refused_everywhere_it_is_taken() {
    let srv = TestServer::spawn().await;
    for note_url in [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "JAVASCRIPT://example.com/%0aalert(1)",
    ] {
        let reply = srv
            .post("/authorizations")
            .login_as(&ALICE)
            .json(&json!({ "note": "x", "note_url": note_url }))
            .go()
            .await;
        assert_json(
            &reply.expect_status(422),
            &invalid_note_url("create-a-new-authorization"),
        );

        let reply = srv
            .put(&format!("/authorizations/clients/{}", OAUTH_APP.client_id))
            .login_as(&ALICE)
            .json(&json!({ "client_secret": OAUTH_APP.client_secret, "note_url": note_url }))
            .go()
            .await;
        assert_json(
            &reply.expect_status(422),
            &invalid_note_url("get-or-create-an-authorization-for-a-specific-app"),
        );
    }
    assert!(srv.authorizations(&ALICE).await.is_empty());

    let created = srv.create_pat(&ALICE, "target").await;
    let id = created["id"].as_i64().expect("an id");
    let reply = srv
        .patch(&format!("/authorizations/{id}"))
        .login_as(&ALICE)
        .json(&json!({ "note_url": "javascript:alert(1)" }))
        .go()
        .await;
    assert_json(
        &reply.expect_status(422),
        &invalid_note_url("update-an-existing-authorization"),
    );
    // An http(s) one is still taken, and handed back as the app's URL.
    let reply = srv
        .patch(&format!("/authorizations/{id}"))
        .login_as(&ALICE)
        .json(&json!({ "note_url": "https://ci.example.com/job/1" }))
        .go()
        .await;
    assert_eq!(
        reply.expect_status(200)["app"]["url"],
        "https://ci.example.com/job/1"
    );
}

#[tokio::test]
async fn app_add_refuses_urls_that_are_not_http_or_too_long() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = sqlite_url(&dir.path().join("grantd.db"));
    let added = grantd(
        &["user", "add", "ivan", "--password-stdin", "--db", &db],
        Some("ivan-pass"),
    );
    assert!(added.status.success(), "{added:?}");
    let long = format!("https://example.com/{}", "a".repeat(2_048));
    for (url, says) in [
        (
            "javascript:alert(1)",
            "must be an absolute http:// or https:// URL",
        ),
        ("https://", "must be an absolute http:// or https:// URL"),
        (
            long.as_str(),
            "the app URL is too long (maximum is 2048 characters)",
        ),
    ] {
        let out = grantd(
            &[
                "app", "add", "--owner", "ivan", "--name", "x", "--url", url, "--db", &db,
            ],
            None,
        );
        assert!(!out.status.success(), "{url:?} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{url:?}: stderr: {stderr}");
    }
}

/// `app add --callback-url`: checked like the app URL, stored, and shown by `app list`.
#[tokio::test]
async fn app_add_takes_a_checked_callback_url_shown_by_app_list() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = sqlite_url(&dir.path().join("grantd.db"));
    let added = grantd(
        &["user", "add", "ivan", "--password-stdin", "--db", &db],
        Some("ivan-pass"),
    );
    assert!(added.status.success(), "{added:?}");
    let add = |name: &str, callback: &str| {
        grantd(
            &[
                "app",
                "add",
                "--owner",
                "ivan",
                "--name",
                name,
                "--url",
                "https://app.example",
                "--callback-url",
                callback,
                "--db",
                &db,
            ],
            None,
        )
    };
    let refused = add("bad", "javascript:alert(1)");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("callback URL"), "{stderr}");
    let ok = add("good", "https://app.example/auth/callback");
    assert!(ok.status.success(), "{ok:?}");
    let listed = grantd(&["app", "list", "--db", &db, "--json"], None);
    let apps: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("json");
    assert_eq!(apps[0]["callback_url"], "https://app.example/auth/callback");
    let text = grantd(&["app", "list", "--db", &db], None);
    assert!(String::from_utf8_lossy(&text.stdout).contains("https://app.example/auth/callback"));
}

/// `app add --device-flow` turns on GitHub's "Enable Device Flow"; `app list` shows it, and an
/// app added without it has it off.
#[tokio::test]
async fn app_add_device_flow_is_shown_by_app_list() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = sqlite_url(&dir.path().join("grantd.db"));
    let added = grantd(
        &["user", "add", "ivan", "--password-stdin", "--db", &db],
        Some("ivan-pass"),
    );
    assert!(added.status.success(), "{added:?}");
    for (name, flag) in [("cli", Some("--device-flow")), ("web", None)] {
        let mut args = vec![
            "app",
            "add",
            "--owner",
            "ivan",
            "--name",
            name,
            "--url",
            "https://app.example",
            "--db",
            &db,
        ];
        args.extend(flag);
        let out = grantd(&args, None);
        assert!(out.status.success(), "{out:?}");
    }
    let listed = grantd(&["app", "list", "--db", &db, "--json"], None);
    let apps: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("json");
    let flags: Vec<(&str, bool)> = apps
        .as_array()
        .expect("a list")
        .iter()
        .map(|a| {
            (
                a["name"].as_str().expect("name"),
                a["device_flow"].as_bool().expect("flag"),
            )
        })
        .collect();
    assert_eq!(flags, [("cli", true), ("web", false)]);
    let text = grantd(&["app", "list", "--db", &db], None);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.lines().next().is_some_and(|h| h.contains("DEVICE")),
        "{text}"
    );
}
