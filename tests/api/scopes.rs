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

/// Issue 18, item 2: normalisation is linear in the list's length, so the longest list a 1 MiB
/// body holds is answered like a short one (it took minutes, and stalled other requests, when
/// each name was compared with every other). Creation, `add_scopes` and get-or-create all.
#[tokio::test]
async fn the_longest_scope_lists_a_body_can_hold_are_answered_at_once() {
    let srv = TestServer::spawn().await;
    // Each as many names as fit in the body limit.
    let many = |name: &str| Value::from(vec![name; 900_000 / (name.len() + 3)]);
    let created = srv
        .create_pat_with(&ALICE, json!({ "note": "long", "scopes": many("repo") }))
        .await;
    assert_eq!(created["scopes"], json!(["repo"]));
    let mut add = many("user:email");
    add.as_array_mut().unwrap().push("user".into());
    let updated = srv
        .patch(&format!("/authorizations/{}", created["id"]))
        .login_as(&ALICE)
        .json(&json!({ "add_scopes": add }))
        .go()
        .await;
    assert_eq!(
        updated.expect_status(200)["scopes"],
        json!(["repo", "user"])
    );
    let got = srv
        .put(&format!("/authorizations/clients/{}", OAUTH_APP.client_id))
        .login_as(&ALICE)
        .json(&json!({ "client_secret": OAUTH_APP.client_secret, "scopes": many("read:org") }))
        .go()
        .await;
    assert_eq!(got.expect_status(201)["scopes"], json!(["read:org"]));
    // A long list of unknown names is refused with a short answer.
    let unknown: Vec<String> = (0..50_000).map(|i| format!("s{i}")).collect();
    let refused = srv
        .post("/authorizations")
        .login_as(&ALICE)
        .json(&json!({ "note": "unknown", "scopes": unknown }))
        .go()
        .await;
    assert_validation_error(&refused, Some("OauthAccess"), "scopes", "invalid");
}
