//! grantd: a self-hosted, GitHub-compatible OAuth token authority.
//!
//! Layers, outermost first: `cli/` and `http/` translate commands and requests, `domain/` holds
//! GitHub's rules, `store/` is the only code that speaks SQL.

pub mod cli;
pub mod config;
pub mod domain;
pub mod fixture;
pub mod http;
pub mod server;
pub mod store;
pub mod testing;
pub mod tls;

use std::future::Future;

pub use http::AppState;
use tokio::net::TcpListener;

/// Serves the API on `listener` until `shutdown` completes, then finishes the requests in
/// flight (each bounded by the request timeout), writes back what the store keeps in memory
/// (counters) and returns. Connections are served under `state.connections`, over TLS if
/// `state.tls` (see `server.rs`).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let syncing = tokio::spawn(sync_periodically(state.clone()));
    server::run(
        listener,
        http::app(state.clone()),
        state.connections,
        state.tls.clone(),
        shutdown,
    )
    .await;
    syncing.abort();
    state.flush_usage().await;
    if let Err(error) = state.store.sync(state.clock.now()).await {
        tracing::error!(%error, "cannot write the counters back at shutdown");
    }
    Ok(())
}

/// Runs [`store::Store::sync`] every `sync_interval`, and deletes the counters whose windows
/// have ended and the expired sign-in sessions every [`PRUNE_COUNTERS_EVERY`]; a failure (the database away) is logged and tried
/// again at the next tick.
async fn sync_periodically(state: AppState) {
    let mut ticks = tokio::time::interval(state.sync_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    let mut last_prune: Option<tokio::time::Instant> = None;
    loop {
        ticks.tick().await;
        let now = state.clock.now();
        if let Err(error) = state.store.sync(now).await {
            tracing::warn!(%error, "cannot sync counters with the database");
        }
        if state.usage.due(now) {
            state.flush_usage().await;
        }
        if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_COUNTERS_EVERY) {
            last_prune = Some(tokio::time::Instant::now());
            let limits = state.limits;
            match domain::limits::prune(&*state.store, limits.rate, limits.login, now).await {
                Ok(0) => {}
                Ok(pruned) => tracing::debug!(pruned, "deleted ended counters"),
                Err(error) => tracing::warn!(%error, "cannot delete ended counters"),
            }
            match domain::session::prune(&*state.store, now).await {
                Ok(0) => {}
                Ok(pruned) => tracing::debug!(pruned, "deleted expired sessions"),
                Err(error) => tracing::warn!(%error, "cannot delete expired sessions"),
            }
            match state.store.prune_oauth_codes(now).await {
                Ok(0) => {}
                Ok(pruned) => tracing::debug!(pruned, "deleted expired authorization codes"),
                Err(error) => tracing::warn!(%error, "cannot delete expired authorization codes"),
            }
            match state.store.prune_refresh_tokens(now).await {
                Ok(0) => {}
                Ok(pruned) => tracing::debug!(pruned, "deleted expired refresh tokens"),
                Err(error) => tracing::warn!(%error, "cannot delete expired refresh tokens"),
            }
            match domain::device_flow::prune(&*state.store, now).await {
                Ok(0) => {}
                Ok(pruned) => tracing::debug!(pruned, "deleted expired device codes"),
                Err(error) => tracing::warn!(%error, "cannot delete expired device codes"),
            }
        }
    }
}

/// How often ended counters are deleted: each failed sign-in from a new address or login adds
/// a row, so they must go, but a minute late costs nothing.
const PRUNE_COUNTERS_EVERY: std::time::Duration = std::time::Duration::from_mins(1);
