"""An app's GitHub sign-in and token code, tested against grantd (examples/pytest/conftest.py).

`SignIn` stands in for the code under test: a web app's sign-in with Authlib, a CLI's device
flow with requests, and its use of tokens with PyGithub. The tests replace the browser and the
user with grantd's test controls, and waiting with its clock.
"""

import os

import pytest
import requests
from github import (Auth, BadCredentialsException, Github, GithubException,
                    RateLimitExceededException)

# Authlib refuses plain-HTTP token endpoints unless told that this is a test.
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

from authlib.integrations.requests_client import OAuth2Session  # noqa: E402

# examples/test-seed.toml
OAUTH_APP = ("0a1b2c3d4e5f6a7b8c9d", "1111111111111111111111111111111111111111")
GITHUB_APP = ("Iv1.a1b2c3d4e5f6a7b8", "2222222222222222222222222222222222222222")
CALLBACK = "http://localhost:3000/callback"


class SignIn:
    """The app under test, configured with grantd's URL where GitHub's would be."""

    def __init__(self, base_url, api_url, app):
        self.base_url, self.api_url = base_url, api_url
        self.client_id, self.client_secret = app
        self.oauth = OAuth2Session(self.client_id, self.client_secret, redirect_uri=CALLBACK,
                                   scope="read:user", code_challenge_method="S256")

    def authorize_url(self, verifier):
        url, state = self.oauth.create_authorization_url(
            f"{self.base_url}/login/oauth/authorize", code_verifier=verifier)
        return url, state

    def finish(self, callback_url, verifier):
        return self.oauth.fetch_token(f"{self.base_url}/login/oauth/access_token",
                                      authorization_response=callback_url,
                                      code_verifier=verifier)

    def refresh(self, refresh_token):
        return self.oauth.refresh_token(f"{self.base_url}/login/oauth/access_token",
                                        refresh_token=refresh_token)

    def login_of(self, token):
        # The app handles GitHub's failures itself: PyGithub's own retries would wait out a
        # rate limit's reset.
        return Github(base_url=self.api_url, auth=Auth.Token(token),
                      retry=None).get_user().login

    def app_token(self, method, token):
        """Check (POST) or revoke (DELETE) a token with the app's own credentials."""
        return requests.request(method, f"{self.api_url}/applications/{self.client_id}/token",
                                auth=(self.client_id, self.client_secret),
                                json={"access_token": token}, timeout=10).status_code


@pytest.fixture
def web_app(grantd):
    return SignIn(grantd.url, grantd.api_url, OAUTH_APP)


@pytest.fixture
def github_app(grantd):
    return SignIn(grantd.url, grantd.api_url, GITHUB_APP)


VERIFIER = "a-pkce-verifier-of-at-least-forty-three-characters-0123456789"


def test_web_flow_signs_in(grantd, web_app):
    url, state = web_app.authorize_url(VERIFIER)
    callback = grantd.approve_web_flow(url, "octocat")
    assert callback.startswith(f"{CALLBACK}?code=") and f"state={state}" in callback
    token = web_app.finish(callback, VERIFIER)
    assert token["access_token"].startswith("gho_")
    assert token["scope"] == "read:user"
    assert web_app.login_of(token["access_token"]) == "octocat"


def test_device_flow_signs_in_once_approved(grantd):
    codes = requests.post(f"{grantd.url}/login/device/code",
                          data={"client_id": OAUTH_APP[0], "scope": "repo"},
                          headers={"Accept": "application/json"}, timeout=10).json()

    def poll():
        return requests.post(
            f"{grantd.url}/login/oauth/access_token",
            data={"client_id": OAUTH_APP[0], "device_code": codes["device_code"],
                  "grant_type": "urn:ietf:params:oauth:grant-type:device_code"},
            headers={"Accept": "application/json"}, timeout=10).json()

    assert poll()["error"] == "authorization_pending"
    grantd.approve_device(codes["user_code"], "octocat")
    # A CLI waits `interval` seconds between polls: the clock moves instead.
    grantd.advance_clock(codes["interval"])
    token = poll()
    assert token["scope"] == "repo"
    assert Github(base_url=grantd.api_url,
                  auth=Auth.Token(token["access_token"])).get_user().login == "octocat"


def test_expiring_tokens_refresh_and_expire_by_the_clock(grantd, github_app):
    url, _ = github_app.authorize_url(VERIFIER)
    token = github_app.finish(grantd.approve_web_flow(url, "octocat"), VERIFIER)
    assert token["access_token"].startswith("ghu_") and token["expires_in"] == 8 * 3600

    refreshed = github_app.refresh(token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]
    assert github_app.login_of(refreshed["access_token"]) == "octocat"

    grantd.advance_clock(8 * 3600 + 1)
    with pytest.raises(BadCredentialsException):
        github_app.login_of(refreshed["access_token"])
    # The refresh token lives six months: the app refreshes and carries on.
    again = github_app.refresh(refreshed["refresh_token"])
    assert github_app.login_of(again["access_token"]) == "octocat"


def test_the_app_checks_and_revokes_tokens(grantd, web_app):
    token = grantd.mint("octocat", OAUTH_APP[0], ["repo"])["access_token"]
    assert web_app.app_token("POST", token) == 200
    assert web_app.app_token("DELETE", token) == 204
    assert web_app.app_token("POST", token) == 404
    with pytest.raises(BadCredentialsException):
        web_app.login_of(token)
    # The journal records what the app sent (routes and statuses, never the token).
    sent = [(r["method"], r["status"]) for r in grantd.requests()
            if r["route"] == "/api/v3/applications/{client_id}/token"]
    assert sent == [("POST", 200), ("DELETE", 204), ("POST", 404)]
    assert token not in str(grantd.requests())


def test_the_app_sees_github_failing(grantd, web_app):
    token = grantd.mint("octocat", OAUTH_APP[0])["access_token"]
    # The next API request is rate limited, as GitHub does: 403 with x-ratelimit-remaining 0.
    grantd.add_fault("api", "rate_limit", count=1)
    with pytest.raises(RateLimitExceededException) as limited:
        web_app.login_of(token)
    assert limited.value.status == 403
    assert web_app.login_of(token) == "octocat"
    # GitHub's front end failing on one route, until the test clears it.
    grantd.add_fault("GET /user", "status", status=502)
    for _ in range(2):
        with pytest.raises(GithubException) as failed:
            web_app.login_of(token)
        assert (failed.value.status, failed.value.data) == (502, {"message": "Server Error"})
    grantd.clear_faults()
    assert web_app.login_of(token) == "octocat"


LEFT_BEHIND = {}


def test_a_test_leaves_a_token_and_moves_the_clock(grantd):
    LEFT_BEHIND["token"] = grantd.mint("octocat", OAUTH_APP[0])["access_token"]
    grantd.advance_clock(3600)


def test_the_next_test_starts_from_the_seed(grantd):
    # pytest runs a file's tests in order: this one follows the test above.
    with pytest.raises(BadCredentialsException):
        Github(base_url=grantd.api_url, auth=Auth.Token(LEFT_BEHIND["token"])).get_user().login
    assert abs(grantd.control("GET", "/clock")["offset_seconds"]) <= 1
