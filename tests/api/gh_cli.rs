//! GitHub's own CLI, `gh` 2.23 (Debian's package, `scripts/install-gh`), against grantd as a
//! GitHub Enterprise Server host over HTTPS (issue 21, "Proof with gh"). Each test's server
//! has port 443 of a loopback address of its own under a host name of its own (see
//! `support/gh.rs`; needs root, as CI runs), and `gh` trusts its CA through SSL_CERT_FILE
//! alone, with its configuration in a temporary GH_CONFIG_DIR.
//!
//! For an Enterprise host `gh` calls `https://HOST/api/v3/…` for REST and
//! `https://HOST/api/graphql` for GraphQL (cli/cli `internal/ghinstance/host.go`), over HTTP/2
//! (Go's client offers h2). `gh auth login --with-token` reads the token's scopes from
//! `GET /api/v3/` (`X-OAuth-Scopes`); `gh auth status` reads them there too, then asks GraphQL
//! for `viewer { login }`.

use serde_json::{Value, json};

use crate::support::{ALICE, GhServer, RequestExt};

/// A personal access token of alice's with `scopes`.
async fn token(gh: &GhServer, scopes: &[&str]) -> (i64, String) {
    let body = gh
        .srv
        .create_pat_with(&ALICE, json!({ "note": "gh", "scopes": scopes }))
        .await;
    (
        body["id"].as_i64().expect("an id"),
        body["token"].as_str().expect("a token").to_owned(),
    )
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn gh_api_user_answers_over_https_for_a_token_and_refuses_a_revoked_one() {
    let gh = GhServer::spawn().await;
    let host = gh.host.name.clone();
    let (id, token) = token(&gh, &["repo", "read:org"]).await;

    let out = gh
        .gh(
            &["api", "user", "--hostname", &host],
            None,
            &[("GH_ENTERPRISE_TOKEN", &token)],
        )
        .await;
    assert!(out.status.success(), "gh api user: {}", text(&out.stderr));
    let user: Value = serde_json::from_slice(&out.stdout).expect("JSON from gh");
    assert_eq!(user["login"], "alice");
    assert_eq!(user["url"], format!("https://{host}/users/alice"));

    // Revoked: gh reports GitHub's 401.
    gh.srv
        .delete(&format!("/authorizations/{id}"))
        .login_as(&ALICE)
        .go()
        .await
        .expect_no_content();
    let out = gh
        .gh(
            &["api", "user", "--hostname", &host],
            None,
            &[("GH_ENTERPRISE_TOKEN", &token)],
        )
        .await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("gh: Bad credentials (HTTP 401)"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn gh_refuses_a_host_name_with_a_port() {
    let gh = GhServer::spawn().await;
    let out = gh
        .gh(
            &[
                "api",
                "user",
                "--hostname",
                &format!("{}:443", gh.host.name),
            ],
            None,
            &[("GH_ENTERPRISE_TOKEN", "x")],
        )
        .await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("invalid hostname"),
        "{}",
        text(&out.stderr)
    );
}

/// The scopes header grantd sends for `token`, as `gh auth status` prints it.
async fn scopes_header(gh: &GhServer, token: &str) -> String {
    let res = gh
        .srv
        .get("/user")
        .header("authorization", format!("token {token}"))
        .go()
        .await;
    assert_eq!(res.status, 200);
    res.header("x-oauth-scopes").expect("X-OAuth-Scopes")
}

#[tokio::test]
async fn gh_auth_login_with_a_token_then_status_api_and_graphql() {
    let gh = GhServer::spawn().await;
    let host = gh.host.name.clone();
    let (_, token) = token(&gh, &["repo", "read:org"]).await;

    let out = gh
        .gh(
            &["auth", "login", "--hostname", &host, "--with-token"],
            Some(&format!("{token}\n")),
            &[],
        )
        .await;
    assert!(out.status.success(), "gh auth login: {}", text(&out.stderr));

    let out = gh
        .gh(&["auth", "status", "--hostname", &host], None, &[])
        .await;
    let status = text(&out.stderr);
    assert!(out.status.success(), "gh auth status: {status}");
    assert!(
        status.contains(&format!("Logged in to {host} as alice")),
        "{status}"
    );
    let scopes = scopes_header(&gh, &token).await;
    assert!(
        status.contains(&format!("Token scopes: {scopes}")),
        "{status}"
    );

    // The stored token, no environment.
    let out = gh
        .gh(&["api", "user", "--hostname", &host], None, &[])
        .await;
    assert!(out.status.success(), "gh api user: {}", text(&out.stderr));
    let user: Value = serde_json::from_slice(&out.stdout).expect("JSON from gh");
    assert_eq!(user["login"], "alice");

    let out = gh
        .gh(
            &[
                "api",
                "graphql",
                "--hostname",
                &host,
                "-f",
                "query={viewer{login}}",
            ],
            None,
            &[],
        )
        .await;
    assert!(
        out.status.success(),
        "gh api graphql: {}",
        text(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).expect("JSON from gh");
    assert_eq!(
        answer,
        json!({ "data": { "viewer": { "login": "alice" } } })
    );
}

#[tokio::test]
async fn gh_refuses_a_token_without_read_org_with_its_own_message() {
    let gh = GhServer::spawn().await;
    let host = gh.host.name.clone();
    let (_, token) = token(&gh, &["repo"]).await;
    let out = gh
        .gh(
            &["auth", "login", "--hostname", &host, "--with-token"],
            Some(&format!("{token}\n")),
            &[],
        )
        .await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("error validating token: missing required scope 'read:org'"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn gh_reports_a_revoked_token_as_invalid_and_logs_out() {
    let gh = GhServer::spawn().await;
    let host = gh.host.name.clone();
    let (id, token) = token(&gh, &["repo", "read:org"]).await;
    let out = gh
        .gh(
            &["auth", "login", "--hostname", &host, "--with-token"],
            Some(&format!("{token}\n")),
            &[],
        )
        .await;
    assert!(out.status.success(), "gh auth login: {}", text(&out.stderr));

    gh.srv
        .delete(&format!("/authorizations/{id}"))
        .login_as(&ALICE)
        .go()
        .await
        .expect_no_content();
    let out = gh
        .gh(&["auth", "status", "--hostname", &host], None, &[])
        .await;
    let status = text(&out.stderr);
    assert!(!out.status.success(), "{status}");
    assert!(
        status.contains(&format!("{host}: authentication failed")),
        "{status}"
    );
    assert!(status.contains("is no longer valid"), "{status}");

    let out = gh
        .gh(&["auth", "logout", "--hostname", &host], None, &[])
        .await;
    assert!(
        out.status.success(),
        "gh auth logout: {}",
        text(&out.stderr)
    );
    let out = gh.gh(&["auth", "status"], None, &[]).await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("You are not logged into any GitHub hosts"),
        "{}",
        text(&out.stderr)
    );
}
