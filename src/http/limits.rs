//! Rate-limit headers. Authentication extractors count each authenticated request (see
//! `extract.rs`) and leave the figures in a per-request slot; the conventions layer, which
//! created the slot, copies them onto the response, whatever the handler answered.

use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue};

use crate::domain::limits::RateLimitStatus;

/// Where an extractor leaves the rate-limit figures of the request it authenticated, with
/// the resource they count (`X-RateLimit-Resource`).
#[derive(Debug, Clone, Default)]
pub struct RateLimitSlot(Arc<Mutex<Option<(RateLimitStatus, Resource)>>>);

/// The rate limits GitHub keeps apart: the REST API's (`core`) and GraphQL's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Core,
    GraphQl,
}

impl Resource {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Core => "core",
            Self::GraphQl => "graphql",
        }
    }
}

impl RateLimitSlot {
    /// Figures of the REST API's limit.
    pub fn set(&self, status: RateLimitStatus) {
        self.set_for(status, Resource::Core);
    }

    pub fn set_for(&self, status: RateLimitStatus, resource: Resource) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some((status, resource));
    }

    pub fn take(&self) -> Option<(RateLimitStatus, Resource)> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const USED: HeaderName = HeaderName::from_static("x-ratelimit-used");
const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
const RESOURCE: HeaderName = HeaderName::from_static("x-ratelimit-resource");

/// `X-RateLimit-Limit`, `-Remaining`, `-Used`, `-Reset` (Unix seconds) and `-Resource`.
/// (The names are constants: `HeaderName::from_static` checks its string each time it runs.)
/// The four numbers are written into one buffer and each value is a slice of it: one
/// allocation per answer where `HeaderValue::from(number)` makes one per header.
pub fn insert_headers(headers: &mut HeaderMap, status: &RateLimitStatus, resource: Resource) {
    let numbers = [
        (LIMIT, i64::from(status.limit)),
        (REMAINING, i64::from(status.remaining())),
        (USED, i64::from(status.used)),
        (RESET, status.reset.unix_timestamp()),
    ];
    let mut digits = itoa::Buffer::new();
    let mut text = Vec::with_capacity(4 * 20);
    let mut ends = [0; 4];
    for (end, (_, number)) in ends.iter_mut().zip(&numbers) {
        text.extend_from_slice(digits.format(*number).as_bytes());
        *end = text.len();
    }
    let text = Bytes::from(text);
    let mut start = 0;
    for ((name, number), end) in numbers.into_iter().zip(ends) {
        // Digits and a minus sign are always a valid header value; the fallback is unreachable.
        let value = HeaderValue::from_maybe_shared(text.slice(start..end))
            .unwrap_or_else(|_| HeaderValue::from(number));
        headers.insert(name, value);
        start = end;
    }
    headers.insert(RESOURCE, HeaderValue::from_static(resource.as_str()));
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
        headers.get(name).map(|v| v.to_str().unwrap_or("?"))
    }

    #[test]
    fn the_headers_carry_each_figure() {
        let status = RateLimitStatus {
            limit: 5000,
            used: 4999,
            reset: datetime!(2026-11-21 20:00:00 UTC),
        };
        let mut headers = HeaderMap::new();
        insert_headers(&mut headers, &status, Resource::Core);
        assert_eq!(value(&headers, "x-ratelimit-limit"), Some("5000"));
        assert_eq!(value(&headers, "x-ratelimit-remaining"), Some("1"));
        assert_eq!(value(&headers, "x-ratelimit-used"), Some("4999"));
        assert_eq!(value(&headers, "x-ratelimit-reset"), Some("1795291200"));
        assert_eq!(value(&headers, "x-ratelimit-resource"), Some("core"));
        let spent = RateLimitStatus {
            used: 7000,
            ..status
        };
        insert_headers(&mut headers, &spent, Resource::GraphQl);
        assert_eq!(value(&headers, "x-ratelimit-remaining"), Some("0"));
        assert_eq!(value(&headers, "x-ratelimit-used"), Some("7000"));
        assert_eq!(value(&headers, "x-ratelimit-resource"), Some("graphql"));
        assert_eq!(headers.len(), 5);
    }
}
