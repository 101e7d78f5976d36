//! The command line, as clap structs. Every flag of `serve` can also come from a `GRANTD_*`
//! environment variable, so containers and CI can configure grantd without a wrapper script;
//! `serve`'s flags become one validated [`ServeConfig`] (`config/serve.rs`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod serve;
pub use serve::{ConfigError, Database, ServeConfig, TlsSource};

#[derive(Debug, Parser)]
#[command(
    name = "grantd",
    // The commit too (build.rs), so a running server's code can be told apart from another's.
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("GRANTD_COMMIT"), ")"),
    about = "A self-hosted, GitHub-compatible OAuth token authority"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// `serve`'s arguments dwarf the other commands' (clap parses one command, once), not worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API server.
    Serve(ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage OAuth apps and GitHub Apps.
    #[command(subcommand)]
    App(AppCommand),
    /// Load users and apps from a fixture file (idempotent: loading twice changes nothing).
    Seed(SeedArgs),
    /// Write every user, app, grant and token (as hashes) of a database as JSON, to move it to
    /// another database or engine with `grantd import`.
    Export {
        /// Where to write the dump (standard output if absent). It holds password hashes and
        /// token hashes: keep it as private as the database.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Load a `grantd export` dump into a new, empty database (SQLite or PostgreSQL).
    Import {
        /// The dump file.
        file: PathBuf,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Tokens in bulk, for fixtures and benchmarks.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Print the audit log, newest first: every change to tokens, grants, apps, two-factor
    /// authentication, passwords and suspensions, and every sign-in.
    Audit(AuditArgs),
    /// Apply the embedded schema migrations and exit (serve also does this at start).
    Migrate {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
}

/// Where the data lives; shared by every command.
#[derive(Debug, Args, Clone)]
pub struct DbArgs {
    /// Database URL. SQLite files are created, with their schema, when missing.
    #[arg(long, env = "GRANTD_DB", default_value = "sqlite://grantd.db")]
    pub db: String,
    /// The key that seals TOTP secrets in the database (64 hex digits), kept apart from it so
    /// that a copy of the database alone reveals none. SQLite: default `<database file>.key`,
    /// created on first start. PostgreSQL: required once any user has 2FA, the same file on
    /// every node.
    #[arg(long, env = "GRANTD_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
}

/// How management commands print their results.
#[derive(Debug, Args, Clone, Copy)]
pub struct OutputArgs {
    /// Print machine-readable JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (port 0 picks a free one; the chosen address is printed).
    #[arg(long, env = "GRANTD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub db: DbArgs,
    /// Fixture file to load before serving.
    #[arg(long, env = "GRANTD_SEED")]
    pub seed: Option<PathBuf>,
    /// The API's root URL as clients reach it (behind a proxy, say), used in every `url`
    /// field and `Link` header: an absolute http:// or https:// URL with a host and no query or
    /// fragment, the host root or GHES's `/api/v3` base (pages live at it without `/api/v3`).
    /// Defaults to http://<listen address> (https:// with TLS).
    #[arg(long, env = "GRANTD_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (the server's certificate first); needs
    /// --tls-key. Both files are read again on SIGHUP, without dropping a connection.
    #[arg(
        long,
        env = "GRANTD_TLS_CERT",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert (PKCS#8, RSA or EC).
    #[arg(long, env = "GRANTD_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a certificate of a local CA, both made on first start and kept beside
    /// the SQLite database (owner-only), for the public URL's host, localhost, 127.0.0.1 and
    /// ::1. For development and CI: clients trust the CA file whose path is printed at start.
    #[arg(long, env = "GRANTD_TLS_SELF_SIGNED")]
    pub tls_self_signed: bool,
    /// Database connections this node keeps at most (1 to 1,000). Default: 16 on PostgreSQL,
    /// where nodes × pool size must stay below the server's max_connections; 8 on SQLite, whose
    /// writers take turns anyway.
    #[arg(long, env = "GRANTD_DB_POOL_SIZE", value_parser = clap::value_parser!(u32).range(1..=MAX_POOL_SIZE))]
    pub db_pool_size: Option<u32>,
    /// PostgreSQL: the server cancels a statement running longer than this (1 ms to 1 h).
    #[arg(long, env = "GRANTD_DB_STATEMENT_TIMEOUT", default_value = "10s", value_parser = parse_db_timeout)]
    pub db_statement_timeout: Duration,
    /// PostgreSQL: how long a request waits for a connection (or for an unreachable database)
    /// before it is answered 503 (1 ms to 1 h).
    #[arg(long, env = "GRANTD_DB_ACQUIRE_TIMEOUT", default_value = "5s", value_parser = parse_db_timeout)]
    pub db_acquire_timeout: Duration,
    /// SQLite: how long a statement waits for another process's write lock (a `grantd` command
    /// run beside the server, a second server on the file) before it fails (1 ms to 1 h).
    #[arg(long, env = "GRANTD_DB_BUSY_TIMEOUT", default_value = "10s", value_parser = parse_db_timeout)]
    pub db_busy_timeout: Duration,
    /// SQLite: how long the change log the token index follows keeps its rows. A server that
    /// has not looked for longer (an idle second server on the same file) finds a gap and
    /// reloads its whole index (1 min to 1 day).
    #[arg(long, env = "GRANTD_CHANGE_LOG_RETENTION", default_value = "10m", value_parser = parse_change_log_retention)]
    pub change_log_retention: Duration,
    /// SQLite: how many token records (and, a hundredth of it, apps) the in-memory token index
    /// keeps, and for a tenth of it the rendered answers of checks and of `GET /user`; 0 turns
    /// the index off, so every check reads the database. PostgreSQL keeps none.
    #[arg(long, env = "GRANTD_TOKEN_CACHE_SIZE", default_value_t = 100_000)]
    pub token_cache_size: usize,
    /// How often the rate-limit and failed-login counts of this node are merged with the
    /// database (and so with the other nodes'), such as "1s" or "250ms" (1 ms to 1 h).
    #[arg(long, env = "GRANTD_COUNTER_SYNC_INTERVAL", default_value = "1s", value_parser = parse_sync_interval)]
    pub counter_sync_interval: Duration,
    /// Requests each user and each app may make per --rate-limit-window (GitHub: 5,000 an hour).
    #[arg(long, env = "GRANTD_RATE_LIMIT", default_value_t = 5_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit: u32,
    /// The rate-limit window, such as "1h" or "15m" (1 s to 1 day).
    #[arg(long, env = "GRANTD_RATE_LIMIT_WINDOW", default_value = "1h", value_parser = parse_window)]
    pub rate_limit_window: Duration,
    /// Failed sign-ins allowed per login per --login-attempts-window; after that every attempt
    /// for the login is refused (403) until the window passes. Wrong app secrets are counted
    /// per source address with the same numbers, but a right secret is never refused.
    #[arg(long, env = "GRANTD_LOGIN_ATTEMPTS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub login_attempts: u32,
    /// The failed-sign-in window, such as "5m" (1 s to 1 day).
    #[arg(long, env = "GRANTD_LOGIN_ATTEMPTS_WINDOW", default_value = "5m", value_parser = parse_window)]
    pub login_attempts_window: Duration,
    /// How long a web sign-in session (the sign-in pages' `user_session` cookie) lasts, such as
    /// "2weeks" (GitHub's) or "8h" (1 min to 1 year).
    #[arg(long, env = "GRANTD_SESSION_TTL", default_value = "2weeks", value_parser = parse_session_ttl)]
    pub session_ttl: Duration,
    /// A client must send a request head (request line and headers) within this of its first
    /// byte, or it is disconnected: a slow sender would otherwise hold a connection for ever
    /// (100 ms to 10 min).
    #[arg(long, env = "GRANTD_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = parse_header_read_timeout)]
    pub header_read_timeout: Duration,
    /// A connection with no request in flight and no byte moving for this long is closed, a new
    /// one before its first request as a keep-alive one between requests: idle connections
    /// cost a file descriptor and a place under --max-connections (100 ms to 1 day).
    #[arg(long, env = "GRANTD_IDLE_TIMEOUT", default_value = "60s", value_parser = parse_idle_timeout)]
    pub idle_timeout: Duration,
    /// Connections served at once. One more is answered 503 and closed, rather than left
    /// waiting unanswered; keep it under the open-file limit (`ulimit -n`), which counts the
    /// database's files too (1 to 1,000,000).
    #[arg(long, env = "GRANTD_MAX_CONNECTIONS", default_value_t = 4_096, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// A request not answered within this is answered 408 and its work dropped; it also bounds
    /// how long a graceful shutdown waits for the requests in flight (1 s to 1 h).
    #[arg(long, env = "GRANTD_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_request_timeout)]
    pub request_timeout: Duration,
    /// The GitHub Enterprise Server version grantd presents itself as (MAJOR.MINOR.PATCH):
    /// `GET /meta`'s `installed_version` and every answer's `X-GitHub-Enterprise-Version`,
    /// by which clients tell a GHES host from github.com and pick what they may call.
    #[arg(long, env = "GRANTD_GHES_VERSION", default_value = crate::http::DEFAULT_GHES_VERSION, value_parser = parse_ghes_version)]
    pub ghes_version: String,
    /// The Authorizations API's stage of retirement: "deprecated" adds Deprecation and Sunset
    /// headers, "removed" answers its endpoints with 410 Gone.
    #[arg(
        long,
        env = "GRANTD_AUTHORIZATIONS_API",
        value_enum,
        default_value = "enabled"
    )]
    pub authorizations_api: crate::http::ApiStatus,
    /// The log's format on stderr: "text" lines, or "json", one object per line with the
    /// request's id, method and route on every line logged while serving it.
    #[arg(long, env = "GRANTD_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// `GET /metrics` (Prometheus text format, no credentials): "auto" serves it only when
    /// --listen is a loopback address, where only this host can scrape it; "on" serves it on
    /// any address (put it behind a firewall or a proxy that does not forward /metrics);
    /// "off" never (the path is then a 404 like any unknown one).
    #[arg(long, env = "GRANTD_METRICS", value_enum, default_value = "auto")]
    pub metrics: MetricsSwitch,
    #[command(flatten)]
    pub testing: TestingArgs,
}

/// `serve`'s flags for test suites that use grantd as their GitHub.
#[derive(Debug, Args)]
pub struct TestingArgs {
    /// Serve a private, throwaway SQLite database in a temporary directory removed at exit,
    /// loaded with --seed or, without one, the example fixture (examples/seed.toml): for test
    /// suites. --db is then ignored.
    #[arg(long, env = "GRANTD_EPHEMERAL")]
    pub ephemeral: bool,
    /// Serve the test controls under /_grantd/ (clock, reset, snapshots, flows without a
    /// browser, the request journal), guarded by a control token printed at start. They let
    /// anyone holding the token mint tokens and move time: for test suites only. Refused
    /// unless --listen is a loopback address (see --test-controls-force).
    #[arg(long, env = "GRANTD_TEST_CONTROLS")]
    pub test_controls: bool,
    /// Serve --test-controls on a non-loopback --listen address too (a test network of
    /// containers, say), where anyone who can reach the port and learns the token controls
    /// the server.
    #[arg(long, env = "GRANTD_TEST_CONTROLS_FORCE", requires = "test_controls")]
    pub test_controls_force: bool,
    /// The control token of --test-controls (16 to 256 characters of A-Z a-z 0-9 _ . -);
    /// a random one is made and printed at start if absent.
    #[arg(long, env = "GRANTD_CONTROL_TOKEN", requires = "test_controls", value_parser = parse_control_token, hide_env_values = true)]
    pub control_token: Option<crate::http::controls::ControlToken>,
    /// Draw tokens, refresh tokens, codes, device and user codes, session ids, client ids and
    /// secrets from a stream seeded with N instead of the OS's random source, so that a test
    /// suite gets the same values from run to run for the same requests sent one after another
    /// (concurrent requests draw in whatever order they run). Anyone who knows N can predict
    /// every token: allowed only with --test-controls or --ephemeral.
    #[arg(long, env = "GRANTD_RNG_SEED", value_name = "N")]
    pub rng_seed: Option<u64>,
}

/// `--control-token`: sent in a header, so only characters that need no quoting, and long
/// enough not to be guessed.
fn parse_control_token(text: &str) -> Result<crate::http::controls::ControlToken, String> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
    if (16..=256).contains(&text.len()) && text.bytes().all(allowed) {
        Ok(crate::http::controls::ControlToken::new(text.to_owned()))
    } else {
        Err("must be 16 to 256 characters of A-Z a-z 0-9 _ . -".to_owned())
    }
}

/// Whether `serve` answers `GET /metrics` (`--metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MetricsSwitch {
    /// On when listening on a loopback address only.
    Auto,
    On,
    Off,
}

impl MetricsSwitch {
    /// Whether a server listening on `listen` serves `/metrics`.
    pub fn enabled(self, listen: SocketAddr) -> bool {
        match self {
            Self::Auto => listen.ip().is_loopback(),
            Self::On => true,
            Self::Off => false,
        }
    }
}

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The range a duration flag (or seed key) accepts, both ends included. Every duration is
/// bounded where it is read: an unbounded one (`--user-token-ttl 1000000y`) was accepted, then
/// overflowed the date arithmetic of every request that used it.
#[derive(Debug, Clone, Copy)]
pub struct DurationRange {
    pub min: Duration,
    pub max: Duration,
}

const DAY: Duration = Duration::from_hours(24);

/// User-token lifetimes: GitHub's own are 8 hours (refresh tokens 6 months); ten years (of
/// 365.25 days, humantime's "10y") is generous and still far from any date overflow.
pub const TOKEN_TTL: DurationRange = DurationRange {
    min: Duration::from_secs(1),
    max: Duration::from_hours(87_660),
};
/// Rate-limit and failed-sign-in windows: GitHub's are an hour.
pub const WINDOW: DurationRange = DurationRange {
    min: Duration::from_secs(1),
    max: DAY,
};
const SYNC_INTERVAL: DurationRange = DurationRange {
    min: Duration::from_millis(1),
    max: Duration::from_hours(1),
};
const DB_TIMEOUT: DurationRange = SYNC_INTERVAL;
const HEADER_READ_TIMEOUT: DurationRange = DurationRange {
    min: Duration::from_millis(100),
    max: Duration::from_mins(10),
};
const IDLE_TIMEOUT: DurationRange = DurationRange {
    min: Duration::from_millis(100),
    max: DAY,
};
/// At least the minute between two prunings of the log (`store::serving`), at most a day.
const CHANGE_LOG_RETENTION: DurationRange = DurationRange {
    min: Duration::from_mins(1),
    max: DAY,
};
const REQUEST_TIMEOUT: DurationRange = DurationRange {
    min: Duration::from_secs(1),
    max: Duration::from_hours(1),
};
/// `--db-pool-size`'s bound: far above what either engine serves well, far below what would
/// exhaust file descriptors or PostgreSQL's connection slots by a typo.
const MAX_POOL_SIZE: i64 = 1_000;

/// A duration as humans write it ("8h", "1h 30m", "250ms") within `range`.
pub fn parse_duration(text: &str, range: DurationRange) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if duration.is_zero() {
        return Err("must be longer than zero".to_owned());
    }
    if duration < range.min {
        return Err(format!(
            "must be at least {}",
            humantime::format_duration(range.min)
        ));
    }
    if duration > range.max {
        return Err(format!(
            "must be at most {}",
            humantime::format_duration(range.max)
        ));
    }
    Ok(duration)
}

/// Web sign-in sessions: GitHub's last two weeks.
pub const SESSION_TTL: DurationRange = DurationRange {
    min: Duration::from_mins(1),
    max: Duration::from_hours(24 * 366),
};

fn parse_session_ttl(text: &str) -> Result<Duration, String> {
    parse_duration(text, SESSION_TTL)
}

fn parse_token_ttl(text: &str) -> Result<Duration, String> {
    parse_duration(text, TOKEN_TTL)
}

fn parse_window(text: &str) -> Result<Duration, String> {
    parse_duration(text, WINDOW)
}

fn parse_sync_interval(text: &str) -> Result<Duration, String> {
    parse_duration(text, SYNC_INTERVAL)
}

fn parse_db_timeout(text: &str) -> Result<Duration, String> {
    parse_duration(text, DB_TIMEOUT)
}

fn parse_header_read_timeout(text: &str) -> Result<Duration, String> {
    parse_duration(text, HEADER_READ_TIMEOUT)
}

fn parse_idle_timeout(text: &str) -> Result<Duration, String> {
    parse_duration(text, IDLE_TIMEOUT)
}

fn parse_change_log_retention(text: &str) -> Result<Duration, String> {
    parse_duration(text, CHANGE_LOG_RETENTION)
}

fn parse_request_timeout(text: &str) -> Result<Duration, String> {
    parse_duration(text, REQUEST_TIMEOUT)
}

/// `--public-url`: every `url` field and `Link` header starts with it, so it must be an
/// absolute http(s) URL a client can follow and append paths to (hence no query or fragment).
/// A trailing slash is dropped.
pub fn parse_public_url(text: &str) -> Result<String, String> {
    let url = text.trim_end_matches('/');
    if !crate::domain::uri::is_web_url(url) {
        return Err(
            "must be an absolute http:// or https:// URL with a host, such as \
                    https://grantd.example.com or https://example.com/api/v3"
                .to_owned(),
        );
    }
    if url.contains(['?', '#']) {
        return Err("must not have a query (?) or a fragment (#)".to_owned());
    }
    Ok(url.to_owned())
}

/// `--ghes-version`: three dot-separated numbers of 1 to 4 digits, as GHES versions are
/// written; it goes into a header on every answer, so nothing else is let through.
pub fn parse_ghes_version(text: &str) -> Result<String, String> {
    let parts: Vec<&str> = text.split('.').collect();
    let numeric =
        |part: &&str| (1..=4).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit());
    if parts.len() == 3 && parts.iter().all(numeric) {
        Ok(text.to_owned())
    } else {
        Err("must be a version of three numbers, such as 3.19.0".to_owned())
    }
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from standard input.
    Add {
        login: String,
        /// Read the password from standard input (first line), so it stays out of shell history.
        #[arg(long, required = true)]
        password_stdin: bool,
        #[arg(long)]
        email: Option<String>,
        /// Base32 TOTP secret: turns on two-factor authentication for the user.
        #[arg(long)]
        totp_secret: Option<String>,
        #[arg(long)]
        site_admin: bool,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List users.
    List {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Set a user's password, read from standard input.
    Passwd {
        login: String,
        #[arg(long, required = true)]
        password_stdin: bool,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Delete a user and all their authorizations (refused while they own apps).
    Delete {
        login: String,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Forget a user's failed sign-ins, ending a lockout at once (on every node).
    Unlock {
        login: String,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Suspend a user: their tokens stop working and sign-in is refused, at once.
    Suspend {
        login: String,
        /// Why (shown to site admins; at most 200 characters).
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Lift a user's suspension: their tokens work again and they can sign in.
    Unsuspend {
        login: String,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AppKindArg {
    /// Classic OAuth app (tokens start gho_).
    Oauth,
    /// GitHub App (user tokens start ghu_, client ids Iv1.…).
    Github,
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Register an app; prints its client id and secret (the secret is shown only this once).
    Add(AppAddArgs),
    /// List apps.
    List {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Delete an app with all its grants and tokens.
    Delete {
        client_id: String,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Replace an app's client secret; the old one stops working at once.
    RotateSecret {
        client_id: String,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// The fixture file (TOML).
    pub file: PathBuf,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct AppAddArgs {
    #[arg(long)]
    pub owner: String,
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub url: String,
    /// The authorization callback URL of the web application flow (http or https).
    #[arg(long)]
    pub callback_url: Option<String>,
    /// Let the app use the device flow (GitHub's "Enable Device Flow"; off by default).
    #[arg(long)]
    pub device_flow: bool,
    #[arg(long, value_enum, default_value = "oauth")]
    pub kind: AppKindArg,
    /// Use this client id instead of generating one.
    #[arg(long)]
    pub client_id: Option<String>,
    /// Use the client secret on standard input (first line) instead of generating one; read
    /// from there so that it never appears in the process list or in shell history.
    #[arg(long)]
    pub client_secret_stdin: bool,
    /// Refused: a secret given as an argument is visible to every local user in the process
    /// list. Kept (hidden) only to say so and point at --client-secret-stdin.
    #[arg(long, hide = true, value_name = "REFUSED")]
    pub client_secret: Option<String>,
    /// Make the app's user tokens expire (GitHub Apps only), after 8 hours unless
    /// --user-token-ttl says otherwise.
    #[arg(long)]
    pub expire_user_tokens: bool,
    /// Lifetime of the app's user tokens, such as "8h" or "30m" (1 s to 10 years); implies
    /// --expire-user-tokens.
    #[arg(long, value_parser = parse_token_ttl)]
    pub user_token_ttl: Option<Duration>,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create COUNT tokens of an app for a user straight through the store, and write them in
    /// clear, one a line, to a file readable by its owner only.
    Mint(MintArgs),
}

/// `grantd audit`: the filters of the audit log API's `phrase`, on the database itself.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only events about this user (the account the action changed).
    #[arg(long)]
    pub user: Option<String>,
    /// Only this action (`oauth_access.create`) or category (`oauth_access`).
    #[arg(long)]
    pub action: Option<String>,
    /// At most this many events, the newest.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub limit: u32,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct MintArgs {
    /// The app the tokens belong to.
    #[arg(long)]
    pub client_id: String,
    /// The user the tokens act for.
    #[arg(long)]
    pub user: String,
    /// How many tokens to make.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: u64,
    /// OAuth scopes of every token, comma-separated (such as "repo,user").
    #[arg(long, value_delimiter = ',')]
    pub scopes: Vec<String>,
    /// Where to write the tokens; it must not exist yet.
    #[arg(long)]
    pub out: PathBuf,
    /// Tokens stored per transaction: each batch is sorted by hash and inserted in one go, so
    /// larger batches walk the indexes fewer times and hold more in memory (~1 KiB a token).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub batch_size: u64,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_bounded_both_ways() {
        assert_eq!(parse_duration("1h", WINDOW), Ok(Duration::from_hours(1)));
        assert_eq!(parse_duration("1day", WINDOW), Ok(DAY));
        assert_eq!(
            parse_duration("100000y", WINDOW),
            Err("must be at most 1day".to_owned())
        );
        assert_eq!(
            parse_duration("0s", WINDOW),
            Err("must be longer than zero".to_owned())
        );
        assert_eq!(
            parse_duration("500ms", WINDOW),
            Err("must be at least 1s".to_owned())
        );
        assert_eq!(
            parse_duration("10y", TOKEN_TTL),
            Ok(TOKEN_TTL.max),
            "the bound itself is accepted"
        );
        assert!(parse_duration("1000000y", TOKEN_TTL).is_err());
        assert!(parse_duration("soon", TOKEN_TTL).is_err());
        assert_eq!(
            parse_duration("2weeks", SESSION_TTL),
            Ok(Duration::from_hours(14 * 24))
        );
        assert!(parse_duration("30s", SESSION_TTL).is_err());
        assert!(parse_duration("2y", SESSION_TTL).is_err());
    }

    #[test]
    fn a_ghes_version_is_three_numbers() {
        assert_eq!(parse_ghes_version("3.19.0").as_deref(), Ok("3.19.0"));
        assert_eq!(parse_ghes_version("3.9.12").as_deref(), Ok("3.9.12"));
        for bad in [
            "",
            "3.19",
            "3.19.0.1",
            "3.19.x",
            "v3.19.0",
            "3..0",
            "3.19.0\n",
            "12345.0.0",
        ] {
            assert!(parse_ghes_version(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_public_url_is_an_http_url_without_a_trailing_slash() {
        assert_eq!(
            parse_public_url("https://grantd.example.com/api/v3/"),
            Ok("https://grantd.example.com/api/v3".to_owned())
        );
        assert_eq!(
            parse_public_url("http://127.0.0.1:8080"),
            Ok("http://127.0.0.1:8080".to_owned())
        );
        for bad in [
            "notaurl",
            "javascript:alert(1)",
            "https://",
            "/api",
            "https://a/?b",
            "https://a/#b",
        ] {
            assert!(parse_public_url(bad).is_err(), "{bad:?} accepted");
        }
    }
}
