# SPDX-License-Identifier: MIT
"""TCP abuse against the real daemon (docs/abuse.md, "TCP connections"): connection floods from
outside server.allow and from 200 allowed addresses, slowloris, pipelining without reading, many connections from one address,
and an idle connection displaced at the per-worker cap. Clients bind 127.0.0.x (allowed) or
127.1.x.y (outside server.allow) as their source. Each test asserts that other clients keep
getting TCP answers, that what was limited was counted (control socket `stats`), and that the
daemon recovers (open connections back to what they were, the attacker's address served
again)."""

import select
import socket
import struct
import time
import unittest

import dns.message
import dns.query
import dns.rcode

import c2w_world as cw
from c2w_world import DATA, describe
from events_util import control_json

WORLD = R = R1 = None
SINK_PORT = None
NAME = "www.example.test."
MSG_TIMEOUT_S = 1.5
IDLE_S = 4.0
PER_ADDR = 8


def setUpModule():
    global WORLD, R, R1
    WORLD = cw.World().start()
    R = cw.make_resolver(WORLD, mode="recursive", workers=2,
                         allow=["127.0.0.0/16", "::1/128"],
                         tcp_idle_timeout_ms=int(IDLE_S * 1000),
                         extra={"server": {"tcp-clients": 128,
                                           "tcp-clients-per-address": PER_ADDR,
                                           "tcp-message-timeout": "%dms" % (MSG_TIMEOUT_S * 1000),
                                           "tcp-pipeline-max": 16,
                                           "tcp-output-max": "64KiB"}})
    R.start()
    # One worker with room for four connections: the displacement test.
    # Its sinkhole shows the sinkhole's counters in the daemon's stats.
    global SINK_PORT
    SINK_PORT = cw.free_port("127.0.0.1")
    R1 = cw.make_resolver(WORLD, mode="recursive", workers=1, tcp_idle_timeout_ms=30000,
                          extra={"server": {"tcp-clients": 4},
                                 "sinkhole": {"http": ["127.0.0.1@%d" % SINK_PORT],
                                              "clients-per-address": 2}},
                          name="c2wall-one")
    R1.start()


def tearDownModule():
    try:
        assert R.stop() == 0
        assert R1.stop() == 0
    finally:
        WORLD.stop()


def stats(r=None):
    return control_json(r or R, "stats")


def wire_query(qname=NAME, rdtype="A", qid=None):
    q = dns.message.make_query(qname, rdtype)
    if qid is not None:
        q.id = qid
    w = q.to_wire()
    return struct.pack("!H", len(w)) + w


def connect(source, r=None, timeout=5.0):
    r = r or R
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect((r.addr, r.port))
    return s


def read_msg(s):
    """One length-framed answer, or None when the server closed the connection."""
    def exact(n):
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf
    try:
        hdr = exact(2)
        if hdr is None:
            return None
        body = exact(struct.unpack("!H", hdr)[0])
    except ConnectionResetError:
        return None
    return dns.message.from_wire(body) if body is not None else None


def closed_by_server(s, within):
    """True when the server closes @s within @within seconds (EOF or reset)."""
    s.settimeout(within)
    try:
        while True:
            if not s.recv(4096):
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def tcp_ok(source, r=None):
    """An allowed client gets a full TCP answer."""
    m = (r or R).tcp(NAME, "A", source=source, timeout=5)
    return (dns.rcode.to_text(m.rcode()) == "NOERROR" and
            cw.rrset_values(m, "answer", NAME, "A") == [DATA[NAME]["A"]])


def wait_open(target, r=None, timeout=IDLE_S + 6):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stats(r)["tcp_open"] <= target:
            return True
        time.sleep(0.1)
    return False


def vmrss_kb(r):
    with open("/proc/%d/status" % r.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


class TestTcpAbuse(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Warm the cache: the attackers below ask for cached names.
        m = R.udp(NAME, "A", source="127.0.0.2")
        assert dns.rcode.to_text(m.rcode()) == "NOERROR", describe(m)
        m = R.tcp("bigtxt.example.test.", "TXT", source="127.0.0.2")
        assert dns.rcode.to_text(m.rcode()) == "NOERROR", describe(m)

    def test_flood_from_outside_allow(self):
        """256 connections from 127.1.x.y (outside server.allow), each trickling a byte:
        every one is closed at accept; allowed clients keep getting TCP answers."""
        before = stats()
        socks = []
        try:
            for i in range(256):
                src = "127.1.%d.%d" % (i // 200, i % 200 + 1)
                try:
                    s = connect(src)
                except OSError:
                    continue
                socks.append(s)
                try:
                    s.send(b"\x00")
                except OSError:
                    pass
            self.assertGreaterEqual(len(socks), 200)
            self.assertTrue(tcp_ok("127.0.0.3"))
            closed = sum(closed_by_server(s, 2.0) for s in socks)
            self.assertEqual(closed, len(socks))
            for i in range(5):
                self.assertTrue(tcp_ok("127.0.0.%d" % (3 + i)))
        finally:
            for s in socks:
                s.close()
        after = stats()
        self.assertGreaterEqual(after["tcp_acl_refused"] - before["tcp_acl_refused"], len(socks))
        self.assertTrue(wait_open(before["tcp_open"]), stats())

    def test_flood_from_many_allowed_addresses(self):
        """400 connections from 200 addresses inside server.allow (two each, within the
        per-address cap), held idle or with half a message: open connections never exceed the
        total cap (2 workers x tcp-clients 128), a new client still gets TCP answers while the
        flood holds them, resident memory stays bounded, and the daemon is back to its open
        count once the flood goes away."""
        cap = 2 * 128
        before = stats()
        rss0 = vmrss_kb(R)
        socks, peak, served = [], 0, 0
        try:
            for i in range(400):
                src = "127.0.%d.%d" % (100 + i // 200, i % 200 + 1)
                try:
                    s = connect(src)
                except OSError:
                    continue
                socks.append(s)
                if i % 2:
                    try:
                        s.send(b"\x00")  # half a length prefix: a message begun
                    except OSError:
                        pass
                if i % 50 == 49:
                    peak = max(peak, stats()["tcp_open"])
                    served += tcp_ok("127.0.99.%d" % (i // 50 + 1))
            self.assertGreaterEqual(len(socks), 300)
            time.sleep(2.0)  # past the message deadline of the half-sent ones
            mid = stats()
            peak = max(peak, mid["tcp_open"])
            rss1 = vmrss_kb(R)
            # Connections the server closed read EOF (or a reset) at once.
            closed = 0
            readable, _, _ = select.select(socks, [], [], 0.5)
            for s in readable:
                try:
                    closed += not s.recv(16)
                except OSError:
                    closed += 1
            # A new allowed client is answered while the flood is held.
            for i in range(5):
                served += tcp_ok("127.0.98.%d" % (i + 1))
        finally:
            for s in socks:
                s.close()
        shed_keys = ("tcp_displaced", "tcp_rejected", "tcp_message_timeouts", "tcp_idle_timeouts")
        shed = sum(mid[k] - before[k] for k in shed_keys)
        print("many-address flood: %d connections, peak open %d (cap %d), closed by the server "
              "%d (%s), new clients served %d/13, RSS %d -> %d KiB" %
              (len(socks), peak, cap, closed,
               ", ".join("%s %d" % (k, mid[k] - before[k]) for k in shed_keys), served,
               rss0, rss1))
        self.assertLessEqual(peak, cap)
        self.assertLessEqual(len(socks) - closed, cap)
        self.assertEqual(served, 13)
        self.assertLess(rss1 - rss0, 32 * 1024)
        # Every connection the server closed was counted (displaced idle, refused at the cap,
        # past its message deadline, or idle too long).
        self.assertGreaterEqual(shed, closed)
        self.assertTrue(wait_open(before["tcp_open"]), stats())
        self.assertTrue(tcp_ok("127.0.100.1"))

    def test_slowloris_closed_by_deadline(self):
        """Allowed clients sending one byte every 0.4 s (well within the idle timeout) are
        closed by tcp-message-timeout; others are served meanwhile."""
        before = stats()
        q = wire_query()
        socks = [connect("127.0.2.%d" % i) for i in range(1, 9)]
        t0 = time.monotonic()
        alive = list(socks)
        sent = 0
        served = 0
        try:
            while alive and time.monotonic() - t0 < IDLE_S + 2:
                still = []
                for s in alive:
                    try:
                        s.send(q[sent:sent + 1])
                        still.append(s)
                    except OSError:
                        pass
                alive = still
                sent = min(sent + 1, len(q) - 1)  # never finish the message
                served += tcp_ok("127.0.0.9")
                time.sleep(0.4)
            elapsed = time.monotonic() - t0
            closed = sum(closed_by_server(s, 0.5) for s in socks)
        finally:
            for s in socks:
                s.close()
        self.assertEqual(closed, len(socks))
        self.assertGreaterEqual(elapsed, MSG_TIMEOUT_S - 0.5)
        self.assertGreater(served, 0)
        after = stats()
        # Closed by the message deadline, not by the idle timeout (which every byte restarts).
        self.assertGreaterEqual(after["tcp_message_timeouts"] - before["tcp_message_timeouts"],
                                len(socks))
        self.assertEqual(after["tcp_idle_timeouts"], before["tcp_idle_timeouts"])
        self.assertTrue(wait_open(before["tcp_open"]), stats())
        self.assertTrue(tcp_ok("127.0.2.1"))  # the attacker's address is served again

    def test_pipelining_without_reading(self):
        """One client sends queries for a cached name as fast as it can and never reads: the
        daemon's memory stays bounded, it pauses reading (counted), closes the connection
        after the idle timeout (answers unread), and answers others throughout."""
        before = stats()
        rss0 = vmrss_kb(R)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.bind(("127.0.3.1", 0))
        s.connect((R.addr, R.port))
        s.setblocking(False)
        # Alternate a small cached answer (answered at once) and bigtxt's 2 KB TXT set
        # (larger than an answer-cache slot: answered through libunbound, deferred).
        batch = b"".join(wire_query(qid=i) if i % 2 else
                         wire_query("bigtxt.example.test.", "TXT", qid=i) for i in range(500))
        sent = queries = 0
        peak = rss0
        served = 0
        t0 = time.monotonic()
        try:
            pos = 0
            while queries < 400000 and time.monotonic() - t0 < 12:
                try:
                    n = s.send(batch[pos:])
                except BlockingIOError:
                    n = 0
                except OSError:
                    break
                sent += n
                pos += n
                if pos == len(batch):
                    pos = 0
                    queries += 500
                if n == 0:
                    # The daemon stopped reading: its buffers and ours are full.
                    served += tcp_ok("127.0.0.11")
                    peak = max(peak, vmrss_kb(R))
                    time.sleep(0.2)
                    if time.monotonic() - t0 > 4:
                        break
            peak = max(peak, vmrss_kb(R))
            grew_mb = (peak - rss0) / 1024
            print("pipelining without reading: sent %d KiB (%d queries), RSS %d -> %d KiB "
                  "(+%.1f MiB)" % (sent // 1024, sent * 500 // len(batch), rss0, peak, grew_mb))
            self.assertLess(grew_mb, 24, "RSS grew by %.1f MiB" % grew_mb)
            mid = stats()
            self.assertGreaterEqual(mid["tcp_output_paused"] - before["tcp_output_paused"], 1)
            for i in range(3):
                self.assertTrue(tcp_ok("127.0.0.%d" % (12 + i)))
                m = R.udp(NAME, "A", source="127.0.0.15")
                self.assertEqual(dns.rcode.to_text(m.rcode()), "NOERROR")
            # Answers unread for the idle timeout: the daemon gives up on this client.
            deadline = time.monotonic() + IDLE_S + 6
            while time.monotonic() < deadline:
                if stats()["tcp_write_timeouts"] > before["tcp_write_timeouts"]:
                    break
                time.sleep(0.2)
        finally:
            s.close()
        after = stats()
        print("paused %d, others served %d while the attacker was blocked" %
              (after["tcp_output_paused"] - before["tcp_output_paused"], served))
        self.assertGreater(sent, 64 * 1024)
        self.assertGreaterEqual(after["tcp_write_timeouts"] - before["tcp_write_timeouts"], 1)
        self.assertTrue(wait_open(before["tcp_open"]), stats())
        self.assertTrue(tcp_ok("127.0.3.1"))

    def test_pipeline_cap(self):
        """Queries in flight per connection stop at tcp-pipeline-max (reading pauses, counted);
        every query is still answered once the resolver calls back."""
        before = stats()
        s = connect("127.0.4.1", timeout=15)
        n = 40
        try:
            # Uncached names under a zone that answers: each takes a resolver slot.
            s.sendall(b"".join(wire_query("pipe%d.example.test." % i, qid=i) for i in range(n)))
            got = set()
            while len(got) < n:
                m = read_msg(s)
                self.assertIsNotNone(m, "closed after %d answers" % len(got))
                got.add(m.id)
        finally:
            s.close()
        after = stats()
        self.assertEqual(got, set(range(n)))
        self.assertGreaterEqual(after["tcp_pipeline_paused"] - before["tcp_pipeline_paused"], 1)

    def test_per_address_cap(self):
        """Twenty connections from one address: tcp-clients-per-address (8) of them stay, across
        both workers together; another address still connects; after they close, the address
        connects again."""
        before = stats()
        socks = [connect("127.0.5.1") for _ in range(20)]
        kept = []
        try:
            for i, s in enumerate(socks):
                try:
                    s.sendall(wire_query(qid=i))
                except OSError:
                    continue
                m = read_msg(s)
                if m is not None:
                    kept.append(s)
            self.assertEqual(len(kept), PER_ADDR)
            self.assertTrue(tcp_ok("127.0.5.2"))
            mid = stats()
            self.assertGreaterEqual(mid["tcp_addr_limited"] - before["tcp_addr_limited"],
                                    20 - PER_ADDR)
        finally:
            for s in socks:
                s.close()
        self.assertTrue(wait_open(before["tcp_open"]), stats())
        again = [connect("127.0.5.1") for _ in range(PER_ADDR)]
        try:
            for i, s in enumerate(again):
                s.sendall(wire_query(qid=i))
                self.assertIsNotNone(read_msg(s), "connection %d after recovery" % i)
        finally:
            for s in again:
                s.close()

    def test_idle_connection_displaced_at_worker_cap(self):
        """A worker at tcp-clients (4) closes its least recently active idle connection to
        take a new one (counted); connections with nothing idle about them are not touched."""
        before = stats(R1)
        socks = []
        try:
            for i in range(4):
                s = connect("127.0.6.%d" % (i + 1), r=R1)
                s.sendall(wire_query(qid=i))
                self.assertIsNotNone(read_msg(s))
                socks.append(s)
                time.sleep(0.05)
            self.assertTrue(tcp_ok("127.0.6.9", r=R1))
            self.assertTrue(closed_by_server(socks[0], 2.0), "oldest idle kept")
            for s in socks[1:]:
                s.sendall(wire_query(qid=7))
                self.assertIsNotNone(read_msg(s))
        finally:
            for s in socks:
                s.close()
        after = stats(R1)
        self.assertGreaterEqual(after["tcp_displaced"] - before["tcp_displaced"], 1)
        self.assertEqual(after["tcp_rejected"], before["tcp_rejected"])

    def test_daemon_sinkhole_per_address_cap(self):
        """The daemon's own sinkhole: sinkhole.clients-per-address (2) holds, counted in the
        daemon's stats; another address still connects."""
        before = stats(R1)["sinkhole"]
        socks = []
        try:
            for _ in range(5):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.bind(("127.0.9.1", 0))
                s.connect(("127.0.0.1", SINK_PORT))
                socks.append(s)
            closed = [closed_by_server(s, 0.7) for s in socks]
            self.assertEqual(closed.count(True), 3, closed)
            other = socket.create_connection(("127.0.0.1", SINK_PORT), timeout=3,
                                             source_address=("127.0.9.2", 0))
            other.sendall(b"GET / HTTP/1.1\r\nHost: x.example\r\nConnection: close\r\n\r\n")
            self.assertTrue(other.recv(64).startswith(b"HTTP/1.1 "))
            other.close()
        finally:
            for s in socks:
                s.close()
        after = stats(R1)["sinkhole"]
        self.assertEqual(after["refused_addr"] - before["refused_addr"], 3)


if __name__ == "__main__":
    cw.main()
