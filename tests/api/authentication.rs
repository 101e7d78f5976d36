//! HTTP Basic authentication of the user-side endpoints: missing, malformed and wrong credentials,
//! token schemes (refused with 403), two-factor OTP, and case-insensitive logins.
//!
//! Every failure here must say exactly what the docs say, and a wrong password must never reveal
//! that a user has two-factor authentication on.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{
    ALICE, ALICE2FA, BOB, OAUTH_APP, RequestExt, TestServer, User, assert_json, current_otp,
    error_body, wrong_otp,
};

const OTP_MESSAGE: &str = "Must specify two-factor authentication OTP code.";
const BASIC_ONLY: &str = "This API can only be accessed with username and password Basic Auth";

/// The ten user-side endpoints, with a body where they take one.
fn all_endpoints() -> Vec<(Method, String)> {
    vec![
        (Method::GET, "/authorizations".to_owned()),
        (Method::POST, "/authorizations".to_owned()),
        (
            Method::PUT,
            format!("/authorizations/clients/{}", OAUTH_APP.client_id),
        ),
        (
            Method::PUT,
            format!("/authorizations/clients/{}/fp1", OAUTH_APP.client_id),
        ),
        (Method::GET, "/authorizations/1".to_owned()),
        (Method::PATCH, "/authorizations/1".to_owned()),
        (Method::DELETE, "/authorizations/1".to_owned()),
        (Method::GET, "/applications/grants".to_owned()),
        (Method::GET, "/applications/grants/1".to_owned()),
        (Method::DELETE, "/applications/grants/1".to_owned()),
    ]
}

fn body_for(method: &Method) -> Value {
    if *method == Method::POST || *method == Method::PUT || *method == Method::PATCH {
        json!({ "note": "x", "client_secret": OAUTH_APP.client_secret })
    } else {
        Value::Null
    }
}

#[tokio::test]
async fn every_endpoint_requires_authentication() {
    let srv = TestServer::spawn().await;
    for (method, path) in all_endpoints() {
        for prefix in ["", "/api/v3"] {
            let mut req = srv.request(method.clone(), &format!("{prefix}{path}"));
            if !body_for(&method).is_null() {
                req = req.json(&body_for(&method));
            }
            let reply = req.go().await;
            assert_eq!(reply.status, 401, "{method} {prefix}{path}: {}", reply.body);
            assert_json(&reply.json(), &error_body(401, "Requires authentication"));
        }
    }
}

#[tokio::test]
async fn a_header_that_is_not_valid_basic_is_treated_as_no_credentials() {
    let srv = TestServer::spawn().await;
    for header in [
        "Basic",
        "Basic !!!not-base64!!!",
        "Digest username=\"alice\"",
        "alice:password",
        "",
    ] {
        let reply = srv
            .get("/authorizations")
            .header("Authorization", header)
            .go()
            .await;
        assert_eq!(
            reply.status, 401,
            "Authorization: {header:?} -> {}",
            reply.body
        );
        assert_json(&reply.json(), &error_body(401, "Requires authentication"));
    }
}

#[tokio::test]
async fn a_wrong_password_is_bad_credentials() {
    let srv = TestServer::spawn().await;
    let reply = srv
        .get("/authorizations")
        .basic_auth(ALICE.login, Some("not her password"))
        .go()
        .await;
    assert_eq!(reply.status, 401);
    assert_json(&reply.json(), &error_body(401, "Bad credentials"));
    assert_eq!(reply.header("X-GitHub-OTP"), None);
}

#[tokio::test]
async fn an_unknown_login_is_bad_credentials_like_a_wrong_password() {
    let srv = TestServer::spawn().await;
    let reply = srv
        .get("/authorizations")
        .basic_auth("nobody-here", Some(ALICE.password))
        .go()
        .await;
    assert_eq!(reply.status, 401);
    assert_json(&reply.json(), &error_body(401, "Bad credentials"));
    assert_eq!(reply.header("X-GitHub-OTP"), None);
}

#[tokio::test]
async fn an_empty_password_is_bad_credentials() {
    let srv = TestServer::spawn().await;
    let reply = srv
        .get("/authorizations")
        .basic_auth(ALICE.login, Some(""))
        .go()
        .await;
    assert_eq!(reply.status, 401);
    assert_json(&reply.json(), &error_body(401, "Bad credentials"));
}

#[tokio::test]
async fn bad_credentials_are_refused_on_every_endpoint() {
    let srv = TestServer::spawn().await;
    for (method, path) in all_endpoints() {
        let mut req = srv
            .request(method.clone(), &path)
            .basic_auth(BOB.login, Some("wrong"));
        if !body_for(&method).is_null() {
            req = req.json(&body_for(&method));
        }
        let reply = req.go().await;
        assert_eq!(reply.status, 401, "{method} {path}: {}", reply.body);
        assert_json(&reply.json(), &error_body(401, "Bad credentials"));
    }
}

#[tokio::test]
async fn a_token_or_bearer_scheme_is_forbidden_with_githubs_message() {
    let srv = TestServer::spawn().await;
    // Even a genuine, live token of alice's is refused: the user side is Basic only.
    let pat = srv.create_pat(&ALICE, "my token").await;
    let token = pat["token"].as_str().expect("token").to_owned();
    for header in [
        format!("token {token}"),
        format!("Bearer {token}"),
        "token ghp_notarealtoken".to_owned(),
        "bearer something".to_owned(),
    ] {
        for (method, path) in all_endpoints() {
            let mut req = srv
                .request(method.clone(), &path)
                .header("Authorization", &header);
            if !body_for(&method).is_null() {
                req = req.json(&body_for(&method));
            }
            let reply = req.go().await;
            assert_eq!(
                reply.status, 403,
                "{method} {path} with {header:?}: {}",
                reply.body
            );
            assert_json(&reply.json(), &error_body(403, BASIC_ONLY));
        }
    }
    // The refused requests changed nothing.
    assert_eq!(srv.authorizations(&ALICE).await.len(), 1);
}

#[tokio::test]
async fn logins_compare_without_case() {
    let srv = TestServer::spawn().await;
    let created = srv
        .post("/authorizations")
        .basic_auth("ALICE", Some(ALICE.password))
        .json(&json!({"note": "upper"}))
        .go()
        .await;
    created.expect_status(201);
    let reply = srv
        .get("/authorizations")
        .basic_auth("aLiCe", Some(ALICE.password))
        .go()
        .await;
    let list = reply.expect_status(200);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    // It is alice's own list, the same as with her login as stored.
    assert_eq!(list, json!(srv.authorizations(&ALICE).await));
}

#[tokio::test]
async fn the_password_is_case_sensitive() {
    let srv = TestServer::spawn().await;
    let reply = srv
        .get("/authorizations")
        .basic_auth(ALICE.login, Some(ALICE.password.to_uppercase()))
        .go()
        .await;
    assert_eq!(reply.status, 401);
    assert_json(&reply.json(), &error_body(401, "Bad credentials"));
}

async fn two_factor_challenge(srv: &TestServer, user: &User, otp: Option<&str>) {
    let mut req = srv.get("/authorizations").login_as(user);
    if let Some(code) = otp {
        req = req.header("X-GitHub-OTP", code);
    }
    let reply = req.go().await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert_eq!(
        reply.header("X-GitHub-OTP").as_deref(),
        Some("required; app")
    );
    assert_json(&reply.json(), &error_body(401, OTP_MESSAGE));
}

#[tokio::test]
async fn a_two_factor_user_without_an_otp_is_challenged() {
    let srv = TestServer::spawn().await;
    two_factor_challenge(&srv, &ALICE2FA, None).await;
}

#[tokio::test]
async fn a_two_factor_user_with_a_wrong_otp_is_challenged() {
    let srv = TestServer::spawn().await;
    two_factor_challenge(&srv, &ALICE2FA, Some(&wrong_otp())).await;
    two_factor_challenge(&srv, &ALICE2FA, Some("abcdef")).await;
    two_factor_challenge(&srv, &ALICE2FA, Some("")).await;
}

#[tokio::test]
async fn a_two_factor_user_with_the_current_otp_gets_in() {
    let srv = TestServer::spawn().await;
    let reply = srv
        .get("/authorizations")
        .login_as(&ALICE2FA)
        .header("X-GitHub-OTP", current_otp())
        .go()
        .await;
    assert_json(&reply.expect_status(200), &json!([]));

    let reply = srv
        .post("/authorizations")
        .login_as(&ALICE2FA)
        .header("X-GitHub-OTP", current_otp())
        .json(&json!({ "note": "with 2fa", "scopes": ["repo"] }))
        .go()
        .await;
    let body = reply.expect_status(201);
    assert_eq!(body["note"], "with 2fa");
    assert_eq!(body["scopes"], json!(["repo"]));
}

#[tokio::test]
async fn a_wrong_password_never_reveals_two_factor_authentication() {
    let srv = TestServer::spawn().await;
    for otp in [None, Some(current_otp()), Some(wrong_otp())] {
        let mut req = srv
            .get("/authorizations")
            .basic_auth(ALICE2FA.login, Some("not the password"));
        if let Some(code) = &otp {
            req = req.header("X-GitHub-OTP", code);
        }
        let reply = req.go().await;
        assert_eq!(reply.status, 401, "otp {otp:?}");
        assert_eq!(reply.header("X-GitHub-OTP"), None, "otp {otp:?}");
        assert_json(&reply.json(), &error_body(401, "Bad credentials"));
    }
}

#[tokio::test]
async fn a_user_without_two_factor_ignores_an_otp_header() {
    let srv = TestServer::spawn().await;
    let reply = srv
        .get("/authorizations")
        .login_as(&ALICE)
        .header("X-GitHub-OTP", wrong_otp())
        .go()
        .await;
    assert_json(&reply.expect_status(200), &json!([]));
}
