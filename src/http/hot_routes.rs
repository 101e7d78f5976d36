//! The two routes that clients call once per API request of their own, dispatched by hand in
//! front of the router: `POST /applications/{client_id}/token` (an app checking a token) and
//! `GET /user` (a token used), each also under `/api/v3`.
//!
//! Why: axum's router is a large share of these requests' work (the route table lookup, the
//! path parameters decoded and put into the request's extensions, the route's boxed service
//! and futures; counted in BENCHMARKS.md, "Where a check's instructions go"). Here they go
//! straight to the same
//! handlers, through the same extractors (axum's `Handler::call`), inside the same layers;
//! every other request, and any request on these paths that is not exactly one of them, goes
//! to the router.
//!
//! Exactness matters more than speed: a path the router would answer differently must not be
//! taken here. `/applications/grants/token` is the router's `/applications/grants/{grant_id}`,
//! a percent-encoded client id is decoded by the router, and an empty one matches nothing
//! there; all three are left to it. The test below sends the same requests to the application's
//! own router (`http::router`, not a copy of its routes) and through this dispatch, and wants
//! the same answers: a route, extractor or route layer added later that changes what these
//! routes answer fails it. (A route layer with effects other than on the answer would still
//! be bypassed here: give it to the conventions layer, which wraps both paths.)

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
    use std::num::NonZeroUsize;

    use axum::body::Body;
    use axum::http::{HeaderMap, StatusCode};
    use tower::ServiceExt;

    use super::*;
    use crate::domain::app::{App, AppKind, AppSpec};
    use crate::domain::audit::Source;
    use crate::domain::authorization::MintCount;
    use crate::domain::scope::Scopes;
    use crate::domain::secret::{ClientSecret, Password};
    use crate::domain::user::UserSpec;

    /// An answer as a client sees it. The router sets `content-length` where the dispatch
    /// leaves it to hyper, which writes the same from the body's exact size: so the header is
    /// checked against the body here and then set aside.
    async fn answer(
        service: impl Service<Request, Response = Response, Error = Infallible>,
        request: Request,
    ) -> (StatusCode, HeaderMap, String) {
        // (A HEAD answer's length is that of the GET answer it leaves out.)
        let head = request.method() == Method::HEAD;
        let response = service.oneshot(request).await.expect("infallible");
        let (mut parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, 1 << 20).await.expect("body");
        if let Some(length) = parts.headers.remove("content-length")
            && !head
        {
            assert_eq!(length.to_str().ok(), Some(body.len().to_string().as_str()));
        }
        let body = String::from_utf8_lossy(&body).into_owned();
        (parts.status, parts.headers, body)
    }

    fn request(method: &Method, path: &str, authorization: Option<&str>, body: &str) -> Request {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        if !body.is_empty() {
            request = request.header("content-type", "application/json");
        }
        request.body(Body::from(body.to_owned())).expect("request")
    }

    /// A store with octocat, her OAuth app and one token of it (the token in clear), and the
    /// state serving it. The directory holds the database: keep it while the state is used.
    async fn seeded() -> (tempfile::TempDir, AppState, App, ClientSecret, String) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("hot.db").display());
        let store = crate::store::open(&url).await.expect("store");
        let now = crate::domain::whole_seconds(time::OffsetDateTime::now_utc());
        let user = crate::domain::user::add(
            &*store,
            UserSpec {
                login: "octocat".into(),
                password: Password::new("correct horse battery staple"),
                email: None,
                totp_secret: None,
                site_admin: false,
            },
            now,
        )
        .await
        .expect("user");
        let (app, secret) = crate::domain::app::register(
            &*store,
            AppSpec {
                kind: AppKind::OAuth,
                name: "checker".into(),
                url: "https://checker.example".into(),
                callback_url: None,
                device_flow: false,
                owner: "octocat".into(),
                client_id: None,
                client_secret: None,
                user_token_ttl: None,
            },
            None,
            &Source::command_line(),
            now,
        )
        .await
        .expect("app");
        let mut tokens = Vec::new();
        crate::domain::authorization::mint(
            &*store,
            &user,
            &app.summary(),
            &Scopes::parse(["repo"]).expect("scopes"),
            MintCount {
                count: 1,
                batch_size: NonZeroUsize::MIN,
            },
            now,
            |token| {
                tokens.push(token.expose().to_owned());
                Ok(())
            },
        )
        .await
        .expect("token");
        let token = tokens.pop().expect("one token");
        (
            dir,
            AppState::new(store, "http://grantd.test"),
            app,
            secret,
            token,
        )
    }

    /// The dispatch answers every request exactly as the application's own router alone does
    /// (the real routes, not a copy: a route, extractor or route layer that changes these
    /// answers shows here), for the requests it takes and for their tricky neighbours, which it
    /// must leave to the router.
    #[tokio::test]
    #[allow(clippy::too_many_lines)] // a table of cases, as the integration tests allow
    async fn the_dispatch_answers_as_the_router_alone_does() {
        let (_dir, state, app, secret, token) = seeded().await;
        let router = crate::http::router(&state);
        let dispatch = HotRoutes::new(router.clone(), state);

        let client = app.client_id.as_str();
        let basic = |secret: &str| {
            use base64::Engine as _;
            let pair = format!("{client}:{secret}");
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        };
        let app_auth = basic(secret.expose());
        let wrong_secret = basic(&"0".repeat(40));
        let user_auth = format!("token {token}");
        let check = format!("{{\"access_token\":\"{token}\"}}");
        let unknown = format!("{{\"access_token\":\"gho_{}\"}}", "a".repeat(36));
        let own = format!("/applications/{client}/token");
        let ghes = format!("/api/v3/applications/{client}/token");
        let post = Method::POST;
        let get = Method::GET;
        // (method, path, Authorization, body, taken by the dispatch)
        let cases: Vec<(&Method, String, Option<&str>, &str, bool)> = vec![
            (&post, own.clone(), Some(&app_auth), &check, true),
            (&post, ghes.clone(), Some(&app_auth), &check, true),
            (&post, own.clone(), Some(&app_auth), &unknown, true),
            (&post, own.clone(), Some(&wrong_secret), &check, true),
            (&post, own.clone(), None, &check, true),
            (&post, own.clone(), Some(&app_auth), "{", true),
            (
                &post,
                "/applications/someone-else/token".into(),
                Some(&app_auth),
                &check,
                true,
            ),
            (
                &post,
                "/applications/grants/token".into(),
                Some(&app_auth),
                &check,
                false,
            ),
            (
                &post,
                "/api/v3/applications/grants/token".into(),
                Some(&app_auth),
                &check,
                false,
            ),
            (
                &post,
                "/applications//token".into(),
                Some(&app_auth),
                &check,
                false,
            ),
            (
                &post,
                format!("/applications/{client}%2F/token"),
                Some(&app_auth),
                &check,
                false,
            ),
            (&post, format!("{own}/"), Some(&app_auth), &check, false),
            (
                &post,
                format!("{own}/scoped"),
                Some(&app_auth),
                &check,
                false,
            ),
            (
                &post,
                format!("/applications/a/{client}/token"),
                Some(&app_auth),
                &check,
                false,
            ),
            (
                &post,
                format!("/api/v3{ghes}"),
                Some(&app_auth),
                &check,
                false,
            ),
            // A reset changes the token: an unknown one keeps both answers alike.
            (
                &Method::PATCH,
                own.clone(),
                Some(&app_auth),
                &unknown,
                false,
            ),
            (&get, own.clone(), Some(&app_auth), "", false),
            (&get, "/user".into(), Some(&user_auth), "", true),
            (&get, "/api/v3/user".into(), Some(&user_auth), "", true),
            (&get, "/user".into(), None, "", true),
            (
                &get,
                "/user".into(),
                Some("token ghp_not-a-token"),
                "",
                true,
            ),
            (&get, "/user/".into(), Some(&user_auth), "", false),
            (&get, "/users".into(), Some(&user_auth), "", false),
            (&Method::HEAD, "/user".into(), Some(&user_auth), "", false),
            (&post, "/user".into(), Some(&user_auth), "", false),
        ];
        let mut statuses = Vec::new();
        for (method, path, authorization, body, taken) in cases {
            assert_eq!(hot_route(method, &path).is_some(), taken, "{method} {path}");
            let by_router =
                answer(router.clone(), request(method, &path, authorization, body)).await;
            let by_dispatch = answer(
                dispatch.clone(),
                request(method, &path, authorization, body),
            )
            .await;
            assert_eq!(by_dispatch, by_router, "{method} {path}");
            statuses.push(by_router.0.as_u16());
        }
        // The cases reach what they are meant to: a check found, unknown, refused, malformed.
        assert_eq!(&statuses[..7], [200, 200, 404, 401, 401, 400, 404]);
        assert_eq!(&statuses[17..21], [200, 200, 401, 401]);
    }
}
