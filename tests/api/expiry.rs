//! Expiring user tokens: a GitHub App seeded with `expire_user_tokens = true` and
//! `user_token_ttl = "1h"`. The server's clock is moved (never slept on): a token lives until
//! `expires_at` and is gone for every purpose from then on.

use reqwest::Method;
use serde_json::{Value, json};
use time::Duration;

use crate::support::{
    ALICE, BOB, EXPIRING_APP, EXPIRING_TTL_SECONDS, GITHUB_APP, RequestExt, TestServer,
    app_authorization, assert_bad_credentials, assert_not_found, id_of, timestamp_of, token_of,
};

const TTL: Duration = Duration::seconds(EXPIRING_TTL_SECONDS);

#[tokio::test]
async fn an_expiring_apps_tokens_carry_expires_at_one_ttl_after_creation() {
    let srv = TestServer::spawn_apps().await;
    let (authz, token) = srv
        .new_token(&ALICE, &EXPIRING_APP, json!({ "scopes": ["repo"] }))
        .await;
    let created = timestamp_of(&authz, "created_at");
    assert_eq!(timestamp_of(&authz, "expires_at"), created + TTL);

    // The check and the user's own views show it too.
    let checked = srv.check(&EXPIRING_APP, &token).await.expect_status(200);
    let expected = app_authorization(&authz, &token, srv.simple_user("alice").await, Value::Null);
    srv.assert_app_body(&checked, &expected);
    let listed = srv.authorizations(&ALICE).await;
    assert_eq!(listed[0]["expires_at"], authz["expires_at"]);

    // Other apps' tokens do not expire.
    let (other, _) = srv.alice_token(&GITHUB_APP).await;
    assert_eq!(other["expires_at"], Value::Null);
}

#[tokio::test]
async fn a_token_works_until_its_expiry_and_not_from_then_on() {
    let srv = TestServer::spawn_apps().await;
    let (authz, token) = srv.alice_token(&EXPIRING_APP).await;
    let expires_at = timestamp_of(&authz, "expires_at");

    srv.clock.pin(expires_at - Duration::seconds(1));
    srv.assert_token_works(&EXPIRING_APP, &token, "alice").await;

    srv.clock.pin(expires_at + Duration::seconds(1));
    srv.assert_token_is_gone(&EXPIRING_APP, &token).await;
    srv.clock.pin(expires_at + Duration::days(365));
    srv.assert_token_is_gone(&EXPIRING_APP, &token).await;
}

#[tokio::test]
async fn an_expired_token_is_gone_for_every_purpose() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&EXPIRING_APP).await;
    srv.clock.advance(EXPIRING_TTL_SECONDS + 60);

    assert_not_found(&srv.check(&EXPIRING_APP, &token).await);
    assert_not_found(&srv.reset(&EXPIRING_APP, &token).await);
    assert_not_found(&srv.revoke(&EXPIRING_APP, &token).await);
    assert_not_found(&srv.delete_app_grant(&EXPIRING_APP, &token).await);
    let reply = srv
        .scope(
            &EXPIRING_APP,
            json!({ "access_token": token, "target": "alice" }),
        )
        .await;
    assert_not_found(&reply);
    assert_bad_credentials(&srv.get_user(&token).await);
    let reply = srv
        .get("/user")
        .header("Authorization", format!("Bearer {token}"))
        .go()
        .await;
    assert_bad_credentials(&reply);
    let reply = srv
        .get("/user")
        .basic_auth("alice", Some(&token))
        .go()
        .await;
    assert_bad_credentials(&reply);
    // Under the /api/v3 prefix as well.
    let path = format!("/api/v3/applications/{}/token", EXPIRING_APP.client_id);
    let reply = srv
        .as_app(Method::POST, &path, &EXPIRING_APP)
        .json(&json!({ "access_token": token }))
        .go()
        .await;
    assert_not_found(&reply);
}

#[tokio::test]
async fn a_reset_issues_a_token_with_a_fresh_lifetime() {
    let srv = TestServer::spawn_apps().await;
    let (authz, old) = srv.alice_token(&EXPIRING_APP).await;
    let first_expiry = timestamp_of(&authz, "expires_at");

    // Half-way through its life, the token is reset.
    let reset_at = first_expiry - Duration::minutes(30);
    srv.clock.pin(reset_at);
    let body = srv.reset(&EXPIRING_APP, &old).await.expect_status(200);
    let new = token_of(&body, "ghu_");
    assert_eq!(id_of(&body), id_of(&authz));
    assert_eq!(timestamp_of(&body, "expires_at"), reset_at + TTL);
    assert_eq!(timestamp_of(&body, "updated_at"), reset_at);
    srv.assert_token_is_gone(&EXPIRING_APP, &old).await;

    // Past the first token's expiry, the new one still works...
    srv.clock.pin(first_expiry + Duration::minutes(10));
    srv.assert_token_works(&EXPIRING_APP, &new, "alice").await;
    // ...until its own.
    srv.clock.pin(reset_at + TTL);
    srv.assert_token_is_gone(&EXPIRING_APP, &new).await;
}

#[tokio::test]
async fn a_scoped_token_of_an_expiring_app_expires_too() {
    let srv = TestServer::spawn_apps().await;
    let (authz, token) = srv.alice_token(&EXPIRING_APP).await;
    let later = timestamp_of(&authz, "created_at") + Duration::minutes(20);
    srv.clock.pin(later);
    let (body, scoped) = srv
        .scoped_token(&EXPIRING_APP, &token, json!({ "target": "alice" }))
        .await;
    assert_eq!(timestamp_of(&body, "expires_at"), later + TTL);
    assert_eq!(timestamp_of(&body, "created_at"), later);

    // The parent expires first; the scoped token lives on until its own expiry.
    srv.clock
        .pin(timestamp_of(&authz, "expires_at") + Duration::seconds(1));
    srv.assert_token_is_gone(&EXPIRING_APP, &token).await;
    srv.assert_token_works(&EXPIRING_APP, &scoped, "alice")
        .await;
    srv.clock.pin(later + TTL + Duration::seconds(1));
    srv.assert_token_is_gone(&EXPIRING_APP, &scoped).await;
}

#[tokio::test]
async fn expiry_is_per_token() {
    let srv = TestServer::spawn_apps().await;
    let (first, first_token) = srv
        .new_token(&ALICE, &EXPIRING_APP, json!({ "fingerprint": "first" }))
        .await;
    let created = timestamp_of(&first, "created_at");
    srv.clock.pin(created + Duration::minutes(45));
    let (second, second_token) = srv
        .new_token(&BOB, &EXPIRING_APP, json!({ "fingerprint": "second" }))
        .await;
    assert_eq!(
        timestamp_of(&second, "expires_at"),
        created + Duration::minutes(45) + TTL
    );
    let (_, forever) = srv.alice_token(&GITHUB_APP).await;

    srv.clock.pin(created + TTL + Duration::minutes(1));
    srv.assert_token_is_gone(&EXPIRING_APP, &first_token).await;
    srv.assert_token_works(&EXPIRING_APP, &second_token, "bob")
        .await;
    srv.assert_token_works(&GITHUB_APP, &forever, "alice").await;

    // A year on, only the token of the app without expiry is left.
    srv.clock.advance(365 * 24 * 3600);
    srv.assert_token_is_gone(&EXPIRING_APP, &second_token).await;
    srv.assert_token_works(&GITHUB_APP, &forever, "alice").await;
}
