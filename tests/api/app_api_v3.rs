//! The app side and `GET /user` under the `/api/v3` prefix (GitHub Enterprise Server's base
//! URL): the same answers as at the root, on the same data.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{
    ALICE, GITHUB_APP, OCTO_ORG, RequestExt, TestServer, app_authorization, assert_bad_credentials,
    assert_json, assert_not_found, assert_requires_authentication, assert_validation_error,
    token_of,
};

fn v3(app_path: &str) -> String {
    format!("/api/v3/applications/{}/{app_path}", GITHUB_APP.client_id)
}

#[tokio::test]
async fn the_app_side_answers_under_the_api_v3_prefix() {
    let srv = TestServer::spawn_apps().await;
    let (authz, token) = srv
        .new_token(&ALICE, &GITHUB_APP, json!({ "scopes": ["repo"] }))
        .await;
    let call = |method: Method, path: String, body: Value| {
        srv.as_app(method, &path, &GITHUB_APP).json(&body).go()
    };

    // Check.
    let checked = call(Method::POST, v3("token"), json!({ "access_token": token }))
        .await
        .expect_status(200);
    let expected = app_authorization(&authz, &token, srv.simple_user("alice").await, Value::Null);
    // As in `api_v3`: the docs leave open whether `url` shows the prefix.
    let path = format!("/authorizations/{}", crate::support::id_of(&authz));
    let url = checked["url"].as_str().expect("url");
    assert!(
        url == srv.public(&path) || url == srv.public(&format!("/api/v3{path}")),
        "url {url:?}"
    );
    let expected = crate::support::merge(expected, json!({ "url": url }));
    srv.assert_app_body(&checked, &expected);

    // Scope.
    let scoped = call(
        Method::POST,
        v3("token/scoped"),
        json!({ "access_token": token, "target": OCTO_ORG, "permissions": { "contents": "read" } }),
    )
    .await
    .expect_status(200);
    let scoped_token = token_of(&scoped, "ghu_");
    assert_eq!(scoped["installation"]["repository_selection"], "all");
    srv.assert_token_works(&GITHUB_APP, &scoped_token, "alice")
        .await;

    // Reset: the old token stops working everywhere.
    let reset = call(Method::PATCH, v3("token"), json!({ "access_token": token }))
        .await
        .expect_status(200);
    let new = token_of(&reset, "ghu_");
    srv.assert_token_is_gone(&GITHUB_APP, &token).await;
    let me = srv
        .get("/api/v3/user")
        .header("Authorization", format!("token {new}"))
        .go()
        .await;
    assert_json(
        &me.expect_status(200),
        &srv.private_user("alice", json!("alice@example.com"), false)
            .await,
    );
    assert_eq!(me.header("X-OAuth-Scopes").as_deref(), Some("repo"));

    // Legacy check, with its headers.
    let legacy = srv
        .as_app(Method::GET, &v3(&format!("tokens/{new}")), &GITHUB_APP)
        .go()
        .await;
    assert_eq!(legacy.json()["token"], new.as_str());
    legacy.expect_status(200);
    assert_eq!(legacy.header("Deprecation").as_deref(), Some("@1581638400"));

    // Revoke the scoped token, then delete the grant with the reset one.
    call(
        Method::DELETE,
        v3("token"),
        json!({ "access_token": scoped_token }),
    )
    .await
    .expect_no_content();
    srv.assert_token_is_gone(&GITHUB_APP, &scoped_token).await;
    call(Method::DELETE, v3("grant"), json!({ "access_token": new }))
        .await
        .expect_no_content();
    srv.assert_token_is_gone(&GITHUB_APP, &new).await;
    assert_json(&json!(srv.grants(&ALICE).await), &json!([]));
}

#[tokio::test]
async fn failures_under_the_api_v3_prefix_match_those_at_the_root() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    let body = json!({ "access_token": token });

    let reply = srv.post(&v3("token")).json(&body).go().await;
    assert_requires_authentication(&reply);
    let reply = srv
        .post(&v3("token"))
        .basic_auth(GITHUB_APP.client_id, Some("wrong"))
        .json(&body)
        .go()
        .await;
    assert_bad_credentials(&reply);
    let reply = srv
        .as_app(Method::POST, &v3("token"), &GITHUB_APP)
        .json(&json!({}))
        .go()
        .await;
    assert_validation_error(&reply, None, "access_token", "missing_field");
    let reply = srv
        .as_app(Method::POST, &v3("token"), &GITHUB_APP)
        .json(&json!({ "access_token": crate::support::unissued_token("ghu_") }))
        .go()
        .await;
    assert_not_found(&reply);

    let reply = srv.get("/api/v3/user").go().await;
    assert_requires_authentication(&reply);
    let reply = srv
        .get("/api/v3/user")
        .header("Authorization", "token ghu_nope")
        .go()
        .await;
    assert_bad_credentials(&reply);
}
