//! `POST /authorizations`, `GET /authorizations`, `GET` and `DELETE /authorizations/{id}`: the
//! shapes of personal access tokens and app authorizations, the token format, and the creation
//! rules (note, client credentials, fingerprint).

use serde_json::json;

use crate::support::{
    ALICE, ANY_URL, GITHUB_APP, OAUTH_APP, RequestExt, TestServer, assert_json, assert_not_found,
    assert_validation_error, id_of, sha256_hex, token_of,
};

#[tokio::test]
async fn a_personal_access_token_is_created_with_its_whole_shape() {
    let srv = TestServer::spawn().await;
    let reply = srv
        .post("/authorizations")
        .login_as(&ALICE)
        .json(&json!({ "scopes": ["repo", "gist"], "note": "deploy script" }))
        .go()
        .await;
    let body = reply.expect_status(201);
    let token = token_of(&body, "ghp_");
    let id = id_of(&body);
    assert_json(
        &body,
        &srv.authorization(id, &token, true, json!({
            "scopes": ["repo", "gist"],
            "note": "deploy script",
            "app": { "name": "deploy script (API)", "url": ANY_URL, "client_id": "00000000000000000000" },
        })),
    );
    assert_eq!(body["created_at"], body["updated_at"]);
}

#[tokio::test]
async fn a_personal_access_tokens_app_url_is_its_note_url() {
    let srv = TestServer::spawn().await;
    let body = srv
        .create_pat_with(
            &ALICE,
            json!({ "note": "ci", "note_url": "https://ci.example.com/jobs" }),
        )
        .await;
    let token = token_of(&body, "ghp_");
    assert_json(
        &body,
        &srv.authorization(id_of(&body), &token, true, json!({
            "note": "ci",
            "note_url": "https://ci.example.com/jobs",
            "app": { "name": "ci (API)", "url": "https://ci.example.com/jobs", "client_id": "00000000000000000000" },
        })),
    );
}

#[tokio::test]
async fn the_token_has_githubs_format_and_only_its_hash_is_shown_later() {
    let srv = TestServer::spawn().await;
    let body = srv.create_pat(&ALICE, "format").await;
    let token = token_of(&body, "ghp_");
    assert_eq!(body["hashed_token"], sha256_hex(&token));
    assert_eq!(body["token_last_eight"], &token[32..]);

    let id = id_of(&body);
    let read = srv
        .get(&format!("/authorizations/{id}"))
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    assert_eq!(read["token"], "");
    assert_eq!(read["hashed_token"], sha256_hex(&token));
    assert_eq!(read["token_last_eight"], &token[32..]);

    let list = srv.authorizations(&ALICE).await;
    assert_eq!(list[0]["token"], "");
    assert_eq!(list[0]["hashed_token"], sha256_hex(&token));
}

#[tokio::test]
async fn every_token_is_different() {
    let srv = TestServer::spawn().await;
    let mut seen = std::collections::HashSet::new();
    for i in 0..5 {
        let body = srv.create_pat(&ALICE, &format!("note {i}")).await;
        assert!(seen.insert(token_of(&body, "ghp_")), "a token came twice");
    }
}

#[tokio::test]
async fn an_oauth_app_authorization_is_created_with_a_gho_token() {
    let srv = TestServer::spawn().await;
    let body = srv
        .create_app_authorization(
            &ALICE,
            &OAUTH_APP,
            json!({
                "scopes": ["public_repo"],
                "note": "optional note",
                "note_url": "http://optional/note/url",
                "fingerprint": "jklmnop12345678",
            }),
        )
        .await;
    let token = token_of(&body, "gho_");
    assert_json(
        &body,
        &srv.authorization(
            id_of(&body),
            &token,
            true,
            json!({
                "scopes": ["public_repo"],
                "app": OAUTH_APP.json(),
                "note": "optional note",
                "note_url": "http://optional/note/url",
                "fingerprint": "jklmnop12345678",
            }),
        ),
    );
}

#[tokio::test]
async fn a_github_app_authorization_is_created_with_a_ghu_token() {
    let srv = TestServer::spawn().await;
    let body = srv
        .create_app_authorization(&ALICE, &GITHUB_APP, json!({}))
        .await;
    let token = token_of(&body, "ghu_");
    assert_json(
        &body,
        &srv.authorization(
            id_of(&body),
            &token,
            true,
            json!({ "app": GITHUB_APP.json() }),
        ),
    );
}

#[tokio::test]
async fn a_single_authorization_is_read_with_an_empty_token() {
    let srv = TestServer::spawn().await;
    let created = srv
        .create_app_authorization(
            &ALICE,
            &OAUTH_APP,
            json!({ "scopes": ["user"], "fingerprint": "fp" }),
        )
        .await;
    let token = token_of(&created, "gho_");
    let id = id_of(&created);
    let body = srv
        .get(&format!("/authorizations/{id}"))
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    let expected = srv.authorization(
        id,
        &token,
        false,
        json!({
            "scopes": ["user"], "app": OAUTH_APP.json(), "fingerprint": "fp",
        }),
    );
    assert_json(&body, &expected);
    assert_eq!(body["created_at"], created["created_at"]);
    assert_eq!(body["updated_at"], created["updated_at"]);
}

#[tokio::test]
async fn the_list_shows_every_authorization_in_creation_order() {
    let srv = TestServer::spawn().await;
    let pat = srv.create_pat(&ALICE, "first").await;
    let app = srv
        .create_app_authorization(&ALICE, &OAUTH_APP, json!({ "scopes": ["gist"] }))
        .await;
    let gh = srv
        .create_app_authorization(&ALICE, &GITHUB_APP, json!({ "fingerprint": "laptop" }))
        .await;

    let reply = srv.get("/authorizations").login_as(&ALICE).go().await;
    let body = reply.expect_status(200);
    assert_eq!(reply.header("Link"), None, "one page has no Link header");
    assert!(
        reply
            .header("Content-Type")
            .unwrap_or_default()
            .starts_with("application/json")
    );
    let pat_token = token_of(&pat, "ghp_");
    let app_token = token_of(&app, "gho_");
    let gh_token = token_of(&gh, "ghu_");
    assert_json(
        &body,
        &json!([
            srv.authorization(id_of(&pat), &pat_token, false, json!({
                "note": "first",
                "app": { "name": "first (API)", "url": ANY_URL, "client_id": "00000000000000000000" },
            })),
            srv.authorization(id_of(&app), &app_token, false, json!({ "scopes": ["gist"], "app": OAUTH_APP.json() })),
            srv.authorization(id_of(&gh), &gh_token, false, json!({ "app": GITHUB_APP.json(), "fingerprint": "laptop" })),
        ]),
    );
    assert!(id_of(&pat) < id_of(&app) && id_of(&app) < id_of(&gh));
}

#[tokio::test]
async fn an_empty_list_is_an_empty_array() {
    let srv = TestServer::spawn().await;
    let reply = srv.get("/authorizations").login_as(&ALICE).go().await;
    assert_json(&reply.expect_status(200), &json!([]));
}

#[tokio::test]
async fn deleting_an_authorization_answers_204_and_it_is_gone() {
    let srv = TestServer::spawn().await;
    let keep = srv.create_pat(&ALICE, "keep").await;
    let gone = srv.create_pat(&ALICE, "gone").await;
    let id = id_of(&gone);
    srv.delete(&format!("/authorizations/{id}"))
        .login_as(&ALICE)
        .go()
        .await
        .expect_no_content();

    assert_not_found(
        &srv.get(&format!("/authorizations/{id}"))
            .login_as(&ALICE)
            .go()
            .await,
    );
    assert_not_found(
        &srv.delete(&format!("/authorizations/{id}"))
            .login_as(&ALICE)
            .go()
            .await,
    );
    assert_not_found(
        &srv.patch(&format!("/authorizations/{id}"))
            .login_as(&ALICE)
            .json(&json!({"note": "x"}))
            .go()
            .await,
    );
    let ids: Vec<i64> = srv.authorizations(&ALICE).await.iter().map(id_of).collect();
    assert_eq!(ids, vec![id_of(&keep)]);
    // Its note is free again.
    srv.create_pat(&ALICE, "gone").await;
}

#[tokio::test]
async fn an_unknown_authorization_is_not_found() {
    let srv = TestServer::spawn().await;
    for path in ["/authorizations/1", "/authorizations/999999"] {
        assert_not_found(&srv.get(path).login_as(&ALICE).go().await);
        assert_not_found(
            &srv.patch(path)
                .login_as(&ALICE)
                .json(&json!({"note": "n"}))
                .go()
                .await,
        );
        assert_not_found(&srv.delete(path).login_as(&ALICE).go().await);
    }
}

#[tokio::test]
async fn a_personal_access_token_requires_a_note() {
    let srv = TestServer::spawn().await;
    for body in [
        json!({}),
        json!({ "scopes": ["repo"] }),
        json!({ "note": null }),
    ] {
        let reply = srv
            .post("/authorizations")
            .login_as(&ALICE)
            .json(&body)
            .go()
            .await;
        assert_validation_error(&reply, Some("OauthAccess"), "description", "missing_field");
    }
    // An empty body counts as `{}`.
    let reply = srv
        .post("/authorizations")
        .login_as(&ALICE)
        .header("Content-Type", "application/json")
        .go()
        .await;
    assert_validation_error(&reply, Some("OauthAccess"), "description", "missing_field");
    assert!(srv.authorizations(&ALICE).await.is_empty());
}

#[tokio::test]
async fn a_personal_access_tokens_note_is_unique_per_user() {
    let srv = TestServer::spawn().await;
    srv.create_pat(&ALICE, "laptop").await;
    let reply = srv
        .post("/authorizations")
        .login_as(&ALICE)
        .json(&json!({ "note": "laptop" }))
        .go()
        .await;
    assert_validation_error(&reply, Some("OauthAccess"), "description", "already_exists");
    assert_eq!(srv.authorizations(&ALICE).await.len(), 1);
    // Another user may use the same note.
    srv.create_pat(&crate::support::BOB, "laptop").await;
}

#[tokio::test]
async fn empty_client_credentials_and_note_url_count_as_absent() {
    let srv = TestServer::spawn().await;
    let body = srv
        .create_pat_with(
            &ALICE,
            json!({ "note": "plain", "client_id": "", "client_secret": "", "note_url": "" }),
        )
        .await;
    let token = token_of(&body, "ghp_");
    assert_json(
        &body,
        &srv.authorization(id_of(&body), &token, true, json!({
            "note": "plain",
            "app": { "name": "plain (API)", "url": ANY_URL, "client_id": "00000000000000000000" },
        })),
    );
}

#[tokio::test]
async fn a_client_id_without_its_secret_is_a_missing_field() {
    let srv = TestServer::spawn().await;
    let reply = srv
        .post("/authorizations")
        .login_as(&ALICE)
        .json(&json!({ "client_id": OAUTH_APP.client_id }))
        .go()
        .await;
    assert_validation_error(&reply, None, "client_secret", "missing_field");
    let reply = srv
        .post("/authorizations")
        .login_as(&ALICE)
        .json(&json!({ "client_secret": OAUTH_APP.client_secret, "note": "n" }))
        .go()
        .await;
    assert_validation_error(&reply, None, "client_id", "missing_field");
    assert!(srv.authorizations(&ALICE).await.is_empty());
}

#[tokio::test]
async fn a_wrong_client_secret_is_invalid_and_not_a_401() {
    let srv = TestServer::spawn().await;
    for secret in [
        "0000000000000000000000000000000000000000",
        GITHUB_APP.client_secret,
        "short",
    ] {
        let reply = srv
            .post("/authorizations")
            .login_as(&ALICE)
            .json(&json!({ "client_id": OAUTH_APP.client_id, "client_secret": secret }))
            .go()
            .await;
        assert_validation_error(&reply, None, "client_secret", "invalid");
    }
    assert!(srv.authorizations(&ALICE).await.is_empty());
}

#[tokio::test]
async fn an_unknown_client_id_is_invalid() {
    let srv = TestServer::spawn().await;
    let reply = srv
        .post("/authorizations")
        .login_as(&ALICE)
        .json(&json!({ "client_id": "00000000000000000001", "client_secret": OAUTH_APP.client_secret }))
        .go()
        .await;
    assert_validation_error(&reply, None, "client_id", "invalid");
}

#[tokio::test]
async fn an_app_has_one_authorization_per_fingerprint() {
    let srv = TestServer::spawn().await;
    srv.create_app_authorization(&ALICE, &OAUTH_APP, json!({ "fingerprint": "laptop" }))
        .await;
    let dup = json!({ "client_id": OAUTH_APP.client_id, "client_secret": OAUTH_APP.client_secret, "fingerprint": "laptop" });
    let reply = srv
        .post("/authorizations")
        .login_as(&ALICE)
        .json(&dup)
        .go()
        .await;
    assert_validation_error(&reply, None, "fingerprint", "already_exists");
    // Another fingerprint, another app with the same fingerprint, and another user are all fine.
    srv.create_app_authorization(&ALICE, &OAUTH_APP, json!({ "fingerprint": "desktop" }))
        .await;
    srv.create_app_authorization(&ALICE, &GITHUB_APP, json!({ "fingerprint": "laptop" }))
        .await;
    srv.create_app_authorization(
        &crate::support::BOB,
        &OAUTH_APP,
        json!({ "fingerprint": "laptop" }),
    )
    .await;
    assert_eq!(srv.authorizations(&ALICE).await.len(), 3);
}

#[tokio::test]
async fn an_app_has_at_most_one_authorization_without_a_fingerprint() {
    let srv = TestServer::spawn().await;
    srv.create_app_authorization(&ALICE, &OAUTH_APP, json!({}))
        .await;
    let dup = json!({ "client_id": OAUTH_APP.client_id, "client_secret": OAUTH_APP.client_secret, "note": "again" });
    let reply = srv
        .post("/authorizations")
        .login_as(&ALICE)
        .json(&dup)
        .go()
        .await;
    assert_validation_error(&reply, None, "fingerprint", "already_exists");
    assert_eq!(srv.authorizations(&ALICE).await.len(), 1);
}

#[tokio::test]
async fn an_app_authorization_needs_no_note() {
    let srv = TestServer::spawn().await;
    let body = srv
        .create_app_authorization(&ALICE, &OAUTH_APP, json!({ "fingerprint": "x" }))
        .await;
    assert_eq!(body["note"], serde_json::Value::Null);
    // Two app authorizations may share a note: uniqueness is for personal tokens.
    srv.create_app_authorization(
        &ALICE,
        &OAUTH_APP,
        json!({ "fingerprint": "y", "note": "same" }),
    )
    .await;
    srv.create_app_authorization(
        &ALICE,
        &OAUTH_APP,
        json!({ "fingerprint": "z", "note": "same" }),
    )
    .await;
}

#[tokio::test]
async fn unknown_body_keys_are_ignored() {
    let srv = TestServer::spawn().await;
    let body = srv
        .create_pat_with(&ALICE, json!({ "note": "n", "favourite_colour": "red" }))
        .await;
    assert_eq!(body["note"], "n");
}
