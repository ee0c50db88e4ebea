# SPDX-License-Identifier: MIT
"""NSDNAME and NSIP triggers at every delegation point, against BIND 9 `named` (issue 13).

A world of its own (NSD on 127.77.13.x, so it runs beside the shared world of c2w_world.py):

  .1  "."                       root; delegates tld. and net. to ns.tld./ns.net. (.2)
  .2  tld., net.                delegates a.tld. (ns1.a.tld. .3 + ns.hoster.net.), c.tld.
                                (ns.c.tld. .3: an address shared with ns1.a.tld.), d.tld.
                                (ns.hoster.net. only: out of bailiwick), e.tld. (ns.e.tld. .6),
                                hoster.net. (ns.hoster.net. .4)
  .3  a.tld., c.tld.            a.tld. delegates b.a.tld. (ns.b.a.tld. .5)
  .4  hoster.net., a.tld., d.tld.
  .5  b.a.tld.     .6  e.tld.
Every zone has www, a wildcard *.w (names that exist however many are asked) and no nx*.

One policy zone with rules on the name servers at each level, and on the root's and the
TLD's servers (skipped with min-ns-dots 1, BIND's default; checked with 0). c2wall and BIND
load the same file; every query's RCODE, answer RRsets and policy SOA must be the same.

Then the cost, counted at the authorities (`nsd-control stats_noreset`, summed over all of
them): the same cold names sent to c2wall with the name-server rules and to c2wall with a
policy of QNAME rules only. Names with negative answers must cost nothing extra; a name with
a positive answer costs one "NAME NS" look-up (as in BIND); asking again costs nothing.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import dns.exception
import dns.rcode
import dns.rdatatype

import c2w_world as cw

NAMED = "/usr/sbin/named"
NSD_CONTROL = "/usr/sbin/nsd-control"
NET = "127.77.13."
SOA = "1 3600 900 604800 300"

ZONES = {
    ".": f"""$TTL 3600
. SOA a.root. hm.root. {SOA}
. NS a.root.
a.root. A {NET}1
tld. NS ns.tld.
net. NS ns.net.
ns.tld. A {NET}2
ns.net. A {NET}2
""",
    "tld.": f"""$TTL 3600
@ SOA ns.tld. hm.tld. {SOA}
@ NS ns.tld.
ns A {NET}2
a NS ns1.a.tld.
a NS ns.hoster.net.
ns1.a A {NET}3
c NS ns.c.tld.
ns.c A {NET}3
d NS ns.hoster.net.
e NS ns.e.tld.
ns.e A {NET}6
""",
    "net.": f"""$TTL 3600
@ SOA ns.net. hm.net. {SOA}
@ NS ns.net.
ns A {NET}2
hoster NS ns.hoster.net.
ns.hoster A {NET}4
""",
    "a.tld.": f"""$TTL 3600
@ SOA ns1.a.tld. hm.a.tld. {SOA}
@ NS ns1.a.tld.
@ NS ns.hoster.net.
ns1 A {NET}3
www A 192.0.2.10
*.w A 192.0.2.11
b NS ns.b.a.tld.
ns.b A {NET}5
""",
    "b.a.tld.": f"""$TTL 3600
@ SOA ns.b.a.tld. hm.b.a.tld. {SOA}
@ NS ns.b.a.tld.
ns A {NET}5
www A 192.0.2.20
*.w A 192.0.2.21
""",
    "c.tld.": f"""$TTL 3600
@ SOA ns.c.tld. hm.c.tld. {SOA}
@ NS ns.c.tld.
ns A {NET}3
www A 192.0.2.30
*.w A 192.0.2.31
""",
    "d.tld.": f"""$TTL 3600
@ SOA ns.hoster.net. hm.d.tld. {SOA}
@ NS ns.hoster.net.
www A 192.0.2.40
*.w A 192.0.2.41
""",
    "e.tld.": f"""$TTL 3600
@ SOA ns.e.tld. hm.e.tld. {SOA}
@ NS ns.e.tld.
ns A {NET}6
www A 192.0.2.50
*.w A 192.0.2.51
""",
    "hoster.net.": f"""$TTL 3600
@ SOA ns.hoster.net. hm.hoster.net. {SOA}
@ NS ns.hoster.net.
ns A {NET}4
""",
}
SERVERS = {1: ["."], 2: ["tld.", "net."], 3: ["a.tld.", "c.tld."],
           4: ["hoster.net.", "a.tld.", "d.tld."], 5: ["b.a.tld."], 6: ["e.tld."]}

POLICY_ZONE = "nsrules.rpz."
NS_RULES = f"""$TTL 60
@ SOA localhost. root.localhost. 1 3600 600 86400 60
@ NS localhost.
; the closest cut of b.a.tld. names
ns.b.a.tld.rpz-nsdname CNAME .
; an enclosing cut (a.tld.) and an out-of-bailiwick server (d.tld., hoster.net.)
ns.hoster.net.rpz-nsdname CNAME *.
; an address shared by a.tld.'s ns1 and c.tld.'s ns
32.3.13.77.127.rpz-nsip A 192.0.2.99
; QNAME beats NSDNAME in one zone
qn.b.a.tld CNAME *.
; the TLD's and the root's servers: skipped with min-ns-dots 1
ns.tld.rpz-nsdname CNAME .
32.2.13.77.127.rpz-nsip CNAME .
32.1.13.77.127.rpz-nsip CNAME .
a.root.rpz-nsdname CNAME .
"""
QNAME_ONLY = f"""$TTL 60
@ SOA localhost. root.localhost. 1 3600 600 86400 60
@ NS localhost.
qn.b.a.tld CNAME *.
"""

QUERIES = [(n, "A") for n in (
    "www.b.a.tld.", "x1.w.b.a.tld.", "nx1.b.a.tld.", "b.a.tld.", "ns.b.a.tld.", "qn.b.a.tld.",
    "www.a.tld.", "x1.w.a.tld.", "nx1.a.tld.", "a.tld.", "ns1.a.tld.",
    "www.c.tld.", "x1.w.c.tld.", "nx1.c.tld.", "c.tld.",
    "www.d.tld.", "x1.w.d.tld.", "nx1.d.tld.", "d.tld.",
    "www.e.tld.", "x1.w.e.tld.", "nx1.e.tld.", "e.tld.",
    "ns.hoster.net.", "hoster.net.", "nx.hoster.net.", "tld.", "nx.tld.")] + [
    ("b.a.tld.", "NS"), ("a.tld.", "SOA"), ("www.c.tld.", "TXT"), ("x2.w.a.tld.", "AAAA")]

WORLD = None


class NsWorld:
    """NSD servers for ZONES; the attributes C2wall needs (tmp, root_hints, trust_anchor)."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="c2w-nsworld-")
        self.root_hints = os.path.join(self.tmp, "root.hints")
        self.trust_anchor = None
        self.procs = {}

    def start(self):
        with open(self.root_hints, "w") as f:
            f.write(". 3600000 NS a.root.\na.root. 3600000 A %s1\n" % NET)
        for n, origins in SERVERS.items():
            d = os.path.join(self.tmp, "nsd%d" % n)
            os.makedirs(d)
            conf = os.path.join(d, "nsd.conf")
            zl = ""
            for o in origins:
                p = os.path.join(d, (o.rstrip(".") or "root") + ".zone")
                with open(p, "w") as f:
                    f.write(ZONES[o])
                zl += 'zone:\n    name: "%s"\n    zonefile: "%s"\n' % (o, p)
            with open(conf, "w") as f:
                f.write(f"""server:
    ip-address: {NET}{n}@53
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "{d}"
    database: ""
    zonelistfile: "{d}/zone.list"
    xfrdfile: "{d}/xfrd.state"
    pidfile: "{d}/nsd.pid"
    logfile: "{d}/nsd.log"
    refuse-any: no
    reuseport: no
remote-control:
    control-enable: yes
    control-interface: {d}/ctl.sock
{zl}""")
            err = open(os.path.join(d, "stderr"), "w")
            p = subprocess.Popen([cw.NSD, "-d", "-c", conf], stdout=err, stderr=err,
                                 stdin=subprocess.DEVNULL)
            err.close()
            cw._register(p)
            self.procs[n] = (p, conf)
        for n, origins in SERVERS.items():
            cw.wait_answer(NET + str(n), 53, origins[0], "SOA", 10, self.procs[n][0])
        return self

    def queries(self):
        """Queries received by all the authorities so far."""
        total = 0
        for n, (_, conf) in self.procs.items():
            out = cw.run([NSD_CONTROL, "-c", conf, "stats_noreset"], timeout=10)
            for line in out.splitlines():
                if line.startswith("num.queries="):
                    total += int(line.split("=", 1)[1])
        return total

    def stop(self):
        for p, _ in self.procs.values():
            cw._stop_proc(p)
        self.procs = {}
        if not cw.KEEP_TMP:
            shutil.rmtree(self.tmp, ignore_errors=True)


class Named:
    """BIND 9 named, recursive from the world's root hints, with the policy zone."""

    def __init__(self, world, feed, min_ns_dots):
        self.dir = tempfile.mkdtemp(prefix="named-", dir=world.tmp)
        self.addr, self.port = "127.0.0.1", cw.free_port("127.0.0.1")
        conf = """options {
    directory "%(d)s";
    pid-file "%(d)s/named.pid";
    session-keyfile "%(d)s/session.key";
    listen-on port %(port)d { %(addr)s; };
    listen-on-v6 { none; };
    recursion yes;
    allow-query { any; };
    allow-recursion { any; };
    dnssec-validation no;
    max-udp-size 1232;
    edns-udp-size 1232;
    response-policy { zone "%(zone)s"; } qname-wait-recurse no add-soa yes
        max-policy-ttl 1d min-ns-dots %(dots)d;
};
controls { };
logging { category default { default_stderr; }; };
zone "." { type hint; file "%(hints)s"; };
zone "%(zone)s" { type primary; file "%(feed)s"; };
""" % {"d": self.dir, "port": self.port, "addr": self.addr, "zone": POLICY_ZONE,
            "dots": min_ns_dots, "hints": world.root_hints, "feed": feed}
        self.conf = os.path.join(self.dir, "named.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.proc = None

    def start(self):
        self.err = open(os.path.join(self.dir, "stderr"), "wb")
        self.proc = subprocess.Popen([NAMED, "-g", "-4", "-n", "1", "-c", self.conf],
                                     stdout=self.err, stderr=self.err, stdin=subprocess.DEVNULL)
        cw._register(self.proc)
        cw.wait_answer(self.addr, self.port, "tld.", "SOA", 20, self.proc)
        return self

    def stop(self):
        if self.proc is not None:
            cw._stop_proc(self.proc, signal.SIGTERM)
            self.err.close()

    make_query = cw.Resolver.make_query
    udp = cw.Resolver.udp


def c2wall(feed, min_ns_dots=None, name="c2wall", workers=2, ddos=True):
    pol = {"zones": [{"name": POLICY_ZONE, "file": feed}]}
    if min_ns_dots is not None:
        pol["min-ns-dots"] = min_ns_dots
    extra = {"policy": pol}
    if not ddos:
        extra["ddos"] = {"enabled": False}
    return cw.C2wall(WORLD, mode="recursive", validate=False, timeout_ms=4000,
                     workers=workers, extra=extra, name=name).start()


def normalize(m):
    if m is None:
        return "no answer"
    answer = sorted((rr.name.to_text(), dns.rdatatype.to_text(rr.rdtype),
                     tuple(sorted(rd.to_text() for rd in rr))) for rr in m.answer)
    soa = sorted(rr.name.to_text() for rr in m.additional
                 if rr.rdtype == dns.rdatatype.SOA and rr.name.to_text() == POLICY_ZONE)
    return {"rcode": dns.rcode.to_text(m.rcode()), "answer": answer, "policy-soa": soa}


def ask(r, qname, rdtype="A"):
    try:
        return r.udp(qname, rdtype, timeout=4.0)
    except dns.exception.Timeout:
        return None


def setUpModule():
    global WORLD, FEEDS
    if not os.access(NAMED, os.X_OK) or not os.access(NSD_CONTROL, os.X_OK):
        raise unittest.SkipTest("BIND 9 named or nsd-control not installed")
    WORLD = NsWorld().start()
    FEEDS = tempfile.mkdtemp(prefix="feeds-", dir=WORLD.tmp)
    for fname, text in (("ns.rpz", NS_RULES), ("qname.rpz", QNAME_ONLY)):
        with open(os.path.join(FEEDS, fname), "w") as f:
            f.write(text)


def tearDownModule():
    if WORLD is not None:
        WORLD.stop()


class Pair:
    """c2wall and named with the same policy file and min-ns-dots."""

    def __init__(self, dots):
        feed = os.path.join(FEEDS, "ns.rpz")
        self.bind = Named(WORLD, feed, 1 if dots is None else dots).start()
        try:
            self.c2 = c2wall(feed, dots, name="c2wall-dots%s" % dots)
        except BaseException:
            self.bind.stop()
            raise

    def compare(self, queries):
        diffs, answers = [], {}
        for qname, rdtype in queries:
            b = normalize(ask(self.bind, qname, rdtype))
            c = normalize(ask(self.c2, qname, rdtype))
            answers[(qname, rdtype)] = c
            if b != c:
                diffs.append("%s %s:\n  bind   %s\n  c2wall %s" % (qname, rdtype, b, c))
        return diffs, answers

    def stop(self):
        try:
            self.c2.stop(check=True)
        finally:
            self.bind.stop()


def rcode(answers, qname, rdtype="A"):
    return answers[(qname, rdtype)]["rcode"]


class TestDelegationPoints(unittest.TestCase):
    """Default min-ns-dots (1): every cut except the root and the TLDs."""

    @classmethod
    def setUpClass(cls):
        cls.pair = Pair(None)

    @classmethod
    def tearDownClass(cls):
        cls.pair.stop()

    def test_same_as_bind_twice(self):
        # Twice: the second round is answered from the caches (libunbound's, the cut cache)
        # and must not change a thing.
        for rnd in (1, 2):
            diffs, answers = self.pair.compare(QUERIES)
            print("round %d: %d queries compared, %d differ" % (rnd, len(QUERIES), len(diffs)))
            self.assertEqual(diffs, [], "\n" + "\n".join(diffs))
        # And the rules really act where they should (BIND agrees, so these say what both do).
        self.assertEqual(rcode(answers, "x1.w.b.a.tld."), "NXDOMAIN")   # closest cut
        self.assertEqual(rcode(answers, "nx1.b.a.tld."), "NXDOMAIN")
        self.assertEqual(answers[("x1.w.a.tld.", "A")]["answer"], [])  # enclosing, NODATA
        self.assertEqual(answers[("www.d.tld.", "A")]["answer"], [])   # out of bailiwick
        self.assertEqual(answers[("www.c.tld.", "A")]["answer"],       # shared address
                         [("www.c.tld.", "A", ("192.0.2.99",))])
        self.assertEqual(answers[("www.e.tld.", "A")]["answer"],       # TLD/root skipped
                         [("www.e.tld.", "A", ("192.0.2.50",))])
        self.assertEqual(answers[("qn.b.a.tld.", "A")]["rcode"], "NOERROR")

    def test_z_counters(self):
        """After the comparison: the walk used the cut cache more than libunbound."""
        stats = cw_stats(self.pair.c2)
        self.assertGreater(stats["cut_lookups"], 0)
        self.assertGreater(stats["cut_cache_hits"], stats["cut_lookups"])
        self.assertEqual(stats["cut_walks_short"], 0)


class TestMinNsDotsZero(unittest.TestCase):
    """min-ns-dots 0: the TLD's servers are checked too (never the root's)."""

    def test_same_as_bind(self):
        pair = Pair(0)
        try:
            diffs, answers = pair.compare(QUERIES)
            print("%d queries compared, %d differ" % (len(QUERIES), len(diffs)))
            self.assertEqual(diffs, [], "\n" + "\n".join(diffs))
            self.assertEqual(rcode(answers, "www.e.tld."), "NXDOMAIN")  # ns.tld. now counts
            self.assertEqual(rcode(answers, "ns.hoster.net."), "NOERROR")  # net.: no rule
        finally:
            pair.stop()


def cw_stats(r):
    import events_util
    return events_util.control_json(r, "stats")


class TestUpstreamCost(unittest.TestCase):
    """Queries at the authorities: name-server rules against QNAME rules only, same names."""

    # Cold names per zone (5 zones, negative and positive each); bench/ns_cost.sh sets more.
    COLD = int(os.environ.get("C2W_NS_COLD", "15"))

    def run_names(self, r, names, times=None, key=None):
        before = WORLD.queries()
        t0 = time.monotonic()
        for n in names:
            m = ask(r, n)
            self.assertIsNotNone(m, n)
        if times is not None:
            times[key] = time.monotonic() - t0
        return WORLD.queries() - before

    def costs(self, feed):
        # One worker: each worker has its own libunbound cache and cut cache. No water-torture
        # defence: many cold names per zone are what it absorbs, which is not counted here.
        r = c2wall(os.path.join(FEEDS, feed), name="c2wall-" + feed, workers=1, ddos=False)
        try:
            out = {"time": {}}
            # Warm: one name per zone, so every cut is known (its cost is paid here once).
            out["warm"] = self.run_names(r, ["www.b.a.tld.", "www.a.tld.", "www.c.tld.",
                                             "www.d.tld.", "www.e.tld.", "nx0.b.a.tld.",
                                             "y0.w.b.a.tld."])
            zones = ("b.a.tld.", "a.tld.", "c.tld.", "d.tld.", "e.tld.")
            out["negative"] = self.run_names(
                r, ["nx%d.%s" % (i, z) for i in range(1, self.COLD + 1) for z in zones],
                out["time"], "negative")
            pos = ["y%d.w.%s" % (i, z) for i in range(1, self.COLD + 1) for z in zones]
            out["positive"] = self.run_names(r, pos, out["time"], "positive")
            out["again"] = self.run_names(r, pos, out["time"], "again")
            try:
                out["stats"] = cw_stats(r)
            except (AssertionError, ValueError):
                out["stats"] = {}

            return out
        finally:
            r.stop(check=True)

    def test_no_extra_queries_per_name(self):
        plain = self.costs("qname.rpz")
        ns = self.costs("ns.rpz")
        n = self.COLD * 5
        print("%d names per kind; authority queries (seconds, one client, one at a time)" % n)
        print("             qname-only         ns-rules")
        for k in ("warm", "negative", "positive", "again"):
            tp, tn = plain["time"].get(k), ns["time"].get(k)
            print("  %-9s %6d %-9s %6d %s" % (k, plain[k], "(%.2fs)" % tp if tp else "",
                                             ns[k], "(%.2fs)" % tn if tn else ""))
        st = ns["stats"]
        print("ns rules: %s NS look-ups, %s address look-ups, %s cut-cache hits" %
              (st.get("cut_lookups"), st.get("cut_addr_lookups"), st.get("cut_cache_hits")))
        # Negative answers name their zone: no look-up at all per name. (Over thousands of
        # names libunbound's own work varies by a few queries either way: 1 % slack, none in
        # the CTest-sized run.)
        slack = n // 100
        self.assertLessEqual(ns["negative"], plain["negative"] + slack)
        # Positive answers: at most one "NAME NS" per new name (BIND asks the same).
        # (At 5,000 names: 1.03 per name, libunbound adding a few of its own.)
        self.assertLessEqual(ns["positive"] - plain["positive"], n + 5 * slack)
        # Asked again: everything from the caches.
        self.assertEqual(ns["again"], 0)
        self.assertEqual(plain["again"], 0)


if __name__ == "__main__":
    cw.main()
