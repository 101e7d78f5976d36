//! `ApiError`: every failure leaves the server as GitHub's error JSON,
//! `{"message", "documentation_url", "status"}` plus `errors` on 422.

use std::borrow::Cow;

use super::json::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::docs;
use crate::domain::limits::Subject;
use crate::domain::{self, FieldError};
use crate::store;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: Cow<'static, str>,
    documentation_url: &'static str,
    errors: Vec<FieldError>,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// A lockout's 403, marked on the answer for the metrics (see `conventions::LockedOut`).
    locked_out: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            message: message.into(),
            documentation_url: docs::REST,
            errors: Vec::new(),
            headers: Vec::new(),
            locked_out: false,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `message` of the answer's body.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The `errors` of a 422's body.
    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }

    pub fn requires_authentication() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Requires authentication")
    }

    pub fn basic_auth_only() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "This API can only be accessed with username and password Basic Auth",
        )
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not Found")
    }

    pub fn problems_parsing_json() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Problems parsing JSON")
    }

    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
    }

    /// Points `documentation_url` at the operation's page, as GitHub does for errors that
    /// come from the endpoint itself (authentication errors keep the generic REST page).
    #[must_use]
    pub fn documented(mut self, url: &'static str) -> Self {
        if self.documentation_url == docs::REST && self.status != StatusCode::UNAUTHORIZED {
            self.documentation_url = url;
        }
        self
    }

    /// Adds headers to the answer (a token's scopes, say).
    #[must_use]
    pub fn with_headers(mut self, headers: axum::http::HeaderMap) -> Self {
        self.headers.extend(
            headers
                .into_iter()
                .filter_map(|(name, value)| Some((name?, value))),
        );
        self
    }

    /// Points `documentation_url` at GitHub's GraphQL docs, whatever the status: the GraphQL
    /// endpoint links them from every error, authentication's included.
    #[must_use]
    pub fn for_graphql(mut self) -> Self {
        if self.documentation_url == docs::REST {
            self.documentation_url = docs::GRAPHQL;
        }
        self
    }

    fn with_header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        ));
        self
    }
}

impl From<domain::Error> for ApiError {
    fn from(error: domain::Error) -> Self {
        // No `_` arm: a new domain error must be given its status here.
        match error {
            domain::Error::BadCredentials => Self::new(StatusCode::UNAUTHORIZED, "Bad credentials"),
            domain::Error::OtpRequired => Self::new(
                StatusCode::UNAUTHORIZED,
                "Must specify two-factor authentication OTP code.",
            )
            .with_header("x-github-otp", "required; app"),
            // GitHub's answer to a suspended account's right credentials.
            domain::Error::Suspended => {
                Self::new(StatusCode::FORBIDDEN, "Sorry. Your account was suspended.")
            }
            domain::Error::LoginAttemptsExceeded => Self {
                locked_out: true,
                ..Self::new(
                    StatusCode::FORBIDDEN,
                    "Maximum number of login attempts exceeded. Please try again later.",
                )
            },
            domain::Error::RateLimited(status, subject) => {
                let subject_resource = if matches!(subject, Subject::GraphQl(_)) {
                    super::limits::Resource::GraphQl
                } else {
                    super::limits::Resource::Core
                };
                let who = match subject {
                    Subject::User(id) | Subject::GraphQl(id) => format!("user ID {id}"),
                    Subject::App(client_id) => format!("app {client_id}"),
                    Subject::Login(login) => format!("login {login}"),
                    // GitHub's own wording for its per-address limit.
                    Subject::Address(address) => address.to_string(),
                };
                let mut error = Self::new(
                    StatusCode::FORBIDDEN,
                    format!("API rate limit exceeded for {who}."),
                );
                error.documentation_url = docs::RATE_LIMITS;
                let mut headers = axum::http::HeaderMap::new();
                super::limits::insert_headers(&mut headers, &status, subject_resource);
                error.headers.extend(
                    headers
                        .into_iter()
                        .filter_map(|(name, value)| Some((name?, value))),
                );
                error
            }
            domain::Error::NotFound => Self::not_found(),
            domain::Error::Invalid(errors) => Self {
                errors,
                ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed")
            },
            domain::Error::Store(cause @ store::Error::Unavailable(_)) => {
                tracing::error!(error = %cause, "database unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service Unavailable: the database does not answer; try again shortly",
                )
            }
            domain::Error::Store(cause) => {
                // Logged once here, never sent: database messages can describe the schema.
                tracing::error!(error = %cause, "storage failure");
                Self::internal()
            }
            domain::Error::Internal(cause) => {
                tracing::error!(error = %cause, "internal failure");
                Self::internal()
            }
        }
    }
}

/// `result.doc(docs::X)?` in handlers: converts a domain error and names the operation's docs.
pub trait Documented<T> {
    fn doc(self, url: &'static str) -> Result<T, ApiError>;
}

impl<T> Documented<T> for Result<T, domain::Error> {
    fn doc(self, url: &'static str) -> Result<T, ApiError> {
        self.map_err(|e| ApiError::from(e).documented(url))
    }
}

#[derive(Serialize)]
struct ErrorEntry<'a> {
    resource: &'a str,
    field: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    message: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<ErrorEntry<'a>>,
    documentation_url: &'a str,
    status: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            message: &self.message,
            errors: self
                .errors
                .iter()
                .map(|e| ErrorEntry {
                    resource: e.resource,
                    field: &e.field,
                    code: e.code.as_str(),
                    message: e.message.as_deref(),
                })
                .collect(),
            documentation_url: self.documentation_url,
            status: self.status.as_u16().to_string(),
        };
        let mut response = (self.status, Json(body)).into_response();
        response.headers_mut().extend(self.headers);
        if self.locked_out {
            response
                .extensions_mut()
                .insert(super::conventions::LockedOut);
        }
        response
    }
}

/// For unit tests of code that answers with an [`ApiError`]: the answer as a client reads it.
#[cfg(test)]
pub(crate) mod testing {
    use axum::response::IntoResponse;
    use serde_json::Value;

    use super::ApiError;

    /// The status and JSON body `error` is sent as.
    pub fn rendered(error: ApiError) -> (u16, Value) {
        let response = error.into_response();
        let status = response.status().as_u16();
        let body = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    /// Asserts GitHub's error shape: a JSON object with a string `message` and
    /// `documentation_url`, and on a 422 an `errors` array of `{resource, field, code}`.
    pub fn assert_github_shaped(status: u16, body: &Value) {
        assert!((400..600).contains(&status), "{status} is no error status");
        assert!(body["message"].is_string(), "{status} {body}");
        assert!(body["documentation_url"].is_string(), "{status} {body}");
        if status == 422 {
            let errors = body["errors"].as_array();
            assert!(errors.is_some_and(|e| !e.is_empty()), "{status} {body}");
            for entry in errors.into_iter().flatten() {
                for key in ["resource", "field", "code"] {
                    assert!(entry[key].is_string(), "{status} {body}");
                }
            }
        }
    }
}
