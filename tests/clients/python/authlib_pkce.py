"""A generic OAuth 2 client with PKCE (Authlib's requests OAuth2Session) against grantd.

Run by tests/api/python_clients.rs, in two steps around the browser's consent:

    python authlib_pkce.py authorize BASE CLIENT_ID CLIENT_SECRET REDIRECT_URI VERIFIER STATE
        prints create_authorization_url's URL (code_challenge S256 of VERIFIER);
    python authlib_pkce.py token BASE CLIENT_ID CLIENT_SECRET REDIRECT_URI VERIFIER STATE CALLBACK
        fetch_token with the callback URL the browser was sent to (and VERIFIER), then
        refresh_token; checks that the used refresh token is refused. The last line of
        standard output is JSON with both token responses.

BASE is the server's root (http://HOST:PORT): the endpoints are BASE/login/oauth/authorize
and BASE/login/oauth/access_token, as on GitHub.
"""

import json
import os
import sys

# The test server listens on loopback over plain HTTP.
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

import authlib  # noqa: E402
from authlib.integrations.base_client import OAuthError  # noqa: E402
from authlib.integrations.requests_client import OAuth2Session  # noqa: E402


def session(client_id, client_secret, redirect_uri, state):
    return OAuth2Session(
        client_id,
        client_secret,
        redirect_uri=redirect_uri,
        state=state,
        code_challenge_method="S256",
    )


def main(argv):
    step, base, client_id, client_secret, redirect_uri, verifier, state = argv[1:8]
    client = session(client_id, client_secret, redirect_uri, state)
    if step == "authorize":
        url, _ = client.create_authorization_url(
            f"{base}/login/oauth/authorize", code_verifier=verifier, state=state
        )
        print(url)
        return 0
    if step != "token":
        print(f"unknown step {step!r}", file=sys.stderr)
        return 2
    callback = argv[8]
    token_url = f"{base}/login/oauth/access_token"
    first = client.fetch_token(
        token_url, authorization_response=callback, code_verifier=verifier
    )
    assert first["access_token"].startswith("ghu_"), first
    assert first["refresh_token"].startswith("ghr_"), first
    second = client.refresh_token(token_url, refresh_token=first["refresh_token"])
    assert second["access_token"] != first["access_token"], second
    assert second["refresh_token"] != first["refresh_token"], second
    try:
        client.refresh_token(token_url, refresh_token=first["refresh_token"])
    except OAuthError as error:
        assert error.error == "bad_refresh_token", error
    else:
        raise AssertionError("a used refresh token was accepted")
    print(json.dumps({"first": dict(first), "second": dict(second),
                      "authlib": authlib.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
