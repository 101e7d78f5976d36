//! Rate-limit and failed-login counters kept in the server's memory and merged into the
//! database every `--counter-sync-interval`.
//!
//! Writing a counter row on every request would put a database write (on SQLite, an fsync)
//! in front of every token check. Instead each server counts locally and, once per interval,
//! adds what it counted to the shared row and reads back the total, which includes what the
//! other nodes counted. So a node's own requests count at once and exactly, and the other
//! nodes' requests count within one interval.
//!
//! Failed sign-ins are rarer and guard passwords, so they are written through at once (the
//! node that saw the failure knows the new total); other nodes' failures arrive with the next
//! merge. Whatever is not merged yet when the server stops is merged by [`Counters::flush`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use time::{Duration, OffsetDateTime};

use super::{Counter, CounterKind, Result, Store};

/// One counter as this node sees it.
#[derive(Debug, Clone, Copy)]
struct Local {
    window_start: OffsetDateTime,
    window: Duration,
    /// The total in the database when this node last merged (others' counts included).
    shared: u32,
    /// Counted here and not merged yet.
    pending: u32,
}

impl Local {
    fn count(&self) -> u32 {
        self.shared.saturating_add(self.pending)
    }

    fn ended(&self, now: OffsetDateTime) -> bool {
        self.window_start + self.window <= now
    }

    fn counter(&self) -> Counter {
        Counter {
            count: self.count(),
            window_start: self.window_start,
        }
    }
}

type Key = (CounterKind, String);

/// The counters of one server, in front of the store's shared counter rows.
pub struct Counters {
    store: Arc<dyn Store>,
    local: Mutex<HashMap<Key, Local>>,
}

impl Counters {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            local: Mutex::new(HashMap::new()),
        }
    }

    fn with_local<T>(&self, f: impl FnOnce(&mut HashMap<Key, Local>) -> T) -> T {
        // The map holds plain numbers: a panic elsewhere cannot leave it half-written.
        f(&mut self.local.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// This node's view of a counter, read from the database the first time it is needed in
    /// a window, so that a restarted node does not start again from zero.
    async fn view(
        &self,
        kind: CounterKind,
        subject: &str,
        now: OffsetDateTime,
        window: Duration,
    ) -> Result<()> {
        let key = (kind, subject.to_owned());
        let known = self.with_local(|local| {
            local
                .get(&key)
                .is_some_and(|l| l.window == window && !l.ended(now))
        });
        if known {
            return Ok(());
        }
        let stored = self.store.read_counter(kind, subject, now, window).await?;
        self.with_local(|local| {
            let entry = local.entry(key).or_insert(Local {
                window_start: stored.window_start,
                window,
                shared: stored.count,
                pending: 0,
            });
            // Another request may have filled it meanwhile; a stale or ended one is replaced.
            if entry.window != window || entry.ended(now) {
                *entry = Local {
                    window_start: stored.window_start,
                    window,
                    shared: stored.count,
                    pending: 0,
                };
            }
        });
        Ok(())
    }

    /// Counts one request (merged later).
    pub async fn count_request(
        &self,
        subject: &str,
        now: OffsetDateTime,
        window: Duration,
    ) -> Result<Counter> {
        self.view(CounterKind::Requests, subject, now, window)
            .await?;
        let key = (CounterKind::Requests, subject.to_owned());
        Ok(self.with_local(|local| {
            let entry = local.entry(key).or_insert(Local {
                window_start: now,
                window,
                shared: 0,
                pending: 0,
            });
            if entry.ended(now) {
                *entry = Local {
                    window_start: now,
                    window,
                    shared: 0,
                    pending: 0,
                };
            }
            entry.pending = entry.pending.saturating_add(1);
            entry.counter()
        }))
    }

    /// Records a failed sign-in in the database at once and remembers the new total.
    pub async fn record_failure(
        &self,
        subject: &str,
        now: OffsetDateTime,
        window: Duration,
    ) -> Result<Counter> {
        let stored = self
            .store
            .add_to_counter(CounterKind::FailedLogins, subject, now, window, 1)
            .await?;
        self.with_local(|local| {
            local.insert(
                (CounterKind::FailedLogins, subject.to_owned()),
                Local {
                    window_start: stored.window_start,
                    window,
                    shared: stored.count,
                    pending: 0,
                },
            );
        });
        Ok(stored)
    }

    /// A counter as this node sees it (its own counts exact, the others' as of the last merge).
    pub async fn read(
        &self,
        kind: CounterKind,
        subject: &str,
        now: OffsetDateTime,
        window: Duration,
    ) -> Result<Counter> {
        self.view(kind, subject, now, window).await?;
        Ok(self.with_local(|local| {
            local
                .get(&(kind, subject.to_owned()))
                .filter(|l| !l.ended(now))
                .map_or(
                    Counter {
                        count: 0,
                        window_start: now,
                    },
                    Local::counter,
                )
        }))
    }

    /// Merges every counter with this node's pending counts into the database, re-reads the
    /// totals of the ones still in their window, and forgets the ended ones.
    pub async fn flush(&self, now: OffsetDateTime) -> Result<()> {
        let snapshot: Vec<(Key, Local)> = self.with_local(|local| {
            local.retain(|_, l| !l.ended(now) || l.pending > 0);
            local.iter().map(|(k, l)| (k.clone(), *l)).collect()
        });
        for ((kind, subject), seen) in snapshot {
            let stored = if seen.pending > 0 {
                self.store
                    .add_to_counter(kind, &subject, seen.window_start, seen.window, seen.pending)
                    .await?
            } else {
                self.store
                    .read_counter(kind, &subject, now, seen.window)
                    .await?
            };
            self.with_local(|local| {
                if let Some(entry) = local.get_mut(&(kind, subject)) {
                    // Counts that arrived while the merge ran stay pending for the next one.
                    entry.pending = entry.pending.saturating_sub(seen.pending);
                    entry.shared = stored.count;
                    entry.window_start = stored.window_start;
                }
            });
        }
        Ok(())
    }
}
