//! Scope validation and normalisation on creation: GitHub's classic scopes plus GitHub Enterprise
//! Server's, duplicates and implied scopes dropped, order otherwise kept, `null` meaning none.

use serde_json::{Value, json};

use crate::support::{ALICE, OAUTH_APP, RequestExt, TestServer, assert_validation_error};

async fn pat_scopes(srv: &TestServer, note: &str, scopes: Value) -> Value {
    let body = srv
        .create_pat_with(&ALICE, json!({ "note": note, "scopes": scopes }))
        .await;
    body["scopes"].clone()
}

#[tokio::test]
async fn scopes_implied_by_another_requested_scope_are_dropped() {
    let srv = TestServer::spawn().await;
    let cases = [
        (
            json!(["user", "gist", "user:email"]),
            json!(["user", "gist"]),
        ),
        (
            json!(["user:email", "gist", "user"]),
            json!(["gist", "user"]),
        ),
        (json!(["repo", "repo"]), json!(["repo"])),
        (
            json!(["repo:status", "public_repo", "repo"]),
            json!(["repo"]),
        ),
        (json!(["read:org", "admin:org"]), json!(["admin:org"])),
        (
            json!(["read:user", "user:follow", "notifications"]),
            json!(["read:user", "user:follow", "notifications"]),
        ),
        (
            json!(["gist", "notifications", "delete_repo"]),
            json!(["gist", "notifications", "delete_repo"]),
        ),
    ];
    for (i, (requested, expected)) in cases.into_iter().enumerate() {
        let got = pat_scopes(&srv, &format!("case {i}"), requested.clone()).await;
        assert_eq!(got, expected, "requested {requested}");
    }
}

#[tokio::test]
async fn null_or_absent_scopes_mean_none() {
    let srv = TestServer::spawn().await;
    assert_eq!(pat_scopes(&srv, "null", Value::Null).await, json!([]));
    assert_eq!(pat_scopes(&srv, "empty", json!([])).await, json!([]));
    let body = srv.create_pat(&ALICE, "absent").await;
    assert_eq!(body["scopes"], json!([]));
}

#[tokio::test]
async fn github_enterprise_scopes_are_accepted() {
    let srv = TestServer::spawn().await;
    let scopes = json!(["site_admin", "admin:pre_receive_hook", "admin:business"]);
    assert_eq!(pat_scopes(&srv, "ghes", scopes.clone()).await, scopes);
}

#[tokio::test]
async fn the_classic_scopes_are_accepted() {
    let srv = TestServer::spawn().await;
    let scopes = json!([
        "repo",
        "admin:org",
        "admin:public_key",
        "admin:repo_hook",
        "admin:org_hook",
        "gist",
        "notifications",
        "user",
        "delete_repo",
        "write:discussion",
        "write:packages",
        "delete:packages",
        "admin:gpg_key",
        "workflow"
    ]);
    assert_eq!(pat_scopes(&srv, "classic", scopes.clone()).await, scopes);
}

#[tokio::test]
async fn an_unknown_scope_is_invalid() {
    let srv = TestServer::spawn().await;
    for scopes in [
        json!(["bogus"]),
        json!(["repo", "Repo"]),
        json!(["repo", ""]),
        json!(["admin:everything"]),
    ] {
        let reply = srv
            .post("/authorizations")
            .login_as(&ALICE)
            .json(&json!({ "note": "n", "scopes": scopes }))
            .go()
            .await;
        assert_validation_error(&reply, None, "scopes", "invalid");
    }
    // Same on an app authorization and on get-or-create.
    let reply = srv
        .post("/authorizations")
        .login_as(&ALICE)
        .json(&json!({ "client_id": OAUTH_APP.client_id, "client_secret": OAUTH_APP.client_secret, "scopes": ["nope"] }))
        .go()
        .await;
    assert_validation_error(&reply, None, "scopes", "invalid");
    let reply = srv
        .get_or_create(&ALICE, &OAUTH_APP, None, json!({ "scopes": ["nope"] }))
        .await;
    assert_validation_error(&reply, None, "scopes", "invalid");
    assert!(srv.authorizations(&ALICE).await.is_empty());
}

#[tokio::test]
async fn get_or_create_normalises_scopes_when_it_creates() {
    let srv = TestServer::spawn().await;
    let body = srv
        .get_or_create(
            &ALICE,
            &OAUTH_APP,
            None,
            json!({ "scopes": ["user", "gist", "user:email"] }),
        )
        .await
        .expect_status(201);
    assert_eq!(body["scopes"], json!(["user", "gist"]));
}
