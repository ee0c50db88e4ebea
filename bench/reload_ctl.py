#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The control socket during an operator's reload (docs/config.md "Reloading").

    bench/reload_ctl.py --c2wall BIN [--before BIN] [--sizes 1000000,10000000] [--rounds 2]
                        [--work DIR] [--port 5398]

With --serve the zone is also served onward (allow-transfer), so each reload makes its next
version for secondaries (a full export); the windows then run from the reload to the export's
log line, and the last column says how long that took.

For each size N and each build: an RPZ zone of N rules (bench/gen_rpz.py --mix), the daemon
started with it, then --rounds reloads after the zone was rewritten (another seed, so the
compile is a full one of N rules): one by `reload` on the control socket, one by SIGHUP, in
turn. Meanwhile `stats` is asked on the control socket every 20 ms, as a metrics scraper
would. Per reload it prints how long the reload took to answer (control) or to be logged
(SIGHUP), how many `stats` answers came back while it ran, and the slowest of them; and the
same for DNS queries of a blocked name (UDP, every 20 ms), which the workers answer; and the
daemon's VmRSS (sampled every 20 ms) before the reload and at its peak during it.

Listens on 127.0.0.1 only; run it in a private network namespace on a shared machine:
    unshare -rn bash -c 'ip link set lo up; bench/reload_ctl.py --c2wall build-bench/c2wall'
Every process it starts is stopped by PID.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import dns.message
import dns.query

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from ixfr import control_line as control  # noqa: E402 (the control socket's client)


class Poller(threading.Thread):
    """Calls ask() every 20 ms (at most 30,000 times); keeps (sent, answered, result)."""

    def __init__(self, ask):
        super().__init__(daemon=True)
        self.ask = ask
        self.stop = threading.Event()
        self.seen = []

    def run(self):
        for _ in range(30000):
            if self.stop.is_set():
                return
            t0 = time.monotonic()
            try:
                out = self.ask()
            except Exception:  # an unanswered ask counts as answered at the next one
                out = None
            self.seen.append((t0, time.monotonic(), out))
            time.sleep(0.02)

    def during(self, a, b):
        """Answers sent after @a and answered before @b; the slowest of every ask that
        overlapped [a, b]."""
        inside = [(s, e) for s, e, _ in self.seen if s >= a and e <= b]
        overlap = [e - s for s, e, _ in self.seen if s < b and e > a]
        return len(inside), max(overlap, default=0.0)


def rss_mib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def write_config(work, port, feed, serve=False):
    with open(os.path.join(work, "c2wall.yaml"), "w") as f:
        f.write("""server:
  listen: ["127.0.0.1@%d"]
  workers: 2
  user: none
  allow: ["127.0.0.0/8"]
resolver:
  mode: forward
  forward: ["127.0.0.1@9"]
  trust-anchor: none
events:
  jsonl: none
privacy:
  key-file: %s/pseudonym.key
store:
  sqlite: none
control:
  socket: %s/control.sock
log:
  level: info
policy:
  zones:
      # first: a name for the DNS poller, answered by the workers from the policy
      # (NXDOMAIN) before the NSDNAME rules of the next zone would need the upstream
    - name: local.bench.
      file: %s/local.rpz
    - name: rpz.bench.
      file: %s
%s""" % (port, work, work, work, feed,
         "      allow-transfer: [\"127.0.0.1\"]\n  state-dir: %s/state\n" % work
         if serve else ""))
    with open(os.path.join(work, "local.rpz"), "w") as f:
        f.write("$TTL 300\n@ SOA ns.local.bench. h.local.bench. 1 3600 600 86400 300\n"
                "@ NS ns.local.bench.\nprobe.bench.example CNAME .\n")


def gen(path, n, seed):
    subprocess.run([sys.executable, os.path.join(HERE, "gen_rpz.py"), "-n", str(n), "--mix",
                    "--seed", str(seed), "--origin", "rpz.bench.", "-o", path + ".tmp"],
                   check=True)
    os.replace(path + ".tmp", path)


def log_count(path, text):
    with open(path, errors="replace") as f:
        return f.read().count(text)


def one_build(label, binary, n, args):
    work = os.path.join(args.work, "%s-%d" % (label, n))
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    feed = os.path.join(work, "feed.rpz")
    gen(feed, n, 1)
    write_config(work, args.port, feed, args.serve)
    err = open(os.path.join(work, "stderr"), "w")
    proc = subprocess.Popen([binary, "serve", "--config", os.path.join(work, "c2wall.yaml")],
                            stdout=err, stderr=err)
    sock = os.path.join(work, "control.sock")
    rows = []
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            try:
                if control(sock, "stats", 2).startswith("{"):
                    break
            except OSError:
                pass
            if proc.poll() is not None:
                raise RuntimeError("%s exited at start" % label)
            time.sleep(0.2)
        q = dns.message.make_query("probe.bench.example.", "A")
        ctl = Poller(lambda: control(sock, "stats", 120))
        dnsp = Poller(lambda: dns.query.udp(q, "127.0.0.1", port=args.port, timeout=2))
        rss = Poller(lambda: rss_mib(proc.pid))
        ctl.start()
        dnsp.start()
        rss.start()
        for r in range(args.rounds):
            gen(feed, n, 2 + r)
            how = "control" if r % 2 == 0 else "SIGHUP"
            done = log_count(err.name, "reload: configuration")
            exports = log_count(err.name, "xfr-out: zone rpz.bench.")
            # jemalloc gives freed memory back after about 10 s: "RSS before" is then the
            # steady state, not what the last reload left
            time.sleep(12)
            t0 = time.monotonic()
            if how == "control":
                out = control(sock, "reload", 600)
                if not out.startswith("ok"):
                    raise RuntimeError("reload: %s" % out)
            else:
                os.kill(proc.pid, signal.SIGHUP)
                while log_count(err.name, "reload: configuration") <= done:
                    if time.monotonic() - t0 > 600:
                        raise RuntimeError("SIGHUP reload not logged")
                    time.sleep(0.005)
            t1 = time.monotonic()
            t2 = t1
            if args.serve:
                # the served zone's next version: a full export of N rules
                while log_count(err.name, "xfr-out: zone rpz.bench.") <= exports:
                    if time.monotonic() - t0 > 900:
                        raise RuntimeError("no export logged")
                    time.sleep(0.005)
                t2 = time.monotonic()
            time.sleep(0.1)
            c_n, c_max = ctl.during(t0, t2)
            d_n, d_max = dnsp.during(t0, t2)
            steady = [v for a, b, v in rss.seen if b < t0]
            peak = max((v for a, b, v in rss.seen if t0 <= a <= t2 + 0.1), default=0.0)
            row = (label, n, how, (t1 - t0) * 1000, c_n, c_max * 1000, d_n, d_max * 1000,
                   steady[-1] if steady else 0.0, peak)
            if args.serve:
                row += ((t2 - t0) * 1000,)
            rows.append(row)
        for p in (ctl, dnsp, rss):
            p.stop.set()
        ctl.join(130)
        dnsp.join(10)
        rss.join(10)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        err.close()
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--c2wall", required=True)
    ap.add_argument("--before")
    ap.add_argument("--sizes", default="1000000,10000000")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--work", default="/tmp/c2wall-reload-ctl")
    ap.add_argument("--port", type=int, default=5398)
    ap.add_argument("--serve", action="store_true",
                    help="serve rpz.bench. onward (allow-transfer): each reload also makes "
                    "its next version, a full export; the figures then run to its log line")
    args = ap.parse_args()
    builds = [("c2wall", args.c2wall)] + ([("before", args.before)] if args.before else [])
    print("| build | rules | reload by | reload took (ms) | stats answers during it | "
          "slowest stats answer (ms) | DNS answers during it | slowest DNS answer (ms) | "
          "RSS before (MiB) | RSS peak (MiB) |" +
          (" reload + export (ms) |" if args.serve else ""))
    print("|---|--:|---|--:|--:|--:|--:|--:|--:|--:|" + ("--:|" if args.serve else ""))
    for n in [int(x) for x in args.sizes.split(",")]:
        for label, binary in builds:
            for row in one_build(label, binary, n, args):
                print(("| %s | %d | %s | %.1f | %d | %.1f | %d | %.1f | %.1f | %.1f |" +
                       (" %.1f |" if args.serve else "")) % row, flush=True)
    shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
