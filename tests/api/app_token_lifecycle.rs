//! Resetting (`PATCH`), revoking (`DELETE …/token`) and deleting the grant (`DELETE …/grant`)
//! from the app side, and their immediate effect on both the app's check and `GET /user`.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::support::{
    ALICE, BOB, GITHUB_APP, OAUTH_APP, OCTO_ORG, RequestExt, TIMESTAMP, TestServer,
    app_authorization, assert_bad_credentials, assert_json, assert_not_found, assert_token_format,
    id_of, merge, sha256_hex, str_of, token_of,
};

fn ids(list: &[Value]) -> Vec<i64> {
    list.iter().map(id_of).collect()
}

// ---------------------------------------------------------------------------------------------
// Reset
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn reset_gives_the_same_authorization_a_new_token() {
    let srv = TestServer::spawn_apps().await;
    for app in [&OAUTH_APP, &GITHUB_APP] {
        let extra = json!({
            "scopes": ["repo", "user"],
            "note": "deploy",
            "note_url": "https://deploy.example.com",
            "fingerprint": "box-1",
        });
        let (authz, old) = srv.new_token(&ALICE, app, extra).await;
        let reply = srv.reset(app, &old).await;
        let body = reply.expect_status(200);
        let new = token_of(&body, app.token_prefix);
        assert_ne!(new, old, "a reset issues a new token");

        // Same id, scopes, note, note_url, fingerprint, app, created_at; new token fields.
        let expected = merge(
            app_authorization(&authz, &new, srv.simple_user("alice").await, Value::Null),
            json!({ "updated_at": TIMESTAMP }),
        );
        srv.assert_app_body(&body, &expected);
        assert_eq!(body["hashed_token"], sha256_hex(&new));
        assert_eq!(body["token_last_eight"], &new[32..]);

        // The user's view follows: the new hash, never the clear token.
        let id = id_of(&authz);
        let seen = srv
            .get(&format!("/authorizations/{id}"))
            .login_as(&ALICE)
            .go()
            .await
            .expect_status(200);
        let fields = json!({
            "scopes": ["repo", "user"],
            "note": "deploy",
            "note_url": "https://deploy.example.com",
            "fingerprint": "box-1",
            "app": app.json(),
            "created_at": authz["created_at"],
        });
        assert_json(&seen, &srv.authorization(id, &new, false, fields));
    }
}

#[tokio::test]
async fn reset_invalidates_the_old_token_at_once() {
    let srv = TestServer::spawn_apps().await;
    let (_, old) = srv
        .new_token(&ALICE, &GITHUB_APP, json!({ "scopes": ["repo"] }))
        .await;
    srv.assert_token_works(&GITHUB_APP, &old, "alice").await;
    let body = srv.reset(&GITHUB_APP, &old).await.expect_status(200);
    let new = token_of(&body, "ghu_");

    srv.assert_token_is_gone(&GITHUB_APP, &old).await;
    srv.assert_token_works(&GITHUB_APP, &new, "alice").await;
    let me = srv.get_user(&new).await;
    assert_eq!(me.header("X-OAuth-Scopes").as_deref(), Some("repo"));

    // The old token cannot be reset, revoked or used to delete the grant any more.
    assert_not_found(&srv.reset(&GITHUB_APP, &old).await);
    assert_not_found(&srv.revoke(&GITHUB_APP, &old).await);
    assert_not_found(&srv.delete_app_grant(&GITHUB_APP, &old).await);
    srv.assert_token_works(&GITHUB_APP, &new, "alice").await;

    // A second reset of the new token works the same way.
    let body = srv.reset(&GITHUB_APP, &new).await.expect_status(200);
    let newer = token_of(&body, "ghu_");
    srv.assert_token_is_gone(&GITHUB_APP, &new).await;
    srv.assert_token_works(&GITHUB_APP, &newer, "alice").await;
    assert_eq!(srv.authorizations(&ALICE).await.len(), 1);
}

#[tokio::test]
async fn reset_of_an_unknown_or_malformed_token_is_not_found() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    for bad in [
        crate::support::unissued_token("ghu_"),
        crate::support::with_bad_checksum(&token),
        "ghu_".to_owned(),
    ] {
        assert_not_found(&srv.reset(&GITHUB_APP, &bad).await);
    }
    srv.assert_token_works(&GITHUB_APP, &token, "alice").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_resets_of_one_token_leave_exactly_one_valid_token() {
    let srv = TestServer::spawn_apps().await;
    let (authz, old) = srv.alice_token(&GITHUB_APP).await;
    let path = format!("/applications/{}/token", GITHUB_APP.client_id);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let request = srv
            .as_app(reqwest::Method::PATCH, &path, &GITHUB_APP)
            .json(&json!({ "access_token": old }));
        tasks.spawn(async move { request.go().await });
    }
    let mut winners = Vec::new();
    let mut losers = 0;
    while let Some(reply) = tasks.join_next().await {
        let reply = reply.expect("the task ran");
        match reply.status {
            200 => winners.push(token_of(&reply.json(), "ghu_")),
            404 => {
                assert_not_found(&reply);
                losers += 1;
            }
            other => panic!("unexpected status {other}: {}", reply.body),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one reset wins: {winners:?}");
    assert_eq!(losers, 9);

    srv.assert_token_is_gone(&GITHUB_APP, &old).await;
    srv.assert_token_works(&GITHUB_APP, &winners[0], "alice")
        .await;
    let list = srv.authorizations(&ALICE).await;
    assert_eq!(ids(&list), vec![id_of(&authz)]);
    assert_eq!(list[0]["hashed_token"], sha256_hex(&winners[0]));
}

// ---------------------------------------------------------------------------------------------
// Revoke
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn revoke_deletes_that_token_only() {
    let srv = TestServer::spawn_apps().await;
    let (a, a_token) = srv
        .new_token(&ALICE, &GITHUB_APP, json!({ "fingerprint": "a" }))
        .await;
    let (b, b_token) = srv
        .new_token(&ALICE, &GITHUB_APP, json!({ "fingerprint": "b" }))
        .await;

    srv.revoke(&GITHUB_APP, &a_token).await.expect_no_content();

    srv.assert_token_is_gone(&GITHUB_APP, &a_token).await;
    srv.assert_token_works(&GITHUB_APP, &b_token, "alice").await;
    let list = srv.authorizations(&ALICE).await;
    assert_eq!(ids(&list), vec![id_of(&b)], "{} is gone", id_of(&a));
    srv.get(&format!("/authorizations/{}", id_of(&a)))
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(404);
    // The grant stays: the app still has b.
    let grants = srv.grants(&ALICE).await;
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0]["app"], GITHUB_APP.json());

    // Revoking again: the token is gone.
    assert_not_found(&srv.revoke(&GITHUB_APP, &a_token).await);
    srv.assert_token_works(&GITHUB_APP, &b_token, "alice").await;
}

#[tokio::test]
async fn revoke_of_an_oauth_apps_token_leaves_the_users_other_tokens_alone() {
    let srv = TestServer::spawn_apps().await;
    let (_, oauth) = srv.alice_token(&OAUTH_APP).await;
    let (_, github) = srv.alice_token(&GITHUB_APP).await;
    let pat = token_of(&srv.create_pat(&ALICE, "pat").await, "ghp_");
    let (_, bobs) = srv.new_token(&BOB, &OAUTH_APP, json!({})).await;

    srv.revoke(&OAUTH_APP, &oauth).await.expect_no_content();

    srv.assert_token_is_gone(&OAUTH_APP, &oauth).await;
    srv.assert_token_works(&GITHUB_APP, &github, "alice").await;
    srv.assert_token_works(&OAUTH_APP, &bobs, "bob").await;
    assert_eq!(
        srv.get_user(&pat).await.expect_status(200)["login"],
        "alice"
    );
}

// ---------------------------------------------------------------------------------------------
// Delete the grant
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn deleting_the_grant_stops_every_token_of_the_app_for_that_user() {
    let srv = TestServer::spawn_apps().await;
    let (_, a) = srv
        .new_token(
            &ALICE,
            &GITHUB_APP,
            json!({ "fingerprint": "a", "scopes": ["repo"] }),
        )
        .await;
    let (_, b) = srv
        .new_token(&ALICE, &GITHUB_APP, json!({ "fingerprint": "b" }))
        .await;
    let (_, scoped) = srv
        .scoped_token(&GITHUB_APP, &a, json!({ "target": OCTO_ORG }))
        .await;
    let (_, bobs) = srv.new_token(&BOB, &GITHUB_APP, json!({})).await;
    let (oauth_authz, oauth) = srv.alice_token(&OAUTH_APP).await;
    let pat = srv.create_pat(&ALICE, "pat").await;
    let pat_token = token_of(&pat, "ghp_");

    // Any of the user's tokens names the grant; use b.
    srv.delete_app_grant(&GITHUB_APP, &b)
        .await
        .expect_no_content();

    for token in [&a, &b, &scoped] {
        srv.assert_token_is_gone(&GITHUB_APP, token).await;
    }
    srv.assert_token_works(&GITHUB_APP, &bobs, "bob").await;
    srv.assert_token_works(&OAUTH_APP, &oauth, "alice").await;
    assert_eq!(
        srv.get_user(&pat_token).await.expect_status(200)["login"],
        "alice"
    );

    // Gone from the user's lists too; other apps' grants and bob's grant stay.
    let grants = srv.grants(&ALICE).await;
    let apps: Vec<&Value> = grants.iter().map(|g| &g["app"]).collect();
    assert_eq!(apps, vec![&OAUTH_APP.json()]);
    assert_eq!(
        ids(&srv.authorizations(&ALICE).await),
        vec![id_of(&oauth_authz), id_of(&pat)]
    );
    let bobs_grants = srv.grants(&BOB).await;
    assert_eq!(bobs_grants.len(), 1);
    assert_eq!(bobs_grants[0]["app"], GITHUB_APP.json());

    // The token is gone, so a second delete finds nothing.
    assert_not_found(&srv.delete_app_grant(&GITHUB_APP, &a).await);
}

#[tokio::test]
async fn after_deleting_the_grant_the_user_can_authorize_the_app_again() {
    let srv = TestServer::spawn_apps().await;
    let (_, old) = srv.alice_token(&OAUTH_APP).await;
    let old_grant = id_of(&srv.grants(&ALICE).await[0]);
    srv.delete_app_grant(&OAUTH_APP, &old)
        .await
        .expect_no_content();
    assert_json(&json!(srv.grants(&ALICE).await), &json!([]));

    let (_, new) = srv.alice_token(&OAUTH_APP).await;
    srv.assert_token_works(&OAUTH_APP, &new, "alice").await;
    srv.assert_token_is_gone(&OAUTH_APP, &old).await;
    let grants = srv.grants(&ALICE).await;
    assert_eq!(grants.len(), 1);
    assert_ne!(id_of(&grants[0]), old_grant, "a new grant, with a new id");
}

#[tokio::test]
async fn every_reset_token_is_distinct_and_well_formed() {
    let srv = TestServer::spawn_apps().await;
    let (_, mut token) = srv.alice_token(&GITHUB_APP).await;
    let mut seen = HashSet::from([token.clone()]);
    for _ in 0..5 {
        let body = srv.reset(&GITHUB_APP, &token).await.expect_status(200);
        token = str_of(&body, "token").to_owned();
        assert_token_format(&token, "ghu_");
        assert!(seen.insert(token.clone()), "token {token} issued twice");
    }
    srv.assert_token_works(&GITHUB_APP, &token, "alice").await;
    for earlier in seen.iter().filter(|t| **t != token) {
        assert_bad_credentials(&srv.get_user(earlier).await);
    }
}
