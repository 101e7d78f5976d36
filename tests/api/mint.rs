//! `grantd token mint`: bulk tokens for fixtures and benchmarks, straight through the store
//! (on the suite's engine), each one valid for checking and use.

use std::collections::HashSet;

use crate::support::{
    ALICE, EXPIRING_APP, EXPIRING_TTL_SECONDS, GITHUB_APP, ServerProcess, apps_fixture,
    fresh_database_url, grantd, sha256_hex, write_file,
};

#[tokio::test]
async fn minted_tokens_are_unique_valid_and_usable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = fresh_database_url(&dir.path().join("grantd.db")).await;
    let seed = write_file(dir.path(), "seed.toml", &apps_fixture());
    let seeded = grantd(&["seed", seed.to_str().expect("utf-8"), "--db", &db], None);
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );

    let out = dir.path().join("tokens.txt");
    let out_arg = out.to_str().expect("utf-8");
    let args = [
        "token",
        "mint",
        "--client-id",
        EXPIRING_APP.client_id,
        "--user",
        ALICE.login,
        "--count",
        "12345",
        // three transactions (5,000, 5,000, 2,345), each sorted by hash before it is stored
        "--batch-size",
        "5000",
        "--scopes",
        "repo,user",
        "--out",
        out_arg,
        "--db",
        &db,
        "--json",
    ];
    let ran = grantd(&args, None);
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&ran.stdout).expect("JSON");
    assert_eq!(report["minted"], 12_345);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&out)
            .expect("the file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "tokens are secrets: owner only");
    }
    let text = std::fs::read_to_string(&out).expect("the tokens");
    let tokens: Vec<&str> = text.lines().collect();
    assert_eq!(tokens.len(), 12_345);
    assert_eq!(
        tokens.iter().collect::<HashSet<_>>().len(),
        12_345,
        "every token is new"
    );
    assert!(
        tokens
            .iter()
            .all(|t| t.len() == 40 && t.starts_with(EXPIRING_APP.token_prefix))
    );

    // A server on that database accepts them, each stored as what it is (every column of the
    // bulk insert): the app's check and the user's GET /user, for tokens of every batch.
    let server = ServerProcess::start(&db, &[], &dir.path().join("serve.log"));
    let client = reqwest::Client::new();
    let mut ids = HashSet::new();
    for token in [
        tokens[0],
        tokens[4_999],
        tokens[5_000],
        tokens[9_999],
        tokens[12_344],
    ] {
        let check = client
            .post(server.url(&format!("/applications/{}/token", EXPIRING_APP.client_id)))
            .basic_auth(EXPIRING_APP.client_id, Some(EXPIRING_APP.client_secret))
            .json(&serde_json::json!({ "access_token": token }))
            .send()
            .await
            .expect("answer");
        assert_eq!(check.status(), 200);
        let body: serde_json::Value = check.json().await.expect("JSON");
        let hash = sha256_hex(token);
        assert_eq!(body["hashed_token"], hash);
        assert_eq!(body["token_last_eight"], token[32..]);
        assert_eq!(body["fingerprint"], format!("minted-{}", &hash[..16]));
        assert_eq!(body["scopes"], serde_json::json!(["repo", "user"]));
        assert_eq!(body["note"], serde_json::Value::Null);
        assert_eq!(body["note_url"], serde_json::Value::Null);
        assert_eq!(body["app"]["client_id"], EXPIRING_APP.client_id);
        assert_eq!(body["user"]["login"], ALICE.login);
        assert_eq!(body["created_at"], body["updated_at"]);
        let at = |field: &str| {
            let text = body[field].as_str().expect("a date");
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .expect("RFC 3339")
        };
        assert_eq!(
            (at("expires_at") - at("created_at")).whole_seconds(),
            EXPIRING_TTL_SECONDS
        );
        assert!(
            ids.insert(body["id"].clone()),
            "an authorization of its own"
        );
        let user = client
            .get(server.url("/user"))
            .bearer_auth(token)
            .send()
            .await
            .expect("answer");
        assert_eq!(user.status(), 200);
        assert_eq!(user.headers()["x-oauth-scopes"], "repo, user");
    }
    drop(server);

    // Refusals: an existing file is never overwritten; unknown users, apps and scopes; an
    // empty batch.
    let again = grantd(&args, None);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("cannot create"));
    let other = dir.path().join("other.txt");
    let other = other.to_str().expect("utf-8");
    for (flag, value, message) in [
        ("--user", "nobody", "no user named"),
        ("--client-id", "no-such-app", "no app with client id"),
        ("--scopes", "repo,bogus", "unknown scopes: bogus"),
        ("--batch-size", "0", "0 is not in 1..=1000000"),
    ] {
        let pick = |name: &str, default: &'static str| if name == flag { value } else { default };
        let args = [
            "token",
            "mint",
            "--client-id",
            pick("--client-id", GITHUB_APP.client_id),
            "--user",
            pick("--user", ALICE.login),
            "--scopes",
            pick("--scopes", "repo"),
            "--batch-size",
            pick("--batch-size", "2"),
            "--count",
            "3",
            "--out",
            other,
            "--db",
            &db,
        ];
        let ran = grantd(&args, None);
        assert!(!ran.status.success(), "{flag} {value} accepted");
        assert!(
            String::from_utf8_lossy(&ran.stderr).contains(message),
            "{}",
            String::from_utf8_lossy(&ran.stderr)
        );
    }
}
