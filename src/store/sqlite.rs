//! The embedded SQLite store (the default). WAL mode lets reads run beside a write;
//! `synchronous = FULL` makes every acknowledged write survive a crash; write transactions
//! start with `BEGIN IMMEDIATE`, so two writers queue on the lock instead of failing midway
//! when one upgrades a read, and row locks are not needed.
//!
//! The queries themselves are shared with PostgreSQL (`SqlStore` in `sql/`); this file holds
//! only what differs: the connection, the dialect ([`Engine`]) and constraint names.

use std::str::FromStr;

use sqlx::error::DatabaseError;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteError, SqliteJournalMode, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use time::OffsetDateTime;

use super::seeds::KeySource;
use super::serving::Serving;
use super::sql::{
    AUTHORIZATION_INSERT, Direct, Engine, RowsAffected, SqlStore, backend, map_err,
    permissions_to_stored, stored_repository_ids,
};
use super::{Constraint, Error, Result};
use crate::domain::authorization::NewAuthorization;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The store on SQLite.
pub type SqliteStore = SqlStore<Sqlite>;

/// SQLite's dialect and what it does its own way (see [`Engine`]).
impl Engine for Sqlite {
    /// The database file; `None` for an in-memory database.
    type State = Option<std::path::PathBuf>;

    /// Takes SQLite's write lock at once, so writers queue.
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    /// The write lock already covers every read of a write transaction.
    const LOCK_FOR_UPDATE: &'static str = "";
    const LOCK_AUTHORIZATION_FOR_UPDATE: &'static str = "";

    /// A grant's scopes and `updated_at` are derived from its authorizations, in id order, so
    /// the union keeps the order in which scopes were first granted.
    const GRANT_SELECT: &'static str = "SELECT g.id, g.created_at, \
     (SELECT MAX(updated_at) FROM authorizations WHERE grant_id = g.id) AS updated_at, \
     (SELECT MAX(last_used_at) FROM authorizations WHERE grant_id = g.id) AS last_used_at, \
     (SELECT group_concat(scopes, ' ') FROM (SELECT scopes FROM authorizations WHERE grant_id = g.id ORDER BY id)) AS scopes, \
     p.id AS app_id, p.kind AS app_kind, p.name AS app_name, p.url AS app_url, p.client_id AS app_client_id, \
     p.user_token_ttl AS app_user_token_ttl FROM grants g JOIN apps p ON p.id = g.app_id";

    const SNAPSHOTS: bool = true;

    /// SQLite: a NULL id takes the next one.
    fn id_or_next(param: &str, _table: &str) -> String {
        param.to_owned()
    }

    /// Nothing to do: AUTOINCREMENT already moved past an explicit id.
    fn sync_sequence(_table: &str) -> Option<String> {
        None
    }

    fn sequence_position(table: &str) -> String {
        format!("SELECT seq FROM sqlite_sequence WHERE name = '{table}'")
    }

    fn set_sequence_position(table: &str) -> String {
        // The sequence row exists only once the table has had a row: create it first if need be.
        format!(
            "INSERT INTO sqlite_sequence (name, seq) SELECT '{table}', 0 \
               WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = '{table}'); \
             UPDATE sqlite_sequence SET seq = MAX(seq, $1, (SELECT COALESCE(MAX(id), 0) FROM {table})) WHERE name = '{table}'"
        )
    }

    async fn copy_to(store: &SqliteStore, path: &std::path::Path) -> Result<()> {
        store.copy_to(path).await
    }

    async fn restore_from(store: &SqliteStore, path: &std::path::Path) -> Result<()> {
        store.restore_from(path).await
    }

    async fn insert_authorization_rows(
        tx: &mut Transaction<'static, Sqlite>,
        rows: &[(&NewAuthorization, Option<i64>)],
    ) -> Result<()> {
        SqliteStore::insert_authorization_rows(tx, rows).await
    }
}

impl RowsAffected for SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        SqliteQueryResult::rows_affected(self)
    }
}

/// SQLite's extended result codes of a broken uniqueness rule: `SQLITE_CONSTRAINT_UNIQUE`
/// and `SQLITE_CONSTRAINT_PRIMARYKEY` (an explicit id already taken).
const UNIQUE_VIOLATIONS: [&str; 2] = ["2067", "1555"];

/// Which [`Constraint`] each unique index or key is, by the columns SQLite names for it.
const UNIQUE_COLUMNS: [(&[&str], Constraint); 8] = [
    (&["users.login_key"], Constraint::Login),
    (&["apps.client_id"], Constraint::ClientId),
    (&["authorizations.token_hash"], Constraint::TokenHash),
    (
        &[
            "authorizations.user_id",
            "authorizations.app_id",
            "authorizations.fingerprint",
        ],
        Constraint::AppFingerprint,
    ),
    (
        &["authorizations.user_id", "authorizations.note"],
        Constraint::PersonalNote,
    ),
    (&["users.id"], Constraint::AccountId),
    (&["repositories.id"], Constraint::AccountId),
    (&["device_codes.user_code_hash"], Constraint::UserCode),
];

/// The [`Constraint`] a unique violation of SQLite's broke, `None` for any other error. A
/// violation is recognised by its extended result code. Which index it broke SQLite gives
/// nowhere else than in the message's column list ("UNIQUE constraint failed: users.login_key":
/// it has no constraint names, unlike PostgreSQL), so that list is compared whole with the
/// columns of each index (see migrations/sqlite).
pub(super) fn unique_violation(db: &dyn DatabaseError) -> Option<Constraint> {
    if db.try_downcast_ref::<SqliteError>().is_none()
        || !db
            .code()
            .is_some_and(|code| UNIQUE_VIOLATIONS.contains(&code.as_ref()))
    {
        return None;
    }
    let columns: Vec<&str> = db
        .message()
        .rsplit_once(": ")
        .map(|(_, columns)| columns.split(", ").collect())
        .unwrap_or_default();
    UNIQUE_COLUMNS
        .iter()
        .find(|(names, _)| *names == columns.as_slice())
        .map(|(_, constraint)| *constraint)
}

impl SqliteStore {
    /// The database file `url` names, `None` for an in-memory database.
    pub fn file_of(url: &str) -> Option<std::path::PathBuf> {
        // sqlx names `sqlite::memory:` `file:sqlx-in-memory-N` and keeps its in-memory flag to
        // itself, so the URL is read as written: else that name would be taken for a file in
        // the working directory, and the key made beside it.
        if url.contains(":memory:") || url.contains("mode=memory") {
            return None;
        }
        let options = SqliteConnectOptions::from_str(url).ok()?;
        Some(options.get_filename().to_owned())
            .filter(|path| !path.as_os_str().is_empty() && path.as_os_str() != ":memory:")
    }

    /// Connections a SQLite server keeps by default: writers take turns on the file anyway,
    /// and each reader's page cache costs memory (see `cache_size` below).
    pub const POOL_SIZE: u32 = 8;

    /// Opens (or creates) the database at `url`, its TOTP secrets sealed with the key in
    /// `secret_key_file`, by default `<database>.key` beside it.
    pub async fn open(
        url: &str,
        secret_key_file: Option<&std::path::Path>,
        settings: &super::PoolSettings,
    ) -> Result<Self> {
        Self::open_synchronous(url, secret_key_file, settings, SqliteSynchronous::Full).await
    }

    /// [`open`](Self::open) for a database thrown away at exit (`--ephemeral`): commits do not
    /// wait for the disk, since a crash loses nothing anyone keeps.
    pub async fn open_throwaway(
        url: &str,
        secret_key_file: Option<&std::path::Path>,
        settings: &super::PoolSettings,
    ) -> Result<Self> {
        Self::open_synchronous(url, secret_key_file, settings, SqliteSynchronous::Off).await
    }

    async fn open_synchronous(
        url: &str,
        secret_key_file: Option<&std::path::Path>,
        settings: &super::PoolSettings,
        synchronous: SqliteSynchronous,
    ) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(backend)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .foreign_keys(true)
            // Another process (the CLI, while the server runs) may hold the write lock briefly.
            .busy_timeout(settings.busy_timeout)
            // Token hashes are random, so inserts and lookups touch index pages all over the
            // file: a 32 MiB page cache per connection (SQLite's default is 2 MiB) keeps a
            // million-token database from re-reading them. (No memory map: every pooled
            // connection would map the file again, and each mapping counts in the RSS.)
            .pragma("cache_size", "-32768")
            // Deleted and overwritten values (an old password hash, a TOTP secret sealed at
            // the upgrade that introduced sealing) are zeroed where that costs no extra write,
            // so they do not linger in free space for a copy of the file to reveal.
            .pragma("secure_delete", "fast");
        let file = Self::file_of(url);
        if let Some(file) = &file {
            // Before SQLite creates it (0644), since it gives its -wal, -shm and -journal
            // files the database file's mode.
            super::files::prepare_sqlite_database(file).map_err(|error| {
                Error::Backend(format!("cannot create {}: {error}", file.display()).into())
            })?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.max_connections.unwrap_or(Self::POOL_SIZE))
            // sqlx pings every connection it hands out by default: for a local file that is a
            // round trip to the connection's thread that can only ever succeed.
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .map_err(backend)?;
        MIGRATOR.run(&pool).await.map_err(super::migration_error)?;
        let key = match (secret_key_file, &file) {
            (Some(path), _) => KeySource::File {
                path: path.to_owned(),
                create: true,
            },
            (None, Some(file)) => KeySource::File {
                path: super::files::with_suffix(file, ".key"),
                create: true,
            },
            (None, None) => KeySource::Ephemeral,
        };
        let (seeds, sealed_now) = Self::prepare_totp_secrets(&pool, &key).await?;
        if file.is_some() && sealed_now > 0 {
            // Old pages holding the secrets just sealed may still be in the log: copied into
            // the database (where `secure_delete` zeroed their free space) and the log emptied.
            // Best effort: a reader of another process may hold the log.
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&pool)
                .await
                .map_err(map_err)?;
        }
        let seeds = std::sync::Arc::new(seeds);
        let direct = std::sync::Arc::new(Direct {
            pool: pool.clone(),
            seeds: seeds.clone(),
        });
        Ok(Self {
            pool,
            state: file,
            seeds,
            lookups: direct.clone(),
            direct,
            serving: Serving::default(),
        })
    }

    /// This store as a serving node uses it (see `serving.rs`): request counts kept in
    /// memory, and for a database file and a non-zero `token_cache`, token checks answered
    /// from an index of at most `token_cache` records that follows every commit (`cache.rs`).
    pub fn serving(mut self, token_cache: usize, settings: &super::PoolSettings) -> Result<Self> {
        let index = match &self.state {
            Some(file) if token_cache > 0 => {
                Some(super::cache::TokenIndex::open(file, token_cache, settings)?)
            }
            _ => None,
        };
        if let Some(index) = &index {
            self.lookups = std::sync::Arc::new(super::cache::Cached::new(
                index.clone(),
                self.direct.clone(),
            ));
        }
        self.serving = Serving::new(self.direct.clone(), index);
        Ok(self)
    }

    /// The database file, for a second connection of the server's own (the token index).
    pub fn file(&self) -> Option<std::path::PathBuf> {
        self.state.clone()
    }
}

/// Tables a snapshot leaves alone: the token index's change log (rolling it back would hide
/// the restore from the index) and sqlx's migration record (the same in every snapshot).
const NOT_SNAPSHOTTED: &str = "('cache_changes', '_sqlx_migrations')";

impl SqliteStore {
    /// `VACUUM INTO`: a consistent copy of the database as of one read transaction, written
    /// without blocking writers.
    async fn copy_to(&self, path: &std::path::Path) -> Result<()> {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(backend(error)),
        }
        let path = path
            .to_str()
            .ok_or_else(|| Error::Backend("the snapshot directory's path is not UTF-8".into()))?;
        sqlx::query("VACUUM INTO $1")
            .bind(path)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// Replaces every row with the snapshot's in one write transaction on one connection,
    /// with foreign keys checked at commit (tables go in any order). The change-log triggers
    /// fire for every deleted row, so token indexes of other processes see the change.
    async fn restore_from(&self, path: &std::path::Path) -> Result<()> {
        let path = path
            .to_str()
            .ok_or_else(|| Error::Backend("the snapshot directory's path is not UTF-8".into()))?;
        let mut connection = self.pool.acquire().await.map_err(map_err)?;
        // Off for the copy (only outside a transaction does the pragma take): with them on,
        // deleting a user would cascade and `ON DELETE RESTRICT` would refuse, whatever the
        // order, and SQLite's deferred count of violations does not settle when the parents
        // come back after their children. The rows come whole from a consistent database, and
        // `foreign_key_check` vouches for them before the commit.
        sqlx::query("PRAGMA foreign_keys = OFF")
            .execute(&mut *connection)
            .await
            .map_err(map_err)?;
        sqlx::query("ATTACH DATABASE $1 AS snapshot")
            .bind(path)
            .execute(&mut *connection)
            .await
            .map_err(map_err)?;
        let restored = Self::copy_rows(&mut connection).await;
        // Detached whatever happened: the connection goes back to the pool.
        let detached = sqlx::query("DETACH DATABASE snapshot")
            .execute(&mut *connection)
            .await
            .map_err(map_err);
        let checked = sqlx::query("PRAGMA foreign_keys = ON")
            .execute(&mut *connection)
            .await
            .map_err(map_err);
        if checked.is_err() {
            // A pooled connection must not go back without its foreign keys.
            connection.close_on_drop();
        }
        restored.and(detached.map(|_| ())).and(checked.map(|_| ()))
    }

    async fn copy_rows(connection: &mut sqlx::SqliteConnection) -> Result<()> {
        let tables: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT name FROM snapshot.sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name NOT IN {NOT_SNAPSHOTTED} ORDER BY name"
        )))
        .fetch_all(&mut *connection)
        .await
        .map_err(map_err)?;
        let mut tx = sqlx::Connection::begin(&mut *connection)
            .await
            .map_err(map_err)?;
        // The names come from the snapshot this server wrote, quoted all the same.
        for table in &tables {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM main.\"{table}\"")))
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        for table in &tables {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO main.\"{table}\" SELECT * FROM snapshot.\"{table}\""
            )))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM main.sqlite_sequence WHERE name NOT IN {NOT_SNAPSHOTTED}"
        )))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO main.sqlite_sequence SELECT * FROM snapshot.sqlite_sequence \
             WHERE name NOT IN {NOT_SNAPSHOTTED}"
        )))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        let broken: Vec<sqlx::sqlite::SqliteRow> = sqlx::query("PRAGMA main.foreign_key_check")
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
        if !broken.is_empty() {
            return Err(Error::Backend(
                "the snapshot's rows break foreign keys; nothing was restored".into(),
            ));
        }
        tx.commit().await.map_err(map_err)
    }
}

/// Rows per multi-row INSERT of a batch: 16 parameters each keeps a statement well under
/// SQLite's limit of 32,766.
const ROWS_PER_INSERT: usize = 1_000;

impl SqliteStore {
    /// The rows of a bulk insert, in multi-row statements: one per [`ROWS_PER_INSERT`] rows.
    async fn insert_authorization_rows(
        tx: &mut Transaction<'static, Sqlite>,
        rows: &[(&NewAuthorization, Option<i64>)],
    ) -> Result<()> {
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut insert = sqlx::QueryBuilder::<Sqlite>::new(format!("{AUTHORIZATION_INSERT} "));
            insert.push_values(chunk, |mut row, (new, grant_id)| {
                let now = new.now.unix_timestamp();
                row.push_bind(new.user_id.0)
                    .push_bind(new.app.as_ref().map(|a| a.id.0))
                    .push_bind(*grant_id)
                    .push_bind(new.scopes.to_stored())
                    .push_bind(new.token_hash.0.to_vec())
                    .push_bind(new.token_last_eight.clone())
                    .push_bind(new.note.clone())
                    .push_bind(new.note_url.clone())
                    .push_bind(new.fingerprint.clone().unwrap_or_default())
                    .push_bind(now)
                    .push_bind(now)
                    .push_bind(new.expires_at.map(OffsetDateTime::unix_timestamp))
                    .push_bind(new.scoped_to.as_ref().map(|s| s.target.id.0))
                    .push_bind(
                        new.scoped_to
                            .as_ref()
                            .map(|s| permissions_to_stored(&s.permissions)),
                    )
                    .push_bind(
                        new.scoped_to
                            .as_ref()
                            .map(|s| s.repositories.as_str().to_owned()),
                    )
                    .push_bind(new.scoped_to.as_ref().and_then(stored_repository_ids));
            });
            insert.build().execute(&mut **tx).await.map_err(map_err)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An in-memory database has no file: nothing is made for it in the working directory (sqlx
    /// names it `file:sqlx-in-memory-N`), and its TOTP key lives in memory with it.
    #[tokio::test]
    async fn an_in_memory_database_makes_no_files() {
        for url in [
            "sqlite::memory:",
            "sqlite://x.db?mode=memory",
            "sqlite:file:a?mode=memory&cache=shared",
        ] {
            assert_eq!(SqliteStore::file_of(url), None, "{url}");
        }
        assert_eq!(
            SqliteStore::file_of("sqlite:///tmp/g.db"),
            Some("/tmp/g.db".into())
        );
        let strays = || {
            std::fs::read_dir(".")
                .expect("the working directory")
                .filter_map(Result::ok)
                .filter(|entry| {
                    entry
                        .file_name()
                        .to_string_lossy()
                        .contains("sqlx-in-memory")
                })
                .count()
        };
        let before = strays();
        let store = crate::store::open("sqlite::memory:").await.expect("open");
        assert_eq!(store.list_users().await.expect("a query").len(), 0);
        assert_eq!(strays(), before);
    }

    /// Every unique rule of the schema that the domain answers `already_exists` for, broken on
    /// a real, migrated database, maps to its [`Constraint`]; any other stays a failure.
    #[tokio::test]
    async fn each_unique_violation_maps_to_its_constraint() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("rules.db").display());
        let store = SqliteStore::open(&url, None, &crate::store::PoolSettings::default())
            .await
            .expect("open");
        sqlx::raw_sql(
            "INSERT INTO users (id, login, login_key, created_at, updated_at) VALUES (1, 'a', 'a', 0, 0); \
             INSERT INTO apps (id, kind, name, url, owner_id, client_id, created_at, updated_at) \
               VALUES (1, 'oauth', 'n', 'u', 1, 'c', 0, 0); \
             INSERT INTO repositories (id, owner_id, name, name_key) VALUES (1, 1, 'r', 'r'); \
             INSERT INTO grants (id, user_id, app_id, created_at) VALUES (1, 1, 1, 0); \
             INSERT INTO authorizations (user_id, app_id, grant_id, scopes, token_hash, token_last_eight, fingerprint, created_at, updated_at) \
               VALUES (1, 1, 1, '', x'01', 'x', 'f', 0, 0); \
             INSERT INTO authorizations (user_id, app_id, scopes, token_hash, token_last_eight, note, created_at, updated_at) \
               VALUES (1, NULL, '', x'02', 'x', 'n', 0, 0); \
             INSERT INTO device_codes (device_code_hash, user_code_hash, app_id, scopes, interval_seconds, created_at, expires_at) \
               VALUES (x'01', x'01', 1, '', 5, 0, 9);",
        )
        .execute(&store.pool)
        .await
        .expect("the rows every rule below collides with");
        let cases = [
            (
                "INSERT INTO users (login, login_key, created_at, updated_at) VALUES ('A', 'a', 0, 0)",
                Some(Constraint::Login),
            ),
            (
                "INSERT INTO users (id, login, login_key, created_at, updated_at) VALUES (1, 'b', 'b', 0, 0)",
                Some(Constraint::AccountId),
            ),
            (
                "INSERT INTO repositories (id, owner_id, name, name_key) VALUES (1, 1, 's', 's')",
                Some(Constraint::AccountId),
            ),
            (
                "INSERT INTO apps (kind, name, url, owner_id, client_id, created_at, updated_at) \
                 VALUES ('oauth', 'm', 'u', 1, 'c', 0, 0)",
                Some(Constraint::ClientId),
            ),
            (
                "INSERT INTO authorizations (user_id, scopes, token_hash, token_last_eight, created_at, updated_at) \
                 VALUES (1, '', x'01', 'x', 0, 0)",
                Some(Constraint::TokenHash),
            ),
            (
                "INSERT INTO authorizations (user_id, app_id, grant_id, scopes, token_hash, token_last_eight, fingerprint, created_at, updated_at) \
                 VALUES (1, 1, 1, '', x'03', 'x', 'f', 0, 0)",
                Some(Constraint::AppFingerprint),
            ),
            (
                "INSERT INTO authorizations (user_id, scopes, token_hash, token_last_eight, note, created_at, updated_at) \
                 VALUES (1, '', x'04', 'x', 'n', 0, 0)",
                Some(Constraint::PersonalNote),
            ),
            (
                "INSERT INTO device_codes (device_code_hash, user_code_hash, app_id, scopes, interval_seconds, created_at, expires_at) \
                 VALUES (x'02', x'01', 1, '', 5, 0, 9)",
                Some(Constraint::UserCode),
            ),
            // Unique, but never the client's doing: a failure, not "already exists".
            (
                "INSERT INTO grants (user_id, app_id, created_at) VALUES (1, 1, 0)",
                None,
            ),
        ];
        for (sql, expected) in cases {
            let error = sqlx::query(sql).execute(&store.pool).await.expect_err(sql);
            match (map_err(error), expected) {
                (Error::Conflict(constraint), Some(expected)) => {
                    assert_eq!(constraint, expected, "{sql}");
                }
                (Error::Backend(_), None) => {}
                (other, _) => panic!("{sql}: expected {expected:?}, got {other:?}"),
            }
        }
    }
}
