//! Storage: the only place with SQL. It implements the domain's contracts
//! ([`Lookups`] and [`Store`], in `domain/store.rs`) once, in `sql/` (`SqlStore<DB>`, generic
//! over the engine), for SQLite (`sqlite.rs`, the default) and PostgreSQL (`postgres.rs`),
//! which hold only what differs: the connection, the dialect and constraint names.
//!
//! A serving node's speed-ups sit behind [`Lookups`] alone: SQLite's token index (`cache.rs`)
//! and PostgreSQL's batched lookups (`coalesce.rs`) each wrap the database's own lookups, and
//! the request counters kept in memory (`counters.rs`) sit in front of the counter rows
//! (`serving.rs`). Every other method goes straight to the database.

mod cache;
mod coalesce;
mod counters;
pub(crate) mod files;
mod postgres;
mod seeds;
mod serving;
mod sql;
mod sqlite;
mod wal_index;

use std::path::Path;
use std::sync::Arc;

pub use crate::domain::store::*;
pub use postgres::{PoolSettings, PostgresStore};
pub use sqlite::SqliteStore;

/// Whether a failure means "the database is not there right now" rather than "this query is
/// wrong": connection and pool failures, and PostgreSQL's shutdown and connection SQLSTATEs
/// (class 08, 57P01-57P03).
fn unavailable_or_backend(error: sqlx::Error) -> Error {
    let unavailable = match &error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    };
    if unavailable {
        Error::Unavailable(Box::new(error))
    } else {
        Error::Backend(Box::new(error))
    }
}

/// Migration failures, with the one an operator can act on spelled out: a database migrated
/// by a newer grantd than this one.
fn migration_error(error: sqlx::migrate::MigrateError) -> Error {
    match error {
        sqlx::migrate::MigrateError::VersionMissing(version) => Error::Backend(
            format!(
                "the database has schema migration {version}, which this grantd does not know: it was \
                 migrated by a newer grantd. Run that version (or newer), or restore a backup taken before the upgrade"
            )
            .into(),
        ),
        sqlx::migrate::MigrateError::Execute(sqlx::Error::Io(e)) => Error::Unavailable(Box::new(e)),
        other => Error::Backend(Box::new(other)),
    }
}

/// Opens the store named by a URL (`sqlite://path`, `postgres://…`), creating the SQLite file
/// or applying the embedded migrations as needed, with default pool settings and the default
/// secret key (SQLite: `<database>.key`; PostgreSQL: none, see `seeds.rs`).
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    open_with(url, PoolSettings::default(), None).await
}

/// The store of a serving node: [`open_with`] with the node's speed-ups. Request counts are
/// kept in memory and merged every `--counter-sync-interval` (`counters.rs`); on SQLite (a
/// file) and with a non-zero `token_cache`, token checks are answered from an in-memory index
/// of at most `token_cache` records that follows every commit (`cache.rs`).
pub async fn open_for_serving(
    url: &str,
    settings: PoolSettings,
    token_cache: usize,
    secret_key_file: Option<&Path>,
) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        let store = if settings.throwaway {
            SqliteStore::open_throwaway(url, secret_key_file, &settings).await?
        } else {
            SqliteStore::open(url, secret_key_file, &settings).await?
        };
        Ok(Arc::new(store.serving(token_cache, &settings)?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PostgresStore::open(url, settings, secret_key_file).await?;
        Ok(Arc::new(store.serving()))
    } else {
        open_with(url, settings, secret_key_file).await
    }
}

/// The file of a `sqlite:` database URL, as SQLite opens it; `None` for PostgreSQL or an
/// in-memory database. Files that belong with a database (its key, `--tls-self-signed`'s
/// certificates) are kept beside it.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    if url.starts_with("sqlite:") {
        SqliteStore::file_of(url)
    } else {
        None
    }
}

/// [`open`] with explicit pool settings and the file of the
/// key that seals TOTP secrets (`--secret-key-file`; see `seeds.rs` for the default).
pub async fn open_with(
    url: &str,
    settings: PoolSettings,
    secret_key_file: Option<&Path>,
) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(
            SqliteStore::open(url, secret_key_file, &settings).await?,
        ))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(
            PostgresStore::open(url, settings, secret_key_file).await?,
        ))
    } else {
        let scheme = url.split(':').next().unwrap_or_default();
        Err(Error::Backend(
            format!("unsupported database URL scheme {scheme:?}: use sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE").into(),
        ))
    }
}
