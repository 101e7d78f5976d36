"""PyGithub's ApplicationOAuth against grantd, as a GitHub App's sign-in code runs it.

Run by tests/api/python_clients.rs, in two steps around the browser's consent:

    python pygithub_oauth.py login-url BASE_URL CLIENT_ID CLIENT_SECRET REDIRECT_URI STATE
        prints the URL of get_login_url (the test opens it in a signed-in browser);
    python pygithub_oauth.py exchange BASE_URL CLIENT_ID CLIENT_SECRET CODE
        get_access_token(CODE), then refresh_access_token with its refresh token, then
        checks that the used refresh token is refused (bad_refresh_token) and that the new
        token reads GET /user. The last line of standard output is JSON with both pairs.

BASE_URL is the GitHub Enterprise Server form, http://HOST:PORT/api/v3: PyGithub then
sends the OAuth requests to http://HOST:PORT/login/oauth/…, as on GHES.
"""

import json
import sys
from importlib.metadata import version

from github import Auth, Github, GithubException


def oauth_app(base_url, client_id, client_secret):
    return Github(base_url=base_url).get_oauth_application(client_id, client_secret)


def pair(token):
    return {
        "token": token.token,
        "type": token.type,
        "scope": token.scope,
        "expires_in": token.expires_in,
        "refresh_token": token.refresh_token,
        "refresh_expires_in": token.refresh_expires_in,
    }


def main(argv):
    step, base_url, client_id, client_secret = argv[1:5]
    app = oauth_app(base_url, client_id, client_secret)
    if step == "login-url":
        redirect_uri, state = argv[5:7]
        print(app.get_login_url(redirect_uri=redirect_uri, state=state))
        return 0
    if step != "exchange":
        print(f"unknown step {step!r}", file=sys.stderr)
        return 2
    code = argv[5]
    first = app.get_access_token(code)
    assert first.token.startswith("ghu_"), first.token
    assert first.refresh_token.startswith("ghr_"), first.refresh_token
    second = app.refresh_access_token(first.refresh_token)
    assert second.token.startswith("ghu_") and second.token != first.token
    assert second.refresh_token.startswith("ghr_") and second.refresh_token != first.refresh_token
    try:
        app.refresh_access_token(first.refresh_token)
    except GithubException as error:
        assert error.status == 200, error.status
        assert error.data["error"] == "bad_refresh_token", error.data
    else:
        raise AssertionError("a used refresh token was accepted")
    login = Github(base_url=base_url, auth=Auth.Token(second.token)).get_user().login
    print(json.dumps({"first": pair(first), "second": pair(second), "login": login,
                      "pygithub": version("PyGithub")}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
