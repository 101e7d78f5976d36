//! Lookups gathered into batches: while a batch is with the database, the lookups that arrive
//! wait in a queue and go together in the next one.
//!
//! PostgreSQL answers a token check in one round trip, but that round trip is most of the
//! check's cost (a backend woken, a statement run, two context switches), and it is the same
//! for one token as for fifty. Under load, checks arrive faster than round trips complete, so
//! one query per waiting group costs a fraction of one query per check. Under light load
//! nothing waits: a lookup that finds a free slot goes to the database after one turn of the
//! scheduler (in which requests already received may join it), usually alone.
//!
//! Freshness is unchanged: every lookup is answered by a query that the database starts after
//! the lookup was queued, so a write committed before a check arrived is seen by that check,
//! on every node, exactly as with a query of its own. Nothing is kept between batches.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::oneshot;

use super::{Constraint, Error, Result};

/// Answers one batch: a value for every key, in the keys' order.
type Fetch<K, V> = dyn Fn(Vec<K>) -> BoxFuture<'static, Result<Vec<V>>> + Send + Sync;

/// A lookup of `K` answered with `V`, batched as the module comment describes.
pub struct Coalescer<K, V> {
    shared: Arc<Shared<K, V>>,
}

struct Shared<K, V> {
    queue: Mutex<Queue<K, V>>,
    fetch: Box<Fetch<K, V>>,
    /// Batches at the database at once. More than one keeps a slow batch from holding up all
    /// lookups and lets a database with several cores work on several.
    max_in_flight: usize,
    /// Keys per batch: bounds one statement's parameters and a batch's time at the database.
    max_batch: usize,
}

struct Queue<K, V> {
    waiting: Vec<Waiting<K, V>>,
    in_flight: usize,
}

struct Waiting<K, V> {
    key: K,
    reply: oneshot::Sender<Result<V>>,
}

impl<K: Send + 'static, V: Send + 'static> Coalescer<K, V> {
    /// `fetch` must return exactly one value per key, in order; a batch it answers otherwise
    /// fails as a whole.
    pub fn new(
        max_in_flight: usize,
        max_batch: usize,
        fetch: impl Fn(Vec<K>) -> BoxFuture<'static, Result<Vec<V>>> + Send + Sync + 'static,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue {
                    waiting: Vec::new(),
                    in_flight: 0,
                }),
                fetch: Box::new(fetch),
                max_in_flight: max_in_flight.max(1),
                max_batch: max_batch.max(1),
            }),
        }
    }

    /// The value for `key`, from a batch that starts after this call.
    pub async fn get(&self, key: K) -> Result<V> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut queue = self.shared.lock();
            queue.waiting.push(Waiting { key, reply });
            let free = queue.in_flight < self.shared.max_in_flight;
            queue.in_flight += usize::from(free);
            free
        };
        // Batches run in a task of their own, so that a caller that gives up (a client gone
        // away) cannot strand the others waiting on the same batch.
        if start {
            tokio::spawn(Arc::clone(&self.shared).run());
        }
        answer.await.unwrap_or_else(|_| {
            Err(Error::Backend(
                "the batch holding this lookup ended without an answer".into(),
            ))
        })
    }
}

impl<K: Send + 'static, V: Send + 'static> Shared<K, V> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue<K, V>> {
        // Nothing panics while holding the lock; the queue is consistent after any push or drain.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take_batch(&self, queue: &mut Queue<K, V>) -> Vec<Waiting<K, V>> {
        if queue.waiting.len() <= self.max_batch {
            std::mem::take(&mut queue.waiting)
        } else {
            queue.waiting.drain(..self.max_batch).collect()
        }
    }

    /// Holds a slot: sends what is queued as a batch, again and again, and gives the slot back
    /// once the queue is empty.
    async fn run(self: Arc<Self>) {
        loop {
            // Before taking the queue, let the runtime poll its sockets and run the tasks that
            // are ready: requests already received join this batch instead of each waiting a
            // round trip for the next (tokio wakes a yielded task after its I/O poll). Under
            // load this is what makes batches large; idle, it costs one turn of the scheduler.
            tokio::task::yield_now().await;
            let batch = {
                let mut queue = self.lock();
                if queue.waiting.is_empty() {
                    queue.in_flight -= 1;
                    return;
                }
                self.take_batch(&mut queue)
            };
            self.answer(batch).await;
        }
    }

    /// Fetches one batch and hands every lookup its answer, or the batch's failure.
    async fn answer(&self, batch: Vec<Waiting<K, V>>) {
        let (keys, replies): (Vec<K>, Vec<_>) = batch.into_iter().map(|w| (w.key, w.reply)).unzip();
        let expected = keys.len();
        // A panic in one batch answers its lookups with an error instead of leaving them and
        // the slot hanging.
        let fetched = AssertUnwindSafe(async { (self.fetch)(keys).await })
            .catch_unwind()
            .await;
        let failure = match fetched {
            Ok(Ok(values)) if values.len() == expected => {
                for (reply, value) in replies.into_iter().zip(values) {
                    // The caller may have given up; its answer is simply dropped.
                    let _ = reply.send(Ok(value));
                }
                return;
            }
            Ok(Err(error)) => Failure::from(error),
            Ok(Ok(values)) => Failure::bug(format!(
                "a batch of {expected} lookups got {} answers",
                values.len()
            )),
            Err(_) => Failure::bug("a batch of lookups panicked".to_owned()),
        };
        for reply in replies {
            let _ = reply.send(Err(failure.to_error()));
        }
    }
}

/// A batch's failure, handed to each of its lookups as an [`Error`] of the same kind (so an
/// unreachable database still answers every one of them 503).
enum Failure {
    Conflict(Constraint),
    Unavailable(Arc<dyn std::error::Error + Send + Sync>),
    Backend(Arc<dyn std::error::Error + Send + Sync>),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        match error {
            Error::Conflict(constraint) => Self::Conflict(constraint),
            Error::Unavailable(source) => Self::Unavailable(Arc::from(source)),
            Error::Backend(source) => Self::Backend(Arc::from(source)),
        }
    }
}

impl Failure {
    fn bug(message: String) -> Self {
        Self::Backend(Arc::from(Box::<dyn std::error::Error + Send + Sync>::from(
            message,
        )))
    }

    fn to_error(&self) -> Error {
        match self {
            Self::Conflict(constraint) => Error::Conflict(*constraint),
            Self::Unavailable(source) => {
                Error::Unavailable(Box::new(SharedSource(Arc::clone(source))))
            }
            Self::Backend(source) => Error::Backend(Box::new(SharedSource(Arc::clone(source)))),
        }
    }
}

/// One error shown to several lookups: displays and chains as the original.
#[derive(Debug)]
struct SharedSource(Arc<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for SharedSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SharedSource {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use tokio::sync::Semaphore;

    use super::*;

    /// A fetch that doubles its keys once `gate` lets it through, recording each batch's keys.
    fn doubling(
        gate: Arc<Semaphore>,
        batches: Arc<Mutex<Vec<Vec<u32>>>>,
    ) -> impl Fn(Vec<u32>) -> BoxFuture<'static, Result<Vec<u32>>> + Send + Sync + 'static {
        move |keys| {
            let gate = Arc::clone(&gate);
            let batches = Arc::clone(&batches);
            Box::pin(async move {
                gate.acquire().await.expect("open").forget();
                batches.lock().unwrap().push(keys.clone());
                Ok(keys.into_iter().map(|k| k * 2).collect())
            })
        }
    }

    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn lookups_that_queue_behind_a_batch_go_together_in_the_next() {
        let gate = Arc::new(Semaphore::new(0));
        let batches = Arc::new(Mutex::new(Vec::new()));
        let coalescer = Arc::new(Coalescer::new(
            1,
            3,
            doubling(Arc::clone(&gate), Arc::clone(&batches)),
        ));
        let mut lookups = Vec::new();
        for key in 1..=6 {
            let coalescer = Arc::clone(&coalescer);
            lookups.push(tokio::spawn(async move { coalescer.get(key).await }));
            settle().await;
        }
        // The first lookup went alone; the other five queued behind it.
        gate.add_permits(10);
        let mut answers = Vec::new();
        for lookup in lookups {
            answers.push(lookup.await.unwrap().unwrap());
        }
        assert_eq!(answers, vec![2, 4, 6, 8, 10, 12]);
        assert_eq!(
            *batches.lock().unwrap(),
            vec![vec![1], vec![2, 3, 4], vec![5, 6]]
        );
    }

    #[tokio::test]
    async fn a_lookup_waits_for_a_batch_that_starts_after_it() {
        // The freshness argument: a key queued while a batch is at the database is not answered
        // by that batch, even though its answer is already on the way.
        let gate = Arc::new(Semaphore::new(0));
        let batches = Arc::new(Mutex::new(Vec::new()));
        let coalescer = Arc::new(Coalescer::new(
            1,
            100,
            doubling(Arc::clone(&gate), Arc::clone(&batches)),
        ));
        let first = tokio::spawn({
            let coalescer = Arc::clone(&coalescer);
            async move { coalescer.get(7).await }
        });
        settle().await;
        let second = tokio::spawn({
            let coalescer = Arc::clone(&coalescer);
            async move { coalescer.get(7).await }
        });
        settle().await;
        gate.add_permits(1);
        assert_eq!(first.await.unwrap().unwrap(), 14);
        settle().await;
        assert!(
            !second.is_finished(),
            "answered by a batch that started before it was asked"
        );
        gate.add_permits(1);
        assert_eq!(second.await.unwrap().unwrap(), 14);
        assert_eq!(*batches.lock().unwrap(), vec![vec![7], vec![7]]);
    }

    #[tokio::test]
    async fn several_batches_run_at_once_up_to_the_limit() {
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let coalescer = Arc::new(Coalescer::new(2, 1, {
            let running = Arc::clone(&running);
            let most = Arc::clone(&most);
            move |keys: Vec<u32>| {
                let running = Arc::clone(&running);
                let most = Arc::clone(&most);
                Box::pin(async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok(keys)
                }) as BoxFuture<'static, Result<Vec<u32>>>
            }
        }));
        let lookups: Vec<_> = (0..6)
            .map(|key| {
                let coalescer = Arc::clone(&coalescer);
                tokio::spawn(async move { coalescer.get(key).await })
            })
            .collect();
        for (key, lookup) in lookups.into_iter().enumerate() {
            assert_eq!(lookup.await.unwrap().unwrap(), u32::try_from(key).unwrap());
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failed_batch_fails_each_lookup_with_its_kind_and_the_next_batch_runs() {
        let calls = Arc::new(AtomicUsize::new(0));
        let coalescer = Coalescer::new(1, 10, {
            let calls = Arc::clone(&calls);
            move |keys: Vec<u32>| {
                let call = calls.fetch_add(1, Ordering::SeqCst);
                Box::pin(async move {
                    match call {
                        0 => Err(Error::Unavailable("connection refused".into())),
                        1 => Ok(Vec::new()),
                        2 => panic!("a bug in a fetch"),
                        _ => Ok(keys),
                    }
                }) as BoxFuture<'static, Result<Vec<u32>>>
            }
        });
        match coalescer.get(1).await {
            Err(Error::Unavailable(source)) => assert_eq!(source.to_string(), "connection refused"),
            other => panic!("expected unavailable, got {other:?}"),
        }
        match coalescer.get(2).await {
            Err(Error::Backend(source)) => assert!(source.to_string().contains("1 lookups got 0")),
            other => panic!("expected a backend error, got {other:?}"),
        }
        assert!(matches!(coalescer.get(3).await, Err(Error::Backend(_))));
        assert_eq!(coalescer.get(4).await.unwrap(), 4);
    }
}
