//! Request leniency that GitHub's clients rely on (docs/api.md, "HTTP conventions"): `POST` wherever
//! the user side documents `PATCH`, but not on `/applications/{client_id}/token`, where `POST`
//! already means "check"; unknown body keys ignored on every endpoint that takes a body.
//!
//! Covered elsewhere and not repeated here: `POST /authorizations/{id}` replacing the scopes
//! (`updates::post_to_an_authorization_updates_it_like_patch`), unknown keys on create
//! (`authorizations::unknown_body_keys_are_ignored`) and empty-string `client_id`,
//! `client_secret` and `note_url` on create (`authorizations::
//! empty_client_credentials_and_note_url_count_as_absent`).

use serde_json::json;

use crate::support::{
    ALICE, GITHUB_APP, OAUTH_APP, OCTO_ORG, RequestExt, TestServer, assert_json, id_of, token_of,
};

#[tokio::test]
async fn post_updates_an_authorization_exactly_as_patch_does_also_under_api_v3() {
    let srv = TestServer::spawn().await;
    let by_patch = id_of(&srv.create_pat(&ALICE, "by patch").await);
    let by_post = id_of(&srv.create_pat(&ALICE, "by post").await);
    let change = |note: &str| json!({ "note": note, "note_url": "https://example.com/why", "add_scopes": ["gist", "repo"] });
    let patched = srv
        .patch(&format!("/api/v3/authorizations/{by_patch}"))
        .login_as(&ALICE)
        .json(&change("patched"))
        .go()
        .await
        .expect_status(200);
    let posted = srv
        .post(&format!("/api/v3/authorizations/{by_post}"))
        .login_as(&ALICE)
        .json(&change("posted"))
        .go()
        .await
        .expect_status(200);
    for (body, note) in [(&patched, "patched"), (&posted, "posted")] {
        assert_eq!(body["note"], note);
        assert_eq!(body["note_url"], "https://example.com/why");
        assert_eq!(body["scopes"], json!(["gist", "repo"]));
        assert_eq!(body["token"], "");
    }
    let read = srv
        .get(&format!("/authorizations/{by_post}"))
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    assert_json(&read, &posted);
}

#[tokio::test]
async fn post_on_the_app_token_path_checks_and_never_resets() {
    let srv = TestServer::spawn().await;
    let authz = srv
        .create_app_authorization(&ALICE, &OAUTH_APP, json!({}))
        .await;
    let token = token_of(&authz, "gho_");
    for _ in 0..2 {
        let checked = srv.check(&OAUTH_APP, &token).await.expect_status(200);
        assert_eq!(
            checked["token"],
            token.as_str(),
            "POST answered a new token"
        );
    }
    srv.get_user(&token).await.expect_status(200);
}

#[tokio::test]
async fn unknown_body_keys_are_ignored_on_every_endpoint_that_takes_a_body() {
    let srv = TestServer::spawn_apps().await;
    let extra = json!({ "favourite_colour": "red", "nested": { "a": [1, 2] }, "scopes_x": null });
    let with_extra = |body: serde_json::Value| {
        let mut body = body;
        for (k, v) in extra.as_object().expect("object") {
            body[k] = v.clone();
        }
        body
    };

    let id = id_of(&srv.create_pat(&ALICE, "lenient").await);
    let patched = srv
        .patch(&format!("/authorizations/{id}"))
        .login_as(&ALICE)
        .json(&with_extra(json!({ "note": "still lenient" })))
        .go()
        .await
        .expect_status(200);
    assert_eq!(patched["note"], "still lenient");
    assert!(patched.get("favourite_colour").is_none());

    let put = srv
        .get_or_create(&ALICE, &OAUTH_APP, None, extra.clone())
        .await;
    let created = put.expect_status(201);
    let token = token_of(&created, "gho_");
    let put_fp = srv
        .get_or_create(&ALICE, &OAUTH_APP, Some("fp-extra"), extra.clone())
        .await;
    put_fp.expect_status(201);

    let body = with_extra(json!({ "access_token": token }));
    let path = format!("/applications/{}/token", OAUTH_APP.client_id);
    let checked = srv
        .as_app(reqwest::Method::POST, &path, &OAUTH_APP)
        .json(&body)
        .go()
        .await
        .expect_status(200);
    assert_eq!(checked["token"], token.as_str());
    let reset = srv
        .as_app(reqwest::Method::PATCH, &path, &OAUTH_APP)
        .json(&body)
        .go()
        .await
        .expect_status(200);
    let new_token = token_of(&reset, "gho_");
    let body = with_extra(json!({ "access_token": new_token }));
    srv.as_app(reqwest::Method::DELETE, &path, &OAUTH_APP)
        .json(&body)
        .go()
        .await
        .expect_no_content();

    let (_, app_token) = srv.alice_token(&GITHUB_APP).await;
    let scoped = srv
        .scope(
            &GITHUB_APP,
            with_extra(json!({ "access_token": app_token, "target": OCTO_ORG })),
        )
        .await;
    assert_eq!(scoped.status, 200, "{}", scoped.body);
    srv.as_app(
        reqwest::Method::DELETE,
        &format!("/applications/{}/grant", GITHUB_APP.client_id),
        &GITHUB_APP,
    )
    .json(&with_extra(json!({ "access_token": app_token })))
    .go()
    .await
    .expect_no_content();
}
