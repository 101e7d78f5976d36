//! The JSON shapes GitHub sends, one struct per component of GitHub's OpenAPI description
//! (`authorization`, `application-grant`). Field order follows the docs' examples.

use serde::Serialize;
use time::OffsetDateTime;
use time::macros::format_description;

use super::docs;
use crate::domain::ClientId;
use crate::domain::authorization::Authorization as DomainAuthorization;
use crate::domain::grant::Grant as DomainGrant;
use crate::domain::token::PlainToken;

/// GitHub's timestamps: `2011-09-06T17:26:27Z`, UTC, whole seconds.
pub fn timestamp(at: OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default()
}

#[derive(Debug, Serialize)]
pub struct App {
    pub url: String,
    pub name: String,
    pub client_id: String,
}

impl App {
    fn of(authorization: &DomainAuthorization) -> Self {
        match &authorization.app {
            Some(app) => Self {
                url: app.url.clone(),
                name: app.name.clone(),
                client_id: app.client_id.to_string(),
            },
            // A personal access token has no app; GitHub shows a stand-in named after its note.
            None => Self {
                url: authorization
                    .note_url
                    .clone()
                    .unwrap_or_else(|| docs::PERSONAL_ACCESS_TOKENS.to_owned()),
                name: format!(
                    "{} (API)",
                    authorization.note.as_deref().unwrap_or_default()
                ),
                client_id: ClientId::PERSONAL.to_owned(),
            },
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Authorization {
    pub id: i64,
    pub url: String,
    pub scopes: Vec<String>,
    /// The token in clear in the response that creates it; `""` everywhere else.
    pub token: String,
    pub token_last_eight: String,
    pub hashed_token: String,
    pub app: App,
    pub note: Option<String>,
    pub note_url: Option<String>,
    pub updated_at: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub fingerprint: Option<String>,
}

impl Authorization {
    /// The JSON of an authorization as any read shows it: without the token.
    pub fn new(public_url: &str, authorization: &DomainAuthorization) -> Self {
        Self {
            id: authorization.id.0,
            url: format!("{public_url}/authorizations/{}", authorization.id),
            scopes: authorization.scopes.as_slice().to_vec(),
            token: String::new(),
            token_last_eight: authorization.token_last_eight.clone(),
            hashed_token: authorization.token_hash.to_hex(),
            app: App::of(authorization),
            note: authorization.note.clone(),
            note_url: authorization.note_url.clone(),
            updated_at: timestamp(authorization.updated_at),
            created_at: timestamp(authorization.created_at),
            expires_at: authorization.expires_at.map(timestamp),
            fingerprint: authorization.fingerprint.clone(),
        }
    }

    /// The JSON of a newly made authorization, the only one that carries its token.
    pub fn with_token(
        public_url: &str,
        authorization: &DomainAuthorization,
        token: &PlainToken,
    ) -> Self {
        Self {
            token: token.expose().to_owned(),
            ..Self::new(public_url, authorization)
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Grant {
    pub id: i64,
    pub url: String,
    pub app: App,
    pub created_at: String,
    pub updated_at: String,
    pub scopes: Vec<String>,
}

impl Grant {
    pub fn new(public_url: &str, grant: &DomainGrant) -> Self {
        Self {
            id: grant.id.0,
            url: format!("{public_url}/applications/grants/{}", grant.id),
            app: App {
                url: grant.app.url.clone(),
                name: grant.app.name.clone(),
                client_id: grant.app.client_id.to_string(),
            },
            created_at: timestamp(grant.created_at),
            updated_at: timestamp(grant.updated_at),
            scopes: grant.scopes.as_slice().to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn timestamps_are_whole_seconds_utc_with_z() {
        assert_eq!(
            timestamp(datetime!(2011-09-06 17:26:27.9 +02:00)),
            "2011-09-06T15:26:27Z"
        );
    }
}
