//! GHES's enterprise audit log, `GET /enterprises/{enterprise}/audit-log`
//! (`enterprise-admin/get-audit-log`), and [`RequestSource`], the address and agent every
//! recorded change carries. The search rules are `domain::audit`'s; this file only reads the
//! query string, checks the caller and renders GitHub's event objects.
//!
//! A GHES instance has one enterprise; grantd has none to name, so any slug is accepted and
//! answers the whole log (see docs/security.md).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::AppState;
use super::docs;
use super::error::{ApiError, Documented};
use super::extract::Caller;
use super::ghes::scope_headers;
use super::json::Json;
use crate::domain::audit::{self, Action, Event, Order, Source};
use crate::domain::{Error, FieldError, PageRequest, error::ErrorCode, user::User};

/// The scopes GitHub accepts here: `read:audit_log` (or `audit_log`, which implies it) or
/// `admin:enterprise`.
const ACCEPTED: &str = "read:audit_log, admin:enterprise";

/// Where the request came from, for the audit event of whatever it changes.
pub struct RequestSource(pub Source);

impl<S: Send + Sync> FromRequestParts<S> for RequestSource {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(source_of(parts)))
    }
}

/// The peer address (no proxy header is trusted: a client could write any) and `User-Agent`.
pub fn source_of(parts: &Parts) -> Source {
    let address = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip().to_canonical());
    let agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    Source::new(address, agent)
}

/// The admin reading the log, or the refusal every site-admin endpoint answers.
fn reader(caller: &Caller) -> Result<&User, ApiError> {
    super::ghes::site_admin(caller, ACCEPTED, docs::GET_AUDIT_LOG)
}

/// GitHub's enterprise slugs: letters, digits and hyphens.
fn valid_slug(slug: &str) -> bool {
    (1..=100).contains(&slug.len()) && slug.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn invalid(field: &'static str) -> ApiError {
    ApiError::from(Error::invalid(FieldError {
        resource: "AuditLog",
        field: field.into(),
        code: ErrorCode::Invalid,
        message: None,
    }))
    .documented(docs::GET_AUDIT_LOG)
}

/// GET /enterprises/{enterprise}/audit-log
pub async fn get_audit_log(
    State(state): State<AppState>,
    caller: Caller,
    Path(enterprise): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    // A query string that does not parse as pairs is read as empty, as the list endpoints do.
    let pairs: Vec<(String, String)> = super::web::read_query(raw.as_deref());
    let admin = reader(&caller)?;
    if !valid_slug(&enterprise) {
        return Err(ApiError::not_found().documented(docs::GET_AUDIT_LOG));
    }
    let get = |key: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let filter = audit::parse_phrase(get("phrase").unwrap_or_default()).doc(docs::GET_AUDIT_LOG)?;
    let order = match get("order") {
        None | Some("desc") => Order::Desc,
        Some("asc") => Order::Asc,
        Some(_) => return Err(invalid("order")),
    };
    // Only web events exist here: `git` asks for none of them.
    let git_only = match get("include") {
        None | Some("web" | "all") => false,
        Some("git") => true,
        Some(_) => return Err(invalid("include")),
    };
    let per_page = match get("per_page") {
        None => PageRequest::DEFAULT_PER_PAGE,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .map_or(PageRequest::DEFAULT_PER_PAGE, |n| {
                n.min(PageRequest::MAX_PER_PAGE)
            }),
    };
    let cursor = |key: &str| {
        get(key)
            .map(audit::parse_cursor)
            .transpose()
            .doc(docs::GET_AUDIT_LOG)
    };
    let (after, before) = (cursor("after")?, cursor("before")?);
    if after.is_some() && before.is_some() {
        return Err(invalid("before"));
    }
    let query = audit::Query {
        filter,
        after,
        before,
        order,
        limit: per_page,
    };
    let page = if git_only {
        audit::EventPage {
            events: Vec::new(),
            has_next: false,
            has_prev: false,
        }
    } else {
        audit::audit_log(&*state.store, admin, &query)
            .await
            .doc(docs::GET_AUDIT_LOG)?
    };
    let base = format!("{}/enterprises/{enterprise}/audit-log", state.public_url);
    let link = link_header(&base, &pairs, &page);
    let body: Vec<Value> = page
        .events
        .iter()
        .map(|e| render(e, Some(&enterprise)))
        .collect();
    let mut response = (scope_headers(&caller, ACCEPTED), Json(body)).into_response();
    if let Some(value) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LINK, value);
    }
    Ok(response)
}

/// GitHub's cursor links: `next` with `after=` the last event's cursor, `prev` with `before=`
/// the first's, `first` without a cursor; the other parameters repeated.
fn link_header(base: &str, pairs: &[(String, String)], page: &audit::EventPage) -> Option<String> {
    let url = |cursor: Option<(&str, String)>| {
        let mut query: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "after" | "before" | "page"))
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        if let Some((key, value)) = cursor {
            query.push(format!("{key}={value}"));
        }
        if query.is_empty() {
            format!("<{base}>")
        } else {
            format!("<{base}?{}>", query.join("&"))
        }
    };
    let mut links = Vec::new();
    if let (true, Some(last)) = (page.has_next, page.events.last()) {
        links.push(format!(
            "{}; rel=\"next\"",
            url(Some(("after", audit::cursor(last.id))))
        ));
    }
    if page.has_prev {
        links.push(format!("{}; rel=\"first\"", url(None)));
        if let Some(first) = page.events.first() {
            links.push(format!(
                "{}; rel=\"prev\"",
                url(Some(("before", audit::cursor(first.id))))
            ));
        }
    }
    (!links.is_empty()).then(|| links.join(", "))
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push_str(&hex::encode_upper([byte]));
        }
    }
    out
}

/// One event as GitHub's audit log API sends it: times in milliseconds, the details of
/// `data` at the top level (`token_id`, `hashed_token`, `programmatic_access_type`), and
/// fields without a value left out (the schema types them without `null`).
pub fn render(event: &Event, enterprise: Option<&str>) -> Value {
    let mut out = Map::new();
    let millis = event.created_at.unix_timestamp().saturating_mul(1000);
    out.insert("@timestamp".into(), Value::from(millis));
    out.insert("created_at".into(), Value::from(millis));
    out.insert("_document_id".into(), Value::from(audit::cursor(event.id)));
    out.insert("action".into(), Value::from(event.action.clone()));
    out.insert(
        "operation_type".into(),
        Value::from(Action::operation_type(&event.action)),
    );
    if let Some(enterprise) = enterprise {
        out.insert("business".into(), Value::from(enterprise));
    }
    if let Some(actor) = &event.actor {
        out.insert("actor".into(), Value::from(actor.login.as_str()));
        out.insert("actor_id".into(), Value::from(actor.id.0));
    }
    if let Some(user) = &event.user {
        out.insert("user".into(), Value::from(user.login.as_str()));
        out.insert("user_id".into(), Value::from(user.id.0));
    }
    if let Some(app) = &event.app {
        out.insert("oauth_application_id".into(), Value::from(app.id.0));
        out.insert(
            "oauth_application_name".into(),
            Value::from(app.name.clone()),
        );
        out.insert("client_id".into(), Value::from(app.client_id.clone()));
    }
    if let Some(address) = event.source.address {
        out.insert("actor_ip".into(), Value::from(address.to_string()));
    }
    if let Some(agent) = &event.source.user_agent {
        out.insert("user_agent".into(), Value::from(agent.clone()));
    }
    for (key, value) in &event.data {
        out.entry(key.clone()).or_insert_with(|| value.clone());
    }
    Value::Object(out)
}
