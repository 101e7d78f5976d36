//! Conditional requests (docs/api.md "HTTP conventions", issue 4): a weak `ETag` (the SHA-256 of the
//! body) on every 200 answer to a GET, `Last-Modified` where the data has an `updated_at`, and
//! 304 with no body for a client whose copy is still current, by `If-None-Match` (weak
//! comparison, lists, `*`) or, without one, by `If-Modified-Since`.
//!
//! The server's clock is pinned so that every `updated_at`, and so every `Last-Modified`, is
//! known to the second.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::support::{
    ALICE, BOB, OAUTH_APP, OTHER_APP, Reply, RequestExt, TestServer, id_of, sha256_hex,
    timestamp_of, token_of, unissued_token,
};

/// `Sat, 21 Nov 2026 06:50:26 GMT`: an IMF-fixdate (RFC 9110 §5.6.7), two-digit day.
pub fn http_date(at: OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .expect("format an HTTP-date")
}

/// The tag the docs promise for `reply`: `W/"<SHA-256 of the body>"`.
#[track_caller]
fn expected_etag(reply: &Reply) -> String {
    format!("W/\"{}\"", sha256_hex(&reply.body))
}

/// Asserts a 200 with the docs' `ETag` and returns the tag.
#[track_caller]
fn assert_tagged(reply: &Reply, what: &str) -> String {
    assert_eq!(reply.status, 200, "{what}: {}", reply.body);
    let etag = reply
        .header("ETag")
        .unwrap_or_else(|| panic!("{what}: a 200 GET without an ETag"));
    assert_eq!(
        etag,
        expected_etag(reply),
        "{what}: the ETag is not the body's SHA-256"
    );
    etag
}

/// Asserts a 304 with no body that repeats `etag`.
#[track_caller]
fn assert_not_modified(reply: &Reply, etag: &str, what: &str) {
    assert_eq!(reply.status, 304, "{what}: {}", reply.body);
    assert_eq!(reply.body, "", "{what}: a 304 has no body");
    assert_eq!(reply.header("ETag").as_deref(), Some(etag), "{what}");
}

async fn get(srv: &TestServer, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = srv.get(path).login_as(&ALICE);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.go().await
}

/// alice's PAT `note`, created at `at`.
async fn pat_at(srv: &TestServer, at: OffsetDateTime, note: &str) -> Value {
    srv.clock.pin(at);
    srv.create_pat(&ALICE, note).await
}

#[tokio::test]
async fn every_successful_get_carries_a_weak_etag_of_its_body() {
    let srv = TestServer::spawn().await;
    let pat = srv.create_pat(&ALICE, "tagged").await;
    let id = id_of(&pat);
    let app_authz = srv
        .create_app_authorization(&ALICE, &OAUTH_APP, json!({}))
        .await;
    let token = token_of(&app_authz, "gho_");
    let grant_id = id_of(&srv.grants(&ALICE).await[0]);
    for path in [
        format!("/authorizations/{id}"),
        "/authorizations".to_owned(),
        "/authorizations?per_page=1".to_owned(),
        format!("/applications/grants/{grant_id}"),
        "/applications/grants".to_owned(),
        format!("/api/v3/authorizations/{id}"),
    ] {
        assert_tagged(&get(&srv, &path, &[]).await, &path);
    }
    let me = srv.get_user(&token).await;
    assert_tagged(&me, "GET /user");
    let legacy = srv
        .as_app(
            reqwest::Method::GET,
            &format!("/applications/{}/tokens/{token}", OAUTH_APP.client_id),
            &OAUTH_APP,
        )
        .go()
        .await;
    assert_tagged(&legacy, "legacy check");
    let empty = srv.get("/authorizations").login_as(&BOB).go().await;
    assert_tagged(&empty, "an empty list");
}

#[tokio::test]
async fn tags_differ_between_different_bodies_and_repeat_for_the_same_body() {
    let srv = TestServer::spawn().await;
    let a = id_of(&srv.create_pat(&ALICE, "a").await);
    let b = id_of(&srv.create_pat(&ALICE, "b").await);
    let tag_a = assert_tagged(&get(&srv, &format!("/authorizations/{a}"), &[]).await, "a");
    let tag_b = assert_tagged(&get(&srv, &format!("/authorizations/{b}"), &[]).await, "b");
    assert_ne!(tag_a, tag_b);
    let again = assert_tagged(
        &get(&srv, &format!("/authorizations/{a}"), &[]).await,
        "a again",
    );
    assert_eq!(tag_a, again, "an unchanged resource keeps its tag");
}

#[tokio::test]
async fn answers_other_than_a_200_get_carry_no_etag() {
    let srv = TestServer::spawn().await;
    let created = srv
        .post("/authorizations")
        .login_as(&ALICE)
        .json(&json!({ "note": "n" }))
        .go()
        .await;
    created.expect_status(201);
    assert_eq!(created.header("ETag"), None, "POST 201");
    let id = id_of(&created.json());
    let patched = srv
        .patch(&format!("/authorizations/{id}"))
        .login_as(&ALICE)
        .json(&json!({ "note": "m" }))
        .go()
        .await;
    patched.expect_status(200);
    assert_eq!(patched.header("ETag"), None, "PATCH 200");
    let posted = srv
        .post(&format!("/authorizations/{id}"))
        .login_as(&ALICE)
        .json(&json!({ "note": "o" }))
        .go()
        .await;
    posted.expect_status(200);
    assert_eq!(posted.header("ETag"), None, "POST (as PATCH) 200");
    let check = srv.check(&OAUTH_APP, &unissued_token("gho_")).await;
    assert_eq!(check.header("ETag"), None, "check {}", check.status);
    let missing = get(&srv, "/authorizations/999999", &[]).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("ETag"), None, "GET 404");
    let unauthenticated = srv.get("/authorizations").go().await;
    assert_eq!(unauthenticated.status, 401);
    assert_eq!(unauthenticated.header("ETag"), None, "GET 401");
    let deleted = srv
        .delete(&format!("/authorizations/{id}"))
        .login_as(&ALICE)
        .go()
        .await;
    deleted.expect_no_content();
    assert_eq!(deleted.header("ETag"), None, "DELETE 204");
}

// ---------------------------------------------------------------------------------------------
// If-None-Match
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn if_none_match_with_the_current_tag_is_a_304_without_a_body() {
    let srv = TestServer::spawn().await;
    let id = id_of(&srv.create_pat(&ALICE, "cached").await);
    srv.create_app_authorization(&ALICE, &OAUTH_APP, json!({}))
        .await;
    let grant_id = id_of(&srv.grants(&ALICE).await[0]);
    for path in [
        format!("/authorizations/{id}"),
        "/authorizations".to_owned(),
        format!("/applications/grants/{grant_id}"),
        "/applications/grants".to_owned(),
        format!("/api/v3/authorizations/{id}"),
    ] {
        let first = get(&srv, &path, &[]).await;
        let etag = assert_tagged(&first, &path);
        let second = get(&srv, &path, &[("If-None-Match", &etag)]).await;
        assert_not_modified(&second, &etag, &path);
        assert_eq!(
            second.header("Last-Modified"),
            first.header("Last-Modified"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn if_none_match_works_for_get_user() {
    let srv = TestServer::spawn().await;
    let authz = srv
        .create_app_authorization(&ALICE, &OAUTH_APP, json!({}))
        .await;
    let token = token_of(&authz, "gho_");
    let first = srv.get_user(&token).await;
    let etag = assert_tagged(&first, "GET /user");
    let second = srv
        .get("/user")
        .header("Authorization", format!("token {token}"))
        .header("If-None-Match", &etag)
        .go()
        .await;
    assert_not_modified(&second, &etag, "GET /user");
}

#[tokio::test]
async fn if_none_match_compares_weakly_and_takes_lists_and_a_star() {
    let srv = TestServer::spawn().await;
    let id = id_of(&srv.create_pat(&ALICE, "weak").await);
    let path = format!("/authorizations/{id}");
    let etag = assert_tagged(&get(&srv, &path, &[]).await, "first");
    let opaque = etag.strip_prefix("W/").expect("a weak tag");
    let matching = [
        etag.clone(),
        // The strong form of the same tag matches under weak comparison.
        opaque.to_owned(),
        format!("\"nope\", {etag}"),
        format!("W/\"nope\",{opaque} , \"other\""),
        "*".to_owned(),
    ];
    for header in &matching {
        let reply = get(&srv, &path, &[("If-None-Match", header)]).await;
        assert_not_modified(&reply, &etag, header);
    }
    for header in [
        "\"nope\"".to_owned(),
        "W/\"nope\", \"other\"".to_owned(),
        format!("W/\"{}\"", sha256_hex("something else")),
    ] {
        let reply = get(&srv, &path, &[("If-None-Match", &header)]).await;
        assert_tagged(&reply, &header);
        assert_eq!(reply.json()["id"], id, "{header}");
    }
}

#[tokio::test]
async fn a_changed_resource_has_a_new_tag_and_the_old_tag_gets_the_new_body() {
    let srv = TestServer::spawn().await;
    let id = id_of(&srv.create_pat(&ALICE, "before").await);
    let path = format!("/authorizations/{id}");
    let old = assert_tagged(&get(&srv, &path, &[]).await, "before");
    let old_list = assert_tagged(&get(&srv, "/authorizations", &[]).await, "list before");
    srv.patch(&path)
        .login_as(&ALICE)
        .json(&json!({ "note": "after" }))
        .go()
        .await
        .expect_status(200);
    let reply = get(&srv, &path, &[("If-None-Match", &old)]).await;
    let new = assert_tagged(&reply, "after");
    assert_ne!(new, old);
    assert_eq!(reply.json()["note"], "after");
    let list = get(&srv, "/authorizations", &[("If-None-Match", &old_list)]).await;
    let new_list = assert_tagged(&list, "list after");
    assert_ne!(new_list, old_list);
    // And the new tag is current.
    assert_not_modified(
        &get(&srv, &path, &[("If-None-Match", &new)]).await,
        &new,
        "the new tag",
    );
    // A new authorization changes the list too.
    srv.create_pat(&ALICE, "third").await;
    let list = get(&srv, "/authorizations", &[("If-None-Match", &new_list)]).await;
    assert_ne!(assert_tagged(&list, "list with a third"), new_list);
}

#[tokio::test]
async fn a_tag_never_matches_another_users_view() {
    let srv = TestServer::spawn().await;
    srv.create_pat(&ALICE, "alices").await;
    srv.create_pat(&BOB, "bobs").await;
    let alices = assert_tagged(&get(&srv, "/authorizations", &[]).await, "alice");
    let reply = srv
        .get("/authorizations")
        .login_as(&BOB)
        .header("If-None-Match", &alices)
        .go()
        .await;
    let body = reply.expect_status(200);
    assert_eq!(body[0]["note"], "bobs");
}

// ---------------------------------------------------------------------------------------------
// Last-Modified and If-Modified-Since
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn last_modified_is_the_authorizations_updated_at_as_an_http_date() {
    let srv = TestServer::spawn().await;
    let created = pat_at(&srv, datetime!(2026-11-21 06:50:26 UTC), "dated").await;
    let id = id_of(&created);
    let reply = get(&srv, &format!("/authorizations/{id}"), &[]).await;
    assert_eq!(
        reply.header("Last-Modified").as_deref(),
        Some("Sat, 21 Nov 2026 06:50:26 GMT")
    );
    assert_eq!(reply.json()["updated_at"], "2026-11-21T06:50:26Z");
    // A single-digit day is written with two digits.
    srv.clock.pin(datetime!(2026-12-06 07:05:04 UTC));
    let patched = srv
        .patch(&format!("/authorizations/{id}"))
        .login_as(&ALICE)
        .json(&json!({ "note": "redated" }))
        .go()
        .await
        .expect_status(200);
    assert_eq!(patched["updated_at"], "2026-12-06T07:05:04Z");
    let reply = get(&srv, &format!("/authorizations/{id}"), &[]).await;
    assert_eq!(
        reply.header("Last-Modified").as_deref(),
        Some("Sun, 06 Dec 2026 07:05:04 GMT")
    );
}

#[tokio::test]
async fn a_lists_last_modified_is_the_latest_updated_at_on_its_page() {
    let srv = TestServer::spawn().await;
    let t1 = datetime!(2026-11-01 10:00:00 UTC);
    let t2 = datetime!(2026-11-02 11:00:00 UTC);
    let t3 = datetime!(2026-11-03 12:00:00 UTC);
    let first = id_of(&pat_at(&srv, t1, "first").await);
    pat_at(&srv, t2, "second").await;
    let list = get(&srv, "/authorizations", &[]).await;
    assert_eq!(list.header("Last-Modified"), Some(http_date(t2)));
    // Updating the older one makes it the latest.
    srv.clock.pin(t3);
    srv.patch(&format!("/authorizations/{first}"))
        .login_as(&ALICE)
        .json(&json!({ "note": "first, updated" }))
        .go()
        .await
        .expect_status(200);
    let list = get(&srv, "/authorizations", &[]).await;
    assert_eq!(list.header("Last-Modified"), Some(http_date(t3)));
    // Per page: the second page holds only "second".
    let page2 = get(&srv, "/authorizations?per_page=1&page=2", &[]).await;
    assert_eq!(page2.json()[0]["note"], "second");
    assert_eq!(page2.header("Last-Modified"), Some(http_date(t2)));
    let page1 = get(&srv, "/authorizations?per_page=1&page=1", &[]).await;
    assert_eq!(page1.header("Last-Modified"), Some(http_date(t3)));
}

#[tokio::test]
async fn grants_have_a_last_modified_single_and_listed() {
    let srv = TestServer::spawn().await;
    let t1 = datetime!(2026-10-05 08:09:10 UTC);
    let t2 = datetime!(2026-10-15 18:19:20 UTC);
    srv.clock.pin(t1);
    srv.create_app_authorization(&ALICE, &OAUTH_APP, json!({}))
        .await;
    srv.clock.pin(t2);
    srv.create_app_authorization(&ALICE, &OTHER_APP, json!({}))
        .await;
    let grants = srv.grants(&ALICE).await;
    assert_eq!(grants.len(), 2);
    for grant in &grants {
        let reply = get(&srv, &format!("/applications/grants/{}", id_of(grant)), &[]).await;
        assert_tagged(&reply, "grant");
        assert_eq!(
            reply.header("Last-Modified"),
            Some(http_date(timestamp_of(grant, "updated_at")))
        );
    }
    let list = get(&srv, "/applications/grants", &[]).await;
    assert_eq!(list.header("Last-Modified"), Some(http_date(t2)));
}

#[tokio::test]
async fn get_user_has_the_users_updated_at_as_last_modified() {
    let srv = TestServer::spawn().await;
    let authz = srv
        .create_app_authorization(&ALICE, &OAUTH_APP, json!({}))
        .await;
    let token = token_of(&authz, "gho_");
    let reply = srv.get_user(&token).await;
    let body = reply.expect_status(200);
    assert_eq!(
        reply.header("Last-Modified"),
        Some(http_date(timestamp_of(&body, "updated_at")))
    );
}

#[tokio::test]
async fn if_modified_since_at_or_after_last_modified_is_a_304_and_before_it_a_200() {
    let srv = TestServer::spawn().await;
    let at = datetime!(2026-11-10 09:08:07 UTC);
    let id = id_of(&pat_at(&srv, at, "since").await);
    for path in [
        format!("/authorizations/{id}"),
        "/authorizations".to_owned(),
    ] {
        let first = get(&srv, &path, &[]).await;
        let etag = assert_tagged(&first, &path);
        assert_eq!(first.header("Last-Modified"), Some(http_date(at)), "{path}");
        for since in [
            at,
            at + time::Duration::SECOND,
            at + time::Duration::days(400),
        ] {
            let reply = get(&srv, &path, &[("If-Modified-Since", &http_date(since))]).await;
            assert_not_modified(&reply, &etag, &format!("{path} since {since}"));
        }
        for since in [at - time::Duration::SECOND, at - time::Duration::days(30)] {
            let reply = get(&srv, &path, &[("If-Modified-Since", &http_date(since))]).await;
            assert_tagged(&reply, &format!("{path} since {since}"));
            assert_eq!(reply.body, first.body, "{path} since {since}");
        }
        // A date that does not parse is ignored.
        let reply = get(&srv, &path, &[("If-Modified-Since", "yesterday")]).await;
        assert_tagged(&reply, &format!("{path} since yesterday"));
    }
}

#[tokio::test]
async fn if_modified_since_follows_a_change() {
    let srv = TestServer::spawn().await;
    let t1 = datetime!(2026-11-10 09:08:07 UTC);
    let id = id_of(&pat_at(&srv, t1, "changing").await);
    let path = format!("/authorizations/{id}");
    let since = http_date(t1);
    assert_eq!(
        get(&srv, &path, &[("If-Modified-Since", &since)])
            .await
            .status,
        304
    );
    srv.clock.pin(t1 + time::Duration::minutes(5));
    srv.patch(&path)
        .login_as(&ALICE)
        .json(&json!({ "note": "changed" }))
        .go()
        .await
        .expect_status(200);
    let reply = get(&srv, &path, &[("If-Modified-Since", &since)]).await;
    assert_tagged(&reply, "after the change");
    assert_eq!(reply.json()["note"], "changed");
}

#[tokio::test]
async fn if_none_match_decides_alone_when_both_are_sent() {
    let srv = TestServer::spawn().await;
    let at = datetime!(2026-11-10 09:08:07 UTC);
    let id = id_of(&pat_at(&srv, at, "both").await);
    let path = format!("/authorizations/{id}");
    let etag = assert_tagged(&get(&srv, &path, &[]).await, "first");
    // A stale tag and a current date: the tag decides, 200.
    let reply = get(
        &srv,
        &path,
        &[
            ("If-None-Match", "W/\"stale\""),
            (
                "If-Modified-Since",
                &http_date(at + time::Duration::days(1)),
            ),
        ],
    )
    .await;
    assert_tagged(&reply, "stale tag, current date");
    // A current tag and an old date: the tag decides, 304.
    let reply = get(
        &srv,
        &path,
        &[
            ("If-None-Match", &etag),
            (
                "If-Modified-Since",
                &http_date(at - time::Duration::days(1)),
            ),
        ],
    )
    .await;
    assert_not_modified(&reply, &etag, "current tag, old date");
}

#[tokio::test]
async fn a_not_modified_answer_still_counts_and_shows_the_rate_limit() {
    let srv = TestServer::spawn().await;
    let id = id_of(&srv.create_pat(&ALICE, "counted").await);
    let path = format!("/authorizations/{id}");
    let first = get(&srv, &path, &[]).await;
    let etag = assert_tagged(&first, "first");
    let used: u32 = first
        .header("X-RateLimit-Used")
        .expect("X-RateLimit-Used")
        .parse()
        .expect("a number");
    let reply = get(&srv, &path, &[("If-None-Match", &etag)]).await;
    assert_not_modified(&reply, &etag, "conditional");
    assert_eq!(
        reply.header("X-RateLimit-Used"),
        Some((used + 1).to_string())
    );
    assert_eq!(
        reply.header("X-RateLimit-Remaining"),
        Some((5_000 - used - 1).to_string())
    );
    assert_eq!(reply.header("X-RateLimit-Limit").as_deref(), Some("5000"));
    assert_eq!(
        reply.header("X-RateLimit-Resource").as_deref(),
        Some("core")
    );
    assert!(reply.header("X-RateLimit-Reset").is_some());
    assert!(reply.header("X-GitHub-Request-Id").is_some());
}

#[tokio::test]
async fn conditions_never_turn_an_error_into_a_304() {
    let srv = TestServer::spawn().await;
    for reply in [
        srv.get("/authorizations/999999")
            .login_as(&ALICE)
            .header("If-None-Match", "*")
            .go()
            .await,
        srv.get("/authorizations")
            .header("If-None-Match", "*")
            .go()
            .await,
    ] {
        assert!(
            reply.status == 404 || reply.status == 401,
            "{}: {}",
            reply.status,
            reply.body
        );
        assert!(!reply.body.is_empty());
    }
}
