//! JSON answers. axum's `Json` starts from a 128-byte buffer and doubles it until the object
//! fits (four copies for a token check's 1.3 KB); this one starts at a size that holds
//! GitHub's usual objects, and serialises with `sonic-rs`, whose string escaping scans 16 or 32
//! bytes at a time where `serde_json` looks up every byte in a table (a token check's answer is
//! some sixty strings, mostly URLs: that scan was the largest single cost of the answer). The
//! bytes are the same as `serde_json`'s, which a test below pins.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::error::ApiError;

/// Room for an `authorization` with its app and user, the largest single object served.
const INITIAL_CAPACITY: usize = 2048;

/// A JSON answer (`application/json`), serialised when the response is made.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(INITIAL_CAPACITY);
        match sonic_rs::to_writer(&mut body, &self.0) {
            Ok(()) => response(body),
            Err(error) => {
                tracing::error!(%error, "cannot serialise an answer");
                ApiError::internal().into_response()
            }
        }
    }
}

/// Headers an answer ends up with: its own, the rate-limit ones, CORS and GitHub's, and a
/// conditional GET's (`conventions.rs`). Room for all at once: a map grown as headers come
/// would allocate and rehash on the way.
const HEADERS_CAPACITY: usize = 24;

/// A JSON answer of bytes already serialised (a `Vec<u8>`, or `Bytes` kept rendered).
pub fn response(body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    let headers = response.headers_mut();
    *headers = HeaderMap::with_capacity(HEADERS_CAPACITY);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use serde::Serialize;

    #[derive(Serialize)]
    struct Sample<'a> {
        text: &'a str,
        number: i64,
        float: Option<f64>,
        flag: bool,
        list: Vec<&'a str>,
        nested: serde_json::Value,
    }

    /// Clients compare answers byte for byte in fixtures; switching serialisers must not
    /// change a byte, escapes included.
    #[test]
    fn sonic_writes_the_same_bytes_as_serde_json() {
        let texts = [
            "",
            "plain ascii https://example.com/users/octocat{/other_user}",
            "quote \" backslash \\ slash /",
            "controls \u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f} del \u{7f}",
            "unicode é ß 日本語 emoji 🦀 and U+2028 \u{2028} U+2029 \u{2029}",
            "long run of characters that need no escaping at all, well past thirty-two bytes \"end\"",
        ];
        for text in texts {
            let sample = Sample {
                text,
                number: -9_007_199_254_740_993,
                float: Some(0.1),
                flag: true,
                list: vec![text, "x"],
                nested: serde_json::json!({"k": text, "n": null, "a": [1, 2.5, "s"]}),
            };
            assert_eq!(
                sonic_rs::to_vec(&sample).unwrap(),
                serde_json::to_vec(&sample).unwrap(),
                "{text:?}"
            );
        }
    }
}
