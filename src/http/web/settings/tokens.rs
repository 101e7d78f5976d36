//! `/settings/tokens`: personal access tokens (classic), the authorizations without an app
//! that `GET /authorizations` lists too. Thin handlers over `domain::personal_token`.

use crate::http::audit_log::RequestSource;
use askama::Template;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use time::OffsetDateTime;

use super::{Frame, answer, day, describe, failed, not_found, open, render, submit};
use crate::domain::AuthorizationId;
use crate::domain::authorization::{Authorization, Created};
use crate::domain::personal_token::{self, Expiration};
use crate::domain::{Error, scope, web_flow};
use crate::http::AppState;

/// The page lists at most this many of a user's authorizations (tokens of apps included).
const LIST_LIMIT: u32 = 1_000;
/// Longest note the form accepts (the API's bound).
const MAX_NOTE: usize = 255;

/// One token as the list shows it.
pub struct Row {
    id: i64,
    note: String,
    scopes: String,
    last_eight: String,
    /// "Expires on …", "Expired on …" or "No expiration date".
    expiry: String,
    expired: bool,
    created: String,
    /// GitHub's words: "Never used", "Last used within the last week"…
    last_used: &'static str,
}

impl Row {
    fn of(token: &Authorization, now: OffsetDateTime) -> Self {
        let (expiry, expired) = match token.expires_at {
            None => ("No expiration date".to_owned(), false),
            Some(at) if at <= now => (format!("Expired on {}", day(at)), true),
            Some(at) => (format!("Expires on {}", day(at)), false),
        };
        let scopes = token.scopes.as_slice().join(", ");
        Self {
            id: token.id.0,
            note: token.note.clone().unwrap_or_default(),
            scopes: if scopes.is_empty() {
                "no scopes".to_owned()
            } else {
                scopes
            },
            last_eight: token.token_last_eight.clone(),
            expiry,
            expired,
            created: day(token.created_at),
            last_used: crate::domain::usage::describe(token.last_used_at, now),
        }
    }
}

#[derive(Template)]
#[template(path = "settings/tokens.html")]
struct ListPage {
    base: String,
    frame: Frame,
    tokens: Vec<Row>,
}

/// One scope checkbox of the form.
pub struct ScopeBox {
    name: &'static str,
    words: &'static str,
    checked: bool,
}

/// A scope and the scopes it implies, as GitHub's form groups them.
pub struct ScopeGroup {
    top: ScopeBox,
    children: Vec<ScopeBox>,
}

#[derive(Template)]
#[template(path = "settings/token_new.html")]
struct NewPage {
    base: String,
    frame: Frame,
    note: String,
    expiration: String,
    custom_date: String,
    groups: Vec<ScopeGroup>,
}

#[derive(Template)]
#[template(path = "settings/token_created.html")]
struct CreatedPage {
    base: String,
    frame: Frame,
    heading: &'static str,
    row: Row,
    token: String,
}

fn groups(checked: &[String]) -> Vec<ScopeGroup> {
    let scope_box = |name: &'static str| ScopeBox {
        name,
        words: web_flow::describe_scope(name),
        checked: checked.iter().any(|c| c == name),
    };
    scope::groups()
        .into_iter()
        .map(|(top, children)| ScopeGroup {
            top: scope_box(top),
            children: children.into_iter().map(scope_box).collect(),
        })
        .collect()
}

/// `GET /settings/tokens`.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let (signed_in, notice) = match open(&state, &headers, query.as_deref(), "tokens").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    // The uses noted so far show at once, not a minute later.
    state.flush_usage().await;
    let result = async {
        let now = state.clock.now();
        let tokens = personal_token::list(&*state.store, signed_in.user(), LIST_LIMIT)
            .await
            .map_err(|e| failed(&e))?;
        render(
            StatusCode::OK,
            &ListPage {
                base: signed_in.site.base.clone(),
                frame: signed_in.frame("tokens", notice),
                tokens: tokens.iter().map(|t| Row::of(t, now)).collect(),
            },
        )
    }
    .await;
    answer(&signed_in.site.base, result)
}

/// `GET /settings/tokens/new`: GitHub's "New personal access token (classic)" form.
pub async fn new(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let (signed_in, _) = match open(&state, &headers, query.as_deref(), "tokens/new").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let page = NewPage {
        base: signed_in.site.base.clone(),
        frame: signed_in.frame("tokens", None),
        note: String::new(),
        expiration: "30".to_owned(),
        custom_date: String::new(),
        groups: groups(&[]),
    };
    answer(&signed_in.site.base, render(StatusCode::OK, &page))
}

/// `POST /settings/tokens`: makes the token and shows it, this once. A refused form comes
/// back (422) with what was typed and what was wrong.
pub async fn create(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (signed_in, form) = match submit(&state, &headers, body, "tokens/new").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let note = form.get("note").unwrap_or_default();
    let scopes = form.all("scopes");
    let expiration = form.get("expiration").unwrap_or("30");
    let custom_date = form.get("custom_date");
    let now = state.clock.now();
    let outcome = async {
        if note.chars().count() > MAX_NOTE {
            return Err(Error::invalid(crate::domain::FieldError::custom(
                "note",
                format!("Note is too long (maximum is {MAX_NOTE} characters)."),
            )));
        }
        let expiration = Expiration::parse(expiration, custom_date)?;
        personal_token::create(
            &*state.store,
            signed_in.user(),
            note,
            &scopes,
            expiration,
            &source,
            now,
        )
        .await
    }
    .await;
    let result = match outcome {
        Ok(created) => shown(&signed_in, "Your new personal access token", &created, now),
        Err(Error::Invalid(errors)) => {
            let mut frame = signed_in.frame("tokens", None);
            frame.error = Some(describe(&errors));
            // Echo back only what fits the form's own bounds.
            let keep = |text: &str, max: usize| {
                if text.chars().count() <= max {
                    text.to_owned()
                } else {
                    String::new()
                }
            };
            render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &NewPage {
                    base: signed_in.site.base.clone(),
                    frame,
                    note: keep(note, MAX_NOTE),
                    expiration: keep(expiration, 10),
                    custom_date: keep(custom_date.unwrap_or_default(), 10),
                    groups: groups(&scopes),
                },
            )
        }
        Err(other) => Err(failed(&other)),
    };
    answer(&signed_in.site.base, result)
}

fn shown(
    signed_in: &super::SignedIn,
    heading: &'static str,
    created: &Created,
    now: OffsetDateTime,
) -> Result<Response, crate::http::web::PageError> {
    render(
        StatusCode::OK,
        &CreatedPage {
            base: signed_in.site.base.clone(),
            frame: signed_in.frame("tokens", None),
            heading,
            row: Row::of(&created.authorization, now),
            token: created.token.expose().to_owned(),
        },
    )
}

fn parse_id(text: &str) -> Option<AuthorizationId> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(AuthorizationId)
}

/// `POST /settings/tokens/{id}/regenerate` (`expiration`): a new value, the same note and
/// scopes, a new expiry; the old value stops at once.
pub async fn regenerate(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    let (signed_in, form) = match submit(&state, &headers, body, "tokens").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let now = state.clock.now();
    let result = async {
        let id = parse_id(&id).ok_or_else(not_found)?;
        let regenerated = async {
            let expiration = Expiration::parse(form.get("expiration").unwrap_or("30"), None)?;
            personal_token::regenerate(
                &*state.store,
                signed_in.user(),
                id,
                expiration,
                &source,
                now,
            )
            .await
        };
        let created = match regenerated.await {
            Ok(created) => created,
            Err(Error::Invalid(_)) => {
                return Err(crate::http::web::PageError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Invalid expiration",
                    "Choose one of the expiration options.",
                ));
            }
            Err(other) => return Err(failed(&other)),
        };
        shown(
            &signed_in,
            "Your regenerated personal access token",
            &created,
            now,
        )
    }
    .await;
    answer(&signed_in.site.base, result)
}

/// `POST /settings/tokens/{id}/delete`: as `DELETE /authorizations/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    RequestSource(source): RequestSource,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    let (signed_in, _) = match submit(&state, &headers, body, "tokens").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let result = async {
        let id = parse_id(&id).ok_or_else(not_found)?;
        personal_token::delete(
            &*state.store,
            signed_in.user(),
            id,
            &source,
            state.clock.now(),
        )
        .await
        .map_err(|e| failed(&e))?;
        Ok(signed_in.back_to("tokens", "token-deleted"))
    }
    .await;
    answer(&signed_in.site.base, result)
}
