//! The GitHub Enterprise Server endpoints clients call around the token API: the API root,
//! `GET /meta`, `GET /rate_limit`, `GET /users/{username}`, `GET /user/emails`, `GET /zen`,
//! the `X-GitHub-Enterprise-Version` header on every answer, and the profile page and avatar
//! that users' `html_url` and `avatar_url` point at. Every JSON answer is validated against
//! GitHub's description by the conformance support.

use serde_json::{Value, json};

use crate::support::{
    ALICE, ALICE2FA, BOB, OAUTH_APP, RequestExt, ServerOptions, TestServer, assert_json,
    current_otp, error_body, merge,
};

/// A token of alice's with `scopes`, for `OAUTH_APP`.
async fn token_with(srv: &TestServer, scopes: Value) -> String {
    let note = scopes.to_string();
    let (_, token) = srv
        .new_token(
            &ALICE,
            &OAUTH_APP,
            json!({ "scopes": scopes, "fingerprint": note }),
        )
        .await;
    token
}

fn root(api: &str, web: &str) -> Value {
    json!({
        "current_user_url": format!("{api}/user"),
        "current_user_authorizations_html_url": format!("{web}/settings/connections/applications{{/client_id}}"),
        "authorizations_url": format!("{api}/authorizations"),
        "code_search_url": format!("{api}/search/code?q={{query}}{{&page,per_page,sort,order}}"),
        "commit_search_url": format!("{api}/search/commits?q={{query}}{{&page,per_page,sort,order}}"),
        "emails_url": format!("{api}/user/emails"),
        "emojis_url": format!("{api}/emojis"),
        "events_url": format!("{api}/events"),
        "feeds_url": format!("{api}/feeds"),
        "followers_url": format!("{api}/user/followers"),
        "following_url": format!("{api}/user/following{{/target}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "hub_url": format!("{api}/hub"),
        "issue_search_url": format!("{api}/search/issues?q={{query}}{{&page,per_page,sort,order}}"),
        "issues_url": format!("{api}/issues"),
        "keys_url": format!("{api}/user/keys"),
        "label_search_url": format!("{api}/search/labels?q={{query}}&repository_id={{repository_id}}{{&page,per_page}}"),
        "notifications_url": format!("{api}/notifications"),
        "organization_url": format!("{api}/orgs/{{org}}"),
        "organization_repositories_url": format!("{api}/orgs/{{org}}/repos{{?type,page,per_page,sort}}"),
        "organization_teams_url": format!("{api}/orgs/{{org}}/teams"),
        "public_gists_url": format!("{api}/gists/public"),
        "rate_limit_url": format!("{api}/rate_limit"),
        "repository_url": format!("{api}/repos/{{owner}}/{{repo}}"),
        "repository_search_url": format!("{api}/search/repositories?q={{query}}{{&page,per_page,sort,order}}"),
        "current_user_repositories_url": format!("{api}/user/repos{{?type,page,per_page,sort}}"),
        "starred_url": format!("{api}/user/starred{{/owner}}{{/repo}}"),
        "starred_gists_url": format!("{api}/gists/starred"),
        "topic_search_url": format!("{api}/search/topics?q={{query}}{{&page,per_page}}"),
        "user_url": format!("{api}/users/{{user}}"),
        "user_organizations_url": format!("{api}/user/orgs"),
        "user_repositories_url": format!("{api}/users/{{user}}/repos{{?type,page,per_page,sort}}"),
        "user_search_url": format!("{api}/search/users?q={{query}}{{&page,per_page,sort,order}}"),
    })
}

// ---------------------------------------------------------------------------------------------
// The API root
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_api_root_answers_at_every_base_and_sends_a_tokens_scopes() {
    let srv = TestServer::spawn_with_public_url("https://ghe.example/api/v3").await;
    let expected = root("https://ghe.example/api/v3", "https://ghe.example");
    let token = token_with(&srv, json!(["repo", "read:org"])).await;
    for path in ["/", "/api/v3", "/api/v3/"] {
        // Anonymous: the templates, no scope headers.
        let reply = srv.get(path).go().await;
        assert_json(&reply.expect_status(200), &expected);
        assert_eq!(reply.header("X-OAuth-Scopes"), None, "{path}");

        // A token: its scopes, which `gh auth status` reads from here.
        let reply = srv
            .get(path)
            .header("Authorization", format!("token {token}"))
            .go()
            .await;
        assert_json(&reply.expect_status(200), &expected);
        assert_eq!(
            reply.header("X-OAuth-Scopes").as_deref(),
            Some("repo, read:org")
        );
        assert_eq!(reply.header("X-Accepted-OAuth-Scopes").as_deref(), Some(""));
        assert_eq!(
            reply.header("X-RateLimit-Resource").as_deref(),
            Some("core")
        );

        // Basic with a password works too; with a wrong password it is a 401, not anonymous.
        let reply = srv.get(path).login_as(&ALICE).go().await;
        assert_json(&reply.expect_status(200), &expected);
        let reply = srv.get(path).basic_auth("alice", Some("wrong")).go().await;
        assert_json(
            &reply.expect_status(401),
            &error_body(401, "Bad credentials"),
        );
    }
}

#[tokio::test]
async fn a_bad_token_is_refused_on_every_endpoint_that_takes_anonymous_callers() {
    let srv = TestServer::spawn().await;
    for path in [
        "/",
        "/meta",
        "/rate_limit",
        "/zen",
        "/users/alice",
        "/api/v3/users/alice",
    ] {
        for header in [
            "token gho_not_a_token",
            "Bearer 0123456789abcdef",
            "Digest whatever",
        ] {
            let reply = srv.get(path).header("Authorization", header).go().await;
            assert_eq!(reply.status, 401, "{path} {header}: {}", reply.body);
            assert_eq!(
                reply.json()["documentation_url"],
                "https://docs.github.com/enterprise-server@3.19/rest"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// GET /meta and X-GitHub-Enterprise-Version
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn meta_names_the_version_and_password_authentication() {
    let srv = TestServer::spawn().await;
    let token = token_with(&srv, json!([])).await;
    let expected =
        json!({ "verifiable_password_authentication": true, "installed_version": "3.19.0" });
    for request in [
        srv.get("/meta"),
        srv.get("/api/v3/meta").login_as(&BOB),
        srv.get("/meta")
            .header("Authorization", format!("Bearer {token}")),
    ] {
        let reply = request.go().await;
        assert_json(&reply.expect_status(200), &expected);
        assert_eq!(
            reply.header("X-GitHub-Enterprise-Version").as_deref(),
            Some("3.19.0")
        );
    }
}

#[tokio::test]
async fn every_answer_carries_the_configured_enterprise_version() {
    let options = ServerOptions {
        ghes_version: Some("3.17.4"),
        ..ServerOptions::default()
    };
    let srv = TestServer::spawn_with_options(crate::support::DEFAULT_FIXTURE, None, options).await;
    let meta = srv.get("/meta").go().await.expect_status(200);
    assert_eq!(meta["installed_version"], "3.17.4");
    let answers = [
        ("meta", srv.get("/meta").go().await),
        ("user", srv.get("/user").login_as(&ALICE).go().await),
        ("401", srv.get("/user").go().await),
        ("404", srv.get("/no/such/path").go().await),
        ("405", srv.delete("/meta").go().await),
        ("page", srv.get("/login").go().await),
        ("profile", srv.get("/alice").go().await),
        (
            "preflight",
            srv.request(reqwest::Method::OPTIONS, "/user")
                .header("Origin", "https://example.com")
                .header("Access-Control-Request-Method", "GET")
                .go()
                .await,
        ),
        (
            "bad version",
            srv.get("/meta")
                .header("X-GitHub-Api-Version", "2001-01-01")
                .go()
                .await,
        ),
    ];
    for (what, reply) in answers {
        assert_eq!(
            reply.header("X-GitHub-Enterprise-Version").as_deref(),
            Some("3.17.4"),
            "{what} ({})",
            reply.status
        );
    }
}

// ---------------------------------------------------------------------------------------------
// GET /rate_limit
// ---------------------------------------------------------------------------------------------

fn limit_of(body: &Value, resource: &str) -> (u64, u64, u64) {
    let r = &body["resources"][resource];
    (
        r["limit"].as_u64().unwrap(),
        r["used"].as_u64().unwrap(),
        r["remaining"].as_u64().unwrap(),
    )
}

#[tokio::test]
async fn rate_limit_shows_the_callers_counts_and_does_not_count_itself() {
    let srv = TestServer::spawn().await;
    // The token's creation is alice's first request (Basic), then three with the token.
    let token = token_with(&srv, json!(["repo"])).await;
    for _ in 0..3 {
        srv.get_user(&token).await.expect_status(200);
    }
    for _ in 0..2 {
        let reply = srv
            .get("/rate_limit")
            .header("Authorization", format!("token {token}"))
            .go()
            .await;
        let body = reply.expect_status(200);
        assert_eq!(limit_of(&body, "core"), (5000, 4, 4996));
        assert_eq!(body["rate"], body["resources"]["core"]);
        assert_eq!(limit_of(&body, "graphql"), (5000, 0, 5000));
        assert_eq!(limit_of(&body, "search"), (30, 0, 30));
        let reset = body["resources"]["core"]["reset"].as_i64().unwrap();
        assert!(reset > time::OffsetDateTime::now_utc().unix_timestamp());
        // The headers show the same figures, uncounted.
        assert_eq!(reply.header("X-RateLimit-Used").as_deref(), Some("4"));
        assert_eq!(
            reply.header("X-RateLimit-Remaining").as_deref(),
            Some("4996")
        );
        assert_eq!(reply.header("X-RateLimit-Reset"), Some(reset.to_string()));
        assert_eq!(reply.header("X-OAuth-Scopes").as_deref(), Some("repo"));
    }
    // The user's Basic requests count in the same place (alice's: one more now).
    srv.get("/meta")
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    let body = srv
        .get("/api/v3/rate_limit")
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    assert_eq!(limit_of(&body, "core"), (5000, 5, 4995));
    // Bob's are his own.
    let body = srv
        .get("/rate_limit")
        .login_as(&BOB)
        .go()
        .await
        .expect_status(200);
    assert_eq!(limit_of(&body, "core"), (5000, 0, 5000));
}

#[tokio::test]
async fn anonymous_requests_count_against_their_address() {
    let options = ServerOptions {
        limits: grantd::http::Limits {
            rate: grantd::domain::limits::RateLimit {
                limit: 3,
                window: time::Duration::HOUR,
            },
            ..Default::default()
        },
        ..ServerOptions::default()
    };
    let srv = TestServer::spawn_with_options(crate::support::DEFAULT_FIXTURE, None, options).await;
    for used in 1..=3 {
        let reply = srv.get("/zen").go().await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("X-RateLimit-Used"), Some(used.to_string()));
    }
    let body = srv.get("/rate_limit").go().await.expect_status(200);
    assert_eq!(limit_of(&body, "core"), (3, 3, 0));
    // Anonymous callers have no GraphQL.
    assert_eq!(limit_of(&body, "graphql"), (0, 0, 0));
    let refused = srv.get("/meta").go().await;
    assert_json(
        &refused.expect_status(403),
        &error_body(403, "API rate limit exceeded for 127.0.0.1."),
    );
    // A signed-in user is counted apart.
    srv.get("/meta")
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
}

// ---------------------------------------------------------------------------------------------
// GET /users/{username}
// ---------------------------------------------------------------------------------------------

async fn public_user(srv: &TestServer, login: &str, email: Value) -> Value {
    merge(
        srv.simple_user(login).await,
        json!({
            "name": null, "company": null, "blog": null, "location": null, "email": email,
            "hireable": null, "bio": null, "twitter_username": null, "public_repos": 0,
            "public_gists": 0, "followers": 0, "following": 0,
            "created_at": crate::support::TIMESTAMP, "updated_at": crate::support::TIMESTAMP,
        }),
    )
}

#[tokio::test]
async fn a_user_is_public_and_its_email_shown_to_signed_in_callers() {
    let srv = TestServer::spawn_with_public_url("https://ghe.example/api/v3").await;
    let token = token_with(&srv, json!([])).await;
    let anonymous = srv.get("/users/alice").go().await;
    let body = anonymous.expect_status(200);
    assert_json(&body, &public_user(&srv, "alice", json!(null)).await);
    srv.assert_avatar(&body);
    assert!(anonymous.header("Last-Modified").is_some());
    for request in [
        srv.get("/api/v3/users/ALICE").login_as(&BOB),
        srv.get("/users/alice")
            .header("Authorization", format!("token {token}")),
    ] {
        let body = request.go().await.expect_status(200);
        assert_json(
            &body,
            &public_user(&srv, "alice", json!("alice@example.com")).await,
        );
    }
    let body = srv.get("/users/bob").go().await.expect_status(200);
    assert_json(&body, &public_user(&srv, "bob", json!(null)).await);
}

#[tokio::test]
async fn an_unknown_or_impossible_login_is_not_found() {
    let srv = TestServer::spawn().await;
    for path in [
        "/users/nobody",
        "/users/-bad-",
        "/users/a--b",
        &format!("/users/{}", "x".repeat(40)),
    ] {
        let reply = srv.get(path).go().await;
        assert_json(&reply.expect_status(404), &error_body(404, "Not Found"));
        assert_eq!(
            reply.json()["documentation_url"],
            "https://docs.github.com/enterprise-server@3.19/rest/users/users#get-a-user"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// GET /user/emails
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn emails_need_a_user_scope_from_a_token() {
    let srv = TestServer::spawn().await;
    let expected = json!([{
        "email": "alice@example.com", "primary": true, "verified": true, "visibility": "public",
    }]);
    for scopes in [
        json!(["user:email"]),
        json!(["user"]),
        json!(["repo", "user"]),
    ] {
        let token = token_with(&srv, scopes.clone()).await;
        let reply = srv
            .get("/user/emails")
            .header("Authorization", format!("token {token}"))
            .go()
            .await;
        assert_json(&reply.expect_status(200), &expected);
        assert_eq!(
            reply.header("X-Accepted-OAuth-Scopes").as_deref(),
            Some("user, user:email"),
            "{scopes}"
        );
    }
    // Without one it is not found to the token, as GitHub answers.
    for scopes in [json!([]), json!(["repo", "read:user"])] {
        let token = token_with(&srv, scopes).await;
        let reply = srv
            .get("/api/v3/user/emails")
            .header("Authorization", format!("token {token}"))
            .go()
            .await;
        assert_json(&reply.expect_status(404), &error_body(404, "Not Found"));
        assert_eq!(
            reply.header("X-Accepted-OAuth-Scopes").as_deref(),
            Some("user, user:email")
        );
    }
    // Basic credentials reach everything of the user's; nobody is a 401.
    let reply = srv.get("/user/emails").login_as(&ALICE).go().await;
    assert_json(&reply.expect_status(200), &expected);
    let reply = srv
        .get("/user/emails")
        .login_as(&ALICE2FA)
        .header("X-GitHub-OTP", current_otp())
        .go()
        .await;
    assert_json(&reply.expect_status(200), &json!([]));
    let reply = srv.get("/user/emails").go().await;
    assert_json(
        &reply.expect_status(401),
        &error_body(401, "Requires authentication"),
    );
    // A page past the only one is empty.
    let reply = srv.get("/user/emails?page=2").login_as(&ALICE).go().await;
    assert_json(&reply.expect_status(200), &json!([]));
    let reply = srv.get("/user/emails").login_as(&BOB).go().await;
    assert_json(&reply.expect_status(200), &json!([]));
}

// ---------------------------------------------------------------------------------------------
// GET /zen
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn zen_is_a_sentence_of_plain_text() {
    let srv = TestServer::spawn().await;
    for request in [srv.get("/zen"), srv.get("/api/v3/zen").login_as(&ALICE)] {
        let reply = request.go().await;
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.header("Content-Type").as_deref(),
            Some("text/plain;charset=utf-8")
        );
        assert!(
            reply.body.ends_with('.') && reply.body.len() < 60 && !reply.body.contains('\n'),
            "{:?}",
            reply.body
        );
    }
}

// ---------------------------------------------------------------------------------------------
// What html_url and avatar_url point at
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn html_url_and_avatar_url_answer() {
    let srv = TestServer::spawn_apps().await;
    let user = srv.get("/users/alice").go().await.expect_status(200);
    let html = srv
        .client
        .get(user["html_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(html.status(), 200);
    assert_eq!(html.headers()["content-type"], "text/html; charset=utf-8");
    let page = html.text().await.unwrap();
    assert!(page.contains("<h1>alice</h1>"), "{page}");
    assert!(
        page.contains(user["avatar_url"].as_str().unwrap()),
        "{page}"
    );

    let avatar_url = user["avatar_url"].as_str().unwrap();
    let first = srv.client.get(avatar_url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["content-type"], "image/svg+xml");
    let first = first.text().await.unwrap();
    assert!(first.starts_with("<svg ") && first.len() < 2048, "{first}");
    // The same image every time, with clients' query parameters; another user's differs.
    let again = srv
        .client
        .get(format!("{avatar_url}?s=40&v=4"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.text().await.unwrap(), first);
    let bob = srv.get("/users/bob").go().await.expect_status(200);
    let bobs = srv
        .client
        .get(bob["avatar_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_ne!(bobs.text().await.unwrap(), first);

    // An organization's page and avatar answer too (scoped tokens show organizations).
    let org_id = srv.account_id(crate::support::OCTO_ORG).await;
    let page = srv.get("/octo-org").go().await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Organization"));
    assert_eq!(
        srv.get(&format!("/avatars/u/{org_id}")).go().await.status,
        200
    );

    // Unknown accounts are GitHub's JSON 404, as any unknown path.
    for path in [
        "/nobody",
        "/avatars/u/999999",
        "/avatars/u/0",
        "/avatars/u/x",
        "/-bad-",
    ] {
        let reply = srv.get(path).go().await;
        assert_json(&reply.expect_status(404), &error_body(404, "Not Found"));
    }
    let reply = srv.post("/alice").go().await;
    assert_json(&reply.expect_status(404), &error_body(404, "Not Found"));
}

/// `grantd serve --ghes-version` and `GRANTD_GHES_VERSION` through the built binary; a version
/// that is not three numbers stops the start with a message naming the flag.
#[tokio::test]
async fn the_binary_takes_the_version_from_its_flag_or_environment() {
    use crate::conventions_binary::{seeded, serve, stop};
    let client = reqwest::Client::new();
    for (args, envs, version) in [
        (vec!["--ghes-version", "3.16.2"], vec![], "3.16.2"),
        (vec![], vec![("GRANTD_GHES_VERSION", "3.18.1")], "3.18.1"),
        (vec![], vec![], "3.19.0"),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let (db, seed) = seeded(dir.path());
        let mut all = vec!["--seed", seed.as_str()];
        all.extend(args);
        let server = serve(dir.path(), &db, &all, &envs);
        let reply = client.get(server.url("/api/v3/meta")).send().await.unwrap();
        assert_eq!(reply.headers()["x-github-enterprise-version"], version);
        let body: Value = reply.json().await.unwrap();
        assert_eq!(body["installed_version"], version);
        stop(server).await;
    }
    let out = crate::support::grantd(&["serve", "--ghes-version", "3.19"], None);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--ghes-version") && stderr.contains("three numbers"),
        "{stderr}"
    );
}
