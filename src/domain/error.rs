//! The domain's failures. `http::error` maps each variant to a status with an exhaustive
//! `match`, so adding a variant forces a decision about what clients see.

use std::borrow::Cow;

use crate::domain::store;

/// What went wrong, in the API's own terms.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Unknown login or wrong password (or wrong app credentials).
    #[error("bad credentials")]
    BadCredentials,
    /// The password was right but the account has two-factor auth and no valid OTP came with it.
    #[error("two-factor authentication code required")]
    OtpRequired,
    /// Too many failed sign-ins for this login or client id; wait for the window to pass.
    #[error("maximum number of login attempts exceeded")]
    LoginAttemptsExceeded,
    /// The credentials were right but a site admin suspended the account.
    #[error("account suspended")]
    Suspended,
    /// The user or app has used up its requests for the window.
    #[error("rate limit exceeded")]
    RateLimited(super::limits::RateLimitStatus, super::limits::Subject),
    /// The object does not exist, or belongs to someone else (the two are never told apart).
    #[error("not found")]
    NotFound,
    /// The request was understood but its content is invalid: GitHub's 422 "Validation Failed".
    #[error("validation failed")]
    Invalid(Vec<FieldError>),
    /// The storage layer failed; the cause is logged, never sent.
    #[error(transparent)]
    Store(#[from] store::Error),
    /// Something that should not fail did (the OS's random source, a hashing thread).
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(error: FieldError) -> Self {
        Self::Invalid(vec![error])
    }
}

/// GitHub's error codes for 422 entries ("Client errors" in GitHub's REST docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Missing,
    MissingField,
    Invalid,
    AlreadyExists,
    Unprocessable,
    Custom,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::MissingField => "missing_field",
            Self::Invalid => "invalid",
            Self::AlreadyExists => "already_exists",
            Self::Unprocessable => "unprocessable",
            Self::Custom => "custom",
        }
    }
}

/// One entry of a 422's `errors` array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub resource: &'static str,
    pub field: Cow<'static, str>,
    pub code: ErrorCode,
    /// Only with [`ErrorCode::Custom`], which GitHub sends with a human-readable message.
    pub message: Option<String>,
}

/// The resource name GitHub uses in 422s of the Authorizations API.
pub const OAUTH_ACCESS: &str = "OauthAccess";

impl FieldError {
    pub fn new(field: impl Into<Cow<'static, str>>, code: ErrorCode) -> Self {
        Self {
            resource: OAUTH_ACCESS,
            field: field.into(),
            code,
            message: None,
        }
    }

    pub fn custom(field: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self {
            resource: OAUTH_ACCESS,
            field: field.into(),
            code: ErrorCode::Custom,
            message: Some(message.into()),
        }
    }
}

impl From<getrandom::Error> for Error {
    fn from(error: getrandom::Error) -> Self {
        Self::Internal(format!("random source failed: {error}"))
    }
}
