#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Repeat bench/run.sh over several rounds and compare the servers round by round.
#
#   bench/rounds.sh [--rounds N] --only A,B[,...] [any other bench/run.sh option]
#
# On a shared or virtual machine the speed of the whole machine drifts by 20 % or more
# between minutes, so one run.sh pass (servers measured one after the other) can rank the
# servers by when they ran rather than by what they cost. This wrapper runs run.sh N times
# (default 5), reversing the order of the servers every other round (A,B then B,A; with an
# even count each server runs first as often as last), keeps every round's raw results,
# and reports per server the median, lowest and highest QPS and CPU µs per answer, and per
# pair the median and range of the ratio measured within the same round.
#
# Output: bench/results/rounds.md (and stdout); the rounds' raw rows in
# bench/results/rounds/ROUND.tsv, their parameters in bench/results/rounds/ROUND.meta.tsv.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
rounds=5
only=""
pass=()
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) rounds=${2:?}; shift 2 ;;
	--only) only=${2:?}; shift 2 ;;
	-h | --help)
		sed -n '3,16p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) pass+=("$1"); shift ;;
	esac
done
case $rounds in
'' | *[!0-9]*) echo "rounds: --rounds needs a count, got '$rounds'" >&2; exit 2 ;;
esac
if [ "$rounds" -lt 1 ] || [ "$rounds" -gt 50 ]; then
	echo "rounds: --rounds must be 1..50" >&2
	exit 2
fi
if [ -z "$only" ] || [ "${only#*,}" = "$only" ]; then
	echo "rounds: --only needs at least two servers to compare (e.g. --only c2wall,unbound)" >&2
	exit 2
fi

results=$top/bench/results
out=$results/rounds
rm -rf "$out"
mkdir -p "$out"
IFS=, read -r -a fwd <<<"$only"
rev=()
for ((i = ${#fwd[@]} - 1; i >= 0; i--)); do rev+=("${fwd[$i]}"); done

build=()
for ((r = 1; r <= rounds; r++)); do
	if ((r % 2)); then order=("${fwd[@]}"); else order=("${rev[@]}"); fi
	list=$(IFS=,; echo "${order[*]}")
	echo "rounds: round $r of $rounds: $list" >&2
	"$top/bench/run.sh" --only "$list" "${pass[@]}" "${build[@]}" >"$out/$r.out" 2>&1 || {
		echo "rounds: round $r failed (bench/results/rounds/$r.out)" >&2
		exit 1
	}
	cp "$results/latest/results.tsv" "$out/$r.tsv"
	cp "$results/latest/meta.tsv" "$out/$r.meta.tsv"
	build=(--no-build) # built (or not) once, in the first round
done
/usr/bin/python3 "$top/bench/rounds_report.py" "$only" "$out" >"$results/rounds.md"
cat "$results/rounds.md"
