//! The management commands of the built binary (`user`, `app`, `seed`), each on a temporary
//! database, checked through their output and through the API of a server on the same file.
//!
//! Only fields the docs and issue name are relied on in `--json` output: `login`, `client_id`,
//! `client_secret`.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::{
    DEFAULT_FIXTURE, OAUTH_APP, RequestExt, TestServer, User, assert_json, assert_validation_error,
    current_otp, error_body, grantd, sqlite_url, token_of, write_file,
};

struct Cli {
    dir: tempfile::TempDir,
    db_path: PathBuf,
    db_url: String,
}

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ran {
    #[track_caller]
    fn ok(&self) -> &Self {
        assert_eq!(
            self.code,
            Some(0),
            "exit {:?}\nstdout: {}\nstderr: {}",
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    fn failed(&self) -> &Self {
        assert!(
            self.code.is_some_and(|c| c != 0),
            "expected a non-zero exit, got {:?}\nstdout: {}\nstderr: {}",
            self.code,
            self.stdout,
            self.stderr
        );
        assert!(
            !self.stderr.trim().is_empty(),
            "a failure must say why on stderr"
        );
        self
    }

    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("--json output is not JSON ({e}): {:?}", self.stdout))
    }
}

impl Cli {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db_path = dir.path().join("cli.db");
        let db_url = sqlite_url(&db_path);
        Self {
            dir,
            db_path,
            db_url,
        }
    }

    /// `grantd ARGS --db URL`
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Ran {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--db", &self.db_url]);
        let out = grantd(&all, stdin);
        Ran {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn logins(&self) -> Vec<String> {
        let ran = self.run(&["user", "list", "--json"], None);
        ran.ok();
        field_values(&ran.json(), "users", "login")
    }

    fn client_ids(&self) -> Vec<String> {
        let ran = self.run(&["app", "list", "--json"], None);
        ran.ok();
        field_values(&ran.json(), "apps", "client_id")
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        write_file(self.dir.path(), name, contents)
    }

    async fn server(&self) -> TestServer {
        TestServer::spawn_on_database(&self.db_path).await
    }
}

/// The `field` of every object in a `--json` list, whether the list is the top-level value or
/// sits under `key`.
fn field_values(v: &Value, key: &str, field: &str) -> Vec<String> {
    let list = v
        .as_array()
        .or_else(|| v[key].as_array())
        .unwrap_or_else(|| panic!("no list in {v}"));
    list.iter()
        .map(|o| {
            o[field]
                .as_str()
                .unwrap_or_else(|| panic!("no {field:?} in {o}"))
                .to_owned()
        })
        .collect()
}

/// Every 40-hex-digit word in `text` (client secrets).
fn hex40_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.len() == 40 && w.chars().all(|c| c.is_ascii_hexdigit()))
        .map(str::to_owned)
        .collect()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

async fn status_for(srv: &TestServer, login: &str, password: &str) -> u16 {
    srv.get("/authorizations")
        .basic_auth(login, Some(password))
        .go()
        .await
        .status
}

#[tokio::test]
async fn user_add_list_passwd_and_delete_manage_who_can_sign_in() {
    let cli = Cli::new();
    cli.run(
        &[
            "user",
            "add",
            "carol",
            "--password-stdin",
            "--email",
            "carol@example.com",
        ],
        Some("carol-pass-1"),
    )
    .ok();
    cli.run(
        &["user", "add", "dave", "--password-stdin", "--site-admin"],
        Some("dave-pass"),
    )
    .ok();
    let logins = cli.logins();
    assert!(
        logins.contains(&"carol".to_owned()) && logins.contains(&"dave".to_owned()),
        "{logins:?}"
    );
    // The list never shows a password or its hash.
    let listed = cli.run(&["user", "list", "--json"], None);
    assert!(
        !listed.stdout.contains("carol-pass-1") && !listed.stdout.contains("$argon2"),
        "{}",
        listed.stdout
    );

    let srv = cli.server().await;
    assert_eq!(status_for(&srv, "carol", "carol-pass-1").await, 200);

    cli.run(
        &["user", "passwd", "carol", "--password-stdin"],
        Some("carol-pass-2"),
    )
    .ok();
    assert_eq!(status_for(&srv, "carol", "carol-pass-1").await, 401);
    assert_eq!(status_for(&srv, "carol", "carol-pass-2").await, 200);

    cli.run(&["user", "delete", "carol"], None).ok();
    let reply = srv
        .get("/authorizations")
        .basic_auth("carol", Some("carol-pass-2"))
        .go()
        .await;
    assert_eq!(reply.status, 401);
    assert_json(&reply.json(), &error_body(401, "Bad credentials"));
    assert_eq!(cli.logins(), vec!["dave".to_owned()]);
    assert_eq!(status_for(&srv, "dave", "dave-pass").await, 200);
}

#[tokio::test]
async fn user_add_with_a_totp_secret_turns_on_two_factor_authentication() {
    let cli = Cli::new();
    cli.run(
        &[
            "user",
            "add",
            "erin",
            "--password-stdin",
            "--totp-secret",
            "JBSWY3DPEHPK3PXP",
        ],
        Some("erin-pass"),
    )
    .ok();
    let srv = cli.server().await;
    let reply = srv
        .get("/authorizations")
        .basic_auth("erin", Some("erin-pass"))
        .go()
        .await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.header("X-GitHub-OTP").as_deref(),
        Some("required; app")
    );
    let reply = srv
        .get("/authorizations")
        .basic_auth("erin", Some("erin-pass"))
        .header("X-GitHub-OTP", current_otp())
        .go()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn user_commands_fail_clearly_on_bad_requests() {
    let cli = Cli::new();
    cli.run(
        &["user", "add", "frank", "--password-stdin"],
        Some("pw-frank"),
    )
    .ok();
    // A login taken, also in another case.
    cli.run(&["user", "add", "frank", "--password-stdin"], Some("other"))
        .failed();
    cli.run(&["user", "add", "FRANK", "--password-stdin"], Some("other"))
        .failed();
    // An unknown user.
    cli.run(
        &["user", "passwd", "nobody", "--password-stdin"],
        Some("pw"),
    )
    .failed();
    cli.run(&["user", "delete", "nobody"], None).failed();
    // An unknown owner for an app.
    cli.run(
        &[
            "app",
            "add",
            "--owner",
            "nobody",
            "--name",
            "n",
            "--url",
            "http://n.example",
        ],
        None,
    )
    .failed();
    assert_eq!(cli.logins(), vec!["frank".to_owned()]);
    assert!(cli.client_ids().is_empty());
}

#[tokio::test]
async fn app_add_prints_credentials_that_work_and_rotate_secret_replaces_them() {
    let cli = Cli::new();
    cli.run(
        &["user", "add", "grace", "--password-stdin"],
        Some("grace-pass"),
    )
    .ok();
    let grace = User {
        login: "grace",
        password: "grace-pass",
    };

    let added = cli.run(
        &[
            "app",
            "add",
            "--owner",
            "grace",
            "--name",
            "cli app",
            "--url",
            "http://cli-app.example",
            "--json",
        ],
        None,
    );
    let creds = added.ok().json();
    let client_id = creds["client_id"].as_str().expect("client_id").to_owned();
    let secret = creds["client_secret"]
        .as_str()
        .expect("client_secret")
        .to_owned();
    assert_eq!(
        client_id.len(),
        20,
        "generated client ids are 20 characters: {client_id:?}"
    );
    assert_eq!(
        hex40_words(&secret),
        vec![secret.clone()],
        "generated secrets are 40 hex digits"
    );
    assert_eq!(cli.client_ids(), vec![client_id.clone()]);
    // The secret is shown once: never in the list.
    let listed = cli.run(&["app", "list", "--json"], None);
    assert!(
        !listed.stdout.contains(&secret),
        "app list shows the secret: {}",
        listed.stdout
    );

    let srv = cli.server().await;
    let post = |secret: String| {
        let body = json!({ "client_id": client_id, "client_secret": secret });
        srv.post("/authorizations")
            .login_as(&grace)
            .json(&body)
            .go()
    };
    let created = post(secret.clone()).await.expect_status(201);
    token_of(&created, "gho_");
    assert_json(
        &created["app"],
        &json!({ "name": "cli app", "url": "http://cli-app.example", "client_id": client_id }),
    );
    srv.delete(&format!("/authorizations/{}", created["id"]))
        .login_as(&grace)
        .go()
        .await
        .expect_no_content();

    let rotated = cli.run(&["app", "rotate-secret", &client_id, "--json"], None);
    let new_secret = rotated.ok().json()["client_secret"]
        .as_str()
        .expect("client_secret")
        .to_owned();
    assert_ne!(new_secret, secret);
    assert_validation_error(
        &post(secret.clone()).await,
        None,
        "client_secret",
        "invalid",
    );
    post(new_secret.clone()).await.expect_status(201);

    cli.run(&["app", "delete", &client_id], None).ok();
    assert!(cli.client_ids().is_empty());
    assert_validation_error(&post(new_secret).await, None, "client_id", "invalid");
}

#[tokio::test]
async fn app_add_without_json_prints_the_client_id_and_secret() {
    let cli = Cli::new();
    cli.run(
        &["user", "add", "heidi", "--password-stdin"],
        Some("heidi-pass"),
    )
    .ok();
    let added = cli.run(
        &[
            "app",
            "add",
            "--owner",
            "heidi",
            "--name",
            "plain",
            "--url",
            "http://plain.example",
        ],
        None,
    );
    added.ok();
    let ids = cli.client_ids();
    assert_eq!(ids.len(), 1);
    assert!(
        added.stdout.contains(&ids[0]),
        "client id {} not in {:?}",
        ids[0],
        added.stdout
    );
    let secrets = hex40_words(&added.stdout);
    assert_eq!(
        secrets.len(),
        1,
        "one 40-hex secret expected in {:?}",
        added.stdout
    );

    let srv = cli.server().await;
    let body = json!({ "client_id": ids[0], "client_secret": secrets[0] });
    let heidi = User {
        login: "heidi",
        password: "heidi-pass",
    };
    srv.post("/authorizations")
        .login_as(&heidi)
        .json(&body)
        .go()
        .await
        .expect_status(201);
}

#[tokio::test]
async fn app_add_makes_github_apps_and_takes_given_credentials() {
    let cli = Cli::new();
    cli.run(
        &["user", "add", "ivan", "--password-stdin"],
        Some("ivan-pass"),
    )
    .ok();
    let ivan = User {
        login: "ivan",
        password: "ivan-pass",
    };
    let gh = cli.run(
        &[
            "app",
            "add",
            "--owner",
            "ivan",
            "--name",
            "gh",
            "--url",
            "http://gh.example",
            "--kind",
            "github",
            "--json",
        ],
        None,
    );
    let creds = gh.ok().json();
    let client_id = creds["client_id"].as_str().expect("client_id").to_owned();
    let hex = client_id
        .strip_prefix("Iv1.")
        .unwrap_or_else(|| panic!("GitHub App client id {client_id:?}"));
    assert!(
        hex.len() == 16 && hex.chars().all(|c| c.is_ascii_hexdigit()),
        "{client_id:?}"
    );

    let given = cli.run(
        &[
            "app",
            "add",
            "--owner",
            "ivan",
            "--name",
            "given",
            "--url",
            "http://given.example",
            "--client-id",
            OAUTH_APP.client_id,
            "--client-secret-stdin",
            "--json",
        ],
        Some(&format!("{}\n", OAUTH_APP.client_secret)),
    );
    assert_eq!(given.ok().json()["client_id"], OAUTH_APP.client_id);
    assert_eq!(given.json()["client_secret"], OAUTH_APP.client_secret);

    let srv = cli.server().await;
    let body = json!({ "client_id": client_id, "client_secret": creds["client_secret"] });
    let created = srv
        .post("/authorizations")
        .login_as(&ivan)
        .json(&body)
        .go()
        .await
        .expect_status(201);
    token_of(&created, "ghu_");
    let body =
        json!({ "client_id": OAUTH_APP.client_id, "client_secret": OAUTH_APP.client_secret });
    let created = srv
        .post("/authorizations")
        .login_as(&ivan)
        .json(&body)
        .go()
        .await
        .expect_status(201);
    token_of(&created, "gho_");
    // A second app with a client id that is taken is refused.
    cli.run(
        &[
            "app",
            "add",
            "--owner",
            "ivan",
            "--name",
            "twin",
            "--url",
            "http://t.example",
            "--client-id",
            OAUTH_APP.client_id,
        ],
        None,
    )
    .failed();
}

/// Issue 18, item 10, as the attack: an argument is readable by every local user
/// (`/proc/PID/cmdline`, `ps`), so a client secret given as one must be refused, not stored.
#[tokio::test]
async fn app_add_refuses_a_client_secret_given_as_an_argument() {
    let cli = Cli::new();
    cli.run(&["user", "add", "ivan", "--password-stdin"], Some("pw\n"))
        .ok();
    let refused = cli.run(
        &[
            "app",
            "add",
            "--owner",
            "ivan",
            "--name",
            "leaky",
            "--url",
            "http://leaky.example",
            "--client-secret",
            OAUTH_APP.client_secret,
        ],
        None,
    );
    refused.failed();
    assert!(
        refused.stderr.contains("--client-secret-stdin"),
        "the refusal points at the way that works: {}",
        refused.stderr
    );
    assert!(cli.client_ids().is_empty(), "nothing was registered");
    // An empty line is no secret either.
    let empty = cli.run(
        &[
            "app",
            "add",
            "--owner",
            "ivan",
            "--name",
            "empty",
            "--url",
            "http://empty.example",
            "--client-secret-stdin",
        ],
        Some("\n"),
    );
    empty.failed();
    assert!(cli.client_ids().is_empty(), "nothing was registered");
}

#[tokio::test]
async fn seeding_a_file_twice_changes_nothing() {
    let cli = Cli::new();
    let seed = cli.write("seed.toml", DEFAULT_FIXTURE);
    let generated = cli.write(
        "generated.toml",
        "[[apps]]\nname = \"no id\"\nurl = \"http://no-id.example\"\nowner = \"alice\"\nkind = \"oauth\"\n",
    );
    cli.run(&["seed", path_str(&seed)], None).ok();
    let first = cli.run(&["seed", path_str(&generated)], None);
    first.ok();
    let (logins, apps) = (cli.logins(), cli.client_ids());
    assert_eq!(logins.len(), 3, "{logins:?}");
    assert_eq!(apps.len(), 4, "{apps:?}");
    // A generated client secret is printed once, when the app is created.
    assert_eq!(
        hex40_words(&first.stdout).len(),
        1,
        "stdout: {:?}",
        first.stdout
    );

    cli.run(&["seed", path_str(&seed)], None).ok();
    let second = cli.run(&["seed", path_str(&generated)], None);
    second.ok();
    assert!(
        hex40_words(&second.stdout).is_empty(),
        "a second load printed a secret: {:?}",
        second.stdout
    );
    assert_eq!(cli.logins(), logins);
    assert_eq!(
        cli.client_ids(),
        apps,
        "an app without client_id got a twin"
    );

    let srv = cli.server().await;
    assert_eq!(
        status_for(&srv, "alice", crate::support::ALICE.password).await,
        200
    );
    srv.create_app_authorization(&crate::support::ALICE, &OAUTH_APP, json!({}))
        .await;
}

#[tokio::test]
async fn seeding_brings_a_changed_entry_in_line_with_the_file() {
    let cli = Cli::new();
    let seed = cli.write("seed.toml", DEFAULT_FIXTURE);
    cli.run(&["seed", path_str(&seed)], None).ok();
    let changed = DEFAULT_FIXTURE.replace(
        "alice: correct horse battery staple",
        "alice's new password",
    );
    let seed = cli.write("seed.toml", &changed);
    cli.run(&["seed", path_str(&seed)], None).ok();
    let srv = cli.server().await;
    assert_eq!(status_for(&srv, "alice", "alice's new password").await, 200);
    assert_eq!(
        status_for(&srv, "alice", crate::support::ALICE.password).await,
        401
    );
}

#[tokio::test]
async fn a_bad_seed_file_names_the_problem_and_loads_nothing() {
    let good = "[[users]]\nlogin = \"dave\"\npassword = \"dave-pass\"\n\n";
    let cases = [
        (
            "unknown-key.toml",
            format!("{good}[[users]]\nlogin = \"erin\"\npassword = \"x\"\ncolour = \"red\"\n"),
            "colour",
        ),
        (
            "wrong-type.toml",
            format!("{good}[[users]]\nlogin = \"erin\"\npassword = \"x\"\nsite_admin = \"yes\"\n"),
            "site_admin",
        ),
        (
            "duplicate-login.toml",
            format!("{good}[[users]]\nlogin = \"dave\"\npassword = \"again\"\n"),
            "dave",
        ),
        (
            "unknown-owner.toml",
            format!(
                "{good}[[apps]]\nname = \"a\"\nurl = \"http://a.example\"\nowner = \"nobody-at-all\"\n"
            ),
            "nobody-at-all",
        ),
        (
            "duplicate-client-id.toml",
            format!(
                "{good}[[apps]]\nname = \"a\"\nurl = \"http://a.example\"\nowner = \"dave\"\nclient_id = \"abcde12345fghij67890\"\n\n\
                 [[apps]]\nname = \"b\"\nurl = \"http://b.example\"\nowner = \"dave\"\nclient_id = \"abcde12345fghij67890\"\n"
            ),
            "client_id",
        ),
        (
            "not-toml.toml",
            format!("{good}[[users]\nlogin = "),
            "not-toml.toml",
        ),
    ];
    for (name, contents, problem) in cases {
        let cli = Cli::new();
        let path = cli.write(name, &contents);
        let ran = cli.run(&["seed", path_str(&path)], None);
        ran.failed();
        assert!(
            ran.stderr.contains(name),
            "{name}: stderr does not name the file: {}",
            ran.stderr
        );
        assert!(
            ran.stderr.contains(problem),
            "{name}: stderr does not mention {problem:?}: {}",
            ran.stderr
        );
        // Nothing of it was loaded, not even the good entry before the bad one.
        assert!(
            !cli.logins().contains(&"dave".to_owned()),
            "{name}: half-loaded"
        );
        assert!(cli.client_ids().is_empty(), "{name}: half-loaded");
    }
}

#[tokio::test]
async fn serve_refuses_to_start_with_a_bad_seed_file() {
    let cli = Cli::new();
    let path = cli.write(
        "bad.toml",
        "[[users]]\nlogin = \"x\"\npassword = \"y\"\nshoe_size = 44\n",
    );
    let out = grantd(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            &cli.db_url,
            "--seed",
            path_str(&path),
        ],
        None,
    );
    assert!(!out.status.success(), "serve started with a bad seed file");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.toml") && stderr.contains("shoe_size"),
        "stderr: {stderr}"
    );
}
