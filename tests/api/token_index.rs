//! The in-memory token index of a SQLite server (`src/store/cache.rs`) must never answer from a
//! stale memory. Every test here first warms it (the token is checked and used successfully
//! twice, so its record, and the app that checks it, are served from memory), then changes the
//! token behind the server's back or through it, and expects the new answer from the very first
//! request after the change: no sleep, no retry.
//!
//! The changes come from everywhere a change can come from: the API of the same server, a
//! `grantd` command run on the same database while the server runs, and another server process.
//! On PostgreSQL there is no index (every check reads the database) and the same tests hold; the
//! few that need the SQLite file itself say so and do nothing on PostgreSQL.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::Method;
use serde_json::{Value, json};
use time::Duration;

use crate::support::{
    ALICE, App, BOB, CAROL, DEFAULT_FIXTURE, EXPIRING_APP, GITHUB_APP, OAUTH_APP, OTHER_APP, Reply,
    RequestExt, ServerOptions, ServerProcess, TestServer, assert_bad_credentials, assert_not_found,
    base62_6, fresh_database_url, grantd, id_of, sqlite_url, str_of, timestamp_of, token_of,
    unissued_token, with_bad_checksum, write_file,
};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Runs `grantd ARGS --db DB_URL` to completion on a blocking thread (an in-process server
/// keeps serving meanwhile), asserts that it succeeded and returns its standard output.
async fn cli(db_url: &str, args: &[&str]) -> String {
    let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    all.extend(["--db".to_owned(), db_url.to_owned()]);
    let shown = all.join(" ");
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = all.iter().map(String::as_str).collect();
        grantd(&args, None)
    })
    .await
    .expect("the command ran");
    assert!(
        out.status.success(),
        "grantd {shown} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// `grantd token mint`: `count` new tokens of `app` for `login` (scopes `repo`), read back from
/// the owner-only file it writes in `dir`.
async fn mint(db_url: &str, dir: &Path, app: &App, login: &str, count: usize) -> Vec<String> {
    let mut suffix = [0u8; 6];
    getrandom::fill(&mut suffix).expect("random file name");
    let out = dir.join(format!("minted-{}.txt", hex::encode(suffix)));
    let out_arg = out.to_str().expect("UTF-8 path").to_owned();
    let count_arg = count.to_string();
    cli(
        db_url,
        &[
            "token",
            "mint",
            "--client-id",
            app.client_id,
            "--user",
            login,
            "--count",
            &count_arg,
            "--scopes",
            "repo",
            "--out",
            &out_arg,
        ],
    )
    .await;
    let tokens: Vec<String> = std::fs::read_to_string(&out)
        .expect("the minted tokens")
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(tokens.len(), count);
    tokens
}

/// Checks and uses `token` successfully twice, so that a SQLite server answers it from memory
/// from then on.
async fn warm(srv: &TestServer, app: &App, token: &str, login: &str) {
    for _ in 0..2 {
        srv.assert_token_works(app, token, login).await;
    }
}

/// A well-formed token (same prefix, valid checksum) that differs from `token` in its random
/// part only: never issued, so the server must not know it.
fn sibling_of(token: &str) -> String {
    let (prefix, rest) = token.split_at(4);
    let mut random = rest[..30].to_owned();
    let replacement = if random.ends_with('x') { "y" } else { "x" };
    random.replace_range(29..30, replacement);
    let sibling = format!(
        "{prefix}{random}{}",
        base62_6(crc32fast::hash(random.as_bytes()))
    );
    assert_ne!(sibling, token);
    sibling
}

/// The app's check of `token`, signed in with `secret` (which may be a stale one).
async fn check_with_secret(srv: &TestServer, app: &App, secret: &str, token: &str) -> Reply {
    srv.post(&format!("/applications/{}/token", app.client_id))
        .basic_auth(app.client_id, Some(secret))
        .json(&json!({ "access_token": token }))
        .go()
        .await
}

/// The scopes of a body, sorted (the order is not what these tests are about).
fn scopes_of(body: &Value) -> Vec<String> {
    let mut scopes: Vec<String> = body["scopes"]
        .as_array()
        .unwrap_or_else(|| panic!("no scopes in {body}"))
        .iter()
        .map(|s| s.as_str().expect("a scope").to_owned())
        .collect();
    scopes.sort();
    scopes
}

/// The `X-OAuth-Scopes` of `GET /user` with `token`, sorted.
async fn header_scopes(srv: &TestServer, token: &str) -> Vec<String> {
    let reply = srv.get_user(token).await;
    reply.expect_status(200);
    let header = reply.header("X-OAuth-Scopes").unwrap_or_default();
    let mut scopes: Vec<String> = header
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    scopes.sort();
    scopes
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The id of `user`'s grant of `app`.
async fn grant_id(srv: &TestServer, user: &crate::support::User, app: &App) -> i64 {
    let grants = srv.grants(user).await;
    let grant = grants
        .iter()
        .find(|g| g["app"]["client_id"] == app.client_id)
        .unwrap_or_else(|| panic!("no grant of {} in {grants:?}", app.client_id));
    id_of(grant)
}

// ---------------------------------------------------------------------------------------------
// 1. `grantd` commands on the same database while the server runs
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_user_deleted_by_the_cli_loses_their_cached_token_with_the_next_request() {
    let srv = TestServer::spawn_apps().await;
    let (_, carols) = srv.new_token(&CAROL, &OAUTH_APP, json!({})).await;
    let (_, alices) = srv.alice_token(&OAUTH_APP).await;
    warm(&srv, &OAUTH_APP, &carols, "carol").await;
    warm(&srv, &OAUTH_APP, &alices, "alice").await;

    cli(srv.db_url(), &["user", "delete", "carol"]).await;

    // The very first request after the command: the app's check, then the user's own use.
    assert_not_found(&srv.check(&OAUTH_APP, &carols).await);
    assert_bad_credentials(&srv.get_user(&carols).await);
    // Another user's token is untouched (and the app still signs in).
    srv.assert_token_works(&OAUTH_APP, &alices, "alice").await;
}

#[tokio::test]
async fn a_secret_rotated_by_the_cli_stops_signing_in_with_the_next_request() {
    let srv = TestServer::spawn().await;
    let (_, token) = srv.alice_token(&OAUTH_APP).await;
    warm(&srv, &OAUTH_APP, &token, "alice").await;

    let rotated: Value = serde_json::from_str(
        &cli(
            srv.db_url(),
            &["app", "rotate-secret", OAUTH_APP.client_id, "--json"],
        )
        .await,
    )
    .expect("--json output");
    let new_secret = str_of(&rotated, "client_secret").to_owned();
    assert_ne!(new_secret, OAUTH_APP.client_secret);

    assert_bad_credentials(
        &check_with_secret(&srv, &OAUTH_APP, OAUTH_APP.client_secret, &token).await,
    );
    let body = check_with_secret(&srv, &OAUTH_APP, &new_secret, &token)
        .await
        .expect_status(200);
    assert_eq!(body["token"], token.as_str());
    // The token itself was not touched.
    assert_eq!(
        srv.get_user(&token).await.expect_status(200)["login"],
        "alice"
    );
    // And the old secret stays refused (a second look, from memory this time).
    assert_bad_credentials(
        &check_with_secret(&srv, &OAUTH_APP, OAUTH_APP.client_secret, &token).await,
    );
}

#[tokio::test]
async fn an_app_deleted_by_the_cli_takes_its_cached_tokens_and_sign_in_with_it() {
    let srv = TestServer::spawn().await;
    let (_, bobs) = srv.new_token(&BOB, &OTHER_APP, json!({})).await;
    let (_, alices) = srv.alice_token(&OAUTH_APP).await;
    warm(&srv, &OTHER_APP, &bobs, "bob").await;
    warm(&srv, &OAUTH_APP, &alices, "alice").await;

    cli(srv.db_url(), &["app", "delete", OTHER_APP.client_id]).await;

    // The app no longer signs in (its cached record is gone too), and its token is dead.
    assert_bad_credentials(&srv.check(&OTHER_APP, &bobs).await);
    assert_bad_credentials(&srv.get_user(&bobs).await);
    srv.assert_token_works(&OAUTH_APP, &alices, "alice").await;
}

#[tokio::test]
async fn tokens_minted_by_the_cli_while_serving_work_at_once_and_die_at_once() {
    let srv = TestServer::spawn().await;
    let (_, existing) = srv.alice_token(&OAUTH_APP).await;
    warm(&srv, &OAUTH_APP, &existing, "alice").await;
    // An unknown token, asked while the index is warm: answered "absent", and must not make
    // the index forget anything it needs.
    for _ in 0..2 {
        assert_not_found(&srv.check(&OAUTH_APP, &sibling_of(&existing)).await);
    }

    let minted = mint(srv.db_url(), srv.dir(), &OAUTH_APP, "alice", 3).await;
    // Each one's very first check after the command finds it: the index learns new ids.
    for token in &minted {
        let body = srv.check(&OAUTH_APP, token).await.expect_status(200);
        assert_eq!(body["token"], token.as_str());
        assert_eq!(scopes_of(&body), strings(&["repo"]));
    }
    for token in &minted {
        warm(&srv, &OAUTH_APP, token, "alice").await;
    }

    // Revoked by the app: gone with the next request.
    srv.revoke(&OAUTH_APP, &minted[0]).await.expect_no_content();
    srv.assert_token_is_gone(&OAUTH_APP, &minted[0]).await;
    // Deleted by its user: gone with the next request.
    let id = id_of(&srv.check(&OAUTH_APP, &minted[1]).await.expect_status(200));
    warm(&srv, &OAUTH_APP, &minted[1], "alice").await;
    srv.delete(&format!("/authorizations/{id}"))
        .login_as(&ALICE)
        .go()
        .await
        .expect_no_content();
    srv.assert_token_is_gone(&OAUTH_APP, &minted[1]).await;
    // The others live on.
    srv.assert_token_works(&OAUTH_APP, &minted[2], "alice")
        .await;
    srv.assert_token_works(&OAUTH_APP, &existing, "alice").await;
}

// ---------------------------------------------------------------------------------------------
// 2. Changes through the API of the same server
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_reset_fails_the_cached_old_token_with_the_next_request() {
    let srv = TestServer::spawn().await;
    let (_, first) = srv.alice_token(&OAUTH_APP).await;
    warm(&srv, &OAUTH_APP, &first, "alice").await;

    let second = token_of(
        &srv.reset(&OAUTH_APP, &first).await.expect_status(200),
        "gho_",
    );
    assert_not_found(&srv.check(&OAUTH_APP, &first).await);
    srv.assert_token_works(&OAUTH_APP, &second, "alice").await;
    assert_bad_credentials(&srv.get_user(&first).await);

    // Once more, from a warm second token: a chain of resets leaves only the last one.
    warm(&srv, &OAUTH_APP, &second, "alice").await;
    let third = token_of(
        &srv.reset(&OAUTH_APP, &second).await.expect_status(200),
        "gho_",
    );
    assert_bad_credentials(&srv.get_user(&second).await);
    assert_not_found(&srv.check(&OAUTH_APP, &second).await);
    assert_not_found(&srv.check(&OAUTH_APP, &first).await);
    srv.assert_token_works(&OAUTH_APP, &third, "alice").await;
}

#[tokio::test]
async fn a_cached_token_revoked_by_its_app_or_deleted_by_its_user_is_gone_with_the_next_request() {
    let srv = TestServer::spawn().await;
    let (_, revoked) = srv.alice_token(&OAUTH_APP).await;
    let (authz, deleted) = srv
        .new_token(&ALICE, &GITHUB_APP, json!({ "scopes": ["repo"] }))
        .await;
    warm(&srv, &OAUTH_APP, &revoked, "alice").await;
    warm(&srv, &GITHUB_APP, &deleted, "alice").await;

    srv.revoke(&OAUTH_APP, &revoked).await.expect_no_content();
    assert_not_found(&srv.check(&OAUTH_APP, &revoked).await);
    assert_bad_credentials(&srv.get_user(&revoked).await);

    srv.delete(&format!("/authorizations/{}", id_of(&authz)))
        .login_as(&ALICE)
        .go()
        .await
        .expect_no_content();
    // The user's side first this time.
    assert_bad_credentials(&srv.get_user(&deleted).await);
    assert_not_found(&srv.check(&GITHUB_APP, &deleted).await);
}

#[tokio::test]
async fn deleting_a_grant_fails_all_its_cached_tokens_with_the_next_request() {
    let srv = TestServer::spawn().await;
    // Two tokens under alice's grant of the OAuth app (two fingerprints), one of the GitHub App.
    let (_, laptop) = srv
        .new_token(&ALICE, &OAUTH_APP, json!({ "fingerprint": "laptop" }))
        .await;
    let (_, desktop) = srv
        .new_token(&ALICE, &OAUTH_APP, json!({ "fingerprint": "desktop" }))
        .await;
    let (_, other) = srv.alice_token(&GITHUB_APP).await;
    for token in [&laptop, &desktop] {
        warm(&srv, &OAUTH_APP, token, "alice").await;
    }
    warm(&srv, &GITHUB_APP, &other, "alice").await;

    // The user deletes the grant.
    let grant = grant_id(&srv, &ALICE, &OAUTH_APP).await;
    srv.delete(&format!("/applications/grants/{grant}"))
        .login_as(&ALICE)
        .go()
        .await
        .expect_no_content();
    assert_not_found(&srv.check(&OAUTH_APP, &laptop).await);
    assert_not_found(&srv.check(&OAUTH_APP, &desktop).await);
    assert_bad_credentials(&srv.get_user(&laptop).await);
    assert_bad_credentials(&srv.get_user(&desktop).await);
    srv.assert_token_works(&GITHUB_APP, &other, "alice").await;

    // The app deletes the other grant (with the token it holds).
    warm(&srv, &GITHUB_APP, &other, "alice").await;
    srv.delete_app_grant(&GITHUB_APP, &other)
        .await
        .expect_no_content();
    assert_not_found(&srv.check(&GITHUB_APP, &other).await);
    assert_bad_credentials(&srv.get_user(&other).await);
}

#[tokio::test]
async fn an_edit_of_a_cached_authorization_shows_in_the_next_check() {
    let srv = TestServer::spawn().await;
    let (authz, token) = srv
        .new_token(
            &ALICE,
            &OAUTH_APP,
            json!({ "scopes": ["repo"], "note": "before" }),
        )
        .await;
    let path = format!("/authorizations/{}", id_of(&authz));
    warm(&srv, &OAUTH_APP, &token, "alice").await;
    let body = srv.check(&OAUTH_APP, &token).await.expect_status(200);
    assert_eq!(
        (scopes_of(&body), &body["note"]),
        (strings(&["repo"]), &json!("before"))
    );

    // Each edit, then the very next check shows it; then the next use.
    for (edit, scopes, note) in [
        (
            json!({ "scopes": ["gist", "user"], "note": "after" }),
            &["gist", "user"][..],
            "after",
        ),
        (
            json!({ "add_scopes": ["repo"] }),
            &["gist", "repo", "user"][..],
            "after",
        ),
        (
            json!({ "remove_scopes": ["gist", "user"], "note": "last" }),
            &["repo"][..],
            "last",
        ),
    ] {
        warm(&srv, &OAUTH_APP, &token, "alice").await;
        let patched = srv
            .patch(&path)
            .login_as(&ALICE)
            .json(&edit)
            .go()
            .await
            .expect_status(200);
        assert_eq!(scopes_of(&patched), strings(scopes), "PATCH {edit}");

        let checked = srv.check(&OAUTH_APP, &token).await.expect_status(200);
        assert_eq!(scopes_of(&checked), strings(scopes), "check after {edit}");
        assert_eq!(checked["note"], note, "check after {edit}");
        assert_eq!(checked["updated_at"], patched["updated_at"]);
        assert_eq!(header_scopes(&srv, &token).await, strings(scopes));
    }
}

/// A check's answer is rendered once per cached record and the token spliced in (see
/// `src/http/answers.rs`): each answer must still be its own token's, byte for byte the same on
/// every check, and agree with the user side's view of the authorization.
#[tokio::test]
async fn cached_check_answers_are_each_tokens_own() {
    let srv = TestServer::spawn().await;
    let note = "quotes \" and \\ backslash, ünïcödé, 🦀, \u{1} control";
    let (first, token) = srv
        .new_token(
            &ALICE,
            &OAUTH_APP,
            json!({ "scopes": ["repo"], "note": note }),
        )
        .await;
    let (second, other) = srv
        .new_token(
            &ALICE,
            &OAUTH_APP,
            json!({ "scopes": ["gist"], "fingerprint": "second" }),
        )
        .await;
    warm(&srv, &OAUTH_APP, &token, "alice").await;
    warm(&srv, &OAUTH_APP, &other, "alice").await;

    let mut answers: Vec<Reply> = Vec::new();
    for checked in [&token, &other, &token, &other, &token] {
        answers.push(srv.check(&OAUTH_APP, checked).await);
    }
    for (reply, (token, authorization)) in answers
        .iter()
        .zip([(&token, &first), (&other, &second)].into_iter().cycle())
    {
        let body = reply.json();
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(&body["token"], token.as_str());
        assert_eq!(body["id"], authorization["id"]);
        // Everything but the token as the user side shows it (there the token is empty).
        let shown = srv
            .get(&format!("/authorizations/{}", id_of(authorization)))
            .login_as(&ALICE)
            .go()
            .await
            .expect_status(200);
        let mut answered = body.clone();
        let object = answered.as_object_mut().expect("an object");
        object.insert("token".into(), json!(""));
        object.remove("user");
        object.remove("installation");
        assert_eq!(answered, shown);
    }
    assert_eq!(answers[0].body, answers[2].body);
    assert_eq!(answers[0].body, answers[4].body);
    assert_eq!(answers[1].body, answers[3].body);
    assert_eq!(answers[0].json()["note"], note);
}

/// `GET /user`'s body, tag and scopes header are rendered once per cached record too: each
/// answer must be its own token's user and scopes, byte for byte the same each time, tagged
/// with the hash of exactly the bytes sent, and that tag must make the next request a 304.
#[tokio::test]
async fn cached_user_answers_are_each_tokens_own() {
    use sha2::{Digest, Sha256};

    let srv = TestServer::spawn().await;
    let (_, alices) = srv
        .new_token(&ALICE, &OAUTH_APP, json!({ "scopes": ["repo", "gist"] }))
        .await;
    let (_, bobs) = srv
        .new_token(&BOB, &OAUTH_APP, json!({ "scopes": ["user"] }))
        .await;
    warm(&srv, &OAUTH_APP, &alices, "alice").await;
    warm(&srv, &OAUTH_APP, &bobs, "bob").await;

    let mut answers: Vec<Reply> = Vec::new();
    for token in [&alices, &bobs, &alices, &bobs] {
        let reply = srv.get_user(token).await;
        reply.expect_status(200);
        answers.push(reply);
    }
    for (reply, (login, scopes)) in answers.iter().zip(
        [("alice", "repo, gist"), ("bob", "user")]
            .into_iter()
            .cycle(),
    ) {
        assert_eq!(reply.json()["login"], login);
        let header = reply.header("X-OAuth-Scopes").unwrap_or_default();
        let mut shown: Vec<&str> = header.split(", ").collect();
        let mut expected: Vec<&str> = scopes.split(", ").collect();
        shown.sort_unstable();
        expected.sort_unstable();
        assert_eq!(shown, expected, "{login}'s scopes");
        let etag = format!(
            "W/\"{}\"",
            hex::encode(Sha256::digest(reply.body.as_bytes()))
        );
        assert_eq!(reply.header("ETag").as_deref(), Some(etag.as_str()));
    }
    assert_eq!(answers[0].body, answers[2].body);
    assert_eq!(answers[1].body, answers[3].body);
    assert_ne!(answers[0].header("ETag"), answers[1].header("ETag"));

    for (token, reply) in [(&alices, &answers[2]), (&bobs, &answers[3])] {
        let etag = reply.header("ETag").expect("an ETag");
        let unchanged = srv
            .get("/user")
            .header("Authorization", format!("token {token}"))
            .header("If-None-Match", etag.clone())
            .go()
            .await;
        assert_eq!(unchanged.status, 304, "{}", unchanged.body);
        assert_eq!(unchanged.body, "");
        assert_eq!(unchanged.header("ETag"), Some(etag));
        // Another token's tag does not match.
        let other = if token == &alices {
            &answers[1]
        } else {
            &answers[0]
        };
        srv.get("/user")
            .header("Authorization", format!("token {token}"))
            .header("If-None-Match", other.header("ETag").expect("an ETag"))
            .go()
            .await
            .expect_status(200);
    }
}

#[tokio::test]
async fn a_user_or_app_changed_by_a_cli_fixture_shows_in_the_next_use_of_a_cached_token() {
    // A cached token record carries its user and its app: a `grantd seed` that changes either
    // must show in the very next answer (`GET /user` and the check render them from the record).
    let srv = TestServer::spawn().await;
    let (_, token) = srv.alice_token(&OAUTH_APP).await;
    warm(&srv, &OAUTH_APP, &token, "alice").await;
    let me = srv.get_user(&token).await.expect_status(200);
    assert_eq!(
        (&me["email"], &me["site_admin"]),
        (&json!("alice@example.com"), &json!(false))
    );
    let checked = srv.check(&OAUTH_APP, &token).await.expect_status(200);
    assert_eq!(checked["app"]["name"], OAUTH_APP.name);

    // alice's email and site-admin flag change.
    let fixture = DEFAULT_FIXTURE.replace(
        "email = \"alice@example.com\"",
        "email = \"alice@new.example\"\nsite_admin = true",
    );
    assert_ne!(fixture, DEFAULT_FIXTURE);
    let seed = write_file(srv.dir(), "changed-user.toml", &fixture);
    cli(srv.db_url(), &["seed", seed.to_str().expect("UTF-8 path")]).await;
    let me = srv.get_user(&token).await.expect_status(200);
    assert_eq!(
        (&me["email"], &me["site_admin"]),
        (&json!("alice@new.example"), &json!(true))
    );
    let checked = srv.check(&OAUTH_APP, &token).await.expect_status(200);
    assert_eq!(checked["user"]["site_admin"], true);

    // The app's name and URL change.
    warm(&srv, &OAUTH_APP, &token, "alice").await;
    let fixture = fixture.replace(
        "name = \"my oauth app\"\nurl = \"http://my-oauth-app.example.com\"",
        "name = \"renamed oauth app\"\nurl = \"https://renamed.example.com\"",
    );
    let seed = write_file(srv.dir(), "changed-app.toml", &fixture);
    cli(srv.db_url(), &["seed", seed.to_str().expect("UTF-8 path")]).await;
    let checked = srv.check(&OAUTH_APP, &token).await.expect_status(200);
    assert_eq!(
        checked["app"],
        json!({
            "name": "renamed oauth app",
            "url": "https://renamed.example.com",
            "client_id": OAUTH_APP.client_id,
        })
    );
}

#[tokio::test]
async fn a_cached_expiring_token_is_gone_at_its_expiry() {
    let srv = TestServer::spawn_apps().await;
    let (authz, token) = srv.alice_token(&EXPIRING_APP).await;
    let expires_at = timestamp_of(&authz, "expires_at");

    srv.clock.pin(expires_at - Duration::seconds(1));
    warm(&srv, &EXPIRING_APP, &token, "alice").await;

    srv.clock.pin(expires_at);
    assert_not_found(&srv.check(&EXPIRING_APP, &token).await);
    assert_bad_credentials(&srv.get_user(&token).await);

    // Warm again before expiry (the record is cached by now): still gone once time passes.
    srv.clock.pin(expires_at - Duration::seconds(1));
    srv.assert_token_works(&EXPIRING_APP, &token, "alice").await;
    srv.clock.pin(expires_at + Duration::days(1));
    assert_bad_credentials(&srv.get_user(&token).await);
    assert_not_found(&srv.check(&EXPIRING_APP, &token).await);
}

/// Sends the app's check of `token` until `reset` is set and `after` more were sent after it;
/// returns how many of those accepted the token.
async fn check_until_reset(
    client: reqwest::Client,
    url: String,
    token: String,
    reset: Arc<AtomicBool>,
    after: usize,
) -> usize {
    let (mut sent_after, mut stale) = (0, 0);
    while sent_after < after {
        let sent_after_reset = reset.load(Ordering::SeqCst);
        let reply = client
            .post(&url)
            .basic_auth(OAUTH_APP.client_id, Some(OAUTH_APP.client_secret))
            .json(&json!({ "access_token": token }))
            .send()
            .await
            .expect("the server answers");
        let status = reply.status().as_u16();
        assert!(matches!(status, 200 | 404), "status {status}");
        if sent_after_reset {
            sent_after += 1;
            stale += usize::from(status == 200);
        }
    }
    stale
}

/// Checks of many tokens running while each is reset: once a reset's answer has arrived, no
/// check sent after that may still accept the old token. Most tokens are cold (not in memory),
/// so the first checks read them from the database while the reset is being committed, and
/// the index must not keep what such a read returned; the others are warm. (That race is
/// narrow: a server that cached such reads fails this test in about half of the runs.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_check_sent_after_a_reset_answered_accepts_the_old_token() {
    const TOKENS: usize = 96;
    // The checkers send thousands of requests: more than the default rate limit allows.
    let limits = grantd::http::Limits {
        rate: grantd::domain::limits::RateLimit {
            limit: 1_000_000,
            ..Default::default()
        },
        ..Default::default()
    };
    let options = ServerOptions {
        limits,
        ..Default::default()
    };
    let srv = TestServer::spawn_with_options(DEFAULT_FIXTURE, None, options).await;
    let tokens = mint(srv.db_url(), srv.dir(), &OAUTH_APP, "alice", TOKENS).await;
    for token in tokens.iter().step_by(4) {
        warm(&srv, &OAUTH_APP, token, "alice").await;
    }
    let url = srv.url(&format!("/applications/{}/token", OAUTH_APP.client_id));
    for (batch, olds) in tokens.chunks(8).enumerate() {
        let mut checkers = tokio::task::JoinSet::new();
        let mut resets = tokio::task::JoinSet::new();
        for old in olds {
            let reset = Arc::new(AtomicBool::new(false));
            for _ in 0..3 {
                checkers.spawn(check_until_reset(
                    srv.client.clone(),
                    url.clone(),
                    old.clone(),
                    Arc::clone(&reset),
                    5,
                ));
            }
            let (client, url, old) = (srv.client.clone(), url.clone(), old.clone());
            resets.spawn(async move {
                let reply = client
                    .patch(&url)
                    .basic_auth(OAUTH_APP.client_id, Some(OAUTH_APP.client_secret))
                    .json(&json!({ "access_token": old }))
                    .send()
                    .await
                    .expect("the server answers");
                assert_eq!(reply.status().as_u16(), 200);
                let body: Value = reply.json().await.expect("JSON");
                reset.store(true, Ordering::SeqCst);
                (old, str_of(&body, "token").to_owned())
            });
        }
        let reset = resets.join_all().await;
        let stale: usize = checkers.join_all().await.into_iter().sum();
        assert_eq!(
            stale, 0,
            "batch {batch}: checks sent after a reset answered accepted the old token"
        );
        for (old, new) in reset {
            assert_not_found(&srv.check(&OAUTH_APP, &old).await);
            srv.assert_token_works(&OAUTH_APP, &new, "alice").await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. A server started on a database that already holds many tokens
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_server_started_on_many_tokens_answers_them_at_once_and_later() {
    const COUNT: usize = 30_000;
    let mut srv = TestServer::spawn().await;
    let tokens = mint(srv.db_url(), srv.dir(), &OAUTH_APP, "alice", COUNT).await;
    // A new server on that database: its index loads in the background (tens of
    // milliseconds for this many tokens), and it must answer right away, while the load is
    // under way, and after it.
    srv.restart().await;
    // A reset and a revocation right after the start, most likely while the index loads: the
    // load must not bring back the old state.
    let reset_early = &tokens[COUNT - 3];
    let revoked_early = &tokens[COUNT - 2];
    let new_of_reset = token_of(
        &srv.reset(&OAUTH_APP, reset_early).await.expect_status(200),
        "gho_",
    );
    srv.revoke(&OAUTH_APP, revoked_early)
        .await
        .expect_no_content();
    srv.assert_token_works(&OAUTH_APP, &tokens[COUNT / 3], "alice")
        .await;

    let live = [
        &tokens[0],
        &tokens[1],
        &tokens[COUNT / 2],
        &tokens[COUNT - 1],
        &new_of_reset,
    ];
    let unknown = [
        sibling_of(&tokens[0]),
        sibling_of(&tokens[COUNT - 1]),
        unissued_token("gho_"),
        reset_early.clone(),
        revoked_early.clone(),
    ];
    let malformed = [
        with_bad_checksum(&tokens[0]),
        tokens[0][..39].to_owned(),
        format!("ghx_{}", &tokens[0][4..]),
        "not a token".to_owned(),
    ];
    let check_all = async || {
        for token in live {
            let body = srv.check(&OAUTH_APP, token).await.expect_status(200);
            assert_eq!(body["token"], token.as_str());
            assert_eq!(
                srv.get_user(token).await.expect_status(200)["login"],
                "alice"
            );
        }
        for token in unknown.iter().chain(&malformed) {
            assert_not_found(&srv.check(&OAUTH_APP, token).await);
            assert_bad_credentials(&srv.get_user(token).await);
        }
    };
    check_all().await;
    // Tokens minted after the start are known at once, whether the load is done or not.
    let fresh = mint(srv.db_url(), srv.dir(), &OAUTH_APP, "alice", 2).await;
    for token in &fresh {
        srv.check(&OAUTH_APP, token).await.expect_status(200);
    }

    // Later, once the load is done (this wait is for the background load, not for any change
    // to show: every change above was seen at once). The index reports its token count only
    // when loaded, as `/metrics` does; a PostgreSQL server keeps no index to wait for.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let loaded = || {
        srv.store()
            .usage()
            .index
            .is_none_or(|index| index.tokens.is_some())
    };
    while !loaded() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the index did not load within 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    check_all().await;
    check_all().await;
    for token in &fresh {
        warm(&srv, &OAUTH_APP, token, "alice").await;
    }
    srv.revoke(&OAUTH_APP, &fresh[0]).await.expect_no_content();
    srv.assert_token_is_gone(&OAUTH_APP, &fresh[0]).await;
    srv.assert_token_works(&OAUTH_APP, &fresh[1], "alice").await;
}

// ---------------------------------------------------------------------------------------------
// 4. Two server processes on one database
// ---------------------------------------------------------------------------------------------

struct Node<'a> {
    server: &'a ServerProcess,
    client: &'a reqwest::Client,
}

impl Node<'_> {
    async fn send(
        &self,
        method: Method,
        path: &str,
        auth: (&str, &str),
        body: Option<Value>,
    ) -> (u16, Value) {
        self.server
            .send(self.client, method, path, auth, body)
            .await
    }

    async fn app(&self, method: Method, token: &str) -> (u16, Value) {
        let path = format!("/applications/{}/token", OAUTH_APP.client_id);
        let app = (OAUTH_APP.client_id, OAUTH_APP.client_secret);
        self.send(method, &path, app, Some(json!({ "access_token": token })))
            .await
    }

    async fn check(&self, token: &str) -> (u16, Value) {
        self.app(Method::POST, token).await
    }

    async fn use_token(&self, token: &str) -> u16 {
        let reply = self
            .client
            .get(self.server.url("/user"))
            .bearer_auth(token)
            .send()
            .await
            .expect("the node answers");
        reply.status().as_u16()
    }

    async fn warm(&self, token: &str) {
        for _ in 0..2 {
            assert_eq!(self.check(token).await.0, 200);
            assert_eq!(self.use_token(token).await, 200);
        }
    }

    async fn new_token(&self, scopes: Value) -> (i64, String) {
        let body = json!({
            "client_id": OAUTH_APP.client_id,
            "client_secret": OAUTH_APP.client_secret,
            "scopes": scopes,
        });
        let (status, created) = self
            .send(
                Method::POST,
                "/authorizations",
                (ALICE.login, ALICE.password),
                Some(body),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        (id_of(&created), str_of(&created, "token").to_owned())
    }
}

#[tokio::test]
async fn a_change_through_one_process_shows_on_the_warm_cache_of_the_other_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = fresh_database_url(&dir.path().join("grantd.db")).await;
    let seed = write_file(dir.path(), "seed.toml", DEFAULT_FIXTURE);
    let seed = seed.to_str().expect("UTF-8 path");
    let a = ServerProcess::start(&db, &["--seed", seed], &dir.path().join("a.log"));
    let b = ServerProcess::start(&db, &[], &dir.path().join("b.log"));
    let client = reqwest::Client::new();
    let (a, b) = (
        Node {
            server: &a,
            client: &client,
        },
        Node {
            server: &b,
            client: &client,
        },
    );

    // Revoked through A.
    let (_, token) = a.new_token(json!(["repo"])).await;
    b.warm(&token).await;
    assert_eq!(a.app(Method::DELETE, &token).await.0, 204);
    assert_eq!(b.check(&token).await.0, 404);
    assert_eq!(b.use_token(&token).await, 401);

    // Reset through A.
    let (_, old) = a.new_token(json!(["repo"])).await;
    b.warm(&old).await;
    let (status, reset) = a.app(Method::PATCH, &old).await;
    assert_eq!(status, 200);
    let new = str_of(&reset, "token").to_owned();
    assert_eq!(b.check(&old).await.0, 404);
    assert_eq!(b.check(&new).await.0, 200);
    assert_eq!(b.use_token(&old).await, 401);

    // Scopes edited through A.
    b.warm(&new).await;
    let id = id_of(&reset);
    let (status, patched) = a
        .send(
            Method::PATCH,
            &format!("/authorizations/{id}"),
            (ALICE.login, ALICE.password),
            Some(json!({ "scopes": ["gist"] })),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    let (status, checked) = b.check(&new).await;
    assert_eq!(status, 200);
    assert_eq!(scopes_of(&checked), strings(&["gist"]));

    // Deleted by its user through A.
    b.warm(&new).await;
    let (status, _) = a
        .send(
            Method::DELETE,
            &format!("/authorizations/{id}"),
            (ALICE.login, ALICE.password),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(b.use_token(&new).await, 401);
    assert_eq!(b.check(&new).await.0, 404);

    // Made through B, revoked by a `grantd` command: A and B both see it at once.
    let (_, token) = b.new_token(json!([])).await;
    a.warm(&token).await;
    b.warm(&token).await;
    cli(&db, &["user", "delete", "alice2fa"]).await; // an unrelated change first
    assert_eq!(a.check(&token).await.0, 200);
    assert_eq!(b.check(&token).await.0, 200);
    cli(&db, &["app", "delete", OAUTH_APP.client_id]).await;
    assert_eq!(a.use_token(&token).await, 401);
    assert_eq!(b.use_token(&token).await, 401);
}

// ---------------------------------------------------------------------------------------------
// 5. A server that missed changes which were pruned from the change log meanwhile (SQLite)
// ---------------------------------------------------------------------------------------------

/// PostgreSQL has no token index and no change log: these run in the SQLite pass only.
mod sqlite_only {
    use super::*;
    use crate::support::{Engine, require_engine};

    /// A SQLite database with the default fixture plus carol, and one token of carol's (minted by
    /// the CLI), for the tests below.
    async fn sqlite_with_carols_token(dir: &Path) -> (std::path::PathBuf, String, String) {
        require_engine(Engine::Sqlite);
        let path = dir.join("grantd.db");
        let db = sqlite_url(&path);
        let fixture = format!(
            "{DEFAULT_FIXTURE}\n[[users]]\nlogin = \"carol\"\npassword = \"{}\"\n",
            CAROL.password
        );
        let seed = write_file(dir, "seed.toml", &fixture);
        cli(&db, &["seed", seed.to_str().expect("UTF-8 path")]).await;
        let token = mint(&db, dir, &OAUTH_APP, "carol", 1).await.remove(0);
        (path, db, token)
    }

    /// Starts an in-process server on the file with its clock an hour ahead, so that its first
    /// sync (a second after the start) prunes every change-log row, as a server does with rows
    /// older than ten minutes; returns once the log is empty.
    async fn prune_the_change_log(path: &Path) -> TestServer {
        let pruner = TestServer::spawn_on_database(path).await;
        pruner.clock.advance(3600);
        let connection = rusqlite::Connection::open(path).expect("open the database");
        for _ in 0..100 {
            let rows: i64 = connection
                .query_row("SELECT COUNT(*) FROM cache_changes", [], |row| row.get(0))
                .expect("count the change log");
            if rows == 0 {
                return pruner;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the change log was not pruned within 10 s");
    }

    /// B (a process that syncs once an hour, so it looks at the database only when asked) warms
    /// its cache; carol is deleted by the CLI; every change-log row B has not seen is pruned; with
    /// `later_change`, another change is committed after that. B's next requests must not answer from
    /// its stale memory.
    async fn missed_pruned_changes(later_change: bool) {
        let dir = tempfile::tempdir().expect("temp dir");
        let (path, db, token) = sqlite_with_carols_token(dir.path()).await;
        let b = ServerProcess::start(
            &db,
            &["--counter-sync-interval", "1h"],
            &dir.path().join("b.log"),
        );
        let client = reqwest::Client::new();
        let b = Node {
            server: &b,
            client: &client,
        };
        b.warm(&token).await;

        cli(&db, &["user", "delete", "carol"]).await;
        let _pruner = prune_the_change_log(&path).await;
        if later_change {
            cli(&db, &["app", "rotate-secret", OTHER_APP.client_id]).await;
        }

        assert_eq!(b.check(&token).await.0, 404, "a deleted user's token");
        assert_eq!(b.use_token(&token).await, 401, "a deleted user's token");
    }

    /// A later change leaves a row after the gap: B's next request finds the gap and must reload.
    #[tokio::test]
    async fn a_server_that_missed_pruned_changes_reloads_when_it_finds_the_gap() {
        missed_pruned_changes(true).await;
    }

    /// Every row B did not see was pruned and none came after.
    ///
    /// The index compares its position with the log's `sqlite_sequence` (read before the rows), so a
    /// gap is found even when no row is left after the position. In production this needs a server
    /// that did not look at the database for ten minutes while another server on the file pruned;
    /// here the other server's clock is moved instead.
    #[tokio::test]
    async fn a_server_that_missed_pruned_changes_does_not_serve_a_stale_token() {
        missed_pruned_changes(false).await;
    }
}

/// `--token-cache-size 0` turns the index off: every check reads the database, and a token
/// made, reset and revoked through the server still answers as it should.
#[tokio::test]
async fn with_the_index_off_every_check_reads_the_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = fresh_database_url(&dir.path().join("grantd.db")).await;
    let seed = write_file(dir.path(), "seed.toml", DEFAULT_FIXTURE);
    let seed = seed.to_str().expect("UTF-8 path");
    let server = ServerProcess::start(
        &db,
        &["--seed", seed, "--token-cache-size", "0"],
        &dir.path().join("serve.log"),
    );
    let client = reqwest::Client::new();
    let node = Node {
        server: &server,
        client: &client,
    };
    let (_, token) = node.new_token(json!(["repo"])).await;
    node.warm(&token).await;
    let (status, reset) = node.app(Method::PATCH, &token).await;
    assert_eq!(status, 200, "{reset}");
    let new = str_of(&reset, "token").to_owned();
    assert_eq!(node.check(&token).await.0, 404);
    assert_eq!(node.check(&new).await.0, 200);
    assert_eq!(node.app(Method::DELETE, &new).await.0, 204);
    assert_eq!(node.check(&new).await.0, 404);
    assert_eq!(node.use_token(&new).await, 401);
}

/// A zero merge interval would spin: `serve` refuses it before touching the database.
#[tokio::test]
async fn serve_refuses_a_zero_counter_sync_interval() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = sqlite_url(&dir.path().join("grantd.db"));
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_grantd"))
            .args(["serve", "--listen", "127.0.0.1:0", "--db", &db])
            .args(["--counter-sync-interval", "0s"])
            .output()
            .expect("run grantd")
    })
    .await
    .expect("join");
    assert!(!out.status.success(), "serve started with a zero interval");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "'--counter-sync-interval <COUNTER_SYNC_INTERVAL>': must be longer than zero"
        ),
        "stderr: {stderr}"
    );
    assert!(
        !dir.path().join("grantd.db").exists(),
        "the database was created before the flag was checked"
    );
}
