#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Turn bench/policy.sh measurements into the Markdown report (stdout).

    bench/policy_report.py DIR

DIR holds meta.tsv ("key<TAB>value"), c2wall.tsv ("label<TAB>key<TAB>value": the c2wall
measurements per policy size, label "none" without a policy) and, per bench/run.sh pass,
run-TAG.results.tsv and run-TAG.meta.tsv (TAG "none" or a size label). Figures that were not
measured show "-". Targets of issue 3: <= 64 bytes per rule (aim 40), QPS with the largest
policy >= 0.95 x QPS with none, ahead of every peer on each figure.
"""
import os
import re
import sys

NAMES = {"reflector": "bare UDP reflector", "c2wall": "c2wall", "unbound": "Unbound",
         "bind": "BIND 9", "pdns": "PowerDNS Recursor", "kresd": "Knot Resolver",
         "dnsdist": "dnsdist"}
RUN_FIELDS = ["name", "kind", "version", "status", "qps", "answered", "lost", "noerror",
              "cpu_ticks", "latency", "rss_kib", "note"]


def read_kv(path):
    d = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("\t")
                d[k] = v
    return d


def read_c2wall(path):
    d = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t", 2)
            if len(parts) == 3:
                d.setdefault(parts[0], {})[parts[1]] = parts[2]
    return d


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def fmt(v, spec="%.2f"):
    return "-" if v is None else spec % v


def ratio(a, b):
    return "-" if a is None or b is None or b == 0 else "%.2f×" % (a / b)


def mib(kib):
    v = num(kib)
    return None if v is None else v / 1024.0


def us_per_answer(ticks, answered, clk):
    t, a = num(ticks), num(answered)
    return None if t is None or not a else t / clk * 1e6 / a


def median(values):
    v = sorted(values)
    if not v:
        return None
    m = len(v) // 2
    return v[m] if len(v) % 2 else (v[m - 1] + v[m]) / 2


def pct(v):
    """Foreign load on the server core; below zero is rounding (irq time is not counted)."""
    v = num(v)
    return "-" if v is None else "%d" % max(0, v)


def yes(ok):
    return "-" if ok is None else ("**met**" if ok else "**not met**")


def read_run(dirname, tag, clk):
    rows = {}
    path = os.path.join(dirname, "run-%s.results.tsv" % tag)
    if not os.path.exists(path):
        return rows, {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < len(RUN_FIELDS):
                continue
            r = dict(zip(RUN_FIELDS, parts))
            r["ok"] = r["status"] == "ok"
            r["us"] = us_per_answer(r["cpu_ticks"], r["answered"], clk) if r["ok"] else None
            r["qps_f"] = num(r["qps"]) if r["ok"] else None
            r["rss_mib"] = mib(r["rss_kib"]) if r["ok"] else None
            m = re.search(r"RPZ in force after (\d+)s", r["note"])
            r["load_s"] = float(m.group(1)) if m else None
            m = re.search(r"core \d+ (\d+)% busy", r["note"])
            r["foreign"] = int(m.group(1)) if m else 0
            rows[r["name"]] = r
    meta = read_kv(os.path.join(dirname, "run-%s.meta.tsv" % tag))
    m = re.search(r"\((\d+) rules\)", meta.get("rpz", ""))
    meta["rules"] = int(m.group(1)) if m else 0
    return rows, meta


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: policy_report.py DIR\n")
        return 2
    d = sys.argv[1]
    meta = read_kv(os.path.join(d, "meta.tsv"))
    clk = int(meta.get("clk_tck") or 100)
    c = read_c2wall(os.path.join(d, "c2wall.tsv"))
    labels = meta.get("labels", "").split()

    print("# c2wall policy benchmark: %s" % meta.get("date", "?"))
    print()
    print("Machine: %s, nproc %s, %s RAM, %s; load average at the end %s. c2wall %s." % (
        meta.get("cpu", "?"), meta.get("nproc", "?"), meta.get("mem", "?"),
        meta.get("kernel", "?"), meta.get("loadavg", "?"), meta.get("commit", "?")))
    print()
    print("Command: `%s`" % meta.get("command", "?"))
    print()

    # ---- compile
    print("## Compile (`c2wall compile -o FILE FEED`, /usr/bin/time -v)")
    print()
    print("| rules | feed | feed MB | wall s | s per 1M rules | CPU s | peak RSS MiB | "
          "snapshot MB | snapshot B/rule | ≤ 64 B/rule |")
    print("|--:|---|--:|--:|--:|--:|--:|--:|--:|---|")
    for lb in labels:
        x = c.get(lb, {})
        n = num(x.get("rules"))
        wall = num(x.get("compile_wall"))
        snap = num(x.get("snapshot_bytes"))
        bpr = snap / n if snap and n else None
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            "{:,}".format(int(n)) if n else lb, x.get("feed", "-"),
            fmt(num(x.get("feed_bytes")) / 1e6 if num(x.get("feed_bytes")) else None, "%.0f"),
            fmt(wall), fmt(wall / n * 1e6 if wall is not None and n else None),
            fmt(num(x.get("compile_cpu"))), fmt(mib(x.get("compile_maxrss_kib")), "%.0f"),
            fmt(snap / 1e6 if snap else None, "%.1f"), fmt(bpr, "%.1f"),
            yes(None if bpr is None else bpr <= 64)))
    print()
    for lb in labels:
        mix = c.get(lb, {}).get("feed_mix")
        if mix:
            print("- %s feed (`c2wall check`): %s" % (lb, mix.strip("; ")))
    print()

    # ---- serve
    print("## Daemon: start, memory, cache-hit CPU per answer (one worker, CPU-pinned)")
    print()
    print("*miss*: cached names under bench.example. that match no rule (the policy is "
          "consulted on every query and answer, then the cache answers); *hit*: names that "
          "match QNAME rules (exact and under wildcards), answered by the policy. CPU µs/answer "
          "= server utime+stime over the run / answers. \"foreign %\": share of the server's "
          "core taken by other processes during the run.")
    print()
    print("| policy | answers after s | rule blocks after s | RSS MiB (ready / end) | "
          "(RSS − RSS none) B/rule | miss QPS | miss CPU µs/answer | ÷ none | miss lost | "
          "hit QPS | hit CPU µs/answer | hit rcodes | foreign % (miss/hit) |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|")
    serve_rows = {}
    def run_key(lb):
        base, _, r = lb.partition(".r")
        return (int(r or 1), -1 if base == "none" else labels.index(base) if base in labels else 99)

    order = sorted((lb for lb in c if "start_answer_s" in c[lb] or "serve_error" in c[lb]),
                   key=run_key)
    base_rss_l = [num(c[lb].get("rss_end_kib")) for lb in order if lb.split(".r")[0] == "none"]
    base_rss_l = [v for v in base_rss_l if v]
    base_rss = median(base_rss_l)
    for lb in order:
        x = c[lb]
        base = lb.split(".r")[0]
        n = num(c.get(base, {}).get("rules"))
        us = us_per_answer(x.get("miss_ticks"), x.get("miss_answered"), clk)
        hus = us_per_answer(x.get("hit_ticks"), x.get("hit_answered"), clk)
        rss = num(x.get("rss_end_kib"))
        bpr = (rss - base_rss) * 1024 / n if n and rss and base_rss else None
        serve_rows.setdefault(base, []).append(
            {"us": us, "qps": num(x.get("miss_qps")), "bpr": bpr, "hus": hus})
    med = {b: {k: median([r[k] for r in rows if r[k] is not None]) for k in rows[0]}
           for b, rows in serve_rows.items()}
    base_us = med.get("none", {}).get("us")
    base_qps = med.get("none", {}).get("qps")
    for lb in order:
        x = c[lb]
        base = lb.split(".r")[0]
        n = num(c.get(base, {}).get("rules"))
        us = us_per_answer(x.get("miss_ticks"), x.get("miss_answered"), clk)
        hus = us_per_answer(x.get("hit_ticks"), x.get("hit_answered"), clk)
        rss = num(x.get("rss_end_kib"))
        bpr = (rss - base_rss) * 1024 / n if n and rss and base_rss else None
        err = x.get("serve_error")
        print("| %s | %s | %s | %s / %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s |" % (
            lb + (" (" + err + ")" if err else ""), x.get("start_answer_s", "-"),
            x.get("start_block_s", "-"), fmt(mib(x.get("rss_ready_kib")), "%.0f"),
            fmt(mib(x.get("rss_end_kib")), "%.0f"), fmt(bpr, "%.1f"),
            fmt(num(x.get("miss_qps")), "%.0f"), fmt(us), ratio(us, base_us),
            x.get("miss_lost", "-"), fmt(num(x.get("hit_qps")), "%.0f"), fmt(hus),
            x.get("hit_rcodes", "-").strip() or "-", pct(x.get("miss_foreign_pct")),
            pct(x.get("hit_foreign_pct"))))
    print()
    if any(len(v) > 1 for v in serve_rows.values()):
        print("Repeated runs (labels .r2, .r3, ... ran in turn): medians per policy; \"÷ none\" "
              "above is against the median of the runs without policy.")
        print()
        print("| policy | runs | median miss QPS | median miss CPU µs/answer (min–max) | "
              "median hit CPU µs/answer | median B/rule |")
        print("|---|--:|--:|--:|--:|--:|")
        for b, rows in serve_rows.items():
            uss = [r["us"] for r in rows if r["us"] is not None]
            print("| %s | %d | %s | %s (%s–%s) | %s | %s |" % (
                b, len(rows), fmt(med[b]["qps"], "%.0f"), fmt(med[b]["us"]),
                fmt(min(uss) if uss else None), fmt(max(uss) if uss else None),
                fmt(med[b]["hus"]), fmt(med[b]["bpr"], "%.1f")))
        print()

    # ---- reload
    print("## Reload (SIGHUP with one rule added; cached queries at a fixed rate meanwhile)")
    print()
    print("| policy | SIGHUP → new rule blocks, s | probes | cached name answered / failed "
          "during reload | load queries sent / answered / lost | max latency s | RSS MiB "
          "before / peak / after |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for lb in labels:
        x = c.get(lb, {})
        if "reload_reload_s" not in x:
            continue
        print("| %s | %s | %s | %s / %s | %s / %s / %s | %s | %s / %s / %s |" % (
            lb, x.get("reload_reload_s"), x.get("reload_probes", "-"),
            x.get("reload_keep_ok", "-"), x.get("reload_keep_fail", "-"),
            x.get("reload_load_sent", "-"), x.get("reload_load_answered", "-"),
            x.get("reload_load_lost", "-"), x.get("reload_load_maxlat", "-"),
            fmt(mib(x.get("reload_rss_before_kib")), "%.0f"),
            fmt(mib(x.get("reload_rss_max_kib")), "%.0f"),
            fmt(mib(x.get("reload_rss_after_kib")), "%.0f")))
    print()

    # ---- peers
    tags = meta.get("peer_tags", "").split()
    base_rows, _ = read_run(d, "none", clk)
    peer_tables = {}
    if tags:
        print("## Side by side with the peers (`bench/run.sh --rpz FEED`, same feed)")
        print()
        print("Load time = \"RPZ in force after\" from bench/run.sh (start until a rule blocks, "
              "1 s resolution); B/rule = (RSS with the feed − RSS of the same server in the "
              "no-policy pass) / rules; ÷ c2wall below 1 would mean the peer is better for CPU, "
              "load and memory.")
        print()
    for tag in tags:
        if tag == "none":
            continue
        rows, rmeta = read_run(d, tag, clk)
        if not rows:
            continue
        n = rmeta.get("rules") or 0
        print("### %s rules (%s)" % ("{:,}".format(n), rmeta.get("date", "?")))
        print()
        print("| server | load s | s per 1M rules | RSS MiB | B/rule | ÷ c2wall | CPU µs/answer | "
              "÷ c2wall | ÷ same server without policy | QPS | note |")
        print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
        cw = rows.get("c2wall")
        res = {}
        for name, r in rows.items():
            b = base_rows.get(name)
            bpr = ((r["rss_mib"] - b["rss_mib"]) * 1048576 / n
                   if r["ok"] and b and b["ok"] and n and r["rss_mib"] is not None else None)
            res[name] = {"bpr": bpr, "load": r["load_s"], "us": r["us"]}
        for name, r in rows.items():
            b = base_rows.get(name)
            label = "%s (%s)" % (NAMES.get(name, name), r["version"])
            if not r["ok"]:
                print("| %s | %s | | | | | | | | | %s |" % (label, r["status"], r["note"]))
                continue
            cres = res.get("c2wall", {})
            print("| %s | %s | %s | %.0f | %s | %s | %s | %s | %s | %.0f | %s |" % (
                label, fmt(r["load_s"], "%.0f"),
                fmt(r["load_s"] / n * 1e6 if r["load_s"] is not None and n else None, "%.1f"),
                r["rss_mib"], fmt(res[name]["bpr"], "%.0f"), ratio(res[name]["bpr"], cres.get("bpr")),
                fmt(r["us"]), ratio(r["us"], cres.get("us")),
                ratio(r["us"], b["us"] if b and b["ok"] else None), r["qps_f"], r["note"]))
        print()
        peer_tables[tag] = res

    # ---- targets
    print("## Targets of issue 3")
    print()
    big = labels[-1] if labels else None
    lines = []
    for lb in labels:
        x = c.get(lb, {})
        n = num(x.get("rules"))
        snap = num(x.get("snapshot_bytes"))
        sr = med.get(lb, {})
        if snap and n:
            b = snap / n
            lines.append("- memory ≤ 64 B/rule (aim 40), %s: snapshot %.1f B/rule, daemon RSS "
                         "%s B/rule: %s" % (lb, b, fmt(sr.get("bpr"), "%.1f"),
                                            yes(b <= 64 and (sr.get("bpr") or 0) <= 64)))
    if big and big in med and med[big]["qps"] and base_qps:
        q = med[big]["qps"] / base_qps
        cpu = (base_us / med[big]["us"]) if med[big]["us"] and base_us else None
        lines.append("- QPS with %s rules ≥ 0.95 × QPS with none: QPS ratio %.2f, CPU-per-answer "
                     "ratio (none ÷ %s, the throughput one core could give) %s: %s" % (
                         big, q, big, fmt(cpu), yes(q >= 0.95 and (cpu is None or cpu >= 0.95))))
    for tag, res in peer_tables.items():
        cw = res.get("c2wall")
        if not cw:
            continue
        for fig, name in (("load", "load time"), ("bpr", "memory per rule"),
                          ("us", "CPU per answer")):
            peers = [(p, v[fig]) for p, v in res.items() if p != "c2wall" and v[fig] is not None]
            if cw[fig] is None or not peers:
                continue
            worse = [NAMES.get(p, p) for p, v in peers if v < cw[fig]]
            lines.append("- ahead of every peer on %s (%s rules): %s%s" % (
                name, tag, yes(not worse), "" if not worse else " (behind " + ", ".join(worse) + ")"))
    print("\n".join(lines) if lines else "(nothing measured)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
