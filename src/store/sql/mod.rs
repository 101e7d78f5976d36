//! The SQL both engines share, written once with `$N` placeholders (which SQLite and
//! PostgreSQL both take) in code generic over the engine: [`SqlStore<DB>`] is the store, and
//! [`Engine`] (`engine.rs`) is everything the shared code needs from an engine, which
//! `sqlite.rs` and `postgres.rs` implement for `sqlx::Sqlite` and `sqlx::Postgres`. Rust
//! compiles the generic code once per engine, as if it had been written for each: no dynamic
//! dispatch is added on any path.
//!
//! - `rows.rs`: decoding rows into domain types, and the SELECT lists;
//! - `store.rs`: the [`Store`](super::Store) implementation, and [`Direct`], the database's
//!   own lookups and counter rows;
//! - `fixture.rs`, `transfer.rs`, `audit.rs`: fixture upserts, `grantd export` / `import`,
//!   the audit log's rows.
//!
//! To add a query: write it in a method of `SqlStore<DB>` (or a function generic over
//! `DB: Engine`) as for one engine. Every sqlx capability it needs is implied by
//! `DB: Engine`, so there is no `where` clause to write; a Rust type that no query bound or
//! read before is added to [`Engine`]'s list once. What the engines do differently (a lock
//! clause, a sequence) goes into [`Engine`] as a constant or a function, each engine's in its
//! own file.

mod audit;
mod engine;
mod fixture;
mod rows;
mod store;
mod transfer;

use std::sync::Arc;

use sqlx::error::DatabaseError;

use super::seeds::Seeds;
use super::serving::Serving;
use super::{Constraint, Error, Lookups};

pub(super) use engine::{Engine, RowsAffected};
pub(super) use rows::{
    AUTHORIZATION_INSERT, REQUESTING_APP_COLUMNS, TOKEN_SELECT, app_and_token_from_row, corrupt,
    permissions_to_stored, stored_repository_ids, token_record_from_row,
};
pub(super) use store::Direct;

/// The store on engine `DB` (`SqliteStore`, `PostgresStore`).
pub struct SqlStore<DB: Engine> {
    pub(super) pool: sqlx::Pool<DB>,
    /// The key that seals TOTP secrets (`seeds.rs`).
    pub(super) seeds: Arc<Seeds>,
    pub(super) direct: Arc<Direct<DB>>,
    /// [`Direct`], or a serving node's speed-up in front of it (SQLite's token index,
    /// PostgreSQL's batched lookups).
    pub(super) lookups: Arc<dyn Lookups>,
    pub(super) serving: Serving,
    /// What the engine keeps beside (SQLite: the database file).
    pub(super) state: DB::State,
}

pub(super) fn backend(error: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Backend(Box::new(error))
}

/// Turns unique violations into the [`Constraint`] they broke (each engine names its rules its
/// own way: `unique_violation` in `sqlite.rs` and `postgres.rs`, each recognising only its own
/// errors), and a lost database into [`Error::Unavailable`].
pub(super) fn map_err(error: sqlx::Error) -> Error {
    if let Some(db) = error.as_database_error()
        && let Some(constraint) = unique_violation(db)
    {
        return Error::Conflict(constraint);
    }
    super::unavailable_or_backend(error)
}

fn unique_violation(db: &dyn DatabaseError) -> Option<Constraint> {
    super::sqlite::unique_violation(db).or_else(|| super::postgres::unique_violation(db))
}
