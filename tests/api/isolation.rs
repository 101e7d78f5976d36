//! Isolation between users: another user's authorization or grant is "Not Found" on every verb, just
//! like an unknown or non-integer id, and lists never show another user's objects.

use serde_json::json;

use crate::support::{ALICE, BOB, OAUTH_APP, RequestExt, TestServer, assert_not_found, id_of};

#[tokio::test]
async fn another_users_authorization_is_not_found() {
    let srv = TestServer::spawn().await;
    let alices = srv
        .create_app_authorization(
            &ALICE,
            &OAUTH_APP,
            json!({ "scopes": ["repo"], "note": "mine" }),
        )
        .await;
    let id = id_of(&alices);
    let path = format!("/authorizations/{id}");
    let before = srv
        .get(&path)
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);

    assert_not_found(&srv.get(&path).login_as(&BOB).go().await);
    assert_not_found(
        &srv.patch(&path)
            .login_as(&BOB)
            .json(&json!({ "note": "stolen", "scopes": [] }))
            .go()
            .await,
    );
    assert_not_found(
        &srv.post(&path)
            .login_as(&BOB)
            .json(&json!({ "note": "stolen" }))
            .go()
            .await,
    );
    assert_not_found(&srv.delete(&path).login_as(&BOB).go().await);

    // Nothing happened to it.
    let after = srv
        .get(&path)
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    assert_eq!(before, after);
}

#[tokio::test]
async fn another_users_grant_is_not_found() {
    let srv = TestServer::spawn().await;
    srv.create_app_authorization(&ALICE, &OAUTH_APP, json!({}))
        .await;
    let grant_id = id_of(&srv.grants(&ALICE).await[0]);
    let path = format!("/applications/grants/{grant_id}");

    assert_not_found(&srv.get(&path).login_as(&BOB).go().await);
    assert_not_found(&srv.delete(&path).login_as(&BOB).go().await);

    srv.get(&path)
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    assert_eq!(srv.authorizations(&ALICE).await.len(), 1);
}

#[tokio::test]
async fn lists_show_only_the_callers_own_objects() {
    let srv = TestServer::spawn().await;
    let a = srv.create_pat(&ALICE, "alice's").await;
    srv.create_app_authorization(&ALICE, &OAUTH_APP, json!({}))
        .await;
    let b = srv.create_pat(&BOB, "bob's").await;

    let bobs: Vec<i64> = srv.authorizations(&BOB).await.iter().map(id_of).collect();
    assert_eq!(bobs, vec![id_of(&b)]);
    assert!(srv.grants(&BOB).await.is_empty());
    let path = format!("/authorizations?client_id={}", OAUTH_APP.client_id);
    let filtered = srv.get(&path).login_as(&BOB).go().await.expect_status(200);
    assert_eq!(filtered, json!([]));

    let alices: Vec<i64> = srv.authorizations(&ALICE).await.iter().map(id_of).collect();
    assert_eq!(alices.len(), 2);
    assert_eq!(alices[0], id_of(&a));
    assert!(!alices.contains(&id_of(&b)));
}

#[tokio::test]
async fn get_or_create_never_returns_another_users_authorization() {
    let srv = TestServer::spawn().await;
    let alices = srv
        .get_or_create(&ALICE, &OAUTH_APP, Some("shared"), json!({}))
        .await
        .expect_status(201);
    let bobs = srv
        .get_or_create(&BOB, &OAUTH_APP, Some("shared"), json!({}))
        .await
        .expect_status(201);
    assert_ne!(id_of(&alices), id_of(&bobs));
    let bobs_again = srv
        .get_or_create(&BOB, &OAUTH_APP, Some("shared"), json!({}))
        .await
        .expect_status(200);
    assert_eq!(id_of(&bobs_again), id_of(&bobs));
}

#[tokio::test]
async fn non_integer_ids_are_not_found() {
    let srv = TestServer::spawn().await;
    let id = id_of(&srv.create_pat(&ALICE, "real").await);
    srv.create_app_authorization(&ALICE, &OAUTH_APP, json!({}))
        .await;
    for bad in [
        "abc".to_owned(),
        "1.0".to_owned(),
        "-1".to_owned(),
        "0".to_owned(),
        format!("{id}abc"),
        format!("0x{id}"),
        "99999999999999999999999999".to_owned(),
        "%20".to_owned(),
        "%F0%9F%94%91".to_owned(),
    ] {
        for base in ["/authorizations", "/applications/grants"] {
            let path = format!("{base}/{bad}");
            let reply = srv.get(&path).login_as(&ALICE).go().await;
            assert_eq!(reply.status, 404, "GET {path}: {}", reply.body);
            assert_not_found(&reply);
            assert_not_found(&srv.delete(&path).login_as(&ALICE).go().await);
        }
        let path = format!("/authorizations/{bad}");
        assert_not_found(
            &srv.patch(&path)
                .login_as(&ALICE)
                .json(&json!({ "note": "x" }))
                .go()
                .await,
        );
    }
    // Nothing was touched.
    assert_eq!(srv.authorizations(&ALICE).await.len(), 2);
}
