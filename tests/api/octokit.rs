//! A real GitHub client against grantd: `@octokit/oauth-methods` (check, scope, reset, delete
//! token, delete authorization) and `@octokit/rest` (`GET /user`), driven by
//! `tests/clients/octokit/app_tokens.mjs`. `scripts/test` installs them with
//! `npm ci --prefix tests/clients/octokit`; without them this test fails (it never skips).

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{ALICE, GITHUB_APP, OCTO_ORG, TestServer, assert_json};

fn client_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/octokit")
}

/// Runs `node app_tokens.mjs ARGS` without blocking the server's runtime, within two minutes.
async fn run_node(args: Vec<String>) -> Output {
    run_script("app_tokens.mjs", args).await
}

/// Runs `node SCRIPT ARGS` (a script of `tests/clients/octokit`) the same way.
pub(crate) async fn run_script(script: &str, args: Vec<String>) -> Output {
    let dir = client_dir();
    let installed = dir.join("node_modules/@octokit/oauth-methods/package.json");
    assert!(
        installed.is_file()
            && dir
                .join("node_modules/@octokit/rest/package.json")
                .is_file(),
        "the octokit client is not installed: run `npm ci --prefix tests/clients/octokit` \
         (scripts/test does it) and run the tests again"
    );
    let child = Command::new("node")
        .arg(dir.join(script))
        .args(&args)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `node` ({e}): install Node.js 20 or later"));
    let pid = child.id();
    let waited = tokio::time::timeout(
        Duration::from_mins(2),
        tokio::task::spawn_blocking(move || child.wait_with_output()),
    )
    .await;
    let Ok(joined) = waited else {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        panic!("node {script} did not finish within 2 minutes");
    };
    joined
        .expect("the waiting task ran")
        .expect("wait for node")
}

// The server runs on this test's runtime: node must be waited for on another thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn octokit_checks_scopes_resets_and_deletes_tokens() {
    let srv = TestServer::spawn_apps().await;
    let (authz, token) = srv
        .new_token(
            &ALICE,
            &GITHUB_APP,
            json!({ "scopes": ["repo"], "note": "octokit" }),
        )
        .await;
    let (_, bystander) = srv
        .new_token(&ALICE, &crate::support::OTHER_GITHUB_APP, json!({}))
        .await;

    let out = run_node(vec![
        srv.url(""),
        GITHUB_APP.client_id.to_owned(),
        GITHUB_APP.client_secret.to_owned(),
        token.clone(),
        ALICE.login.to_owned(),
        OCTO_ORG.to_owned(),
        "octo-repo".to_owned(),
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "node app_tokens.mjs failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );

    // The script's last line names the tokens it made; check the end state over HTTP.
    let summary = stdout.lines().last().unwrap_or_default();
    let made: Value = serde_json::from_str(summary)
        .unwrap_or_else(|e| panic!("last line {summary:?} is not JSON ({e}); stdout:\n{stdout}"));
    assert_eq!(made["original"], token.as_str());
    for field in ["original", "scoped", "reset"] {
        let gone = made[field].as_str().expect("a token");
        srv.assert_token_is_gone(&GITHUB_APP, gone).await;
    }
    assert_ne!(made["reset"], made["original"]);

    // The grant and every authorization of the app are gone; the other app's token is not.
    let list = srv.authorizations(&ALICE).await;
    assert_eq!(
        list.len(),
        1,
        "only the other app's token is left: {list:?}"
    );
    assert_eq!(list[0]["app"], crate::support::OTHER_GITHUB_APP.json());
    assert_ne!(list[0]["id"], authz["id"]);
    let grants = srv.grants(&ALICE).await;
    assert_json(
        &json!(grants.iter().map(|g| g["app"].clone()).collect::<Vec<_>>()),
        &json!([crate::support::OTHER_GITHUB_APP.json()]),
    );
    srv.assert_token_works(&crate::support::OTHER_GITHUB_APP, &bystander, "alice")
        .await;
}

/// octokit configured for a GHES base URL: `meta.root` (with the token's scopes),
/// `meta.get`, `rateLimit.get`, `users.getByUsername`, `meta.getZen` and `graphql`, which
/// octokit sends to `/api/graphql` by itself (`tests/clients/octokit/ghes.mjs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn octokit_reads_the_ghes_endpoints_and_graphql() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv
        .new_token(
            &ALICE,
            &GITHUB_APP,
            json!({ "scopes": ["repo", "read:org"] }),
        )
        .await;
    let out = run_script(
        "ghes.mjs",
        vec![srv.url(""), token.clone(), ALICE.login.to_owned()],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "node ghes.mjs failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    let summary = stdout.lines().last().unwrap_or_default();
    let seen: Value = serde_json::from_str(summary)
        .unwrap_or_else(|e| panic!("last line {summary:?} is not JSON ({e}); stdout:\n{stdout}"));
    // alice's organization, and the first GraphQL query's point taken.
    assert_eq!(seen["organizations"], json!([OCTO_ORG]));
    assert_eq!(seen["remaining"], 4999);
    // alice's REST requests before `rateLimit.get`, which counts none: the token's creation
    // (Basic) and `meta.root`.
    assert_eq!(seen["core_used"], 2);
}
