//! Fuzzing the whole server (issue 18): one server, a few hundred generated requests against
//! its real routes, with every kind of credential, OTP, body and query string a client could
//! send. Whatever arrives, grantd answers: never a 5xx, never a dropped connection, and every
//! error in GitHub's JSON (`message`, `documentation_url`, and on a 422 `errors` of
//! `{resource, field, code}`).
//!
//! proptest's strategies are synchronous, so a `TestRunner` draws each request and async code
//! sends it. The runner's RNG has a fixed seed: CI sends the same requests on every run, and a
//! failure names the request to replay. Requests go through a plain client rather than
//! `RequestExt::go`, so that every failing request is collected and named; each answer is
//! checked for GitHub's error shape here and, as `go` does, against GitHub's OpenAPI
//! description of the operation.

use base64::Engine;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

/// How many requests one run sends: enough to reach every route with every kind of input a
/// few times, few enough to stay a few seconds in a debug build.
const REQUESTS: usize = 400;

/// The longest string a generated body holds (a body's limit is 1 MiB; this stays under it so
/// that the handlers, not the limit, read it).
const HUGE: usize = 200_000;

/// The objects the server holds when fuzzing starts, which requests may name.
#[derive(Clone)]
struct Known {
    tokens: Vec<String>,
    authorization_ids: Vec<i64>,
    grant_ids: Vec<i64>,
}

/// Every route of `src/http/mod.rs` with its methods, `{…}` for the parts a request fills in,
/// and a weight (the hot and the body-reading routes more often).
const ROUTES: &[(u32, &str, &[&str])] = &[
    (2, "/applications/grants", &["GET"]),
    (2, "/applications/grants/{grant_id}", &["GET", "DELETE"]),
    (5, "/authorizations", &["GET", "POST"]),
    (3, "/authorizations/clients/{client_id}", &["PUT"]),
    (
        3,
        "/authorizations/clients/{client_id}/{fingerprint}",
        &["PUT"],
    ),
    (
        4,
        "/authorizations/{authorization_id}",
        &["GET", "PATCH", "POST", "DELETE"],
    ),
    (
        6,
        "/applications/{client_id}/token",
        &["POST", "PATCH", "DELETE"],
    ),
    (3, "/applications/{client_id}/token/scoped", &["POST"]),
    (2, "/applications/{client_id}/grant", &["DELETE"]),
    (
        3,
        "/applications/{client_id}/tokens/{access_token}",
        &["GET", "POST", "DELETE"],
    ),
    (
        2,
        "/applications/{client_id}/grants/{access_token}",
        &["DELETE"],
    ),
    (3, "/user", &["GET"]),
    (1, "/healthz", &["GET"]),
    (1, "/openapi.json", &["GET"]),
    (1, "/nowhere", &["GET"]),
    (1, "/authorizations/1/2/3", &["GET"]),
];

const FIELDS: &[&str] = &[
    "access_token",
    "scopes",
    "add_scopes",
    "remove_scopes",
    "note",
    "note_url",
    "fingerprint",
    "client_id",
    "client_secret",
    "target",
    "target_id",
    "repositories",
    "repository_ids",
    "permissions",
];

/// One generated request, before the parts that depend on the clock (a current OTP code).
#[derive(Debug, Clone)]
struct Fuzzed {
    method: Method,
    path: String,
    query: String,
    authorization: Option<Vec<u8>>,
    otp: Option<Otp>,
    content_type: Option<&'static str>,
    body: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
enum Otp {
    Current,
    Sent(String),
}

/// Percent-encodes a path segment or query component (RFC 3986 unreserved pass through).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn basic(user: &str, password: &str) -> Vec<u8> {
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}").as_bytes());
    format!("Basic {encoded}").into_bytes()
}

fn one_of<T: Clone + std::fmt::Debug + 'static>(items: Vec<T>) -> BoxedStrategy<T> {
    prop::sample::select(items).boxed()
}

fn strings(items: &[&str]) -> BoxedStrategy<String> {
    one_of(items.iter().map(|s| (*s).to_owned()).collect())
}

/// A token: one the server issued, well-formed but unknown, malformed, or anything.
fn token(known: &Known) -> BoxedStrategy<String> {
    prop_oneof![
        3 => one_of(known.tokens.clone()),
        1 => "gh[opu]_[0-9A-Za-z]{36}",
        1 => "(gh[opu]_)?[0-9A-Za-z_]{0,45}",
        1 => "[ -~]{0,50}",
    ]
    .boxed()
}

fn client_id() -> BoxedStrategy<String> {
    prop_oneof![
        4 => strings(&[OAUTH_APP.client_id, GITHUB_APP.client_id, OTHER_APP.client_id]),
        1 => "[ -~]{0,30}",
        1 => Just("x".repeat(300)),
    ]
    .boxed()
}

/// An `Authorization` header: right and wrong users and apps (mostly `app`, the app the path
/// names), tokens of every kind, broken Basic, unknown schemes, or none. On an app's route
/// (`/applications/{client_id}/…`) the app signs in more often, elsewhere the user.
fn authorization(
    known: &Known,
    app: (&'static str, &'static str),
    app_route: bool,
) -> BoxedStrategy<Option<Vec<u8>>> {
    let (user_weight, app_weight) = if app_route { (2, 10) } else { (10, 2) };
    let other_app = one_of(
        [OAUTH_APP, GITHUB_APP, OTHER_APP]
            .iter()
            .map(|a| (a.client_id, a.client_secret))
            .collect(),
    );
    prop_oneof![
        2 => Just(None),
        user_weight => Just(Some(basic(ALICE.login, ALICE.password))),
        2 => Just(Some(basic(ALICE2FA.login, ALICE2FA.password))),
        2 => ".{0,20}".prop_map(|password| Some(basic(BOB.login, &password))),
        app_weight => Just(Some(basic(app.0, app.1))),
        1 => other_app.prop_map(|(id, secret)| Some(basic(id, secret))),
        2 => "[ -~]{0,40}".prop_map(move |secret| Some(basic(app.0, &secret))),
        2 => (prop_oneof![".{0,40}", Just("l".repeat(5_000))], ".{0,40}")
            .prop_map(|(login, password)| Some(basic(&login, &password))),
        1 => prop::collection::vec(any::<u8>(), 0..40).prop_map(|bytes| {
            let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
            Some(format!("Basic {encoded}").into_bytes())
        }),
        1 => "[ -~]{0,60}".prop_map(|text| Some(format!("Basic {text}").into_bytes())),
        4 => (strings(&["token", "Bearer", "bearer", "TOKEN"]), token(known))
            .prop_map(|(scheme, token)| Some(format!("{scheme} {token}").into_bytes())),
        2 => token(known).prop_map(|token| Some(basic("x-access-token", &token))),
        1 => "[ -~]{0,80}".prop_map(|text| Some(text.into_bytes())),
    ]
    .boxed()
}

fn otp() -> BoxedStrategy<Option<Otp>> {
    prop_oneof![
        4 => Just(None),
        2 => Just(Some(Otp::Current)),
        1 => "[0-9]{6}".prop_map(|code| Some(Otp::Sent(code))),
        1 => "[ -~]{0,12}".prop_map(|code| Some(Otp::Sent(code))),
    ]
    .boxed()
}

/// Any JSON value a few levels deep, with the keys handlers read.
fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        ".{0,16}".prop_map(Value::String),
        strings(&["repo", "user", "gist", "read:org", "bogus"]).prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(
                (prop_oneof![3 => strings(FIELDS), 1 => ".{0,6}"], inner),
                0..5
            )
            .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A body whose fields have the right types (so requests get past reading them), with
/// values right, wrong or unknown.
fn plausible_body(known: &Known) -> BoxedStrategy<Value> {
    let scope = prop_oneof![
        6 => strings(&["repo", "user", "user:email", "gist", "read:org", "admin:org", "public_repo"]),
        1 => ".{0,10}",
    ];
    let scopes = prop::collection::vec(scope, 0..6);
    let field = prop_oneof![
        (Just("scopes"), scopes.clone().prop_map(|s| json!(s))),
        (Just("add_scopes"), scopes.clone().prop_map(|s| json!(s))),
        (Just("remove_scopes"), scopes.prop_map(|s| json!(s))),
        (Just("note"), ".{0,30}".prop_map(Value::String)),
        (
            Just("note_url"),
            strings(&["http://a.example/x", "javascript:alert(1)", "", "nope"])
                .prop_map(Value::String)
        ),
        (Just("fingerprint"), "[ -~]{0,20}".prop_map(Value::String)),
        (Just("client_id"), client_id().prop_map(Value::String)),
        (
            Just("client_secret"),
            strings(&[OAUTH_APP.client_secret, GITHUB_APP.client_secret, "wrong"])
                .prop_map(Value::String)
        ),
        (Just("access_token"), token(known).prop_map(Value::String)),
        (
            Just("target"),
            strings(&["alice", "bob", "nobody", ""]).prop_map(Value::String)
        ),
        (Just("target_id"), any::<i64>().prop_map(Value::from)),
        (
            Just("repositories"),
            prop::collection::vec("[a-z]{0,8}", 0..4).prop_map(|r| json!(r))
        ),
        (
            Just("repository_ids"),
            prop::collection::vec(any::<i64>(), 0..4).prop_map(|r| json!(r))
        ),
        (
            Just("permissions"),
            strings(&["read", "write", "admin", "x"])
                .prop_map(|p| json!({ "contents": p, "bogus": p }))
        ),
    ];
    prop::collection::vec(field, 0..6)
        .prop_map(|fields| {
            Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
        })
        .boxed()
}

fn body(known: &Known) -> BoxedStrategy<Option<Vec<u8>>> {
    let bytes = |v: Value| Some(v.to_string().into_bytes());
    prop_oneof![
        3 => Just(None),
        6 => plausible_body(known).prop_map(bytes),
        3 => json_value().prop_map(bytes),
        // A field twice: serde_json keeps the last, and so must every reading of it.
        1 => (token(known), token(known)).prop_map(|(a, b)| {
            Some(format!(r#"{{"access_token":"{a}","access_token":"{b}"}}"#).into_bytes())
        }),
        1 => (strings(FIELDS), 1..HUGE).prop_map(|(key, len)| {
            let object: serde_json::Map<String, Value> = [(key, json!("x".repeat(len)))].into_iter().collect();
            Some(Value::Object(object).to_string().into_bytes())
        }),
        1 => (1..HUGE / 8).prop_map(|n| {
            Some(json!({ "scopes": vec!["repo"; n] }).to_string().into_bytes())
        }),
        1 => (1usize..2_000).prop_map(|depth| {
            Some(format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes())
        }),
        1 => (1usize..2_000).prop_map(|depth| {
            Some(format!("{}1{}", r#"{"scopes":"#.repeat(depth), "}".repeat(depth)).into_bytes())
        }),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Some),
    ]
    .boxed()
}

fn query() -> BoxedStrategy<String> {
    let value = prop_oneof![
        (0u64..200).prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        "[ +\\-]?[0-9]{1,12}",
        ".{0,8}",
    ];
    let pair = prop_oneof![
        (strings(&["page", "per_page"]), value).prop_map(|(k, v)| format!("{k}={}", encode(&v))),
        client_id().prop_map(|c| format!("client_id={}", encode(&c))),
        "[ -~]{0,12}".prop_map(|raw| encode(&raw).replace("%3D", "=").replace("%26", "&")),
    ];
    prop::collection::vec(pair, 0..4)
        .prop_map(|pairs| pairs.join("&"))
        .boxed()
}

/// Fills a route's `{…}` parts with names the server knows and names it does not; the
/// client id is mostly `app`'s.
fn path(known: &Known, route: &'static str, app: &'static str) -> BoxedStrategy<String> {
    let id = |ids: &[i64]| {
        prop_oneof![
            3 => one_of(ids.to_vec()).prop_map(|id| id.to_string()),
            1 => any::<i64>().prop_map(|n| n.to_string()),
            1 => ".{0,12}".prop_map(|s| encode(&s)),
        ]
    };
    let client = prop_oneof![3 => Just(app.to_owned()), 1 => client_id()];
    (
        any::<bool>(),
        client,
        id(&known.authorization_ids),
        id(&known.grant_ids),
        token(known),
        ".{0,20}",
    )
        .prop_map(
            move |(ghes, client, authorization, grant, token, fingerprint)| {
                let filled = route
                    .replace("{client_id}", &encode(&client))
                    .replace("{authorization_id}", &authorization)
                    .replace("{grant_id}", &grant)
                    .replace("{access_token}", &encode(&token))
                    .replace("{fingerprint}", &encode(&fingerprint));
                if ghes {
                    format!("/api/v3{filled}")
                } else {
                    filled
                }
            },
        )
        .boxed()
}

/// A method: mostly one the route serves, sometimes any.
fn method(methods: &'static [&'static str]) -> BoxedStrategy<Method> {
    let served: Vec<Method> = methods
        .iter()
        .map(|m| Method::from_bytes(m.as_bytes()).unwrap())
        .collect();
    prop_oneof![
        6 => one_of(served),
        1 => one_of(vec![
            Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::HEAD,
            Method::OPTIONS, Method::from_bytes(b"PURGE").unwrap(),
        ]),
    ]
    .boxed()
}

fn request(known: &Known) -> BoxedStrategy<Fuzzed> {
    let known = known.clone();
    let route = prop::strategy::Union::new_weighted(
        ROUTES
            .iter()
            .map(|&(weight, route, methods)| (weight, Just((route, methods)).boxed()))
            .collect(),
    );
    let app = one_of(
        [OAUTH_APP, GITHUB_APP, OTHER_APP]
            .iter()
            .map(|a| (a.client_id, a.client_secret))
            .collect(),
    );
    (route, app)
        .prop_flat_map(move |((route, methods), app)| {
            (
                method(methods),
                path(&known, route, app.0),
                query(),
                authorization(
                    &known,
                    app,
                    route.contains("{client_id}") && route.starts_with("/applications/"),
                ),
                otp(),
                prop::option::of(one_of(vec![
                    "application/json",
                    "text/plain",
                    "application/x-www-form-urlencoded",
                ])),
                body(&known),
            )
        })
        .prop_map(
            |(method, path, query, authorization, otp, content_type, body)| Fuzzed {
                method,
                path,
                query,
                authorization,
                otp,
                content_type,
                body,
            },
        )
        .boxed()
}

/// At most the first 300 characters of `bytes`, for failure messages.
fn excerpt(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).chars().take(300).collect()
}

/// What is wrong with an answer, if anything.
fn problem(method: &Method, status: u16, body: &str) -> Option<String> {
    if status >= 500 {
        return Some(format!("status {status}"));
    }
    if (200..300).contains(&status) || *method == Method::HEAD {
        return None;
    }
    let Ok(json) = serde_json::from_str::<Value>(body) else {
        return Some(format!("status {status}: the body is not JSON"));
    };
    if !json["message"].is_string() || !json["documentation_url"].is_string() {
        return Some(format!(
            "status {status}: no string message and documentation_url"
        ));
    }
    if status == 422 {
        let entries = json["errors"].as_array().filter(|e| !e.is_empty());
        let well_formed = entries.is_some_and(|entries| {
            entries.iter().all(|e| {
                ["resource", "field", "code"]
                    .iter()
                    .all(|key| e[key].is_string())
            })
        });
        if !well_formed {
            return Some(format!(
                "status {status}: errors is not [{{resource, field, code}}]"
            ));
        }
    }
    None
}

#[tokio::test]
async fn no_request_gets_a_5xx_a_dropped_connection_or_a_non_github_error() {
    let srv = TestServer::spawn().await;
    // Objects for requests to name: a personal token and an app's token (with its grant).
    let pat = srv.create_pat(&ALICE, "fuzz").await;
    let app_token = srv
        .create_app_authorization(&ALICE, &OAUTH_APP, json!({ "scopes": ["repo"] }))
        .await;
    let grants = srv.grants(&ALICE).await;
    let known = Known {
        tokens: [&pat, &app_token]
            .iter()
            .map(|a| a["token"].as_str().unwrap().to_owned())
            .collect(),
        authorization_ids: [&pat, &app_token]
            .iter()
            .map(|a| a["id"].as_i64().unwrap())
            .collect(),
        grant_ids: grants.iter().map(|g| g["id"].as_i64().unwrap()).collect(),
    };

    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let strategy = request(&known);
    let requests: Vec<Fuzzed> = (0..REQUESTS)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect();

    let client = reqwest::Client::new();
    let mut failures = Vec::new();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for request in &requests {
        let url = if request.query.is_empty() {
            srv.url(&request.path)
        } else {
            srv.url(&format!("{}?{}", request.path, request.query))
        };
        let mut builder = client.request(request.method.clone(), &url);
        if let Some(value) = &request.authorization {
            builder = builder.header("authorization", value.as_slice());
        }
        match &request.otp {
            Some(Otp::Current) => builder = builder.header("x-github-otp", current_otp()),
            Some(Otp::Sent(code)) => builder = builder.header("x-github-otp", code.as_str()),
            None => {}
        }
        if let Some(content_type) = request.content_type {
            builder = builder.header("content-type", content_type);
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let outcome = match builder.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.text().await {
                    Ok(body) => {
                        *statuses.entry(status).or_default() += 1;
                        // As `RequestExt::go` does: a documented operation's answer must
                        // match GitHub's OpenAPI description, whatever was asked.
                        let conforms = std::panic::catch_unwind(|| {
                            if request.method != Method::HEAD {
                                conformance::check(
                                    request.method.as_str(),
                                    &request.path,
                                    status,
                                    &body,
                                );
                            }
                        });
                        problem(&request.method, status, &body)
                            .or_else(|| conforms.is_err().then(|| "not GitHub's schema".to_owned()))
                            .map(|p| format!("{p}: {}", excerpt(body.as_bytes())))
                    }
                    Err(e) => Some(format!("status {status}, body cut off: {e}")),
                }
            }
            // A header reqwest will not send is no request at all.
            Err(e) if e.is_builder() => continue,
            Err(e) => Some(format!("no answer: {e}")),
        };
        if let Some(problem) = outcome {
            let body = request.body.as_deref().map(excerpt);
            failures.push(format!(
                "{} {} {:?}: {problem}\n  authorization {:?}, otp {:?}, body {:?}",
                request.method,
                request.path,
                request.query,
                request
                    .authorization
                    .as_deref()
                    .map(String::from_utf8_lossy),
                request.otp,
                body,
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {REQUESTS} requests failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The mix reached past authentication: successes as well as each kind of refusal.
    for status in [200, 401, 404, 422] {
        assert!(
            statuses.contains_key(&status),
            "no {status} in {statuses:?}"
        );
    }
    // And the server still serves.
    srv.get("/healthz").go().await.expect_status(200);
}

// ---------------------------------------------------------------------------------------------
// Sign-in throttling against a model
// ---------------------------------------------------------------------------------------------

/// One sign-in attempt of a 2FA user, after the clock moved on.
#[derive(Debug, Clone, Copy)]
enum Attempt {
    WrongPassword,
    /// The right password without a code: no failure (clients send it to learn 2FA is on).
    NoOtp,
    WrongOtp,
    RightOtp,
}

/// What the throttle must answer, by the store's contract (`Store::take_login_attempt`): a
/// window of `WINDOW` seconds starts with an attempt when none is live or every attempt of
/// the live one was given back (so a window starts with a failure); each attempt takes
/// one of `ATTEMPTS` before its credentials are checked (none left: refused unchecked) and
/// gives it back if it was no failure.
struct Model {
    window_start: Option<i64>,
    taken: u32,
}

const ATTEMPTS: u32 = 3;
const WINDOW: i64 = 300;

impl Model {
    fn attempt(&mut self, attempt: Attempt, now: i64) -> (u16, &'static str) {
        if self.taken == 0 || self.window_start.is_none_or(|start| start + WINDOW <= now) {
            self.window_start = Some(now);
            self.taken = 0;
        }
        if self.taken >= ATTEMPTS {
            return (
                403,
                "Maximum number of login attempts exceeded. Please try again later.",
            );
        }
        self.taken += 1;
        let otp_required = "Must specify two-factor authentication OTP code.";
        match attempt {
            Attempt::WrongPassword => (401, "Bad credentials"),
            Attempt::WrongOtp => (401, otp_required),
            Attempt::NoOtp => {
                self.taken -= 1;
                (401, otp_required)
            }
            Attempt::RightOtp => {
                self.taken -= 1;
                (200, "")
            }
        }
    }
}

/// The failed-login throttle, fed generated sequences of attempts with the clock moving
/// between them, answers each exactly as the model says: wrong passwords and wrong codes
/// count, a missing code and a right sign-in do not, and a full window refuses even the right
/// credentials until it ends. Each sequence has a user of its own.
#[tokio::test]
async fn sign_in_throttling_follows_its_model() {
    const SEQUENCES: usize = 12;
    let fixture = (0..SEQUENCES)
        .map(|i| {
            format!(
                "[[users]]\nlogin = \"user{i}\"\npassword = \"right\"\ntotp_secret = \"{TOTP_SECRET}\"\n\n"
            )
        })
        .collect::<Vec<_>>()
        .concat();
    let mut options = ServerOptions::default();
    options.limits.login = grantd::domain::limits::LoginThrottle {
        attempts: ATTEMPTS,
        window: time::Duration::seconds(WINDOW),
    };
    let srv = TestServer::spawn_with_options(&fixture, None, options).await;
    let secret = grantd::domain::otp::TotpSecret::parse(TOTP_SECRET).unwrap();

    // Steps of 7 s: no sum of them is a multiple of the 300 s window, so no attempt falls
    // exactly on a window's end, where "ended" is a matter of convention.
    let attempt = prop_oneof![
        3 => Just(Attempt::WrongPassword),
        1 => Just(Attempt::NoOtp),
        2 => Just(Attempt::WrongOtp),
        3 => Just(Attempt::RightOtp),
    ];
    let sequence = prop::collection::vec((0i64..=12, attempt), 4..14);
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let start = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    for i in 0..SEQUENCES {
        let steps = sequence.new_tree(&mut runner).unwrap().current();
        let login = format!("user{i}");
        let mut model = Model {
            window_start: None,
            taken: 0,
        };
        let mut now = start.unix_timestamp();
        for (n, &(sevens, attempt)) in steps.iter().enumerate() {
            now += sevens * 7;
            srv.clock
                .pin(time::OffsetDateTime::from_unix_timestamp(now).unwrap());
            let unix = u64::try_from(now).unwrap();
            let right = secret.code_at(unix).unwrap();
            let near: Vec<String> = [unix - 30, unix, unix + 30]
                .iter()
                .map(|&t| secret.code_at(t).unwrap())
                .collect();
            let wrong = (0..10)
                .map(|d: u32| d.to_string().repeat(6))
                .find(|c| !near.contains(c))
                .unwrap();
            let password = if matches!(attempt, Attempt::WrongPassword) {
                "wrong"
            } else {
                "right"
            };
            let mut request = srv
                .get("/authorizations")
                .basic_auth(&login, Some(password));
            match attempt {
                Attempt::WrongPassword | Attempt::RightOtp => {
                    request = request.header("x-github-otp", right);
                }
                Attempt::WrongOtp => request = request.header("x-github-otp", wrong),
                Attempt::NoOtp => {}
            }
            let reply = request.go().await;
            let (status, message) = model.attempt(attempt, now);
            let context = format!("{login}, attempt {n} of {steps:?}: {}", reply.body);
            assert_eq!(reply.status, status, "{context}");
            if status != 200 {
                assert_eq!(reply.json()["message"], message, "{context}");
            }
        }
    }
}
