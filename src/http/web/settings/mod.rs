//! The account settings pages under `/settings/`: authorized apps, personal access tokens,
//! the password, and the user's own apps. Thin handlers over the same domain functions the
//! API calls (`grant::delete` for Revoke is `DELETE /applications/grants/{id}`'s), so what a
//! page does shows in the API at once and the other way round.
//!
//! Every page is for a signed-in session only (anyone else is sent to `/login` with a
//! `return_to`), and every form carries the `authenticity_token` derived from the session id,
//! checked before anything else is read from the form (a 422 page otherwise). Ids in forms
//! and paths are looked up among the signed-in user's own objects only: anyone else's is the
//! same 404 as an id that does not exist.

mod apps;
mod security;
mod security_log;
mod staff;
mod tokens;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use time::OffsetDateTime;

use super::{PageError, Site, check_token, read_form, redirect};
use crate::domain::session::{self, Session, SessionId};
use crate::domain::{Error, FieldError, error::ErrorCode};
use crate::http::AppState;

/// The settings routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings", get(index))
        .route("/settings/applications", get(apps::authorized))
        .route("/settings/applications/revoke", post(apps::revoke))
        .route("/settings/applications/revoke-all", post(apps::revoke_all))
        .route("/settings/tokens", get(tokens::list).post(tokens::create))
        .route("/settings/tokens/new", get(tokens::new))
        .route("/settings/tokens/{id}/regenerate", post(tokens::regenerate))
        .route("/settings/tokens/{id}/delete", post(tokens::delete))
        .route("/settings/security", get(security::show))
        .route(
            "/settings/security/password",
            post(security::change_password),
        )
        .route("/settings/security/two-factor", post(security::enable))
        .route("/settings/security/two-factor/setup", get(security::setup))
        .route(
            "/settings/security/two-factor/recovery-codes",
            post(security::regenerate),
        )
        .route(
            "/settings/security/two-factor/disable",
            post(security::disable),
        )
        .route(
            "/settings/developers",
            get(apps::developers).post(apps::register),
        )
        .route("/settings/developers/new", get(apps::new_app))
        .route("/settings/security-log", get(security_log::show))
        .route("/stafftools/audit-log", get(security_log::audit_log))
        .route("/stafftools/users", get(staff::list))
        .route("/stafftools/users/{login}/{action}", post(staff::act))
        .route(
            "/settings/developers/{client_id}/secret",
            post(apps::new_secret),
        )
        .route(
            "/settings/developers/{client_id}/delete",
            post(apps::delete_app),
        )
        .route(
            "/settings/developers/{client_id}/secrets/{secret_id}/delete",
            post(apps::delete_secret),
        )
}

/// `GET /settings`: the first settings page.
async fn index(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    let site = Site::of(&state);
    redirect(&format!("{}/settings/applications", site.base), Vec::new())
}

/// The side navigation: path under `/settings/`, label.
pub(super) const NAV: &[(&str, &str)] = &[
    ("applications", "Applications"),
    ("tokens", "Personal access tokens"),
    ("security", "Password and authentication"),
    ("security-log", "Security log"),
    ("developers", "Developer settings"),
];

/// What every settings page shows around its content.
pub struct Frame {
    pub base: String,
    /// The `NAV` entry of this page.
    pub active: &'static str,
    pub nav: &'static [(&'static str, &'static str)],
    pub login: String,
    /// The forms' `authenticity_token`.
    pub token: String,
    /// A confirmation after a redirect (`?notice=`), from a fixed list.
    pub notice: Option<&'static str>,
    /// What went wrong with the form just sent.
    pub error: Option<String>,
}

/// A signed-in browser on a settings page.
pub struct SignedIn {
    pub session: Session,
    pub id: SessionId,
    pub site: Site,
}

impl SignedIn {
    pub fn frame(&self, active: &'static str, notice: Option<&'static str>) -> Frame {
        Frame {
            base: self.site.base.clone(),
            active,
            nav: NAV,
            login: self.session.user.login.as_str().to_owned(),
            token: session::authenticity_token(self.id.expose()),
            notice,
            error: None,
        }
    }

    pub fn user(&self) -> &crate::domain::user::User {
        &self.session.user
    }

    /// `/settings/{page}` with a notice to show there.
    pub fn back_to(&self, page: &str, notice: &str) -> Response {
        redirect(
            &format!("{}/settings/{page}?notice={notice}", self.site.base),
            Vec::new(),
        )
    }
}

/// The signed-in session, or the redirect to `/login` that comes back to `page` afterwards.
async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
    page: &str,
) -> Result<SignedIn, Response> {
    let site = Site::of(state);
    if let Some(id) = super::session_cookie(headers) {
        match session::find_signed_in(&*state.store, &id, state.clock.now()).await {
            Ok(Some(session)) => return Ok(SignedIn { session, id, site }),
            Ok(None) => {}
            Err(error) => return Err(PageError::from_domain(&error).into_page(&site.base)),
        }
    }
    // A page outside /settings/ is named by its absolute path (`/stafftools/users`).
    let here = if page.starts_with('/') {
        format!("{}{page}", site.base)
    } else {
        format!("{}/settings/{page}", site.base)
    };
    let to = crate::domain::web_flow::with_query(
        &format!("{}/login", site.base),
        &[("return_to", &here)],
    );
    Err(redirect(&to, Vec::new()))
}

/// `GET` of a settings page: the signed-in session and the notice its query names.
pub(super) async fn open(
    state: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
    page: &str,
) -> Result<(SignedIn, Option<&'static str>), Response> {
    let signed_in = signed_in(state, headers, page).await?;
    Ok((signed_in, notice(query)))
}

/// A form posted to a settings page: every field in order (scopes come as repeated
/// `scopes` fields), at most [`super::FORM_LIMIT`] bytes.
pub struct Form(Vec<(String, String)>);

impl Form {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find_map(|(key, value)| (key == name).then_some(value.as_str()))
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .collect()
    }
}

/// A `POST` to a settings page: signed in (else the `/login` redirect, with nothing done),
/// then the form, then its `authenticity_token` (the 422 page if it is missing or not this
/// session's).
pub(super) async fn submit(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    page: &str,
) -> Result<(SignedIn, Form), Response> {
    let signed_in = signed_in(state, headers, page).await?;
    let base = signed_in.site.base.clone();
    let form = async {
        let form = Form(read_form(body).await?);
        check_token(Some(signed_in.id.expose()), form.get("authenticity_token"))?;
        Ok::<_, PageError>(form)
    }
    .await
    .map_err(|error| error.into_page(&base))?;
    Ok((signed_in, form))
}

/// The confirmations a redirect may ask a page to show.
fn notice(query: Option<&str>) -> Option<&'static str> {
    let query: Vec<(String, String)> = super::read_query(query);
    let key = query
        .iter()
        .find_map(|(k, v)| (k == "notice").then_some(v.as_str()))?;
    Some(match key {
        "revoked" => "The application was revoked: its tokens no longer work.",
        "revoked-all" => "Every application was revoked: their tokens no longer work.",
        "token-deleted" => "The token was deleted: it no longer works.",
        "app-deleted" => "The application was deleted with all its tokens.",
        "secret-deleted" => "The client secret was deleted: it no longer works.",
        "two-factor-disabled" => {
            "Two-factor authentication is off: signing in takes the password alone."
        }
        _ => return None,
    })
}

/// The page for an id that is not the user's (or does not exist): never told apart.
pub(super) fn not_found() -> PageError {
    PageError::new(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is nothing here, or it is not yours.",
    )
}

/// A domain failure as a page: not found as [`not_found`], anything else as the error pages.
pub(super) fn failed(error: &Error) -> PageError {
    match error {
        Error::NotFound => not_found(),
        other => PageError::from_domain(other),
    }
}

/// A validation failure in words for a form.
pub(super) fn describe(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| match (&e.message, e.field.as_ref(), e.code) {
            (Some(message), _, _) => message.clone(),
            (None, "description", ErrorCode::MissingField) => "Note can't be blank.".to_owned(),
            (None, "description", ErrorCode::AlreadyExists) => {
                "Note has already been taken: each token needs its own note.".to_owned()
            }
            (None, "scopes", _) => "One of the scopes is not a scope GitHub knows.".to_owned(),
            (None, "expiration", _) => "Choose one of the expiration options.".to_owned(),
            (None, "custom_date", _) => {
                "The custom expiration date must be a date (YYYY-MM-DD).".to_owned()
            }
            (None, field, code) => format!("{field} is {}.", code.as_str()),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A date as the pages show it: `Mar 1, 2026`, in UTC.
pub(super) fn day(at: OffsetDateTime) -> String {
    let format = time::macros::format_description!("[month repr:short] [day padding:none], [year]");
    at.format(&format).unwrap_or_default()
}

/// Answers a page's result: the page, or its error page.
pub(super) fn answer(base: &str, result: Result<Response, PageError>) -> Response {
    result.unwrap_or_else(|error| error.into_page(base))
}

/// A rendered page, or the 500 page.
pub(super) fn render(
    status: StatusCode,
    template: &impl askama::Template,
) -> Result<Response, PageError> {
    Ok(super::Page::render(status, template)?.into_response())
}
