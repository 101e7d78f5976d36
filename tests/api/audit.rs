//! The audit log: every change writes exactly its event (GitHub's action name, actor, user,
//! app, source address, user agent, a token named by id and `hashed_token`, never in clear),
//! a refused change writes none; `GET /enterprises/{enterprise}/audit-log` (filters, order,
//! cursors, `Link`, auth failures; each answer checked against GHES's schema by the support
//! layer); `/settings/security-log` shows only the user's own events; `/stafftools/audit-log`
//! is for site admins; `grantd audit` prints the same log.

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::settings::{page, post};
use crate::signin::{browser, sign_in, sign_in_with};
use crate::support::{
    ALICE, BOB, DEFAULT_FIXTURE, GITHUB_APP, OAUTH_APP, OTHER_APP, RequestExt, TestServer, grantd,
};

const AGENT: &str = "audit-test/1.0";

/// The default seed with bob a site admin.
async fn server() -> TestServer {
    let fixture = DEFAULT_FIXTURE.replace(
        "login = \"bob\"\npassword = \"bob: tr0ub4dor&3\"",
        "login = \"bob\"\npassword = \"bob: tr0ub4dor&3\"\nsite_admin = true",
    );
    TestServer::spawn_seeded(&fixture, None).await
}

/// Every event, oldest first, straight from the store (no request of the test adds one).
async fn events(srv: &TestServer) -> Vec<grantd::domain::audit::Event> {
    let query = grantd::domain::audit::Query {
        filter: grantd::domain::audit::Filter::default(),
        after: None,
        before: None,
        order: grantd::domain::audit::Order::Asc,
        limit: 1000,
    };
    srv.store().list_audit_events(&query).await.unwrap()
}

/// [`browser`], sending [`AGENT`] as its user agent.
fn browser_with_agent() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(AGENT)
        .build()
        .unwrap()
}

fn actions(events: &[grantd::domain::audit::Event]) -> Vec<&str> {
    events.iter().map(|e| e.action.as_str()).collect()
}

fn hashed(token: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(token.as_bytes()))
}

fn login(party: Option<&grantd::domain::audit::AccountName>) -> Option<&str> {
    party.map(|p| p.login.as_str())
}

#[tokio::test]
async fn each_api_change_writes_exactly_its_event_and_a_refused_one_none() {
    let srv = server().await;
    let created = srv
        .post("/authorizations")
        .basic_auth(ALICE.login, Some(ALICE.password))
        .header("user-agent", AGENT)
        .json(&json!({"note": "ci", "scopes": ["repo"]}))
        .go()
        .await
        .expect_status(201);
    let token = created["token"].as_str().unwrap().to_owned();
    let id = created["id"].as_i64().unwrap();
    let log = events(&srv).await;
    assert_eq!(actions(&log), ["oauth_authorization.create"]);
    let event = &log[0];
    assert_eq!(login(event.actor.as_ref()), Some("alice"));
    assert_eq!(login(event.user.as_ref()), Some("alice"));
    assert_eq!(event.app, None);
    assert_eq!(event.source.address, Some("127.0.0.1".parse().unwrap()));
    assert_eq!(event.source.user_agent.as_deref(), Some(AGENT));
    assert_eq!(
        Value::Object(event.data.clone()),
        json!({
            "token_id": id,
            "hashed_token": hashed(&token),
            "programmatic_access_type": "Personal access token (classic)",
            "token_scopes": "repo",
        })
    );

    // Refused changes write nothing: a taken note, another user's id, a wrong password.
    srv.post("/authorizations")
        .basic_auth(ALICE.login, Some(ALICE.password))
        .json(&json!({"note": "ci"}))
        .go()
        .await
        .expect_status(422);
    srv.delete(&format!("/authorizations/{id}"))
        .basic_auth(BOB.login, Some(BOB.password))
        .go()
        .await
        .expect_status(404);
    srv.patch(&format!("/authorizations/{id}"))
        .basic_auth(ALICE.login, Some("wrong"))
        .json(&json!({"note": "x"}))
        .go()
        .await
        .expect_status(401);
    assert_eq!(events(&srv).await.len(), 1);

    srv.patch(&format!("/authorizations/{id}"))
        .basic_auth(ALICE.login, Some(ALICE.password))
        .json(&json!({"add_scopes": ["gist"]}))
        .go()
        .await
        .expect_status(200);
    srv.delete(&format!("/authorizations/{id}"))
        .basic_auth(ALICE.login, Some(ALICE.password))
        .go()
        .await
        .expect_no_content();
    // An app's token: created by the user, reset and revoked by the app (no actor).
    let (_, app_token) = srv.alice_token(&OAUTH_APP).await;
    srv.app_call(reqwest::Method::PATCH, "token", &OAUTH_APP, &app_token)
        .await
        .expect_status(200);
    let log = events(&srv).await;
    assert_eq!(
        actions(&log),
        [
            "oauth_authorization.create",
            "oauth_authorization.update",
            "oauth_authorization.destroy",
            "oauth_authorization.create",
            "oauth_access.regenerate",
        ]
    );
    assert_eq!(log[1].data["token_scopes"], "repo,gist");
    assert_eq!(log[2].data["token_id"], id);
    let reset = &log[4];
    assert_eq!(reset.actor, None);
    assert_eq!(login(reset.user.as_ref()), Some("alice"));
    let app = reset.app.as_ref().unwrap();
    assert_eq!(
        (app.name.as_str(), app.client_id.as_str()),
        (OAUTH_APP.name, OAUTH_APP.client_id)
    );
    assert_eq!(reset.data["programmatic_access_type"], "OAuth access token");
    // No event anywhere holds a token in clear.
    let everything = format!("{log:?}");
    assert!(!everything.contains(&token) && !everything.contains(&app_token));
}

#[tokio::test]
async fn page_sign_ins_and_token_changes_are_recorded_with_the_browsers_address_and_agent() {
    let srv = server().await;
    let client = browser_with_agent();
    assert_eq!(
        sign_in_with(&srv, &client, "alice", "wrong", "")
            .await
            .status(),
        401
    );
    assert_eq!(
        sign_in_with(&srv, &client, "nobody", "wrong", "")
            .await
            .status(),
        401
    );
    assert_eq!(sign_in(&srv, &client, &ALICE).await.status(), 303);
    let response = post(
        &srv,
        &client,
        "/settings/tokens/new",
        "/settings/tokens",
        &[("note", "laptop"), ("expiration", "30"), ("scopes", "repo")],
    )
    .await;
    assert_eq!(response.status(), 200);
    let id = srv.authorizations(&ALICE).await[0]["id"].as_i64().unwrap();
    let response = post(
        &srv,
        &client,
        "/settings/tokens",
        &format!("/settings/tokens/{id}/delete"),
        &[],
    )
    .await;
    assert_eq!(response.status(), 303);
    let log = events(&srv).await;
    assert_eq!(
        actions(&log),
        [
            "user.failed_login",
            "user.failed_login",
            "user.login",
            "oauth_access.create",
            "oauth_access.destroy",
        ]
    );
    assert_eq!(login(log[0].actor.as_ref()), Some("alice"));
    // A name nobody has: no actor, no user.
    assert_eq!((log[1].actor.as_ref(), log[1].user.as_ref()), (None, None));
    for event in &log {
        assert_eq!(event.source.user_agent.as_deref(), Some(AGENT), "{event:?}");
        assert_eq!(event.source.address, Some("127.0.0.1".parse().unwrap()));
    }
    assert_eq!(log[3].data["token_id"], id);
    assert_eq!(
        log[3].data["programmatic_access_type"],
        "Personal access token (classic)"
    );
    assert_eq!(log[4].data["token_id"], id);

    // The security log shows them, and nothing of bob's.
    srv.create_pat(&BOB, "bob's secret project").await;
    let (status, html) = page(&srv, &client, "/settings/security-log").await;
    assert_eq!(status, 200);
    for action in [
        "user.login",
        "oauth_access.create",
        "oauth_access.destroy",
        AGENT,
    ] {
        assert!(html.contains(action), "{action} missing");
    }
    assert!(
        !html.contains("oauth_authorization.create"),
        "bob's event shown"
    );
    assert!(html.contains("aria-current=\"page\">Security log"));
}

#[tokio::test]
async fn suspension_records_the_admin_as_actor_and_the_user_as_subject() {
    let srv = server().await;
    srv.put("/users/alice/suspended")
        .basic_auth(BOB.login, Some(BOB.password))
        .json(&json!({"reason": "spam"}))
        .go()
        .await
        .expect_no_content();
    srv.delete("/users/alice/suspended")
        .basic_auth(BOB.login, Some(BOB.password))
        .go()
        .await
        .expect_no_content();
    let log = events(&srv).await;
    assert_eq!(actions(&log), ["user.suspend", "user.unsuspend"]);
    assert_eq!(login(log[0].actor.as_ref()), Some("bob"));
    assert_eq!(login(log[0].user.as_ref()), Some("alice"));
    assert_eq!(log[0].data["reason"], "spam");
}

/// A token of `user` with `scopes` (its own `oauth_authorization.create` is in the log).
async fn token(srv: &TestServer, user: &crate::support::User, scopes: &[&str]) -> String {
    let created = srv
        .create_pat_with(
            user,
            json!({"note": format!("{scopes:?}"), "scopes": scopes}),
        )
        .await;
    created["token"].as_str().unwrap().to_owned()
}

async fn audit_log(srv: &TestServer, token: &str, query: &str) -> crate::support::Reply {
    srv.get(&format!("/enterprises/grantd/audit-log{query}"))
        .header("authorization", format!("token {token}"))
        .go()
        .await
}

#[tokio::test]
async fn the_audit_log_api_is_for_site_admins_with_the_scope() {
    let srv = server().await;
    let admin = token(&srv, &BOB, &["read:audit_log"]).await;
    let enterprise = token(&srv, &BOB, &["admin:enterprise"]).await;
    let unscoped = token(&srv, &BOB, &["repo"]).await;
    let alice = token(&srv, &ALICE, &["read:audit_log"]).await;
    audit_log(&srv, &admin, "").await.expect_status(200);
    audit_log(&srv, &enterprise, "").await.expect_status(200);
    // The refusals of every site-admin endpoint (admin_users.rs checks them in full).
    let refused = audit_log(&srv, &unscoped, "").await;
    refused.expect_status(404);
    assert_eq!(
        refused.header("x-accepted-oauth-scopes").as_deref(),
        Some("read:audit_log, admin:enterprise")
    );
    audit_log(&srv, &alice, "").await.expect_status(403);
    let anonymous = srv.get("/enterprises/grantd/audit-log").go().await;
    anonymous.expect_status(401);
    let bad = audit_log(&srv, &admin, "?phrase=repo:octo/repo").await;
    let body = bad.expect_status(422);
    assert_eq!(body["message"], "Validation Failed");
    audit_log(&srv, &admin, "?after=nonsense")
        .await
        .expect_status(422);
    audit_log(&srv, &admin, "?order=sideways")
        .await
        .expect_status(422);
    // Basic auth of a site admin works too, as on GHES.
    srv.get("/api/v3/enterprises/grantd/audit-log")
        .basic_auth(BOB.login, Some(BOB.password))
        .go()
        .await
        .expect_status(200);
}

#[tokio::test]
async fn the_audit_log_api_filters_orders_and_pages_with_cursors() {
    let srv = server().await;
    for note in ["one", "two", "three"] {
        srv.create_pat(&ALICE, note).await;
    }
    let admin = token(&srv, &BOB, &["read:audit_log"]).await;
    let all = audit_log(&srv, &admin, "").await.expect_status(200);
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 4, "{all:?}");
    // Newest first: bob's own token is the last event written.
    assert_eq!(all[0]["actor"], "bob");
    assert_eq!(all[0]["business"], "grantd");
    assert_eq!(all[1]["action"], "oauth_authorization.create");
    assert_eq!(all[1]["user"], "alice");
    assert_eq!(all[1]["actor_ip"], "127.0.0.1");
    assert!(
        all[1]["@timestamp"].as_i64().unwrap() > 1_000_000_000_000,
        "milliseconds"
    );
    assert!(all[1]["token_id"].is_i64() && all[1]["hashed_token"].is_string());

    let phrase = |p: &str| {
        format!(
            "?phrase={}",
            p.replace(' ', "+")
                .replace(':', "%3A")
                .replace('>', "%3E")
                .replace('=', "%3D")
        )
    };
    let by = |reply: crate::support::Reply| -> Vec<Value> {
        reply.expect_status(200).as_array().unwrap().clone()
    };
    assert_eq!(
        by(audit_log(&srv, &admin, &phrase("actor:alice")).await).len(),
        3
    );
    assert_eq!(
        by(audit_log(&srv, &admin, &phrase("user:BOB")).await).len(),
        1
    );
    assert_eq!(
        by(audit_log(&srv, &admin, &phrase("action:oauth_authorization")).await).len(),
        4
    );
    assert_eq!(
        by(audit_log(&srv, &admin, &phrase("action:oauth_access")).await).len(),
        0
    );
    let today = time::OffsetDateTime::now_utc().date();
    let tomorrow = today.next_day().unwrap();
    assert_eq!(
        by(audit_log(&srv, &admin, &phrase(&format!("created:>={today}"))).await).len(),
        4
    );
    assert_eq!(
        by(audit_log(&srv, &admin, &phrase(&format!("created:>={tomorrow}"))).await).len(),
        0
    );
    assert_eq!(by(audit_log(&srv, &admin, "?include=git").await).len(), 0);

    // Oldest first, two a page, walked by the Link header's cursors.
    let first = audit_log(&srv, &admin, "?order=asc&per_page=2").await;
    let link = first.header("link").expect("a Link header");
    let page1 = by(first);
    assert_eq!(page1[0]["user"], "alice");
    assert_eq!(page1.len(), 2);
    let next = link
        .split(", ")
        .find(|l| l.ends_with("rel=\"next\""))
        .expect("next");
    let url = &next[1..next.find('>').unwrap()];
    assert!(
        url.contains("order=asc") && url.contains("per_page=2") && url.contains("after="),
        "{url}"
    );
    let path = url.split_once("/enterprises").unwrap().1;
    let second = audit_log(&srv, &admin, &path["/grantd/audit-log".len()..]).await;
    let link = second.header("link").expect("a Link header");
    let page2 = by(second);
    assert_eq!(page2.len(), 2);
    assert_eq!(page2[1]["actor"], "bob");
    assert!(!link.contains("rel=\"next\""), "{link}");
    assert!(
        link.contains("rel=\"prev\"") && link.contains("rel=\"first\""),
        "{link}"
    );
    let prev = link
        .split(", ")
        .find(|l| l.ends_with("rel=\"prev\""))
        .unwrap();
    let url = &prev[1..prev.find('>').unwrap()];
    let path = url.split_once("/enterprises").unwrap().1;
    let back = by(audit_log(&srv, &admin, &path["/grantd/audit-log".len()..]).await);
    assert_eq!(back, page1);
}

#[tokio::test]
async fn the_stafftools_audit_log_is_for_site_admins_only() {
    let srv = server().await;
    srv.create_pat(&ALICE, "laptop").await;
    let alice = browser();
    sign_in(&srv, &alice, &ALICE).await;
    let (status, _) = page(&srv, &alice, "/stafftools/audit-log").await;
    assert_eq!(status, 404);
    let signed_out = browser();
    let response = signed_out
        .get(srv.url("/stafftools/audit-log"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let bob = browser();
    sign_in(&srv, &bob, &BOB).await;
    let (status, html) = page(
        &srv,
        &bob,
        "/stafftools/audit-log?user=alice&action=oauth_authorization",
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("oauth_authorization.create"));
    assert!(
        !html.contains("user.login"),
        "bob's sign-in is filtered out"
    );
    let (status, _) = page(&srv, &bob, "/stafftools/audit-log?action=Not+An+Action").await;
    assert_eq!(status, 422);
    let (_, users) = page(&srv, &bob, "/stafftools/users").await;
    assert!(users.contains("/stafftools/audit-log"));
}

#[tokio::test]
async fn grantd_audit_prints_the_log_as_a_table_or_json() {
    let srv = server().await;
    srv.create_pat(&ALICE, "laptop").await;
    srv.create_pat(&BOB, "desktop").await;
    let db = srv.db_url().to_owned();
    let run = |args: Vec<String>| {
        let out = tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            grantd(&args, None)
        });
        async move { out.await.unwrap() }
    };
    let out = run(vec!["audit".into(), "--db".into(), db.clone()]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("TIME") && lines[0].contains("ACTION"),
        "{text}"
    );
    assert!(
        lines[1].contains("oauth_authorization.create") && lines[1].contains("bob"),
        "{text}"
    );
    assert!(
        lines[2].contains("alice") && lines[2].contains("127.0.0.1"),
        "{text}"
    );

    let out = run([
        "audit",
        "--user",
        "alice",
        "--action",
        "oauth_authorization",
        "--json",
        "--db",
        &db,
    ]
    .map(str::to_owned)
    .to_vec())
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    let shown = shown.as_array().unwrap();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0]["user"], "alice");
    assert_eq!(shown[0]["action"], "oauth_authorization.create");

    let out = run(["audit", "--user", "-bad-", "--db", &db]
        .map(str::to_owned)
        .to_vec())
    .await;
    assert!(!out.status.success());
}

/// Events written after the first `skip` (those the test's set-up wrote).
async fn events_after(srv: &TestServer, skip: usize) -> Vec<grantd::domain::audit::Event> {
    events(srv).await.split_off(skip)
}

fn app_of(event: &grantd::domain::audit::Event) -> Option<(&str, &str)> {
    event
        .app
        .as_ref()
        .map(|a| (a.name.as_str(), a.client_id.as_str()))
}

/// A site admin's token with `site_admin` (its `oauth_authorization.create` is the first event).
async fn admin_token(srv: &TestServer) -> String {
    token(srv, &BOB, &["site_admin"]).await
}

async fn as_admin(
    srv: &TestServer,
    admin: &str,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> crate::support::Reply {
    srv.request(method, path)
        .header("authorization", format!("token {admin}"))
        .header("user-agent", AGENT)
        .json(&body)
        .go()
        .await
}

#[tokio::test]
async fn admin_user_creation_and_deletion_are_recorded_with_the_admin_as_actor() {
    use reqwest::Method;
    let srv = server().await;
    let admin = admin_token(&srv).await;
    let dave = json!({"login": "dave", "email": "dave@example.com"});
    let created = as_admin(&srv, &admin, Method::POST, "/admin/users", dave.clone()).await;
    let dave_id = created.expect_status(201)["id"].as_i64().unwrap();
    let carol = json!({"login": "carol", "email": "carol@example.com", "suspended": true});
    as_admin(&srv, &admin, Method::POST, "/admin/users", carol)
        .await
        .expect_status(201);
    // Refused: a taken login, oneself, nobody. None writes an event.
    as_admin(&srv, &admin, Method::POST, "/admin/users", dave)
        .await
        .expect_status(422);
    as_admin(&srv, &admin, Method::DELETE, "/admin/users/bob", json!({}))
        .await
        .expect_status(422);
    as_admin(
        &srv,
        &admin,
        Method::DELETE,
        "/admin/users/nobody",
        json!({}),
    )
    .await
    .expect_status(404);
    // alice owns the fixture's OAuth app: it goes first, recorded as its own event.
    as_admin(
        &srv,
        &admin,
        Method::DELETE,
        "/admin/users/alice",
        json!({}),
    )
    .await
    .expect_no_content();
    as_admin(&srv, &admin, Method::DELETE, "/admin/users/dave", json!({}))
        .await
        .expect_no_content();

    let log = events_after(&srv, 1).await;
    assert_eq!(
        actions(&log),
        [
            "user.create",
            "user.create",
            "user.suspend",
            "oauth_application.destroy",
            "oauth_application.destroy",
            "user.delete",
            "user.delete",
        ]
    );
    let subjects: Vec<Option<&str>> = log.iter().map(|e| login(e.user.as_ref())).collect();
    assert_eq!(
        subjects,
        [
            Some("dave"),
            Some("carol"),
            Some("carol"),
            Some("alice"),
            Some("alice"),
            Some("alice"),
            Some("dave"),
        ]
    );
    for event in &log {
        assert_eq!(login(event.actor.as_ref()), Some("bob"), "{event:?}");
        assert_eq!(event.source.user_agent.as_deref(), Some(AGENT));
        assert_eq!(event.source.address, Some("127.0.0.1".parse().unwrap()));
    }
    // The new account is named by its id, which outlives it.
    assert_eq!(log[0].user.as_ref().unwrap().id.0, dave_id);
    assert_eq!(log[6].user.as_ref().unwrap().id.0, dave_id);
    assert_eq!(log[0].app, None);
    let mut apps: Vec<(&str, &str)> = log[3..5].iter().filter_map(app_of).collect();
    apps.sort_unstable();
    assert_eq!(
        apps,
        [
            (GITHUB_APP.name, GITHUB_APP.client_id),
            (OAUTH_APP.name, OAUTH_APP.client_id)
        ]
    );
    assert_eq!(log[5].app, None);
}

#[tokio::test]
async fn impersonation_tokens_are_recorded_with_the_admin_as_actor_and_the_user_as_subject() {
    use reqwest::Method;
    let srv = server().await;
    let admin = admin_token(&srv).await;
    let path = "/admin/users/alice/authorizations";
    let made = as_admin(
        &srv,
        &admin,
        Method::POST,
        path,
        json!({"scopes": ["repo"]}),
    )
    .await
    .expect_status(201);
    let token = made["token"].as_str().unwrap().to_owned();
    let id = made["id"].as_i64().unwrap();
    // The one there is (200) and a bad request (422) change nothing and write nothing.
    as_admin(
        &srv,
        &admin,
        Method::POST,
        path,
        json!({"scopes": ["user"]}),
    )
    .await
    .expect_status(200);
    as_admin(
        &srv,
        &admin,
        Method::POST,
        path,
        json!({"scopes": ["nope"]}),
    )
    .await
    .expect_status(422);
    as_admin(&srv, &admin, Method::DELETE, path, json!({}))
        .await
        .expect_no_content();
    // Deleting when there is none: done already, and nothing to record.
    as_admin(&srv, &admin, Method::DELETE, path, json!({}))
        .await
        .expect_no_content();

    let log = events_after(&srv, 1).await;
    assert_eq!(
        actions(&log),
        ["oauth_access.create", "oauth_access.destroy"]
    );
    for event in &log {
        assert_eq!(login(event.actor.as_ref()), Some("bob"));
        assert_eq!(login(event.user.as_ref()), Some("alice"));
        assert_eq!(event.app, None);
        assert_eq!(event.source.user_agent.as_deref(), Some(AGENT));
        assert_eq!(
            Value::Object(event.data.clone()),
            json!({
                "token_id": id,
                "hashed_token": hashed(&token),
                "programmatic_access_type": "Personal access token (classic)",
                "token_scopes": "repo",
            })
        );
    }
}

#[tokio::test]
async fn client_secrets_generated_and_deleted_on_the_page_are_recorded_with_githubs_names() {
    let srv = server().await;
    let bob = browser_with_agent();
    assert_eq!(sign_in(&srv, &bob, &BOB).await.status(), 303);
    let pages = "/settings/developers";
    let generate = format!("/settings/developers/{}/secret", OTHER_APP.client_id);
    let response = post(&srv, &bob, pages, &generate, &[]).await;
    assert_eq!(response.status(), 200);
    // A third live secret is refused; so is alice's app, which is not bob's.
    let response = post(&srv, &bob, pages, &generate, &[]).await;
    assert_eq!(response.status(), 422);
    let alices = format!("/settings/developers/{}/secret", OAUTH_APP.client_id);
    assert_eq!(post(&srv, &bob, pages, &alices, &[]).await.status(), 404);
    // Delete the first secret by its form on the page.
    let (_, list) = page(&srv, &bob, pages).await;
    let marker = format!("/settings/developers/{}/secrets/", OTHER_APP.client_id);
    let delete = list[list.find(&marker).expect("a delete form")..]
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(post(&srv, &bob, pages, &delete, &[]).await.status(), 303);
    assert_eq!(post(&srv, &bob, pages, &delete, &[]).await.status(), 404);

    let log = events(&srv).await;
    assert_eq!(
        actions(&log),
        [
            "user.login",
            "oauth_application.generate_client_secret",
            "oauth_application.remove_client_secret",
        ]
    );
    for event in &log[1..] {
        assert_eq!(login(event.actor.as_ref()), Some("bob"));
        assert_eq!(login(event.user.as_ref()), Some("bob"));
        assert_eq!(app_of(event), Some((OTHER_APP.name, OTHER_APP.client_id)));
        assert_eq!(event.source.user_agent.as_deref(), Some(AGENT));
        // Never the secret, nor a hint of it.
        assert!(event.data.is_empty(), "{event:?}");
    }
}

/// `grantd user add`, `user delete` and `token mint`: recorded without an actor and without a
/// source, as every command is; a refused command writes nothing.
#[tokio::test]
async fn cli_user_and_mint_commands_are_recorded_without_an_actor() {
    let srv = server().await;
    let db = srv.db_url().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tokens.txt");
    let out = out.to_str().unwrap().to_owned();
    let run = |args: Vec<String>, stdin: Option<&'static str>| {
        let ran = tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            grantd(&args, stdin)
        });
        async move { ran.await.unwrap() }
    };
    let args = |list: &[&str]| -> Vec<String> {
        list.iter()
            .map(|a| (*a).to_owned())
            .chain(["--db".to_owned(), db.clone()])
            .collect()
    };
    let ok = |out: &std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ok(&run(
        args(&["user", "add", "erin", "--password-stdin"]),
        Some("erin-pass"),
    )
    .await);
    // Refused: a taken login; a user who owns an app (alice); nobody.
    let again = run(
        args(&["user", "add", "erin", "--password-stdin"]),
        Some("x"),
    )
    .await;
    assert!(!again.status.success());
    assert!(
        !run(args(&["user", "delete", "alice"]), None)
            .await
            .status
            .success()
    );
    assert!(
        !run(args(&["user", "delete", "nobody"]), None)
            .await
            .status
            .success()
    );
    ok(&run(args(&["user", "delete", "erin"]), None).await);
    // Five tokens in two transactions (3 + 2): one event each.
    let mint = [
        "token",
        "mint",
        "--client-id",
        OAUTH_APP.client_id,
        "--user",
        "bob",
        "--count",
        "5",
        "--batch-size",
        "3",
        "--scopes",
        "repo,gist",
        "--out",
        &out,
    ];
    ok(&run(args(&mint), None).await);
    // A mint refused (an unknown scope) stores nothing and records nothing.
    let other_out = format!("{out}.2");
    let refused = [&mint[..10], &["--scopes", "nope", "--out", &other_out]].concat();
    assert!(!run(args(&refused), None).await.status.success());

    let log = events(&srv).await;
    assert_eq!(
        actions(&log),
        [
            "user.create",
            "user.delete",
            "oauth_access.create",
            "oauth_access.create",
        ]
    );
    for event in &log {
        assert_eq!(event.actor, None, "{event:?}");
        assert_eq!(event.source, grantd::domain::audit::Source::default());
    }
    assert_eq!(login(log[0].user.as_ref()), Some("erin"));
    assert_eq!(login(log[1].user.as_ref()), Some("erin"));
    assert_eq!(log[0].user, log[1].user);
    for (event, count) in log[2..].iter().zip([3, 2]) {
        assert_eq!(login(event.user.as_ref()), Some("bob"));
        assert_eq!(app_of(event), Some((OAUTH_APP.name, OAUTH_APP.client_id)));
        assert_eq!(
            Value::Object(event.data.clone()),
            json!({
                "programmatic_access_type": "OAuth access token",
                "token_scopes": "repo,gist",
                "count": count,
            })
        );
    }
}
