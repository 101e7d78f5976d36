#!/usr/bin/env python3
"""Waits for a server that bench/run started in the background, and times its start.

    ready.py --since EPOCH_SECONDS --pid PID --stdout FILE --stderr FILE --name grantd

Polls FILE (the server's stdout) for "<name> listening on ADDR", then sends GET /healthz on a
fresh connection in a tight loop until one answers 200. Prints "ADDR STARTUP_MS LISTEN_MS" where
both times run from --since (taken by bench/run just before it spawned the server) to the first
healthz 200 and to the "listening" line. Fails, with the tail of the server's stderr, if the
process ends first or nothing answers within --timeout seconds.
"""
import argparse
import http.client
import os
import re
import sys
import time


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except FileNotFoundError:
        return False


def fail(message: str, stderr_path: str) -> None:
    print(f"ready.py: {message}", file=sys.stderr)
    try:
        with open(stderr_path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4000))
            tail = f.read().decode(errors="replace")
        print(f"--- last lines of {stderr_path}:\n{tail}", file=sys.stderr)
    except OSError:
        pass
    sys.exit(1)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--since", type=float, required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--stdout", required=True)
    p.add_argument("--stderr", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--timeout", type=float, default=120.0)
    a = p.parse_args()
    pattern = re.compile(re.escape(a.name) + r" listening on (\S+)")
    deadline = time.time() + a.timeout

    addr = None
    while addr is None:
        try:
            with open(a.stdout) as f:
                m = pattern.search(f.read())
            if m:
                addr = m.group(1)
                break
        except FileNotFoundError:
            pass
        if not alive(a.pid):
            fail(f"{a.name} (pid {a.pid}) ended before it listened", a.stderr)
        if time.time() > deadline:
            fail(f"{a.name} did not print its address within {a.timeout} s", a.stderr)
        time.sleep(0.0005)
    listen_ms = (time.time() - a.since) * 1000
    host, port = addr.rsplit(":", 1)

    while True:
        try:
            conn = http.client.HTTPConnection(host, int(port), timeout=2)
            conn.request("GET", "/healthz")
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                break
        except OSError:
            pass
        if not alive(a.pid):
            fail(f"{a.name} (pid {a.pid}) ended before /healthz answered 200", a.stderr)
        if time.time() > deadline:
            fail(f"{a.name}: /healthz did not answer 200 within {a.timeout} s", a.stderr)
        time.sleep(0.0005)
    startup_ms = (time.time() - a.since) * 1000
    print(f"{addr} {startup_ms:.1f} {listen_ms:.1f}")


if __name__ == "__main__":
    main()
