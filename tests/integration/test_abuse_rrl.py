# SPDX-License-Identifier: MIT
"""Response rate limiting, the per-client query rate limit and DNS Cookies, against the real
daemon (two workers, loopback clients on their own 127.0.0.x addresses).

- reflection from a client inside server.allow: identical queries fast from many source
  ports; full answers stay near the configured rate, the first and every 2nd limited
  response is slipped (TC=1), the others dropped; the counters say the same; another client
  asking meanwhile is answered in full, resident memory stays put, and the flooder is
  answered again after the window
- random NXDOMAIN names under one zone count as one response identity
- an exempt client, a client with a valid server cookie, and TCP are never limited
- a cookie client that is limited gets BADCOOKIE with our cookie, then is answered
- log-only: counts, answers everything
- the query rate limit drops a flooder while another client is answered; after a reload with
  query-action: refuse, the flooder gets REFUSED
- cookie round trip (client cookie -> server cookie, accepted back, a forged one is not but
  still answered), malformed COOKIE -> FORMERR
"""

import os
import select
import socket
import threading
import time
import unittest

import dns.edns
import dns.flags
import dns.message
import dns.rcode

import c2w_world as cw
import events_util as eu

WORLD = None
RRL = None      # responses-per-second 10, slip 2, window 2 s
LOGONLY = None  # the same rates, log-only
QRATE = None    # queries-per-second 20, burst 20, drop

NAME = "www.example.test."
RATE = 10
WORKERS = 2

# Addresses: each test client its own /32 (ipv4-prefix-length: 32).
FLOODER = "127.0.0.2"
NXFLOOD = "127.0.0.3"
COOKIE_CLIENT = "127.0.0.4"
TCP_CLIENT = "127.0.0.5"
BADCOOKIE_CLIENT = "127.0.0.6"
EXEMPT = "127.0.0.9"
QFLOODER = "127.0.0.20"
BENIGN = "127.0.0.21"
BYSTANDER = "127.0.0.22"

RRL_CONF = {
    "responses-per-second": RATE,
    "window": "2s",
    "slip": 2,
    "ipv4-prefix-length": 32,
    "exempt-clients": [EXEMPT + "/32"],
}


# test_2's 200 random names under one zone are also a random-subdomain flood: at the default
# min-misses (200 distinct misses per worker and window, estimated) the water-torture defence
# sometimes answered part of them SERVFAIL first (seen once in CI). That defence has its own
# tests (test_abuse_torture.py); here it stays out of the way of the RRL figures.
NO_TORTURE = {"min-misses": 1000}


def setUpModule():
    global WORLD, RRL, LOGONLY, QRATE
    WORLD = cw.World().start()
    RRL = cw.make_resolver(WORLD, mode="recursive", workers=WORKERS, name="rrl",
                           extra={"rate-limit": dict(RRL_CONF), "ddos": dict(NO_TORTURE)})
    RRL.start()
    LOGONLY = cw.make_resolver(WORLD, mode="recursive", workers=WORKERS, name="logonly",
                               extra={"rate-limit": dict(RRL_CONF, **{"log-only": True}),
                                      "ddos": dict(NO_TORTURE)})
    LOGONLY.start()
    QRATE = cw.make_resolver(WORLD, mode="recursive", workers=WORKERS, name="qrate",
                             extra={"rate-limit": {"queries-per-second": 20,
                                                   "query-burst": 20}})
    QRATE.start()
    # Warm the caches from an address no test floods from.
    for r in (RRL, LOGONLY, QRATE):
        for qn in (NAME, "example.test."):
            r.udp(qn, "A", source=EXEMPT)


def tearDownModule():
    try:
        for r in (RRL, LOGONLY, QRATE):
            if r is not None:
                assert r.stop() == 0
    finally:
        WORLD.stop()


def stats(r):
    return eu.control_json(r, "stats")


def delta(before, after, key):
    return after[key] - before[key]


def cookie_opt(data):
    return dns.edns.GenericOption(dns.edns.COOKIE, data)


def cookie_of(msg):
    for o in msg.options:
        if o.otype == dns.edns.COOKIE:
            return o.to_wire() if hasattr(o, "to_wire") else o.data
    return None


def flood(r, source, count, qnames=None, options=None, sockets=8, pace=0.003):
    """Send @count queries from @source over @sockets source ports (SO_REUSEPORT spreads them
    over the workers), collect every reply until the line has been quiet for 1 s. Returns
    (replies, seconds the sending took)."""
    socks = []
    for _ in range(sockets):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((source, 0))
        s.setblocking(False)
        socks.append(s)
    replies = []
    flood.bytes_out = flood.bytes_in = 0

    def drain(timeout):
        got = False
        ready, _, _ = select.select(socks, [], [], timeout)
        for s in ready:
            while True:
                try:
                    data = s.recv(65535)
                except BlockingIOError:
                    break
                flood.bytes_in += len(data)
                replies.append(dns.message.from_wire(data))
                got = True
        return got

    t0 = time.monotonic()
    try:
        for i in range(count):
            qn = qnames[i % len(qnames)] if qnames else NAME
            q = dns.message.make_query(qn, "A", use_edns=0, payload=1232, options=options)
            q.id = i & 0xFFFF
            wire = q.to_wire()
            flood.bytes_out += len(wire)
            socks[i % sockets].sendto(wire, (r.addr, r.port))
            drain(0)
            time.sleep(pace)
        elapsed = time.monotonic() - t0
        while drain(1.0):
            pass
    finally:
        for s in socks:
            s.close()
    return replies, elapsed


def vmrss_kb(r):
    with open("/proc/%d/status" % r.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


class Bystander(threading.Thread):
    """Another client of the same resolver asking NAME at 5 q/s (under the rate) while a
    flood runs; records (full answer?, latency s) per query."""

    def __init__(self, r, source):
        super().__init__(daemon=True)
        self.r, self.source = r, source
        self.results = []
        self.stop = threading.Event()

    def run(self):
        for _ in range(200):  # bounded: 40 s at most
            if self.stop.is_set():
                return
            t0 = time.monotonic()
            try:
                m = self.r.udp(NAME, "A", source=self.source, timeout=2)
                ok = (not m.flags & dns.flags.TC and
                      cw.rrset_values(m, "answer", NAME, "A") == [cw.DATA[NAME]["A"]])
            except Exception:  # a lost answer counts as a failure
                ok = False
            self.results.append((ok, time.monotonic() - t0))
            self.stop.wait(0.2)


def sort_replies(replies):
    full = [m for m in replies if not (m.flags & dns.flags.TC) and m.rcode() != 23]
    tc = [m for m in replies if m.flags & dns.flags.TC]
    bad = [m for m in replies if m.rcode() == 23]
    return full, tc, bad


def allowed(rate, seconds):
    """Most full answers RRL may give in @seconds: each worker's share (rounded up) for every
    second the flood touched, plus one second of slack for the clock ticking mid-flood."""
    per_worker = -(-rate // WORKERS)
    return per_worker * WORKERS * (int(seconds) + 3)


class TestRrl(unittest.TestCase):
    def test_1_reflection(self):
        n = 900
        before = stats(RRL)
        rss0 = vmrss_kb(RRL)
        other = Bystander(RRL, BYSTANDER)
        other.start()
        replies, secs = flood(RRL, FLOODER, n)
        other.stop.set()
        other.join(5)
        rss1 = vmrss_kb(RRL)
        after = stats(RRL)
        full, tc, bad = sort_replies(replies)
        limited = n - len(full)
        print("reflection: %d queries (%d bytes) in %.2f s: %d full, %d TC, %d dropped; "
              "%d bytes reflected (%.2fx)" %
              (n, flood.bytes_out, secs, len(full), len(tc), n - len(replies), flood.bytes_in,
               flood.bytes_in / flood.bytes_out))
        oks = [ok for ok, _ in other.results]
        print("reflection: bystander %d/%d answered in full, worst %.1f ms; RSS %d -> %d KiB" %
              (sum(oks), len(oks), 1000 * max(t for _, t in other.results), rss0, rss1))
        self.assertGreaterEqual(len(oks), 5)
        self.assertEqual(sum(oks), len(oks), "the other client was limited too")
        self.assertLess(rss1 - rss0, 16 * 1024)
        self.assertLess(flood.bytes_in, flood.bytes_out)
        self.assertGreaterEqual(len(full), RATE // 2)
        self.assertLessEqual(len(full), allowed(RATE, secs))
        self.assertEqual(bad, [])
        for m in tc:
            self.assertEqual(len(m.answer), 0, cw.describe(m))
            self.assertEqual(m.rcode(), dns.rcode.NOERROR)
        # Slip 2: the first limited response per worker, then every second one.
        self.assertLessEqual(abs(len(tc) - limited / 2), WORKERS + 1,
                             "%d TC of %d limited" % (len(tc), limited))
        self.assertEqual(delta(before, after, "rrl_slipped"), len(tc))
        self.assertEqual(delta(before, after, "rrl_dropped"), n - len(replies))
        self.assertEqual(delta(before, after, "rrl_limited"), limited)
        # The window (2 s): once quiet for longer, the client is answered again.
        time.sleep(3.5)
        m = RRL.udp(NAME, "A", source=FLOODER)
        self.assertFalse(m.flags & dns.flags.TC, cw.describe(m))
        self.assertEqual(cw.rrset_values(m, "answer", NAME, "A"), [cw.DATA[NAME]["A"]])

    def test_2_nxdomain_one_identity(self):
        # Random names under one zone: NXDOMAIN answers are keyed by the zone (SOA owner),
        # so they count together against nxdomains-per-second (= responses-per-second).
        n = 200
        names = ["nx%d-%d.example.test." % (os.getpid(), i) for i in range(n)]
        for qn in names[:40]:  # resolve some first, so the flood is mostly cache hits
            RRL.udp(qn, "A", source=EXEMPT)
        before = stats(RRL)
        replies, secs = flood(RRL, NXFLOOD, n, qnames=names, pace=0.005)
        after = stats(RRL)
        full, tc, _ = sort_replies(replies)
        print("nxdomain flood: %d in %.2f s: %d full, %d TC" % (n, secs, len(full), len(tc)))
        for m in full:
            self.assertEqual(m.rcode(), dns.rcode.NXDOMAIN, cw.describe(m))
        self.assertLessEqual(len(full), allowed(RATE, secs))
        self.assertGreater(delta(before, after, "rrl_limited"), n // 3)

    def test_3_exempt_client(self):
        before = stats(RRL)
        replies, _ = flood(RRL, EXEMPT, 150)
        after = stats(RRL)
        full, tc, _ = sort_replies(replies)
        self.assertEqual(len(full), 150)
        self.assertEqual(tc, [])
        self.assertGreaterEqual(delta(before, after, "rrl_exempt"), 150)
        self.assertEqual(delta(before, after, "rrl_limited"), 0)

    def test_4_cookie_client_not_limited(self):
        m = RRL.udp(NAME, "A", source=COOKIE_CLIENT, options=[cookie_opt(b"\x11" * 8)])
        c = cookie_of(m)
        self.assertIsNotNone(c, cw.describe(m))
        self.assertEqual(len(c), 24)
        before = stats(RRL)
        replies, _ = flood(RRL, COOKIE_CLIENT, 150, options=[cookie_opt(c)])
        after = stats(RRL)
        full, tc, bad = sort_replies(replies)
        self.assertEqual(len(full), 150)
        self.assertEqual(tc + bad, [])
        self.assertEqual(delta(before, after, "cookie_valid"), 150)
        self.assertEqual(delta(before, after, "rrl_cookie_exempt"), 150)
        self.assertEqual(delta(before, after, "rrl_limited"), 0)

    def test_5_badcookie_slip(self):
        # A client that sends only a client cookie and gets limited: its slipped responses
        # are BADCOOKIE carrying our server cookie; retrying with it, it is answered.
        client = b"\x22" * 8
        before = stats(RRL)
        replies, _ = flood(RRL, BADCOOKIE_CLIENT, 120, options=[cookie_opt(client)])
        after = stats(RRL)
        full, tc, bad = sort_replies(replies)
        self.assertLessEqual(len(full), 60)
        self.assertEqual(tc, [])
        self.assertGreater(len(bad), 0)
        self.assertEqual(delta(before, after, "cookie_badcookie"), len(bad))
        c = cookie_of(bad[0])
        self.assertTrue(c is not None and len(c) == 24 and c[:8] == client)
        m = RRL.udp(NAME, "A", source=BADCOOKIE_CLIENT, options=[cookie_opt(c)])
        self.assertEqual(m.rcode(), dns.rcode.NOERROR)
        self.assertEqual(cw.rrset_values(m, "answer", NAME, "A"), [cw.DATA[NAME]["A"]])

    def test_6_tcp_not_limited(self):
        before = stats(RRL)
        for _ in range(40):
            m = RRL.tcp(NAME, "A", source=TCP_CLIENT)
            self.assertFalse(m.flags & dns.flags.TC)
            self.assertEqual(cw.rrset_values(m, "answer", NAME, "A"), [cw.DATA[NAME]["A"]])
        after = stats(RRL)
        self.assertEqual(delta(before, after, "rrl_limited"), 0)

    def test_7_log_only(self):
        before = stats(LOGONLY)
        replies, _ = flood(LOGONLY, FLOODER, 150)
        after = stats(LOGONLY)
        full, tc, _ = sort_replies(replies)
        self.assertEqual(len(full), 150)
        self.assertEqual(tc, [])
        self.assertGreater(delta(before, after, "rrl_limited"), 150 // 2)
        self.assertEqual(delta(before, after, "rrl_dropped"), 0)
        self.assertEqual(delta(before, after, "rrl_slipped"), 0)


class TestCookies(unittest.TestCase):
    def test_round_trip(self):
        client = b"\x01\x02\x03\x04\x05\x06\x07\x08"
        before = stats(RRL)
        m = RRL.udp(NAME, "A", source=EXEMPT, options=[cookie_opt(client)])
        c = cookie_of(m)
        self.assertTrue(c is not None and len(c) == 24 and c[:8] == client, cw.describe(m))
        self.assertEqual(c[8], 1)          # RFC 9018 version
        self.assertEqual(c[9:12], b"\0\0\0")
        stamp = int.from_bytes(c[12:16], "big")
        self.assertLess(abs(stamp - time.time()), 5)
        # Our cookie is accepted back (over UDP and TCP); the answer carries a fresh one.
        m2 = RRL.udp(NAME, "A", source=EXEMPT, options=[cookie_opt(c)])
        self.assertEqual(m2.rcode(), dns.rcode.NOERROR)
        self.assertEqual(cookie_of(m2)[:8], client)
        m3 = RRL.tcp(NAME, "A", source=EXEMPT, options=[cookie_opt(c)])
        self.assertEqual(len(cookie_of(m3)), 24)
        # A forged one is not accepted, and still answered (RFC 7873 5.2.4, no BADCOOKIE).
        forged = c[:-1] + bytes([c[-1] ^ 0xFF])
        m4 = RRL.udp(NAME, "A", source=EXEMPT, options=[cookie_opt(forged)])
        self.assertEqual(m4.rcode(), dns.rcode.NOERROR)
        self.assertEqual(cookie_of(m4)[:8], client)
        self.assertNotEqual(cookie_of(m4)[8:], forged[8:])
        # Our cookie from another address is not valid either.
        m5 = RRL.udp(NAME, "A", source=COOKIE_CLIENT, options=[cookie_opt(c)])
        self.assertEqual(m5.rcode(), dns.rcode.NOERROR)
        after = stats(RRL)
        self.assertEqual(delta(before, after, "cookie_new"), 1)
        self.assertEqual(delta(before, after, "cookie_valid"), 2)
        self.assertEqual(delta(before, after, "cookie_invalid"), 2)

    def test_malformed_formerr(self):
        before = stats(RRL)
        for length in (0, 7, 9, 15, 41):
            m = RRL.udp(NAME, "A", source=EXEMPT, options=[cookie_opt(b"\x33" * length)])
            self.assertEqual(m.rcode(), dns.rcode.FORMERR, "length %d" % length)
        after = stats(RRL)
        self.assertEqual(delta(before, after, "cookie_malformed"), 5)
        # Sizes RFC 7873 allows are fine: 8, 16..40 (unknown server cookies: a fresh one).
        for length in (8, 16, 40):
            m = RRL.udp(NAME, "A", source=EXEMPT, options=[cookie_opt(b"\x44" * length)])
            self.assertEqual(m.rcode(), dns.rcode.NOERROR, "length %d" % length)
            self.assertEqual(len(cookie_of(m)), 24)


class TestQueryRate(unittest.TestCase):
    def test_1_flooder_dropped_other_served(self):
        before = stats(QRATE)
        benign = []
        replies = []
        # The flood and a benign client at 5 queries a second, interleaved.
        t0 = time.monotonic()
        for burst in range(5):
            r, _ = flood(QRATE, QFLOODER, 80, pace=0.002) if burst == 0 else (None, 0)
            if r is not None:
                replies += r
            m = QRATE.udp(NAME, "A", source=BENIGN, timeout=2.0)
            benign.append(m)
        replies2, secs = flood(QRATE, QFLOODER, 400, pace=0.002)
        for _ in range(10):
            benign.append(QRATE.udp(NAME, "A", source=BENIGN, timeout=2.0))
        total = time.monotonic() - t0
        after = stats(QRATE)
        answered = len(replies) + len(replies2)
        print("query rate: 480 flood queries in %.2f s, %d answered" % (total, answered))
        # 20/s and a burst of 20 per the whole server (each of 2 workers: 10/s, burst 10).
        self.assertLessEqual(answered, 20 * (total + 2) + 20)
        self.assertGreaterEqual(answered, 15)
        for m in benign:
            self.assertEqual(cw.rrset_values(m, "answer", NAME, "A"), [cw.DATA[NAME]["A"]])
        self.assertEqual(delta(before, after, "qlimit_dropped"), 480 - answered)
        self.assertEqual(delta(before, after, "qlimit_limited"), 480 - answered)

    def test_2_refuse_after_reload(self):
        QRATE.extra["rate-limit"]["query-action"] = "refuse"
        QRATE.write_config()
        before = stats(QRATE)
        resp = eu.control(QRATE, "reload")  # returns once every worker has switched
        self.assertFalse(resp.startswith("error"), resp)
        time.sleep(1.5)  # the flooder's bucket refills: the flood starts with a burst
        replies, _ = flood(QRATE, QFLOODER, 200, pace=0.002)
        after = stats(QRATE)
        refused = [m for m in replies if m.rcode() == dns.rcode.REFUSED]
        self.assertEqual(len(replies), 200)  # nothing dropped: REFUSED instead
        self.assertGreater(len(refused), 100)
        self.assertEqual(delta(before, after, "qlimit_refused"), len(refused))
        self.assertEqual(delta(before, after, "qlimit_dropped"), 0)

    def test_3_cookie_exempt_after_reload(self):
        # query-cookie-exempt: a client proving its address with our cookie is not counted.
        QRATE.extra["rate-limit"]["query-cookie-exempt"] = True
        QRATE.write_config()
        resp = eu.control(QRATE, "reload")
        self.assertFalse(resp.startswith("error"), resp)
        m = QRATE.udp(NAME, "A", source=QFLOODER, options=[cookie_opt(b"\x55" * 8)])
        c = cookie_of(m)
        self.assertTrue(c is not None and len(c) == 24, cw.describe(m))
        before = stats(QRATE)
        replies, _ = flood(QRATE, QFLOODER, 200, options=[cookie_opt(c)], pace=0.002)
        after = stats(QRATE)
        ok = [m for m in replies if m.rcode() == dns.rcode.NOERROR]
        self.assertEqual(len(ok), 200)
        self.assertEqual(delta(before, after, "qlimit_cookie_exempt"), 200)
        self.assertEqual(delta(before, after, "qlimit_limited"), 0)
        # Without the cookie, the same client is still limited.
        replies, _ = flood(QRATE, QFLOODER, 100, pace=0.002)
        self.assertGreater(len([m for m in replies if m.rcode() == dns.rcode.REFUSED]), 30)


if __name__ == "__main__":
    cw.main()
