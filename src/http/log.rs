//! Which request a log line belongs to: its method, route pattern and request id, on every line
//! logged while the request is served.
//!
//! This is what a `tracing` span per request would give, without its price: a span is created,
//! formatted into a string and torn down for every request, logged or not (a tenth of a token
//! check at the default `info` level). Here the request's context sits in a task-local, and the
//! log line formats ([`LineFormat`], [`JsonFormat`] for `--log-format json`) read it only when a
//! line is actually written. The metrics read the matched route from it too ([`route`]).

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
    /// Who the request authenticated as (an app's client id, a user's login), for the test
    /// controls' journal; never a credential.
    caller: RefCell<Caller>,
}

/// The app and the user a request authenticated as, as far as its extractors got.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub client_id: Option<String>,
    pub user: Option<String>,
}

/// A route pattern as routing found it: named by the hot routes' own dispatch, or the router's
/// `MatchedPath` (shared, so recording or cloning it copies no string). Two routes are equal
/// when their patterns are, whichever way they were found.
#[derive(Clone, Debug)]
pub enum Route {
    Pattern(&'static str),
    Matched(MatchedPath),
}

impl Route {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Pattern(pattern) => pattern,
            Self::Matched(matched) => matched.as_str(),
        }
    }
}

impl PartialEq for Route {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Route {}

impl std::hash::Hash for Route {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl RequestContext {
    pub fn new(method: Method, request_id: RequestId) -> Self {
        Self {
            method,
            request_id,
            route: RefCell::new(None),
            caller: RefCell::default(),
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

/// Records the app that authenticated the current request (no-op outside one).
pub fn record_app(client_id: &str) {
    let _ = REQUEST.try_with(|request| {
        request.caller.borrow_mut().client_id = Some(client_id.to_owned());
    });
}

/// Records the user that authenticated the current request (no-op outside one).
pub fn record_user(login: &str) {
    let _ = REQUEST.try_with(|request| {
        request.caller.borrow_mut().user = Some(login.to_owned());
    });
}

/// Who the current request authenticated as.
pub fn caller() -> Caller {
    REQUEST
        .try_with(|request| request.caller.borrow().clone())
        .unwrap_or_default()
}

/// The method and request id of the current request.
pub fn method_and_id() -> Option<(Method, RequestId)> {
    REQUEST
        .try_with(|request| (request.method.clone(), request.request_id))
        .ok()
}

/// The matched route of the request the current task serves, if routing matched one.
pub fn route() -> Option<Route> {
    REQUEST
        .try_with(|request| request.route.borrow().clone())
        .ok()
        .flatten()
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

/// The log line of `--log-format json`: one JSON object per line,
/// `{"timestamp","level","target","fields":{"message",…}}` as `tracing-subscriber`'s JSON
/// format writes it, plus `"request_id"`, `"method"` and (once routing matched) `"route"` on
/// every line logged inside a request, at the top level so that `jq 'select(.request_id == …)'`
/// finds them. The fields come from `JsonFields`, which the subscriber must be given.
#[derive(Debug, Default)]
pub struct JsonFormat;

impl<S, N> FormatEvent<S, N> for JsonFormat
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
        writer.write_str("{\"timestamp\":\"")?;
        SystemTime.format_time(&mut writer)?;
        write!(writer, "\",\"level\":\"{}\",\"target\":", metadata.level())?;
        write_json_string(&mut writer, metadata.target())?;
        REQUEST
            .try_with(|request| request.write_json(&mut writer))
            .unwrap_or(Ok(()))?;
        writer.write_str(",\"fields\":")?;
        ctx.format_fields(writer.by_ref(), event)?;
        writeln!(writer, "}}")
    }
}

impl RequestContext {
    /// `,"request_id":…,"method":…[,"route":…]`: the members [`JsonFormat`] adds.
    fn write_json(&self, writer: &mut Writer<'_>) -> fmt::Result {
        write!(
            writer,
            ",\"request_id\":\"{}\",\"method\":",
            self.request_id
        )?;
        write_json_string(writer, self.method.as_str())?;
        if let Some(route) = &*self.route.borrow() {
            writer.write_str(",\"route\":")?;
            write_json_string(writer, route.as_str())?;
        }
        Ok(())
    }
}

/// `text` as a JSON string. (Targets, methods and route patterns never need more than the
/// quotes, but a line that does not parse would be worse than none.)
fn write_json_string(writer: &mut Writer<'_>, text: &str) -> fmt::Result {
    writer.write_char('"')?;
    for c in text.chars() {
        match c {
            '"' => writer.write_str("\\\"")?,
            '\\' => writer.write_str("\\\\")?,
            c if u32::from(c) < 0x20 => write!(writer, "\\u{:04x}", u32::from(c))?,
            c => writer.write_char(c)?,
        }
    }
    writer.write_char('"')
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
        assert_eq!(route(), None);
        let id = RequestId::new();
        let context = RequestContext::new(Method::GET, id);
        let (seen, matched) = context
            .scope(async {
                record_route(Route::Pattern("/user"));
                (REQUEST.with(ToString::to_string), route())
            })
            .await;
        assert_eq!(matched, Some(Route::Pattern("/user")));
        assert_eq!(
            seen,
            format!("request{{method=GET route=/user request_id={id}}}")
        );
    }

    /// A log line's sink for the tests: every line written, kept.
    #[derive(Clone, Default)]
    struct Lines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Lines {
        fn parsed(&self) -> Vec<serde_json::Value> {
            let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
            text.lines()
                .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
                .collect()
        }
    }

    #[tokio::test]
    async fn json_lines_carry_the_request_inside_one_and_parse() {
        let lines = Lines::default();
        let sink = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .event_format(JsonFormat)
            .finish();
        let id = RequestId::new();
        let context = RequestContext::new(Method::POST, id);
        context
            .scope(async {
                record_route(Route::Pattern("/applications/{client_id}/token"));
                tracing::subscriber::with_default(subscriber, || {
                    tracing::info!(status = 404, note = "a \"quoted\"\nline", "answered");
                });
            })
            .await;
        let subscriber = tracing_subscriber::fmt()
            .with_writer({
                let sink = lines.clone();
                move || sink.clone()
            })
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .event_format(JsonFormat)
            .finish();
        tracing::subscriber::with_default(subscriber, || tracing::warn!("outside"));

        let parsed = lines.parsed();
        assert_eq!(parsed.len(), 2, "{parsed:?}");
        let inside = &parsed[0];
        assert_eq!(inside["request_id"], id.as_str());
        assert_eq!(inside["method"], "POST");
        assert_eq!(inside["route"], "/applications/{client_id}/token");
        assert_eq!(inside["level"], "INFO");
        assert_eq!(inside["target"], module_path!());
        assert_eq!(
            inside["fields"],
            serde_json::json!({"message": "answered", "status": 404, "note": "a \"quoted\"\nline"})
        );
        assert!(
            inside["timestamp"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z'))
        );
        let outside = &parsed[1];
        assert_eq!(outside["fields"]["message"], "outside");
        assert!(outside.get("request_id").is_none(), "{outside}");
    }
}
