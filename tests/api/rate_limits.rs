//! Rate limits (docs/api.md, "HTTP conventions"): every authenticated request counts against its user
//! (Basic or token) or its app (client id), over a fixed window that starts with the first
//! request; answers carry `X-RateLimit-Limit`, `-Remaining`, `-Used`, `-Reset` and `-Resource`;
//! past the limit, 403 "API rate limit exceeded for user ID <id>." (or "for app <client_id>.")
//! with `X-RateLimit-Remaining: 0` until the reset time. Unauthenticated requests are not counted.
//!
//! The server's clock is pinned and moved, so windows pass without sleeping.

use grantd::domain::limits::{LoginThrottle, RateLimit};
use grantd::http::{ApiStatus, Limits};
use reqwest::Method;
use serde_json::json;
use time::OffsetDateTime;

use crate::support::{
    ALICE, BOB, DEFAULT_FIXTURE, GITHUB_APP, OAUTH_APP, OTHER_APP, Reply, RequestExt,
    ServerOptions, TestServer, User, assert_json, error_body, token_of, unissued_token,
};

const WINDOW: i64 = 60;

/// A server allowing `limit` requests per `WINDOW` seconds, its clock pinned at a whole second.
async fn spawn_limited(limit: u32) -> (TestServer, OffsetDateTime) {
    let options = ServerOptions {
        limits: Limits {
            rate: RateLimit {
                limit,
                window: time::Duration::seconds(WINDOW),
            },
            login: LoginThrottle::default(),
        },
        authorizations_api: ApiStatus::Enabled,
        ..ServerOptions::default()
    };
    let srv = TestServer::spawn_with_options(DEFAULT_FIXTURE, None, options).await;
    let t0 = pin_now(&srv);
    (srv, t0)
}

/// Pins the server's clock at the current second and returns it.
fn pin_now(srv: &TestServer) -> OffsetDateTime {
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("0 ns is valid");
    srv.clock.pin(now);
    now
}

/// The `X-RateLimit-*` figures of an answer.
#[derive(Debug, PartialEq, Eq)]
struct Rate {
    limit: u32,
    remaining: u32,
    used: u32,
    reset: i64,
}

#[track_caller]
fn rate_of(reply: &Reply) -> Rate {
    let number = |name: &str| -> i64 {
        let text = reply.header(name).unwrap_or_else(|| {
            panic!(
                "no {name} on a {} answer: {:?}",
                reply.status, reply.headers
            )
        });
        text.parse()
            .unwrap_or_else(|e| panic!("{name}: {text:?} is not a number: {e}"))
    };
    assert_eq!(
        reply.header("X-RateLimit-Resource").as_deref(),
        Some("core"),
        "X-RateLimit-Resource (status {})",
        reply.status
    );
    let small = |name: &str| u32::try_from(number(name)).expect("fits u32");
    Rate {
        limit: small("X-RateLimit-Limit"),
        remaining: small("X-RateLimit-Remaining"),
        used: small("X-RateLimit-Used"),
        reset: number("X-RateLimit-Reset"),
    }
}

fn rate(limit: u32, used: u32, reset: OffsetDateTime) -> Rate {
    Rate {
        limit,
        remaining: limit - used,
        used,
        reset: reset.unix_timestamp(),
    }
}

fn window_end(start: OffsetDateTime) -> OffsetDateTime {
    start + time::Duration::seconds(WINDOW)
}

#[track_caller]
fn assert_no_rate_limit_headers(reply: &Reply, what: &str) {
    for name in [
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Used",
        "X-RateLimit-Reset",
        "X-RateLimit-Resource",
    ] {
        assert_eq!(
            reply.header(name),
            None,
            "{what} (status {}) carries {name}",
            reply.status
        );
    }
}

async fn list_as(srv: &TestServer, user: &User) -> Reply {
    srv.get("/authorizations").login_as(user).go().await
}

/// The user's id, which the rate-limit message names.
async fn user_id(srv: &TestServer, user: &User) -> i64 {
    srv.account_id(user.login).await
}

#[track_caller]
fn assert_user_limit_exceeded(reply: &Reply, id: i64) {
    let body = reply.expect_status(403);
    assert_json(
        &body,
        &error_body(403, &format!("API rate limit exceeded for user ID {id}.")),
    );
}

// ---------------------------------------------------------------------------------------------
// The headers
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn basic_authenticated_answers_count_down_from_5000_an_hour_by_default() {
    let srv = TestServer::spawn().await;
    let t0 = pin_now(&srv);
    let reset = t0 + time::Duration::HOUR;
    for used in 1..=3 {
        let reply = list_as(&srv, &ALICE).await;
        reply.expect_status(200);
        assert_eq!(rate_of(&reply), rate(5_000, used, reset), "request {used}");
    }
    // Every kind of user-side answer carries them, errors after authentication included.
    let created = srv
        .post("/authorizations")
        .login_as(&ALICE)
        .json(&json!({ "note": "counted" }))
        .go()
        .await;
    created.expect_status(201);
    assert_eq!(rate_of(&created), rate(5_000, 4, reset));
    let missing = srv
        .get("/authorizations/999999")
        .login_as(&ALICE)
        .go()
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(rate_of(&missing), rate(5_000, 5, reset));
    let invalid = srv
        .post("/authorizations")
        .login_as(&ALICE)
        .json(&json!({ "scopes": ["repo"] }))
        .go()
        .await;
    assert_eq!(invalid.status, 422);
    assert_eq!(rate_of(&invalid), rate(5_000, 6, reset));
}

#[tokio::test]
async fn app_answers_count_against_the_app() {
    let srv = TestServer::spawn().await;
    let t0 = pin_now(&srv);
    let reset = t0 + time::Duration::HOUR;
    // A token check that finds nothing is still an authenticated, counted request.
    let unknown = unissued_token("gho_");
    for used in 1..=2 {
        let reply = srv.check(&OAUTH_APP, &unknown).await;
        assert_eq!(reply.status, 404, "{}", reply.body);
        assert_eq!(rate_of(&reply), rate(5_000, used, reset));
    }
    let reset_reply = srv.reset(&OAUTH_APP, &unknown).await;
    assert_eq!(rate_of(&reset_reply), rate(5_000, 3, reset));
    let scoped = srv
        .scope(
            &GITHUB_APP,
            json!({ "access_token": unissued_token("ghu_"), "target": "alice" }),
        )
        .await;
    assert_eq!(
        rate_of(&scoped),
        rate(5_000, 1, reset),
        "GITHUB_APP counts apart"
    );
}

#[tokio::test]
async fn token_requests_count_against_the_tokens_user_together_with_basic_ones() {
    let srv = TestServer::spawn().await;
    let t0 = pin_now(&srv);
    let reset = t0 + time::Duration::HOUR;
    let authz = srv
        .create_app_authorization(&ALICE, &OAUTH_APP, json!({}))
        .await;
    let token = token_of(&authz, "gho_");
    let me = srv.get_user(&token).await;
    me.expect_status(200);
    assert_eq!(
        rate_of(&me),
        rate(5_000, 2, reset),
        "1 Basic + 1 token request"
    );
    let listed = list_as(&srv, &ALICE).await;
    assert_eq!(rate_of(&listed), rate(5_000, 3, reset));
    // The app's own count is apart from its user's.
    let check = srv.check(&OAUTH_APP, &token).await;
    check.expect_status(200);
    assert_eq!(rate_of(&check), rate(5_000, 1, reset));
}

#[tokio::test]
async fn unauthenticated_answers_carry_no_rate_limit_and_are_not_counted() {
    let (srv, t0) = spawn_limited(3).await;
    let wrong = User {
        login: ALICE.login,
        password: "not alice's password",
    };
    let replies = [
        ("no credentials", srv.get("/authorizations").go().await),
        ("wrong password", list_as(&srv, &wrong).await),
        ("wrong password again", list_as(&srv, &wrong).await),
        ("wrong password thrice", list_as(&srv, &wrong).await),
        (
            "wrong app secret",
            srv.request(
                Method::POST,
                &format!("/applications/{}/token", OAUTH_APP.client_id),
            )
            .basic_auth(OAUTH_APP.client_id, Some("wrong"))
            .json(&json!({ "access_token": unissued_token("gho_") }))
            .go()
            .await,
        ),
        ("unknown token", srv.get_user(&unissued_token("gho_")).await),
        ("healthz", srv.get("/healthz").go().await),
        ("unknown path", srv.get("/no/such/path").go().await),
        ("405", srv.delete("/user").go().await),
    ];
    for (what, reply) in &replies {
        assert_ne!(reply.status, 403, "{what}: {}", reply.body);
        assert_no_rate_limit_headers(reply, what);
    }
    // None of them used alice's or the app's requests.
    assert_eq!(
        rate_of(&list_as(&srv, &ALICE).await),
        rate(3, 1, window_end(t0))
    );
    assert_eq!(
        rate_of(&srv.check(&OAUTH_APP, &unissued_token("gho_")).await),
        rate(3, 1, window_end(t0))
    );
}

// ---------------------------------------------------------------------------------------------
// Past the limit
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn past_the_limit_a_user_gets_githubs_403_until_the_reset_time() {
    let (srv, t0) = spawn_limited(3).await;
    let id = user_id(&srv, &ALICE).await;
    for used in 1..=3 {
        let reply = list_as(&srv, &ALICE).await;
        reply.expect_status(200);
        assert_eq!(rate_of(&reply), rate(3, used, window_end(t0)));
    }
    let refused = list_as(&srv, &ALICE).await;
    assert_user_limit_exceeded(&refused, id);
    assert_eq!(
        refused.header("X-RateLimit-Remaining").as_deref(),
        Some("0")
    );
    assert_eq!(rate_of(&refused), rate(3, 3, window_end(t0)));

    // Still refused one second before the reset, whatever the endpoint.
    srv.clock.pin(window_end(t0) - time::Duration::SECOND);
    assert_user_limit_exceeded(&list_as(&srv, &ALICE).await, id);
    assert_user_limit_exceeded(
        &srv.get("/applications/grants").login_as(&ALICE).go().await,
        id,
    );

    // At the reset time: a fresh window, counted from this request.
    let t1 = window_end(t0);
    srv.clock.pin(t1);
    let again = list_as(&srv, &ALICE).await;
    again.expect_status(200);
    assert_eq!(rate_of(&again), rate(3, 1, window_end(t1)));
}

#[tokio::test]
async fn a_refused_request_changes_nothing() {
    let (srv, _) = spawn_limited(2).await;
    let id = user_id(&srv, &ALICE).await;
    srv.create_pat(&ALICE, "first").await;
    list_as(&srv, &ALICE).await.expect_status(200);
    let refused = srv
        .post("/authorizations")
        .login_as(&ALICE)
        .json(&json!({ "note": "one too many" }))
        .go()
        .await;
    assert_user_limit_exceeded(&refused, id);
    srv.clock
        .pin(OffsetDateTime::now_utc() + time::Duration::seconds(2 * WINDOW));
    let notes: Vec<_> = srv
        .authorizations(&ALICE)
        .await
        .iter()
        .map(|a| a["note"].clone())
        .collect();
    assert_eq!(notes, [json!("first")]);
}

#[tokio::test]
async fn the_window_is_fixed_from_its_first_request() {
    let (srv, t0) = spawn_limited(3).await;
    assert_eq!(
        rate_of(&list_as(&srv, &ALICE).await),
        rate(3, 1, window_end(t0))
    );
    srv.clock.pin(t0 + time::Duration::seconds(WINDOW / 2));
    assert_eq!(
        rate_of(&list_as(&srv, &ALICE).await),
        rate(3, 2, window_end(t0)),
        "a later request does not move the reset"
    );
    srv.clock.pin(window_end(t0) - time::Duration::SECOND);
    assert_eq!(
        rate_of(&list_as(&srv, &ALICE).await),
        rate(3, 3, window_end(t0))
    );
    // A window that passed unused is not carried over: the next request starts a new one.
    let later = window_end(t0) + time::Duration::seconds(3 * WINDOW + 7);
    srv.clock.pin(later);
    assert_eq!(
        rate_of(&list_as(&srv, &ALICE).await),
        rate(3, 1, window_end(later))
    );
}

#[tokio::test]
async fn a_users_limit_is_their_own_and_covers_their_tokens() {
    let (srv, t0) = spawn_limited(3).await;
    let alice = user_id(&srv, &ALICE).await;
    let authz = srv
        .create_app_authorization(&ALICE, &OAUTH_APP, json!({}))
        .await;
    let token = token_of(&authz, "gho_");
    list_as(&srv, &ALICE).await.expect_status(200);
    srv.get_user(&token).await.expect_status(200);
    // alice has used her three: by password and by token alike she is refused.
    assert_user_limit_exceeded(&list_as(&srv, &ALICE).await, alice);
    assert_user_limit_exceeded(&srv.get_user(&token).await, alice);
    // bob is not.
    let bobs = list_as(&srv, &BOB).await;
    bobs.expect_status(200);
    assert_eq!(rate_of(&bobs), rate(3, 1, window_end(t0)));
    // Nor is the app, whose requests count apart: it can still check alice's token.
    let check = srv.check(&OAUTH_APP, &token).await;
    check.expect_status(200);
    assert_eq!(rate_of(&check), rate(3, 1, window_end(t0)));
}

#[tokio::test]
async fn past_the_limit_an_app_gets_githubs_403_naming_its_client_id() {
    let (srv, t0) = spawn_limited(2).await;
    let unknown = unissued_token("gho_");
    for used in 1..=2 {
        let reply = srv.check(&OAUTH_APP, &unknown).await;
        assert_eq!(reply.status, 404, "{}", reply.body);
        assert_eq!(rate_of(&reply), rate(2, used, window_end(t0)));
    }
    let message = format!("API rate limit exceeded for app {}.", OAUTH_APP.client_id);
    for reply in [
        srv.check(&OAUTH_APP, &unknown).await,
        srv.reset(&OAUTH_APP, &unknown).await,
        srv.revoke(&OAUTH_APP, &unknown).await,
        srv.delete_app_grant(&OAUTH_APP, &unknown).await,
    ] {
        assert_json(&reply.expect_status(403), &error_body(403, &message));
        assert_eq!(reply.header("X-RateLimit-Remaining").as_deref(), Some("0"));
        assert_eq!(rate_of(&reply), rate(2, 2, window_end(t0)));
    }
    // Other apps and the app's users are not affected.
    let other = srv.check(&OTHER_APP, &unknown).await;
    assert_eq!(other.status, 404, "{}", other.body);
    assert_eq!(rate_of(&other), rate(2, 1, window_end(t0)));
    let github_app = srv.check(&GITHUB_APP, &unissued_token("ghu_")).await;
    assert_eq!(github_app.status, 404, "{}", github_app.body);
    list_as(&srv, &ALICE).await.expect_status(200);
    // After the reset the app is served again.
    srv.clock.pin(window_end(t0));
    let again = srv.check(&OAUTH_APP, &unknown).await;
    assert_eq!(again.status, 404, "{}", again.body);
    assert_eq!(rate_of(&again), rate(2, 1, window_end(window_end(t0))));
}

#[tokio::test]
async fn counts_survive_a_restart() {
    let (mut srv, t0) = spawn_limited(3).await;
    let id = user_id(&srv, &ALICE).await;
    list_as(&srv, &ALICE).await.expect_status(200);
    list_as(&srv, &ALICE).await.expect_status(200);
    srv.restart().await;
    let third = list_as(&srv, &ALICE).await;
    third.expect_status(200);
    assert_eq!(rate_of(&third), rate(3, 3, window_end(t0)));
    assert_user_limit_exceeded(&list_as(&srv, &ALICE).await, id);
}

#[tokio::test]
async fn the_api_v3_prefix_shares_the_same_count() {
    let (srv, t0) = spawn_limited(3).await;
    let id = user_id(&srv, &ALICE).await;
    list_as(&srv, &ALICE).await.expect_status(200);
    let prefixed = srv
        .get("/api/v3/authorizations")
        .login_as(&ALICE)
        .go()
        .await;
    assert_eq!(rate_of(&prefixed), rate(3, 2, window_end(t0)));
    list_as(&srv, &ALICE).await.expect_status(200);
    let refused = srv
        .get("/api/v3/authorizations")
        .login_as(&ALICE)
        .go()
        .await;
    assert_user_limit_exceeded(&refused, id);
}
