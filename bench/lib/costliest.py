#!/usr/bin/env python3
"""Times the costliest inputs grantd accepts (bench/costliest runs it; standard library only).

    costliest.py --url http://HOST:PORT --client-id ID --client-secret S --password P
                 --token TOKEN --authorizations N --repeat 20 --out-dir DIR [--facts JSON]

Each input is sent --repeat times on one keep-alive connection after one untimed send; the time
is from the first byte sent to the last byte of the answer read, on loopback. Requests signed in
with a password pay one argon2 verification each, so each such group has a baseline: the same
request with a short body. What the input itself costs is its median minus that baseline's.
"""
import argparse
import base64
import http.client
import json
import os
import secrets
import statistics
import sys
import time
import urllib.parse

BODY_LIMIT = 1024 * 1024  # src/http/mod.rs BODY_LIMIT
TARGET_MS = 50.0
# Every scope grantd knows (src/domain/scope.rs), for the list that makes normalisation work.
ALL_SCOPES = [
    "repo", "repo:status", "repo_deployment", "public_repo", "repo:invite", "security_events",
    "admin:repo_hook", "write:repo_hook", "read:repo_hook", "admin:org", "write:org", "read:org",
    "manage_runners:org", "admin:public_key", "write:public_key", "read:public_key",
    "admin:org_hook", "gist", "notifications", "user", "read:user", "user:email", "user:follow",
    "project", "read:project", "delete_repo", "write:packages", "read:packages",
    "delete:packages", "admin:gpg_key", "write:gpg_key", "read:gpg_key",
]


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def fill_list(prefix: str, names, suffix: str) -> bytes:
    """`prefix` + a JSON array of `names` repeated in turn + `suffix`, as long as fits the limit."""
    out = bytearray(prefix.encode() + b"[")
    end = b"]" + suffix.encode()
    i = 0
    while True:
        item = json.dumps(names[i % len(names)]).encode()
        sep = b"," if i else b""
        if len(out) + len(sep) + len(item) + len(end) > BODY_LIMIT:
            break
        out += sep + item
        i += 1
    return bytes(out + end)


def count_items(body: bytes, key: str) -> int:
    return len(json.loads(body)[key])


class Bench:
    def __init__(self, a):
        self.a = a
        u = urllib.parse.urlsplit(a.url)
        self.host, self.port = u.hostname, u.port
        self.conn = None
        self.user = basic("bench", a.password)
        self.app = basic(a.client_id, a.client_secret)
        self.rows = []

    def send(self, method, path, body, auth):
        headers = {"Accept": "application/vnd.github+json", "User-Agent": "grantd-costliest",
                   "Authorization": auth}
        if body is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                self.conn.connect()
            try:
                started = time.perf_counter()
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                payload = response.read()
                elapsed = time.perf_counter() - started
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                continue
            if response.will_close:
                self.conn.close()
                self.conn = None
            return response.status, payload, elapsed
        raise RuntimeError("unreachable")

    def case(self, name, make, expect, baseline=None, note=""):
        """make(i) -> (method, path, body bytes or None, auth); sent once untimed, then timed."""
        times, statuses, size, first_error = [], {}, 0, None
        for i in range(self.a.repeat + 1):
            method, path, body, auth = make(i)
            size = len(body) if body else 0
            status, payload, elapsed = self.send(method, path, body, auth)
            statuses[status] = statuses.get(status, 0) + 1
            if status not in expect and first_error is None:
                first_error = f"{status} {payload[:300].decode(errors='replace')}"
            if i > 0:
                times.append(elapsed * 1000)
        row = {
            "input": name, "method": method, "path": path if len(path) < 80 else path[:77] + "...",
            "body_bytes": size, "statuses": {str(k): v for k, v in statuses.items()},
            "expected": sorted(expect), "ok": first_error is None,
            "min_ms": round(min(times), 2), "median_ms": round(statistics.median(times), 2),
            "max_ms": round(max(times), 2), "baseline": baseline, "note": note,
        }
        if first_error:
            row["first_error"] = first_error
        self.rows.append(row)
        print(f"  {name}: {row['statuses']} median {row['median_ms']} ms (min {row['min_ms']}, "
              f"max {row['max_ms']}){'' if row['ok'] else ' !!! ' + first_error}", file=sys.stderr)
        return row


def run(a):
    b = Bench(a)
    cid = a.client_id
    tag = secrets.token_hex(3)

    def uniq(i, what="n"):
        return f"{what}-{tag}-{i:04d}"

    # Baselines.
    b.case("baseline: create, short body (one argon2)", lambda i: (
        "POST", "/authorizations",
        json.dumps({"note": uniq(i, "short"), "scopes": ["repo"]}).encode(), b.user), {201})
    b.case("baseline: check, short body (no argon2)", lambda i: (
        "POST", f"/applications/{cid}/token", json.dumps({"access_token": a.token}).encode(),
        b.app), {200})
    b.case("baseline: get-or-create (new), short body (one argon2)", lambda i: (
        "PUT", f"/authorizations/clients/{cid}/{uniq(i, 'short-fp')}",
        json.dumps({"client_secret": a.client_secret, "scopes": ["repo"]}).encode(), b.user),
        {201})
    b.case("baseline: list, per_page=1", lambda i: (
        "GET", "/authorizations?per_page=1", None, b.user), {200})

    # The longest scope lists a 1 MiB body holds.
    def create_scopes(names, what):
        def make(i):
            body = fill_list(f'{{"note":"{uniq(i, what)}","scopes":', names, "}")
            return "POST", "/authorizations", body, b.user
        return make
    body = create_scopes(["repo"], "r")(0)[2]
    n_repo = count_items(body, "scopes")
    b.case(f"create, scopes = {n_repo:,} × \"repo\"", create_scopes(["repo"], "r"), {201},
           "baseline: create, short body (one argon2)")
    body = create_scopes(ALL_SCOPES, "a")(0)[2]
    n_all = count_items(body, "scopes")
    b.case(f"create, scopes = {n_all:,} × every scope in turn", create_scopes(ALL_SCOPES, "a"),
           {201}, "baseline: create, short body (one argon2)")

    # add_scopes of the same size, on one authorization.
    status, payload, _ = b.send("POST", "/authorizations",
                                json.dumps({"note": uniq(0, "target"), "scopes": ["gist"]}).encode(),
                                b.user)
    auth_id = json.loads(payload)["id"] if status == 201 else 0
    add_body = fill_list('{"add_scopes":', ALL_SCOPES, "}")
    b.case(f"add_scopes, {count_items(add_body, 'add_scopes'):,} × every scope in turn",
           lambda i: ("PATCH", f"/authorizations/{auth_id}", add_body, b.user), {200},
           "baseline: create, short body (one argon2)")

    # Get-or-create with a long list: created (a new fingerprint each time), then found.
    def goc(fixed_fp=None):
        def make(i):
            fp = fixed_fp or uniq(i, "fp")
            body = fill_list(f'{{"client_secret":"{a.client_secret}","scopes":', ALL_SCOPES, "}")
            return "PUT", f"/authorizations/clients/{cid}/{fp}", body, b.user
        return make
    n_goc = count_items(goc()(0)[2], "scopes")
    b.case(f"get-or-create (new), scopes = {n_goc:,}", goc(), {201},
           "baseline: get-or-create (new), short body (one argon2)")
    b.case(f"get-or-create (existing), scopes = {n_goc:,}", goc(uniq(0, "same")), {200, 201},
           "baseline: get-or-create (new), short body (one argon2)", "the first send creates it, untimed")

    # The longest note, note_url and fingerprint accepted: 255, 2,048 and 255 characters, the
    # note and fingerprint in 4-byte UTF-8 characters (1,020 bytes each).
    wide = "\U0001D11E"

    def longest(i):
        mark = f"{i:04d}"
        note = wide * (255 - len(mark)) + mark
        fp = wide * (255 - len(mark) - len(tag)) + tag + mark
        url = "https://example.com/" + "a" * (2048 - len("https://example.com/"))
        body = json.dumps({"client_secret": a.client_secret, "note": note, "note_url": url,
                           "scopes": ["repo"]}, ensure_ascii=False).encode()
        return "PUT", f"/authorizations/clients/{cid}/{urllib.parse.quote(fp)}", body, b.user
    b.case("get-or-create, longest note + note_url + fingerprint", longest, {201},
           "baseline: get-or-create (new), short body (one argon2)")

    # A token check whose 1 MiB body is mostly other keys, or one long array under another key.
    def other_keys(i):
        out = bytearray(json.dumps({"access_token": a.token}).encode()[:-1])
        k = 0
        while True:
            item = f',"k{k}":0'.encode()
            if len(out) + len(item) + 1 > BODY_LIMIT:
                break
            out += item
            k += 1
        return "POST", f"/applications/{cid}/token", bytes(out + b"}"), b.app
    keys_body = other_keys(0)[2]
    b.case(f"check, 1 MiB body: access_token + {len(json.loads(keys_body)) - 1:,} other keys",
           lambda i: ("POST", f"/applications/{cid}/token", keys_body, b.app), {200},
           "baseline: check, short body (no argon2)")
    array_body = fill_list(f'{{"access_token":"{a.token}","x":', [0], "}")
    b.case(f"check, 1 MiB body: access_token + an array of {count_items(array_body, 'x'):,} numbers",
           lambda i: ("POST", f"/applications/{cid}/token", array_body, b.app), {200},
           "baseline: check, short body (no argon2)")

    # Read and refused: 1 MiB of nesting, 1 MiB of one key repeated.
    depth = (BODY_LIMIT - len('{"x":}')) // 2
    deep = ('{"x":' + "[" * depth + "]" * depth + "}").encode()
    b.case(f"check, 1 MiB body nested {depth:,} deep", lambda i: (
        "POST", f"/applications/{cid}/token", deep, b.app), {400, 422},
        "baseline: check, short body (no argon2)")
    dup = bytearray(b'{"access_token":"' + a.token.encode() + b'"')
    while len(dup) + len(b',"note":"x"') + 1 <= BODY_LIMIT:
        dup += b',"note":"x"'
    dup = bytes(dup + b"}")
    b.case(f"check, 1 MiB body: one key {dup.count(b'note'):,} times", lambda i: (
        "POST", f"/applications/{cid}/token", dup, b.app), {200, 400, 422},
        "baseline: check, short body (no argon2)")
    def dup_create(i):
        out = bytearray(f'{{"note":"{uniq(i, "dup")}"'.encode())
        while len(out) + len(b',"scopes":["repo"]') + 1 <= BODY_LIMIT:
            out += b',"scopes":["repo"]'
        return "POST", "/authorizations", bytes(out + b"}"), b.user
    b.case(f"create, 1 MiB body: \"scopes\" {dup_create(0)[2].count(b'scopes'):,} times",
           dup_create, {201, 400, 422}, "baseline: create, short body (one argon2)")

    # The list on a user with many authorizations: the first page and the last.
    last = max(1, -(-a.authorizations // 100))
    b.case(f"list, per_page=100, page 1 of {last:,}", lambda i: (
        "GET", "/authorizations?per_page=100", None, b.user), {200}, "baseline: list, per_page=1")
    b.case(f"list, per_page=100, page {last:,} (the last)", lambda i: (
        "GET", f"/authorizations?per_page=100&page={last}", None, b.user), {200},
        "baseline: list, per_page=1")
    return b.rows


def write(rows, a):
    base = {r["input"]: r["median_ms"] for r in rows}
    base_min = {r["input"]: r["min_ms"] for r in rows}
    facts = json.loads(a.facts)
    os.makedirs(a.out_dir, exist_ok=True)
    with open(os.path.join(a.out_dir, "costliest.jsonl"), "w") as f:
        f.write(json.dumps({"type": "setup", "repeat": a.repeat,
                            "authorizations": a.authorizations, **facts}) + "\n")
        for r in rows:
            f.write(json.dumps({"type": "input", **r}) + "\n")
    lines = [
        "# The costliest accepted inputs (bench/costliest)", "",
        f"{facts.get('date', '?')}, commit {facts.get('commit', '?')}, {facts.get('nproc')} CPUs "
        f"({facts.get('cpu', '?')}), load average at start {facts.get('load_avg', '?')}; SQLite, "
        f"binary {facts.get('binary')}; the bench user holds {a.authorizations:,} authorizations. "
        f"Each input sent {a.repeat} times (after one untimed send) on one keep-alive loopback "
        f"connection; times from the first byte sent to the last byte read. \"over baseline\" is "
        f"the median minus the median of the same request with a short body (argon2 included in "
        f"both where the request signs in with a password), and the min minus its min: on a "
        f"shared machine the min is the steadier estimate of what the input costs. Target: answered within "
        f"{TARGET_MS:.0f} ms (median).", "",
        "| input | body | status | min ms | median ms | max ms | over baseline ms (median / min) | within 50 ms |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    all_ok = True
    for r in rows:
        over = ""
        if r["baseline"]:
            over = (f"{r['median_ms'] - base[r['baseline']]:+.2f} / "
                    f"{r['min_ms'] - base_min[r['baseline']]:+.2f}")
        within = "yes" if r["median_ms"] <= TARGET_MS else "NO"
        if not r["ok"]:
            within = "WRONG STATUS"
        all_ok &= r["ok"] and r["median_ms"] <= TARGET_MS
        statuses = ", ".join(f"{k} × {v}" for k, v in sorted(r["statuses"].items()))
        lines.append(f"| {r['input']} | {r['body_bytes']:,} | {statuses} | {r['min_ms']} | "
                     f"{r['median_ms']} | {r['max_ms']} | {over} | {within} |")
    errors = [r for r in rows if not r["ok"]]
    if errors:
        lines += ["", "Unexpected answers:", ""] + [f"- {r['input']}: `{r['first_error']}`" for r in errors]
    with open(os.path.join(a.out_dir, "costliest.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all_ok else 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--client-id", required=True)
    p.add_argument("--client-secret", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--token", required=True, help="a stored token of the app, for the checks")
    p.add_argument("--authorizations", type=int, required=True)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--facts", default="{}")
    p.add_argument("--out-dir", required=True)
    a = p.parse_args()
    sys.exit(write(run(a), a))


if __name__ == "__main__":
    main()
