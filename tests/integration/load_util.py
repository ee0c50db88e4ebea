# SPDX-License-Identifier: MIT
"""Bounded UDP load for the abuse tests: many queries from chosen loopback source addresses,
a fixed number outstanding per source, every query answered or given up after a deadline.
Records each answer's RCODE, EDE texts and latency; nothing here runs past its deadline."""

import random
import select
import socket
import string
import time

import dns.message
import dns.rcode


def random_names(zone, count, seed=None, prefix=""):
    rnd = random.Random(seed)
    alphabet = string.ascii_lowercase + string.digits
    return ["%s%s.%s" % (prefix, "".join(rnd.choice(alphabet) for _ in range(12)), zone)
            for _ in range(count)]


class Result:
    def __init__(self):
        self.sent = 0
        self.rcodes = {}        # text -> count
        self.ede_texts = {}     # text -> count
        self.latencies = []     # seconds, answered queries
        self.lost = 0           # no answer before the deadline / per-query timeout

    def answered(self):
        return sum(self.rcodes.values())

    def count(self, rc):
        return self.rcodes.get(rc, 0)

    def pct(self, q):
        if not self.latencies:
            return None
        s = sorted(self.latencies)
        return s[min(len(s) - 1, int(len(s) * q))]

    def __repr__(self):
        return ("sent=%d answered=%d lost=%d rcodes=%s ede=%s p50=%s p99=%s" %
                (self.sent, self.answered(), self.lost, self.rcodes, self.ede_texts,
                 self.pct(0.5), self.pct(0.99)))


def blast(addr, port, names, sources=("127.0.0.1",), outstanding=100, query_timeout=5.0,
          deadline=60.0, rdtype="A", rate=None):
    """Send @names spread over @sources, at most @outstanding in flight per source (and at most
    @rate queries/s overall when given). Returns a Result once every query is answered or
    timed out, or @deadline seconds passed."""
    res = Result()
    socks = []
    for src in sources:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((src, 0))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        s.setblocking(False)
        socks.append({"s": s, "pending": {}, "next_id": random.randrange(65536)})
    todo = list(names)
    t_end = time.monotonic() + deadline
    t0 = time.monotonic()
    try:
        while time.monotonic() < t_end and (todo or any(x["pending"] for x in socks)):
            now = time.monotonic()
            for x in socks:
                while todo and len(x["pending"]) < outstanding:
                    if rate is not None and res.sent >= rate * (now - t0) + 1:
                        break
                    name = todo.pop()
                    qid = x["next_id"] = (x["next_id"] + 1) & 0xffff
                    if qid in x["pending"]:
                        todo.append(name)
                        break
                    q = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)
                    q.id = qid
                    try:
                        x["s"].sendto(q.to_wire(), (addr, port))
                    except BlockingIOError:
                        todo.append(name)
                        break
                    x["pending"][qid] = now
                    res.sent += 1
                # expire
                for qid in [k for k, t in x["pending"].items() if now - t > query_timeout]:
                    del x["pending"][qid]
                    res.lost += 1
            r, _, _ = select.select([x["s"] for x in socks], [], [], 0.01)
            for x in socks:
                if x["s"] not in r:
                    continue
                while True:
                    try:
                        wire = x["s"].recv(65535)
                    except BlockingIOError:
                        break
                    try:
                        m = dns.message.from_wire(wire)
                    except Exception:
                        continue
                    t = x["pending"].pop(m.id, None)
                    if t is None:
                        continue
                    res.latencies.append(time.monotonic() - t)
                    rc = dns.rcode.to_text(m.rcode())
                    res.rcodes[rc] = res.rcodes.get(rc, 0) + 1
                    for o in m.options:
                        text = getattr(o, "text", None)
                        if text:
                            res.ede_texts[text] = res.ede_texts.get(text, 0) + 1
        for x in socks:
            res.lost += len(x["pending"])
    finally:
        for x in socks:
            x["s"].close()
    return res


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
