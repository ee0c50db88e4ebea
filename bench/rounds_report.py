#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Summarise bench/rounds.sh: per server and per pair of servers over the rounds (stdout).

    bench/rounds_report.py A,B[,...] DIR

DIR holds ROUND.tsv (bench/run.sh's results.tsv of each round) and ROUND.meta.tsv. A ratio
is taken within one round (both servers measured minutes apart on the same machine) and the
median of those ratios is reported with its range; a round where either server was not
measured is left out of that pair. CPU µs per answer = cpu_ticks / CLK_TCK / answered.
"""
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (bench/report.py: the same row reader as the one-run table)


def load(directory):
    rounds = []
    r = 1
    while os.path.exists(os.path.join(directory, f"{r}.tsv")):
        meta = report.read_meta(os.path.join(directory, f"{r}.meta.tsv"))
        clk = int(meta.get("clk_tck", "100") or 100)
        rows = {row["name"]: row for row in report.read_rows(os.path.join(directory, f"{r}.tsv"), clk)}
        rounds.append((meta, rows))
        r += 1
    return rounds


def spread(values, fmt):
    if not values:
        return "-", "-"
    med = statistics.median(values)
    return fmt(med), f"{fmt(min(values))}–{fmt(max(values))}"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: rounds_report.py A,B[,...] DIR")
    names = sys.argv[1].split(",")
    rounds = load(sys.argv[2])
    if not rounds:
        sys.exit(f"rounds_report: no rounds in {sys.argv[2]}")
    meta = rounds[0][0]
    print(f"# bench/rounds.sh: {len(rounds)} rounds, {meta.get('date', '?')} (first round)")
    print()
    print(f"Machine: {meta.get('cpu', '?')}, nproc {meta.get('nproc', '?')}, "
          f"{meta.get('kernel', '?')}. dnsperf {meta.get('dnsperf', '?')}.")
    print(f"Each round: `{meta.get('command', '?')}` (the order of the servers reversed every "
          "other round).")
    print()
    print("| server | rounds | QPS median | QPS range | CPU µs/answer median | range "
          "| SERVFAIL+lost median |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for n in names:
        ok = [rows[n] for _, rows in rounds if n in rows and rows[n]["ok"]]
        qps = [r["qps"] for r in ok]
        cpu = [r["us_per_answer"] for r in ok if r["us_per_answer"] is not None]
        bad = [(r["answered"] - r["noerror"] + r["lost"]) / max(1, r["answered"] + r["lost"])
               for r in ok]
        q_med, q_rng = spread(qps, lambda v: f"{v:,.0f}")
        c_med, c_rng = spread(cpu, lambda v: f"{v:.2f}")
        b_med, _ = spread(bad, lambda v: f"{100 * v:.2f} %")
        label = report.NAMES.get(n, n)
        print(f"| {label} | {len(ok)} | {q_med} | {q_rng} | {c_med} | {c_rng} | {b_med} |")
    print()
    print("Ratios within a round (row ÷ column; for CPU below 1 is cheaper):")
    print()
    print("| pair | rounds | QPS ratio median | range | CPU ratio median | range |")
    print("|---|--:|--:|--:|--:|--:|")
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            qr, cr = [], []
            for _, rows in rounds:
                ra, rb = rows.get(a), rows.get(b)
                if not (ra and rb and ra["ok"] and rb["ok"]) or not rb["qps"]:
                    continue
                qr.append(ra["qps"] / rb["qps"])
                if ra["us_per_answer"] and rb["us_per_answer"]:
                    cr.append(ra["us_per_answer"] / rb["us_per_answer"])
            q_med, q_rng = spread(qr, lambda v: f"{v:.2f}×")
            c_med, c_rng = spread(cr, lambda v: f"{v:.2f}×")
            la, lb = report.NAMES.get(a, a), report.NAMES.get(b, b)
            print(f"| {la} ÷ {lb} | {len(qr)} | {q_med} | {q_rng} | {c_med} | {c_rng} |")


if __name__ == "__main__":
    main()
