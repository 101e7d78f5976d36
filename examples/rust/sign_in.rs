//! Recipe: a Rust app's sign-in and token code tested against grantd in-process, with
//! `grantd::testing::TestServer` (no binary, no network but loopback). Run as one of grantd's
//! own test targets (`cargo test --test recipe`); in your project, add grantd as a
//! dev-dependency and copy this file under `tests/`.
//!
//! Rust runs tests in parallel threads, so each test starts its own server (a few
//! milliseconds with `--ephemeral`) instead of sharing one and resetting it: they cannot see
//! each other's tokens or clocks. `app` below stands in for the code under test: the calls a
//! web app or a CLI makes to GitHub, here with reqwest.

// A recipe may unwrap: a panic is how a test fails.
#![allow(clippy::expect_used, clippy::panic)]

use std::time::Duration;

use grantd::testing::{Authorize, Fault, TestServer};
use serde_json::{Value, json};

/// The recipes' fixture: `octocat` and two apps (examples/test-seed.toml).
const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/test-seed.toml");
const OAUTH_APP: (&str, &str) = (
    "0a1b2c3d4e5f6a7b8c9d",
    "1111111111111111111111111111111111111111",
);
const GITHUB_APP: (&str, &str) = (
    "Iv1.a1b2c3d4e5f6a7b8",
    "2222222222222222222222222222222222222222",
);

async fn server() -> TestServer {
    TestServer::builder()
        .seed(SEED)
        .start()
        .await
        .expect("grantd starts")
}

/// The app under test: what a typical GitHub sign-in does, over HTTP.
mod app {
    use serde_json::{Value, json};

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .user_agent("recipe-app")
            .build()
            .expect("client")
    }

    /// `POST /login/oauth/access_token` with `form`, asking for JSON as apps do.
    pub async fn token_endpoint(base: &str, form: &[(&str, &str)]) -> Value {
        try_token_endpoint(base, form)
            .await
            .expect("the token endpoint answers 200, errors too")
    }

    /// The same, for code that must survive GitHub failing: the token endpoint answers 200
    /// for its own errors (`bad_verification_code`…), so another status is GitHub's outage,
    /// returned for the app to show ("GitHub is unavailable, try again") rather than a panic.
    pub async fn try_token_endpoint(base: &str, form: &[(&str, &str)]) -> Result<Value, u16> {
        let res = client()
            .post(format!("{base}/login/oauth/access_token"))
            .header("accept", "application/json")
            .form(form)
            .send()
            .await
            .expect("token endpoint");
        if res.status() != 200 {
            return Err(res.status().as_u16());
        }
        Ok(res.json().await.expect("JSON"))
    }

    /// The web flow's last step, the callback's handler: the code from the callback for a
    /// token, or the status of GitHub's failure.
    pub async fn exchange_code(
        base: &str,
        (id, secret): (&str, &str),
        code: &str,
    ) -> Result<Value, u16> {
        try_token_endpoint(
            base,
            &[("client_id", id), ("client_secret", secret), ("code", code)],
        )
        .await
    }

    pub async fn refresh(base: &str, (id, secret): (&str, &str), refresh_token: &str) -> Value {
        token_endpoint(
            base,
            &[
                ("client_id", id),
                ("client_secret", secret),
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await
    }

    /// `GET /user` with the token: the login, or the status when refused.
    pub async fn whoami(api: &str, token: &str) -> Result<String, u16> {
        let res = client()
            .get(format!("{api}/user"))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET /user");
        if res.status() != 200 {
            return Err(res.status().as_u16());
        }
        let body: Value = res.json().await.expect("JSON");
        Ok(body["login"].as_str().expect("login").to_owned())
    }

    /// `POST` (check) or `DELETE` (revoke) `/applications/{client_id}/token`, as the app's
    /// back end does with its own credentials; the status.
    pub async fn app_token(
        api: &str,
        method: reqwest::Method,
        (id, secret): (&str, &str),
        token: &str,
    ) -> u16 {
        client()
            .request(method, format!("{api}/applications/{id}/token"))
            .basic_auth(id, Some(secret))
            .json(&json!({ "access_token": token }))
            .send()
            .await
            .expect("app token request")
            .status()
            .as_u16()
    }
}

fn text<'a>(body: &'a Value, key: &str) -> &'a str {
    body[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {body}"))
}

#[tokio::test]
async fn web_flow_signs_in_without_a_browser() {
    let server = server().await;
    // The consent page, approved as octocat: where GitHub would redirect the browser.
    let approved = server
        .authorize(Authorize {
            client_id: OAUTH_APP.0.into(),
            login: "octocat".into(),
            scopes: vec!["read:user".into()],
            state: Some("xyz".into()),
            ..Authorize::default()
        })
        .await
        .expect("approved");
    assert!(
        approved
            .redirect_url
            .starts_with("http://localhost:3000/callback?code=")
    );
    assert!(approved.redirect_url.ends_with("&state=xyz"));

    let token = app::exchange_code(server.url(), OAUTH_APP, &approved.code)
        .await
        .expect("a token");
    assert_eq!(text(&token, "token_type"), "bearer");
    assert_eq!(text(&token, "scope"), "read:user");
    let access = text(&token, "access_token");
    assert!(access.starts_with("gho_"));
    assert_eq!(
        app::whoami(&server.api_url(), access).await,
        Ok("octocat".into())
    );

    // A code works once.
    let again = app::exchange_code(server.url(), OAUTH_APP, &approved.code)
        .await
        .expect("an answer");
    assert_eq!(text(&again, "error"), "bad_verification_code");
}

#[tokio::test]
async fn the_app_reports_github_failing_and_signs_in_on_retry() {
    let server = server().await;
    let approved = server
        .authorize(Authorize {
            client_id: OAUTH_APP.0.into(),
            login: "octocat".into(),
            ..Authorize::default()
        })
        .await
        .expect("approved");

    // GitHub's load balancer has no server for the next code exchange (one request only).
    server
        .fault(Fault::status("token", 503).count(1))
        .await
        .expect("fault added");
    assert_eq!(
        app::exchange_code(server.url(), OAUTH_APP, &approved.code).await,
        Err(503)
    );
    // The failed request never reached the exchange, so the code still works: a retry signs in.
    let token = app::exchange_code(server.url(), OAUTH_APP, &approved.code)
        .await
        .expect("a token on retry");
    let access = text(&token, "access_token");

    // The API rate limited until the test clears it: the app sees GitHub's 403.
    server
        .fault(Fault::rate_limit("api"))
        .await
        .expect("fault added");
    assert_eq!(app::whoami(&server.api_url(), access).await, Err(403));
    server.clear_faults().expect("cleared");
    assert_eq!(
        app::whoami(&server.api_url(), access).await,
        Ok("octocat".into())
    );
}

#[tokio::test]
async fn device_flow_signs_in_once_the_user_approves() {
    let server = server().await;
    let res = reqwest::Client::new()
        .post(format!("{}/login/device/code", server.url()))
        .header("accept", "application/json")
        .form(&[("client_id", OAUTH_APP.0), ("scope", "repo")])
        .send()
        .await
        .expect("device code");
    let codes: Value = res.json().await.expect("JSON");
    let poll = [
        ("client_id", OAUTH_APP.0),
        ("device_code", text(&codes, "device_code")),
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
    ];

    let pending = app::token_endpoint(server.url(), &poll).await;
    assert_eq!(text(&pending, "error"), "authorization_pending");

    server
        .approve_device(text(&codes, "user_code"), "octocat")
        .await
        .expect("approved");
    // The app waits `interval` seconds between polls; the clock moves instead.
    server
        .clock()
        .advance(Duration::from_secs(
            codes["interval"].as_u64().expect("interval"),
        ))
        .expect("advance");
    let token = app::token_endpoint(server.url(), &poll).await;
    assert_eq!(text(&token, "scope"), "repo");
    assert_eq!(
        app::whoami(&server.api_url(), text(&token, "access_token")).await,
        Ok("octocat".into())
    );
}

#[tokio::test]
async fn expiring_tokens_refresh_and_then_expire_by_the_clock() {
    let server = server().await;
    let minted = server
        .mint("octocat", GITHUB_APP.0, &[])
        .await
        .expect("minted");
    assert!(minted.access_token.starts_with("ghu_"));
    assert_eq!(minted.expires_in, Some(8 * 3600));
    let refresh_token = minted.refresh_token.expect("a refresh token");

    let refreshed = app::refresh(server.url(), GITHUB_APP, &refresh_token).await;
    let access = text(&refreshed, "access_token").to_owned();
    assert_ne!(access, minted.access_token);
    // Refresh tokens are single use.
    let reused = app::refresh(server.url(), GITHUB_APP, &refresh_token).await;
    assert_eq!(text(&reused, "error"), "bad_refresh_token");

    assert_eq!(
        app::whoami(&server.api_url(), &access).await,
        Ok("octocat".into())
    );
    // Eight hours later, without waiting them.
    server
        .clock()
        .advance(Duration::from_secs(8 * 3600 + 1))
        .expect("advance");
    assert_eq!(app::whoami(&server.api_url(), &access).await, Err(401));
    // The refresh token outlives it (six months): the app refreshes and carries on.
    let again = app::refresh(server.url(), GITHUB_APP, text(&refreshed, "refresh_token")).await;
    assert_eq!(
        app::whoami(&server.api_url(), text(&again, "access_token")).await,
        Ok("octocat".into())
    );
}

#[tokio::test]
async fn the_app_checks_and_revokes_tokens() {
    let server = server().await;
    let token = server
        .mint("octocat", OAUTH_APP.0, &["repo"])
        .await
        .expect("minted")
        .access_token;
    let api = server.api_url();
    let check = |token| app::app_token(&api, reqwest::Method::POST, OAUTH_APP, token);
    assert_eq!(check(&token).await, 200);
    assert_eq!(
        app::app_token(&api, reqwest::Method::DELETE, OAUTH_APP, &token).await,
        204
    );
    assert_eq!(check(&token).await, 404);
    assert_eq!(app::whoami(&api, &token).await, Err(401));

    // The journal shows what the app sent: routes and statuses, never the token.
    let checks: Vec<u16> = server
        .requests()
        .iter()
        .filter(|r| r.route.as_deref() == Some("/api/v3/applications/{client_id}/token"))
        .map(|r| r.status)
        .collect();
    assert_eq!(checks, [200, 204, 404]);
    assert!(
        server
            .requests()
            .iter()
            .all(|r| !json!(r).to_string().contains(&token))
    );
}

#[tokio::test]
async fn a_snapshot_or_a_reset_undoes_what_a_test_did() {
    let server = server().await;
    let kept = server
        .mint("octocat", OAUTH_APP.0, &[])
        .await
        .expect("minted")
        .access_token;
    server.snapshot("signed-in").await.expect("saved");
    let later = server
        .mint("octocat", OAUTH_APP.0, &[])
        .await
        .expect("minted")
        .access_token;

    server.restore("signed-in").await.expect("restored");
    assert_eq!(
        app::whoami(&server.api_url(), &kept).await,
        Ok("octocat".into())
    );
    assert_eq!(app::whoami(&server.api_url(), &later).await, Err(401));

    server.reset().await.expect("reset");
    assert_eq!(app::whoami(&server.api_url(), &kept).await, Err(401));
}
