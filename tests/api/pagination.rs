//! Lists and pagination: `per_page` (default 30, capped at 100, bad values -> 30), `page` (bad
//! values -> 1, past the end -> `[]`), the `client_id` filter, and GitHub's `Link` header built on
//! the public URL with the request's other query parameters kept.

use serde_json::{Value, json};

use crate::support::{
    ALICE, GITHUB_APP, OAUTH_APP, OTHER_APP, Reply, RequestExt, TestServer, User, assert_json,
    id_of,
};

/// Creates `n` personal access tokens for `user`, a few requests at a time, and returns their ids
/// sorted.
async fn create_pats(srv: &TestServer, user: &'static User, n: usize) -> Vec<i64> {
    let mut ids = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(4) {
        let mut calls = tokio::task::JoinSet::new();
        for i in chunk {
            let req = srv
                .post("/authorizations")
                .login_as(user)
                .json(&json!({ "note": format!("pat {i}") }));
            calls.spawn(req.go());
        }
        for reply in calls.join_all().await {
            ids.push(id_of(&reply.expect_status(201)));
        }
    }
    ids.sort_unstable();
    ids
}

fn ids(body: &Value) -> Vec<i64> {
    body.as_array()
        .expect("a JSON array")
        .iter()
        .map(id_of)
        .collect()
}

/// The `Link` header as (rel, URL) pairs, in the order written.
fn links(reply: &Reply) -> Vec<(String, String)> {
    let header = reply
        .header("Link")
        .unwrap_or_else(|| panic!("no Link header; headers: {:?}", reply.headers));
    header
        .split(',')
        .map(|part| {
            let part = part.trim();
            let (url, rel) = part
                .split_once(';')
                .unwrap_or_else(|| panic!("bad Link part {part:?} in {header:?}"));
            let url = url
                .trim()
                .strip_prefix('<')
                .and_then(|u| u.strip_suffix('>'));
            let url = url.unwrap_or_else(|| panic!("Link URL not in <> in {header:?}"));
            let rel = rel
                .trim()
                .strip_prefix("rel=\"")
                .and_then(|r| r.strip_suffix('"'));
            let rel = rel.unwrap_or_else(|| panic!("bad rel in {header:?}"));
            (rel.to_owned(), url.to_owned())
        })
        .collect()
}

/// Splits a URL into what precedes `?` and its sorted query parameters, so that two URLs that
/// differ only in the order of their parameters compare equal.
fn canonical(url: &str) -> (String, Vec<String>) {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    params.sort();
    (base.to_owned(), params)
}

/// Asserts the `Link` header is exactly `expected` (rel, URL), in GitHub's order: prev, next,
/// last, first.
#[track_caller]
fn assert_links(reply: &Reply, expected: &[(&str, String)]) {
    let actual = links(reply);
    let got: Vec<(String, (String, Vec<String>))> = actual
        .iter()
        .map(|(r, u)| (r.clone(), canonical(u)))
        .collect();
    let want: Vec<(String, (String, Vec<String>))> = expected
        .iter()
        .map(|(r, u)| ((*r).to_owned(), canonical(u)))
        .collect();
    assert_eq!(got, want, "Link: {:?}", reply.header("Link"));
}

#[tokio::test]
async fn per_page_defaults_to_30_and_is_capped_at_100() {
    let srv = TestServer::spawn().await;
    let all = create_pats(&srv, &ALICE, 101).await;

    let reply = srv.get("/authorizations").login_as(&ALICE).go().await;
    let page1 = reply.expect_status(200);
    assert_eq!(ids(&page1), all[..30].to_vec());
    assert_links(
        &reply,
        &[
            ("next", srv.public("/authorizations?page=2")),
            ("last", srv.public("/authorizations?page=4")),
        ],
    );

    let reply = srv
        .get("/authorizations?page=4")
        .login_as(&ALICE)
        .go()
        .await;
    assert_eq!(ids(&reply.expect_status(200)), all[90..].to_vec());
    assert_links(
        &reply,
        &[
            ("prev", srv.public("/authorizations?page=3")),
            ("first", srv.public("/authorizations?page=1")),
        ],
    );

    let capped = srv
        .get("/authorizations?per_page=1000")
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    assert_eq!(ids(&capped), all[..100].to_vec());
    let rest = srv
        .get("/authorizations?per_page=100&page=2")
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    assert_eq!(ids(&rest), all[100..].to_vec());

    for query in [
        "per_page=0",
        "per_page=-5",
        "per_page=abc",
        "per_page=",
        "page=0",
        "page=-1",
        "page=abc",
    ] {
        let body = srv
            .get(&format!("/authorizations?{query}"))
            .login_as(&ALICE)
            .go()
            .await
            .expect_status(200);
        assert_eq!(ids(&body), all[..30].to_vec(), "?{query}");
    }

    let past = srv
        .get("/authorizations?page=5")
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    assert_json(&past, &json!([]));
}

#[tokio::test]
async fn link_headers_are_built_on_the_public_url() {
    let srv = TestServer::spawn_with_public_url("https://grantd.example.com:8443").await;
    let all = create_pats(&srv, &ALICE, 5).await;
    let at = |q: &str| format!("https://grantd.example.com:8443/authorizations?{q}");

    let reply = srv
        .get("/authorizations?per_page=2")
        .login_as(&ALICE)
        .go()
        .await;
    let body = reply.expect_status(200);
    assert_eq!(ids(&body), all[..2].to_vec());
    // Every url field is built on the public URL too.
    assert_eq!(
        body[0]["url"],
        format!("https://grantd.example.com:8443/authorizations/{}", all[0])
    );
    assert_links(
        &reply,
        &[
            ("next", at("per_page=2&page=2")),
            ("last", at("per_page=2&page=3")),
        ],
    );

    let reply = srv
        .get("/authorizations?per_page=2&page=2")
        .login_as(&ALICE)
        .go()
        .await;
    assert_eq!(ids(&reply.expect_status(200)), all[2..4].to_vec());
    assert_links(
        &reply,
        &[
            ("prev", at("per_page=2&page=1")),
            ("next", at("per_page=2&page=3")),
            ("last", at("per_page=2&page=3")),
            ("first", at("per_page=2&page=1")),
        ],
    );

    let reply = srv
        .get("/authorizations?per_page=2&page=3")
        .login_as(&ALICE)
        .go()
        .await;
    assert_eq!(ids(&reply.expect_status(200)), all[4..].to_vec());
    assert_links(
        &reply,
        &[
            ("prev", at("per_page=2&page=2")),
            ("first", at("per_page=2&page=1")),
        ],
    );

    // A single page has no Link header.
    let reply = srv
        .get("/authorizations?per_page=5")
        .login_as(&ALICE)
        .go()
        .await;
    assert_eq!(ids(&reply.expect_status(200)), all);
    assert_eq!(reply.header("Link"), None);
}

#[tokio::test]
async fn client_id_filters_authorizations_and_is_kept_in_link_urls() {
    let srv = TestServer::spawn().await;
    srv.create_pat(&ALICE, "pat one").await;
    let mut oauth = Vec::new();
    for fp in ["a", "b", "c"] {
        oauth.push(id_of(
            &srv.create_app_authorization(&ALICE, &OAUTH_APP, json!({ "fingerprint": fp }))
                .await,
        ));
        srv.create_app_authorization(&ALICE, &GITHUB_APP, json!({ "fingerprint": fp }))
            .await;
    }
    srv.create_pat(&ALICE, "pat two").await;

    let query = format!("client_id={}", OAUTH_APP.client_id);
    let reply = srv
        .get(&format!("/authorizations?{query}"))
        .login_as(&ALICE)
        .go()
        .await;
    let body = reply.expect_status(200);
    assert_eq!(ids(&body), oauth);
    assert!(
        body.as_array()
            .expect("array")
            .iter()
            .all(|a| a["app"] == OAUTH_APP.json())
    );
    assert_eq!(reply.header("Link"), None);

    let reply = srv
        .get(&format!("/authorizations?{query}&per_page=2"))
        .login_as(&ALICE)
        .go()
        .await;
    assert_eq!(ids(&reply.expect_status(200)), oauth[..2].to_vec());
    assert_links(
        &reply,
        &[
            (
                "next",
                srv.public(&format!("/authorizations?{query}&per_page=2&page=2")),
            ),
            (
                "last",
                srv.public(&format!("/authorizations?{query}&per_page=2&page=2")),
            ),
        ],
    );
    let reply = srv
        .get(&format!("/authorizations?{query}&per_page=2&page=2"))
        .login_as(&ALICE)
        .go()
        .await;
    assert_eq!(ids(&reply.expect_status(200)), oauth[2..].to_vec());

    let none = srv
        .get("/authorizations?client_id=nosuchclient00000000")
        .login_as(&ALICE)
        .go()
        .await;
    assert_json(&none.expect_status(200), &json!([]));
}

#[tokio::test]
async fn grants_are_paginated_with_link_headers() {
    let srv = TestServer::spawn().await;
    for app in [&OAUTH_APP, &GITHUB_APP, &OTHER_APP] {
        srv.create_app_authorization(&ALICE, app, json!({})).await;
    }
    let all = ids(&srv
        .get("/applications/grants")
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200));
    assert_eq!(all.len(), 3);

    let reply = srv
        .get("/applications/grants?per_page=1&page=2")
        .login_as(&ALICE)
        .go()
        .await;
    let body = reply.expect_status(200);
    assert_json(&body, &json!([srv.grant(all[1], &GITHUB_APP, json!([]))]));
    let at = |q: &str| srv.public(&format!("/applications/grants?{q}"));
    assert_links(
        &reply,
        &[
            ("prev", at("per_page=1&page=1")),
            ("next", at("per_page=1&page=3")),
            ("last", at("per_page=1&page=3")),
            ("first", at("per_page=1&page=1")),
        ],
    );

    let past = srv
        .get("/applications/grants?per_page=1&page=4")
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    assert_json(&past, &json!([]));
}
