#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The policy side of an IXFR at any zone size, without network or daemon (docs/BENCHMARKS.md,
# "Incremental policy"): compiles FEED with `c2wall compile`, then bench/delta_bench.c applies
# increments of K changes (K/2 of the feed's rules deleted, K/2 names added) with
# policy_snap_delta() and times each against the mapped snapshot; then the served version of
# the zone after each increment (c2wall as primary), from a full export and from the increment.
#
#   bench/delta_bench.sh [--build DIR] FEED ZONE K...
#   e.g. bench/gen_rpz.py -n 10000000 --mix --origin rpz.bench. -o /tmp/10m.rpz &&
#        bench/delta_bench.sh /tmp/10m.rpz rpz.bench. 1 1000 100000
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build-test
if [ "${1:-}" = --build ]; then build=$2; shift 2; fi
[ $# -ge 3 ] || { echo "usage: $0 [--build DIR] FEED ZONE K..." >&2; exit 2; }
feed=$1 zone=$2
shift 2
work=$(mktemp -d /tmp/c2w-delta-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cc -O2 -std=c17 -D_GNU_SOURCE -Wall -Wextra -I"$top/src" "$top/bench/delta_bench.c" -o "$work/delta_bench" \
	"$build/libc2w_feed.a" "$build/libc2w_policy.a" "$build/libc2w_dns.a" "$build/libc2w_core.a" \
	-lknot -lxxhash -lpthread
t0=$(date +%s.%N)
"$build/c2wall" compile --zone "$zone" -o "$work/snap" "$feed" >"$work/compile.log" 2>&1
echo "compile: $(echo "$(date +%s.%N) - $t0" | bc) s, $(stat -c %s "$work/snap") bytes"
"$work/delta_bench" "$work/snap" "$feed" "$zone" "$@"
