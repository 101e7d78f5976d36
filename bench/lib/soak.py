#!/usr/bin/env python3
"""The soak's load, its sampler and its report (bench/soak runs it; standard library only).

    soak.py load --engine E --node PID=HOST:PORT [--node ...] --db URL_OR_PATH --client-id ID
                 --client-secret S --password P --seconds N --workers W --out FILE.jsonl
                 [--log FILE ...]
    soak.py report RESULTS_DIR

`load` runs W worker threads for N seconds. Each worker keeps one keep-alive connection per
node and repeats one cycle, moving to the next node at every step (so on two nodes a token
created through one is checked, reset and revoked through the other):

    create (POST /authorizations with the app's client_id/secret, or PUT
    /authorizations/clients/{client_id}/{fingerprint}, alternately)  201
    check × K                                                         200
    reset (PATCH /applications/{client_id}/token)                     200, a new token
    check of the old token                                            404
    check × K of the new one                                          200
    revoke (DELETE /applications/{client_id}/token)                   204
    check of the revoked token                                        404
    a wrong password for a login that does not exist                  401 (or 403)
    a wrong client secret                                             401 (or 403)

so that each worker holds at most one token and the stored tokens stay steady. Any other
status, and any connection error or timeout, is an error. Every --sample-every seconds a
sampler thread records each node's RSS and open file descriptors, the database's size and row
counts, and the requests done so far; at the end a summary compares the first sample after the
warm-up (one minute, or a fifth of a shorter run) with the last one.
"""
import argparse
import base64
import glob
import http.client
import json
import os
import random
import re
import secrets
import socket
import sqlite3
import subprocess
import sys
import threading
import time

KINDS = [
    "create", "check", "reset", "check_old", "revoke", "check_revoked", "bad_password", "bad_secret",
]
EXPECTED = {
    "create": {201},
    "check": {200},
    "reset": {200},
    "check_old": {404},
    "revoke": {204},
    "check_revoked": {404},
    # 403 is "Maximum number of login attempts exceeded": for the address, once ten wrong
    # secrets came from 127.0.0.1 in the window (never for a random login, each tried once).
    "bad_password": {401, 403},
    "bad_secret": {401, 403},
}


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Stats:
    """Counts shared by the workers and the sampler (one lock; a few thousand updates a second)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.done = {k: 0 for k in KINDS}
        self.statuses = {k: {} for k in KINDS}
        self.latency = {k: [] for k in KINDS}
        self.errors = 0
        self.error_examples = []

    def add(self, kind, status, seconds, error=None):
        with self.lock:
            self.done[kind] += 1
            key = str(status)
            self.statuses[kind][key] = self.statuses[kind].get(key, 0) + 1
            self.latency[kind].append(seconds)
            if error is not None:
                self.errors += 1
                if len(self.error_examples) < 20:
                    self.error_examples.append(f"{time.strftime('%H:%M:%S')} {kind}: {error}")

    def snapshot(self):
        with self.lock:
            return dict(self.done), self.errors


class Failed(Exception):
    """A request of the cycle did not answer as expected: the cycle starts again."""


class Worker(threading.Thread):
    def __init__(self, index, args, stats, deadline):
        super().__init__(daemon=True)
        self.index = index
        self.args = args
        self.stats = stats
        self.deadline = deadline
        self.nodes = args.node_addrs
        self.conns = [None] * len(self.nodes)
        self.step = index
        self.app_auth = basic(args.client_id, args.client_secret)
        self.bad_app_auth = basic(args.client_id, "0" * 40)
        self.user_auth = basic("bench", args.password)
        self.cycles = 0

    def conn(self, i):
        if self.conns[i] is None:
            host, port = self.nodes[i].rsplit(":", 1)
            self.conns[i] = http.client.HTTPConnection(host, int(port), timeout=self.args.timeout)
        return self.conns[i]

    def request(self, kind, method, path, body=None, auth=None):
        """One request on the next node; returns (status, body) or raises Failed."""
        i = self.step % len(self.nodes)
        self.step += 1
        headers = {"Accept": "application/vnd.github+json", "User-Agent": "grantd-soak"}
        if auth:
            headers["Authorization"] = auth
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        started = time.monotonic()
        try:
            conn = self.conn(i)
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            status = response.status
            if response.will_close:
                conn.close()
                self.conns[i] = None
        except (OSError, http.client.HTTPException) as e:
            if self.conns[i] is not None:
                self.conns[i].close()
            self.conns[i] = None
            self.stats.add(kind, "connection error", time.monotonic() - started,
                           f"node {i}: {type(e).__name__}: {e}")
            raise Failed from e
        elapsed = time.monotonic() - started
        if status not in EXPECTED[kind]:
            text = payload[:200].decode(errors="replace")
            self.stats.add(kind, status, elapsed, f"node {i}: {method} {path} -> {status} {text}")
            raise Failed
        self.stats.add(kind, status, elapsed)
        return status, payload

    def token_of(self, kind, payload):
        try:
            token = json.loads(payload)["token"]
        except (ValueError, KeyError, TypeError):
            token = None
        if not isinstance(token, str) or not token:
            self.stats.add(kind, "no token", 0.0, f"answer without a token: {payload[:200]!r}")
            raise Failed
        return token

    def check(self, token, kind="check"):
        cid = self.args.client_id
        status, payload = self.request(kind, "POST", f"/applications/{cid}/token",
                                       {"access_token": token}, self.app_auth)
        if status == 200 and token.encode() not in payload:
            self.stats.add("check", "wrong token", 0.0, "200 without the token checked")
            raise Failed

    def cycle(self):
        cid, secret = self.args.client_id, self.args.client_secret
        unique = f"soak-{self.index}-{self.cycles}-{secrets.token_hex(4)}"
        if self.cycles % 2 == 0:
            _, payload = self.request("create", "POST", "/authorizations", {
                # A fingerprint each: a user holds one app authorization without one (422).
                "scopes": ["repo", "user"], "note": unique, "fingerprint": unique,
                "client_id": cid, "client_secret": secret,
            }, self.user_auth)
        else:
            _, payload = self.request("create", "PUT", f"/authorizations/clients/{cid}/{unique}", {
                "scopes": ["repo"], "client_secret": secret, "note": unique,
            }, self.user_auth)
        token = self.token_of("create", payload)
        for _ in range(self.args.checks):
            self.check(token)
        _, payload = self.request("reset", "PATCH", f"/applications/{cid}/token",
                                  {"access_token": token}, self.app_auth)
        old, token = token, self.token_of("reset", payload)
        self.check(old, "check_old")
        for _ in range(self.args.checks):
            self.check(token)
        self.request("revoke", "DELETE", f"/applications/{cid}/token",
                     {"access_token": token}, self.app_auth)
        self.check(token, "check_revoked")
        # A login in GitHub's format that no account has: counted, never locking out "bench".
        login = "soak-" + secrets.token_hex(8)
        self.request("bad_password", "GET", "/authorizations", None,
                     basic(login, "wrong-" + secrets.token_hex(4)))
        self.request("bad_secret", "POST", f"/applications/{cid}/token",
                     {"access_token": token}, self.bad_app_auth)

    def run(self):
        while time.monotonic() < self.deadline:
            try:
                self.cycle()
            except Failed:
                time.sleep(0.05)  # an error: do not spin on a dead server
            except Exception as e:  # noqa: BLE001 - a bug here must show, not kill the thread
                self.stats.add("check", "exception", 0.0, f"{type(e).__name__}: {e}")
                time.sleep(0.05)
            self.cycles += 1
        for c in self.conns:
            if c is not None:
                c.close()


def kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


TABLES = ("authorizations", "counters", "cache_changes")


def database_figures(engine, db):
    """(bytes, {table: rows}); SQLite: the db, -wal and -shm files as they are."""
    rows = {}
    if engine == "sqlite":
        size = sum(os.path.getsize(p) for p in (db, db + "-wal", db + "-shm") if os.path.exists(p))
        try:
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
            for t in TABLES:
                rows[t] = con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            con.close()
        except sqlite3.Error as e:
            rows["error"] = str(e)
        return size, rows
    # PostgreSQL has no cache_changes (it keeps no token index): count the tables it has.
    tables = TABLES[:2]
    query = "SELECT pg_database_size(current_database())" + "".join(
        f", (SELECT count(*) FROM {t})" for t in tables)
    try:
        done = subprocess.run(["psql", "-qAtX", db, "-c", query], capture_output=True,
                              text=True, timeout=20, check=False)
        if done.returncode != 0:
            return None, {"error": done.stderr.strip()[:200]}
        out = done.stdout.strip().split("|")
        size = int(out[0])
        rows = {t: int(v) for t, v in zip(tables, out[1:])}
    except (subprocess.SubprocessError, ValueError, IndexError) as e:
        return None, {"error": str(e)}
    return size, rows


def log_problems(paths):
    count, examples = 0, []
    pattern = re.compile(r"^\S+ +(WARN|ERROR) ")
    for path in paths:
        try:
            with open(path, errors="replace") as f:
                for line in f:
                    if pattern.match(line):
                        count += 1
                        if len(examples) < 5:
                            examples.append(line.strip()[:300])
        except OSError:
            pass
    return count, examples


def percentile(values, q):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def judge(name, base, last, peak, pct, slack):
    """Flat when last <= base + max(pct % of base, slack)."""
    if base is None or last is None:
        return {"figure": name, "verdict": "no data"}
    allowed = max(base * pct / 100, slack)
    return {
        "figure": name, "after_warmup": base, "last": last, "peak": peak,
        "growth": last - base, "growth_pct": round(100 * (last - base) / base, 1) if base else None,
        "allowed_growth": allowed, "verdict": "flat" if last - base <= allowed else "GREW",
    }


def load(a):
    a.node_pids = [int(n.split("=", 1)[0]) for n in a.node]
    a.node_addrs = [n.split("=", 1)[1] for n in a.node]
    stats = Stats()
    start = time.monotonic()
    deadline = start + a.seconds
    out = open(a.out, "w")

    def write(record):
        out.write(json.dumps(record) + "\n")
        out.flush()

    write({"type": "setup", "engine": a.engine, "nodes": len(a.node), "seconds": a.seconds,
           "workers": a.workers, "checks_per_step": a.checks, "sample_every_s": a.sample_every,
           **json.loads(a.facts)})
    workers = [Worker(i, a, stats, deadline) for i in range(a.workers)]
    for w in workers:
        w.start()

    samples = []
    last_log = 0.0
    while True:
        now = time.monotonic()
        done, errors = stats.snapshot()
        size, rows = database_figures(a.engine, a.db)
        sample = {
            "type": "sample", "t": round(now - start, 1),
            "rss_kib": [kib(p, "VmRSS") for p in a.node_pids],
            "fds": [fds(p) for p in a.node_pids],
            "db_bytes": size, "rows": rows, "done": done, "errors": errors,
        }
        samples.append(sample)
        write(sample)
        if now - last_log >= 30 or now >= deadline:
            last_log = now
            print(f"  t={sample['t']:5.0f}s requests={sum(done.values())} errors={errors} "
                  f"rss_mib={[round(r / 1024, 1) if r else r for r in sample['rss_kib']]} "
                  f"fds={sample['fds']} db_mib={round(size / 2**20, 2) if size else size} "
                  f"rows={rows}", file=sys.stderr, flush=True)
        if any(kib(p, "VmRSS") is None for p in a.node_pids):
            stats.add("check", "server gone", 0.0, "a grantd node is no longer running")
            break
        if now >= deadline:
            break
        time.sleep(max(0.0, min(a.sample_every, deadline - time.monotonic())))
    for w in workers:
        w.join(timeout=a.timeout + 5)
    elapsed = time.monotonic() - start

    done, errors = stats.snapshot()
    warmup = a.warmup if a.warmup is not None else min(60.0, a.seconds / 5)
    base = next((s for s in samples if s["t"] >= warmup), samples[-1])
    last = samples[-1]
    verdicts = []
    for i in range(len(a.node)):
        peak_rss = max((s["rss_kib"][i] or 0) for s in samples)
        peak_fds = max((s["fds"][i] or 0) for s in samples)
        verdicts.append(judge(f"node {i + 1} RSS KiB", base["rss_kib"][i], last["rss_kib"][i],
                              peak_rss, a.tolerance_pct, a.rss_slack_mib * 1024))
        verdicts.append(judge(f"node {i + 1} open fds", base["fds"][i], last["fds"][i],
                              peak_fds, a.tolerance_pct, a.fd_slack))
    peak_db = max((s["db_bytes"] or 0) for s in samples)
    verdicts.append(judge("database bytes", base["db_bytes"], last["db_bytes"], peak_db,
                          a.tolerance_pct, a.db_slack_mib * 2**20))
    problems, problem_examples = log_problems(a.log)
    with stats.lock:
        latency = {k: {"p50_ms": round(1000 * percentile(v, 0.5), 2),
                       "p99_ms": round(1000 * percentile(v, 0.99), 2),
                       "max_ms": round(1000 * max(v), 2)}
                   for k, v in stats.latency.items() if v}
        statuses = stats.statuses
        examples = list(stats.error_examples)
    grew = [v["figure"] for v in verdicts if v["verdict"] != "flat"]
    summary = {
        "type": "summary", "engine": a.engine, "elapsed_s": round(elapsed, 1),
        "warmup_s": warmup, "base_t": base["t"], "last_t": last["t"],
        "requests": done, "total": sum(done.values()),
        "requests_per_sec": round(sum(done.values()) / elapsed, 1),
        "statuses": statuses, "latency": latency, "errors": errors, "error_examples": examples,
        "log_problems": problems, "log_examples": problem_examples,
        "rows_after_warmup": base["rows"], "rows_last": last["rows"],
        "tolerance": {"pct": a.tolerance_pct, "rss_slack_mib": a.rss_slack_mib,
                      "fd_slack": a.fd_slack, "db_slack_mib": a.db_slack_mib},
        "verdicts": verdicts, "ok": errors == 0 and not grew,
    }
    write(summary)
    out.close()
    print(f"  {a.engine}: {summary['total']} requests ({summary['requests_per_sec']}/s), "
          f"{errors} errors, grantd WARN/ERROR lines: {problems}", file=sys.stderr)
    for v in verdicts:
        print(f"    {v['figure']}: {v.get('after_warmup')} -> {v.get('last')} "
              f"(peak {v.get('peak')}, allowed +{v.get('allowed_growth')}): {v['verdict']}",
              file=sys.stderr)
    for e in examples[:5]:
        print(f"    error: {e}", file=sys.stderr)
    return 0 if summary["ok"] else 1


def mib(kib_value):
    return f"{kib_value / 1024:.1f} MiB"


def report(results):
    files = sorted(glob.glob(os.path.join(results, "soak-*.jsonl")))
    lines = ["# Soak (bench/soak)", ""]
    overall = True
    for path in files:
        records = [json.loads(line) for line in open(path) if line.strip()]
        setup = next((r for r in records if r["type"] == "setup"), {})
        summary = next((r for r in records if r["type"] == "summary"), None)
        if summary is None:
            lines += [f"## {os.path.basename(path)}: no summary (the run did not finish)", ""]
            overall = False
            continue
        overall &= summary["ok"]
        engine = summary["engine"]
        nodes = setup.get("nodes", 1)
        lines += [
            f"## {engine}, {nodes} node{'s' if nodes > 1 else ''}: "
            f"{'PASS' if summary['ok'] else 'FAIL'}",
            "",
            f"{setup.get('date', '?')}, commit {setup.get('commit', '?')}, {setup.get('nproc')} CPUs "
            f"({setup.get('cpu', '?')}), load average at start {setup.get('load_avg', '?')}; "
            f"{summary['elapsed_s']} s, {setup.get('workers')} workers, "
            f"{setup.get('checks_per_step')} checks per step; binary {setup.get('binary')}.",
            "",
            f"**{summary['total']:,} requests** ({summary['requests_per_sec']:,} a second), "
            f"**{summary['errors']} errors**; grantd's log: {summary['log_problems']} WARN/ERROR lines.",
            "",
            "| kind | requests | statuses | p50 ms | p99 ms | max ms |",
            "| --- | ---: | --- | ---: | ---: | ---: |",
        ]
        for kind in KINDS:
            lat = summary["latency"].get(kind, {})
            st = ", ".join(f"{k}: {v:,}" for k, v in sorted(summary["statuses"].get(kind, {}).items()))
            lines.append(f"| {kind} | {summary['requests'].get(kind, 0):,} | {st} | "
                         f"{lat.get('p50_ms', '')} | {lat.get('p99_ms', '')} | {lat.get('max_ms', '')} |")
        tol = summary["tolerance"]
        lines += [
            "",
            f"Growth from the first sample after the warm-up (t = {summary['base_t']} s) to the last "
            f"(t = {summary['last_t']} s); flat when within +{tol['pct']} % or +{tol['rss_slack_mib']} MiB "
            f"(RSS), +{tol['fd_slack']} (fds), +{tol['db_slack_mib']} MiB (database), whichever is larger.",
            "",
            "| figure | after warm-up | last | peak | growth | verdict |",
            "| --- | ---: | ---: | ---: | ---: | --- |",
        ]
        for v in summary["verdicts"]:
            if v["verdict"] == "no data":
                lines.append(f"| {v['figure']} | | | | | no data |")
                continue
            if "KiB" in v["figure"]:
                fmt = mib
                name = v["figure"].replace(" KiB", "")
            elif "bytes" in v["figure"]:
                fmt = lambda b: f"{b / 2**20:.2f} MiB"  # noqa: E731
                name = "database size"
            else:
                fmt = str
                name = v["figure"]
            pct = f" ({v['growth_pct']:+} %)" if v.get("growth_pct") is not None else ""
            lines.append(f"| {name} | {fmt(v['after_warmup'])} | {fmt(v['last'])} | {fmt(v['peak'])} | "
                         f"{'+' if v['growth'] >= 0 else '-'}{fmt(abs(v['growth']))}{pct} | {v['verdict']} |")
        lines += ["", f"Rows after the warm-up: {summary['rows_after_warmup']}; at the end: "
                  f"{summary['rows_last']}.", ""]
        if summary["error_examples"]:
            lines += ["Errors (first ones):", ""] + [f"- `{e}`" for e in summary["error_examples"][:5]] + [""]
        if summary["log_examples"]:
            lines += ["grantd's WARN/ERROR lines (first ones):", ""] + \
                     [f"- `{e}`" for e in summary["log_examples"]] + [""]
    with open(os.path.join(results, "soak.md"), "w") as f:
        f.write("\n".join(lines))
    print(f"wrote {os.path.join(results, 'soak.md')}", file=sys.stderr)
    return 0 if overall and files else 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command", required=True)
    l = sub.add_parser("load")
    l.add_argument("--engine", required=True)
    l.add_argument("--node", action="append", required=True, help="PID=HOST:PORT")
    l.add_argument("--db", required=True, help="SQLite file path or PostgreSQL URL")
    l.add_argument("--client-id", required=True)
    l.add_argument("--client-secret", required=True)
    l.add_argument("--password", required=True)
    l.add_argument("--seconds", type=float, default=300)
    l.add_argument("--workers", type=int, default=6)
    l.add_argument("--checks", type=int, default=4)
    l.add_argument("--sample-every", type=float, default=5)
    l.add_argument("--warmup", type=float, default=None,
                   help="seconds before the sample growth is measured from (default 60, or a fifth of a shorter run)")
    l.add_argument("--timeout", type=float, default=10, help="per request, seconds")
    l.add_argument("--tolerance-pct", type=float, default=10)
    l.add_argument("--rss-slack-mib", type=float, default=20)
    l.add_argument("--fd-slack", type=int, default=8)
    l.add_argument("--db-slack-mib", type=float, default=1)
    l.add_argument("--log", action="append", default=[])
    l.add_argument("--facts", default="{}")
    l.add_argument("--out", required=True)
    r = sub.add_parser("report")
    r.add_argument("results")
    a = p.parse_args()
    socket.setdefaulttimeout(30)
    random.seed()
    sys.exit(load(a) if a.command == "load" else report(a.results))


if __name__ == "__main__":
    main()
