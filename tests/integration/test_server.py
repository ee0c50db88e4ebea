# SPDX-License-Identifier: MIT
"""Server behaviour of the daemon: access control, TCP idle timeout, SIGHUP reload under load,
SIGTERM shutdown, and upstreams that never answer or answer garbage (SERVFAIL within the
configured timeout)."""

import os
import signal
import socket
import threading
import time
import unittest

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode

import c2w_world as cw
from c2w_world import ADDR, DATA, describe

WORLD = None
TIMEOUT_MS = 2000
# Margin on top of resolver.timeout for "SERVFAIL within the timeout": scheduling, one retry.
MARGIN_S = 1.5


def setUpModule():
    global WORLD
    WORLD = cw.World().start()


def tearDownModule():
    WORLD.stop()


def rcode(m):
    return dns.rcode.to_text(m.rcode())


class Base(unittest.TestCase):
    """One resolver per test class, started in setUpClass and stopped with a checked SIGTERM."""

    options = {}

    @classmethod
    def setUpClass(cls):
        cls.r = cw.make_resolver(WORLD, **cls.options).start()

    @classmethod
    def tearDownClass(cls):
        if cls.r.running():
            cls.r.stop(check=True)


class TestAcl(Base):
    """allow excludes 127.0.0.1: queries from it get REFUSED; 127.0.0.2 is served."""

    # start() polls from 127.0.0.1, which is refused; REFUSED still proves it is up.
    options = {"mode": "recursive", "allow": ["127.0.0.2/32"]}

    def test_refused_from_outside_allow(self):
        m = self.r.udp("www.example.test.", "A", source="127.0.0.1")
        self.assertEqual(rcode(m), "REFUSED", describe(m))
        self.assertEqual(len(m.answer), 0, describe(m))

    @cw.c2wall_only("c2wall closes TCP from outside server.allow at accept; unbound answers "
                    "REFUSED")
    def test_tcp_closed_at_accept_outside_allow(self):
        # docs/abuse.md, TCP connections: an outsider never holds a connection.
        with self.assertRaises((OSError, EOFError, dns.exception.DNSException)):
            self.r.tcp("www.example.test.", "A", source="127.0.0.1", timeout=3)

    def test_allowed_source_is_served(self):
        for fn in (self.r.udp, self.r.tcp):
            m = fn("www.example.test.", "A", source="127.0.0.2")
            self.assertEqual(rcode(m), "NOERROR", describe(m))
            self.assertEqual(cw.rrset_values(m, "answer", "www.example.test.", "A"),
                             [DATA["www.example.test."]["A"]], describe(m))

    def test_refused_for_cached_name_too(self):
        self.r.udp("www.other.test.", "A", source="127.0.0.2")
        m = self.r.udp("www.other.test.", "A", source="127.0.0.3")
        self.assertEqual(rcode(m), "REFUSED", describe(m))


class TestTcpIdle(Base):
    options = {"mode": "recursive", "tcp_idle_timeout_ms": 1000}

    def _closed_after(self, s, limit):
        s.settimeout(limit)
        t0 = time.monotonic()
        try:
            data = s.recv(100)
        except socket.timeout:
            return None
        except ConnectionResetError:
            data = b""
        self.assertEqual(data, b"", "unexpected bytes on an idle connection")
        return time.monotonic() - t0

    def test_idle_connection_closed(self):
        s = self.r.tcp_connect()
        try:
            dt = self._closed_after(s, 1.0 + 3.0)
        finally:
            s.close()
        self.assertIsNotNone(dt, "idle TCP connection still open after 4s (idle timeout 1s)")
        self.assertGreater(dt, 0.3, "closed much earlier than the idle timeout")

    def test_idle_after_answer_closed(self):
        s = self.r.tcp_connect()
        try:
            q = dns.message.make_query("www.example.test.", "A")
            dns.query.send_tcp(s, q)
            m, _ = dns.query.receive_tcp(s, 5)
            self.assertEqual(rcode(m), "NOERROR")
            dt = self._closed_after(s, 1.0 + 3.0)
        finally:
            s.close()
        self.assertIsNotNone(dt, "TCP connection still open 4s after the last answer")


class TestReloadUnderLoad(Base):
    options = {"mode": "recursive"}

    QUERIES = 2000
    SECONDS = 5.0
    NAMES = [("www.example.test.", "A"), ("www.example.test.", "AAAA"),
             ("cname-a.example.test.", "A"), ("example.test.", "MX"),
             ("www.sub.example.test.", "A"), ("www.other.test.", "A"),
             ("www.secure.test.", "A"), ("txt.example.test.", "TXT")]

    def _load(self, results):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t0 = time.monotonic()
        try:
            for i in range(self.QUERIES):
                due = t0 + i * self.SECONDS / self.QUERIES
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                n, t = self.NAMES[i % len(self.NAMES)]
                q = dns.message.make_query(n, t)
                try:
                    m = dns.query.udp(q, self.r.addr, port=self.r.port, timeout=3.0, sock=s)
                    results.append((i, rcode(m)))
                except Exception as e:
                    results.append((i, "lost: %r" % e))
        finally:
            s.close()

    def test_sighup_reload_loses_nothing(self):
        results = []
        th = threading.Thread(target=self._load, args=(results,))
        th.start()
        hups = 0
        t0 = time.monotonic()
        for at in (0.8, 2.0, 3.2, 4.4):
            time.sleep(max(0.0, t0 + at - time.monotonic()))
            self.r.reload()
            hups += 1
        th.join(self.SECONDS + 60)
        self.assertFalse(th.is_alive(), "load thread did not finish")
        self.assertTrue(self.r.running(), "daemon died on SIGHUP")
        bad = [(i, rc) for i, rc in results if rc != "NOERROR"]
        self.assertEqual(len(results), self.QUERIES)
        self.assertEqual(bad, [], "%d of %d queries not answered NOERROR across %d SIGHUPs: %s" %
                         (len(bad), self.QUERIES, hups, bad[:10]))
        m = self.r.udp("www.example.test.", "A")
        self.assertEqual(rcode(m), "NOERROR")


class TestSigterm(unittest.TestCase):
    def test_sigterm_clean_exit(self):
        r = cw.make_resolver(WORLD, mode="recursive").start()
        self.assertEqual(rcode(r.udp("www.example.test.", "A")), "NOERROR")
        s = r.tcp_connect()  # an open client connection must not block shutdown
        try:
            rc = r.stop(check=False, timeout=10)
        finally:
            s.close()
        self.assertEqual(rc, 0, "exit code after SIGTERM" + r.stderr_text()[-3000:])
        self.assertLess(r.stop_seconds, 5.0, "SIGTERM took %.1fs" % r.stop_seconds)
        self.assertTrue(cw.port_free(r.addr, r.port), "listen port still bound after exit")


class BrokenUpstream:
    """An unanswered query gets SERVFAIL within resolver.timeout + MARGIN_S, and the daemon
    keeps serving."""

    def _servfail_in_time(self, qname, rdtype="A"):
        t0 = time.monotonic()
        m = self.r.udp(qname, rdtype, timeout=TIMEOUT_MS / 1000 + MARGIN_S + 5)
        dt = time.monotonic() - t0
        cw.log("%s %s %s: %s after %.2fs (timeout %dms)" %
               (self.__class__.__name__, qname, rdtype, rcode(m), dt, TIMEOUT_MS))
        self.assertEqual(rcode(m), "SERVFAIL", describe(m))
        self.assertLess(dt, TIMEOUT_MS / 1000 + MARGIN_S,
                        "SERVFAIL after %.2fs, timeout is %dms" % (dt, TIMEOUT_MS))
        return dt

    @cw.c2wall_only("unbound has no client-facing resolution timeout")
    def test_servfail_within_timeout(self):
        self._servfail_in_time(self.qname)

    @cw.c2wall_only("unbound has no client-facing resolution timeout")
    def test_servfail_over_tcp_within_timeout(self):
        t0 = time.monotonic()
        m = self.r.tcp("tcp-" + self.qname, "A", timeout=TIMEOUT_MS / 1000 + MARGIN_S + 5)
        dt = time.monotonic() - t0
        self.assertEqual(rcode(m), "SERVFAIL", describe(m))
        self.assertLess(dt, TIMEOUT_MS / 1000 + MARGIN_S)

    @cw.c2wall_only("unbound has no client-facing resolution timeout")
    def test_parallel_unanswered_all_servfail(self):
        out = []

        def one(i):
            try:
                t0 = time.monotonic()
                m = self.r.udp("p%d-%s" % (i, self.qname), "A", timeout=10)
                out.append((rcode(m), time.monotonic() - t0))
            except Exception as e:
                out.append(("lost: %r" % e, 0))

        ths = [threading.Thread(target=one, args=(i,)) for i in range(20)]
        for t in ths:
            t.start()
        for t in ths:
            t.join(20)
        self.assertEqual(sorted(rc for rc, _ in out), ["SERVFAIL"] * 20, out)
        self.assertLess(max(dt for _, dt in out), TIMEOUT_MS / 1000 + MARGIN_S, out)

    @cw.c2wall_only("unbound has no client-facing resolution timeout")
    def test_still_running(self):
        m = self.r.udp("alive-" + self.qname, "A", timeout=TIMEOUT_MS / 1000 + MARGIN_S + 5)
        self.assertIsNotNone(m)
        self.assertTrue(self.r.running())


class TestForwardBlackhole(BrokenUpstream, Base):
    options = {"mode": "forward", "forward": ["%s@53" % ADDR["blackhole"]],
               "timeout_ms": TIMEOUT_MS}
    qname = "www.example.test."

    def test_blackhole_received_queries(self):
        n0 = WORLD.blackhole.queries
        try:
            self.r.udp("seen.example.test.", "A", timeout=TIMEOUT_MS / 1000 + MARGIN_S + 5)
        except dns.exception.Timeout:
            pass
        self.assertGreater(WORLD.blackhole.queries, n0, "the daemon never asked the upstream")


class TestForwardGarbage(BrokenUpstream, Base):
    options = {"mode": "forward", "forward": ["%s@53" % ADDR["garbage"]],
               "timeout_ms": TIMEOUT_MS}
    qname = "www.example.test."


class TestRecursiveDeadAuthority(BrokenUpstream, Base):
    """dead.test. is delegated to the black hole."""

    options = {"mode": "recursive", "timeout_ms": TIMEOUT_MS}
    qname = "www.dead.test."

    def test_healthy_zones_unaffected(self):
        m = self.r.udp("www.example.test.", "A")
        self.assertEqual(rcode(m), "NOERROR", describe(m))


if __name__ == "__main__":
    cw.main()
