//! The in-memory token index of a SQLite server: which tokens exist, the records of the ones in
//! use, and the apps that check them, so that a token check costs no query in the common case.
//!
//! Staleness is the whole danger of such a cache: a revoked token must fail with the very next
//! request, whoever revoked it (this server, another grantd on the same file, or a `grantd`
//! command run beside the server). So before every answer from memory the index asks SQLite
//! whether anything was committed since it last looked (`PRAGMA data_version` on a connection of
//! its own, skipped while SQLite's WAL-index header reads as it did then, which costs no system
//! call: see `wal_index.rs`). If so, it reads the change log that triggers keep
//! (`cache_changes`, migration 0003) and the authorizations with ids above the last one it
//! knows, and applies both before answering. A record read from the database is
//! only cached if nothing was committed while it was being read.
//!
//! "Which tokens exist" is a set of the first 64 bits of every token hash, loaded in the
//! background at start (the server answers from the database until it is loaded): a token
//! whose hash is not in it is unknown without asking the database, which keeps made-up tokens
//! cheap. A hit in the set only means "look it up"; removing hashes is never needed for
//! correctness, only for speed.
//!
//! PostgreSQL servers do not use this: several nodes could not drop a revoked token from all
//! their caches at the same instant.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use quick_cache::sync::Cache;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::wal_index::{WalHeader, WalHeaderBytes};
use super::{AppAndToken, Error, Lookups, Result};
use crate::domain::ClientId;
use crate::domain::app::App;
use crate::domain::app_token::TokenRecord;
use crate::domain::token::TokenHash;

fn backend(error: rusqlite::Error) -> Error {
    Error::Backend(Box::new(error))
}

/// The first 64 bits of a token hash: SHA-256 output is uniform, so this is as good a key as
/// the whole hash for "might this token exist", at a quarter of the memory.
fn hash_key(hash: &[u8]) -> u64 {
    let mut first = [0; 8];
    first.copy_from_slice(&hash[..8]);
    u64::from_le_bytes(first)
}

/// Which token hashes exist: not known until the background load is done.
enum Known {
    Loading,
    Ready { keys: HashSet<u64>, last_id: i64 },
}

/// What the index has seen of the database.
struct Watch {
    connection: Connection,
    /// The `-shm` file, if there is one to read (see [`WalHeader`]).
    wal: Option<WalHeader>,
    /// The WAL-index header as read just before the last `data_version` that was applied in
    /// full; `None` forces the pragma.
    wal_header: Option<WalHeaderBytes>,
    data_version: i64,
    /// The last change-log row applied.
    last_change: i64,
    known: Known,
    /// Moves on whenever something was committed; a record read from the database is only
    /// cached if the generation did not move while it was read.
    generation: u64,
    /// Counts the background loads started: only the latest may install its snapshot (one
    /// started before a [`TokenIndex::reload`] read the rows the restore replaced).
    loads: u64,
}

/// A snapshot of the token hashes, read by the background load.
struct Snapshot {
    keys: HashSet<u64>,
    last_id: i64,
    last_change: i64,
}

pub struct TokenIndex {
    path: PathBuf,
    watch: Mutex<Watch>,
    records: Cache<TokenHash, Arc<TokenRecord>>,
    apps: Cache<String, Arc<App>>,
    /// `--db-busy-timeout`, for the index's own connections.
    busy_timeout: std::time::Duration,
    /// How long change-log rows are kept (`--change-log-retention`). A server that has not
    /// looked for longer than this (an idle second server on the same file) finds a gap in the
    /// log and reloads everything.
    change_log_retention: std::time::Duration,
}

/// Whether a token may exist, as far as the index knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Certainly not stored.
    Absent,
    /// Stored, or not known yet: ask the cache, then the database.
    Unknown,
}

fn open_connection(path: &Path, busy_timeout: std::time::Duration) -> Result<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(backend)?;
    connection.busy_timeout(busy_timeout).map_err(backend)?;
    Ok(connection)
}

/// The last change-log sequence number handed out (pruned rows included).
fn last_change(connection: &Connection) -> Result<i64> {
    connection
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'cache_changes'",
            [],
            |row| row.get(0),
        )
        .optional()
        .map(Option::unwrap_or_default)
        .map_err(backend)
}

fn data_version(connection: &Connection) -> Result<i64> {
    connection
        .prepare_cached("PRAGMA data_version")
        .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
        .map_err(backend)
}

/// Reads every token hash in one read transaction, with the change-log position it matches.
fn load_snapshot(path: &Path, busy_timeout: std::time::Duration) -> Result<Snapshot> {
    let mut connection = open_connection(path, busy_timeout)?;
    let transaction = connection.transaction().map_err(backend)?;
    let last_change = last_change(&transaction)?;
    // Sized once from the largest id (deleted tokens only make it roomier): a set grown by
    // doubling would leave its old tables behind as freed memory the allocator keeps.
    let largest_id: i64 = transaction
        .query_row(
            "SELECT COALESCE(MAX(id), 0) FROM authorizations",
            [],
            |row| row.get(0),
        )
        .map_err(backend)?;
    let mut keys = HashSet::with_capacity(usize::try_from(largest_id).unwrap_or_default());
    let last_id = add_new_tokens(&transaction, &mut keys, 0)?;
    transaction.commit().map_err(backend)?;
    Ok(Snapshot {
        keys,
        last_id,
        last_change,
    })
}

/// Adds the tokens inserted after `last_id` to `keys`; returns the new last id.
fn add_new_tokens(connection: &Connection, keys: &mut HashSet<u64>, last_id: i64) -> Result<i64> {
    let mut statement = connection
        .prepare_cached("SELECT id, token_hash FROM authorizations WHERE id > ?1")
        .map_err(backend)?;
    let mut rows = statement.query([last_id]).map_err(backend)?;
    let mut last = last_id;
    while let Some(row) = rows.next().map_err(backend)? {
        let id: i64 = row.get(0).map_err(backend)?;
        // Borrowed from SQLite's row: a million tokens, no allocation each.
        let hash = row
            .get_ref(1)
            .and_then(|value| value.as_blob().map_err(Into::into))
            .map_err(backend)?;
        if hash.len() >= 8 {
            keys.insert(hash_key(hash));
        }
        last = last.max(id);
    }
    Ok(last)
}

impl TokenIndex {
    /// Opens the index of the SQLite database at `path` and starts loading the token set in
    /// the background. `capacity` bounds the cached token records (and apps).
    pub fn open(path: &Path, capacity: usize, settings: &super::PoolSettings) -> Result<Arc<Self>> {
        let connection = open_connection(path, settings.busy_timeout)?;
        let data_version = data_version(&connection)?;
        let last_change = last_change(&connection)?;
        let index = Arc::new(Self {
            path: path.to_owned(),
            watch: Mutex::new(Watch {
                // After the first pragma, which made sure the file exists.
                wal: WalHeader::open(path),
                wal_header: None,
                connection,
                data_version,
                last_change,
                known: Known::Loading,
                generation: 0,
                loads: 0,
            }),
            records: Cache::new(capacity.max(1)),
            apps: Cache::new((capacity / 100).max(16)),
            busy_timeout: settings.busy_timeout,
            change_log_retention: settings.change_log_retention,
        });
        index.lock().loads = 1;
        index.start_loading(1);
        Ok(index)
    }

    fn lock(&self) -> MutexGuard<'_, Watch> {
        // Every field is replaced whole under the lock; a panic cannot leave one half-written.
        self.watch.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Loads the token set on a thread of its own; the index answers from the database
    /// meanwhile. A failure leaves it loading (every lookup goes to the database) and is logged.
    /// `load` is the number [`Watch::loads`] was moved on to, under the lock, by the caller.
    fn start_loading(self: &Arc<Self>, load: u64) {
        let index = Arc::downgrade(self);
        let path = self.path.clone();
        let busy_timeout = self.busy_timeout;
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let snapshot = match load_snapshot(&path, busy_timeout) {
                Ok(snapshot) => snapshot,
                Err(error) => {
                    tracing::error!(%error, "cannot load the token index; tokens are looked up in the database");
                    return;
                }
            };
            let Some(index) = index.upgrade() else { return };
            let tokens = snapshot.keys.len();
            match index.install(snapshot, load) {
                Ok(()) => tracing::info!(
                    tokens,
                    elapsed_ms = started.elapsed().as_millis(),
                    "token index loaded"
                ),
                Err(error) => tracing::error!(%error, "cannot load the token index"),
            }
        });
    }

    /// Makes a loaded snapshot current, first adding what changed since it was read.
    fn install(&self, snapshot: Snapshot, load: u64) -> Result<()> {
        let mut watch = self.lock();
        if watch.loads != load {
            // A later load is under way and will install its own, newer snapshot.
            return Ok(());
        }
        let Snapshot {
            mut keys,
            last_id,
            last_change,
        } = snapshot;
        {
            // Tokens that a reset brought in after the snapshot (the per-request refresh
            // skipped them while loading).
            let mut statement = watch
                .connection
                .prepare_cached(
                    "SELECT token_hash FROM cache_changes WHERE seq > ?1 AND token_hash IS NOT NULL",
                )
                .map_err(backend)?;
            let mut rows = statement.query([last_change]).map_err(backend)?;
            while let Some(row) = rows.next().map_err(backend)? {
                let hash: Vec<u8> = row.get(0).map_err(backend)?;
                if hash.len() >= 8 {
                    keys.insert(hash_key(&hash));
                }
            }
        }
        let last_id = add_new_tokens(&watch.connection, &mut keys, last_id)?;
        watch.known = Known::Ready { keys, last_id };
        watch.generation += 1;
        Ok(())
    }

    /// Applies whatever was committed since the last look; returns the generation the
    /// caches are now valid for. Called before every answer from memory.
    pub fn refresh(self: &Arc<Self>) -> Result<u64> {
        let mut watch = self.lock();
        // Read before the pragma: a commit after this read changes the header, so it is seen
        // by the next refresh even if the pragma below already counted it.
        let header = watch.wal.as_ref().and_then(WalHeader::read);
        if header.is_some() && header == watch.wal_header {
            return Ok(watch.generation);
        }
        let applied = self.apply_changes(&mut watch);
        // Trust the header next time only if everything up to it was applied.
        watch.wal_header = if applied.is_ok() { header } else { None };
        applied
    }

    /// Applies whatever `PRAGMA data_version` says was committed since the last look.
    fn apply_changes(self: &Arc<Self>, watch: &mut Watch) -> Result<u64> {
        let version = data_version(&watch.connection)?;
        if version == watch.data_version {
            return Ok(watch.generation);
        }
        watch.generation += 1;
        let applied = self.apply_change_log(watch);
        // A version is only settled once its changes are applied; after a failure the next
        // refresh reads the log again.
        if applied.is_ok() {
            watch.data_version = version;
        }
        applied.map(|()| watch.generation)
    }

    fn apply_change_log(self: &Arc<Self>, watch: &mut Watch) -> Result<()> {
        let handed_out = last_change(&watch.connection)?;
        let mut statement = watch
            .connection
            .prepare_cached("SELECT seq, token_hash FROM cache_changes WHERE seq > ?1 ORDER BY seq")
            .map_err(backend)?;
        let mut rows = statement.query([watch.last_change]).map_err(backend)?;
        let mut gap = false;
        while let Some(row) = rows.next().map_err(backend)? {
            let seq: i64 = row.get(0).map_err(backend)?;
            let hash: Option<Vec<u8>> = row.get(1).map_err(backend)?;
            if seq != watch.last_change + 1 {
                // Rows this index never saw were pruned: anything cached may be stale.
                gap = true;
            }
            watch.last_change = seq;
            if let Some(hash) = hash.as_deref().and_then(|h| <[u8; 32]>::try_from(h).ok()) {
                self.records.remove(&TokenHash(hash));
                if let Known::Ready { keys, .. } = &mut watch.known {
                    keys.insert(hash_key(&hash));
                }
            } else {
                // An account or an app changed: any record or app may show it.
                self.records.clear();
                self.apps.clear();
            }
        }
        drop(rows);
        drop(statement);
        // Rows may also have been pruned with none after them: the sequence (read before the
        // rows, so every row it counts was there to be read) then ran ahead of the last row
        // this index applied.
        if handed_out > watch.last_change {
            gap = true;
            watch.last_change = handed_out;
        }
        if gap {
            self.records.clear();
            self.apps.clear();
            watch.known = Known::Loading;
            watch.loads += 1;
            self.start_loading(watch.loads);
        } else if let Known::Ready { keys, last_id } = &mut watch.known {
            *last_id = add_new_tokens(&watch.connection, keys, *last_id)?;
        }
        Ok(())
    }

    /// Forgets everything and loads the token set again (after a snapshot was restored:
    /// tokens came back with ids below the last one known, which the scan for new tokens
    /// would skip). Until the load is done every lookup goes to the database.
    pub fn reload(self: &Arc<Self>) -> Result<()> {
        let mut watch = self.lock();
        self.records.clear();
        self.apps.clear();
        watch.data_version = data_version(&watch.connection)?;
        watch.last_change = last_change(&watch.connection)?;
        watch.wal_header = None;
        watch.known = Known::Loading;
        watch.generation += 1;
        watch.loads += 1;
        let load = watch.loads;
        drop(watch);
        self.start_loading(load);
        Ok(())
    }

    /// Whether `hash` may be a stored token. Call [`refresh`](Self::refresh) first.
    pub fn presence(&self, hash: &TokenHash) -> Presence {
        match &self.lock().known {
            Known::Ready { keys, .. } if !keys.contains(&hash_key(&hash.0)) => Presence::Absent,
            _ => Presence::Unknown,
        }
    }

    /// Forgets that `hash` exists, after the database said it does not while nothing was
    /// committed (`generation` unchanged): made-up tokens that share a key stay cheap.
    pub fn forget(&self, hash: &TokenHash, generation: u64) {
        let mut watch = self.lock();
        if watch.generation == generation
            && let Known::Ready { keys, .. } = &mut watch.known
        {
            keys.remove(&hash_key(&hash.0));
        }
    }

    /// How many token hashes the index knows and how many records it keeps (`/metrics`).
    pub fn usage(&self) -> super::IndexUsage {
        let tokens = match &self.lock().known {
            Known::Loading => None,
            Known::Ready { keys, .. } => Some(keys.len()),
        };
        super::IndexUsage {
            tokens,
            records: self.records.len(),
        }
    }

    pub fn record(&self, hash: &TokenHash) -> Option<Arc<TokenRecord>> {
        self.records.get(hash)
    }

    /// Caches a record read from the database, unless something was committed since
    /// `generation` (the record may be stale already).
    pub fn keep_record(&self, hash: TokenHash, record: Arc<TokenRecord>, generation: u64) {
        let watch = self.lock();
        if watch.generation == generation {
            self.records.insert(hash, record);
        }
    }

    pub fn app(&self, client_id: &str) -> Option<Arc<App>> {
        self.apps.get(client_id)
    }

    /// Caches an app read from the database, on the same terms as [`keep_record`](Self::keep_record).
    pub fn keep_app(&self, app: Arc<App>, generation: u64) {
        let watch = self.lock();
        if watch.generation == generation {
            self.apps.insert(app.client_id.as_str().to_owned(), app);
        }
    }

    /// Deletes change-log rows older than the retention, on a connection of its own so that
    /// lookups never wait for the write lock.
    pub fn prune(&self, now: time::OffsetDateTime) -> Result<()> {
        let connection = open_connection(&self.path, self.busy_timeout)?;
        let retention = i64::try_from(self.change_log_retention.as_secs()).unwrap_or(i64::MAX);
        connection
            .execute(
                "DELETE FROM cache_changes WHERE changed_at < ?1",
                [now.unix_timestamp().saturating_sub(retention)],
            )
            .map_err(backend)?;
        Ok(())
    }
}

/// The database's lookups answered from a [`TokenIndex`] where it can, each after the index
/// has been brought up to date.
pub struct Cached {
    index: Arc<TokenIndex>,
    database: Arc<dyn Lookups>,
}

impl Cached {
    pub fn new(index: Arc<TokenIndex>, database: Arc<dyn Lookups>) -> Self {
        Self { index, database }
    }
}

#[async_trait]
impl Lookups for Cached {
    async fn find_token(&self, hash: &TokenHash) -> Result<Option<Arc<TokenRecord>>> {
        let generation = self.index.refresh()?;
        if self.index.presence(hash) == Presence::Absent {
            return Ok(None);
        }
        if let Some(record) = self.index.record(hash) {
            return Ok(Some(record));
        }
        let found = self.database.find_token(hash).await?;
        // Anything committed while the database was read makes the answer unfit for caching.
        self.index.refresh()?;
        match &found {
            Some(record) => self
                .index
                .keep_record(*hash, Arc::clone(record), generation),
            None => self.index.forget(hash, generation),
        }
        Ok(found)
    }

    async fn find_app_by_client_id(&self, client_id: &ClientId) -> Result<Option<Arc<App>>> {
        let generation = self.index.refresh()?;
        if let Some(app) = self.index.app(client_id.as_str()) {
            return Ok(Some(app));
        }
        let found = self.database.find_app_by_client_id(client_id).await?;
        self.index.refresh()?;
        if let Some(app) = &found {
            self.index.keep_app(Arc::clone(app), generation);
        }
        Ok(found)
    }

    async fn find_app_and_token(
        &self,
        client_id: &ClientId,
        hash: &TokenHash,
    ) -> Result<AppAndToken> {
        // Both from memory in the common case: no round trip to save.
        let Some(app) = self.find_app_by_client_id(client_id).await? else {
            return Ok((None, None));
        };
        Ok((Some(app), self.find_token(hash).await?))
    }
}
