//! The sign-in pages (issue 19, first slice), driven as a browser would: a cookie jar, no
//! redirects followed (each 303 is asserted), forms posted urlencoded. The sessions table is
//! read straight from the database (either engine) for what the pages must not show.

use reqwest::Client;
use reqwest::redirect::Policy;
use sha2::{Digest, Sha256};

use crate::support::{
    ALICE, ALICE2FA, BOB, DEFAULT_FIXTURE, ServerOptions, ServerProcess, TestServer, User,
    current_otp, fresh_database_url, secret_key_file_for, write_file, wrong_otp,
};

/// A browser: keeps cookies, follows no redirect.
pub(crate) fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .expect("client")
}

/// The `authenticity_token` of the first form on a page.
pub(crate) fn token_of(html: &str) -> String {
    let marker = "name=\"authenticity_token\" value=\"";
    let at = html
        .find(marker)
        .expect("a form with an authenticity_token")
        + marker.len();
    html[at..]
        .split('"')
        .next()
        .expect("closing quote")
        .to_owned()
}

/// GET `path` and the page's form token.
async fn form_token(client: &Client, url: &str) -> String {
    let page = client.get(url).send().await.expect("GET");
    assert_eq!(page.status(), 200);
    token_of(&page.text().await.expect("body"))
}

async fn post_form(client: &Client, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
    client.post(url).form(form).send().await.expect("POST")
}

/// Posts the sign-in form with `password`, after loading the form.
pub(crate) async fn sign_in_with(
    srv: &TestServer,
    client: &Client,
    login: &str,
    password: &str,
    return_to: &str,
) -> reqwest::Response {
    let token = form_token(client, &srv.url("/login")).await;
    post_form(
        client,
        &srv.url("/session"),
        &[
            ("login", login),
            ("password", password),
            ("authenticity_token", &token),
            ("return_to", return_to),
        ],
    )
    .await
}

pub(crate) async fn sign_in(srv: &TestServer, client: &Client, user: &User) -> reqwest::Response {
    sign_in_with(srv, client, user.login, user.password, "").await
}

pub(crate) fn location(response: &reqwest::Response) -> &str {
    response
        .headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .expect("text")
}

/// The `Set-Cookie` header that sets `name`.
pub(crate) fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("text").to_owned())
        .find(|v| v.starts_with(&format!("{name}=")))
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .expect("name=value")
        .1
        .to_owned()
}

/// What `GET /login` shows: `Some(login)` when signed in.
async fn signed_in_as(client: &Client, url: &str) -> Option<String> {
    let page = client.get(url).send().await.expect("GET /login");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("body");
    html.split_once("Signed in as <strong>")
        .map(|(_, rest)| rest.split('<').next().unwrap_or_default().to_owned())
}

/// The sessions table: (hash, user id, pending) per row, read with SQL on either engine.
async fn session_rows(db_url: &str) -> Vec<(Vec<u8>, i64, bool, i64, i64)> {
    let sql = "SELECT session_hash, user_id, two_factor_pending, created_at, expires_at \
               FROM sessions ORDER BY created_at";
    if db_url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(db_url).await.expect("connect");
        sqlx::query_as(sql).fetch_all(&pool).await.expect("rows")
    } else {
        let pool = sqlx::SqlitePool::connect(db_url).await.expect("connect");
        sqlx::query_as(sql).fetch_all(&pool).await.expect("rows")
    }
}

/// The server's database through the public store API, with the key that opens its TOTP
/// secrets (PostgreSQL needs it given).
pub(crate) async fn open_store(db_url: &str) -> std::sync::Arc<dyn grantd::store::Store> {
    let key = secret_key_file_for(db_url);
    grantd::store::open_with(
        db_url,
        grantd::store::PoolSettings::default(),
        key.as_deref(),
    )
    .await
    .expect("open the store")
}

fn throttled(attempts: u32) -> ServerOptions {
    ServerOptions {
        limits: grantd::http::Limits {
            login: grantd::domain::limits::LoginThrottle {
                attempts,
                window: time::Duration::minutes(5),
            },
            ..grantd::http::Limits::default()
        },
        ..ServerOptions::default()
    }
}

async fn page_text(response: reqwest::Response) -> String {
    response.text().await.expect("body")
}

#[tokio::test]
async fn signing_in_sets_a_session_cookie_and_stores_only_its_hash() {
    let srv = TestServer::spawn().await;
    let client = browser();
    let login = client.get(srv.url("/login")).send().await.unwrap();
    assert_eq!(login.status(), 200);
    // The per-browser secret behind the forms' tokens.
    let browser_cookie = set_cookie(&login, "_gh_sess").expect("a _gh_sess cookie");
    assert!(browser_cookie.contains("HttpOnly") && browser_cookie.contains("SameSite=Lax"));
    let html = page_text(login).await;
    for needle in [
        "<main",
        "<label for=\"login_field\">",
        "id=\"login_field\"",
        "<label for=\"password\">",
        "name=\"return_to\"",
        "action=\"/session\"",
    ] {
        assert!(html.contains(needle), "{needle:?} missing from {html}");
    }

    let signed = sign_in(&srv, &client, &ALICE).await;
    assert_eq!(signed.status(), 303);
    assert_eq!(location(&signed), "/login");
    let cookie = set_cookie(&signed, "user_session").expect("a user_session cookie");
    let attributes: Vec<&str> = cookie.split("; ").skip(1).collect();
    assert_eq!(
        attributes,
        ["Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=1209600"],
        "{cookie}"
    );
    let id = cookie_value(&cookie);
    assert_eq!(id.len(), 43);
    assert_eq!(
        signed_in_as(&client, &srv.url("/login")).await.as_deref(),
        Some("alice")
    );

    // The database holds the id's SHA-256, never the id.
    let rows = session_rows(srv.db_url()).await;
    assert_eq!(rows.len(), 1);
    let (hash, user_id, pending, created_at, expires_at) = &rows[0];
    assert_eq!(hash.as_slice(), Sha256::digest(id.as_bytes()).as_slice());
    assert!(!pending);
    assert_eq!(expires_at - created_at, 14 * 24 * 3600);
    let alice = open_store(srv.db_url())
        .await
        .find_user_by_login(&grantd::domain::Login::parse("alice").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(*user_id, alice.id.0);
}

#[tokio::test]
async fn the_session_cookie_is_secure_when_the_public_url_is_https() {
    let srv = TestServer::spawn_with_public_url("https://grantd.example").await;
    let client = browser();
    let signed = sign_in(&srv, &client, &BOB).await;
    assert_eq!(signed.status(), 303);
    let cookie = set_cookie(&signed, "user_session").unwrap();
    assert!(cookie.ends_with("; Secure"), "{cookie}");
}

#[tokio::test]
async fn pages_send_the_security_headers_and_a_request_id() {
    let srv = TestServer::spawn().await;
    let client = browser();
    let page = client.get(srv.url("/login")).send().await.unwrap();
    let headers = page.headers();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    assert_eq!(headers["x-frame-options"], "deny");
    assert_eq!(headers["referrer-policy"], "origin-when-cross-origin");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers.contains_key("x-github-request-id"));
    // The stylesheet, served by grantd itself (the CSP allows no other).
    let css = client
        .get(srv.url("/assets/grantd.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    // The pages are the site's, not the API's.
    let under_api = client.get(srv.url("/api/v3/login")).send().await.unwrap();
    assert_eq!(under_api.status(), 404);
}

#[tokio::test]
async fn a_wrong_password_shows_the_form_again_and_counts_toward_the_shared_lockout() {
    let srv = TestServer::spawn_with_options(DEFAULT_FIXTURE, None, throttled(3)).await;
    let client = browser();
    for _ in 0..2 {
        let wrong = sign_in_with(&srv, &client, "alice", "not the password", "").await;
        assert_eq!(wrong.status(), 401);
        assert!(set_cookie(&wrong, "user_session").is_none());
        let html = page_text(wrong).await;
        assert!(html.contains("Incorrect username or password."), "{html}");
        // The login is kept in the form; the password is not.
        assert!(html.contains("value=\"alice\""));
    }
    // The third failure comes through Basic auth: one count for both.
    let basic = srv
        .client
        .get(srv.url("/authorizations"))
        .basic_auth("alice", Some("still wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
    // Locked: even the right password is refused on the form, unchecked...
    let locked = sign_in(&srv, &client, &ALICE).await;
    assert_eq!(locked.status(), 403);
    assert!(set_cookie(&locked, "user_session").is_none());
    let html = page_text(locked).await;
    assert!(
        html.contains("Maximum number of login attempts exceeded."),
        "{html}"
    );
    // ...and over Basic auth.
    let basic = srv
        .client
        .get(srv.url("/authorizations"))
        .basic_auth(ALICE.login, Some(ALICE.password))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 403);
    assert!(session_rows(srv.db_url()).await.is_empty());
    // Another login is not affected.
    assert_eq!(sign_in(&srv, &client, &BOB).await.status(), 303);
}

#[tokio::test]
async fn a_two_factor_account_signs_in_with_its_code_and_a_wrong_code_is_a_failed_login() {
    let srv = TestServer::spawn().await;
    let client = browser();
    let password = sign_in(&srv, &client, &ALICE2FA).await;
    assert_eq!(password.status(), 303);
    assert_eq!(location(&password), "/sessions/two-factor");
    let pending = set_cookie(&password, "user_session").unwrap();
    assert!(pending.contains("Max-Age=600"), "{pending}");
    // Half signed in is not signed in.
    assert_eq!(signed_in_as(&client, &srv.url("/login")).await, None);
    let rows = session_rows(srv.db_url()).await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].2, "the row is marked pending");
    assert_eq!(rows[0].4 - rows[0].3, 600);

    let form = client
        .get(srv.url("/sessions/two-factor"))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    let html = page_text(form).await;
    assert!(html.contains("<label for=\"app_totp\">") && html.contains("name=\"app_otp\""));
    let token = token_of(&html);
    let wrong = post_form(
        &client,
        &srv.url("/sessions/two-factor"),
        &[("app_otp", &wrong_otp()), ("authenticity_token", &token)],
    )
    .await;
    assert_eq!(wrong.status(), 401);
    assert!(
        page_text(wrong)
            .await
            .contains("Two-factor authentication failed.")
    );
    assert_eq!(signed_in_as(&client, &srv.url("/login")).await, None);

    let right = post_form(
        &client,
        &srv.url("/sessions/two-factor"),
        &[("app_otp", &current_otp()), ("authenticity_token", &token)],
    )
    .await;
    assert_eq!(right.status(), 303);
    assert_eq!(location(&right), "/login");
    let session = set_cookie(&right, "user_session").unwrap();
    // A new id: the pending one is gone.
    assert_ne!(cookie_value(&session), cookie_value(&pending));
    assert_eq!(
        signed_in_as(&client, &srv.url("/login")).await.as_deref(),
        Some("alice2fa")
    );
    let rows = session_rows(srv.db_url()).await;
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].2);
}

#[tokio::test]
async fn wrong_codes_lock_the_login_for_the_form_and_basic_auth_alike() {
    let srv = TestServer::spawn_with_options(DEFAULT_FIXTURE, None, throttled(2)).await;
    let client = browser();
    assert_eq!(sign_in(&srv, &client, &ALICE2FA).await.status(), 303);
    let token = form_token(&client, &srv.url("/sessions/two-factor")).await;
    for expected in [401, 401] {
        let wrong = post_form(
            &client,
            &srv.url("/sessions/two-factor"),
            &[("app_otp", &wrong_otp()), ("authenticity_token", &token)],
        )
        .await;
        assert_eq!(wrong.status(), expected);
    }
    // Two failures: the right code is now refused unchecked, on the page.
    let locked = post_form(
        &client,
        &srv.url("/sessions/two-factor"),
        &[("app_otp", &current_otp()), ("authenticity_token", &token)],
    )
    .await;
    assert_eq!(locked.status(), 403);
    assert!(
        page_text(locked)
            .await
            .contains("Maximum number of login attempts exceeded.")
    );
    let basic = srv
        .client
        .get(srv.url("/authorizations"))
        .basic_auth(ALICE2FA.login, Some(ALICE2FA.password))
        .header("X-GitHub-OTP", current_otp())
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 403);
}

#[tokio::test]
async fn the_half_signed_in_state_expires_after_ten_minutes() {
    let srv = TestServer::spawn().await;
    let client = browser();
    assert_eq!(sign_in(&srv, &client, &ALICE2FA).await.status(), 303);
    let token = form_token(&client, &srv.url("/sessions/two-factor")).await;
    srv.clock.advance(601);
    let form = client
        .get(srv.url("/sessions/two-factor"))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 303);
    assert_eq!(location(&form), "/login");
    let late = post_form(
        &client,
        &srv.url("/sessions/two-factor"),
        &[("app_otp", &current_otp()), ("authenticity_token", &token)],
    )
    .await;
    assert_eq!(late.status(), 303);
    assert_eq!(location(&late), "/login");
    assert_eq!(signed_in_as(&client, &srv.url("/login")).await, None);
}

#[tokio::test]
async fn forms_without_the_right_authenticity_token_are_refused_with_422() {
    let srv = TestServer::spawn().await;
    let client = browser();
    let token = form_token(&client, &srv.url("/login")).await;
    let credentials = [("login", ALICE.login), ("password", ALICE.password)];
    for sent in [None, Some("wrong"), Some(&token[1..])] {
        let mut form = credentials.to_vec();
        if let Some(sent) = sent {
            form.push(("authenticity_token", sent));
        }
        let refused = post_form(&client, &srv.url("/session"), &form).await;
        assert_eq!(refused.status(), 422, "{sent:?}");
        assert_eq!(
            refused.headers()["content-type"],
            "text/html; charset=utf-8"
        );
        assert!(set_cookie(&refused, "user_session").is_none());
        assert!(
            page_text(refused)
                .await
                .contains("Invalid authenticity token")
        );
    }
    // A token taken from another browser (a cross-site page cannot read ours) is refused too.
    let other = browser();
    let mut form = credentials.to_vec();
    form.push(("authenticity_token", &token));
    assert_eq!(
        post_form(&other, &srv.url("/session"), &form)
            .await
            .status(),
        422
    );

    // The two-factor form.
    assert_eq!(sign_in(&srv, &client, &ALICE2FA).await.status(), 303);
    let refused = post_form(
        &client,
        &srv.url("/sessions/two-factor"),
        &[("app_otp", &current_otp())],
    )
    .await;
    assert_eq!(refused.status(), 422);

    // Sign-out: its token is the session's.
    assert_eq!(sign_in(&srv, &client, &ALICE).await.status(), 303);
    for sent in ["", "wrong", token.as_str()] {
        let refused = post_form(
            &client,
            &srv.url("/logout"),
            &[("authenticity_token", sent)],
        )
        .await;
        assert_eq!(refused.status(), 422, "{sent:?}");
    }
    assert_eq!(
        signed_in_as(&client, &srv.url("/login")).await.as_deref(),
        Some("alice")
    );
}

#[tokio::test]
async fn return_to_is_followed_only_to_a_local_path() {
    let srv = TestServer::spawn().await;
    let local = "/settings/tokens?page=2";
    let signed = sign_in_with(&srv, &browser(), ALICE.login, ALICE.password, local).await;
    assert_eq!(signed.status(), 303);
    assert_eq!(location(&signed), local);
    for evil in [
        "//evil.example",
        "https://evil.example",
        "/\\evil",
        "http:/evil.example",
        "javascript:alert(1)",
    ] {
        let signed = sign_in_with(&srv, &browser(), ALICE.login, ALICE.password, evil).await;
        assert_eq!(signed.status(), 303);
        assert_eq!(location(&signed), "/login", "{evil:?} was followed");
    }
    // Carried through the two-factor step.
    let client = browser();
    let password = sign_in_with(&srv, &client, ALICE2FA.login, ALICE2FA.password, local).await;
    assert_eq!(
        location(&password),
        "/sessions/two-factor?return_to=%2Fsettings%2Ftokens%3Fpage%3D2"
    );
    let form = client
        .get(srv.url(location(&password)))
        .send()
        .await
        .unwrap();
    let html = page_text(form).await;
    assert!(
        html.contains("name=\"return_to\" value=\"&#x2f;settings&#x2f;tokens?page=2\"")
            || html.contains("name=\"return_to\" value=\"/settings/tokens?page=2\""),
        "{html}"
    );
    let right = post_form(
        &client,
        &srv.url("/sessions/two-factor"),
        &[
            ("app_otp", &current_otp()),
            ("authenticity_token", &token_of(&html)),
            ("return_to", local),
        ],
    )
    .await;
    assert_eq!(location(&right), local);
    // And evil ones are dropped there as well (three steps later: a code signs in once).
    srv.clock.advance(90);
    let client = browser();
    let password = sign_in_with(
        &srv,
        &client,
        ALICE2FA.login,
        ALICE2FA.password,
        "//evil.example",
    )
    .await;
    assert_eq!(location(&password), "/sessions/two-factor");
    let token = form_token(&client, &srv.url("/sessions/two-factor")).await;
    let right = post_form(
        &client,
        &srv.url("/sessions/two-factor"),
        &[
            ("app_otp", &crate::support::otp_in(90)),
            ("authenticity_token", &token),
            ("return_to", "//evil.example"),
        ],
    )
    .await;
    assert_eq!(location(&right), "/login");
    // Already signed in: GET /login follows a local return_to at once, never another.
    let back = client
        .get(srv.url("/login?return_to=%2Fsettings"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (back.status().as_u16(), location(&back)),
        (303, "/settings")
    );
    let stays = client
        .get(srv.url("/login?return_to=%2F%2Fevil.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(stays.status(), 200);
}

#[tokio::test]
async fn signing_out_ends_the_session_for_good() {
    let srv = TestServer::spawn().await;
    let client = browser();
    let signed = sign_in(&srv, &client, &ALICE).await;
    let old = cookie_value(&set_cookie(&signed, "user_session").unwrap());
    let page = client.get(srv.url("/login")).send().await.unwrap();
    let token = token_of(&page_text(page).await);
    let out = post_form(
        &client,
        &srv.url("/logout"),
        &[("authenticity_token", &token)],
    )
    .await;
    assert_eq!(out.status(), 303);
    assert_eq!(location(&out), "/login");
    let cleared = set_cookie(&out, "user_session").unwrap();
    assert!(
        cleared.starts_with("user_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    assert!(session_rows(srv.db_url()).await.is_empty());
    // The old cookie, replayed by hand, signs in no more.
    let replay = Client::new()
        .get(srv.url("/login"))
        .header("cookie", format!("user_session={old}"))
        .send()
        .await
        .unwrap();
    assert!(!page_text(replay).await.contains("Signed in as"));
}

#[tokio::test]
async fn sessions_expire_and_expired_ones_are_pruned() {
    let srv = TestServer::spawn().await;
    let client = browser();
    assert_eq!(sign_in(&srv, &client, &ALICE).await.status(), 303);
    srv.clock.advance(14 * 24 * 3600 - 60);
    assert_eq!(
        signed_in_as(&client, &srv.url("/login")).await.as_deref(),
        Some("alice")
    );
    srv.clock.advance(61);
    assert_eq!(signed_in_as(&client, &srv.url("/login")).await, None);
    let store = open_store(srv.db_url()).await;
    let now = time::OffsetDateTime::now_utc() + time::Duration::days(15);
    assert_eq!(
        grantd::domain::session::prune(&*store, now).await.unwrap(),
        1
    );
    assert!(session_rows(srv.db_url()).await.is_empty());
}

#[tokio::test]
async fn a_deleted_users_sessions_go_with_them() {
    let srv = TestServer::spawn().await;
    assert_eq!(sign_in(&srv, &browser(), &BOB).await.status(), 303);
    assert_eq!(session_rows(srv.db_url()).await.len(), 1);
    let store = open_store(srv.db_url()).await;
    let bob = store
        .find_user_by_login(&grantd::domain::Login::parse("bob").unwrap())
        .await
        .unwrap()
        .unwrap();
    // Bob owns an app in the default fixture: it goes first.
    for app in store.list_apps().await.unwrap() {
        if app.owner_id == bob.id {
            let event = grantd::domain::audit::NewEvent::by_server(
                grantd::domain::audit::Action::OauthApplicationDestroy,
                None,
                &grantd::domain::audit::Source::command_line(),
                time::OffsetDateTime::now_utc(),
            );
            assert!(store.delete_app(app.id, &event).await.unwrap());
        }
    }
    let event = grantd::domain::audit::NewEvent::by_server(
        grantd::domain::audit::Action::UserDelete,
        Some(&bob),
        &grantd::domain::audit::Source::command_line(),
        time::OffsetDateTime::now_utc(),
    );
    assert!(store.delete_user(bob.id, &event).await.unwrap());
    assert!(session_rows(srv.db_url()).await.is_empty());
}

#[tokio::test]
async fn bad_input_is_refused_with_a_page_never_a_500() {
    let srv = TestServer::spawn().await;
    let client = browser();
    let token = form_token(&client, &srv.url("/login")).await;
    let too_big = client
        .post(srv.url("/session"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "authenticity_token={token}&login=alice&password={}",
            "a".repeat(17 * 1024)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), 413);
    assert_eq!(
        too_big.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    for body in [
        "login=a&login=b".to_owned(),
        "%FF%FE=%FF".to_owned(),
        format!("authenticity_token={token}&authenticity_token={token}"),
    ] {
        let bad = client
            .post(srv.url("/session"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert!(
            bad.status() == 400 || bad.status() == 422,
            "{body}: {}",
            bad.status()
        );
    }
    let long_login = "a".repeat(10_000);
    let long_password = "p".repeat(2000);
    for (login, password) in [
        (long_login.as_str(), "x"),
        ("alice", long_password.as_str()),
        ("alice", ""),
        ("", ""),
        ("al ice", "x"),
    ] {
        let refused = sign_in_with(&srv, &client, login, password, "").await;
        assert_eq!(refused.status(), 401, "{login:.20}/{password:.20}");
        let html = page_text(refused).await;
        assert!(
            !html.contains(&long_login),
            "an over-long login is not echoed"
        );
    }
    // Over-long and odd two-factor codes are wrong codes.
    assert_eq!(sign_in(&srv, &client, &ALICE2FA).await.status(), 303);
    let token = form_token(&client, &srv.url("/sessions/two-factor")).await;
    let long_code = "1".repeat(5000);
    for code in [long_code.as_str(), "", "abcdef", "１２３４５６"] {
        let wrong = post_form(
            &client,
            &srv.url("/sessions/two-factor"),
            &[("app_otp", code), ("authenticity_token", &token)],
        )
        .await;
        assert_eq!(wrong.status(), 401, "{code:.20}");
    }
    // Mangled cookies and queries are ignored.
    let odd = Client::new()
        .get(srv.url("/login?return_to=%FF&return_to=x"))
        .header("cookie", "user_session=%%%; _gh_sess=")
        .send()
        .await
        .unwrap();
    assert_eq!(odd.status(), 200);
}

#[tokio::test]
async fn a_session_started_on_one_node_works_on_another() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database_url(&dir.path().join("grantd.db")).await;
    let seed = write_file(dir.path(), "seed.toml", DEFAULT_FIXTURE);
    let a = ServerProcess::start(
        &db,
        &["--seed", seed.to_str().unwrap()],
        &dir.path().join("a.log"),
    );
    let b = ServerProcess::start(&db, &[], &dir.path().join("b.log"));
    let client = browser();
    let token = form_token(&client, &a.url("/login")).await;
    let signed = post_form(
        &client,
        &a.url("/session"),
        &[
            ("login", ALICE.login),
            ("password", ALICE.password),
            ("authenticity_token", &token),
        ],
    )
    .await;
    assert_eq!(signed.status(), 303);
    let id = cookie_value(&set_cookie(&signed, "user_session").unwrap());
    let on_b = |path: &str| {
        Client::new()
            .get(b.url(path))
            .header("cookie", format!("user_session={id}"))
    };
    let page = page_text(on_b("/login").send().await.unwrap()).await;
    assert!(
        page.contains("Signed in as <strong>alice</strong>"),
        "{page}"
    );
    // Signed out on b: a no longer knows the session either.
    let token = token_of(&page);
    let out = Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
        .post(b.url("/logout"))
        .header("cookie", format!("user_session={id}"))
        .form(&[("authenticity_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    let page = Client::new()
        .get(a.url("/login"))
        .header("cookie", format!("user_session={id}"))
        .send()
        .await
        .unwrap();
    assert!(!page_text(page).await.contains("Signed in as"));
}
