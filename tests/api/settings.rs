//! The account settings pages (`/settings/...`), driven as a browser would (cookie jar, no
//! redirect followed, forms posted urlencoded), checked against the API: what a page does
//! shows in the API at once, and the other way round.

use reqwest::Client;
use serde_json::{Value, json};

use crate::signin::{browser, location, sign_in, token_of};
use crate::support::{
    ALICE, ALICE2FA, BOB, GITHUB_APP, OAUTH_APP, OTHER_APP, RequestExt, TestServer, User,
};

/// A browser signed in as `user`.
async fn signed_in(srv: &TestServer, user: &User) -> Client {
    let client = browser();
    let response = sign_in(srv, &client, user).await;
    assert_eq!(response.status(), 303);
    client
}

pub(crate) async fn page(srv: &TestServer, client: &Client, path: &str) -> (u16, String) {
    let response = client.get(srv.url(path)).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Loads `page` for its form token, then posts `form` (with the token) to `action`.
pub(crate) async fn post(
    srv: &TestServer,
    client: &Client,
    page_path: &str,
    action: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let (status, html) = page(srv, client, page_path).await;
    assert_eq!(status, 200, "{page_path}: {html}");
    let token = token_of(&html);
    let mut fields = vec![("authenticity_token", token.as_str())];
    fields.extend_from_slice(form);
    client
        .post(srv.url(action))
        .form(&fields)
        .send()
        .await
        .unwrap()
}

/// The value of the readonly input `id` on a page (a token or a secret shown once).
fn shown_once(html: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\" class=\"secret\" value=\"");
    let at = html.find(&marker).expect("the secret's input") + marker.len();
    html[at..].split('"').next().unwrap().to_owned()
}

async fn user_with_token(srv: &TestServer, token: &str) -> u16 {
    srv.get("/user")
        .header("authorization", format!("token {token}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// `POST /applications/{client_id}/token`: the app-side check of a token.
async fn app_checks(srv: &TestServer, app: &crate::support::App, token: &str) -> u16 {
    srv.post(&format!("/applications/{}/token", app.client_id))
        .basic_auth(app.client_id, Some(app.client_secret))
        .json(&json!({ "access_token": token }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn every_page_sends_a_signed_out_browser_to_login_and_back() {
    let srv = TestServer::spawn().await;
    let client = browser();
    for path in [
        "/settings/applications",
        "/settings/tokens",
        "/settings/tokens/new",
        "/settings/security",
        "/settings/developers",
        "/settings/developers/new",
    ] {
        let response = client.get(srv.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 303, "{path}");
        let query = serde_urlencoded::to_string([("return_to", path)]).unwrap();
        assert_eq!(location(&response), format!("/login?{query}"), "{path}");
    }
    // A form posted without a session does nothing and goes to sign in too.
    let pat = srv.create_pat(&ALICE, "kept").await;
    let response = client
        .post(srv.url(&format!("/settings/tokens/{}/delete", pat["id"])))
        .form(&[("authenticity_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(srv.authorizations(&ALICE).await.len(), 1);
    // Once signed in, `return_to` brings the browser back.
    let response = crate::signin::sign_in_with(
        &srv,
        &client,
        ALICE.login,
        ALICE.password,
        "/settings/tokens",
    )
    .await;
    assert_eq!(location(&response), "/settings/tokens");
}

#[tokio::test]
async fn every_form_refuses_a_missing_or_foreign_authenticity_token() {
    let srv = TestServer::spawn().await;
    let alice = signed_in(&srv, &ALICE).await;
    let bob = signed_in(&srv, &BOB).await;
    let pat = srv.create_pat(&ALICE, "target").await;
    let (_, bob_page) = page(&srv, &bob, "/settings/tokens").await;
    let bobs_token = token_of(&bob_page);
    let id = pat["id"].to_string();
    let actions = [
        "/settings/applications/revoke".to_owned(),
        "/settings/applications/revoke-all".to_owned(),
        "/settings/tokens".to_owned(),
        format!("/settings/tokens/{id}/regenerate"),
        format!("/settings/tokens/{id}/delete"),
        "/settings/security/password".to_owned(),
        "/settings/developers".to_owned(),
        format!("/settings/developers/{}/secret", OAUTH_APP.client_id),
        format!("/settings/developers/{}/delete", OAUTH_APP.client_id),
        format!(
            "/settings/developers/{}/secrets/1/delete",
            OAUTH_APP.client_id
        ),
    ];
    for action in &actions {
        for form in [
            vec![("note", "x")],
            vec![("authenticity_token", bobs_token.as_str())],
        ] {
            let response = alice
                .post(srv.url(action))
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 422, "{action} {form:?}");
            let html = response.text().await.unwrap();
            assert!(html.contains("Invalid authenticity token"), "{action}");
        }
    }
    // Nothing happened.
    assert_eq!(
        srv.authorizations(&ALICE).await,
        vec![pat_without_token(pat)]
    );
}

fn pat_without_token(mut pat: Value) -> Value {
    pat["token"] = json!("");
    pat
}

#[tokio::test]
async fn a_token_made_on_the_page_works_on_the_api_and_is_listed_there() {
    let srv = TestServer::spawn().await;
    let alice = signed_in(&srv, &ALICE).await;
    let (status, html) = page(&srv, &alice, "/settings/tokens/new").await;
    assert_eq!(status, 200);
    // GitHub's groups: a scope with the ones it implies beneath it.
    assert!(html.contains("value=\"admin:org\""));
    assert!(html.contains("<legend>Select scopes</legend>"));
    let response = post(
        &srv,
        &alice,
        "/settings/tokens/new",
        "/settings/tokens",
        &[
            ("note", "laptop"),
            ("expiration", "30"),
            ("scopes", "repo"),
            ("scopes", "read:org"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    let token = shown_once(&html, "new-token");
    assert!(token.starts_with("ghp_"), "{token}");
    assert_eq!(user_with_token(&srv, &token).await, 200);
    let listed = srv.authorizations(&ALICE).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["note"], "laptop");
    assert_eq!(listed[0]["scopes"], json!(["repo", "read:org"]));
    assert_eq!(listed[0]["token_last_eight"], &token[token.len() - 8..]);
    assert!(listed[0]["expires_at"].is_string(), "{}", listed[0]);
    // The list shows it, never the token itself again.
    let (_, list) = page(&srv, &alice, "/settings/tokens").await;
    assert!(list.contains("laptop"));
    assert!(list.contains("Expires on"));
    assert!(!list.contains(&token));
    // A token made through the API is on the page at once.
    srv.create_pat(&ALICE, "from the api").await;
    let (_, list) = page(&srv, &alice, "/settings/tokens").await;
    assert!(list.contains("from the api"));
    assert!(list.contains("No expiration date"));
}

#[tokio::test]
async fn a_refused_token_form_comes_back_with_what_was_wrong() {
    let srv = TestServer::spawn().await;
    let alice = signed_in(&srv, &ALICE).await;
    srv.create_pat(&ALICE, "taken").await;
    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[("note", ""), ("expiration", "30")],
            "Note can&#39;t be blank.",
        ),
        (
            &[("note", "taken"), ("expiration", "30")],
            "Note has already been taken",
        ),
        (
            &[("note", "n"), ("expiration", "30"), ("scopes", "nope")],
            "not a scope GitHub knows",
        ),
        (
            &[("note", "n"), ("expiration", "8")],
            "Choose one of the expiration options.",
        ),
        (
            &[
                ("note", "n"),
                ("expiration", "custom"),
                ("custom_date", "2001-01-01"),
            ],
            "after today",
        ),
    ];
    for (form, message) in cases {
        let response = post(
            &srv,
            &alice,
            "/settings/tokens/new",
            "/settings/tokens",
            form,
        )
        .await;
        assert_eq!(response.status(), 422, "{form:?}");
        let html = response.text().await.unwrap();
        assert!(html.contains(message), "{form:?}: {html}");
    }
    assert_eq!(srv.authorizations(&ALICE).await.len(), 1);
}

#[tokio::test]
async fn regenerate_gives_a_new_value_and_the_old_one_stops() {
    let srv = TestServer::spawn().await;
    let alice = signed_in(&srv, &ALICE).await;
    let pat = srv
        .create_pat_with(&ALICE, json!({ "note": "ci", "scopes": ["gist"] }))
        .await;
    let old = pat["token"].as_str().unwrap().to_owned();
    let id = pat["id"].as_i64().unwrap();
    let regenerate = |expiration: &'static str| {
        let alice = alice.clone();
        let srv = &srv;
        async move {
            post(
                srv,
                &alice,
                "/settings/tokens",
                &format!("/settings/tokens/{id}/regenerate"),
                &[("expiration", expiration)],
            )
            .await
        }
    };
    let refused = regenerate("8").await;
    assert_eq!(refused.status(), 422);
    assert_eq!(user_with_token(&srv, &old).await, 200);
    let response = regenerate("7").await;
    assert_eq!(response.status(), 200);
    let new = shown_once(&response.text().await.unwrap(), "new-token");
    assert_ne!(new, old);
    assert_eq!(user_with_token(&srv, &old).await, 401);
    assert_eq!(user_with_token(&srv, &new).await, 200);
    let listed = srv.authorizations(&ALICE).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id);
    assert_eq!(listed[0]["note"], "ci");
    assert_eq!(listed[0]["scopes"], json!(["gist"]));
    // Seven days from the regeneration, whatever the token had before (none here).
    let expires = time::OffsetDateTime::parse(
        listed[0]["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let days = (expires - time::OffsetDateTime::now_utc()).whole_hours();
    assert!((167..=168).contains(&days), "{days} hours");
}

#[tokio::test]
async fn delete_stops_the_token_and_the_api_sees_it_gone() {
    let srv = TestServer::spawn().await;
    let alice = signed_in(&srv, &ALICE).await;
    let pat = srv.create_pat(&ALICE, "old").await;
    let id = pat["id"].as_i64().unwrap();
    let response = post(
        &srv,
        &alice,
        "/settings/tokens",
        &format!("/settings/tokens/{id}/delete"),
        &[],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/settings/tokens?notice=token-deleted");
    assert_eq!(
        user_with_token(&srv, pat["token"].as_str().unwrap()).await,
        401
    );
    assert!(srv.authorizations(&ALICE).await.is_empty());
    let (_, html) = page(&srv, &alice, "/settings/tokens?notice=token-deleted").await;
    assert!(html.contains("The token was deleted"));
    // Deleting it again, or an id that never was: 404.
    for id in [id.to_string(), "999999".to_owned(), "abc".to_owned()] {
        let response = post(
            &srv,
            &alice,
            "/settings/tokens",
            &format!("/settings/tokens/{id}/delete"),
            &[],
        )
        .await;
        assert_eq!(response.status(), 404, "{id}");
    }
}

#[tokio::test]
async fn another_users_ids_are_not_found_and_left_alone() {
    let srv = TestServer::spawn().await;
    let bob = signed_in(&srv, &BOB).await;
    let pat = srv.create_pat(&ALICE, "alice's").await;
    let app_token = srv
        .create_app_authorization(&ALICE, &OAUTH_APP, json!({}))
        .await;
    let grant_id = srv.grants(&ALICE).await[0]["id"].to_string();
    let pat_id = pat["id"].to_string();
    let app_token_id = app_token["id"].to_string();
    let attempts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (format!("/settings/tokens/{pat_id}/regenerate"), vec![]),
        (format!("/settings/tokens/{pat_id}/delete"), vec![]),
        (
            "/settings/applications/revoke".to_owned(),
            vec![("grant_id", grant_id.as_str())],
        ),
        // Alice's OAuth app (owned by alice in the fixture) is not Bob's to change.
        (
            format!("/settings/developers/{}/secret", OAUTH_APP.client_id),
            vec![],
        ),
        (
            format!("/settings/developers/{}/delete", OAUTH_APP.client_id),
            vec![],
        ),
        // Alice's app's secret, named under her app or under Bob's own app.
        (
            format!(
                "/settings/developers/{}/secrets/1/delete",
                OAUTH_APP.client_id
            ),
            vec![],
        ),
        (
            format!(
                "/settings/developers/{}/secrets/1/delete",
                OTHER_APP.client_id
            ),
            vec![],
        ),
    ];
    for (action, form) in &attempts {
        let response = post(&srv, &bob, "/settings/tokens", action, form).await;
        assert_eq!(response.status(), 404, "{action}");
    }
    // Alice's own app token is no personal token: not regenerated through the token page.
    let alice = signed_in(&srv, &ALICE).await;
    let response = post(
        &srv,
        &alice,
        "/settings/tokens",
        &format!("/settings/tokens/{app_token_id}/delete"),
        &[],
    )
    .await;
    assert_eq!(response.status(), 404);
    assert_eq!(srv.authorizations(&ALICE).await.len(), 2);
    assert_eq!(
        user_with_token(&srv, pat["token"].as_str().unwrap()).await,
        200
    );
    assert_eq!(
        app_checks(&srv, &OAUTH_APP, app_token["token"].as_str().unwrap()).await,
        200
    );
    // Bob's pages show none of Alice's.
    for path in ["/settings/tokens", "/settings/applications"] {
        let (_, html) = page(&srv, &bob, path).await;
        assert!(
            !html.contains("alice&#39;s") && !html.contains(OAUTH_APP.name),
            "{path}"
        );
    }
}

#[tokio::test]
async fn revoke_deletes_the_grant_and_its_tokens_fail_at_once() {
    let srv = TestServer::spawn().await;
    let alice = signed_in(&srv, &ALICE).await;
    let oauth = srv
        .create_app_authorization(&ALICE, &OAUTH_APP, json!({ "scopes": ["repo"] }))
        .await;
    let github = srv
        .create_app_authorization(&ALICE, &GITHUB_APP, json!({}))
        .await;
    let (status, html) = page(&srv, &alice, "/settings/applications").await;
    assert_eq!(status, 200);
    assert!(html.contains(OAUTH_APP.name) && html.contains(GITHUB_APP.name));
    assert!(html.contains("Full control of private repositories"));
    assert_eq!(html.matches("Never used").count(), 2, "{html}");
    let grant = srv
        .grants(&ALICE)
        .await
        .into_iter()
        .find(|g| g["app"]["client_id"] == OAUTH_APP.client_id)
        .unwrap();
    let response = post(
        &srv,
        &alice,
        "/settings/applications",
        "/settings/applications/revoke",
        &[("grant_id", &grant["id"].to_string())],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/settings/applications?notice=revoked");
    assert_eq!(
        app_checks(&srv, &OAUTH_APP, oauth["token"].as_str().unwrap()).await,
        404
    );
    assert_eq!(
        user_with_token(&srv, oauth["token"].as_str().unwrap()).await,
        401
    );
    // The other app is untouched; the API lists one grant.
    assert_eq!(
        app_checks(&srv, &GITHUB_APP, github["token"].as_str().unwrap()).await,
        200
    );
    assert_eq!(srv.grants(&ALICE).await.len(), 1);
    // Revoke all takes the rest; personal tokens stay.
    let pat = srv.create_pat(&ALICE, "stays").await;
    let response = post(
        &srv,
        &alice,
        "/settings/applications",
        "/settings/applications/revoke-all",
        &[],
    )
    .await;
    assert_eq!(
        location(&response),
        "/settings/applications?notice=revoked-all"
    );
    assert_eq!(
        app_checks(&srv, &GITHUB_APP, github["token"].as_str().unwrap()).await,
        404
    );
    assert!(srv.grants(&ALICE).await.is_empty());
    assert_eq!(
        user_with_token(&srv, pat["token"].as_str().unwrap()).await,
        200
    );
    let (_, html) = page(&srv, &alice, "/settings/applications?notice=revoked-all").await;
    assert!(html.contains("Every application was revoked"));
    assert!(!html.contains("Revoke all"));
}

#[tokio::test]
async fn a_grant_deleted_through_the_api_leaves_the_page() {
    let srv = TestServer::spawn().await;
    let alice = signed_in(&srv, &ALICE).await;
    srv.create_app_authorization(&ALICE, &OAUTH_APP, json!({}))
        .await;
    let (_, html) = page(&srv, &alice, "/settings/applications").await;
    assert!(html.contains(OAUTH_APP.name));
    let grant_id = srv.grants(&ALICE).await[0]["id"].as_i64().unwrap();
    srv.delete(&format!("/applications/grants/{grant_id}"))
        .login_as(&ALICE)
        .go()
        .await
        .expect_no_content();
    let (_, html) = page(&srv, &alice, "/settings/applications").await;
    assert!(!html.contains(OAUTH_APP.name));
}

#[tokio::test]
async fn a_password_change_needs_the_current_one_and_ends_other_sessions() {
    let srv = TestServer::spawn().await;
    let here = signed_in(&srv, &ALICE).await;
    let elsewhere = signed_in(&srv, &ALICE).await;
    let pat = srv.create_pat(&ALICE, "survives").await;
    let change = |current: &'static str, new: &'static str, confirm: &'static str| {
        let here = here.clone();
        let srv = &srv;
        async move {
            post(
                srv,
                &here,
                "/settings/security",
                "/settings/security/password",
                &[
                    ("old_password", current),
                    ("new_password", new),
                    ("confirm_new_password", confirm),
                ],
            )
            .await
        }
    };
    let refused = [
        (
            change("wrong", "new password 1", "new password 1").await,
            401,
            "incorrect",
        ),
        (
            change(ALICE.password, "short", "short").await,
            422,
            "8 to 1024",
        ),
        (
            change(ALICE.password, "new password 1", "new password 2").await,
            422,
            "do not match",
        ),
    ];
    for (response, status, words) in refused {
        assert_eq!(response.status(), status);
        assert!(response.text().await.unwrap().contains(words), "{words}");
    }
    let response = change(ALICE.password, "new password 1", "new password 1").await;
    assert_eq!(response.status(), 200);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Your password was changed")
    );
    // This session stays; the other one is signed out.
    assert_eq!(page(&srv, &here, "/settings/security").await.0, 200);
    let other = elsewhere
        .get(srv.url("/settings/security"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 303);
    // The API takes the new password, not the old; tokens keep working.
    let basic = |password: &'static str| {
        srv.get("/authorizations")
            .basic_auth(ALICE.login, Some(password))
            .send()
    };
    assert_eq!(basic(ALICE.password).await.unwrap().status(), 401);
    assert_eq!(basic("new password 1").await.unwrap().status(), 200);
    assert_eq!(
        user_with_token(&srv, pat["token"].as_str().unwrap()).await,
        200
    );
}

#[tokio::test]
async fn an_app_registered_on_the_page_works_with_its_secret_until_rotated_and_goes_when_deleted() {
    let srv = TestServer::spawn().await;
    let bob = signed_in(&srv, &BOB).await;
    let (status, html) = page(&srv, &bob, "/settings/developers").await;
    assert_eq!(status, 200);
    // Bob owns the fixture's other app.
    assert!(html.contains(OTHER_APP.name));
    // A refused registration comes back with the reason and what was typed.
    let response = post(
        &srv,
        &bob,
        "/settings/developers/new?kind=github",
        "/settings/developers",
        &[
            ("kind", "github"),
            ("name", "Bob's tool"),
            ("url", "ftp://x"),
        ],
    )
    .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("must be an absolute http"), "{html}");
    assert!(html.contains("value=\"Bob&#39;s tool\""));
    let response = post(
        &srv,
        &bob,
        "/settings/developers/new?kind=github",
        "/settings/developers",
        &[
            ("kind", "github"),
            ("name", "Bob's tool"),
            ("url", "https://bob.example"),
            ("callback_url", "https://bob.example/callback"),
            ("device_flow", "1"),
            ("expire_user_tokens", "1"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    let secret = shown_once(&html, "client-secret");
    let at = html.find("id=\"client-id\">").unwrap() + "id=\"client-id\">".len();
    let client_id = html[at..].split('<').next().unwrap().to_owned();
    assert!(client_id.starts_with("Iv1."), "{client_id}");
    // The secret works on the app API (a check of an unknown token: 404, not 401).
    let check = |secret: String| {
        srv.post(&format!("/applications/{client_id}/token"))
            .basic_auth(&client_id, Some(secret))
            .json(&json!({ "access_token": "ghu_unknown" }))
            .send()
    };
    assert_eq!(check(secret.clone()).await.unwrap().status(), 404);
    let (_, list) = page(&srv, &bob, "/settings/developers").await;
    assert!(list.contains(&client_id) && list.contains("Bob&#39;s tool"));
    assert!(list.contains("yes (8 hours"));
    assert!(list.contains(&format!("*****{}", &secret[32..])), "{list}");
    // Rotation without downtime: a second secret, and both work until the old one is deleted.
    let new_secret = format!("/settings/developers/{client_id}/secret");
    let response = post(&srv, &bob, "/settings/developers", &new_secret, &[]).await;
    assert_eq!(response.status(), 200);
    let rotated = shown_once(&response.text().await.unwrap(), "client-secret");
    assert_ne!(rotated, secret);
    assert_eq!(check(secret.clone()).await.unwrap().status(), 404);
    assert_eq!(check(rotated.clone()).await.unwrap().status(), 404);
    // A third is refused, with the reason, and changes nothing.
    let response = post(&srv, &bob, "/settings/developers", &new_secret, &[]).await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("at most two client secrets"), "{html}");
    assert!(!html.contains("id=\"client-secret\""));
    // The page lists both, oldest first, each with its hint, and a delete button.
    let (_, list) = page(&srv, &bob, "/settings/developers").await;
    let old_at = list
        .find(&format!("*****{}", &secret[32..]))
        .expect("the old hint");
    let new_at = list
        .find(&format!("*****{}", &rotated[32..]))
        .expect("the new hint");
    assert!(old_at < new_at);
    // Both of the new app's secrets signed a check in; the other app's has not been used.
    assert_eq!(list.matches("Never used").count(), 1, "{list}");
    assert_eq!(
        list.matches("Last used within the last week").count(),
        2,
        "{list}"
    );
    let marker = format!("/settings/developers/{client_id}/secrets/");
    let delete_old = list[list.find(&marker).expect("a delete form")..]
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let response = post(&srv, &bob, "/settings/developers", &delete_old, &[]).await;
    assert_eq!(
        location(&response),
        "/settings/developers?notice=secret-deleted"
    );
    // The old one is refused at once; the new one goes on working.
    assert_eq!(check(secret).await.unwrap().status(), 401);
    assert_eq!(check(rotated.clone()).await.unwrap().status(), 404);
    // Deleting it again: not found.
    let response = post(&srv, &bob, "/settings/developers", &delete_old, &[]).await;
    assert_eq!(response.status(), 404);
    // Deleted: gone from the page and from the API.
    let response = post(
        &srv,
        &bob,
        "/settings/developers",
        &format!("/settings/developers/{client_id}/delete"),
        &[],
    )
    .await;
    assert_eq!(
        location(&response),
        "/settings/developers?notice=app-deleted"
    );
    assert_eq!(check(rotated).await.unwrap().status(), 401);
    let (_, list) = page(&srv, &bob, "/settings/developers").await;
    assert!(!list.contains(&client_id));
}

#[tokio::test]
async fn pages_send_the_security_headers_and_name_the_current_page() {
    let srv = TestServer::spawn().await;
    let alice = signed_in(&srv, &ALICE).await;
    let response = alice.get(srv.url("/settings/tokens")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert_eq!(response.headers()["x-frame-options"], "deny");
    let html = response.text().await.unwrap();
    assert!(html.contains("<nav class=\"settings-nav\" aria-label=\"Settings\">"));
    assert!(html.contains("href=\"/settings/tokens\" aria-current=\"page\""));
    let response = alice.get(srv.url("/settings")).send().await.unwrap();
    assert_eq!(location(&response), "/settings/applications");
}

#[tokio::test]
async fn wrong_current_passwords_count_toward_the_lockout_and_a_2fa_account_needs_no_code() {
    let mut options = crate::support::ServerOptions::default();
    options.limits.login = grantd::domain::limits::LoginThrottle {
        attempts: 2,
        window: time::Duration::hours(1),
    };
    let srv = TestServer::spawn_with_options(crate::support::DEFAULT_FIXTURE, None, options).await;
    // A two-factor account, signed in with its code: the password alone changes it.
    let client = browser();
    assert_eq!(sign_in(&srv, &client, &ALICE2FA).await.status(), 303);
    let (_, html) = page(&srv, &client, "/sessions/two-factor").await;
    let code = client
        .post(srv.url("/sessions/two-factor"))
        .form(&[
            ("app_otp", crate::support::current_otp().as_str()),
            ("authenticity_token", token_of(&html).as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(code.status(), 303);
    let (status, html) = page(&srv, &client, "/settings/security").await;
    assert_eq!(status, 200);
    assert!(html.contains("Enabled: sign-in asks for a code"));
    let change = |current: &'static str| {
        let client = client.clone();
        let srv = &srv;
        async move {
            post(
                srv,
                &client,
                "/settings/security",
                "/settings/security/password",
                &[
                    ("old_password", current),
                    ("new_password", "another password"),
                    ("confirm_new_password", "another password"),
                ],
            )
            .await
        }
    };
    assert_eq!(change(ALICE2FA.password).await.status(), 200);
    // Two wrong guesses use up the window; then even the right password is refused, on the
    // page and over Basic auth alike.
    assert_eq!(change("guess 1").await.status(), 401);
    assert_eq!(change("guess 2").await.status(), 401);
    let locked = change("another password").await;
    assert_eq!(locked.status(), 403);
    assert!(
        locked
            .text()
            .await
            .unwrap()
            .contains("Maximum number of login attempts")
    );
    let basic = srv
        .get("/authorizations")
        .basic_auth(ALICE2FA.login, Some("another password"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 403);
}

/// The stored `last_used_at` (Unix seconds) of authorization `id`, from a dump.
async fn stored_last_use(srv: &TestServer, id: &Value) -> Value {
    let dump = srv.export().await;
    dump["tables"]["authorizations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == *id)
        .expect("the authorization")["last_used_at"]
        .clone()
}

/// "Last used" on the token and applications pages: a use is noted in memory, written when a
/// page that shows it is read, marked again only once the stored date is an hour old, and
/// shown in GitHub's approximate words as the clock moves on.
#[tokio::test]
async fn last_used_dates_follow_uses_to_the_hour() {
    let srv = TestServer::spawn().await;
    let t0 =
        time::OffsetDateTime::from_unix_timestamp(time::OffsetDateTime::now_utc().unix_timestamp())
            .unwrap();
    srv.clock.pin(t0);
    let alice = signed_in(&srv, &ALICE).await;
    let pat = srv.create_pat(&ALICE, "used token").await;
    let token = pat["token"].as_str().unwrap().to_owned();
    let app_token = srv
        .create_app_authorization(&ALICE, &OAUTH_APP, json!({}))
        .await;
    let (_, html) = page(&srv, &alice, "/settings/tokens").await;
    assert!(html.contains("Never used"), "{html}");
    let (_, html) = page(&srv, &alice, "/settings/applications").await;
    assert!(html.contains("Never used"), "{html}");

    // Used: on the page at once (the read writes the noted uses).
    assert_eq!(user_with_token(&srv, &token).await, 200);
    assert_eq!(
        app_checks(&srv, &OAUTH_APP, app_token["token"].as_str().unwrap()).await,
        200
    );
    let (_, html) = page(&srv, &alice, "/settings/tokens").await;
    assert!(html.contains("Last used within the last week"), "{html}");
    assert!(!html.contains("Never used"), "{html}");
    let (_, html) = page(&srv, &alice, "/settings/applications").await;
    assert!(html.contains("Last used within the last week"), "{html}");
    assert_eq!(
        stored_last_use(&srv, &pat["id"]).await,
        json!(t0.unix_timestamp())
    );
    // A use is no change: the API's updated_at stays.
    let listed = srv.authorizations(&ALICE).await;
    let shown = listed.iter().find(|a| a["id"] == pat["id"]).unwrap();
    assert_eq!(shown["updated_at"], pat["updated_at"]);

    // Within the hour: not marked again. Past it: marked with the new time.
    srv.clock.pin(t0 + time::Duration::minutes(30));
    assert_eq!(user_with_token(&srv, &token).await, 200);
    page(&srv, &alice, "/settings/tokens").await;
    assert_eq!(
        stored_last_use(&srv, &pat["id"]).await,
        json!(t0.unix_timestamp())
    );
    let later = t0 + time::Duration::minutes(90);
    srv.clock.pin(later);
    assert_eq!(user_with_token(&srv, &token).await, 200);
    page(&srv, &alice, "/settings/tokens").await;
    assert_eq!(
        stored_last_use(&srv, &pat["id"]).await,
        json!(later.unix_timestamp())
    );

    // Ten days on, unused since: GitHub's coarser words.
    srv.clock.pin(later + time::Duration::days(10));
    let (_, html) = page(&srv, &alice, "/settings/tokens").await;
    assert!(html.contains("Last used within the last 2 weeks"), "{html}");
}

/// A client secret's "last used" on the developer page: the one the app signs in with.
#[tokio::test]
async fn a_client_secrets_last_use_shows_on_the_developer_page() {
    let srv = TestServer::spawn().await;
    let bob = signed_in(&srv, &BOB).await;
    let (_, html) = page(&srv, &bob, "/settings/developers").await;
    assert!(html.contains("Never used"), "{html}");
    assert_eq!(app_checks(&srv, &OTHER_APP, "ghp_unknown").await, 404);
    let (_, html) = page(&srv, &bob, "/settings/developers").await;
    assert!(html.contains("Last used within the last week"), "{html}");
    assert!(html.contains(&format!("*****{}", &OTHER_APP.client_secret[32..])));
}

/// Secrets added and deleted at once leave the app signing in with exactly the secrets its page
/// lists, whichever change commits first: the copies of the live secrets that an app's row
/// keeps for the token check (migration 0014) follow every change. (On PostgreSQL the two
/// changes run in parallel transactions; both lock the app's row first, so neither waits on
/// the other in a cycle.)
#[tokio::test]
async fn secrets_added_and_deleted_at_once_sign_in_as_the_page_lists() {
    let srv = TestServer::spawn().await;
    let bob = signed_in(&srv, &BOB).await;
    let client_id = OTHER_APP.client_id;
    let add = format!("/settings/developers/{client_id}/secret");
    let mut known = vec![OTHER_APP.client_secret.to_owned()];
    let signs_in = |secret: String| {
        let request = srv
            .post(&format!("/applications/{client_id}/token"))
            .basic_auth(client_id, Some(secret))
            .json(&json!({ "access_token": "gho_unknown" }))
            .send();
        async move {
            let response = request.await.unwrap();
            match response.status().as_u16() {
                404 => true,
                401 => false,
                other => panic!(
                    "a check answered {other}: {}",
                    response.text().await.unwrap()
                ),
            }
        }
    };
    let mut refused = std::collections::HashSet::new();
    for _ in 0..8 {
        let (_, list) = page(&srv, &bob, "/settings/developers").await;
        let marker = format!("/settings/developers/{client_id}/secrets/");
        if list.matches(&marker).count() < 2 {
            let response = post(&srv, &bob, "/settings/developers", &add, &[]).await;
            assert_eq!(response.status(), 200);
            known.push(shown_once(&response.text().await.unwrap(), "client-secret"));
        }
        let (_, list) = page(&srv, &bob, "/settings/developers").await;
        let delete_oldest = list[list.find(&marker).expect("a delete form")..]
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        // Two live: the add is refused if it commits first, and succeeds after the delete.
        let (deleted, added) = tokio::join!(
            post(&srv, &bob, "/settings/developers", &delete_oldest, &[]),
            post(&srv, &bob, "/settings/developers", &add, &[]),
        );
        assert_eq!(
            location(&deleted),
            "/settings/developers?notice=secret-deleted"
        );
        match added.status().as_u16() {
            200 => known.push(shown_once(&added.text().await.unwrap(), "client-secret")),
            422 => {}
            other => panic!("adding a secret answered {other}"),
        }
        let (_, list) = page(&srv, &bob, "/settings/developers").await;
        let listed: Vec<&String> = known
            .iter()
            .filter(|secret| list.contains(&format!("*****{}", &secret[32..])))
            .collect();
        assert!((1..=2).contains(&listed.len()), "{listed:?}");
        // Each deleted secret is tried once only: wrong secrets count as failed sign-ins.
        for secret in &known {
            let live = listed.contains(&secret);
            if live || !refused.contains(secret) {
                assert_eq!(
                    signs_in(secret.clone()).await,
                    live,
                    "{secret} live: {live}"
                );
            }
            if !live {
                refused.insert(secret.clone());
            }
        }
    }
}
