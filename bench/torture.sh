#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Water-torture (random-subdomain flood) benchmark: c2wall side by side with Unbound, BIND 9
# and PowerDNS Recursor, each with its own defences on, in one run. See docs/BENCHMARKS.md.
#
#   bench/torture.sh [--only c2wall,unbound,bind,pdns] [--modes silent,nxdomain,slow]
#                    [--base S] [--attack S] [--after S] [--rate Q] [--sources N]
#                    [--no-build] [--keep]
#
# World (loopback only): NSD serves bench.example. (the benign zone); bench/torture_auth.py
# serves victim.example., either black-holed ("silent": reads, never answers), answering
# NXDOMAIN at once ("nxdomain") or the same 0.5 s late ("slow", an overloaded server; not in
# the default --modes), and counts every query it receives. Each resolver runs with
# one worker pinned to core 0 and reaches both zones through stub zones.
# Timeline per server and mode: benign clients (bench/torture_benign.py, source 127.2.0.1, a
# fixed rate of hot cached names, fresh uncached names and one fresh victim name a second)
# run throughout; after --base seconds an attacker (dnsperf from 127.1.0.1, random names under
# victim.example., as fast as it goes on core 1; with --sources N, N dnsperf from 127.1.1.1,
# 127.1.2.1 ... 127.1.N.1, each with its own share of the names and of the rate: a botnet,
# where no single source, and no /24, stands out) runs for --attack seconds; the benign clients
# go on for --after seconds. Reported per server: benign success % and p99 latency during the
# attack beside the no-attack phase, queries per second reaching the victim's server, peak
# RSS, and time to recover after the attack. Every process started here is stopped by PID.
# Environment: BENCH_C2WALL_QPS (c2wall's per-client query rate, 0 = off; default 1000),
# BENCH_C2WALL_DDOS_ACTION (c2wall's ddos.action), BENCH_ATTACK_QPS (cap on the whole flood).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
ALL_SERVERS="c2wall,unbound,bind,pdns"
only=$ALL_SERVERS
modes=silent,nxdomain
base=10
attack=30
after=20
rate=200
sources=1
build=1
keep=0
ready_timeout=30
nice_level=0
server_cpu=${BENCH_SERVER_CPU:-0}
client_cpu=${BENCH_CLIENT_CPU:-1}
# The benign zone's authority (NSD) shares the server's core, not the attacker's: on the
# attacker's core, fully busy with dnsperf, NSD waited for the scheduler and added milliseconds
# to every benign miss, whichever resolver was under test (docs/BENCHMARKS.md).
auth_cpu=${BENCH_AUTH_CPU:-$server_cpu}
port_base=${BENCH_PORT_BASE:-5470}
attack_names=1000000
c2wall_qps=${BENCH_C2WALL_QPS:-1000}
c2wall_ddos_action=${BENCH_C2WALL_DDOS_ACTION:-}
attack_qps=${BENCH_ATTACK_QPS:-}

usage() {
	sed -n '3,26p' "$0" | sed 's/^# \{0,1\}//'
}

die() {
	echo "torture: $*" >&2
	exit 1
}

while [ $# -gt 0 ]; do
	case $1 in
	--only) only=${2:?}; shift 2 ;;
	--modes) modes=${2:?}; shift 2 ;;
	--base) base=${2:?}; shift 2 ;;
	--attack) attack=${2:?}; shift 2 ;;
	--after) after=${2:?}; shift 2 ;;
	--rate) rate=${2:?}; shift 2 ;;
	--sources) sources=${2:?}; shift 2 ;;
	--no-build) build=0; shift ;;
	--keep) keep=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "torture: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
done
IFS=, read -r -a _m <<<"$modes"
for m in "${_m[@]}"; do
	case $m in silent | nxdomain | slow) ;; *) echo "torture: --modes: silent, nxdomain, slow" >&2; exit 2 ;; esac
done
[[ $sources =~ ^[0-9]+$ ]] && [ "$sources" -ge 1 ] && [ "$sources" -le 250 ] ||
	{ echo "torture: --sources takes 1..250" >&2; exit 2; }
for v in base attack after rate; do
	[[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -ge 1 ] && [ "${!v}" -le 3600 ] ||
		{ echo "torture: --$v takes 1..3600" >&2; exit 2; }
done
for tool in dnsperf nsd dig taskset timeout; do
	command -v "$tool" >/dev/null || die "missing tool: $tool"
done

P_C2WALL=$((port_base + 1)) P_UNBOUND=$((port_base + 2)) P_BIND=$((port_base + 3))
P_PDNS=$((port_base + 4))
# The authorities listen on port 53 of addresses of their own, as real ones do (BIND's
# static-stub takes no port).
P_NSD=53 P_VICTIM=53 nsd_addr=127.54.0.1 victim_addr=127.54.0.2
total=$((base + attack + after))
# Names NSD must hold: the hot set and every fresh name the benign clients will ask.
names=$((100000 + rate * total + 1000))

work=$(mktemp -d /tmp/c2wall-torture.XXXXXX)
results_dir=$top/bench/results
raw_dir=$results_dir/torture
pids=()
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

cleanup() {
	local i
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		stop_pid "${pids[$i]}"
	done
	pids=()
	if [ "$keep" = 1 ]; then echo "torture: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_ready() {
	local port=$1 want=$2 pid=$3 qname=${4:-n0.bench.example} addr=${6:-127.0.0.1} deadline out
	deadline=$((SECONDS + ready_timeout))
	while [ $SECONDS -lt $deadline ]; do
		kill -0 "$pid" 2>/dev/null || return 2
		out=$(dig +time=1 +tries=1 -p "$port" "@$addr" "$qname" A 2>/dev/null || true)
		grep -q 'status: NOERROR' <<<"$out" && grep -q "^$qname" <<<"$out" && return 0
		sleep 0.2
	done
	return 1
}

# ------------------------------------------------------------------ configs, defences on
conf_c2wall() {
	mkdir -p "$work/c2wall"
	cat >"$work/c2wall.yaml" <<EOF
server:
  listen: ["127.0.0.1@$P_C2WALL"]
  user: none
  workers: 1
  allow: ["127.0.0.0/8"]
resolver:
  mode: recursive
  root-hints: $work/root.hints
  trust-anchor: none
  stub:
    - zone: bench.example
      addr: ["$nsd_addr@$P_NSD"]
    - zone: victim.example
      addr: ["$victim_addr@$P_VICTIM"]
events:
  jsonl: $work/c2wall/hits.jsonl
privacy:
  key-file: $work/c2wall/pseudonym.key
store:
  sqlite: none
control:
  socket: $work/c2wall/control.sock
log:
  level: warning
EOF
	# Its defences beyond the defaults, as the peers': a query rate per client address, like
	# Unbound's ip-ratelimit (BENCH_C2WALL_QPS=0 leaves it off).
	if [ "$c2wall_qps" -gt 0 ]; then
		printf 'rate-limit:\n  queries-per-second: %s\n' "$c2wall_qps" >>"$work/c2wall.yaml"
	fi
	# BENCH_C2WALL_DDOS_ACTION: ddos.action other than its default (servfail), e.g. drop
	if [ -n "$c2wall_ddos_action" ]; then
		printf 'ddos:\n  action: %s\n' "$c2wall_ddos_action" >>"$work/c2wall.yaml"
	fi
	cmd=("$c2wall_bin" serve --config "$work/c2wall.yaml")
}

conf_unbound() {
	cat >"$work/unbound.conf" <<EOF
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
    module-config: "iterator"
    root-hints: "$work/root.hints"
    msg-cache-size: 32m
    rrset-cache-size: 32m
    # Its defences: upstream queries per zone, client queries per address, RFC 8198.
    ratelimit: 1000
    ip-ratelimit: 1000
    aggressive-nsec: yes
remote-control:
    control-enable: no
stub-zone:
    name: "bench.example."
    stub-addr: $nsd_addr@$P_NSD
stub-zone:
    name: "victim.example."
    stub-addr: $victim_addr@$P_VICTIM
EOF
	cmd=(unbound -d -c "$work/unbound.conf")
}

conf_bind() {
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
    dnssec-validation no;
    max-cache-size 64m;
    /* Its defences: fetch quotas per zone and per server, response rate limiting. */
    fetches-per-zone 200;
    fetches-per-server 400;
    rate-limit { responses-per-second 1000; referrals-per-second 1000; nodata-per-second 1000;
                 nxdomains-per-second 100; errors-per-second 100; window 5; slip 2; };
};
controls { };
logging { category default { default_stderr; }; category lame-servers { null; };
          category rate-limit { null; }; category spill { null; }; };
zone "." { type hint; file "$work/root.hints"; };
zone "bench.example" { type static-stub; server-addresses { $nsd_addr; }; };
zone "victim.example" { type static-stub; server-addresses { $victim_addr; }; };
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
forward-zones=bench.example=$nsd_addr:$P_NSD,victim.example=$victim_addr:$P_VICTIM
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
	cmd=(pdns_recursor --config-dir="$work/pdns")
}

port_of() {
	case $1 in
	c2wall) echo "$P_C2WALL" ;; unbound) echo "$P_UNBOUND" ;;
	bind) echo "$P_BIND" ;; pdns) echo "$P_PDNS" ;;
	esac
}

version_of() {
	case $1 in
	c2wall) echo "c2wall $(git -C "$top" describe --always --dirty 2>/dev/null || echo '?')" ;;
	unbound) unbound -V 2>/dev/null | awk 'NR == 1 {print "Unbound", $2}' ;;
	bind) named -v 2>/dev/null | awk '{print $1, $2}' ;;
	pdns) pdns_recursor --version 2>&1 | grep -o 'PowerDNS Recursor [0-9.]*' | head -1 ;;
	esac
}

# ------------------------------------------------------------------ one server, one mode
run_one() {
	local name=$1 mode=$2 port pid vpid tag=$1-$2
	port=$(port_of "$name")
	echo "torture: $name / $mode" >&2
	spawn "$client_cpu" "$raw_dir/victim-$tag.log" /usr/bin/python3 "$top/bench/torture_auth.py" \
		--addr "$victim_addr" --port "$P_VICTIM" --mode "$mode" --stats "$raw_dir/victim-$tag.tsv"
	vpid=$last_pid
	"conf_$name"
	spawn "$server_cpu" "$raw_dir/$tag.log" "${cmd[@]}"
	pid=$last_pid
	if ! wait_ready "$port" addr "$pid"; then
		printf '%s\t%s\tnot measured: did not start (bench/results/torture/%s.log)\n' \
			"$name" "$mode" "$tag" >>"$work/status.tsv"
		stop_pid "$pid"; forget_pid "$pid"; stop_pid "$vpid"; forget_pid "$vpid"
		return
	fi
	taskset -c "$client_cpu" /usr/bin/python3 "$top/bench/torture_benign.py" --port "$port" \
		--warm >/dev/null || true
	local t0 a0 a1
	t0=$(date +%s.%N)
	taskset -c "$client_cpu" /usr/bin/python3 "$top/bench/torture_benign.py" --port "$port" \
		--rate "$rate" --seconds "$total" --out "$raw_dir/benign-$tag.tsv" &
	local bpid=$!
	sleep "$base"
	a0=$(date +%s.%N)
	# dnsperf -l alone can overrun by many seconds under a flood of its own: SIGINT at the
	# attack's end makes it stop and print its statistics.
	# One dnsperf per source (127.1.0.1 alone, or 127.1.K.1 with --sources), each with its
	# own names and share of the outstanding queries; their reports go into one file.
	local k apids=() addr=127.1.0.1 names=$work/attack.txt clients=10 attack_cap=()
	# BENCH_ATTACK_QPS: the whole flood's rate capped (dnsperf -Q, shared by the sources), so
	# that runs whose servers answer the flood differently send the same load
	if [ -n "$attack_qps" ]; then
		attack_cap=(-Q $(((attack_qps + sources - 1) / sources)))
	fi
	for ((k = 1; k <= sources; k++)); do
		if [ "$sources" -gt 1 ]; then
			addr=127.1.$k.1 names=$work/attack-$k.txt clients=2
		fi
		taskset -c "$client_cpu" timeout -k 10 -s INT "$attack" dnsperf -s 127.0.0.1 \
			-p "$port" -a "$addr" -d "$names" -l $((attack + 5)) -c "$clients" \
			-q $(((20000 + sources - 1) / sources)) -t 1 "${attack_cap[@]}" \
			-O suppress=timeout,congestion,sendfailed,sockready,unexpected \
			>"$raw_dir/attack-$tag-$k.txt" 2>&1 &
		apids+=($!)
	done
	for k in "${apids[@]}"; do wait "$k" || true; done
	cat "$raw_dir/attack-$tag"-*.txt >"$raw_dir/attack-$tag.txt"
	rm -f "$raw_dir/attack-$tag"-*.txt
	a1=$(date +%s.%N)
	wait "$bpid" || true
	local rss
	rss=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo -)
	if [ "$name" = c2wall ] && [ -S "$work/c2wall/control.sock" ]; then
		"$c2wall_bin" stats --config "$work/c2wall.yaml" >"$raw_dir/stats-$tag.json" 2>/dev/null ||
			/usr/bin/python3 - "$work/c2wall/control.sock" >"$raw_dir/stats-$tag.json" <<'PY' || true
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"stats\n")
print(s.recv(65536).decode())
PY
	fi
	local alive=ok
	kill -0 "$pid" 2>/dev/null || alive="died"
	stop_pid "$pid"; forget_pid "$pid"
	stop_pid "$vpid"; forget_pid "$vpid"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$mode" "$alive" "$t0" "$a0" "$a1" "$rss" \
		>>"$work/status.tsv"
}

# ------------------------------------------------------------------ main
mkdir -p "$results_dir"
rm -rf "$raw_dir"
mkdir -p "$raw_dir"
: >"$work/status.tsv"
IFS=, read -r -a servers <<<"$only"
IFS=, read -r -a mode_list <<<"$modes"
c2wall_bin=$top/build-bench/c2wall
if [ "$build" = 1 ] && [[ ",$only," == *",c2wall,"* ]]; then
	cmake -S "$top" -B "$top/build-bench" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
		-DC2W_WERROR=OFF >"$work/build.log" 2>&1 &&
		cmake --build "$top/build-bench" -j2 --target c2wall >>"$work/build.log" 2>&1 ||
		{ cat "$work/build.log" >&2; die "c2wall build failed"; }
fi
gen_data
awk -v n="$attack_names" 'BEGIN { srand(42); for (i = 0; i < n; i++)
	printf "r%08x%04x.victim.example A\n", int(rand() * 4294967295), i % 65536 }' \
	>"$work/attack.txt"
if [ "$sources" -gt 1 ]; then
	# each source its own names: the same file from every dnsperf would be mostly repeats
	awk -v n="$sources" -v d="$work" '{ print > (d "/attack-" (NR % n + 1) ".txt") }' \
		"$work/attack.txt"
fi
start_nsd
for s in "${servers[@]}"; do
	for m in "${mode_list[@]}"; do
		run_one "$s" "$m"
	done
done
{
	printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
	printf 'command\tbench/torture.sh --only %s --modes %s --base %s --attack %s --after %s --rate %s%s\n' \
		"$only" "$modes" "$base" "$attack" "$after" "$rate" \
		"$([ "$sources" = 1 ] || echo " --sources $sources")"
	printf 'cpu\t%s\n' "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
	for s in "${servers[@]}"; do printf 'version_%s\t%s\n' "$s" "$(version_of "$s")"; done
} >"$raw_dir/meta.tsv"
cp "$work/status.tsv" "$raw_dir/"
/usr/bin/python3 "$top/bench/torture_report.py" "$raw_dir" >"$results_dir/torture.md"
cat "$results_dir/torture.md"
