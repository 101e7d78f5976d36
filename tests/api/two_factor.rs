//! Two-factor authentication turned on, used and turned off from the settings pages, driven
//! as a browser would (cookie jar, no redirect followed): the secret is read from the setup
//! page as a person would type it into an app, and codes are computed from it with totp-rs.

use grantd::domain::clock::Clock as _;
use reqwest::Client;

use crate::settings::{page as get, post};
use crate::signin::{browser, location, sign_in, token_of};
use crate::support::{ALICE, TestServer};

const SETUP: &str = "/settings/security/two-factor/setup";

/// The code of `secret` at the server's clock now.
fn code_now(srv: &TestServer, secret: &str) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .expect("base32 secret");
    let totp = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes).expect("160 bits");
    totp.generate(u64::try_from(srv.clock.now().unix_timestamp()).unwrap())
}

fn secret_of(html: &str) -> String {
    let marker = "id=\"totp-secret\" class=\"secret\" value=\"";
    let at = html.find(marker).expect("the setup key") + marker.len();
    html[at..].split('"').next().unwrap().to_owned()
}

/// The recovery codes a page lists.
fn codes_of(html: &str) -> Vec<String> {
    html.split("<li><code>")
        .skip(1)
        .map(|rest| rest.split('<').next().unwrap().to_owned())
        .collect()
}

/// Signs in a new browser with the password, then posts `field` = `value` on the two-factor
/// page; returns the status of that answer and whether the browser is signed in.
async fn second_step(srv: &TestServer, field: &str, value: &str) -> (u16, bool) {
    let client = browser();
    let password = sign_in(srv, &client, &ALICE).await;
    assert_eq!(location(&password), "/sessions/two-factor");
    let answer = post(
        srv,
        &client,
        "/sessions/two-factor",
        "/sessions/two-factor",
        &[(field, value)],
    )
    .await;
    let status = answer.status().as_u16();
    let (_, settings) = get(srv, &client, "/settings/security").await;
    (status, settings.contains("Password and authentication"))
}

/// A browser signed in as alice, who has no two-factor authentication yet.
async fn alice(srv: &TestServer) -> Client {
    let client = browser();
    let response = sign_in(srv, &client, &ALICE).await;
    assert_eq!(location(&response), "/login");
    client
}

/// Enrols alice; returns her secret and recovery codes.
async fn enrol(srv: &TestServer, client: &Client) -> (String, Vec<String>) {
    let (status, html) = get(srv, client, SETUP).await;
    assert_eq!(status, 200);
    let secret = secret_of(&html);
    let code = code_now(srv, &secret);
    let fields = [
        ("authenticity_token", token_of(&html)),
        ("secret", secret.clone()),
        ("app_otp", code),
    ];
    let enabled = client
        .post(srv.url("/settings/security/two-factor"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(enabled.status(), 200);
    let codes = codes_of(&enabled.text().await.unwrap());
    (secret, codes)
}

#[tokio::test]
async fn enrolment_shows_a_qr_code_and_turns_on_only_with_a_right_code() {
    let srv = TestServer::spawn().await;
    let client = alice(&srv).await;
    let (status, html) = get(&srv, &client, SETUP).await;
    assert_eq!(status, 200);
    assert!(html.contains("<svg role=\"img\""), "{html}");
    let secret = secret_of(&html);
    assert_eq!(secret.len(), 32, "160 bits in base32: {secret}");
    // A new secret each time the page is opened.
    assert_ne!(secret_of(&get(&srv, &client, SETUP).await.1), secret);

    let wrong = client
        .post(srv.url("/settings/security/two-factor"))
        .form(&[
            ("authenticity_token", token_of(&html).as_str()),
            ("secret", secret.as_str()),
            ("app_otp", "000000"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 422);
    let again = wrong.text().await.unwrap();
    assert!(
        again.contains("Two-factor code verification failed"),
        "{again}"
    );
    assert_eq!(secret_of(&again), secret, "the same secret, to try again");
    let (_, security) = get(&srv, &client, "/settings/security").await;
    assert!(security.contains("Not enabled."));
    // Still a password-only sign-in.
    assert_eq!(location(&sign_in(&srv, &browser(), &ALICE).await), "/login");

    let (_, codes) = enrol(&srv, &client).await;
    assert_eq!(codes.len(), 16);
    for code in &codes {
        assert!(
            code.len() == 11
                && code.as_bytes()[5] == b'-'
                && code
                    .chars()
                    .filter(|c| *c != '-')
                    .all(|c| c.is_ascii_hexdigit()),
            "{code}"
        );
    }
    let (_, security) = get(&srv, &client, "/settings/security").await;
    assert!(security.contains("Enabled: sign-in asks for a code"));
    // The password alone no longer signs in.
    assert_eq!(
        location(&sign_in(&srv, &browser(), &ALICE).await),
        "/sessions/two-factor"
    );
}

#[tokio::test]
async fn a_code_signs_in_once_and_basic_auth_keeps_its_per_request_otp() {
    let srv = TestServer::spawn().await;
    let (secret, _) = enrol(&srv, &alice(&srv).await).await;
    assert_eq!(second_step(&srv, "app_otp", "000000").await, (401, false));
    let code = code_now(&srv, &secret);
    assert_eq!(second_step(&srv, "app_otp", &code).await, (303, true));
    // The same code again: refused (RFC 6238 §5.2), as a failed login.
    assert_eq!(second_step(&srv, "app_otp", &code).await, (401, false));
    // Basic auth (the Authorizations API's) takes the same, used, code on every request, as
    // GitHub does.
    for _ in 0..2 {
        let user = srv
            .client
            .get(srv.url("/authorizations"))
            .basic_auth(ALICE.login, Some(ALICE.password))
            .header("X-GitHub-OTP", &code)
            .send()
            .await
            .unwrap();
        assert_eq!(user.status(), 200);
    }
    // Three steps later, a new code signs in.
    srv.clock.advance(90);
    assert_eq!(
        second_step(&srv, "app_otp", &code_now(&srv, &secret)).await,
        (303, true)
    );
}

#[tokio::test]
async fn recovery_codes_sign_in_once_and_regenerating_kills_the_old_ones() {
    let srv = TestServer::spawn().await;
    let client = alice(&srv).await;
    let (_, codes) = enrol(&srv, &client).await;
    assert_eq!(
        second_step(&srv, "recovery_code", &codes[0]).await,
        (303, true)
    );
    assert_eq!(
        second_step(&srv, "recovery_code", &codes[0]).await,
        (401, false)
    );
    // Typed in capitals, another one works.
    assert_eq!(
        second_step(&srv, "recovery_code", &codes[1].to_uppercase()).await,
        (303, true)
    );
    let regenerated = post(
        &srv,
        &client,
        "/settings/security",
        "/settings/security/two-factor/recovery-codes",
        &[],
    )
    .await;
    assert_eq!(regenerated.status(), 200);
    let fresh = codes_of(&regenerated.text().await.unwrap());
    assert_eq!(fresh.len(), 16);
    assert!(fresh.iter().all(|code| !codes.contains(code)));
    assert_eq!(
        second_step(&srv, "recovery_code", &codes[2]).await,
        (401, false)
    );
    assert_eq!(
        second_step(&srv, "recovery_code", &fresh[0]).await,
        (303, true)
    );
}

#[tokio::test]
async fn disabling_needs_the_password() {
    let srv = TestServer::spawn().await;
    let client = alice(&srv).await;
    let (_, codes) = enrol(&srv, &client).await;
    let disable = |password: &'static str| {
        let client = client.clone();
        let srv = &srv;
        async move {
            post(
                srv,
                &client,
                "/settings/security",
                "/settings/security/two-factor/disable",
                &[("password", password)],
            )
            .await
        }
    };
    let wrong = disable("not the password").await;
    assert_eq!(wrong.status(), 401);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("The password is incorrect.")
    );
    assert_eq!(
        location(&sign_in(&srv, &browser(), &ALICE).await),
        "/sessions/two-factor"
    );
    let done = disable(ALICE.password).await;
    assert_eq!(
        location(&done),
        "/settings/security?notice=two-factor-disabled"
    );
    let (_, security) = get(&srv, &client, location(&done)).await;
    assert!(security.contains("Two-factor authentication is off"));
    assert!(security.contains("Not enabled."));
    assert_eq!(location(&sign_in(&srv, &browser(), &ALICE).await), "/login");
    // Its recovery codes went with it: enrolling again gives new ones only.
    let (_, again) = enrol(&srv, &client).await;
    assert!(again.iter().all(|code| !codes.contains(code)));
    assert_eq!(
        second_step(&srv, "recovery_code", &codes[0]).await,
        (401, false)
    );
}

#[tokio::test]
async fn the_forms_need_a_signed_in_session_and_its_authenticity_token() {
    let srv = TestServer::spawn().await;
    let stranger = browser();
    let setup = stranger.get(srv.url(SETUP)).send().await.unwrap();
    assert_eq!(setup.status(), 303);
    assert!(location(&setup).starts_with("/login?return_to="));
    let client = alice(&srv).await;
    for action in [
        "/settings/security/two-factor",
        "/settings/security/two-factor/recovery-codes",
        "/settings/security/two-factor/disable",
    ] {
        let forged = client
            .post(srv.url(action))
            .form(&[
                ("authenticity_token", "forged"),
                ("password", ALICE.password),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 422, "{action}");
        let signed_out = stranger.post(srv.url(action)).send().await.unwrap();
        assert_eq!(signed_out.status(), 303, "{action}");
    }
    // A secret the form did not come with (not base32) starts the setup again, storing nothing.
    let odd = post(
        &srv,
        &client,
        "/settings/security",
        "/settings/security/two-factor",
        &[("secret", "not base32!"), ("app_otp", "123456")],
    )
    .await;
    assert_eq!(location(&odd), SETUP);
    // Regenerating without 2FA on is not found.
    let none = post(
        &srv,
        &client,
        "/settings/security",
        "/settings/security/two-factor/recovery-codes",
        &[],
    )
    .await;
    assert_eq!(none.status(), 404);
}
