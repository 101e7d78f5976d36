//! Identifiers and restarts: ids are never reused, neither after deletes nor after a restart on the
//! same database, and what was acknowledged is still there after a restart.

use serde_json::json;

use crate::support::{
    ALICE, BOB, OAUTH_APP, RequestExt, TestServer, assert_not_found, id_of, token_of,
};

#[tokio::test]
async fn authorization_ids_are_never_reused_after_a_delete() {
    let srv = TestServer::spawn().await;
    let first = id_of(&srv.create_pat(&ALICE, "one").await);
    let second = id_of(&srv.create_pat(&BOB, "two").await);
    assert!(second > first);
    // Deleting the newest is what tempts an AUTOINCREMENT-less table to hand its id out again.
    srv.delete(&format!("/authorizations/{second}"))
        .login_as(&BOB)
        .go()
        .await
        .expect_no_content();
    let third = id_of(&srv.create_pat(&ALICE, "three").await);
    assert!(third > second, "id {third} after deleted {second}");
    // The stale id still reaches nothing, for either user.
    assert_not_found(
        &srv.get(&format!("/authorizations/{second}"))
            .login_as(&ALICE)
            .go()
            .await,
    );
    assert_not_found(
        &srv.get(&format!("/authorizations/{second}"))
            .login_as(&BOB)
            .go()
            .await,
    );
}

#[tokio::test]
async fn ids_are_never_reused_after_a_restart() {
    let mut srv = TestServer::spawn().await;
    let kept = srv
        .create_app_authorization(
            &ALICE,
            &OAUTH_APP,
            json!({ "fingerprint": "kept", "scopes": ["repo"] }),
        )
        .await;
    let newest = srv
        .create_app_authorization(&BOB, &OAUTH_APP, json!({}))
        .await;
    let newest_id = id_of(&newest);
    let bobs_grant = id_of(&srv.grants(&BOB).await[0]);
    srv.delete(&format!("/applications/grants/{bobs_grant}"))
        .login_as(&BOB)
        .go()
        .await
        .expect_no_content();

    srv.restart().await;

    let after = srv
        .create_app_authorization(&BOB, &OAUTH_APP, json!({}))
        .await;
    assert!(
        id_of(&after) > newest_id,
        "authorization id {} reused after restart (deleted {newest_id})",
        id_of(&after)
    );
    let new_grant = id_of(&srv.grants(&BOB).await[0]);
    assert!(
        new_grant > bobs_grant,
        "grant id {new_grant} reused after restart (deleted {bobs_grant})"
    );

    // What was there before the restart still is, and reads the same.
    let read = srv
        .get(&format!("/authorizations/{}", id_of(&kept)))
        .login_as(&ALICE)
        .go()
        .await
        .expect_status(200);
    let token = token_of(&kept, "gho_");
    crate::support::assert_json(
        &read,
        &srv.authorization(
            id_of(&kept),
            &token,
            false,
            json!({
                "scopes": ["repo"], "app": OAUTH_APP.json(), "fingerprint": "kept",
            }),
        ),
    );
    assert_eq!(read["created_at"], kept["created_at"]);
}

#[tokio::test]
async fn writes_survive_a_restart() {
    let mut srv = TestServer::spawn().await;
    let pat = srv
        .create_pat_with(&ALICE, json!({ "note": "durable", "scopes": ["gist"] }))
        .await;
    let app = srv
        .get_or_create(
            &ALICE,
            &OAUTH_APP,
            Some("fp"),
            json!({ "scopes": ["user"] }),
        )
        .await
        .expect_status(201);
    let patched = srv
        .patch(&format!("/authorizations/{}", id_of(&pat)))
        .login_as(&ALICE)
        .json(&json!({ "add_scopes": ["repo"] }))
        .go()
        .await
        .expect_status(200);
    let before_list = srv.authorizations(&ALICE).await;
    let before_grants = srv.grants(&ALICE).await;

    srv.restart().await;

    // The url fields carry the new port: compare everything else.
    let strip = |mut v: Vec<serde_json::Value>| {
        for item in &mut v {
            item.as_object_mut().map(|o| o.remove("url"));
        }
        v
    };
    assert_eq!(strip(srv.authorizations(&ALICE).await), strip(before_list));
    assert_eq!(strip(srv.grants(&ALICE).await), strip(before_grants));
    assert_eq!(
        srv.authorizations(&ALICE).await[0]["scopes"],
        patched["scopes"]
    );
    // get-or-create finds the same authorization after the restart.
    let again = srv
        .get_or_create(&ALICE, &OAUTH_APP, Some("fp"), json!({}))
        .await
        .expect_status(200);
    assert_eq!(id_of(&again), id_of(&app));
}
