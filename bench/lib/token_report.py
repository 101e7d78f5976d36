#!/usr/bin/env python3
"""token-endpoint.jsonl -> a Markdown summary on stdout (bench/token-endpoint).

    token_report.py bench/results/token-endpoint.jsonl > bench/results/token-endpoint.md

Per engine and grant: the median over the timed runs of good answers per second, for grantd
and for oidc-provider, and the paired ratio: the median over the runs of (grantd's run ÷
oidc-provider's run of the same grant just before it).
"""
import json
import statistics
import sys


def main() -> None:
    records = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    machine = next((r for r in records if r.get("type") == "machine"), {})
    runs = [r for r in records if r.get("type") == "run"]
    print("# The token endpoint: grantd beside oidc-provider\n")
    print(
        f"{machine.get('date', '?')}, commit {machine.get('commit', '?')}, binary {machine.get('binary', '?')} "
        f"({machine.get('grantd', '?').replace('_', ' ')}), {machine.get('nproc', '?')} CPUs "
        f"({machine.get('cpu', '?')}), load average before the run {machine.get('load_avg', '?')}; "
        f"oidc-provider {machine.get('oidc_provider', '?')} on Node {machine.get('node', '?')}; "
        f"{machine.get('wrk', 'wrk')}, {machine.get('connections', '?')} connections, "
        f"{machine.get('runs', '?')} runs of {machine.get('duration_s', '?')} s.\n"
    )
    print("| engine | grant | grantd good/s | oidc-provider good/s | paired ratio | grantd p50 / p99 ms | oidc-provider p50 / p99 ms | answers (grantd, all runs) |")
    print("| --- | --- | ---: | ---: | ---: | --- | --- | --- |")
    engines = sorted({r["engine"] for r in runs}, key=lambda e: (e != "sqlite", e))
    for engine in engines:
        for grant in ("code", "refresh", "device"):
            mine = sorted((r for r in runs if r["engine"] == engine and r["grant"] == grant
                           and r["target"] == "grantd"), key=lambda r: r["run"])
            theirs = {r["run"]: r for r in runs if r["engine"] == engine and r["grant"] == grant
                      and r["target"] == "oidc-provider"}
            if not mine:
                continue
            median = statistics.median(r["good_per_sec"] for r in mine)
            mid = min(mine, key=lambda r: abs(r["good_per_sec"] - median))
            answers = {}
            for r in mine:
                for k, n in r.get("answers", {}).items():
                    answers[k] = answers.get(k, 0) + n
            bad = sum(r.get("bad", 0) for r in mine)
            answer_text = ", ".join(f"{k} {n}" for k, n in sorted(answers.items())) + (f", **bad {bad}**" if bad else "")
            if theirs:
                o_median = statistics.median(r["good_per_sec"] for r in theirs.values())
                o_mid = min(theirs.values(), key=lambda r: abs(r["good_per_sec"] - o_median))
                ratios = [r["good_per_sec"] / theirs[r["run"]]["good_per_sec"]
                          for r in mine if r["run"] in theirs and theirs[r["run"]]["good_per_sec"]]
                ratio = f"{statistics.median(ratios):.2f}" if ratios else "–"
                other = f"{o_median:,.0f}"
                other_lat = f"{o_mid['p50_ms']:.1f} / {o_mid['p99_ms']:.1f}"
            else:
                ratio, other, other_lat = "–", "–", "–"
            print(f"| {engine} | {grant} | {median:,.0f} | {other} | {ratio} | "
                  f"{mid['p50_ms']:.1f} / {mid['p99_ms']:.1f} | {other_lat} | {answer_text} |")
    print()
    for r in records:
        if r.get("type") == "committed":
            ok = "all committed" if r["answered"] == r["committed"] else "**MISSING**"
            print(f"- {r['engine']} {r['grant']}: {r['answered']} tokens answered, "
                  f"{r['committed']} in the database after the run ({ok})")
        if r.get("type") == "log":
            print(f"- {r['engine']}: grantd logged {r['grantd_warnings']} warnings/errors")
    failed = [r for r in records if r.get("type") in ("run", "warmup") and not r.get("ok", True)]
    if failed:
        print("\n**Failed runs:** " + ", ".join(f"{r['target']} {r['engine']} {r['grant']} {r['type']} {r['run']}" for r in failed))


if __name__ == "__main__":
    main()
