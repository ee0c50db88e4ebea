#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""IXFR to policy in force: c2wall as the secondary of a Knot DNS primary (docs/BENCHMARKS.md,
"Incremental policy").

    unshare -n bash -c 'ip link set lo up; bench/ixfr.py [--sizes 1000000]
        [--changes 1,1000,100000] [--c2wall BIN] [--before BIN] [--out FILE]'

Run it in its own network namespace (as above): it listens on fixed loopback ports.

For each binary (--c2wall, the build under test, labelled "after"; --before, e.g. a build of
main before increments, labelled "before") and each zone size N: generates an RPZ zone of N
rules with bench/gen_rpz.py --mix (cached in --work), starts knotd serving it (journal of
changes, zonefile-load: difference, NOTIFY to c2wall) and c2wall following it (one worker),
waits for the AXFR to be in force, then for each change count k: rewrites the zone file with
k changes (k//2 rule lines deleted, the rest added, the first addition a local-data probe
name), serial + 1, and runs `knotc zone-reload`. Knot computes the difference, journals it and
NOTIFYs c2wall, which transfers the IXFR and applies it. Measured:

  reload_to_answer_ms  from `knotc zone-reload` to the probe name answering (Knot's diff of
                       the zone, NOTIFY, IXFR, apply): the wall time an operator sees
  notify_to_answer_ms  from Knot serving the new serial (polled every 2 ms; it sends its
                       NOTIFY then) to the probe name answering: NOTIFY, IXFR, apply
  xfr_to_force_ms      c2wall's own figure (feeds state last_apply_us): from the transfer's
                       last message to the new policy in force (after builds only)
  notify_to_force_ms   c2wall's own figure (feeds state notify_apply_us): from the NOTIFY it
                       accepted to the new policy in force (after builds only)
  mode                 "incremental" or "full" (feeds state last_apply)
  rss_steady_mib       c2wall VmRSS before the change; rss_peak_mib the highest VmRSS sampled
                       every 5 ms during it; ratio = peak / steady
  lost                 probes of an untouched blocked name, one every 5 ms during the change,
                       that got no answer within 0.5 s

Every process it starts is stopped by PID at the end. Prints a Markdown table; --out also
writes it to a file.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import dns.exception
import dns.message
import dns.query
import dns.rcode

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
ORIGIN = "rpz.bench."
P_KNOT = 5431
P_C2W = 5432
PROCS = []


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def ask(name, timeout=0.5):
    q = dns.message.make_query(name, "A")
    try:
        return dns.query.udp(q, "127.0.0.1", port=P_C2W, timeout=timeout)
    except (dns.exception.Timeout, OSError):
        return None


def a_of(m):
    if m is None:
        return None
    return [r.address for rr in m.answer for r in rr if rr.rdtype == 1]


def control(path, req, timeout=30.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(req.encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return json.loads(buf.decode())
    finally:
        s.close()


def feeds_state(sock):
    try:
        return control(sock, "feeds")["zones"][0]
    except (OSError, ValueError, KeyError, IndexError):
        return None


def gen_zone(work, n):
    path = os.path.join(work, "gen-%d.rpz" % n)
    if not os.path.exists(path):
        subprocess.run([sys.executable, os.path.join(HERE, "gen_rpz.py"), "-n", str(n), "--mix",
                        "--origin", ORIGIN, "-o", path + ".tmp"], check=True,
                       stderr=subprocess.DEVNULL)
        os.rename(path + ".tmp", path)
    rules = []
    with open(path) as f:
        for line in f:
            if line[0] in "$@;\n":
                continue
            rules.append(line.rstrip("\n"))
    return rules


def write_zone(path, serial, rules):
    with open(path + ".tmp", "w") as f:
        f.write("$ORIGIN %s\n$TTL 300\n@ SOA ns.%s hostmaster.%s %d 3600 600 864000 300\n"
                "@ NS localhost.\n" % (ORIGIN, ORIGIN, ORIGIN, serial))
        for r in rules:
            f.write(r)
            f.write("\n")
    os.rename(path + ".tmp", path)


def start_knot(d, zf):
    conf = os.path.join(d, "knot.conf")
    with open(conf, "w") as f:
        f.write("""server:
    rundir: "%(d)s"
    listen: 127.0.0.1@%(pk)d
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: warning
database:
    storage: "%(d)s"
remote:
  - id: c2wall
    address: 127.0.0.1@%(pc)d
acl:
  - id: xfr
    address: 127.0.0.0/8
    action: transfer
zone:
  - domain: %(z)s
    storage: "%(d)s"
    file: "%(zf)s"
    notify: c2wall
    acl: xfr
    zonefile-sync: -1
    zonefile-load: difference
    journal-content: changes
    journal-max-usage: 4G
""" % {"d": d, "pk": P_KNOT, "pc": P_C2W, "z": ORIGIN, "zf": zf})
    log = open(os.path.join(d, "knot.log"), "w")
    p = subprocess.Popen(["/usr/sbin/knotd", "-c", conf], stdout=log, stderr=log,
                         stdin=subprocess.DEVNULL)
    PROCS.append(p)
    return p, conf


def start_c2wall(binary, d):
    sock = os.path.join(d, "control.sock")
    conf = os.path.join(d, "c2wall.yaml")
    with open(conf, "w") as f:
        f.write("""server:
  listen: ["127.0.0.1@%(pc)d"]
  workers: 1
  user: none
  allow: ["127.0.0.0/8"]
resolver:
  mode: forward
  forward: ["127.0.0.1@%(pk)d"]
  trust-anchor: none
events:
  jsonl: none
privacy:
  key-file: %(d)s/pseudonym.key
store:
  sqlite: none
control:
  socket: %(sock)s
log:
  level: info
policy:
  max-change: 0
  state-dir: %(d)s/state
  zones:
    - name: %(z)s
      primaries: ["127.0.0.1@%(pk)d"]
      notify-interval: 0s
      refresh-min: 1h
      transfer-max-size: 4GiB
      transfer-timeout: 1200s
""" % {"pc": P_C2W, "pk": P_KNOT, "d": d, "sock": sock, "z": ORIGIN})
    log = open(os.path.join(d, "c2wall.log"), "w")
    p = subprocess.Popen([binary, "serve", "--config", conf], stdout=log, stderr=log,
                         stdin=subprocess.DEVNULL)
    PROCS.append(p)
    return p, sock


def wait(pred, timeout, what, proc=None, sleep=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s: process exited (%d)" % (what, proc.returncode))
        time.sleep(sleep)
    raise RuntimeError("%s: not within %.0f s" % (what, timeout))


def one_change(knot_conf, zf, sock, pid, rules, serial, k, keep_name):
    """k changes as one new version; returns the measurements."""
    dels = k // 2
    adds = k - dels
    probe = "probe%d.bench-add.example" % serial
    probe_ip = "10.9.%d.%d" % (serial // 250 % 250, serial % 250)
    removed = rules[:dels]
    del rules[:dels]
    rules.append("%s A %s" % (probe, probe_ip))
    rules.extend("add%d-%d.bench-add.example CNAME ." % (serial, i) for i in range(adds - 1))
    write_zone(zf, serial, rules)
    before = feeds_state(sock) or {}
    steady = rss_kib(pid)
    peak = [steady]
    lost = [0, 0]
    done = threading.Event()

    def sampler():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(pid))
            time.sleep(0.005)

    def keeper():
        # Bounded by the change: at most one probe per 5 ms until done (the caller's timeout).
        while not done.is_set():
            m = ask(keep_name)
            lost[1] += 1
            if m is None:
                lost[0] += 1
            time.sleep(0.005)

    ths = [threading.Thread(target=sampler), threading.Thread(target=keeper)]
    for t in ths:
        t.start()
    t0 = time.monotonic()
    try:
        subprocess.run(["/usr/sbin/knotc", "-c", knot_conf, "zone-reload", ORIGIN], check=True,
                       stdout=subprocess.DEVNULL, timeout=60)
        wait(lambda: knot_serial() == serial, 1200, "knot serving the new serial", sleep=0.002)
        tk = time.monotonic()
        wait(lambda: a_of(ask("%s." % probe, 0.2)) == [probe_ip], 1200, "probe answering",
             sleep=0.002)
        t1 = time.monotonic()
        st = wait(lambda: (lambda s: s if s and s.get("serial") == serial and
                           s.get("transfers", 0) > before.get("transfers", 0) else None)(
                               feeds_state(sock)), 120, "feeds state")
        time.sleep(0.3)
    finally:
        done.set()
        for t in ths:
            t.join(60)
    del removed
    return {
        "k": k, "reload_to_answer_ms": round((t1 - t0) * 1000, 1),
        "notify_to_answer_ms": round((t1 - tk) * 1000, 1),
        "xfr_to_force_ms": (round(st["last_apply_us"] / 1000.0, 1)
                            if "last_apply_us" in st else None),
        "notify_to_force_ms": (round(st["notify_apply_us"] / 1000.0, 1)
                               if "notify_apply_us" in st else None),
        "mode": st.get("last_apply", "full") or "full",
        "rss_steady_mib": round(steady / 1024.0, 1), "rss_peak_mib": round(peak[0] / 1024.0, 1),
        "ratio": round(peak[0] / float(steady), 2) if steady else None,
        "lost": "%d/%d" % (lost[0], lost[1]), "rules": st.get("rules"),
    }


def run(label, binary, n, changes, work):
    d = os.path.join(work, "run-%s-%d" % (label, n))
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "state"))
    rules = gen_zone(work, n)
    keep_name = None
    for r in rules:
        f = r.split()
        if len(f) == 3 and f[1] == "CNAME" and f[2] == "." and "rpz" not in f[0] and \
                not f[0].startswith("*"):
            keep_name = f[0] + "."
    zf = os.path.join(d, "rpz.bench.zone")
    serial = 1
    write_zone(zf, serial, rules)
    rows = []
    knot, kconf = start_knot(d, zf)
    c2w = None
    try:
        wait(lambda: knot_up(), 600, "knot serving the zone", knot)
        t0 = time.monotonic()
        c2w, sock = start_c2wall(binary, d)
        wait(lambda: (lambda s: s and s.get("has_copy") and s.get("rules", 0) > 0)(
            feeds_state(sock)), 1800, "first AXFR in force", c2w)
        print("ixfr-bench: %s N=%d: AXFR in force after %.1f s" %
              (label, n, time.monotonic() - t0), file=sys.stderr)
        time.sleep(2)
        for k in changes:
            serial += 1
            r = one_change(kconf, zf, sock, c2w.pid, rules, serial, k, keep_name)
            r.update({"build": label, "N": n})
            print("ixfr-bench: %s" % json.dumps(r), file=sys.stderr)
            rows.append(r)
    finally:
        if c2w is not None:
            stop(c2w)
        stop(knot)
    return rows


def knot_serial():
    q = dns.message.make_query(ORIGIN, "SOA")
    try:
        m = dns.query.udp(q, "127.0.0.1", port=P_KNOT, timeout=0.5)
        return m.answer[0][0].serial if m.answer else None
    except (dns.exception.Timeout, OSError):
        return None


def knot_up():
    q = dns.message.make_query(ORIGIN, "SOA")
    try:
        m = dns.query.udp(q, "127.0.0.1", port=P_KNOT, timeout=0.5)
        return m.rcode() == dns.rcode.NOERROR and len(m.answer) > 0
    except (dns.exception.Timeout, OSError):
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000000")
    ap.add_argument("--changes", default="1,1000,100000")
    ap.add_argument("--c2wall", default=os.path.join(TOP, "build-test", "c2wall"))
    ap.add_argument("--before", default=None)
    ap.add_argument("--work", default="/tmp/c2wall-ixfr-bench")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    sizes = [int(x) for x in a.sizes.split(",")]
    changes = [int(x) for x in a.changes.split(",")]
    builds = [("after", a.c2wall)] + ([("before", a.before)] if a.before else [])
    rows = []
    try:
        for n in sizes:
            for label, binary in builds:
                rows += run(label, binary, n, changes, a.work)
    finally:
        for p in PROCS:
            stop(p)
    head = ("| build | rules | changes | mode | reload → answer (ms) | new serial → answer (ms) "
            "| c2wall: NOTIFY → in force (ms) | c2wall: transfer end → in force (ms) "
            "| RSS steady (MiB) | RSS peak (MiB) | peak/steady | probes lost |\n"
            "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    body = "".join("| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n" % (
        r["build"], r["N"], r["k"], r["mode"], r["reload_to_answer_ms"], r["notify_to_answer_ms"],
        r["notify_to_force_ms"] if r["notify_to_force_ms"] is not None else "—",
        r["xfr_to_force_ms"] if r["xfr_to_force_ms"] is not None else "—",
        r["rss_steady_mib"], r["rss_peak_mib"], r["ratio"], r["lost"]) for r in rows)
    print(head + body)
    if a.out:
        with open(a.out, "w") as f:
            f.write(head + body)


if __name__ == "__main__":
    main()
