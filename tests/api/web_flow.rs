//! The OAuth web application flow (issue 19, second slice), driven as a browser and an app
//! would: a cookie-jar client signs in through the pages, follows no redirect (each is
//! asserted), consents, and the "app" exchanges the code at `/login/oauth/access_token`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Client;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::signin::{browser, location, sign_in, token_of};
use crate::support::{ALICE, DEFAULT_FIXTURE, GITHUB_APP, OAUTH_APP, TestServer};

pub(crate) const CALLBACK: &str = "http://my-oauth-app.example.com/callback";
pub(crate) const LOOPBACK_CALLBACK: &str = "http://127.0.0.1:8000/cb";

/// The default fixture, with callback URLs: the OAuth app's on a host, the GitHub App's on
/// the loopback address; the other app keeps none.
pub(crate) fn fixture() -> String {
    DEFAULT_FIXTURE
        .replace(
            "url = \"http://my-oauth-app.example.com\"\n",
            &format!("url = \"http://my-oauth-app.example.com\"\ncallback_url = \"{CALLBACK}\"\n"),
        )
        .replace(
            "url = \"http://my-github-app.com\"\n",
            &format!(
                "url = \"http://my-github-app.com\"\ncallback_url = \"{LOOPBACK_CALLBACK}\"\n"
            ),
        )
}

async fn spawn() -> TestServer {
    TestServer::spawn_seeded(&fixture(), None).await
}

/// A browser signed in as alice.
pub(crate) async fn alice(srv: &TestServer) -> Client {
    let client = browser();
    let answer = sign_in(srv, &client, &ALICE).await;
    assert_eq!(answer.status(), 303);
    client
}

pub(crate) fn authorize_url(srv: &TestServer, params: &[(&str, &str)]) -> String {
    format!(
        "{}?{}",
        srv.url("/login/oauth/authorize"),
        serde_urlencoded::to_string(params).expect("query")
    )
}

/// A query parameter of a redirect's `Location`.
pub(crate) fn param(location: &str, name: &str) -> Option<String> {
    let query = location.split_once('?')?.1;
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .expect("query")
        .into_iter()
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// The hidden fields of the consent form, as the browser would post them back.
pub(crate) fn form_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .map(|rest| {
            let (name, rest) = rest.split_once('"').expect("name");
            let value = rest
                .split_once("value=\"")
                .expect("value")
                .1
                .split('"')
                .next()
                .expect("quote");
            (name.to_owned(), unescape(value))
        })
        .collect()
}

/// Undoes askama's HTML escaping of an attribute value.
fn unescape(value: &str) -> String {
    value
        .replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

/// Loads the consent page for `params` (asserting it is shown) and posts `authorize`.
async fn consent(
    srv: &TestServer,
    client: &Client,
    params: &[(&str, &str)],
    authorize: &str,
) -> reqwest::Response {
    // Asked for: once the app holds these scopes, GitHub skips the page.
    let mut params = params.to_vec();
    if !params.iter().any(|(k, _)| *k == "prompt") {
        params.push(("prompt", "consent"));
    }
    let page = client
        .get(authorize_url(srv, &params))
        .send()
        .await
        .expect("GET authorize");
    assert_eq!(page.status(), 200, "the consent page");
    let html = page.text().await.expect("body");
    let mut form = form_fields(&html);
    form.push(("authorize".to_owned(), authorize.to_owned()));
    client
        .post(srv.url("/login/oauth/authorize"))
        .form(&form)
        .send()
        .await
        .expect("POST authorize")
}

/// Consents to `params` and returns the code from the redirect (asserting `state`).
pub(crate) async fn code_for(srv: &TestServer, client: &Client, params: &[(&str, &str)]) -> String {
    let answer = consent(srv, client, params, "1").await;
    assert_eq!(answer.status(), 302);
    let to = location(&answer).to_owned();
    if let Some((_, state)) = params.iter().find(|(k, _)| *k == "state") {
        assert_eq!(param(&to, "state").as_deref(), Some(*state));
    }
    let code = param(&to, "code").expect("a code");
    assert_eq!(code.len(), 20);
    assert!(code.bytes().all(|b| b.is_ascii_hexdigit()));
    code
}

/// Exchanges with a form body, asking for JSON.
pub(crate) async fn exchange(srv: &TestServer, fields: &[(&str, &str)]) -> Value {
    let answer = reqwest::Client::new()
        .post(srv.url("/login/oauth/access_token"))
        .header("accept", "application/json")
        .form(fields)
        .send()
        .await
        .expect("POST access_token");
    assert_eq!(answer.status(), 200);
    answer.json().await.expect("json")
}

fn oauth_exchange(code: &str) -> Vec<(&str, &str)> {
    vec![
        ("client_id", OAUTH_APP.client_id),
        ("client_secret", OAUTH_APP.client_secret),
        ("code", code),
    ]
}

pub(crate) fn assert_error(answer: &Value, error: &str) {
    assert_eq!(answer["error"], error, "{answer}");
    assert!(answer["error_description"].is_string());
    assert!(
        answer["error_uri"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://docs.github.com/"))
    );
    assert!(answer.get("access_token").is_none());
}

#[tokio::test]
async fn the_whole_flow_gives_a_working_token_in_the_grants() {
    let srv = spawn().await;
    let client = browser();
    let params = [
        ("client_id", OAUTH_APP.client_id),
        ("scope", "repo gist,user:email"),
        ("state", "xyz 1"),
    ];
    // Not signed in: the sign-in page, then back.
    let first = client
        .get(authorize_url(&srv, &params))
        .send()
        .await
        .expect("GET");
    assert_eq!(first.status(), 303);
    let to_login = location(&first).to_owned();
    assert!(to_login.starts_with("/login?return_to="), "{to_login}");
    let return_to = param(&to_login, "return_to").expect("return_to");
    let login_page = client.get(srv.url(&to_login)).send().await.expect("login");
    let token = token_of(&login_page.text().await.expect("body"));
    let signed = client
        .post(srv.url("/session"))
        .form(&[
            ("login", ALICE.login),
            ("password", ALICE.password),
            ("authenticity_token", token.as_str()),
            ("return_to", return_to.as_str()),
        ])
        .send()
        .await
        .expect("sign in");
    assert_eq!(signed.status(), 303);
    assert_eq!(location(&signed), return_to);

    // The consent page names the app, its owner and each scope in plain words.
    let page = client.get(srv.url(&return_to)).send().await.expect("page");
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .expect("csp")
            .contains("form-action 'self' http://my-oauth-app.example.com;")
    );
    let html = page.text().await.expect("body");
    for shown in [
        OAUTH_APP.name,
        "alice",
        "Full control of private repositories",
        "Create gists",
        "Access user email addresses",
        "name=\"authorize\" value=\"1\"",
        "Authorize alice",
        "name=\"authorize\" value=\"0\"",
    ] {
        assert!(html.contains(shown), "{shown} missing");
    }

    let code = code_for(&srv, &client, &params).await;
    let answer = exchange(&srv, &oauth_exchange(&code)).await;
    let token = answer["access_token"].as_str().expect("a token").to_owned();
    assert!(token.starts_with("gho_"));
    assert_eq!(answer["token_type"], "bearer");
    assert_eq!(answer["scope"], "repo,gist,user:email");

    // The token works, with its scopes.
    let user = srv
        .get("/user")
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET /user");
    assert_eq!(user.status(), 200);
    assert_eq!(user.headers()["x-oauth-scopes"], "repo, gist, user:email");

    // It is one of alice's grants and the app's token check knows it.
    let grants = srv.grants(&ALICE).await;
    assert!(
        grants
            .iter()
            .any(|g| g["app"]["client_id"] == OAUTH_APP.client_id),
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
    let checked: Value = check.json().await.expect("json");
    assert_eq!(checked["user"]["login"], "alice");

    // A used code is refused, and the grant's deletion kills the token.
    assert_error(
        &exchange(&srv, &oauth_exchange(&code)).await,
        "bad_verification_code",
    );
    let grant_id = grants
        .iter()
        .find(|g| g["app"]["client_id"] == OAUTH_APP.client_id)
        .expect("grant")["id"]
        .as_i64()
        .expect("id");
    let deleted = srv
        .delete(&format!("/applications/grants/{grant_id}"))
        .basic_auth(ALICE.login, Some(ALICE.password))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), 204);
    let after = srv
        .get("/user")
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET");
    assert_eq!(after.status(), 401);
}

#[tokio::test]
async fn answers_come_in_the_format_asked_with_form_json_or_basic() {
    let srv = spawn().await;
    let client = alice(&srv).await;
    let params = [("client_id", OAUTH_APP.client_id), ("scope", "repo,gist")];
    // Form body, default format: form-encoded.
    let code = code_for(&srv, &client, &params).await;
    let answer = Client::new()
        .post(srv.url("/login/oauth/access_token"))
        .form(&oauth_exchange(&code))
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
    let body = answer.text().await.expect("body");
    assert!(body.starts_with("access_token=gho_"), "{body}");
    assert!(
        body.ends_with("&scope=repo%2Cgist&token_type=bearer"),
        "{body}"
    );

    // JSON body with Basic credentials, XML answer.
    let code = code_for(&srv, &client, &params).await;
    let answer = Client::new()
        .post(srv.url("/login/oauth/access_token"))
        .basic_auth(OAUTH_APP.client_id, Some(OAUTH_APP.client_secret))
        .header("accept", "application/xml")
        .json(&json!({ "code": code }))
        .send()
        .await
        .expect("POST");
    let body = answer.text().await.expect("body");
    assert!(
        body.starts_with(
            "<OAuth><token_type>bearer</token_type><scope>repo,gist</scope><access_token>gho_"
        ),
        "{body}"
    );
    assert!(body.ends_with("</access_token></OAuth>"));

    // Errors come in the same format, with HTTP 200.
    let answer = Client::new()
        .post(srv.url("/login/oauth/access_token"))
        .header("accept", "application/xml")
        .form(&oauth_exchange("0123456789abcdef0123"))
        .send()
        .await
        .expect("POST");
    assert_eq!(answer.status(), 200);
    let body = answer.text().await.expect("body");
    assert!(
        body.starts_with("<OAuth><error>bad_verification_code</error>"),
        "{body}"
    );
}

#[tokio::test]
async fn every_exchange_error_has_githubs_code() {
    let srv = spawn().await;
    let client = alice(&srv).await;
    let params = [("client_id", OAUTH_APP.client_id), ("scope", "repo")];

    // Wrong secret: incorrect_client_credentials, and the code is not spent by it.
    let code = code_for(&srv, &client, &params).await;
    let wrong = exchange(
        &srv,
        &[
            ("client_id", OAUTH_APP.client_id),
            ("client_secret", "0000000000000000000000000000000000000000"),
            ("code", &code),
        ],
    )
    .await;
    assert_error(&wrong, "incorrect_client_credentials");

    // Wrong redirect_uri at the exchange.
    let mut fields = oauth_exchange(&code);
    fields.push((
        "redirect_uri",
        "http://my-oauth-app.example.com/callback/other",
    ));
    assert_error(&exchange(&srv, &fields).await, "redirect_uri_mismatch");

    // Expired (ten minutes on the server's clock).
    let code = code_for(&srv, &client, &params).await;
    srv.clock.advance(10 * 60 + 1);
    assert_error(
        &exchange(&srv, &oauth_exchange(&code)).await,
        "bad_verification_code",
    );

    // Another app's code is no code of this one.
    let code = code_for(&srv, &client, &params).await;
    let other = exchange(
        &srv,
        &[
            ("client_id", GITHUB_APP.client_id),
            ("client_secret", GITHUB_APP.client_secret),
            ("code", &code),
        ],
    )
    .await;
    assert_error(&other, "bad_verification_code");

    // Grant types GitHub does not have are refused.
    let mut fields = oauth_exchange(&code);
    fields.push(("grant_type", "client_credentials"));
    assert_error(&exchange(&srv, &fields).await, "unsupported_grant_type");
}

#[tokio::test]
async fn pkce_s256_is_verified_and_plain_refused() {
    let srv = spawn().await;
    let client = alice(&srv).await;
    let verifier = "a-verifier-of-enough-length-0123456789-abcdefghij";
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let params = [
        ("client_id", OAUTH_APP.client_id),
        ("scope", "gist"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    for verifier_sent in [None, Some("wrong-verifier-wrong-verifier-wrong-verifier-0")] {
        let code = code_for(&srv, &client, &params).await;
        let mut fields = oauth_exchange(&code);
        if let Some(v) = verifier_sent {
            fields.push(("code_verifier", v));
        }
        assert_error(&exchange(&srv, &fields).await, "bad_verification_code");
    }
    let code = code_for(&srv, &client, &params).await;
    let mut fields = oauth_exchange(&code);
    fields.push(("code_verifier", verifier));
    let answer = exchange(&srv, &fields).await;
    assert!(
        answer["access_token"]
            .as_str()
            .is_some_and(|t| t.starts_with("gho_"))
    );

    // plain (or no method) is refused at the authorize step, reported to the app.
    for method in ["plain", ""] {
        let answer = client
            .get(authorize_url(
                &srv,
                &[
                    ("client_id", OAUTH_APP.client_id),
                    ("code_challenge", &challenge),
                    ("code_challenge_method", method),
                    ("state", "s"),
                ],
            ))
            .send()
            .await
            .expect("GET");
        assert_eq!(answer.status(), 302);
        let to = location(&answer);
        assert!(to.starts_with(CALLBACK));
        assert_eq!(param(to, "error").as_deref(), Some("invalid_request"));
        assert_eq!(param(to, "state").as_deref(), Some("s"));
    }
}

#[tokio::test]
async fn redirect_uri_rules_and_mismatch_goes_to_the_callback() {
    let srv = spawn().await;
    let client = alice(&srv).await;
    // A subdirectory is fine: the code goes there.
    let sub = "http://my-oauth-app.example.com/callback/deeper?x=1";
    let code_answer = consent(
        &srv,
        &client,
        &[("client_id", OAUTH_APP.client_id), ("redirect_uri", sub)],
        "1",
    )
    .await;
    assert!(location(&code_answer).starts_with(&format!("{sub}&code=")));

    // Another host, port or path: never there, to the callback with the error.
    for bad in [
        "http://evil.example/callback",
        "http://my-oauth-app.example.com:8080/callback",
        "http://my-oauth-app.example.com/other",
    ] {
        let answer = client
            .get(authorize_url(
                &srv,
                &[
                    ("client_id", OAUTH_APP.client_id),
                    ("redirect_uri", bad),
                    ("state", "st"),
                ],
            ))
            .send()
            .await
            .expect("GET");
        assert_eq!(answer.status(), 302, "{bad}");
        let to = location(&answer);
        assert!(
            to.starts_with(&format!("{CALLBACK}?error=redirect_uri_mismatch")),
            "{to}"
        );
        assert!(param(to, "error_description").is_some());
        assert!(param(to, "error_uri").is_some());
        assert_eq!(param(to, "state").as_deref(), Some("st"));
    }

    // A loopback callback takes any port.
    let answer = consent(
        &srv,
        &client,
        &[
            ("client_id", GITHUB_APP.client_id),
            ("redirect_uri", "http://127.0.0.1:54321/cb"),
        ],
        "1",
    )
    .await;
    assert!(location(&answer).starts_with("http://127.0.0.1:54321/cb?code="));
    let code = param(location(&answer), "code").expect("code");
    let answer = exchange(
        &srv,
        &[
            ("client_id", GITHUB_APP.client_id),
            ("client_secret", GITHUB_APP.client_secret),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:54321/cb"),
        ],
    )
    .await;
    assert!(
        answer["access_token"]
            .as_str()
            .is_some_and(|t| t.starts_with("ghu_"))
    );
    assert_eq!(answer["scope"], "");
}

#[tokio::test]
async fn cancel_csrf_unknown_apps_and_apps_without_callback() {
    let srv = spawn().await;
    let client = alice(&srv).await;
    let params = [
        ("client_id", OAUTH_APP.client_id),
        ("scope", "repo"),
        ("state", "k"),
    ];
    let cancel = consent(&srv, &client, &params, "0").await;
    assert_eq!(cancel.status(), 302);
    let to = location(&cancel);
    assert!(to.starts_with(&format!("{CALLBACK}?error=access_denied")));
    assert_eq!(param(to, "state").as_deref(), Some("k"));
    assert!(param(to, "error_uri").is_some());

    // The consent form without its authenticity_token (or with another's) is refused.
    for token in [None, Some("forged")] {
        let mut form = vec![
            ("client_id", OAUTH_APP.client_id),
            ("scope", "repo"),
            ("authorize", "1"),
        ];
        if let Some(t) = token {
            form.push(("authenticity_token", t));
        }
        let answer = client
            .post(srv.url("/login/oauth/authorize"))
            .form(&form)
            .send()
            .await
            .expect("POST");
        assert_eq!(answer.status(), 422);
    }

    let unknown = client
        .get(authorize_url(
            &srv,
            &[("client_id", "ffffffffffffffffffff")],
        ))
        .send()
        .await
        .expect("GET");
    assert_eq!(unknown.status(), 404);
    assert!(
        unknown.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/html")
    );

    let no_callback = client
        .get(authorize_url(
            &srv,
            &[("client_id", "zyxwv98765utsrq43210")],
        ))
        .send()
        .await
        .expect("GET");
    assert_eq!(no_callback.status(), 400);

    // Over-long parameters: a page, never a 500.
    let long = "x".repeat(5000);
    let answer = client
        .get(authorize_url(
            &srv,
            &[("client_id", OAUTH_APP.client_id), ("state", &long)],
        ))
        .send()
        .await
        .expect("GET");
    assert_eq!(answer.status(), 400);
}

#[tokio::test]
async fn granted_scopes_skip_the_page_unless_prompt_asks() {
    let srv = spawn().await;
    let client = alice(&srv).await;
    let params = [("client_id", OAUTH_APP.client_id), ("scope", "repo,gist")];
    let code = code_for(&srv, &client, &params).await;
    exchange(&srv, &oauth_exchange(&code)).await;

    // Everything already granted (or a subset, or no scope at all): straight back.
    for scope in [Some("repo,gist"), Some("public_repo"), None] {
        let mut asked = vec![("client_id", OAUTH_APP.client_id), ("state", "q")];
        if let Some(s) = scope {
            asked.push(("scope", s));
        }
        let answer = client
            .get(authorize_url(&srv, &asked))
            .send()
            .await
            .expect("GET");
        assert_eq!(answer.status(), 302, "{scope:?}");
        let to = location(&answer);
        assert_eq!(param(to, "state").as_deref(), Some("q"));
        let code = param(to, "code").expect("code");
        if scope.is_none() {
            // An empty scope yields the scopes already granted.
            let answer = exchange(&srv, &oauth_exchange(&code)).await;
            assert_eq!(answer["scope"], "repo,gist");
        }
    }
    // prompt=consent, or a scope not yet granted, shows the page.
    for extra in [("prompt", "consent"), ("scope", "user")] {
        let answer = client
            .get(authorize_url(
                &srv,
                &[("client_id", OAUTH_APP.client_id), extra],
            ))
            .send()
            .await
            .expect("GET");
        assert_eq!(answer.status(), 200, "{extra:?}");
    }
}

#[tokio::test]
async fn the_eleventh_token_revokes_the_oldest() {
    let srv = spawn().await;
    let client = alice(&srv).await;
    let params = [
        ("client_id", OAUTH_APP.client_id),
        ("scope", "gist"),
        ("prompt", "consent"),
    ];
    let mut tokens = Vec::new();
    for _ in 0..11 {
        let code = code_for(&srv, &client, &params).await;
        let answer = exchange(&srv, &oauth_exchange(&code)).await;
        tokens.push(answer["access_token"].as_str().expect("token").to_owned());
        // Distinct creation times, so "oldest" is well defined.
        srv.clock.advance(1);
    }
    let status = |token: String| {
        let srv = &srv;
        async move {
            srv.get("/user")
                .bearer_auth(token)
                .send()
                .await
                .expect("GET")
                .status()
        }
    };
    assert_eq!(
        status(tokens[0].clone()).await,
        401,
        "the oldest is revoked"
    );
    for token in &tokens[1..] {
        assert_eq!(status(token.clone()).await, 200);
    }
}

/// The limit holds under races: exchanges issued at once, with one creation time (the test
/// clock stands still), leave exactly ten live. The store deletes the excess in the
/// insert's transaction, under the grant's lock; before, each exchange counted and deleted
/// after its insert had committed, so a request that stopped in between left one too many.
#[tokio::test]
async fn racing_exchanges_leave_exactly_ten_live_tokens() {
    let srv = spawn().await;
    let client = alice(&srv).await;
    let params = [
        ("client_id", OAUTH_APP.client_id),
        ("scope", "gist"),
        ("prompt", "consent"),
    ];
    let mut codes = Vec::new();
    for _ in 0..16 {
        codes.push(code_for(&srv, &client, &params).await);
    }
    let requests: Vec<_> = codes.iter().map(|code| oauth_exchange(code)).collect();
    let answers =
        futures_util::future::join_all(requests.iter().map(|fields| exchange(&srv, fields))).await;
    let mut live = 0;
    for answer in &answers {
        let token = answer["access_token"]
            .as_str()
            .expect("every exchange gets a token");
        let status = srv
            .get("/user")
            .bearer_auth(token)
            .send()
            .await
            .expect("GET")
            .status();
        assert!(status == 200 || status == 401, "{status}");
        live += usize::from(status == 200);
    }
    assert_eq!(live, 10);
    let of_app = srv
        .authorizations(&ALICE)
        .await
        .into_iter()
        .filter(|a| a["app"]["client_id"] == OAUTH_APP.client_id && a["scopes"] == json!(["gist"]))
        .count();
    assert_eq!(of_app, 10);
}

/// A request that stops right after its token is inserted (a dropped connection, a crash)
/// cannot leave an eleventh: the store's insert of a flow token keeps the limit itself, in
/// the same transaction, with no later step to miss.
#[tokio::test]
async fn the_stores_insert_of_a_flow_token_keeps_the_limit() {
    let srv = spawn().await;
    let store = crate::signin::open_store(srv.db_url()).await;
    let app = grantd::domain::app::find(&*store, OAUTH_APP.client_id)
        .await
        .expect("the app");
    let alice = store
        .find_user_by_login(&grantd::domain::Login::parse("alice").expect("login"))
        .await
        .expect("store")
        .expect("alice");
    let now = time::OffsetDateTime::now_utc();
    let mut tokens = Vec::new();
    for i in 0..12 {
        let scopes = grantd::domain::scope::Scopes::parse(["gist"]).expect("scopes");
        let prepared = grantd::domain::user_token::prepare(
            &app,
            alice.id,
            scopes,
            grantd::domain::user_token::Flow::Web,
            now + time::Duration::seconds(i),
        )
        .expect("prepare");
        store
            .insert_authorization_with_refresh(
                &prepared.authorization,
                prepared.refresh_row(),
                &prepared.event(&grantd::domain::audit::Source::default(), now),
            )
            .await
            .expect("insert");
        tokens.push(prepared.token.expose().to_owned());
    }
    for (i, token) in tokens.iter().enumerate() {
        let status = srv
            .get("/user")
            .bearer_auth(token)
            .send()
            .await
            .expect("GET")
            .status();
        // The two oldest went with the eleventh and twelfth inserts.
        assert_eq!(status, if i < 2 { 401 } else { 200 }, "token {i}");
    }
}

#[tokio::test]
async fn racing_exchanges_of_one_code_give_one_token() {
    let srv = spawn().await;
    let client = alice(&srv).await;
    let code = code_for(&srv, &client, &[("client_id", OAUTH_APP.client_id)]).await;
    let fields = oauth_exchange(&code);
    let answers = futures_util::future::join_all((0..8).map(|_| exchange(&srv, &fields))).await;
    let tokens = answers
        .iter()
        .filter(|a| a.get("access_token").is_some())
        .count();
    assert_eq!(tokens, 1, "{answers:?}");
    for answer in answers.iter().filter(|a| a.get("access_token").is_none()) {
        assert_error(answer, "bad_verification_code");
    }
}

/// A code gets one try: an exchange refused for the code itself (a `redirect_uri` other than
/// the code's, a wrong PKCE verifier, expiry) uses it up, so the right request after it is
/// refused as well, and no token is issued.
#[tokio::test]
async fn an_exchange_refused_for_its_code_uses_the_code_up() {
    let srv = spawn().await;
    let client = alice(&srv).await;
    let before = srv.authorizations(&ALICE).await;
    let verifier = "a-verifier-of-enough-length-0123456789-abcdefghij";
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let params = [
        ("client_id", OAUTH_APP.client_id),
        ("scope", "gist"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let other_uri = (
        "redirect_uri",
        "http://my-oauth-app.example.com/callback/other",
    );
    let wrong_verifier = (
        "code_verifier",
        "wrong-verifier-wrong-verifier-wrong-verifier-0",
    );
    for (refused, error) in [
        (other_uri, "redirect_uri_mismatch"),
        (wrong_verifier, "bad_verification_code"),
    ] {
        let code = code_for(&srv, &client, &params).await;
        let mut fields = oauth_exchange(&code);
        fields.push(refused);
        if refused.0 != "code_verifier" {
            fields.push(("code_verifier", verifier));
        }
        assert_error(&exchange(&srv, &fields).await, error);
        let mut right = oauth_exchange(&code);
        right.push(("code_verifier", verifier));
        assert_error(&exchange(&srv, &right).await, "bad_verification_code");
    }
    // Expired, then the clock goes back: the code is gone all the same.
    let code = code_for(&srv, &client, &params).await;
    let mut right = oauth_exchange(&code);
    right.push(("code_verifier", verifier));
    srv.clock.advance(10 * 60 + 1);
    assert_error(&exchange(&srv, &right).await, "bad_verification_code");
    srv.clock.advance(-(10 * 60 + 1));
    assert_error(&exchange(&srv, &right).await, "bad_verification_code");

    assert_eq!(
        srv.authorizations(&ALICE).await,
        before,
        "no token was issued"
    );
}

#[tokio::test]
async fn the_token_is_an_authorization_the_app_token_api_resets_and_revokes() {
    let srv = spawn().await;
    let client = alice(&srv).await;
    let code = code_for(
        &srv,
        &client,
        &[("client_id", OAUTH_APP.client_id), ("scope", "repo")],
    )
    .await;
    let token = exchange(&srv, &oauth_exchange(&code)).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let listed = srv.authorizations(&ALICE).await;
    assert!(
        listed
            .iter()
            .any(|a| a["app"]["client_id"] == OAUTH_APP.client_id
                && a["token_last_eight"] == token[token.len() - 8..]),
        "{listed:?}"
    );
    let path = format!("/applications/{}/token", OAUTH_APP.client_id);
    let reset = srv
        .patch(&path)
        .basic_auth(OAUTH_APP.client_id, Some(OAUTH_APP.client_secret))
        .json(&json!({ "access_token": token }))
        .send()
        .await
        .expect("reset");
    assert_eq!(reset.status(), 200);
    let new_token = reset.json::<Value>().await.expect("json")["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let old = srv
        .get("/user")
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET");
    assert_eq!(old.status(), 401);
    let revoked = srv
        .delete(&path)
        .basic_auth(OAUTH_APP.client_id, Some(OAUTH_APP.client_secret))
        .json(&json!({ "access_token": new_token }))
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), 204);
    let gone = srv
        .get("/user")
        .bearer_auth(&new_token)
        .send()
        .await
        .expect("GET");
    assert_eq!(gone.status(), 401);
}

// The server runs on this test's runtime: node must be waited for on another thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn octokit_exchanges_a_web_flow_code() {
    let srv = spawn().await;
    let client = alice(&srv).await;
    let code = code_for(
        &srv,
        &client,
        &[("client_id", OAUTH_APP.client_id), ("scope", "repo gist")],
    )
    .await;
    let out = crate::octokit::run_script(
        "web_flow.mjs",
        vec![
            srv.url(""),
            OAUTH_APP.client_id.to_owned(),
            OAUTH_APP.client_secret.to_owned(),
            code,
            CALLBACK.to_owned(),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "node web_flow.mjs failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let authentication: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("JSON");
    let token = authentication["token"].as_str().expect("token");
    let user = srv
        .get("/user")
        .bearer_auth(token)
        .send()
        .await
        .expect("GET");
    assert_eq!(user.status(), 200);
    assert_eq!(user.headers()["x-oauth-scopes"], "repo, gist");
}

/// A GitHub App with expiring user tokens: the token expires (`expires_in`) and comes with a
/// refresh token (tests/api/refresh.rs tests its use).
#[tokio::test]
async fn expiring_github_app_tokens_answer_expires_in_and_a_refresh_token() {
    let fixture = format!(
        "{}\n[[apps]]\nname = \"expiring\"\nurl = \"http://exp.example\"\nowner = \"alice\"\n\
         kind = \"github\"\nclient_id = \"Iv1.00000000000000ee\"\n\
         client_secret = \"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\"\n\
         expire_user_tokens = true\ncallback_url = \"http://exp.example/cb\"\n",
        fixture()
    );
    let srv = TestServer::spawn_seeded(&fixture, None).await;
    let client = alice(&srv).await;
    let code = code_for(&srv, &client, &[("client_id", "Iv1.00000000000000ee")]).await;
    let answer = exchange(
        &srv,
        &[
            ("client_id", "Iv1.00000000000000ee"),
            ("client_secret", "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"),
            ("code", &code),
        ],
    )
    .await;
    assert!(
        answer["access_token"]
            .as_str()
            .is_some_and(|t| t.starts_with("ghu_"))
    );
    assert_eq!(answer["expires_in"], 28_800);
    assert!(
        answer["refresh_token"]
            .as_str()
            .is_some_and(|t| t.starts_with("ghr_"))
    );
    assert_eq!(answer["refresh_token_expires_in"], 15_897_600);
    let token = answer["access_token"].as_str().expect("token").to_owned();
    srv.clock.advance(28_800 + 1);
    let expired = srv
        .get("/user")
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET");
    assert_eq!(expired.status(), 401);
}
