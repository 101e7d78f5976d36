//! docs/api.md's "HTTP conventions (every endpoint)" that hold for every answer: the request id,
//! the media type, the API version, CORS, and GitHub's JSON for unknown paths and methods.
//! Conditional requests, rate limits, throttling, leniency and the API's retirement have their
//! own modules; the request id in the server's log is checked in `conventions_binary`.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::json;

use crate::support::{
    ALICE, OAUTH_APP, Reply, RequestExt, TestServer, assert_json, error_body, unissued_token,
};

pub const API_VERSION: &str = "2022-11-28";
pub const JSON_MEDIA_TYPE: &str = "github.v3; format=json";

/// The one `X-GitHub-Request-Id` of `reply`, checked for GitHub's shape
/// (`CB9E:1F45:4A7B2:8C1D3:6527A1B0`: five hex groups of 4, 4, 5, 5 and 8 digits).
#[track_caller]
pub fn assert_request_id(reply: &Reply) -> String {
    let values: Vec<_> = reply
        .headers
        .get_all("x-github-request-id")
        .iter()
        .collect();
    assert_eq!(
        values.len(),
        1,
        "one X-GitHub-Request-Id expected (status {}): {values:?}",
        reply.status
    );
    let id = values[0].to_str().expect("ASCII request id").to_owned();
    let groups: Vec<&str> = id.split(':').collect();
    assert_eq!(
        groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
        [4, 4, 5, 5, 8],
        "request id {id:?} does not have GitHub's shape"
    );
    assert!(
        groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit())),
        "request id {id:?} is not hexadecimal"
    );
    id
}

/// The comma-separated values of a header, lower-cased and trimmed.
#[track_caller]
pub fn header_list(reply: &Reply, name: &str) -> Vec<String> {
    reply
        .headers
        .get_all(name)
        .iter()
        .flat_map(|v| {
            v.to_str()
                .expect("ASCII header")
                .split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// A CORS preflight for `path`, as a browser sends it before a PATCH with credentials.
async fn preflight(srv: &TestServer, path: &str) -> Reply {
    srv.request(Method::OPTIONS, path)
        .header("Origin", "https://app.example.com")
        .header("Access-Control-Request-Method", "PATCH")
        .header(
            "Access-Control-Request-Headers",
            "authorization, x-github-otp, if-none-match",
        )
        .go()
        .await
}

/// One answer of each kind: success (200, 201, 204), client errors (401, 404 on a known route,
/// 404 on an unknown path, 405, 400) and a CORS preflight.
async fn one_of_each_kind(srv: &TestServer) -> Vec<(&'static str, Reply)> {
    let created = srv.create_pat(&ALICE, "kinds").await;
    let id = created["id"].as_i64().expect("id");
    vec![
        (
            "200",
            srv.get("/authorizations").login_as(&ALICE).go().await,
        ),
        (
            "201",
            srv.post("/authorizations")
                .login_as(&ALICE)
                .json(&json!({ "note": "another" }))
                .go()
                .await,
        ),
        (
            "204",
            srv.delete(&format!("/authorizations/{id}"))
                .login_as(&ALICE)
                .go()
                .await,
        ),
        ("401", srv.get("/authorizations").go().await),
        (
            "404 known route",
            srv.get("/authorizations/999999")
                .login_as(&ALICE)
                .go()
                .await,
        ),
        ("404 unknown path", srv.get("/no/such/path").go().await),
        ("405", srv.put("/authorizations").go().await),
        (
            "400",
            srv.get("/authorizations")
                .header("X-GitHub-Api-Version", "2000-01-01")
                .go()
                .await,
        ),
        ("preflight", preflight(srv, "/authorizations").await),
        (
            "app 404",
            srv.check(&OAUTH_APP, &unissued_token("gho_")).await,
        ),
        ("healthz", srv.get("/healthz").go().await),
    ]
}

// ---------------------------------------------------------------------------------------------
// X-GitHub-Request-Id
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_answer_carries_a_request_id_in_githubs_shape() {
    let srv = TestServer::spawn().await;
    for (kind, reply) in one_of_each_kind(&srv).await {
        assert!(
            reply.headers.contains_key("x-github-request-id"),
            "{kind}: no X-GitHub-Request-Id"
        );
        assert_request_id(&reply);
    }
}

#[tokio::test]
async fn request_ids_are_unique_per_request() {
    let srv = TestServer::spawn().await;
    let mut seen = HashSet::new();
    for _ in 0..40 {
        let id = assert_request_id(&srv.get("/healthz").go().await);
        assert!(seen.insert(id.clone()), "request id {id} was given twice");
    }
    for (_, reply) in one_of_each_kind(&srv).await {
        let id = assert_request_id(&reply);
        assert!(seen.insert(id.clone()), "request id {id} was given twice");
    }
}

#[tokio::test]
async fn a_request_id_sent_by_the_client_is_replaced() {
    let srv = TestServer::spawn().await;
    let forged = "CAFE:CAFE:CAFEC:CAFEC:CAFECAFE";
    for path in ["/healthz", "/authorizations", "/no/such/path"] {
        let reply = srv
            .get(path)
            .login_as(&ALICE)
            .header("X-GitHub-Request-Id", forged)
            .go()
            .await;
        let id = assert_request_id(&reply);
        assert_ne!(id, forged, "{path}: the client's request id was kept");
    }
}

// ---------------------------------------------------------------------------------------------
// X-GitHub-Media-Type and Accept
// ---------------------------------------------------------------------------------------------

/// Sends `GET path` with no `Accept` header at all (reqwest always sends `Accept: */*`), over
/// a raw HTTP/1.1 connection, and returns the status line and the lower-cased header lines.
async fn get_without_accept(srv: &TestServer, path: &str) -> (String, Vec<(String, String)>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = srv.url("");
    let host = url.strip_prefix("http://").expect("http URL");
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .expect("connect to the server");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send the request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read the answer");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default().to_owned();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers)
}

#[tokio::test]
async fn every_accepted_json_media_type_is_served_the_same_json() {
    let srv = TestServer::spawn().await;
    srv.create_pat(&ALICE, "media").await;
    let reference = srv.get("/authorizations").login_as(&ALICE).go().await;
    let expected = reference.expect_status(200);
    for accept in [
        "application/vnd.github+json",
        "application/vnd.github.v3+json",
        "application/json",
        "*/*",
        // grantd never refuses a request for its Accept.
        "text/html",
    ] {
        let reply = srv
            .get("/authorizations")
            .login_as(&ALICE)
            .header("Accept", accept)
            .go()
            .await;
        assert_eq!(reply.expect_status(200), expected, "Accept: {accept}");
        assert_eq!(
            reply.header("X-GitHub-Media-Type").as_deref(),
            Some(JSON_MEDIA_TYPE),
            "Accept: {accept}"
        );
        let content_type = reply.header("Content-Type").unwrap_or_default();
        assert!(
            content_type.starts_with("application/json"),
            "Accept: {accept}: Content-Type {content_type:?}"
        );
    }
}

#[tokio::test]
async fn a_request_without_accept_is_served_json_with_the_v3_media_type() {
    let srv = TestServer::spawn().await;
    let (status, headers) = get_without_accept(&srv, "/no/such/path").await;
    assert!(status.starts_with("HTTP/1.1 404"), "{status}");
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        header("x-github-media-type").as_deref(),
        Some(JSON_MEDIA_TYPE)
    );
    assert!(
        header("content-type").is_some_and(|t| t.starts_with("application/json")),
        "{headers:?}"
    );
    let (status, headers) = get_without_accept(&srv, "/healthz").await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "x-github-media-type" && v == JSON_MEDIA_TYPE),
        "{headers:?}"
    );
}

#[tokio::test]
async fn the_raw_media_type_is_named_in_x_github_media_type() {
    let srv = TestServer::spawn().await;
    srv.create_pat(&ALICE, "raw").await;
    let reply = srv
        .get("/authorizations")
        .login_as(&ALICE)
        .header("Accept", "application/vnd.github.v3.raw+json")
        .go()
        .await;
    let body = reply.expect_status(200);
    assert_eq!(body[0]["note"], "raw");
    assert_eq!(
        reply.header("X-GitHub-Media-Type").as_deref(),
        Some("github.v3; param=raw; format=json")
    );
}

#[tokio::test]
async fn errors_carry_the_media_type_too() {
    let srv = TestServer::spawn().await;
    for reply in [
        srv.get("/authorizations").go().await,
        srv.get("/no/such/path").go().await,
        srv.delete("/user").go().await,
    ] {
        assert_eq!(
            reply.header("X-GitHub-Media-Type").as_deref(),
            Some(JSON_MEDIA_TYPE),
            "status {}",
            reply.status
        );
    }
}

// ---------------------------------------------------------------------------------------------
// X-GitHub-Api-Version
// ---------------------------------------------------------------------------------------------

fn unsupported_version_message(version: &str) -> String {
    format!(
        "The version you specified in the \"X-GitHub-Api-Version\" request header, \"{version}\", is not a \
         supported version. The following versions are currently supported: \"{API_VERSION}\" (most recent)."
    )
}

#[tokio::test]
async fn the_published_api_version_and_no_version_are_both_accepted() {
    let srv = TestServer::spawn().await;
    let with = srv
        .get("/authorizations")
        .login_as(&ALICE)
        .header("X-GitHub-Api-Version", API_VERSION)
        .go()
        .await;
    assert_eq!(with.expect_status(200), json!([]));
    assert_eq!(
        with.header("X-GitHub-Api-Version-Selected").as_deref(),
        Some(API_VERSION)
    );
    let without = srv.get("/authorizations").login_as(&ALICE).go().await;
    assert_eq!(without.expect_status(200), json!([]));
    assert_eq!(
        without.header("X-GitHub-Api-Version-Selected").as_deref(),
        Some(API_VERSION)
    );
    let created = srv
        .post("/authorizations")
        .login_as(&ALICE)
        .header("X-GitHub-Api-Version", API_VERSION)
        .json(&json!({ "note": "versioned" }))
        .go()
        .await;
    created.expect_status(201);
}

#[tokio::test]
async fn every_answer_names_the_selected_api_version() {
    let srv = TestServer::spawn().await;
    for (kind, reply) in one_of_each_kind(&srv).await {
        assert_eq!(
            reply.header("X-GitHub-Api-Version-Selected").as_deref(),
            Some(API_VERSION),
            "{kind}"
        );
    }
}

#[tokio::test]
async fn any_other_api_version_is_refused_with_githubs_400() {
    let srv = TestServer::spawn().await;
    for version in ["2021-01-01", "2023-01-01", "2022-11-27", "latest", "v3"] {
        let reply = srv
            .get("/authorizations")
            .login_as(&ALICE)
            .header("X-GitHub-Api-Version", version)
            .go()
            .await;
        let body = reply.expect_status(400);
        assert_json(
            &body,
            &error_body(400, &unsupported_version_message(version)),
        );
        assert_eq!(
            reply.header("X-GitHub-Api-Version-Selected").as_deref(),
            Some(API_VERSION),
            "{version}"
        );
        assert_request_id(&reply);
    }
}

#[tokio::test]
async fn an_unsupported_api_version_is_refused_on_every_kind_of_endpoint_and_changes_nothing() {
    let srv = TestServer::spawn().await;
    let version = "2024-02-30";
    let expected = error_body(400, &unsupported_version_message(version));
    let created = srv
        .post("/authorizations")
        .login_as(&ALICE)
        .header("X-GitHub-Api-Version", version)
        .json(&json!({ "note": "must not exist" }))
        .go()
        .await;
    assert_json(&created.expect_status(400), &expected);
    assert!(
        srv.authorizations(&ALICE).await.is_empty(),
        "the refused request created an authorization"
    );
    // Without credentials, on the app side, on /user and under /api/v3: the same 400.
    for reply in [
        srv.get("/authorizations")
            .header("X-GitHub-Api-Version", version)
            .go()
            .await,
        srv.as_app(
            Method::POST,
            &format!("/applications/{}/token", OAUTH_APP.client_id),
            &OAUTH_APP,
        )
        .header("X-GitHub-Api-Version", version)
        .json(&json!({ "access_token": unissued_token("gho_") }))
        .go()
        .await,
        srv.get("/user")
            .header("Authorization", format!("token {}", unissued_token("gho_")))
            .header("X-GitHub-Api-Version", version)
            .go()
            .await,
        srv.get("/api/v3/authorizations")
            .login_as(&ALICE)
            .header("X-GitHub-Api-Version", version)
            .go()
            .await,
    ] {
        assert_json(&reply.expect_status(400), &expected);
    }
}

// ---------------------------------------------------------------------------------------------
// CORS
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_answer_allows_any_origin() {
    let srv = TestServer::spawn().await;
    let without: Vec<_> = one_of_each_kind(&srv)
        .await
        .into_iter()
        .filter(|(_, reply)| reply.header("Access-Control-Allow-Origin").as_deref() != Some("*"))
        .map(|(kind, reply)| format!("{kind} ({}: {})", reply.status, reply.body))
        .collect();
    assert!(
        without.is_empty(),
        "answers without Access-Control-Allow-Origin: *: {without:?}"
    );
    // A browser's request names its origin; the answer is the same.
    let reply = srv
        .get("/authorizations")
        .login_as(&ALICE)
        .header("Origin", "https://app.example.com")
        .go()
        .await;
    reply.expect_status(200);
    assert_eq!(
        reply.header("Access-Control-Allow-Origin").as_deref(),
        Some("*")
    );
}

#[tokio::test]
async fn githubs_response_headers_are_exposed_to_browsers() {
    let srv = TestServer::spawn().await;
    let reply = srv
        .get("/authorizations")
        .login_as(&ALICE)
        .header("Origin", "https://app.example.com")
        .go()
        .await;
    reply.expect_status(200);
    let exposed = header_list(&reply, "Access-Control-Expose-Headers");
    for name in [
        "etag",
        "last-modified",
        "link",
        "x-github-otp",
        "x-oauth-scopes",
        "x-github-request-id",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-used",
        "x-ratelimit-reset",
        "x-ratelimit-resource",
        "deprecation",
        "sunset",
    ] {
        assert!(
            exposed.iter().any(|e| e == name),
            "{name} is not exposed: {exposed:?}"
        );
    }
    assert!(
        !exposed.iter().any(|e| e == "*"),
        "expose headers by name: {exposed:?}"
    );
}

#[tokio::test]
async fn a_preflight_names_the_allowed_methods_and_request_headers() {
    let srv = TestServer::spawn().await;
    for path in ["/authorizations/1", "/api/v3/authorizations/1", "/user"] {
        let reply = preflight(&srv, path).await;
        assert!(
            (200..300).contains(&reply.status),
            "{path}: preflight answered {}: {}",
            reply.status,
            reply.body
        );
        assert_eq!(
            reply.header("Access-Control-Allow-Origin").as_deref(),
            Some("*"),
            "{path}"
        );
        let methods = header_list(&reply, "Access-Control-Allow-Methods");
        for method in ["get", "post", "patch", "put", "delete"] {
            assert!(
                methods.iter().any(|m| m == method),
                "{path}: {method} not allowed: {methods:?}"
            );
        }
        let allowed = header_list(&reply, "Access-Control-Allow-Headers");
        assert!(
            !allowed.iter().any(|h| h == "*"),
            "{path}: a `*` does not cover Authorization: {allowed:?}"
        );
        for name in [
            "authorization",
            "content-type",
            "if-none-match",
            "if-modified-since",
            "x-github-otp",
            "x-github-api-version",
        ] {
            assert!(
                allowed.iter().any(|h| h == name),
                "{path}: {name} is not allowed by name: {allowed:?}"
            );
        }
        // A preflight is answered before any authentication and still carries GitHub's headers.
        assert_request_id(&reply);
    }
}

#[tokio::test]
async fn a_preflight_with_the_api_version_header_is_not_refused() {
    let srv = TestServer::spawn().await;
    let reply = srv
        .request(Method::OPTIONS, "/authorizations")
        .header("Origin", "https://app.example.com")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type, x-github-api-version",
        )
        .go()
        .await;
    assert!(
        (200..300).contains(&reply.status),
        "preflight answered {}: {}",
        reply.status,
        reply.body
    );
    let allowed = header_list(&reply, "Access-Control-Allow-Headers");
    assert!(
        allowed.iter().any(|h| h == "x-github-api-version"),
        "{allowed:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Errors for unknown paths and methods
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_unknown_path_is_a_json_404_with_and_without_the_api_v3_prefix() {
    let srv = TestServer::spawn().await;
    for prefix in ["", "/api/v3"] {
        for (method, path) in [
            (Method::GET, "/no/such/path"),
            (Method::POST, "/authorizations/1/extra"),
            (Method::GET, "/applications"),
            (Method::DELETE, "/users/alice/extra"),
            (Method::PATCH, "/applications/grants/1/more"),
        ] {
            let reply = srv
                .request(method.clone(), &format!("{prefix}{path}"))
                .login_as(&ALICE)
                .go()
                .await;
            assert_eq!(reply.status, 404, "{method} {prefix}{path}: {}", reply.body);
            assert_json(&reply.json(), &error_body(404, "Not Found"));
            let content_type = reply.header("Content-Type").unwrap_or_default();
            assert!(
                content_type.starts_with("application/json"),
                "{method} {prefix}{path}: Content-Type {content_type:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_known_path_with_a_method_it_does_not_take_is_a_json_405() {
    let srv = TestServer::spawn().await;
    let app_token = format!("/applications/{}/token", OAUTH_APP.client_id);
    let app_grant = format!("/applications/{}/grant", OAUTH_APP.client_id);
    for prefix in ["", "/api/v3"] {
        for (method, path) in [
            (Method::PUT, "/authorizations"),
            (Method::DELETE, "/authorizations"),
            (Method::PUT, "/authorizations/1"),
            (Method::GET, "/authorizations/clients/abc"),
            (Method::POST, "/applications/grants"),
            (Method::PATCH, "/applications/grants/1"),
            (Method::DELETE, "/user"),
            (Method::POST, "/user"),
            (Method::GET, app_token.as_str()),
            (Method::PUT, app_token.as_str()),
            (Method::GET, app_grant.as_str()),
        ] {
            let reply = srv
                .request(method.clone(), &format!("{prefix}{path}"))
                .login_as(&ALICE)
                .json(&json!({}))
                .go()
                .await;
            assert_eq!(reply.status, 405, "{method} {prefix}{path}: {}", reply.body);
            assert_json(&reply.json(), &error_body(405, "Method Not Allowed"));
            assert_request_id(&reply);
        }
    }
}
