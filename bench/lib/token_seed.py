#!/usr/bin/env python3
"""What bench/token-endpoint prepares before its timed runs, and checks after them.

    token_seed.py codes   DB_URL CLIENT_ID USERS N OUT     # N authorization codes of USERS users
    token_seed.py refresh DB_URL CLIENT_ID N OUT           # a refresh token for each of the app's first N tokens
    token_seed.py device  BASE_URL CLIENT_ID N OUT         # N device codes, through POST /login/device/code
    token_seed.py committed DB_URL FILE...                 # how many of the tokens in FILEs are stored

Codes and refresh tokens are written straight into their tables, as grantd itself stores them
(only their SHA-256; the code's scopes normalised and space-separated; Unix-second times):
driving GET /login/oauth/authorize for each of tens of thousands of codes would take longer than
the timed runs themselves. The codes belong to USERS users made here (`codeuser-N`, without a
password: they never sign in), in turn, as a sign-in's traffic comes from many users; each code
gets a scope set of its own (a distinct subset of 24 scopes that imply nothing), so the tokens
the exchanges make never reach GitHub's limit of ten per user, app and scope set, and every one
of them must still be there after the run.

SQLite through the standard library; PostgreSQL through psql (COPY), as bench/run does.
"""
import hashlib
import http.client
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.parse
import zlib

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# Scopes that imply no other (src/domain/scope.rs), so that every subset is its own scope set.
LEAVES = [
    "repo:status", "repo_deployment", "public_repo", "repo:invite", "security_events",
    "read:repo_hook", "read:org", "manage_runners:org", "read:public_key", "admin:org_hook",
    "gist", "notifications", "read:user", "user:email", "user:follow", "read:project",
    "delete_repo", "read:packages", "delete:packages", "read:gpg_key", "read:ssh_signing_key",
    "codespace:secrets", "workflow", "read:discussion",
]
REDIRECT_URI = "http://127.0.0.1/callback"


def github_token(prefix: str) -> str:
    """A token in GitHub's format (bench/gen-tokens.py, src/domain/token.rs)."""
    body = "".join(secrets.choice(BASE62) for _ in range(30))
    value = zlib.crc32(body.encode("ascii"))
    digits = []
    for _ in range(6):
        digits.append(BASE62[value % 62])
        value //= 62
    return prefix + body + "".join(reversed(digits))


def sha256(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def is_postgres(url: str) -> bool:
    return url.startswith("postgres")


def sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite://").split("?")[0]


def psql(url: str, sql: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        ["psql", "-v", "ON_ERROR_STOP=1", "-qAtX", url, "-c", sql] if stdin is None
        else ["psql", "-v", "ON_ERROR_STOP=1", "-qAtX", url, "-f", "-"],
        input=stdin if stdin is not None else None, capture_output=True, text=True,
        timeout=300, check=True,
    )
    return done.stdout.strip()


def query_one(url: str, sql: str, args: tuple) -> str:
    if is_postgres(url):
        # Values here are client ids and logins the bench made itself (no quotes in them).
        for arg in args:
            sql = sql.replace("?", "'" + str(arg).replace("'", "''") + "'", 1)
        return psql(url, sql)
    import sqlite3
    db = sqlite3.connect(sqlite_path(url))
    row = db.execute(sql, args).fetchone()
    db.close()
    return str(row[0])


def insert_rows(url: str, table: str, columns: list[str], rows: list[tuple]) -> None:
    if is_postgres(url):
        def cell(v):
            if isinstance(v, bytes):
                return "\\\\x" + v.hex()
            return "\\N" if v is None else str(v)
        data = "\n".join("\t".join(cell(v) for v in row) for row in rows)
        psql(url, "", stdin=f"COPY {table} ({', '.join(columns)}) FROM STDIN;\n{data}\n\\.\n")
        return
    import sqlite3
    db = sqlite3.connect(sqlite_path(url))
    marks = ", ".join("?" for _ in columns)
    with db:
        db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
    db.close()


def codes(url: str, client_id: str, users: int, n: int, out: str) -> None:
    if n >= 2 ** len(LEAVES):
        sys.exit(f"at most {2 ** len(LEAVES) - 1} codes")
    app = query_one(url, "SELECT id FROM apps WHERE client_id = ?", (client_id,))
    now = int(time.time())
    insert_rows(url, "users", ["login", "login_key", "created_at", "updated_at"],
                [(f"codeuser-{u}", f"codeuser-{u}", now, now) for u in range(users)])
    first = int(query_one(url, "SELECT min(id) FROM users WHERE login_key LIKE ?", ("codeuser-%",)))
    expires = now + 600
    plain, rows = [], []
    for i in range(1, n + 1):
        code = secrets.token_hex(10)
        scopes = " ".join(s for bit, s in enumerate(LEAVES) if i >> bit & 1)
        plain.append(code)
        rows.append((sha256(code), int(app), first + i % users, REDIRECT_URI, scopes, None, expires))
    insert_rows(url, "oauth_codes", ["code_hash", "app_id", "user_id", "redirect_uri", "scopes",
                                     "code_challenge", "expires_at"], rows)
    with open(out, "w") as f:
        f.write("\n".join(plain) + "\n")


def refresh(url: str, client_id: str, n: int, out: str) -> None:
    app = query_one(url, "SELECT id FROM apps WHERE client_id = ?", (client_id,))
    sql = f"SELECT id FROM authorizations WHERE app_id = {int(app)} ORDER BY id LIMIT {int(n)}"
    if is_postgres(url):
        ids = [int(x) for x in psql(url, sql).split()]
    else:
        import sqlite3
        db = sqlite3.connect(sqlite_path(url))
        ids = [r[0] for r in db.execute(sql)]
        db.close()
    if len(ids) < n:
        sys.exit(f"the app holds {len(ids)} tokens, not {n}")
    now = int(time.time())
    plain, rows = [], []
    for authorization in ids:
        token = github_token("ghr_")
        plain.append(token)
        rows.append((sha256(token), authorization, "web", now, now + 15897600))
    insert_rows(url, "refresh_tokens",
                ["refresh_hash", "authorization_id", "flow", "created_at", "expires_at"], rows)
    with open(out, "w") as f:
        f.write("\n".join(plain) + "\n")


def device(base: str, client_id: str, n: int, out: str) -> None:
    parsed = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    body = urllib.parse.urlencode({"client_id": client_id, "scope": "repo"})
    headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
    plain = []
    for _ in range(n):
        conn.request("POST", "/login/device/code", body, headers)
        answer = conn.getresponse()
        data = json.loads(answer.read())
        if answer.status != 200 or "device_code" not in data:
            sys.exit(f"POST /login/device/code: {answer.status} {data}")
        plain.append(data["device_code"])
    with open(out, "w") as f:
        f.write("\n".join(plain) + "\n")


def committed(url: str, files: list[str]) -> None:
    """Prints how many tokens the files hold and how many of them are stored."""
    hashes = set()
    for name in files:
        with open(name) as f:
            hashes.update(sha256(line.strip()) for line in f if line.strip())
    if is_postgres(url):
        data = "\n".join("\\\\x" + h.hex() for h in hashes)
        found = psql(url, "", stdin=(
            "CREATE TEMP TABLE answered (h bytea);\n"
            f"COPY answered (h) FROM STDIN;\n{data}\n\\.\n"
            "SELECT count(*) FROM answered JOIN authorizations a ON a.token_hash = answered.h;\n"))
    else:
        import sqlite3
        db = sqlite3.connect(sqlite_path(url))
        found = sum(
            db.execute("SELECT count(*) FROM authorizations WHERE token_hash = ?", (h,)).fetchone()[0]
            for h in hashes)
        db.close()
    print(json.dumps({"answered": len(hashes), "committed": int(found)}))


def main() -> None:
    kind, args = sys.argv[1], sys.argv[2:]
    if kind == "codes":
        codes(args[0], args[1], int(args[2]), int(args[3]), args[4])
    elif kind == "refresh":
        refresh(args[0], args[1], int(args[2]), args[3])
    elif kind == "device":
        device(args[0], args[1], int(args[2]), args[3])
    elif kind == "committed":
        committed(args[0], args[1:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    os.umask(0o077)
    main()
