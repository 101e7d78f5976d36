//! Failed-login throttling (docs/security.md, "Sign-in lockouts"): after `--login-attempts` failed sign-ins
//! (default 10) for one login within `--login-attempts-window` (default 5 minutes, counted from
//! the first failure), every attempt for that login, right password or not, gets 403 "Maximum
//! number of login attempts exceeded. Please try again later." until the window has passed.
//! Wrong passwords and wrong OTP codes count, a missing OTP code does not, and unknown logins
//! are counted the same way. Wrong app secrets are counted per source address and never make
//! a right secret fail; invalid *tokens* sent to the token check are never failed logins.
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
    error_body, grantd, token_of, unissued_token, with_bad_checksum, wrong_otp,
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

/// A client whose connections come from `source` (any 127.0.0.0/8 address reaches the server),
/// so that a test can be several callers.
fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(source.parse::<std::net::IpAddr>().expect("an address"))
        .build()
        .expect("a client")
}

/// An app request with a wrong client secret for `client_id` on the `i`th of three endpoints
/// (the count is per address, whatever the endpoint).
async fn wrong_secret(
    srv: &TestServer,
    client: &reqwest::Client,
    client_id: &str,
    i: u32,
) -> Reply {
    let (method, rest) = match i % 3 {
        0 => (Method::POST, "token"),
        1 => (Method::PATCH, "token"),
        _ => (Method::DELETE, "grant"),
    };
    client
        .request(
            method,
            srv.url(&format!("/applications/{client_id}/{rest}")),
        )
        .basic_auth(client_id, Some("0000000000000000000000000000000000000000"))
        .json(&json!({ "access_token": unissued_token("gho_") }))
        .go()
        .await
}

/// `n` app requests with a wrong client secret for `client_id` from 127.0.0.1, each answered 401.
async fn fail_app(srv: &TestServer, client_id: &str, n: u32) {
    for i in 0..n {
        assert_bad_credentials(&wrong_secret(srv, &srv.client, client_id, i).await);
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

/// A right password takes its place in the count and gives it back; it does not start the
/// window, which starts with the first failure.
#[tokio::test]
async fn a_right_password_does_not_start_the_window() {
    let srv = spawn_throttled(3).await;
    let t0 = pin_now(&srv);
    list_as(&srv, &ALICE).await.expect_status(200);
    let first_failure = t0 + seconds(WINDOW / 2);
    srv.clock.pin(first_failure);
    fail(&srv, ALICE.login, 3).await;
    // A window from the right password would have ended here; the failures' has not.
    srv.clock.pin(t0 + seconds(WINDOW));
    assert_throttled(&list_as(&srv, &ALICE).await);
    srv.clock.pin(first_failure + seconds(WINDOW));
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

/// The app endpoints, called by `app` with its right secret about `token`, succeed (the last
/// one resets the token).
async fn assert_app_served(srv: &TestServer, app: &App, token: &str) {
    let checked = check(srv, app, token).await;
    assert_eq!(checked.expect_status(200)["token"], token);
    let legacy = srv
        .as_app(
            Method::GET,
            &format!("/applications/{}/tokens/{token}", app.client_id),
            app,
        )
        .go()
        .await;
    legacy.expect_status(200);
    srv.reset(app, token).await.expect_status(200);
}

/// Issue 18, item 5: client ids are public, so a stranger's wrong secrets must not stop an
/// app. They are counted against the stranger's address, and a right secret is never refused,
/// not even from that address.
#[tokio::test]
async fn a_strangers_wrong_secrets_never_lock_an_app_out() {
    let srv = spawn_throttled(3).await;
    pin_now(&srv);
    let authz = srv
        .create_app_authorization(&ALICE, &OAUTH_APP, json!({}))
        .await;
    let token = token_of(&authz, "gho_");
    let stranger = client_from("127.0.0.2");
    for i in 0..12 {
        let reply = wrong_secret(&srv, &stranger, OAUTH_APP.client_id, i).await;
        if i < 3 {
            assert_bad_credentials(&reply);
        } else {
            assert_throttled(&reply);
        }
    }
    // Even from the stranger's address, the right secret works.
    let checked = stranger
        .post(srv.url(&format!("/applications/{}/token", OAUTH_APP.client_id)))
        .basic_auth(OAUTH_APP.client_id, Some(OAUTH_APP.client_secret))
        .json(&json!({ "access_token": token }))
        .go()
        .await;
    checked.expect_status(200);
    // The app's own wrong secrets are its own address's: still "Bad credentials".
    fail_app(&srv, OAUTH_APP.client_id, 1).await;
    // And from its own address it is served on every endpoint.
    assert_app_served(&srv, &OAUTH_APP, &token).await;
}

#[tokio::test]
async fn an_addresss_wrong_secrets_count_across_client_ids_until_the_window_ends() {
    let srv = spawn_throttled(3).await;
    let t0 = pin_now(&srv);
    let caller = client_from("127.0.0.3");
    // Known and unknown client ids alike: the count is the address's.
    for (i, client_id) in [
        OAUTH_APP.client_id,
        "0123456789unknown000",
        GITHUB_APP.client_id,
    ]
    .into_iter()
    .enumerate()
    {
        let i = u32::try_from(i).unwrap();
        assert_bad_credentials(&wrong_secret(&srv, &caller, client_id, i).await);
    }
    for (i, client_id) in [OTHER_APP.client_id, "x", OAUTH_APP.client_id]
        .into_iter()
        .enumerate()
    {
        let i = u32::try_from(i).unwrap();
        assert_throttled(&wrong_secret(&srv, &caller, client_id, i).await);
    }
    // Another address is not affected.
    fail_app(&srv, OAUTH_APP.client_id, 1).await;
    // Attempts while throttled do not extend the window; its end restores "Bad credentials".
    srv.clock.pin(t0 + seconds(WINDOW - 1));
    assert_throttled(&wrong_secret(&srv, &caller, OAUTH_APP.client_id, 0).await);
    srv.clock.pin(t0 + seconds(WINDOW));
    assert_bad_credentials(&wrong_secret(&srv, &caller, OAUTH_APP.client_id, 0).await);
}

/// Issue 18, item 5: a secret guessed through get-or-create (422 "invalid client_secret") is a
/// failed app sign-in of the caller's address like any other.
#[tokio::test]
async fn wrong_secrets_sent_to_get_or_create_count_as_failed_app_sign_ins() {
    let srv = spawn_throttled(3).await;
    pin_now(&srv);
    let path = format!("/authorizations/clients/{}", OAUTH_APP.client_id);
    let guess = json!({ "client_secret": "0000000000000000000000000000000000000000" });
    for _ in 0..3 {
        let reply = srv.put(&path).login_as(&ALICE).json(&guess).go().await;
        let body = reply.expect_status(422);
        assert_eq!(body["errors"][0]["field"], "client_secret", "{body}");
    }
    let reply = srv.put(&path).login_as(&BOB).json(&guess).go().await;
    assert_throttled(&reply);
    // The Basic-auth header's own wrong secrets share the count.
    assert_throttled(&wrong_secret(&srv, &srv.client, OAUTH_APP.client_id, 0).await);
    // The right secret still works, in a body and in a header.
    let right = json!({ "client_secret": OAUTH_APP.client_secret });
    let created = srv.put(&path).login_as(&ALICE).json(&right).go().await;
    let token = token_of(&created.expect_status(201), "gho_");
    assert_app_served(&srv, &OAUTH_APP, &token).await;
}

/// Issue 18, item 1: a failed sign-in is counted under a key of bounded size (a login that
/// could exist, an address), so names of any length add nothing per request to the database.
/// (Before: 50 requests with a 290 KB name grew the database by 50 MB.)
#[tokio::test]
async fn failed_sign_ins_with_huge_names_do_not_grow_the_database() {
    let srv = spawn_throttled(3).await;
    pin_now(&srv);
    let huge = "a".repeat(200 * 1024);
    for i in 0..50 {
        let app = srv
            .post("/applications/abc/token")
            .basic_auth(format!("{huge}{i}"), Some("secret"))
            .json(&json!({ "access_token": unissued_token("gho_") }))
            .go()
            .await;
        assert!(app.status == 401 || app.status == 403, "{}", app.status);
        let user = srv
            .get("/authorizations")
            .basic_auth(format!("{huge}{i}"), Some("password"))
            .go()
            .await;
        assert_bad_credentials(&user);
    }
    // What the counters hold, read from the database itself (either engine).
    let sql = "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(LENGTH(subject)), 0) AS BIGINT) \
               FROM counters";
    let (rows, bytes): (i64, i64) = if srv.db_url().starts_with("postgres") {
        let pool = sqlx::PgPool::connect(srv.db_url()).await.expect("connect");
        sqlx::query_as(sql).fetch_one(&pool).await.expect("count")
    } else {
        let pool = sqlx::SqlitePool::connect(srv.db_url())
            .await
            .expect("connect");
        sqlx::query_as(sql).fetch_one(&pool).await.expect("count")
    };
    // One row: the address's failures (the logins could not exist, so nothing counts them).
    assert_eq!(
        (rows, bytes),
        (1, i64::try_from("addr:127.0.0.1".len()).unwrap())
    );
}

/// Issue 18, item 3: each attempt takes its place in the count before its password is checked,
/// so attempts racing in parallel get exactly the allowed number of checks, not more.
#[tokio::test]
async fn racing_wrong_passwords_get_no_more_checks_than_allowed() {
    let srv = std::sync::Arc::new(TestServer::spawn().await);
    pin_now(&srv);
    let in_flight = std::sync::Arc::new(tokio::sync::Semaphore::new(8));
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..30 {
        let (srv, in_flight) = (
            std::sync::Arc::clone(&srv),
            std::sync::Arc::clone(&in_flight),
        );
        attempts.spawn(async move {
            let _slot = in_flight.acquire().await.expect("open");
            list_as(&srv, &wrong_password(ALICE.login)).await.status
        });
    }
    let statuses = attempts.join_all().await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 403).count();
    assert_eq!((checked, refused), (10, 20), "{statuses:?}");
    assert_throttled(&list_as(&srv, &ALICE).await);
}

/// The same race with app secrets: exactly the allowed number are answered "Bad credentials".
#[tokio::test]
async fn racing_wrong_secrets_are_counted_exactly() {
    let srv = std::sync::Arc::new(spawn_throttled(5).await);
    pin_now(&srv);
    let mut attempts = tokio::task::JoinSet::new();
    for i in 0..24 {
        let srv = std::sync::Arc::clone(&srv);
        attempts.spawn(async move {
            wrong_secret(&srv, &srv.client, OAUTH_APP.client_id, i)
                .await
                .status
        });
    }
    let statuses = attempts.join_all().await;
    let counted = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 403).count();
    assert_eq!((counted, refused), (5, 19), "{statuses:?}");
}

/// `grantd user unlock` ends a lockout at once.
#[tokio::test]
async fn unlocking_a_user_lets_them_sign_in_at_once() {
    let srv = spawn_throttled(3).await;
    pin_now(&srv);
    fail(&srv, ALICE.login, 3).await;
    assert_throttled(&list_as(&srv, &ALICE).await);
    let unlocked = grantd(
        &["user", "unlock", "ALICE", "--db", srv.db_url(), "--json"],
        None,
    );
    assert!(unlocked.status.success(), "{unlocked:?}");
    let out: serde_json::Value = serde_json::from_slice(&unlocked.stdout).expect("JSON");
    assert_eq!(
        out,
        json!({ "login": "alice", "had_failed_sign_ins": true })
    );
    list_as(&srv, &ALICE).await.expect_status(200);
    // Unlocking again finds nothing to forget; an unknown user is an error.
    let again = grantd(&["user", "unlock", "alice", "--db", srv.db_url()], None);
    assert!(String::from_utf8_lossy(&again.stdout).contains("had no failed sign-ins"));
    let unknown = grantd(&["user", "unlock", "nobody", "--db", srv.db_url()], None);
    assert!(!unknown.status.success());
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
    // Twenty-four invalid tokens later, with three failures allowed, nothing is throttled:
    // three wrong secrets are still each "Bad credentials".
    fail_app(&srv, OAUTH_APP.client_id, 3).await;
    assert_throttled(&wrong_secret(&srv, &srv.client, OAUTH_APP.client_id, 0).await);
    let checked = check(&srv, &OAUTH_APP, &token).await;
    assert_eq!(checked.expect_status(200)["token"], token.as_str());
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

/// Issue 19: a secret guessed at the web flow's token endpoint (`incorrect_client_credentials`)
/// is a failed app sign-in of the caller's address, counted with the API's.
#[tokio::test]
async fn wrong_secrets_sent_to_the_token_endpoint_count_as_failed_app_sign_ins() {
    let srv = spawn_throttled(3).await;
    pin_now(&srv);
    let guess = [
        ("client_id", OAUTH_APP.client_id),
        ("client_secret", "0000000000000000000000000000000000000000"),
        ("code", "0123456789abcdef0123"),
    ];
    for _ in 0..3 {
        let reply = srv
            .post("/login/oauth/access_token")
            .header("accept", "application/json")
            .form(&guess)
            .go()
            .await;
        let body = reply.expect_status(200);
        assert_eq!(body["error"], "incorrect_client_credentials", "{body}");
    }
    let reply = srv
        .post("/login/oauth/access_token")
        .header("accept", "application/json")
        .form(&guess)
        .go()
        .await;
    assert_throttled(&reply);
    // The API's Basic-auth app sign-in shares the count.
    assert_throttled(&wrong_secret(&srv, &srv.client, OAUTH_APP.client_id, 0).await);
}
