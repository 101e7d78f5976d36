//! JSON answers. axum's `Json` starts from a 128-byte buffer and doubles it until the object
//! fits (four copies for a token check's 1.3 KB); this one starts at a size that holds
//! GitHub's usual objects.

use axum::http::{HeaderValue, header};
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
        match serde_json::to_writer(&mut body, &self.0) {
            Ok(()) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
            Err(error) => {
                tracing::error!(%error, "cannot serialise an answer");
                ApiError::internal().into_response()
            }
        }
    }
}
