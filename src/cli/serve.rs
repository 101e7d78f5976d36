//! `grantd serve`: opens the store, loads the seed, binds, prints the address and serves
//! until SIGINT or SIGTERM.

use std::path::PathBuf;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::{Database, OutputArgs, ServeArgs, ServeConfig, TlsSource};
use crate::domain::secret::PasswordCost;
use crate::http::AppState;
use crate::http::controls::{ControlToken, Controls};
use crate::tls::{Tls, self_signed};

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called, not when
/// the future is first polled: the server's accept loop may answer a first request before it
/// polls the shutdown future, and a SIGTERM arriving then would otherwise kill the process
/// (the default action) instead of stopping it gracefully.
fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        )
    };
    async move {
        #[cfg(unix)]
        match signals {
            (Ok(mut interrupt), Ok(mut terminate)) => {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            }
            (interrupt, terminate) => {
                if let Err(error) = terminate.as_ref().and(interrupt.as_ref()) {
                    tracing::warn!(%error, "cannot listen for SIGINT or SIGTERM; falling back to Ctrl-C");
                }
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down");
    }
}

/// Sends panics to the log instead of bare stderr: a panic inside a request is answered 500
/// (see `http::conventions`) and logged here once, on a line that names the request (method,
/// route, request id) like every line logged while it is served.
fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let backtrace = std::backtrace::Backtrace::capture();
        if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
            tracing::error!(panic = %info, %backtrace, "panicked");
        } else {
            tracing::error!(panic = %info, "panicked");
        }
    }));
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let prepared = prepare(args, Seeding::Printed).await?;
    log_panics();
    if let Some(tls) = &prepared.state.tls {
        // Before the line below: a SIGHUP sent once it is out must not end the process.
        reload_on_hangup(tls.clone());
    }
    // Scripts read the token from here, as they read the address.
    if let Some(token) = &prepared.control_token {
        println!("grantd control token: {}", token.expose());
    }
    if let Some(ca_file) = &prepared.ca_file {
        println!("grantd TLS CA certificate: {}", ca_file.display());
    }
    // Scripts and tests wait for this line, so it goes to stdout, in one write.
    println!("grantd listening on {}", prepared.address);
    let served = crate::serve(prepared.listener, prepared.state, shutdown_signal())
        .await
        .context("the server failed");
    drop(prepared.ephemeral);
    served
}

/// A server ready to serve: its database opened and seeded, its socket bound, its state
/// built. `serve` and `grantd::testing::TestServer` both start from here, so a test server
/// in-process is the server the binary runs.
pub struct Prepared {
    pub listener: TcpListener,
    pub address: std::net::SocketAddr,
    pub state: AppState,
    /// The control token of `--test-controls`, to show the caller.
    pub control_token: Option<ControlToken>,
    /// The CA clients must trust (`--tls-self-signed`), as an absolute path.
    pub ca_file: Option<PathBuf>,
    /// `--ephemeral`'s database directory, removed when dropped: keep it until the server
    /// has stopped.
    pub ephemeral: Option<Ephemeral>,
}

/// Whether loading the seed prints what it made (the generated client secrets' only showing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seeding {
    Printed,
    Quiet,
}

/// Checks the flags, opens and seeds the database, makes the test controls and binds
/// `--listen`; prints nothing but the seed's report (when `seeding` says so).
pub async fn prepare(args: ServeArgs, seeding: Seeding) -> anyhow::Result<Prepared> {
    // Checked first, so that a bad flag or combination stops the command before it touches
    // the database.
    let config = ServeConfig::from_args(args)?;
    let (tls, ca_file) = match load_tls(&config.tls)? {
        Some((tls, ca_file)) => (Some(tls), ca_file),
        None => (None, None),
    };
    if let Some(seed) = config.rng_seed {
        // Before the seed file is loaded, so the secrets it generates follow the seed too.
        crate::domain::random::seed(seed);
    }
    // Kept until `run` returns, when the directory and the database in it are removed.
    let (store, ephemeral) = open_and_seed(&config, seeding).await?;
    let (controls, control_token) = match &config.test_controls {
        Some(token) => {
            let (controls, token) = start_controls(token.as_ref(), &*store).await?;
            (Some(controls), Some(token))
        }
        None => (None, None),
    };
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{address}"));
    tracing::info!(%address, %public_url, metrics = config.metrics, "serving");
    let mut state = AppState::new(store, public_url)
        .with_limits(config.limits)
        .with_authorizations_api(config.authorizations_api)
        .with_sync_interval(config.counter_sync_interval)
        .with_connection_limits(config.connections)
        .with_request_timeout(config.request_timeout)
        .with_session_ttl(config.session_ttl)
        .with_ghes_version(&config.ghes_version)
        .with_answers(config.rendered_answers());
    if config.metrics {
        state = state.with_metrics();
    }
    if let Some(tls) = tls {
        state = state.with_tls(tls);
    }
    if let Some(controls) = controls {
        state = state.with_controls(controls);
    }
    Ok(Prepared {
        listener,
        address,
        state,
        control_token,
        ca_file,
        ephemeral,
    })
}

/// Opens the database (`--db`, or `--ephemeral`'s, returned to be kept until exit) and loads
/// `--seed` (with `--ephemeral` and no seed, the example fixture).
async fn open_and_seed(
    config: &ServeConfig,
    seeding: Seeding,
) -> anyhow::Result<(std::sync::Arc<dyn crate::store::Store>, Option<Ephemeral>)> {
    let (ephemeral, db, secret_key_file) = match &config.database {
        Database::Ephemeral => {
            let ephemeral = Ephemeral::create()?;
            let (url, key_file) = (ephemeral.url.clone(), ephemeral.key_file.clone());
            (Some(ephemeral), url, Some(key_file))
        }
        Database::Url {
            url,
            secret_key_file,
        } => (None, url.clone(), secret_key_file.clone()),
    };
    let store = crate::store::open_for_serving(
        &db,
        config.pool,
        config.token_cache_size,
        secret_key_file.as_deref(),
    )
    .await
    .context("cannot open the database (check --db or GRANTD_DB)")?;
    let seed = match (&config.seed, &ephemeral) {
        (Some(seed), _) => Some(seed.clone()),
        (None, Some(ephemeral)) => Some(ephemeral.write_example_seed()?),
        (None, None) => None,
    };
    if let Some(seed) = seed {
        // The throwaway database dies with the process: its passwords get argon2id's lowest
        // cost, so seeding ten users takes microseconds instead of a third of a second.
        let cost = if ephemeral.is_some() {
            PasswordCost::Throwaway
        } else {
            PasswordCost::Standard
        };
        let report = crate::fixture::load_file_at(&*store, &seed, super::now(), cost).await?;
        if seeding == Seeding::Printed {
            super::seed::print_report(&report, OutputArgs { json: false })?;
        }
    }
    Ok((store, ephemeral))
}

/// The test controls, their seed state saved, and their token.
async fn start_controls(
    token: Option<&ControlToken>,
    store: &dyn crate::store::Store,
) -> anyhow::Result<(std::sync::Arc<Controls>, ControlToken)> {
    let token = match token {
        Some(token) => token.clone(),
        None => ControlToken::generate()
            .map_err(|e| anyhow::anyhow!("cannot make a control token: {e}"))?,
    };
    let controls = Controls::new(&token).context("cannot make the snapshot directory")?;
    if !controls
        .save_seed(store)
        .await
        .context("cannot save the seed state for /_grantd/reset")?
    {
        tracing::warn!("reset and snapshots need SQLite: /_grantd/reset answers 501");
    }
    Ok((std::sync::Arc::new(controls), token))
}

/// The example fixture, loaded by `--ephemeral` without `--seed`.
const EXAMPLE_SEED: &str = include_str!("../../examples/seed.toml");

/// `--ephemeral`'s database: a file in a private temporary directory, removed with it. A file
/// rather than `sqlite::memory:` because the server opens it more than once: a pool of
/// connections (each would get a database of its own in memory) and the token index's own
/// connection, which watches the write-ahead log that only a file has.
pub struct Ephemeral {
    dir: tempfile::TempDir,
    url: String,
    key_file: PathBuf,
}

impl Ephemeral {
    fn create() -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("grantd-ephemeral-")
            .tempdir()
            .context("--ephemeral: cannot make a temporary directory")?;
        let file = dir.path().join("grantd.db");
        let url = format!("sqlite://{}", file.display());
        let key_file = dir.path().join("grantd.db.key");
        Ok(Self { dir, url, key_file })
    }

    fn write_example_seed(&self) -> anyhow::Result<PathBuf> {
        let path = self.dir.path().join("seed.toml");
        std::fs::write(&path, EXAMPLE_SEED).context("--ephemeral: cannot write the seed")?;
        Ok(path)
    }
}

/// The certificate to serve HTTPS with, if any, and (with --tls-self-signed) the CA file
/// clients must trust, as an absolute path.
fn load_tls(source: &TlsSource) -> anyhow::Result<Option<(Tls, Option<PathBuf>)>> {
    match source {
        TlsSource::None => Ok(None),
        TlsSource::Files { cert, key } => {
            let tls =
                Tls::from_files(cert, key).context("cannot serve HTTPS (--tls-cert, --tls-key)")?;
            Ok(Some((tls, None)))
        }
        TlsSource::SelfSigned { database, host } => {
            let (tls, ca_file) = self_signed_certificate(database, host)?;
            Ok(Some((tls, Some(ca_file))))
        }
    }
}

/// `--tls-self-signed`'s certificate, made or reused beside `database`, and the CA file.
fn self_signed_certificate(
    database: &std::path::Path,
    host: &str,
) -> anyhow::Result<(Tls, PathBuf)> {
    let files = self_signed::Files::beside(database);
    let names = self_signed::names(Some(host));
    let outcome = self_signed::ensure(&files, &names, time::OffsetDateTime::now_utc())
        .context("--tls-self-signed")?;
    let ca_file = std::path::absolute(&files.ca_cert).unwrap_or(files.ca_cert.clone());
    match outcome {
        self_signed::Outcome::Reused => {}
        self_signed::Outcome::NewCa => tracing::info!(
            ca = %ca_file.display(),
            names = ?names,
            "made a local CA and a server certificate by it; clients must trust the CA"
        ),
        self_signed::Outcome::NewServerCertificate(why) => tracing::info!(
            names = ?names,
            %why,
            "made a new server certificate by the local CA"
        ),
    }
    let tls = Tls::from_files(&files.cert, &files.key).context("--tls-self-signed")?;
    Ok((tls, ca_file))
}

/// Reads the certificate and key again on each SIGHUP; a file that cannot be used is logged
/// and the certificate in use kept.
fn reload_on_hangup(tls: Tls) {
    #[cfg(unix)]
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(mut hangups) => {
            tokio::spawn(async move {
                while hangups.recv().await.is_some() {
                    match tls.reload() {
                        Ok(()) => tracing::info!(
                            file = %tls.cert_file().display(),
                            "reloaded the TLS certificate"
                        ),
                        Err(error) => tracing::error!(
                            %error,
                            "cannot reload the TLS certificate; still serving the one loaded before"
                        ),
                    }
                }
            });
        }
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGHUP: the TLS certificate will not be reloaded");
        }
    }
    #[cfg(not(unix))]
    drop(tls);
}
