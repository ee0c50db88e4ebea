#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Turn bench/run.sh measurements into the Markdown report (stdout).

    bench/report.py META.tsv RESULTS.tsv

META.tsv: "key<TAB>value" lines (machine, command, parameters). RESULTS.tsv: one row per server,
name kind version status qps answered lost noerror cpu_ticks latency_s rss_kib note ("-" when
not measured), then (rows of newer runs) upstream lat_rate lat_sent lat_answered lat_lost
lat_p50_us lat_p99_us: the queries NSD received during the timed run and the fixed-rate pass of
bench/latency.c. CPU time per answer = cpu_ticks / CLK_TCK / answered, in microseconds. Every figure
is shown beside its ratio to c2wall and to Unbound; a reference that was not measured gives "-".
"""
import sys

NAMES = {
    "reflector": "bare UDP reflector",
    "c2wall": "c2wall",
    "unbound": "Unbound",
    "bind": "BIND 9",
    "pdns": "PowerDNS Recursor",
    "kresd": "Knot Resolver",
    "dnsdist": "dnsdist",
}
FIELDS = ["name", "kind", "version", "status", "qps", "answered", "lost", "noerror",
          "cpu_ticks", "latency", "rss_kib", "note"]
EXTRA = ["upstream", "lat_rate", "lat_sent", "lat_answered", "lat_lost", "lat_p50_us",
         "lat_p99_us"]


def read_meta(path):
    meta = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("\t")
            meta[key] = value
    return meta


def read_rows(path, clk_tck):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < len(FIELDS):
                continue
            parts += ["-"] * (len(FIELDS) + len(EXTRA) - len(parts))
            r = dict(zip(FIELDS + EXTRA, parts))
            r["ok"] = r["status"] == "ok"
            if r["ok"]:
                r["qps"] = float(r["qps"])
                r["answered"] = int(r["answered"])
                r["lost"] = int(r["lost"])
                r["noerror"] = int(r["noerror"])
                ticks = int(r["cpu_ticks"])
                r["cpu_s"] = ticks / clk_tck
                r["us_per_answer"] = (r["cpu_s"] * 1e6 / r["answered"]) if r["answered"] else None
                r["latency_ms"] = float(r["latency"]) * 1000.0
                r["rss_mib"] = int(r["rss_kib"]) / 1024.0 if r["rss_kib"].isdigit() else None
                r["miss"] = (int(r["upstream"]) / r["answered"]
                             if r["upstream"].isdigit() and r["answered"] else None)
                for k in ("lat_p50_us", "lat_p99_us"):
                    r[k] = num(r[k])
                r["lat_lost"] = int(r["lat_lost"]) if r["lat_lost"].isdigit() else None
                r["lat_sent"] = int(r["lat_sent"]) if r["lat_sent"].isdigit() else None
            rows.append(r)
    return rows


def num(text):
    try:
        return float(text)
    except ValueError:
        return None


def ratio(value, ref):
    if value is None or ref is None or ref == 0:
        return "-"
    return "%.2f×" % (value / ref)


def ref_of(rows, name, key):
    for r in rows:
        if r["name"] == name and r["ok"]:
            return r.get(key)
    return None


def latency_cells(r):
    """p50, p99 (ms) and lost (count and share) of the fixed-rate pass."""
    if r["lat_p99_us"] is None:
        return ["-", "-", "-"]
    lost = "-"
    if r["lat_lost"] is not None and r["lat_sent"]:
        lost = "%d (%.2f%%)" % (r["lat_lost"], 100.0 * r["lat_lost"] / r["lat_sent"])
    return ["%.3f" % (r["lat_p50_us"] / 1000.0), "%.3f" % (r["lat_p99_us"] / 1000.0), lost]


def table(rows, rate):
    at = "@ %s q/s" % rate
    out = ["| server | kind | QPS | ÷ c2wall | ÷ Unbound | answered | lost | NOERROR | "
           "CPU µs/answer | ÷ c2wall | ÷ Unbound | CPU s | avg latency ms | upstream ÷ answers | "
           "p50 ms %s | p99 ms %s | lost %s | RSS MiB | note |" % (at, at, at),
           "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"]
    q_c2w, q_ub = ref_of(rows, "c2wall", "qps"), ref_of(rows, "unbound", "qps")
    c_c2w, c_ub = ref_of(rows, "c2wall", "us_per_answer"), ref_of(rows, "unbound", "us_per_answer")
    for r in rows:
        label = "%s (%s)" % (NAMES.get(r["name"], r["name"]), r["version"])
        if not r["ok"]:
            out.append("| %s | %s | %s | | | | | | | | | | | | | | | | %s |"
                       % (label, r["kind"], r["status"], r["note"]))
            continue
        us = r["us_per_answer"]
        noerr = "%.1f%%" % (100.0 * r["noerror"] / r["answered"]) if r["answered"] else "-"
        rss = "%.0f" % r["rss_mib"] if r["rss_mib"] is not None else "-"
        miss = "%.1f%%" % (100.0 * r["miss"]) if r["miss"] is not None else "-"
        out.append("| %s | %s | %.0f | %s | %s | %d | %d | %s | %s | %s | %s | %.2f | %.3f | %s | "
                   "%s | %s | %s | %s | %s |"
                   % (label, r["kind"], r["qps"], ratio(r["qps"], q_c2w), ratio(r["qps"], q_ub),
                      r["answered"], r["lost"], noerr, "%.2f" % us if us is not None else "-",
                      ratio(us, c_c2w), ratio(us, c_ub), r["cpu_s"], r["latency_ms"], miss,
                      *latency_cells(r), rss, r["note"]))
    return "\n".join(out)


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: report.py META.tsv RESULTS.tsv\n")
        return 2
    meta = read_meta(sys.argv[1])
    clk_tck = int(meta.get("clk_tck") or 100)
    rows = read_rows(sys.argv[2], clk_tck)
    print("# c2wall benchmark: %s" % meta.get("date", "?"))
    print()
    print("Machine: %s, nproc %s, %s. dnsperf %s." % (
        meta.get("cpu", "?"), meta.get("nproc", "?"), meta.get("kernel", "?"),
        meta.get("dnsperf", "?")))
    print()
    print("Command: `%s`" % meta.get("command", "?"))
    print()
    cold = meta.get("cold") == "1"
    if meta.get("workload") in ("zipf", "zipf-miss"):
        print("Each server alone, one worker, pinned to CPU %s; dnsperf -B on CPU %s (-l %s -q %s "
              "-c %s) over the Zipf workload of bench/gen_zipf.py (%s), after %s s of warm-up "
              "at -q 100; the misses are answered by NSD on loopback (on dnsperf's core); "
              "cache memory %s MiB per server (see bench/run.sh --help); DNSSEC validation off "
              "for every server; policy: %s." % (
                  meta.get("server_cpu"), meta.get("client_cpu"), meta.get("duration"),
                  meta.get("outstanding"), meta.get("clients"), meta.get("zipf", "?"),
                  meta.get("warm"), meta.get("cache_mb"),
                  ("RPZ " + meta["rpz"]) if meta.get("rpz") else "none"))
        print()
    else:
        print("Each server alone, one worker, pinned to CPU %s; dnsperf on CPU %s (%s -q %s -c %s); "
              "%s names under bench.example. forwarded to NSD on loopback, %s; "
              "DNSSEC validation off for every server; policy: %s." % (
                  meta.get("server_cpu"), meta.get("client_cpu"),
                  "-n 1" if cold else "-l " + str(meta.get("duration")),
                  meta.get("outstanding"), meta.get("clients"), meta.get("names"),
                  "miss-heavy: no warm-up, every name asked once (each answer needs the upstream)"
                  if cold else "cache warmed by one pass",
                  ("RPZ " + meta["rpz"]) if meta.get("rpz") else "none"))
        print()
    print("CPU µs/answer = the server process's utime+stime over the timed run "
          "(/proc/PID/stat, all threads, %s ticks/s) / answers received. Ratios: the row's "
          "figure divided by c2wall's and by Unbound's (for CPU, below 1 is cheaper). RSS: the "
          "server's resident memory at the end of its run. upstream ÷ answers: queries NSD "
          "received during the timed run (nsd-control stats_noreset) per answer, the share of "
          "misses. p50/p99/lost @ R q/s: the same queries sent open-loop at a fixed rate for "
          "%s s right after the timed run (bench/latency.c; each answer stamped by the kernel, "
          "SO_TIMESTAMPNS; lost = no answer within 2 s)." % (clk_tck, meta.get("latency_duration", "?")))
    print()
    print(table(rows, meta.get("latency_rate", "?")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
