//! `serve --ephemeral` and the test controls under `/_grantd/`, driven through the built
//! binary (the flags, the printed token and the loopback rule only exist there): the clock
//! and every rule that reads it, reset and snapshots, flows without a browser, minting, the
//! request journal; absent without the flag, 401 without the right token.

use std::time::Instant;

use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::support::{
    ALICE, ALICE2FA, BOB, DEFAULT_FIXTURE, OAUTH_APP, ServerProcess, current_otp, grantd, otp_at,
    write_file,
};

pub(crate) const TOKEN: &str = "test-control-token-0123456789";
const EXPIRING_APP: &str = "Iv1.e0e1e2e3e4e5e6e7";
const EXPIRING_SECRET: &str = "dddddddddddddddddddddddddddddddddddddddd";
const CALLBACK: &str = "http://localhost:8765/callback";

/// The default fixture, with the OAuth app on the device flow and a callback URL, and a
/// GitHub App whose user tokens expire (so they come with refresh tokens).
fn fixture() -> String {
    let enabled = DEFAULT_FIXTURE.replace(
        "url = \"http://my-oauth-app.example.com\"\n",
        &format!(
            "url = \"http://my-oauth-app.example.com\"\ndevice_flow = true\ncallback_url = \"{CALLBACK}\"\n"
        ),
    );
    format!(
        "{enabled}\n[[apps]]\nname = \"expiring\"\nurl = \"http://cli.example\"\nowner = \"bob\"\n\
         kind = \"github\"\nclient_id = \"{EXPIRING_APP}\"\nclient_secret = \"{EXPIRING_SECRET}\"\n\
         expire_user_tokens = true\n"
    )
}

/// A `grantd serve --ephemeral --test-controls` process with [`TOKEN`].
pub(crate) struct Controlled {
    pub(crate) server: ServerProcess,
    pub(crate) client: Client,
    _dir: tempfile::TempDir,
}

impl Controlled {
    pub(crate) fn start(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let seed = write_file(dir.path(), "seed.toml", &fixture());
        let mut args = vec![
            "--ephemeral",
            "--test-controls",
            "--control-token",
            TOKEN,
            "--seed",
            seed.to_str().expect("utf-8"),
        ];
        args.extend_from_slice(extra);
        // --db is ignored with --ephemeral: nothing is written there.
        let unused = format!("sqlite://{}", dir.path().join("unused.db").display());
        let server = ServerProcess::start(&unused, &args, &dir.path().join("stderr.log"));
        assert!(!dir.path().join("unused.db").exists());
        Self {
            server,
            client: Client::new(),
            _dir: dir,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// A request to a control route, with the control token.
    pub(crate) fn ctl(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(TOKEN)
    }

    async fn advance(&self, seconds: i64) {
        let res = self
            .ctl(Method::POST, "/_grantd/clock/advance")
            .json(&json!({ "seconds": seconds }))
            .send()
            .await
            .expect("advance");
        assert_eq!(res.status(), 200);
    }

    /// Mints a token for `login` and `client_id` through the controls.
    pub(crate) async fn mint(&self, login: &str, client_id: &str, extra: Value) -> Value {
        let mut body = json!({ "login": login, "client_id": client_id, "scopes": ["repo"] });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let res = self
            .ctl(Method::POST, "/_grantd/tokens")
            .json(&body)
            .send()
            .await
            .expect("mint");
        assert_eq!(res.status(), 201);
        res.json().await.expect("JSON")
    }

    async fn user_status(&self, token: &str) -> StatusCode {
        self.client
            .get(self.url("/user"))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET /user")
            .status()
    }

    async fn check_status(&self, token: &str) -> StatusCode {
        self.client
            .post(self.url(&format!("/applications/{}/token", OAUTH_APP.client_id)))
            .basic_auth(OAUTH_APP.client_id, Some(OAUTH_APP.client_secret))
            .json(&json!({ "access_token": token }))
            .send()
            .await
            .expect("check")
            .status()
    }
}

pub(crate) fn access_token(body: &Value) -> String {
    body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access_token in {body}"))
        .to_owned()
}

#[tokio::test]
async fn controls_are_absent_without_the_flag() {
    let dir = tempfile::tempdir().expect("temp dir");
    let unused = format!("sqlite://{}", dir.path().join("unused.db").display());
    let server = ServerProcess::start(&unused, &["--ephemeral"], &dir.path().join("stderr.log"));
    let client = Client::new();
    for (method, path) in [
        (Method::GET, "/_grantd/clock"),
        (Method::POST, "/_grantd/reset"),
        (Method::POST, "/_grantd/tokens"),
        (Method::GET, "/_grantd/faults"),
    ] {
        let res = client
            .request(method, server.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 404, "{path}");
        let body: Value = res.json().await.expect("JSON");
        assert_eq!(body["message"], "Not Found");
    }
    let doc: Value = client
        .get(server.url("/openapi.json"))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("JSON");
    assert!(doc["paths"].get("/_grantd/clock").is_none());
}

#[tokio::test]
async fn ephemeral_serves_the_example_fixture_without_a_seed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let unused = format!("sqlite://{}", dir.path().join("unused.db").display());
    let started = Instant::now();
    let server = ServerProcess::start(&unused, &["--ephemeral"], &dir.path().join("stderr.log"));
    let client = Client::new();
    let res = client
        .get(server.url("/users/octocat"))
        .send()
        .await
        .expect("GET /users/octocat");
    assert_eq!(res.status(), 200);
    eprintln!("--ephemeral: ready in {:?}", started.elapsed());
    assert!(!dir.path().join("unused.db").exists());
}

#[tokio::test]
async fn refused_configurations_say_why() {
    let controls = grantd(
        &[
            "serve",
            "--ephemeral",
            "--test-controls",
            "--listen",
            "0.0.0.0:0",
        ],
        None,
    );
    assert!(!controls.status.success());
    let stderr = String::from_utf8_lossy(&controls.stderr);
    assert!(
        stderr.contains("not a loopback address") && stderr.contains("--test-controls-force"),
        "{stderr}"
    );

    let memory = grantd(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            "sqlite::memory:",
        ],
        None,
    );
    assert!(!memory.status.success());
    let stderr = String::from_utf8_lossy(&memory.stderr);
    assert!(
        stderr.contains("in-memory SQLite database cannot be served")
            && stderr.contains("--ephemeral"),
        "{stderr}"
    );

    let short = grantd(
        &[
            "serve",
            "--ephemeral",
            "--test-controls",
            "--control-token",
            "short",
        ],
        None,
    );
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("16 to 256 characters"));
}

#[tokio::test]
async fn the_control_token_is_printed_and_required() {
    let dir = tempfile::tempdir().expect("temp dir");
    let unused = format!("sqlite://{}", dir.path().join("unused.db").display());
    let server = ServerProcess::start(
        &unused,
        &["--ephemeral", "--test-controls"],
        &dir.path().join("stderr.log"),
    );
    let printed = server
        .printed
        .iter()
        .find_map(|line| line.strip_prefix("grantd control token: "))
        .expect("the token is printed")
        .to_owned();
    assert!(
        printed.starts_with("gdc_") && printed.len() == 44,
        "{printed}"
    );
    let client = Client::new();
    let url = server.url("/_grantd/clock");

    let missing = client.get(&url).send().await.expect("request");
    assert_eq!(missing.status(), 401);
    assert_eq!(
        missing.json::<Value>().await.expect("JSON"),
        json!({ "message": "Requires authentication",
                "documentation_url": "https://docs.github.com/enterprise-server@3.19/rest", "status": "401" })
    );
    let wrong = client
        .get(&url)
        .bearer_auth("gdc_wrong")
        .send()
        .await
        .expect("request");
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        wrong.json::<Value>().await.expect("JSON")["message"],
        "Bad credentials"
    );
    let bearer = client
        .get(&url)
        .bearer_auth(&printed)
        .send()
        .await
        .expect("request");
    assert_eq!(bearer.status(), 200);
    let header = client
        .get(&url)
        .header("x-grantd-control-token", &printed)
        .send()
        .await
        .expect("request");
    assert_eq!(header.status(), 200);
}

#[tokio::test]
async fn the_clock_is_read_set_and_advanced_and_date_follows_it() {
    let srv = Controlled::start(&[]);
    let now: Value = srv
        .ctl(Method::GET, "/_grantd/clock")
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("JSON");
    assert_eq!(now["offset_seconds"], 0);

    let set = srv
        .ctl(Method::PUT, "/_grantd/clock")
        .json(&json!({ "now": "2030-01-01T00:00:00Z" }))
        .send()
        .await
        .expect("set");
    assert_eq!(set.status(), 200);
    let set: Value = set.json().await.expect("JSON");
    assert_eq!(set["epoch"], 1_893_456_000);
    assert_eq!(set["now"], "2030-01-01T00:00:00Z");

    let moved: Value = srv
        .ctl(Method::POST, "/_grantd/clock/advance")
        .json(&json!({ "seconds": 3600 }))
        .send()
        .await
        .expect("advance")
        .json()
        .await
        .expect("JSON");
    let epoch = moved["epoch"].as_i64().expect("epoch");
    // The clock keeps running after it is set: at most a few seconds passed since.
    assert!((1_893_459_600..1_893_459_660).contains(&epoch), "{moved}");

    let zen = srv.client.get(srv.url("/zen")).send().await.expect("zen");
    let date = zen.headers()["date"].to_str().expect("ascii").to_owned();
    assert!(date.starts_with("Tue, 01 Jan 2030 01:0"), "{date}");

    for (body, status) in [
        (json!({ "now": "yesterday" }), 422),
        (json!({ "now": "2090-01-01T00:00:00Z" }), 422),
        (json!({}), 400),
    ] {
        let res = srv
            .ctl(Method::PUT, "/_grantd/clock")
            .json(&body)
            .send()
            .await
            .expect("set");
        assert_eq!(res.status(), status, "{body}");
    }
    let far = srv
        .ctl(Method::POST, "/_grantd/clock/advance")
        .json(&json!({ "seconds": 400_000_000 }))
        .send()
        .await
        .expect("advance");
    assert_eq!(far.status(), 422);
    let bad = srv
        .ctl(Method::POST, "/_grantd/clock/advance")
        .body("not json")
        .send()
        .await
        .expect("advance");
    assert_eq!(bad.status(), 400);
    assert_eq!(
        bad.json::<Value>().await.expect("JSON")["message"],
        "Problems parsing JSON"
    );
}

#[tokio::test]
async fn token_expiry_and_the_rate_limit_reset_follow_the_clock() {
    let srv = Controlled::start(&[]);
    let minted = srv
        .mint(
            ALICE.login,
            OAUTH_APP.client_id,
            json!({ "expires_in": 60 }),
        )
        .await;
    assert_eq!(minted["expires_in"], 60);
    assert_eq!(minted["scope"], "repo");
    let token = access_token(&minted);
    assert!(token.starts_with("gho_"));

    let user = srv
        .client
        .get(srv.url("/user"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET /user");
    assert_eq!(user.status(), 200);
    let reset: i64 = user.headers()["x-ratelimit-reset"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("number");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(reset > now && reset <= now + 3600 + 5, "{reset} vs {now}");
    assert_eq!(srv.check_status(&token).await, 200);

    srv.advance(61).await;
    assert_eq!(srv.user_status(&token).await, 401);
    assert_eq!(srv.check_status(&token).await, 404);

    // A token of a second user, made after two hours on the moved clock: its rate-limit
    // window starts on the moved clock too.
    srv.advance(7200).await;
    let other = access_token(&srv.mint(BOB.login, OAUTH_APP.client_id, json!({})).await);
    let user = srv
        .client
        .get(srv.url("/user"))
        .bearer_auth(&other)
        .send()
        .await
        .expect("GET /user");
    let reset: i64 = user.headers()["x-ratelimit-reset"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("number");
    assert!(reset > now + 7200 + 61, "{reset}");
}

#[tokio::test]
async fn refresh_tokens_expire_with_the_clock() {
    let srv = Controlled::start(&[]);
    let minted = srv.mint(BOB.login, EXPIRING_APP, json!({})).await;
    assert!(access_token(&minted).starts_with("ghu_"));
    let refresh = minted["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned();
    let refresh_with = |refresh: String| {
        srv.client
            .post(srv.url("/login/oauth/access_token"))
            .header("accept", "application/json")
            .form(&[
                ("client_id", EXPIRING_APP),
                ("client_secret", EXPIRING_SECRET),
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.as_str()),
            ])
            .send()
    };
    // Six months (GitHub's refresh-token lifetime) and a day later, refused.
    srv.advance(184 * 24 * 3600).await;
    let answer: Value = refresh_with(refresh.clone())
        .await
        .expect("refresh")
        .json()
        .await
        .expect("JSON");
    assert_eq!(answer["error"], "bad_refresh_token", "{answer}");

    // A fresh one works right away.
    let fresh = srv.mint(BOB.login, EXPIRING_APP, json!({})).await;
    let answer: Value = refresh_with(fresh["refresh_token"].as_str().expect("refresh").to_owned())
        .await
        .expect("refresh")
        .json()
        .await
        .expect("JSON");
    assert!(answer["access_token"].is_string(), "{answer}");
}

pub(crate) async fn request_device_codes(srv: &Controlled) -> Value {
    let res = srv
        .client
        .post(srv.url("/login/device/code"))
        .header("accept", "application/json")
        .form(&[("client_id", OAUTH_APP.client_id), ("scope", "repo")])
        .send()
        .await
        .expect("device code");
    assert_eq!(res.status(), 200);
    res.json().await.expect("JSON")
}

async fn poll(srv: &Controlled, codes: &Value) -> Value {
    srv.client
        .post(srv.url("/login/oauth/access_token"))
        .header("accept", "application/json")
        .form(&[
            ("client_id", OAUTH_APP.client_id),
            ("device_code", codes["device_code"].as_str().expect("code")),
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ])
        .send()
        .await
        .expect("poll")
        .json()
        .await
        .expect("JSON")
}

#[tokio::test]
async fn device_codes_are_approved_denied_and_expire_with_the_clock() {
    let srv = Controlled::start(&[]);
    let decide = |path: &'static str, user_code: String, login: &'static str| {
        srv.ctl(Method::POST, path)
            .json(&json!({ "user_code": user_code, "login": login }))
            .send()
    };

    let codes = request_device_codes(&srv).await;
    let user_code = codes["user_code"].as_str().expect("user code").to_owned();
    let approved = decide("/_grantd/device/approve", user_code.clone(), ALICE.login)
        .await
        .expect("approve");
    assert_eq!(approved.status(), 204);
    let token = poll(&srv, &codes).await;
    assert_eq!(srv.user_status(&access_token(&token)).await, 200);
    // Decided once: a second decision finds nothing pending.
    let again = decide("/_grantd/device/approve", user_code, ALICE.login)
        .await
        .expect("approve");
    assert_eq!(again.status(), 404);

    let codes = request_device_codes(&srv).await;
    let denied = decide(
        "/_grantd/device/deny",
        codes["user_code"].as_str().expect("code").to_owned(),
        ALICE.login,
    )
    .await
    .expect("deny");
    assert_eq!(denied.status(), 204);
    assert_eq!(poll(&srv, &codes).await["error"], "access_denied");

    let unknown_user = decide("/_grantd/device/approve", "ABCD-EFGH".to_owned(), "nobody")
        .await
        .expect("approve");
    assert_eq!(unknown_user.status(), 404);

    // Fifteen minutes later a code is expired: it cannot be approved, and polls say so.
    let codes = request_device_codes(&srv).await;
    srv.advance(901).await;
    let late = decide(
        "/_grantd/device/approve",
        codes["user_code"].as_str().expect("code").to_owned(),
        ALICE.login,
    )
    .await
    .expect("approve");
    assert_eq!(late.status(), 404);
    assert_eq!(poll(&srv, &codes).await["error"], "expired_token");
}

#[tokio::test]
async fn the_web_flow_is_authorized_without_a_browser() {
    let srv = Controlled::start(&[]);
    let res = srv
        .ctl(Method::POST, "/_grantd/oauth/authorize")
        .json(
            &json!({ "client_id": OAUTH_APP.client_id, "login": ALICE.login,
                       "scopes": ["repo", "user"], "state": "xyz" }),
        )
        .send()
        .await
        .expect("authorize");
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.expect("JSON");
    let code = body["code"].as_str().expect("code").to_owned();
    assert_eq!(
        body["redirect_url"],
        format!("{CALLBACK}?code={code}&state=xyz")
    );
    let exchanged: Value = srv
        .client
        .post(srv.url("/login/oauth/access_token"))
        .header("accept", "application/json")
        .form(&[
            ("client_id", OAUTH_APP.client_id),
            ("client_secret", OAUTH_APP.client_secret),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .expect("exchange")
        .json()
        .await
        .expect("JSON");
    assert_eq!(exchanged["scope"], "repo,user", "{exchanged}");
    assert_eq!(srv.user_status(&access_token(&exchanged)).await, 200);

    // Codes live ten minutes, by the controlled clock.
    let body: Value = srv
        .ctl(Method::POST, "/_grantd/oauth/authorize")
        .json(&json!({ "client_id": OAUTH_APP.client_id, "login": ALICE.login }))
        .send()
        .await
        .expect("authorize")
        .json()
        .await
        .expect("JSON");
    srv.advance(601).await;
    let expired: Value = srv
        .client
        .post(srv.url("/login/oauth/access_token"))
        .header("accept", "application/json")
        .form(&[
            ("client_id", OAUTH_APP.client_id),
            ("client_secret", OAUTH_APP.client_secret),
            ("code", body["code"].as_str().expect("code")),
        ])
        .send()
        .await
        .expect("exchange")
        .json()
        .await
        .expect("JSON");
    assert_eq!(expired["error"], "bad_verification_code");

    for (body, status) in [
        (
            json!({ "client_id": OAUTH_APP.client_id, "login": ALICE.login,
                 "redirect_uri": "https://evil.example/cb" }),
            422,
        ),
        (
            json!({ "client_id": OAUTH_APP.client_id, "login": ALICE.login,
                 "code_challenge": "short", "code_challenge_method": "S256" }),
            422,
        ),
        (
            json!({ "client_id": OAUTH_APP.client_id, "login": ALICE.login, "scopes": ["nope"] }),
            422,
        ),
        (json!({ "client_id": "unknown", "login": ALICE.login }), 404),
        (json!({ "client_id": OAUTH_APP.client_id }), 400),
    ] {
        let res = srv
            .ctl(Method::POST, "/_grantd/oauth/authorize")
            .json(&body)
            .send()
            .await
            .expect("authorize");
        assert_eq!(res.status(), status, "{body}");
    }
}

#[tokio::test]
async fn minting_refuses_what_it_cannot_make() {
    let srv = Controlled::start(&[]);
    for (body, status) in [
        (
            json!({ "login": "nobody", "client_id": OAUTH_APP.client_id }),
            404,
        ),
        (json!({ "login": ALICE.login, "client_id": "unknown" }), 404),
        (
            json!({ "login": ALICE.login, "client_id": OAUTH_APP.client_id, "scopes": ["nope"] }),
            422,
        ),
        (
            json!({ "login": ALICE.login, "client_id": OAUTH_APP.client_id, "expires_in": 0 }),
            422,
        ),
        (json!({ "login": ALICE.login }), 400),
    ] {
        let res = srv
            .ctl(Method::POST, "/_grantd/tokens")
            .json(&body)
            .send()
            .await
            .expect("mint");
        assert_eq!(res.status(), status, "{body}");
    }
}

#[tokio::test]
async fn the_lockout_window_follows_the_clock_and_reset_ends_it() {
    let srv = Controlled::start(&["--login-attempts", "2"]);
    let sign_in = |password: &'static str| {
        srv.client
            .get(srv.url("/authorizations"))
            .basic_auth(ALICE.login, Some(password))
            .send()
    };
    for _ in 0..2 {
        assert_eq!(sign_in("wrong").await.expect("sign in").status(), 401);
    }
    assert_eq!(
        sign_in(ALICE.password).await.expect("sign in").status(),
        403
    );
    // The window (five minutes) passes on the controlled clock.
    srv.advance(301).await;
    assert_eq!(
        sign_in(ALICE.password).await.expect("sign in").status(),
        200
    );

    for _ in 0..2 {
        assert_eq!(sign_in("wrong").await.expect("sign in").status(), 401);
    }
    assert_eq!(
        sign_in(ALICE.password).await.expect("sign in").status(),
        403
    );
    let reset = srv
        .ctl(Method::POST, "/_grantd/reset")
        .send()
        .await
        .expect("reset");
    assert_eq!(reset.status(), 204);
    assert_eq!(
        sign_in(ALICE.password).await.expect("sign in").status(),
        200
    );
}

#[tokio::test]
async fn reset_forgets_what_came_after_the_seed_and_restores_the_clock() {
    let srv = Controlled::start(&[]);
    let minted = srv.mint(ALICE.login, OAUTH_APP.client_id, json!({})).await;
    let token = access_token(&minted);
    // Checked once, so the token index holds it.
    assert_eq!(srv.user_status(&token).await, 200);
    srv.advance(3600).await;

    let mut timings = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let reset = srv
            .ctl(Method::POST, "/_grantd/reset")
            .send()
            .await
            .expect("reset");
        timings.push(started.elapsed());
        assert_eq!(reset.status(), 204);
    }
    eprintln!("POST /_grantd/reset took {timings:?}");
    assert_eq!(srv.user_status(&token).await, 401);
    assert_eq!(srv.check_status(&token).await, 404);
    let clock: Value = srv
        .ctl(Method::GET, "/_grantd/clock")
        .send()
        .await
        .expect("clock")
        .json()
        .await
        .expect("JSON");
    assert_eq!(clock["offset_seconds"], 0);
    // Ids start again where the seed left them.
    let again = srv.mint(ALICE.login, OAUTH_APP.client_id, json!({})).await;
    assert_eq!(again["id"], minted["id"]);
    assert_eq!(srv.user_status(&access_token(&again)).await, 200);
}

#[tokio::test]
async fn a_snapshot_brings_back_a_revoked_token() {
    let srv = Controlled::start(&[]);
    let token = access_token(&srv.mint(ALICE.login, OAUTH_APP.client_id, json!({})).await);
    let saved = srv
        .ctl(Method::POST, "/_grantd/snapshots/with-token")
        .send()
        .await
        .expect("save");
    assert_eq!(saved.status(), 201);
    assert_eq!(
        saved.json::<Value>().await.expect("JSON"),
        json!({ "name": "with-token" })
    );

    let revoked = srv
        .client
        .delete(srv.url(&format!("/applications/{}/token", OAUTH_APP.client_id)))
        .basic_auth(OAUTH_APP.client_id, Some(OAUTH_APP.client_secret))
        .json(&json!({ "access_token": token }))
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), 204);
    assert_eq!(srv.user_status(&token).await, 401);
    // A token made after the snapshot, which the restore must forget.
    let later = access_token(&srv.mint(BOB.login, OAUTH_APP.client_id, json!({})).await);
    assert_eq!(srv.check_status(&later).await, 200);

    let started = Instant::now();
    let restored = srv
        .ctl(Method::POST, "/_grantd/snapshots/with-token/restore")
        .send()
        .await
        .expect("restore");
    eprintln!("snapshot restore took {:?}", started.elapsed());
    assert_eq!(restored.status(), 204);
    assert_eq!(srv.user_status(&token).await, 200);
    assert_eq!(srv.check_status(&token).await, 200);
    assert_eq!(srv.check_status(&later).await, 404);

    let unknown = srv
        .ctl(Method::POST, "/_grantd/snapshots/never-saved/restore")
        .send()
        .await
        .expect("restore");
    assert_eq!(unknown.status(), 404);
    for name in ["_seed", "a.b", "-x"] {
        let bad = srv
            .ctl(Method::POST, &format!("/_grantd/snapshots/{name}"))
            .send()
            .await
            .expect("save");
        assert_eq!(bad.status(), 422, "{name}");
    }

    // Snapshots are copies on disk: their number is bounded, saving over a name is not.
    let save = |name: String| {
        let request = srv.ctl(Method::POST, &format!("/_grantd/snapshots/{name}"));
        async move { request.send().await.expect("save").status() }
    };
    for n in 1..64 {
        assert_eq!(save(format!("s{n}")).await, 201, "snapshot {n}");
    }
    let over = srv
        .ctl(Method::POST, "/_grantd/snapshots/one-too-many")
        .send()
        .await
        .expect("save");
    assert_eq!(over.status(), 422);
    assert!(
        over.text()
            .await
            .expect("body")
            .contains("at most 64 snapshots")
    );
    assert_eq!(
        save("with-token".to_owned()).await,
        201,
        "over an existing name"
    );
}

#[tokio::test]
async fn the_journal_lists_requests_without_secrets_and_is_cleared() {
    let srv = Controlled::start(&[]);
    let token = access_token(&srv.mint(ALICE.login, OAUTH_APP.client_id, json!({})).await);
    assert_eq!(srv.check_status(&token).await, 200);
    // The legacy form carries the token in its path: only the route template is kept.
    let legacy = srv
        .client
        .get(srv.url(&format!(
            "/applications/{}/tokens/{token}",
            OAUTH_APP.client_id
        )))
        .basic_auth(OAUTH_APP.client_id, Some(OAUTH_APP.client_secret))
        .send()
        .await
        .expect("legacy check");
    assert_eq!(legacy.status(), 200);
    assert_eq!(srv.user_status(&token).await, 200);
    assert_eq!(srv.user_status("gho_unknown").await, 401);

    let res = srv
        .ctl(Method::GET, "/_grantd/requests?limit=3")
        .send()
        .await
        .expect("journal");
    assert_eq!(res.status(), 200);
    let text = res.text().await.expect("text");
    assert!(!text.contains(&token), "a token in the journal: {text}");
    assert!(!text.contains(OAUTH_APP.client_secret));
    let journal: Value = serde_json::from_str(&text).expect("JSON");
    let entries = journal["requests"].as_array().expect("requests");
    assert_eq!(entries.len(), 3, "{journal}");
    let shape = |e: &Value| {
        json!([
            e["method"],
            e["route"],
            e["status"],
            e["client_id"],
            e["user"]
        ])
    };
    assert_eq!(
        shape(&entries[0]),
        json!([
            "GET",
            "/applications/{client_id}/tokens/{access_token}",
            200,
            OAUTH_APP.client_id,
            Value::Null
        ])
    );
    assert_eq!(
        shape(&entries[1]),
        json!(["GET", "/user", 200, Value::Null, ALICE.login])
    );
    assert_eq!(
        shape(&entries[2]),
        json!(["GET", "/user", 401, Value::Null, Value::Null])
    );
    for entry in entries {
        assert_eq!(
            entry["request_id"].as_str().map(str::len),
            Some(30),
            "{entry}"
        );
        assert!(entry["at"].is_string());
    }

    let cleared = srv
        .ctl(Method::DELETE, "/_grantd/requests")
        .send()
        .await
        .expect("clear");
    assert_eq!(cleared.status(), 204);
    let journal: Value = srv
        .ctl(Method::GET, "/_grantd/requests")
        .send()
        .await
        .expect("journal")
        .json()
        .await
        .expect("JSON");
    assert_eq!(journal, json!({ "requests": [] }));
}

#[tokio::test]
async fn the_controls_are_described_under_their_own_tag() {
    let srv = Controlled::start(&[]);
    let doc: Value = srv
        .client
        .get(srv.url("/openapi.json"))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("JSON");
    for (path, method) in [
        ("/_grantd/clock", "get"),
        ("/_grantd/clock", "put"),
        ("/_grantd/clock/advance", "post"),
        ("/_grantd/reset", "post"),
        ("/_grantd/snapshots/{name}", "post"),
        ("/_grantd/snapshots/{name}/restore", "post"),
        ("/_grantd/requests", "get"),
        ("/_grantd/requests", "delete"),
        ("/_grantd/tokens", "post"),
        ("/_grantd/device/approve", "post"),
        ("/_grantd/device/deny", "post"),
        ("/_grantd/oauth/authorize", "post"),
    ] {
        let operation = &doc["paths"][path][method];
        assert_eq!(
            operation["tags"],
            json!(["grantd-test-controls"]),
            "{path} {method}"
        );
        assert_eq!(
            operation["security"],
            json!([{ "controlToken": [] }]),
            "{path} {method}"
        );
    }
}

#[tokio::test]
async fn sign_in_sessions_expire_with_the_clock() {
    let srv = Controlled::start(&["--session-ttl", "1h"]);
    let browser = crate::signin::browser();
    let page = browser
        .get(srv.url("/login"))
        .send()
        .await
        .expect("login page");
    let token = crate::signin::token_of(&page.text().await.expect("body"));
    let signed = browser
        .post(srv.url("/session"))
        .form(&[
            ("login", ALICE.login),
            ("password", ALICE.password),
            ("authenticity_token", token.as_str()),
            ("return_to", ""),
        ])
        .send()
        .await
        .expect("sign in");
    assert_eq!(signed.status(), 303);
    let signed_in = |html: &str| html.contains("Signed in as <strong>alice<");
    let page = browser
        .get(srv.url("/login"))
        .send()
        .await
        .expect("login page");
    assert!(signed_in(&page.text().await.expect("body")));

    srv.advance(3601).await;
    let page = browser
        .get(srv.url("/login"))
        .send()
        .await
        .expect("login page");
    assert!(!signed_in(&page.text().await.expect("body")));
}

#[tokio::test]
async fn totp_codes_are_checked_against_the_controlled_clock() {
    let srv = Controlled::start(&[]);
    let list = |otp: String| {
        srv.client
            .get(srv.url("/authorizations"))
            .basic_auth(ALICE2FA.login, Some(ALICE2FA.password))
            .header("x-github-otp", otp)
            .send()
    };
    assert_eq!(list(current_otp()).await.expect("list").status(), 200);
    // An hour on, the code of the real time is stale; the code of the moved time is right.
    srv.advance(3600).await;
    assert_eq!(list(current_otp()).await.expect("list").status(), 401);
    let moved = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        + 3600;
    assert_eq!(list(otp_at(moved)).await.expect("list").status(), 200);
}

mod postgres_only {
    use super::*;
    use crate::support::{Engine, fresh_database_url, require_engine};

    /// On PostgreSQL the clock, minting and the journal work; reset and snapshots answer 501
    /// (they copy a SQLite file).
    #[tokio::test]
    async fn reset_and_snapshots_are_refused_clearly_on_postgresql() {
        require_engine(Engine::Postgres);
        let dir = tempfile::tempdir().expect("temp dir");
        let db = fresh_database_url(&dir.path().join("unused.db")).await;
        let seed = write_file(dir.path(), "seed.toml", &fixture());
        let server = ServerProcess::start(
            &db,
            &[
                "--test-controls",
                "--control-token",
                TOKEN,
                "--seed",
                seed.to_str().expect("utf-8"),
            ],
            &dir.path().join("stderr.log"),
        );
        let client = Client::new();
        for path in ["/_grantd/reset", "/_grantd/snapshots/one"] {
            let res = client
                .post(server.url(path))
                .bearer_auth(TOKEN)
                .send()
                .await
                .expect("request");
            assert_eq!(res.status(), 501, "{path}");
            let body: Value = res.json().await.expect("JSON");
            assert!(
                body["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("need a SQLite database")),
                "{body}"
            );
        }
        let minted = client
            .post(server.url("/_grantd/tokens"))
            .bearer_auth(TOKEN)
            .json(&json!({ "login": ALICE.login, "client_id": OAUTH_APP.client_id }))
            .send()
            .await
            .expect("mint");
        assert_eq!(minted.status(), 201);
        let clock = client
            .post(server.url("/_grantd/clock/advance"))
            .bearer_auth(TOKEN)
            .json(&json!({ "seconds": 60 }))
            .send()
            .await
            .expect("advance");
        assert_eq!(clock.status(), 200);
    }
}
