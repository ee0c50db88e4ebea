# SPDX-License-Identifier: MIT
"""Name-server trigger look-ups under the fetch caps (issue 13 with issue 8; docs/abuse.md).

With NSDNAME/NSIP rules loaded, every new name with a positive answer makes the worker ask
libunbound `NAME NS` (is the name a zone cut?). tarpit.test. lives on a Python authority
(127.53.0.242) that answers A for every name at once but never answers an NS question below the
apex: each random name's main fetch ends at once, its `NAME NS` look-up hangs. One client
floods random names under tarpit.test.; its in-flight cap is set out of reach
(client-inflight-max 4000), and so is the random-subdomain mitigation, so only the zone's
fetch cap (ddos.fetches-per-zone) can bound the look-ups. The same flood runs against a daemon
with the cap and one without it (fetches-per-zone: 0). We assert, from the counters, that the
look-ups in flight never pass the cap (the hanging look-ups hold the zone's cap, so the
flood's own fetches are refused: fetch_limited), that the refused queries are answered SERVFAIL
with the cap's EDE text, that the
authority received fewer NS questions with the cap than without, and that another client's
names kept resolving during the flood.
"""

import os
import random
import socket
import struct
import tempfile
import threading
import time
import unittest

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rrset

import c2w_world as cw
import events_util as eu

WORLD = CAP = NOCAP = AUTH = None
AUTH_ADDR = "127.53.0.242"
ZONE = "tarpit.test."
CAP_MAX = 16
FLOOD = int(os.environ.get("C2W_NSCUT_FLOOD", "2000"))
FLOOD_RATE = 800.0  # queries per second, one client address
POLICY = """$TTL 60
@ SOA localhost. root.localhost. 1 3600 600 86400 60
@ NS localhost.
ns.evil.test.rpz-nsdname CNAME .
32.9.2.0.192.rpz-nsip CNAME .
"""


class Tarpit:
    """UDP authority for tarpit.test.: A for every name, apex NS/SOA; NS below the apex
    never answered (counted in .ns_dropped); other types NODATA."""

    def __init__(self, addr):
        self.queries = self.ns_dropped = 0
        self._stop = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((addr, 53))
        self.sock.settimeout(0.2)
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _answer(self, q):
        r = dns.message.make_response(q)
        r.flags |= dns.flags.AA
        name = q.question[0].name.to_text().lower()
        rdtype = q.question[0].rdtype
        soa = dns.rrset.from_text(ZONE, 300, "IN", "SOA",
                                  "ns.tarpit.test. h.tarpit.test. 1 3600 600 86400 300")
        if rdtype == 2 and name != ZONE:
            self.ns_dropped += 1
            return None
        if rdtype == 2:
            r.answer.append(dns.rrset.from_text(ZONE, 3600, "IN", "NS", "ns.tarpit.test."))
            r.additional.append(dns.rrset.from_text("ns.tarpit.test.", 3600, "IN", "A",
                                                    AUTH_ADDR))
        elif rdtype == 1 and name != ZONE:
            addr = AUTH_ADDR if name == "ns.tarpit.test." else "192.0.2.1"
            r.answer.append(dns.rrset.from_text(name, 3600, "IN", "A", addr))
        else:
            r.authority.append(soa)
        return r.to_wire()

    def _run(self):
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except (socket.timeout, OSError):
                continue
            self.queries += 1
            try:
                wire = self._answer(dns.message.from_wire(data))
                if wire is not None:
                    self.sock.sendto(wire, peer)
            except Exception:  # malformed: stay silent
                pass

    def stop(self):
        self._stop.set()
        self.th.join(2)
        self.sock.close()


def resolver(name, cap):
    d = tempfile.mkdtemp(prefix="nscut-", dir=WORLD.tmp)  # removed with the world
    path = os.path.join(d, "ns.rpz")
    with open(path, "w") as f:
        f.write(POLICY)
    return cw.make_resolver(WORLD, mode="recursive", workers=1, validate=False, name=name,
                            timeout_ms=1000,
                            stub=[{"zone": ZONE, "addr": [AUTH_ADDR]}],
                            extra={"ddos": {"min-misses": 1000, "bad-ratio": 1.0, "window": "1s",
                                            "fetches-per-zone": cap,
                                            "fetches-unresponsive": 0},
                                   "limits": {"client-inflight-max": 4000},
                                   "policy": {"zones": [{"name": "ns.rpz.", "file": path}]}})


def setUpModule():
    global WORLD, CAP, NOCAP, AUTH
    WORLD = cw.World().start()
    AUTH = Tarpit(AUTH_ADDR)
    CAP = resolver("c2wall-cap", CAP_MAX)
    CAP.start()
    NOCAP = resolver("c2wall-nocap", 0)
    NOCAP.start()


def tearDownModule():
    try:
        for r in (CAP, NOCAP):
            if r is not None:
                assert r.stop() == 0
    finally:
        if AUTH is not None:
            AUTH.stop()
        WORLD.stop()


def flood(r, sample):
    """FLOOD random names under ZONE from 127.0.3.1 at about FLOOD_RATE q/s; @sample() every
    50 queries. Returns (seconds, rcodes seen, EDE texts of the SERVFAILs)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.3.1", 0))
    s.setblocking(False)
    rnd = random.Random(13)
    tail = b"".join(bytes([len(x)]) + x.encode() for x in ZONE.rstrip(".").split("."))
    rcodes, texts = {}, set()

    def drain():
        try:
            while True:
                m = dns.message.from_wire(s.recv(4096))
                rcodes[m.rcode()] = rcodes.get(m.rcode(), 0) + 1
                for o in m.options:
                    if o.otype == dns.edns.EDE and m.rcode() == dns.rcode.SERVFAIL:
                        texts.add(o.text)
        except (BlockingIOError, OSError):
            pass

    t0 = time.monotonic()
    try:
        for i in range(FLOOD):
            label = ("%012x" % rnd.getrandbits(48)).encode()
            pkt = struct.pack("!HHHHHH", i & 0xFFFF, 0x0100, 1, 0, 0, 1) + bytes([12]) + \
                label + tail + b"\0" + struct.pack("!HH", 1, 1) + \
                b"\0" + struct.pack("!HHIH", 41, 1232, 0, 0)
            try:
                s.sendto(pkt, (r.addr, r.port))
            except BlockingIOError:
                pass
            if i % 50 == 49:
                drain()
                sample()
            delay = t0 + (i + 1) / FLOOD_RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        secs = time.monotonic() - t0
        end = time.monotonic() + 2.0  # answers at resolver.timeout (1 s)
        while time.monotonic() < end:
            drain()
            time.sleep(0.05)
    finally:
        s.close()
    return secs, rcodes, texts


class Benign(threading.Thread):
    """Names of example.test. (cached and new) from 127.0.0.3 every 50 ms, until stopped."""

    def __init__(self, r):
        super().__init__(daemon=True)
        self.r = r
        self.ok = self.total = 0
        self.stop_ev = threading.Event()

    def run(self):
        for i in range(1000):  # bounded: 50 s at most
            if self.stop_ev.is_set():
                return
            name = ("www.example.test." if i % 2 else
                    "b%d-%d.open.example.test." % (i, random.getrandbits(20)))
            m = eu.query(self.r, name, "A", source="127.0.0.3", timeout=2.0)
            self.total += 1
            self.ok += m is not None and m.rcode() == dns.rcode.NOERROR and len(m.answer) > 0
            self.stop_ev.wait(0.05)


def run_flood(r):
    before = eu.control_json(r, "stats")
    peak = [0]

    def sample():
        peak[0] = max(peak[0], eu.control_json(r, "stats")["cut_lookups_inflight"])

    b = Benign(r)
    b.start()
    ns0 = AUTH.ns_dropped
    secs, rcodes, texts = flood(r, sample)
    b.stop_ev.set()
    b.join(5)
    after = eu.control_json(r, "stats")
    d = {k: after[k] - before[k] for k in ("cut_lookups", "cut_lookups_limited",
                                           "fetch_limited", "timeouts")}
    return {"secs": secs, "peak": peak[0], "ns_at_auth": AUTH.ns_dropped - ns0, "d": d,
            "rcodes": rcodes, "texts": texts, "benign": (b.ok, b.total)}


class TestNsLookupsUnderCaps(unittest.TestCase):
    def test_random_names_with_ns_rules(self):
        for r in (CAP, NOCAP):  # the benign name, and the apex cut, in the caches
            m = eu.query(r, "www.example.test.", "A", source="127.0.0.3", timeout=5.0)
            self.assertEqual(m.rcode(), dns.rcode.NOERROR)
            m = eu.query(r, "tarpit.test.", "A", source="127.0.0.3", timeout=5.0)
            self.assertEqual(m.rcode(), dns.rcode.NOERROR)
        res = {}
        for name, r in (("cap", CAP), ("no cap", NOCAP)):
            x = res[name] = run_flood(r)
            print("%s: %d random names in %.1f s; NS look-ups in flight, peak %d; %s; "
                  "NS questions at the authority %d; answers %s; benign %d/%d" %
                  (name, FLOOD, x["secs"], x["peak"], x["d"], x["ns_at_auth"],
                   {dns.rcode.to_text(k): v for k, v in x["rcodes"].items()},
                   x["benign"][0], x["benign"][1]))
        c, n = res["cap"], res["no cap"]
        # The bound: look-ups in flight (orphans included) never pass the zone's cap. The
        # gauge counts every zone's look-ups: the benign client (one query at a time, names
        # of open.example.test., a zone with its own cap) may add one of its own (17 seen).
        self.assertLessEqual(c["peak"], CAP_MAX + 1)
        # The hanging look-ups hold the zone's cap, so the refusals fall on the flood's own
        # fetches (and on look-ups that find the cap full: cut_lookups_limited).
        self.assertGreater(c["d"]["fetch_limited"], FLOOD // 2)
        self.assertGreaterEqual(c["d"]["fetch_limited"], c["d"]["cut_lookups_limited"])
        self.assertIn("fetch limit for the zone reached", c["texts"])
        self.assertLess(c["ns_at_auth"], n["ns_at_auth"])
        # Without the cap nothing but the in-flight budget holds them.
        self.assertGreater(n["peak"], CAP_MAX)
        self.assertEqual(n["d"]["cut_lookups_limited"], 0)
        for x in (c, n):
            ok, total = x["benign"]
            self.assertGreaterEqual(total, 20)
            self.assertGreaterEqual(ok, total * 0.95, x)
        # Afterwards no slot of a client is left waiting: what is still out belongs to
        # orphans (their clients had their answer), which libunbound ends when it gives up on
        # the silent server (its back-off can take longer than this test waits) and which the
        # orphan budget bounds (limits.upstream-pending-max).
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if all(eu.control_json(r, "stats")["inflight"] == 0 for r in (CAP, NOCAP)):
                break
            time.sleep(0.5)
        for r in (CAP, NOCAP):
            st = eu.control_json(r, "stats")
            seen = {k: st[k] for k in ("inflight", "upstream_orphans", "cut_lookups_inflight")}
            self.assertEqual(st["inflight"], 0, seen)
            self.assertLessEqual(st["cut_lookups_inflight"], st["upstream_orphans"], seen)
            self.assertLessEqual(st["upstream_orphans"], 1024, seen)


if __name__ == "__main__":
    unittest.main()
