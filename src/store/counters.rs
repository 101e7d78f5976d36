//! Rate-limit counters kept in the server's memory and merged into the database every
//! `--counter-sync-interval`.
//!
//! Writing a counter row on every request would put a database write (on SQLite, an fsync)
//! in front of every token check. Instead each server counts locally and, once per interval,
//! adds what it counted to the shared row and reads back the total, which includes what the
//! other nodes counted. So a node's own requests count at once and exactly, and the other
//! nodes' requests count within one interval. Whatever is not merged yet when the server stops
//! is merged by [`Counters::flush`].
//!
//! Failed sign-ins are not counted here: they guard passwords, so each is counted in the
//! database as it happens (`Store::take_login_attempt`), where every node sees it at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use time::{Duration, OffsetDateTime};

use async_trait::async_trait;

use super::{Counter, CounterKind, Result};

/// The database's counter rows, which [`Counters`] merge into (`Store::add_to_counter` and
/// `Store::read_counter` without a serving node's counting in memory).
#[async_trait]
pub trait CounterRows: Send + Sync {
    /// Adds `by` to the counter, first starting a new window at `now` if the current one
    /// (`window` long) has ended. Atomic: concurrent additions from any node all count.
    async fn add_to_row(
        &self,
        kind: CounterKind,
        subject: &str,
        now: OffsetDateTime,
        window: Duration,
        by: u32,
    ) -> Result<Counter>;
    /// The counter's value in its current window (0 once the window has ended).
    async fn read_row(
        &self,
        kind: CounterKind,
        subject: &str,
        now: OffsetDateTime,
        window: Duration,
    ) -> Result<Counter>;
}

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
        // A window too long to end within time's range never ends.
        self.window_start
            .checked_add(self.window)
            .is_some_and(|end| end <= now)
    }

    fn counter(&self) -> Counter {
        Counter {
            count: self.count(),
            window_start: self.window_start,
        }
    }
}

/// This node's request counters keyed by subject, so that a request's lookup borrows the
/// subject instead of allocating a key.
#[derive(Default)]
struct Locals(HashMap<String, Local>);

impl Locals {
    /// The live counter of `subject`, if this node knows it for this window length.
    fn live(&mut self, subject: &str, now: OffsetDateTime, window: Duration) -> Option<&mut Local> {
        self.0
            .get_mut(subject)
            .filter(|l| l.window == window && !l.ended(now))
    }
}

/// The counters of one server, in front of the store's shared counter rows.
pub struct Counters {
    rows: Arc<dyn CounterRows>,
    local: Mutex<Locals>,
}

impl Counters {
    pub fn new(rows: Arc<dyn CounterRows>) -> Self {
        Self {
            rows,
            local: Mutex::new(Locals::default()),
        }
    }

    /// Drops every count kept here, merged or not (a test-control reset: the database's rows
    /// were just replaced).
    pub fn forget(&self) {
        self.with_local(|local| local.0.clear());
    }

    fn with_local<T>(&self, f: impl FnOnce(&mut Locals) -> T) -> T {
        // The map holds plain numbers: a panic elsewhere cannot leave it half-written.
        f(&mut self.local.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// This node's view of a counter, read from the database the first time it is needed in
    /// a window, so that a restarted node does not start again from zero.
    async fn view(&self, subject: &str, now: OffsetDateTime, window: Duration) -> Result<()> {
        let known = self.with_local(|local| local.live(subject, now, window).is_some());
        if known {
            return Ok(());
        }
        let stored = self
            .rows
            .read_row(CounterKind::Requests, subject, now, window)
            .await?;
        self.with_local(|local| {
            let entry = local.0.entry(subject.to_owned()).or_insert(Local {
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
        // The common case, a subject already counted in its window: one lock, no allocation.
        let counted = self.with_local(|local| {
            local.live(subject, now, window).map(|entry| {
                entry.pending = entry.pending.saturating_add(1);
                entry.counter()
            })
        });
        if let Some(counter) = counted {
            return Ok(counter);
        }
        self.view(subject, now, window).await?;
        Ok(self.with_local(|local| {
            let entry = local.0.entry(subject.to_owned()).or_insert(Local {
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

    /// A counter as this node sees it (its own counts exact, the others' as of the last merge).
    pub async fn read(
        &self,
        subject: &str,
        now: OffsetDateTime,
        window: Duration,
    ) -> Result<Counter> {
        if let Some(counter) =
            self.with_local(|local| local.live(subject, now, window).map(|l| l.counter()))
        {
            return Ok(counter);
        }
        self.view(subject, now, window).await?;
        Ok(self.with_local(|local| {
            local.0.get(subject).filter(|l| !l.ended(now)).map_or(
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
        let snapshot: Vec<(String, Local)> = self.with_local(|local| {
            // Counts of an ended window limit nothing any more: merging them could only land
            // them in the next window, which another node may have started.
            local.0.retain(|_, l| !l.ended(now));
            local.0.iter().map(|(s, l)| (s.clone(), *l)).collect()
        });
        let kind = CounterKind::Requests;
        for (subject, seen) in snapshot {
            let stored = if seen.pending > 0 {
                self.rows
                    .add_to_row(kind, &subject, seen.window_start, seen.window, seen.pending)
                    .await?
            } else {
                self.rows.read_row(kind, &subject, now, seen.window).await?
            };
            self.with_local(|local| {
                // Only into the window that was merged: a request may have started a new one
                // while the merge ran, whose counts are not in `stored`.
                if let Some(entry) = local
                    .0
                    .get_mut(&subject)
                    .filter(|entry| entry.window_start == seen.window_start)
                {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use time::macros::datetime;

    /// The rows of a plain store (one that counts nothing in memory).
    struct Rows(Arc<dyn Store>);

    #[async_trait]
    impl CounterRows for Rows {
        async fn add_to_row(
            &self,
            kind: CounterKind,
            subject: &str,
            now: OffsetDateTime,
            window: Duration,
            by: u32,
        ) -> Result<Counter> {
            self.0.add_to_counter(kind, subject, now, window, by).await
        }

        async fn read_row(
            &self,
            kind: CounterKind,
            subject: &str,
            now: OffsetDateTime,
            window: Duration,
        ) -> Result<Counter> {
            self.0.read_counter(kind, subject, now, window).await
        }
    }

    fn node_counters(store: &Arc<dyn Store>) -> Counters {
        Counters::new(Arc::new(Rows(Arc::clone(store))))
    }

    const T0: OffsetDateTime = datetime!(2030-01-01 00:00:00 UTC);
    const WINDOW: Duration = Duration::minutes(1);
    const SUBJECT: &str = "user:1";

    /// A real SQLite store on a fresh file; the directory lives as long as the test needs it.
    async fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("counters.db").display());
        let store = crate::store::open(&url).await.expect("open the store");
        (dir, store)
    }

    async fn count_requests(counters: &Counters, n: u32, now: OffsetDateTime) -> Vec<u32> {
        let mut seen = Vec::new();
        for _ in 0..n {
            let counter = counters
                .count_request(SUBJECT, now, WINDOW)
                .await
                .expect("count");
            seen.push(counter.count);
        }
        seen
    }

    async fn local(counters: &Counters, now: OffsetDateTime) -> Counter {
        counters.read(SUBJECT, now, WINDOW).await.expect("read")
    }

    async fn stored(store: &Arc<dyn Store>, kind: CounterKind, now: OffsetDateTime) -> Counter {
        store
            .read_counter(kind, SUBJECT, now, WINDOW)
            .await
            .expect("read the database")
    }

    #[tokio::test]
    async fn counts_are_exact_locally_before_any_merge() {
        let (_dir, store) = store().await;
        let counters = node_counters(&store);
        assert_eq!(count_requests(&counters, 5, T0).await, vec![1, 2, 3, 4, 5]);
        let seen = local(&counters, T0 + Duration::seconds(30)).await;
        assert_eq!(
            seen,
            Counter {
                count: 5,
                window_start: T0
            }
        );
        // Nothing is in the database yet, and other subjects are apart.
        assert_eq!(stored(&store, CounterKind::Requests, T0).await.count, 0);
        let other = counters.read("user:2", T0, WINDOW).await.expect("read");
        assert_eq!(other.count, 0);
    }

    #[tokio::test]
    async fn flush_merges_pending_counts_into_the_database_once() {
        let (_dir, store) = store().await;
        let counters = node_counters(&store);
        count_requests(&counters, 3, T0).await;
        counters
            .flush(T0 + Duration::seconds(1))
            .await
            .expect("flush");
        assert_eq!(
            stored(&store, CounterKind::Requests, T0 + Duration::seconds(1)).await,
            Counter {
                count: 3,
                window_start: T0
            }
        );
        // A flush with nothing pending adds nothing.
        counters
            .flush(T0 + Duration::seconds(2))
            .await
            .expect("flush");
        assert_eq!(
            stored(&store, CounterKind::Requests, T0 + Duration::seconds(2))
                .await
                .count,
            3
        );
        // The local view goes on from the merged total.
        let later = T0 + Duration::seconds(3);
        assert_eq!(count_requests(&counters, 2, later).await, vec![4, 5]);
        counters.flush(later).await.expect("flush");
        assert_eq!(stored(&store, CounterKind::Requests, later).await.count, 5);
        assert_eq!(local(&counters, later).await.count, 5);
    }

    #[tokio::test]
    async fn two_nodes_see_each_others_counts_after_both_merge() {
        let (_dir, store) = store().await;
        let a = node_counters(&store);
        let b = node_counters(&store);
        let at = T0 + Duration::seconds(1);
        count_requests(&a, 2, T0).await;
        count_requests(&b, 3, at).await;
        // Before any merge each node sees its own counts only.
        assert_eq!(local(&a, at).await.count, 2);
        assert_eq!(local(&b, at).await.count, 3);

        let at = T0 + Duration::seconds(2);
        a.flush(at).await.expect("flush a");
        b.flush(at).await.expect("flush b");
        // B merged last, so it saw A's counts; A sees B's with its next merge.
        assert_eq!(local(&b, at).await.count, 5);
        a.flush(at).await.expect("flush a again");
        assert_eq!(local(&a, at).await.count, 5);
        assert_eq!(stored(&store, CounterKind::Requests, at).await.count, 5);
        // One window for both: the first node's.
        assert_eq!(local(&b, at).await.window_start, T0);
        // And each node's next request counts on top of the shared total.
        assert_eq!(count_requests(&a, 1, at).await, vec![6]);
        assert_eq!(count_requests(&b, 1, at).await, vec![6]);
        a.flush(at).await.expect("flush a");
        b.flush(at).await.expect("flush b");
        assert_eq!(stored(&store, CounterKind::Requests, at).await.count, 7);
        assert_eq!(local(&b, at).await.count, 7);
    }

    #[tokio::test]
    async fn a_restarted_node_starts_from_the_databases_count() {
        let (_dir, store) = store().await;
        let before = node_counters(&store);
        count_requests(&before, 4, T0).await;
        before.flush(T0).await.expect("flush at shutdown");
        drop(before);

        let at = T0 + Duration::seconds(10);
        let after = node_counters(&store);
        assert_eq!(
            local(&after, at).await,
            Counter {
                count: 4,
                window_start: T0
            }
        );
        let restarted = node_counters(&store);
        assert_eq!(count_requests(&restarted, 1, at).await, vec![5]);
    }

    #[tokio::test]
    async fn an_ended_window_starts_again_from_zero() {
        let (_dir, store) = store().await;
        let counters = node_counters(&store);
        count_requests(&counters, 3, T0).await;
        counters.flush(T0).await.expect("flush");
        count_requests(&counters, 2, T0 + Duration::seconds(59)).await;

        // Exactly one window later, the window has ended: locally...
        let next = T0 + WINDOW;
        assert_eq!(
            local(&counters, next).await,
            Counter {
                count: 0,
                window_start: next
            }
        );
        assert_eq!(count_requests(&counters, 1, next).await, vec![1]);
        assert_eq!(local(&counters, next).await.window_start, next);
        // ...and in the database once merged.
        counters.flush(next).await.expect("flush");
        assert_eq!(
            stored(&store, CounterKind::Requests, next).await,
            Counter {
                count: 1,
                window_start: next
            }
        );
        // A node that never merged the ended window starts from zero too.
        let other = node_counters(&store);
        let far = next + WINDOW * 3;
        assert_eq!(local(&other, far).await.count, 0);
        assert_eq!(count_requests(&other, 1, far).await, vec![1]);
    }

    #[tokio::test]
    async fn pending_counts_of_an_ended_window_are_dropped_not_merged() {
        let (_dir, store) = store().await;
        let counters = node_counters(&store);
        count_requests(&counters, 3, T0).await;
        // The merge comes after the window ended (a node's last sync, say): those counts limit
        // nothing any more, and merging them could only land them in a later window.
        let late = T0 + WINDOW + Duration::seconds(5);
        counters.flush(late).await.expect("flush");
        assert_eq!(stored(&store, CounterKind::Requests, late).await.count, 0);
        assert_eq!(local(&counters, late).await.count, 0);
        assert_eq!(count_requests(&counters, 1, late).await, vec![1]);
    }

    /// Node A counts requests late in a window and has not merged them when the window ends;
    /// node B then starts the next window in the database. A's merge must not count A's old
    /// requests in B's new window (they belong to the ended one, which the database had).
    ///
    /// (`flush` drops the pending counts of an ended window instead of merging them.)
    #[tokio::test]
    async fn counts_of_an_ended_window_do_not_leak_into_the_next_window() {
        let (_dir, store) = store().await;
        let a = node_counters(&store);
        let b = node_counters(&store);
        // The window [T0, T0 + 1 min) is in the database; A counts 3 more late in it.
        count_requests(&a, 1, T0).await;
        a.flush(T0).await.expect("flush a");
        assert_eq!(
            count_requests(&a, 3, T0 + Duration::seconds(50)).await,
            vec![2, 3, 4]
        );

        let next = T0 + Duration::seconds(61);
        assert_eq!(count_requests(&b, 1, next).await, vec![1]);
        b.flush(next).await.expect("flush b");
        a.flush(next + Duration::seconds(1)).await.expect("flush a");

        let at = next + Duration::seconds(2);
        assert_eq!(stored(&store, CounterKind::Requests, at).await.count, 1);
    }
}
