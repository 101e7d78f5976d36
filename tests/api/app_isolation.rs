//! Cross-app isolation: an app can never check, reset, revoke, delete the grant of, or scope
//! another app's token. It gets the same 404 as for a token that does not exist, and the token
//! keeps working for its own app.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{
    ALICE, App, BOB, GITHUB_APP, OAUTH_APP, OTHER_APP, OTHER_GITHUB_APP, RequestExt, TestServer,
    assert_bad_credentials, assert_json, assert_not_found, unissued_token,
};

/// Every app-side operation on `token` by `caller`, at `path_app`'s path: modern and legacy.
async fn every_operation(
    srv: &TestServer,
    caller: &App,
    path_app: &App,
    token: &str,
) -> Vec<(String, crate::support::Reply)> {
    let cid = path_app.client_id;
    let body = json!({ "access_token": token });
    let scoped = json!({ "access_token": token, "target": "alice" });
    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::POST,
            format!("/applications/{cid}/token"),
            Some(body.clone()),
        ),
        (
            Method::PATCH,
            format!("/applications/{cid}/token"),
            Some(body.clone()),
        ),
        (
            Method::DELETE,
            format!("/applications/{cid}/token"),
            Some(body.clone()),
        ),
        (
            Method::DELETE,
            format!("/applications/{cid}/grant"),
            Some(body),
        ),
        (
            Method::POST,
            format!("/applications/{cid}/token/scoped"),
            Some(scoped),
        ),
        (
            Method::GET,
            format!("/applications/{cid}/tokens/{token}"),
            None,
        ),
        (
            Method::POST,
            format!("/applications/{cid}/tokens/{token}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/applications/{cid}/tokens/{token}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/applications/{cid}/grants/{token}"),
            None,
        ),
    ];
    let mut replies = Vec::new();
    for (method, path, body) in calls {
        let mut request = srv.as_app(method.clone(), &path, caller);
        if let Some(body) = body {
            request = request.json(&body);
        }
        replies.push((format!("{method} {path}"), request.go().await));
    }
    replies
}

/// The user's authorizations as they are (ids and hashes), to prove nothing changed.
async fn snapshot(srv: &TestServer) -> Value {
    json!([srv.authorizations(&ALICE).await, srv.grants(&ALICE).await])
}

#[tokio::test]
async fn a_github_app_cannot_touch_another_github_apps_token() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    let before = snapshot(&srv).await;
    for (call, reply) in every_operation(&srv, &OTHER_GITHUB_APP, &OTHER_GITHUB_APP, &token).await {
        assert_eq!(reply.status, 404, "{call}: {}", reply.body);
        assert_not_found(&reply);
    }
    assert_json(&snapshot(&srv).await, &before);
    srv.assert_token_works(&GITHUB_APP, &token, "alice").await;
}

#[tokio::test]
async fn an_oauth_app_cannot_touch_another_oauth_apps_token() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&OAUTH_APP).await;
    let before = snapshot(&srv).await;
    for (call, reply) in every_operation(&srv, &OTHER_APP, &OTHER_APP, &token).await {
        if call.ends_with("/token/scoped") {
            // OTHER_APP is an OAuth app: it cannot scope at all, whatever the token.
            assert_eq!(reply.status, 422, "{call}: {}", reply.body);
        } else {
            assert_eq!(reply.status, 404, "{call}: {}", reply.body);
            assert_not_found(&reply);
        }
    }
    assert_json(&snapshot(&srv).await, &before);
    srv.assert_token_works(&OAUTH_APP, &token, "alice").await;
}

#[tokio::test]
async fn an_oauth_app_cannot_touch_a_github_apps_token_and_the_reverse() {
    let srv = TestServer::spawn_apps().await;
    let (_, github) = srv.alice_token(&GITHUB_APP).await;
    let (_, oauth) = srv.alice_token(&OAUTH_APP).await;
    let before = snapshot(&srv).await;
    for (call, reply) in every_operation(&srv, &GITHUB_APP, &GITHUB_APP, &oauth).await {
        assert_eq!(reply.status, 404, "{call}: {}", reply.body);
        assert_not_found(&reply);
    }
    for (call, reply) in every_operation(&srv, &OAUTH_APP, &OAUTH_APP, &github).await {
        if !call.ends_with("/token/scoped") {
            assert_eq!(reply.status, 404, "{call}: {}", reply.body);
            assert_not_found(&reply);
        }
    }
    assert_json(&snapshot(&srv).await, &before);
    srv.assert_token_works(&GITHUB_APP, &github, "alice").await;
    srv.assert_token_works(&OAUTH_APP, &oauth, "alice").await;
}

#[tokio::test]
async fn an_app_cannot_act_under_the_token_owners_client_id() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    let before = snapshot(&srv).await;
    // OTHER_GITHUB_APP's own credentials, GITHUB_APP's client id in the path.
    for (call, reply) in every_operation(&srv, &OTHER_GITHUB_APP, &GITHUB_APP, &token).await {
        assert_eq!(reply.status, 404, "{call}: {}", reply.body);
        assert_not_found(&reply);
    }
    assert_json(&snapshot(&srv).await, &before);
    srv.assert_token_works(&GITHUB_APP, &token, "alice").await;
}

#[tokio::test]
async fn another_apps_secret_is_bad_credentials_for_this_client_id() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    let impostor = App {
        client_secret: OTHER_GITHUB_APP.client_secret,
        ..GITHUB_APP
    };
    for (call, reply) in every_operation(&srv, &impostor, &GITHUB_APP, &token).await {
        assert_eq!(reply.status, 401, "{call}: {}", reply.body);
        assert_bad_credentials(&reply);
    }
    srv.assert_token_works(&GITHUB_APP, &token, "alice").await;
}

#[tokio::test]
async fn another_apps_token_is_answered_like_a_token_that_does_not_exist() {
    let srv = TestServer::spawn_apps().await;
    let (_, others) = srv.new_token(&BOB, &OTHER_GITHUB_APP, json!({})).await;
    let unknown = unissued_token("ghu_");
    let for_other = every_operation(&srv, &GITHUB_APP, &GITHUB_APP, &others).await;
    let for_unknown = every_operation(&srv, &GITHUB_APP, &GITHUB_APP, &unknown).await;
    for ((call, a), (_, b)) in for_other.iter().zip(&for_unknown) {
        assert_eq!(a.status, b.status, "{call}");
        assert_eq!(a.json(), b.json(), "{call}");
    }
    srv.assert_token_works(&OTHER_GITHUB_APP, &others, "bob")
        .await;
}
