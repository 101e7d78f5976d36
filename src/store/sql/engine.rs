//! [`Engine`]: what the shared SQL needs from a database engine, written down once. `sqlite.rs`
//! implements it for `sqlx::Sqlite`, `postgres.rs` for `sqlx::Postgres`.

use std::future::Future;
use std::path::Path;

use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Transaction, Type};

use super::SqlStore;
use crate::domain::authorization::NewAuthorization;
use crate::store::Result;

/// A database engine the shared SQL runs on: a sqlx [`Database`] plus its dialect and the few
/// operations each engine does its own way.
///
/// The supertraits are the sqlx capabilities the shared queries use: executing on a connection
/// (and so on a pool or a transaction), binding and reading the Rust types of the schema, and
/// naming columns. They are spelled `Implied<T, Ty = T, Ty: Bound>`, which says `T: Bound` in a
/// form Rust carries along wherever `DB: Engine` holds; the plain `where T: Bound` on this trait
/// would have to be repeated on every function and impl that uses it (see [`Implied`]). A query
/// that binds or reads a type not listed here fails to compile with "the trait bound ... is not
/// satisfied": add the type here, once.
pub trait Engine:
    Database<Arguments: IntoArguments<Self>, QueryResult: RowsAffected>
    + for<'c> Implied<
        &'c mut Self::Connection,
        Ty = &'c mut Self::Connection,
        Ty: Executor<'c, Database = Self>,
    > + Implied<usize, Ty = usize, Ty: ColumnIndex<Self::Row>>
    + for<'a> Implied<
        &'a str,
        Ty = &'a str,
        Ty: ColumnIndex<Self::Row> + Encode<'a, Self> + Type<Self>,
    > + for<'a> Implied<&'a [u8], Ty = &'a [u8], Ty: Encode<'a, Self> + Type<Self>>
    + for<'a> Implied<Option<&'a str>, Ty = Option<&'a str>, Ty: Encode<'a, Self> + Type<Self>>
    + Implied<i64, Ty = i64, Ty: Value<Self>>
    + Implied<Option<i64>, Ty = Option<i64>, Ty: Value<Self>>
    + Implied<i32, Ty = i32, Ty: Value<Self>>
    + Implied<bool, Ty = bool, Ty: Value<Self>>
    + Implied<String, Ty = String, Ty: Value<Self>>
    + Implied<Option<String>, Ty = Option<String>, Ty: Value<Self>>
    + Implied<Vec<u8>, Ty = Vec<u8>, Ty: Value<Self>>
{
    /// What the store keeps for this engine beside the pool (SQLite: its database file).
    type State: Send + Sync + 'static;

    /// Starts every write transaction.
    const BEGIN_WRITE: &'static str;
    /// Appended to a read inside a write transaction whose row the transaction is about to
    /// change or depends on (empty where the write lock already covers it).
    const LOCK_FOR_UPDATE: &'static str;
    /// [`LOCK_FOR_UPDATE`](Self::LOCK_FOR_UPDATE) for the authorization SELECT, whose outer
    /// joins some engines do not lock.
    const LOCK_AUTHORIZATION_FOR_UPDATE: &'static str;
    /// A grant with its scopes, `updated_at` and `last_used_at` derived from its authorizations
    /// (aggregating text is the engines' own).
    const GRANT_SELECT: &'static str;
    /// Whether test-control snapshots ([`copy_to`](Self::copy_to)) work on this engine.
    const SNAPSHOTS: bool;

    /// The SQL of an id column's value: the parameter `param` when it is not NULL, else the
    /// next of `table`'s sequence.
    fn id_or_next(param: &str, table: &str) -> String;
    /// A statement to run after inserting an explicit id into `table`, so that its sequence
    /// never hands that id out again; `None` where the engine needs none.
    fn sync_sequence(table: &str) -> Option<String>;
    /// A query of the last id `table`'s sequence handed out (deleted rows included), if any.
    fn sequence_position(table: &str) -> String;
    /// A statement that sets `table`'s sequence so that the next id is above `$1` and above
    /// every row.
    fn set_sequence_position(table: &str) -> String;

    /// Writes a consistent copy of the database to `path` (a test-control snapshot).
    fn copy_to(store: &SqlStore<Self>, path: &Path) -> impl Future<Output = Result<()>> + Send;
    /// Replaces every row with those of the snapshot at `path`.
    fn restore_from(store: &SqlStore<Self>, path: &Path)
    -> impl Future<Output = Result<()>> + Send;
    /// Inserts the rows of a bulk insert (`grantd token mint`), each authorization with its
    /// grant's id, in statements of the engine's best size and form.
    fn insert_authorization_rows(
        tx: &mut Transaction<'static, Self>,
        rows: &[(&NewAuthorization, Option<i64>)],
    ) -> impl Future<Output = Result<()>> + Send;
}

/// `T` itself, as an associated type. Rust implies the bounds a trait puts on its supertraits'
/// associated types wherever the trait holds, but not its `where` clauses about other types: a
/// supertrait `Implied<T, Ty = T, Ty: Bound>` is how [`Engine`] says `T: Bound` once.
pub trait Implied<T: ?Sized> {
    type Ty: ?Sized;
}

impl<DB, T: ?Sized> Implied<T> for DB {
    type Ty = T;
}

/// A Rust type the shared queries both bind and read on `DB`.
pub trait Value<DB: Database>: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB> {}

impl<DB: Database, T> Value<DB> for T where
    T: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>
{
}

/// A row of an engine's, as the row decoders (`rows.rs`) read it.
pub trait DbRow: sqlx::Row<Database: Engine> {}

impl<R: sqlx::Row<Database: Engine>> DbRow for R {}

/// How many rows a statement changed (sqlx gives each engine's result its own method).
pub trait RowsAffected {
    fn rows_affected(&self) -> u64;
}
