#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# "expires=" at scale (docs/policy.md "Per-entry lifetimes"): a hosts feed of N entries, one of
# which expires a few seconds after the daemon answers; prints how long after its expiry second
# the entry stopped being answered and how long the rebuild took (the daemon's log line).
#
#   bench/expires.sh [N] [K]     default N = 1000000 entries, K = 1 entry expiring (K > 1:
#                                one per second, to see the spacing of back-to-back rebuilds);
#                                C2WALL_BIN overrides build/c2wall
#
# Listens on 127.0.0.1 only; run it in a private network namespace on a shared machine:
#   unshare -rn bash -c 'ip link set lo up; bench/expires.sh 1000000'
# Every process it starts is stopped by PID (trap).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-1000000}
k=${2:-1}
bin=${C2WALL_BIN:-$top/build/c2wall}
port=${BENCH_EXPIRES_PORT:-5397}
work=$(mktemp -d /tmp/c2wall-expires.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

/usr/bin/python3 - "$work/feed.hosts" "$n" <<'EOF'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    for i in range(n):
        f.write("0.0.0.0 n%d.bench.example\n" % i)
EOF
mkdir -p "$work/c2wall"
printf '. 3600 IN NS a.root.\na.root. 3600 IN A 127.0.0.1\n' >"$work/root.hints"
cat >"$work/c2wall.yaml" <<EOF
server:
  listen: ["127.0.0.1@$port"]
  workers: 1
  user: none
  allow: ["127.0.0.0/8"]
resolver:
  mode: forward
  forward: ["127.0.0.1@9"]
  trust-anchor: none
  root-hints: $work/root.hints
events:
  jsonl: none
privacy:
  key-file: $work/c2wall/pseudonym.key
store:
  sqlite: none
control:
  socket: none
log:
  level: info
policy:
  zones:
    - name: bench.rpz
      file: $work/feed.hosts
      format: hosts
EOF
t_start=$(date +%s.%N)
"$bin" serve --config "$work/c2wall.yaml" 2>"$work/stderr" &
pid=$!
/usr/bin/python3 - "$port" "$work" "$pid" "$n" "$t_start" "$k" <<'EOF'
import os, signal, sys, time, datetime
import dns.message, dns.query, dns.rcode
port, work, n, t_start = int(sys.argv[1]), sys.argv[2], int(sys.argv[4]), float(sys.argv[5])
k = int(sys.argv[6])

def rcode(name):
    q = dns.message.make_query(name, "A")
    try:
        return dns.query.udp(q, "127.0.0.1", port=port, timeout=0.5).rcode()
    except Exception:
        return None

deadline = time.time() + 600
while rcode("n0.bench.example.") != dns.rcode.NXDOMAIN:
    if time.time() > deadline:
        sys.exit("c2wall did not answer")
    time.sleep(0.2)
print("start: %d rules answering after %.1f s" % (n, time.time() - t_start))
# K more entries with lifetimes, a second apart; reload so they are in force, then wait.
at = int(time.time()) + 15
with open(work + "/feed.hosts", "a") as f:
    for i in range(k):
        f.write("0.0.0.0 soon%d.bench.example # expires=%s\n" % (i,
                datetime.datetime.fromtimestamp(at + i, datetime.timezone.utc).strftime(
                    "%Y-%m-%dT%H:%M:%SZ")))
pid = int(sys.argv[3])
t0 = time.time()
os.kill(pid, signal.SIGHUP)
while rcode("soon0.bench.example.") != dns.rcode.NXDOMAIN:
    if time.time() > at:
        sys.exit("reload too slow for the expiry lead time")
    time.sleep(0.05)
print("reload with the new entry: blocking after %.2f s" % (time.time() - t0))
# Once unblocked the name goes to the (dead) forwarder: no answer within 0.5 s. The time
# counted is when the first query that was not blocked was sent.
for i in range(k):
    while True:
        t = time.time()
        r = rcode("soon%d.bench.example." % i)
        if r != dns.rcode.NXDOMAIN:
            break
        time.sleep(0.005)
    print("entry %d stopped %.3f s after its expires= second (rules: %d)" % (i, t - (at + i), n))
print("still blocked: n%d: %s" % (n - 1, dns.rcode.to_text(rcode("n%d.bench.example." % (n - 1)))))
EOF
grep -E "no longer enforced|rebuilt" "$work/stderr" || true
