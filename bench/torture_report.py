#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Markdown report of a bench/torture.sh run (stdout).

    bench/torture_report.py RAW_DIR

RAW_DIR holds status.tsv (server, mode, alive, t0, attack start, attack end, peak RSS KiB),
benign-<server>-<mode>.tsv (one line per benign query: sent s, class, ok, latency ms),
victim-<server>-<mode>.tsv (unix time, queries received so far) and attack-<server>-<mode>.txt
(dnsperf's output). Windows: "no attack" = from 2 s after the start to the attack's start;
"attack" = queries sent while the attacker ran. p99 counts a failed or unanswered query as
slower than any answer ("fail" when more than 1 % failed). Recovery = from the attack's end to
the last failed benign query (and, when the victim answers, the last failed fresh victim name);
"> N s" when failures went on to the end of the run. "p99 after" = benign queries sent from 8 s after the attack's end (a second quiet baseline).
"client lag" = the benign client's worst
delay against its own sending schedule during the attack (a starved client on a loaded machine
sends late and in bursts; large values mean the run measured the machine, not the server).
"""
import os
import sys

NAMES = {"c2wall": "c2wall", "unbound": "Unbound", "bind": "BIND 9", "pdns": "PowerDNS Recursor"}


def read_benign(path):
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path, encoding="ascii") as f:
        for line in f:
            p = line.split()
            if len(p) >= 4:
                lag = float(p[4]) if len(p) >= 5 else 0.0
                rows.append((float(p[0]), p[1], int(p[2]), float(p[3]), lag))
    return rows


def p99(rows):
    if not rows:
        return None
    lat = sorted(r[3] if r[2] else float("inf") for r in rows)
    v = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    return v


def fmt_ms(v):
    if v is None:
        return "-"
    if v == float("inf"):
        return "fail"
    return "%.1f" % v if v < 100 else "%.0f" % v


def success(rows):
    if not rows:
        return "-"
    return "%.2f %%" % (100.0 * sum(r[2] for r in rows) / len(rows))


def victim_qps(path, a0, a1):
    pts = []
    if os.path.exists(path):
        with open(path, encoding="ascii") as f:
            for line in f:
                p = line.split()
                if len(p) == 2:
                    pts.append((float(p[0]), int(p[1])))
    before = [p for p in pts if p[0] <= a0]
    after = [p for p in pts if p[0] >= a1]
    if not before or not after:
        return "-"
    (t0, c0), (t1, c1) = before[-1], after[0]
    return "%.0f" % ((c1 - c0) / max(t1 - t0, 1e-3))


def attack_qps(path, seconds):
    """Queries the attacker sent per second: the sum over the dnsperf runs in @path (one per
    source address with --sources)."""
    if not os.path.exists(path):
        return "-"
    sent = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if "Queries sent:" in line:
                sent = (sent or 0) + int(line.split(":")[1].split()[0])
    return "-" if sent is None else "%.0f" % (sent / max(seconds, 1e-3))


def main():
    raw = sys.argv[1]
    meta = {}
    with open(os.path.join(raw, "meta.tsv"), encoding="utf-8") as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            meta[k] = v
    print("Water-torture benchmark, %s" % meta.get("date", "?"))
    print()
    print("`%s` on %s." % (meta.get("command", "?"), meta.get("cpu", "?")))
    print()
    print("| victim | server | benign success, no attack | benign success, attack "
          "| hot / fresh names, attack | p99 ms, no attack | p99 ms, attack | p99 ratio "
          "| p99 ms hot / fresh, no attack → attack | p99 ms, after "
          "| attack q/s sent | q/s reaching victim | peak RSS MiB | recovery | client lag ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    with open(os.path.join(raw, "status.tsv"), encoding="utf-8") as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            name, mode = p[0], p[1]
            label = "%s (%s)" % (NAMES.get(name, name), meta.get("version_" + name, ""))
            victim = {"silent": "black hole", "nxdomain": "NXDOMAIN at once",
                      "slow": "NXDOMAIN after 0.5 s"}.get(mode, mode)
            if len(p) < 7:
                print("| %s | %s | %s |" % (victim, label, p[2]) + " |" * 12)
                continue
            alive, t0, a0, a1, rss = p[2], float(p[3]), float(p[4]), float(p[5]), p[6]
            tag = "%s-%s" % (name, mode)
            rows = read_benign(os.path.join(raw, "benign-%s.tsv" % tag))
            s0, s1 = a0 - t0, a1 - t0
            benign = [r for r in rows if r[1] in ("hot", "fresh")]
            base = [r for r in benign if 2.0 <= r[0] < s0]
            att = [r for r in benign if s0 <= r[0] < s1]
            hot = [r for r in att if r[1] == "hot"]
            fresh = [r for r in att if r[1] == "fresh"]
            # After the attack, once the mitigation has had time to end: a second quiet
            # baseline (a machine that stalls the server shows here too).
            post = [r for r in benign if r[0] >= s1 + 8.0]
            watch = [r for r in rows if r[0] >= s1 and
                     (r[1] != "victim" or mode in ("nxdomain", "slow"))]
            fails = [r[0] for r in watch if not r[2]]
            end = max((r[0] for r in rows), default=s1)
            if not fails:
                rec = "0 s"
            elif end - max(fails) < 2.0:
                rec = "> %.0f s" % (end - s1)
            else:
                rec = "%.1f s" % (max(fails) - s1)
            pb, pa = p99(base), p99(att)
            ratio = "-"
            if pb and pa is not None and pa != float("inf"):
                ratio = "%.2fx" % (pa / pb)
            rss_mib = "%.0f" % (int(rss) / 1024) if rss.isdigit() else "-"
            if alive != "ok":
                rec = "server died"
            lag = max((r[4] for r in rows if s0 <= r[0] < s1), default=0.0)
            kinds = "%s / %s → %s / %s" % (
                fmt_ms(p99([r for r in base if r[1] == "hot"])),
                fmt_ms(p99([r for r in base if r[1] == "fresh"])),
                fmt_ms(p99(hot)), fmt_ms(p99(fresh)))
            print("| %s | %s | %s | %s | %s / %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.0f |" % (
                victim, label, success(base), success(att), success(hot), success(fresh),
                fmt_ms(pb), fmt_ms(pa), ratio, kinds, fmt_ms(p99(post)),
                attack_qps(os.path.join(raw, "attack-%s.txt" % tag), a1 - a0),
                victim_qps(os.path.join(raw, "victim-%s.tsv" % tag), a0, a1),
                rss_mib, rec, lag))
    return 0


if __name__ == "__main__":
    sys.exit(main())
