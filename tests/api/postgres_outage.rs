//! Tests that need the PostgreSQL server itself, not only a database on it: they stop and
//! restart it. `scripts/test` runs them on their own, after the rest of the PostgreSQL pass
//! (`scripts/with-postgres` provides the server and the commands); without that they fail
//! rather than pass unseen.

use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::support::{
    ALICE, DEFAULT_FIXTURE, ServerProcess, fresh_database_url, postgres_admin_url, write_file,
};

fn run(variable: &str) {
    let command = std::env::var(variable).unwrap_or_else(|_| {
        panic!("{variable} is not set: run this test through scripts/with-postgres")
    });
    let status = Command::new("sh")
        .args(["-c", &command])
        .status()
        .expect("run sh");
    assert!(status.success(), "`{command}` failed");
}

#[tokio::test]
async fn a_node_answers_503_while_postgresql_is_down_and_recovers_by_itself() {
    assert!(
        postgres_admin_url().is_some(),
        "GRANTD_TEST_POSTGRES is not set: run through scripts/with-postgres"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let db = fresh_database_url(&dir.path().join("unused.db")).await;
    let seed = write_file(dir.path(), "seed.toml", DEFAULT_FIXTURE);
    let node = ServerProcess::start(
        &db,
        &[
            "--seed",
            seed.to_str().expect("utf-8 path"),
            "--db-acquire-timeout",
            "1s",
        ],
        &dir.path().join("node.log"),
    );
    let client = reqwest::Client::new();
    let create = |note: &'static str| {
        client
            .post(node.url("/authorizations"))
            .basic_auth(ALICE.login, Some(ALICE.password))
            .json(&json!({ "note": note, "scopes": ["repo"] }))
            .send()
    };
    let before = create("before the outage").await.expect("answer");
    assert_eq!(before.status(), 201);
    let token = before.json::<serde_json::Value>().await.expect("json")["token"]
        .as_str()
        .expect("token")
        .to_owned();

    run("GRANTD_TEST_PG_STOP");
    // While the database is away: 503 with a JSON body, never a hang or a 500.
    let down = client
        .get(node.url("/user"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("answer");
    assert_eq!(down.status(), 503);
    let body: serde_json::Value = down.json().await.expect("a JSON body");
    assert_eq!(body["status"], "503");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Service Unavailable"))
    );
    let health = client
        .get(node.url("/healthz"))
        .send()
        .await
        .expect("answer");
    assert_eq!(health.status(), 503);

    run("GRANTD_TEST_PG_START");
    // Back without restarting the node: the pool reconnects on its own.
    let mut healthy = false;
    for _ in 0..100 {
        if client
            .get(node.url("/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        healthy,
        "the node did not recover within 10 s of the database's return"
    );
    // The write acknowledged before the outage is there, and new writes work.
    let user = client
        .get(node.url("/user"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("answer");
    assert_eq!(user.status(), 200);
    assert_eq!(
        create("after the outage").await.expect("answer").status(),
        201
    );
    let list: Vec<serde_json::Value> = client
        .get(node.url("/authorizations"))
        .basic_auth(ALICE.login, Some(ALICE.password))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    let notes: Vec<&str> = list.iter().filter_map(|a| a["note"].as_str()).collect();
    assert_eq!(notes, ["before the outage", "after the outage"]);
}
