//! More requests at once than the database pool has connections: every one waits its turn and
//! is answered, none fails. On SQLite (pool of 8) and, in the suite's PostgreSQL pass, with a
//! pool of two; the token index is off so that every check and `GET /user` asks the database.

use reqwest::Method;
use serde_json::json;

use crate::support::{
    ALICE, OAUTH_APP, RequestExt, ServerOptions, TestServer, apps_fixture, str_of,
};

const CHECKS: usize = 120;
const USER_READS: usize = 60;

#[tokio::test]
async fn requests_beyond_the_pool_wait_for_a_connection_and_are_all_answered() {
    let options = ServerOptions {
        db_pool_size: Some(2),
        without_token_index: true,
        ..ServerOptions::default()
    };
    let srv = TestServer::spawn_with_options(&apps_fixture(), None, options).await;
    let (_, token) = srv.new_token(&ALICE, &OAUTH_APP, json!({})).await;

    let mut calls = tokio::task::JoinSet::new();
    let check_path = format!("/applications/{}/token", OAUTH_APP.client_id);
    for _ in 0..CHECKS {
        let request = srv
            .as_app(Method::POST, &check_path, &OAUTH_APP)
            .json(&json!({ "access_token": token }));
        calls.spawn(async move { ("check", request.go().await) });
    }
    for _ in 0..USER_READS {
        let request = srv
            .get("/user")
            .header("Authorization", format!("token {token}"));
        calls.spawn(async move { ("user", request.go().await) });
    }
    let replies = calls.join_all().await;
    assert_eq!(replies.len(), CHECKS + USER_READS);
    for (what, reply) in &replies {
        let body = reply.expect_status(200);
        match *what {
            "check" => {
                assert_eq!(str_of(&body, "token"), token);
                assert_eq!(str_of(&body["user"], "login"), "alice");
            }
            _ => assert_eq!(str_of(&body, "login"), "alice"),
        }
    }

    // The pool is whole again: a write still goes through, and its effect is seen at once.
    srv.revoke(&OAUTH_APP, &token).await.expect_no_content();
    assert_eq!(srv.check(&OAUTH_APP, &token).await.status, 404);
}
