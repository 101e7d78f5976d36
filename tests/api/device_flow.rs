//! The OAuth device flow (issue 19), driven as a device and a browser would: the "device" asks
//! `/login/device/code` for codes and polls `/login/oauth/access_token`; a cookie-jar client
//! signs in, enters the user code at `/login/device` and answers the consent page. The server's
//! clock is pinned or moved (never slept on) for the interval and expiry rules.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::Client;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::signin::{browser, location, sign_in, token_of};
use crate::support::{ALICE, BOB, DEFAULT_FIXTURE, GITHUB_APP, OAUTH_APP, OTHER_APP, TestServer};
use crate::web_flow::form_fields;

const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
const EXPIRING_CLIENT_ID: &str = "Iv1.00000000000000dd";

/// The default fixture with the device flow enabled for the OAuth app and the GitHub App (the
/// other app keeps it off), and a GitHub App with expiring user tokens that has it on.
pub(crate) fn fixture() -> String {
    let enabled = DEFAULT_FIXTURE
        .replace(
            "url = \"http://my-oauth-app.example.com\"\n",
            "url = \"http://my-oauth-app.example.com\"\ndevice_flow = true\n",
        )
        .replace(
            "url = \"http://my-github-app.com\"\n",
            "url = \"http://my-github-app.com\"\ndevice_flow = true\n",
        );
    format!(
        "{enabled}\n[[apps]]\nname = \"expiring cli\"\nurl = \"http://cli.example\"\nowner = \"bob\"\n\
         kind = \"github\"\nclient_id = \"{EXPIRING_CLIENT_ID}\"\n\
         client_secret = \"dddddddddddddddddddddddddddddddddddddddd\"\n\
         expire_user_tokens = true\ndevice_flow = true\n"
    )
}

async fn spawn() -> TestServer {
    TestServer::spawn_seeded(&fixture(), None).await
}

/// A browser signed in as `user`.
async fn signed_in(srv: &TestServer, user: &crate::support::User) -> Client {
    let client = browser();
    assert_eq!(sign_in(srv, &client, user).await.status(), 303);
    client
}

/// `POST /login/device/code` with a form body, asking for JSON; asserts 200.
pub(crate) async fn request_codes(srv: &TestServer, client_id: &str, scope: &str) -> Value {
    let answer = Client::new()
        .post(srv.url("/login/device/code"))
        .header("accept", "application/json")
        .form(&[("client_id", client_id), ("scope", scope)])
        .send()
        .await
        .expect("POST /login/device/code");
    assert_eq!(answer.status(), 200);
    answer.json().await.expect("JSON")
}

pub(crate) fn device_code(codes: &Value) -> &str {
    codes["device_code"].as_str().expect("a device_code")
}

pub(crate) fn user_code(codes: &Value) -> &str {
    codes["user_code"].as_str().expect("a user_code")
}

/// A poll with a form body, asking for JSON; asserts HTTP 200 (errors included, as GitHub).
pub(crate) async fn poll(srv: &TestServer, client_id: &str, device_code: &str) -> Value {
    let answer = Client::new()
        .post(srv.url("/login/oauth/access_token"))
        .header("accept", "application/json")
        .form(&[
            ("client_id", client_id),
            ("device_code", device_code),
            ("grant_type", GRANT_TYPE),
        ])
        .send()
        .await
        .expect("POST /login/oauth/access_token");
    assert_eq!(answer.status(), 200);
    answer.json().await.expect("JSON")
}

#[track_caller]
fn assert_error(answer: &Value, error: &str) {
    assert_eq!(answer["error"], error, "{answer}");
    assert!(answer["error_description"].is_string(), "{answer}");
    assert_eq!(
        answer["error_uri"],
        "https://docs.github.com/developers/apps/authorizing-oauth-apps#error-codes-for-the-device-flow"
    );
    assert!(answer.get("access_token").is_none());
    if error != "slow_down" {
        assert!(answer.get("interval").is_none(), "{answer}");
    }
}

/// The code form's `authenticity_token`, for a signed-in browser.
async fn form_token(srv: &TestServer, client: &Client) -> String {
    let page = client
        .get(srv.url("/login/device"))
        .send()
        .await
        .expect("GET /login/device");
    assert_eq!(page.status(), 200);
    token_of(&page.text().await.expect("body"))
}

/// Posts `typed` as the user code.
async fn enter(srv: &TestServer, client: &Client, token: &str, typed: &str) -> reqwest::Response {
    client
        .post(srv.url("/login/device"))
        .form(&[("authenticity_token", token), ("user_code", typed)])
        .send()
        .await
        .expect("POST /login/device")
}

/// Enters `typed` (asserting the consent page) and answers it with `authorize`; returns the
/// consent page's HTML and the answer.
async fn decide(
    srv: &TestServer,
    client: &Client,
    typed: &str,
    authorize: &str,
) -> (String, reqwest::Response) {
    let token = form_token(srv, client).await;
    let consent = enter(srv, client, &token, typed).await;
    assert_eq!(consent.status(), 200, "the consent page");
    let html = consent.text().await.expect("body");
    let mut form = form_fields(&html);
    form.push(("authorize".to_owned(), authorize.to_owned()));
    let answer = client
        .post(srv.url("/login/device/authorize"))
        .form(&form)
        .send()
        .await
        .expect("POST /login/device/authorize");
    (html, answer)
}

/// A `device_codes` row: hashes, scopes, state, interval, last poll.
type Row = (Vec<u8>, Vec<u8>, String, String, i64, Option<i64>);

/// Approves `typed` and asserts the "connected" page.
pub(crate) async fn approve(srv: &TestServer, client: &Client, typed: &str) {
    let (_, answer) = decide(srv, client, typed, "1").await;
    assert_eq!(answer.status(), 200);
    let html = answer.text().await.expect("body");
    assert!(
        html.contains("Congratulations, you&#39;re all set! Your device is now connected.")
            || html.contains("Congratulations, you're all set! Your device is now connected."),
        "{html}"
    );
}

async fn get_user(srv: &TestServer, token: &str) -> reqwest::Response {
    srv.get("/user")
        .bearer_auth(token)
        .send()
        .await
        .expect("GET /user")
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("0 ns")
}

#[tokio::test]
async fn codes_come_in_the_format_asked_from_a_form_json_or_the_query() {
    let srv = spawn().await;
    // A form body, the default answer: form-encoded.
    let answer = Client::new()
        .post(srv.url("/login/device/code"))
        .form(&[("client_id", OAUTH_APP.client_id), ("scope", "repo")])
        .send()
        .await
        .expect("POST");
    assert_eq!(answer.status(), 200);
    assert!(
        answer.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("application/x-www-form-urlencoded")
    );
    assert_eq!(answer.headers()["cache-control"], "no-store");
    let fields: Vec<(String, String)> =
        serde_urlencoded::from_str(&answer.text().await.expect("body")).expect("a form");
    let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "device_code",
            "user_code",
            "verification_uri",
            "expires_in",
            "interval"
        ]
    );
    let field = |name: &str| {
        fields
            .iter()
            .find_map(|(k, v)| (k == name).then_some(v.as_str()))
            .expect("field")
    };
    let device_code = field("device_code");
    assert_eq!(device_code.len(), 40);
    assert!(
        device_code
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    let user_code = field("user_code");
    assert_eq!(user_code.len(), 9, "{user_code}");
    assert_eq!(&user_code[4..5], "-");
    assert!(
        user_code
            .bytes()
            .filter(|b| *b != b'-')
            .all(|b| b"BCDFGHJKLMNPQRSTVWXZ".contains(&b)),
        "{user_code}"
    );
    assert_eq!(field("verification_uri"), srv.public("/login/device"));
    assert_eq!(field("expires_in"), "900");
    assert_eq!(field("interval"), "5");

    // A JSON body, an XML answer in GitHub's element order.
    let answer = Client::new()
        .post(srv.url("/login/device/code"))
        .header("accept", "application/xml")
        .json(&json!({ "client_id": OAUTH_APP.client_id, "scope": "gist" }))
        .send()
        .await
        .expect("POST");
    assert_eq!(answer.status(), 200);
    let body = answer.text().await.expect("body");
    assert!(body.starts_with("<OAuth><device_code>"), "{body}");
    assert!(
        body.ends_with(
            "</verification_uri><expires_in>900</expires_in><interval>5</interval></OAuth>"
        ),
        "{body}"
    );

    // The client id as a query parameter (GitHub's GitHub App docs), a JSON answer with numbers.
    let answer = Client::new()
        .post(srv.url(&format!(
            "/login/device/code?client_id={}",
            GITHUB_APP.client_id
        )))
        .header("accept", "application/json")
        .send()
        .await
        .expect("POST");
    assert_eq!(answer.status(), 200);
    let codes: Value = answer.json().await.expect("JSON");
    assert_eq!(codes["expires_in"], 900);
    assert_eq!(codes["interval"], 5);
    assert_eq!(codes["verification_uri"], srv.public("/login/device"));

    // Each request gets codes of its own.
    let again = request_codes(&srv, OAUTH_APP.client_id, "repo").await;
    assert_ne!(device_code, again["device_code"]);
    assert_ne!(user_code, again["user_code"]);
}

#[tokio::test]
async fn a_device_connects_through_the_pages_and_gets_its_token_once() {
    let srv = spawn().await;
    let codes = request_codes(&srv, OAUTH_APP.client_id, "repo gist").await;
    assert_error(
        &poll(&srv, OAUTH_APP.client_id, device_code(&codes)).await,
        "authorization_pending",
    );

    // Not signed in: the sign-in page, then back to the code form.
    let client = browser();
    let first = client
        .get(srv.url("/login/device"))
        .send()
        .await
        .expect("GET");
    assert_eq!(first.status(), 303);
    assert_eq!(location(&first), "/login?return_to=%2Flogin%2Fdevice");
    let login = client
        .get(srv.url(location(&first)))
        .send()
        .await
        .expect("GET /login");
    let token = token_of(&login.text().await.expect("body"));
    let signed = client
        .post(srv.url("/session"))
        .form(&[
            ("login", ALICE.login),
            ("password", ALICE.password),
            ("authenticity_token", token.as_str()),
            ("return_to", "/login/device"),
        ])
        .send()
        .await
        .expect("sign in");
    assert_eq!(signed.status(), 303);
    assert_eq!(location(&signed), "/login/device");

    let form = client
        .get(srv.url("/login/device"))
        .send()
        .await
        .expect("GET");
    assert_eq!(form.status(), 200);
    assert_eq!(form.headers()["x-frame-options"], "deny");
    let html = form.text().await.expect("body");
    assert!(html.contains("name=\"user_code\""), "{html}");
    assert!(
        html.contains("Signed in as <strong>alice</strong>"),
        "{html}"
    );

    // Typed in lower case without the hyphen: forgiven. The consent page is the web flow's.
    let typed = user_code(&codes).to_lowercase().replace('-', "");
    let (consent, answer) = decide(&srv, &client, &typed, "1").await;
    for shown in [
        "Authorize my oauth app",
        "<strong>my oauth app</strong> by <strong>alice</strong>",
        "Full control of private repositories",
        "Create gists",
        "name=\"authorize\" value=\"1\"",
        "Authorize alice",
        "name=\"authorize\" value=\"0\"",
        "action=\"/login/device/authorize\"",
    ] {
        assert!(consent.contains(shown), "{shown} missing from {consent}");
    }
    assert_eq!(answer.status(), 200);
    let done = answer.text().await.expect("body");
    assert!(done.contains("Device connected"), "{done}");
    assert!(done.contains("Your device is now connected."), "{done}");

    // The next poll gets the token, with the scopes asked for.
    let answer = poll(&srv, OAUTH_APP.client_id, device_code(&codes)).await;
    let token = answer["access_token"].as_str().expect("a token").to_owned();
    assert!(token.starts_with("gho_"), "{answer}");
    assert_eq!(answer["token_type"], "bearer");
    assert_eq!(answer["scope"], "repo,gist");
    assert!(answer.get("expires_in").is_none(), "{answer}");
    let user = get_user(&srv, &token).await;
    assert_eq!(user.status(), 200);
    assert_eq!(user.headers()["x-oauth-scopes"], "repo, gist");

    // An ordinary authorization of alice: in her grants, known to the app's token check.
    let grants = srv.grants(&ALICE).await;
    assert!(
        grants
            .iter()
            .any(|g| g["app"]["client_id"] == OAUTH_APP.client_id
                && g["scopes"] == json!(["repo", "gist"])),
        "{grants:?}"
    );
    let check = srv
        .post(&format!("/applications/{}/token", OAUTH_APP.client_id))
        .basic_auth(OAUTH_APP.client_id, Some(OAUTH_APP.client_secret))
        .json(&json!({ "access_token": token }))
        .send()
        .await
        .expect("check");
    assert_eq!(check.status(), 200);
    assert_eq!(
        check.json::<Value>().await.expect("JSON")["user"]["login"],
        "alice"
    );

    // Once: a used code is no code, and its user code cannot be entered again.
    assert_error(
        &poll(&srv, OAUTH_APP.client_id, device_code(&codes)).await,
        "incorrect_device_code",
    );
    let token = form_token(&srv, &client).await;
    let again = enter(&srv, &client, &token, user_code(&codes)).await;
    assert_eq!(again.status(), 404);
    assert!(
        again
            .text()
            .await
            .expect("body")
            .contains("incorrect or has expired")
    );
}

#[tokio::test]
async fn an_expiring_github_app_gets_a_ghu_token_that_expires() {
    let srv = spawn().await;
    let client = signed_in(&srv, &ALICE).await;
    let codes = request_codes(&srv, EXPIRING_CLIENT_ID, "repo").await;
    let (consent, _) = decide(&srv, &client, user_code(&codes), "1").await;
    assert!(consent.contains("expiring cli"), "{consent}");
    assert!(consent.contains("by <strong>bob</strong>"), "{consent}");
    let answer = poll(&srv, EXPIRING_CLIENT_ID, device_code(&codes)).await;
    let token = answer["access_token"].as_str().expect("a token").to_owned();
    assert!(token.starts_with("ghu_"), "{answer}");
    // A GitHub App's user token has no scopes; it expires after the app's eight hours.
    assert_eq!(answer["scope"], "");
    assert_eq!(answer["expires_in"], 28_800);
    assert_eq!(answer["refresh_token_expires_in"], 15_897_600);
    let refresh_token = answer["refresh_token"].as_str().expect("a refresh token");
    assert!(refresh_token.starts_with("ghr_"), "{answer}");
    assert_eq!(get_user(&srv, &token).await.status(), 200);
    srv.clock.advance(28_800 + 1);
    assert_eq!(get_user(&srv, &token).await.status(), 401);

    // A device keeps no client secret, so its refresh needs none (GitHub's rule).
    let renewed: Value = Client::new()
        .post(srv.url("/login/oauth/access_token"))
        .header("accept", "application/json")
        .form(&[
            ("client_id", EXPIRING_CLIENT_ID),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .expect("POST /login/oauth/access_token")
        .json()
        .await
        .expect("JSON");
    let renewed_token = renewed["access_token"].as_str().expect("a new token");
    assert!(renewed_token.starts_with("ghu_"), "{renewed}");
    assert_eq!(get_user(&srv, renewed_token).await.status(), 200);
}

#[tokio::test]
async fn polls_faster_than_the_interval_slow_down_by_five_seconds() {
    let srv = spawn().await;
    let start = now();
    srv.clock.pin(start);
    let codes = request_codes(&srv, OAUTH_APP.client_id, "repo").await;
    let code = device_code(&codes);
    assert_error(
        &poll(&srv, OAUTH_APP.client_id, code).await,
        "authorization_pending",
    );
    // At once again: slow_down, and the interval answered is 10.
    let slow = poll(&srv, OAUTH_APP.client_id, code).await;
    assert_error(&slow, "slow_down");
    assert_eq!(slow["interval"], 10);
    // 9 s later is still too soon for the new interval: 15.
    srv.clock.pin(start + time::Duration::seconds(9));
    let slower = poll(&srv, OAUTH_APP.client_id, code).await;
    assert_error(&slower, "slow_down");
    assert_eq!(slower["interval"], 15);
    // Waiting the interval out: pending again, and the interval stays.
    srv.clock.pin(start + time::Duration::seconds(9 + 15));
    assert_error(
        &poll(&srv, OAUTH_APP.client_id, code).await,
        "authorization_pending",
    );
    srv.clock.pin(start + time::Duration::seconds(9 + 15 + 14));
    let form = Client::new()
        .post(srv.url("/login/oauth/access_token"))
        .form(&[
            ("client_id", OAUTH_APP.client_id),
            ("device_code", code),
            ("grant_type", GRANT_TYPE),
        ])
        .send()
        .await
        .expect("POST");
    // The form-encoded answer carries the interval too.
    let body = form.text().await.expect("body");
    assert!(body.starts_with("error=slow_down&"), "{body}");
    assert!(body.ends_with("&interval=20"), "{body}");
}

#[tokio::test]
async fn codes_expire_after_fifteen_minutes_approved_or_not() {
    let srv = spawn().await;
    let client = signed_in(&srv, &ALICE).await;
    let start = now();
    srv.clock.pin(start);
    let pending = request_codes(&srv, OAUTH_APP.client_id, "repo").await;
    let approved = request_codes(&srv, OAUTH_APP.client_id, "repo").await;
    srv.clock.pin(start + time::Duration::seconds(10));
    approve(&srv, &client, user_code(&approved)).await;

    srv.clock.pin(start + time::Duration::seconds(899));
    assert_error(
        &poll(&srv, OAUTH_APP.client_id, device_code(&pending)).await,
        "authorization_pending",
    );
    srv.clock.pin(start + time::Duration::seconds(900));
    for codes in [&pending, &approved] {
        assert_error(
            &poll(&srv, OAUTH_APP.client_id, device_code(codes)).await,
            "expired_token",
        );
    }
    // An expired user code cannot be entered.
    let token = form_token(&srv, &client).await;
    assert_eq!(
        enter(&srv, &client, &token, user_code(&pending))
            .await
            .status(),
        404
    );
    // Hours later the answer is still expired_token (expired codes are kept a day).
    srv.clock.pin(start + time::Duration::hours(5));
    assert_error(
        &poll(&srv, OAUTH_APP.client_id, device_code(&pending)).await,
        "expired_token",
    );
}

#[tokio::test]
async fn cancel_answers_access_denied_and_the_code_is_spent() {
    let srv = spawn().await;
    let client = signed_in(&srv, &ALICE).await;
    let codes = request_codes(&srv, OAUTH_APP.client_id, "repo").await;
    let (_, answer) = decide(&srv, &client, user_code(&codes), "0").await;
    assert_eq!(answer.status(), 200);
    let html = answer.text().await.expect("body");
    assert!(html.contains("Authorization cancelled"), "{html}");
    assert!(html.contains("not connected"), "{html}");
    for _ in 0..2 {
        assert_error(
            &poll(&srv, OAUTH_APP.client_id, device_code(&codes)).await,
            "access_denied",
        );
    }
    let token = form_token(&srv, &client).await;
    assert_eq!(
        enter(&srv, &client, &token, user_code(&codes))
            .await
            .status(),
        404
    );
    assert!(srv.grants(&ALICE).await.is_empty());
}

#[tokio::test]
async fn every_refusal_has_githubs_code() {
    let srv = spawn().await;
    // An unknown client id: GitHub's 404, the body in the flow's words.
    let answer = Client::new()
        .post(srv.url("/login/device/code"))
        .header("accept", "application/json")
        .form(&[("client_id", "ffffffffffffffffffff")])
        .send()
        .await
        .expect("POST");
    assert_eq!(answer.status(), 404);
    assert_error(
        &answer.json().await.expect("JSON"),
        "incorrect_client_credentials",
    );
    let answer = Client::new()
        .post(srv.url("/login/device/code"))
        .header("accept", "application/json")
        .send()
        .await
        .expect("POST");
    assert_eq!(answer.status(), 404, "no client id at all");
    // An app that has not enabled the device flow: 400 device_flow_disabled.
    let answer = Client::new()
        .post(srv.url("/login/device/code"))
        .header("accept", "application/json")
        .form(&[("client_id", OTHER_APP.client_id)])
        .send()
        .await
        .expect("POST");
    assert_eq!(answer.status(), 400);
    let body: Value = answer.json().await.expect("JSON");
    assert_error(&body, "device_flow_disabled");
    assert_eq!(
        body["error_description"],
        "Device Flow must be explicitly enabled for this App"
    );
    // Over-long parameters are refused before any look-up.
    let long = "x".repeat(5000);
    let answer = Client::new()
        .post(srv.url("/login/device/code"))
        .form(&[("client_id", OAUTH_APP.client_id), ("scope", long.as_str())])
        .send()
        .await
        .expect("POST");
    assert_eq!(answer.status(), 400);

    // Polls: HTTP 200 and the error, whatever is wrong.
    let codes = request_codes(&srv, OAUTH_APP.client_id, "repo").await;
    let code = device_code(&codes);
    assert_error(
        &poll(&srv, "ffffffffffffffffffff", code).await,
        "incorrect_client_credentials",
    );
    assert_error(
        &poll(&srv, &long, code).await,
        "incorrect_client_credentials",
    );
    assert_error(
        &poll(&srv, OTHER_APP.client_id, code).await,
        "device_flow_disabled",
    );
    // Another app's code is no code of this one.
    assert_error(
        &poll(&srv, GITHUB_APP.client_id, code).await,
        "incorrect_device_code",
    );
    for wrong in [
        "",
        "xyz",
        "0123456789abcdef0123456789abcdef01234567",
        long.as_str(),
    ] {
        assert_error(
            &poll(&srv, OAUTH_APP.client_id, wrong).await,
            "incorrect_device_code",
        );
    }
    // A JSON poll with an XML answer, and a grant type that is not the device's.
    let answer = Client::new()
        .post(srv.url("/login/oauth/access_token"))
        .header("accept", "application/xml")
        .json(&json!({ "client_id": OAUTH_APP.client_id, "device_code": code, "grant_type": GRANT_TYPE }))
        .send()
        .await
        .expect("POST");
    assert_eq!(answer.status(), 200);
    let body = answer.text().await.expect("body");
    assert!(
        body.starts_with("<OAuth><error>authorization_pending</error>"),
        "{body}"
    );
    let answer = Client::new()
        .post(srv.url("/login/oauth/access_token"))
        .header("accept", "application/json")
        .form(&[
            ("client_id", OAUTH_APP.client_id),
            ("device_code", code),
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_cod"),
        ])
        .send()
        .await
        .expect("POST");
    let body: Value = answer.json().await.expect("JSON");
    assert_eq!(body["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn racing_polls_of_an_approved_code_give_one_token() {
    let srv = spawn().await;
    let client = signed_in(&srv, &ALICE).await;
    let codes = request_codes(&srv, OAUTH_APP.client_id, "gist").await;
    approve(&srv, &client, user_code(&codes)).await;
    let answers = futures_util::future::join_all(
        (0..8).map(|_| poll(&srv, OAUTH_APP.client_id, device_code(&codes))),
    )
    .await;
    let tokens: Vec<&Value> = answers
        .iter()
        .filter(|a| a.get("access_token").is_some())
        .collect();
    assert_eq!(tokens.len(), 1, "{answers:?}");
    for answer in answers.iter().filter(|a| a.get("access_token").is_none()) {
        assert_error(answer, "incorrect_device_code");
    }
    assert_eq!(srv.authorizations(&ALICE).await.len(), 1);
}

#[tokio::test]
async fn forms_without_the_sessions_token_are_refused() {
    let srv = spawn().await;
    let client = signed_in(&srv, &ALICE).await;
    let codes = request_codes(&srv, OAUTH_APP.client_id, "repo").await;
    for token in [None, Some("wrong")] {
        let mut form = vec![("user_code", user_code(&codes))];
        if let Some(token) = token {
            form.push(("authenticity_token", token));
        }
        let answer = client
            .post(srv.url("/login/device"))
            .form(&form)
            .send()
            .await
            .expect("POST");
        assert_eq!(answer.status(), 422);
        form.push(("authorize", "1"));
        let answer = client
            .post(srv.url("/login/device/authorize"))
            .form(&form)
            .send()
            .await
            .expect("POST");
        assert_eq!(answer.status(), 422);
    }
    // Another browser's token (a signed-out one's) is no better.
    let stranger = browser();
    let answer = stranger
        .post(srv.url("/login/device/authorize"))
        .form(&[
            ("user_code", user_code(&codes)),
            ("authorize", "1"),
            ("authenticity_token", "x"),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(answer.status(), 422);
    assert_error(
        &poll(&srv, OAUTH_APP.client_id, device_code(&codes)).await,
        "authorization_pending",
    );
}

#[tokio::test]
async fn fifty_codes_an_hour_per_user() {
    let srv = spawn().await;
    let alice = signed_in(&srv, &ALICE).await;
    let token = form_token(&srv, &alice).await;
    // Fifty wrong codes, well-formed or not: each the form again, 404.
    for i in 0..50 {
        let typed = if i % 2 == 0 {
            "BCDF-GHJK"
        } else {
            "not a code"
        };
        let answer = enter(&srv, &alice, &token, typed).await;
        assert_eq!(answer.status(), 404, "submission {i}");
    }
    // The fifty-first is refused, right code or not, with a clear page.
    let codes = request_codes(&srv, OAUTH_APP.client_id, "repo").await;
    let answer = enter(&srv, &alice, &token, user_code(&codes)).await;
    assert_eq!(answer.status(), 429);
    let html = answer.text().await.expect("body");
    assert!(html.contains("Too many codes have been entered"), "{html}");
    // Another user is not held to alice's count, and an hour later neither is alice.
    let bob = signed_in(&srv, &BOB).await;
    let bobs = form_token(&srv, &bob).await;
    assert_eq!(
        enter(&srv, &bob, &bobs, user_code(&codes)).await.status(),
        200
    );
    srv.clock.advance(3_600);
    let fresh = request_codes(&srv, OAUTH_APP.client_id, "repo").await;
    assert_eq!(
        enter(&srv, &alice, &token, user_code(&fresh))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn an_app_takes_fifty_entered_codes_an_hour() {
    let srv = spawn().await;
    let alice = signed_in(&srv, &ALICE).await;
    let token = form_token(&srv, &alice).await;
    // Each matching code counts once for the app (and once for alice: fifty, her limit too).
    for _ in 0..50 {
        let codes = request_codes(&srv, OAUTH_APP.client_id, "repo").await;
        assert_eq!(
            enter(&srv, &alice, &token, user_code(&codes))
                .await
                .status(),
            200
        );
    }
    let bob = signed_in(&srv, &BOB).await;
    let bobs = form_token(&srv, &bob).await;
    let codes = request_codes(&srv, OAUTH_APP.client_id, "repo").await;
    assert_eq!(
        enter(&srv, &bob, &bobs, user_code(&codes)).await.status(),
        429
    );
    // Other apps are not held to this one's count.
    let other = request_codes(&srv, GITHUB_APP.client_id, "").await;
    assert_eq!(
        enter(&srv, &bob, &bobs, user_code(&other)).await.status(),
        200
    );
}

#[tokio::test]
async fn the_eleventh_device_token_revokes_the_oldest() {
    let srv = spawn().await;
    let client = signed_in(&srv, &ALICE).await;
    let mut tokens = Vec::new();
    for _ in 0..11 {
        let codes = request_codes(&srv, OAUTH_APP.client_id, "gist").await;
        approve(&srv, &client, user_code(&codes)).await;
        let answer = poll(&srv, OAUTH_APP.client_id, device_code(&codes)).await;
        tokens.push(answer["access_token"].as_str().expect("token").to_owned());
        // Distinct creation times, so "oldest" is well defined.
        srv.clock.advance(1);
    }
    assert_eq!(
        get_user(&srv, &tokens[0]).await.status(),
        401,
        "the oldest is revoked"
    );
    for token in &tokens[1..] {
        assert_eq!(get_user(&srv, token).await.status(), 200);
    }
}

#[tokio::test]
async fn only_hashes_of_the_codes_are_stored() {
    let srv = spawn().await;
    let codes = request_codes(&srv, OAUTH_APP.client_id, "repo").await;
    let sql = "SELECT device_code_hash, user_code_hash, scopes, state, interval_seconds, last_polled_at \
               FROM device_codes";
    let read = || async {
        if srv.db_url().starts_with("postgres") {
            let pool = sqlx::PgPool::connect(srv.db_url()).await.expect("connect");
            sqlx::query_as::<_, Row>(sql)
                .fetch_all(&pool)
                .await
                .expect("rows")
        } else {
            let pool = sqlx::SqlitePool::connect(srv.db_url())
                .await
                .expect("connect");
            sqlx::query_as::<_, Row>(sql)
                .fetch_all(&pool)
                .await
                .expect("rows")
        }
    };
    let rows = read().await;
    assert_eq!(rows.len(), 1);
    let (device_hash, user_hash, scopes, state, interval, polled) = rows[0].clone();
    assert_eq!(device_hash, Sha256::digest(device_code(&codes)).to_vec());
    let normalized = user_code(&codes).replace('-', "");
    assert_eq!(user_hash, Sha256::digest(normalized.as_bytes()).to_vec());
    assert_eq!(
        (scopes.as_str(), state.as_str(), interval, polled),
        ("repo", "pending", 5, None)
    );

    // A wrong code's poll writes nothing; a pending poll writes its time.
    assert_error(
        &poll(
            &srv,
            OAUTH_APP.client_id,
            "0123456789abcdef0123456789abcdef01234567",
        )
        .await,
        "incorrect_device_code",
    );
    assert_eq!(read().await, rows);
    assert_error(
        &poll(&srv, OAUTH_APP.client_id, device_code(&codes)).await,
        "authorization_pending",
    );
    assert!(read().await[0].5.is_some());
}

// The server runs on this test's runtime: node must be waited for on other threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn octokit_polls_while_the_user_approves() {
    let srv = spawn().await;
    let browser = signed_in(&srv, &ALICE).await;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/octokit");
    assert!(
        dir.join("node_modules/@octokit/auth-oauth-device/package.json")
            .is_file(),
        "the octokit clients are not installed: run `npm ci --prefix tests/clients/octokit`"
    );
    let mut child = Command::new("node")
        .arg(dir.join("device_flow.mjs"))
        .args([srv.url("/api/v3"), OAUTH_APP.client_id.to_owned()])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `node` ({e}): install Node.js 20 or later"));
    let pid = child.id();
    let kill = move || {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    };
    let stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let (lines, mut read) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    // The client shows the code (after its own checks of the methods), then polls.
    let verification = tokio::time::timeout(Duration::from_mins(1), async {
        while let Some(line) = read.recv().await {
            if let Some(json) = line.strip_prefix("VERIFY ") {
                return Some(serde_json::from_str::<Value>(json).expect("JSON"));
            }
        }
        None
    })
    .await;
    let Ok(Some(verification)) = verification else {
        kill();
        panic!("node showed no code: {}", errors.join().unwrap_or_default());
    };
    assert_eq!(verification["interval"], 5);
    approve(
        &srv,
        &browser,
        verification["user_code"].as_str().expect("code"),
    )
    .await;

    // It polls every `interval` (5 s) seconds: done well within a minute.
    let rest = tokio::time::timeout(Duration::from_mins(1), async {
        let mut rest = Vec::new();
        while let Some(line) = read.recv().await {
            rest.push(line);
        }
        rest
    })
    .await;
    let Ok(rest) = rest else {
        kill();
        panic!("node did not finish within a minute");
    };
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("joined")
        .expect("wait for node");
    let errors = errors.join().unwrap_or_default();
    assert!(
        status.success(),
        "node device_flow.mjs failed:\n{rest:?}\n{errors}"
    );
    let out: Value = serde_json::from_str(rest.last().expect("a last line")).expect("JSON");
    assert_eq!(out["login"], "alice");
    let token = out["authentication"]["token"].as_str().expect("token");
    let user = get_user(&srv, token).await;
    assert_eq!(user.status(), 200);
    assert_eq!(user.headers()["x-oauth-scopes"], "repo");
}
