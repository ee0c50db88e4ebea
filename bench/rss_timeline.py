#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Sample a process's resident memory and its threads' CPU time, for a timeline of where
memory grows (docs/BENCHMARKS.md, "Where the 100,000-change increment's memory goes").

Waits for the newest process named NAME (default c2wall) to appear, then writes one line per
change until it exits:

    seconds-since-start  VmRSS-kB  tid:cpu-ticks tid:cpu-ticks ...

(utime + stime of each thread, in clock ticks). Run it before the workload, e.g. beside
bench/ixfr.py:

    bench/rss_timeline.py --out /tmp/tl.txt &
    unshare -rn bash -c 'ip link set lo up; bench/ixfr.py --sizes 1000000 --changes 100000,1 --peers ""'
"""

import argparse
import os
import time


def newest(name):
    best = None
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % p) as f:
                if f.read().strip() == name and (best is None or int(p) > int(best)):
                    best = p
        except OSError:
            pass
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--name", default="c2wall")
    ap.add_argument("--out", required=True)
    ap.add_argument("--interval-ms", type=float, default=4.0)
    ap.add_argument("--wait", type=float, default=600.0, help="seconds to wait for the process")
    a = ap.parse_args()
    deadline = time.monotonic() + a.wait
    pid = None
    while pid is None and time.monotonic() < deadline:
        pid = newest(a.name)
        if pid is None:
            time.sleep(0.2)
    if pid is None:
        raise SystemExit("no process named %s" % a.name)
    t0 = time.monotonic()
    last = None
    with open(a.out, "w") as out:
        while True:
            try:
                rss = 0
                with open("/proc/%s/status" % pid) as f:
                    for line in f:
                        if line.startswith("VmRSS"):
                            rss = int(line.split()[1])
                threads = []
                for t in sorted(os.listdir("/proc/%s/task" % pid), key=int):
                    with open("/proc/%s/task/%s/stat" % (pid, t)) as f:
                        st = f.read()
                    fields = st[st.rindex(")") + 2:].split()
                    threads.append("%s:%d" % (t, int(fields[11]) + int(fields[12])))
            except (OSError, ValueError):
                break
            if (rss, threads) != last:
                out.write("%.3f %d %s\n" % (time.monotonic() - t0, rss, " ".join(threads)))
                last = (rss, threads)
            time.sleep(a.interval_ms / 1000.0)


if __name__ == "__main__":
    main()
