//! `grantd::testing::TestServer`, the in-process server of a Rust project's tests: it serves
//! what `serve --ephemeral --test-controls` serves, two of them share nothing, dropping one
//! stops it, and its control methods do what the `/_grantd/` routes do (faults included).

use std::time::Duration;

use grantd::testing::{Error, Fault, TestServer};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

/// The seed's OAuth app (examples/seed.toml, loaded without `--seed`).
const OAUTH_APP: (&str, &str) = (
    "abcde12345fghij67890",
    "3ef4ad510c59ad37bac6bb4f80047fb3aee3cc7f",
);

async fn user_status(server: &TestServer, token: &str) -> StatusCode {
    Client::new()
        .get(format!("{}/user", server.api_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

async fn mint(server: &TestServer) -> String {
    server
        .mint("octocat", OAUTH_APP.0, &["repo"])
        .await
        .unwrap()
        .access_token
}

fn refused<T>(result: Result<T, Error>) -> (u16, String) {
    match result {
        Err(Error::Refused { status, message }) => (status, message),
        Err(other) => panic!("not refused but {other:?}"),
        Ok(_) => panic!("not refused"),
    }
}

#[tokio::test]
async fn it_serves_the_example_seed_with_its_controls_over_http_too() {
    let server = TestServer::start().await.unwrap();
    assert!(server.url().starts_with("http://127.0.0.1:"));
    assert_eq!(server.url(), format!("http://{}", server.address()));
    let client = Client::new();
    let health = client
        .get(format!("{}/healthz", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    // The seed's user signs in with its password (the Authorizations API takes Basic with a
    // password): the throwaway hash verifies the right one only.
    let sign_in = |password: &'static str| {
        client
            .get(format!("{}/authorizations", server.api_url()))
            .basic_auth("octocat", Some(password))
            .send()
    };
    let authorizations = sign_in("correct horse battery staple").await.unwrap();
    assert_eq!(authorizations.status(), 200);
    assert_eq!(authorizations.json::<Value>().await.unwrap(), json!([]));
    let wrong = sign_in("correct horse battery stapler").await.unwrap();
    assert_eq!(wrong.status(), 401);

    // The routes take the control token the server gives, and no other.
    let clock = |token: &str| {
        client
            .get(format!("{}/_grantd/clock", server.url()))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(clock(server.control_token()).await.unwrap().status(), 200);
    assert_eq!(
        clock("gdc_not-the-control-token").await.unwrap().status(),
        401
    );
}

#[tokio::test]
async fn two_servers_at_once_share_nothing() {
    let (a, b) = tokio::join!(TestServer::start(), TestServer::start());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.url(), b.url());
    assert_ne!(a.control_token(), b.control_token());

    let token = mint(&a).await;
    assert_eq!(user_status(&a, &token).await, 200);
    assert_eq!(user_status(&b, &token).await, 401);

    a.clock().advance(Duration::from_hours(1)).unwrap();
    let gap = a.clock().now() - b.clock().now();
    assert!((3599..=3601).contains(&gap.whole_seconds()), "{gap}");

    assert_eq!(a.requests().len(), 1);
    assert_eq!(b.requests().len(), 1);
    let refused = Client::new()
        .get(format!("{}/_grantd/clock", b.url()))
        .bearer_auth(a.control_token())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
}

#[tokio::test]
async fn shutdown_stops_it_and_dropping_it_does_too() {
    let server = TestServer::start().await.unwrap();
    let address = server.address();
    server.shutdown().await.unwrap();
    assert!(tokio::net::TcpStream::connect(address).await.is_err());

    let server = TestServer::start().await.unwrap();
    let address = server.address();
    drop(server);
    // Dropping cannot wait for the server's task: the test waits for the refusal instead,
    // bounded far above the milliseconds it takes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(address).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "still serving");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn reset_and_snapshots_undo_tokens_and_reset_moves_the_clock_back() {
    let server = TestServer::start().await.unwrap();
    let kept = mint(&server).await;
    server.snapshot("one").await.unwrap();
    let later = mint(&server).await;
    server.clock().advance(Duration::from_mins(10)).unwrap();

    server.restore("one").await.unwrap();
    assert_eq!(user_status(&server, &kept).await, 200);
    assert_eq!(user_status(&server, &later).await, 401);
    // A restore leaves the clock alone; a reset puts it back.
    let offset = server.clock().now() - time::OffsetDateTime::now_utc();
    assert!((599..=601).contains(&offset.whole_seconds()), "{offset}");

    server.reset().await.unwrap();
    assert_eq!(user_status(&server, &kept).await, 401);
    let offset = server.clock().now() - time::OffsetDateTime::now_utc();
    assert!(offset.whole_seconds().abs() <= 1, "{offset}");

    assert_eq!(refused(server.restore("never-saved").await).0, 404);
    assert_eq!(refused(server.snapshot("no/slashes").await).0, 422);
}

#[tokio::test]
async fn the_clock_sets_advances_rewinds_and_expires_tokens() {
    let server = TestServer::start().await.unwrap();
    let clock = server.clock();
    let noon = time::macros::datetime!(2030-06-01 12:00 UTC);
    clock.set(noon).unwrap();
    assert!((clock.now() - noon).whole_seconds() <= 1);

    // The Date header reads it too.
    let res = Client::new()
        .get(format!("{}/healthz", server.url()))
        .send()
        .await
        .unwrap();
    let date = res.headers()["date"].to_str().unwrap().to_owned();
    assert!(date.starts_with("Sat, 01 Jun 2030 12:00:"), "{date}");

    let token = server
        .mint_expiring("octocat", OAUTH_APP.0, &[], Duration::from_mins(1))
        .await
        .unwrap();
    assert_eq!(token.expires_in, Some(60));
    assert_eq!(user_status(&server, &token.access_token).await, 200);
    clock.advance(Duration::from_secs(61)).unwrap();
    assert_eq!(user_status(&server, &token.access_token).await, 401);
    clock.rewind(Duration::from_secs(61)).unwrap();
    assert_eq!(user_status(&server, &token.access_token).await, 200);

    let (status, message) = refused(clock.advance(Duration::from_hours(11 * 366 * 24)));
    assert_eq!(status, 422);
    assert!(message.contains("ten years"), "{message}");
    clock.reset();
    assert!(
        (clock.now() - time::OffsetDateTime::now_utc())
            .whole_seconds()
            .abs()
            <= 1
    );
}

#[tokio::test]
async fn the_flows_controls_approve_as_a_user_and_refuse_what_the_routes_refuse() {
    let server = TestServer::start().await.unwrap();
    let client = Client::new();
    let codes: Value = client
        .post(format!("{}/login/device/code", server.url()))
        .header("accept", "application/json")
        .json(&json!({ "client_id": OAUTH_APP.0 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user_code = codes["user_code"].as_str().unwrap();
    assert_eq!(
        refused(server.approve_device(user_code, "nobody").await).0,
        404
    );
    server.deny_device(user_code, "octocat").await.unwrap();
    // Decided once: a second decision finds no pending code.
    assert_eq!(
        refused(server.approve_device(user_code, "octocat").await).0,
        404
    );
    let denied: Value = client
        .post(format!("{}/login/oauth/access_token", server.url()))
        .header("accept", "application/json")
        .json(&json!({
            "client_id": OAUTH_APP.0,
            "device_code": codes["device_code"],
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(denied["error"], "access_denied");

    // The seed's OAuth app has no callback URL, so the web flow cannot send a code anywhere.
    let (status, message) = refused(
        server
            .authorize(grantd::testing::Authorize {
                client_id: OAUTH_APP.0.into(),
                login: "octocat".into(),
                ..Default::default()
            })
            .await,
    );
    assert_eq!(
        (status, message.as_str()),
        (422, "the app has no callback URL")
    );
    assert_eq!(
        refused(server.mint("octocat", "no-such-app", &[]).await).0,
        404
    );
    assert_eq!(
        refused(
            server
                .mint("octocat", OAUTH_APP.0, &["no-such-scope"])
                .await
        )
        .0,
        422
    );
}

#[tokio::test]
async fn the_journal_lists_requests_without_secrets_and_clears() {
    let server = TestServer::start().await.unwrap();
    let token = mint(&server).await;
    assert_eq!(user_status(&server, &token).await, 200);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].route.as_deref(), Some("/api/v3/user"));
    assert_eq!(requests[0].status, 200);
    assert_eq!(requests[0].user.as_deref(), Some("octocat"));
    assert!(!json!(requests).to_string().contains(&token));
    server.clear_requests();
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn other_serve_flags_apply_and_bad_ones_stop_the_start() {
    let server = TestServer::builder()
        .arg("--ghes-version")
        .arg("3.14.2")
        .control_token("a-fixed-control-token")
        .start()
        .await
        .unwrap();
    assert_eq!(server.control_token(), "a-fixed-control-token");
    let res = Client::new()
        .get(format!("{}/meta", server.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-github-enterprise-version"], "3.14.2");

    let bad = TestServer::builder().arg("--no-such-flag").start().await;
    assert!(matches!(bad, Err(Error::Start(_))), "{bad:?}");
    let missing = TestServer::builder()
        .seed("/nonexistent/seed.toml")
        .start()
        .await;
    let Err(Error::Start(error)) = missing else {
        panic!("started without its seed: {missing:?}");
    };
    assert!(
        format!("{error:#}").contains("/nonexistent/seed.toml"),
        "{error:#}"
    );
}

async fn get_user(
    server: &TestServer,
    token: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let res = Client::new()
        .get(format!("{}/user", server.api_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    (status, headers, res.json().await.unwrap())
}

#[tokio::test]
async fn faults_added_in_process_answer_over_http_expire_and_clear() {
    let server = TestServer::start().await.unwrap();
    let token = mint(&server).await;

    let once = server
        .fault(Fault::status("api", 503).count(1))
        .await
        .unwrap();
    assert_eq!(
        (once.matcher.as_str(), once.fault, once.status),
        ("api", "status", Some(503))
    );
    assert_eq!((once.count, once.remaining), (Some(1), Some(1)));
    assert_eq!(server.faults().unwrap(), vec![once.clone()]);
    // The route lists what the method added.
    let listed: Value = Client::new()
        .get(format!("{}/_grantd/faults", server.url()))
        .bearer_auth(server.control_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["id"], once.id.as_str());
    assert_eq!(listed[0]["remaining"], 1);

    let (status, _, body) = get_user(&server, &token).await;
    assert_eq!(status, 503);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("No server is currently available to service your request."),
        "{body}"
    );
    // A count of one: the next request goes through and the fault is gone.
    assert_eq!(get_user(&server, &token).await.0, 200);
    assert_eq!(server.faults().unwrap(), vec![]);
    let faulted: Vec<_> = server
        .requests()
        .into_iter()
        .filter_map(|entry| entry.fault)
        .collect();
    assert_eq!(faulted, vec![once.id.clone()]);

    // Until cleared, one by id.
    let limited = server
        .fault(Fault::rate_limit("GET /user").with_status(429))
        .await
        .unwrap();
    for _ in 0..2 {
        let (status, headers, body) = get_user(&server, &token).await;
        assert_eq!(status, 429);
        assert_eq!(body["message"], "API rate limit exceeded for 127.0.0.1.");
        assert_eq!(headers["x-ratelimit-remaining"], "0");
    }
    server.clear_fault(&limited.id).unwrap();
    assert_eq!(get_user(&server, &token).await.0, 200);
    assert_eq!(refused(server.clear_fault(&limited.id)).0, 404);

    // All at once, and by a reset.
    server.fault(Fault::status("user", 500)).await.unwrap();
    server.fault(Fault::drop("api")).await.unwrap();
    assert_eq!(server.faults().unwrap().len(), 2);
    server.clear_faults().unwrap();
    assert_eq!(get_user(&server, &token).await.0, 200);
    server.fault(Fault::status("user", 502)).await.unwrap();
    assert_eq!(get_user(&server, &token).await.2["message"], "Server Error");
    server.reset().await.unwrap();
    assert_eq!(server.faults().unwrap(), vec![]);
    let token = mint(&server).await;
    assert_eq!(get_user(&server, &token).await.0, 200);
}

#[tokio::test]
async fn a_fault_the_route_refuses_is_refused_with_its_422_message() {
    let server = TestServer::start().await.unwrap();
    let cases = [
        (
            Fault::status("token", 418),
            "status must be 500, 502, 503 or 410",
        ),
        (
            Fault::rate_limit("api").with_status(500),
            "status must be 403 or 429",
        ),
        (
            Fault::latency("api", Duration::ZERO),
            "latency_ms must be 1 to 60000",
        ),
        (Fault::otp_required("oauth", "nobody"), "no user \"nobody\""),
        (
            Fault::status("api", 500).count(0),
            "count must be 1 to 1000000, or absent for until cleared",
        ),
    ];
    for (fault, detail) in cases {
        let (status, message) = refused(server.fault(fault).await);
        assert_eq!(
            (status, message.as_str()),
            (422, format!("Validation Failed: {detail}").as_str())
        );
    }
    let (status, message) = refused(server.fault(Fault::drop("GET /nowhere")).await);
    assert_eq!(status, 422);
    assert!(
        message.contains("match must be one of all, api,"),
        "{message}"
    );

    // The route refuses the same fault with the same message, in GitHub's 422 shape.
    let res = Client::new()
        .post(format!("{}/_grantd/faults", server.url()))
        .bearer_auth(server.control_token())
        .json(&json!({ "match": "token", "fault": "status", "status": 418 }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["message"], "Validation Failed");
    assert_eq!(
        body["errors"][0]["message"],
        "status must be 500, 502, 503 or 410"
    );

    // Nothing refused was added; the 65th live fault is refused.
    assert_eq!(server.faults().unwrap(), vec![]);
    for _ in 0..64 {
        server.fault(Fault::status("graphql", 500)).await.unwrap();
    }
    let (status, message) = refused(server.fault(Fault::status("graphql", 500)).await);
    assert_eq!(
        (status, message.as_str()),
        (
            422,
            "Validation Failed: at most 64 faults are live: delete one first"
        )
    );
}
