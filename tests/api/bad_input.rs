//! Bad request bodies and odd inputs: GitHub's 400s for JSON that does not parse or is not an object,
//! 422 `invalid` on a field of the wrong type, 413 over 1 MiB, and never a 500.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{
    ALICE, ANY_STRING, ANY_URL, OAUTH_APP, RequestExt, TestServer, assert_json,
    assert_validation_error, error_body, id_of,
};

/// The endpoints that read a body, with an existing authorization's id for PATCH.
async fn body_endpoints(srv: &TestServer) -> Vec<(Method, String)> {
    let id = id_of(&srv.create_pat(&ALICE, "existing").await);
    vec![
        (Method::POST, "/authorizations".to_owned()),
        (
            Method::PUT,
            format!("/authorizations/clients/{}", OAUTH_APP.client_id),
        ),
        (
            Method::PUT,
            format!("/authorizations/clients/{}/fp", OAUTH_APP.client_id),
        ),
        (Method::PATCH, format!("/authorizations/{id}")),
        (Method::POST, format!("/authorizations/{id}")),
    ]
}

#[tokio::test]
async fn malformed_json_is_problems_parsing_json() {
    let srv = TestServer::spawn().await;
    for (method, path) in body_endpoints(&srv).await {
        for raw in [
            "{",
            "{\"note\": }",
            "not json",
            "{\"note\": \"a\"}}",
            "{'note': 'a'}",
            "\u{feff}{}x",
        ] {
            let reply = srv
                .request(method.clone(), &path)
                .login_as(&ALICE)
                .header("Content-Type", "application/json")
                .body(raw)
                .go()
                .await;
            assert_eq!(reply.status, 400, "{method} {path} {raw:?}: {}", reply.body);
            assert_json(&reply.json(), &error_body(400, "Problems parsing JSON"));
        }
    }
    assert_eq!(srv.authorizations(&ALICE).await.len(), 1);
}

#[tokio::test]
async fn a_json_value_that_is_not_an_object_is_refused() {
    let srv = TestServer::spawn().await;
    for (method, path) in body_endpoints(&srv).await {
        for raw in ["[]", "[{\"note\": \"a\"}]", "\"note\"", "5", "true", "null"] {
            let reply = srv
                .request(method.clone(), &path)
                .login_as(&ALICE)
                .header("Content-Type", "application/json")
                .body(raw)
                .go()
                .await;
            assert_eq!(reply.status, 400, "{method} {path} {raw:?}: {}", reply.body);
            assert_json(
                &reply.json(),
                &error_body(400, "Body should be a JSON object"),
            );
        }
    }
}

#[tokio::test]
async fn a_json_body_is_read_whatever_its_content_type() {
    // `curl -d` sends application/x-www-form-urlencoded; GitHub reads the JSON anyway.
    let srv = TestServer::spawn().await;
    for content_type in [
        None,
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
    ] {
        let note = format!("ct {content_type:?}");
        let mut req = srv
            .post("/authorizations")
            .login_as(&ALICE)
            .body(json!({ "note": note }).to_string());
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        let body = req.go().await.expect_status(201);
        assert_eq!(body["note"], note.as_str());
    }
}

#[tokio::test]
async fn a_field_of_the_wrong_type_is_invalid_on_that_field() {
    let srv = TestServer::spawn().await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({ "note": 5 }), "note"),
        (json!({ "note": "n", "scopes": "repo" }), "scopes"),
        (json!({ "note": "n", "scopes": [1, 2] }), "scopes"),
        (json!({ "note": "n", "scopes": { "repo": true } }), "scopes"),
        (json!({ "note": "n", "note_url": 5 }), "note_url"),
        (json!({ "note": "n", "fingerprint": ["x"] }), "fingerprint"),
        (
            json!({ "client_id": 5, "client_secret": OAUTH_APP.client_secret }),
            "client_id",
        ),
        (
            json!({ "client_id": OAUTH_APP.client_id, "client_secret": true }),
            "client_secret",
        ),
    ];
    for (body, field) in cases {
        let reply = srv
            .post("/authorizations")
            .login_as(&ALICE)
            .json(&body)
            .go()
            .await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.body);
        assert_validation_error(&reply, None, field, "invalid");
    }
    assert!(srv.authorizations(&ALICE).await.is_empty());

    let id = id_of(&srv.create_pat(&ALICE, "target").await);
    let cases: Vec<(Value, &str)> = vec![
        (json!({ "scopes": "repo" }), "scopes"),
        (json!({ "add_scopes": "repo" }), "add_scopes"),
        (json!({ "remove_scopes": 5 }), "remove_scopes"),
        (json!({ "note": 5 }), "note"),
        (json!({ "note_url": [] }), "note_url"),
        (json!({ "fingerprint": 1 }), "fingerprint"),
    ];
    for (body, field) in cases {
        let reply = srv
            .patch(&format!("/authorizations/{id}"))
            .login_as(&ALICE)
            .json(&body)
            .go()
            .await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.body);
        assert_validation_error(&reply, None, field, "invalid");
    }

    let reply = srv
        .put(&format!("/authorizations/clients/{}", OAUTH_APP.client_id))
        .login_as(&ALICE)
        .json(&json!({ "client_secret": 5 }))
        .go()
        .await;
    assert_validation_error(&reply, None, "client_secret", "invalid");
    let reply = srv
        .get_or_create(&ALICE, &OAUTH_APP, None, json!({ "scopes": "repo" }))
        .await;
    assert_validation_error(&reply, None, "scopes", "invalid");
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_refused_with_413() {
    let srv = TestServer::spawn().await;
    let big = format!("{{\"note\": \"{}\"}}", "x".repeat(1024 * 1024 + 1));
    let reply = srv
        .post("/authorizations")
        .login_as(&ALICE)
        .header("Content-Type", "application/json")
        .body(big)
        .go()
        .await;
    assert_eq!(
        reply.status,
        413,
        "{}",
        reply.body.chars().take(300).collect::<String>()
    );
    assert_json(
        &reply.json(),
        &json!({ "message": ANY_STRING, "documentation_url": ANY_URL, "status": "413" }),
    );
    assert!(srv.authorizations(&ALICE).await.is_empty());

    // Just under the limit is read normally: such a note is too long for GitHub's 1,024
    // characters, a validation error, not a 413.
    let under = format!("{{\"note\": \"{}\"}}", "y".repeat(1024 * 1024 - 100));
    let reply = srv
        .post("/authorizations")
        .login_as(&ALICE)
        .header("Content-Type", "application/json")
        .body(under)
        .go()
        .await;
    assert_eq!(
        reply.status,
        422,
        "{}",
        reply.body.chars().take(300).collect::<String>()
    );
    assert_eq!(reply.json()["message"], "Validation Failed");
}

/// What one odd input must be answered: the exact status, and for an error GitHub's message.
#[derive(Clone, Copy)]
enum Expect {
    Status(u16),
    Body(u16, &'static str),
    Error(u16, &'static str),
}

#[tokio::test]
async fn odd_inputs_get_githubs_exact_answer() {
    let srv = TestServer::spawn().await;
    let id = id_of(&srv.create_pat(&ALICE, "existing").await);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_obj = format!("{{\"note\": {}{}}}", "[".repeat(10_000), "]".repeat(10_000));
    let long = "f".repeat(10_000);
    let cases: Vec<(Method, String, Option<String>, Expect)> = vec![
        (
            Method::POST,
            "/authorizations".into(),
            Some(deep),
            Expect::Error(400, "Problems parsing JSON"),
        ),
        (
            Method::POST,
            "/authorizations".into(),
            Some(deep_obj),
            Expect::Error(400, "Problems parsing JSON"),
        ),
        (
            Method::POST,
            "/authorizations".into(),
            Some(r#"{"note": "nul \u0000 byte"}"#.into()),
            Expect::Error(422, "Validation Failed"),
        ),
        (
            Method::POST,
            "/authorizations".into(),
            Some(r#"{"note": "🔑 ключ 鍵"}"#.into()),
            Expect::Status(201),
        ),
        (
            Method::POST,
            "/authorizations".into(),
            Some(r#"{"note": "\ud800"}"#.into()),
            Expect::Error(400, "Problems parsing JSON"),
        ),
        (
            Method::POST,
            "/authorizations".into(),
            Some(r#"{"note": "x", "note": "y"}"#.into()),
            Expect::Status(201),
        ),
        (
            Method::POST,
            "/authorizations".into(),
            Some(r#"{"note": "n", "scopes": [null]}"#.into()),
            Expect::Error(422, "Validation Failed"),
        ),
        (
            Method::POST,
            "/authorizations".into(),
            Some(format!(r#"{{"note": "n", "fingerprint": "{long}"}}"#)),
            Expect::Error(422, "Validation Failed"),
        ),
        (
            Method::POST,
            "/authorizations".into(),
            Some(r#"{"client_id": "x'; DROP TABLE users; --", "client_secret": "y"}"#.into()),
            Expect::Error(422, "Validation Failed"),
        ),
        (
            Method::PUT,
            format!("/authorizations/clients/{}/{long}", OAUTH_APP.client_id),
            Some(format!(
                r#"{{"client_secret": "{}"}}"#,
                OAUTH_APP.client_secret
            )),
            Expect::Error(422, "Validation Failed"),
        ),
        (
            Method::PUT,
            "/authorizations/clients/%00".into(),
            Some("{}".into()),
            Expect::Error(404, "Not Found"),
        ),
        (
            Method::PUT,
            "/authorizations/clients/a/b/c".into(),
            Some("{}".into()),
            Expect::Error(404, "Not Found"),
        ),
        (
            Method::PATCH,
            format!("/authorizations/{id}"),
            Some(r#"{"scopes": null}"#.into()),
            Expect::Status(200),
        ),
        (
            Method::PATCH,
            format!("/authorizations/{id}"),
            Some(r#"{"add_scopes": null}"#.into()),
            Expect::Status(200),
        ),
        (
            Method::PATCH,
            format!("/authorizations/{id}"),
            Some(r#"{"remove_scopes": []}"#.into()),
            Expect::Status(200),
        ),
        (
            Method::GET,
            "/authorizations?per_page=99999999999999999999&page=99999999999999999999".into(),
            None,
            Expect::Body(200, "[]"),
        ),
        (
            Method::GET,
            "/authorizations?page=9223372036854775807&per_page=100".into(),
            None,
            Expect::Body(200, "[]"),
        ),
        (
            Method::GET,
            "/authorizations?client_id=%ZZ&per_page=%".into(),
            None,
            Expect::Body(200, "[]"),
        ),
        (
            Method::GET,
            "/applications/grants?page=-9223372036854775808".into(),
            None,
            Expect::Body(200, "[]"),
        ),
        (
            Method::GET,
            "/authorizations/9223372036854775807".into(),
            None,
            Expect::Error(404, "Not Found"),
        ),
        (
            Method::GET,
            "/authorizations/9223372036854775808".into(),
            None,
            Expect::Error(404, "Not Found"),
        ),
        (
            Method::PUT,
            "/authorizations".into(),
            Some("{}".into()),
            Expect::Error(405, "Method Not Allowed"),
        ),
        (
            Method::DELETE,
            "/authorizations".into(),
            None,
            Expect::Error(405, "Method Not Allowed"),
        ),
        (
            Method::GET,
            "/no/such/route".into(),
            None,
            Expect::Error(404, "Not Found"),
        ),
    ];
    for (method, path, body, expect) in cases {
        let mut req = srv
            .request(method.clone(), &path)
            .login_as(&ALICE)
            .header("Content-Type", "application/json");
        if let Some(b) = body {
            req = req.body(b);
        }
        let reply = req.go().await;
        let shown: String = path.chars().take(80).collect();
        match expect {
            Expect::Status(status) => {
                assert_eq!(reply.status, status, "{method} {shown}: {}", reply.body);
            }
            Expect::Body(status, body) => {
                assert_eq!(
                    (reply.status, reply.body.as_str()),
                    (status, body),
                    "{method} {shown}"
                );
            }
            Expect::Error(status, message) => {
                assert_eq!(reply.status, status, "{method} {shown}: {}", reply.body);
                // GitHub's JSON error body, with the status as text.
                let error = reply.json();
                assert_eq!(error["message"], message, "{method} {shown}: {error}");
                assert_eq!(
                    error["status"],
                    status.to_string(),
                    "{method} {shown}: {error}"
                );
            }
        }
    }
    // Bytes that are not UTF-8.
    let reply = srv
        .post("/authorizations")
        .login_as(&ALICE)
        .header("Content-Type", "application/json")
        .body(vec![
            b'{', b'"', b'n', b'o', b't', b'e', b'"', b':', b'"', 0xff, 0xfe, b'"', b'}',
        ])
        .go()
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_json(&reply.json(), &error_body(400, "Problems parsing JSON"));
}

/// Limits that hold on every engine: `note` and `fingerprint` are unique-indexed, and text
/// columns cannot hold NUL (PostgreSQL refuses it), so both are a 422, never a 500.
#[tokio::test]
async fn overlong_or_nul_text_is_a_validation_error() {
    let srv = TestServer::spawn().await;
    let at_limit = "n".repeat(255);
    let reply = srv
        .post("/authorizations")
        .login_as(&ALICE)
        .json(&json!({ "note": at_limit, "fingerprint": "f".repeat(255) }))
        .go()
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    for (field, body) in [
        ("note", json!({ "note": "n".repeat(256) })),
        (
            "fingerprint",
            json!({ "note": "ok", "fingerprint": "f".repeat(256) }),
        ),
        (
            "note_url",
            json!({ "note": "ok2", "note_url": format!("https://a/{}", "u".repeat(2_048)) }),
        ),
    ] {
        let reply = srv
            .post("/authorizations")
            .login_as(&ALICE)
            .json(&body)
            .go()
            .await;
        assert_json(
            &reply.expect_status(422),
            &json!({
                "message": "Validation Failed",
                "errors": [{
                    "resource": "OauthAccess",
                    "field": field,
                    "code": "custom",
                    "message": format!(
                        "{field} is too long (maximum is {} characters)",
                        if field == "note_url" { 2_048 } else { 255 }
                    ),
                }],
                "documentation_url": ANY_URL,
                "status": "422",
            }),
        );
    }
    let reply = srv
        .post("/authorizations")
        .login_as(&ALICE)
        .json(&json!({ "note": "nul \u{0} byte" }))
        .go()
        .await;
    assert_eq!(
        reply.expect_status(422)["errors"],
        json!([{ "resource": "OauthAccess", "field": "note", "code": "invalid" }])
    );
    // Only the one at the limit was stored.
    assert_eq!(srv.authorizations(&ALICE).await.len(), 1);
}

/// Found by fuzzing (`fuzz.rs`, issue 18): a handler that answers without reading the request's body (a
/// GET with a body, an error before the body is read) left the body unread, hyper then closed
/// the connection with bytes unread, and the kernel's reset cut off the tail of any answer
/// still in flight: `GET /openapi.json` with a 200 KB body arrived 127 KB short.
#[tokio::test]
async fn an_unread_request_body_does_not_cut_the_answer_short() {
    let srv = TestServer::spawn().await;
    let body = json!({ "note": "x".repeat(200_000) }).to_string();
    for path in ["/openapi.json", "/api/v3/openapi.json"] {
        for _ in 0..3 {
            let res = srv.get(path).body(body.clone()).send().await.unwrap();
            assert_eq!(res.status(), 200);
            let text = res.text().await.expect("the whole answer arrives");
            let json: Value = serde_json::from_str(&text).expect("the answer is whole JSON");
            assert!(json["paths"].is_object());
        }
    }
    // Refused before the body is read, on the same keep-alive connection.
    for _ in 0..3 {
        let reply = srv
            .post("/authorizations")
            .body(vec![b' '; 900_000])
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 401);
        let json: Value = reply.json().await.expect("the whole answer arrives");
        assert_eq!(json["message"], "Requires authentication");
    }
}
