//! The `permissions` of a scoped token: every permission of GitHub's table with every level,
//! accepted exactly when the table allows it; unknown permissions and levels refused with a
//! message that names them.

use serde_json::{Map, Value, json};

use crate::support::{
    ALICE, GITHUB_APP, RequestExt, TestServer, assert_invalid_field, assert_json, merge,
};

const LEVELS: [&str; 3] = ["read", "write", "admin"];

fn table() -> &'static [(&'static str, &'static [&'static str])] {
    grantd::domain::permission::table()
}

#[test]
fn the_table_has_the_permissions_the_readme_names() {
    let find = |name: &str| {
        table()
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, levels)| levels.to_vec())
    };
    assert_eq!(find("contents"), Some(vec!["read", "write"]));
    assert_eq!(
        find("organization_projects"),
        Some(vec!["read", "write", "admin"])
    );
    assert_eq!(find("workflows"), Some(vec!["write"]));
    assert!(table().len() > 40, "GitHub's table is long");
}

#[tokio::test]
async fn every_permission_accepts_exactly_its_levels() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    let mut accepted = 0;
    for (name, allowed) in table() {
        for level in LEVELS {
            let body = json!({
                "access_token": token,
                "target": "alice",
                "permissions": { *name: level },
            });
            let reply = srv.scope(&GITHUB_APP, body).await;
            if allowed.contains(&level) {
                assert_eq!(reply.status, 200, "{name}: {level}: {}", reply.body);
                let scoped = reply.json();
                assert_json(
                    &scoped["installation"]["permissions"],
                    &json!({ *name: level }),
                );
                // The check response shows the same permission.
                let new = scoped["token"].as_str().expect("token");
                let checked = srv.check(&GITHUB_APP, new).await.expect_status(200);
                assert_json(
                    &checked["installation"]["permissions"],
                    &json!({ *name: level }),
                );
                accepted += 1;
            } else {
                assert_eq!(reply.status, 422, "{name}: {level}: {}", reply.body);
                let error = assert_invalid_field(&reply, &["permissions"]);
                let message = error["message"].as_str().unwrap_or_default();
                assert!(
                    message.contains(name),
                    "the message {message:?} does not name {name}"
                );
            }
        }
    }
    // One authorization per accepted pair, plus the parent (more than one page of 100).
    let mut listed = 0;
    for page in 1..=3 {
        let path = format!("/authorizations?per_page=100&page={page}");
        let body = srv
            .get(&path)
            .login_as(&ALICE)
            .go()
            .await
            .expect_status(200);
        listed += body.as_array().expect("a JSON array").len();
    }
    assert_eq!(listed, accepted + 1);
}

#[tokio::test]
async fn all_permissions_at_once_are_kept() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    // The lowest level of each permission, then the highest.
    let picks: [fn(&[&'static str]) -> &'static str; 2] =
        [|levels| levels[0], |levels| levels[levels.len() - 1]];
    for pick in picks {
        let permissions: Map<String, Value> = table()
            .iter()
            .map(|(name, levels)| ((*name).to_owned(), json!(pick(levels))))
            .collect();
        let permissions = Value::Object(permissions);
        let (body, scoped) = srv
            .scoped_token(
                &GITHUB_APP,
                &token,
                json!({ "target": "alice", "permissions": permissions }),
            )
            .await;
        assert_json(&body["installation"]["permissions"], &permissions);
        let checked = srv.check(&GITHUB_APP, &scoped).await.expect_status(200);
        assert_json(&checked["installation"]["permissions"], &permissions);
    }
}

#[tokio::test]
async fn without_permissions_the_token_carries_none() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    for extra in [
        json!({}),
        json!({ "permissions": {} }),
        json!({ "permissions": null }),
    ] {
        let (body, _) = srv
            .scoped_token(
                &GITHUB_APP,
                &token,
                merge(json!({ "target": "alice" }), extra),
            )
            .await;
        assert_json(&body["installation"]["permissions"], &json!({}));
    }
}

#[tokio::test]
async fn unknown_permissions_and_levels_are_refused_by_name() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    for (permissions, named) in [
        (json!({ "not_a_permission": "read" }), "not_a_permission"),
        (json!({ "Contents": "read" }), "Contents"),
        (
            json!({ "contents": "read", "telepathy": "write" }),
            "telepathy",
        ),
        (json!({ "contents": "none" }), "contents"),
        (json!({ "contents": "READ" }), "contents"),
        (json!({ "contents": "" }), "contents"),
        (
            json!({ "issues": "write", "workflows": "read" }),
            "workflows",
        ),
        (json!({ "organization_plan": "write" }), "organization_plan"),
    ] {
        let body = json!({ "access_token": token, "target": "alice", "permissions": permissions });
        let reply = srv.scope(&GITHUB_APP, body).await;
        assert_eq!(reply.status, 422, "{permissions}: {}", reply.body);
        let error = assert_invalid_field(&reply, &["permissions"]);
        let message = error["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(named),
            "the message {message:?} does not name {named}"
        );
    }
    assert_eq!(
        srv.authorizations(&ALICE).await.len(),
        1,
        "nothing was made"
    );
}
