//! GitHub's HTTP conventions that hold for every endpoint: a request id on every response and
//! in the logs, the media type served, the API version (checked when the client names one),
//! and CORS as `api.github.com` serves it.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowHeaders, CorsLayer, ExposeHeaders};

use super::error::ApiError;

/// The only REST API version GitHub has published, and so the only one grantd serves.
pub const API_VERSION: &str = "2022-11-28";

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-github-request-id");
const API_VERSION_HEADER: HeaderName = HeaderName::from_static("x-github-api-version");
const API_VERSION_SELECTED: HeaderName = HeaderName::from_static("x-github-api-version-selected");
const MEDIA_TYPE: HeaderName = HeaderName::from_static("x-github-media-type");

/// A new request id in GitHub's shape (`CB9E:1F45:4A7B2:8C1D3:6527A1B0`): five groups of
/// hex, unique per request. Clients quote it in bug reports; the logs carry it too.
///
/// Unique, not secret: a per-process random key mixed with a request counter, as unlikely to
/// repeat as random ids (104 bits) without a system call per request.
fn new_request_id() -> HeaderValue {
    static KEY: OnceLock<[u64; 2]> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let key = KEY.get_or_init(|| {
        let mut bytes = [0u8; 16];
        // The OS random source failing is not worth failing requests over: the counter alone
        // still makes the ids unique.
        let _ = getrandom::fill(&mut bytes);
        let (a, b) = bytes.split_at(8);
        [
            u64::from_le_bytes(a.try_into().unwrap_or_default()),
            u64::from_le_bytes(b.try_into().unwrap_or_default()),
        ]
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let high = mix(n ^ key[0]);
    let low = mix(n.wrapping_add(key[1]));
    let id = format!(
        "{:04X}:{:04X}:{:05X}:{:05X}:{:08X}",
        high >> 48,
        (high >> 32) & 0xFFFF,
        (high >> 12) & 0xF_FFFF,
        low >> 44,
        low & 0xFFFF_FFFF
    );
    HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("0000:0000:00000:00000:00000000"))
}

/// SplitMix64's finaliser: a bijection on u64 that scatters consecutive inputs.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The `X-GitHub-Media-Type` for an `Accept` header: `github.v3; format=json`, with the
/// `param` of a `application/vnd.github.v3.PARAM+json` request (`raw`, `full`, …) if any.
/// grantd serves JSON whatever the client accepts, as GitHub does for these endpoints.
fn media_type(accept: Option<&HeaderValue>) -> HeaderValue {
    let param = accept.and_then(|v| v.to_str().ok()).and_then(|accept| {
        accept.split(',').find_map(|part| {
            let mime = part.split(';').next()?.trim();
            let rest = mime
                .strip_prefix("application/vnd.github")?
                .strip_suffix("+json")
                .unwrap_or_default();
            let rest = rest.strip_prefix(".v3").unwrap_or(rest);
            let param = rest.strip_prefix('.')?;
            (!param.is_empty()
                && param
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            .then(|| param.to_owned())
        })
    });
    match param {
        Some(param) => HeaderValue::from_str(&format!("github.v3; param={param}; format=json"))
            .unwrap_or(HeaderValue::from_static("github.v3; format=json")),
        None => HeaderValue::from_static("github.v3; format=json"),
    }
}

/// Middleware, outermost: stamps the request id (replacing any the client sent, so logs can
/// trust it) and adds GitHub's response headers to every answer, CORS preflights included.
pub async fn github_headers(mut request: Request, next: Next) -> Response {
    let request_id = new_request_id();
    request.headers_mut().insert(REQUEST_ID, request_id.clone());
    let media = media_type(request.headers().get(header::ACCEPT));
    // One view of the token index per request (see `store::with_request_view`).
    let mut response = crate::store::with_request_view(next.run(request)).await;
    let headers = response.headers_mut();
    headers.insert(REQUEST_ID, request_id);
    headers.insert(MEDIA_TYPE, media);
    headers.insert(API_VERSION_SELECTED, HeaderValue::from_static(API_VERSION));
    response
}

/// Middleware, inside CORS (so that its 400 is a CORS answer like any other): refuses an
/// `X-GitHub-Api-Version` other than the one GitHub publishes, with GitHub's message.
pub async fn api_version(request: Request, next: Next) -> Response {
    match request.headers().get(API_VERSION_HEADER) {
        Some(version) if version.as_bytes() != API_VERSION.as_bytes() => {
            let version = String::from_utf8_lossy(version.as_bytes());
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "The version you specified in the \"X-GitHub-Api-Version\" request header, {version:?}, is not a \
                     supported version. The following versions are currently supported: \"{API_VERSION}\" (most recent)."
                ),
            )
            .into_response()
        }
        _ => next.run(request).await,
    }
}

/// Marks an answer as deprecated (RFC 9745 `Deprecation`, here 2020-02-14, when GitHub
/// announced the end of both the Authorizations API and the legacy app-token paths), sunset on
/// `sunset` (an RFC 8594 HTTP-date) and documented at `notice` (`Link rel="deprecation"`).
pub fn mark_deprecated(headers: &mut HeaderMap, sunset: &'static str, notice: &'static str) {
    headers.insert(
        HeaderName::from_static("deprecation"),
        HeaderValue::from_static("@1581638400"),
    );
    headers.insert(
        HeaderName::from_static("sunset"),
        HeaderValue::from_static(sunset),
    );
    headers.append(header::LINK, HeaderValue::from_static(notice));
}

/// CORS as GitHub's API answers it: any origin, no cookies, the rate-limit, pagination and
/// token headers exposed, and a preflight that names every request header it allows (a `*`
/// would not cover `Authorization`, which browsers require be listed by name).
pub fn cors() -> CorsLayer {
    let expose = [
        "etag",
        "last-modified",
        "link",
        "location",
        "retry-after",
        "x-github-otp",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-used",
        "x-ratelimit-resource",
        "x-ratelimit-reset",
        "x-oauth-scopes",
        "x-accepted-oauth-scopes",
        "x-github-media-type",
        "x-github-request-id",
        "x-github-api-version-selected",
        "deprecation",
        "sunset",
    ];
    let allow = [
        "authorization",
        "content-type",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-unmodified-since",
        "accept",
        "accept-encoding",
        "x-github-otp",
        "x-requested-with",
        "user-agent",
        "x-github-api-version",
    ];
    CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PATCH,
            Method::PUT,
            Method::DELETE,
        ])
        .allow_headers(AllowHeaders::list(allow.map(HeaderName::from_static)))
        .expose_headers(ExposeHeaders::list(expose.map(HeaderName::from_static)))
        .max_age(std::time::Duration::from_hours(24))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_have_githubs_shape_and_differ() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        let text = a.to_str().unwrap();
        let groups: Vec<&str> = text.split(':').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [4, 4, 5, 5, 8]
        );
        assert!(text.bytes().all(|b| b == b':' || b.is_ascii_hexdigit()));
    }

    #[test]
    fn media_type_follows_the_accept_header() {
        let of = |accept: &str| media_type(Some(&HeaderValue::from_str(accept).unwrap()));
        assert_eq!(media_type(None), "github.v3; format=json");
        assert_eq!(of("application/vnd.github+json"), "github.v3; format=json");
        assert_eq!(
            of("application/vnd.github.v3+json"),
            "github.v3; format=json"
        );
        assert_eq!(of("application/json"), "github.v3; format=json");
        assert_eq!(
            of("application/vnd.github.v3.raw+json"),
            "github.v3; param=raw; format=json"
        );
        assert_eq!(
            of("text/html, application/vnd.github.full+json"),
            "github.v3; param=full; format=json"
        );
    }
}
