//! `PUT /authorizations/clients/{client_id}` and `.../{client_id}/{fingerprint}`: 201 with the
//! token when it creates, 200 with `"token": ""` when the authorization exists, and exactly one
//! authorization however many callers race for it.

use serde_json::json;

use crate::support::{
    ALICE, BOB, GITHUB_APP, OAUTH_APP, RequestExt, TestServer, assert_json, assert_not_found,
    assert_validation_error, id_of, token_of,
};

#[tokio::test]
async fn get_or_create_creates_then_returns_the_same_authorization() {
    let srv = TestServer::spawn().await;
    let first = srv
        .get_or_create(&ALICE, &OAUTH_APP, None, json!({
            "scopes": ["public_repo"], "note": "optional note", "note_url": "http://optional/note/url",
        }))
        .await;
    let created = first.expect_status(201);
    let token = token_of(&created, "gho_");
    let id = id_of(&created);
    let fields = json!({
        "scopes": ["public_repo"],
        "app": OAUTH_APP.json(),
        "note": "optional note",
        "note_url": "http://optional/note/url",
    });
    assert_json(
        &created,
        &srv.authorization(id, &token, true, fields.clone()),
    );

    // The second call finds it; different scopes and note in the request change nothing.
    let second = srv
        .get_or_create(
            &ALICE,
            &OAUTH_APP,
            None,
            json!({ "scopes": ["user"], "note": "other" }),
        )
        .await;
    let existing = second.expect_status(200);
    assert_json(&existing, &srv.authorization(id, &token, false, fields));
    assert_eq!(existing["created_at"], created["created_at"]);
    assert_eq!(existing["updated_at"], created["updated_at"]);
    assert_eq!(srv.authorizations(&ALICE).await.len(), 1);
}

#[tokio::test]
async fn get_or_create_with_a_fingerprint_creates_then_returns_that_authorization() {
    let srv = TestServer::spawn().await;
    let created = srv
        .get_or_create(
            &ALICE,
            &OAUTH_APP,
            Some("jklmnop12345678"),
            json!({ "scopes": ["repo"] }),
        )
        .await
        .expect_status(201);
    let token = token_of(&created, "gho_");
    let id = id_of(&created);
    let fields =
        json!({ "scopes": ["repo"], "app": OAUTH_APP.json(), "fingerprint": "jklmnop12345678" });
    assert_json(
        &created,
        &srv.authorization(id, &token, true, fields.clone()),
    );

    let again = srv
        .get_or_create(&ALICE, &OAUTH_APP, Some("jklmnop12345678"), json!({}))
        .await
        .expect_status(200);
    assert_json(&again, &srv.authorization(id, &token, false, fields));

    // Another fingerprint, or none, is another authorization.
    let other = srv
        .get_or_create(&ALICE, &OAUTH_APP, Some("other"), json!({}))
        .await
        .expect_status(201);
    let none = srv
        .get_or_create(&ALICE, &OAUTH_APP, None, json!({}))
        .await
        .expect_status(201);
    assert_eq!(none["fingerprint"], serde_json::Value::Null);
    let ids = [id, id_of(&other), id_of(&none)];
    assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
    assert_eq!(srv.authorizations(&ALICE).await.len(), 3);
}

#[tokio::test]
async fn get_or_create_finds_an_authorization_made_by_post() {
    let srv = TestServer::spawn().await;
    let posted = srv
        .create_app_authorization(&ALICE, &OAUTH_APP, json!({ "scopes": ["gist"] }))
        .await;
    let token = token_of(&posted, "gho_");
    let got = srv
        .get_or_create(&ALICE, &OAUTH_APP, None, json!({ "scopes": ["repo"] }))
        .await
        .expect_status(200);
    assert_json(
        &got,
        &srv.authorization(
            id_of(&posted),
            &token,
            false,
            json!({ "scopes": ["gist"], "app": OAUTH_APP.json() }),
        ),
    );

    let posted_fp = srv
        .create_app_authorization(&ALICE, &OAUTH_APP, json!({ "fingerprint": "abc" }))
        .await;
    let got_fp = srv
        .get_or_create(&ALICE, &OAUTH_APP, Some("abc"), json!({}))
        .await
        .expect_status(200);
    assert_eq!(id_of(&got_fp), id_of(&posted_fp));
    assert_eq!(got_fp["token"], "");
}

#[tokio::test]
async fn get_or_create_for_a_github_app_makes_a_ghu_token() {
    let srv = TestServer::spawn().await;
    let created = srv
        .get_or_create(&ALICE, &GITHUB_APP, None, json!({}))
        .await
        .expect_status(201);
    let token = token_of(&created, "ghu_");
    assert_json(
        &created,
        &srv.authorization(
            id_of(&created),
            &token,
            true,
            json!({ "app": GITHUB_APP.json() }),
        ),
    );
}

#[tokio::test]
async fn get_or_create_is_per_user() {
    let srv = TestServer::spawn().await;
    let alices = srv
        .get_or_create(&ALICE, &OAUTH_APP, Some("fp"), json!({}))
        .await
        .expect_status(201);
    let bobs = srv
        .get_or_create(&BOB, &OAUTH_APP, Some("fp"), json!({}))
        .await
        .expect_status(201);
    assert_ne!(id_of(&alices), id_of(&bobs));
}

#[tokio::test]
async fn get_or_create_requires_the_client_secret() {
    let srv = TestServer::spawn().await;
    for fingerprint in [None, Some("fp")] {
        let path = match fingerprint {
            Some(fp) => format!("/authorizations/clients/{}/{fp}", OAUTH_APP.client_id),
            None => format!("/authorizations/clients/{}", OAUTH_APP.client_id),
        };
        let reply = srv
            .put(&path)
            .login_as(&ALICE)
            .json(&json!({ "scopes": ["repo"] }))
            .go()
            .await;
        assert_validation_error(&reply, None, "client_secret", "missing_field");
        let reply = srv
            .put(&path)
            .login_as(&ALICE)
            .json(&json!({ "client_secret": "" }))
            .go()
            .await;
        assert_validation_error(&reply, None, "client_secret", "missing_field");
        // An empty body counts as `{}`.
        let reply = srv
            .put(&path)
            .login_as(&ALICE)
            .header("Content-Type", "application/json")
            .go()
            .await;
        assert_validation_error(&reply, None, "client_secret", "missing_field");
    }
    assert!(srv.authorizations(&ALICE).await.is_empty());
}

#[tokio::test]
async fn get_or_create_with_a_wrong_secret_is_invalid_even_when_the_authorization_exists() {
    let srv = TestServer::spawn().await;
    let path = format!("/authorizations/clients/{}/fp", OAUTH_APP.client_id);
    let wrong = json!({ "client_secret": GITHUB_APP.client_secret });
    let reply = srv.put(&path).login_as(&ALICE).json(&wrong).go().await;
    assert_validation_error(&reply, None, "client_secret", "invalid");
    assert!(srv.authorizations(&ALICE).await.is_empty());

    srv.get_or_create(&ALICE, &OAUTH_APP, Some("fp"), json!({}))
        .await
        .expect_status(201);
    let reply = srv.put(&path).login_as(&ALICE).json(&wrong).go().await;
    assert_validation_error(&reply, None, "client_secret", "invalid");
}

#[tokio::test]
async fn get_or_create_for_an_unknown_client_id_is_not_found() {
    let srv = TestServer::spawn().await;
    let body = json!({ "client_secret": OAUTH_APP.client_secret });
    for path in [
        "/authorizations/clients/00000000000000000001",
        "/authorizations/clients/00000000000000000001/fp",
    ] {
        assert_not_found(&srv.put(path).login_as(&ALICE).json(&body).go().await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_get_or_create_calls_make_exactly_one_authorization() {
    let srv = TestServer::spawn().await;
    for fingerprint in [Some("racy"), None] {
        let path = match fingerprint {
            Some(fp) => format!("/authorizations/clients/{}/{fp}", OAUTH_APP.client_id),
            None => format!("/authorizations/clients/{}", OAUTH_APP.client_id),
        };
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..10 {
            let req = srv
                .put(&path)
                .login_as(&ALICE)
                .json(&json!({ "client_secret": OAUTH_APP.client_secret, "scopes": ["repo"] }));
            calls.spawn(req.go());
        }
        let replies = calls.join_all().await;
        let created: Vec<_> = replies.iter().filter(|r| r.status == 201).collect();
        let found: Vec<_> = replies.iter().filter(|r| r.status == 200).collect();
        let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
        assert_eq!(
            (created.len(), found.len()),
            (1, 9),
            "statuses {statuses:?}; first body {}",
            replies[0].body
        );
        let id = id_of(&created[0].json());
        token_of(&created[0].json(), "gho_");
        for reply in &found {
            let body = reply.json();
            assert_eq!(id_of(&body), id);
            assert_eq!(body["token"], "");
        }
    }
    assert_eq!(srv.authorizations(&ALICE).await.len(), 2);
    assert_eq!(srv.grants(&ALICE).await.len(), 1);
}
