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

use std::io::{BufRead as _, BufReader};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::device_flow::approve;
use crate::signin::{location, sign_in};
use crate::support::{ALICE, DEFAULT_FIXTURE, GhServer, RequestExt, client_trusting};

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

/// The "GitHub CLI" OAuth app as gh 2.23 knows it (cli/cli `internal/authflow/flow.go`,
/// whose secret "is safe to be embedded in version control"), registered with the device
/// flow on.
const GH_CLIENT_ID: &str = "178c6fc778ccc68e1d6a";
const GH_CLIENT_SECRET: &str = "34ddeff2b558a23d38fba8a6de74f086ede1cc0b";

fn gh_app_fixture() -> String {
    format!(
        "{DEFAULT_FIXTURE}\n[[apps]]\nname = \"GitHub CLI\"\nurl = \"https://cli.github.com\"\n\
         owner = \"alice\"\nkind = \"oauth\"\nclient_id = \"{GH_CLIENT_ID}\"\n\
         client_secret = \"{GH_CLIENT_SECRET}\"\ndevice_flow = true\n"
    )
}

/// How long `gh auth login --web` may take in all: it polls every `interval` (5 s) seconds,
/// so it ends one or two polls after the approval.
const DEVICE_LOGIN_LIMIT: Duration = Duration::from_secs(30);

/// `gh auth login --web` running: its standard error line by line as it comes.
struct RunningLogin {
    child: Option<std::process::Child>,
    lines: mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
}

impl RunningLogin {
    fn start(gh: &GhServer, host: &str) -> Self {
        // Not a terminal: gh prints the URL instead of opening a browser (BROWSER is a no-op
        // should it try) and prompts for nothing.
        let mut child = gh.start_gh(
            &["auth", "login", "--hostname", host, "--web"],
            &[("BROWSER", "true")],
        );
        let stderr = child.stderr.take().expect("gh's stderr");
        let (tx, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child: Some(child),
            lines,
            seen: Vec::new(),
        }
    }

    /// The rest of the first line that starts with `prefix` (gh's stderr ends first: None).
    async fn after(&mut self, prefix: &str) -> Option<String> {
        while let Some(line) = self.lines.recv().await {
            self.seen.push(line.clone());
            if let Some(rest) = line.strip_prefix(prefix) {
                return Some(rest.to_owned());
            }
        }
        None
    }

    /// Waits for gh to exit; returns its status, standard output and every stderr line.
    async fn finish(&mut self) -> (std::process::ExitStatus, String, String) {
        let child = self.child.take().expect("gh running");
        let out = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .expect("the waiting task ran")
            .expect("wait for gh");
        while let Some(line) = self.lines.recv().await {
            self.seen.push(line);
        }
        (out.status, text(&out.stdout), self.seen.join("\n"))
    }
}

impl Drop for RunningLogin {
    /// A gh still running when the test ends (failed or timed out) is killed.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test]
async fn gh_auth_login_web_signs_in_through_the_device_flow() {
    device_login("").await;
}

/// With the public URL at GHES's API base, the code answer still sends gh's user to the
/// page at the host's root, and the API's urls carry /api/v3.
#[tokio::test]
async fn gh_auth_login_web_works_with_the_api_base_as_public_url() {
    device_login("/api/v3").await;
}

/// `gh auth login --web` against a server whose public URL is `https://HOST{path}`, then
/// status, api, logout.
async fn device_login(path: &str) {
    let gh = GhServer::spawn_with(&gh_app_fixture(), path).await;
    let host = gh.host.name.clone();
    let mut login = RunningLogin::start(&gh, &host);

    let flow = async {
        // gh asks for codes with its own client id and shows the user code and the page.
        let code = login
            .after("! First copy your one-time code: ")
            .await
            .expect("gh prints a one-time code");
        let page = login
            .after("Open this URL to continue in your web browser: ")
            .await
            .expect("gh prints the verification URL");
        assert_eq!(page, format!("https://{host}/login/device"));

        // The page answers at that URL (signed out: to the sign-in page and back).
        let browser = client_trusting(gh.srv.ca_pem())
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a browser");
        let signed_out = browser.get(&page).send().await.expect("GET the page");
        assert_eq!(signed_out.status(), 303);
        assert_eq!(location(&signed_out), "/login?return_to=%2Flogin%2Fdevice");

        // alice signs in, types the code and authorizes the GitHub CLI.
        assert_eq!(sign_in(&gh.srv, &browser, &ALICE).await.status(), 303);
        approve(&gh.srv, &browser, &code).await;
        login.finish().await
    };
    let Ok((status, stdout, stderr)) = tokio::time::timeout(DEVICE_LOGIN_LIMIT, flow).await else {
        panic!(
            "gh auth login --web did not finish within {DEVICE_LOGIN_LIMIT:?}:\n{}",
            login.seen.join("\n")
        );
    };
    assert!(status.success(), "gh auth login --web:\n{stdout}\n{stderr}");
    assert!(stderr.contains("✓ Authentication complete."), "{stderr}");
    assert!(stderr.contains("✓ Logged in as alice"), "{stderr}");

    // gh stored an OAuth app token and reports it with the scopes it asked for.
    let out = gh
        .gh(&["auth", "token", "--hostname", &host], None, &[])
        .await;
    assert!(out.status.success(), "gh auth token: {}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_owned();
    assert!(token.starts_with("gho_"), "{token}");
    let scopes = scopes_header(&gh, &token).await;
    let mut listed: Vec<&str> = scopes.split(", ").collect();
    listed.sort_unstable();
    assert_eq!(listed, ["gist", "read:org", "repo"]);
    let out = gh
        .gh(&["auth", "status", "--hostname", &host], None, &[])
        .await;
    let status = text(&out.stderr);
    assert!(out.status.success(), "gh auth status: {status}");
    assert!(
        status.contains(&format!("Logged in to {host} as alice")),
        "{status}"
    );
    assert!(
        status.contains(&format!("Token scopes: {scopes}")),
        "{status}"
    );

    let out = gh
        .gh(&["api", "user", "--hostname", &host], None, &[])
        .await;
    assert!(out.status.success(), "gh api user: {}", text(&out.stderr));
    let user: Value = serde_json::from_slice(&out.stdout).expect("JSON from gh");
    assert_eq!(user["login"], "alice");
    assert_eq!(user["url"], format!("https://{host}{path}/users/alice"));
    assert_eq!(user["html_url"], format!("https://{host}/alice"));

    // The token belongs to the GitHub CLI app: its grant lists it.
    let grants = gh
        .srv
        .get("/applications/grants")
        .login_as(&ALICE)
        .go()
        .await;
    assert_eq!(grants.status, 200);
    let grants = grants.json();
    let gh_grant = grants
        .as_array()
        .expect("a list")
        .iter()
        .find(|g| g["app"]["client_id"] == GH_CLIENT_ID)
        .unwrap_or_else(|| panic!("no grant for the GitHub CLI: {grants}"));
    assert_eq!(gh_grant["scopes"], json!(["repo", "read:org", "gist"]));

    let out = gh
        .gh(&["auth", "logout", "--hostname", &host], None, &[])
        .await;
    assert!(
        out.status.success(),
        "gh auth logout: {}",
        text(&out.stderr)
    );
    let out = gh
        .gh(&["auth", "status", "--hostname", &host], None, &[])
        .await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("You are not logged into any GitHub hosts"),
        "{}",
        text(&out.stderr)
    );
}
