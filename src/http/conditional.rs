//! Conditional requests (GitHub's "Use conditional requests if appropriate"): every GET answer
//! carries an `ETag`, and a `Last-Modified` where the data has an `updated_at`; a request whose
//! `If-None-Match` (or, without one, `If-Modified-Since`) still matches gets 304 with no body.
//!
//! Handlers only state when their data last changed, through the [`LastModified`] response
//! extension; the tag is computed from the bytes sent ([`entity_tag`]), so it changes exactly
//! when they do. A handler that sends bytes rendered earlier may send their tag along
//! ([`Tagged`]), computed by the same function when they were rendered.

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

/// The `ETag` of a body, computed by [`entity_tag`] from exactly the bytes sent with it.
#[derive(Debug, Clone)]
pub struct Tagged(pub HeaderValue);

/// Bodies of this API are small (the longest list page is ~150 kB); buffering for the tag stops
/// here, and an answer that outgrew it would be a 500 rather than buffered without bound.
const MAX_TAGGED_BODY: usize = 4 * 1024 * 1024;

/// `Sat, 21 Nov 2026 06:50:26 GMT` (an HTTP-date, RFC 9110 §5.6.7). Written by hand, as the
/// JSON timestamps are: `GET /user` sends one with every answer, and the `time` crate's
/// formatter interprets its format description on every call.
fn http_date(at: OffsetDateTime) -> Option<HeaderValue> {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let at = at.to_offset(time::UtcOffset::UTC);
    let year = u16::try_from(at.year()).ok().filter(|year| *year <= 9999)?;
    let two = |n: u8| [b'0' + n / 10, b'0' + n % 10];
    let mut text = Vec::with_capacity(29);
    text.extend_from_slice(DAYS[usize::from(at.weekday().number_days_from_monday())].as_bytes());
    text.extend_from_slice(b", ");
    text.extend_from_slice(&two(at.day()));
    text.push(b' ');
    text.extend_from_slice(MONTHS[usize::from(u8::from(at.month()) - 1)].as_bytes());
    text.push(b' ');
    for divisor in [1000, 100, 10, 1] {
        // Each digit is below 10, so the cast cannot truncate.
        text.push(b'0' + (year / divisor % 10) as u8);
    }
    for (separator, value) in [(b' ', at.hour()), (b':', at.minute()), (b':', at.second())] {
        text.push(separator);
        text.extend_from_slice(&two(value));
    }
    text.extend_from_slice(b" GMT");
    HeaderValue::from_bytes(&text).ok()
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

/// What [`tag`] made of an answer.
pub enum TagOutcome {
    /// Tagged (or a 304), or not to be tagged: ready to send.
    Done(Response),
    /// Its tag needs its body read first: see [`tag_buffered`].
    NeedsBody(Response),
}

/// Tags a successful answer to a GET and turns it into a 304 if the client's copy, described by
/// the request's `conditions`, is still current. Answers that carry their tag ([`Tagged`]) and
/// answers other than 200 are done here, without waiting.
pub fn tag(conditions: &HeaderMap, response: Response) -> TagOutcome {
    if response.status() != StatusCode::OK {
        return TagOutcome::Done(response);
    }
    let (mut parts, body) = response.into_parts();
    match parts.extensions.remove::<Tagged>() {
        Some(Tagged(etag)) => TagOutcome::Done(tagged(conditions, parts, etag, body)),
        None => TagOutcome::NeedsBody(Response::from_parts(parts, body)),
    }
}

/// [`tag`] for an answer whose tag is computed from its body, read here (up to
/// [`MAX_TAGGED_BODY`]; past it, or if the body fails, the answer is a 500).
pub async fn tag_buffered(conditions: HeaderMap, response: Response) -> Response {
    let response = match tag(&conditions, response) {
        TagOutcome::Done(done) => return done,
        TagOutcome::NeedsBody(untagged) => untagged,
    };
    let (parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_TAGGED_BODY).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let Some(etag) = entity_tag(&bytes) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    tagged(&conditions, parts, etag, Body::from(bytes))
}

/// The answer with its `ETag` and `Last-Modified`, or the 304 they make it.
fn tagged(
    conditions: &HeaderMap,
    mut parts: axum::http::response::Parts,
    etag: HeaderValue,
    body: Body,
) -> Response {
    let last_modified = parts.extensions.get::<LastModified>().map(|m| m.0);
    // Made of ASCII by `entity_tag`, so always text.
    let unchanged = not_modified(conditions, etag.to_str().unwrap_or_default(), last_modified);
    parts.headers.insert(header::ETAG, etag);
    if let Some(value) = last_modified.and_then(http_date) {
        parts.headers.insert(header::LAST_MODIFIED, value);
    }
    if unchanged {
        parts.status = StatusCode::NOT_MODIFIED;
        parts.headers.remove(header::CONTENT_TYPE);
        parts.headers.remove(header::CONTENT_LENGTH);
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, body)
}

/// `W/"…"`: the SHA-256 of `body` in hex, a weak tag as GitHub's are.
pub fn entity_tag(body: &[u8]) -> Option<HeaderValue> {
    let digest = Sha256::digest(body);
    let mut tag = [0u8; 68];
    tag[..3].copy_from_slice(b"W/\"");
    // `hex::encode` goes through a char iterator; 32 bytes always fit the 64 digits.
    hex::encode_to_slice(digest, &mut tag[3..67]).ok()?;
    tag[67] = b'"';
    HeaderValue::from_bytes(&tag).ok()
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
        // Every weekday and month, single-digit days, a leap day, and other offsets.
        for (at, text) in [
            (
                datetime!(2024-02-29 00:00:00 UTC),
                "Thu, 29 Feb 2024 00:00:00 GMT",
            ),
            (
                datetime!(2025-01-05 23:59:59 UTC),
                "Sun, 05 Jan 2025 23:59:59 GMT",
            ),
            (
                datetime!(2025-12-01 01:02:03 -05:00),
                "Mon, 01 Dec 2025 06:02:03 GMT",
            ),
            (
                datetime!(2026-03-03 12:00:00 UTC),
                "Tue, 03 Mar 2026 12:00:00 GMT",
            ),
            (
                datetime!(2026-06-17 09:30:00 +02:00),
                "Wed, 17 Jun 2026 07:30:00 GMT",
            ),
            (
                datetime!(2026-10-09 00:00:01 UTC),
                "Fri, 09 Oct 2026 00:00:01 GMT",
            ),
        ] {
            let value = http_date(at).unwrap();
            assert_eq!(value, text);
            assert_eq!(parse_http_date(&value), Some(at));
            let rfc2822 = at.to_offset(time::UtcOffset::UTC).format(&Rfc2822).unwrap();
            assert_eq!(rfc2822.replace("+0000", "GMT"), text);
        }
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
