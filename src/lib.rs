//! grantd: a self-hosted, GitHub-compatible OAuth token authority.
//!
//! Layers, outermost first: `cli/` and `http/` translate commands and requests, `domain/` holds
//! GitHub's rules, `store/` is the only code that speaks SQL.

pub mod cli;
pub mod config;
pub mod domain;
pub mod fixture;
pub mod http;
pub mod store;

use std::future::Future;

pub use http::AppState;
use tokio::net::TcpListener;

/// Serves the API on `listener` until `shutdown` completes, then finishes the requests in
/// flight (each bounded by the request timeout), writes back what the store keeps in memory
/// (counters) and returns.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let syncing = tokio::spawn(sync_periodically(state.clone()));
    let served = axum::serve(
        listener,
        axum::ServiceExt::<axum::extract::Request>::into_make_service(http::app(state.clone())),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    syncing.abort();
    if let Err(error) = state.store.sync(state.clock.now()).await {
        tracing::error!(%error, "cannot write the counters back at shutdown");
    }
    served
}

/// Runs [`store::Store::sync`] every `sync_interval`; a failure (the database away) is logged
/// and tried again at the next tick.
async fn sync_periodically(state: AppState) {
    let mut ticks = tokio::time::interval(state.sync_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        if let Err(error) = state.store.sync(state.clock.now()).await {
            tracing::warn!(%error, "cannot sync counters with the database");
        }
    }
}
