//! Uniqueness under races, on whichever engine the suite runs (SQLite, or PostgreSQL in its
//! pass): the database's unique indexes decide, and the losers get GitHub's answers.

use serde_json::json;

use crate::support::{ALICE, OAUTH_APP, RequestExt, TestServer};

#[tokio::test]
async fn concurrent_personal_tokens_with_one_note_make_exactly_one() {
    let srv = TestServer::spawn().await;
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let request = srv
            .post("/authorizations")
            .login_as(&ALICE)
            .json(&json!({ "note": "one of a kind", "scopes": ["repo"] }));
        calls.spawn(async move { request.go().await });
    }
    let replies = calls.join_all().await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    assert_eq!(
        created,
        1,
        "statuses: {:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for reply in replies.iter().filter(|r| r.status != 201) {
        assert_eq!(
            reply.expect_status(422)["errors"],
            json!([{ "resource": "OauthAccess", "field": "description", "code": "already_exists" }])
        );
    }
    assert_eq!(srv.authorizations(&ALICE).await.len(), 1);
}

#[tokio::test]
async fn concurrent_renames_to_one_note_leave_it_unique() {
    let srv = TestServer::spawn().await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let created = srv.create_pat(&ALICE, &format!("note {i}")).await;
        ids.push(created["id"].as_i64().expect("id"));
    }
    let mut calls = tokio::task::JoinSet::new();
    for id in ids {
        let request = srv
            .patch(&format!("/authorizations/{id}"))
            .login_as(&ALICE)
            .json(&json!({ "note": "the same" }));
        calls.spawn(async move { request.go().await });
    }
    let statuses: Vec<u16> = calls.join_all().await.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 422).count(),
        5,
        "{statuses:?}"
    );
    let notes: Vec<String> = srv
        .authorizations(&ALICE)
        .await
        .iter()
        .filter_map(|a| a["note"].as_str().map(str::to_owned))
        .filter(|n| n == "the same")
        .collect();
    assert_eq!(notes.len(), 1);
}

/// A grant lives as long as it has authorizations: revoking its last token deletes it. Creates
/// of authorizations for the same user and app racing those revokes must all succeed: found by
/// bench/soak on PostgreSQL, where a create that found the grant could see it deleted before it
/// locked it and answered 500 ("no rows returned"). Each worker creates a token and revokes it
/// at once, so the grant keeps losing its last authorization while other creates are in flight.
#[tokio::test]
async fn creates_racing_revokes_of_the_grant_s_last_token_all_succeed() {
    const WORKERS: usize = 8;
    const CYCLES: usize = 30;
    let srv = TestServer::spawn().await;
    let app = OAUTH_APP;
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..WORKERS {
        let client = reqwest::Client::new();
        let create_url = srv.url(&format!("/authorizations/clients/{}", app.client_id));
        let revoke_url = srv.url(&format!("/applications/{}/token", app.client_id));
        workers.spawn(async move {
            let mut failures = Vec::new();
            for cycle in 0..CYCLES {
                let created = client
                    .put(format!("{create_url}/w{worker}-{cycle}"))
                    .login_as(&ALICE)
                    .json(&json!({ "client_secret": app.client_secret, "scopes": ["repo"] }))
                    .go()
                    .await;
                if created.status != 201 {
                    failures.push(format!("create: {} {}", created.status, created.json()));
                    continue;
                }
                let token = created.json()["token"].as_str().expect("token").to_owned();
                let revoked = client
                    .delete(&revoke_url)
                    .basic_auth(app.client_id, Some(app.client_secret))
                    .json(&json!({ "access_token": token }))
                    .go()
                    .await;
                if revoked.status != 204 {
                    failures.push(format!("revoke: {}", revoked.status));
                }
            }
            failures
        });
    }
    let failures: Vec<String> = workers.join_all().await.into_iter().flatten().collect();
    assert!(
        failures.is_empty(),
        "{} failures, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    assert!(srv.authorizations(&ALICE).await.is_empty());
    assert!(srv.grants(&ALICE).await.is_empty());
}
