#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# c2wall side by side with Unbound, BIND 9, PowerDNS Recursor, Knot Resolver, dnsdist and a
# bare UDP reflector, on this machine, in one run, with dnsperf. See docs/BENCHMARKS.md.
#
#   bench/run.sh [--duration S] [--only c2wall,unbound,...] [--rpz FILE] [options]
#
# Method: an NSD instance on loopback serves bench.example. (N names; not under test., which
# Unbound and libunbound answer locally with NXDOMAIN, RFC 6761); every resolver forwards to
# it with DNSSEC validation off. One server at a time runs with one worker pinned to core 0,
# dnsperf pinned to core 1; the cache is warmed by one pass over all names, then dnsperf runs
# for a fixed time. The server's CPU time (utime+stime of the whole process from
# /proc/PID/stat) over the timed run is divided by the answers dnsperf received.
# Everything listens on 127.0.0.1 only, on high ports; every process this script starts is
# stopped by PID when it ends (trap). Results: a Markdown table on stdout and in
# bench/results/latest.md.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
ALL_SERVERS="reflector,c2wall,unbound,bind,pdns,kresd,dnsdist"

duration=15
only=$ALL_SERVERS
rpz=""
names=10000
clients=4
outstanding=500
build=1
cold=0
profile=""
keep=0
ready_timeout=30
nice_level=0
server_cpu=${BENCH_SERVER_CPU:-0}
client_cpu=${BENCH_CLIENT_CPU:-1}
port_base=${BENCH_PORT_BASE:-5370}
workload=hot
zipf_keys=2000000
zipf_queries=2000000
zipf_exponent=0.95
zipf_seed=11
warm=15
cache_mb=64
cache_mb_set=0
lat_rate=10000
lat_duration=10

usage() {
	cat <<'EOF'
NAME
    bench/run.sh - c2wall against other resolvers and a bare UDP reflector, with dnsperf

SYNOPSIS
    bench/run.sh [--duration S] [--only LIST] [--rpz FILE] [--names N] [--clients C]
                 [--outstanding Q] [--cold] [--profile DIR] [--no-build] [--keep]
                 [--ready-timeout S] [--nice N]
                 [--workload hot|zipf|zipf-miss] [--zipf-keys N] [--zipf-queries Q]
                 [--zipf-exponent S] [--zipf-seed SEED] [--warm S] [--cache-mb M]
                 [--latency-rate R] [--latency-duration S]

DESCRIPTION
    Starts an NSD authoritative server for bench.example. on loopback, then each selected
    server in turn (one worker, pinned to CPU $BENCH_SERVER_CPU, default 0) forwarding to it,
    warms its cache with one pass over all names, and runs dnsperf (pinned to CPU
    $BENCH_CLIENT_CPU, default 1) for S seconds. Records QPS, answers and the server's CPU
    time per answered query, and the queries the upstream NSD received meanwhile (the
    misses). Then, with the same warm cache, bench/latency.c sends the same queries at a
    fixed rate (--latency-rate) and records p50/p99 latency and losses (not with --cold).
    Prints a Markdown table with ratios to c2wall and to Unbound and writes it to
    bench/results/latest.md (raw dnsperf output beside it in bench/results/latest/).
    DNSSEC validation is off for every server.

OPTIONS
    --duration S       timed dnsperf run per server, seconds (default 15)
    --only LIST        comma-separated subset of: reflector,c2wall,unbound,bind,pdns,kresd,dnsdist
    --rpz FILE         load this RPZ zone (origin rpz.bench.) into every server that has RPZ
                       (c2wall, unbound, bind, pdns, kresd); see bench/gen_rpz.py. The
                       reflector and dnsdist run without it and are marked so.
    --names N          names in the benchmark zone and query file (default 10000)
    --clients C        dnsperf -c (default 4)
    --outstanding Q    dnsperf -q, queries in flight (default 500)
    --cold             miss-heavy run: no warm-up; dnsperf makes one pass over the names
                       (each asked once, every answer needs the upstream) instead of a
                       timed run over a warm cache; --duration then only bounds the pass
    --profile DIR      run each server under valgrind --tool=callgrind; its profile goes to
                       DIR/NAME.callgrind (read it with callgrind_annotate). Figures are
                       then valgrind's, not the server's: use a small --names and
                       --outstanding (e.g. --cold --names 20000 --outstanding 100)
    --no-build         do not (re)build c2wall; use build-bench/c2wall as it is
    --keep             keep the temporary directory with configs and logs
    --ready-timeout S  how long a server may take to start answering (default 30, or 600
                       with --rpz: a large RPZ takes time to load)
    --nice N           run the servers, NSD and dnsperf at this nice level (default 0;
                       negative needs root): less disturbance from other work on a
                       shared machine, at that work's expense
    --workload W       hot (default): the N names of --names, every query a cache hit after
                       the warm-up pass. zipf: the realistic stream of bench/gen_zipf.py
                       (Zipf popularity over --zipf-keys (name, type) keys, mixed qtypes,
                       NXDOMAIN share, EDNS with and without DO, with --rpz some blocked
                       names), warmed for --warm seconds, then dnsperf -l S over it; every
                       peer gets the same cache memory (--cache-mb)
                       zipf-miss: the same stream with caches far smaller than the key
                       set (--cache-mb default 8), so a steady share of the queries
                       misses to NSD; PowerDNS Recursor and dnsdist get entry limits
                       derived from --cache-mb (see --cache-mb)
    --zipf-keys N      distinct keys in the Zipf popularity (default 2000000)
    --zipf-queries Q   queries in the generated file, which dnsperf loops over (default
                       2000000)
    --zipf-exponent S  Zipf exponent (default 0.95)
    --zipf-seed SEED   generator seed (default 11)
    --warm S           zipf only: warm-up seconds at -q 100 (default 15)
    --cache-mb M       zipf only: cache memory of every server, MiB (default 64, 8 for
                       zipf-miss): c2wall
                       gets 1/4 for libunbound (resolver.cache-size) and 3/4 for its answer
                       cache (server.cache-memory), the ratio of its defaults;
                       Unbound M/3 msg + 2M/3 rrset; BIND max-cache-size; kresd cache.open;
                       PowerDNS Recursor and dnsdist count entries, not bytes: with zipf
                       their defaults (dnsdist 200k packet-cache entries) are kept; with
                       zipf-miss they get M*512 record-cache + M*512 packet-cache entries
                       (PowerDNS Recursor, ~1 KiB per entry assumed) and M*2048 packet-
                       cache entries (dnsdist, ~512 B per entry assumed): check the RSS
    --latency-rate R   queries/s of the fixed-rate latency pass (default 10000; 0 = no
                       pass). Pick a rate every peer sustains: at most about half the
                       slowest peer's QPS in the same workload
    --latency-duration S  seconds of the latency pass (default 10)
    -h, --help         this text

ENVIRONMENT
    BENCH_SERVER_CPU, BENCH_CLIENT_CPU   cores for the server and for dnsperf (0 and 1)
    BENCH_ATTACH                         a command attached to each server for the timed
                                         run and stopped with SIGINT after it; "{name}" and
                                         "{pid}" are replaced (e.g. "strace -c -f -p {pid}
                                         -o /tmp/{name}.strace" counts system calls)
    BENCH_NSD_RRL                        NSD's response rate limit, answers/s per source and
                                         bucket (default 0: off; 200 is NSD's own default)
    BENCH_C2WALL_BIN                     run this c2wall binary instead of building
                                         build-bench/c2wall (e.g. an older commit's build,
                                         for before/after runs); its row says so
    BENCH_PORT_BASE                      first of the ports used (default 5370: reflector
                                         +0, c2wall +1, unbound +2, bind +3, pdns +4, kresd +5,
                                         dnsdist +6, NSD +9)

EXIT STATUS
    0 when the run completed (a server that failed is reported in its row), 2 on bad usage,
    1 when the harness itself could not run (missing tool, port in use, NSD failed).
EOF
}

die() {
	echo "bench: $*" >&2
	exit 1
}

while [ $# -gt 0 ]; do
	case $1 in
	--duration) duration=${2:?}; shift 2 ;;
	--only) only=${2:?}; shift 2 ;;
	--rpz) rpz=${2:?}; shift 2 ;;
	--names) names=${2:?}; shift 2 ;;
	--clients) clients=${2:?}; shift 2 ;;
	--outstanding) outstanding=${2:?}; shift 2 ;;
	--no-build) build=0; shift ;;
	--cold) cold=1; shift ;;
	--profile) profile=${2:?}; shift 2 ;;
	--keep) keep=1; shift ;;
	--ready-timeout) ready_timeout=${2:?}; ready_timeout_set=1; shift 2 ;;
	--nice) nice_level=${2:?}; shift 2 ;;
	--workload) workload=${2:?}; shift 2 ;;
	--zipf-keys) zipf_keys=${2:?}; shift 2 ;;
	--zipf-queries) zipf_queries=${2:?}; shift 2 ;;
	--zipf-exponent) zipf_exponent=${2:?}; shift 2 ;;
	--zipf-seed) zipf_seed=${2:?}; shift 2 ;;
	--warm) warm=${2:?}; shift 2 ;;
	--cache-mb) cache_mb=${2:?}; cache_mb_set=1; shift 2 ;;
	--latency-rate) lat_rate=${2:?}; shift 2 ;;
	--latency-duration) lat_duration=${2:?}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "bench: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
done

case $workload in
hot) zipf_like=0 ;;
zipf) zipf_like=1 ;;
zipf-miss)
	zipf_like=1
	[ "$cache_mb_set" = 1 ] || cache_mb=8
	;;
*) echo "bench: --workload hot, zipf or zipf-miss" >&2; exit 2 ;;
esac
[[ $zipf_exponent =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "bench: --zipf-exponent must be a number" >&2; exit 2; }
if [ "$zipf_like" = 1 ] && [ "$cold" = 1 ]; then
	echo "bench: --cold and --workload $workload do not go together" >&2
	exit 2
fi
for v in duration names clients outstanding ready_timeout port_base server_cpu client_cpu \
	zipf_keys zipf_queries zipf_seed warm cache_mb lat_rate lat_duration; do
	[[ ${!v} =~ ^[0-9]+$ ]] || { echo "bench: --${v//_/-} must be a number" >&2; exit 2; }
done
if ! [[ $nice_level =~ ^-?[0-9]+$ ]] || [ "$nice_level" -lt -20 ] || [ "$nice_level" -gt 19 ]; then
	echo "bench: --nice -20..19" >&2
	exit 2
fi
in_range() { [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
if ! [[ ${BENCH_NSD_RRL:-0} =~ ^[0-9]{1,7}$ ]]; then
	echo "bench: BENCH_NSD_RRL: answers per second, 0..9999999" >&2
	exit 2
fi
if ! in_range "$duration" 1 3600 || ! in_range "$names" 1 10000000 ||
	! in_range "$clients" 1 1000 || ! in_range "$outstanding" 1 65535 ||
	! in_range "$cache_mb" 4 65536 || ! in_range "$warm" 0 3600 ||
	! in_range "$lat_rate" 0 1000000 || ! in_range "$lat_duration" 1 600; then
	echo "bench: out of range: --duration 1..3600, --names 1..10000000, --clients 1..1000," \
		"--outstanding 1..65535, --cache-mb 4..65536, --warm 0..3600," \
		"--latency-rate 0..1000000, --latency-duration 1..600" >&2
	exit 2
fi
# Cache memory per server (see --cache-mb). The hot-set and --cold runs give c2wall its
# defaults (128 MiB in all) and Unbound 64 MiB, as they always did.
if [ "$zipf_like" = 1 ]; then
	# As c2wall's defaults (32m + 96m): a quarter for libunbound, the rest for the answer
	# cache (docs/BENCHMARKS.md, "Cache memory: the split").
	c2w_cache_size=$(((cache_mb + 3) / 4))m
	c2w_cache_memory=$((cache_mb - (cache_mb + 3) / 4))m
	ub_msg=$((cache_mb / 3))
	ub_rrset=$((cache_mb - ub_msg))
else
	cache_mb=64
	c2w_cache_size=32m     # c2wall's defaults
	c2w_cache_memory=96m
	ub_msg=32
	ub_rrset=32
fi
servers=()
IFS=, read -r -a req <<<"$only"
for s in "${req[@]}"; do
	case ",$ALL_SERVERS," in
	*",$s,"*) servers+=("$s") ;;
	*) echo "bench: unknown server '$s' (known: $ALL_SERVERS)" >&2; exit 2 ;;
	esac
done
if [ -n "$rpz" ]; then
	[ -r "$rpz" ] || { echo "bench: cannot read RPZ file '$rpz'" >&2; exit 2; }
	rpz=$(cd "$(dirname "$rpz")" && pwd)/$(basename "$rpz")
	[ "${ready_timeout_set:-0}" = 1 ] || ready_timeout=600
	# A name the RPZ turns into NXDOMAIN ("name CNAME ."), to check the policy is in force.
	rpz_probe=$(awk '$1 !~ /^[@$;*]/ && $(NF-1) == "CNAME" && $NF == "." { print $1; exit }' "$rpz")
	[ -n "$rpz_probe" ] || { echo "bench: no 'NAME CNAME .' rule in $rpz to probe with" >&2; exit 2; }
	case $rpz_probe in
	*.) die "absolute rule names are not supported in --rpz files: $rpz_probe" ;;
	esac
fi

for tool in dnsperf nsd dig taskset timeout cc; do
	command -v "$tool" >/dev/null || die "missing tool: $tool"
done
if [ "$(nproc)" -lt 2 ] && [ "$server_cpu" = "$client_cpu" ]; then
	echo "bench: warning: server and dnsperf share CPU $server_cpu" >&2
fi

P_REFLECTOR=$((port_base + 0)) P_C2WALL=$((port_base + 1)) P_UNBOUND=$((port_base + 2))
P_BIND=$((port_base + 3)) P_PDNS=$((port_base + 4)) P_KRESD=$((port_base + 5))
P_DNSDIST=$((port_base + 6)) P_NSD=$((port_base + 9))

work=$(mktemp -d /tmp/c2wall-bench.XXXXXX)
results_dir=$top/bench/results
raw_dir=$results_dir/latest
pids=()

# Stop one process we started: SIGTERM, up to 10 s, then SIGKILL. Reaps it.

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

cleanup() {
	local i
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		stop_pid "${pids[$i]}"
	done
	pids=()
	if [ "$keep" = 1 ]; then
		echo "bench: configs and logs kept in $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Start "$@" in the background pinned to CPU $1; its PID goes to $last_pid and $pids.
# nice and taskset exec the program, so the PID is the server's own.

# Drop a stopped PID from the list the trap walks.


# Wait until the server on $1 answers $4 (default n0.bench.example A): with the zone's
# address ($2 = "addr"), at least NOERROR ($2 = "noerror", the reflector) or NXDOMAIN ($2 =
# "nxdomain", an RPZ rule in force). Bounded by $ready_timeout seconds. Returns 1 on timeout,
# 2 when the process is gone.
wait_ready() {
	local port=$1 want=$2 pid=$3 qname=${4:-n0.bench.example} deadline out
	deadline=$((SECONDS + ready_timeout))
	while [ $SECONDS -lt $deadline ]; do
		kill -0 "$pid" 2>/dev/null || return 2
		[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && return 2
		out=$(dig +time=1 +tries=1 -p "$port" @127.0.0.1 "$qname" A 2>/dev/null || true)
		case $want in
		addr) grep -q '^n0\.bench\.example\..*IN[[:space:]]A[[:space:]]10\.0\.0\.0' <<<"$out" && return 0 ;;
		noerror) grep -q 'status: NOERROR' <<<"$out" && return 0 ;;
		nxdomain) grep -q 'status: NXDOMAIN' <<<"$out" && return 0 ;;
		esac
		sleep 0.2
	done
	return 1
}

# utime+stime of the whole process (all threads, live and exited), in clock ticks. The
# command name in field 2 may hold spaces, so cut after its closing parenthesis.

# "busy total" ticks of one CPU from /proc/stat. busy = user + nice + system + steal: what
# processes (or the hypervisor) took. irq and softirq are left out: on the server's core they
# are mostly the server's own packets. total = user..steal (guest time is already in user).

# ---------------------------------------------------------------- data: zone and queries


# ---------------------------------------------------------------- one config per server
# Socket buffers: c2wall and the reflector ask for 4 MiB; the peers that have a setting for it
# (Unbound, BIND, dnsdist) get the same. PowerDNS Recursor and kresd have none.
conf_c2wall() {
	{
		cat <<EOF
server:
  listen: ["127.0.0.1@$P_C2WALL"]
  workers: 1
  cache-memory: ${c2w_cache_memory}
  user: none
  allow: ["127.0.0.0/8"]
EOF
		# valgrind (--profile) cannot run under the seccomp filter.
		[ -z "$profile" ] || echo "  syscall-filter: false"
		cat <<EOF
resolver:
  mode: forward
  forward: ["127.0.0.1@$P_NSD"]
  trust-anchor: none
  root-hints: $work/root.hints
  cache-size: ${c2w_cache_size}
limits:
  # dnsperf is one source address standing for many subscribers: lift the per-client
  # in-flight cap (default 100) above the --outstanding it may use.
  client-inflight-max: 65535
events:
  jsonl: none
privacy:
  key-file: $work/c2wall/pseudonym.key
store:
  sqlite: none
control:
  socket: none
log:
  level: warning
EOF
		if [ -n "$rpz" ]; then
			cat <<EOF
policy:
  zones:
    - name: rpz.bench
      file: $rpz
      format: rpz
EOF
		fi
	} >"$work/c2wall.yaml"
	mkdir -p "$work/c2wall"
	cmd=("$c2wall_bin" serve --config "$work/c2wall.yaml")
}

conf_unbound() {
	local modules=iterator
	[ -n "$rpz" ] && modules="respip iterator"
	{
		cat <<EOF
server:
    interface: 127.0.0.1@$P_UNBOUND
    port: $P_UNBOUND
    num-threads: 1
    so-reuseport: no
    do-ip6: no
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "$work"
    pidfile: "$work/unbound.pid"
    use-syslog: no
    verbosity: 0
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    module-config: "$modules"
    root-hints: "$work/root.hints"
    msg-cache-size: ${ub_msg}m
    rrset-cache-size: ${ub_rrset}m
    so-rcvbuf: 4m
    so-sndbuf: 4m
remote-control:
    control-enable: no
forward-zone:
    name: "."
    forward-addr: 127.0.0.1@$P_NSD
EOF
		if [ -n "$rpz" ]; then
			cat <<EOF
rpz:
    name: rpz.bench.
    zonefile: "$rpz"
EOF
		fi
	} >"$work/unbound.conf"
	cmd=(unbound -d -c "$work/unbound.conf")
}

conf_bind() {
	local rp="" rz=""
	if [ -n "$rpz" ]; then
		# Rewrite on the QNAME alone, without waiting for recursion (which fails for names
		# outside bench.example.): QNAME triggers before resolving, as c2wall does.
		rp='response-policy { zone "rpz.bench"; } qname-wait-recurse no;'
		rz="zone \"rpz.bench\" { type primary; file \"$rpz\"; };"
	fi
	cat >"$work/named.conf" <<EOF
options {
    directory "$work";
    pid-file "$work/named.pid";
    session-keyfile "$work/named-session.key";
    managed-keys-directory "$work";
    listen-on port $P_BIND { 127.0.0.1; };
    listen-on-v6 { none; };
    recursion yes;
    allow-query { 127.0.0.0/8; };
    allow-recursion { 127.0.0.0/8; };
    forwarders { 127.0.0.1 port $P_NSD; };
    forward only;
    dnssec-validation no;
    max-cache-size ${cache_mb}m;
    recursive-clients 10000;
    udp-receive-buffer 4194304;
    udp-send-buffer 4194304;
    $rp
};
controls { };
logging { category default { default_stderr; }; category lame-servers { null; }; };
zone "." { type hint; file "$work/root.hints"; };
$rz
EOF
	cmd=(named -g -n 1 -c "$work/named.conf")
}

conf_pdns() {
	mkdir -p "$work/pdns"
	cat >"$work/pdns/recursor.conf" <<EOF
local-address=127.0.0.1
local-port=$P_PDNS
threads=1
pdns-distributes-queries=no
reuseport=no
forward-zones-recurse=.=127.0.0.1:$P_NSD
dnssec=off
allow-from=127.0.0.0/8
socket-dir=$work/pdns
daemon=no
write-pid=no
disable-syslog=yes
quiet=yes
loglevel=3
security-poll-suffix=
hint-file=$work/root.hints
EOF
	if [ -n "$rpz" ]; then
		echo "rpzFile(\"$rpz\", {policyName=\"rpz.bench\"})" >"$work/pdns/rpz.lua"
		echo "lua-config-file=$work/pdns/rpz.lua" >>"$work/pdns/recursor.conf"
	fi
	if [ "$workload" = zipf-miss ]; then
		# Entries, not bytes: half the budget each at ~1 KiB per entry (see --cache-mb).
		printf 'max-cache-entries=%d\nmax-packetcache-entries=%d\n' \
			$((cache_mb * 512)) $((cache_mb * 512)) >>"$work/pdns/recursor.conf"
	fi
	cmd=(pdns_recursor --config-dir="$work/pdns")
}

conf_kresd() {
	mkdir -p "$work/kresd" "$work/kresd-cache"
	{
		cat <<EOF
-- No network beyond loopback: drop the modules that query the root on their own.
for _, m in ipairs({'priming', 'detect_time_skew', 'detect_time_jump', 'ta_signal_query', 'ta_sentinel', 'ta_update'}) do
    pcall(modules.unload, m)
end
trust_anchors.remove('.')
net.ipv6 = false
net.listen('127.0.0.1', $P_KRESD, { kind = 'dns' })
cache.open($cache_mb * MB, 'lmdb://$work/kresd-cache')
log_level('warning')
EOF
		if [ -n "$rpz" ]; then
			echo "policy.add(policy.rpz(policy.DENY, '$rpz', false))"
		fi
		echo "policy.add(policy.all(policy.FORWARD('127.0.0.1@$P_NSD')))"
	} >"$work/kresd.conf"
	cmd=(kresd -n -c "$work/kresd.conf" "$work/kresd")
}

conf_dnsdist() {
	local pc_entries=200000
	# Entries, not bytes: ~512 B per entry (see --cache-mb).
	[ "$workload" = zipf-miss ] && pc_entries=$((cache_mb * 2048))
	cat >"$work/dnsdist.conf" <<EOF
setSecurityPollSuffix('')
setUDPSocketBufferSizes(4194304, 4194304)
setLocal('127.0.0.1:$P_DNSDIST')
setACL({'127.0.0.0/8'})
newServer({address='127.0.0.1:$P_NSD', checkName='bench.example.', checkType='SOA'})
pc = newPacketCache($pc_entries, {maxTTL=86400, minTTL=0})
getPool(''):setCache(pc)
EOF
	cmd=(dnsdist --supervised --disable-syslog -C "$work/dnsdist.conf")
}

conf_reflector() {
	cmd=("$work/reflector" -a 127.0.0.1 -p "$P_REFLECTOR")
}

# ---------------------------------------------------------------- build and versions
build_c2wall() {
	c2wall_bin=${BENCH_C2WALL_BIN:-$top/build-bench/c2wall}
	c2wall_status=""
	if [ "$build" = 1 ] && [ -z "${BENCH_C2WALL_BIN:-}" ]; then
		# Warnings do not fail a benchmark build (the product build keeps -Werror).
		if ! { cmake -S "$top" -B "$top/build-bench" -DCMAKE_BUILD_TYPE=Release \
			-DBUILD_TESTING=OFF -DC2W_WERROR=OFF &&
			cmake --build "$top/build-bench" -j2 --target c2wall; } >"$work/c2wall-build.log" 2>&1; then
			mkdir -p "$raw_dir"
			cp "$work/c2wall-build.log" "$raw_dir/"
			c2wall_status="build failed (bench/results/latest/c2wall-build.log)"
			return
		fi
	fi
	[ -x "$c2wall_bin" ] || c2wall_status="no binary at $c2wall_bin"
}

version_of() {
	case $1 in
	reflector) echo "bench/reflector.c" ;;
	c2wall)
		if [ -n "${BENCH_C2WALL_BIN:-}" ]; then
			echo "c2wall $BENCH_C2WALL_BIN"
		else
			echo "c2wall $(git -C "$top" describe --always --dirty 2>/dev/null || echo '?')"
		fi ;;
	unbound) unbound -V 2>/dev/null | awk 'NR == 1 {print "Unbound", $2}' ;;
	bind) named -v 2>/dev/null | awk '{print $1, $2}' ;;
	pdns) pdns_recursor --version 2>&1 | grep -o 'PowerDNS Recursor [0-9.]*' | head -1 ;;
	kresd) kresd --version 2>/dev/null | sed 's/, version//' ;;
	dnsdist) dnsdist --version 2>/dev/null | awk 'NR == 1 {print $1, $2}' ;;
	esac
}

kind_of() {
	case $1 in
	reflector) echo "kernel-path ceiling" ;;
	dnsdist) echo "load balancer + packet cache" ;;
	*) echo "resolver" ;;
	esac
}

binary_of() {
	case $1 in
	reflector) echo cc ;;
	c2wall) echo "$c2wall_bin" ;;
	unbound) echo unbound ;;
	bind) echo named ;;
	pdns) echo pdns_recursor ;;
	kresd) echo kresd ;;
	dnsdist) echo dnsdist ;;
	esac
}

port_of() {
	case $1 in
	reflector) echo "$P_REFLECTOR" ;;
	c2wall) echo "$P_C2WALL" ;;
	unbound) echo "$P_UNBOUND" ;;
	bind) echo "$P_BIND" ;;
	pdns) echo "$P_PDNS" ;;
	kresd) echo "$P_KRESD" ;;
	dnsdist) echo "$P_DNSDIST" ;;
	esac
}

# ---------------------------------------------------------------- one measurement
# dnsperf's summary line "  Label:   value ..." -> first word of the value.

# Append one row: name kind version status qps answered lost noerror cpu_ticks latency_s
# rss_kib note [upstream lat_rate lat_sent lat_answered lat_lost lat_p50_us lat_p99_us]
row() {
	local IFS=$'\t'
	printf '%s\n' "$*" >>"$work/results.tsv"
}

# The fixed-rate pass (--latency-rate): the same queries, open loop, after the timed run and
# with its warm cache. Sets lat_sent lat_answered lat_lost lat_p50 lat_p99 lat_late ("-" when
# not run). Raw output in $raw_dir/NAME.latency.txt.
latency_pass() {
	local name=$1 port=$2 out=$raw_dir/$1.latency.txt bin=()
	lat_sent=- lat_answered=- lat_lost=- lat_p50=- lat_p99=- lat_late=-
	# --cold: the pass would only ask names the cold pass has just cached.
	if [ "$lat_rate" = 0 ] || [ "$cold" = 1 ]; then
		return 0
	fi
	[ "${qfile[0]}" = -B ] && bin=(-B)
	echo "bench: $name: latency at $lat_rate q/s for ${lat_duration}s" >&2
	nice -n "$nice_level" taskset -c "$client_cpu" timeout -k 5 $((lat_duration + 30)) \
		"$work/latency" -s 127.0.0.1 -p "$port" -d "${qfile[-1]}" "${bin[@]}" \
		-Q "$lat_rate" -l "$lat_duration" -t 2 >"$out" 2>&1 || true
	lat_sent=$(awk '$1 == "sent" {print $2}' "$out")
	lat_answered=$(awk '$1 == "answered" {print $2}' "$out")
	lat_lost=$(awk '$1 == "lost" {print $2}' "$out")
	lat_p50=$(awk '$1 == "p50_us" {print $2}' "$out")
	lat_p99=$(awk '$1 == "p99_us" {print $2}' "$out")
	# Sends the client made late or skipped because it was not scheduled itself.
	lat_late=$(awk '$1 == "late_sends" || $1 == "skipped" {n += $2} END {print n + 0}' "$out")
	if [ -z "$lat_sent" ] || [ -z "$lat_p99" ]; then
		lat_sent=- lat_answered=- lat_lost=- lat_p50=- lat_p99=- lat_late=-
	fi
}

measure() {
	local name=$1 port pid t0 t1 out status rss c0_busy c0_total c1_busy c1_total rpz_note=""
	port=$(port_of "$name")
	local kind ver
	kind=$(kind_of "$name")
	ver=$(version_of "$name")
	if [ -n "$rpz" ] && { [ "$name" = reflector ] || [ "$name" = dnsdist ]; }; then
		rpz_note="no RPZ"
	fi
	if [ "$name" = c2wall ] && [ -n "$c2wall_status" ]; then
		row "$name" "$kind" "$ver" "not measured: $c2wall_status" - - - - - - - "$rpz_note"
		return
	fi
	if ! command -v "$(binary_of "$name")" >/dev/null; then
		row "$name" "$kind" "$ver" "not measured: $(binary_of "$name") not installed" - - - - - - - "$rpz_note"
		return
	fi
	if ! port_free "$port"; then
		row "$name" "$kind" "$ver" "not measured: port $port in use" - - - - - - - "$rpz_note"
		return
	fi
	"conf_$name"
	if [ -n "$profile" ]; then
		mkdir -p "$profile"
		cmd=(valgrind --tool=callgrind "--callgrind-out-file=$(cd "$profile" && pwd)/$name.callgrind" "${cmd[@]}")
	fi
	echo "bench: $name: starting on 127.0.0.1@$port" >&2
	local t_start=$SECONDS
	spawn "$server_cpu" "$raw_dir/$name.log" "${cmd[@]}"
	pid=$last_pid
	local want=addr
	[ "$name" = reflector ] && want=noerror
	local rc=0 why
	wait_ready "$port" "$want" "$pid" || rc=$?
	# With a policy, the server is ready when a rule blocks: some load zones after they answer.
	if [ "$rc" = 0 ] && [ -n "$rpz" ] && [ -z "$rpz_note" ]; then
		wait_ready "$port" nxdomain "$pid" "$rpz_probe" || rc=$((${?} + 10))
	fi
	if [ "$rc" != 0 ]; then
		case $rc in
		1) why="did not answer within ${ready_timeout}s" ;;
		11) why="RPZ rule $rpz_probe not in force within ${ready_timeout}s" ;;
		*) why="exited at start" ;;
		esac
		stop_pid "$pid"
		forget_pid "$pid"
		row "$name" "$kind" "$ver" "not measured: $why (bench/results/latest/$name.log)" - - - - - - - "$rpz_note"
		return
	fi
	local startup=$((SECONDS - t_start))
	local run_args=(-l "$duration")
	if [ "$cold" = 1 ]; then
		# Miss-heavy: one pass, every name asked once; SIGINT ends an overlong pass with
		# dnsperf's statistics.
		run_args=(-n 1)
	else
		echo "bench: $name: ready after ${startup}s; warming the cache" >&2
		# One pass over all names, a modest number in flight so the upstream keeps up.
		local warm_args=(-n 1)
		[ "$zipf_like" = 1 ] && warm_args=(-l "$warm")
		nice -n "$nice_level" taskset -c "$client_cpu" timeout $((warm + 120)) dnsperf -s 127.0.0.1 -p "$port" "${qfile[@]}" \
			"${warm_args[@]}" -q 100 -t 5 >"$raw_dir/$name.warm.txt" 2>&1 || true
	fi
	echo "bench: $name: dnsperf (${run_args[*]})" >&2
	local attach_pid=""
	if [ -n "${BENCH_ATTACH:-}" ]; then
		local attach_cmd
		attach_cmd=${BENCH_ATTACH//\{name\}/$name}
		read -r -a attach_cmd <<<"${attach_cmd//\{pid\}/$pid}"
		"${attach_cmd[@]}" >"$raw_dir/$name.attach.log" 2>&1 &
		attach_pid=$!
		pids+=("$attach_pid")
		sleep 1
	fi
	local up0 up1 upstream=-
	up0=$(nsd_queries)
	t0=$(cpu_ticks "$pid") || t0=""
	read -r c0_busy c0_total < <(core_ticks "$server_cpu")
	out=$raw_dir/$name.dnsperf.txt
	nice -n "$nice_level" taskset -c "$client_cpu" timeout -k 10 -s INT $((duration + 60)) dnsperf -s 127.0.0.1 -p "$port" \
		"${qfile[@]}" "${run_args[@]}" -q "$outstanding" -c "$clients" -t 2 \
		-O suppress=timeout,congestion,sendfailed,sockready,unexpected \
		>"$out" 2>&1 || true
	t1=$(cpu_ticks "$pid") || t1=""
	up1=$(nsd_queries)
	[ -n "$up0" ] && [ -n "$up1" ] && upstream=$((up1 - up0))
	# utime and stime apart: the miss path's kernel share (sockets per upstream query).
	awk '{ sub(/^.*\) /, ""); print "utime_ticks", $12; print "stime_ticks", $13 }' \
		"/proc/$pid/stat" >"$raw_dir/$name.cpu" 2>/dev/null || true
	read -r c1_busy c1_total < <(core_ticks "$server_cpu")
	if [ -n "$attach_pid" ]; then
		kill -INT "$attach_pid" 2>/dev/null || true
		wait "$attach_pid" 2>/dev/null || true
		forget_pid "$attach_pid"
	fi
	latency_pass "$name" "$port"
	rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
	status=ok
	kill -0 "$pid" 2>/dev/null || status="died during the run"
	stop_pid "$pid"
	forget_pid "$pid"
	local qps answered lost noerror lat
	qps=$(perf_field "Queries per second" "$out")
	answered=$(perf_field "Queries completed" "$out")
	lost=$(perf_field "Queries lost" "$out")
	lat=$(perf_field "Average Latency (s)" "$out")
	noerror=$(grep -o 'NOERROR [0-9]*' "$out" | awk '{print $2}' | head -1 || true)
	if [ -z "$qps" ] || [ -z "$answered" ] || [ -z "$t0" ] || [ -z "$t1" ]; then
		row "$name" "$kind" "$ver" "not measured: ${status/ok/no dnsperf summary} (bench/results/latest/$name.dnsperf.txt)" - - - - - - - "$rpz_note"
		return
	fi
	[ "$status" = ok ] || status="not measured: $status"
	local note=$rpz_note
	[ -n "$rpz" ] && [ -z "$note" ] && note="RPZ in force after ${startup}s"
	# Time the server's core spent on anything but the server (other processes, interrupts):
	# when it is large the QPS figure is disturbed; CPU per answer much less so.
	local other=$(((c1_busy - c0_busy) - (t1 - t0)))
	local span=$((c1_total - c0_total))
	if [ "$span" -gt 0 ] && [ $((other * 100 / span)) -ge 10 ]; then
		note="${note:+$note; }core $server_cpu $((other * 100 / span))% busy with other work"
	fi
	if [ "$lat_late" != - ] && [ "$lat_sent" != - ] && [ $((lat_late * 100)) -gt "$lat_sent" ]; then
		note="${note:+$note; }latency client late or skipped for $lat_late sends of $((lat_rate * lat_duration))"
	fi
	row "$name" "$kind" "$ver" "$status" "$qps" "$answered" "$lost" "${noerror:-0}" \
		"$((t1 - t0))" "$lat" "${rss:--}" "$note" "$upstream" "$lat_rate" "$lat_sent" \
		"$lat_answered" "$lat_lost" "$lat_p50" "$lat_p99"
	echo "bench: $name: $qps q/s, $answered answers, $((t1 - t0)) CPU ticks" >&2
}

# ---------------------------------------------------------------- main
for s in "${servers[@]}"; do
	port_free "$(port_of "$s")" || die "port $(port_of "$s") ($s) is in use; set BENCH_PORT_BASE"
done
port_free "$P_NSD" || die "port $P_NSD (NSD) is in use; set BENCH_PORT_BASE"
mkdir -p "$results_dir"
rm -rf "$raw_dir"
mkdir -p "$raw_dir"
: >"$work/results.tsv"

for s in "${servers[@]}"; do
	case $s in
	c2wall) build_c2wall ;;
	reflector) cc -O2 -std=c17 -Wall -Wextra -o "$work/reflector" "$top/bench/reflector.c" ||
		die "cannot build bench/reflector.c" ;;
	esac
done
if [ "$lat_rate" -gt 0 ]; then
	cc -O2 -std=c17 -Wall -Wextra -o "$work/latency" "$top/bench/latency.c" ||
		die "cannot build bench/latency.c"
fi
gen_data
qfile=(-d "$work/queries.txt")
if [ "$zipf_like" = 1 ]; then
	zipf_args=(--zone-dir "$work" -o "$work/queries.bin" --keys "$zipf_keys" --queries "$zipf_queries"
		--exponent "$zipf_exponent" --seed "$zipf_seed")
	if [ -n "$rpz" ]; then
		# The blocked names: up to 1000 "NAME CNAME ." rules of the RPZ, asked for type A.
		awk '$1 !~ /^[@$;*]/ && $(NF-1) == "CNAME" && $NF == "." { print $1, "A"; if (++n == 1000) exit }' \
			"$rpz" >"$work/blocked.txt"
		zipf_args+=(--blocked "$work/blocked.txt")
	fi
	echo "bench: generating the Zipf workload" >&2
	/usr/bin/python3 "$top/bench/gen_zipf.py" "${zipf_args[@]}" 2>&1 | tee "$work/zipf.txt" >&2
	cat "$work/zipf.bench.example.zone" >>"$work/bench.example.zone"
	nsd_extra_zones="77.203.in-addr.arpa."
	qfile=(-B -d "$work/queries.bin")
fi
start_nsd
for s in "${servers[@]}"; do
	measure "$s"
done

rpz_rules=""
nice_arg=""
[ "$nice_level" = 0 ] || nice_arg=" --nice $nice_level"
cold_arg=""
[ "$cold" = 1 ] && cold_arg=" --cold"
workload_arg=""
if [ "$zipf_like" = 1 ]; then
	workload_arg=" --workload $workload --zipf-keys $zipf_keys --zipf-queries $zipf_queries --zipf-exponent $zipf_exponent --zipf-seed $zipf_seed --warm $warm --cache-mb $cache_mb"
fi
[ -n "$rpz" ] && rpz_rules=$(grep -cvE '^\s*($|;|\$|@)' "$rpz" || true)
{
	printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
	printf 'command\t%s\n' "${BENCH_NSD_RRL:+BENCH_NSD_RRL=$BENCH_NSD_RRL }bench/run.sh --duration $duration --only $only${rpz:+ --rpz $rpz} --names $names --clients $clients --outstanding $outstanding$nice_arg$cold_arg$workload_arg --latency-rate $lat_rate --latency-duration $lat_duration"
	printf 'cpu\t%s\n' "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
	printf 'nproc\t%s\n' "$(nproc)"
	printf 'kernel\t%s\n' "$(uname -sr)"
	printf 'dnsperf\t%s\n' "$(dnsperf -h 2>&1 | awk '/^Version/ {print $2}')"
	printf 'clk_tck\t%s\n' "$(getconf CLK_TCK)"
	printf 'duration\t%s\n' "$duration"
	printf 'names\t%s\n' "$names"
	printf 'cold\t%s\n' "$cold"
	printf 'workload\t%s\n' "$workload"
	printf 'zipf\t%s\n' "$(cat "$work/zipf.txt" 2>/dev/null || true)"
	printf 'warm\t%s\n' "$warm"
	printf 'cache_mb\t%s\n' "$cache_mb"
	printf 'clients\t%s\n' "$clients"
	printf 'latency_rate\t%s\n' "$lat_rate"
	printf 'latency_duration\t%s\n' "$lat_duration"
	printf 'outstanding\t%s\n' "$outstanding"
	printf 'server_cpu\t%s\n' "$server_cpu"
	printf 'client_cpu\t%s\n' "$client_cpu"
	printf 'nice\t%s\n' "$nice_level"
	printf 'rpz\t%s\n' "${rpz:+$(basename "$rpz") ($rpz_rules rules)}"
} >"$work/meta.tsv"
cp "$work/results.tsv" "$work/meta.tsv" "$raw_dir/"
/usr/bin/python3 "$top/bench/report.py" "$work/meta.tsv" "$work/results.tsv" >"$results_dir/latest.md"
cat "$results_dir/latest.md"
