//! Conditional requests (GitHub's "Use conditional requests if appropriate"): every GET answer
//! carries an `ETag`, and a `Last-Modified` where the data has an `updated_at`; a request whose
//! `If-None-Match` (or, without one, `If-Modified-Since`) still matches gets 304 with no body.
//!
//! Handlers only state when their data last changed, through the [`LastModified`] response
//! extension; the tag is computed from the bytes sent, so it changes exactly when they do.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

/// When the data of a response last changed; set by handlers that know it.
#[derive(Debug, Clone, Copy)]
pub struct LastModified(pub OffsetDateTime);

/// Bodies of this API are small; a larger one is served without a tag rather than buffered.
const MAX_TAGGED_BODY: usize = 4 * 1024 * 1024;

/// `Sat, 21 Nov 2026 06:50:26 GMT` (an HTTP-date, RFC 9110 §5.6.7).
fn http_date(at: OffsetDateTime) -> Option<HeaderValue> {
    let text = at.to_offset(time::UtcOffset::UTC).format(&Rfc2822).ok()?;
    // RFC 2822 writes the zone as "+0000"; HTTP wants "GMT".
    HeaderValue::from_str(&text.replace("+0000", "GMT")).ok()
}

fn parse_http_date(value: &HeaderValue) -> Option<OffsetDateTime> {
    let text = value.to_str().ok()?.replace("GMT", "+0000");
    OffsetDateTime::parse(&text, &Rfc2822).ok()
}

/// Weak comparison (RFC 9110 §13.1.2): `W/"x"` matches `"x"`, and `*` matches any tag.
fn none_match(header: &HeaderValue, etag: &str) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    header.to_str().is_ok_and(|list| {
        list.split(',')
            .any(|tag| tag.trim() == "*" || opaque(tag) == opaque(etag))
    })
}

/// Whether the client's copy, described by its request headers, is still current.
fn not_modified(request: &HeaderMap, etag: &str, last_modified: Option<OffsetDateTime>) -> bool {
    if let Some(if_none_match) = request.get(header::IF_NONE_MATCH) {
        // When both are sent, If-None-Match decides alone (RFC 9110 §13.2.2).
        return none_match(if_none_match, etag);
    }
    match (
        request
            .get(header::IF_MODIFIED_SINCE)
            .and_then(parse_http_date),
        last_modified,
    ) {
        (Some(since), Some(modified)) => modified <= since,
        _ => false,
    }
}

/// The request's validators, kept for [`tag`]: copying every request header would cost more.
pub fn conditions(request: &Request) -> HeaderMap {
    let mut conditions = HeaderMap::new();
    for name in [header::IF_NONE_MATCH, header::IF_MODIFIED_SINCE] {
        if let Some(value) = request.headers().get(&name) {
            conditions.insert(name, value.clone());
        }
    }
    conditions
}

/// Tags a successful answer to a GET and turns it into a 304 if the client's copy, described by
/// the request's `conditions`, is still current.
pub async fn tag(conditions: &HeaderMap, response: Response) -> Response {
    if response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_TAGGED_BODY).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let etag = format!("W/\"{}\"", hex::encode(Sha256::digest(&bytes)));
    let last_modified = parts.extensions.get::<LastModified>().map(|m| m.0);
    if let Ok(value) = HeaderValue::from_str(&etag) {
        parts.headers.insert(header::ETAG, value);
    }
    if let Some(value) = last_modified.and_then(http_date) {
        parts.headers.insert(header::LAST_MODIFIED, value);
    }
    if not_modified(conditions, &etag, last_modified) {
        parts.status = StatusCode::NOT_MODIFIED;
        parts.headers.remove(header::CONTENT_TYPE);
        parts.headers.remove(header::CONTENT_LENGTH);
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn http_dates_round_trip_in_gmt() {
        let at = datetime!(2026-11-21 06:50:26 UTC);
        let value = http_date(at).unwrap();
        assert_eq!(value, "Sat, 21 Nov 2026 06:50:26 GMT");
        assert_eq!(parse_http_date(&value), Some(at));
    }

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists_and_star() {
        let etag = "W/\"abc\"";
        for matching in ["W/\"abc\"", "\"abc\"", "\"x\", W/\"abc\"", "*"] {
            assert!(
                none_match(&HeaderValue::from_static(matching), etag),
                "{matching}"
            );
        }
        assert!(!none_match(&HeaderValue::from_static("\"abd\""), etag));
    }

    #[test]
    fn if_none_match_wins_over_if_modified_since() {
        let modified = datetime!(2026-01-01 00:00:00 UTC);
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_MODIFIED_SINCE, http_date(modified).unwrap());
        assert!(not_modified(&headers, "W/\"a\"", Some(modified)));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("W/\"b\""));
        assert!(!not_modified(&headers, "W/\"a\"", Some(modified)));
    }

    #[test]
    fn if_modified_since_needs_a_last_modified() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::IF_MODIFIED_SINCE,
            HeaderValue::from_static("Sat, 21 Nov 2026 06:50:26 GMT"),
        );
        assert!(!not_modified(&headers, "W/\"a\"", None));
        assert!(!not_modified(
            &headers,
            "W/\"a\"",
            Some(datetime!(2026-11-21 06:50:27 UTC))
        ));
    }
}
