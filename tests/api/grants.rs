//! `GET /applications/grants`, `GET` and `DELETE /applications/grants/{id}`: one grant per user and
//! app with at least one authorization, its scopes the union of theirs, and deletes that cascade
//! both ways (grant -> authorizations, last authorization -> grant).

use serde_json::{Value, json};

use crate::support::{
    ALICE, BOB, GITHUB_APP, OAUTH_APP, OTHER_APP, RequestExt, TestServer, assert_json,
    assert_not_found, id_of,
};

fn sorted(scopes: &Value) -> Vec<String> {
    let mut v: Vec<String> = scopes
        .as_array()
        .expect("scopes array")
        .iter()
        .map(|s| s.as_str().expect("scope string").to_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn the_first_app_authorization_creates_a_grant() {
    let srv = TestServer::spawn().await;
    let authz = srv
        .create_app_authorization(&ALICE, &OAUTH_APP, json!({ "scopes": ["public_repo"] }))
        .await;

    let reply = srv.get("/applications/grants").login_as(&ALICE).go().await;
    let list = reply.expect_status(200);
    assert_eq!(reply.header("Link"), None);
    let grant_id = id_of(&list[0]);
    let expected = srv.grant(grant_id, &OAUTH_APP, json!(["public_repo"]));
    assert_json(&list, &json!([expected.clone()]));
    assert_eq!(list[0]["created_at"], authz["created_at"]);
    assert_eq!(list[0]["updated_at"], authz["updated_at"]);

    let one = srv
        .get(&format!("/applications/grants/{grant_id}"))
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    assert_json(&one, &expected);
}

#[tokio::test]
async fn personal_access_tokens_have_no_grant() {
    let srv = TestServer::spawn().await;
    srv.create_pat_with(&ALICE, json!({ "note": "pat", "scopes": ["repo"] }))
        .await;
    assert_json(&json!(srv.grants(&ALICE).await), &json!([]));
}

#[tokio::test]
async fn a_grants_scopes_are_the_union_of_its_authorizations_scopes() {
    let srv = TestServer::spawn().await;
    let first = srv
        .create_app_authorization(
            &ALICE,
            &OAUTH_APP,
            json!({ "scopes": ["repo"], "fingerprint": "a" }),
        )
        .await;
    let second = srv
        .get_or_create(&ALICE, &OAUTH_APP, Some("b"), json!({ "scopes": ["user"] }))
        .await
        .expect_status(201);
    let grants = srv.grants(&ALICE).await;
    assert_eq!(grants.len(), 1, "one grant per user and app: {grants:?}");
    assert_eq!(sorted(&grants[0]["scopes"]), vec!["repo", "user"]);
    assert_eq!(grants[0]["created_at"], first["created_at"]);
    let latest = std::cmp::max(first["updated_at"].as_str(), second["updated_at"].as_str());
    assert_eq!(grants[0]["updated_at"].as_str(), latest);

    // The union is normalised: `public_repo` and `user:email` are implied by what is there.
    srv.create_app_authorization(
        &ALICE,
        &OAUTH_APP,
        json!({ "scopes": ["public_repo", "user:email", "gist"], "fingerprint": "c" }),
    )
    .await;
    let grants = srv.grants(&ALICE).await;
    assert_eq!(sorted(&grants[0]["scopes"]), vec!["gist", "repo", "user"]);
}

#[tokio::test]
async fn each_app_has_its_own_grant_in_creation_order() {
    let srv = TestServer::spawn().await;
    srv.create_app_authorization(&ALICE, &GITHUB_APP, json!({ "scopes": ["gist"] }))
        .await;
    srv.create_app_authorization(&ALICE, &OAUTH_APP, json!({}))
        .await;
    srv.create_app_authorization(&ALICE, &OTHER_APP, json!({ "scopes": ["read:org"] }))
        .await;
    let list = srv
        .get("/applications/grants")
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    let ids: Vec<i64> = list.as_array().expect("array").iter().map(id_of).collect();
    assert_json(
        &list,
        &json!([
            srv.grant(ids[0], &GITHUB_APP, json!(["gist"])),
            srv.grant(ids[1], &OAUTH_APP, json!([])),
            srv.grant(ids[2], &OTHER_APP, json!(["read:org"])),
        ]),
    );
    assert!(ids[0] < ids[1] && ids[1] < ids[2]);
}

#[tokio::test]
async fn client_id_filters_the_grants() {
    let srv = TestServer::spawn().await;
    srv.create_app_authorization(&ALICE, &OAUTH_APP, json!({}))
        .await;
    srv.create_app_authorization(&ALICE, &GITHUB_APP, json!({}))
        .await;
    let path = format!("/applications/grants?client_id={}", GITHUB_APP.client_id);
    let list = srv
        .get(&path)
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    let id = id_of(&list[0]);
    assert_json(&list, &json!([srv.grant(id, &GITHUB_APP, json!([]))]));

    let list = srv
        .get("/applications/grants?client_id=unknown0000000000000")
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    assert_json(&list, &json!([]));
    // Another user's app with no authorization of alice's gives nothing either.
    let path = format!("/applications/grants?client_id={}", OTHER_APP.client_id);
    assert_json(
        &srv.get(&path)
            .login_as(&ALICE)
            .go()
            .await
            .expect_status(200),
        &json!([]),
    );
}

#[tokio::test]
async fn deleting_a_grant_removes_all_that_apps_authorizations_of_that_user_only() {
    let srv = TestServer::spawn().await;
    let a1 = srv
        .create_app_authorization(&ALICE, &OAUTH_APP, json!({ "fingerprint": "one" }))
        .await;
    let a2 = srv
        .create_app_authorization(&ALICE, &OAUTH_APP, json!({ "fingerprint": "two" }))
        .await;
    let keep_gh = srv
        .create_app_authorization(&ALICE, &GITHUB_APP, json!({}))
        .await;
    let keep_pat = srv.create_pat(&ALICE, "pat").await;
    let bobs = srv
        .create_app_authorization(&BOB, &OAUTH_APP, json!({ "fingerprint": "one" }))
        .await;
    let bobs_grant = id_of(&srv.grants(&BOB).await[0]);

    let grants = srv.grants(&ALICE).await;
    let grant = grants
        .iter()
        .find(|g| g["app"]["client_id"] == OAUTH_APP.client_id)
        .expect("oauth app grant");
    let grant_id = id_of(grant);
    srv.delete(&format!("/applications/grants/{grant_id}"))
        .login_as(&ALICE)
        .go()
        .await
        .expect_no_content();

    assert_not_found(
        &srv.get(&format!("/applications/grants/{grant_id}"))
            .login_as(&ALICE)
            .go()
            .await,
    );
    for gone in [&a1, &a2] {
        assert_not_found(
            &srv.get(&format!("/authorizations/{}", id_of(gone)))
                .login_as(&ALICE)
                .go()
                .await,
        );
    }
    let left: Vec<i64> = srv.authorizations(&ALICE).await.iter().map(id_of).collect();
    assert_eq!(left, vec![id_of(&keep_gh), id_of(&keep_pat)]);
    let left_grants: Vec<Value> = srv
        .grants(&ALICE)
        .await
        .iter()
        .map(|g| g["app"]["client_id"].clone())
        .collect();
    assert_eq!(left_grants, vec![json!(GITHUB_APP.client_id)]);

    // Bob's authorization of the same app and his grant are untouched.
    let bob_left: Vec<i64> = srv.authorizations(&BOB).await.iter().map(id_of).collect();
    assert_eq!(bob_left, vec![id_of(&bobs)]);
    srv.get(&format!("/applications/grants/{bobs_grant}"))
        .login_as(&BOB)
        .go()
        .await
        .expect_status(200);

    // The fingerprints are free again.
    srv.create_app_authorization(&ALICE, &OAUTH_APP, json!({ "fingerprint": "one" }))
        .await;
}

#[tokio::test]
async fn deleting_the_last_authorization_of_an_app_removes_its_grant() {
    let srv = TestServer::spawn().await;
    let a1 = srv
        .create_app_authorization(
            &ALICE,
            &OAUTH_APP,
            json!({ "fingerprint": "one", "scopes": ["repo"] }),
        )
        .await;
    let a2 = srv
        .create_app_authorization(
            &ALICE,
            &OAUTH_APP,
            json!({ "fingerprint": "two", "scopes": ["gist"] }),
        )
        .await;
    let grant_id = id_of(&srv.grants(&ALICE).await[0]);

    srv.delete(&format!("/authorizations/{}", id_of(&a1)))
        .login_as(&ALICE)
        .go()
        .await
        .expect_no_content();
    let grant = srv
        .get(&format!("/applications/grants/{grant_id}"))
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    assert_json(&grant, &srv.grant(grant_id, &OAUTH_APP, json!(["gist"])));

    srv.delete(&format!("/authorizations/{}", id_of(&a2)))
        .login_as(&ALICE)
        .go()
        .await
        .expect_no_content();
    assert_not_found(
        &srv.get(&format!("/applications/grants/{grant_id}"))
            .login_as(&ALICE)
            .go()
            .await,
    );
    assert!(srv.grants(&ALICE).await.is_empty());

    // A later authorization of the same app makes a new grant with a new id.
    srv.create_app_authorization(&ALICE, &OAUTH_APP, json!({}))
        .await;
    let grants = srv.grants(&ALICE).await;
    assert_eq!(grants.len(), 1);
    assert!(
        id_of(&grants[0]) > grant_id,
        "grant id {} reused or older than {grant_id}",
        id_of(&grants[0])
    );
    assert_not_found(
        &srv.get(&format!("/applications/grants/{grant_id}"))
            .login_as(&ALICE)
            .go()
            .await,
    );
}

#[tokio::test]
async fn an_unknown_grant_is_not_found() {
    let srv = TestServer::spawn().await;
    for path in ["/applications/grants/1", "/applications/grants/424242"] {
        assert_not_found(&srv.get(path).login_as(&ALICE).go().await);
        assert_not_found(&srv.delete(path).login_as(&ALICE).go().await);
    }
}
