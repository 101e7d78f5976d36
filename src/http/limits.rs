//! Rate-limit headers. Authentication extractors count each authenticated request (see
//! `extract.rs`) and leave the figures in a per-request slot; the conventions layer, which
//! created the slot, copies them onto the response, whatever the handler answered.

use std::sync::{Arc, Mutex, PoisonError};

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use crate::domain::limits::RateLimitStatus;

/// Where an extractor leaves the rate-limit figures of the request it authenticated.
#[derive(Debug, Clone, Default)]
pub struct RateLimitSlot(Arc<Mutex<Option<RateLimitStatus>>>);

impl RateLimitSlot {
    pub fn set(&self, status: RateLimitStatus) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(status);
    }

    pub fn take(&self) -> Option<RateLimitStatus> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// `X-RateLimit-Limit`, `-Remaining`, `-Used`, `-Reset` (Unix seconds) and `-Resource`.
pub fn insert_headers(headers: &mut HeaderMap, status: &RateLimitStatus) {
    let pairs = [
        ("x-ratelimit-limit", status.limit.to_string()),
        ("x-ratelimit-remaining", status.remaining().to_string()),
        ("x-ratelimit-used", status.used.to_string()),
        (
            "x-ratelimit-reset",
            status.reset.unix_timestamp().to_string(),
        ),
        ("x-ratelimit-resource", "core".to_owned()),
    ];
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}
