//! The accept loop: takes TCP connections, refuses those past `--max-connections`, serves HTTP/1.1
//! (and HTTP/2 over TLS) on the rest through hyper, and closes connections whose clients are too
//! slow or gone quiet (`--header-read-timeout`, `--idle-timeout`). Nothing here knows a route or a rule: requests go
//! to [`crate::http::app`] as they are.
//!
//! Why not `axum::serve`: it has no header-read timeout, no idle timeout and no connection cap,
//! so eight clients sending a header byte a second held eight connections for as long as they
//! liked (issue 18, item 6). Why not hyper's own `header_read_timeout`: in hyper 1.x its clock
//! starts as soon as the connection is ready for a request head (at accept, and again after each
//! answer), so it is an idle timeout and a header timeout in one, with one length; grantd wants a
//! short bound on a head being sent and a longer one on a quiet keep-alive connection.
//!
//! With TLS (`--tls-cert`, `--tls-self-signed`), the handshake is part of the connection's
//! first request head: the byte counting sits under TLS, so a client has the header-read timeout
//! from its first byte to finish its handshake and its first head (one that never finishes its
//! handshake is as slow as one that never finishes its head), and a silent one the idle
//! timeout, as in plain HTTP. The connection then speaks HTTP/2 if ALPN chose `h2`, HTTP/1.1
//! otherwise; a connection over the cap is answered its 503 over TLS too. HTTP/2 is timed as
//! HTTP/1.1 is: bytes that arrive with no request in flight (a new request's HEADERS, but also
//! a PING or a late SETTINGS ack) start the header-read clock, so a client that sends frames
//! and no request is closed at the header-read timeout rather than the idle one.

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
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

use crate::tls::Tls;

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

/// Serves `app` on `listener` (over TLS if `tls`) until `shutdown` completes, then stops
/// accepting, lets every open connection finish the request it is serving (closing idle ones
/// at once), and returns once all are closed.
pub async fn run<S>(
    listener: TcpListener,
    app: S,
    limits: ConnectionLimits,
    tls: Option<Tls>,
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
                tls.clone(),
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
            refuse(stream, tls.as_ref(), &refusals, &refusal);
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

/// Answers a connection over the cap with the 503 (after a TLS handshake, with TLS), then
/// closes it, all within [`REFUSAL_TIME`].
fn refuse(stream: TcpStream, tls: Option<&Tls>, refusals: &Arc<Semaphore>, refusal: &Arc<[u8]>) {
    let Ok(slot) = refusals.clone().try_acquire_owned() else {
        return; // dropped: closed unanswered
    };
    let refusal = refusal.clone();
    let tls = tls.cloned();
    tokio::spawn(async move {
        let _ = tokio::time::timeout(REFUSAL_TIME, async {
            match tls {
                None => answer_and_close(stream, &refusal).await,
                Some(tls) => {
                    let stream = tls.refusing_acceptor().accept(stream).await?;
                    answer_and_close(stream, &refusal).await
                }
            }
        })
        .await;
        drop(slot);
    });
}

async fn answer_and_close<I: AsyncRead + AsyncWrite + Unpin>(
    mut stream: I,
    answer: &[u8],
) -> io::Result<()> {
    stream.write_all(answer).await?;
    stream.shutdown().await?;
    // Whatever the client sent (its request) is read and dropped: closing a socket with
    // unread data makes the kernel reset the connection, which can discard the 503 before the
    // client reads it.
    let mut sink = [0u8; 1024];
    while stream.read(&mut sink).await? > 0 {}
    Ok(())
}

/// Serves one connection until it closes, times out, or the server shuts down.
async fn connection<S>(
    stream: TcpStream,
    peer: SocketAddr,
    app: S,
    limits: ConnectionLimits,
    tls: Option<Tls>,
    mut stopped: watch::Receiver<()>,
    permit: OwnedSemaphorePermit,
) where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let activity = Arc::new(Activity::new());
    // Under TLS, if any: the handshake's bytes count as the first head's.
    let io = Watched {
        io: stream,
        activity: activity.clone(),
    };
    let service = Requests {
        app,
        peer,
        activity: activity.clone(),
    };
    let step = limits.header_read_timeout.min(limits.idle_timeout);
    let mut watch = Watch {
        activity,
        limits,
        step,
        check: Box::pin(tokio::time::sleep(step)),
        stopping: Box::pin(async move { while stopped.changed().await.is_ok() {} }),
        draining: false,
    };
    let ended = match tls {
        None => watch.serve(http1_connection(io, service)).await,
        Some(tls) => match watch.handshake(tls.acceptor().accept(io)).await {
            Ok(stream) => {
                if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
                    let conn = http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service);
                    watch.serve(conn).await
                } else {
                    watch.serve(http1_connection(stream, service)).await
                }
            }
            Err(why) => Some(why),
        },
    };
    if let Some(why) = ended {
        tracing::debug!(%why, "connection closed");
    }
    drop(permit);
}

fn http1_connection<I, S>(io: I, service: Requests<S>) -> http1::Connection<TokioIo<I>, Requests<S>>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    http1::Builder::new().serve_connection(TokioIo::new(io), service)
}

/// A connection's deadlines and the server's shutdown, watched while it shakes hands and
/// while it is served.
struct Watch {
    activity: Arc<Activity>,
    limits: ConnectionLimits,
    /// The shorter timeout: how often the timer looks, at least.
    step: Duration,
    check: Pin<Box<Sleep>>,
    /// Ready once the server shuts down.
    stopping: Pin<Box<dyn Future<Output = ()> + Send>>,
    draining: bool,
}

impl Watch {
    /// Whether the connection has outstayed a limit. Everything that moves a deadline happens
    /// inside the connection's own poll, so this is checked after it; the timer fires at the
    /// earliest deadline there may be, and is moved only then, not on every request.
    fn outstayed(&mut self, cx: &mut Context<'_>) -> Option<&'static str> {
        while self.check.as_mut().poll(cx).is_ready() {
            match self
                .activity
                .verdict(Instant::now(), &self.limits, self.step)
            {
                Verdict::Expired(why) => return Some(why),
                Verdict::CheckAt(at) => self.check.as_mut().reset(at),
            }
        }
        None
    }

    /// Runs a TLS handshake to its end, unless the connection outstays its limits or the
    /// server shuts down first.
    async fn handshake<F, T>(&mut self, handshake: F) -> Result<T, String>
    where
        F: Future<Output = io::Result<T>>,
    {
        let mut handshake = pin!(handshake);
        poll_fn(|cx| {
            if self.stopping.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err("shut down during the TLS handshake".to_owned()));
            }
            if let Poll::Ready(done) = handshake.as_mut().poll(cx) {
                return Poll::Ready(done.map_err(|error| format!("TLS handshake: {error}")));
            }
            if let Some(why) = self.outstayed(cx) {
                return Poll::Ready(Err(format!("{why} (during the TLS handshake)")));
            }
            Poll::Pending
        })
        .await
    }

    /// Serves `conn` until it ends; why it ended, if not by the client closing it.
    async fn serve<C: Connection>(&mut self, conn: C) -> Option<String> {
        let mut conn = pin!(conn);
        poll_fn(|cx| {
            if !self.draining && self.stopping.as_mut().poll(cx).is_ready() {
                self.draining = true;
                // hyper closes an idle connection at once and any other after its answer.
                conn.as_mut().drain();
            }
            if let Poll::Ready(served) = conn.as_mut().poll(cx) {
                return Poll::Ready(served.err().map(|e| e.to_string()));
            }
            if let Some(why) = self.outstayed(cx) {
                return Poll::Ready(Some(why.to_owned()));
            }
            Poll::Pending
        })
        .await
    }
}

/// A hyper connection of either HTTP version.
trait Connection: Future<Output = hyper::Result<()>> {
    /// Stops taking requests; the connection ends once those in flight are answered.
    fn drain(self: Pin<&mut Self>);
}

impl<I, S> Connection for http1::Connection<TokioIo<I>, Requests<S>>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    fn drain(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

impl<I, S> Connection for http2::Connection<TokioIo<I>, Requests<S>, TokioExecutor>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    fn drain(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
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
    type Error = Unanswered;
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

impl<F: Future<Output = Result<Response, Infallible>>> Future for InFlight<F> {
    type Output = Result<Response, Unanswered>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Ok(response) = std::task::ready!(self.project().served.poll(cx));
        // An error makes hyper close the connection (HTTP/1) or reset the stream (HTTP/2)
        // without writing a byte of the answer.
        if response
            .extensions()
            .get::<crate::http::faults::CloseUnanswered>()
            .is_some()
        {
            return Poll::Ready(Err(Unanswered));
        }
        Poll::Ready(Ok(response))
    }
}

/// An answer the app asked not to send (the test controls' `drop` fault).
#[derive(Debug)]
pub struct Unanswered;

impl std::fmt::Display for Unanswered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("closed without an answer (a drop fault)")
    }
}

impl std::error::Error for Unanswered {}

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
