//! GHES's user administration for site admins: `POST /admin/users`,
//! `DELETE /admin/users/{username}` and impersonation tokens
//! (`POST` / `DELETE /admin/users/{username}/authorizations`). Every answer is validated
//! against GHES 3.19's OpenAPI description by the suite's conformance check; octokit drives
//! them as a GHES user of it would (`tests/clients/octokit/admin_users.mjs`).

use reqwest::Method;
use serde_json::{Value, json};

use crate::signin::{browser, sign_in};
use crate::support::{
    ALICE, BOB, DEFAULT_FIXTURE, OAUTH_APP, OTHER_APP, Reply, RequestExt, TestServer,
    assert_bad_credentials, assert_not_found,
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
            json!({"note": format!("admin test {scopes:?}"), "scopes": scopes}),
        )
        .await;
    created["token"].as_str().expect("the token").to_owned()
}

async fn call(srv: &TestServer, method: Method, path: &str, token: &str, body: Value) -> Reply {
    srv.request(method, path)
        .header("authorization", format!("token {token}"))
        .json(&body)
        .go()
        .await
}

fn assert_validation(reply: &Reply, field: &str, code: &str) {
    let body = reply.expect_status(422);
    assert_eq!(body["message"], "Validation Failed", "{body}");
    assert_eq!(body["errors"][0]["field"], field, "{body}");
    assert_eq!(body["errors"][0]["code"], code, "{body}");
}

#[tokio::test]
async fn a_site_admin_creates_a_user_with_a_normalized_login_and_deletes_it() {
    let srv = server().await;
    let admin = pat(&srv, &BOB, &["site_admin"]).await;

    let reply = call(
        &srv,
        Method::POST,
        "/admin/users",
        &admin,
        json!({"login": "octo_cat", "email": "octo@example.com"}),
    )
    .await;
    let user = reply.expect_status(201);
    assert_eq!(user["login"], "octo-cat");
    assert_eq!(user["type"], "User");
    assert_eq!(user["site_admin"], false);
    assert_eq!(user["url"], srv.url("/users/octo-cat"));
    assert_eq!(
        reply.header("x-accepted-oauth-scopes").as_deref(),
        Some("site_admin")
    );
    let profile = srv.get("/users/octo-cat").go().await.expect_status(200);
    assert_eq!(profile["id"], user["id"]);
    // Nobody can sign in as the new user: it has no password anyone knows.
    assert_bad_credentials(
        &srv.get("/authorizations")
            .basic_auth("octo-cat", Some(""))
            .go()
            .await,
    );

    // A login or an email address that an account has: already_exists.
    let again = json!({"login": "Octo-Cat", "email": "new@example.com"});
    assert_validation(
        &call(&srv, Method::POST, "/admin/users", &admin, again).await,
        "login",
        "already_exists",
    );
    let same_email = json!({"login": "someone", "email": "ALICE@example.com"});
    assert_validation(
        &call(&srv, Method::POST, "/admin/users", &admin, same_email).await,
        "email",
        "already_exists",
    );
    // No login, no email (required with built-in authentication), a login that normalizes
    // to nothing, a body field of the wrong type.
    for (body, field, code) in [
        (json!({"email": "x@example.com"}), "login", "missing_field"),
        (json!({"login": "x"}), "email", "missing_field"),
        (
            json!({"login": "x", "email": "not an address"}),
            "email",
            "invalid",
        ),
        (
            json!({"login": "___", "email": "x@example.com"}),
            "login",
            "invalid",
        ),
        (
            json!({"login": "x", "email": "x@example.com", "suspended": "yes"}),
            "suspended",
            "invalid",
        ),
    ] {
        assert_validation(
            &call(&srv, Method::POST, "/admin/users", &admin, body).await,
            field,
            code,
        );
    }

    call(
        &srv,
        Method::DELETE,
        "/admin/users/octo-cat",
        &admin,
        json!({}),
    )
    .await
    .expect_no_content();
    assert_not_found(&srv.get("/users/octo-cat").go().await);
    assert_not_found(
        &call(
            &srv,
            Method::DELETE,
            "/admin/users/octo-cat",
            &admin,
            json!({}),
        )
        .await,
    );
    // A site admin cannot delete themself.
    assert_validation(
        &call(&srv, Method::DELETE, "/admin/users/bob", &admin, json!({})).await,
        "username",
        "custom",
    );
}

#[tokio::test]
async fn a_user_created_suspended_cannot_use_an_impersonation_token_until_unsuspended() {
    let srv = server().await;
    let admin = pat(&srv, &BOB, &["site_admin"]).await;
    let body = json!({"login": "carol", "email": "carol@example.com", "suspended": true});
    call(&srv, Method::POST, "/admin/users", &admin, body)
        .await
        .expect_status(201);
    let created = call(
        &srv,
        Method::POST,
        "/admin/users/carol/authorizations",
        &admin,
        json!({"scopes": ["repo"]}),
    )
    .await
    .expect_status(201);
    let token = created["token"].as_str().expect("the token");
    assert_bad_credentials(&srv.get_user(token).await);
    call(
        &srv,
        Method::DELETE,
        "/users/carol/suspended",
        &admin,
        json!({}),
    )
    .await
    .expect_no_content();
    assert_eq!(
        srv.get_user(token).await.expect_status(200)["login"],
        "carol"
    );
}

#[tokio::test]
async fn deleting_a_user_takes_their_apps_tokens_grants_and_sessions() {
    let srv = server().await;
    let admin = pat(&srv, &BOB, &["site_admin"]).await;
    let (_, alices_own) = srv.alice_token(&OTHER_APP).await;
    // bob's token of alice's app goes with the app; bob's token of his own app stays.
    let (_, bobs_of_alices_app) = srv.new_token(&BOB, &OAUTH_APP, json!({})).await;
    let (_, bobs_own) = srv.new_token(&BOB, &OTHER_APP, json!({})).await;
    let alices_browser = browser();
    assert_eq!(sign_in(&srv, &alices_browser, &ALICE).await.status(), 303);

    call(
        &srv,
        Method::DELETE,
        "/admin/users/alice",
        &admin,
        json!({}),
    )
    .await
    .expect_no_content();

    assert_not_found(&srv.check(&OTHER_APP, &alices_own).await);
    assert_bad_credentials(&srv.get_user(&alices_own).await);
    assert_bad_credentials(&srv.get_user(&bobs_of_alices_app).await);
    // alice's app is gone: its credentials no longer sign in.
    assert_eq!(srv.check(&OAUTH_APP, &bobs_of_alices_app).await.status, 401);
    srv.check(&OTHER_APP, &bobs_own).await.expect_status(200);
    let page = alices_browser
        .get(srv.url("/settings/tokens"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303, "alice's session went with her");
    let dump = srv.export().await;
    let logins: Vec<&str> = dump["tables"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["login"].as_str())
        .collect();
    assert!(!logins.contains(&"alice"), "{logins:?}");
    let apps = dump["tables"]["apps"].as_array().unwrap();
    assert!(
        apps.iter().all(|a| a["client_id"] == OTHER_APP.client_id),
        "{apps:?}"
    );
}

#[tokio::test]
async fn an_impersonation_token_acts_as_the_user_once_made_and_stops_when_deleted() {
    let srv = server().await;
    let admin = pat(&srv, &BOB, &["site_admin"]).await;
    let path = "/admin/users/alice/authorizations";

    let reply = call(
        &srv,
        Method::POST,
        path,
        &admin,
        json!({"scopes": ["repo", "user"]}),
    )
    .await;
    let made = reply.expect_status(201);
    let token = made["token"].as_str().expect("the token").to_owned();
    assert!(token.starts_with("ghp_"), "{made}");
    assert_eq!(made["scopes"], json!(["repo", "user"]));
    assert_eq!(made["token_last_eight"], token[token.len() - 8..]);
    let user = srv.get_user(&token).await;
    assert_eq!(user.expect_status(200)["login"], "alice");
    assert_eq!(user.header("x-oauth-scopes").as_deref(), Some("repo, user"));

    // One per user: asking again answers the one there is (200), without its token.
    let again = call(
        &srv,
        Method::POST,
        path,
        &admin,
        json!({"scopes": ["repo"]}),
    )
    .await;
    let existing = again.expect_status(200);
    assert_eq!(existing["id"], made["id"]);
    assert_eq!(existing["token"], "");
    assert_eq!(existing["hashed_token"], made["hashed_token"]);
    // alice sees it among her tokens.
    let ids: Vec<Value> = srv
        .authorizations(&ALICE)
        .await
        .iter()
        .map(|a| a["id"].clone())
        .collect();
    assert!(ids.contains(&made["id"]), "{ids:?}");

    call(&srv, Method::DELETE, path, &admin, json!({}))
        .await
        .expect_no_content();
    assert_bad_credentials(&srv.get_user(&token).await);
    // Deleting when there is none is done already.
    call(&srv, Method::DELETE, path, &admin, json!({}))
        .await
        .expect_no_content();
    let fresh = call(&srv, Method::POST, path, &admin, json!({"scopes": []})).await;
    assert_ne!(fresh.expect_status(201)["id"], made["id"]);

    // An unknown user; scopes missing, of the wrong type, or unknown.
    for method in [Method::POST, Method::DELETE] {
        let body = json!({"scopes": ["repo"]});
        assert_not_found(
            &call(
                &srv,
                method,
                "/admin/users/nobody-here/authorizations",
                &admin,
                body,
            )
            .await,
        );
    }
    assert_validation(
        &call(&srv, Method::POST, path, &admin, json!({})).await,
        "scopes",
        "missing_field",
    );
    assert_validation(
        &call(&srv, Method::POST, path, &admin, json!({"scopes": "repo"})).await,
        "scopes",
        "invalid",
    );
    assert_validation(
        &call(
            &srv,
            Method::POST,
            path,
            &admin,
            json!({"scopes": ["no-such-scope"]}),
        )
        .await,
        "scopes",
        "invalid",
    );
}

/// Every site-admin-only endpoint refuses alike (docs/api.md): no credentials 401, a token
/// without the scope the endpoint accepts 404 naming that scope, anyone but a site admin
/// (by token with the scope, or by password) GHES's documented 403 with the operation's
/// page. And a refusal changes nothing and writes no audit event.
#[tokio::test]
async fn every_site_admin_endpoint_refuses_others_alike_and_does_nothing() {
    const USERS: &str =
        "https://docs.github.com/enterprise-server@3.19/rest/enterprise-admin/users";
    let srv = server().await;
    let audit_log = "https://docs.github.com/enterprise-server@3.19/rest/enterprise-admin/audit-log#get-the-audit-log-for-an-enterprise";
    // (method, path, body, the page GitHub documents it on, the scopes it accepts)
    let endpoints: Vec<(Method, &str, Value, String, &str)> = vec![
        (
            Method::POST,
            "/admin/users",
            json!({"login": "dave", "email": "dave@example.com"}),
            format!("{USERS}#create-a-user"),
            "site_admin",
        ),
        (
            Method::DELETE,
            "/admin/users/alice2fa",
            json!({}),
            format!("{USERS}#delete-a-user"),
            "site_admin",
        ),
        (
            Method::POST,
            "/admin/users/alice2fa/authorizations",
            json!({"scopes": ["repo"]}),
            format!("{USERS}#create-an-impersonation-oauth-token"),
            "site_admin",
        ),
        (
            Method::DELETE,
            "/admin/users/alice2fa/authorizations",
            json!({}),
            format!("{USERS}#delete-an-impersonation-oauth-token"),
            "site_admin",
        ),
        (
            Method::PUT,
            "/users/alice2fa/suspended",
            json!({}),
            format!("{USERS}#suspend-a-user"),
            "site_admin",
        ),
        (
            Method::DELETE,
            "/users/alice2fa/suspended",
            json!({}),
            format!("{USERS}#unsuspend-a-user"),
            "site_admin",
        ),
        (
            Method::GET,
            "/enterprises/grantd/audit-log",
            Value::Null,
            audit_log.to_owned(),
            "read:audit_log, admin:enterprise",
        ),
    ];
    let alices = pat(&srv, &ALICE, &["site_admin", "read:audit_log"]).await;
    let bobs_without_scope = pat(&srv, &BOB, &["repo", "admin:org"]).await;
    let before = srv.export().await;
    for (method, path, body, doc, accepted) in &endpoints {
        let send = |request: reqwest::RequestBuilder| {
            if body.is_null() {
                request
            } else {
                request.json(body)
            }
        };
        for prefix in ["", "/api/v3"] {
            let path = format!("{prefix}{path}");
            let anonymous = send(srv.request(method.clone(), &path)).go().await;
            let body401 = anonymous.expect_status(401);
            assert_eq!(
                body401["message"], "Requires authentication",
                "{method} {path}"
            );
            // Not a site admin: GHES's documented 403, by token or by password.
            let by_token = send(
                srv.request(method.clone(), &path)
                    .header("authorization", format!("token {alices}")),
            )
            .go()
            .await;
            assert_eq!(
                by_token.header("x-accepted-oauth-scopes").as_deref(),
                Some(*accepted),
                "{method} {path}"
            );
            let by_password = send(srv.request(method.clone(), &path).login_as(&ALICE))
                .go()
                .await;
            for reply in [by_token, by_password] {
                assert_eq!(
                    reply.expect_status(403),
                    json!({
                        "message": "Must be a site administrator.",
                        "documentation_url": doc,
                        "status": "403",
                    }),
                    "{method} {path}"
                );
            }
            // A site admin's token without the scope: hidden, with the scope it lacks named.
            let reply = send(
                srv.request(method.clone(), &path)
                    .header("authorization", format!("token {bobs_without_scope}")),
            )
            .go()
            .await;
            assert_eq!(
                reply.header("x-accepted-oauth-scopes").as_deref(),
                Some(*accepted),
                "{method} {path}"
            );
            assert_eq!(
                reply.expect_status(404),
                json!({"message": "Not Found", "documentation_url": doc, "status": "404"}),
                "{method} {path}"
            );
        }
    }
    // None of them did anything, nor wrote an event.
    let after = srv.export().await;
    assert_eq!(before["tables"]["users"], after["tables"]["users"]);
    let ids = |dump: &Value| -> Vec<Value> {
        let rows = dump["tables"]["authorizations"].as_array().unwrap();
        rows.iter().map(|a| a["id"].clone()).collect()
    };
    assert_eq!(ids(&before), ids(&after));
    let events = srv
        .store()
        .list_audit_events(&grantd::domain::audit::Query {
            filter: grantd::domain::audit::Filter::default(),
            after: None,
            before: None,
            order: grantd::domain::audit::Order::Asc,
            limit: 100,
        })
        .await
        .unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["oauth_authorization.create"; 2]);
    // The site admin's password works as well as a scoped token.
    srv.post("/admin/users")
        .login_as(&BOB)
        .json(&json!({"login": "dave", "email": "dave@example.com"}))
        .go()
        .await
        .expect_status(201);
}

/// octokit, configured for GHES, calls the four operations by their routes (its REST plugin
/// has no `enterpriseAdmin` methods for github.com) and uses the impersonation token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn octokit_administers_users_and_impersonates() {
    let srv = server().await;
    let admin = pat(&srv, &BOB, &["site_admin"]).await;
    let alices = pat(&srv, &ALICE, &["site_admin"]).await;
    let out = crate::octokit::run_script("admin_users.mjs", vec![srv.url(""), admin, alices]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "node admin_users.mjs failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    assert_not_found(&srv.get("/users/mona-lisa").go().await);
}
