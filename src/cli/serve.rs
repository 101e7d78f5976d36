//! `grantd serve`: opens the store, loads the seed, binds, prints the address and serves
//! until SIGINT or SIGTERM.

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::{OutputArgs, ServeArgs};
use crate::domain::limits::{LoginThrottle, RateLimit};
use crate::http::{AppState, Limits};
use crate::server::ConnectionLimits;

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
    // Checked first, so that a bad flag stops the command before it touches the database.
    let limits = Limits {
        rate: RateLimit {
            limit: args.rate_limit,
            window: window(args.rate_limit_window, "--rate-limit-window")?,
        },
        login: LoginThrottle {
            attempts: args.login_attempts,
            window: window(args.login_attempts_window, "--login-attempts-window")?,
        },
    };
    let session_ttl =
        time::Duration::try_from(args.session_ttl).context("--session-ttl is too long")?;
    let settings = crate::store::PoolSettings {
        max_connections: args.db_pool_size,
        statement_timeout: args.db_statement_timeout,
        acquire_timeout: args.db_acquire_timeout,
    };
    let connections = ConnectionLimits {
        header_read_timeout: args.header_read_timeout,
        idle_timeout: args.idle_timeout,
        max_connections: args.max_connections,
    };
    let store = crate::store::open_for_serving(
        &args.db.db,
        settings,
        args.token_cache_size,
        args.db.secret_key_file.as_deref(),
    )
    .await
    .context("cannot open the database (check --db or GRANTD_DB)")?;
    if let Some(seed) = &args.seed {
        super::seed::load_and_report(&*store, seed, OutputArgs { json: false }).await?;
    }
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    let public_url = args
        .public_url
        .unwrap_or_else(|| format!("http://{address}"));
    log_panics();
    // Scripts and tests wait for this line, so it goes to stdout, in one write.
    println!("grantd listening on {address}");
    let metrics = args.metrics.enabled(address);
    tracing::info!(%address, %public_url, metrics, "serving");
    let mut state = AppState::new(store, public_url)
        .with_limits(limits)
        .with_authorizations_api(args.authorizations_api)
        .with_sync_interval(args.counter_sync_interval)
        .with_connection_limits(connections)
        .with_session_ttl(session_ttl)
        .with_ghes_version(&args.ghes_version)
        // A tenth of the records the token index keeps (a record's two answers are ~2.6 kB,
        // the record itself less).
        .with_answers(args.token_cache_size / 10);
    if metrics {
        state = state.with_metrics();
    }
    crate::serve(listener, state, shutdown_signal())
        .await
        .context("the server failed")
}

/// A window length from the command line (bounded by its parser, `config::WINDOW`).
fn window(duration: std::time::Duration, flag: &str) -> anyhow::Result<time::Duration> {
    time::Duration::try_from(duration).with_context(|| format!("{flag} is too long"))
}
