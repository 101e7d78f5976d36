//! Reads to its end any request body its handler left unread, so that answering early never
//! cuts the answer short.
//!
//! When a handler answers without reading the body (a `GET` that carries one, a 401 or 404
//! decided before the body is read), hyper stops reading the connection and closes it once the
//! answer is written. Closing a socket with bytes still unread makes the kernel send a reset,
//! and a reset discards whatever part of the answer the client had not yet received: fuzzing
//! found `GET /openapi.json` with a 200 KB body arriving 127 KB short (hyperium/hyper#3944).
//! Here a body dropped before its end goes on being read, and thrown away, by a task of its
//! own while hyper writes the answer; the connection then ends (or stays open) cleanly.
//! The reading is bounded, so a client cannot keep a connection busy this way for long.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use futures_util::StreamExt;
use http_body::{Frame, SizeHint};

/// At most this many bytes are read after the handler is done: the body limit's worth. A
/// client sending more is cut off, as it was before.
const DRAIN_BYTES: usize = super::BODY_LIMIT;

/// A body whose rest has not arrived within this long is given up. (A client that sends its
/// body this slowly is answered all the same; it may then see its connection reset.)
const DRAIN_FOR: Duration = Duration::from_secs(10);

/// Wraps the body of `request` so that it is drained if dropped unread. A request without a
/// body (most `GET`s, every token check of `GET /user`) is passed on untouched.
pub fn unread_bodies_drained(request: Request) -> Request {
    if http_body::Body::is_end_stream(request.body()) {
        return request;
    }
    request.map(|body| Body::new(DrainOnDrop { body: Some(body) }))
}

struct DrainOnDrop {
    /// `None` once the body has ended (nothing left to drain).
    body: Option<Body>,
}

impl http_body::Body for DrainOnDrop {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let Some(body) = self.body.as_mut() else {
            return Poll::Ready(None);
        };
        let frame = Pin::new(body).poll_frame(cx);
        if matches!(frame, Poll::Ready(None | Some(Err(_)))) {
            self.body = None;
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body
            .as_ref()
            .is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.body
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), http_body::Body::size_hint)
    }
}

impl Drop for DrainOnDrop {
    fn drop(&mut self) {
        let Some(body) = self.body.take() else {
            return;
        };
        if http_body::Body::is_end_stream(&body) {
            return;
        }
        // Bodies are dropped on the runtime's threads; outside one there is nothing to do.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(tokio::time::timeout(DRAIN_FOR, drain(body)));
        }
    }
}

async fn drain(body: Body) {
    let mut chunks = body.into_data_stream();
    let mut read = 0;
    while let Some(Ok(chunk)) = chunks.next().await {
        read += chunk.len();
        if read > DRAIN_BYTES {
            return;
        }
    }
}
