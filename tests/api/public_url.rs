//! The two layouts of `--public-url` (docs/running.md, "Public URL"): the host root (`https://HOST`)
//! or GitHub Enterprise Server's API base (`https://HOST/api/v3`). API `url` fields are built
//! on the public URL as given; the pages (sign-in, `/login/device`, profiles, avatars) and the
//! device flow's `verification_uri` on the root of the site, never under `/api/v3`, where no
//! page answers. Each test follows every URL grantd hands out to a page that answers.

use reqwest::Client;
use serde_json::Value;

use crate::device_flow::{approve, device_code, fixture, poll, request_codes, user_code};
use crate::signin::{browser, location, set_cookie, sign_in};
use crate::support::{ALICE, OAUTH_APP, TestServer};

/// The path of `url`, which must start with `root` (the public host the server was given).
#[track_caller]
fn path_under<'a>(url: &'a str, root: &str) -> &'a str {
    url.strip_prefix(root)
        .unwrap_or_else(|| panic!("{url} is not under {root}"))
}

/// Serves with `public_url`, connects a device through the pages the flow points at, and
/// checks the API's and the pages' URLs: `api` is where API urls start, `web` the pages' root.
async fn check_layout(public_url: &str, api: &str, web: &str) {
    let srv = TestServer::spawn_seeded(&fixture(), Some(public_url.to_owned())).await;
    let host = "http://ghe.example";

    // The code answer sends the user to the page at the site's root.
    let codes = request_codes(&srv, OAUTH_APP.client_id, "gist").await;
    assert_eq!(codes["verification_uri"], format!("{web}/login/device"));
    let page = path_under(codes["verification_uri"].as_str().expect("a URI"), host);

    // That page answers: signed out it sends the browser to the sign-in page, also at the
    // root, and back.
    let client = browser();
    let signed_out = client.get(srv.url(page)).send().await.expect("GET");
    assert_eq!(signed_out.status(), 303);
    assert_eq!(location(&signed_out), "/login?return_to=%2Flogin%2Fdevice");
    let form = client
        .get(srv.url(location(&signed_out)))
        .send()
        .await
        .expect("GET the sign-in page");
    assert_eq!(form.status(), 200);
    let html = form.text().await.expect("body");
    assert!(html.contains("action=\"/session\""), "{html}");

    // The session cookie covers the whole site, pages and API alike.
    let signed_in = sign_in(&srv, &client, &ALICE).await;
    assert_eq!(signed_in.status(), 303);
    let cookie = set_cookie(&signed_in, "user_session").expect("a session cookie");
    assert!(cookie.contains("; Path=/;"), "{cookie}");

    approve(&srv, &client, user_code(&codes)).await;
    let answer = poll(&srv, OAUTH_APP.client_id, device_code(&codes)).await;
    let token = answer["access_token"].as_str().expect("a token");

    // The API answers under /api/v3 and at /; its urls start with the public URL as given,
    // and each answers where it points.
    for prefix in ["/api/v3", ""] {
        let user: Value = Client::new()
            .get(srv.url(&format!("{prefix}/user")))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET /user")
            .json()
            .await
            .expect("JSON");
        assert_eq!(user["url"], format!("{api}/users/alice"));
        assert_eq!(user["html_url"], format!("{web}/alice"));
        let avatar = user["avatar_url"].as_str().expect("an avatar_url");
        assert!(avatar.starts_with(&format!("{web}/avatars/u/")), "{avatar}");
        for (url, kind) in [
            (user["url"].as_str().expect("a url"), "application/json"),
            (user["html_url"].as_str().expect("a url"), "text/html"),
            (avatar, "image/"),
        ] {
            let res = Client::new()
                .get(srv.url(path_under(url, host)))
                .send()
                .await
                .expect("GET");
            assert_eq!(res.status(), 200, "{url}");
            let content_type = res.headers()["content-type"].to_str().expect("text");
            assert!(content_type.starts_with(kind), "{url}: {content_type}");
        }
    }
}

#[tokio::test]
async fn with_the_api_base_as_public_url_pages_live_at_the_host_root() {
    check_layout(
        "http://ghe.example/api/v3",
        "http://ghe.example/api/v3",
        "http://ghe.example",
    )
    .await;
}

#[tokio::test]
async fn with_the_host_root_as_public_url_api_and_pages_share_it() {
    check_layout(
        "http://ghe.example",
        "http://ghe.example",
        "http://ghe.example",
    )
    .await;
}
