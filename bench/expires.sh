#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# "expires=" at scale (docs/policy.md "Per-entry lifetimes"): a hosts feed of N entries, one of
# which expires a few seconds after the daemon answers; prints how long after its expiry second
# the entry stopped being answered, how long the rebuild took (the daemon's log line), and the
# slowest answer of the control socket (asked every 20 ms) while it ran.
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
  socket: $work/control.sock
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
/usr/bin/python3 - "$port" "$work" "$pid" "$n" "$t_start" "$k" "$top/bench" <<'EOF'
import os, signal, sys, threading, time, datetime
import dns.message, dns.query, dns.rcode
port, work, n, t_start = int(sys.argv[1]), sys.argv[2], int(sys.argv[4]), float(sys.argv[5])
k = int(sys.argv[6])
sys.path.insert(0, sys.argv[7])
from ixfr import control  # the control socket's client (one request, one JSON line)


# The control socket asked every 20 ms from a second before the first expiry to the end, as
# a metrics scraper would: the slowest answer while the rebuilds ran.
ctl = {"max": 0.0, "n": 0}
ctl_stop = threading.Event()


def controller(start):
    while time.time() < start and not ctl_stop.is_set():
        time.sleep(0.01)
    while not ctl_stop.is_set():
        ts = time.monotonic()
        try:
            control(work + "/control.sock", "stats", timeout=120)
        except (OSError, ValueError):
            pass
        ctl["max"] = max(ctl["max"], time.monotonic() - ts)
        ctl["n"] += 1
        time.sleep(0.02)

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
ct = threading.Thread(target=controller, args=(at - 1,), daemon=True)
ct.start()
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
time.sleep(3)  # the last rebuild's control answers
ctl_stop.set()
ct.join(130)
print("control: %d answers from 1 s before the first expiry, the slowest %.1f ms" %
      (ctl["n"], ctl["max"] * 1000))
print("still blocked: n%d: %s" % (n - 1, dns.rcode.to_text(rcode("n%d.bench.example." % (n - 1)))))
EOF
grep -E "no longer enforced|rebuilt" "$work/stderr" || true
