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
/// flight (each bounded by the request timeout) and returns.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, http::router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
