//! The `/api/v3` prefix (GitHub Enterprise Server's base URL): all ten endpoints answer there as
//! they do at the root, on the same data.

use serde_json::{Value, json};

use crate::support::{
    ALICE, OAUTH_APP, RequestExt, TestServer, assert_json, id_of, merge, token_of,
};

/// The docs leave open whether an object read through `/api/v3` shows its `url` with the
/// prefix; both forms point at the same object.
fn assert_url(body: &Value, srv: &TestServer, path: &str) {
    let url = body["url"]
        .as_str()
        .unwrap_or_else(|| panic!("no url in {body}"));
    assert!(
        url == srv.public(path) || url == srv.public(&format!("/api/v3{path}")),
        "url {url:?} is not {path} on the public URL"
    );
}

/// `expected` with its url replaced by the actual one (checked separately with `assert_url`).
fn with_url(expected: Value, body: &Value) -> Value {
    merge(expected, json!({ "url": body["url"] }))
}

#[tokio::test]
async fn every_endpoint_answers_under_the_api_v3_prefix() {
    let srv = TestServer::spawn().await;
    let v3 = |p: &str| format!("/api/v3{p}");

    // POST /authorizations
    let pat = srv
        .post(&v3("/authorizations"))
        .login_as(&ALICE)
        .json(&json!({ "note": "v3", "scopes": ["repo"] }))
        .go()
        .await;
    let pat = pat.expect_status(201);
    let pat_token = token_of(&pat, "ghp_");
    let pat_id = id_of(&pat);
    assert_url(&pat, &srv, &format!("/authorizations/{pat_id}"));
    let pat_fields = json!({
        "note": "v3", "scopes": ["repo"],
        "app": { "name": "v3 (API)", "url": crate::support::ANY_URL, "client_id": "00000000000000000000" },
    });
    assert_json(
        &pat,
        &with_url(
            srv.authorization(pat_id, &pat_token, true, pat_fields.clone()),
            &pat,
        ),
    );

    // PUT /authorizations/clients/{client_id}: 201 then 200
    let secret = json!({ "client_secret": OAUTH_APP.client_secret, "scopes": ["gist"] });
    let path = v3(&format!("/authorizations/clients/{}", OAUTH_APP.client_id));
    let created = srv
        .put(&path)
        .login_as(&ALICE)
        .json(&secret)
        .go()
        .await
        .expect_status(201);
    let app_token = token_of(&created, "gho_");
    let app_id = id_of(&created);
    let app_fields = json!({ "scopes": ["gist"], "app": OAUTH_APP.json() });
    assert_json(
        &created,
        &with_url(
            srv.authorization(app_id, &app_token, true, app_fields.clone()),
            &created,
        ),
    );
    let found = srv
        .put(&path)
        .login_as(&ALICE)
        .json(&secret)
        .go()
        .await
        .expect_status(200);
    assert_json(
        &found,
        &with_url(
            srv.authorization(app_id, &app_token, false, app_fields),
            &found,
        ),
    );

    // PUT /authorizations/clients/{client_id}/{fingerprint}
    let path = v3(&format!(
        "/authorizations/clients/{}/laptop",
        OAUTH_APP.client_id
    ));
    let fp = srv
        .put(&path)
        .login_as(&ALICE)
        .json(&secret)
        .go()
        .await
        .expect_status(201);
    assert_eq!(fp["fingerprint"], "laptop");
    srv.put(&path)
        .login_as(&ALICE)
        .json(&secret)
        .go()
        .await
        .expect_status(200);

    // GET /authorizations
    let list = srv
        .get(&v3("/authorizations"))
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    let ids: Vec<i64> = list.as_array().expect("array").iter().map(id_of).collect();
    assert_eq!(ids, vec![pat_id, app_id, id_of(&fp)]);
    assert_eq!(list[0]["token"], "");

    // GET /authorizations/{id}
    let one = srv
        .get(&v3(&format!("/authorizations/{pat_id}")))
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    assert_url(&one, &srv, &format!("/authorizations/{pat_id}"));
    assert_json(
        &one,
        &with_url(
            srv.authorization(pat_id, &pat_token, false, pat_fields),
            &one,
        ),
    );

    // PATCH /authorizations/{id}
    let patched = srv
        .patch(&v3(&format!("/authorizations/{pat_id}")))
        .login_as(&ALICE)
        .json(&json!({ "add_scopes": ["gist"] }))
        .go()
        .await
        .expect_status(200);
    assert_eq!(patched["scopes"], json!(["repo", "gist"]));

    // GET /applications/grants and /applications/grants/{id}
    let grants = srv
        .get(&v3("/applications/grants"))
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    let grant_id = id_of(&grants[0]);
    assert_url(
        &grants[0],
        &srv,
        &format!("/applications/grants/{grant_id}"),
    );
    let expected_grant = srv.grant(grant_id, &OAUTH_APP, json!(["gist"]));
    assert_json(
        &grants,
        &json!([with_url(expected_grant.clone(), &grants[0])]),
    );
    let grant = srv
        .get(&v3(&format!("/applications/grants/{grant_id}")))
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    assert_json(&grant, &with_url(expected_grant, &grant));

    // DELETE /authorizations/{id}
    srv.delete(&v3(&format!("/authorizations/{pat_id}")))
        .login_as(&ALICE)
        .go()
        .await
        .expect_no_content();
    crate::support::assert_not_found(
        &srv.get(&format!("/authorizations/{pat_id}"))
            .login_as(&ALICE)
            .go()
            .await,
    );

    // DELETE /applications/grants/{id}
    srv.delete(&v3(&format!("/applications/grants/{grant_id}")))
        .login_as(&ALICE)
        .go()
        .await
        .expect_no_content();
    assert!(srv.authorizations(&ALICE).await.is_empty());
    assert!(srv.grants(&ALICE).await.is_empty());
}

#[tokio::test]
async fn the_prefix_and_the_root_share_one_set_of_data() {
    let srv = TestServer::spawn().await;
    let created = srv.create_pat(&ALICE, "root").await;
    let id = id_of(&created);
    let via_v3 = srv
        .get(&format!("/api/v3/authorizations/{id}"))
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    let via_root = srv
        .get(&format!("/authorizations/{id}"))
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    assert_eq!(
        merge(via_v3, json!({ "url": null })),
        merge(via_root, json!({ "url": null }))
    );
}

#[tokio::test]
async fn healthz_answers_200() {
    let srv = TestServer::spawn().await;
    let reply = srv.get("/healthz").go().await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}
