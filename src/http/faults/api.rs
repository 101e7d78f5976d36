//! The control routes of the faults: `POST`, `GET`, `DELETE /_grantd/faults` and
//! `DELETE /_grantd/faults/{id}`, which read and check what a test asks for and hand it to
//! the [`Faults`] of the server. Behind the control token, as every control route.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use serde::Deserialize;

use super::{FaultView, GROUPS, Kind, MAX_COUNT, MAX_FAULTS, MAX_LATENCY_MS, Matcher, routes};
use crate::domain::error::FieldError;
use crate::domain::{self, user};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::json::Json;

fn controls(state: &AppState) -> Result<&crate::http::controls::Controls, ApiError> {
    state.controls.as_deref().ok_or_else(ApiError::not_found)
}

/// A 422 in GitHub's validation shape: `{"message":"Validation Failed","errors":[…]}`.
fn invalid(field: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::from(domain::Error::invalid(FieldError {
        resource: "Fault",
        ..FieldError::custom(field, message)
    }))
}

/// A fault as a test asks for it: the body of `POST /_grantd/faults`, or what
/// `grantd::testing::Fault` builds. Checked by [`add`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewFault {
    #[serde(rename = "match")]
    pub(crate) matcher: String,
    pub(crate) fault: String,
    pub(crate) status: Option<u16>,
    pub(crate) latency_ms: Option<u64>,
    pub(crate) count: Option<u64>,
    pub(crate) user: Option<String>,
}

pub(super) fn parse_matcher(text: &str) -> Result<Matcher, ApiError> {
    if let Some(group) = GROUPS.iter().find(|g| **g == text) {
        return Ok(Matcher::Group(group));
    }
    let unknown = || {
        invalid(
            "match",
            format!(
                "match must be one of {} or a route of /openapi.json as \"METHOD /path\"",
                GROUPS.join(", ")
            ),
        )
    };
    let (method, path) = text.split_once(' ').ok_or_else(unknown)?;
    let method =
        Method::from_bytes(method.to_ascii_uppercase().as_bytes()).map_err(|_| unknown())?;
    routes()
        .iter()
        .find(|(template, methods)| template == path && methods.contains(&method))
        .map(|(template, _)| Matcher::Route {
            method,
            path: template.as_str(),
        })
        .ok_or_else(unknown)
}

async fn parse_kind(state: &AppState, asked: &NewFault) -> Result<Kind, ApiError> {
    let only = |field: &'static str, present: bool| {
        if present {
            Err(invalid(
                field,
                format!("{field} does not apply to a {} fault", asked.fault),
            ))
        } else {
            Ok(())
        }
    };
    if asked.fault != "latency" {
        only("latency_ms", asked.latency_ms.is_some())?;
    }
    if asked.fault != "otp_required" {
        only("user", asked.user.is_some())?;
    }
    let limited = |default: StatusCode| match asked.status {
        None => Ok(default),
        Some(403) => Ok(StatusCode::FORBIDDEN),
        Some(429) => Ok(StatusCode::TOO_MANY_REQUESTS),
        Some(_) => Err(invalid("status", "status must be 403 or 429")),
    };
    Ok(match asked.fault.as_str() {
        "status" => match asked.status {
            Some(code @ (500 | 502 | 503 | 410)) => {
                Kind::Status(StatusCode::from_u16(code).map_err(|_| ApiError::internal())?)
            }
            _ => return Err(invalid("status", "status must be 500, 502, 503 or 410")),
        },
        "latency" => {
            only("status", asked.status.is_some())?;
            match asked.latency_ms {
                Some(ms @ 1..=MAX_LATENCY_MS) => Kind::Latency(Duration::from_millis(ms)),
                _ => {
                    return Err(invalid(
                        "latency_ms",
                        format!("latency_ms must be 1 to {MAX_LATENCY_MS}"),
                    ));
                }
            }
        }
        "drop" => {
            only("status", asked.status.is_some())?;
            Kind::Drop
        }
        "rate_limit" => Kind::RateLimit(limited(StatusCode::FORBIDDEN)?),
        "secondary_rate_limit" => Kind::SecondaryRateLimit(limited(StatusCode::FORBIDDEN)?),
        "otp_required" => {
            only("status", asked.status.is_some())?;
            let login = asked
                .user
                .as_deref()
                .ok_or_else(|| invalid("user", "an otp_required fault needs a user"))?;
            match user::find(&*state.store, login).await {
                Ok(found) => Kind::OtpRequired(found.login),
                Err(domain::Error::NotFound) => {
                    return Err(invalid("user", format!("no user {login:?}")));
                }
                Err(error) => return Err(error.into()),
            }
        }
        _ => {
            return Err(invalid(
                "fault",
                "fault must be status, latency, drop, rate_limit, secondary_rate_limit or \
                 otp_required",
            ));
        }
    })
}

/// Checks `asked` and adds it: the fault as stored, or the 422 (404 with the controls off)
/// the route answers.
pub(crate) async fn add(state: &AppState, asked: &NewFault) -> Result<FaultView, ApiError> {
    let controls = controls(state)?;
    let matcher = parse_matcher(&asked.matcher)?;
    let kind = parse_kind(state, asked).await?;
    if asked.count.is_some_and(|n| !(1..=MAX_COUNT).contains(&n)) {
        return Err(invalid(
            "count",
            format!("count must be 1 to {MAX_COUNT}, or absent for until cleared"),
        ));
    }
    controls
        .faults
        .add(matcher, kind, asked.count)
        .ok_or_else(|| {
            invalid(
                "fault",
                format!("at most {MAX_FAULTS} faults are live: delete one first"),
            )
        })
}

/// The live faults, oldest (first to match) first.
pub(crate) fn list(state: &AppState) -> Result<Vec<FaultView>, ApiError> {
    Ok(controls(state)?.faults.list())
}

/// Removes the fault `id`; 404 if no live fault has it.
pub(crate) fn remove(state: &AppState, id: &str) -> Result<(), ApiError> {
    if controls(state)?.faults.remove(id) {
        Ok(())
    } else {
        Err(ApiError::not_found())
    }
}

/// Removes every fault.
pub(crate) fn clear(state: &AppState) -> Result<(), ApiError> {
    controls(state)?.faults.clear();
    Ok(())
}

/// POST /_grantd/faults `{"match","fault",…}`: 201 with the fault as stored.
pub async fn add_fault(
    State(state): State<AppState>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<FaultView>), ApiError> {
    // The controls' 404 comes before any reading of the body.
    controls(&state)?;
    let asked: NewFault =
        serde_json::from_slice(&bytes).map_err(|_| ApiError::problems_parsing_json())?;
    Ok((StatusCode::CREATED, Json(add(&state, &asked).await?)))
}

/// GET /_grantd/faults: the live faults, oldest (first to match) first.
pub async fn list_faults(State(state): State<AppState>) -> Result<Json<Vec<FaultView>>, ApiError> {
    Ok(Json(list(&state)?))
}

/// DELETE /_grantd/faults/{id}
pub async fn delete_fault(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    remove(&state, &id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// DELETE /_grantd/faults: every fault.
pub async fn clear_faults(State(state): State<AppState>) -> Result<StatusCode, ApiError> {
    clear(&state)?;
    Ok(StatusCode::NO_CONTENT)
}
