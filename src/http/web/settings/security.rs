//! `/settings/security`: the password (and, shown only, whether two-factor authentication
//! is on). Thin handlers over `domain::session::change_password`.

use askama::Template;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{Frame, SignedIn, answer, failed, open, render, submit};
use crate::domain::Error;
use crate::domain::secret::Password;
use crate::domain::session::{self, NewPassword, PasswordChange};
use crate::http::AppState;

#[derive(Template)]
#[template(path = "settings/security.html")]
struct SecurityPage {
    base: String,
    frame: Frame,
    two_factor: bool,
    changed: bool,
}

fn page(
    signed_in: &SignedIn,
    status: StatusCode,
    error: Option<&str>,
    changed: bool,
) -> Result<axum::response::Response, crate::http::web::PageError> {
    let mut frame = signed_in.frame("security", None);
    frame.error = error.map(str::to_owned);
    render(
        status,
        &SecurityPage {
            base: signed_in.site.base.clone(),
            frame,
            two_factor: signed_in.user().totp_secret.is_some(),
            changed,
        },
    )
}

/// `GET /settings/security`.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match open(&state, &headers, query.as_deref(), "security").await {
        Ok((signed_in, _)) => answer(
            &signed_in.site.base,
            page(&signed_in, StatusCode::OK, None, false),
        ),
        Err(response) => response,
    }
}

/// `POST /settings/security/password`: the current password (counted as a sign-in attempt),
/// the new one twice. This session stays; the user's other sessions end.
pub async fn change_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (signed_in, form) = match submit(&state, &headers, body, "security").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let field = |name| Password::new(form.get(name).unwrap_or_default());
    let current = field("old_password");
    let refuse = |status, message| page(&signed_in, status, Some(message), false);
    let result = if current.expose().is_empty() || current.expose().len() > session::MAX_PASSWORD {
        refuse(
            StatusCode::UNAUTHORIZED,
            "The current password is incorrect.",
        )
    } else {
        let outcome = session::change_password(
            &*state.store,
            &signed_in.session,
            &signed_in.id,
            NewPassword {
                current,
                new: field("new_password"),
                confirmation: field("confirm_new_password"),
            },
            state.limits.login,
            state.clock.now(),
        )
        .await;
        match outcome {
            Ok(Ok(())) => page(&signed_in, StatusCode::OK, None, true),
            Ok(Err(PasswordChange::WrongCurrent)) => refuse(
                StatusCode::UNAUTHORIZED,
                "The current password is incorrect.",
            ),
            Ok(Err(PasswordChange::BadNew)) => refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                "The new password must be 8 to 1024 characters long.",
            ),
            Ok(Err(PasswordChange::Mismatch)) => refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                "The new password and its confirmation do not match.",
            ),
            Err(Error::LoginAttemptsExceeded) => refuse(
                StatusCode::FORBIDDEN,
                "Maximum number of login attempts exceeded. Please try again later.",
            ),
            Err(other) => Err(failed(&other)),
        }
    };
    answer(&signed_in.site.base, result)
}
