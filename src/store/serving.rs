//! What a serving node keeps in memory beside the database: its request counters
//! ([`Counters`]: rate limits counted in memory, merged into the database) and, on SQLite, its
//! [`TokenIndex`], whose lookups the engine answers through [`Cached`](super::cache::Cached).
//!
//! Commands other than `serve` use the plain store: they run once and count nothing.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use time::{Duration, OffsetDateTime};

use super::cache::TokenIndex;
use super::counters::{CounterRows, Counters};
use super::{Counter, CounterKind, Error, IndexUsage, Result};

/// How often the change log of the token index is pruned.
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_mins(1);

/// Held by each engine; empty for a store used once.
#[derive(Default)]
pub struct Serving {
    counters: Option<Counters>,
    index: Option<Arc<TokenIndex>>,
    last_prune: Mutex<Option<Instant>>,
}

impl Serving {
    /// Counts requests in memory in front of `rows`, and keeps `index` (if any) in step.
    pub fn new(rows: Arc<dyn CounterRows>, index: Option<Arc<TokenIndex>>) -> Self {
        Self {
            counters: Some(Counters::new(rows)),
            index,
            last_prune: Mutex::new(None),
        }
    }

    /// A request counted in memory (`CounterKind::Requests`, one at a time), anything else
    /// in the database's row.
    pub async fn add_to_counter(
        &self,
        rows: &dyn CounterRows,
        kind: CounterKind,
        subject: &str,
        now: OffsetDateTime,
        window: Duration,
        by: u32,
    ) -> Result<Counter> {
        match (&self.counters, kind, by) {
            (Some(counters), CounterKind::Requests, 1) => {
                counters.count_request(subject, now, window).await
            }
            _ => rows.add_to_row(kind, subject, now, window, by).await,
        }
    }

    /// Failed sign-ins (and code submissions) are read where they are counted, the
    /// database, so every node sees one count.
    pub async fn read_counter(
        &self,
        rows: &dyn CounterRows,
        kind: CounterKind,
        subject: &str,
        now: OffsetDateTime,
        window: Duration,
    ) -> Result<Counter> {
        match (&self.counters, kind) {
            (Some(counters), CounterKind::Requests) => counters.read(subject, now, window).await,
            _ => rows.read_row(kind, subject, now, window).await,
        }
    }

    /// Merges the counters and brings the index in step (also noticing changes while no
    /// request comes, so the change log can be pruned).
    pub async fn sync(&self, now: OffsetDateTime) -> Result<()> {
        if let Some(counters) = &self.counters {
            counters.flush(now).await?;
        }
        if let Some(index) = &self.index {
            index.refresh()?;
        }
        self.prune(now).await
    }

    /// After a snapshot was restored nothing this node keeps may answer: the token index
    /// reloads (a restored token may have an id it has already passed, which its "new
    /// tokens" scan would skip) and the counters counted here are dropped (the restored rows
    /// are the truth).
    pub fn restored(&self) -> Result<()> {
        if let Some(counters) = &self.counters {
            counters.forget();
        }
        if let Some(index) = &self.index {
            index.reload()?;
        }
        Ok(())
    }

    pub fn index_usage(&self) -> Option<IndexUsage> {
        self.index.as_ref().map(|index| index.usage())
    }

    /// Prunes the index's change log (SQLite) once a minute, off the async workers.
    async fn prune(&self, now: OffsetDateTime) -> Result<()> {
        let Some(index) = self.index.clone() else {
            return Ok(());
        };
        {
            let mut last = self
                .last_prune
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if last.is_some_and(|at| at.elapsed() < PRUNE_EVERY) {
                return Ok(());
            }
            *last = Some(Instant::now());
        }
        tokio::task::spawn_blocking(move || index.prune(now))
            .await
            .map_err(|e| Error::Backend(Box::new(e)))?
    }
}
