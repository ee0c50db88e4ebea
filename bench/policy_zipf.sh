#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Issue 11's policy target on realistic traffic: c2wall with a 10M-rule RPZ against c2wall with
# no rules, on the Zipf workload, rounds alternated, by server CPU per answer. Each run is one
# bench/run.sh --workload zipf --only c2wall; this script only chooses the feeds, alternates
# and summarises. See docs/BENCHMARKS.md, "10M rules on the Zipf workload".
#
#   bench/policy_zipf.sh [--rules N] [--rounds R] [--duration S] [--warm S] [options]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
rules=10000000
rounds=3
duration=15
warm=15
build=1
nice_level=0
lat_rate=0
feeds=${BENCH_FEEDS:-/tmp/c2wall-bench-feeds}
feed=""

usage() {
	cat <<'EOF'
NAME
    bench/policy_zipf.sh - c2wall with N rules vs no rules on the Zipf workload

SYNOPSIS
    bench/policy_zipf.sh [--rules N] [--rounds R] [--duration S] [--warm S] [--feed FILE]
                         [--feeds DIR] [--no-build] [--nice N] [--latency-rate Q]

DESCRIPTION
    Runs bench/run.sh --workload zipf --only c2wall R times with each of two policies, in
    turn (none, N, none, N, ...), and reports the server's CPU µs per answer of every run,
    the per-round ratio N ÷ none, their median, and whether it is within 5 % (issue 11).

    "none" is not an empty policy: it is the same feed cut down to its first 1,000
    "NAME CNAME ." rules, the names bench/run.sh mixes into the Zipf stream as blocked
    queries (0.5 % of the queries). Both arms therefore get the same query file and give
    the same answers; the only difference is the N - 1,000 rules that match nothing (and,
    with the --mix feed, the rpz-ip, NSDNAME and client-IP rules that come with them).

    The feed is bench/gen_rpz.py -n N --mix, generated once into DIR (the same file
    bench/policy.sh uses), unless --feed names one.

OPTIONS
    --rules N          rules in the generated feed (default 10000000)
    --rounds R         rounds, each none then N (default 3; 1..10)
    --duration S       bench/run.sh --duration (default 15)
    --warm S           bench/run.sh --warm (default 15)
    --feed FILE        use this RPZ (origin rpz.bench.) instead of generating one
    --feeds DIR        where generated feeds are kept (default /tmp/c2wall-bench-feeds, or
                       $BENCH_FEEDS)
    --no-build         do not rebuild c2wall before the first run
    --nice N           bench/run.sh --nice
    --latency-rate Q   bench/run.sh --latency-rate (default 0: no latency pass)
    -h, --help         this text

    Results: bench/results/policy_zipf.md; every run's bench/results/latest/ is kept as
    bench/results/policy_zipf/ROUND-ARM/. Run it inside a private network namespace:
    unshare -n bash -c 'ip link set lo up; bench/policy_zipf.sh'

EXIT STATUS
    0 completed, 1 the harness failed, 2 bad usage.
EOF
}

die() {
	echo "policy-zipf: $*" >&2
	exit 1
}

while [ $# -gt 0 ]; do
	case $1 in
	--rules) rules=${2:?}; shift 2 ;;
	--rounds) rounds=${2:?}; shift 2 ;;
	--duration) duration=${2:?}; shift 2 ;;
	--warm) warm=${2:?}; shift 2 ;;
	--feed) feed=${2:?}; shift 2 ;;
	--feeds) feeds=${2:?}; shift 2 ;;
	--no-build) build=0; shift ;;
	--nice) nice_level=${2:?}; shift 2 ;;
	--latency-rate) lat_rate=${2:?}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "policy-zipf: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
done
for v in rules rounds duration warm lat_rate; do
	[[ ${!v} =~ ^[0-9]+$ ]] || { echo "policy-zipf: --${v//_/-} must be a number" >&2; exit 2; }
done
if [ "$rules" -lt 2000 ] || [ "$rules" -gt 20000000 ] || [ "$rounds" -lt 1 ] ||
	[ "$rounds" -gt 10 ]; then
	echo "policy-zipf: --rules 2000..20000000, --rounds 1..10" >&2
	exit 2
fi

if [ -z "$feed" ]; then
	sum=$(sha1sum "$top/bench/gen_rpz.py" | cut -c1-8)
	feed=$feeds/mix-$rules-$sum.rpz
	if [ ! -s "$feed" ]; then
		mkdir -p "$feeds"
		echo "policy-zipf: generating $rules rules into $feed" >&2
		timeout 1200 /usr/bin/python3 "$top/bench/gen_rpz.py" -n "$rules" --mix \
			--hits "$feed.hits.tmp" -o "$feed.tmp" || die "gen_rpz.py failed"
		rm -f "$feed.hits.tmp"
		mv "$feed.tmp" "$feed"
	fi
fi
[ -r "$feed" ] || die "cannot read $feed"

work=$(mktemp -d /tmp/c2wall-pzipf.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
# The "none" arm: the header ($ lines, apex SOA and NS) and the first 1,000 "NAME CNAME ."
# rules, picked with the very test bench/run.sh uses to choose the blocked queries.
awk '$1 ~ /^[$@]/ { print; next }
	$1 !~ /^[;*]/ && $(NF-1) == "CNAME" && $NF == "." { print; if (++n == 1000) exit }' \
	"$feed" >"$work/none.rpz"

out_dir=$top/bench/results/policy_zipf
rm -rf "$out_dir"
mkdir -p "$out_dir"
common=(--workload zipf --only c2wall --duration "$duration" --warm "$warm" --nice "$nice_level"
	--latency-rate "$lat_rate")
for ((i = 1; i <= rounds; i++)); do
	for arm in none big; do
		f=$work/none.rpz
		[ "$arm" = big ] && f=$feed
		args=("${common[@]}" --rpz "$f")
		[ "$build" = 1 ] || args+=(--no-build)
		build=0
		echo "policy-zipf: round $i, $arm" >&2
		# bench/run.sh bounds each of its own steps in time and stops what it starts.
		"$top/bench/run.sh" "${args[@]}" >/dev/null || die "bench/run.sh failed (round $i, $arm)"
		cp -r "$top/bench/results/latest" "$out_dir/$i-$arm"
	done
done

/usr/bin/python3 - "$out_dir" "$rounds" "$rules" "$feed" >"$top/bench/results/policy_zipf.md" <<'EOF'
import os, statistics, sys

out, rounds, rules, feed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]


def run(tag):
    meta = {}
    with open(os.path.join(out, tag, "meta.tsv"), encoding="utf-8") as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            meta[k] = v
    with open(os.path.join(out, tag, "results.tsv"), encoding="utf-8") as f:
        p = f.readline().rstrip("\n").split("\t")
    if len(p) < 12 or p[3] != "ok":
        return None
    us = int(p[8]) / int(meta["clk_tck"]) * 1e6 / int(p[5])
    return {"us": us, "qps": float(p[4]), "rss": int(p[10]) / 1024 if p[10].isdigit() else 0,
            "note": p[11], "command": meta["command"], "rpz": meta["rpz"], "date": meta["date"]}


print("# c2wall, %d rules vs none, Zipf workload (bench/policy_zipf.sh)\n" % rules)
print("Feed: `%s`. Rounds alternated, none first.\n" % feed)
print("| round | none µs/answer | %d µs/answer | ÷ none | none QPS | %d QPS | none RSS MiB | "
      "%d RSS MiB | notes |" % (rules, rules, rules))
print("|--:|--:|--:|--:|--:|--:|--:|--:|---|")
ratios = []
for i in range(1, rounds + 1):
    a, b = run("%d-none" % i), run("%d-big" % i)
    if not a or not b:
        print("| %d | not measured | | | | | | | see bench/results/policy_zipf/ |" % i)
        continue
    ratios.append(b["us"] / a["us"])
    notes = "; ".join(x for x in ("none: " + a["note"] if a["note"] else "",
                                  "big: " + b["note"] if b["note"] else "") if x)
    print("| %d | %.2f | %.2f | %.3f× | %.0f | %.0f | %.0f | %.0f | %s |" % (
        i, a["us"], b["us"], ratios[-1], a["qps"], b["qps"], a["rss"], b["rss"], notes))
print()
if ratios:
    med = statistics.median(ratios)
    print("Median ratio %.3f× over %d rounds (spread %.3f–%.3f): target ≤ 1.05× **%s**." % (
        med, len(ratios), min(ratios), max(ratios), "met" if med <= 1.05 else "not met"))
EOF
cat "$top/bench/results/policy_zipf.md"
