//! `grantd token mint`: bulk tokens for fixtures and benchmarks, straight through the store
//! (on the suite's engine), each one valid for checking and use.

use std::collections::HashSet;

use crate::support::{
    ALICE, DEFAULT_FIXTURE, GITHUB_APP, ServerProcess, fresh_database_url, grantd, write_file,
};

#[tokio::test]
async fn minted_tokens_are_unique_valid_and_usable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = fresh_database_url(&dir.path().join("grantd.db")).await;
    let seed = write_file(dir.path(), "seed.toml", DEFAULT_FIXTURE);
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
        GITHUB_APP.client_id,
        "--user",
        ALICE.login,
        "--count",
        "12345",
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
            .all(|t| t.len() == 40 && t.starts_with(GITHUB_APP.token_prefix))
    );

    // A server on that database accepts them: the app's check and the user's GET /user.
    let server = ServerProcess::start(&db, &[], &dir.path().join("serve.log"));
    let client = reqwest::Client::new();
    for token in [tokens[0], tokens[6_000], tokens[12_344]] {
        let check = client
            .post(server.url(&format!("/applications/{}/token", GITHUB_APP.client_id)))
            .basic_auth(GITHUB_APP.client_id, Some(GITHUB_APP.client_secret))
            .json(&serde_json::json!({ "access_token": token }))
            .send()
            .await
            .expect("answer");
        assert_eq!(check.status(), 200);
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

    // Refusals: an existing file is never overwritten; unknown users, apps and scopes.
    let again = grantd(&args, None);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("cannot create"));
    let other = dir.path().join("other.txt");
    let other = other.to_str().expect("utf-8");
    for (flag, value, message) in [
        ("--user", "nobody", "no user named"),
        ("--client-id", "no-such-app", "no app with client id"),
        ("--scopes", "repo,bogus", "unknown scopes: bogus"),
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
