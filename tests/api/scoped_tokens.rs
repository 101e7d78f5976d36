//! `POST /applications/{client_id}/token/scoped`: targets (login or id), repositories (names or
//! ids), what the scoped token is and shows, and every refusal the docs list. Permissions have
//! their own module, `scoped_permissions`.

use serde_json::{Value, json};

use crate::support::{
    ALICE, BOB, BOBS_ORG, BOBS_REPO_ID, CAROL, GITHUB_APP, HELLO_WORLD_ID, OAUTH_APP, OCTO_ORG,
    OCTO_ORG_ID, OCTO_REPO_ID, OTHER_GITHUB_APP, TestServer, app_authorization,
    assert_invalid_field, assert_json, assert_not_found, assert_validation_error, id_of, merge,
    sha256_hex, token_of, unissued_token,
};

/// The authorization a scoped token of `parent` must be: a new one (`id`), same app, note,
/// note_url and fingerprint, no OAuth scopes.
fn scoped_authorization(srv: &TestServer, parent: &Value, id: i64, token: &str) -> Value {
    srv.authorization(
        id,
        token,
        true,
        json!({
            "app": parent["app"],
            "note": parent["note"],
            "note_url": parent["note_url"],
            "fingerprint": parent["fingerprint"],
            "scopes": [],
        }),
    )
}

#[tokio::test]
async fn a_scoped_token_for_an_organization_shows_its_installation() {
    let srv = TestServer::spawn_apps().await;
    let (parent, token) = srv
        .new_token(
            &ALICE,
            &GITHUB_APP,
            json!({ "scopes": ["repo"], "note": "ci", "note_url": "https://ci.example.com", "fingerprint": "runner" }),
        )
        .await;
    let (body, scoped) = srv
        .scoped_token(
            &GITHUB_APP,
            &token,
            json!({ "target": OCTO_ORG, "permissions": { "contents": "read", "issues": "write" } }),
        )
        .await;
    assert_ne!(scoped, token);
    let id = id_of(&body);
    assert_ne!(
        id,
        id_of(&parent),
        "the scoped token is an authorization of its own"
    );

    let org = srv.simple_account(OCTO_ORG, OCTO_ORG_ID, "Organization");
    let installation = srv.installation(
        json!({ "contents": "read", "issues": "write" }),
        "all",
        org.clone(),
    );
    let expected = app_authorization(
        &scoped_authorization(&srv, &parent, id, &scoped),
        &scoped,
        srv.simple_user("alice").await,
        installation.clone(),
    );
    srv.assert_app_body(&body, &expected);
    // GitHub's node id of organization 4242, written out: "012:Organization4242", as
    // GitHub's own organization 9919 is "MDEyOk9yZ2FuaXphdGlvbjk5MTk=".
    assert_eq!(
        body["installation"]["account"]["node_id"],
        "MDEyOk9yZ2FuaXphdGlvbjQyNDI="
    );

    // The check response of the scoped token shows the same installation.
    let checked = srv.check(&GITHUB_APP, &scoped).await.expect_status(200);
    srv.assert_app_body(&checked, &expected);
    // The parent keeps working and is still not scoped.
    let parent_checked = srv.check(&GITHUB_APP, &token).await.expect_status(200);
    assert_eq!(parent_checked["installation"], Value::Null);
    assert_eq!(parent_checked["scopes"], json!(["repo"]));
    srv.assert_token_works(&GITHUB_APP, &token, "alice").await;
    srv.assert_token_works(&GITHUB_APP, &scoped, "alice").await;
}

#[tokio::test]
async fn a_scoped_token_for_the_user_has_a_user_account() {
    let srv = TestServer::spawn_apps().await;
    let (parent, token) = srv.alice_token(&GITHUB_APP).await;
    let (body, scoped) = srv
        .scoped_token(&GITHUB_APP, &token, json!({ "target": "alice" }))
        .await;
    let alice = srv.simple_user("alice").await;
    let expected = app_authorization(
        &scoped_authorization(&srv, &parent, id_of(&body), &scoped),
        &scoped,
        alice.clone(),
        srv.installation(json!({}), "all", alice),
    );
    srv.assert_app_body(&body, &expected);
    assert_eq!(body["installation"]["account"]["type"], "User");
    assert_eq!(body["scopes"], json!([]));
}

#[tokio::test]
async fn target_and_target_id_name_the_same_account() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    let alice_id = srv.account_id("alice").await;
    let org = srv.simple_account(OCTO_ORG, OCTO_ORG_ID, "Organization");
    let alice = srv.simple_user("alice").await;
    for (target, account) in [
        (json!({ "target": OCTO_ORG }), &org),
        (json!({ "target_id": OCTO_ORG_ID }), &org),
        (
            json!({ "target": OCTO_ORG, "target_id": OCTO_ORG_ID }),
            &org,
        ),
        (json!({ "target": "alice" }), &alice),
        (json!({ "target_id": alice_id }), &alice),
        (json!({ "target": "alice", "target_id": alice_id }), &alice),
    ] {
        let (body, _) = srv.scoped_token(&GITHUB_APP, &token, target.clone()).await;
        assert_json(&body["installation"]["account"], account);
    }
}

#[tokio::test]
async fn a_target_is_required() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    for body in [
        json!({ "access_token": token }),
        json!({ "access_token": token, "target": null, "target_id": null }),
        json!({ "access_token": token, "repositories": ["hello-world"] }),
    ] {
        let reply = srv.scope(&GITHUB_APP, body).await;
        assert_validation_error(&reply, None, "target", "missing_field");
    }
    assert_eq!(
        srv.authorizations(&ALICE).await.len(),
        1,
        "nothing was made"
    );
}

#[tokio::test]
async fn target_and_target_id_that_disagree_are_refused() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    let alice_id = srv.account_id("alice").await;
    for body in [
        json!({ "target": OCTO_ORG, "target_id": alice_id }),
        json!({ "target": "alice", "target_id": OCTO_ORG_ID }),
        json!({ "target": "alice", "target_id": 999_999 }),
    ] {
        let reply = srv
            .scope(&GITHUB_APP, merge(json!({ "access_token": token }), body))
            .await;
        assert_invalid_field(&reply, &["target", "target_id"]);
    }
    assert_eq!(
        srv.authorizations(&ALICE).await.len(),
        1,
        "nothing was made"
    );
}

#[tokio::test]
async fn a_target_that_does_not_exist_is_refused() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    for body in [
        json!({ "target": "nobody-here" }),
        json!({ "target_id": 999_999 }),
    ] {
        let reply = srv
            .scope(&GITHUB_APP, merge(json!({ "access_token": token }), body))
            .await;
        assert_invalid_field(&reply, &["target"]);
    }
}

#[tokio::test]
async fn a_target_the_user_cannot_act_for_is_refused() {
    let srv = TestServer::spawn_apps().await;
    let (_, alices) = srv.alice_token(&GITHUB_APP).await;
    let bob_id = srv.account_id("bob").await;
    let bobs_org_id = srv.account_id(BOBS_ORG).await;
    // Another user, or an organization alice is not a member of.
    for target in [
        json!({ "target": "bob" }),
        json!({ "target_id": bob_id }),
        json!({ "target": BOBS_ORG }),
        json!({ "target_id": bobs_org_id }),
    ] {
        let reply = srv
            .scope(
                &GITHUB_APP,
                merge(json!({ "access_token": alices }), target),
            )
            .await;
        assert_invalid_field(&reply, &["target"]);
    }
    // bob is no member of octo-org; carol is.
    let (_, bobs) = srv.new_token(&BOB, &GITHUB_APP, json!({})).await;
    let reply = srv
        .scope(
            &GITHUB_APP,
            json!({ "access_token": bobs, "target": OCTO_ORG }),
        )
        .await;
    assert_invalid_field(&reply, &["target"]);
    let (_, carols) = srv.new_token(&CAROL, &GITHUB_APP, json!({})).await;
    let (body, _) = srv
        .scoped_token(&GITHUB_APP, &carols, json!({ "target": OCTO_ORG }))
        .await;
    assert_eq!(body["installation"]["account"]["login"], OCTO_ORG);
    assert_eq!(body["user"]["login"], "carol");
}

#[tokio::test]
async fn repositories_by_name_or_id_make_a_selected_token() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    let spoon_knife = srv.repo_id("alice", "spoon-knife").await;
    let docs = srv.repo_id(OCTO_ORG, "docs").await;
    for extra in [
        json!({ "target": "alice", "repositories": ["hello-world"] }),
        // Names compare without case.
        json!({ "target": "alice", "repositories": ["HELLO-WORLD", "spoon-knife"] }),
        json!({ "target": "alice", "repository_ids": [HELLO_WORLD_ID] }),
        json!({ "target": "alice", "repository_ids": [HELLO_WORLD_ID, spoon_knife] }),
        json!({ "target": OCTO_ORG, "repositories": ["octo-repo", "Docs"] }),
        json!({ "target_id": OCTO_ORG_ID, "repository_ids": [OCTO_REPO_ID, docs] }),
    ] {
        let (body, scoped) = srv.scoped_token(&GITHUB_APP, &token, extra.clone()).await;
        assert_eq!(
            body["installation"]["repository_selection"], "selected",
            "{extra}"
        );
        let checked = srv.check(&GITHUB_APP, &scoped).await.expect_status(200);
        assert_json(&checked["installation"], &body["installation"]);
    }
    // Without repositories: all of them.
    let (body, _) = srv
        .scoped_token(&GITHUB_APP, &token, json!({ "target": "alice" }))
        .await;
    assert_eq!(body["installation"]["repository_selection"], "all");
}

#[tokio::test]
async fn repositories_and_repository_ids_together_are_refused() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    let reply = srv
        .scope(
            &GITHUB_APP,
            json!({
                "access_token": token,
                "target": "alice",
                "repositories": ["hello-world"],
                "repository_ids": [HELLO_WORLD_ID],
            }),
        )
        .await;
    assert_invalid_field(&reply, &["repository_ids"]);
}

#[tokio::test]
async fn a_repository_the_target_does_not_own_is_refused() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    let cases = [
        (
            json!({ "target": "alice", "repositories": ["no-such-repo"] }),
            "repositories",
        ),
        (
            json!({ "target": "alice", "repositories": ["hello-world", "nope"] }),
            "repositories",
        ),
        // bob's repository and octo-org's, named while alice is the target.
        (
            json!({ "target": "alice", "repositories": ["bobs-repo"] }),
            "repositories",
        ),
        (
            json!({ "target": "alice", "repositories": ["octo-repo"] }),
            "repositories",
        ),
        // alice's repository named while octo-org is the target.
        (
            json!({ "target": OCTO_ORG, "repositories": ["hello-world"] }),
            "repositories",
        ),
        (
            json!({ "target": "alice", "repository_ids": [424_242_424] }),
            "repository_ids",
        ),
        (
            json!({ "target": "alice", "repository_ids": [BOBS_REPO_ID] }),
            "repository_ids",
        ),
        (
            json!({ "target": "alice", "repository_ids": [HELLO_WORLD_ID, OCTO_REPO_ID] }),
            "repository_ids",
        ),
        (
            json!({ "target": OCTO_ORG, "repository_ids": [HELLO_WORLD_ID] }),
            "repository_ids",
        ),
    ];
    for (extra, field) in cases {
        let reply = srv
            .scope(
                &GITHUB_APP,
                merge(json!({ "access_token": token }), extra.clone()),
            )
            .await;
        assert_eq!(reply.status, 422, "{extra}: {}", reply.body);
        assert_invalid_field(&reply, &[field]);
    }
    assert_eq!(
        srv.authorizations(&ALICE).await.len(),
        1,
        "nothing was made"
    );
}

#[tokio::test]
async fn fields_of_the_wrong_type_are_invalid() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    for (extra, field) in [
        (json!({ "target": 7 }), "target"),
        (json!({ "target": "alice", "target_id": "7" }), "target_id"),
        (
            json!({ "target": "alice", "repositories": "hello-world" }),
            "repositories",
        ),
        (
            json!({ "target": "alice", "repositories": [1] }),
            "repositories",
        ),
        (
            json!({ "target": "alice", "repository_ids": ["1"] }),
            "repository_ids",
        ),
        (
            json!({ "target": "alice", "permissions": ["contents"] }),
            "permissions",
        ),
        (
            json!({ "target": "alice", "permissions": { "contents": 1 } }),
            "permissions",
        ),
    ] {
        let reply = srv
            .scope(
                &GITHUB_APP,
                merge(json!({ "access_token": token }), extra.clone()),
            )
            .await;
        assert_eq!(reply.status, 422, "{extra}: {}", reply.body);
        assert_validation_error(&reply, None, field, "invalid");
    }
}

#[tokio::test]
async fn only_github_apps_can_scope_tokens() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&OAUTH_APP).await;
    let reply = srv
        .scope(
            &OAUTH_APP,
            json!({ "access_token": token, "target": "alice" }),
        )
        .await;
    assert_invalid_field(&reply, &["client_id"]);
    srv.assert_token_works(&OAUTH_APP, &token, "alice").await;
    assert_eq!(
        srv.authorizations(&ALICE).await.len(),
        1,
        "nothing was made"
    );
}

#[tokio::test]
async fn a_scoped_token_cannot_be_scoped_again() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    let (_, scoped) = srv
        .scoped_token(&GITHUB_APP, &token, json!({ "target": "alice" }))
        .await;
    let reply = srv
        .scope(
            &GITHUB_APP,
            json!({ "access_token": scoped, "target": "alice" }),
        )
        .await;
    assert_invalid_field(&reply, &["access_token"]);
    srv.assert_token_works(&GITHUB_APP, &scoped, "alice").await;
}

#[tokio::test]
async fn scoping_an_unknown_or_another_apps_token_is_not_found() {
    let srv = TestServer::spawn_apps().await;
    let (_, others) = srv.new_token(&ALICE, &OTHER_GITHUB_APP, json!({})).await;
    for token in [
        unissued_token("ghu_"),
        others.clone(),
        "ghu_nope".to_owned(),
    ] {
        let reply = srv
            .scope(
                &GITHUB_APP,
                json!({ "access_token": token, "target": "alice" }),
            )
            .await;
        assert_not_found(&reply);
    }
    srv.assert_token_works(&OTHER_GITHUB_APP, &others, "alice")
        .await;
}

#[tokio::test]
async fn a_scoped_token_is_listed_and_counted_in_the_grant() {
    let srv = TestServer::spawn_apps().await;
    let (parent, token) = srv
        .new_token(
            &ALICE,
            &GITHUB_APP,
            json!({ "scopes": ["repo"], "note": "n" }),
        )
        .await;
    let (body, scoped) = srv
        .scoped_token(&GITHUB_APP, &token, json!({ "target": OCTO_ORG }))
        .await;
    let list = srv.authorizations(&ALICE).await;
    let id = id_of(&body);
    assert_eq!(
        list.iter().map(id_of).collect::<Vec<_>>(),
        vec![id_of(&parent), id]
    );
    let mut expected = scoped_authorization(&srv, &parent, id, &scoped);
    expected["token"] = json!("");
    assert_json(&list[1], &expected);
    assert_eq!(list[1]["hashed_token"], sha256_hex(&scoped));

    let grants = srv.grants(&ALICE).await;
    assert_eq!(grants.len(), 1, "one grant for the app: {grants:?}");
    assert_eq!(grants[0]["app"], GITHUB_APP.json());

    // A scoped token carries no OAuth scopes.
    let me = srv.get_user(&scoped).await;
    me.expect_status(200);
    assert_eq!(me.header("X-OAuth-Scopes").as_deref(), Some(""));

    // Revoking the parent leaves the scoped token alone, and the reverse.
    srv.revoke(&GITHUB_APP, &token).await.expect_no_content();
    srv.assert_token_works(&GITHUB_APP, &scoped, "alice").await;
    let (_, second) = srv.alice_token(&OTHER_GITHUB_APP).await;
    let (_, scoped2) = srv
        .scoped_token(&OTHER_GITHUB_APP, &second, json!({ "target": "alice" }))
        .await;
    srv.revoke(&OTHER_GITHUB_APP, &scoped2)
        .await
        .expect_no_content();
    srv.assert_token_is_gone(&OTHER_GITHUB_APP, &scoped2).await;
    srv.assert_token_works(&OTHER_GITHUB_APP, &second, "alice")
        .await;
}

#[tokio::test]
async fn a_scoped_token_can_be_reset_and_keeps_its_installation() {
    let srv = TestServer::spawn_apps().await;
    let (_, token) = srv.alice_token(&GITHUB_APP).await;
    let (body, scoped) = srv
        .scoped_token(
            &GITHUB_APP,
            &token,
            json!({ "target": OCTO_ORG, "repositories": ["docs"], "permissions": { "metadata": "read" } }),
        )
        .await;
    let reset = srv.reset(&GITHUB_APP, &scoped).await.expect_status(200);
    let new = token_of(&reset, "ghu_");
    assert_eq!(id_of(&reset), id_of(&body));
    assert_json(&reset["installation"], &body["installation"]);
    srv.assert_token_is_gone(&GITHUB_APP, &scoped).await;
    srv.assert_token_works(&GITHUB_APP, &new, "alice").await;
}
