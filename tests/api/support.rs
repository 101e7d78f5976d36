//! Test harness for the integration suite: a real grantd server per test, on its own temporary
//! SQLite database and seed, reached over real HTTP on a port the OS picked.
//!
//! The listener is bound *before* `grantd::serve` is spawned, so a test can send its first request
//! at once: no polling, no sleeps, no port counters. Nothing here knows the server's internals; it
//! only uses the public library API (`store::open_for_serving`, `fixture::load_file`, `AppState`, `serve`) and
//! the docs' wire contract; the app-side tests also read account and repository ids (which no
//! endpoint lists) through the public `Store` trait, and move the server's clock (`TestClock`).

mod apps;
mod clock;
pub mod conformance;
#[cfg(unix)]
mod gh;
mod json;
mod process;
mod tls;
mod tokens;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Client, Method, RequestBuilder};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use apps::*;
pub use clock::*;
#[cfg(unix)]
pub use gh::*;
pub use json::*;
pub use process::*;
pub use tls::*;
pub use tokens::*;

// ---------------------------------------------------------------------------------------------
// The default seed: three users and three apps with known secrets.
// ---------------------------------------------------------------------------------------------

pub struct User {
    pub login: &'static str,
    pub password: &'static str,
}

pub const ALICE: User = User {
    login: "alice",
    password: "alice: correct horse battery staple",
};
pub const BOB: User = User {
    login: "bob",
    password: "bob: tr0ub4dor&3",
};
/// Has two-factor authentication on, with `TOTP_SECRET`.
pub const ALICE2FA: User = User {
    login: "alice2fa",
    password: "alice2fa: hunter2 hunter2",
};
pub const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXP";

pub struct App {
    pub name: &'static str,
    pub url: &'static str,
    pub client_id: &'static str,
    pub client_secret: &'static str,
    /// The prefix of the tokens its authorizations carry: `gho_` (OAuth app) or `ghu_` (GitHub App).
    pub token_prefix: &'static str,
}

pub const OAUTH_APP: App = App {
    name: "my oauth app",
    url: "http://my-oauth-app.example.com",
    client_id: "abcde12345fghij67890",
    client_secret: "3ef4ad510c59ad37bac6bb4f80047fb3aee3cc7f",
    token_prefix: "gho_",
};

pub const GITHUB_APP: App = App {
    name: "my github app",
    url: "http://my-github-app.com",
    client_id: "Iv1.0123456789abcdef",
    client_secret: "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
    token_prefix: "ghu_",
};

/// A second OAuth app (owned by bob), for filters, unions and pagination across apps.
pub const OTHER_APP: App = App {
    name: "other oauth app",
    url: "https://other.example.org/app",
    client_id: "zyxwv98765utsrq43210",
    client_secret: "ffeeddccbbaa99887766554433221100ffeeddcc",
    token_prefix: "gho_",
};

pub const DEFAULT_FIXTURE: &str = r#"
[[users]]
login = "alice"
password = "alice: correct horse battery staple"
email = "alice@example.com"

[[users]]
login = "bob"
password = "bob: tr0ub4dor&3"

[[users]]
login = "alice2fa"
password = "alice2fa: hunter2 hunter2"
totp_secret = "JBSWY3DPEHPK3PXP"

[[apps]]
name = "my oauth app"
url = "http://my-oauth-app.example.com"
owner = "alice"
kind = "oauth"
client_id = "abcde12345fghij67890"
client_secret = "3ef4ad510c59ad37bac6bb4f80047fb3aee3cc7f"

[[apps]]
name = "my github app"
url = "http://my-github-app.com"
owner = "alice"
kind = "github"
client_id = "Iv1.0123456789abcdef"
client_secret = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"

[[apps]]
name = "other oauth app"
url = "https://other.example.org/app"
owner = "bob"
kind = "oauth"
client_id = "zyxwv98765utsrq43210"
client_secret = "ffeeddccbbaa99887766554433221100ffeeddcc"
"#;

impl App {
    /// The `app` object of an authorization or grant of this app.
    pub fn json(&self) -> Value {
        json!({ "name": self.name, "url": self.url, "client_id": self.client_id })
    }
}

// ---------------------------------------------------------------------------------------------
// TestServer
// ---------------------------------------------------------------------------------------------

pub struct TestServer {
    pub client: Client,
    addr: SocketAddr,
    public_url: String,
    /// `Some` when the test chose the public URL; `None` means `http://<bound address>`, which
    /// then follows the port across restarts.
    fixed_public_url: Option<String>,
    db_url: String,
    dir: tempfile::TempDir,
    /// The server's clock: real time unless a test moves or pins it (expiring tokens).
    pub clock: std::sync::Arc<TestClock>,
    /// The server's store, for ground truth the API does not show (account and repository ids).
    store: Option<std::sync::Arc<dyn grantd::store::Store>>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    /// Rate limits, login throttling and the Authorizations API's status, kept across restarts.
    options: ServerOptions,
    /// Over HTTPS (`spawn_tls`): the certificate served, and the PEM of the CA that signed it.
    tls: Option<(grantd::tls::Tls, Vec<u8>)>,
    /// A listener to serve on at the first start instead of a new one on `127.0.0.1:0`.
    prebound: Option<TcpListener>,
}

/// What a test may change about the server beyond its fixture.
#[derive(Clone, Copy, Default)]
pub struct ServerOptions {
    pub limits: grantd::http::Limits,
    pub authorizations_api: grantd::http::ApiStatus,
    /// PostgreSQL: the pool's size (`--db-pool-size`); default 16.
    pub db_pool_size: Option<u32>,
    /// Serve without the SQLite token index (`--token-cache-size 0`): every lookup queries.
    pub without_token_index: bool,
    /// Count requests and serve `GET /metrics` (`--metrics on`).
    pub metrics: bool,
    /// `--header-read-timeout`, `--idle-timeout` and `--max-connections`; `serve`'s defaults
    /// if `None`.
    pub connections: Option<grantd::server::ConnectionLimits>,
    /// `--ghes-version`; 3.19.0 if `None`.
    pub ghes_version: Option<&'static str>,
}

impl TestServer {
    /// A server on a fresh database seeded with `DEFAULT_FIXTURE`.
    pub async fn spawn() -> Self {
        Self::spawn_seeded(DEFAULT_FIXTURE, None).await
    }

    /// Same, but every `url` field and `Link` header must be built on `public_url`.
    pub async fn spawn_with_public_url(public_url: &str) -> Self {
        Self::spawn_seeded(DEFAULT_FIXTURE, Some(public_url.to_owned())).await
    }

    pub async fn spawn_seeded(fixture: &str, public_url: Option<String>) -> Self {
        Self::spawn_with_options(fixture, public_url, ServerOptions::default()).await
    }

    /// A server on `fixture` with non-default limits or Authorizations API status.
    pub async fn spawn_with_options(
        fixture: &str,
        public_url: Option<String>,
        options: ServerOptions,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db_url = fresh_database_url(&dir.path().join("grantd.db")).await;
        let store = serving_store(&db_url, options)
            .await
            .expect("open the store");
        let seed = dir.path().join("seed.toml");
        std::fs::write(&seed, fixture).expect("write the seed");
        grantd::fixture::load_file(store.as_ref(), &seed, time::OffsetDateTime::now_utc())
            .await
            .expect("load the default fixture");
        Self::start(dir, db_url, store, public_url, options, None).await
    }

    /// A server on `DEFAULT_FIXTURE` over HTTPS, with a certificate by a CA of its own (made
    /// as `--tls-self-signed` makes it, in the server's directory, for `public_url`'s host
    /// and the loopback names); `client` trusts that CA alone, and `url` is https. The public
    /// URL defaults to `https://<bound address>`.
    pub async fn spawn_tls(public_url: Option<String>, options: ServerOptions) -> Self {
        Self::spawn_tls_on(None, public_url, options, DEFAULT_FIXTURE).await
    }

    /// [`Self::spawn_tls`] on a listener bound already (port 443 of a loopback address of the
    /// test's own, for `gh`), whose address the certificate then covers too, seeded with
    /// `fixture`.
    pub async fn spawn_tls_on(
        listener: Option<TcpListener>,
        public_url: Option<String>,
        options: ServerOptions,
        fixture: &str,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let host = public_url
            .as_deref()
            .and_then(grantd::tls::self_signed::host_of)
            .unwrap_or_else(|| "127.0.0.1".to_owned());
        let mut names = grantd::tls::self_signed::names(Some(&host));
        if let Some(listener) = &listener {
            let ip = listener.local_addr().expect("local addr").ip().to_string();
            if !names.contains(&ip) {
                names.push(ip);
            }
        }
        let files = make_certificates_for(dir.path(), &names);
        let tls =
            grantd::tls::Tls::from_files(&files.cert, &files.key).expect("load the certificate");
        let ca = std::fs::read(&files.ca_cert).expect("read the CA");
        let db_url = fresh_database_url(&dir.path().join("grantd.db")).await;
        let store = serving_store(&db_url, options)
            .await
            .expect("open the store");
        let seed = dir.path().join("seed.toml");
        std::fs::write(&seed, fixture).expect("write the seed");
        grantd::fixture::load_file(store.as_ref(), &seed, time::OffsetDateTime::now_utc())
            .await
            .expect("load the fixture");
        let mut srv = Self::unstarted(dir, db_url, public_url, options, Some((tls, ca)));
        srv.prebound = listener;
        srv.launch(store).await;
        srv
    }

    /// The certificate served (`spawn_tls`), to reload it as SIGHUP does.
    pub fn tls(&self) -> &grantd::tls::Tls {
        &self
            .tls
            .as_ref()
            .expect("a server spawned with spawn_tls")
            .0
    }

    /// The PEM of the CA that signed the server's certificate (`spawn_tls`).
    pub fn ca_pem(&self) -> &[u8] {
        &self
            .tls
            .as_ref()
            .expect("a server spawned with spawn_tls")
            .1
    }

    /// A server on an existing database file (made by the CLI, say), with no seed of its own.
    pub async fn spawn_on_database(db_path: &Path) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db_url = sqlite_url(db_path);
        let options = ServerOptions::default();
        let store = serving_store(&db_url, options)
            .await
            .expect("open the store");
        Self::start(dir, db_url, store, None, options, None).await
    }

    async fn start(
        dir: tempfile::TempDir,
        db_url: String,
        store: std::sync::Arc<dyn grantd::store::Store>,
        fixed_public_url: Option<String>,
        options: ServerOptions,
        tls: Option<(grantd::tls::Tls, Vec<u8>)>,
    ) -> Self {
        let mut srv = Self::unstarted(dir, db_url, fixed_public_url, options, tls);
        srv.launch(store).await;
        srv
    }

    fn unstarted(
        dir: tempfile::TempDir,
        db_url: String,
        fixed_public_url: Option<String>,
        options: ServerOptions,
        tls: Option<(grantd::tls::Tls, Vec<u8>)>,
    ) -> Self {
        Self {
            client: Client::new(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_url: String::new(),
            fixed_public_url,
            db_url,
            dir,
            clock: std::sync::Arc::new(TestClock::default()),
            store: None,
            shutdown: None,
            task: None,
            options,
            tls,
            prebound: None,
        }
    }

    async fn launch(&mut self, store: std::sync::Arc<dyn grantd::store::Store>) {
        // Bound before the server task exists: the port is ours and ready for the first request.
        let listener = match self.prebound.take() {
            Some(listener) => listener,
            None => TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind 127.0.0.1:0"),
        };
        self.addr = listener.local_addr().expect("local addr");
        self.public_url = self
            .fixed_public_url
            .clone()
            .unwrap_or_else(|| format!("{}://{}", self.scheme(), self.addr));
        self.store = Some(store.clone());
        let clock: std::sync::Arc<dyn grantd::domain::clock::Clock> = self.clock.clone();
        let mut state = grantd::AppState::with_clock(store, self.public_url.clone(), clock)
            .with_limits(self.options.limits)
            .with_authorizations_api(self.options.authorizations_api)
            .with_connection_limits(self.options.connections.unwrap_or_default());
        if let Some(version) = self.options.ghes_version {
            state = state.with_ghes_version(version);
        }
        if self.options.metrics {
            state = state.with_metrics();
        }
        if let Some((tls, _)) = &self.tls {
            state = state.with_tls(tls.clone());
        }
        let (tx, rx) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = rx.await;
        };
        self.task = Some(tokio::spawn(grantd::serve(listener, state, shutdown)));
        self.shutdown = Some(tx);
        self.client = self.new_client();
    }

    /// A client of this server: over HTTPS, one that trusts the server's CA alone.
    pub fn new_client(&self) -> Client {
        match &self.tls {
            None => Client::new(),
            Some((_, ca)) => client_trusting(ca).build().expect("a TLS client"),
        }
    }

    fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// Shuts the server down gracefully and starts a new one on the same database file (on a new
    /// port), as an operator restarting the service would.
    pub async fn restart(&mut self) {
        // A fresh client: the old one's pooled keep-alive connections belong to the old server.
        self.client = self.new_client();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let ended = tokio::time::timeout(Duration::from_secs(20), task).await;
            let ended = ended.expect("the server shuts down within 20 s of its shutdown signal");
            ended
                .expect("server task joined")
                .expect("serve returned Ok");
        }
        // Our handle on the old store goes with the old server.
        self.store = None;
        let store = serving_store(&self.db_url, self.options)
            .await
            .expect("reopen the store");
        self.launch(store).await;
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn db_url(&self) -> &str {
        &self.db_url
    }

    /// The bound address, for tests that speak raw TCP.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where to send a request (the real bound address).
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{}", self.scheme(), self.addr, path)
    }

    /// What the server must write in `url` fields and `Link` headers for `path`.
    pub fn public(&self, path: &str) -> String {
        format!("{}{}", self.public_url, path)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }
    pub fn post(&self, path: &str) -> RequestBuilder {
        self.request(Method::POST, path)
    }
    pub fn put(&self, path: &str) -> RequestBuilder {
        self.request(Method::PUT, path)
    }
    pub fn patch(&self, path: &str) -> RequestBuilder {
        self.request(Method::PATCH, path)
    }
    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.request(Method::DELETE, path)
    }

    // --- shortcuts that assert their own success -------------------------------------------

    /// POST /authorizations for a personal access token; asserts 201 and returns the body.
    pub async fn create_pat(&self, user: &User, note: &str) -> Value {
        self.create_pat_with(user, json!({ "note": note })).await
    }

    pub async fn create_pat_with(&self, user: &User, body: Value) -> Value {
        self.post("/authorizations")
            .login_as(user)
            .json(&body)
            .go()
            .await
            .expect_status(201)
    }

    /// POST /authorizations with the app's client_id and client_secret merged into `extra`;
    /// asserts 201 and returns the body.
    pub async fn create_app_authorization(&self, user: &User, app: &App, extra: Value) -> Value {
        let body = merge(
            json!({ "client_id": app.client_id, "client_secret": app.client_secret }),
            extra,
        );
        self.post("/authorizations")
            .login_as(user)
            .json(&body)
            .go()
            .await
            .expect_status(201)
    }

    /// PUT /authorizations/clients/{client_id}[/{fingerprint}] with the app's secret merged into
    /// `extra`; the caller checks the status.
    pub async fn get_or_create(
        &self,
        user: &User,
        app: &App,
        fingerprint: Option<&str>,
        extra: Value,
    ) -> Reply {
        let path = match fingerprint {
            Some(fp) => format!("/authorizations/clients/{}/{fp}", app.client_id),
            None => format!("/authorizations/clients/{}", app.client_id),
        };
        let body = merge(json!({ "client_secret": app.client_secret }), extra);
        self.put(&path).login_as(user).json(&body).go().await
    }

    /// GET /authorizations?per_page=100 as `user`; asserts 200.
    pub async fn authorizations(&self, user: &User) -> Vec<Value> {
        let body = self
            .get("/authorizations?per_page=100")
            .login_as(user)
            .go()
            .await
            .expect_status(200);
        body.as_array().expect("a JSON array").clone()
    }

    /// GET /applications/grants?per_page=100 as `user`; asserts 200.
    pub async fn grants(&self, user: &User) -> Vec<Value> {
        let body = self
            .get("/applications/grants?per_page=100")
            .login_as(user)
            .go()
            .await
            .expect_status(200);
        body.as_array().expect("a JSON array").clone()
    }

    /// An authorization as the server must show it: fields not given in `fields` take their
    /// "nothing set" value; `reveal` says whether the clear token is in the body (only in the
    /// response that created it).
    pub fn authorization(&self, id: i64, token: &str, reveal: bool, fields: Value) -> Value {
        merge(
            json!({
                "id": id,
                "url": self.public(&format!("/authorizations/{id}")),
                "scopes": [],
                "token": if reveal { token } else { "" },
                "token_last_eight": &token[token.len().saturating_sub(8)..],
                "hashed_token": sha256_hex(token),
                "app": null,
                "note": null,
                "note_url": null,
                "updated_at": TIMESTAMP,
                "created_at": TIMESTAMP,
                "expires_at": null,
                "fingerprint": null,
            }),
            fields,
        )
    }

    /// A grant as the server must show it.
    pub fn grant(&self, id: i64, app: &App, scopes: Value) -> Value {
        json!({
            "id": id,
            "url": self.public(&format!("/applications/grants/{id}")),
            "app": app.json(),
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
            "scopes": scopes,
        })
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The engine every `TestServer` runs on: PostgreSQL when `GRANTD_TEST_POSTGRES` names a
/// server (scripts/with-postgres sets it), SQLite otherwise.
pub fn postgres_admin_url() -> Option<String> {
    std::env::var("GRANTD_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.is_empty())
}

/// The engine a test needs, when it tests something only one engine has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Fails the test when the suite runs on the other engine. Such tests live in a module named
/// `sqlite_only` or `postgres_only`, and `scripts/test` runs each in its engine's pass only; run
/// by hand on the wrong engine they fail loudly instead of passing without testing anything.
pub fn require_engine(engine: Engine) {
    let running = if postgres_admin_url().is_some() {
        Engine::Postgres
    } else {
        Engine::Sqlite
    };
    assert_eq!(
        running, engine,
        "this test needs {engine:?}: scripts/test runs it in that engine's pass \
         (PostgreSQL through scripts/with-postgres, which sets GRANTD_TEST_POSTGRES)"
    );
}

/// A new, empty database for one test: a fresh database on the PostgreSQL server under test,
/// or `sqlite_path` when the suite runs on SQLite.
pub async fn fresh_database_url(sqlite_path: &Path) -> String {
    let Some(admin) = postgres_admin_url() else {
        return sqlite_url(sqlite_path);
    };
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).expect("random database name");
    let name = format!("grantd_test_{}", hex::encode(suffix));
    let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
        .await
        .expect("connect to the PostgreSQL server under test");
    sqlx::Executor::execute(
        &mut connection,
        sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")),
    )
    .await
    .expect("create a test database");
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(base, _)| base);
    format!("{base}/{name}")
}

pub fn sqlite_url(path: &Path) -> String {
    // `path` is absolute, so this is the `sqlite:///abs/path` form.
    format!("sqlite://{}", path.display())
}

// ---------------------------------------------------------------------------------------------
// Requests and replies
// ---------------------------------------------------------------------------------------------

pub trait RequestExt {
    /// HTTP Basic with the user's password (no OTP).
    fn login_as(self, user: &User) -> Self;
    /// Sends, and reads the whole reply. A transport error fails the test.
    fn go(self) -> impl Future<Output = Reply> + Send;
}

impl RequestExt for RequestBuilder {
    fn login_as(self, user: &User) -> Self {
        self.basic_auth(user.login, Some(user.password))
    }

    async fn go(self) -> Reply {
        let (client, request) = self.build_split();
        let request = request.expect("a well-formed request");
        let (method, path) = (
            request.method().to_string(),
            request.url().path().to_owned(),
        );
        let res = client
            .execute(request)
            .await
            .expect("the request reaches the server");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.text().await.expect("read the body");
        // Every answer of a documented operation must match GitHub's official schema.
        conformance::check(&method, &path, status, &body);
        Reply {
            status,
            headers,
            body,
        }
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {:?}",
                self.status, self.body
            )
        })
    }

    /// Asserts the status (showing the body when it differs) and returns the JSON body.
    #[track_caller]
    pub fn expect_status(&self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        self.json()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ASCII header").to_owned())
    }

    /// Asserts a 204 with an empty body.
    #[track_caller]
    pub fn expect_no_content(&self) {
        assert_eq!(self.status, 204, "unexpected status; body: {}", self.body);
        assert_eq!(self.body, "", "a 204 has no body");
    }
}

/// The store as `grantd serve` opens it: counters in memory and, on SQLite, the token index,
/// so every in-process server test also exercises them.
/// `--token-cache-size`'s default.
const TOKEN_CACHE: usize = 100_000;

/// The store `grantd serve` would open with these options.
async fn serving_store(
    db_url: &str,
    options: ServerOptions,
) -> Result<std::sync::Arc<dyn grantd::store::Store>, grantd::store::Error> {
    let mut settings = grantd::store::PoolSettings::default();
    if let Some(size) = options.db_pool_size {
        settings.max_connections = Some(size);
    }
    let token_cache = if options.without_token_index {
        0
    } else {
        TOKEN_CACHE
    };
    let key = secret_key_file_for(db_url);
    grantd::store::open_for_serving(db_url, settings, token_cache, key.as_deref()).await
}

/// The `--secret-key-file` a test gives for `db_url`: on PostgreSQL, which needs one given,
/// the suite's shared key (every node and command of a test must use the same one); on
/// SQLite none, so the default `<database>.key` beside each test's file is used.
pub fn secret_key_file_for(db_url: &str) -> Option<std::path::PathBuf> {
    if !db_url.starts_with("postgres") {
        return None;
    }
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("grantd-test-postgres.key");
    if !path.exists() {
        // The same fixed key from every test process, written whole and renamed into place,
        // so no reader ever sees a partial or different one.
        let partial = path.with_extension(format!("key.{}", std::process::id()));
        std::fs::write(&partial, format!("{}\n", "5e".repeat(32))).expect("write the test key");
        std::fs::rename(&partial, &path).expect("move the test key into place");
    }
    Some(path)
}
