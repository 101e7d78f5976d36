//! `GET /user`: using a token. Three ways to send it, GitHub's `private-user` body, the
//! `X-OAuth-Scopes` headers, and 401s for tokens that are not (or no longer) valid.

use serde_json::json;

use crate::support::{
    ALICE, ALICE2FA, BOB, GITHUB_APP, OAUTH_APP, RequestExt, TestServer, assert_bad_credentials,
    assert_json, assert_requires_authentication, current_otp, id_of, token_of, unissued_token,
    with_bad_checksum,
};

#[tokio::test]
async fn token_bearer_and_basic_all_authenticate() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&OAUTH_APP).await;
    let expected = srv
        .private_user("alice", json!("alice@example.com"), false)
        .await;
    let requests = [
        srv.get("/user")
            .header("Authorization", format!("token {token}")),
        srv.get("/user")
            .header("Authorization", format!("Bearer {token}")),
        srv.get("/user")
            .header("Authorization", format!("bearer {token}")),
        srv.get("/user").basic_auth("alice", Some(&token)),
        srv.get("/user").basic_auth("x-access-token", Some(&token)),
    ];
    for request in requests {
        let reply = request.go().await;
        let body = reply.expect_status(200);
        assert_json(&body, &expected);
        srv.assert_avatar(&body);
    }
}

#[tokio::test]
async fn get_user_shows_the_tokens_user_as_a_private_user() {
    let srv = TestServer::spawn_apps().await;
    let (_, bobs) = srv.new_token(&BOB, &GITHUB_APP, json!({})).await;
    let body = srv.get_user(&bobs).await.expect_status(200);
    assert_json(&body, &srv.private_user("bob", json!(null), false).await);

    // Two-factor authentication shows; a token needs no OTP.
    let created = srv
        .post("/authorizations")
        .login_as(&ALICE2FA)
        .header("X-GitHub-OTP", current_otp())
        .json(&json!({ "note": "2fa" }))
        .go()
        .await
        .expect_status(201);
    let token = token_of(&created, "ghp_");
    let body = srv.get_user(&token).await.expect_status(200);
    assert_json(
        &body,
        &srv.private_user("alice2fa", json!(null), true).await,
    );
}

#[tokio::test]
async fn get_user_sends_the_tokens_scopes() {
    let srv = TestServer::spawn_apps().await;
    for (scopes, header) in [
        (json!(["repo", "user"]), "repo, user"),
        (json!(["gist"]), "gist"),
        (
            json!(["admin:org", "repo", "notifications"]),
            "admin:org, repo, notifications",
        ),
        (json!([]), ""),
    ] {
        let (_, token) = srv
            .new_token(
                &ALICE,
                &OAUTH_APP,
                json!({ "scopes": scopes, "fingerprint": header }),
            )
            .await;
        let reply = srv.get_user(&token).await;
        reply.expect_status(200);
        assert_eq!(
            reply.header("X-OAuth-Scopes").as_deref(),
            Some(header),
            "{scopes}"
        );
        assert_eq!(reply.header("X-Accepted-OAuth-Scopes").as_deref(), Some(""));
    }
}

#[tokio::test]
async fn personal_access_tokens_work_on_get_user() {
    let srv = TestServer::spawn_apps().await;
    let pat = srv
        .create_pat_with(&ALICE, json!({ "note": "pat", "scopes": ["user", "repo"] }))
        .await;
    let token = token_of(&pat, "ghp_");
    let reply = srv.get_user(&token).await;
    let body = reply.expect_status(200);
    assert_json(
        &body,
        &srv.private_user("alice", json!("alice@example.com"), false)
            .await,
    );
    assert_eq!(
        reply.header("X-OAuth-Scopes").as_deref(),
        Some("user, repo")
    );
    assert_eq!(reply.header("X-Accepted-OAuth-Scopes").as_deref(), Some(""));
}

#[tokio::test]
async fn unknown_and_malformed_tokens_are_bad_credentials() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&OAUTH_APP).await;
    for bad in [
        unissued_token("gho_"),
        unissued_token("ghp_"),
        with_bad_checksum(&token),
        "not-a-token".to_owned(),
        token.to_lowercase(),
    ] {
        assert_bad_credentials(&srv.get_user(&bad).await);
        let reply = srv
            .get("/user")
            .header("Authorization", format!("Bearer {bad}"))
            .go()
            .await;
        assert_bad_credentials(&reply);
    }
    // A user's password is not a token.
    let reply = srv.get("/user").login_as(&ALICE).go().await;
    assert_bad_credentials(&reply);
}

#[tokio::test]
async fn revoked_tokens_are_bad_credentials() {
    let srv = TestServer::spawn_apps().await;
    // Deleted by the user, revoked by the app, and gone with a deleted grant.
    let (deleted_authz, deleted) = srv.alice_token(&OAUTH_APP).await;
    let (_, revoked) = srv.alice_token(&GITHUB_APP).await;
    let pat = srv.create_pat(&ALICE, "pat").await;
    let pat_token = token_of(&pat, "ghp_");
    srv.delete(&format!("/authorizations/{}", id_of(&deleted_authz)))
        .login_as(&ALICE)
        .go()
        .await
        .expect_no_content();
    srv.revoke(&GITHUB_APP, &revoked).await.expect_no_content();
    srv.delete(&format!("/authorizations/{}", id_of(&pat)))
        .login_as(&ALICE)
        .go()
        .await
        .expect_no_content();
    for token in [&deleted, &revoked, &pat_token] {
        assert_bad_credentials(&srv.get_user(token).await);
    }
}

#[tokio::test]
async fn get_user_without_credentials_requires_authentication() {
    let srv = TestServer::spawn_apps().await;
    assert_requires_authentication(&srv.get("/user").go().await);
    let reply = srv
        .get("/user")
        .header("Authorization", "Digest abc")
        .go()
        .await;
    assert_requires_authentication(&reply);
}

#[tokio::test]
async fn get_user_builds_its_urls_on_the_public_url() {
    let srv = TestServer::spawn_apps_with_public_url("https://ghe.example.com/api/v3").await;
    let (_, token) = srv.alice_token(&OAUTH_APP).await;
    let body = srv.get_user(&token).await.expect_status(200);
    assert_json(
        &body,
        &srv.private_user("alice", json!("alice@example.com"), false)
            .await,
    );
    assert_eq!(body["url"], "https://ghe.example.com/api/v3/users/alice");
    assert_eq!(body["html_url"], "https://ghe.example.com/alice");
    srv.assert_avatar(&body);
}
