//! Failed-login throttling (README "HTTP conventions"): after `--login-attempts` failed sign-ins
//! (default 10) for one login within `--login-attempts-window` (default 5 minutes, counted from
//! the first failure), every attempt for that login, right password or not, gets 403 "Maximum
//! number of login attempts exceeded. Please try again later." until the window has passed.
//! Wrong passwords and wrong OTP codes count, a missing OTP code does not, unknown logins are
//! counted the same way, and app secrets are throttled per client id; invalid *tokens* sent to
//! the token check are never failed logins.
//!
//! The server's clock is pinned and moved, so windows pass without sleeping (except in the
//! two-factor test, where the OTP codes follow the real clock and no window has to pass).

use grantd::domain::limits::{LoginThrottle, RateLimit};
use grantd::http::{ApiStatus, Limits};
use reqwest::Method;
use serde_json::json;
use time::OffsetDateTime;

use crate::support::{
    ALICE, ALICE2FA, App, BOB, DEFAULT_FIXTURE, GITHUB_APP, OAUTH_APP, OTHER_APP, Reply,
    RequestExt, ServerOptions, TestServer, User, assert_bad_credentials, assert_json, current_otp,
    error_body, token_of, unissued_token, with_bad_checksum, wrong_otp,
};

const THROTTLED: &str = "Maximum number of login attempts exceeded. Please try again later.";
const OTP_REQUIRED: &str = "Must specify two-factor authentication OTP code.";
/// The window of the servers this module configures.
const WINDOW: i64 = 120;

async fn spawn_throttled(attempts: u32) -> TestServer {
    let options = ServerOptions {
        limits: Limits {
            rate: RateLimit::default(),
            login: LoginThrottle {
                attempts,
                window: time::Duration::seconds(WINDOW),
            },
        },
        authorizations_api: ApiStatus::Enabled,
        ..ServerOptions::default()
    };
    TestServer::spawn_with_options(DEFAULT_FIXTURE, None, options).await
}

/// Pins the server's clock at the current second and returns it.
fn pin_now(srv: &TestServer) -> OffsetDateTime {
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("0 ns is valid");
    srv.clock.pin(now);
    now
}

fn seconds(n: i64) -> time::Duration {
    time::Duration::seconds(n)
}

const fn wrong_password(login: &'static str) -> User {
    User {
        login,
        password: "definitely not the password",
    }
}

async fn list_as(srv: &TestServer, user: &User) -> Reply {
    srv.get("/authorizations").login_as(user).go().await
}

/// `n` sign-ins with a wrong password for `login`, each answered 401 "Bad credentials".
async fn fail(srv: &TestServer, login: &'static str, n: u32) {
    for _ in 0..n {
        assert_bad_credentials(&list_as(srv, &wrong_password(login)).await);
    }
}

#[track_caller]
fn assert_throttled(reply: &Reply) {
    let body = reply.expect_status(403);
    assert_json(&body, &error_body(403, THROTTLED));
}

/// `n` app requests with a wrong client secret for `client_id`, each answered 401.
async fn fail_app(srv: &TestServer, client_id: &str, n: u32) {
    for i in 0..n {
        // Spread over the app endpoints: the count is per client id, not per endpoint.
        let (method, rest) = match i % 3 {
            0 => (Method::POST, "token"),
            1 => (Method::PATCH, "token"),
            _ => (Method::DELETE, "grant"),
        };
        let reply = srv
            .request(method, &format!("/applications/{client_id}/{rest}"))
            .basic_auth(client_id, Some("0000000000000000000000000000000000000000"))
            .json(&json!({ "access_token": unissued_token("gho_") }))
            .go()
            .await;
        assert_bad_credentials(&reply);
    }
}

async fn check(srv: &TestServer, app: &App, token: &str) -> Reply {
    srv.check(app, token).await
}

// ---------------------------------------------------------------------------------------------
// User logins
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn after_the_allowed_failures_even_the_right_password_is_refused() {
    let srv = spawn_throttled(3).await;
    pin_now(&srv);
    fail(&srv, ALICE.login, 3).await;
    assert_throttled(&list_as(&srv, &ALICE).await);
    // Every user-side endpoint, and the refused request does nothing.
    let create = srv
        .post("/authorizations")
        .login_as(&ALICE)
        .json(&json!({ "note": "while throttled" }))
        .go()
        .await;
    assert_throttled(&create);
    assert_throttled(&srv.get("/applications/grants").login_as(&ALICE).go().await);
    assert_throttled(
        &srv.get("/api/v3/authorizations")
            .login_as(&ALICE)
            .go()
            .await,
    );
    // A wrong password is refused the same way now, not with 401.
    assert_throttled(&list_as(&srv, &wrong_password(ALICE.login)).await);
    srv.clock
        .pin(OffsetDateTime::now_utc() + seconds(2 * WINDOW));
    assert!(srv.authorizations(&ALICE).await.is_empty());
}

#[tokio::test]
async fn fewer_failures_than_allowed_leave_the_login_open() {
    let srv = spawn_throttled(3).await;
    pin_now(&srv);
    fail(&srv, ALICE.login, 2).await;
    list_as(&srv, &ALICE).await.expect_status(200);
    // A success does not clear the failures: one more is the third.
    fail(&srv, ALICE.login, 1).await;
    assert_throttled(&list_as(&srv, &ALICE).await);
}

#[tokio::test]
async fn other_logins_are_not_affected() {
    let srv = spawn_throttled(3).await;
    pin_now(&srv);
    fail(&srv, ALICE.login, 3).await;
    assert_throttled(&list_as(&srv, &ALICE).await);
    list_as(&srv, &BOB).await.expect_status(200);
    // bob's own failures are his own count.
    fail(&srv, BOB.login, 2).await;
    list_as(&srv, &BOB).await.expect_status(200);
}

#[tokio::test]
async fn unknown_logins_are_throttled_too() {
    let srv = spawn_throttled(3).await;
    pin_now(&srv);
    fail(&srv, "nobody-here", 3).await;
    // The fourth attempt is refused before the password is looked at, as for a real login.
    assert_throttled(&list_as(&srv, &wrong_password("nobody-here")).await);
    list_as(&srv, &ALICE).await.expect_status(200);
}

#[tokio::test]
async fn a_login_is_throttled_whatever_its_case() {
    let srv = spawn_throttled(3).await;
    pin_now(&srv);
    fail(&srv, "ALICE", 2).await;
    fail(&srv, "Alice", 1).await;
    assert_throttled(&list_as(&srv, &ALICE).await);
}

#[tokio::test]
async fn a_wrong_otp_code_counts_but_a_missing_one_does_not() {
    // Real time here: the codes are computed from the wall clock.
    let srv = spawn_throttled(3).await;
    for _ in 0..5 {
        let reply = list_as(&srv, &ALICE2FA).await;
        assert_json(&reply.expect_status(401), &error_body(401, OTP_REQUIRED));
    }
    let reply = srv
        .get("/authorizations")
        .login_as(&ALICE2FA)
        .header("X-GitHub-OTP", current_otp())
        .go()
        .await;
    reply.expect_status(200);
    for _ in 0..3 {
        let reply = srv
            .get("/authorizations")
            .login_as(&ALICE2FA)
            .header("X-GitHub-OTP", wrong_otp())
            .go()
            .await;
        assert_json(&reply.expect_status(401), &error_body(401, OTP_REQUIRED));
    }
    let reply = srv
        .get("/authorizations")
        .login_as(&ALICE2FA)
        .header("X-GitHub-OTP", current_otp())
        .go()
        .await;
    assert_throttled(&reply);
    // Without a code too: the login is throttled, not asked for its code.
    assert_throttled(&list_as(&srv, &ALICE2FA).await);
}

#[tokio::test]
async fn the_window_counts_from_the_first_failure_and_its_end_restores_access() {
    let srv = spawn_throttled(3).await;
    let t0 = pin_now(&srv);
    fail(&srv, ALICE.login, 1).await;
    srv.clock.pin(t0 + seconds(WINDOW / 2));
    fail(&srv, ALICE.login, 2).await;
    assert_throttled(&list_as(&srv, &ALICE).await);
    // Attempts while throttled, right or wrong, do not extend the window.
    srv.clock.pin(t0 + seconds(WINDOW - 1));
    assert_throttled(&list_as(&srv, &ALICE).await);
    assert_throttled(&list_as(&srv, &wrong_password(ALICE.login)).await);
    srv.clock.pin(t0 + seconds(WINDOW));
    list_as(&srv, &ALICE).await.expect_status(200);
    // The count starts again from nothing.
    fail(&srv, ALICE.login, 2).await;
    list_as(&srv, &ALICE).await.expect_status(200);
}

#[tokio::test]
async fn failures_in_different_windows_do_not_add_up() {
    let srv = spawn_throttled(3).await;
    let t0 = pin_now(&srv);
    fail(&srv, ALICE.login, 2).await;
    srv.clock.pin(t0 + seconds(WINDOW));
    fail(&srv, ALICE.login, 2).await;
    list_as(&srv, &ALICE).await.expect_status(200);
    srv.clock.pin(t0 + seconds(2 * WINDOW + 1));
    fail(&srv, ALICE.login, 2).await;
    list_as(&srv, &ALICE).await.expect_status(200);
}

#[tokio::test]
async fn by_default_ten_failures_throttle_a_login_for_five_minutes() {
    let srv = TestServer::spawn().await;
    let t0 = pin_now(&srv);
    fail(&srv, ALICE.login, 9).await;
    list_as(&srv, &ALICE).await.expect_status(200);
    fail(&srv, ALICE.login, 1).await;
    assert_throttled(&list_as(&srv, &ALICE).await);
    srv.clock.pin(t0 + seconds(5 * 60 - 1));
    assert_throttled(&list_as(&srv, &ALICE).await);
    srv.clock.pin(t0 + seconds(5 * 60));
    list_as(&srv, &ALICE).await.expect_status(200);
}

// ---------------------------------------------------------------------------------------------
// App secrets
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn wrong_client_secrets_throttle_the_client_id_on_every_app_endpoint() {
    let srv = spawn_throttled(3).await;
    let t0 = pin_now(&srv);
    let authz = srv
        .create_app_authorization(&ALICE, &OAUTH_APP, json!({}))
        .await;
    let token = token_of(&authz, "gho_");
    fail_app(&srv, OAUTH_APP.client_id, 3).await;
    // The right secret is refused now, on every app endpoint.
    assert_throttled(&check(&srv, &OAUTH_APP, &token).await);
    assert_throttled(&srv.reset(&OAUTH_APP, &token).await);
    assert_throttled(&srv.revoke(&OAUTH_APP, &token).await);
    assert_throttled(&srv.delete_app_grant(&OAUTH_APP, &token).await);
    assert_throttled(
        &srv.scope(
            &OAUTH_APP,
            json!({ "access_token": token, "target": "alice" }),
        )
        .await,
    );
    assert_throttled(
        &srv.as_app(
            Method::GET,
            &format!("/applications/{}/tokens/{token}", OAUTH_APP.client_id),
            &OAUTH_APP,
        )
        .go()
        .await,
    );
    // Other apps, the app's owner and the token itself are not affected.
    let other = check(&srv, &OTHER_APP, &unissued_token("gho_")).await;
    assert_eq!(other.status, 404, "{}", other.body);
    let github_app = check(&srv, &GITHUB_APP, &unissued_token("ghu_")).await;
    assert_eq!(github_app.status, 404, "{}", github_app.body);
    list_as(&srv, &ALICE).await.expect_status(200);
    srv.get_user(&token).await.expect_status(200);
    // Once the window has passed the app is served again, and the token was never touched.
    srv.clock.pin(t0 + seconds(WINDOW));
    let checked = check(&srv, &OAUTH_APP, &token).await;
    assert_eq!(checked.expect_status(200)["token"], token.as_str());
}

#[tokio::test]
async fn unknown_client_ids_are_throttled_too() {
    let srv = spawn_throttled(3).await;
    pin_now(&srv);
    let unknown = "0123456789unknown000";
    fail_app(&srv, unknown, 3).await;
    let reply = srv
        .request(Method::POST, &format!("/applications/{unknown}/token"))
        .basic_auth(unknown, Some("0000000000000000000000000000000000000000"))
        .json(&json!({ "access_token": unissued_token("gho_") }))
        .go()
        .await;
    assert_throttled(&reply);
}

#[tokio::test]
async fn invalid_tokens_sent_to_the_token_check_are_never_failed_logins() {
    let srv = spawn_throttled(3).await;
    pin_now(&srv);
    let authz = srv
        .create_app_authorization(&ALICE, &OAUTH_APP, json!({}))
        .await;
    let token = token_of(&authz, "gho_");
    let others = srv
        .create_app_authorization(&ALICE, &OTHER_APP, json!({}))
        .await;
    let other_apps_token = token_of(&others, "gho_");
    let invalid = [
        unissued_token("gho_"),
        with_bad_checksum(&token),
        other_apps_token,
        "not a token at all".to_owned(),
        unissued_token("ghp_"),
        unissued_token("ghu_"),
    ];
    for round in 0..2 {
        for bad in &invalid {
            let reply = check(&srv, &OAUTH_APP, bad).await;
            assert!(
                reply.status == 404 || reply.status == 422,
                "round {round}, token {bad:?}: {} {}",
                reply.status,
                reply.body
            );
            let legacy = srv
                .as_app(
                    Method::GET,
                    &format!("/applications/{}/tokens/{bad}", OAUTH_APP.client_id),
                    &OAUTH_APP,
                )
                .go()
                .await;
            assert_eq!(
                legacy.status, 404,
                "legacy check of {bad:?}: {}",
                legacy.body
            );
        }
    }
    // Twenty-four invalid tokens later, with three failures allowed, the app is not throttled.
    let checked = check(&srv, &OAUTH_APP, &token).await;
    assert_eq!(checked.expect_status(200)["token"], token.as_str());
    // Only wrong secrets count: three of them throttle it.
    fail_app(&srv, OAUTH_APP.client_id, 3).await;
    assert_throttled(&check(&srv, &OAUTH_APP, &token).await);
}

#[tokio::test]
async fn a_client_ids_failures_do_not_throttle_a_login_of_the_same_name() {
    // App secrets and user passwords are counted apart, even for a login named like a client id.
    let srv = spawn_throttled(3).await;
    pin_now(&srv);
    fail_app(&srv, "alice", 3).await;
    list_as(&srv, &ALICE).await.expect_status(200);
    fail(&srv, OAUTH_APP.client_id, 3).await;
    let authz = srv
        .create_app_authorization(&ALICE, &OAUTH_APP, json!({}))
        .await;
    let token = token_of(&authz, "gho_");
    check(&srv, &OAUTH_APP, &token).await.expect_status(200);
}
