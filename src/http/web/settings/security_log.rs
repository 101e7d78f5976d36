//! `/settings/security-log` (the signed-in user's events) and `/stafftools/audit-log` (every
//! event, for site admins, filtered by user and action). Both read through `domain::audit`:
//! the security log passes the user's own id, so another user's events cannot appear in it;
//! the audit log is the 404 page to anyone but a site admin.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::{Frame, SignedIn, answer, failed, open, render};
use crate::domain::audit::{self, Event, Filter, Order, Query};
use crate::domain::{Error, Login};
use crate::http::AppState;
use crate::http::web::{PageError, read_query};

/// Events per page.
const PER_PAGE: u32 = 30;
const AUDIT_PAGE: &str = "/stafftools/audit-log";

/// One event as the pages show it.
pub struct Row {
    action: String,
    /// `2026-03-01`, `14:05:09 UTC` (two parts, so that a narrow column wraps between them)
    date: String,
    clock: String,
    /// `2026-03-01T14:05:09Z`, for `<time datetime>`
    datetime: String,
    actor: String,
    user: String,
    app: String,
    address: String,
    agent: String,
    details: String,
}

impl Row {
    fn of(event: &Event) -> Self {
        let date = time::macros::format_description!("[year]-[month]-[day]");
        let clock = time::macros::format_description!("[hour]:[minute]:[second] UTC");
        let at = event.created_at.to_offset(time::UtcOffset::UTC);
        let login = |a: &Option<audit::AccountName>| {
            a.as_ref()
                .map_or_else(|| "grantd".to_owned(), |a| a.login.as_str().to_owned())
        };
        Self {
            action: event.action.clone(),
            date: at.format(&date).unwrap_or_default(),
            clock: at.format(&clock).unwrap_or_default(),
            datetime: crate::domain::clock::timestamp(at),
            actor: login(&event.actor),
            user: event
                .user
                .as_ref()
                .map(|u| u.login.as_str().to_owned())
                .unwrap_or_default(),
            app: event
                .app
                .as_ref()
                .map(|a| a.name.clone())
                .unwrap_or_default(),
            address: event
                .source
                .address
                .map_or_else(|| "—".to_owned(), |a| a.to_string()),
            agent: event
                .source
                .user_agent
                .clone()
                .unwrap_or_else(|| "—".to_owned()),
            details: event
                .data
                .iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => format!("{k}: {s}"),
                    other => format!("{k}: {other}"),
                })
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

#[derive(Template)]
#[template(path = "settings/security_log.html")]
struct SecurityLogPage {
    base: String,
    frame: Frame,
    events: Vec<Row>,
    /// The `?after=` of the next (older) page, if there is one.
    older: Option<String>,
    /// Whether this is an older page (so it links back to the newest).
    paged: bool,
}

#[derive(Template)]
#[template(path = "stafftools/audit_log.html")]
struct AuditLogPage {
    base: String,
    frame: Frame,
    events: Vec<Row>,
    user: String,
    action: String,
    /// The query string of the next (older) page, if there is one.
    older: Option<String>,
}

#[derive(Deserialize, Default)]
struct LogQuery {
    after: Option<String>,
    user: Option<String>,
    action: Option<String>,
}

fn bad_filter() -> PageError {
    PageError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Not a valid filter",
        "A user filter takes a login, an action filter an action name or category \
         (oauth_access.create, oauth_access), and a page link must come from this page.",
    )
}

fn after(query: &LogQuery) -> Result<Option<i64>, PageError> {
    query
        .after
        .as_deref()
        .map(audit::parse_cursor)
        .transpose()
        .map_err(|_| bad_filter())
}

/// `GET /settings/security-log[?after=CURSOR]`: the user's events, newest first.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let (signed_in, notice) = match open(&state, &headers, None, "security-log").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let result = async {
        let query: LogQuery = read_query(raw.as_deref());
        let after = after(&query)?;
        let page = audit::security_log(&*state.store, signed_in.user(), after, PER_PAGE)
            .await
            .map_err(|e| failed(&e))?;
        let older = page
            .has_next
            .then(|| page.events.last().map(|e| audit::cursor(e.id)))
            .flatten();
        render(
            StatusCode::OK,
            &SecurityLogPage {
                base: signed_in.site.base.clone(),
                frame: signed_in.frame("security-log", notice),
                events: page.events.iter().map(Row::of).collect(),
                older,
                paged: after.is_some(),
            },
        )
    }
    .await;
    answer(&signed_in.site.base, result)
}

/// `GET /stafftools/audit-log[?user=LOGIN&action=NAME&after=CURSOR]`: every event, newest
/// first; `action` keeps one action or a whole category (`oauth_access`).
pub async fn audit_log(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let (signed_in, _) = match open(&state, &headers, None, AUDIT_PAGE).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    answer(
        &signed_in.site.base,
        audit_page(&state, &signed_in, raw.as_deref()).await,
    )
}

async fn audit_page(
    state: &AppState,
    signed_in: &SignedIn,
    raw: Option<&str>,
) -> Result<Response, PageError> {
    // Who may read it is decided before the filters are even looked at.
    if !signed_in.user().site_admin {
        return Err(failed(&Error::NotFound));
    }
    let query: LogQuery = read_query(raw);
    let user = query.user.clone().filter(|u| !u.is_empty());
    let action = query.action.clone().filter(|a| !a.is_empty());
    // The same rules as the API's `phrase`, so the page and the API filter alike.
    let mut phrase = String::new();
    if let Some(action) = &action {
        phrase.push_str("action:");
        phrase.push_str(action);
        phrase.push(' ');
    }
    if let Some(user) = &user {
        if Login::parse(user).is_none() {
            return Err(bad_filter());
        }
        phrase.push_str("user:");
        phrase.push_str(user);
    }
    let filter: Filter = audit::parse_phrase(&phrase).map_err(|_| bad_filter())?;
    let request = Query {
        filter,
        after: after(&query)?,
        before: None,
        order: Order::Desc,
        limit: PER_PAGE,
    };
    let page = audit::audit_log(&*state.store, signed_in.user(), &request)
        .await
        .map_err(|e| failed(&e))?;
    let older = match (page.has_next, page.events.last()) {
        (true, Some(last)) => {
            let mut pairs = vec![("after", audit::cursor(last.id))];
            if let Some(user) = &user {
                pairs.push(("user", user.clone()));
            }
            if let Some(action) = &action {
                pairs.push(("action", action.clone()));
            }
            serde_urlencoded::to_string(pairs).ok()
        }
        _ => None,
    };
    render(
        StatusCode::OK,
        &AuditLogPage {
            base: signed_in.site.base.clone(),
            frame: signed_in.frame("", None),
            events: page.events.iter().map(Row::of).collect(),
            user: user.unwrap_or_default(),
            action: action.unwrap_or_default(),
            older,
        },
    )
}
