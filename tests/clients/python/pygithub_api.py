"""PyGithub against grantd's API, as a script holding a token calls it.

Run by tests/api/python_clients.rs:

    python pygithub_api.py BASE_URL TOKEN LOGIN

BASE_URL is the GitHub Enterprise Server form, http://HOST:PORT/api/v3. In this order:
get_rate_limit() anonymously and with TOKEN (neither counts against a limit, so the test
compares them with what it read just before), get_user() (the token's user, completed
through GET /user), get_user(LOGIN), then get_user of an unknown login and get_user() with a
token that is none (it fails its checksum), which PyGithub must raise as GitHub's 404 and
401. The last line of
standard output is JSON with what PyGithub read.
"""

import json
import sys
from importlib.metadata import version

from github import Auth, BadCredentialsException, Github, UnknownObjectException


def rate(rate):
    return {
        "limit": rate.limit,
        "remaining": rate.remaining,
        "used": rate.used,
        "reset": int(rate.reset.timestamp()),
    }


def user(named):
    return {
        "login": named.login,
        "id": named.id,
        "node_id": named.node_id,
        "type": named.type,
        "site_admin": named.site_admin,
        "name": named.name,
        "url": named.url,
        "html_url": named.html_url,
        "avatar_url": named.avatar_url,
    }


def main(argv):
    base_url, token, login = argv[1:4]
    anonymous = Github(base_url=base_url).get_rate_limit().resources
    github = Github(base_url=base_url, auth=Auth.Token(token))
    limits = github.get_rate_limit().resources
    me = github.get_user()
    result = {
        "pygithub": version("PyGithub"),
        "anonymous": {"core": rate(anonymous.core)},
        "rate": {"core": rate(limits.core), "graphql": rate(limits.graphql)},
        "me": user(me),
        "scopes": github.oauth_scopes,
        "user": user(github.get_user(login)),
    }
    try:
        github.get_user("no-such-user-here")
    except UnknownObjectException as error:
        result["unknown"] = {"status": error.status, "message": error.data["message"]}
    bad = Github(base_url=base_url, auth=Auth.Token("gho_" + "0" * 36))
    try:
        bad.get_user().login
    except BadCredentialsException as error:
        result["bad_token"] = {"status": error.status, "message": error.data["message"]}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
