//! The Authorizations API's retirement (docs/api.md, "HTTP conventions"): `--authorizations-api
//! enabled|deprecated|removed` acts on the ten Authorizations and Grants endpoints only.
//! `deprecated` answers them as usual plus `Deprecation: @1581638400`, `Sunset: Fri, 13 Nov 2020
//! 00:00:00 GMT` and a `Link rel="deprecation"` to GitHub's notice; `removed` answers them 410
//! Gone with GitHub's message, before any authentication. The app-side endpoints and `GET /user`
//! are not affected. The binary's flag and environment variable are in `conventions_binary`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::conventions::assert_request_id;
use crate::support::{
    ALICE, DEFAULT_FIXTURE, OAUTH_APP, Reply, RequestExt, ServerOptions, TestServer, User,
    assert_bad_credentials, assert_json, id_of, token_of, unissued_token,
};

pub const NOTICE: &str =
    "https://developer.github.com/changes/2020-02-14-deprecating-oauth-auth-endpoint/";
pub const REMOVED_MESSAGE: &str = "The OAuth Authorizations API has been removed. Use the web application flow to create \
     OAuth tokens, and the personal access tokens settings page to create personal access tokens.";

async fn spawn(status: grantd::http::ApiStatus) -> TestServer {
    let options = ServerOptions {
        authorizations_api: status,
        ..ServerOptions::default()
    };
    TestServer::spawn_with_options(DEFAULT_FIXTURE, None, options).await
}

/// The ten user-side endpoints, plus `POST` as the alias of `PATCH /authorizations/{id}`.
pub fn user_side_endpoints() -> Vec<(Method, String)> {
    let client = OAUTH_APP.client_id;
    vec![
        (Method::GET, "/authorizations".to_owned()),
        (Method::POST, "/authorizations".to_owned()),
        (Method::PUT, format!("/authorizations/clients/{client}")),
        (Method::PUT, format!("/authorizations/clients/{client}/fp1")),
        (Method::GET, "/authorizations/1".to_owned()),
        (Method::PATCH, "/authorizations/1".to_owned()),
        (Method::POST, "/authorizations/1".to_owned()),
        (Method::DELETE, "/authorizations/1".to_owned()),
        (Method::GET, "/applications/grants".to_owned()),
        (Method::GET, "/applications/grants/1".to_owned()),
        (Method::DELETE, "/applications/grants/1".to_owned()),
    ]
}

/// GitHub's 410 for the removed API, with the notice as `documentation_url`.
#[track_caller]
pub fn assert_gone(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 410, "{what}: {}", reply.body);
    assert_json(
        &reply.json(),
        &json!({ "message": REMOVED_MESSAGE, "documentation_url": NOTICE, "status": "410" }),
    );
}

/// The docs' deprecation headers.
#[track_caller]
pub fn assert_deprecated(reply: &Reply, what: &str) {
    assert_eq!(
        reply.header("Deprecation").as_deref(),
        Some("@1581638400"),
        "{what} (status {})",
        reply.status
    );
    assert_eq!(
        reply.header("Sunset").as_deref(),
        Some("Fri, 13 Nov 2020 00:00:00 GMT"),
        "{what}"
    );
    let links = links_of(reply);
    let expected = format!("<{NOTICE}>; rel=\"deprecation\"");
    assert!(
        links.contains(&expected),
        "{what}: no {expected} among the Link values {links:?}"
    );
}

#[track_caller]
fn assert_not_deprecated(reply: &Reply, what: &str) {
    assert_eq!(reply.header("Deprecation"), None, "{what}");
    assert_eq!(reply.header("Sunset"), None, "{what}");
    assert!(
        !links_of(reply).iter().any(|l| l.contains("deprecation")),
        "{what}: {:?}",
        links_of(reply)
    );
}

/// Every `<…>; rel="…"` of every `Link` header line.
fn links_of(reply: &Reply) -> Vec<String> {
    reply
        .headers
        .get_all("Link")
        .iter()
        .flat_map(|v| {
            v.to_str()
                .expect("ASCII Link")
                .split(", <")
                .map(|l| {
                    let l = l.trim();
                    if l.starts_with('<') {
                        l.to_owned()
                    } else {
                        format!("<{l}")
                    }
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn body_for(method: &Method) -> Option<Value> {
    (*method != Method::GET && *method != Method::DELETE)
        .then(|| json!({ "note": "x", "client_secret": OAUTH_APP.client_secret }))
}

async fn call(srv: &TestServer, method: &Method, path: &str, user: Option<&User>) -> Reply {
    let mut request = srv.request(method.clone(), path);
    if let Some(user) = user {
        request = request.login_as(user);
    }
    if let Some(body) = body_for(method) {
        request = request.json(&body);
    }
    request.go().await
}

// ---------------------------------------------------------------------------------------------
// removed
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn removed_answers_every_user_side_endpoint_410_before_authentication() {
    let srv = spawn(grantd::http::ApiStatus::Removed).await;
    let wrong = User {
        login: ALICE.login,
        password: "wrong",
    };
    for (method, path) in user_side_endpoints() {
        for prefix in ["", "/api/v3"] {
            let path = format!("{prefix}{path}");
            for (who, user) in [
                ("alice", Some(&ALICE)),
                ("nobody", None),
                ("wrong", Some(&wrong)),
            ] {
                let reply = call(&srv, &method, &path, user).await;
                let what = format!("{method} {path} as {who}");
                assert_gone(&reply, &what);
                assert_request_id(&reply);
                assert_eq!(reply.header("X-RateLimit-Limit"), None, "{what}");
            }
        }
    }
}

#[tokio::test]
async fn removed_leaves_the_app_side_and_get_user_alone() {
    let srv = spawn(grantd::http::ApiStatus::Removed).await;
    // No token can be made here (POST /authorizations is gone), so these are the answers for
    // unknown tokens: the endpoints' own, never 410. The whole round trip with a real token is
    // in `conventions_binary`, on a database filled by an enabled server.
    let unknown = unissued_token("gho_");
    for reply in [
        srv.check(&OAUTH_APP, &unknown).await,
        srv.reset(&OAUTH_APP, &unknown).await,
        srv.revoke(&OAUTH_APP, &unknown).await,
        srv.delete_app_grant(&OAUTH_APP, &unknown).await,
    ] {
        assert_eq!(reply.status, 404, "{}", reply.body);
        assert_not_deprecated(&reply, "app side");
    }
    // The legacy app paths are deprecated on their own account (see `legacy`), but not gone.
    let legacy = srv
        .as_app(
            Method::GET,
            &format!("/applications/{}/tokens/{unknown}", OAUTH_APP.client_id),
            &OAUTH_APP,
        )
        .go()
        .await;
    assert_eq!(legacy.status, 404, "{}", legacy.body);
    let me = srv.get_user(&unknown).await;
    assert_bad_credentials(&me);
    srv.get("/healthz").go().await.expect_status(200);
}

// ---------------------------------------------------------------------------------------------
// deprecated
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn deprecated_answers_every_user_side_endpoint_as_usual_with_the_headers() {
    let srv = spawn(grantd::http::ApiStatus::Deprecated).await;
    let mut seen = Vec::new();

    let created = srv
        .post("/authorizations")
        .login_as(&ALICE)
        .json(&json!({ "note": "deprecated but working" }))
        .go()
        .await;
    let pat = created.expect_status(201);
    let id = id_of(&pat);
    seen.push(("POST /authorizations", created));
    let for_app = srv
        .put(&format!("/authorizations/clients/{}", OAUTH_APP.client_id))
        .login_as(&ALICE)
        .json(&json!({ "client_secret": OAUTH_APP.client_secret }))
        .go()
        .await;
    let app_authz = for_app.expect_status(201);
    let token = token_of(&app_authz, "gho_");
    seen.push(("PUT /authorizations/clients/{client_id}", for_app));
    let fingerprinted = srv
        .put(&format!(
            "/authorizations/clients/{}/fp1",
            OAUTH_APP.client_id
        ))
        .login_as(&ALICE)
        .json(&json!({ "client_secret": OAUTH_APP.client_secret }))
        .go()
        .await;
    fingerprinted.expect_status(201);
    seen.push((
        "PUT /authorizations/clients/{client_id}/{fingerprint}",
        fingerprinted,
    ));
    let list = srv.get("/authorizations").login_as(&ALICE).go().await;
    assert_eq!(list.expect_status(200).as_array().map(Vec::len), Some(3));
    seen.push(("GET /authorizations", list));
    let one = srv
        .get(&format!("/authorizations/{id}"))
        .login_as(&ALICE)
        .go()
        .await;
    assert_eq!(one.expect_status(200)["note"], "deprecated but working");
    seen.push(("GET /authorizations/{id}", one));
    let patched = srv
        .patch(&format!("/authorizations/{id}"))
        .login_as(&ALICE)
        .json(&json!({ "note": "patched" }))
        .go()
        .await;
    assert_eq!(patched.expect_status(200)["note"], "patched");
    seen.push(("PATCH /authorizations/{id}", patched));
    let posted = srv
        .post(&format!("/authorizations/{id}"))
        .login_as(&ALICE)
        .json(&json!({ "note": "posted" }))
        .go()
        .await;
    assert_eq!(posted.expect_status(200)["note"], "posted");
    seen.push(("POST /authorizations/{id}", posted));
    let grants = srv.get("/applications/grants").login_as(&ALICE).go().await;
    let grant_id = grants
        .expect_status(200)
        .as_array()
        .and_then(|g| {
            g.iter()
                .find(|g| g["app"]["client_id"] == OAUTH_APP.client_id)
                .map(id_of)
        })
        .expect("the app's grant");
    seen.push(("GET /applications/grants", grants));
    let grant = srv
        .get(&format!("/applications/grants/{grant_id}"))
        .login_as(&ALICE)
        .go()
        .await;
    grant.expect_status(200);
    seen.push(("GET /applications/grants/{id}", grant));

    // The app side and GET /user are not deprecated.
    let checked = srv.check(&OAUTH_APP, &token).await;
    checked.expect_status(200);
    assert_not_deprecated(&checked, "check");
    let me = srv.get_user(&token).await;
    me.expect_status(200);
    assert_not_deprecated(&me, "GET /user");

    let deleted = srv
        .delete(&format!("/authorizations/{id}"))
        .login_as(&ALICE)
        .go()
        .await;
    deleted.expect_no_content();
    seen.push(("DELETE /authorizations/{id}", deleted));
    let revoked = srv
        .delete(&format!("/applications/grants/{grant_id}"))
        .login_as(&ALICE)
        .go()
        .await;
    revoked.expect_no_content();
    seen.push(("DELETE /applications/grants/{id}", revoked));

    assert_eq!(seen.len(), 11, "ten endpoints and the POST alias");
    for (what, reply) in &seen {
        assert_deprecated(reply, what);
    }
}

#[tokio::test]
async fn deprecated_marks_errors_and_keeps_pagination_links() {
    let srv = spawn(grantd::http::ApiStatus::Deprecated).await;
    for (method, path) in user_side_endpoints() {
        let reply = call(&srv, &method, &path, None).await;
        assert_eq!(reply.status, 401, "{method} {path}: {}", reply.body);
        assert_deprecated(&reply, &format!("{method} {path} without credentials"));
    }
    srv.create_pat(&ALICE, "one").await;
    srv.create_pat(&ALICE, "two").await;
    let page = srv
        .get("/authorizations?per_page=1")
        .login_as(&ALICE)
        .go()
        .await;
    page.expect_status(200);
    assert_deprecated(&page, "a paginated list");
    let links = links_of(&page);
    assert!(
        links.iter().any(|l| l.ends_with("rel=\"next\"")),
        "the pagination links are kept: {links:?}"
    );
}

#[tokio::test]
async fn enabled_is_the_default_and_adds_no_deprecation() {
    let srv = TestServer::spawn().await;
    let created = srv
        .post("/authorizations")
        .login_as(&ALICE)
        .json(&json!({ "note": "current" }))
        .go()
        .await;
    created.expect_status(201);
    assert_not_deprecated(&created, "POST /authorizations");
    let list = srv.get("/authorizations").login_as(&ALICE).go().await;
    list.expect_status(200);
    assert_not_deprecated(&list, "GET /authorizations");
}
