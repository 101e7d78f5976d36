//! Which request a log line belongs to: its method, route pattern and request id, on every line
//! logged while the request is served.
//!
//! This is what a `tracing` span per request would give, without its price: a span is created,
//! formatted into a string and torn down for every request, logged or not (a tenth of a token
//! check at the default `info` level). Here the request's context sits in a task-local, and the
//! log line format ([`LineFormat`]) reads it only when a line is actually written.

use std::cell::RefCell;
use std::fmt;

use axum::extract::MatchedPath;
use axum::http::Method;
use tokio::task::futures::TaskLocalFuture;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::conventions::RequestId;

tokio::task_local! {
    static REQUEST: RequestContext;
}

/// What the log lines of one request say about it.
pub struct RequestContext {
    method: Method,
    request_id: RequestId,
    /// The matched route pattern, once routing has matched one; never the raw path, which may
    /// hold a token (the legacy app-token paths).
    route: RefCell<Option<Route>>,
}

/// A route pattern as routing found it: named by the hot routes' own dispatch, or the router's
/// `MatchedPath` (shared, so recording it copies no string).
pub enum Route {
    Pattern(&'static str),
    Matched(MatchedPath),
}

impl Route {
    fn as_str(&self) -> &str {
        match self {
            Self::Pattern(pattern) => pattern,
            Self::Matched(matched) => matched.as_str(),
        }
    }
}

impl RequestContext {
    pub fn new(method: Method, request_id: RequestId) -> Self {
        Self {
            method,
            request_id,
            route: RefCell::new(None),
        }
    }

    /// Serves `request` (a future) with this context on its log lines. (Not an `async fn`:
    /// one would hold `request` twice, its argument and the scope's, in every request's future.)
    pub fn scope<F: Future>(self, request: F) -> TaskLocalFuture<RequestContext, F> {
        REQUEST.scope(self, request)
    }
}

/// Records the matched route of the request the current task serves (no-op outside one).
pub fn record_route(route: Route) {
    let _ = REQUEST.try_with(|request| {
        *request.route.borrow_mut() = Some(route);
    });
}

impl fmt::Display for RequestContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.request_id;
        match &*self.route.borrow() {
            Some(route) => write!(
                f,
                "request{{method={} route={} request_id={id}}}",
                self.method,
                route.as_str()
            ),
            None => write!(f, "request{{method={} request_id={id}}}", self.method),
        }
    }
}

/// The log line: `TIME LEVEL [request{method=… route=… request_id=…}:] target: message fields`,
/// as `tracing-subscriber`'s default format writes a line inside a request span.
#[derive(Debug, Default)]
pub struct LineFormat;

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        SystemTime.format_time(&mut writer)?;
        write!(writer, " {:>5} ", metadata.level())?;
        REQUEST
            .try_with(|request| write!(writer, "{request}: "))
            .unwrap_or(Ok(()))?;
        write!(writer, "{}: ", metadata.target())?;
        ctx.format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_names_method_route_and_id() {
        let id = RequestId::new();
        let context = RequestContext::new(Method::POST, id);
        assert_eq!(
            context.to_string(),
            format!("request{{method=POST request_id={id}}}")
        );
        *context.route.borrow_mut() = Some(Route::Pattern("/applications/{client_id}/token"));
        assert_eq!(
            context.to_string(),
            format!(
                "request{{method=POST route=/applications/{{client_id}}/token request_id={id}}}"
            )
        );
    }

    #[tokio::test]
    async fn routes_are_recorded_only_inside_a_request() {
        record_route(Route::Pattern("/outside")); // no request: nothing to record into, and no panic
        let id = RequestId::new();
        let context = RequestContext::new(Method::GET, id);
        let seen = context
            .scope(async {
                record_route(Route::Pattern("/user"));
                REQUEST.with(ToString::to_string)
            })
            .await;
        assert_eq!(
            seen,
            format!("request{{method=GET route=/user request_id={id}}}")
        );
    }
}
