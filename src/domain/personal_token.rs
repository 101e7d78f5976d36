//! Personal access tokens (classic) as the settings pages make them: authorizations without an
//! app, the same rows `GET /authorizations` lists. Unlike `POST /authorizations`, the page
//! chooses an expiry, as GitHub's "New personal access token (classic)" form does; the token
//! then stops authenticating at that instant (`app_token::authenticate` checks `expires_at`).

use super::audit::{Action, NewEvent, Source};
use time::{Date, Duration, OffsetDateTime, Time};

use super::authorization::{self, Authorization, Created, NewAuthorization};
use super::error::ErrorCode;
use super::scope::Scopes;
use super::token::{PlainToken, TokenKind};
use super::user::User;
use super::{AuthorizationId, Error, FieldError, PageRequest};
use crate::domain::store::Store;

/// The expiry choices of GitHub's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiration {
    Days(u16),
    /// Until the end of this (UTC) day.
    Custom(Date),
    Never,
}

/// The longest custom expiry GitHub allows: one year ahead.
const MAX_CUSTOM: Duration = Duration::days(366);

impl Expiration {
    /// Reads the form's `expiration` (`7`, `30`, `60`, `90`, `custom`, `none`) and its
    /// `custom_date` (`YYYY-MM-DD`).
    pub fn parse(choice: &str, custom_date: Option<&str>) -> Result<Self, Error> {
        let invalid = |field| Error::invalid(FieldError::new(field, ErrorCode::Invalid));
        match choice {
            "7" => Ok(Self::Days(7)),
            "30" => Ok(Self::Days(30)),
            "60" => Ok(Self::Days(60)),
            "90" => Ok(Self::Days(90)),
            "none" => Ok(Self::Never),
            "custom" => {
                let format = time::macros::format_description!("[year]-[month]-[day]");
                custom_date
                    .and_then(|text| Date::parse(text.trim(), &format).ok())
                    .map(Self::Custom)
                    .ok_or_else(|| invalid("custom_date"))
            }
            _ => Err(invalid("expiration")),
        }
    }

    /// When a token made at `now` expires. A custom date must be after today and at most a
    /// year ahead.
    pub fn expires_at(self, now: OffsetDateTime) -> Result<Option<OffsetDateTime>, Error> {
        match self {
            Self::Never => Ok(None),
            Self::Days(days) => Ok(Some(now.saturating_add(Duration::days(i64::from(days))))),
            Self::Custom(date) => {
                let at = date.with_time(Time::MIDNIGHT).assume_utc();
                if date <= now.date() || at > now.saturating_add(MAX_CUSTOM) {
                    return Err(Error::invalid(FieldError::custom(
                        "custom_date",
                        "the expiration date must be after today and within a year",
                    )));
                }
                Ok(Some(at))
            }
        }
    }
}

/// A new personal token: a note (required and unique among the user's tokens, as on
/// `POST /authorizations`), scopes and an expiry.
pub async fn create(
    store: &dyn Store,
    user: &User,
    note: &str,
    scopes: &[String],
    expiration: Expiration,
    source: &Source,
    now: OffsetDateTime,
) -> Result<Created, Error> {
    let note = note.trim();
    if note.is_empty() {
        return Err(Error::invalid(FieldError::new(
            "description",
            ErrorCode::MissingField,
        )));
    }
    authorization::check_lengths(Some(note), None, None)?;
    let scopes = Scopes::parse(scopes)
        .map_err(|_| Error::invalid(FieldError::new("scopes", ErrorCode::Invalid)))?;
    let token = PlainToken::generate(TokenKind::Personal)?;
    let new = NewAuthorization {
        user_id: user.id,
        app: None,
        scopes,
        token_hash: token.hash(),
        token_last_eight: token.last_eight(),
        note: Some(note.to_owned()),
        note_url: None,
        fingerprint: None,
        now,
        expires_at: expiration.expires_at(now)?,
        scoped_to: None,
        web_flow: false,
    };
    let event = NewEvent::by(Action::OauthAccessCreate, user, source, now)
        .token(None, &new.token_hash, None, &new.scopes)
        .with("note", note);
    let authorization = store
        .insert_authorization(&new, &event)
        .await
        .map_err(authorization::map_conflict)?;
    Ok(Created {
        authorization,
        token,
    })
}

/// The user's personal tokens, oldest first; at most the first `limit` of the user's
/// authorizations are looked at (the page lists what it can show).
pub async fn list(store: &dyn Store, user: &User, limit: u32) -> Result<Vec<Authorization>, Error> {
    let mut out = Vec::new();
    let per_page = PageRequest::MAX_PER_PAGE;
    for page in 1..=limit.div_ceil(per_page).max(1) {
        let found = store
            .list_authorizations(user.id, None, PageRequest { page, per_page })
            .await?;
        let last = found.items.len() < per_page as usize;
        out.extend(found.items.into_iter().filter(|a| a.app.is_none()));
        if last {
            break;
        }
    }
    Ok(out)
}

/// One of the user's personal tokens; another user's, or an app's token, is [`Error::NotFound`].
pub async fn find(
    store: &dyn Store,
    user: &User,
    id: AuthorizationId,
) -> Result<Authorization, Error> {
    match authorization::find(store, user, id).await? {
        found if found.app.is_none() => Ok(found),
        _ => Err(Error::NotFound),
    }
}

/// Regenerate: a new value for the same token (id, note, scopes) with a new expiry chosen as
/// on GitHub's regenerate form; the old value stops working at once. Of two concurrent regenerations one
/// wins, the other is [`Error::NotFound`] (the store swaps the hash only if unchanged).
pub async fn regenerate(
    store: &dyn Store,
    user: &User,
    id: AuthorizationId,
    expiration: Expiration,
    source: &Source,
    now: OffsetDateTime,
) -> Result<Created, Error> {
    let current = find(store, user, id).await?;
    let expires_at = expiration.expires_at(now)?;
    let token = PlainToken::generate(TokenKind::Personal)?;
    let authorization = store
        .replace_token(
            current.id,
            &current.token_hash,
            &token.hash(),
            &token.last_eight(),
            expires_at,
            now,
            &NewEvent::by(Action::OauthAccessRegenerate, user, source, now).token(
                Some(current.id),
                &token.hash(),
                None,
                &current.scopes,
            ),
        )
        .await?
        .ok_or(Error::NotFound)?;
    Ok(Created {
        authorization,
        token,
    })
}

/// Deletes one of the user's personal tokens (the same as `DELETE /authorizations/{id}`).
pub async fn delete(
    store: &dyn Store,
    user: &User,
    id: AuthorizationId,
    source: &Source,
    now: OffsetDateTime,
) -> Result<(), Error> {
    find(store, user, id).await?;
    authorization::delete_recorded(store, user, id, Action::OauthAccessDestroy, source, now).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn the_forms_choices_become_expiry_instants() {
        let now = datetime!(2026-03-01 12:00 UTC);
        let at = |choice, date| Expiration::parse(choice, date)?.expires_at(now);
        assert_eq!(
            at("7", None).ok(),
            Some(Some(datetime!(2026-03-08 12:00 UTC)))
        );
        assert_eq!(
            at("90", None).ok(),
            Some(Some(datetime!(2026-05-30 12:00 UTC)))
        );
        assert_eq!(at("none", None).ok(), Some(None));
        assert_eq!(
            at("custom", Some("2026-04-02")).ok(),
            Some(Some(datetime!(2026-04-02 0:00 UTC)))
        );
        for (choice, date) in [
            ("8", None),
            ("custom", None),
            ("custom", Some("2026-03-01")),
            ("custom", Some("2028-01-01")),
            ("custom", Some("tomorrow")),
        ] {
            assert!(at(choice, date).is_err(), "{choice} {date:?} accepted");
        }
        assert_eq!(
            Expiration::parse("custom", Some("2026-04-02")).ok(),
            Some(Expiration::Custom(date!(2026 - 04 - 02)))
        );
    }
}
