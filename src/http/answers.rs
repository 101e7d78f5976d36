//! A token check's answer, rendered once per stored record and reused.
//!
//! The answer to a check depends only on the record (authorization, user, scoped installation),
//! the public URL and the token the app sent, echoed back. On SQLite the token index hands out
//! the same shared record (`Arc<TokenRecord>`) for every check of a token until anything about
//! it changes, and then a new one. So the JSON around the token is rendered the first time a
//! record is checked and kept, keyed by the record's allocation; later checks of it copy those
//! bytes around the token. Rendering was half of what a check cost beyond the work no
//! implementation can skip (BENCHMARKS.md, "Where a check's time goes now").
//!
//! This caches bytes, never decisions: whether the token is live, the app's and unrevoked is
//! decided before an answer is asked for, on every request.
//!
//! An entry holds a `Weak` to its record, so the record's allocation cannot be freed and reused
//! by another record while the entry exists: an address seen again is the same, unchanged
//! record. A record nobody else holds (PostgreSQL's, read for this request alone) is rendered
//! directly and not kept.

use std::sync::{Arc, Weak};

use axum::response::{IntoResponse, Response};
use quick_cache::sync::Cache;

use super::json::{self, Json};
use super::schemas::AppAuthorization;
use crate::domain::app_token::TokenRecord;
use crate::domain::token::PlainToken;

/// Rendered check answers, at most `capacity` of them (about 1.4 kB each).
pub struct CheckAnswers {
    rendered: Option<Cache<usize, Arc<Rendered>>>,
}

/// The answer for one record with an empty token, and where the token goes.
struct Rendered {
    /// Keeps the record's allocation, and so the entry's key, from being reused.
    _record: Weak<TokenRecord>,
    json: Vec<u8>,
    token_at: usize,
}

/// Where the token's value starts in a rendered answer whose token is empty: the top-level
/// `token` field comes before any field that could hold this text (see `write_fields`).
const EMPTY_TOKEN: &[u8] = br#","token":"""#;

impl Rendered {
    fn new(public_url: &str, record: &Arc<TokenRecord>) -> Option<Self> {
        let json = sonic_rs::to_vec(&AppAuthorization::without_token(public_url, record)).ok()?;
        let token_at = json
            .windows(EMPTY_TOKEN.len())
            .position(|window| window == EMPTY_TOKEN)?
            + EMPTY_TOKEN.len()
            - 1;
        Some(Self {
            _record: Arc::downgrade(record),
            json,
            token_at,
        })
    }
}

impl CheckAnswers {
    /// `capacity` 0 renders every answer afresh.
    pub fn new(capacity: usize) -> Self {
        Self {
            rendered: (capacity > 0).then(|| Cache::new(capacity)),
        }
    }

    /// The check's answer (`200`, the app-side `authorization`) for `record` and the `token`
    /// the app sent.
    pub fn answer(
        &self,
        public_url: &str,
        record: &Arc<TokenRecord>,
        token: &PlainToken,
    ) -> Response {
        let fresh = || Json(AppAuthorization::new(public_url, record, token)).into_response();
        let Some(cache) = &self.rendered else {
            return fresh();
        };
        // Only a record someone else keeps (the token index) is worth keeping an answer for.
        if Arc::strong_count(record) < 2 {
            return fresh();
        }
        let key = Arc::as_ptr(record).addr();
        let rendered = match cache.get(&key) {
            Some(rendered) => rendered,
            None => match Rendered::new(public_url, record) {
                Some(rendered) => {
                    let rendered = Arc::new(rendered);
                    cache.insert(key, Arc::clone(&rendered));
                    rendered
                }
                None => return fresh(),
            },
        };
        // A token is base62 and `_` (`PlainToken` refused anything else): nothing to escape.
        let token = token.expose().as_bytes();
        let (before, after) = rendered.json.split_at(rendered.token_at);
        let mut body = Vec::with_capacity(before.len() + token.len() + after.len());
        body.extend_from_slice(before);
        body.extend_from_slice(token);
        body.extend_from_slice(after);
        json::response(body)
    }
}
