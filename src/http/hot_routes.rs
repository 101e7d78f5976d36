//! The two routes that clients call once per API request of their own, dispatched by hand in
//! front of the router: `POST /applications/{client_id}/token` (an app checking a token) and
//! `GET /user` (a token used), each also under `/api/v3`.
//!
//! axum's router costs these requests about a tenth of their CPU: the route table lookup, the
//! path parameters and matched path put into the request's extensions, and the route's boxed
//! service and futures (BENCHMARKS.md). Here they go straight to the same handlers, through
//! the same extractors (axum's `Handler::call`), inside the same layers; every other request,
//! and any request on these paths that is not exactly one of them, goes to the router.
//!
//! Exactness matters more than speed: a path the router would answer differently must not be
//! taken here. `/applications/grants/token` is the router's `/applications/grants/{grant_id}`,
//! a percent-encoded client id is decoded by the router, and an empty one matches nothing
//! there; all three are left to it. A test compares this matcher with the router's.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::Request;
use axum::handler::Handler;
use axum::http::Method;
use axum::response::Response;
use axum::routing::future::RouteFuture;
use tower::Service;

use super::log::{self, Route};
use super::{AppState, app_tokens, users};

/// The base path of GitHub Enterprise Server's API, under which every route is served again.
const GHES_PREFIX: &str = "/api/v3";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HotRoute {
    CheckToken,
    User,
}

impl HotRoute {
    /// The route pattern the router would have matched, for the log lines.
    fn pattern(self, ghes: bool) -> &'static str {
        match (self, ghes) {
            (Self::CheckToken, false) => "/applications/{client_id}/token",
            (Self::CheckToken, true) => "/api/v3/applications/{client_id}/token",
            (Self::User, false) => "/user",
            (Self::User, true) => "/api/v3/user",
        }
    }
}

/// The hot route a request is for, if it is exactly one, with whether it came under the GHES
/// prefix and the `{client_id}` of a check.
fn hot_route<'p>(method: &Method, path: &'p str) -> Option<(HotRoute, bool, Option<&'p str>)> {
    let (rest, ghes) = match path.strip_prefix(GHES_PREFIX) {
        Some(rest) => (rest, true),
        None => (path, false),
    };
    if *method == Method::GET {
        return (rest == "/user").then_some((HotRoute::User, ghes, None));
    }
    if *method != Method::POST {
        return None;
    }
    let client_id = rest
        .strip_prefix("/applications/")?
        .strip_suffix("/token")?;
    let plain = !client_id.is_empty() && !client_id.contains(['/', '%']) && client_id != "grants";
    plain.then_some((HotRoute::CheckToken, ghes, Some(client_id)))
}

/// The `{client_id}` of a request dispatched here (the router's path parameters are not there
/// for the extractors to read).
pub fn path_client_id<'p>(method: &Method, path: &'p str) -> Option<&'p str> {
    hot_route(method, path).and_then(|(_, _, client_id)| client_id)
}

/// The router with the hot routes dispatched in front of it.
#[derive(Clone)]
pub struct HotRoutes {
    router: Router,
    state: AppState,
}

impl HotRoutes {
    pub fn new(router: Router, state: AppState) -> Self {
        Self { router, state }
    }
}

impl Service<Request> for HotRoutes {
    type Response = Response;
    type Error = Infallible;
    type Future = HotFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        <Router as Service<Request>>::poll_ready(&mut self.router, cx)
    }

    fn call(&mut self, request: Request) -> HotFuture {
        let Some((route, ghes, _)) = hot_route(request.method(), request.uri().path()) else {
            return HotFuture::Routed(self.router.call(request));
        };
        log::record_route(Route::Pattern(route.pattern(ghes)));
        let state = self.state.clone();
        HotFuture::Direct(match route {
            HotRoute::CheckToken => Handler::call(app_tokens::check_token, request, state),
            HotRoute::User => Handler::call(users::get_authenticated, request, state),
        })
    }
}

/// The answer of either path. (It lives inside the conventions layer's one boxed future, so
/// the router's larger future is kept inline, as it was before this dispatch, not boxed anew.)
#[allow(clippy::large_enum_variant)]
pub enum HotFuture {
    Direct(Pin<Box<dyn Future<Output = Response> + Send>>),
    Routed(RouteFuture<Infallible>),
}

impl Future for HotFuture {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Self::Direct(answer) => answer.as_mut().poll(cx).map(Ok),
            Self::Routed(routed) => Pin::new(routed).poll(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::extract::MatchedPath;
    use axum::routing::{get, post};
    use tower::ServiceExt;

    use super::*;

    /// What the router makes of a request: the matched pattern, or the status it answers.
    async fn routed(router: &Router, method: &Method, path: &str) -> String {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .expect("request");
        let response = router.clone().oneshot(request).await.expect("infallible");
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .expect("body");
        String::from_utf8(body.to_vec()).expect("utf-8")
    }

    /// Every path the hot matcher takes is one the router gives the same route, and every
    /// tricky neighbour it leaves is one the router gives another answer.
    #[tokio::test]
    async fn the_matcher_agrees_with_the_router() {
        let matched = |path: MatchedPath| async move { path.as_str().to_owned() };
        // The patterns that share these paths' shapes in `http::api`.
        let api = || {
            Router::new()
                .route("/applications/grants", get(matched))
                .route("/applications/grants/{grant_id}", get(matched))
                .route("/applications/{client_id}/token", post(matched))
                .route("/applications/{client_id}/token/scoped", post(matched))
                .route("/applications/{client_id}/tokens/{token}", post(matched))
                .route("/user", get(matched))
        };
        let router = Router::new()
            .merge(api())
            .nest(GHES_PREFIX, api())
            .fallback(|| async { "fallback" });
        // (method, path, taken here): every other request is left to the router.
        let cases = [
            (Method::POST, "/applications/Iv1.abc/token", true),
            (
                Method::POST,
                "/api/v3/applications/0123456789abcdef0123/token",
                true,
            ),
            (Method::POST, "/applications/grants/token", false),
            (Method::POST, "/api/v3/applications/grants/token", false),
            (Method::POST, "/applications//token", false),
            (Method::POST, "/applications/a%2Fb/token", false),
            (Method::POST, "/applications/abc/token/", false),
            (Method::POST, "/applications/abc/token/scoped", false),
            (Method::POST, "/applications/abc/tokens/token", false),
            (Method::POST, "/applications/a/b/token", false),
            (Method::POST, "/api/v3/api/v3/applications/abc/token", false),
            (Method::POST, "/api/v3applications/abc/token", false),
            (Method::PATCH, "/applications/abc/token", false),
            (Method::GET, "/applications/abc/token", false),
            (Method::GET, "/user", true),
            (Method::GET, "/api/v3/user", true),
            (Method::GET, "/user/", false),
            (Method::GET, "/users", false),
            (Method::GET, "/api/v3/user/", false),
            (Method::HEAD, "/user", false),
            (Method::POST, "/user", false),
        ];
        for (method, path, hot) in cases {
            let found = hot_route(&method, path);
            assert_eq!(found.is_some(), hot, "{method} {path}");
            let Some((route, ghes, client_id)) = found else {
                continue;
            };
            assert_eq!(
                routed(&router, &method, path).await,
                route.pattern(ghes),
                "{method} {path}"
            );
            let expected = (route == HotRoute::CheckToken).then(|| path.rsplit('/').nth(1));
            assert_eq!(client_id, expected.flatten(), "{method} {path}");
        }
    }
}
