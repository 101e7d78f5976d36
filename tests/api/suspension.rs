//! User suspension as GHES has it (`PUT` / `DELETE /users/{username}/suspended`, `grantd user
//! suspend|unsuspend`): a site admin suspends a user; at once the user's tokens answer as dead
//! ones (401 on the API, 404 to the app's token check) even when the server had them cached,
//! Basic auth answers GitHub's 403 "Sorry. Your account was suspended.", the sign-in page
//! refuses them and their browser sessions end. Unsuspending restores everything.

use reqwest::Method;
use serde_json::{Value, json};

use crate::signin::{browser, sign_in};
use crate::support::{
    ALICE, BOB, DEFAULT_FIXTURE, OAUTH_APP, Reply, RequestExt, TestServer, assert_bad_credentials,
    assert_not_found, grantd,
};

/// The default seed with bob a site admin.
async fn server() -> TestServer {
    let fixture = DEFAULT_FIXTURE.replace(
        "login = \"bob\"\npassword = \"bob: tr0ub4dor&3\"",
        "login = \"bob\"\npassword = \"bob: tr0ub4dor&3\"\nsite_admin = true",
    );
    assert_ne!(fixture, DEFAULT_FIXTURE);
    TestServer::spawn_seeded(&fixture, None).await
}

/// A personal access token of `user` with `scopes`.
async fn pat(srv: &TestServer, user: &crate::support::User, scopes: &[&str]) -> String {
    let created = srv
        .create_pat_with(
            user,
            json!({"note": format!("{scopes:?}"), "scopes": scopes}),
        )
        .await;
    created["token"].as_str().expect("the token").to_owned()
}

async fn call(srv: &TestServer, method: Method, login: &str, token: &str, body: Value) -> Reply {
    srv.request(method, &format!("/users/{login}/suspended"))
        .header("authorization", format!("token {token}"))
        .json(&body)
        .go()
        .await
}

fn assert_suspended_message(reply: &Reply) {
    let body = reply.expect_status(403);
    assert_eq!(body["message"], "Sorry. Your account was suspended.");
}

#[tokio::test]
async fn a_suspended_users_tokens_and_sign_in_are_refused_at_once_and_come_back() {
    let srv = server().await;
    let admin = pat(&srv, &BOB, &["site_admin"]).await;
    let (_, token) = srv.alice_token(&OAUTH_APP).await;
    // Warm the token index and the rendered answers: checked and used twice.
    for _ in 0..2 {
        srv.check(&OAUTH_APP, &token).await.expect_status(200);
        srv.get_user(&token).await.expect_status(200);
    }
    let browser = browser();
    assert_eq!(sign_in(&srv, &browser, &ALICE).await.status(), 303);
    let page = browser
        .get(srv.url("/settings/tokens"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);

    let reply = call(
        &srv,
        Method::PUT,
        "alice",
        &admin,
        json!({"reason": "spam"}),
    )
    .await;
    reply.expect_no_content();
    assert_eq!(
        reply.header("x-accepted-oauth-scopes").as_deref(),
        Some("site_admin")
    );
    // The very next request: the cached token is dead everywhere.
    assert_bad_credentials(&srv.get_user(&token).await);
    assert_not_found(&srv.check(&OAUTH_APP, &token).await);
    let graphql = srv
        .post("/graphql")
        .header("authorization", format!("bearer {token}"))
        .json(&json!({"query": "{ viewer { login } }"}))
        .go()
        .await;
    assert_eq!(graphql.status, 401);
    // Basic with the right password: GitHub's message. A wrong one stays "Bad credentials".
    assert_suspended_message(&srv.get("/authorizations").login_as(&ALICE).go().await);
    let wrong = srv
        .get("/authorizations")
        .basic_auth("alice", Some("wrong"))
        .go()
        .await;
    assert_bad_credentials(&wrong);
    // The browser's session ended, and signing in again is refused with GHES's message.
    let page = browser
        .get(srv.url("/settings/tokens"))
        .send()
        .await
        .unwrap();
    assert_ne!(page.status(), 200);
    let refused = sign_in(&srv, &browser, &ALICE).await;
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Your account is suspended.")
    );
    // Suspending again changes nothing.
    call(&srv, Method::PUT, "alice", &admin, json!({}))
        .await
        .expect_no_content();

    call(&srv, Method::DELETE, "alice", &admin, json!({}))
        .await
        .expect_no_content();
    srv.get_user(&token).await.expect_status(200);
    srv.check(&OAUTH_APP, &token).await.expect_status(200);
    srv.get("/authorizations")
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    // (A new browser: the old one's cookie names the session that ended.)
    assert_eq!(
        sign_in(&srv, &crate::signin::browser(), &ALICE)
            .await
            .status(),
        303
    );
}

#[tokio::test]
async fn only_a_site_admin_with_the_site_admin_scope_may_suspend() {
    let srv = server().await;
    let admin = pat(&srv, &BOB, &["site_admin"]).await;
    let unscoped = pat(&srv, &BOB, &["repo"]).await;
    let alice = pat(&srv, &ALICE, &["site_admin"]).await;
    // A non-admin, even with the scope: GHES's documented 403 (admin_users.rs checks every
    // site-admin endpoint's refusals in full).
    for method in [Method::PUT, Method::DELETE] {
        let refused = call(&srv, method, "bob", &alice, json!({})).await;
        assert_eq!(
            refused.expect_status(403)["message"],
            "Must be a site administrator."
        );
    }
    // An admin's token without `site_admin`: "Not Found", naming the scope it needs.
    let reply = call(&srv, Method::PUT, "alice", &unscoped, json!({})).await;
    assert_not_found(&reply);
    assert_eq!(
        reply.header("x-accepted-oauth-scopes").as_deref(),
        Some("site_admin")
    );
    // An unknown user.
    assert_not_found(&call(&srv, Method::PUT, "nobody-here", &admin, json!({})).await);
    // No credentials.
    let anonymous = srv.put("/users/alice/suspended").go().await;
    assert_eq!(anonymous.status, 401);
    // Not oneself (GitHub: "any user account except your own").
    let own = call(&srv, Method::PUT, "bob", &admin, json!({})).await;
    assert_eq!(own.status, 422);
    // A reason is bounded.
    let long = "x".repeat(201);
    let reply = call(&srv, Method::PUT, "alice", &admin, json!({"reason": long})).await;
    assert_eq!(reply.status, 422);
    // None of these suspended anyone.
    srv.get("/authorizations")
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    // Basic auth of a site admin works too, with an empty body.
    srv.put("/users/alice/suspended")
        .login_as(&BOB)
        .header("content-length", "0")
        .go()
        .await
        .expect_no_content();
    assert_suspended_message(&srv.get("/authorizations").login_as(&ALICE).go().await);
}

#[tokio::test]
async fn the_cli_suspends_and_unsuspends_while_the_server_runs() {
    let srv = server().await;
    let (_, token) = srv.alice_token(&OAUTH_APP).await;
    srv.get_user(&token).await.expect_status(200);
    srv.get_user(&token).await.expect_status(200);
    let run = |args: Vec<String>| async move {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            grantd(&args, None)
        })
        .await
        .expect("the command ran")
    };
    let db = srv.db_url().to_owned();
    let args = |words: &[&str]| {
        let mut all: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
        all.extend(["--db".to_owned(), db.clone(), "--json".to_owned()]);
        all
    };
    let out = run(args(&["user", "suspend", "alice", "--reason", "spam"])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(shown, json!({"login": "alice", "suspended": true}));
    assert_bad_credentials(&srv.get_user(&token).await);

    let out = run(args(&["user", "unsuspend", "alice"])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    srv.get_user(&token).await.expect_status(200);

    let out = run(args(&["user", "suspend", "nobody-here"])).await;
    assert!(!out.status.success());
}

/// The default seed with bob a site admin, and sign-ins locked after one failure.
async fn throttled_server() -> TestServer {
    let fixture = DEFAULT_FIXTURE.replace(
        "login = \"bob\"\npassword = \"bob: tr0ub4dor&3\"",
        "login = \"bob\"\npassword = \"bob: tr0ub4dor&3\"\nsite_admin = true",
    );
    let options = crate::support::ServerOptions {
        limits: grantd::http::Limits {
            login: grantd::domain::limits::LoginThrottle {
                attempts: 1,
                window: time::Duration::minutes(5),
            },
            ..grantd::http::Limits::default()
        },
        ..crate::support::ServerOptions::default()
    };
    TestServer::spawn_with_options(&fixture, None, options).await
}

#[tokio::test]
async fn the_stafftools_page_unlocks_suspends_and_unsuspends_for_site_admins_only() {
    let srv = throttled_server().await;
    let (_, token) = srv.alice_token(&OAUTH_APP).await;
    srv.get_user(&token).await.expect_status(200);
    let users = srv.url("/stafftools/users");

    // A non-admin gets the 404 page; nobody signed in is sent to sign in.
    let alice = browser();
    assert_eq!(sign_in(&srv, &alice, &ALICE).await.status(), 303);
    let page = alice.get(&users).send().await.unwrap();
    assert_eq!(page.status(), 404);
    let anonymous = browser().get(&users).send().await.unwrap();
    assert_eq!(anonymous.status(), 303);

    let admin = browser();
    assert_eq!(sign_in(&srv, &admin, &BOB).await.status(), 303);
    let page = admin.get(&users).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Suspend alice"));
    let csrf = crate::signin::token_of(&html);
    // alice's own forms cannot act: the page is not hers.
    let not_hers = alice
        .post(srv.url("/stafftools/users/bob/suspend"))
        .form(&[(
            "authenticity_token",
            crate::signin::token_of(
                &alice
                    .get(srv.url("/settings/tokens"))
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap(),
            ),
        )])
        .send()
        .await
        .unwrap();
    assert_eq!(not_hers.status(), 404);

    // Without the form's token: refused, nothing done.
    let forged = admin
        .post(srv.url("/stafftools/users/alice/suspend"))
        .form(&[("reason", "spam")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 422);
    srv.get_user(&token).await.expect_status(200);

    // Unlock: alice's one failed Basic sign-in locks her; the page's Unlock ends it.
    let wrong = srv
        .get("/authorizations")
        .basic_auth("alice", Some("wrong"))
        .go()
        .await;
    assert_bad_credentials(&wrong);
    let locked = srv.get("/authorizations").login_as(&ALICE).go().await;
    assert_eq!(locked.status, 403);
    let done = admin
        .post(srv.url("/stafftools/users/alice/unlock"))
        .form(&[("authenticity_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    srv.get("/authorizations")
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);

    // Suspend with a reason: alice's token dies at once and the page says so.
    let done = admin
        .post(srv.url("/stafftools/users/alice/suspend"))
        .form(&[("authenticity_token", csrf.as_str()), ("reason", "spam")])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    assert_bad_credentials(&srv.get_user(&token).await);
    let html = admin
        .get(&users)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Suspended since"), "{html}");
    assert!(html.contains(": spam"));
    // Unsuspend: the same token works again.
    let done = admin
        .post(srv.url("/stafftools/users/alice/unsuspend"))
        .form(&[("authenticity_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    srv.get_user(&token).await.expect_status(200);
}

/// A suspension deletes the user's sessions rather than only refusing them while it lasts:
/// once it is lifted, a browser that was signed in before is still signed out, while a
/// session of another user lives on.
#[tokio::test]
async fn a_suspension_ends_the_users_sessions_for_good() {
    let srv = server().await;
    let admin = pat(&srv, &BOB, &["site_admin"]).await;
    let alices = browser();
    assert_eq!(sign_in(&srv, &alices, &ALICE).await.status(), 303);
    let bobs = browser();
    assert_eq!(sign_in(&srv, &bobs, &BOB).await.status(), 303);
    let settings = srv.url("/settings/tokens");
    assert_eq!(alices.get(&settings).send().await.unwrap().status(), 200);

    call(&srv, Method::PUT, "alice", &admin, json!({}))
        .await
        .expect_no_content();
    call(&srv, Method::DELETE, "alice", &admin, json!({}))
        .await
        .expect_no_content();

    let page = alices.get(&settings).send().await.unwrap();
    assert_eq!(page.status(), 303, "alice's old session is gone");
    assert!(
        page.headers()["location"]
            .to_str()
            .unwrap()
            .contains("/login")
    );
    assert_eq!(bobs.get(&settings).send().await.unwrap().status(), 200);
    // Signing in again works: the suspension is over.
    assert_eq!(sign_in(&srv, &alices, &ALICE).await.status(), 303);
    assert_eq!(alices.get(&settings).send().await.unwrap().status(), 200);
}
