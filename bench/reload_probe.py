#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Send SIGHUP to a server and time until a new policy rule is in force.

    bench/reload_probe.py --pid PID --port PORT --name NAME [--timeout S] [--interval S]
                          [--keep-name NAME]

Sends SIGHUP to PID, then asks 127.0.0.1@PORT for NAME/A over UDP every --interval seconds
(default 0.01) until the answer is NXDOMAIN (the new rule blocks) or --timeout seconds pass
(default 300). Meanwhile it asks --keep-name (a name that must keep being answered, e.g. a
cached name) in the same loop and counts the probes that got no answer within 0.5 s. It also
samples the server's VmRSS from /proc/PID/status. Prints one line of tab-separated key=value
fields:
    reload_s=SECONDS probes=N keep_ok=N keep_fail=N rss_before_kib=K rss_max_kib=K rss_after_kib=K
Exit status 0 when the rule came into force, 1 on timeout, 2 on bad usage.
"""
import argparse
import os
import signal
import sys
import time

import dns.message
import dns.query
import dns.rcode
import dns.exception


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid, encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def ask(name, port, timeout):
    q = dns.message.make_query(name, "A")
    try:
        return dns.query.udp(q, "127.0.0.1", port=port, timeout=timeout)
    except (dns.exception.Timeout, OSError):
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--keep-name")
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--interval", type=float, default=0.01)
    args = ap.parse_args()
    if not 0 < args.timeout <= 3600 or not 0 < args.interval <= 10:
        ap.error("--timeout 0..3600, --interval 0..10")
    # The rule must not be in force yet, or the measurement means nothing.
    r = ask(args.name, args.port, 1.0)
    if r is not None and r.rcode() == dns.rcode.NXDOMAIN:
        sys.stderr.write("reload_probe: %s is already NXDOMAIN before the reload\n" % args.name)
        return 2
    rss_before = rss_kib(args.pid)
    rss_max = rss_before
    probes = keep_ok = keep_fail = 0
    t0 = time.monotonic()
    os.kill(args.pid, signal.SIGHUP)
    done = None
    while time.monotonic() - t0 < args.timeout:
        probes += 1
        r = ask(args.name, args.port, 0.5)
        if r is not None and r.rcode() == dns.rcode.NXDOMAIN:
            done = time.monotonic() - t0
            break
        if args.keep_name:
            k = ask(args.keep_name, args.port, 0.5)
            if k is not None and k.rcode() == dns.rcode.NOERROR and k.answer:
                keep_ok += 1
            else:
                keep_fail += 1
        rss_max = max(rss_max, rss_kib(args.pid))
        time.sleep(args.interval)
    # Let the old snapshot go (grace period), then sample again.
    time.sleep(1.0)
    rss_after = rss_kib(args.pid)
    rss_max = max(rss_max, rss_after)
    print("reload_s=%s\tprobes=%d\tkeep_ok=%d\tkeep_fail=%d\trss_before_kib=%d\trss_max_kib=%d"
          "\trss_after_kib=%d" % ("%.3f" % done if done is not None else "-", probes, keep_ok,
                                  keep_fail, rss_before, rss_max, rss_after))
    return 0 if done is not None else 1


if __name__ == "__main__":
    sys.exit(main())
