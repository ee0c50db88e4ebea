#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Policy-engine benchmarks (issue 3): compile time and memory per rule, daemon start and RSS per
# rule, reload time under load, cache-hit CPU per answer with 1M/10M rules vs none, and the
# peers (via bench/run.sh --rpz) with the same feed. See docs/BENCHMARKS.md, "Policy engine".
#
#   bench/policy.sh [--sizes 1000000,10000000] [--duration S] [--peers LIST] [--peers-10m LIST]
#
# Everything listens on 127.0.0.1 only, on high ports; every process this script starts is
# stopped by PID when it ends (trap). Results: bench/results/policy.md (and raw files in
# bench/results/policy/).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

sizes=1000000,10000000
duration=15
peers=unbound,bind,pdns,kresd
peers_big=pdns,kresd
feeds=${BENCH_FEEDS:-/tmp/c2wall-bench-feeds}
build=1
keep=0
nice_level=0
reload_rate=10000
reload=1
repeat=1
server_cpu=${BENCH_SERVER_CPU:-0}
client_cpu=${BENCH_CLIENT_CPU:-1}
port_base=${BENCH_POLICY_PORT_BASE:-5390}

usage() {
	cat <<'EOF'
NAME
    bench/policy.sh - c2wall policy engine: compile, memory, start, reload, CPU per answer

SYNOPSIS
    bench/policy.sh [--sizes LIST] [--duration S] [--peers LIST] [--peers-10m LIST]
                    [--feeds DIR] [--no-build] [--keep] [--nice N] [--reload-rate Q]
                    [--no-reload] [--repeat R]

DESCRIPTION
    For each size N in LIST (rules), generates (once, cached in DIR) a mixed RPZ feed with
    bench/gen_rpz.py --mix (QNAME exact and wildcard, rpz-ip v4/v6 prefixes, rpz-nsdname,
    rpz-client-ip) and a file of queries that match its rules, then measures:

    compile   'c2wall compile -o FILE FEED' under /usr/bin/time -v: wall time, CPU time,
              peak RSS; snapshot bytes per rule.
    serve     'c2wall serve' (one worker, pinned to CPU 0, forwarding to NSD on loopback)
              without a policy, then with each feed: time until it answers and until a rule
              blocks; RSS after start and after the runs; (RSS - RSS without) / N.
    miss      dnsperf (pinned to CPU 1) over cached names that match no rule, as bench/run.sh
              does: QPS and the server's CPU time per answer (/proc/PID/stat).
    hit       the same over names that match rules (answered by the policy, no upstream).
    reload    append one rule to the feed, SIGHUP (bench/reload_probe.py), time until that
              rule blocks; meanwhile dnsperf sends cached queries at a fixed rate and
              reload_probe.py asks a cached name: both must keep being answered. Peak RSS
              during the reload.

    Then runs bench/run.sh (no policy, --rpz 1M feed, and the 10M feed for --peers-10m) for
    the peers. Writes bench/results/policy.md; raw files in bench/results/policy/.

OPTIONS
    --sizes LIST       rule counts, comma-separated (default 1000000,10000000)
    --duration S       each timed dnsperf run, seconds (default 15)
    --peers LIST       peers for bench/run.sh with the first size's feed (default
                       unbound,bind,pdns,kresd; "" = none)
    --peers-10m LIST   peers for the other sizes (default pdns,kresd; Unbound and BIND take
                       about 27 s and 600 B per rule)
    --feeds DIR        where generated feeds are kept (default /tmp/c2wall-bench-feeds,
                       or $BENCH_FEEDS)
    --no-build         use build-bench/c2wall as it is
    --keep             keep the temporary directory
    --nice N           nice level of servers and clients (default 0)
    --reload-rate Q    queries/s sent during the reload (default 10000)
    --no-reload        skip the reload measurement
    --repeat R         run the serve measurements (none, then each size) R times in turn
                       (default 1; 1..10): on a shared machine the spread and the median
                       say more than one run. Compile, reload and peers run once.
    -h, --help         this text

ENVIRONMENT
    BENCH_SERVER_CPU, BENCH_CLIENT_CPU (0, 1); BENCH_POLICY_PORT_BASE (default 5390: c2wall
    +0, NSD +9); bench/run.sh uses BENCH_PORT_BASE (5370..5379).

EXIT STATUS
    0 completed, 1 the harness failed, 2 bad usage.
EOF
}

die() {
	echo "policy-bench: $*" >&2
	exit 1
}

while [ $# -gt 0 ]; do
	case $1 in
	--sizes) sizes=${2:?}; shift 2 ;;
	--duration) duration=${2:?}; shift 2 ;;
	--peers) peers=${2?}; shift 2 ;;
	--peers-10m) peers_big=${2?}; shift 2 ;;
	--feeds) feeds=${2:?}; shift 2 ;;
	--no-build) build=0; shift ;;
	--keep) keep=1; shift ;;
	--nice) nice_level=${2:?}; shift 2 ;;
	--reload-rate) reload_rate=${2:?}; shift 2 ;;
	--no-reload) reload=0; shift ;;
	--repeat) repeat=${2:?}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "policy-bench: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
done
for v in duration reload_rate repeat server_cpu client_cpu port_base; do
	[[ ${!v} =~ ^[0-9]+$ ]] || { echo "policy-bench: ${v//_/-} must be a number" >&2; exit 2; }
done
[[ $nice_level =~ ^-?[0-9]+$ ]] || { echo "policy-bench: --nice -20..19" >&2; exit 2; }
if [ "$duration" -lt 1 ] || [ "$duration" -gt 600 ] || [ "$reload_rate" -lt 1 ] ||
	[ "$reload_rate" -gt 200000 ] || [ "$repeat" -lt 1 ] || [ "$repeat" -gt 10 ]; then
	echo "policy-bench: --duration 1..600, --reload-rate 1..200000, --repeat 1..10" >&2
	exit 2
fi
IFS=, read -r -a size_list <<<"$sizes"
for n in "${size_list[@]}"; do
	if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 100 ] || [ "$n" -gt 20000000 ]; then
		echo "policy-bench: sizes 100..20000000" >&2
		exit 2
	fi
done
[ "${#size_list[@]}" -ge 1 ] || { echo "policy-bench: --sizes is empty" >&2; exit 2; }

for tool in dnsperf nsd dig taskset timeout /usr/bin/time; do
	command -v "$tool" >/dev/null || die "missing tool: $tool (Debian: ${tool##*/})"
done
/usr/bin/python3 -c 'import dns.message' 2>/dev/null || die "missing python3-dnspython"

P_C2WALL=$port_base P_NSD=$((port_base + 9))
work=$(mktemp -d /tmp/c2wall-pbench.XXXXXX)
out_dir=$top/bench/results/policy
pids=()
c2wall_bin=$top/build-bench/c2wall



names=10000 # benchmark names under bench.example. (gen_data in lib.sh)
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

cleanup() {
	local i
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		stop_pid "${pids[$i]}"
	done
	pids=()
	if [ "$keep" = 1 ]; then
		echo "policy-bench: configs and logs kept in $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM



now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# Wait until 127.0.0.1@$1 answers $4 with: the zone's address ("addr") or NXDOMAIN
# ("nxdomain"). Bounded by $5 seconds (default 60). 1 on timeout, 2 when $3 is gone.
wait_ready() {
	local port=$1 want=$2 pid=$3 qname=$4 limit=${5:-60} deadline out
	deadline=$((SECONDS + limit))
	while [ $SECONDS -lt $deadline ]; do
		kill -0 "$pid" 2>/dev/null || return 2
		[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && return 2
		out=$(dig +time=1 +tries=1 -p "$port" @127.0.0.1 "$qname" A 2>/dev/null || true)
		case $want in
		addr) grep -q "^$qname\..*IN[[:space:]]A[[:space:]]10\." <<<"$out" && return 0 ;;
		nxdomain) grep -q 'status: NXDOMAIN' <<<"$out" && return 0 ;;
		esac
		sleep 0.05
	done
	return 1
}



status_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || true; }


# key=value lines into $work/c2wall.tsv: "label key value".
put() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$work/c2wall.tsv"; }

# ---------------------------------------------------------------- data


# Feed of N rules and its hit queries, generated once per (N, gen_rpz.py version).
make_feed() {
	local n=$1 sum
	sum=$(sha1sum "$top/bench/gen_rpz.py" | cut -c1-8)
	feed=$feeds/mix-$n-$sum.rpz
	hits=$feeds/mix-$n-$sum.hits
	if [ ! -s "$feed" ] || [ ! -s "$hits" ]; then
		mkdir -p "$feeds"
		echo "policy-bench: generating $n rules into $feed" >&2
		timeout 1200 /usr/bin/python3 "$top/bench/gen_rpz.py" -n "$n" --mix --hits "$hits.tmp" \
			-o "$feed.tmp" 2>>"$out_dir/gen.log" || die "gen_rpz.py failed (see $out_dir/gen.log)"
		mv "$hits.tmp" "$hits"
		mv "$feed.tmp" "$feed"
	fi
	probe=$(awk '$1 !~ /^[@$;*]/ && $(NF-1) == "CNAME" && $NF == "." { print $1; exit }' "$feed")
	[ -n "$probe" ] || die "no 'NAME CNAME .' rule in $feed"
}

# ---------------------------------------------------------------- compile
measure_compile() {
	local label=$1 n=$2 f=$3 tv o
	tv=$work/compile-$label.time
	echo "policy-bench: compile $label" >&2
	o=$(nice -n "$nice_level" taskset -c "$server_cpu" /usr/bin/time -v -o "$tv" \
		timeout 1200 "$c2wall_bin" compile --zone rpz.bench -o "$work/snap-$label" "$f" | tail -1) ||
		{ put "$label" compile_error "see $out_dir/compile-$label.time"; cp "$tv" "$out_dir/"; return; }
	cp "$tv" "$out_dir/"
	echo "$o" >"$out_dir/compile-$label.out"
	put "$label" rules "$n"
	put "$label" compile_wall "$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, a, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s }' "$tv")"
	put "$label" compile_cpu "$(awk -F': ' '/User time/ {u = $2} /System time/ {s = $2} END {print u + s}' "$tv")"
	put "$label" compile_maxrss_kib "$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tv")"
	put "$label" snapshot_bytes "$(stat -c %s "$work/snap-$label")"
	put "$label" feed_bytes "$(stat -c %s "$f")"
	rm -f "$work/snap-$label"
}

# ---------------------------------------------------------------- serve
conf_c2wall() {
	local feedpath=$1
	{
		cat <<EOF
server:
  listen: ["127.0.0.1@$P_C2WALL"]
  workers: 1
  user: none
  allow: ["127.0.0.0/8"]
resolver:
  mode: forward
  forward: ["127.0.0.1@$P_NSD"]
  trust-anchor: none
  root-hints: $work/root.hints
  cache-size: 64m
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
		if [ -n "$feedpath" ]; then
			cat <<EOF
policy:
  max-change: 0
  zones:
    - name: rpz.bench
      file: $feedpath
      format: rpz
EOF
		fi
	} >"$work/c2wall.yaml"
	mkdir -p "$work/c2wall"
}

# One dnsperf run against the server: QPS, answers, lost, CPU ticks, rcodes, foreign load.
perf_run() {
	local label=$1 pass=$2 pid=$3 qfile=$4 out=$out_dir/$1.$2.dnsperf.txt t0 t1 b0 s0 b1 s1
	t0=$(cpu_ticks "$pid") || return 1
	read -r b0 s0 < <(core_ticks "$server_cpu")
	nice -n "$nice_level" taskset -c "$client_cpu" timeout $((duration + 60)) dnsperf -s 127.0.0.1 \
		-p "$P_C2WALL" -d "$qfile" -l "$duration" -q 500 -c 4 -t 2 >"$out" 2>&1 || true
	t1=$(cpu_ticks "$pid") || return 1
	read -r b1 s1 < <(core_ticks "$server_cpu")
	put "$label" "${pass}_qps" "$(perf_field "Queries per second" "$out")"
	put "$label" "${pass}_answered" "$(perf_field "Queries completed" "$out")"
	put "$label" "${pass}_lost" "$(perf_field "Queries lost" "$out")"
	put "$label" "${pass}_ticks" "$((t1 - t0))"
	put "$label" "${pass}_rcodes" "$(awk '/Response codes:/ { sub(/.*Response codes:[ \t]*/, ""); print; exit }' "$out")"
	local other=$(((b1 - b0) - (t1 - t0))) span=$((s1 - s0))
	[ "$span" -gt 0 ] && put "$label" "${pass}_foreign_pct" "$((other * 100 / span))"
	echo "policy-bench: $label $pass: $(perf_field "Queries per second" "$out") q/s, $((t1 - t0)) ticks" >&2
}

measure_serve() {
	local label=$1 n=$2 f=$3 pid t_start rc=0 feedpath=""
	if [ -n "$f" ]; then
		feedpath=$work/feed-$label.rpz
		ln -sfn "$f" "$feedpath"
	fi
	conf_c2wall "$feedpath"
	port_free "$P_C2WALL" || die "port $P_C2WALL in use; set BENCH_POLICY_PORT_BASE"
	echo "policy-bench: serve $label" >&2
	t_start=$(now)
	spawn "$server_cpu" "$out_dir/$label.serve.log" "$c2wall_bin" serve --config "$work/c2wall.yaml"
	pid=$last_pid
	wait_ready "$P_C2WALL" addr "$pid" n0.bench.example 900 || rc=$?
	[ "$rc" = 0 ] || { put "$label" serve_error "did not answer (rc $rc)"; stop_pid "$pid"; forget_pid "$pid"; return; }
	put "$label" start_answer_s "$(elapsed "$t_start")"
	if [ -n "$f" ]; then
		wait_ready "$P_C2WALL" nxdomain "$pid" "$probe" 900 || rc=$?
		[ "$rc" = 0 ] || { put "$label" serve_error "rule not in force (rc $rc)"; stop_pid "$pid"; forget_pid "$pid"; return; }
		put "$label" start_block_s "$(elapsed "$t_start")"
	fi
	put "$label" rss_ready_kib "$(status_kib "$pid" VmRSS)"
	put "$label" hwm_ready_kib "$(status_kib "$pid" VmHWM)"
	# Warm the cache: one pass over all names.
	nice -n "$nice_level" taskset -c "$client_cpu" timeout 120 dnsperf -s 127.0.0.1 -p "$P_C2WALL" \
		-d "$work/queries.txt" -n 1 -q 100 -t 5 >"$out_dir/$label.warm.txt" 2>&1 || true
	perf_run "$label" miss "$pid" "$work/queries.txt" || true
	if [ -n "$f" ]; then
		perf_run "$label" hit "$pid" "$hits" || true
	fi
	put "$label" rss_end_kib "$(status_kib "$pid" VmRSS)"
	put "$label" hwm_end_kib "$(status_kib "$pid" VmHWM)"
	put "$label" rss_anon_kib "$(status_kib "$pid" RssAnon)"
	put "$label" rss_file_kib "$(status_kib "$pid" RssFile)"
	if [ -n "$f" ] && [ "$reload" = 1 ] && [ "$label" = "${label%.r*}" ]; then
		measure_reload "$label" "$pid" "$f" "$feedpath"
	fi
	kill -0 "$pid" 2>/dev/null || put "$label" serve_error "died during the run"
	stop_pid "$pid"
	forget_pid "$pid"
}

# Reload: the same feed plus one new rule; cached queries at a fixed rate meanwhile.
measure_reload() {
	local label=$1 pid=$2 f=$3 feedpath=$4 newname dp dp_pid line
	newname=reload-$label.newrule.example
	echo "policy-bench: reload $label" >&2
	{ cat "$f" && echo "$newname CNAME ."; } >"$work/feed-$label.new.rpz"
	ln -sfn "$work/feed-$label.new.rpz" "$feedpath.tmp"
	mv -T "$feedpath.tmp" "$feedpath"
	dp=$out_dir/$label.reload.dnsperf.txt
	nice -n "$nice_level" taskset -c "$client_cpu" timeout 700 dnsperf -s 127.0.0.1 -p "$P_C2WALL" \
		-d "$work/queries.txt" -l 600 -Q "$reload_rate" -q 200 -t 1 >"$dp" 2>&1 &
	dp_pid=$!
	pids+=("$dp_pid")
	sleep 2
	line=$(nice -n "$nice_level" taskset -c "$client_cpu" timeout 660 /usr/bin/python3 \
		"$top/bench/reload_probe.py" --pid "$pid" --port "$P_C2WALL" --name "$newname" \
		--keep-name n1.bench.example --timeout 600 || true)
	sleep 2
	kill -INT "$dp_pid" 2>/dev/null || true
	wait "$dp_pid" 2>/dev/null || true
	forget_pid "$dp_pid"
	echo "$line" >"$out_dir/$label.reload.txt"
	local kv
	for kv in $line; do
		put "$label" "reload_${kv%%=*}" "${kv#*=}"
	done
	put "$label" reload_load_answered "$(perf_field "Queries completed" "$dp")"
	put "$label" reload_load_sent "$(perf_field "Queries sent" "$dp")"
	put "$label" reload_load_lost "$(perf_field "Queries lost" "$dp")"
	put "$label" reload_load_maxlat "$(awk '/Average Latency/ { gsub(/[(),]/, ""); for (i = 1; i <= NF; i++) if ($i == "max") print $(i + 1) }' "$dp")"
	rm -f "$work/feed-$label.new.rpz"
}

# ---------------------------------------------------------------- main
mkdir -p "$out_dir"
rm -f "$out_dir"/*.txt "$out_dir"/*.log "$out_dir"/*.time "$out_dir"/*.out "$out_dir"/*.tsv "$out_dir"/*.md
: >"$work/c2wall.tsv"
if [ "$build" = 1 ]; then
	{ cmake -S "$top" -B "$top/build-bench" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
		-DC2W_WERROR=OFF && cmake --build "$top/build-bench" -j2 --target c2wall; } \
		>"$out_dir/c2wall-build.log" 2>&1 || die "c2wall build failed ($out_dir/c2wall-build.log)"
fi
[ -x "$c2wall_bin" ] || die "no build-bench/c2wall"
port_free "$P_NSD" || die "port $P_NSD in use; set BENCH_POLICY_PORT_BASE"

declare -A feed_of
labels=()
for n in "${size_list[@]}"; do
	label=$(awk -v n="$n" 'BEGIN { if (n % 1000000 == 0) print n / 1000000 "M"; else if (n % 1000 == 0) print n / 1000 "k"; else print n }')
	make_feed "$n"
	feed_of[$label]=$feed
	labels+=("$label")
	put "$label" hit_queries "$(grep -c . "$hits")"
	put "$label" feed "$(basename "$feed")"
	put "$label" feed_mix "$("$c2wall_bin" check --zone rpz.bench "$feed" | awk '/triggers:|actions:/ {$1 = ""; printf "%s;", $0}')"
	measure_compile "$label" "$n" "$feed"
done

gen_data
start_nsd
for ((r = 1; r <= repeat; r++)); do
	suffix=""
	[ "$r" = 1 ] || suffix=.r$r
	measure_serve "none$suffix" 0 ""
	for label in "${labels[@]}"; do
		feed=${feed_of[$label]}
		hits=${feed%.rpz}.hits
		probe=$(awk '$1 !~ /^[@$;*]/ && $(NF-1) == "CNAME" && $NF == "." { print $1; exit }' "$feed")
		measure_serve "$label$suffix" "$(awk -v l="$label" '$1 == l && $2 == "rules" {print $3}' "$work/c2wall.tsv")" "$feed"
	done
done
stop_pid "$nsd_pid"
forget_pid "$nsd_pid"

# ---------------------------------------------------------------- peers through bench/run.sh
peer_run() {
	local tag=$1 only=$2
	shift 2
	echo "policy-bench: bench/run.sh --only $only $* ($tag)" >&2
	"$top/bench/run.sh" --no-build --duration "$duration" --nice "$nice_level" --only "$only" "$@" \
		>"$out_dir/run-$tag.stdout" 2>"$out_dir/run-$tag.stderr" || echo "policy-bench: run.sh $tag failed" >&2
	cp "$top/bench/results/latest.md" "$out_dir/run-$tag.md" 2>/dev/null || true
	cp "$top/bench/results/latest/results.tsv" "$out_dir/run-$tag.results.tsv" 2>/dev/null || true
	cp "$top/bench/results/latest/meta.tsv" "$out_dir/run-$tag.meta.tsv" 2>/dev/null || true
}
first=${labels[0]}
if [ -n "$peers" ]; then
	peer_run none "c2wall,$peers"
	peer_run "$first" "c2wall,$peers" --rpz "${feed_of[$first]}"
fi
if [ -n "$peers_big" ]; then
	for label in "${labels[@]:1}"; do
		peer_run "$label" "c2wall,$peers_big" --rpz "${feed_of[$label]}"
	done
fi

{
	printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
	printf 'command\t%s\n' "bench/policy.sh --sizes $sizes --duration $duration --peers '$peers' --peers-10m '$peers_big' --repeat $repeat$([ "$reload" = 1 ] || echo ' --no-reload')$([ "$nice_level" = 0 ] || echo " --nice $nice_level")"
	printf 'commit\t%s\n' "$(git -C "$top" describe --always --dirty 2>/dev/null || echo '?')"
	printf 'cpu\t%s\n' "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
	printf 'nproc\t%s\n' "$(nproc)"
	printf 'mem\t%s\n' "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
	printf 'kernel\t%s\n' "$(uname -sr)"
	printf 'loadavg\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf 'clk_tck\t%s\n' "$(getconf CLK_TCK)"
	printf 'duration\t%s\n' "$duration"
	printf 'labels\t%s\n' "${labels[*]}"
	printf 'peer_tags\t%s\n' "$([ -n "$peers" ] && echo "none $first") $([ -n "$peers_big" ] && echo "${labels[*]:1}")"
} >"$work/meta.tsv"
cp "$work/c2wall.tsv" "$work/meta.tsv" "$out_dir/"
/usr/bin/python3 "$top/bench/policy_report.py" "$out_dir" >"$top/bench/results/policy.md"
cat "$top/bench/results/policy.md"
