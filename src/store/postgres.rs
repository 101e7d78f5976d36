//! The PostgreSQL store, for deployments where several grantd nodes share one database.
//! Everything that must agree across nodes (tokens, grants, counters) is in the database,
//! and no node caches any of it, so a token revoked through one node fails on every other at
//! once.
//!
//! Token lookups (every check and every request with a token) are batched while the database
//! is busy, each answered by a query that starts after it was asked (`coalesce.rs`).
//!
//! Transactions run at READ COMMITTED; the few read-then-write paths lock the rows they depend
//! on (`FOR UPDATE`), and uniqueness races end in the unique indexes, which the domain turns
//! into "already exists" or a retry. The queries are shared with SQLite (`SqlStore` in `sql/`);
//! this file holds only what differs: the connection, the dialect ([`Engine`]), constraint
//! names and the batched lookups.

use std::str::FromStr;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use sqlx::error::DatabaseError;
use sqlx::postgres::{
    PgConnectOptions, PgDatabaseError, PgPool, PgPoolOptions, PgQueryResult, PgRow,
};
use sqlx::{Postgres, Row, Transaction};
use time::OffsetDateTime;

use super::coalesce::Coalescer;
use super::seeds::{KeySource, Seeds};
use super::serving::Serving;
use super::sql::{
    AUTHORIZATION_INSERT, Direct, Engine, REQUESTING_APP_COLUMNS, RowsAffected, SqlStore,
    TOKEN_SELECT, app_and_token_from_row, backend, corrupt, map_err, permissions_to_stored,
    stored_repository_ids, token_record_from_row,
};
use super::{AppAndToken, Constraint, Error, Lookups, Result};
use crate::domain::ClientId;
use crate::domain::app::App;
use crate::domain::app_token::TokenRecord;
use crate::domain::authorization::NewAuthorization;
use crate::domain::token::TokenHash;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The store on PostgreSQL.
pub type PostgresStore = SqlStore<Postgres>;

/// PostgreSQL's dialect and what it does its own way (see [`Engine`]).
impl Engine for Postgres {
    /// Nothing beside the pool: everything nodes share is in the database.
    type State = ();

    /// READ COMMITTED; the locks below do the rest.
    const BEGIN_WRITE: &'static str = "BEGIN";
    const LOCK_FOR_UPDATE: &'static str = " FOR UPDATE";
    /// The authorization SELECT's outer join forbids locking the app side.
    const LOCK_AUTHORIZATION_FOR_UPDATE: &'static str = " FOR UPDATE OF a";

    /// A grant's scopes and `updated_at` are derived from its authorizations, in id order, so
    /// the union keeps the order in which scopes were first granted.
    const GRANT_SELECT: &'static str = "SELECT g.id, g.created_at, \
     (SELECT MAX(updated_at) FROM authorizations WHERE grant_id = g.id) AS updated_at, \
     (SELECT MAX(last_used_at) FROM authorizations WHERE grant_id = g.id) AS last_used_at, \
     (SELECT string_agg(scopes, ' ' ORDER BY id) FROM authorizations WHERE grant_id = g.id) AS scopes, \
     p.id AS app_id, p.kind AS app_kind, p.name AS app_name, p.url AS app_url, p.client_id AS app_client_id, \
     p.user_token_ttl AS app_user_token_ttl FROM grants g JOIN apps p ON p.id = g.app_id";

    /// Snapshots copy a SQLite file; a PostgreSQL database has none to copy (see the test
    /// controls in docs/testing.md).
    const SNAPSHOTS: bool = false;

    /// A NULL id is refused: the sequence's next value stands in for it.
    fn id_or_next(param: &str, table: &str) -> String {
        format!("COALESCE({param}, nextval(pg_get_serial_sequence('{table}', 'id')))")
    }

    /// A sequence does not notice an explicit id: move it past the largest.
    fn sync_sequence(table: &str) -> Option<String> {
        Some(format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
        ))
    }

    fn sequence_position(table: &str) -> String {
        format!("SELECT pg_sequence_last_value(pg_get_serial_sequence('{table}', 'id')::regclass)")
    }

    fn set_sequence_position(table: &str) -> String {
        format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST($1, (SELECT COALESCE(MAX(id), 0) FROM {table}), 1))"
        )
    }

    async fn copy_to(_store: &PostgresStore, _path: &std::path::Path) -> Result<()> {
        Err(Error::Backend("snapshots need a SQLite database".into()))
    }

    async fn restore_from(_store: &PostgresStore, _path: &std::path::Path) -> Result<()> {
        Err(Error::Backend("snapshots need a SQLite database".into()))
    }

    async fn insert_authorization_rows(
        tx: &mut Transaction<'static, Postgres>,
        rows: &[(&NewAuthorization, Option<i64>)],
    ) -> Result<()> {
        PostgresStore::insert_authorization_rows(tx, rows).await
    }
}

impl RowsAffected for PgQueryResult {
    fn rows_affected(&self) -> u64 {
        PgQueryResult::rows_affected(self)
    }
}

/// Connection pool and timeouts (`--db-pool-size`, `--db-statement-timeout`,
/// `--db-acquire-timeout`, `--db-busy-timeout`), and how long SQLite's change log is kept
/// (`--change-log-retention`). Each engine reads the settings it has.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// `None`: the engine's default ([`POSTGRES_POOL_SIZE`], `SqliteStore::POOL_SIZE`).
    pub max_connections: Option<u32>,
    /// A query running longer is cancelled by the server, so a stuck one cannot pin a connection.
    pub statement_timeout: StdDuration,
    /// How long a request waits for a free connection (or for an unreachable database) before
    /// it is answered 503.
    pub acquire_timeout: StdDuration,
    /// SQLite: the database is thrown away at exit (`--ephemeral`), so commits need not wait
    /// for the disk (`synchronous = OFF`): start-up's migrations and every reset are faster.
    pub throwaway: bool,
    /// SQLite: how long a statement waits for another process's write lock.
    pub busy_timeout: StdDuration,
    /// SQLite: how long the token index's change log keeps a row (see `cache.rs`).
    pub change_log_retention: StdDuration,
}

/// Connections a PostgreSQL node keeps by default.
pub const POSTGRES_POOL_SIZE: u32 = 16;

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: None,
            statement_timeout: StdDuration::from_secs(10),
            acquire_timeout: StdDuration::from_secs(5),
            throwaway: false,
            busy_timeout: StdDuration::from_secs(10),
            change_log_retention: StdDuration::from_mins(10),
        }
    }
}

/// A pooled connection idle this long is pinged before use (see [`PostgresStore::open`]).
const IDLE_BEFORE_PING: StdDuration = StdDuration::from_secs(1);

/// Token lookups, batched while the database is busy (see `coalesce.rs`): tokens alone
/// (token authentication), and apps by client id with or without a token (app sign-in, and a
/// check's sign-in and token at once).
struct Batched {
    tokens: Coalescer<TokenHash, Option<std::sync::Arc<TokenRecord>>>,
    apps: Coalescer<(ClientId, Option<TokenHash>), AppAndToken>,
}

#[async_trait]
impl Lookups for Batched {
    async fn find_token(&self, hash: &TokenHash) -> Result<Option<std::sync::Arc<TokenRecord>>> {
        self.tokens.get(*hash).await
    }

    async fn find_app_by_client_id(
        &self,
        client_id: &ClientId,
    ) -> Result<Option<std::sync::Arc<App>>> {
        let (app, _) = self.apps.get((client_id.clone(), None)).await?;
        Ok(app)
    }

    async fn find_app_and_token(
        &self,
        client_id: &ClientId,
        hash: &TokenHash,
    ) -> Result<AppAndToken> {
        self.apps.get((client_id.clone(), Some(*hash))).await
    }
}

/// Batches of lookups at the database at once. Two: while one batch is at the database the
/// next one gathers, and a slow batch does not hold up every check.
const LOOKUP_BATCHES_IN_FLIGHT: usize = 2;
/// Lookups per batch at most.
const LOOKUP_BATCH_SIZE: usize = 128;

/// The [`Constraint`] a unique violation of PostgreSQL's broke, by its constraint and index
/// names (see migrations/postgres); `None` for any other error.
pub(super) fn unique_violation(db: &dyn DatabaseError) -> Option<Constraint> {
    if db.try_downcast_ref::<PgDatabaseError>().is_none() || !db.is_unique_violation() {
        return None;
    }
    match db.constraint() {
        Some("users_login_key_key") => Some(Constraint::Login),
        Some("apps_client_id_key") => Some(Constraint::ClientId),
        Some("authorizations_token_hash_key") => Some(Constraint::TokenHash),
        Some("authorizations_app_fingerprint") => Some(Constraint::AppFingerprint),
        Some("authorizations_personal_note") => Some(Constraint::PersonalNote),
        Some("users_pkey" | "repositories_pkey") => Some(Constraint::AccountId),
        Some("device_codes_user_code_hash_key") => Some(Constraint::UserCode),
        _ => None,
    }
}

impl PostgresStore {
    /// Connects and migrates; TOTP secrets are sealed with the key in `secret_key_file`, which
    /// must exist, be the same on every node, and is needed once the database holds a secret.
    pub async fn open(
        url: &str,
        settings: PoolSettings,
        secret_key_file: Option<&std::path::Path>,
    ) -> Result<Self> {
        let timeout_ms = settings.statement_timeout.as_millis().to_string();
        let options = PgConnectOptions::from_str(url)
            .map_err(backend)?
            .options([("statement_timeout", timeout_ms.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections.unwrap_or(POSTGRES_POOL_SIZE))
            .acquire_timeout(settings.acquire_timeout)
            // sqlx pings every connection it hands out by default, a round trip before each
            // query (a token check made four instead of two). A connection in steady use has
            // just answered a query, so only one idle for longer is tested: after an outage
            // every connection has been idle, and each broken one is dropped before use.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= IDLE_BEFORE_PING {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options)
            .await
            .map_err(map_err)?;
        MIGRATOR.run(&pool).await.map_err(super::migration_error)?;
        // Never made up here: nodes that each made their own key could not open each other's
        // secrets.
        let key = secret_key_file.map_or(KeySource::None, |path| KeySource::File {
            path: path.to_owned(),
            create: false,
        });
        let (seeds, _) = Self::prepare_totp_secrets(&pool, &key).await?;
        let seeds = std::sync::Arc::new(seeds);
        let token_lookups = Coalescer::new(LOOKUP_BATCHES_IN_FLIGHT, LOOKUP_BATCH_SIZE, {
            let (pool, seeds) = (pool.clone(), seeds.clone());
            move |hashes| Box::pin(fetch_tokens(pool.clone(), seeds.clone(), hashes))
        });
        let app_lookups = Coalescer::new(LOOKUP_BATCHES_IN_FLIGHT, LOOKUP_BATCH_SIZE, {
            let (pool, seeds) = (pool.clone(), seeds.clone());
            move |keys| Box::pin(fetch_apps_and_tokens(pool.clone(), seeds.clone(), keys))
        });
        let direct = std::sync::Arc::new(Direct {
            pool: pool.clone(),
            seeds: seeds.clone(),
        });
        Ok(Self {
            pool,
            seeds,
            direct,
            lookups: std::sync::Arc::new(Batched {
                tokens: token_lookups,
                apps: app_lookups,
            }),
            serving: Serving::default(),
            state: (),
        })
    }

    /// This store as a serving node uses it (see `serving.rs`): request counts kept in
    /// memory. (No token index: several nodes could not drop a revoked token from all their
    /// caches at the same instant.)
    #[must_use]
    pub fn serving(mut self) -> Self {
        self.serving = Serving::new(self.direct.clone(), None);
        self
    }
}

/// Rows per INSERT of a bulk insert: the columns go as arrays, 16 parameters whatever the
/// count, so the bound is only the size of one message (~2 MB here).
const ROWS_PER_INSERT: usize = 10_000;

impl PostgresStore {
    /// The rows of a bulk insert, a column an array (`unnest`): PostgreSQL parses and plans
    /// one small statement per [`ROWS_PER_INSERT`] rows instead of a list of 16 parameters a
    /// row (a million tokens: 42 s as multi-row VALUES, most of it the server's).
    async fn insert_authorization_rows(
        tx: &mut Transaction<'static, Postgres>,
        rows: &[(&NewAuthorization, Option<i64>)],
    ) -> Result<()> {
        static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let sql = SQL.get_or_init(|| {
            format!(
                "{AUTHORIZATION_INSERT} SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], \
                 $5::bytea[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[], \
                 $12::bigint[], $13::bigint[], $14::text[], $15::text[], $16::text[])"
            )
        });
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let created = column(chunk, |new| new.now.unix_timestamp());
            sqlx::query(sql.as_str())
                .bind(column(chunk, |new| new.user_id.0))
                .bind(column(chunk, |new| new.app.as_ref().map(|a| a.id.0)))
                .bind(chunk.iter().map(|(_, grant)| *grant).collect::<Vec<_>>())
                .bind(column(chunk, |new| new.scopes.to_stored()))
                .bind(column(chunk, |new| &new.token_hash.0[..]))
                .bind(column(chunk, |new| new.token_last_eight.as_str()))
                .bind(column(chunk, |new| new.note.as_deref()))
                .bind(column(chunk, |new| new.note_url.as_deref()))
                .bind(column(chunk, |new| {
                    new.fingerprint.as_deref().unwrap_or_default()
                }))
                .bind(created.clone())
                .bind(created)
                .bind(column(chunk, |new| {
                    new.expires_at.map(OffsetDateTime::unix_timestamp)
                }))
                .bind(column(chunk, |new| {
                    new.scoped_to.as_ref().map(|s| s.target.id.0)
                }))
                .bind(column(chunk, |new| {
                    new.scoped_to
                        .as_ref()
                        .map(|s| permissions_to_stored(&s.permissions))
                }))
                .bind(column(chunk, |new| {
                    new.scoped_to.as_ref().map(|s| s.repositories.as_str())
                }))
                .bind(column(chunk, |new| {
                    new.scoped_to.as_ref().and_then(stored_repository_ids)
                }))
                .execute(&mut **tx)
                .await
                .map_err(map_err)?;
        }
        Ok(())
    }
}

/// One column of a bulk insert's rows, as the array bound for it.
fn column<'a, T>(
    rows: &'a [(&'a NewAuthorization, Option<i64>)],
    value: impl Fn(&'a NewAuthorization) -> T,
) -> Vec<T> {
    rows.iter().map(|(new, _)| value(new)).collect()
}

/// The tokens with these hashes, in their order, in one query: the keys go as an array, and
/// each row says which key it answers (a hash sent twice gets two rows). A lone key, the rule
/// under light load, takes the plain statement, which is cheaper for the database.
///
/// `OFFSET 0` keeps each key's lookup a subquery of its own, run once per key through the
/// unique index. Without it PostgreSQL flattens the joins, and the generic plan it settles on
/// for a prepared statement (it cannot see the array's length) may scan every authorization of
/// the user and filter them against the batch: several times slower already for four keys on
/// a thousand tokens, and worse the more tokens a user holds.
async fn fetch_tokens(
    pool: PgPool,
    seeds: std::sync::Arc<Seeds>,
    hashes: Vec<TokenHash>,
) -> Result<Vec<Option<std::sync::Arc<TokenRecord>>>> {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let [hash] = hashes[..] {
        return Ok(vec![
            PostgresStore::fetch_token(&pool, &seeds, &hash).await?,
        ]);
    }
    let sql = SQL.get_or_init(|| {
        format!(
            "SELECT q.batch_position, t.* FROM unnest($1::bytea[]) WITH ORDINALITY AS q(token_hash, batch_position) \
             CROSS JOIN LATERAL ({TOKEN_SELECT} WHERE a.token_hash = q.token_hash OFFSET 0) t"
        )
    });
    let keys: Vec<&[u8]> = hashes.iter().map(|hash| &hash.0[..]).collect();
    let rows = sqlx::query(sql.as_str())
        .bind(keys)
        .fetch_all(&pool)
        .await
        .map_err(map_err)?;
    let mut found = vec![None; hashes.len()];
    for row in &rows {
        *batch_slot(&mut found, row)? =
            Some(std::sync::Arc::new(token_record_from_row(row, &seeds)?));
    }
    Ok(found)
}

/// What [`fetch_tokens`] is to `find_token`, for `find_app_and_token` and, with no token
/// (a NULL in the array, which matches no row), `find_app_by_client_id`. The app is read per
/// key: an app is one row that holds its live secrets' digests (migration 0014), and reading
/// it once per distinct client id instead (a `MATERIALIZED` CTE joined back) cost more in
/// plan nodes than the lookups it saved.
async fn fetch_apps_and_tokens(
    pool: PgPool,
    seeds: std::sync::Arc<Seeds>,
    keys: Vec<(ClientId, Option<TokenHash>)>,
) -> Result<Vec<AppAndToken>> {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    match &keys[..] {
        [(client_id, Some(hash))] => {
            return Ok(vec![
                PostgresStore::fetch_app_and_token(&pool, &seeds, client_id, hash).await?,
            ]);
        }
        [(client_id, None)] => {
            let app = PostgresStore::fetch_app(&pool, client_id.as_str()).await?;
            return Ok(vec![(app.map(std::sync::Arc::new), None)]);
        }
        _ => {}
    }
    let sql = SQL.get_or_init(|| {
        format!(
            "SELECT q.batch_position, r.*, t.* \
             FROM unnest($1::text[], $2::bytea[]) WITH ORDINALITY AS q(client_id, token_hash, batch_position) \
             CROSS JOIN LATERAL (SELECT {REQUESTING_APP_COLUMNS} FROM apps r JOIN users ru ON ru.id = r.owner_id \
                                 WHERE r.client_id = q.client_id OFFSET 0) r \
             LEFT JOIN LATERAL ({TOKEN_SELECT} WHERE a.token_hash = q.token_hash OFFSET 0) t ON true"
        )
    });
    let client_ids: Vec<&str> = keys
        .iter()
        .map(|(client_id, _)| client_id.as_str())
        .collect();
    let hashes: Vec<Option<&[u8]>> = keys
        .iter()
        .map(|(_, hash)| hash.as_ref().map(|hash| &hash.0[..]))
        .collect();
    let rows = sqlx::query(sql.as_str())
        .bind(client_ids)
        .bind(hashes)
        .fetch_all(&pool)
        .await
        .map_err(map_err)?;
    let mut found = vec![(None, None); keys.len()];
    for row in &rows {
        *batch_slot(&mut found, row)? = app_and_token_from_row(row, &seeds)?;
    }
    Ok(found)
}

/// The answer slot of the key a batch row names by its `batch_position` (1-based).
fn batch_slot<'a, T>(slots: &'a mut [T], row: &PgRow) -> Result<&'a mut T> {
    let position: i64 = row.try_get("batch_position").map_err(backend)?;
    usize::try_from(position - 1)
        .ok()
        .and_then(|index| slots.get_mut(index))
        .ok_or_else(|| corrupt("batch position"))
}
