"""What PyGithub raises when grantd's test controls make a request fail.

Run by tests/api/faults.rs:

    python pygithub_faults.py BASE_URL TOKEN TIMES LOGIN PASSWORD

Reads the token's user (get_user().login, one GET /user each) TIMES times, then signs LOGIN
in with PASSWORD over Basic auth once. Retries are off (retry=None), so each fault reaches
the caller as GitHub's own error would. The last line of standard output is a JSON array with,
per call, the login read or the exception: its class, status, data and the headers that
matter.
"""

import json
import sys

from github import Auth, Github, GithubException

HEADERS = ("x-ratelimit-remaining", "x-ratelimit-reset", "retry-after", "x-github-otp")


def attempt(github):
    try:
        return {"login": github.get_user().login}
    except GithubException as error:
        headers = {k.lower(): v for k, v in (error.headers or {}).items()}
        return {
            "exception": type(error).__name__,
            "status": error.status,
            "data": error.data,
            "headers": {name: headers[name] for name in HEADERS if name in headers},
        }


def main(argv):
    base_url, token, times, login, password = argv[1:6]
    results = []
    with_token = Github(base_url=base_url, auth=Auth.Token(token), retry=None)
    for _ in range(int(times)):
        results.append(attempt(with_token))
    with_password = Github(base_url=base_url, auth=Auth.Login(login, password), retry=None)
    results.append(attempt(with_password))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
