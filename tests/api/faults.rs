//! The test controls' faults (`/_grantd/faults`) and `--rng-seed`, through the built binary:
//! each fault as GitHub's own clients see it (octokit's RequestError, PyGithub's exceptions),
//! `drop` and `latency` over raw HTTP, counts that expire, deleting and clearing, reset, the
//! 422s and 401s of the control routes; and two seeded servers handing out the same tokens
//! and codes for the same requests.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use reqwest::{Client, Method};
use serde_json::{Value, json};

use crate::octokit::run_script;
use crate::support::{ALICE, BOB, OAUTH_APP, ServerProcess, grantd};
use crate::test_controls::{Controlled, TOKEN, access_token, request_device_codes};

/// Adds a fault; asserts the 201 and returns the fault as stored.
async fn add(srv: &Controlled, fault: Value) -> Value {
    let res = srv
        .ctl(Method::POST, "/_grantd/faults")
        .json(&fault)
        .send()
        .await
        .expect("add fault");
    let status = res.status();
    let body: Value = res.json().await.expect("JSON");
    assert_eq!(status, 201, "{fault} -> {body}");
    body
}

async fn faults(srv: &Controlled) -> Value {
    let res = srv
        .ctl(Method::GET, "/_grantd/faults")
        .send()
        .await
        .expect("list faults");
    assert_eq!(res.status(), 200);
    res.json().await.expect("JSON")
}

async fn clock_epoch(srv: &Controlled) -> i64 {
    let clock: Value = srv
        .ctl(Method::GET, "/_grantd/clock")
        .send()
        .await
        .expect("clock")
        .json()
        .await
        .expect("JSON");
    clock["epoch"].as_i64().expect("epoch")
}

async fn journal(srv: &Controlled) -> Vec<Value> {
    let body: Value = srv
        .ctl(Method::GET, "/_grantd/requests")
        .send()
        .await
        .expect("journal")
        .json()
        .await
        .expect("JSON");
    body["requests"].as_array().expect("requests").clone()
}

fn basic(login: &str, password: &str) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{login}:{password}"));
    format!("Basic {encoded}")
}

fn last_json_line(stdout: &[u8]) -> Value {
    let text = String::from_utf8_lossy(stdout);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {text}"))
}

// The server runs on this test's runtime: node must be waited for on another thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn octokit_reports_each_fault_as_githubs_error() {
    let srv = Controlled::start(&[]);
    let token = access_token(&srv.mint(ALICE.login, OAUTH_APP.client_id, json!({})).await);
    // Oldest first: each answers one request, then the next one's turn comes.
    let kinds = [
        json!({ "fault": "status", "status": 500 }),
        json!({ "fault": "status", "status": 502 }),
        json!({ "fault": "status", "status": 503 }),
        json!({ "fault": "status", "status": 410 }),
        json!({ "fault": "rate_limit" }),
        json!({ "fault": "rate_limit", "status": 429 }),
        json!({ "fault": "secondary_rate_limit" }),
    ];
    let mut ids = Vec::new();
    for mut fault in kinds {
        fault["match"] = json!("GET /user");
        fault["count"] = json!(1);
        ids.push(
            add(&srv, fault).await["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let before = clock_epoch(&srv).await;
    let out = run_script(
        "faults.mjs",
        vec![srv.url("/api/v3"), format!("token {token}"), "8".to_owned()],
    )
    .await;
    assert!(
        out.status.success(),
        "node faults.mjs failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let results = last_json_line(&out.stdout);
    let results = results.as_array().expect("array");
    assert_eq!(results.len(), 8, "{results:?}");

    // GitHub's front end's bodies: no documentation_url, so octokit's message is the body's.
    for (result, status) in results[..2].iter().zip([500, 502]) {
        assert_eq!(result["status"], status, "{result}");
        assert_eq!(result["message"], "Server Error");
        assert_eq!(result["data"], json!({ "message": "Server Error" }));
    }
    let unavailable = "No server is currently available to service your request. Sorry about \
                       that. Please try resubmitting your request and contact us if the problem \
                       persists.";
    assert_eq!(results[2]["status"], 503);
    assert_eq!(results[2]["data"], json!({ "message": unavailable }));
    assert_eq!(results[2]["message"], unavailable);

    let gone = &results[3];
    assert_eq!(gone["status"], 410, "{gone}");
    assert!(
        gone["data"]["message"]
            .as_str()
            .expect("message")
            .contains("brownout"),
        "{gone}"
    );

    for (result, status) in results[4..6].iter().zip([403, 429]) {
        assert_eq!(result["status"], status, "{result}");
        let message = result["data"]["message"].as_str().expect("message");
        assert_eq!(message, "API rate limit exceeded for 127.0.0.1.");
        assert_eq!(
            result["message"],
            format!(
                "{message} - {}",
                result["data"]["documentation_url"].as_str().expect("url")
            )
        );
        let headers = &result["headers"];
        assert_eq!(headers["x-ratelimit-remaining"], "0", "{result}");
        assert_eq!(headers["x-ratelimit-limit"], "5000");
        assert_eq!(headers["x-ratelimit-resource"], "core");
        assert_eq!(headers["retry-after"], "3600");
        // An hour from the controlled clock's now.
        let reset: i64 = headers["x-ratelimit-reset"]
            .as_str()
            .expect("reset")
            .parse()
            .expect("number");
        assert!(
            (before + 3600..=before + 3600 + 60).contains(&reset),
            "{reset} vs {before}"
        );
    }

    let secondary = &results[6];
    assert_eq!(secondary["status"], 403, "{secondary}");
    let request_id = secondary["headers"]["x-github-request-id"]
        .as_str()
        .expect("request id");
    assert_eq!(
        secondary["data"]["message"],
        format!(
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try \
             again. If you reach out to GitHub Support for help, please include the request ID \
             {request_id}."
        )
    );
    assert_eq!(secondary["headers"]["retry-after"], "60");
    assert!(
        secondary["message"]
            .as_str()
            .expect("message")
            .contains("secondary rate limit")
    );

    // Every fault's count is spent: the last call went through, and none is left.
    assert_eq!(results[7], json!({ "login": ALICE.login }));
    assert_eq!(faults(&srv).await, json!([]));

    // The journal names the fault that answered each request, and the route.
    let entries = journal(&srv).await;
    let user_entries: Vec<&Value> = entries
        .iter()
        .filter(|e| e["route"] == "/api/v3/user")
        .collect();
    assert_eq!(user_entries.len(), 8, "{entries:?}");
    for (entry, id) in user_entries.iter().zip(&ids) {
        assert_eq!(entry["fault"], json!(id), "{entry}");
    }
    let statuses: Vec<&Value> = user_entries.iter().map(|e| &e["status"]).collect();
    assert_eq!(statuses, [500, 502, 503, 410, 403, 429, 403, 200]);
    assert_eq!(user_entries[7]["fault"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pygithub_raises_its_exceptions_for_faults() {
    let srv = Controlled::start(&[]);
    let token = access_token(&srv.mint(ALICE.login, OAUTH_APP.client_id, json!({})).await);
    for fault in [
        json!({ "match": "user", "fault": "rate_limit", "count": 1 }),
        json!({ "match": "user", "fault": "secondary_rate_limit", "count": 1 }),
        json!({ "match": "api", "fault": "status", "status": 502, "count": 1 }),
        json!({ "match": "all", "fault": "otp_required", "user": "alice" }),
    ] {
        add(&srv, fault).await;
    }
    let stdout = crate::python_clients::run(
        "pygithub_faults.py",
        vec![
            srv.url("/api/v3"),
            token,
            "4".to_owned(),
            ALICE.login.to_owned(),
            ALICE.password.to_owned(),
        ],
    )
    .await;
    let results: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(
        results[0]["exception"], "RateLimitExceededException",
        "{results}"
    );
    assert_eq!(results[0]["status"], 403);
    assert_eq!(results[0]["headers"]["x-ratelimit-remaining"], "0");
    assert_eq!(
        results[1]["exception"], "RateLimitExceededException",
        "{results}"
    );
    assert_eq!(results[1]["headers"]["retry-after"], "60");
    assert_eq!(results[2]["exception"], "GithubException", "{results}");
    assert_eq!(results[2]["status"], 502);
    assert_eq!(results[2]["data"], json!({ "message": "Server Error" }));
    // A token is no sign-in: the OTP fault leaves it alone.
    assert_eq!(results[3], json!({ "login": ALICE.login }));
    // The password is: PyGithub sees GitHub's answer to a 2FA account.
    assert_eq!(results[4]["exception"], "TwoFactorException", "{results}");
    assert_eq!(results[4]["status"], 401);
    assert_eq!(results[4]["headers"]["x-github-otp"], "required; app");
    assert_eq!(
        results[4]["data"]["message"],
        "Must specify two-factor authentication OTP code."
    );
}

#[tokio::test]
async fn otp_required_asks_only_that_users_password_sign_ins_for_a_code() {
    let srv = Controlled::start(&[]);
    let fault = add(
        &srv,
        json!({ "match": "authorizations", "fault": "otp_required", "user": ALICE.login }),
    )
    .await;
    let id = fault["id"].as_str().expect("id").to_owned();
    assert_eq!(
        fault,
        json!({ "id": id, "match": "authorizations", "fault": "otp_required", "count": null,
                "remaining": null, "user": ALICE.login })
    );
    let list = |authorization: String, otp: Option<&'static str>| {
        let mut request = srv
            .client
            .get(srv.url("/authorizations"))
            .header("authorization", authorization);
        if let Some(otp) = otp {
            request = request.header("x-github-otp", otp);
        }
        request.send()
    };
    let asked = list(basic(ALICE.login, ALICE.password), None)
        .await
        .expect("GET /authorizations");
    assert_eq!(asked.status(), 401);
    assert_eq!(asked.headers()["x-github-otp"], "required; app");
    let body: Value = asked.json().await.expect("JSON");
    assert_eq!(
        body["message"],
        "Must specify two-factor authentication OTP code."
    );
    // A wrong password is told so, as for any account.
    let wrong = list(basic(ALICE.login, "not her password"), None)
        .await
        .expect("GET /authorizations");
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("x-github-otp").is_none());
    assert_eq!(
        wrong.json::<Value>().await.expect("JSON")["message"],
        "Bad credentials"
    );
    // With a code (any: the user has no real secret), or as another user, it goes through.
    let with_code = list(basic(ALICE.login, ALICE.password), Some("123456"))
        .await
        .expect("GET /authorizations");
    assert_eq!(with_code.status(), 200);
    let bob = list(basic(BOB.login, BOB.password), None)
        .await
        .expect("GET /authorizations");
    assert_eq!(bob.status(), 200);
    // Until cleared: still there, and then gone.
    assert_eq!(faults(&srv).await.as_array().expect("list").len(), 1);
    let deleted = srv
        .ctl(Method::DELETE, &format!("/_grantd/faults/{id}"))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), 204);
    let again = list(basic(ALICE.login, ALICE.password), None)
        .await
        .expect("GET /authorizations");
    assert_eq!(again.status(), 200);
}

/// Sends `GET /user` on a fresh connection and reads until the server closes it.
fn raw_get_user(addr: std::net::SocketAddr, token: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        stream,
        "GET /user HTTP/1.1\r\nHost: {addr}\r\nAuthorization: token {token}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut answer = Vec::new();
    // A reset is as unanswered as an orderly close.
    let _ = stream.read_to_end(&mut answer);
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_closes_the_connection_without_an_answer_then_expires() {
    let srv = Controlled::start(&[]);
    let token = access_token(&srv.mint(ALICE.login, OAUTH_APP.client_id, json!({})).await);
    let fault = add(
        &srv,
        json!({ "match": "GET /user", "fault": "drop", "count": 1 }),
    )
    .await;
    assert_eq!(fault["count"], 1);
    assert_eq!(fault["remaining"], 1);
    let addr = srv.server.addr;
    let token_for_thread = token.clone();
    let dropped = tokio::task::spawn_blocking(move || raw_get_user(addr, &token_for_thread))
        .await
        .expect("thread");
    assert!(dropped.is_empty(), "{}", String::from_utf8_lossy(&dropped));
    // reqwest sees a connection closed before any answer.
    add(
        &srv,
        json!({ "match": "user", "fault": "drop", "count": 1 }),
    )
    .await;
    let error = srv
        .client
        .get(srv.url("/user"))
        .bearer_auth(&token)
        .send()
        .await
        .expect_err("no answer");
    assert!(error.is_request() || error.is_connect(), "{error:?}");
    // Both counts spent: answered as usual.
    let answered = tokio::task::spawn_blocking(move || raw_get_user(addr, &token))
        .await
        .expect("thread");
    assert!(
        answered.starts_with(b"HTTP/1.1 200 OK"),
        "{}",
        String::from_utf8_lossy(&answered)
    );
    let entries = journal(&srv).await;
    let statuses: Vec<(&Value, &Value)> = entries
        .iter()
        .filter(|e| e["route"] == "/user")
        .map(|e| (&e["status"], &e["fault"]))
        .collect();
    assert_eq!(
        statuses,
        [
            (&json!(0), &json!(fault["id"])),
            (&json!(0), &json!("2")),
            (&json!(200), &Value::Null)
        ]
    );
}

#[tokio::test]
async fn latency_delays_the_answer_and_then_serves_it() {
    let srv = Controlled::start(&[]);
    let token = access_token(&srv.mint(ALICE.login, OAUTH_APP.client_id, json!({})).await);
    let fault = add(
        &srv,
        json!({ "match": "api", "fault": "latency", "latency_ms": 400, "count": 1 }),
    )
    .await;
    assert_eq!(fault["latency_ms"], 400);
    let started = Instant::now();
    let res = srv
        .client
        .get(srv.url("/api/v3/user"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET /user");
    // Only a lower bound: a slow machine may take longer, never less.
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.expect("JSON")["login"],
        ALICE.login
    );
    assert_eq!(faults(&srv).await, json!([]));
    let entry = journal(&srv).await.pop().expect("an entry");
    assert_eq!(entry["status"], 200);
    assert_eq!(entry["fault"], fault["id"]);
    assert_eq!(entry["user"], ALICE.login);
}

#[tokio::test]
async fn faults_are_listed_deleted_cleared_and_reset() {
    let srv = Controlled::start(&[]);
    let first = add(
        &srv,
        json!({ "match": "POST /applications/{client_id}/token", "fault": "status", "status": 503, "count": 2 }),
    )
    .await;
    assert_eq!(
        first,
        json!({ "id": first["id"], "match": "POST /applications/{client_id}/token",
                "fault": "status", "status": 503, "count": 2, "remaining": 2 })
    );
    let second = add(
        &srv,
        json!({ "match": "token", "fault": "secondary_rate_limit" }),
    )
    .await;
    assert_eq!(second["status"], 403);
    assert_eq!(second["count"], Value::Null);
    assert_eq!(faults(&srv).await, json!([first, second]));

    // The check of an app's token is faulted; the token endpoint is too; /healthz never.
    let check = srv
        .client
        .post(srv.url(&format!("/applications/{}/token", OAUTH_APP.client_id)))
        .basic_auth(OAUTH_APP.client_id, Some(OAUTH_APP.client_secret))
        .json(&json!({ "access_token": "gho_nothing" }))
        .send()
        .await
        .expect("check");
    assert_eq!(check.status(), 503);
    let listed = faults(&srv).await;
    assert_eq!(listed[0]["remaining"], 1);
    let exchange = srv
        .client
        .post(srv.url("/login/oauth/access_token"))
        .header("accept", "application/json")
        .form(&[("client_id", OAUTH_APP.client_id), ("code", "nope")])
        .send()
        .await
        .expect("token endpoint");
    assert_eq!(exchange.status(), 403);
    assert_eq!(exchange.headers()["retry-after"], "60");
    let health = srv
        .client
        .get(srv.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);

    let id = first["id"].as_str().expect("id");
    let deleted = srv
        .ctl(Method::DELETE, &format!("/_grantd/faults/{id}"))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), 204);
    let again = srv
        .ctl(Method::DELETE, &format!("/_grantd/faults/{id}"))
        .send()
        .await
        .expect("delete");
    assert_eq!(again.status(), 404);
    assert_eq!(faults(&srv).await, json!([second]));
    let cleared = srv
        .ctl(Method::DELETE, "/_grantd/faults")
        .send()
        .await
        .expect("clear");
    assert_eq!(cleared.status(), 204);
    assert_eq!(faults(&srv).await, json!([]));

    add(
        &srv,
        json!({ "match": "all", "fault": "status", "status": 500 }),
    )
    .await;
    let reset = srv
        .ctl(Method::POST, "/_grantd/reset")
        .send()
        .await
        .expect("reset");
    assert_eq!(reset.status(), 204);
    assert_eq!(faults(&srv).await, json!([]));
    let served = srv
        .client
        .get(srv.url("/users/alice"))
        .send()
        .await
        .expect("user");
    assert_eq!(served.status(), 200);
}

#[tokio::test]
async fn bad_faults_are_refused_with_githubs_errors() {
    let srv = Controlled::start(&[]);
    for (body, field) in [
        (json!({ "match": "everything", "fault": "drop" }), "match"),
        (json!({ "match": "GET /nowhere", "fault": "drop" }), "match"),
        (json!({ "match": "PUT /user", "fault": "drop" }), "match"),
        (
            json!({ "match": "GET /_grantd/clock", "fault": "drop" }),
            "match",
        ),
        (json!({ "match": "all", "fault": "explode" }), "fault"),
        (
            json!({ "match": "all", "fault": "status", "status": 404 }),
            "status",
        ),
        (json!({ "match": "all", "fault": "status" }), "status"),
        (
            json!({ "match": "all", "fault": "rate_limit", "status": 500 }),
            "status",
        ),
        (
            json!({ "match": "all", "fault": "latency", "latency_ms": 0 }),
            "latency_ms",
        ),
        (
            json!({ "match": "all", "fault": "latency", "latency_ms": 60_001 }),
            "latency_ms",
        ),
        (
            json!({ "match": "all", "fault": "drop", "latency_ms": 5 }),
            "latency_ms",
        ),
        (
            json!({ "match": "all", "fault": "drop", "count": 0 }),
            "count",
        ),
        (json!({ "match": "all", "fault": "otp_required" }), "user"),
        (
            json!({ "match": "all", "fault": "otp_required", "user": "nobody-here" }),
            "user",
        ),
    ] {
        let res = srv
            .ctl(Method::POST, "/_grantd/faults")
            .json(&body)
            .send()
            .await
            .expect("add");
        assert_eq!(res.status(), 422, "{body}");
        let error: Value = res.json().await.expect("JSON");
        assert_eq!(error["message"], "Validation Failed", "{body}");
        assert_eq!(error["errors"][0]["resource"], "Fault");
        assert_eq!(error["errors"][0]["field"], field, "{body} -> {error}");
        assert_eq!(error["errors"][0]["code"], "custom");
    }
    for body in [
        "{",
        r#"{"match":"all"}"#,
        r#"{"match":"all","fault":"drop","extra":1}"#,
    ] {
        let res = srv
            .ctl(Method::POST, "/_grantd/faults")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("add");
        assert_eq!(res.status(), 400, "{body}");
    }
    for _ in 0..64 {
        add(&srv, json!({ "match": "graphql", "fault": "drop" })).await;
    }
    let full = srv
        .ctl(Method::POST, "/_grantd/faults")
        .json(&json!({ "match": "graphql", "fault": "drop" }))
        .send()
        .await
        .expect("add");
    assert_eq!(full.status(), 422);
    // The control token guards every fault route.
    let client = Client::new();
    for (method, path) in [
        (Method::GET, "/_grantd/faults"),
        (Method::POST, "/_grantd/faults"),
        (Method::DELETE, "/_grantd/faults"),
        (Method::DELETE, "/_grantd/faults/1"),
    ] {
        let res = client
            .request(method.clone(), srv.url(path))
            .bearer_auth("wrong-control-token-0000")
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 401, "{method} {path}");
        let body: Value = res.json().await.expect("JSON");
        assert_eq!(body["message"], "Bad credentials");
    }
    // Described in /openapi.json, under the controls' tag.
    let doc: Value = client
        .get(srv.url("/openapi.json"))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("JSON");
    for (path, method) in [
        ("/_grantd/faults", "post"),
        ("/_grantd/faults", "get"),
        ("/_grantd/faults", "delete"),
        ("/_grantd/faults/{id}", "delete"),
    ] {
        assert_eq!(
            doc["paths"][path][method]["tags"],
            json!(["grantd-test-controls"]),
            "{method} {path}"
        );
    }
    assert!(!TOKEN.is_empty());
}

/// What one seeded server hands out for the same three requests: a minted token, a web-flow
/// code and a pair of device codes.
async fn seeded_values(seed: &str) -> Vec<String> {
    let srv = Controlled::start(&["--rng-seed", seed]);
    let minted = srv.mint(ALICE.login, OAUTH_APP.client_id, json!({})).await;
    let authorized: Value = srv
        .ctl(Method::POST, "/_grantd/oauth/authorize")
        .json(&json!({ "client_id": OAUTH_APP.client_id, "login": ALICE.login }))
        .send()
        .await
        .expect("authorize")
        .json()
        .await
        .expect("JSON");
    let codes = request_device_codes(&srv).await;
    vec![
        access_token(&minted),
        authorized["code"].as_str().expect("code").to_owned(),
        codes["device_code"]
            .as_str()
            .expect("device code")
            .to_owned(),
        codes["user_code"].as_str().expect("user code").to_owned(),
    ]
}

#[tokio::test]
async fn the_same_seed_hands_out_the_same_tokens_and_codes() {
    let first = seeded_values("7").await;
    let second = seeded_values("7").await;
    assert_eq!(first, second);
    let other = seeded_values("8").await;
    for (a, b) in first.iter().zip(&other) {
        assert_ne!(a, b);
    }
}

#[test]
fn rng_seed_is_refused_without_test_controls_or_ephemeral() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("grantd.db").display());
    let out = grantd(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            &db,
            "--rng-seed",
            "7",
        ],
        None,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--rng-seed")
            && stderr.contains("only allowed with --test-controls or --ephemeral"),
        "{stderr}"
    );
    // Allowed with --ephemeral alone.
    let server = ServerProcess::start(
        &db,
        &["--ephemeral", "--rng-seed", "7"],
        &dir.path().join("stderr.log"),
    );
    drop(server);
}
