//! Expiring user tokens and their refresh (GitHub's "Refreshing user access tokens"): a GitHub
//! App with `expire_user_tokens` gets a `ghr_` refresh token with each token of the web flow,
//! and trades it once, at `POST /login/oauth/access_token` with `grant_type=refresh_token`,
//! for a new pair. The old pair is dead from then on. Driven over HTTP as the app would; the
//! server's clock is pinned and moved, never slept on.

use grantd::domain::limits::{LoginThrottle, RateLimit};
use grantd::http::{ApiStatus, Limits};
use reqwest::Client;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::support::{
    ALICE, App, GITHUB_APP, RequestExt, ServerOptions, TestServer, assert_bad_credentials,
    assert_json, assert_not_found, assert_token_format, error_body, unissued_token,
    with_bad_checksum,
};
use crate::web_flow::{alice, assert_error, code_for, exchange, fixture};

/// A GitHub App whose user tokens expire after GitHub's default eight hours.
pub(crate) const REFRESHING_APP: App = App {
    name: "refreshing app",
    url: "http://refreshing.example",
    client_id: "Iv1.00000000000000aa",
    client_secret: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    token_prefix: "ghu_",
};
/// A second one, owned by bob: its credentials must not refresh the first one's tokens.
const SECOND_APP: App = App {
    name: "second refreshing app",
    url: "http://second.example",
    client_id: "Iv1.00000000000000bb",
    client_secret: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    token_prefix: "ghu_",
};
pub(crate) const REFRESHING_CALLBACK: &str = "http://127.0.0.1:9000/cb";
const ACCESS_TTL: i64 = 28_800;
const REFRESH_TTL: i64 = 15_897_600;

/// The web flow's fixture plus the two expiring GitHub Apps.
pub(crate) fn refresh_fixture() -> String {
    let app = |app: &App, owner: &str| {
        format!(
            "\n[[apps]]\nname = \"{}\"\nurl = \"{}\"\nowner = \"{owner}\"\nkind = \"github\"\n\
             client_id = \"{}\"\nclient_secret = \"{}\"\nexpire_user_tokens = true\n\
             callback_url = \"{REFRESHING_CALLBACK}\"\n",
            app.name, app.url, app.client_id, app.client_secret
        )
    };
    format!(
        "{}{}{}",
        fixture(),
        app(&REFRESHING_APP, "alice"),
        app(&SECOND_APP, "bob")
    )
}

async fn spawn() -> TestServer {
    TestServer::spawn_seeded(&refresh_fixture(), None).await
}

/// alice authorizes `app` through the web flow; its JSON token answer.
async fn pair_of(srv: &TestServer, client: &Client, app: &App) -> Value {
    let code = code_for(srv, client, &[("client_id", app.client_id)]).await;
    exchange(
        srv,
        &[
            ("client_id", app.client_id),
            ("client_secret", app.client_secret),
            ("code", &code),
        ],
    )
    .await
}

/// One pair of `REFRESHING_APP` for alice.
async fn pair(srv: &TestServer, client: &Client) -> Value {
    pair_of(srv, client, &REFRESHING_APP).await
}

fn text<'a>(answer: &'a Value, field: &str) -> &'a str {
    answer[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {answer}"))
}

/// The refresh grant's form for `app`'s credentials, asking for JSON.
async fn refresh_as(srv: &TestServer, app: &App, refresh_token: &str) -> Value {
    refresh_with(
        srv,
        &[
            ("client_id", app.client_id),
            ("client_secret", app.client_secret),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

async fn refresh(srv: &TestServer, refresh_token: &str) -> Value {
    refresh_as(srv, &REFRESHING_APP, refresh_token).await
}

async fn refresh_with(srv: &TestServer, fields: &[(&str, &str)]) -> Value {
    let reply = srv
        .post("/login/oauth/access_token")
        .header("accept", "application/json")
        .form(fields)
        .go()
        .await;
    assert_eq!(
        reply.header("content-type").as_deref(),
        Some("application/json; charset=utf-8")
    );
    reply.expect_status(200)
}

/// The whole answer GitHub documents for an expiring user token: exactly these fields, the
/// `*_in` ones as JSON numbers.
fn assert_pair(answer: &Value) {
    let fields: Vec<&String> = answer.as_object().expect("an object").keys().collect();
    assert_eq!(
        fields,
        [
            "access_token",
            "expires_in",
            "refresh_token",
            "refresh_token_expires_in",
            "scope",
            "token_type"
        ],
        "{answer}"
    );
    assert_token_format(text(answer, "access_token"), "ghu_");
    assert_token_format(text(answer, "refresh_token"), "ghr_");
    assert_eq!(answer["expires_in"], json!(ACCESS_TTL));
    assert_eq!(answer["refresh_token_expires_in"], json!(REFRESH_TTL));
    assert_eq!(answer["scope"], "");
    assert_eq!(answer["token_type"], "bearer");
}

/// Everything the database holds that a refresh may change (tokens, refresh tokens, grants).
async fn snapshot(srv: &TestServer) -> Value {
    let dump = srv.export().await;
    json!({
        "authorizations": dump["tables"]["authorizations"],
        "refresh_tokens": dump["tables"]["refresh_tokens"],
        "grants": dump["tables"]["grants"],
    })
}

#[tokio::test]
async fn a_refresh_gives_a_new_pair_and_the_old_one_dies_at_once() {
    let srv = spawn().await;
    let client = alice(&srv).await;
    let first = pair(&srv, &client).await;
    assert_pair(&first);
    let (old_token, old_refresh) = (text(&first, "access_token"), text(&first, "refresh_token"));
    srv.assert_token_works(&REFRESHING_APP, old_token, "alice")
        .await;
    let before = srv
        .check(&REFRESHING_APP, old_token)
        .await
        .expect_status(200);

    let second = refresh(&srv, old_refresh).await;
    assert_pair(&second);
    let (new_token, new_refresh) = (
        text(&second, "access_token"),
        text(&second, "refresh_token"),
    );
    assert_ne!(new_token, old_token);
    assert_ne!(new_refresh, old_refresh);

    // The new token works, for the same authorization; the old token and refresh token not.
    srv.assert_token_works(&REFRESHING_APP, new_token, "alice")
        .await;
    srv.assert_token_is_gone(&REFRESHING_APP, old_token).await;
    let after = srv
        .check(&REFRESHING_APP, new_token)
        .await
        .expect_status(200);
    assert_eq!(after["id"], before["id"]);
    assert_eq!(after["app"], before["app"]);
    assert_eq!(after["token_last_eight"], new_token[32..]);
    assert_error(&refresh(&srv, old_refresh).await, "bad_refresh_token");

    // The new refresh token works in turn (once).
    let third = refresh(&srv, new_refresh).await;
    assert_pair(&third);
    srv.assert_token_is_gone(&REFRESHING_APP, new_token).await;
    srv.assert_token_works(&REFRESHING_APP, text(&third, "access_token"), "alice")
        .await;
    assert_error(&refresh(&srv, new_refresh).await, "bad_refresh_token");

    // Still one token and one refresh token: a refresh replaces, it never adds.
    let state = snapshot(&srv).await;
    assert_eq!(state["authorizations"].as_array().map(Vec::len), Some(1));
    assert_eq!(state["refresh_tokens"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_refresh_token_outlives_its_access_token_but_not_its_own_expiry() {
    let srv = spawn().await;
    let client = alice(&srv).await;
    let issued_at = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("0 ns");
    srv.clock.pin(issued_at);
    let early = pair(&srv, &client).await;
    let late = pair(&srv, &client).await;

    // Eight hours on, the access tokens are dead, and the refresh tokens still work.
    srv.clock.pin(issued_at + Duration::seconds(ACCESS_TTL + 1));
    srv.assert_token_is_gone(&REFRESHING_APP, text(&early, "access_token"))
        .await;
    // The last second of the refresh token's life.
    srv.clock
        .pin(issued_at + Duration::seconds(REFRESH_TTL - 1));
    let renewed = refresh(&srv, text(&early, "refresh_token")).await;
    assert_pair(&renewed);
    srv.assert_token_works(&REFRESHING_APP, text(&renewed, "access_token"), "alice")
        .await;
    // The new token lives eight hours from the refresh, not from the first exchange.
    let checked = srv
        .check(&REFRESHING_APP, text(&renewed, "access_token"))
        .await
        .expect_status(200);
    let expires_at = crate::support::timestamp_of(&checked, "expires_at");
    assert_eq!(
        expires_at,
        issued_at + Duration::seconds(REFRESH_TTL - 1 + ACCESS_TTL)
    );

    // From its expiry on: bad_refresh_token, and nothing is written.
    srv.clock.pin(issued_at + Duration::seconds(REFRESH_TTL));
    let before = snapshot(&srv).await;
    assert_error(
        &refresh(&srv, text(&late, "refresh_token")).await,
        "bad_refresh_token",
    );
    assert_eq!(snapshot(&srv).await, before);
}

#[tokio::test]
async fn wrong_used_malformed_and_other_apps_refresh_tokens_write_nothing() {
    let srv = spawn().await;
    let client = alice(&srv).await;
    let mine = pair(&srv, &client).await;
    let theirs = pair_of(&srv, &client, &SECOND_APP).await;
    assert_pair(&theirs);
    let used = pair(&srv, &client).await;
    refresh(&srv, text(&used, "refresh_token")).await;
    let before = snapshot(&srv).await;

    let refresh_token = text(&mine, "refresh_token");
    let access_token = text(&mine, "access_token");
    for wrong in [
        unissued_token("ghr_"),
        with_bad_checksum(refresh_token),
        // An access token is no refresh token.
        access_token.to_owned(),
        text(&used, "refresh_token").to_owned(),
        String::new(),
        "x".repeat(300),
    ] {
        assert_error(&refresh(&srv, &wrong).await, "bad_refresh_token");
    }
    // Another app's refresh token, with this app's credentials, and the other way round.
    assert_error(
        &refresh(&srv, text(&theirs, "refresh_token")).await,
        "bad_refresh_token",
    );
    assert_error(
        &refresh_as(&srv, &SECOND_APP, refresh_token).await,
        "bad_refresh_token",
    );
    // A GitHub App without expiring tokens has no refresh token of this one either.
    assert_error(
        &refresh_as(&srv, &GITHUB_APP, refresh_token).await,
        "bad_refresh_token",
    );
    assert_eq!(snapshot(&srv).await, before);

    // None of that spent the right ones.
    assert_pair(&refresh(&srv, refresh_token).await);
    assert_pair(&refresh_as(&srv, &SECOND_APP, text(&theirs, "refresh_token")).await);
}

#[tokio::test]
async fn a_wrong_or_missing_client_secret_is_incorrect_client_credentials() {
    let srv = spawn().await;
    let client = alice(&srv).await;
    let mine = pair(&srv, &client).await;
    let refresh_token = text(&mine, "refresh_token");
    let before = snapshot(&srv).await;
    let attempts: [&[(&str, &str)]; 4] = [
        &[
            ("client_id", REFRESHING_APP.client_id),
            ("client_secret", SECOND_APP.client_secret),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
        // A web flow token needs the secret (only the device flow's do not).
        &[
            ("client_id", REFRESHING_APP.client_id),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
        &[
            ("client_id", "Iv1.ffffffffffffffff"),
            ("client_secret", REFRESHING_APP.client_secret),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    ];
    for fields in attempts {
        assert_error(
            &refresh_with(&srv, fields).await,
            "incorrect_client_credentials",
        );
    }
    assert_eq!(snapshot(&srv).await, before);

    // HTTP Basic carries the credentials as well as the form does.
    let reply = srv
        .post("/login/oauth/access_token")
        .basic_auth(REFRESHING_APP.client_id, Some(REFRESHING_APP.client_secret))
        .header("accept", "application/json")
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .go()
        .await;
    assert_pair(&reply.expect_status(200));
}

/// Wrong secrets at the refresh grant are failed app sign-ins of the caller's address, as at
/// the code exchange: past the limit, the API's 403.
#[tokio::test]
async fn wrong_secrets_at_the_refresh_grant_count_as_failed_app_sign_ins() {
    let options = ServerOptions {
        limits: Limits {
            rate: RateLimit::default(),
            login: LoginThrottle {
                attempts: 2,
                window: Duration::seconds(120),
            },
        },
        authorizations_api: ApiStatus::Enabled,
        ..ServerOptions::default()
    };
    let srv = TestServer::spawn_with_options(&refresh_fixture(), None, options).await;
    let guess = [
        ("client_id", REFRESHING_APP.client_id),
        ("client_secret", "0000000000000000000000000000000000000000"),
        ("grant_type", "refresh_token"),
        ("refresh_token", &unissued_token("ghr_")),
    ];
    for _ in 0..2 {
        assert_error(
            &refresh_with(&srv, &guess).await,
            "incorrect_client_credentials",
        );
    }
    let reply = srv
        .post("/login/oauth/access_token")
        .header("accept", "application/json")
        .form(&guess)
        .go()
        .await;
    let body = reply.expect_status(403);
    assert_json(
        &body,
        &error_body(
            403,
            "Maximum number of login attempts exceeded. Please try again later.",
        ),
    );
}

// The server runs on this test's runtime; the racing requests on its other worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_refreshes_with_one_refresh_token_give_one_pair() {
    let srv = spawn().await;
    let client = alice(&srv).await;
    let first = pair(&srv, &client).await;
    let refresh_token = text(&first, "refresh_token").to_owned();
    let answers =
        futures_util::future::join_all((0..8).map(|_| refresh(&srv, &refresh_token))).await;
    let winners: Vec<&Value> = answers
        .iter()
        .filter(|a| a.get("access_token").is_some())
        .collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    for loser in answers.iter().filter(|a| a.get("access_token").is_none()) {
        assert_error(loser, "bad_refresh_token");
    }
    let winner = winners[0];
    assert_pair(winner);
    srv.assert_token_works(&REFRESHING_APP, text(winner, "access_token"), "alice")
        .await;
    srv.assert_token_is_gone(&REFRESHING_APP, text(&first, "access_token"))
        .await;
    let state = snapshot(&srv).await;
    assert_eq!(state["refresh_tokens"].as_array().map(Vec::len), Some(1));
    assert_pair(&refresh(&srv, text(winner, "refresh_token")).await);
}

#[tokio::test]
async fn the_answer_comes_in_the_format_asked() {
    let srv = spawn().await;
    let client = alice(&srv).await;
    let first = pair(&srv, &client).await;
    let fields = |refresh_token: &str| {
        vec![
            ("client_id", REFRESHING_APP.client_id.to_owned()),
            ("client_secret", REFRESHING_APP.client_secret.to_owned()),
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", refresh_token.to_owned()),
        ]
    };

    // Form-encoded by default, in GitHub's order.
    let reply = srv
        .post("/login/oauth/access_token")
        .form(&fields(text(&first, "refresh_token")))
        .go()
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded; charset=utf-8")
    );
    assert_eq!(reply.header("cache-control").as_deref(), Some("no-store"));
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&reply.body).expect("a form");
    let names: Vec<&str> = form.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "access_token",
            "expires_in",
            "refresh_token",
            "refresh_token_expires_in",
            "scope",
            "token_type"
        ]
    );
    let value = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .expect("field")
    };
    assert!(value("access_token").starts_with("ghu_"));
    assert_eq!(value("expires_in"), "28800");
    assert_eq!(value("refresh_token_expires_in"), "15897600");
    assert_eq!(value("scope"), "");
    assert_eq!(value("token_type"), "bearer");

    // XML, GitHub's <OAuth> element order.
    let reply = srv
        .post("/login/oauth/access_token")
        .header("accept", "application/xml")
        .form(&fields(&value("refresh_token")))
        .go()
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type").as_deref(),
        Some("application/xml; charset=utf-8")
    );
    let xml = &reply.body;
    assert!(
        xml.starts_with("<OAuth><token_type>bearer</token_type><scope></scope><access_token>ghu_"),
        "{xml}"
    );
    assert!(
        xml.contains("<expires_in>28800</expires_in><refresh_token>ghr_"),
        "{xml}"
    );
    assert!(
        xml.ends_with("<refresh_token_expires_in>15897600</refresh_token_expires_in></OAuth>"),
        "{xml}"
    );
    let refresh_token = xml
        .split("<refresh_token>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("a refresh token");

    // JSON body in, JSON out (PyGithub's way).
    let reply = srv
        .post("/login/oauth/access_token")
        .header("accept", "application/json")
        .json(&json!({
            "client_id": REFRESHING_APP.client_id,
            "client_secret": REFRESHING_APP.client_secret,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }))
        .go()
        .await;
    assert_pair(&reply.expect_status(200));

    // Errors come in each format too, with HTTP 200.
    let reply = srv
        .post("/login/oauth/access_token")
        .form(&fields(refresh_token))
        .go()
        .await;
    assert_eq!(reply.status, 200);
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&reply.body).expect("a form");
    assert_eq!(
        form[0],
        ("error".to_owned(), "bad_refresh_token".to_owned())
    );
    assert_eq!(
        form[1],
        (
            "error_description".to_owned(),
            "The refresh token passed is incorrect or expired.".to_owned()
        )
    );
    assert_eq!(form[2].0, "error_uri");
    let reply = srv
        .post("/login/oauth/access_token")
        .header("accept", "application/xml")
        .form(&fields(refresh_token))
        .go()
        .await;
    assert!(
        reply
            .body
            .starts_with("<OAuth><error>bad_refresh_token</error>"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn revoking_the_token_or_its_grant_kills_the_refresh_token() {
    let srv = spawn().await;
    let client = alice(&srv).await;

    // The app token API's revoke of the access token.
    let revoked = pair(&srv, &client).await;
    srv.revoke(&REFRESHING_APP, text(&revoked, "access_token"))
        .await
        .expect_no_content();
    assert_error(
        &refresh(&srv, text(&revoked, "refresh_token")).await,
        "bad_refresh_token",
    );

    // The app's delete of the user's grant: every token of it, and their refresh tokens.
    let one = pair(&srv, &client).await;
    let two = pair(&srv, &client).await;
    srv.delete_app_grant(&REFRESHING_APP, text(&one, "access_token"))
        .await
        .expect_no_content();
    for gone in [&one, &two] {
        assert_error(
            &refresh(&srv, text(gone, "refresh_token")).await,
            "bad_refresh_token",
        );
    }

    // The user's own delete of the grant (and of one authorization).
    let three = pair(&srv, &client).await;
    let grants = srv.grants(&ALICE).await;
    let grant = grants
        .iter()
        .find(|g| g["app"]["client_id"] == REFRESHING_APP.client_id)
        .expect("the grant");
    let reply = srv
        .delete(&format!("/applications/grants/{}", grant["id"]))
        .login_as(&ALICE)
        .go()
        .await;
    reply.expect_no_content();
    assert_error(
        &refresh(&srv, text(&three, "refresh_token")).await,
        "bad_refresh_token",
    );
    let four = pair(&srv, &client).await;
    let id = srv
        .check(&REFRESHING_APP, text(&four, "access_token"))
        .await
        .expect_status(200)["id"]
        .clone();
    srv.delete(&format!("/authorizations/{id}"))
        .login_as(&ALICE)
        .go()
        .await
        .expect_no_content();
    assert_error(
        &refresh(&srv, text(&four, "refresh_token")).await,
        "bad_refresh_token",
    );
    assert_eq!(
        snapshot(&srv).await["refresh_tokens"],
        json!([]),
        "no refresh token outlives its token"
    );
}

/// The app token API on an expiring token: the check shows `expires_at`; a reset gives a new
/// access token for the same authorization and keeps its refresh token, whose use then
/// replaces the reset token (docs/flows.md: "Expiring user tokens and refresh").
#[tokio::test]
async fn check_and_reset_of_an_expiring_token_keep_its_refresh_token() {
    let srv = spawn().await;
    let client = alice(&srv).await;
    let first = pair(&srv, &client).await;
    let checked = srv
        .check(&REFRESHING_APP, text(&first, "access_token"))
        .await
        .expect_status(200);
    assert!(checked["expires_at"].is_string(), "{checked}");

    let reset = srv
        .reset(&REFRESHING_APP, text(&first, "access_token"))
        .await
        .expect_status(200);
    let reset_token = text(&reset, "token");
    assert!(reset["expires_at"].is_string(), "{reset}");
    srv.assert_token_works(&REFRESHING_APP, reset_token, "alice")
        .await;
    srv.assert_token_is_gone(&REFRESHING_APP, text(&first, "access_token"))
        .await;

    let renewed = refresh(&srv, text(&first, "refresh_token")).await;
    assert_pair(&renewed);
    srv.assert_token_is_gone(&REFRESHING_APP, reset_token).await;
    srv.assert_token_works(&REFRESHING_APP, text(&renewed, "access_token"), "alice")
        .await;
    assert_bad_credentials(&srv.get_user(reset_token).await);
    assert_not_found(
        &srv.check(&REFRESHING_APP, text(&first, "access_token"))
            .await,
    );
}

/// Apps whose tokens do not expire get no refresh token, so the grant has nothing to refresh.
#[tokio::test]
async fn tokens_that_do_not_expire_come_without_refresh_token() {
    let srv = spawn().await;
    let client = alice(&srv).await;
    let answer = pair_of(&srv, &client, &GITHUB_APP).await;
    let fields: Vec<&String> = answer.as_object().expect("object").keys().collect();
    assert_eq!(fields, ["access_token", "scope", "token_type"], "{answer}");
    assert!(text(&answer, "access_token").starts_with("ghu_"));
}

// The server runs on this test's runtime: node must be waited for on another thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn octokit_refreshes_an_expiring_github_app_token() {
    let srv = spawn().await;
    let client = alice(&srv).await;
    let code = code_for(&srv, &client, &[("client_id", REFRESHING_APP.client_id)]).await;
    let out = crate::octokit::run_script(
        "refresh.mjs",
        vec![
            srv.url(""),
            REFRESHING_APP.client_id.to_owned(),
            REFRESHING_APP.client_secret.to_owned(),
            code,
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "node refresh.mjs failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("JSON");
    let first = &result["first"];
    let second = &result["second"];
    assert_eq!(second["clientType"], "github-app");
    srv.assert_token_is_gone(&REFRESHING_APP, text(first, "token"))
        .await;
    srv.assert_token_works(&REFRESHING_APP, text(second, "token"), "alice")
        .await;
    assert_error(
        &refresh(&srv, text(first, "refreshToken")).await,
        "bad_refresh_token",
    );
    assert_pair(&refresh(&srv, text(second, "refreshToken")).await);
}

/// The new pair follows the app's setting at the time of the refresh: once the app no longer
/// expires its user tokens, the refresh answers a token that lives on, without a refresh token
/// (the used one is spent all the same).
#[tokio::test]
async fn an_app_that_stopped_expiring_tokens_refreshes_into_a_lasting_token() {
    let srv = spawn().await;
    let client = alice(&srv).await;
    let first = pair(&srv, &client).await;
    let seed = srv.dir().join("no-expiry.toml");
    std::fs::write(
        &seed,
        format!(
            "[[apps]]\nname = \"{}\"\nurl = \"{}\"\nowner = \"alice\"\nkind = \"github\"\n\
             client_id = \"{}\"\nclient_secret = \"{}\"\ncallback_url = \"{REFRESHING_CALLBACK}\"\n",
            REFRESHING_APP.name,
            REFRESHING_APP.url,
            REFRESHING_APP.client_id,
            REFRESHING_APP.client_secret
        ),
    )
    .expect("write the seed");
    grantd::fixture::load_file(srv.store(), &seed, OffsetDateTime::now_utc())
        .await
        .expect("load the seed");

    let lasting = refresh(&srv, text(&first, "refresh_token")).await;
    let fields: Vec<&String> = lasting.as_object().expect("object").keys().collect();
    assert_eq!(fields, ["access_token", "scope", "token_type"], "{lasting}");
    let checked = srv
        .check(&REFRESHING_APP, text(&lasting, "access_token"))
        .await
        .expect_status(200);
    assert_eq!(checked["expires_at"], Value::Null);
    srv.assert_token_is_gone(&REFRESHING_APP, text(&first, "access_token"))
        .await;
    assert_error(
        &refresh(&srv, text(&first, "refresh_token")).await,
        "bad_refresh_token",
    );
    assert_eq!(snapshot(&srv).await["refresh_tokens"], json!([]));
}

async fn refresh_without_secret(srv: &TestServer, refresh_token: &str) -> Value {
    refresh_with(
        srv,
        &[
            ("client_id", REFRESHING_APP.client_id),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// GitHub: the client secret is "required unless the user access token was generated using
/// the device flow". The device flow's token is issued here through the same domain function
/// its endpoint calls (`user_token::issue` with `Flow::Device`).
#[tokio::test]
async fn a_device_flow_token_refreshes_without_the_client_secret() {
    use grantd::domain::user_token::{self, Flow};

    let srv = spawn().await;
    let store = srv.store();
    let app = grantd::domain::app::find(store, REFRESHING_APP.client_id)
        .await
        .expect("the app");
    let login = grantd::domain::Login::parse("alice").expect("a login");
    let user = store
        .find_user_by_login(&login)
        .await
        .expect("store")
        .expect("alice");
    let issued = user_token::issue(
        store,
        &app,
        user.id,
        grantd::domain::scope::Scopes::default(),
        Flow::Device,
        &grantd::domain::audit::Source::default(),
        OffsetDateTime::now_utc(),
    )
    .await
    .expect("issued");
    let refresh_token = issued.refresh.expect("a refresh token").token;

    let renewed = refresh_without_secret(&srv, refresh_token.expose()).await;
    assert_pair(&renewed);
    srv.assert_token_is_gone(&REFRESHING_APP, issued.token.expose())
        .await;
    // The renewed pair is still the device flow's: again without the secret, and a wrong
    // secret is refused all the same.
    let wrong = [
        ("client_id", REFRESHING_APP.client_id),
        ("client_secret", SECOND_APP.client_secret),
        ("grant_type", "refresh_token"),
        ("refresh_token", text(&renewed, "refresh_token")),
    ];
    assert_error(
        &refresh_with(&srv, &wrong).await,
        "incorrect_client_credentials",
    );
    assert_pair(&refresh_without_secret(&srv, text(&renewed, "refresh_token")).await);
}

/// `grantd ARGS --db` on the server's database, while it runs (as an operator would).
async fn operator(srv: &TestServer, words: &[&str]) {
    let mut args: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
    args.extend(["--db".to_owned(), srv.db_url().to_owned()]);
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        crate::support::grantd(&args, None)
    })
    .await
    .expect("the command ran");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A suspended user's refresh token answers as a dead one instead of trading itself for a
/// new token that would not work; it is not used up, so it works again once the suspension
/// is lifted.
#[tokio::test]
async fn a_suspended_users_refresh_token_is_refused_until_the_suspension_is_lifted() {
    let srv = spawn().await;
    let client = alice(&srv).await;
    let first = pair(&srv, &client).await;
    let refresh_token = text(&first, "refresh_token");
    let before = snapshot(&srv).await;

    operator(&srv, &["user", "suspend", "alice"]).await;
    assert_error(&refresh(&srv, refresh_token).await, "bad_refresh_token");
    assert_eq!(
        snapshot(&srv).await,
        before,
        "a refused refresh writes nothing"
    );

    operator(&srv, &["user", "unsuspend", "alice"]).await;
    let second = refresh(&srv, refresh_token).await;
    assert_pair(&second);
    srv.assert_token_works(&REFRESHING_APP, text(&second, "access_token"), "alice")
        .await;
}
