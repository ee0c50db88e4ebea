# SPDX-License-Identifier: MIT
"""Upstream load per server (issue 8, docs/abuse.md "One server behind many zones").

Forty zones (z0.sink.test. .. z39.sink.test.) all live on one server that never answers
(a Python black hole on 127.53.0.241, counting what it receives per second); c2wall reaches them
as stub zones. A flood spreads random names over the forty zones from forty client addresses,
so no zone sees enough distinct names to be taken for a random-subdomain flood and no client
reaches its in-flight cap: only a bound that covers the server can hold it. c2wall does not see
which server libunbound asks; what it does bound is the pool of fetches toward unresponsive
zones (ddos.fetches-unresponsive: 4 fetches per zone whose servers have not answered, the
rest from one pool). The same flood runs against a daemon with the pool and one
without it (fetches-unresponsive: 0). We assert that the pool's gauge never passes the
configured bound, that the refusals are counted, that the black hole received fewer queries
with the pool, that a benign client's cached and uncached names of other zones kept resolving,
and that memory stayed bounded.
"""

import random
import socket
import struct
import threading
import time
import unittest

import dns.rcode

import c2w_world as cw
import events_util as eu

WORLD = POOL = NOPOOL = SINK = None
SINK_ADDR = "127.53.0.241"
ZONES = ["z%d.sink.test." % i for i in range(40)]
POOL_MAX = 16
FLOOD = int(__import__('os').environ.get('C2W_SERVERS_FLOOD', '6000'))
FLOOD_RATE = 1000.0  # queries per second, from 40 addresses


class Sink:
    """UDP on SINK_ADDR:53 that reads every query and never answers; counts per second."""

    def __init__(self, addr):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((addr, 53))
        self.sock.settimeout(0.2)
        self.total = 0
        self.per_s = {}  # int(monotonic) -> queries received in that second
        self._stop = threading.Event()
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                self.sock.recvfrom(4096)
            except (socket.timeout, OSError):
                continue
            self.total += 1
            sec = int(time.monotonic())
            self.per_s[sec] = self.per_s.get(sec, 0) + 1

    def stop(self):
        self._stop.set()
        self.th.join(2)
        self.sock.close()


def resolver(name, pool):
    return cw.make_resolver(WORLD, mode="recursive", workers=1, validate=False, name=name,
                            timeout_ms=1000,
                            stub=[{"zone": z, "addr": [SINK_ADDR]} for z in ZONES],
                            extra={"ddos": {"min-misses": 1000, "fetches-per-zone": 50,
                                            "fetches-unresponsive": pool}})


def setUpModule():
    global WORLD, POOL, NOPOOL, SINK
    WORLD = cw.World().start()
    SINK = Sink(SINK_ADDR)
    POOL = resolver("c2wall-pool", POOL_MAX)
    POOL.start()
    NOPOOL = resolver("c2wall-nopool", 0)
    NOPOOL.start()


def tearDownModule():
    try:
        for r in (POOL, NOPOOL):
            if r is not None:
                assert r.stop() == 0
    finally:
        if SINK is not None:
            SINK.stop()
        WORLD.stop()


def vmrss_kb(r):
    with open("/proc/%d/status" % r.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def flood(r, sample):
    """FLOOD random names over ZONES from 127.0.2.1-40 at about FLOOD_RATE q/s; @sample() is
    called every 100 queries. Answers are read and thrown away."""
    socks = []
    for i in range(40):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.2.%d" % (i + 1), 0))
        s.setblocking(False)
        socks.append(s)
    rnd = random.Random(53)
    t0 = time.monotonic()
    try:
        for i in range(FLOOD):
            zone = ZONES[rnd.randrange(len(ZONES))]
            tail = b"".join(bytes([len(x)]) + x.encode() for x in zone.rstrip(".").split("."))
            label = ("%012x" % rnd.getrandbits(48)).encode()
            pkt = struct.pack("!HHHHHH", i & 0xFFFF, 0x0100, 1, 0, 0, 0) + bytes([12]) + \
                label + tail + b"\0" + struct.pack("!HH", 1, 1)
            try:
                socks[i % 40].sendto(pkt, (r.addr, r.port))
            except BlockingIOError:
                pass
            for s in socks if i % 40 == 39 else ():
                try:
                    while s.recv(4096):
                        pass
                except (BlockingIOError, OSError):
                    pass
            if i % 100 == 99:
                sample()
            delay = t0 + (i + 1) / FLOOD_RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    finally:
        for s in socks:
            s.close()
    return time.monotonic() - t0


class Benign(threading.Thread):
    """Cached and uncached names of example.test. from 127.0.0.3, every 50 ms, until stopped."""

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
    rss0 = vmrss_kb(r)
    gauge = [0]

    def sample():
        gauge[0] = max(gauge[0], eu.control_json(r, "stats")["fetch_unresponsive"])

    b = Benign(r)
    b.start()
    q0 = SINK.total
    t0 = int(time.monotonic())
    secs = flood(r, sample)
    time.sleep(1.5)  # the last fetches time out (resolver.timeout 1 s)
    b.stop_ev.set()
    b.join(5)
    after = eu.control_json(r, "stats")
    return {
        "secs": secs,
        "sink": SINK.total - q0,
        "gauge_max": gauge[0],
        "limited": after["fetch_unresponsive_limited"] - before["fetch_unresponsive_limited"],
        "zone_limited": after["fetch_limited"] - before["fetch_limited"],
        "timeouts": after["timeouts"] - before["timeouts"],
        "benign": (b.ok, b.total),
        "rss": (rss0, vmrss_kb(r)),
        "after": after,
        "timeline": [SINK.per_s.get(t0 + i, 0) for i in range(int(secs) + 2)],
    }


class TestOneServerManyZones(unittest.TestCase):
    def test_pool_bounds_a_black_hole_behind_many_zones(self):
        for r in (POOL, NOPOOL):  # warm the benign client's cached name
            m = eu.query(r, "www.example.test.", "A", source="127.0.0.3", timeout=5.0)
            self.assertEqual(m.rcode(), dns.rcode.NOERROR)
        res = {}
        for name, r in (("pool", POOL), ("no pool", NOPOOL)):
            res[name] = run_flood(r)
            x = res[name]
            print("%s: %d queries over %d zones in %.1f s; black hole received %d; "
                  "fetch_unresponsive max %d; refused at the pool %d, at a zone's cap %d; "
                  "timeouts %d; benign %d/%d; RSS %d -> %d KiB" %
                  (name, FLOOD, len(ZONES), x["secs"], x["sink"], x["gauge_max"],
                   x["limited"], x["zone_limited"], x["timeouts"], x["benign"][0],
                   x["benign"][1], x["rss"][0], x["rss"][1]))
            print("  black hole, queries per second: %s" % x["timeline"])
        p, n = res["pool"], res["no pool"]
        self.assertLessEqual(p["gauge_max"], POOL_MAX)
        self.assertGreater(p["limited"], 0)
        self.assertEqual(n["limited"], 0)
        # The bound: fetches toward the dead server (all of them time out) are at most 4 per
        # zone plus the pool; libunbound sends each at most max-sent-count (32) times.
        bound = len(ZONES) * 4 + POOL_MAX
        self.assertLessEqual(p["timeouts"], bound)
        self.assertLessEqual(p["sink"], bound * 32)
        self.assertLess(p["sink"], n["sink"])
        for x in (p, n):
            ok, total = x["benign"]
            self.assertGreaterEqual(total, 20)
            self.assertGreaterEqual(ok, total * 0.95, x)
            self.assertLess(x["rss"][1] - x["rss"][0], 64 * 1024)
        # Recovery: once the flood is gone the pool drains (the gauge is back to 0).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if eu.control_json(POOL, "stats")["fetch_unresponsive"] == 0:
                break
            time.sleep(0.2)
        self.assertEqual(eu.control_json(POOL, "stats")["fetch_unresponsive"], 0)


if __name__ == "__main__":
    unittest.main()
