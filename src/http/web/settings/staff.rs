//! `/stafftools/users`, for site admins: every user, whether they are suspended, and forms to
//! unlock a locked-out user (`grantd user unlock`), suspend (with a reason) and unsuspend
//! (`PUT` / `DELETE /users/{username}/suspended`). To anyone else the page is the 404 page.

use crate::http::audit_log::RequestSource;
use askama::Template;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{Frame, SignedIn, answer, day, failed, open, render, submit};
use crate::domain::user;
use crate::http::AppState;
use crate::http::web::{PageError, redirect};

const PAGE: &str = "/stafftools/users";

struct Row {
    login: String,
    site_admin: bool,
    suspended: Option<String>,
    reason: String,
}

#[derive(Template)]
#[template(path = "stafftools/users.html")]
struct UsersPage {
    base: String,
    frame: Frame,
    users: Vec<Row>,
    done: Option<&'static str>,
}

async fn page(
    state: &AppState,
    signed_in: &SignedIn,
    done: Option<&'static str>,
) -> Result<Response, PageError> {
    let users = user::list_for_admin(&*state.store, signed_in.user())
        .await
        .map_err(|e| failed(&e))?;
    let users = users
        .into_iter()
        .map(|u| Row {
            login: u.login.as_str().to_owned(),
            site_admin: u.site_admin,
            suspended: u.suspended_at.map(day),
            reason: u.suspension_reason.unwrap_or_default(),
        })
        .collect();
    render(
        StatusCode::OK,
        &UsersPage {
            base: signed_in.site.base.clone(),
            frame: signed_in.frame("", None),
            users,
            done,
        },
    )
}

/// `GET /stafftools/users` (`?done=` names the action just taken).
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match open(&state, &headers, None, PAGE).await {
        Ok((signed_in, _)) => {
            let done = match query.as_deref() {
                Some("done=unlocked") => Some("The user's failed sign-ins were forgotten."),
                Some("done=suspended") => {
                    Some("The user was suspended: their tokens no longer work.")
                }
                Some("done=unsuspended") => Some("The user's suspension was lifted."),
                _ => None,
            };
            answer(&signed_in.site.base, page(&state, &signed_in, done).await)
        }
        Err(response) => response,
    }
}

/// `POST /stafftools/users/{login}/{action}`: `unlock`, `suspend` (form field `reason`) or
/// `unsuspend`.
pub async fn act(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    Path((login, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (signed_in, form) = match submit(&state, &headers, body, PAGE).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let admin = signed_in.user();
    let now = state.clock.now();
    let store = &*state.store;
    let outcome = match action.as_str() {
        "unlock" => user::unlock_by_admin(store, admin, &login)
            .await
            .map(|_| "unlocked"),
        "suspend" => {
            let reason = form.get("reason").filter(|r| !r.is_empty());
            user::set_suspended(store, admin, &login, true, reason, &source, now)
                .await
                .map(|_| "suspended")
        }
        "unsuspend" => user::set_suspended(store, admin, &login, false, None, &source, now)
            .await
            .map(|_| "unsuspended"),
        _ => Err(crate::domain::Error::NotFound),
    };
    let base = signed_in.site.base.clone();
    let result = match outcome {
        Ok(done) => Ok(redirect(&format!("{base}{PAGE}?done={done}"), Vec::new())),
        // Suspending oneself, or a reason over 200 characters.
        Err(crate::domain::Error::Invalid(_)) => Err(PageError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Not suspended",
            "You cannot suspend yourself, and a reason has at most 200 characters.",
        )),
        Err(other) => Err(failed(&other)),
    };
    answer(&base, result)
}
