//! The legacy app-side paths, which carry the token in the URL:
//! `GET|POST|DELETE /applications/{client_id}/tokens/{access_token}` (check, reset, revoke) and
//! `DELETE /applications/{client_id}/grants/{access_token}` (delete grant). They behave like
//! their modern twins and mark every answer deprecated and sunset.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{
    ALICE, App, BOB, GITHUB_APP, OAUTH_APP, OTHER_GITHUB_APP, Reply, RequestExt, TIMESTAMP,
    TestServer, app_authorization, assert_bad_credentials, assert_json, assert_not_found,
    assert_requires_authentication, id_of, merge, token_of, unissued_token, with_bad_checksum,
};

async fn legacy(srv: &TestServer, method: Method, app: &App, what: &str, token: &str) -> Reply {
    let path = format!("/applications/{}/{what}/{token}", app.client_id);
    srv.as_app(method, &path, app).go().await
}

/// The docs' deprecation headers: `Deprecation`, `Sunset` and a `Link rel="deprecation"`.
#[track_caller]
fn assert_deprecated(reply: &Reply) {
    assert_eq!(
        reply.header("Deprecation").as_deref(),
        Some("@1581638400"),
        "Deprecation header (status {})",
        reply.status
    );
    assert_eq!(
        reply.header("Sunset").as_deref(),
        Some("Wed, 05 May 2021 00:00:00 GMT"),
        "Sunset header (status {})",
        reply.status
    );
    let links: Vec<String> = reply
        .headers
        .get_all("Link")
        .iter()
        .map(|v| v.to_str().expect("ASCII").to_owned())
        .collect();
    assert!(
        links.iter().any(|l| {
            l.split(',').any(|one| {
                let one = one.trim();
                one.starts_with("<http") && one.ends_with("; rel=\"deprecation\"")
            })
        }),
        "no Link <…>; rel=\"deprecation\" among {links:?} (status {})",
        reply.status
    );
}

#[tokio::test]
async fn legacy_check_answers_like_the_modern_check() {
    let srv = TestServer::spawn_apps().await;
    for app in [&GITHUB_APP, &OAUTH_APP] {
        let (authz, token) = srv
            .new_token(&ALICE, app, json!({ "scopes": ["gist"], "note": "legacy" }))
            .await;
        let reply = legacy(&srv, Method::GET, app, "tokens", &token).await;
        let body = reply.expect_status(200);
        assert_deprecated(&reply);
        let expected =
            app_authorization(&authz, &token, srv.simple_user("alice").await, Value::Null);
        srv.assert_app_body(&body, &expected);
        let modern = srv.check(app, &token).await.expect_status(200);
        assert_json(&body, &modern);
        // The modern form is not deprecated.
        assert_eq!(srv.check(app, &token).await.header("Deprecation"), None);
    }
}

#[tokio::test]
async fn legacy_check_of_a_scoped_token_shows_its_installation() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    let (scoped_body, scoped) = srv
        .scoped_token(&GITHUB_APP, &token, json!({ "target": "alice" }))
        .await;
    let reply = legacy(&srv, Method::GET, &GITHUB_APP, "tokens", &scoped).await;
    let body = reply.expect_status(200);
    assert_deprecated(&reply);
    assert_json(&body, &scoped_body);
}

#[tokio::test]
async fn legacy_reset_gives_a_new_token_and_kills_the_old_one() {
    let srv = TestServer::spawn_apps().await;
    let (authz, old) = srv
        .new_token(
            &ALICE,
            &GITHUB_APP,
            json!({ "scopes": ["repo"], "fingerprint": "fp" }),
        )
        .await;
    let reply = legacy(&srv, Method::POST, &GITHUB_APP, "tokens", &old).await;
    let body = reply.expect_status(200);
    assert_deprecated(&reply);
    let new = token_of(&body, "ghu_");
    assert_ne!(new, old);
    let expected = merge(
        app_authorization(&authz, &new, srv.simple_user("alice").await, Value::Null),
        json!({ "updated_at": TIMESTAMP }),
    );
    srv.assert_app_body(&body, &expected);
    srv.assert_token_is_gone(&GITHUB_APP, &old).await;
    srv.assert_token_works(&GITHUB_APP, &new, "alice").await;
    assert_eq!(id_of(&srv.authorizations(&ALICE).await[0]), id_of(&authz));
}

#[tokio::test]
async fn legacy_revoke_deletes_that_token_only() {
    let srv = TestServer::spawn_apps().await;
    let (_, a) = srv
        .new_token(&ALICE, &GITHUB_APP, json!({ "fingerprint": "a" }))
        .await;
    let (b_authz, b) = srv
        .new_token(&ALICE, &GITHUB_APP, json!({ "fingerprint": "b" }))
        .await;
    let reply = legacy(&srv, Method::DELETE, &GITHUB_APP, "tokens", &a).await;
    reply.expect_no_content();
    assert_deprecated(&reply);
    srv.assert_token_is_gone(&GITHUB_APP, &a).await;
    srv.assert_token_works(&GITHUB_APP, &b, "alice").await;
    let list = srv.authorizations(&ALICE).await;
    assert_eq!(
        list.iter().map(id_of).collect::<Vec<_>>(),
        vec![id_of(&b_authz)]
    );
}

#[tokio::test]
async fn legacy_delete_grant_stops_all_the_apps_tokens_for_that_user() {
    let srv = TestServer::spawn_apps().await;
    let (_, a) = srv
        .new_token(&ALICE, &GITHUB_APP, json!({ "fingerprint": "a" }))
        .await;
    let (_, b) = srv
        .new_token(&ALICE, &GITHUB_APP, json!({ "fingerprint": "b" }))
        .await;
    let (_, bobs) = srv.new_token(&BOB, &GITHUB_APP, json!({})).await;
    let (_, oauth) = srv.alice_token(&OAUTH_APP).await;

    let reply = legacy(&srv, Method::DELETE, &GITHUB_APP, "grants", &a).await;
    reply.expect_no_content();
    assert_deprecated(&reply);

    srv.assert_token_is_gone(&GITHUB_APP, &a).await;
    srv.assert_token_is_gone(&GITHUB_APP, &b).await;
    srv.assert_token_works(&GITHUB_APP, &bobs, "bob").await;
    srv.assert_token_works(&OAUTH_APP, &oauth, "alice").await;
    let grants = srv.grants(&ALICE).await;
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0]["app"], OAUTH_APP.json());
}

/// The four legacy operations, as (method, "tokens" or "grants").
const LEGACY: [(Method, &str); 4] = [
    (Method::GET, "tokens"),
    (Method::POST, "tokens"),
    (Method::DELETE, "tokens"),
    (Method::DELETE, "grants"),
];

#[tokio::test]
async fn legacy_paths_answer_404_for_unknown_malformed_and_other_apps_tokens_and_stay_deprecated() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    let (_, others) = srv.alice_token(&OTHER_GITHUB_APP).await;
    for (method, what) in LEGACY {
        for bad in [
            unissued_token("ghu_"),
            with_bad_checksum(&token),
            "not-a-token".to_owned(),
            others.clone(),
        ] {
            let reply = legacy(&srv, method.clone(), &GITHUB_APP, what, &bad).await;
            assert_not_found(&reply);
            assert_deprecated(&reply);
        }
    }
    srv.assert_token_works(&GITHUB_APP, &token, "alice").await;
    srv.assert_token_works(&OTHER_GITHUB_APP, &others, "alice")
        .await;
}

#[tokio::test]
async fn legacy_paths_refuse_another_client_id_in_the_path() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    for (method, what) in LEGACY {
        // OTHER_GITHUB_APP's credentials, GITHUB_APP's client id in the path.
        let path = format!("/applications/{}/{what}/{token}", GITHUB_APP.client_id);
        let reply = srv
            .as_app(method.clone(), &path, &OTHER_GITHUB_APP)
            .go()
            .await;
        assert_not_found(&reply);
    }
    srv.assert_token_works(&GITHUB_APP, &token, "alice").await;
}

#[tokio::test]
async fn legacy_paths_check_client_credentials() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    for (method, what) in LEGACY {
        let path = format!("/applications/{}/{what}/{token}", GITHUB_APP.client_id);
        assert_requires_authentication(&srv.request(method.clone(), &path).go().await);
        let reply = srv
            .request(method.clone(), &path)
            .basic_auth(GITHUB_APP.client_id, Some(OAUTH_APP.client_secret))
            .go()
            .await;
        assert_bad_credentials(&reply);
    }
    srv.assert_token_works(&GITHUB_APP, &token, "alice").await;
}

/// The docs: the legacy forms "add" the deprecation headers, with no exception for answers
/// that fail before the token is looked at.
#[tokio::test]
async fn legacy_paths_are_marked_deprecated_even_when_credentials_fail() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    for (method, what) in LEGACY {
        let path = format!("/applications/{}/{what}/{token}", GITHUB_APP.client_id);
        let reply = srv.request(method.clone(), &path).go().await;
        assert_eq!(reply.status, 401, "{method} {what}: {}", reply.body);
        assert_deprecated(&reply);
        let reply = srv
            .request(method.clone(), &path)
            .basic_auth(GITHUB_APP.client_id, Some(OAUTH_APP.client_secret))
            .go()
            .await;
        assert_eq!(reply.status, 401, "{method} {what}: {}", reply.body);
        assert_deprecated(&reply);
    }
}

#[tokio::test]
async fn legacy_paths_of_an_expired_token_are_not_found() {
    let srv = TestServer::spawn_apps().await;
    let (authz, token) = srv.alice_token(&crate::support::EXPIRING_APP).await;
    let expires_at = crate::support::timestamp_of(&authz, "expires_at");
    srv.clock.pin(expires_at + time::Duration::seconds(1));
    for (method, what) in LEGACY {
        let reply = legacy(
            &srv,
            method.clone(),
            &crate::support::EXPIRING_APP,
            what,
            &token,
        )
        .await;
        assert_not_found(&reply);
        assert_deprecated(&reply);
    }
}
