//! grantd inside a Rust project's own tests: [`TestServer`] runs the server that
//! `grantd serve --ephemeral --test-controls --listen 127.0.0.1:0` runs (the same start-up
//! code, router and throwaway SQLite database) as a task of the caller's tokio runtime, so
//! the tests need no binary. The test controls are methods here, calling what the
//! `/_grantd/` routes call, without an HTTP round trip; the routes answer too
//! ([`TestServer::control_token`]), for code under test that drives them itself.
//!
//! Point the code under test at [`TestServer::url`] (or [`TestServer::api_url`], the GitHub
//! Enterprise Server form most clients take as their base URL). Without a seed the server
//! holds `examples/seed.toml`: `octocat` (password `correct horse battery staple`), `hubot`
//! (two-factor on), the OAuth app `abcde12345fghij67890` (device flow on) and three more apps.
//!
//! ```
//! use grantd::testing::TestServer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = TestServer::start().await?;
//! // A token as if octocat had signed in to the seed's OAuth app through the web flow.
//! let minted = server
//!     .mint("octocat", "abcde12345fghij67890", &["repo"])
//!     .await?;
//! let user = reqwest::Client::new()
//!     .get(format!("{}/user", server.api_url()))
//!     .bearer_auth(&minted.access_token)
//!     .header("user-agent", "doctest")
//!     .send()
//!     .await?;
//! assert_eq!(user.status(), 200);
//!
//! // Expiry without waiting: the server's clock, which every rule reads, a day on.
//! server.clock().advance(std::time::Duration::from_hours(24))?;
//! // Back to the seed's state (tokens gone, clock back) between tests.
//! server.reset().await?;
//! // What the code under test sent: routes as matched, never a token.
//! assert_eq!(server.requests()[0].route.as_deref(), Some("/api/v3/user"));
//! server.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! Each `TestServer` is independent: its own port, database, clock and control token, so
//! tests running at once each start their own, or share one and take a snapshot. Dropping it
//! stops the server (in-flight requests finish) and removes its database;
//! [`TestServer::shutdown`] does the same and waits for it.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::cli::serve::{self, Seeding};
use crate::config::ServeArgs;
use crate::domain::clock::Clock as _;
use crate::domain::clock::SystemClock;
use crate::http::AppState;
use crate::http::controls::{self, ControlToken, Controls};
use crate::http::error::ApiError;

pub use crate::http::controls::{Authorize, Authorized, JournalEntry, Minted};

/// Why a [`TestServer`] could not start or refused a control.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag `grantd serve` refuses, a seed that does not load, a port that cannot be bound.
    #[error("cannot start grantd: {0:#}")]
    Start(anyhow::Error),
    /// A control refused, with the status and message its `/_grantd/` route answers: 404 for
    /// an unknown user, app, code or snapshot, 422 for a value out of range.
    #[error("{status} {message}")]
    Refused { status: u16, message: String },
    /// The server stopped with an error, or its task panicked.
    #[error("the server failed: {0}")]
    Server(std::io::Error),
}

impl From<ApiError> for Error {
    fn from(error: ApiError) -> Self {
        Self::Refused {
            status: error.status().as_u16(),
            message: error.message().to_owned(),
        }
    }
}

/// A grantd server with its test controls, serving on a free loopback port for as long as it
/// lives. See the [module documentation](self).
pub struct TestServer {
    url: String,
    address: SocketAddr,
    token: ControlToken,
    state: AppState,
    controls: Arc<Controls>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// How a [`TestServer`] starts: a seed, a fixed control token, any other `grantd serve` flag.
#[derive(Debug, Default)]
#[must_use]
pub struct Builder {
    args: Vec<OsString>,
}

impl Builder {
    /// Loads this fixture file (docs/fixtures.md) instead of `examples/seed.toml`.
    pub fn seed(self, path: impl AsRef<Path>) -> Self {
        self.arg("--seed").arg(path.as_ref())
    }

    /// Fixes the control token (16 to 256 of `A-Z a-z 0-9 _ . -`) instead of a random one.
    pub fn control_token(self, token: impl Into<OsString>) -> Self {
        self.arg("--control-token").arg(token)
    }

    /// Any other flag of `grantd serve` (docs/cli.md), such as `--rate-limit`, and its value
    /// as the next `arg`. `--ephemeral`, `--test-controls` and `--listen 127.0.0.1:0` are
    /// always given; environment variables (`GRANTD_*`) are not read.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Parses the flags as `grantd serve` does, starts the server and returns once it is
    /// listening (its seed loaded and its reset state saved).
    pub async fn start(self) -> Result<TestServer, Error> {
        let args = serve_args(self.args).map_err(|e| Error::Start(e.into()))?;
        let prepared = serve::prepare(args, Seeding::Quiet)
            .await
            .map_err(Error::Start)?;
        let (Some(token), Some(controls)) =
            (prepared.control_token, prepared.state.controls.clone())
        else {
            return Err(Error::Start(anyhow::anyhow!("the test controls are off")));
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let state = prepared.state.clone();
        let ephemeral = prepared.ephemeral;
        let task = tokio::spawn(async move {
            // A dropped sender stops the server as a sent message does.
            let served = crate::serve(prepared.listener, prepared.state, async {
                let _ = stopped.await;
            })
            .await;
            // The database directory goes only once nothing serves from it.
            drop(ephemeral);
            served
        });
        Ok(TestServer {
            url: format!("http://{}", prepared.address),
            address: prepared.address,
            token,
            state,
            controls,
            stop: Some(stop),
            task: Some(task),
        })
    }
}

/// `grantd serve`'s flags with the test server's own first, parsed by the CLI's own parser
/// (so every default is the binary's) with the `GRANTD_*` variables ignored: a developer's
/// environment must not change what a test sees.
fn serve_args(extra: Vec<OsString>) -> Result<ServeArgs, clap::Error> {
    use clap::{Args, FromArgMatches};
    let mut argv: Vec<OsString> = ["--ephemeral", "--test-controls", "--listen", "127.0.0.1:0"]
        .into_iter()
        .map(OsString::from)
        .collect();
    argv.extend(extra);
    let command = ServeArgs::augment_args(clap::Command::new("grantd-test-server"))
        .no_binary_name(true)
        .mut_args(|arg| arg.env(None));
    let matches = command.try_get_matches_from(argv)?;
    ServeArgs::from_arg_matches(&matches)
}

impl TestServer {
    /// A server seeded with `examples/seed.toml`; [`TestServer::builder`] for more.
    pub async fn start() -> Result<Self, Error> {
        Self::builder().start().await
    }

    pub fn builder() -> Builder {
        Builder::default()
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash: the API, the OAuth endpoints and the
    /// sign-in pages all answer here.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `http://127.0.0.1:PORT/api/v3`, the base URL of a GitHub Enterprise Server's API, which
    /// octokit, PyGithub, octocrab and `gh` take; they then find the OAuth endpoints at its root.
    pub fn api_url(&self) -> String {
        format!("{}/api/v3", self.url)
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The token the `/_grantd/` routes require (`Authorization: Bearer …`).
    pub fn control_token(&self) -> &str {
        self.token.expose()
    }

    /// The server's clock: every rule that reads time follows it (docs/testing.md).
    pub fn clock(&self) -> TestClock {
        TestClock(self.controls.clock.clone())
    }

    /// Back to the state right after seeding, and the clock back to the system's
    /// (`POST /_grantd/reset`). The request journal is kept.
    pub async fn reset(&self) -> Result<(), Error> {
        Ok(controls::reset_to_seed(&self.state).await?)
    }

    /// Saves the whole state (not the clock) under `name`, replacing a snapshot of that name
    /// (`POST /_grantd/snapshots/{name}`).
    pub async fn snapshot(&self, name: &str) -> Result<(), Error> {
        Ok(controls::save_named(&self.state, name).await?)
    }

    /// Restores the snapshot `name`; [`Error::Refused`] 404 if it was never saved.
    pub async fn restore(&self, name: &str) -> Result<(), Error> {
        Ok(controls::restore_named(&self.state, name).await?)
    }

    /// As if `login` had entered the device flow's `user_code` at `/login/device` and
    /// approved: the device's next poll gets its token. 404 if the code is unknown, expired
    /// or already decided.
    pub async fn approve_device(&self, user_code: &str, login: &str) -> Result<(), Error> {
        Ok(controls::decide_device_code(&self.state, user_code, login, true).await?)
    }

    /// As if `login` had cancelled: the next poll gets `access_denied`.
    pub async fn deny_device(&self, user_code: &str, login: &str) -> Result<(), Error> {
        Ok(controls::decide_device_code(&self.state, user_code, login, false).await?)
    }

    /// As if `asked.login` had approved the app on the web flow's consent page: the redirect
    /// URL with the `code` (and `state`) the app exchanges at `/login/oauth/access_token`.
    pub async fn authorize(&self, asked: Authorize) -> Result<Authorized, Error> {
        Ok(controls::authorize_as(&self.state, asked).await?)
    }

    /// A user token of the app (`gho_` for an OAuth app, `ghu_` for a GitHub App, with a
    /// refresh token when the app's user tokens expire), as the web flow issues it.
    pub async fn mint(
        &self,
        login: &str,
        client_id: &str,
        scopes: &[&str],
    ) -> Result<Minted, Error> {
        self.mint_with(login, client_id, scopes, None).await
    }

    /// [`TestServer::mint`] with a lifetime of its own (whole seconds, 1 s to ten years).
    pub async fn mint_expiring(
        &self,
        login: &str,
        client_id: &str,
        scopes: &[&str],
        lifetime: Duration,
    ) -> Result<Minted, Error> {
        let seconds = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
        self.mint_with(login, client_id, scopes, Some(seconds))
            .await
    }

    async fn mint_with(
        &self,
        login: &str,
        client_id: &str,
        scopes: &[&str],
        expires_in: Option<i64>,
    ) -> Result<Minted, Error> {
        let asked = controls::Mint {
            login: login.to_owned(),
            client_id: client_id.to_owned(),
            scopes: scopes.iter().map(|&s| s.to_owned()).collect(),
            expires_in,
        };
        Ok(controls::mint(&self.state, asked).await?)
    }

    /// The requests answered so far (the last 1,000, oldest first, the controls' own left
    /// out): route template, status, app and user, never a secret.
    pub fn requests(&self) -> Vec<JournalEntry> {
        self.controls.journal.last(controls::JOURNAL_CAPACITY)
    }

    /// Empties the journal.
    pub fn clear_requests(&self) {
        self.controls.journal.clear();
    }

    /// Stops accepting connections, lets the requests in flight finish, removes the database
    /// and returns once all that is done.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        self.stop.take();
        let Some(task) = self.task.take() else {
            return Ok(());
        };
        match task.await {
            Ok(served) => served.map_err(Error::Server),
            Err(joined) => Err(Error::Server(std::io::Error::other(joined))),
        }
    }
}

impl Drop for TestServer {
    /// Stops the server (without waiting for it): it stops accepting connections at once,
    /// finishes the requests in flight and removes its database.
    fn drop(&mut self) {
        self.stop.take();
    }
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// A [`TestServer`]'s clock: the system's moved by an offset, and still running (set to noon,
/// it reads 12:00:05 five seconds later). Whole seconds; at most ten years from the system's.
#[derive(Debug, Clone)]
pub struct TestClock(Arc<SystemClock>);

impl TestClock {
    pub fn now(&self) -> OffsetDateTime {
        self.0.now()
    }

    /// Makes it read `at` now.
    pub fn set(&self, at: OffsetDateTime) -> Result<(), Error> {
        Ok(controls::set_clock_to(&self.0, at)?)
    }

    /// Moves it forward by `by` (whole seconds).
    pub fn advance(&self, by: Duration) -> Result<(), Error> {
        Ok(controls::advance_clock_by(&self.0, seconds(by))?)
    }

    /// Moves it back by `by` (whole seconds).
    pub fn rewind(&self, by: Duration) -> Result<(), Error> {
        Ok(controls::advance_clock_by(&self.0, -seconds(by))?)
    }

    /// Back to the system's time.
    pub fn reset(&self) {
        self.0.reset();
    }
}

/// Whole seconds, saturating (the bound check then refuses it).
fn seconds(by: Duration) -> i64 {
    i64::try_from(by.as_secs()).unwrap_or(i64::MAX)
}
