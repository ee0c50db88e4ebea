#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Shared by bench/run.sh and bench/policy.sh (sourced, not run): process bookkeeping, CPU
# accounting and the NSD upstream both benchmarks forward to. Expects $work, $client_cpu,
# $P_NSD, $names, the pids array and die()/wait_ready() from the sourcing script.
# shellcheck disable=SC2154  # the variables above come from the sourcing script

stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		# A dead child stays visible to kill -0 until reaped.
		[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

forget_pid() {
	local p keep_pids=()
	for p in "${pids[@]}"; do
		[ "$p" = "$1" ] || keep_pids+=("$p")
	done
	pids=("${keep_pids[@]}")
}

spawn() {
	local cpu=$1 log=$2
	shift 2
	nice -n "$nice_level" taskset -c "$cpu" "$@" >"$log" 2>&1 &
	last_pid=$!
	pids+=("$last_pid")
}

port_free() {
	! ss -Hlun "sport = :$1" 2>/dev/null | grep -q . && ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

cpu_ticks() {
	local stat
	stat=$(cat "/proc/$1/stat") || return 1
	stat=${stat##*) }
	awk '{print $12 + $13}' <<<"$stat"
}

core_ticks() {
	awk -v c="cpu$1" '$1 == c { t = 0; for (i = 2; i <= 9; i++) t += $i; print $2 + $3 + $4 + $9, t }' /proc/stat
}

# Queries NSD has received so far (num.queries of nsd-control stats_noreset), or "" when
# unknown: the misses of the server in front of it, when sampled around a run.
nsd_queries() {
	timeout 10 nsd-control -c "$work/nsd.conf" stats_noreset 2>/dev/null |
		awk -F= '$1 == "num.queries" { print $2 }'
}

perf_field() {
	awk -v key="$1" -F: '{ k = $1; sub(/^[ \t]+/, "", k) } k == key { split($2, a, " "); print a[1]; exit }' "$2"
}

gen_data() {
	awk -v n="$names" 'BEGIN {
		print "$ORIGIN bench.example."
		print "$TTL 86400"
		print "@ SOA ns.bench.example. hostmaster.bench.example. 1 3600 600 864000 86400"
		print "@ NS ns"
		print "ns A 127.0.0.1"
		for (i = 0; i < n; i++)
			printf "n%d A 10.%d.%d.%d\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256
	}' >"$work/bench.example.zone"
	# Shuffled with a fixed random source: the same order every run.
	awk -v n="$names" 'BEGIN { for (i = 0; i < n; i++) printf "n%d.bench.example A\n", i }' |
		shuf --random-source=<(yes) >"$work/queries.txt"
	# Root hints that point nowhere but loopback: no server may prime from the Internet.
	cat >"$work/root.hints" <<'EOF'
.                        3600000  NS  a.root.bench.invalid.
a.root.bench.invalid.    3600000  A   127.0.0.254
EOF
}

start_nsd() {
	# $nsd_addr: where NSD listens (default 127.0.0.1; torture.sh puts it on port 53 of its own
	# loopback address, where every peer can reach it as a plain authority).
	local addr=${nsd_addr:-127.0.0.1}
	cat >"$work/nsd.conf" <<EOF
server:
    ip-address: $addr@$P_NSD
    port: $P_NSD
    server-count: 1
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "$work"
    pidfile: "$work/nsd.pid"
    xfrdfile: "$work/nsd-xfrd.state"
    zonelistfile: "$work/nsd-zone.list"
    database: ""
    logfile: "$work/nsd.log"
    verbosity: 0
    # Debian's NSD is built with response rate limiting, on by default at 200 answers/s per
    # source and bucket (one bucket per wildcard, one for a zone's NXDOMAINs): every resolver
    # here is one source, so the Zipf workload's misses were dropped or sent back truncated
    # (TCP retries, SERVFAIL). The benchmark's authority must not limit, unless
    # BENCH_NSD_RRL asks for an authority that does (as many on the Internet do).
    rrl-ratelimit: ${BENCH_NSD_RRL:-0}
    rrl-whitelist-ratelimit: ${BENCH_NSD_RRL:-0}
remote-control:
    # A unix socket, no keys: nsd_queries reads the query counter through it.
    control-enable: yes
    control-interface: $work/nsd.ctl
zone:
    name: bench.example.
    zonefile: "$work/bench.example.zone"
EOF
	# $nsd_extra_zones: more zones, each from $work/ORIGIN.zone (bench/gen_zipf.py's reverse zone).
	local z
	for z in ${nsd_extra_zones:-}; do
		printf 'zone:\n    name: %s\n    zonefile: "%s/%szone"\n' "$z" "$work" "$z" >>"$work/nsd.conf"
	done
	# NSD runs on $auth_cpu (default: the client's core; bench/run.sh's NSD answers the
	# warm-up pass and the misses; torture.sh moves it off the attacker's core).
	spawn "${auth_cpu:-$client_cpu}" "$work/nsd.out" nsd -d -c "$work/nsd.conf"
	nsd_pid=$last_pid
	wait_ready "$P_NSD" addr "$nsd_pid" n0.bench.example 30 "$addr" ||
		{ cat "$work/nsd.out" "$work/nsd.log" >&2 2>/dev/null; die "NSD did not start"; }
}
