//! The Python clients apps sign users in with, driven against grantd: PyGithub's
//! `ApplicationOAuth` (`get_login_url`, `get_access_token`, `refresh_access_token`) and a
//! generic OAuth 2 client with PKCE (Authlib's `OAuth2Session`). Each runs as a script of
//! tests/clients/python with the pinned virtualenv `scripts/python-clients` installs; the
//! test plays the browser between the script's two steps (sign-in and consent over HTTP) and
//! then checks over HTTP what the client got. PyGithub also reads the API as a script with a
//! token does (`get_rate_limit`, `get_user`), given GHES's `/api/v3` base URL.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Client;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::refresh::{REFRESHING_APP, REFRESHING_CALLBACK, refresh_fixture};
use crate::signin::location;
use crate::support::{ALICE, RequestExt, TestServer};
use crate::web_flow::{alice, form_fields, param};

fn client_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/python")
}

/// The virtualenv's python: `$CARGO_TARGET_DIR/python-clients` (the target directory is the
/// parent of the one cargo gives integration tests for scratch files).
fn python() -> PathBuf {
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .to_path_buf();
    let python = target.join("python-clients/bin/python");
    assert!(
        python.is_file(),
        "the Python clients are not installed: run scripts/python-clients (scripts/test does \
         it) and run the tests again"
    );
    python
}

/// Runs `script` with `args` on another thread (the server runs on this test's runtime),
/// for at most two minutes; asserts it succeeded.
pub(crate) async fn run(script: &str, args: Vec<String>) -> String {
    let child = Command::new(python())
        .arg(client_dir().join(script))
        .args(&args)
        .current_dir(client_dir())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the virtualenv's python");
    let pid = child.id();
    let waited = tokio::time::timeout(
        Duration::from_mins(2),
        tokio::task::spawn_blocking(move || child.wait_with_output()),
    )
    .await;
    let Ok(joined) = waited else {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        panic!("python {script} did not finish within 2 minutes");
    };
    let out: Output = joined.expect("the waiting task ran").expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "python {script} {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.lines().last().unwrap_or_default().to_owned()
}

/// Opens an authorization URL in the signed-in browser, consents, and returns where the
/// browser is sent back to (the callback with `code` and `state`).
async fn consent_at(srv: &TestServer, browser: &Client, url: &str) -> String {
    let page = browser.get(url).send().await.expect("GET authorize");
    assert_eq!(page.status(), 200, "the consent page for {url}");
    let mut form = form_fields(&page.text().await.expect("body"));
    form.push(("authorize".to_owned(), "1".to_owned()));
    let answer = browser
        .post(srv.url("/login/oauth/authorize"))
        .form(&form)
        .send()
        .await
        .expect("POST authorize");
    assert_eq!(answer.status(), 302);
    location(&answer).to_owned()
}

fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {value}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pygithub_signs_in_and_refreshes_with_application_oauth() {
    let srv = TestServer::spawn_seeded(&refresh_fixture(), None).await;
    let browser = alice(&srv).await;
    // PyGithub is given GitHub Enterprise Server's API URL and finds the OAuth endpoints at
    // the host's root, as on GHES.
    let api = srv.url("/api/v3");
    let credentials = || {
        vec![
            api.clone(),
            REFRESHING_APP.client_id.to_owned(),
            REFRESHING_APP.client_secret.to_owned(),
        ]
    };
    let mut args = vec!["login-url".to_owned()];
    args.extend(credentials());
    args.extend([REFRESHING_CALLBACK.to_owned(), "py state".to_owned()]);
    let url = run("pygithub_oauth.py", args).await;
    assert_eq!(
        url,
        format!(
            "{}?client_id={}&redirect_uri={}&state=py+state",
            srv.url("/login/oauth/authorize"),
            REFRESHING_APP.client_id,
            "http%3A%2F%2F127.0.0.1%3A9000%2Fcb"
        )
    );
    let back = consent_at(&srv, &browser, &url).await;
    assert_eq!(param(&back, "state").as_deref(), Some("py state"));
    let code = param(&back, "code").expect("a code");

    let mut args = vec!["exchange".to_owned()];
    args.extend(credentials());
    args.push(code);
    let result: Value = serde_json::from_str(&run("pygithub_oauth.py", args).await).expect("JSON");
    assert_eq!(result["pygithub"], "2.10.0");
    assert_eq!(result["login"], "alice");
    let (first, second) = (&result["first"], &result["second"]);
    for pair in [first, second] {
        assert_eq!(pair["type"], "bearer");
        assert_eq!(pair["scope"], "");
        assert_eq!(pair["expires_in"], 28_800);
        assert_eq!(pair["refresh_expires_in"], 15_897_600);
    }
    srv.assert_token_is_gone(&REFRESHING_APP, text(first, "token"))
        .await;
    srv.assert_token_works(&REFRESHING_APP, text(second, "token"), "alice")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authlib_signs_in_with_pkce_and_refreshes() {
    let srv = TestServer::spawn_seeded(&refresh_fixture(), None).await;
    let browser = alice(&srv).await;
    let verifier = "authlib-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";
    let state = "authlib-state";
    let common = |step: &str| {
        vec![
            step.to_owned(),
            srv.url(""),
            REFRESHING_APP.client_id.to_owned(),
            REFRESHING_APP.client_secret.to_owned(),
            REFRESHING_CALLBACK.to_owned(),
            verifier.to_owned(),
            state.to_owned(),
        ]
    };
    let url = run("authlib_pkce.py", common("authorize")).await;
    // The challenge Authlib sent is S256 of the verifier.
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    assert_eq!(param(&url, "code_challenge"), Some(challenge));
    assert_eq!(
        param(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(param(&url, "response_type").as_deref(), Some("code"));
    let back = consent_at(&srv, &browser, &url).await;
    assert!(back.starts_with(REFRESHING_CALLBACK), "{back}");

    let mut args = common("token");
    args.push(back);
    let result: Value = serde_json::from_str(&run("authlib_pkce.py", args).await).expect("JSON");
    assert_eq!(result["authlib"], "1.9.6");
    let (first, second) = (&result["first"], &result["second"]);
    for token in [first, second] {
        assert_eq!(token["token_type"], "bearer");
        assert_eq!(token["expires_in"], 28_800);
        assert_eq!(token["refresh_token_expires_in"], 15_897_600);
    }
    srv.assert_token_is_gone(&REFRESHING_APP, text(first, "access_token"))
        .await;
    srv.assert_token_works(&REFRESHING_APP, text(second, "access_token"), "alice")
        .await;
}

/// The fields of a user PyGithub reads (`pygithub_api.py`'s `user`), from grantd's own
/// answer.
fn user_fields(answer: &Value) -> Value {
    let mut fields = serde_json::Map::new();
    for field in [
        "login",
        "id",
        "node_id",
        "type",
        "site_admin",
        "name",
        "url",
        "html_url",
        "avatar_url",
    ] {
        fields.insert(field.to_owned(), answer[field].clone());
    }
    Value::Object(fields)
}

/// A resource of a `GET /rate_limit` answer as `pygithub_api.py` reports a `Rate`.
fn core_rate(answer: &Value, resource: &str) -> Value {
    let rate = &answer["resources"][resource];
    for field in ["limit", "remaining", "used", "reset"] {
        assert!(rate[field].is_i64(), "{field} in {answer}");
    }
    json!({
        "limit": rate["limit"],
        "remaining": rate["remaining"],
        "used": rate["used"],
        "reset": rate["reset"],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pygithub_reads_the_rate_limit_and_users_over_the_api() {
    let srv = TestServer::spawn().await;
    let token = srv
        .create_pat_with(
            &ALICE,
            json!({ "note": "pygithub", "scopes": ["read:org", "user"] }),
        )
        .await["token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let alice = srv
        .get("/user")
        .header("authorization", format!("token {token}"))
        .go()
        .await
        .expect_status(200);
    let bob = srv.get("/users/bob").go().await.expect_status(200);
    // What grantd says right before; reading it costs nothing, so PyGithub must read the same.
    let anonymous = srv.get("/rate_limit").go().await.expect_status(200);
    let limits = srv
        .get("/rate_limit")
        .header("authorization", format!("token {token}"))
        .go()
        .await
        .expect_status(200);

    let args = vec![srv.url("/api/v3"), token, "bob".to_owned()];
    let result: Value = serde_json::from_str(&run("pygithub_api.py", args).await).expect("JSON");
    assert_eq!(result["pygithub"], "2.10.0");
    assert_eq!(result["anonymous"]["core"], core_rate(&anonymous, "core"));
    assert_eq!(result["rate"]["core"], core_rate(&limits, "core"));
    assert_eq!(result["rate"]["graphql"], core_rate(&limits, "graphql"));
    assert_eq!(result["me"], user_fields(&alice));
    assert_eq!(result["me"]["url"], srv.public("/users/alice"));
    assert_eq!(result["user"], user_fields(&bob));
    assert_eq!(result["user"]["login"], "bob");
    assert_eq!(result["scopes"], json!(["read:org", "user"]));
    assert_eq!(
        result["unknown"],
        json!({ "status": 404, "message": "Not Found" })
    );
    assert_eq!(
        result["bad_token"],
        json!({ "status": 401, "message": "Bad credentials" })
    );
}
