//! `PATCH /authorizations/{id}` (and its `POST` alias): scopes, add_scopes, remove_scopes, note,
//! note_url and fingerprint edits, with the creation rules still enforced and `updated_at` moving.

use serde_json::{Value, json};

use crate::support::{
    ALICE, ANY_STRING, ANY_URL, OAUTH_APP, RequestExt, TestServer, assert_json,
    assert_validation_error, id_of, token_of,
};

async fn patch(srv: &TestServer, id: i64, body: Value) -> crate::support::Reply {
    srv.patch(&format!("/authorizations/{id}"))
        .login_as(&ALICE)
        .json(&body)
        .go()
        .await
}

#[tokio::test]
async fn patch_replaces_the_scopes_and_moves_updated_at() {
    let srv = TestServer::spawn().await;
    let created = srv
        .create_app_authorization(
            &ALICE,
            &OAUTH_APP,
            json!({ "scopes": ["repo"], "note": "n", "fingerprint": "f" }),
        )
        .await;
    let token = token_of(&created, "gho_");
    let id = id_of(&created);
    // Timestamps have a resolution of one second: the server's clock moves one on.
    srv.clock.advance(1);

    let reply = patch(
        &srv,
        id,
        json!({ "scopes": ["user", "gist", "user:email"] }),
    )
    .await;
    let body = reply.expect_status(200);
    assert_json(
        &body,
        &srv.authorization(id, &token, false, json!({
            "scopes": ["user", "gist"], "app": OAUTH_APP.json(), "note": "n", "fingerprint": "f",
        })),
    );
    assert_eq!(body["created_at"], created["created_at"]);
    let (before, after) = (
        created["updated_at"].as_str().unwrap_or(""),
        body["updated_at"].as_str().unwrap_or(""),
    );
    assert!(
        after > before,
        "updated_at did not move: {before} -> {after}"
    );

    // A later read shows the update.
    let read = srv
        .get(&format!("/authorizations/{id}"))
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    assert_eq!(read, body);

    // The app's grant follows: its scopes are the new ones, its updated_at the latest change.
    let grants = srv.grants(&ALICE).await;
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0]["scopes"], json!(["user", "gist"]));
    assert_eq!(grants[0]["created_at"], created["created_at"]);
    assert_eq!(grants[0]["updated_at"], body["updated_at"]);
}

#[tokio::test]
async fn post_to_an_authorization_updates_it_like_patch() {
    let srv = TestServer::spawn().await;
    let created = srv.create_pat(&ALICE, "old").await;
    let id = id_of(&created);
    let reply = srv
        .post(&format!("/authorizations/{id}"))
        .login_as(&ALICE)
        .json(&json!({ "scopes": ["gist"] }))
        .go()
        .await;
    let body = reply.expect_status(200);
    assert_eq!(body["scopes"], json!(["gist"]));
    assert_eq!(body["token"], "");
}

#[tokio::test]
async fn add_scopes_appends_in_order_then_normalises() {
    let srv = TestServer::spawn().await;
    let created = srv
        .create_pat_with(&ALICE, json!({ "note": "n", "scopes": ["gist"] }))
        .await;
    let id = id_of(&created);
    let body = patch(&srv, id, json!({ "add_scopes": ["repo", "user:email"] }))
        .await
        .expect_status(200);
    assert_eq!(body["scopes"], json!(["gist", "repo", "user:email"]));
    // `user` implies `user:email`, which goes; the order of the rest is kept.
    let body = patch(&srv, id, json!({ "add_scopes": ["user"] }))
        .await
        .expect_status(200);
    assert_eq!(body["scopes"], json!(["gist", "repo", "user"]));
    // Adding what is already there changes nothing.
    let body = patch(&srv, id, json!({ "add_scopes": ["gist", "public_repo"] }))
        .await
        .expect_status(200);
    assert_eq!(body["scopes"], json!(["gist", "repo", "user"]));
}

#[tokio::test]
async fn remove_scopes_removes_exactly_the_scopes_named() {
    let srv = TestServer::spawn().await;
    let created = srv
        .create_pat_with(
            &ALICE,
            json!({ "note": "n", "scopes": ["repo", "gist", "user"] }),
        )
        .await;
    let id = id_of(&created);
    let body = patch(&srv, id, json!({ "remove_scopes": ["gist"] }))
        .await
        .expect_status(200);
    assert_eq!(body["scopes"], json!(["repo", "user"]));
    let body = patch(&srv, id, json!({ "remove_scopes": ["repo", "user"] }))
        .await
        .expect_status(200);
    assert_eq!(body["scopes"], json!([]));
}

#[tokio::test]
async fn only_one_of_scopes_add_scopes_and_remove_scopes_is_allowed() {
    let srv = TestServer::spawn().await;
    let created = srv
        .create_pat_with(&ALICE, json!({ "note": "n", "scopes": ["repo"] }))
        .await;
    let id = id_of(&created);
    for body in [
        json!({ "scopes": ["gist"], "add_scopes": ["user"] }),
        json!({ "scopes": ["gist"], "remove_scopes": ["repo"] }),
        json!({ "add_scopes": ["gist"], "remove_scopes": ["repo"] }),
        json!({ "scopes": ["gist"], "add_scopes": ["user"], "remove_scopes": ["repo"] }),
    ] {
        let reply = patch(&srv, id, body.clone()).await;
        let err = reply.expect_status(422);
        assert_eq!(err["message"], "Validation Failed", "{body}");
        assert_eq!(err["status"], "422");
        let errors = err["errors"].as_array().expect("errors array");
        assert_eq!(errors.len(), 1, "{err}");
        assert_eq!(errors[0]["code"], "custom", "{err}");
        // A `custom` error explains itself in a `message`.
        assert_json(&errors[0]["message"], &json!(ANY_STRING));
    }
    let read = srv
        .get(&format!("/authorizations/{id}"))
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    assert_eq!(read["scopes"], json!(["repo"]));
}

#[tokio::test]
async fn patch_validates_scopes() {
    let srv = TestServer::spawn().await;
    let id = id_of(
        &srv.create_pat_with(&ALICE, json!({ "note": "n", "scopes": ["repo"] }))
            .await,
    );
    let reply = patch(&srv, id, json!({ "scopes": ["repo", "not-a-scope"] })).await;
    assert_validation_error(&reply, None, "scopes", "invalid");
    // The docs say "`invalid` on `scopes`"; naming the field that carried the bad scope is
    // as useful to a client, so either is accepted here.
    let reply = patch(&srv, id, json!({ "add_scopes": ["admin:everything"] })).await;
    let field = reply.json()["errors"][0]["field"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(field == "scopes" || field == "add_scopes", "{}", reply.body);
    assert_validation_error(&reply, None, &field, "invalid");
    let read = srv
        .get(&format!("/authorizations/{id}"))
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    assert_eq!(read["scopes"], json!(["repo"]));
}

#[tokio::test]
async fn a_personal_access_tokens_note_can_change_and_renames_its_app() {
    let srv = TestServer::spawn().await;
    let created = srv.create_pat(&ALICE, "before").await;
    let token = token_of(&created, "ghp_");
    let id = id_of(&created);
    let body = patch(&srv, id, json!({ "note": "after" }))
        .await
        .expect_status(200);
    assert_json(
        &body,
        &srv.authorization(id, &token, false, json!({
            "note": "after",
            "app": { "name": "after (API)", "url": ANY_URL, "client_id": "00000000000000000000" },
        })),
    );
    // note_url set, then cleared: the app's url follows it.
    let body = patch(&srv, id, json!({ "note_url": "https://example.com/why" }))
        .await
        .expect_status(200);
    assert_eq!(body["note_url"], "https://example.com/why");
    assert_eq!(body["app"]["url"], "https://example.com/why");
    let body = patch(&srv, id, json!({ "note_url": null }))
        .await
        .expect_status(200);
    assert_eq!(body["note_url"], Value::Null);
    assert_ne!(body["app"]["url"], "https://example.com/why");
    assert_eq!(body["note"], "after");
}

#[tokio::test]
async fn a_personal_access_tokens_note_cannot_be_cleared() {
    let srv = TestServer::spawn().await;
    let id = id_of(&srv.create_pat(&ALICE, "keep me").await);
    let reply = patch(&srv, id, json!({ "note": null })).await;
    assert_validation_error(&reply, Some("OauthAccess"), "description", "missing_field");
    let read = srv
        .get(&format!("/authorizations/{id}"))
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    assert_eq!(read["note"], "keep me");
}

#[tokio::test]
async fn a_personal_access_tokens_note_stays_unique_on_update() {
    let srv = TestServer::spawn().await;
    srv.create_pat(&ALICE, "taken").await;
    let id = id_of(&srv.create_pat(&ALICE, "mine").await);
    let reply = patch(&srv, id, json!({ "note": "taken" })).await;
    assert_validation_error(&reply, Some("OauthAccess"), "description", "already_exists");
    // Setting a note to itself is not a clash.
    let body = patch(&srv, id, json!({ "note": "mine" }))
        .await
        .expect_status(200);
    assert_eq!(body["note"], "mine");
}

#[tokio::test]
async fn an_app_authorizations_note_note_url_and_fingerprint_can_be_set_and_cleared() {
    let srv = TestServer::spawn().await;
    let created = srv
        .create_app_authorization(&ALICE, &OAUTH_APP, json!({ "scopes": ["gist"] }))
        .await;
    let token = token_of(&created, "gho_");
    let id = id_of(&created);
    let body = patch(
        &srv,
        id,
        json!({ "note": "n", "note_url": "https://example.com/n", "fingerprint": "fp" }),
    )
    .await
    .expect_status(200);
    assert_json(
        &body,
        &srv.authorization(
            id,
            &token,
            false,
            json!({
                "scopes": ["gist"], "app": OAUTH_APP.json(),
                "note": "n", "note_url": "https://example.com/n", "fingerprint": "fp",
            }),
        ),
    );
    let body = patch(
        &srv,
        id,
        json!({ "note": null, "note_url": null, "fingerprint": null }),
    )
    .await
    .expect_status(200);
    assert_json(
        &body,
        &srv.authorization(
            id,
            &token,
            false,
            json!({ "scopes": ["gist"], "app": OAUTH_APP.json() }),
        ),
    );
}

#[tokio::test]
async fn a_fingerprint_stays_unique_per_app_on_update() {
    let srv = TestServer::spawn().await;
    srv.create_app_authorization(&ALICE, &OAUTH_APP, json!({ "fingerprint": "taken" }))
        .await;
    let id = id_of(
        &srv.create_app_authorization(&ALICE, &OAUTH_APP, json!({ "fingerprint": "mine" }))
            .await,
    );
    let reply = patch(&srv, id, json!({ "fingerprint": "taken" })).await;
    assert_validation_error(&reply, None, "fingerprint", "already_exists");
    // The app already has an authorization without a fingerprint: clearing this one would be a second.
    srv.create_app_authorization(&ALICE, &OAUTH_APP, json!({}))
        .await;
    let reply = patch(&srv, id, json!({ "fingerprint": null })).await;
    assert_validation_error(&reply, None, "fingerprint", "already_exists");
    let read = srv
        .get(&format!("/authorizations/{id}"))
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    assert_eq!(read["fingerprint"], "mine");
}

#[tokio::test]
async fn an_empty_patch_changes_nothing() {
    let srv = TestServer::spawn().await;
    let created = srv
        .create_pat_with(&ALICE, json!({ "note": "n", "scopes": ["repo"] }))
        .await;
    let token = token_of(&created, "ghp_");
    let id = id_of(&created);
    let body = patch(&srv, id, json!({})).await.expect_status(200);
    assert_json(
        &body,
        &srv.authorization(
            id,
            &token,
            false,
            json!({
                "note": "n", "scopes": ["repo"],
                "app": { "name": "n (API)", "url": ANY_URL, "client_id": "00000000000000000000" },
            }),
        ),
    );
}
