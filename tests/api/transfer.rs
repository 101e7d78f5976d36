//! `grantd export` / `grantd import`: moving a deployment from SQLite to the suite's engine
//! (PostgreSQL in its pass, another SQLite file otherwise) without losing a token, a password,
//! an app secret or an id.

use serde_json::{Value, json};

use crate::support::{
    ALICE, ALICE2FA, DEFAULT_FIXTURE, OAUTH_APP, ServerProcess, TOTP_SECRET, current_otp,
    fresh_database_url, grantd, sqlite_url, write_file,
};

/// Signs `alice2fa` in on the pages of the server at `base` and makes her recovery codes.
async fn recovery_codes(base: &str) -> Vec<String> {
    use crate::signin::{browser, token_of};
    let client = browser();
    let page = |path: &str| {
        let client = client.clone();
        let url = format!("{base}{path}");
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let html = page("/login").await;
    let signed = client
        .post(format!("{base}/session"))
        .form(&[
            ("login", ALICE2FA.login),
            ("password", ALICE2FA.password),
            ("authenticity_token", &token_of(&html)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 303);
    let html = page("/sessions/two-factor").await;
    let code = client
        .post(format!("{base}/sessions/two-factor"))
        .form(&[
            ("app_otp", current_otp()),
            ("authenticity_token", token_of(&html)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(code.status(), 303);
    let html = page("/settings/security").await;
    let made = client
        .post(format!(
            "{base}/settings/security/two-factor/recovery-codes"
        ))
        .form(&[("authenticity_token", token_of(&html))])
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 200);
    let codes: Vec<String> = made
        .text()
        .await
        .unwrap()
        .split("<li><code>")
        .skip(1)
        .map(|rest| rest.split('<').next().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 16);
    codes
}

/// The status of signing `alice2fa` in with a recovery code on the server at `base`.
async fn recovery_sign_in(base: &str, code: &str) -> u16 {
    use crate::signin::{browser, token_of};
    let client = browser();
    let html = client
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    client
        .post(format!("{base}/session"))
        .form(&[
            ("login", ALICE2FA.login),
            ("password", ALICE2FA.password),
            ("authenticity_token", &token_of(&html)),
        ])
        .send()
        .await
        .unwrap();
    let url = format!("{base}/sessions/two-factor");
    let html = client.get(&url).send().await.unwrap().text().await.unwrap();
    let answer = client
        .post(url)
        .form(&[
            ("recovery_code", code),
            ("authenticity_token", &token_of(&html)),
        ])
        .send()
        .await
        .unwrap();
    answer.status().as_u16()
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let reply = request.send().await.expect("the server answers");
    let status = reply.status().as_u16();
    let text = reply.text().await.expect("read the body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_database_moves_to_another_engine_without_losing_a_token() {
    let dir = tempfile::tempdir().expect("temp dir");
    let client = reqwest::Client::new();
    let source = sqlite_url(&dir.path().join("source.db"));
    // The OAuth app has a callback URL (web flow) and the device flow on, which must move too.
    let fixture = DEFAULT_FIXTURE.replace(
        "url = \"http://my-oauth-app.example.com\"\n",
        "url = \"http://my-oauth-app.example.com\"\ncallback_url = \"http://my-oauth-app.example.com/cb\"\n\
         device_flow = true\n",
    );
    let seed = write_file(dir.path(), "seed.toml", &fixture);

    // The old deployment: a personal token, an app token, and an authorization deleted since.
    let old = ServerProcess::start(
        &source,
        &["--seed", seed.to_str().expect("utf-8")],
        &dir.path().join("old.log"),
    );
    let pat = |note: &'static str| {
        client
            .post(old.url("/authorizations"))
            .basic_auth(ALICE.login, Some(ALICE.password))
            .json(&json!({ "note": note }))
    };
    let (_, personal) = send(pat("kept")).await;
    let app_path = format!("/authorizations/clients/{}", OAUTH_APP.client_id);
    let (status, app_token) = send(
        client
            .put(old.url(&app_path))
            .basic_auth(ALICE.login, Some(ALICE.password))
            .json(&json!({ "client_secret": OAUTH_APP.client_secret, "scopes": ["repo"] })),
    )
    .await;
    assert_eq!(status, 201);
    // The newest authorization is deleted: the database's highest id now has no row.
    let (_, deleted) = send(pat("deleted")).await;
    let highest_id = deleted["id"].as_i64().expect("id");
    assert!(highest_id > app_token["id"].as_i64().expect("id"));
    let deleted_path = format!("/authorizations/{}", deleted["id"]);
    let (status, _) = send(
        client
            .delete(old.url(&deleted_path))
            .basic_auth(ALICE.login, Some(ALICE.password)),
    )
    .await;
    assert_eq!(status, 204);
    // Recovery codes made on the settings page, which must move with the 2FA secret.
    let recovery = recovery_codes(&old.url("")).await;
    drop(old);

    let dump = dir.path().join("dump.json");
    let exported = grantd(
        &[
            "export",
            "--db",
            &source,
            "--out",
            dump.to_str().expect("utf-8"),
        ],
        None,
    );
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    let text = std::fs::read_to_string(&dump).expect("the dump");
    for token in [&personal["token"], &app_token["token"]] {
        assert!(
            !text.contains(token.as_str().expect("token")),
            "a token in clear in the dump"
        );
    }
    assert!(
        !text.contains(TOTP_SECRET),
        "a TOTP secret in clear in the dump"
    );

    // The dump's TOTP secrets are sealed with the source's key: the target must be given it.
    let target = fresh_database_url(&dir.path().join("target.db")).await;
    let wrong_key = write_file(dir.path(), "wrong.key", &format!("{}\n", "ab".repeat(32)));
    let refused = grantd(
        &[
            "import",
            dump.to_str().expect("utf-8"),
            "--db",
            &target,
            "--secret-key-file",
            wrong_key.to_str().expect("utf-8"),
        ],
        None,
    );
    assert!(!refused.status.success());
    let refusal = String::from_utf8_lossy(&refused.stderr);
    assert!(refusal.contains("--secret-key-file"), "{refusal}");
    let source_key = dir.path().join("source.db.key");
    let source_key = source_key.to_str().expect("utf-8");
    let imported = grantd(
        &[
            "import",
            dump.to_str().expect("utf-8"),
            "--db",
            &target,
            "--secret-key-file",
            source_key,
            "--json",
        ],
        None,
    );
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let counts: Value = serde_json::from_slice(&imported.stdout).expect("JSON");
    assert_eq!(counts["authorizations"], 2);
    assert_eq!(counts["grants"], 1);
    assert_eq!(counts["apps"], 3);
    let listed = grantd(
        &[
            "app",
            "list",
            "--db",
            &target,
            "--secret-key-file",
            source_key,
            "--json",
        ],
        None,
    );
    let apps: Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    let callbacks: Vec<&Value> = apps
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|a| a.get("callback_url"))
        .collect();
    assert_eq!(callbacks, [&json!("http://my-oauth-app.example.com/cb")]);
    let device_flow = |apps: &Value| -> Vec<(String, bool)> {
        apps.as_array()
            .expect("a list")
            .iter()
            .map(|a| {
                let id = a["client_id"].as_str().expect("client_id").to_owned();
                (id, a["device_flow"].as_bool().expect("device_flow"))
            })
            .filter(|(_, on)| *on)
            .collect()
    };
    assert_eq!(device_flow(&apps), [(OAUTH_APP.client_id.to_owned(), true)]);

    // A dump written before apps had `device_flow` still imports, with the flow off.
    let mut older: Value = serde_json::from_str(&text).expect("the dump is JSON");
    for app in older["tables"]["apps"].as_array_mut().expect("apps") {
        app.as_object_mut().expect("a row").remove("device_flow");
    }
    let older_dump = write_file(dir.path(), "older.json", &older.to_string());
    let older_target = fresh_database_url(&dir.path().join("older.db")).await;
    let imported_older = grantd(
        &[
            "import",
            older_dump.to_str().expect("utf-8"),
            "--db",
            &older_target,
            "--secret-key-file",
            source_key,
        ],
        None,
    );
    assert!(
        imported_older.status.success(),
        "{}",
        String::from_utf8_lossy(&imported_older.stderr)
    );
    let listed = grantd(
        &[
            "app",
            "list",
            "--db",
            &older_target,
            "--secret-key-file",
            source_key,
            "--json",
        ],
        None,
    );
    let older_apps: Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    assert_eq!(older_apps.as_array().expect("a list").len(), 3);
    assert!(device_flow(&older_apps).is_empty(), "{older_apps}");

    // The new deployment, with no seed of its own: everything works as before.
    let new = ServerProcess::start(
        &target,
        &["--secret-key-file", source_key],
        &dir.path().join("new.log"),
    );
    // Two-factor authentication moved too.
    let (status, _) = send(
        client
            .get(new.url("/authorizations"))
            .basic_auth(ALICE2FA.login, Some(ALICE2FA.password))
            .header("X-GitHub-OTP", current_otp()),
    )
    .await;
    assert_eq!(status, 200, "2FA sign-in on the new database");
    assert_eq!(
        recovery_sign_in(&new.url(""), &recovery[0]).await,
        303,
        "a recovery code signs in on the new database"
    );
    for token in [&personal["token"], &app_token["token"]] {
        let (status, user) = send(
            client
                .get(new.url("/user"))
                .bearer_auth(token.as_str().expect("token")),
        )
        .await;
        assert_eq!((status, user["login"].as_str()), (200, Some(ALICE.login)));
    }
    let check = format!("/applications/{}/token", OAUTH_APP.client_id);
    let (status, _) = send(
        client
            .post(new.url(&check))
            .basic_auth(OAUTH_APP.client_id, Some(OAUTH_APP.client_secret))
            .json(&json!({ "access_token": app_token["token"] })),
    )
    .await;
    assert_eq!(status, 200, "the app secret moved too");
    // Ids continue past every id the old database handed out, the deleted one included.
    let (status, created) = send(
        client
            .post(new.url("/authorizations"))
            .basic_auth(ALICE.login, Some(ALICE.password))
            .json(&json!({ "note": "new" })),
    )
    .await;
    assert_eq!(status, 201);
    assert!(
        created["id"].as_i64().expect("id") > highest_id,
        "{created}"
    );
    drop(new);

    // Only into an empty database.
    let again = grantd(
        &[
            "import",
            dump.to_str().expect("utf-8"),
            "--db",
            &target,
            "--secret-key-file",
            source_key,
        ],
        None,
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
}
