#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The answer cache's hit ratio on the Zipf workload, with no network and no resolver: builds
# bench/pcache_replay.c against this tree's src/dns/pcache.c and, with --old REV, against that
# revision's (the fixed-slot cache before issue 11, e.g. --old eb7e3e4), then replays
# bench/gen_zipf.py's default file through each at several memory budgets. Deterministic.
#
#   bench/pcache_replay.sh [--old REV] [--mib "4 16 64"] [--qps 20000] [--passes 1]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
old="" mibs="4 16 64" qps=20000 passes=1
while [ $# -gt 0 ]; do
	case $1 in
	--old) old=${2:?}; shift 2 ;;
	--mib) mibs=${2:?}; shift 2 ;;
	--qps) qps=${2:?}; shift 2 ;;
	--passes) passes=${2:?}; shift 2 ;;
	*) echo "usage: bench/pcache_replay.sh [--old REV] [--mib LIST] [--qps N] [--passes N]" >&2; exit 2 ;;
	esac
done
work=$(mktemp -d /tmp/c2wall-replay.XXXXXX)
trap 'rm -rf "$work"' EXIT
b=$top/build-replay
cmake -S "$top" -B "$b" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF -DC2W_WERROR=OFF >/dev/null
cmake --build "$b" -j2 --target c2w_dns c2w_core >/dev/null
cc_args=(-O2 -std=c17 -D_GNU_SOURCE -I"$b" "$top/bench/pcache_replay.c")
libs=("$b/libc2w_dns.a" "$b/libc2w_core.a" -lxxhash)
cc "${cc_args[@]}" -I"$top/src" "$top/src/dns/pcache.c" "${libs[@]}" -o "$work/new"
if [ -n "$old" ]; then
	# The old revision is built whole (its cache, writer and headers agree); only the replay
	# tool is this tree's, told which API the old cache has.
	mkdir -p "$work/old"
	git -C "$top" archive "$old" | tar -x -C "$work/old"
	ob=$work/old/build
	cmake -S "$work/old" -B "$ob" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF -DC2W_WERROR=OFF >/dev/null
	cmake --build "$ob" -j2 --target c2w_dns c2w_core >/dev/null
	old_defs=()
	grep -q 'dns_pcache_new(unsigned entries' "$work/old/src/dns/pcache.h" && old_defs+=(-DPCACHE_SLOTS)
	grep -q 'do_neutral' "$work/old/src/dns/msg.h" || old_defs+=(-DPCACHE_NO_DO_NEUTRAL)
	cc -O2 -std=c17 -D_GNU_SOURCE -I"$ob" "${old_defs[@]}" -I"$work/old/src" "$top/bench/pcache_replay.c" \
		"$work/old/src/dns/pcache.c" "$ob/libc2w_dns.a" "$ob/libc2w_core.a" -lxxhash -o "$work/old.bin"
fi
/usr/bin/python3 "$top/bench/gen_zipf.py" --zone-dir "$work" -o "$work/zipf.bin"
for m in $mibs; do
	[ -n "$old" ] && echo "$m MiB, $old: $("$work/old.bin" "$work/zipf.bin" "$m" "$qps" "$passes")"
	echo "$m MiB, this tree: $("$work/new" "$work/zipf.bin" "$m" "$qps" "$passes")"
done
