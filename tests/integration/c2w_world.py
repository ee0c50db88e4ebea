# SPDX-License-Identifier: MIT
"""c2wall integration test world.

A small DNS "internet" on loopback, built from real servers:

  127.53.0.1   NSD  "."             signed fake root (a.root-servers.)
  127.53.0.2   NSD  test.           signed TLD
  127.53.0.3   NSD  example.test.   unsigned: A, AAAA, CNAME, MX, TXT, big TXT, delegation
  127.53.0.4   NSD  other.test.     unsigned: the middle link of a cross-zone CNAME chain
  127.53.0.5   NSD  sub.example.test.  child zone delegated from example.test
  127.53.0.6   NSD  secure.test.    signed, DS in test. -> validates (AD)
  127.53.0.7   NSD  bogus.test.     signed, then the RRSIG of www A is corrupted -> bogus
  127.53.0.8   NSD  dsbad.test.     signed, but the DS in test. does not match -> bogus
  127.53.0.53  unbound             a plain recursive "ISP upstream" for forward mode
  127.53.0.250 Python              black hole: reads UDP/TCP queries, never answers
  127.53.0.251 Python              garbage: answers every query with junk / wrong ids

dead.test. is delegated to the black hole and garbage.test. to the garbage server, so recursive
mode can be pointed at a broken authority, and forward mode at a broken upstream.

Use:
    world = World(); world.start()            # once per test module (setUpModule)
    r = make_resolver(world, mode="recursive") # c2wall, or unbound when C2W_RESOLVER=unbound
    r.start(); r.udp("www.example.test.", "A"); r.stop(); world.stop()

Everything started here is recorded and stopped by PID in stop(), and again from atexit if a
test crashes. C2W_KEEP_TMP=1 keeps the temp directory (configs, zones, logs) for debugging.
"""

import atexit
import fcntl
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.zone

# --------------------------------------------------------------------------------------------
# Addresses and the data the tests expect back
# --------------------------------------------------------------------------------------------

ADDR = {
    "root": "127.53.0.1",
    "test": "127.53.0.2",
    "example": "127.53.0.3",
    "other": "127.53.0.4",
    "sub": "127.53.0.5",
    "secure": "127.53.0.6",
    "bogus": "127.53.0.7",
    "dsbad": "127.53.0.8",
    "upstream": "127.53.0.53",
    "blackhole": "127.53.0.250",
    "garbage": "127.53.0.251",
}

# Expected answers, so tests do not repeat literals from the zone files.
DATA = {
    "www.example.test.": {"A": "192.0.2.1", "AAAA": "2001:db8::1"},
    "v4only.example.test.": {"A": "192.0.2.2"},
    "cname-c.example.test.": {"A": "192.0.2.3"},
    "mail.example.test.": {"A": "192.0.2.25"},
    "www.other.test.": {"A": "192.0.2.4"},
    "www.sub.example.test.": {"A": "192.0.2.5"},
    "www.secure.test.": {"A": "192.0.2.6"},
    "www.bogus.test.": {"A": "192.0.2.7"},
    "www.dsbad.test.": {"A": "192.0.2.8"},
    # Policy tests: every name under open.example.test exists (wildcard); rip4/rip6 carry the
    # addresses RESPONSE-IP rules match.
    "x.open.example.test.": {"A": "192.0.2.80", "AAAA": "2001:db8::80", "TXT": '"open"'},
    "rip4.example.test.": {"A": "192.0.2.66"},
    "rip6.example.test.": {"A": "192.0.2.67", "AAAA": "2001:db8::66"},
}
CNAME_CHAIN = ["cname-a.example.test.", "cname-b.other.test.", "cname-c.example.test."]
TXT_TEXT = "c2wall test world"
# bigtxt: 8 strings of 250 octets (> 1232 bytes of answer); medtxt: 3 x 200 (> 512, < 1232).
BIGTXT = ["big%d-" % i + "x" * (250 - len("big%d-" % i)) for i in range(8)]
MEDTXT = ["med%d-" % i + "y" * (200 - len("med%d-" % i)) for i in range(3)]

NSD = "/usr/sbin/nsd"
# A run inside its own network namespace (scripts/nstest.sh) has its own 127.53.0.x and
# names its own lock.
LOCK_PATH = os.environ.get("C2W_WORLD_LOCK", "/tmp/c2w-world.lock")
UNBOUND = "/usr/sbin/unbound"
KEYGEN = "/usr/bin/dnssec-keygen"
SIGNZONE = "/usr/bin/dnssec-signzone"

KEEP_TMP = os.environ.get("C2W_KEEP_TMP") == "1"

# Lines that ASan/UBSan/LSan print; a daemon built with -DC2W_SANITIZE=ON must print none.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer")

# --------------------------------------------------------------------------------------------
# Process bookkeeping: everything we start is stopped by PID, also from atexit.
# --------------------------------------------------------------------------------------------

_procs = []
_procs_lock = threading.Lock()


def _register(proc):
    with _procs_lock:
        _procs.append(proc)


def _stop_proc(proc, sig=signal.SIGTERM, timeout=10.0):
    """Stop one process we started (by its PID). Returns its exit code."""
    if proc.poll() is None:
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)
    with _procs_lock:
        if proc in _procs:
            _procs.remove(proc)
    return proc.returncode


@atexit.register
def _stop_all():
    with _procs_lock:
        left = list(_procs)
    for p in left:
        _stop_proc(p, timeout=5.0)


def log(msg):
    sys.stderr.write("[world] %s\n" % msg)
    sys.stderr.flush()


def run(cmd, **kw):
    """Run a helper command; raise with its output when it fails."""
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s" % (" ".join(cmd), r.returncode, r.stdout))
    return r.stdout


def port_free(addr, port, proto=("udp", "tcp")):
    """True when nothing is bound to addr:port (checked by binding it ourselves)."""
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    for p in proto:
        s = socket.socket(fam, socket.SOCK_DGRAM if p == "udp" else socket.SOCK_STREAM)
        if p == "tcp":  # TIME_WAIT from closed connections is not "in use"; a listener is
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((addr, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def free_port(addr="127.0.0.1"):
    """A high port free for both UDP and TCP on addr."""
    for _ in range(100):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((addr, 0))
        port = s.getsockname()[1]
        s.close()
        if port_free(addr, port):
            return port
    raise RuntimeError("no free port on %s" % addr)


def _bind_below_ephemeral(s, fam):
    """Bind a probe socket to a port below the ephemeral range: the answer to a probe we no
    longer wait for may arrive after the socket closed, and must never reach a later test
    socket that the kernel gave the same ephemeral port."""
    rng = random.Random()
    for _ in range(50):
        try:
            s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", rng.randrange(10000, 30000)))
            return
        except OSError:
            continue


def wait_answer(addr, port, qname="test.", rdtype="SOA", timeout=10.0, proc=None):
    """Poll until addr:port answers over UDP (any RCODE). Each round sends a normal query and
    an opcode STATUS probe, which a resolver answers itself (NOTIMP) even when its upstream
    is a black hole. Returns the first reply."""
    deadline = time.monotonic() + timeout
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process exited with %s before answering" % proc.returncode)
        q = dns.message.make_query(qname, rdtype)
        probe = dns.message.make_query(qname, rdtype)
        probe.set_opcode(dns.opcode.STATUS)
        s = socket.socket(fam, socket.SOCK_DGRAM)
        try:
            _bind_below_ephemeral(s, fam)
            s.settimeout(0.3)
            s.sendto(q.to_wire(), (addr, port))
            s.sendto(probe.to_wire(), (addr, port))
            wire = s.recv(65535)
            m = dns.message.from_wire(wire, ignore_trailing=True)
            if m.id in (q.id, probe.id):
                return m
        except (OSError, dns.exception.DNSException):
            time.sleep(0.05)  # refused (not bound yet), timeout, or unparsable
        finally:
            s.close()
    raise RuntimeError("%s@%d did not answer within %.1fs" % (addr, port, timeout))


# --------------------------------------------------------------------------------------------
# Zones
# --------------------------------------------------------------------------------------------

SOA_TIMERS = "1 3600 900 604800 300"  # negative TTL 300


def _txt(strings):
    return " ".join('"%s"' % s for s in strings)


def zone_texts():
    """Zone file text by origin (without DS/DNSSEC; signing adds those)."""
    a = ADDR
    z = {}
    z["."] = f"""$TTL 3600
. SOA a.root-servers. hostmaster.root-servers. {SOA_TIMERS}
. NS a.root-servers.
a.root-servers. A {a['root']}
test. NS ns.test.
ns.test. A {a['test']}
"""
    z["test."] = f"""$TTL 3600
test. SOA ns.test. hostmaster.test. {SOA_TIMERS}
test. NS ns.test.
ns.test. A {a['test']}
example.test. NS ns.example.test.
ns.example.test. A {a['example']}
other.test. NS ns.other.test.
ns.other.test. A {a['other']}
secure.test. NS ns.secure.test.
ns.secure.test. A {a['secure']}
bogus.test. NS ns.bogus.test.
ns.bogus.test. A {a['bogus']}
dsbad.test. NS ns.dsbad.test.
ns.dsbad.test. A {a['dsbad']}
dead.test. NS ns.dead.test.
ns.dead.test. A {a['blackhole']}
garbage.test. NS ns.garbage.test.
ns.garbage.test. A {a['garbage']}
"""
    d = DATA
    z["example.test."] = f"""$TTL 3600
@ SOA ns.example.test. hostmaster.example.test. {SOA_TIMERS}
@ NS ns.example.test.
@ MX 10 mail.example.test.
ns A {a['example']}
www A {d['www.example.test.']['A']}
www AAAA {d['www.example.test.']['AAAA']}
www TXT "{TXT_TEXT}"
www MX 10 mail.example.test.
www HINFO "c2wall" "world"
v4only A {d['v4only.example.test.']['A']}
cname-a CNAME {CNAME_CHAIN[1]}
cname-c A {d['cname-c.example.test.']['A']}
mail A {d['mail.example.test.']['A']}
txt TXT "{TXT_TEXT}"
bigtxt TXT {_txt(BIGTXT[0:2])}
bigtxt TXT {_txt(BIGTXT[2:4])}
bigtxt TXT {_txt(BIGTXT[4:6])}
bigtxt TXT {_txt(BIGTXT[6:8])}
medtxt TXT {_txt(MEDTXT)}
sub NS ns.sub.example.test.
ns.sub A {a['sub']}
*.open A {d['x.open.example.test.']['A']}
*.open AAAA {d['x.open.example.test.']['AAAA']}
*.open TXT "open"
rip4 A {d['rip4.example.test.']['A']}
rip6 AAAA {d['rip6.example.test.']['AAAA']}
rip6 A {d['rip6.example.test.']['A']}
"""
    z["other.test."] = f"""$TTL 3600
@ SOA ns.other.test. hostmaster.other.test. {SOA_TIMERS}
@ NS ns.other.test.
ns A {a['other']}
www A {d['www.other.test.']['A']}
cname-b CNAME {CNAME_CHAIN[2]}
"""
    z["sub.example.test."] = f"""$TTL 3600
@ SOA ns.sub.example.test. hostmaster.sub.example.test. {SOA_TIMERS}
@ NS ns.sub.example.test.
ns A {a['sub']}
www A {d['www.sub.example.test.']['A']}
"""
    for label in ("secure", "bogus", "dsbad"):
        o = label + ".test."
        z[o] = f"""$TTL 3600
@ SOA ns.{o} hostmaster.{o} {SOA_TIMERS}
@ NS ns.{o}
ns A {a[label]}
www A {d['www.' + o]['A']}
www TXT "{label}"
"""
    return z


# Which server serves which zone.
SERVERS = [
    ("root", "."),
    ("test", "test."),
    ("example", "example.test."),
    ("other", "other.test."),
    ("sub", "sub.example.test."),
    ("secure", "secure.test."),
    ("bogus", "bogus.test."),
    ("dsbad", "dsbad.test."),
]


def _fname(origin):
    return "root" if origin == "." else origin.rstrip(".")


class Signer:
    """DNSSEC with BIND's dnssec-keygen / dnssec-signzone, one ECDSA P-256 key per zone."""

    def __init__(self, d):
        self.dir = d

    def sign(self, origin, path):
        """Sign the zone in path; returns (signed_path, [DS lines])."""
        key = run([KEYGEN, "-q", "-K", self.dir, "-a", "ECDSAP256SHA256", "-f", "KSK",
                   "-n", "ZONE", origin]).strip()
        with open(path, "a") as f:
            f.write("$INCLUDE %s.key\n" % os.path.join(self.dir, key))
        run([SIGNZONE, "-q", "-K", self.dir, "-d", self.dir, "-z", "-o", origin,
             "-f", path + ".signed", path, os.path.join(self.dir, key)])
        with open(os.path.join(self.dir, "dsset-" + origin)) as f:
            ds = [ln.strip() for ln in f if ln.strip()]
        return path + ".signed", ds


def corrupt_rrsig(path, origin, owner, covered):
    """Flip a byte in the RRSIG covering owner/covered: the zone then fails validation."""
    zone = dns.zone.from_file(path, origin=origin, relativize=False, check_origin=False)
    node = zone.get_node(dns.name.from_text(owner))
    rds = node.find_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG,
                             dns.rdatatype.from_text(covered))
    new = []
    for rd in rds:
        sig = bytearray(rd.signature)
        sig[len(sig) // 2] ^= 0x55
        new.append(rd.replace(signature=bytes(sig)))
    ttl = rds.ttl
    rds.clear()
    for rd in new:
        rds.add(rd, ttl)
    zone.to_file(path, relativize=False)


def break_ds(ds_lines):
    """Change the digest of each DS so it matches no key."""
    out = []
    for ln in ds_lines:
        parts = ln.split()
        digest = parts[-1]
        c = "0" if digest[0] != "0" else "1"
        parts[-1] = c + digest[1:]
        out.append(" ".join(parts))
    return out


# --------------------------------------------------------------------------------------------
# Broken servers in Python: a black hole and a garbage talker
# --------------------------------------------------------------------------------------------


class BrokenServer:
    """UDP+TCP on addr:port. mode "silent": read queries, never answer.
    mode "garbage": answer each query with junk: random bytes, a reply with the wrong id,
    a truncated header, in turn. Counts what it received in .queries."""

    def __init__(self, addr, port=53, mode="silent", seed=53):
        self.addr, self.port, self.mode = addr, port, mode
        self.queries = 0
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._threads = []
        self._socks = []

    def start(self):
        if not port_free(self.addr, self.port):
            raise RuntimeError("%s@%d is in use" % (self.addr, self.port))
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind((self.addr, self.port))
        u.settimeout(0.2)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind((self.addr, self.port))
        t.listen(64)
        t.settimeout(0.2)
        self._socks = [u, t]
        for fn, s in ((self._udp, u), (self._tcp, t)):
            th = threading.Thread(target=fn, args=(s,), daemon=True)
            th.start()
            self._threads.append(th)
        return self

    def _junk(self, query):
        k = self.queries % 3
        if k == 0:
            return bytes(self._rng.getrandbits(8) for _ in range(self._rng.randint(1, 100)))
        if k == 1 and len(query) >= 12:  # well-formed-looking reply with a wrong id
            qid = (struct.unpack("!H", query[:2])[0] + 1) & 0xFFFF
            return struct.pack("!HHHHHH", qid, 0x8180, 0, 0, 0, 0)
        return query[:5]

    def _udp(self, s):
        while not self._stop.is_set():
            try:
                data, peer = s.recvfrom(65535)
            except (socket.timeout, OSError):
                continue
            self.queries += 1
            if self.mode == "garbage":
                s.sendto(self._junk(data), peer)

    def _tcp(self, s):
        conns = []
        while not self._stop.is_set():
            try:
                c, _ = s.accept()
                c.settimeout(0.2)
                conns.append(c)
            except (socket.timeout, OSError):
                pass
            for c in list(conns):
                try:
                    data = c.recv(65535)
                    if not data:
                        c.close()
                        conns.remove(c)
                        continue
                    self.queries += 1
                    if self.mode == "garbage":
                        j = self._junk(data[2:])
                        c.sendall(struct.pack("!H", len(j)) + j)
                except socket.timeout:
                    pass
                except OSError:
                    conns.remove(c)
        for c in conns:
            c.close()

    def stop(self):
        self._stop.set()
        for th in self._threads:
            th.join(2)
        for s in self._socks:
            s.close()


# --------------------------------------------------------------------------------------------
# The world
# --------------------------------------------------------------------------------------------


class World:
    """The authoritative servers, signing material, root hints, trust anchor, broken servers
    and the upstream recursive. start() once per test module; stop() always (also atexit)."""

    def __init__(self, sign=True, upstream=True):
        self.sign = sign
        self.with_upstream = upstream
        self.tmp = tempfile.mkdtemp(prefix="c2w-world-")
        self.procs = {}
        self.broken = []
        self.upstream = None
        self.root_hints = os.path.join(self.tmp, "root.hints")
        self.trust_anchor = os.path.join(self.tmp, "root.ds") if sign else None
        self.zone_files = {}
        self._stopped = False
        self._lockf = None
        atexit.register(self.stop)

    # ---- building ----
    def _write_zones(self):
        zdir = os.path.join(self.tmp, "zones")
        kdir = os.path.join(self.tmp, "keys")
        os.makedirs(zdir)
        os.makedirs(kdir)
        texts = zone_texts()
        paths = {}
        for origin, text in texts.items():
            p = os.path.join(zdir, _fname(origin) + ".zone")
            with open(p, "w") as f:
                f.write(text)
            paths[origin] = p
        if self.sign:
            signer = Signer(kdir)
            ds = {}
            for o in ("secure.test.", "bogus.test.", "dsbad.test."):
                paths[o], ds[o] = signer.sign(o, paths[o])
            corrupt_rrsig(paths["bogus.test."], "bogus.test.", "www.bogus.test.", "A")
            ds["dsbad.test."] = break_ds(ds["dsbad.test."])
            with open(paths["test."], "a") as f:
                for o in ("secure.test.", "bogus.test.", "dsbad.test."):
                    f.write("\n".join(ds[o]) + "\n")
            paths["test."], ds["test."] = signer.sign("test.", paths["test."])
            with open(paths["."], "a") as f:
                f.write("\n".join(ds["test."]) + "\n")
            paths["."], ds["."] = signer.sign(".", paths["."])
            with open(self.trust_anchor, "w") as f:
                f.write("\n".join(ds["."]) + "\n")
        self.zone_files = paths
        with open(self.root_hints, "w") as f:
            f.write(". 3600000 NS a.root-servers.\n"
                    "a.root-servers. 3600000 A %s\n" % ADDR["root"])

    def _nsd_conf(self, name, origin):
        d = os.path.join(self.tmp, "nsd-" + name)
        os.makedirs(d)
        conf = os.path.join(d, "nsd.conf")
        with open(conf, "w") as f:
            f.write(f"""server:
    ip-address: {ADDR[name]}@53
    port: 53
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "{d}"
    database: ""
    zonelistfile: "{d}/zone.list"
    xfrdfile: "{d}/xfrd.state"
    xfrdir: "{d}"
    pidfile: "{d}/nsd.pid"
    logfile: "{d}/nsd.log"
    verbosity: 1
    hide-version: yes
    refuse-any: no
    reuseport: no
    tcp-count: 100
remote-control:
    control-enable: no
zone:
    name: "{origin}"
    zonefile: "{self.zone_files[origin]}"
""")
        return d, conf

    def _lock(self, wait_s=300.0):
        """The world's addresses are fixed: two test runs on one machine (two build dirs)
        take turns through a lock file instead of failing on a busy port 53."""
        self._lockf = open(LOCK_PATH, "w")
        deadline = time.monotonic() + wait_s
        told = False
        while True:
            try:
                fcntl.flock(self._lockf, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeError("another test world holds %s for over %.0fs" %
                                       (LOCK_PATH, wait_s))
                if not told:
                    log("another world is running; waiting for %s" % LOCK_PATH)
                    told = True
                time.sleep(0.2)

    def start(self):
        t0 = time.monotonic()
        try:
            self._lock()
            for name, _ in SERVERS:
                if not port_free(ADDR[name], 53):
                    raise RuntimeError("%s@53 is in use; is another world running?" % ADDR[name])
            self._write_zones()
            for name, origin in SERVERS:
                d, conf = self._nsd_conf(name, origin)
                err = open(os.path.join(d, "stderr"), "w")
                p = subprocess.Popen([NSD, "-d", "-c", conf], stdout=err, stderr=err,
                                     stdin=subprocess.DEVNULL)
                err.close()
                _register(p)
                self.procs[name] = p
            for name, origin in SERVERS:
                try:
                    wait_answer(ADDR[name], 53, origin, "SOA", 10, self.procs[name])
                except RuntimeError:
                    self.dump("nsd-" + name)
                    raise
            self.broken.append(BrokenServer(ADDR["blackhole"], 53, "silent").start())
            self.broken.append(BrokenServer(ADDR["garbage"], 53, "garbage").start())
            if self.with_upstream:
                self.upstream = Unbound(self, mode="recursive", listen=(ADDR["upstream"], 53),
                                        validate=False, name="upstream")
                self.upstream.start()
        except BaseException:
            self.stop()
            raise
        log("world up in %.2fs (tmp %s)" % (time.monotonic() - t0, self.tmp))
        return self

    @property
    def blackhole(self):
        return self.broken[0]

    @property
    def garbage(self):
        return self.broken[1]

    def dump(self, sub):
        """Print the logs of one component (a directory under tmp) to stderr."""
        d = os.path.join(self.tmp, sub)
        for fn in ("nsd.log", "stderr", "unbound.log"):
            p = os.path.join(d, fn)
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    sys.stderr.write("---- %s ----\n%s\n" % (p, f.read()[-8000:]))

    def stop(self):
        if self._stopped:
            return
        self._stopped = True
        if self.upstream:
            self.upstream.stop(check=False)
        for b in self.broken:
            b.stop()
        for name, p in self.procs.items():
            rc = _stop_proc(p)
            if rc not in (0, -signal.SIGTERM):
                log("nsd %s exited %s" % (name, rc))
                self.dump("nsd-" + name)
        if KEEP_TMP:
            log("kept %s" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        if self._lockf is not None:
            self._lockf.close()  # releases the flock
            self._lockf = None


# --------------------------------------------------------------------------------------------
# Resolvers under test: c2wall, and stock unbound as the reference
# --------------------------------------------------------------------------------------------


class Resolver:
    """Common control and query helpers. Subclasses write the config and the command line.

    Options: mode ("recursive" or "forward"), forward (list of "addr@port"), stub (list of
    {"zone": ..., "addr": [...]}), allow (list of prefixes), timeout_ms, tcp_idle_timeout_ms,
    edns_udp_size, validate (use the world's trust anchor), listen ((addr, port) or None for
    127.0.0.1 and a free high port), extra (dict merged into the c2wall YAML)."""

    kind = "?"

    def __init__(self, world, mode="recursive", forward=None, stub=None, allow=None,
                 timeout_ms=2000, tcp_idle_timeout_ms=None, edns_udp_size=1232, validate=True,
                 listen=None, workers=2, extra=None, name=None):
        self.world = world
        self.mode = mode
        self.forward = forward or ["%s@53" % ADDR["upstream"]]
        self.stub = stub or []
        self.allow = allow if allow is not None else ["127.0.0.0/8", "::1/128"]
        self.timeout_ms = timeout_ms
        self.tcp_idle_timeout_ms = tcp_idle_timeout_ms
        self.edns_udp_size = edns_udp_size
        self.validate = validate and world.trust_anchor is not None
        self.workers = workers
        self.extra = extra or {}
        if listen is None:
            listen = ("127.0.0.1", free_port("127.0.0.1"))
        self.addr, self.port = listen
        self.dir = tempfile.mkdtemp(prefix=(name or self.kind) + "-", dir=world.tmp)
        self.conf = None
        self.stderr_path = os.path.join(self.dir, "stderr")
        self.proc = None

    # ---- lifecycle ----
    def command(self):
        raise NotImplementedError

    def write_config(self):
        raise NotImplementedError

    def start(self, timeout=15.0):
        self.write_config()
        self._err = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self._err, stderr=self._err,
                                     stdin=subprocess.DEVNULL)
        _register(self.proc)
        try:
            wait_answer(self.addr, self.port, "test.", "SOA", timeout, self.proc)
        except RuntimeError:
            self.print_log()
            _stop_proc(self.proc, signal.SIGKILL)
            raise
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def reload(self):
        os.kill(self.proc.pid, signal.SIGHUP)

    def stop(self, check=True, timeout=10.0):
        """SIGTERM; with check, raise unless it exits 0 within timeout."""
        if self.proc is None:
            return None
        t0 = time.monotonic()
        rc = _stop_proc(self.proc, signal.SIGTERM, timeout)
        self.stop_seconds = time.monotonic() - t0
        self._err.close()
        if check and rc != 0:
            self.print_log()
            raise AssertionError("%s exited %s after SIGTERM" % (self.kind, rc))
        bad = [m for m in SANITIZER_MARKERS if m in self.stderr_text()]
        if check and bad:
            self.print_log()
            raise AssertionError("%s stderr has sanitizer reports: %s" % (self.kind, bad))
        return rc

    def stderr_text(self):
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def print_log(self):
        sys.stderr.write("---- %s stderr (%s) ----\n%s\n---- end ----\n" %
                         (self.kind, self.stderr_path, self.stderr_text()[-20000:]))

    # ---- queries ----
    def make_query(self, qname, rdtype="A", edns=0, payload=1232, want_dnssec=False, ad=False,
                   cd=False, rd=True, options=None):
        q = dns.message.make_query(qname, rdtype, use_edns=edns, payload=payload,
                                   want_dnssec=want_dnssec, options=options)
        if edns is None or edns is False or (isinstance(edns, int) and edns < 0):
            q.use_edns(False)
        if not rd:
            q.flags &= ~dns.flags.RD
        if ad:
            q.flags |= dns.flags.AD
        if cd:
            q.flags |= dns.flags.CD
        return q

    def udp(self, qname, rdtype="A", timeout=5.0, source=None, ignore_trailing=False, **kw):
        q = self.make_query(qname, rdtype, **kw)
        return dns.query.udp(q, self.addr, port=self.port, timeout=timeout, source=source,
                             ignore_trailing=ignore_trailing)

    def tcp(self, qname, rdtype="A", timeout=5.0, source=None, **kw):
        q = self.make_query(qname, rdtype, **kw)
        return dns.query.tcp(q, self.addr, port=self.port, timeout=timeout, source=source)

    def send_udp_raw(self, wire, timeout=1.0, source=None):
        """Send raw bytes over UDP; return the raw reply or None on timeout."""
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            if source:
                s.bind((source, 0))
            s.settimeout(timeout)
            s.sendto(wire, (self.addr, self.port))
            try:
                return s.recvfrom(65535)[0]
            except socket.timeout:
                return None
        finally:
            s.close()

    def tcp_connect(self, timeout=5.0):
        s = socket.create_connection((self.addr, self.port), timeout=timeout)
        return s

    def dig(self, *args, tool="kdig"):
        """Run kdig or dig against the resolver; returns stdout."""
        exe = "/usr/bin/kdig" if tool == "kdig" else "/usr/bin/dig"
        cmd = [exe, "@%s" % self.addr, "-p", str(self.port)] + list(args)
        return run(cmd, timeout=30)


def _yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    s = str(v)
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


def to_yaml(obj, indent=0):
    """A tiny YAML writer for dicts/lists/scalars (block style), enough for our configs."""
    pad = "  " * indent
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                out.append("%s%s:" % (pad, k))
                out.append(to_yaml(v, indent + 1))
            elif isinstance(v, list):
                out.append("%s%s: []" % (pad, k))
            else:
                out.append("%s%s: %s" % (pad, k, _yaml_scalar(v)))
    elif isinstance(obj, list):
        for v in obj:
            if isinstance(v, dict):
                sub = to_yaml(v, indent + 1).split("\n")
                out.append("%s- %s" % (pad, sub[0].lstrip()))
                out.extend(sub[1:])
            else:
                out.append("%s- %s" % (pad, _yaml_scalar(v)))
    return "\n".join(out)


def _merge(a, b):
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(a.get(k), dict):
            _merge(a[k], v)
        else:
            a[k] = v
    return a


def c2wall_bin():
    b = os.environ.get("C2WALL_BIN")
    if not b:
        bd = os.environ.get("C2W_BUILDDIR")
        b = os.path.join(bd, "c2wall") if bd else None
    return b


class C2wall(Resolver):
    """The daemon under test: `$C2WALL_BIN serve --config FILE` in the foreground."""

    kind = "c2wall"

    def config_dict(self):
        server = {
            "listen": ["%s@%d" % (self.addr, self.port)],
            "workers": self.workers,
            "allow": self.allow,
            "edns-udp-size": self.edns_udp_size,
            # CI runs the tests as root; the default (c2wall) would need that user.
            # test_hardening.py sets a user where privileges are the subject.
            "user": "none",
        }
        if self.tcp_idle_timeout_ms is not None:
            server["tcp-idle-timeout"] = "%dms" % self.tcp_idle_timeout_ms
        res = {
            "mode": self.mode,
            "root-hints": self.world.root_hints,
            "trust-anchor": self.world.trust_anchor if self.validate else "none",
            "timeout": "%dms" % self.timeout_ms,
            # The world's TLD is test. (RFC 6761): lift libunbound's built-in empty zone.
            "transparent-zones": ["test."],
        }
        if self.mode == "forward":
            res["forward"] = self.forward
        else:
            # The world's root and TLD servers live on 127.53.0.x: a lab-only permission.
            res["loopback-delegations"] = True
        if self.stub:
            res["stub"] = self.stub
        cfg = {
            "server": server,
            "resolver": res,
            "store": {"sqlite": os.path.join(self.dir, "incidents.db")},
            "control": {"socket": os.path.join(self.dir, "control.sock")},
            "privacy": {"key-file": os.path.join(self.dir, "pseudonym.key")},
            "log": {"level": "debug"},
        }
        return _merge(cfg, self.extra)

    def write_config(self):
        self.conf = os.path.join(self.dir, "c2wall.yaml")
        with open(self.conf, "w") as f:
            f.write("# generated by tests/integration/c2w_world.py\n")
            f.write(to_yaml(self.config_dict()) + "\n")

    def command(self):
        b = c2wall_bin()
        if not b or not os.access(b, os.X_OK):
            raise unittest.SkipTest("c2wall binary not built (C2WALL_BIN=%r)" % b) \
                if os.environ.get("C2W_ALLOW_MISSING") == "1" else \
                RuntimeError("c2wall binary not found or not executable: C2WALL_BIN=%r" % b)
        return [b, "serve", "--config", self.conf]


class Unbound(Resolver):
    """Debian's stock unbound with a generated config: the reference resolver."""

    kind = "unbound"

    def write_config(self):
        self.conf = os.path.join(self.dir, "unbound.conf")
        lines = [
            "server:",
            "  interface: %s@%d" % (self.addr, self.port),
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
            '  root-hints: "%s"' % self.world.root_hints,
            "  edns-buffer-size: %d" % self.edns_udp_size,
            "  max-udp-size: %d" % self.edns_udp_size,
            "  ede: yes",
            "  val-log-level: 2",
            "  minimal-responses: yes",
            "  qname-minimisation: no",
            "  harden-referral-path: no",
            '  local-zone: "test." nodefault',
            "  outbound-msg-retry: 2",
            "  infra-keep-probing: yes",
            "  infra-host-ttl: 5",
            "  access-control: 0.0.0.0/0 refuse",
            "  access-control: ::0/0 refuse",
            "  access-control: 127.0.0.0/8 refuse",
            "  access-control: ::1 refuse",
        ]
        lines += ["  access-control: %s allow" % a for a in self.allow]
        if self.tcp_idle_timeout_ms is not None:
            lines.append("  tcp-idle-timeout: %d" % self.tcp_idle_timeout_ms)
        if self.validate:
            lines.append('  module-config: "validator iterator"')
            lines.append('  trust-anchor-file: "%s"' % self.world.trust_anchor)
        else:
            lines.append('  module-config: "iterator"')
        for s in self.stub:
            lines.append("stub-zone:")
            lines.append('  name: "%s"' % s["zone"])
            lines += ["  stub-addr: %s" % a for a in s["addr"]]
        if self.mode == "forward":
            lines += ["forward-zone:", '  name: "."']
            lines += ["  forward-addr: %s" % a for a in self.forward]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def command(self):
        return [UNBOUND, "-d", "-c", self.conf]


def resolver_kind():
    """Which resolver the tests drive: C2W_RESOLVER=c2wall (default) or unbound."""
    return os.environ.get("C2W_RESOLVER", "c2wall")


def make_resolver(world, kind=None, **kw):
    kind = kind or resolver_kind()
    if kind == "unbound":
        return Unbound(world, **kw)
    if kind == "c2wall":
        return C2wall(world, **kw)
    raise ValueError("unknown resolver kind %r" % kind)


# --------------------------------------------------------------------------------------------
# Assertion helpers and the runner
# --------------------------------------------------------------------------------------------


def c2wall_only(reason):
    """Decorator for checks where stock unbound (the reference) knowingly behaves differently
    from what c2wall promises; skipped when C2W_RESOLVER=unbound."""
    def deco(fn):
        return unittest.skipIf(resolver_kind() == "unbound", "reference differs: " + reason)(fn)
    return deco


def rrset_values(msg, section, name, rdtype):
    """Texts of the rdatas of (name, rdtype) in a section, sorted; [] when absent."""
    sec = getattr(msg, section)
    for rr in sec:
        if rr.name == dns.name.from_text(name) and rr.rdtype == dns.rdatatype.from_text(rdtype):
            return sorted(rd.to_text() for rd in rr)
    return []


def ede_codes(msg):
    """The Extended DNS Error codes (RFC 8914) in a response."""
    return [o.code for o in (msg.options or []) if o.otype == dns.edns.EDE]


def describe(msg):
    return "\n" + msg.to_text() if msg is not None else "None"


def main():
    """unittest main with a per-test line and a final summary; exits non-zero on failure."""
    prog = unittest.main(module="__main__", verbosity=2, exit=False)
    r = prog.result
    bad = len(r.failures) + len(r.errors) + len(getattr(r, "unexpectedSuccesses", []))
    sys.stderr.write("\nSUMMARY %s [%s]: %d run, %d failures, %d errors, %d skipped\n" %
                     (os.path.basename(sys.argv[0]), resolver_kind(), r.testsRun,
                      len(r.failures), len(r.errors), len(r.skipped)))
    for t, _ in r.failures + r.errors:
        sys.stderr.write("  FAILED %s\n" % t.id())
    sys.exit(1 if bad or r.testsRun == 0 else 0)
