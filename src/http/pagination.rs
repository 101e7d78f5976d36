//! `per_page`/`page` query parameters and the `Link` header, as GitHub's "Using pagination in
//! the REST API" describes them.

use std::fmt::Write as _;

use super::json::Json;
use axum::extract::{FromRequestParts, Query};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use time::OffsetDateTime;

use super::conditional::LastModified;
use axum::http::request::Parts;

use crate::domain::PageRequest;

/// The query string of a list request: the page it asks for, its `client_id` filter, and all
/// its pairs, which the `Link` URLs repeat.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub page: PageRequest,
    pub client_id: Option<String>,
    pairs: Vec<(String, String)>,
}

/// A positive number, or `None` for anything else (GitHub falls back to the default). A number
/// too large to hold is not a bad value but one past every list's end: it saturates, so that
/// `page=99999999999` answers an empty page, not the first one again (a client walking pages
/// would loop).
fn positive(value: Option<&str>) -> Option<u32> {
    let text = value?.trim();
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = digits.parse::<u32>().unwrap_or(u32::MAX);
    (n > 0).then_some(n)
}

impl ListQuery {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let get = |key: &str| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        // Lenient like GitHub: a bad value falls back to the default instead of failing.
        let per_page = positive(get("per_page")).map_or(PageRequest::DEFAULT_PER_PAGE, |n| {
            n.min(PageRequest::MAX_PER_PAGE)
        });
        let page = positive(get("page")).unwrap_or(1);
        let client_id = get("client_id")
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        Self {
            page: PageRequest { page, per_page },
            client_id,
            pairs,
        }
    }

    /// The `Link` header for a list of `total` items at `base` (public URL + path), or `None`
    /// when everything fits on one page, as GitHub omits it then.
    pub fn link_header(&self, base: &str, total: u64) -> Option<String> {
        let per_page = u64::from(self.page.per_page);
        let last = total.div_ceil(per_page).max(1);
        if last <= 1 {
            return None;
        }
        let page = u64::from(self.page.page);
        let url = |n: u64| {
            let mut query: Vec<String> = self
                .pairs
                .iter()
                .filter(|(k, _)| k != "page")
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect();
            query.push(format!("page={n}"));
            format!("<{base}?{}>", query.join("&"))
        };
        let mut links = Vec::new();
        if page > 1 {
            links.push(format!("{}; rel=\"prev\"", url((page - 1).min(last))));
        }
        if page < last {
            links.push(format!("{}; rel=\"next\"", url(page + 1)));
            links.push(format!("{}; rel=\"last\"", url(last)));
        }
        if page > 1 {
            links.push(format!("{}; rel=\"first\"", url(1)));
        }
        Some(links.join(", "))
    }
}

/// A list answer: the items, a `Link` header when there is more than one page, and the
/// latest `updated_at` of the page for conditional requests.
pub fn list_response<T: Serialize>(
    link: Option<String>,
    last_modified: Option<OffsetDateTime>,
    items: Vec<T>,
) -> Response {
    let mut response = Json(items).into_response();
    if let Some(value) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LINK, value);
    }
    if let Some(at) = last_modified {
        response.extensions_mut().insert(LastModified(at));
    }
    response
}

/// Percent-encodes a query component (RFC 3986 unreserved characters pass through).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

impl<S: Send + Sync> FromRequestParts<S> for ListQuery {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // A query string that does not even parse as pairs is treated as empty, like GitHub.
        let pairs = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_or_else(|_| Vec::new(), |q| q.0);
        Ok(Self::from_pairs(pairs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> ListQuery {
        ListQuery::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn defaults_caps_and_fallbacks() {
        assert_eq!(
            query(&[]).page,
            PageRequest {
                page: 1,
                per_page: 30
            }
        );
        assert_eq!(query(&[("per_page", "500")]).page.per_page, 100);
        // Past every end: the last page number there is, and the largest page size.
        let huge = query(&[("per_page", "99999999999999999999"), ("page", "4294967296")]).page;
        assert_eq!(
            huge,
            PageRequest {
                page: u32::MAX,
                per_page: 100
            }
        );
        assert_eq!(query(&[("page", "+2")]).page.page, 2);
        for bad in ["0", "-3", "abc", "", "1e3", "2.0", "000"] {
            assert_eq!(
                query(&[("per_page", bad), ("page", bad)]).page,
                PageRequest {
                    page: 1,
                    per_page: 30
                }
            );
        }
    }

    #[test]
    fn no_link_when_one_page_holds_everything() {
        assert_eq!(query(&[]).link_header("http://h/authorizations", 30), None);
        assert_eq!(query(&[]).link_header("http://h/authorizations", 0), None);
    }

    #[test]
    fn link_on_first_middle_and_last_pages() {
        let base = "http://h/authorizations";
        assert_eq!(
            query(&[("per_page", "2")]).link_header(base, 5).unwrap(),
            "<http://h/authorizations?per_page=2&page=2>; rel=\"next\", <http://h/authorizations?per_page=2&page=3>; rel=\"last\""
        );
        assert_eq!(
            query(&[("per_page", "2"), ("page", "2")])
                .link_header(base, 5)
                .unwrap(),
            "<http://h/authorizations?per_page=2&page=1>; rel=\"prev\", <http://h/authorizations?per_page=2&page=3>; rel=\"next\", \
             <http://h/authorizations?per_page=2&page=3>; rel=\"last\", <http://h/authorizations?per_page=2&page=1>; rel=\"first\""
        );
        assert_eq!(
            query(&[("page", "3"), ("per_page", "2"), ("client_id", "a b")])
                .link_header(base, 5)
                .unwrap(),
            "<http://h/authorizations?per_page=2&client_id=a%20b&page=2>; rel=\"prev\", \
             <http://h/authorizations?per_page=2&client_id=a%20b&page=1>; rel=\"first\""
        );
    }

    #[test]
    fn past_the_end_points_back_to_the_last_page() {
        let link = query(&[("per_page", "2"), ("page", "9")])
            .link_header("http://h/x", 5)
            .unwrap();
        assert_eq!(
            link,
            "<http://h/x?per_page=2&page=3>; rel=\"prev\", <http://h/x?per_page=2&page=1>; rel=\"first\""
        );
    }
}

/// Fuzzing (issue 18): any query string gives a page within GitHub's bounds, and a `Link`
/// header that is always a valid header value.
#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    /// A value for `page` or `per_page`: numbers of every size, signs, spaces, junk.
    fn number() -> impl Strategy<Value = String> {
        prop_oneof![
            (0u64..200).prop_map(|n| n.to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
            "[ +\\-]{0,2}[0-9]{1,12}[ ]{0,2}",
            "[0-9a-z.%&=]{0,8}",
            ".{0,8}",
        ]
    }

    fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
        let key = prop_oneof![
            Just("page".to_owned()),
            Just("per_page".to_owned()),
            Just("client_id".to_owned()),
            ".{0,6}",
        ];
        prop::collection::vec((key, number()), 0..6)
    }

    /// What GitHub does with one value: the last one sent counts, anything but a positive
    /// integer is as if it were not sent, and an integer too large for a page saturates.
    fn expected(pairs: &[(String, String)], key: &str, default: u32, max: u32) -> u32 {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| {
                let v = v.trim();
                let v = v.strip_prefix('+').unwrap_or(v);
                let digits = !v.is_empty() && v.chars().all(|c| c.is_ascii_digit());
                digits.then(|| v.parse::<u128>().map_or(u128::MAX, |n| n))
            })
            .filter(|n| *n > 0)
            .map_or(default, |n| {
                u32::try_from(n.min(u128::from(max))).unwrap_or(max)
            })
    }

    proptest! {
        #[test]
        fn any_pairs_clamp_as_github_does(pairs in pairs(), total in any::<u64>()) {
            let query = ListQuery::from_pairs(pairs.clone());
            let PageRequest { page, per_page } = query.page;
            prop_assert_eq!(per_page, expected(&pairs, "per_page", 30, 100));
            prop_assert_eq!(page, expected(&pairs, "page", 1, u32::MAX));
            prop_assert!((1..=100).contains(&per_page) && page >= 1);
            prop_assert_eq!(query.page.offset(), u64::from(page - 1) * u64::from(per_page));
            if let Some(link) = query.link_header("http://h/authorizations", total) {
                prop_assert!(HeaderValue::from_str(&link).is_ok(), "{}", link);
                prop_assert!(link.contains("rel=\"prev\"") || link.contains("rel=\"next\""));
            }
        }

        /// Through axum's query parsing, as a request brings it.
        #[test]
        fn any_query_string_is_read_without_panicking(
            query in prop_oneof!["[ -~]{0,60}", "(page|per_page|client_id)=[ -~]{0,12}(&(page|per_page)=[0-9]{0,12})?"],
        ) {
            let Ok(uri) = format!("/authorizations?{query}").parse::<axum::http::Uri>() else {
                return Ok(());
            };
            let (mut parts, ()) = axum::http::Request::builder()
                .uri(uri)
                .body(())
                .unwrap()
                .into_parts();
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let Ok(read) = runtime.block_on(ListQuery::from_request_parts(&mut parts, &()));
            prop_assert!((1..=100).contains(&read.page.per_page) && read.page.page >= 1);
            if let Some(link) = read.link_header("http://h/authorizations", 1_000_000) {
                prop_assert!(HeaderValue::from_str(&link).is_ok(), "{}", link);
            }
        }
    }
}
