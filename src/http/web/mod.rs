//! The web pages (sign-in, two-factor, sign-out): server-rendered HTML that works without
//! JavaScript, rendered by askama from `templates/` (compile-time checked, escaped by default:
//! never build HTML with `format!`). Mounted at the site's root only, never under `/api/v3`.
//!
//! This module holds what every page shares: the security headers, the cookies, the CSRF
//! check, bounded form bodies and the error pages. No SQL and no rules here; the rules of
//! signing in are `domain::session`'s.

mod device;
mod oauth;
pub mod profile;
mod settings;
mod signin;

use askama::Template;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;

use super::AppState;
use crate::domain::session::{self, SessionId};

/// The routes of the pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(signin::new_session))
        .route("/session", post(signin::create_session))
        .route(
            "/sessions/two-factor",
            get(signin::two_factor).post(signin::verify_two_factor),
        )
        .route("/logout", post(signin::destroy_session))
        .route(
            "/login/oauth/authorize",
            get(oauth::authorize).post(oauth::decide),
        )
        .route("/login/oauth/access_token", post(oauth::access_token))
        .route("/login/device/code", post(device::device_code))
        .route(
            "/login/device",
            get(device::enter_code).post(device::submit_code),
        )
        .route("/login/device/authorize", post(device::decide))
        .merge(settings::routes())
        .route("/assets/grantd.css", get(stylesheet))
        .route("/avatars/u/{id}", get(profile::avatar))
        // Every one-segment path no other route takes: answered as an unknown path (JSON 404,
        // for any method) unless it names an account.
        .route(
            "/{login}",
            get(profile::show).fallback(crate::http::meta::not_found),
        )
}

/// The signed-in (or two-factor pending) session's cookie, as GitHub names it.
pub const SESSION_COOKIE: &str = "user_session";
/// The per-browser secret the forms' `authenticity_token` is derived from before sign-in.
pub const BROWSER_COOKIE: &str = "_gh_sess";

/// A form body larger than this is refused (413): the largest form is a few hundred bytes.
const FORM_LIMIT: usize = 16 * 1024;

const CSS: &str = include_str!("grantd.css");

/// `GET /assets/grantd.css`: the pages' only stylesheet, served from the binary.
async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        CSS,
    )
        .into_response()
}

/// Where the site lives, from `--public-url`: the path prefix pages link under, and whether
/// cookies must be `Secure`.
pub struct Site {
    /// The path of the pages' root (`crate::http::web_root`), without a trailing slash (""
    /// at a host's root): a public URL of `https://HOST/api/v3` puts the pages at `/`.
    pub base: String,
    pub secure: bool,
}

impl Site {
    pub fn of(state: &AppState) -> Self {
        let url = crate::http::web_root(&state.public_url);
        let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let base = after_scheme
            .find('/')
            .map_or("", |at| &after_scheme[at..])
            .trim_end_matches('/');
        Self {
            base: base.to_owned(),
            secure: url.starts_with("https://"),
        }
    }

    /// A `Set-Cookie` value: HttpOnly, SameSite=Lax, on the whole site, Secure over https.
    /// `max_age` `None` lasts as long as the browser; `Some(0)` deletes the cookie.
    fn cookie(&self, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
        let path = if self.base.is_empty() {
            "/"
        } else {
            &self.base
        };
        let mut text = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax");
        if let Some(seconds) = max_age {
            text.push_str("; Max-Age=");
            text.push_str(itoa::Buffer::new().format(seconds));
        }
        if self.secure {
            text.push_str("; Secure");
        }
        // Names, base64url values, a URL path and digits: always a valid header value.
        HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("x=; Max-Age=0"))
    }
}

/// The value of cookie `name` in the request, if sent once or more (the first wins).
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(key, value)| (key == name).then_some(value))
}

/// The session id the `user_session` cookie carries, if it has the shape of one.
pub fn session_cookie(headers: &HeaderMap) -> Option<SessionId> {
    cookie(headers, SESSION_COOKIE).and_then(SessionId::parse)
}

/// The browser's secret for forms before sign-in, and the cookie to set when it has none yet.
pub fn browser_secret(headers: &HeaderMap) -> Result<(String, bool), PageError> {
    match cookie(headers, BROWSER_COOKIE).filter(|v| SessionId::parse(v).is_some()) {
        Some(value) => Ok((value.to_owned(), false)),
        None => Ok((
            session::random_text().map_err(|e| PageError::internal(&e))?,
            true,
        )),
    }
}

/// Checks a form's `authenticity_token` against the browser's secret (422 page if wrong).
pub fn check_token(secret: Option<&str>, sent: Option<&str>) -> Result<(), PageError> {
    match (secret, sent) {
        (Some(secret), Some(sent)) if session::authenticity_token_matches(secret, sent) => Ok(()),
        _ => Err(PageError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid authenticity token",
            "This form has expired or did not come from this site. Go back, reload the page and try again.",
        )),
    }
}

/// Reads and decodes a form body of at most [`FORM_LIMIT`] bytes (413 past it, 400 if it is
/// not a form). Unknown fields are ignored; a field sent twice is a bad request.
pub async fn read_form<T: DeserializeOwned>(body: Body) -> Result<T, PageError> {
    let bytes = axum::body::to_bytes(body, FORM_LIMIT).await.map_err(|_| {
        PageError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request too large",
            "The form sent more than this page accepts.",
        )
    })?;
    serde_urlencoded::from_bytes(&bytes).map_err(|_| PageError::bad_request())
}

/// Decodes a query string, or the defaults when there is none or it does not decode (a page
/// must never fail over a mangled link).
pub fn read_query<T: DeserializeOwned + Default>(query: Option<&str>) -> T {
    query
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default()
}

/// A rendered page with the headers every page sends, and cookies to set.
pub struct Page {
    pub status: StatusCode,
    pub html: String,
    pub cookies: Vec<HeaderValue>,
}

/// Headers that keep the pages from being framed, scripted, leaked by `Referer` or cached
/// with their one-time tokens.
fn secure_headers(headers: &mut HeaderMap) {
    const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
    let set = |headers: &mut HeaderMap, name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(headers, header::CONTENT_SECURITY_POLICY, CSP);
    set(headers, header::X_FRAME_OPTIONS, "deny");
    set(headers, header::REFERRER_POLICY, "origin-when-cross-origin");
    set(headers, header::CACHE_CONTROL, "no-store");
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
}

impl Page {
    /// Renders `template`; a template failure becomes the 500 page.
    pub fn render(status: StatusCode, template: &impl Template) -> Result<Self, PageError> {
        let html = template.render().map_err(|e| PageError::internal(&e))?;
        Ok(Self {
            status,
            html,
            cookies: Vec::new(),
        })
    }

    #[must_use]
    pub fn with_cookie(mut self, cookie: HeaderValue) -> Self {
        self.cookies.push(cookie);
        self
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.html).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        secure_headers(headers);
        for cookie in self.cookies {
            headers.append(header::SET_COOKIE, cookie);
        }
        response
    }
}

/// A 303 to a local path (after a form), with cookies to set.
pub fn redirect(location: &str, cookies: Vec<HeaderValue>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    // A local path checked by `is_local_return_to`, or one of ours: a valid header value.
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, value);
    }
    secure_headers(headers);
    for cookie in cookies {
        headers.append(header::SET_COOKIE, cookie);
    }
    response
}

/// An error page: the status and a short explanation, never a cause (that is logged).
#[derive(Debug)]
pub struct PageError {
    status: StatusCode,
    title: &'static str,
    message: &'static str,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    base: &'a str,
    title: &'a str,
    message: &'a str,
}

impl PageError {
    pub fn new(status: StatusCode, title: &'static str, message: &'static str) -> Self {
        Self {
            status,
            title,
            message,
        }
    }

    pub fn bad_request() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "This page could not read what the form sent.",
        )
    }

    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "a page failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "The server could not complete this request. Please try again.",
        )
    }

    /// A domain failure that no page turns into a message of its own.
    pub fn from_domain(error: &crate::domain::Error) -> Self {
        if let crate::domain::Error::Store(crate::store::Error::Unavailable(cause)) = error {
            tracing::error!(error = %cause, "database unavailable");
            return Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service unavailable",
                "The database cannot be reached right now. Please try again shortly.",
            );
        }
        Self::internal(error)
    }

    /// The page, under the site's `base` path.
    pub fn into_page(self, base: &str) -> Response {
        let page = MessagePage {
            base,
            title: self.title,
            message: self.message,
        };
        match page.render() {
            Ok(html) => Page {
                status: self.status,
                html,
                cookies: Vec::new(),
            }
            .into_response(),
            Err(_) => self.status.into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_from_every_cookie_header() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; b=2"));
        headers.append(header::COOKIE, HeaderValue::from_static("c=3"));
        assert_eq!(cookie(&headers, "b"), Some("2"));
        assert_eq!(cookie(&headers, "c"), Some("3"));
        assert_eq!(cookie(&headers, "d"), None);
    }
}
