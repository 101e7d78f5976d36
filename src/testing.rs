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
use crate::http::faults::{self, NewFault};

pub use crate::http::controls::{Authorize, Authorized, JournalEntry, Minted};
pub use crate::http::faults::FaultView;

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
    /// The body's `message`, then the messages of a 422's `errors` (as "Validation Failed:
    /// count must be 1 to …"), which say what the route refused.
    fn from(error: ApiError) -> Self {
        let mut message = error.message().to_owned();
        let details: Vec<&str> = error
            .errors()
            .iter()
            .filter_map(|e| e.message.as_deref())
            .collect();
        if !details.is_empty() {
            message = format!("{message}: {}", details.join("; "));
        }
        Self::Refused {
            status: error.status().as_u16(),
            message,
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
        Ok(controls::mint(
            &self.state,
            asked,
            &crate::domain::audit::Source::command_line(),
        )
        .await?)
    }

    /// Adds a fault (`POST /_grantd/faults`, docs/testing.md): the requests it matches fail
    /// the way GitHub fails, until it is cleared or its [`Fault::count`] runs out. Refused
    /// with the route's 422 for an unknown match, a status the kind does not take, a
    /// `latency` out of 1 ms to a minute, an unknown user, or beyond 64 live faults.
    ///
    /// ```
    /// # use grantd::testing::{Fault, TestServer};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = TestServer::start().await?;
    /// // The next code exchange gets GitHub's 503, the one after goes through.
    /// let fault = server.fault(Fault::status("token", 503).count(1)).await?;
    /// assert_eq!(fault.remaining, Some(1));
    /// server.fault(Fault::rate_limit("GET /user")).await?;
    /// assert_eq!(server.faults()?.len(), 2);
    /// server.clear_faults()?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn fault(&self, fault: Fault) -> Result<FaultView, Error> {
        Ok(faults::add(&self.state, &fault.0).await?)
    }

    /// The live faults, in the order they are tried (`GET /_grantd/faults`).
    pub fn faults(&self) -> Result<Vec<FaultView>, Error> {
        Ok(faults::list(&self.state)?)
    }

    /// Removes the fault `id` ([`FaultView::id`]); [`Error::Refused`] 404 if none has it
    /// (`DELETE /_grantd/faults/{id}`).
    pub fn clear_fault(&self, id: &str) -> Result<(), Error> {
        Ok(faults::remove(&self.state, id)?)
    }

    /// Removes every fault (`DELETE /_grantd/faults`); [`TestServer::reset`] does too.
    pub fn clear_faults(&self) -> Result<(), Error> {
        Ok(faults::clear(&self.state)?)
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

/// A fault for [`TestServer::fault`]: which requests it matches and how they fail
/// (docs/testing.md). `matcher` is a route group (`all`, `api`, `graphql`, `oauth`, `token`,
/// `device`, `applications`, `authorizations`, `user`) or one route of `/openapi.json` as
/// `"METHOD /path"` (`"POST /applications/{client_id}/token"`). Checked when added.
#[derive(Debug, Clone)]
#[must_use]
pub struct Fault(NewFault);

impl Fault {
    fn new(matcher: &str, fault: &str) -> Self {
        Self(NewFault {
            matcher: matcher.to_owned(),
            fault: fault.to_owned(),
            ..NewFault::default()
        })
    }

    /// GitHub's 500 or 502 (`Server Error`), 503 (no server available) or 410 (a deprecated
    /// endpoint's brownout).
    pub fn status(matcher: &str, status: u16) -> Self {
        Self::new(matcher, "status").with_status(status)
    }

    /// The request waits `by` (1 ms to a minute, whole milliseconds), then is served as usual.
    pub fn latency(matcher: &str, by: Duration) -> Self {
        let mut fault = Self::new(matcher, "latency");
        fault.0.latency_ms = Some(u64::try_from(by.as_millis()).unwrap_or(u64::MAX));
        fault
    }

    /// The connection is closed without an answer.
    pub fn drop(matcher: &str) -> Self {
        Self::new(matcher, "drop")
    }

    /// GitHub's primary rate limit: 403 "API rate limit exceeded for ADDRESS." with
    /// `x-ratelimit-remaining: 0` (429 with [`Fault::with_status`]).
    pub fn rate_limit(matcher: &str) -> Self {
        Self::new(matcher, "rate_limit")
    }

    /// GitHub's secondary rate limit: 403 "You have exceeded a secondary rate limit…" with
    /// `retry-after: 60` (429 with [`Fault::with_status`]).
    pub fn secondary_rate_limit(matcher: &str) -> Self {
        Self::new(matcher, "secondary_rate_limit")
    }

    /// `login`'s password sign-ins without `X-GitHub-OTP` get GitHub's 401 "Must specify
    /// two-factor authentication OTP code.", as if the user had two-factor on.
    pub fn otp_required(matcher: &str, login: &str) -> Self {
        let mut fault = Self::new(matcher, "otp_required");
        fault.0.user = Some(login.to_owned());
        fault
    }

    /// The status a rate limit answers (403 or 429), or a `status` fault's.
    pub fn with_status(mut self, status: u16) -> Self {
        self.0.status = Some(status);
        self
    }

    /// Applies to the next `n` matching requests only (1 to 1,000,000), then removes itself;
    /// without it, until cleared.
    pub fn count(mut self, n: u64) -> Self {
        self.0.count = Some(n);
        self
    }
}
