//! Checking a token (`POST /applications/{client_id}/token`) and what every app-side endpoint
//! answers to missing or wrong client credentials and to bad bodies.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{
    ALICE, BOB, GITHUB_APP, OAUTH_APP, RequestExt, ServerOptions, TestServer, app_authorization,
    apps_fixture, assert_bad_credentials, assert_json, assert_not_found,
    assert_requires_authentication, assert_validation_error, error_body, id_of, unissued_token,
    with_bad_checksum,
};

/// The five modern app-side endpoints: (method, path after `/applications/{client_id}/`).
const MODERN: [(Method, &str); 5] = [
    (Method::POST, "token"),
    (Method::PATCH, "token"),
    (Method::DELETE, "token"),
    (Method::DELETE, "grant"),
    (Method::POST, "token/scoped"),
];

#[tokio::test]
async fn check_returns_the_authorization_its_user_and_the_token_sent() {
    let srv = TestServer::spawn_apps().await;
    for app in [&GITHUB_APP, &OAUTH_APP] {
        let extra = json!({
            "scopes": ["repo", "user"],
            "note": "ci",
            "note_url": "https://ci.example.com",
            "fingerprint": "laptop",
        });
        let (authz, token) = srv.new_token(&ALICE, app, extra).await;
        let reply = srv.check(app, &token).await;
        let body = reply.expect_status(200);
        let expected =
            app_authorization(&authz, &token, srv.simple_user("alice").await, Value::Null);
        srv.assert_app_body(&body, &expected);
        assert_eq!(body["app"], app.json());
        assert_eq!(body["scopes"], json!(["repo", "user"]));
        assert_eq!(body["expires_at"], Value::Null);

        // Checking changes nothing: the user still sees the authorization as it was.
        let id = id_of(&authz);
        let seen = srv
            .get(&format!("/authorizations/{id}"))
            .login_as(&ALICE)
            .go()
            .await
            .expect_status(200);
        assert_json(&seen, &merge_token(&authz, ""));
    }
}

fn merge_token(authz: &Value, token: &str) -> Value {
    crate::support::merge(authz.clone(), json!({ "token": token }))
}

#[tokio::test]
async fn check_shows_the_tokens_own_user() {
    let srv = TestServer::spawn_apps().await;
    let (_, alices) = srv.alice_token(&GITHUB_APP).await;
    let (_, bobs) = srv.new_token(&BOB, &GITHUB_APP, json!({})).await;
    let alice = srv.check(&GITHUB_APP, &alices).await.expect_status(200);
    let bob = srv.check(&GITHUB_APP, &bobs).await.expect_status(200);
    assert_json(&alice["user"], &srv.simple_user("alice").await);
    assert_json(&bob["user"], &srv.simple_user("bob").await);
    srv.assert_avatar(&alice["user"]);
    assert_ne!(alice["user"]["id"], bob["user"]["id"]);
    assert_ne!(alice["user"]["node_id"], bob["user"]["node_id"]);
}

#[tokio::test]
async fn the_user_object_is_built_on_the_public_url() {
    let srv = TestServer::spawn_apps_with_public_url("https://ghe.example.com/api/v3").await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    let body = srv.check(&GITHUB_APP, &token).await.expect_status(200);
    let user = &body["user"];
    let id = srv.account_id("alice").await;
    assert_eq!(user["url"], "https://ghe.example.com/api/v3/users/alice");
    assert_eq!(user["html_url"], "https://ghe.example.com/alice");
    assert_eq!(
        user["repos_url"],
        "https://ghe.example.com/api/v3/users/alice/repos"
    );
    assert_eq!(
        user["following_url"],
        "https://ghe.example.com/api/v3/users/alice/following{/other_user}"
    );
    assert_eq!(user["node_id"], crate::support::node_id("User", id));
    assert_eq!(user["type"], "User");
    let avatar = user["avatar_url"].as_str().expect("avatar_url");
    assert!(
        avatar.starts_with("https://ghe.example.com/") && !avatar.contains("/api/v3"),
        "avatar_url {avatar:?} is not on the web host"
    );
    srv.assert_app_body(
        &body,
        &app_authorization(&body, &token, srv.simple_user("alice").await, Value::Null),
    );
}

#[tokio::test]
async fn check_of_unknown_malformed_and_revoked_tokens_is_not_found() {
    let srv = TestServer::spawn_apps().await;
    let (authz, token) = srv.alice_token(&GITHUB_APP).await;
    for bad in [
        unissued_token("ghu_"),
        unissued_token("gho_"),
        with_bad_checksum(&token),
        "not-a-token".to_owned(),
        token.to_uppercase(),
        format!("{token}x"),
    ] {
        assert_not_found(&srv.check(&GITHUB_APP, &bad).await);
    }
    // The malformed variants did nothing to the real token.
    srv.assert_token_works(&GITHUB_APP, &token, "alice").await;

    // Revoked by the user.
    srv.delete(&format!("/authorizations/{}", id_of(&authz)))
        .login_as(&ALICE)
        .go()
        .await
        .expect_no_content();
    srv.assert_token_is_gone(&GITHUB_APP, &token).await;
}

#[tokio::test]
async fn a_personal_access_token_is_no_apps_token() {
    let srv = TestServer::spawn_apps().await;
    let pat = srv.create_pat(&ALICE, "pat").await;
    let pat = crate::support::token_of(&pat, "ghp_");
    for app in [&GITHUB_APP, &OAUTH_APP] {
        for (method, rest) in MODERN {
            let reply = if rest == "token/scoped" {
                srv.scope(app, json!({ "access_token": pat, "target": "alice" }))
                    .await
            } else {
                srv.app_call(method.clone(), rest, app, &pat).await
            };
            if rest == "token/scoped" && app.client_id == OAUTH_APP.client_id {
                // OAuth apps cannot scope at all: that 422 comes first.
                assert_eq!(reply.status, 422, "{method} {rest}: {}", reply.body);
            } else {
                assert_not_found(&reply);
            }
        }
    }
    let me = srv.get_user(&pat).await.expect_status(200);
    assert_eq!(me["login"], "alice");
}

// ---------------------------------------------------------------------------------------------
// Client credentials
// ---------------------------------------------------------------------------------------------

fn body_for(rest: &str, token: &str) -> Value {
    if rest == "token/scoped" {
        json!({ "access_token": token, "target": "alice" })
    } else {
        json!({ "access_token": token })
    }
}

#[tokio::test]
async fn no_credentials_require_authentication() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    for (method, rest) in MODERN {
        let path = format!("/applications/{}/{rest}", GITHUB_APP.client_id);
        let reply = srv
            .request(method.clone(), &path)
            .json(&body_for(rest, &token))
            .go()
            .await;
        assert_requires_authentication(&reply);
        // A token scheme is not client credentials.
        for scheme in ["token", "Bearer"] {
            let reply = srv
                .request(method.clone(), &path)
                .header("Authorization", format!("{scheme} {token}"))
                .json(&body_for(rest, &token))
                .go()
                .await;
            assert_requires_authentication(&reply);
        }
    }
    srv.assert_token_works(&GITHUB_APP, &token, "alice").await;
}

#[tokio::test]
async fn a_wrong_client_secret_is_bad_credentials() {
    // Fifteen failed sign-ins of one app: more than throttling allows by default, and this
    // test is about each answer, not about throttling (see `throttling.rs`).
    let mut options = ServerOptions::default();
    options.limits.login.attempts = 100;
    let srv = TestServer::spawn_with_options(&apps_fixture(), None, options).await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    let wrong = [
        "0000000000000000000000000000000000000000",
        OAUTH_APP.client_secret,
        "",
    ];
    for (method, rest) in MODERN {
        let path = format!("/applications/{}/{rest}", GITHUB_APP.client_id);
        for secret in wrong {
            let reply = srv
                .request(method.clone(), &path)
                .basic_auth(GITHUB_APP.client_id, Some(secret))
                .json(&body_for(rest, &token))
                .go()
                .await;
            assert_bad_credentials(&reply);
        }
    }
    srv.assert_token_works(&GITHUB_APP, &token, "alice").await;
}

#[tokio::test]
async fn an_unknown_client_id_is_bad_credentials() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    for (method, rest) in MODERN {
        // Unknown in the credentials and in the path.
        let path = format!("/applications/Iv1.ffffffffffffffff/{rest}");
        let reply = srv
            .request(method.clone(), &path)
            .basic_auth("Iv1.ffffffffffffffff", Some(GITHUB_APP.client_secret))
            .json(&body_for(rest, &token))
            .go()
            .await;
        assert_bad_credentials(&reply);
        // A user's login and password are not client credentials.
        let path = format!("/applications/{}/{rest}", GITHUB_APP.client_id);
        let reply = srv
            .request(method.clone(), &path)
            .login_as(&ALICE)
            .json(&body_for(rest, &token))
            .go()
            .await;
        assert_bad_credentials(&reply);
    }
}

#[tokio::test]
async fn right_credentials_with_another_client_id_in_the_path_are_not_found() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    for (method, rest) in MODERN {
        // OAUTH_APP's own credentials, GITHUB_APP's client id in the path.
        let path = format!("/applications/{}/{rest}", GITHUB_APP.client_id);
        let reply = srv
            .as_app(method.clone(), &path, &OAUTH_APP)
            .json(&body_for(rest, &token))
            .go()
            .await;
        assert_not_found(&reply);
        // And a client id that names no app at all.
        let path = format!("/applications/nosuchapp/{rest}");
        let reply = srv
            .as_app(method.clone(), &path, &GITHUB_APP)
            .json(&body_for(rest, &token))
            .go()
            .await;
        assert_not_found(&reply);
    }
    srv.assert_token_works(&GITHUB_APP, &token, "alice").await;
}

// ---------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_missing_access_token_is_a_missing_field() {
    let srv = TestServer::spawn_apps().await;
    for (method, rest) in MODERN {
        let path = format!("/applications/{}/{rest}", GITHUB_APP.client_id);
        for body in [
            json!({}),
            json!({ "token": "ghu_x" }),
            json!({ "target": "alice" }),
        ] {
            let reply = srv
                .as_app(method.clone(), &path, &GITHUB_APP)
                .json(&body)
                .go()
                .await;
            assert_validation_error(&reply, None, "access_token", "missing_field");
        }
        // An empty body counts as {}.
        let reply = srv.as_app(method.clone(), &path, &GITHUB_APP).go().await;
        assert_validation_error(&reply, None, "access_token", "missing_field");
    }
}

#[tokio::test]
async fn an_access_token_that_is_not_a_string_is_invalid() {
    let srv = TestServer::spawn_apps().await;
    for (method, rest) in MODERN {
        let path = format!("/applications/{}/{rest}", GITHUB_APP.client_id);
        for bad in [json!(42), json!(true), json!(["ghu_x"]), json!({ "t": 1 })] {
            let reply = srv
                .as_app(method.clone(), &path, &GITHUB_APP)
                .json(&json!({ "access_token": bad, "target": "alice" }))
                .go()
                .await;
            assert_validation_error(&reply, None, "access_token", "invalid");
        }
    }
}

#[tokio::test]
async fn malformed_json_is_problems_parsing_json() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    for (method, rest) in MODERN {
        let path = format!("/applications/{}/{rest}", GITHUB_APP.client_id);
        for raw in [
            format!("{{\"access_token\": \"{token}\""),
            "{access_token: 1}".to_owned(),
            "not json".to_owned(),
        ] {
            let reply = srv
                .as_app(method.clone(), &path, &GITHUB_APP)
                .header("Content-Type", "application/json")
                .body(raw.clone())
                .go()
                .await;
            assert_eq!(reply.status, 400, "{method} {rest} {raw:?}: {}", reply.body);
            assert_json(&reply.json(), &error_body(400, "Problems parsing JSON"));
        }
        let reply = srv
            .as_app(method.clone(), &path, &GITHUB_APP)
            .json(&json!([token]))
            .go()
            .await;
        assert_eq!(reply.status, 400, "{method} {rest}: {}", reply.body);
        assert_json(
            &reply.json(),
            &error_body(400, "Body should be a JSON object"),
        );
    }
    srv.assert_token_works(&GITHUB_APP, &token, "alice").await;
}
