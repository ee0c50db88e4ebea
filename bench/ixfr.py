#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""IXFR to policy in force: c2wall, BIND 9 and Unbound as secondaries of one Knot DNS primary
(docs/BENCHMARKS.md, "Incremental policy (issue 9)").

    unshare -rn bash -c 'ip link set lo up; bench/ixfr.py [--sizes 1000000,10000000]
        [--changes 1,1000,100000] [--peers bind,unbound] [--peers-max-rules N]
        [--peer-load-timeout S] [--knot-tcp-io-timeout MS] [--via-update | --via-ctl]
        [--c2wall BIN]
        [--before BIN] [--out FILE] [--json FILE]'

Run it in its own network namespace (as above): it listens on fixed loopback ports and reads
the packets on lo (an AF_PACKET socket, which the namespace's own root may open).

For each zone size N: generates an RPZ zone of N rules with bench/gen_rpz.py --mix (cached in
--work), starts knotd serving it (journal of changes, zonefile-load: difference, NOTIFY to
every secondary at once, one TCP worker per secondary so the transfers run side by side) and the secondaries, each on its own loopback port with one worker
thread: c2wall (--c2wall, labelled "c2wall"; --before adds a second c2wall, "c2wall-before"),
BIND 9 `named -n 1` (response-policy zone, type secondary, primaries Knot, min-update-interval
0) and Unbound (num-threads 1, `rpz:` with `primary:` Knot and allow-notify). All of them
transfer the zone by AXFR at the same time; a secondary not answering by the policy within
--peer-load-timeout is stopped and reported with the time it was given (peers are skipped
outright for sizes above --peers-max-rules). Then for each change count k: rewrites the zone
file with k changes (k//2 rule lines deleted, the rest added, the first addition a local-data
probe name), serial + 1, and runs `knotc zone-reload`. Knot computes the difference, journals
it and NOTIFYs every secondary, which transfer the IXFR and apply it. With --via-update the k
changes go to Knot as one dynamic update instead (knsupdate over TCP; Knot raises the serial);
Knot's reload of a 10M-rule zone takes minutes per change, the update seconds. One update
message holds at most 1,000 changes; with --via-ctl each change is one transaction on Knot's
control socket instead (python3-libknot), of any size: its records are sent before the change's
clock starts (about 6 s for 100,000), and the commit starts it. Measured per secondary:

  reload_to_answer_ms  from `knotc zone-reload` to the probe name answering (Knot's diff of
                       the zone, NOTIFY, IXFR, apply): the wall time an operator sees
  notify_to_answer_ms  from Knot serving the new serial (polled every 2 ms; it sends its
                       NOTIFYs some time after) to the probe name answering on that secondary
                       (a query every 2 ms on each, sent without waiting for the last
                       answer). Knot's delay before its NOTIFY is in it
  pkt_notify_to_answer_ms   from Knot's NOTIFY reaching that secondary (kernel timestamp of
                       the packet on lo, captured with an AF_PACKET socket) to the probe
                       answering there: NOTIFY handling, IXFR, apply; the same clock for all
  pkt_xfr_end_to_answer_ms  from the last segment of the transfer Knot sent that secondary
                       (Knot listens on one more address per secondary, which is that
                       secondary's primary) to the probe answering: the issue's "in force
                       within 100 ms of the transfer's end", measured from outside
  wire_xfr_end_to_answer_ms  the same on the wire only: from the transfer's last segment to
                       the first probe answer that carries the new rule (kernel timestamps),
                       without this process's delay in reading that answer
  wire_in_force_between_ms  the change came in force between the last probe query answered
                       without the rule and the first answered with it: their send times on
                       the wire, from the transfer's last segment
  xfr_to_force_ms      c2wall's own figure (feeds state last_apply_us): from the transfer's
                       last message to the new policy in force
  notify_to_force_ms   c2wall's own figure (feeds state notify_apply_us): from the NOTIFY it
                       accepted to the new policy in force
  mode                 c2wall: "incremental" or "full" (feeds state last_apply)
  rss_steady_mib       VmRSS before the change; rss_peak_mib the highest VmRSS sampled every
                       5 ms from the reload until 1 s after the last probe answered and every
                       c2wall counted the transfer (after its disk copy and any merge of its
                       layers); ratio
  lost                 queries for an untouched blocked name, one every 5 ms to each secondary
                       throughout the change, with no answer within 0.5 s / sent; "wrong"
                       counts answers other than NXDOMAIN; max_ms is the slowest answer
                       as this process saw it (its own threads' scheduling included)
  wire_max_ms          the slowest answer of the stream above on that secondary, from the
                       query's packet on lo to the answer's, kernel timestamps: the server's
                       own delay (the probe polls are left out: until the change is in force
                       c2wall forwards them to Knot, so they would time Knot)
  wire_max_own_ms      the same over the queries sent from the NOTIFY's arrival at that
                       secondary to 5 s after its probe answered: its own change and what
                       follows it (c2wall writes its disk copy then), without the primary's
                       work on the change before its NOTIFY or the other secondaries' changes
                       that run later on the same cores; the JSON's wire_slow lists every
                       answer over 5 ms (ms from the NOTIFY, ms taken)

After the load and before the first change, each secondary is asked three names outside the
policy (cache misses, as a resolver in service sees all the time). Every process it starts is
stopped by PID at the end. While secondaries load, the run stops the
peers (largest first) if MemAvailable falls under --min-avail-gib, and reports it. Prints
Markdown tables; --out also writes them to a file, --json the rows.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import struct
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
PORTS = {"c2wall": 5432, "bind": 5433, "unbound": 5434, "c2wall-before": 5435}
# Knot listens on one more loopback address per secondary, which that secondary uses as its
# primary (and Knot NOTIFYs it from there): the capture tells the transfers apart by address.
KNOT_ADDR = {"c2wall": "127.0.0.11", "bind": "127.0.0.12", "unbound": "127.0.0.13",
             "c2wall-before": "127.0.0.14"}
PROCS = []
# --via-update: each change is one dynamic update (knsupdate over TCP) instead of a rewritten
# file and `knotc zone-reload` (Knot's reload of a 10M-rule zone takes minutes per change).
# --via-ctl: each change is one transaction on Knot's control socket (python3-libknot:
# zone-begin, zone-unset and zone-set per record, zone-commit), with no cap on its size.
VIA_UPDATE = False
VIA_CTL = False


class KnotTxn:
    """One change as a transaction on Knot's control socket: every record is sent before the
    timed part of the change, which is the commit alone."""

    def __init__(self, knot_conf, gone, new):
        import libknot.control
        self.c = libknot.control
        self.k = libknot.control.KnotCtl()
        self.k.connect(os.path.join(os.path.dirname(knot_conf), "knot.sock"))
        self.k.set_timeout(600)
        self.cmd(cmd="zone-begin", zone=ORIGIN)
        for line, op in [(g, "zone-unset") for g in gone] + [(a, "zone-set") for a in new]:
            owner, rtype, data = line.split(None, 2)
            self.cmd(cmd=op, zone=ORIGIN, owner=owner, ttl="300" if op == "zone-set" else None,
                     rtype=rtype, data=data)

    def cmd(self, **kw):
        self.k.send_block(**kw)
        return self.k.receive_block()

    def commit(self):
        try:
            self.cmd(cmd="zone-commit", zone=ORIGIN)
            self.k.send(self.c.KnotCtlType.END)
        finally:
            self.k.close()


def log(msg):
    print("ixfr-bench: %s" % msg, file=sys.stderr, flush=True)


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(60)
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


def mem_avail_kib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


def ask(port, name, timeout=0.5):
    q = dns.message.make_query(name, "A")
    try:
        return dns.query.udp(q, "127.0.0.1", port=port, timeout=timeout)
    except (dns.exception.DNSException, OSError):
        return None


def a_of(m):
    if m is None:
        return None
    return [r.address for rr in m.answer for r in rr if rr.rdtype == 1]


def control_line(path, req, timeout=30.0):
    """One request to c2wall's control socket; its answer line, without the newline."""
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
        return buf.decode().rstrip("\n")
    finally:
        s.close()


def control(path, req, timeout=30.0):
    return json.loads(control_line(path, req, timeout))


def feeds_state(sock):
    try:
        return control(sock, "feeds")["zones"][0]
    except (OSError, ValueError, KeyError, IndexError):
        return None


def wire_name(name):
    """A name in DNS wire form, lower case."""
    return b"".join(bytes([len(l)]) + l.encode().lower()
                    for l in name.rstrip(".").split(".")) + b"\0"


SO_RCVBUFFORCE = 33
SO_TIMESTAMPNS = 35


class Capture:
    """Kernel-timestamped packets on lo (AF_PACKET, in the run's own network namespace): when
    Knot's NOTIFY reached each secondary, and each TCP segment with data Knot sent from that
    secondary's address (the transfer). One thread, stopped by close()."""

    def __init__(self, secs, keep_name, probe):
        # the stream's name in wire form, lower case: its queries are the ones timed
        self.keep_wire = wire_name(keep_name)
        self.probe_wire = wire_name(probe)
        self.ports = {s.port: s.name for s in secs}
        self.addrs = {socket.inet_aton(KNOT_ADDR[s.name]): s.name for s in secs}
        self.notify = {}
        self.xfr = {s.name: [] for s in secs}
        # The stream's UDP queries to each secondary by (client port, DNS id), and the
        # slowest answer on the wire: from the query's packet on lo to the answer's, both
        # kernel timestamps, so the client's own scheduling (this process's threads) is not
        # in it. Only the stream: the probe polls are answered from upstream until the change
        # is in force (c2wall forwards them to Knot), so they would time Knot.
        self.asked = {s.name: {} for s in secs}
        self.wire = {s.name: [] for s in secs}   # (query's wall time, latency), every answer
        # The probe polls on the wire: when the last query answered without the new rule was
        # sent, and when the first query answered by it (NOERROR with an answer: before the
        # change every secondary answers the probe name with an error) was sent and answered.
        # The change came in force between the two sends; the answer's time is what a client
        # sees, without this process's own scheduling.
        self.pasked = {s.name: {} for s in secs}
        self.probe_before = {}   # name: wall time of the last query sent before the rule
        self.probe_hit = {}      # name: (query's wall time, answer's wall time)
        self.ev = threading.Event()
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self.sock.bind(("lo", 0))
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.settimeout(0.1)
        self.th = threading.Thread(target=self.loop)
        self.th.start()

    def loop(self):
        while not self.ev.is_set():
            try:
                data, anc, _, addr = self.sock.recvmsg(160, 256)
            except socket.timeout:
                continue
            if addr[2] != 0:    # lo shows each packet twice: keep the PACKET_HOST copy
                continue
            ts = time.time()
            for lvl, typ, d in anc:
                if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS and len(d) >= 16:
                    sec, nsec = struct.unpack("qq", d[:16])
                    ts = sec + nsec / 1e9
            self.parse(ts, data)

    def parse(self, ts, b):
        if len(b) < 34 or b[12:14] != b"\x08\x00":
            return
        ihl = (b[14] & 15) * 4
        total = struct.unpack("!H", b[16:18])[0]
        l4 = 14 + ihl
        if b[23] == 17 and len(b) >= l4 + 12:
            sport, dport = struct.unpack("!HH", b[l4:l4 + 4])
            qid = b[l4 + 8:l4 + 10]
            flags = b[l4 + 10]
            opcode = (flags >> 3) & 15
            name = self.ports.get(dport)
            if name and not flags & 0x80:
                if opcode == 4:
                    self.notify.setdefault(name, ts)
                elif opcode == 0:
                    qn = b[l4 + 20:l4 + 20 + max(len(self.keep_wire), len(self.probe_wire))]
                    if qn[:len(self.keep_wire)].lower() == self.keep_wire:
                        self.asked[name][(sport, qid)] = ts
                    elif qn[:len(self.probe_wire)].lower() == self.probe_wire:
                        self.pasked[name][(sport, qid)] = ts
                return
            name = self.ports.get(sport)
            if name and flags & 0x80 and opcode == 0:
                t = self.asked[name].pop((dport, qid), None)
                if t is not None:
                    self.wire[name].append((t, ts - t))
                    return
                t = self.pasked[name].pop((dport, qid), None)
                if t is None or name in self.probe_hit or len(b) < l4 + 16:
                    return
                rcode = b[l4 + 11] & 15
                ancount = struct.unpack("!H", b[l4 + 14:l4 + 16])[0]
                if rcode == 0 and ancount > 0:
                    self.probe_hit[name] = (t, ts)
                else:
                    self.probe_before[name] = max(t, self.probe_before.get(name, 0.0))
        elif b[23] == 6 and len(b) >= l4 + 13:
            doff = (b[l4 + 12] >> 4) * 4
            if total - ihl - doff <= 0:
                return
            name = self.addrs.get(b[26:30])
            if name and struct.unpack("!H", b[l4:l4 + 2])[0] == P_KNOT:
                self.xfr[name].append(ts)
                return
            # Knot sends its NOTIFY over TCP: 2 bytes of length, then the DNS header.
            name = self.ports.get(struct.unpack("!H", b[l4 + 2:l4 + 4])[0])
            if name and len(b) >= l4 + doff + 5:
                flags = b[l4 + doff + 4]
                if not flags & 0x80 and (flags >> 3) & 15 == 4:
                    self.notify.setdefault(name, ts)

    def slowest(self, name, lo=None, hi=None):
        """The slowest answer on the wire to @name's stream, of the queries sent between the
        wall times @lo and @hi (either open), in ms."""
        return round(max([d for t, d in self.wire[name] if (lo is None or t >= lo) and
                          (hi is None or t <= hi)] or [0.0]) * 1000, 1)

    def xfr_end(self, name, until):
        """The last transfer segment to name at or before the wall time until."""
        last = [t for t in self.xfr[name] if t <= until]
        return last[-1] if last else None

    def close(self):
        self.ev.set()
        self.th.join(5)
        self.sock.close()


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


def start_knot(d, zf, names, io_timeout_ms=None):
    conf = os.path.join(d, "knot.conf")
    remotes = "".join("  - id: %s\n    address: 127.0.0.1@%d\n    via: %s\n" %
                      (n, PORTS[n], KNOT_ADDR[n]) for n in names)
    listen = ", ".join(["127.0.0.1@%d" % P_KNOT] + ["%s@%d" % (KNOT_ADDR[n], P_KNOT)
                                                      for n in names])
    with open(conf, "w") as f:
        f.write("""server:
    rundir: "%(d)s"
    listen: [%(listen)s]
    udp-workers: 1
    tcp-workers: %(tw)d
    background-workers: 1
%(io)slog:
  - target: stderr
    any: warning
database:
    storage: "%(d)s"
remote:
%(remotes)sacl:
  - id: xfr
    address: 127.0.0.0/8
    action: %(actions)s
zone:
  - domain: %(z)s
    storage: "%(d)s"
    file: "%(zf)s"
    notify: [%(notify)s]
    acl: xfr
    zonefile-sync: -1
    zonefile-load: difference
    journal-content: changes
    journal-max-usage: 4G
""" % {"d": d, "listen": listen, "tw": len(names) + 1,
       "io": "" if io_timeout_ms is None else "    tcp-io-timeout: %d\n" % io_timeout_ms,
       "remotes": remotes, "notify": ", ".join(names), "z": ORIGIN,
       "actions": "[transfer, update]" if VIA_UPDATE else "transfer",
       "zf": zf})
    lf = open(os.path.join(d, "knot.log"), "w")
    p = subprocess.Popen(["/usr/sbin/knotd", "-c", conf], stdout=lf, stderr=lf,
                         stdin=subprocess.DEVNULL)
    lf.close()
    PROCS.append(p)
    return p, conf


class Secondary:
    """One secondary of the Knot primary: its own directory, port and process."""

    def __init__(self, name, d):
        self.name = name
        self.port = PORTS[name]
        self.dir = os.path.join(d, name)
        os.makedirs(self.dir)
        self.proc = None
        self.sock = None
        self.load_s = None
        self.dropped = None   # why it left the run (did not load in time, memory)
        # c2wall: control answers during the first AXFR (seconds of the slowest; how many
        # said the zone was being built)
        self.load_ctl_max = None
        self.load_ctl_building = 0

    def popen(self, argv):
        lf = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(argv, stdout=lf, stderr=lf, stdin=subprocess.DEVNULL)
        lf.close()
        PROCS.append(self.proc)

    def state(self):
        return feeds_state(self.sock) if self.sock else None

    def stop(self):
        if self.proc is not None:
            stop(self.proc)


class C2wall(Secondary):
    def __init__(self, name, d, binary):
        super().__init__(name, d)
        self.binary = binary

    def start(self):
        self.sock = os.path.join(self.dir, "control.sock")
        conf = os.path.join(self.dir, "c2wall.yaml")
        with open(conf, "w") as f:
            f.write("""server:
  listen: ["127.0.0.1@%(pc)d"]
  workers: 1
  user: none
  allow: ["127.0.0.0/8"]
resolver:
  mode: forward
  forward: ["%(ka)s@%(pk)d"]
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
      primaries: ["%(ka)s@%(pk)d"]
      notify-interval: 0s
      refresh-min: 1h
      transfer-max-size: 4GiB
      transfer-timeout: 1200s
""" % {"pc": self.port, "pk": P_KNOT, "ka": KNOT_ADDR[self.name], "d": self.dir, "sock": self.sock, "z": ORIGIN})
        os.makedirs(os.path.join(self.dir, "state"))
        self.popen([self.binary, "serve", "--config", conf])


class Bind(Secondary):
    def start(self):
        conf = os.path.join(self.dir, "named.conf")
        with open(conf, "w") as f:
            f.write('options { directory "%(d)s"; pid-file "%(d)s/named.pid"; '
                    'listen-on port %(port)d { 127.0.0.1; }; listen-on-v6 { none; }; '
                    'recursion yes; allow-query { any; }; allow-recursion { any; }; '
                    'forward only; forwarders { %(ka)s port %(pk)d; }; '
                    'dnssec-validation no; notify no; session-keyfile "%(d)s/session.key"; '
                    'managed-keys-directory "%(d)s"; masterfile-format raw; '
                    'response-policy { zone "%(zone)s" min-update-interval 0; } '
                    'qname-wait-recurse no; };\n'
                    'controls { };\n'
                    'zone "%(zone)s" { type secondary; file "%(d)s/rpz.db"; '
                    'primaries { %(ka)s port %(pk)d; }; allow-notify { %(ka)s; }; };\n'
                    % {"d": self.dir, "port": self.port, "pk": P_KNOT, "ka": KNOT_ADDR[self.name],
                       "zone": ORIGIN.rstrip(".")})
        self.popen(["/usr/sbin/named", "-g", "-n", "1", "-c", conf])


class Unbound(Secondary):
    def start(self):
        conf = os.path.join(self.dir, "unbound.conf")
        with open(conf, "w") as f:
            f.write("\n".join([
                "server:",
                "  interface: 127.0.0.1@%d" % self.port,
                "  port: %d" % self.port,
                "  do-daemonize: no",
                '  chroot: ""',
                '  username: ""',
                '  directory: "%s"' % self.dir,
                '  pidfile: "%s/unbound.pid"' % self.dir,
                "  use-syslog: no",
                '  logfile: ""',
                "  verbosity: 1",
                "  num-threads: 1",
                "  do-ip6: no",
                "  do-not-query-localhost: no",
                '  module-config: "respip iterator"',
                "  access-control: 127.0.0.0/8 allow",
                "forward-zone:",
                '  name: "."',
                "  forward-addr: %s@%d" % (KNOT_ADDR[self.name], P_KNOT),
                "rpz:",
                '  name: "%s"' % ORIGIN,
                "  primary: %s@%d" % (KNOT_ADDR[self.name], P_KNOT),
                '  zonefile: ""',
                "  allow-notify: %s" % KNOT_ADDR[self.name],
            ]) + "\n")
        self.popen(["/usr/sbin/unbound", "-d", "-c", conf])


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


def blocked(port, name):
    m = ask(port, name, 0.5)
    return m is not None and m.rcode() == dns.rcode.NXDOMAIN


def load_all(secs, keep_name, timeouts, min_avail_kib):
    """Waits for every secondary to enforce the zone (keep_name NXDOMAIN, and for c2wall its
    feeds state). A secondary past its timeout, or a peer while memory runs short, is stopped
    and marked dropped. Bounded by the largest timeout."""
    t0 = time.monotonic()
    pending = list(secs)
    loading = threading.Event()

    def controller(s):
        # c2wall's control socket asked every 20 ms while the first copy comes in, as during
        # the changes (one_change()): the slowest answer, and how many said "building"
        s.load_ctl_max = 0.0
        while not loading.is_set() and s.load_s is None and s.dropped is None and \
                time.monotonic() - t0 < max(timeouts.values()) + 60:
            ts = time.monotonic()
            try:
                z = control(s.sock, "feeds", timeout=120)["zones"][0]
            except (OSError, ValueError, KeyError, IndexError):
                z = None
            s.load_ctl_max = max(s.load_ctl_max, time.monotonic() - ts)
            if z is not None and z.get("building"):
                s.load_ctl_building += 1
            time.sleep(0.02)

    ctls = [threading.Thread(target=controller, args=(s,), daemon=True)
            for s in secs if s.sock]
    for c in ctls:
        c.start()
    try:
        return load_all_wait(secs, pending, t0, keep_name, timeouts, min_avail_kib)
    finally:
        loading.set()
        for c in ctls:
            c.join(180)


def load_all_wait(secs, pending, t0, keep_name, timeouts, min_avail_kib):
    while pending:
        now = time.monotonic() - t0
        for s in list(pending):
            if s.proc.poll() is not None:
                s.dropped = "exited (%d) after %.0f s" % (s.proc.returncode, now)
                pending.remove(s)
                continue
            ok = blocked(s.port, keep_name)
            if ok and s.sock:
                st = s.state()
                ok = bool(st and st.get("has_copy") and st.get("rules", 0) > 0)
            if ok:
                s.load_s = round(time.monotonic() - t0, 1)
                log("%s: AXFR in force after %.1f s, RSS %.0f MiB" %
                    (s.name, s.load_s, rss_kib(s.proc.pid) / 1024.0))
                pending.remove(s)
            elif now > timeouts[s.name]:
                s.dropped = "not in force within %.0f s" % timeouts[s.name]
                log("%s: %s (RSS %.0f MiB); stopped" %
                    (s.name, s.dropped, rss_kib(s.proc.pid) / 1024.0))
                s.stop()
                pending.remove(s)
        peers = [s for s in pending if not s.sock]
        if peers and mem_avail_kib() < min_avail_kib:
            big = max(peers, key=lambda s: rss_kib(s.proc.pid))
            big.dropped = "stopped after %.0f s: MemAvailable under the floor (its RSS %.0f MiB)" \
                % (now, rss_kib(big.proc.pid) / 1024.0)
            log("%s: %s" % (big.name, big.dropped))
            big.stop()
            pending.remove(big)
        time.sleep(0.5)
    return [s for s in secs if s.dropped is None]


def knot_serial():
    q = dns.message.make_query(ORIGIN, "SOA")
    try:
        m = dns.query.udp(q, "127.0.0.1", port=P_KNOT, timeout=0.5)
        return m.answer[0][0].serial if m.answer else None
    except (dns.exception.DNSException, OSError):
        return None


def knot_up():
    q = dns.message.make_query(ORIGIN, "SOA")
    try:
        m = dns.query.udp(q, "127.0.0.1", port=P_KNOT, timeout=0.5)
        return m.rcode() == dns.rcode.NOERROR and len(m.answer) > 0
    except (dns.exception.DNSException, OSError):
        return False


def one_change(knot_conf, zf, secs, rules, serial, k, keep_name, timeout, min_avail_kib):
    """k changes as one new version, NOTIFYed to every secondary at once; one row each."""
    dels = k // 2
    adds = k - dels
    probe = "probe%d.bench-add.example." % serial
    probe_ip = "10.9.%d.%d" % (serial // 250 % 250, serial % 250)
    gone = rules[:dels]
    del rules[:dels]
    new = ["%s A %s" % (probe.rstrip("."), probe_ip)]
    new += ["add%d-%d.bench-add.example CNAME ." % (serial, i) for i in range(adds - 1)]
    rules.extend(new)
    if VIA_UPDATE:
        def owner_rest(line):
            owner, rest = line.split(None, 1)
            return (owner if owner.endswith(".") else owner + "." + ORIGIN), rest
        cmds = ["server 127.0.0.1 %d" % P_KNOT, "zone %s" % ORIGIN]
        cmds += ["update delete %s %s" % owner_rest(g) for g in gone]
        cmds += ["update add %s 300 %s" % owner_rest(a) for a in new]
        update = "\n".join(cmds + ["send", ""])
    elif VIA_CTL:
        t = time.monotonic()
        txn = KnotTxn(knot_conf, gone, new)
        log("knot: %d changes sent to the open transaction in %.1f s" %
            (k, time.monotonic() - t))
    else:
        write_zone(zf, serial, rules)
    before = {s.name: (s.state() or {}) for s in secs}
    steady = {s.name: rss_kib(s.proc.pid) for s in secs}
    peak = dict(steady)
    stream = {s.name: {"lost": 0, "sent": 0, "wrong": 0, "max": 0.0} for s in secs}
    answered = {}
    done = threading.Event()
    polled = threading.Event()
    t_end = time.monotonic() + timeout + 60

    def sampler():
        i = 0
        while not done.is_set() and time.monotonic() < t_end:
            for s in secs:
                peak[s.name] = max(peak[s.name], rss_kib(s.proc.pid))
            i += 1
            if i % 20 == 0 and mem_avail_kib() < min_avail_kib:
                peers = [s for s in secs if not s.sock and s.proc.poll() is None]
                if peers:
                    big = max(peers, key=lambda s: rss_kib(s.proc.pid))
                    big.dropped = "stopped during the change: MemAvailable under the floor"
                    log("%s: %s" % (big.name, big.dropped))
                    big.stop()
            time.sleep(0.005)

    def keeper(s):
        c = stream[s.name]
        while not done.is_set() and time.monotonic() < t_end:
            ts = time.monotonic()
            m = ask(s.port, keep_name, 0.5)
            c["sent"] += 1
            if m is None:
                c["lost"] += 1
            else:
                c["max"] = max(c["max"], time.monotonic() - ts)
                if m.rcode() != dns.rcode.NXDOMAIN:
                    c["wrong"] += 1
            time.sleep(0.005)

    ctl = {s.name: {"max": 0.0, "n": 0, "folding": 0, "folding_max": 0.0}
           for s in secs if s.sock}

    def controller(s):
        # c2wall's control socket asked every 20 ms, as an operator's scripts and a metrics
        # scraper would: how long the slowest answer took during the change (and the merge
        # after it), and how many answers came while the layers were being folded.
        c = ctl[s.name]
        while not done.is_set() and time.monotonic() < t_end:
            ts = time.monotonic()
            try:
                z = control(s.sock, "feeds", timeout=60)["zones"][0]
            except (OSError, ValueError, KeyError, IndexError):
                z = None
            took = time.monotonic() - ts
            c["n"] += 1
            c["max"] = max(c["max"], took)
            if z is not None and z.get("folding"):
                c["folding"] += 1
                c["folding_max"] = max(c["folding_max"], took)
            time.sleep(0.02)

    def poller(s):
        # A query every 2 ms whether or not the last one was answered: until the change is
        # in force a secondary forwards the probe name upstream, to Knot, which answers late
        # while it sends the transfers, and a poll that waited for that answer would measure
        # Knot's delay after the change came in force.
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect(("127.0.0.1", s.port))
        sock.setblocking(False)
        try:
            while not polled.is_set() and time.monotonic() < t_end:
                try:
                    sock.send(dns.message.make_query(probe, "A").to_wire())
                except OSError:
                    pass
                nxt = time.monotonic() + 0.002
                while True:
                    try:
                        m = dns.message.from_wire(sock.recv(4096))
                    except BlockingIOError:
                        if time.monotonic() >= nxt:
                            break
                        time.sleep(0.0005)
                        continue
                    except (dns.exception.DNSException, OSError):
                        continue
                    if a_of(m) == [probe_ip]:
                        answered[s.name] = (time.monotonic(), time.time())
                        return
        finally:
            sock.close()

    ths = [threading.Thread(target=sampler)] + \
        [threading.Thread(target=keeper, args=(s,)) for s in secs] + \
        [threading.Thread(target=controller, args=(s,)) for s in secs if s.sock]
    pths = [threading.Thread(target=poller, args=(s,)) for s in secs]
    cap = Capture(secs, keep_name, probe)
    for t in ths:
        t.start()
    t0 = time.monotonic()
    tk = None
    try:
        if VIA_UPDATE:
            subprocess.run(["/usr/bin/knsupdate", "-v", "-t", "300", "-r", "0"], input=update,
                           text=True, check=True, stdout=subprocess.DEVNULL, timeout=600)
        elif VIA_CTL:
            txn.commit()
        else:
            subprocess.run(["/usr/sbin/knotc", "-c", knot_conf, "zone-reload", ORIGIN],
                           check=True, stdout=subprocess.DEVNULL, timeout=60)
        for t in pths:
            t.start()
        wait(lambda: knot_serial() == serial, timeout, "knot serving the new serial",
             sleep=0.002)
        tk = time.monotonic()
        deadline = tk + timeout
        while len(answered) < len(secs) and time.monotonic() < deadline:
            time.sleep(0.01)
        # c2wall counts the transfer when all its work for it is done: the disk copy and a
        # merge of the layers come after the answer, and their memory counts too.
        for s in secs:
            b = before[s.name]
            while s.sock and time.monotonic() < deadline:
                st = s.state() or {}
                if st.get("transfers", 0) > b.get("transfers", 0):
                    break
                time.sleep(0.01)
        time.sleep(1.0)
    finally:
        polled.set()
        for t in pths:
            if t.is_alive() or t.ident is not None:
                t.join(5)
        done.set()
        for t in ths:
            t.join(60)
        cap.close()
    rows = []
    for s in secs:
        t1, w1 = answered.get(s.name, (None, None))
        tn = cap.notify.get(s.name)
        tx = cap.xfr_end(s.name, w1) if w1 else None
        hit = cap.probe_hit.get(s.name)
        wx = cap.xfr_end(s.name, hit[1]) if hit else None
        r = {"N": None, "k": k, "secondary": s.name,
             "pkt_notify_to_answer_ms": round((w1 - tn) * 1000, 1) if w1 and tn else None,
             "pkt_xfr_end_to_answer_ms": round((w1 - tx) * 1000, 1) if w1 and tx else None,
             # on the wire: the blocked answer, and the two probe sends the change came
             # between, each from the transfer's last segment before that answer
             "wire_xfr_end_to_answer_ms": None, "wire_in_force_between_ms": None,
             "xfr_segments": len(cap.xfr[s.name]),
             "reload_to_answer_ms": round((t1 - t0) * 1000, 1) if t1 else None,
             "notify_to_answer_ms": round((t1 - tk) * 1000, 1) if t1 and tk else None,
             "xfr_to_force_ms": None, "notify_to_force_ms": None, "mode": "",
             "rss_steady_mib": round(steady[s.name] / 1024.0, 1),
             "rss_peak_mib": round(peak[s.name] / 1024.0, 1),
             "ratio": round(peak[s.name] / float(steady[s.name]), 2) if steady[s.name] else None,
             "lost": "%d/%d" % (stream[s.name]["lost"], stream[s.name]["sent"]),
             "wrong": stream[s.name]["wrong"],
             "max_ms": round(stream[s.name]["max"] * 1000, 1),
             "wire_max_ms": cap.slowest(s.name),
             "wire_answers": len(cap.wire[s.name]),
             # its own change: from its NOTIFY to 5 s after its probe answered (c2wall's disk
             # copy of a 10M-rule zone takes 3.5-4 s after the answer); the same rule for all
             "wire_max_own_ms": cap.slowest(s.name, tn, w1 + 5.0) if tn and w1 else None,
             # the answers slower than 5 ms: ms from the NOTIFY to the query, and latency ms
             "wire_slow": [(round((t - tn) * 1000, 1) if tn else None, round(d * 1000, 1))
                           for t, d in cap.wire[s.name] if d > 0.005],
             "ctl_max_ms": round(ctl[s.name]["max"] * 1000, 1) if s.name in ctl else None,
             "ctl_answers": ctl[s.name]["n"] if s.name in ctl else None,
             "ctl_folding_answers": ctl[s.name]["folding"] if s.name in ctl else None,
             "ctl_folding_max_ms": (round(ctl[s.name]["folding_max"] * 1000, 1)
                                    if s.name in ctl else None),
             "note": s.dropped}
        if hit and wx:
            r["wire_xfr_end_to_answer_ms"] = round((hit[1] - wx) * 1000, 1)
            pb = cap.probe_before.get(s.name)
            r["wire_in_force_between_ms"] = [round((pb - wx) * 1000, 1) if pb else None,
                                             round((hit[0] - wx) * 1000, 1)]
        if s.sock:
            b = before[s.name]
            try:
                st = wait(lambda: (lambda x: x if x and x.get("serial") == serial and
                                   x.get("transfers", 0) > b.get("transfers", 0) else None)(
                                       s.state()), 30, "%s feeds state" % s.name)
                r["xfr_to_force_ms"] = (round(st["last_apply_us"] / 1000.0, 1)
                                        if "last_apply_us" in st else None)
                r["notify_to_force_ms"] = (round(st["notify_apply_us"] / 1000.0, 1)
                                           if "notify_apply_us" in st else None)
                r["mode"] = st.get("last_apply", "full") or "full"
            except RuntimeError as e:
                log(str(e))
        rows.append(r)
    return rows


def run(n, changes, work, builds, peers, timeouts, min_avail_kib, change_timeout,
        io_timeout_ms):
    d = os.path.join(work, "run-%d" % n)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
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
    secs = [C2wall(label, d, binary) for label, binary in builds]
    secs += [{"bind": Bind, "unbound": Unbound}[p](p, d) for p in peers]
    knot, kconf = start_knot(d, zf, [s.name for s in secs], io_timeout_ms)
    rows, loads = [], []
    try:
        t0 = time.monotonic()
        wait(lambda: knot_up(), 1800, "knot serving the zone", knot, sleep=0.2)
        log("knot: N=%d zone loaded after %.1f s, RSS %.0f MiB" %
            (n, time.monotonic() - t0, rss_kib(knot.pid) / 1024.0))
        for s in secs:
            s.start()
        live = load_all(secs, keep_name, timeouts, min_avail_kib)
        for s in secs:
            loads.append({"N": n, "secondary": s.name, "load_s": s.load_s,
                          "ctl_max_ms": (round(s.load_ctl_max * 1000, 1)
                                         if s.load_ctl_max is not None else None),
                          "ctl_building_answers": (s.load_ctl_building
                                                   if s.load_ctl_max is not None else None),
                          "rss_mib": round(rss_kib(s.proc.pid) / 1024.0, 1)
                          if s.dropped is None else None, "dropped": s.dropped})
        if not any(s.sock for s in live):
            raise RuntimeError("c2wall did not load the zone: %s" % secs[0].dropped)
        # A resolver in service answers cache misses all the time; these few stand in for them,
        # so that the first change does not also pay for the first miss after the load (c2wall
        # makes its libunbound contexts again when the first copy brings NSDNAME/NSIP rules,
        # and libunbound sets a context up at its first query: docs/BENCHMARKS.md).
        for s in live:
            for i in range(3):
                ask(s.port, "warm%d.bench-miss.example." % i, 2.0)
        time.sleep(5)
        for k in changes:
            live = [s for s in live if s.dropped is None]
            serial += 1
            for r in one_change(kconf, zf, live, rules, serial, k, keep_name, change_timeout,
                                   min_avail_kib):
                r["N"] = n
                log(json.dumps(r))
                rows.append(r)
    finally:
        for s in secs:
            s.stop()
        stop(knot)
    return rows, loads


def fmt(v):
    return "—" if v is None or v == "" else str(v)


def between(b):
    return "—" if not b else "%s – %s" % (fmt(b[0]), fmt(b[1]))


def tables(rows, loads):
    out = ("| rules | secondary | AXFR to policy in force (s) | RSS after (MiB) "
           "| c2wall: slowest control answer meanwhile (ms) | c2wall: answers saying building "
           "| note |\n"
           "|---:|---|---:|---:|---:|---:|---|\n")
    out += "".join("| %d | %s | %s | %s | %s | %s | %s |\n" % (
        r["N"], r["secondary"], fmt(r["load_s"]), fmt(r["rss_mib"]), fmt(r.get("ctl_max_ms")),
        fmt(r.get("ctl_building_answers")), fmt(r["dropped"]))
        for r in loads)
    out += ("\n| rules | changes | secondary | reload → answer (ms) | new serial → answer (ms) "
            "| NOTIFY → answer (ms) | transfer end → answer (ms) "
            "| on the wire: transfer end → blocked answer (ms) | on the wire: in force between (ms) "
            "| c2wall: NOTIFY → in force (ms) | c2wall: transfer end → in force (ms) | mode "
            "| RSS steady (MiB) | RSS peak (MiB) | peak/steady | lost (no answer in 0.5 s) "
            "| wrong | slowest answer (ms) | slowest on the wire (ms) "
            "| slowest on the wire, its own change (ms) "
            "| c2wall: slowest control answer (ms) | c2wall: control answers while folding |\n"
            "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:"
            "|---:|---:|---:|---:|---:|\n")
    out += "".join("| %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s "
                   "| %s | %s | %s | %s | %s | %s | %s |\n" % (
                       r["N"], r["k"], r["secondary"], fmt(r["reload_to_answer_ms"]),
                       fmt(r["notify_to_answer_ms"]), fmt(r["pkt_notify_to_answer_ms"]),
                       fmt(r["pkt_xfr_end_to_answer_ms"]), fmt(r["wire_xfr_end_to_answer_ms"]),
                       between(r["wire_in_force_between_ms"]), fmt(r["notify_to_force_ms"]),
                       fmt(r["xfr_to_force_ms"]), fmt(r["mode"]), r["rss_steady_mib"],
                       r["rss_peak_mib"], fmt(r["ratio"]), r["lost"], r["wrong"], r["max_ms"],
                       r["wire_max_ms"], fmt(r["wire_max_own_ms"]), fmt(r.get("ctl_max_ms")),
                       "—" if r.get("ctl_folding_answers") is None else
                       "%d (slowest %s ms)" % (r["ctl_folding_answers"],
                                               fmt(r["ctl_folding_max_ms"])))
                   for r in rows)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000000")
    ap.add_argument("--changes", default="1,1000,100000")
    ap.add_argument("--c2wall", default=os.path.join(TOP, "build-test", "c2wall"))
    ap.add_argument("--before", default=None, help="a second c2wall build, 'c2wall-before'")
    ap.add_argument("--peers", default="bind,unbound", help="comma list of bind, unbound, or ''")
    ap.add_argument("--peers-max-rules", type=int, default=None,
                    help="run the peers only for sizes up to this many rules")
    ap.add_argument("--peer-load-timeout", type=float, default=900.0,
                    help="seconds a peer may take to enforce the first AXFR (then it is stopped)")
    ap.add_argument("--load-timeout", type=float, default=1800.0,
                    help="seconds c2wall may take to enforce the first AXFR")
    ap.add_argument("--change-timeout", type=float, default=600.0,
                    help="seconds each secondary may take to answer by a change")
    ap.add_argument("--min-avail-gib", type=float, default=2.0,
                    help="stop peers while loading if MemAvailable falls under this")
    ap.add_argument("--knot-tcp-io-timeout", type=int, default=None,
                    help="Knot's tcp-io-timeout in ms (its default: 500 ms to send each message "
                    "of an outgoing transfer); the same for every secondary")
    ap.add_argument("--via-update", action="store_true",
                    help="each change as one dynamic update to Knot (knsupdate over TCP, at "
                    "most 1,000 changes) instead of a rewritten file and knotc zone-reload")
    ap.add_argument("--via-ctl", action="store_true",
                    help="each change as one transaction on Knot's control socket "
                    "(python3-libknot), any size; the records are sent before the change's "
                    "clock starts, which is the commit")
    ap.add_argument("--work", default="/tmp/c2wall-ixfr-bench")
    ap.add_argument("--out", default=None)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    # SIGTERM (timeout, kill PID) unwinds like ^C, so the finally below stops every child.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    os.makedirs(a.work, exist_ok=True)
    sizes = [int(x) for x in a.sizes.split(",")]
    changes = [int(x) for x in a.changes.split(",")]
    if a.via_update:
        if max(changes) > 1000:
            ap.error("--via-update: at most 1,000 changes per change (one update message)")
        global VIA_UPDATE
        VIA_UPDATE = True
    if a.via_ctl:
        if a.via_update:
            ap.error("--via-update and --via-ctl: one or the other")
        global VIA_CTL
        VIA_CTL = True
    builds = [("c2wall", a.c2wall)] + ([("c2wall-before", a.before)] if a.before else [])
    timeouts = {"c2wall": a.load_timeout, "c2wall-before": a.load_timeout,
                "bind": a.peer_load_timeout, "unbound": a.peer_load_timeout}
    rows, loads = [], []
    try:
        for n in sizes:
            peers = [p for p in a.peers.split(",") if p]
            if a.peers_max_rules is not None and n > a.peers_max_rules:
                peers = []
            r, ld = run(n, changes, a.work, builds, peers, timeouts,
                        int(a.min_avail_gib * 1024 * 1024), a.change_timeout,
                        a.knot_tcp_io_timeout)
            rows += r
            loads += ld
            print(tables(r, ld), flush=True)
    finally:
        for p in PROCS:
            stop(p)
    out = tables(rows, loads)
    print(out)
    if a.out:
        with open(a.out, "w") as f:
            f.write(out)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": rows, "loads": loads}, f, indent=1)


if __name__ == "__main__":
    main()
