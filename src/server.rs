//! The accept loop: takes TCP connections, refuses those past `--max-connections`, serves HTTP/1.1
//! on the rest through hyper, and closes connections whose clients are too slow or gone quiet
//! (`--header-read-timeout`, `--idle-timeout`). Nothing here knows a route or a rule: requests go
//! to [`crate::http::app`] as they are.
//!
//! Why not `axum::serve`: it has no header-read timeout, no idle timeout and no connection cap,
//! so eight clients sending a header byte a second held eight connections for as long as they
//! liked (issue 18, item 6). Why not hyper's own `header_read_timeout`: in hyper 1.x its clock
//! starts as soon as the connection is ready for a request head (at accept, and again after each
//! answer), so it is an idle timeout and a header timeout in one, with one length; grantd wants a
//! short bound on a head being sent and a longer one on a quiet keep-alive connection.
//!
//! TLS goes between the accept and [`connection`]: a handshake would turn the `TcpStream` into
//! the stream served, bounded by the header-read timeout (a client that never finishes its
//! handshake is as slow as one that never finishes its head). [`connection`] already serves any
//! `AsyncRead + AsyncWrite` stream.

use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;

/// How long and how many: the limits every connection is served under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// From the first byte of a request head to its last: a client slower than this is
    /// disconnected (slowloris).
    pub header_read_timeout: Duration,
    /// How long a connection may stay open with no request in flight and no byte moving, before
    /// its first request and between keep-alive requests.
    pub idle_timeout: Duration,
    /// Connections served at once; one more is refused with a 503 rather than left waiting.
    pub max_connections: u32,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_mins(1),
            max_connections: 4_096,
        }
    }
}

/// How long a refused connection gets to take its 503: written, then read until the client
/// closes (so that closing does not reset the connection before the client has read the
/// answer), all within this.
const REFUSAL_TIME: Duration = Duration::from_secs(1);

/// Refusals being written at once; past this, a connection over the cap is closed unanswered,
/// so that a flood of connections cannot pile up refusal tasks either.
const MAX_REFUSALS: usize = 256;

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, lets every open
/// connection finish the request it is serving (closing idle ones at once), and returns once
/// all are closed.
pub async fn run<S>(
    listener: TcpListener,
    app: S,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let max = limits.max_connections.max(1);
    let permits = Arc::new(Semaphore::new(max as usize));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    let refusal: Arc<[u8]> = refusal(max).into();
    let mut full = false;
    // Connections wait for `stop` to change or close; dropping the sender tells them all.
    let (stop_sender, stop) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(&error).await;
                    continue;
                }
            },
        };
        if let Ok(permit) = permits.clone().try_acquire_owned() {
            full = false;
            tokio::spawn(connection(
                stream,
                peer,
                app.clone(),
                limits,
                stop.clone(),
                permit,
            ));
        } else {
            // Once per stretch at the cap, not once per refusal: a flood would flood the log.
            if !full {
                tracing::warn!(
                    max_connections = max,
                    "at --max-connections; refusing new connections with 503"
                );
                full = true;
            }
            refuse(stream, &refusals, &refusal);
        }
    }
    drop(listener);
    drop(stop_sender);
    // Every connection holds a permit until it closes: all of them back means all closed.
    let _all = permits.acquire_many(max).await;
}

/// An accept that failed. Out of file descriptors (EMFILE) or memory, the next accept would
/// fail the same way at once: wait a little for connections to close rather than spin. A
/// connection that was reset before it was accepted is no news.
async fn accept_failed(error: &io::Error) {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "cannot accept a connection");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// The answer to a connection over the cap, as GitHub words its errors.
fn refusal(max: u32) -> Vec<u8> {
    let body = format!(
        "{{\"message\":\"Service Unavailable: the server has {max} connections open, its \
         limit; try again shortly\",\"documentation_url\":\"{}\"}}",
        crate::http::docs::REST
    );
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json; charset=utf-8\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Answers a connection over the cap with the 503, then closes it, all within [`REFUSAL_TIME`].
fn refuse(mut stream: TcpStream, refusals: &Arc<Semaphore>, refusal: &Arc<[u8]>) {
    let Ok(slot) = refusals.clone().try_acquire_owned() else {
        return; // dropped: closed unanswered
    };
    let refusal = refusal.clone();
    tokio::spawn(async move {
        let _ = tokio::time::timeout(REFUSAL_TIME, async {
            stream.write_all(&refusal).await?;
            stream.shutdown().await?;
            // Whatever the client sent (its request) is read and dropped: closing a socket with
            // unread data makes the kernel reset the connection, which can discard the 503
            // before the client reads it.
            let mut sink = [0u8; 1024];
            while stream.read(&mut sink).await? > 0 {}
            io::Result::Ok(())
        })
        .await;
        drop(slot);
    });
}

/// Serves one connection until it closes, times out, or the server shuts down.
async fn connection<I, S>(
    io: I,
    peer: SocketAddr,
    app: S,
    limits: ConnectionLimits,
    mut stopped: watch::Receiver<()>,
    permit: OwnedSemaphorePermit,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        io,
        activity: activity.clone(),
    });
    let service = Requests {
        app,
        peer,
        activity: activity.clone(),
    };
    let mut conn = pin!(hyper::server::conn::http1::Builder::new().serve_connection(io, service));
    let mut stopping = pin!(async move { while stopped.changed().await.is_ok() {} });
    let mut draining = false;
    let step = limits.header_read_timeout.min(limits.idle_timeout);
    let mut check = pin!(tokio::time::sleep(step));
    let ended = poll_fn(|cx| {
        if !draining && stopping.as_mut().poll(cx).is_ready() {
            draining = true;
            // hyper closes an idle connection at once and any other after its answer.
            conn.as_mut().graceful_shutdown();
        }
        if let Poll::Ready(served) = conn.as_mut().poll(cx) {
            return Poll::Ready(served.err().map(|e| e.to_string()));
        }
        // Everything that moves a deadline happens inside `conn.poll` above, so it is checked
        // here; the timer fires at the earliest deadline there may be, and is moved only then,
        // not on every request.
        while check.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            match activity.verdict(now, &limits, step) {
                Verdict::Expired(why) => return Poll::Ready(Some(why.to_owned())),
                Verdict::CheckAt(at) => check.as_mut().reset(at),
            }
        }
        Poll::Pending
    })
    .await;
    if let Some(why) = ended {
        tracing::debug!(%why, "connection closed");
    }
    drop(permit);
}

/// What a connection's timer decides.
#[derive(Debug, Clone, Copy)]
enum Verdict {
    Expired(&'static str),
    CheckAt(Instant),
}

/// When a connection last did anything, shared by its stream (bytes moved) and its service
/// (requests started and answered). Only the connection's own task touches it, one poll at a
/// time: the atomics are there to make it `Sync`, not for contention.
struct Activity {
    epoch: Instant,
    /// Nanoseconds after `epoch` that a byte last moved or an answer was made.
    last: AtomicU64,
    /// Nanoseconds after `epoch`, plus one, that the first byte of the current request head
    /// arrived; 0 while none is being read.
    head_started: AtomicU64,
    in_flight: AtomicU32,
}

impl Activity {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            last: AtomicU64::new(0),
            head_started: AtomicU64::new(0),
            in_flight: AtomicU32::new(0),
        }
    }

    fn nanos(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn at(&self, nanos: u64) -> Instant {
        self.epoch + Duration::from_nanos(nanos)
    }

    /// Bytes arrived: with no request in flight, they start a request head.
    fn read(&self) {
        let now = self.nanos();
        self.last.store(now, Ordering::Relaxed);
        if self.in_flight.load(Ordering::Relaxed) == 0
            && self.head_started.load(Ordering::Relaxed) == 0
        {
            self.head_started.store(now + 1, Ordering::Relaxed);
        }
    }

    fn wrote(&self) {
        self.last.store(self.nanos(), Ordering::Relaxed);
    }

    /// A head was read whole and its request handed to the app.
    fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.head_started.store(0, Ordering::Relaxed);
    }

    fn request_answered(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.wrote();
    }

    /// Whether the connection has outstayed its limits at `now`, or else when to look again.
    /// Never later than a deadline: a head that starts after `now` cannot end its allowance
    /// before `now + step`, `step` being the shorter timeout.
    fn verdict(&self, now: Instant, limits: &ConnectionLimits, step: Duration) -> Verdict {
        let next_look = now + step;
        // A request being served is bounded by the request timeout, not here.
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return Verdict::CheckAt(next_look);
        }
        let (deadline, why) = match self.head_started.load(Ordering::Relaxed) {
            0 => (
                self.at(self.last.load(Ordering::Relaxed)) + limits.idle_timeout,
                "idle timeout",
            ),
            started => (
                self.at(started - 1) + limits.header_read_timeout,
                "header read timeout",
            ),
        };
        if deadline <= now {
            Verdict::Expired(why)
        } else {
            Verdict::CheckAt(deadline.min(next_look))
        }
    }
}

pin_project_lite::pin_project! {
    /// A connection's stream, reporting to its [`Activity`] whenever bytes move.
    struct Watched<I> {
        #[pin]
        io: I,
        activity: Arc<Activity>,
    }
}

impl<I: AsyncRead> AsyncRead for Watched<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let polled = this.io.poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.read();
        }
        polled
    }
}

impl<I: AsyncWrite> AsyncWrite for Watched<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let polled = this.io.poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let polled = this.io.poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        // hyper writes head and body in one system call when the stream can.
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }
}

/// The app as hyper calls it on one connection, telling the connection's [`Activity`] when a
/// request is in flight, and giving each request its peer's address (axum's `ConnectInfo`,
/// by which failed app sign-ins are counted).
struct Requests<S> {
    app: S,
    peer: SocketAddr,
    activity: Arc<Activity>,
}

impl<S> hyper::service::Service<hyper::Request<Incoming>> for Requests<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = InFlight<tower::util::Oneshot<S, Request>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        self.activity.request_started();
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(self.peer));
        InFlight {
            served: self.app.clone().oneshot(request),
            answered: Answered(self.activity.clone()),
        }
    }
}

pin_project_lite::pin_project! {
    /// A request being served; done (for the idle timeout) once its answer is made or the
    /// request is dropped.
    struct InFlight<F> {
        #[pin]
        served: F,
        answered: Answered,
    }
}

impl<F: Future> Future for InFlight<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().served.poll(cx)
    }
}

/// Marks the request answered when dropped: hyper drops a request's future as soon as it has
/// the answer (or the connection is gone).
struct Answered(Arc<Activity>);

impl Drop for Answered {
    fn drop(&mut self) {
        self.0.request_answered();
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    const LIMITS: ConnectionLimits = ConnectionLimits {
        header_read_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_mins(1),
        max_connections: 1,
    };
    const STEP: Duration = Duration::from_secs(10);

    fn at(activity: &Activity, secs: u64) -> Instant {
        activity.epoch + Duration::from_secs(secs)
    }

    fn check_at(verdict: Verdict) -> Instant {
        match verdict {
            Verdict::CheckAt(at) => at,
            Verdict::Expired(why) => panic!("expired: {why}"),
        }
    }

    fn expired(verdict: Verdict) -> &'static str {
        match verdict {
            Verdict::Expired(why) => why,
            Verdict::CheckAt(_) => panic!("not expired"),
        }
    }

    #[test]
    fn a_quiet_connection_expires_at_its_idle_timeout_and_is_looked_at_in_time() {
        let activity = Activity::new();
        let next = check_at(activity.verdict(at(&activity, 0), &LIMITS, STEP));
        // Looked at again no later than a head starting now could time out.
        assert_eq!(next, at(&activity, 10));
        let next = check_at(activity.verdict(at(&activity, 55), &LIMITS, STEP));
        assert_eq!(next, at(&activity, 60));
        assert_eq!(
            expired(activity.verdict(at(&activity, 60), &LIMITS, STEP)),
            "idle timeout"
        );
    }

    #[test]
    fn a_head_started_must_end_within_the_header_read_timeout() {
        let activity = Activity::new();
        activity.head_started.store(
            Duration::from_secs(5).as_nanos() as u64 + 1,
            Ordering::Relaxed,
        );
        let next = check_at(activity.verdict(at(&activity, 12), &LIMITS, STEP));
        assert_eq!(next, at(&activity, 15));
        assert_eq!(
            expired(activity.verdict(at(&activity, 15), &LIMITS, STEP)),
            "header read timeout"
        );
        // Once its request is handed over, the head's clock stops.
        activity.request_started();
        let next = check_at(activity.verdict(at(&activity, 1_000), &LIMITS, STEP));
        assert_eq!(next, at(&activity, 1_010));
    }

    #[test]
    fn an_answer_restarts_the_idle_clock() {
        let activity = Activity::new();
        activity.request_started();
        activity.request_answered();
        let answered = activity.at(activity.last.load(Ordering::Relaxed));
        let next = check_at(activity.verdict(answered, &LIMITS, STEP));
        assert_eq!(next, answered + STEP);
        assert_eq!(
            expired(activity.verdict(answered + LIMITS.idle_timeout, &LIMITS, STEP)),
            "idle timeout"
        );
    }
}
