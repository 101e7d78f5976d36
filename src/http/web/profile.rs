//! What the URLs in a user's JSON point at on the web host: `GET /{login}` (`html_url`), a
//! small public profile page, and `GET /avatars/u/{id}` (`avatar_url`), an identicon drawn
//! from the account's id. Both show only what `GET /users/{username}` shows anyone.

use std::fmt::Write as _;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::{Page, PageError, Site};
use crate::domain::account::AccountRef;
use crate::domain::{Error, Login, user};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::schemas;

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage<'a> {
    base: &'a str,
    login: &'a str,
    kind: &'a str,
    avatar_url: &'a str,
    site_admin: bool,
}

/// An unknown login or id answers as any unknown path does (GitHub's JSON 404): `/{login}`
/// takes every one-segment path the API does not, so it must not change their answer.
fn not_found_or_page_error(error: &Error, site: &Site) -> Response {
    match error {
        Error::NotFound => ApiError::not_found().into_response(),
        other => PageError::from_domain(other).into_page(&site.base),
    }
}

/// GET /{login}: the account's profile page (users and organizations share the namespace).
pub async fn show(State(state): State<AppState>, Path(login): Path<String>) -> Response {
    let site = Site::of(&state);
    let found = match Login::parse(&login) {
        Some(login) => state
            .store
            .find_account(&AccountRef::Login(login.as_str().to_owned()))
            .await
            .map_err(Error::from)
            .and_then(|account| account.ok_or(Error::NotFound)),
        None => Err(Error::NotFound),
    };
    let account = match found {
        Ok(account) => account,
        Err(error) => return not_found_or_page_error(&error, &site),
    };
    let avatar_url = schemas::avatar_url(&state.public_url, account.id.0);
    let page = ProfilePage {
        base: &site.base,
        login: account.login.as_str(),
        kind: account.kind.as_str(),
        avatar_url: &avatar_url,
        site_admin: account.site_admin,
    };
    match Page::render(StatusCode::OK, &page) {
        Ok(page) => page.into_response(),
        Err(error) => error.into_page(&site.base),
    }
}

/// GET /avatars/u/{id}: the account's identicon, an SVG of a few hundred bytes. Query
/// parameters (`?s=40&v=4`, which clients append) are ignored: the image scales.
pub async fn avatar(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let site = Site::of(&state);
    let Ok(id) = id.parse::<i64>() else {
        return ApiError::not_found().into_response();
    };
    if let Err(error) = user::find_account(&*state.store, id).await {
        return not_found_or_page_error(&error, &site);
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("image/svg+xml"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            // An SVG opened on its own is a document: it may load and run nothing.
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
            ),
        ],
        identicon(id),
    )
        .into_response()
}

/// A 5×5 identicon, mirrored left to right like GitHub's, its cells and colour taken from the
/// SHA-256 of the id: the same id always draws the same image. Only numbers go into the SVG.
pub fn identicon(id: i64) -> String {
    let digest = Sha256::digest(format!("grantd identicon {id}").as_bytes());
    let hue = u16::from_be_bytes([digest[0], digest[1]]) % 360;
    let saturation = 45 + digest[2] % 25;
    let lightness = 45 + digest[3] % 15;
    let cells = u32::from_be_bytes([digest[4], digest[5], digest[6], digest[7]]);
    let mut svg = String::with_capacity(1024);
    svg.push_str(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 70 70\" width=\"420\" height=\"420\">\
         <rect width=\"70\" height=\"70\" fill=\"#f0f0f0\"/>",
    );
    let _ = write!(svg, "<g fill=\"hsl({hue},{saturation}%,{lightness}%)\">");
    for row in 0..5u32 {
        for column in 0..3u32 {
            if cells >> (row * 3 + column) & 1 == 0 {
                continue;
            }
            for x in [column, 4 - column] {
                let _ = write!(
                    svg,
                    "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\"/>",
                    5 + x * 12,
                    5 + row * 12
                );
                if x == 2 {
                    break; // the middle column is its own mirror
                }
            }
        }
    }
    svg.push_str("</g></svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identicon_is_the_same_for_an_id_and_differs_between_ids() {
        assert_eq!(identicon(1), identicon(1));
        assert_ne!(identicon(1), identicon(2));
        for id in [1, 2, 42, i64::MAX, -1] {
            let svg = identicon(id);
            assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
            assert!(svg.ends_with("</g></svg>"));
            // 25 cells at most, each under 60 bytes: bounded whatever the id.
            assert!(svg.len() < 2048, "{}", svg.len());
        }
    }
}
