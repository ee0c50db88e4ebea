# SPDX-License-Identifier: MIT
"""A small zone-transfer primary in Python (dnspython) for faults real servers do not
produce: AXFR without the closing SOA, an answer whose serial goes backwards, a reset in the
middle of the stream, unsigned answers to a signed query, TSIG with a skewed clock. In mode
"ok" it serves AXFR and IXFR (RFC 1995, from the versions it keeps) signed on every message.

    p = HostilePrimary("127.0.0.1", port, keyring, keyname).start()
    p.publish("c2.hostile.example.", serial, ["www.example.test 300 IN A 10.0.0.9", ...],
              expire=3600)
    p.mode["c2.hostile.example."] = "noclose"
    p.stop()
"""

import socket
import struct
import threading
import time

import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsig

MODES = ("ok", "noclose", "backwards", "reset", "unsigned", "skew", "refuse")


class _SkewedClock:
    """Stands in for the time module inside dns.message while a skewed answer is rendered."""

    def __init__(self, offset):
        self.offset = offset

    def time(self):
        return time.time() + self.offset


class HostilePrimary:
    def __init__(self, addr, port, keyring, keyname):
        self.addr, self.port = addr, port
        self.keyring, self.keyname = keyring, dns.name.from_text(keyname)
        self.zones = {}  # origin -> {serial: (soa_text, [record texts])}
        self.current = {}  # origin -> serial
        self.mode = {}  # origin -> one of MODES
        self.queries = []  # (origin, qtype) seen
        self._sock = None
        self._stop = threading.Event()
        self._thread = None
        self._render_lock = threading.Lock()

    # ---- zone data ----
    def publish(self, origin, serial, records, refresh=3600, retry=1, expire=3600):
        soa = "%s 300 IN SOA ns.%s hostmaster.%s %d %d %d %d 300" % (
            origin, origin, origin, serial, refresh, retry, expire)
        recs = ["%s.%s" % (r.split(" ", 1)[0], origin) + " " + r.split(" ", 1)[1]
                for r in records]
        self.zones.setdefault(origin, {})[serial] = (soa, recs)
        self.current[origin] = serial
        self.mode.setdefault(origin, "ok")

    # ---- lifecycle ----
    def start(self):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((self.addr, self.port))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _serve(self):
        while not self._stop.is_set():
            try:
                c, _ = self._sock.accept()
            except (socket.timeout, OSError):
                continue
            try:
                c.settimeout(5)
                self._handle(c)
            except (OSError, ValueError, dns.exception.DNSException):
                pass
            finally:
                try:
                    c.close()
                except OSError:
                    pass

    # ---- one connection ----
    @staticmethod
    def _read_exact(c, n):
        buf = b""
        while len(buf) < n:
            chunk = c.recv(n - len(buf))
            if not chunk:
                raise OSError("closed")
            buf += chunk
        return buf

    def _handle(self, c):
        (n,) = struct.unpack("!H", self._read_exact(c, 2))
        q = dns.message.from_wire(self._read_exact(c, n), keyring=self.keyring)
        origin = q.question[0].name.to_text()
        qtype = q.question[0].rdtype
        self.queries.append((origin, dns.rdatatype.to_text(qtype)))
        mode = self.mode.get(origin, "refuse")
        if origin not in self.zones or mode == "refuse":
            r = dns.message.make_response(q)
            r.set_rcode(dns.rcode.REFUSED)
            self._send(c, [r])
            return
        cur = self.current[origin]
        client_serial = None
        if qtype == dns.rdatatype.IXFR and q.authority:
            client_serial = q.authority[0][0].serial
        if mode == "backwards":
            # Offer a version older than the one the client holds.
            cur = min(s for s in self.zones[origin])
        msgs = self._answer(q, origin, cur, client_serial, mode)
        if mode == "reset":
            self._send(c, msgs[:1])
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        self._send(c, msgs, unsigned=(mode == "unsigned"), skew=(mode == "skew"))

    def _rrs(self, texts):
        out = []
        for t in texts:
            out.append(dns.rrset.from_text(*self._split(t)))
        return out

    @staticmethod
    def _split(t):
        f = t.split()
        return (f[0], int(f[1]), f[2], f[3], " ".join(f[4:]))

    def _answer(self, q, origin, serial, client_serial, mode):
        soa, recs = self.zones[origin][serial]
        versions = sorted(self.zones[origin])
        if client_serial is not None and client_serial == serial:
            seq = [soa]
        elif (client_serial is not None and client_serial in self.zones[origin]
              and client_serial < serial and mode != "backwards"):
            old_soa, old = self.zones[origin][client_serial]
            dels = [r for r in old if r not in recs]
            adds = [r for r in recs if r not in old]
            seq = [soa, old_soa] + dels + [soa] + adds + [soa]
        else:
            seq = [soa] + recs + [soa]
        if mode == "noclose":
            seq = seq[:-1]
        # Several messages, so TSIG chaining over messages is exercised.
        rrsets = self._rrs(seq)
        chunks = [rrsets[i:i + 2] for i in range(0, len(rrsets), 2)] or [[]]
        msgs = []
        for ch in chunks:
            r = dns.message.make_response(q)
            for rr in ch:
                r.answer.append(rr)
            msgs.append(r)
        return msgs

    def _send(self, c, msgs, unsigned=False, skew=False):
        ctx = None
        for i, m in enumerate(msgs):
            if unsigned:
                m.tsig = None
                m.keyring = None
            with self._render_lock:
                saved = dns.message.time
                if skew:
                    dns.message.time = _SkewedClock(3600)
                try:
                    wire = m.to_wire(multi=True, tsig_ctx=ctx) if m.tsig else m.to_wire()
                finally:
                    dns.message.time = saved
            ctx = m.tsig_ctx
            c.sendall(struct.pack("!H", len(wire)) + wire)


def notify(addr, port, origin, source="127.0.0.1", timeout=3.0):
    """Send a NOTIFY for @origin from @source; returns the response message or None."""
    import dns.opcode
    import dns.query
    import dns.flags
    m = dns.message.make_query(origin, "SOA")
    m.set_opcode(dns.opcode.NOTIFY)
    m.flags |= dns.flags.AA
    m.flags &= ~dns.flags.RD
    try:
        return dns.query.udp(m, addr, port=port, timeout=timeout, source=source)
    except dns.exception.Timeout:
        return None
