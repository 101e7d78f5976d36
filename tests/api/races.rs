//! Uniqueness under races, on whichever engine the suite runs (SQLite, or PostgreSQL in its
//! pass): the database's unique indexes decide, and the losers get GitHub's answers.

use serde_json::json;

use crate::support::{ALICE, RequestExt, TestServer};

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
