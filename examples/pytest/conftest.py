"""pytest fixtures that run grantd as the test suite's GitHub (docs/testing.md).

`grantd` starts one server for the whole session: `grantd serve --ephemeral --test-controls`
on a free loopback port, seeded with examples/test-seed.toml, its address and control token
read from the lines it prints, ready once `GET /healthz` answers. Every test then starts from
the seed's state (`reset_grantd`, autouse): no token, code or clock change leaks from one test
into the next. Set GRANTD_BIN to the binary (default: `grantd` on the PATH).
"""

import os
import re
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests

SEED = Path(__file__).resolve().parent.parent / "test-seed.toml"


class Grantd:
    """A running grantd: its URLs and its test controls."""

    def __init__(self, url, control_token):
        self.url = url
        # The GitHub Enterprise Server form PyGithub and octokit take as their base URL.
        self.api_url = f"{url}/api/v3"
        self.controls = requests.Session()
        self.controls.headers["Authorization"] = f"Bearer {control_token}"

    def control(self, method, path, json=None, expected=200):
        res = self.controls.request(method, f"{self.url}/_grantd{path}", json=json, timeout=10)
        assert res.status_code == expected, f"{method} {path}: {res.status_code} {res.text}"
        return res.json() if res.content else None

    def reset(self):
        self.control("POST", "/reset", expected=204)
        self.control("DELETE", "/requests", expected=204)

    def advance_clock(self, seconds):
        return self.control("POST", "/clock/advance", {"seconds": seconds})

    def approve_device(self, user_code, login):
        self.control("POST", "/device/approve", {"user_code": user_code, "login": login},
                     expected=204)

    def approve_web_flow(self, authorize_url, login):
        """What a browser and `login` would do with the app's authorize URL: approve it, and
        return the callback URL (with `code` and `state`) GitHub would redirect to."""
        asked = {k: v[0] for k, v in parse_qs(urlparse(authorize_url).query).items()}
        body = {"client_id": asked["client_id"], "login": login}
        if "scope" in asked:
            body["scopes"] = [s for s in re.split(r"[ ,]+", asked["scope"]) if s]
        for key in ("redirect_uri", "state", "code_challenge", "code_challenge_method"):
            if key in asked:
                body[key] = asked[key]
        return self.control("POST", "/oauth/authorize", body, expected=201)["redirect_url"]

    def mint(self, login, client_id, scopes=()):
        body = {"login": login, "client_id": client_id, "scopes": list(scopes)}
        return self.control("POST", "/tokens", body, expected=201)

    def requests(self):
        return self.control("GET", "/requests")["requests"]

    def add_fault(self, match, fault, **fields):
        """Makes the requests `match` names (`api`, `token`, … or "GET /user") fail the way
        GitHub fails: `fault` is `status` (with `status`), `rate_limit`, `latency`, … with
        `count=N` for the next N only (docs/testing.md). A reset clears them."""
        return self.control("POST", "/faults", {"match": match, "fault": fault, **fields},
                            expected=201)

    def clear_faults(self):
        self.control("DELETE", "/faults", expected=204)


@pytest.fixture(scope="session")
def grantd():
    binary = os.environ.get("GRANTD_BIN", "grantd")
    server = subprocess.Popen(
        [binary, "serve", "--ephemeral", "--test-controls", "--listen", "127.0.0.1:0",
         "--seed", str(SEED)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        token = address = None
        # The token comes before the address; the seed's report before both.
        for line in server.stdout:
            if line.startswith("grantd control token: "):
                token = line.split(": ", 1)[1].strip()
            found = re.match(r"grantd listening on (\S+)", line)
            if found:
                address = found.group(1)
                break
        assert token and address, f"grantd exited ({server.wait()}) before listening"
        url = f"http://{address}"
        deadline = time.monotonic() + 30
        while requests.get(f"{url}/healthz", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, "grantd never became ready"
            time.sleep(0.01)
        yield Grantd(url, token)
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(autouse=True)
def reset_grantd(grantd):
    """Each test starts from the seed (a few milliseconds)."""
    grantd.reset()
    yield
