# SPDX-License-Identifier: MIT
"""The RPZ policy engine in the running daemon (issue 3), in the local test world.

Every trigger (QNAME exact and wildcard, CLIENT-IP, RESPONSE-IP v4/v6, NSDNAME, NSIP in
recursive mode) and every action (NXDOMAIN, NODATA, PASSTHRU, DROP, TCP-ONLY, local data per
type, CNAME to another name and the "*." form keeping the query name, zone overrides sinkhole,
log and cname), over UDP and TCP. Each rewritten answer is checked for its RCODE, records, TTLs,
the SOA of the policy zone that acted in the additional section, no AD, and EDE 15 (17 for a zone
with `ede: filtered`) naming the zone. Also: CNAME chains that lead into blocked names,
precedence across zones, shadow mode, the never-block list, "never touch C&C infrastructure"
(a blocked name under the black-hole authority is answered at once and the authority sees no
query), reloads refused by the guard rails, and `c2wall explain` against the running config.

Names under open.example.test. all exist in the world (a wildcard: A 192.0.2.80, AAAA
2001:db8::80, TXT "open"), so every rewrite is told apart from the real answer.
"""

import os
import subprocess
import tempfile
import time
import unittest

import dns.edns
import dns.exception
import dns.flags
import dns.rcode
import dns.rdatatype

import c2w_world as cw
from c2w_world import DATA, describe, rrset_values

WORLD = R = RNS = None
FEEDS = None
OPEN = DATA["x.open.example.test."]

RULE_TTL = 60  # $TTL of the feeds: the TTL of every rewritten record
SOA_TTL = 30   # min(SOA TTL 60, SOA MINIMUM 30): BIND's add-soa TTL

SOA = "@ SOA ns.%(z)s hostmaster.%(z)s 7 3600 600 86400 30\n@ NS localhost.\n"

# Shadow zone (policy: log), first in precedence order: never acts.
SHADOW_RPZ = """$TTL 60
""" + SOA + """
shadow.open.example.test CNAME .
nx.open.example.test A 192.0.2.9
"""

# The main zone: every trigger and action that can act at query time, plus RESPONSE-IP.
RPZ1 = """$TTL 60
""" + SOA + """
nx.open.example.test      CNAME .                ; category=c2 family=emotet
*.wnx.open.example.test   CNAME .
ex.wnx.open.example.test  A 192.0.2.224          ; exact beats the wildcard above
nodata.open.example.test  CNAME *.
pass.open.example.test    CNAME rpz-passthru.
drop.open.example.test    CNAME rpz-drop.
tcponly.open.example.test CNAME rpz-tcp-only.
local.open.example.test   A 192.0.2.201
local.open.example.test   AAAA 2001:db8::201
local.open.example.test   TXT "local data"
local.open.example.test   MX 10 mx.local.example.
cn.open.example.test      CNAME www.other.test.
*.keep.open.example.test  CNAME *.g.open.example.test.
cname-c.example.test      CNAME .
prec.open.example.test    CNAME .
c2.dead.test              CNAME .
safe.open.example.test    CNAME .
*.nb.open.example.test    CNAME .
32.2.0.0.127.rpz-client-ip CNAME .
32.66.2.0.192.rpz-ip      CNAME .
128.66.zz.db8.2001.rpz-ip AAAA 2001:db8::bad
"""

# Second zone: loses to the first one wherever both match.
RPZ2 = """$TTL 60
""" + SOA + """
prec.open.example.test    A 192.0.2.222
z2.open.example.test      A 192.0.2.222
x.wnx.open.example.test   A 192.0.2.223
"""

SINK_DOMAINS = "sinkme.open.example.test\n"
GARDEN_HOSTS = "0.0.0.0 walled.open.example.test\n"
FILTERED_RPZ = """$TTL 60
""" + SOA + """
filt.open.example.test CNAME .
"""

# Response-side name-server triggers (separate daemon: they make every later QNAME rule wait
# for recursion, and they need the zone's NS records from libunbound).
NS_RPZ = """$TTL 60
""" + SOA + """
ns.other.test.rpz-nsdname   CNAME .
*.secure.test.rpz-nsdname   A 192.0.2.99
32.5.0.53.127.rpz-nsip      CNAME *.
"""

SINK4, SINK6 = "192.0.2.250", "2001:db8::250"
GARDEN = "www.other.test."
NEVER_BLOCK = ["safe.open.example.test", "keep.nb.open.example.test"]


def write(d, name, text):
    p = os.path.join(d, name)
    with open(p, "w") as f:
        f.write(text)
    return p


def rpz(text, zone):
    """The feed text for policy zone @zone (its SOA names the zone)."""
    return text.replace("%(z)s", zone)


def replace_feed(path, zone, body):
    """Write @body (rule lines) as the feed of policy zone @zone at @path, atomically."""
    with open(path + ".tmp", "w") as f:
        f.write("$TTL 60\n" + rpz(SOA, zone) + body)
    os.replace(path + ".tmp", path)


def setUpModule():
    global WORLD, R, RNS, FEEDS
    WORLD = cw.World().start()
    FEEDS = tempfile.mkdtemp(prefix="feeds-", dir=WORLD.tmp)
    zones = [
        {"name": "shadow.c2w.", "file": write(FEEDS, "shadow.rpz", rpz(SHADOW_RPZ, "shadow.c2w.")),
         "policy": "log"},
        {"name": "rpz1.c2w.", "file": write(FEEDS, "rpz1.rpz", rpz(RPZ1, "rpz1.c2w.")),
         "category": "c2", "feed": "feed-one"},
        {"name": "rpz2.c2w.", "file": write(FEEDS, "rpz2.rpz", rpz(RPZ2, "rpz2.c2w."))},
        {"name": "sink.c2w.", "file": write(FEEDS, "sink.txt", SINK_DOMAINS),
         "format": "domains", "policy": "sinkhole"},
        {"name": "garden.c2w.", "file": write(FEEDS, "garden.hosts", GARDEN_HOSTS),
         "format": "hosts", "policy": "cname " + GARDEN},
        {"name": "filtered.c2w.",
         "file": write(FEEDS, "filtered.rpz", rpz(FILTERED_RPZ, "filtered.c2w.")),
         "ede": "filtered"},
    ]
    extra = {"policy": {"zones": zones, "never-block": NEVER_BLOCK},
             "sinkhole": {"ipv4": SINK4, "ipv6": SINK6}}
    R = cw.C2wall(WORLD, mode="recursive", extra=extra, name="c2wall-policy").start()
    ns_zones = [{"name": "ns.c2w.", "file": write(FEEDS, "ns.rpz", rpz(NS_RPZ, "ns.c2w."))}]
    RNS = cw.C2wall(WORLD, mode="recursive", extra={"policy": {"zones": ns_zones}},
                    name="c2wall-ns").start()


def tearDownModule():
    try:
        for r in (R, RNS):
            if r is not None and r.running():
                r.stop(check=True)
    finally:
        WORLD.stop()


def soa_owners(m):
    return [rr.name.to_text() for rr in m.additional if rr.rdtype == dns.rdatatype.SOA]


def edes(m):
    return [(o.code, o.text or "") for o in (m.options or []) if o.otype == dns.edns.EDE]


def ttls(m, section="answer"):
    return sorted({rr.ttl for rr in getattr(m, section)})


class PolicyCase(unittest.TestCase):
    r = None

    def both(self, qname, rdtype="A", **kw):
        """The same query over UDP and TCP: [("udp", msg), ("tcp", msg)]."""
        kw.setdefault("want_dnssec", True)  # DO+AD: AD would show if it leaked
        kw.setdefault("ad", True)
        return [("udp", self.r.udp(qname, rdtype, **kw)), ("tcp", self.r.tcp(qname, rdtype, **kw))]

    def assertRewrite(self, m, zone, rcode, ede=15, soa_ttl=SOA_TTL):
        """A rewritten answer: RCODE, policy SOA (TTL min(TTL, MINIMUM)) in additional,
        no AD, no AA, EDE naming the zone."""
        d = describe(m)
        self.assertEqual(dns.rcode.to_text(m.rcode()), rcode, d)
        self.assertFalse(m.flags & dns.flags.AD, "AD set on a rewrite" + d)
        self.assertFalse(m.flags & dns.flags.AA, d)
        self.assertEqual(soa_owners(m), [zone], "policy SOA in additional" + d)
        soa = [rr for rr in m.additional if rr.rdtype == dns.rdatatype.SOA][0]
        self.assertEqual(soa.ttl, soa_ttl, d)
        self.assertEqual(len(m.authority), 0, d)
        e = edes(m)
        self.assertEqual([c for c, _ in e], [ede], d)
        self.assertIn(zone, e[0][1], d)

    def assertNormal(self, m, qname, rdtype, values):
        d = describe(m)
        self.assertEqual(dns.rcode.to_text(m.rcode()), "NOERROR", d)
        self.assertEqual(rrset_values(m, "answer", qname, rdtype), sorted(values), d)
        self.assertEqual(soa_owners(m), [], d)
        self.assertEqual(edes(m), [], d)


class TestQueryTriggers(PolicyCase):
    """QNAME and CLIENT-IP triggers, answered without recursion, every action."""

    @classmethod
    def setUpClass(cls):
        cls.r = R

    def test_unblocked_name_resolves(self):
        for proto, m in self.both("www.example.test.", "A"):
            with self.subTest(proto=proto):
                self.assertNormal(m, "www.example.test.", "A", [DATA["www.example.test."]["A"]])

    def test_qname_exact_nxdomain(self):
        for t in ("A", "AAAA", "TXT"):
            for proto, m in self.both("nx.open.example.test.", t):
                with self.subTest(proto=proto, type=t):
                    self.assertRewrite(m, "rpz1.c2w.", "NXDOMAIN")
                    self.assertEqual(len(m.answer), 0, describe(m))

    def test_qname_case_insensitive(self):
        m = self.r.udp("Nx.OPEN.Example.Test.", "A")
        self.assertRewrite(m, "rpz1.c2w.", "NXDOMAIN")

    def test_qname_wildcard_matches_below_only(self):
        for name in ("a.wnx.open.example.test.", "b.c.wnx.open.example.test."):
            for proto, m in self.both(name, "A"):
                with self.subTest(proto=proto, name=name):
                    self.assertRewrite(m, "rpz1.c2w.", "NXDOMAIN")
        # "*.wnx" does not cover wnx itself.
        m = self.r.udp("wnx.open.example.test.", "A")
        self.assertNormal(m, "wnx.open.example.test.", "A", [OPEN["A"]])

    def test_qname_exact_beats_wildcard(self):
        for proto, m in self.both("ex.wnx.open.example.test.", "A"):
            with self.subTest(proto=proto):
                self.assertRewrite(m, "rpz1.c2w.", "NOERROR")
                self.assertEqual(rrset_values(m, "answer", "ex.wnx.open.example.test.", "A"),
                                 ["192.0.2.224"], describe(m))

    def test_nodata(self):
        for t in ("A", "AAAA"):
            for proto, m in self.both("nodata.open.example.test.", t):
                with self.subTest(proto=proto, type=t):
                    self.assertRewrite(m, "rpz1.c2w.", "NOERROR")
                    self.assertEqual(len(m.answer), 0, describe(m))

    def test_passthru_answers_normally(self):
        for proto, m in self.both("pass.open.example.test.", "A"):
            with self.subTest(proto=proto):
                self.assertNormal(m, "pass.open.example.test.", "A", [OPEN["A"]])

    def test_drop_sends_nothing(self):
        with self.assertRaises(dns.exception.Timeout):
            self.r.udp("drop.open.example.test.", "A", timeout=1.0)
        with self.assertRaises(dns.exception.Timeout):
            self.r.tcp("drop.open.example.test.", "A", timeout=1.0)
        # The daemon is fine afterwards.
        m = self.r.udp("www.example.test.", "A")
        self.assertEqual(m.rcode(), dns.rcode.NOERROR)

    def test_tcp_only(self):
        m = self.r.udp("tcponly.open.example.test.", "A")
        self.assertTrue(m.flags & dns.flags.TC, describe(m))
        self.assertEqual(len(m.answer), 0, describe(m))
        self.assertEqual(m.rcode(), dns.rcode.NOERROR)
        m = self.r.tcp("tcponly.open.example.test.", "A")
        self.assertFalse(m.flags & dns.flags.TC, describe(m))
        self.assertNormal(m, "tcponly.open.example.test.", "A", [OPEN["A"]])

    def test_local_data_per_type(self):
        want = {"A": ["192.0.2.201"], "AAAA": ["2001:db8::201"], "TXT": ['"local data"'],
                "MX": ["10 mx.local.example."]}
        for t, values in want.items():
            for proto, m in self.both("local.open.example.test.", t):
                with self.subTest(proto=proto, type=t):
                    self.assertRewrite(m, "rpz1.c2w.", "NOERROR")
                    self.assertEqual(rrset_values(m, "answer", "local.open.example.test.", t),
                                     values, describe(m))
                    self.assertEqual(len(m.answer), 1, describe(m))
                    self.assertEqual(ttls(m), [RULE_TTL], describe(m))

    def test_local_data_other_type_is_nodata(self):
        for t in ("SRV", "CAA", "NS"):
            for proto, m in self.both("local.open.example.test.", t):
                with self.subTest(proto=proto, type=t):
                    self.assertRewrite(m, "rpz1.c2w.", "NOERROR")
                    self.assertEqual(len(m.answer), 0, describe(m))

    def test_cname_to_other_name_is_followed(self):
        """BIND answers the CNAME and the target's records (the target is not re-checked)."""
        for proto, m in self.both("cn.open.example.test.", "A"):
            with self.subTest(proto=proto):
                self.assertRewrite(m, "rpz1.c2w.", "NOERROR")
                self.assertEqual(rrset_values(m, "answer", "cn.open.example.test.", "CNAME"),
                                 ["www.other.test."], describe(m))
                self.assertEqual(rrset_values(m, "answer", "www.other.test.", "A"),
                                 [DATA["www.other.test."]["A"]], describe(m))
                cn = [rr for rr in m.answer if rr.rdtype == dns.rdatatype.CNAME][0]
                self.assertEqual(cn.ttl, RULE_TTL, describe(m))

    def test_cname_target_nodata(self):
        m = self.r.udp("cn.open.example.test.", "AAAA")
        self.assertRewrite(m, "rpz1.c2w.", "NOERROR")
        self.assertEqual(rrset_values(m, "answer", "cn.open.example.test.", "CNAME"),
                         ["www.other.test."], describe(m))
        self.assertEqual(len(m.answer), 1, describe(m))

    def test_cname_wildcard_form_keeps_query_name(self):
        q = "host.keep.open.example.test."
        target = q + "g.open.example.test."
        for proto, m in self.both(q, "A"):
            with self.subTest(proto=proto):
                self.assertRewrite(m, "rpz1.c2w.", "NOERROR")
                self.assertEqual(rrset_values(m, "answer", q, "CNAME"), [target], describe(m))
                self.assertEqual(rrset_values(m, "answer", target, "A"), [OPEN["A"]],
                                 describe(m))

    def test_client_ip(self):
        for proto, m in self.both("www.example.test.", "A", source="127.0.0.2"):
            with self.subTest(proto=proto):
                self.assertRewrite(m, "rpz1.c2w.", "NXDOMAIN")
        m = self.r.udp("www.example.test.", "A", source="127.0.0.3")
        self.assertNormal(m, "www.example.test.", "A", [DATA["www.example.test."]["A"]])

    def test_never_block_exact_rule_dropped(self):
        for proto, m in self.both("safe.open.example.test.", "A"):
            with self.subTest(proto=proto):
                self.assertNormal(m, "safe.open.example.test.", "A", [OPEN["A"]])
        self.assertIn("safe.open.example.test", self.r.stderr_text())

    def test_never_block_beats_wildcard(self):
        m = self.r.udp("keep.nb.open.example.test.", "A")
        self.assertNormal(m, "keep.nb.open.example.test.", "A", [OPEN["A"]])
        m = self.r.udp("other.nb.open.example.test.", "A")
        self.assertRewrite(m, "rpz1.c2w.", "NXDOMAIN")

    def test_never_touch_cc_infrastructure(self):
        """c2.dead.test. is under dead.test., whose authority is the black hole: blocked, it
        is answered at once and the black hole sees nothing; unblocked names there do reach
        it (and time out), which shows the counter works."""
        bh = WORLD.blackhole
        before = bh.queries
        for proto, fn in (("udp", self.r.udp), ("tcp", self.r.tcp)):
            t0 = time.monotonic()
            m = fn("c2.dead.test.", "A", timeout=2.0)
            took = time.monotonic() - t0
            with self.subTest(proto=proto):
                self.assertRewrite(m, "rpz1.c2w.", "NXDOMAIN")
                self.assertLess(took, 0.5, "blocked name must not wait for recursion")
        time.sleep(0.5)
        self.assertEqual(bh.queries, before, "the C&C authority was queried")
        t0 = time.monotonic()
        m = self.r.udp("unblocked.dead.test.", "A", timeout=5.0)
        self.assertEqual(dns.rcode.to_text(m.rcode()), "SERVFAIL", describe(m))
        self.assertGreater(time.monotonic() - t0, 1.0)
        self.assertGreater(bh.queries, before, "black hole counter did not move")


class TestResponseTriggers(PolicyCase):
    """RESPONSE-IP triggers, CNAME chains into blocked names, later zones, overrides."""

    @classmethod
    def setUpClass(cls):
        cls.r = R

    def test_response_ip_v4(self):
        for proto, m in self.both("rip4.example.test.", "A"):
            with self.subTest(proto=proto):
                self.assertRewrite(m, "rpz1.c2w.", "NXDOMAIN")
                self.assertEqual(len(m.answer), 0, describe(m))

    def test_response_ip_v6_local_data(self):
        for proto, m in self.both("rip6.example.test.", "AAAA"):
            with self.subTest(proto=proto):
                self.assertRewrite(m, "rpz1.c2w.", "NOERROR")
                self.assertEqual(rrset_values(m, "answer", "rip6.example.test.", "AAAA"),
                                 ["2001:db8::bad"], describe(m))
                self.assertEqual(ttls(m), [RULE_TTL], describe(m))
        # The A record of the same name matches no rule.
        m = self.r.udp("rip6.example.test.", "A")
        self.assertNormal(m, "rip6.example.test.", "A", [DATA["rip6.example.test."]["A"]])

    def test_cname_chain_into_blocked_name(self):
        """cname-a -> cname-b.other.test -> cname-c (blocked): the chain up to the blocked
        name is kept and the rcode is the rule's, as BIND gives it."""
        for proto, m in self.both(cw.CNAME_CHAIN[0], "A"):
            with self.subTest(proto=proto):
                self.assertRewrite(m, "rpz1.c2w.", "NXDOMAIN")
                self.assertEqual(rrset_values(m, "answer", cw.CNAME_CHAIN[0], "CNAME"),
                                 [cw.CNAME_CHAIN[1]], describe(m))
                self.assertEqual(rrset_values(m, "answer", cw.CNAME_CHAIN[1], "CNAME"),
                                 [cw.CNAME_CHAIN[2]], describe(m))
                self.assertEqual(len(m.answer), 2, describe(m))
        # Twice: the second time libunbound answers from its cache.
        m = self.r.udp(cw.CNAME_CHAIN[0], "A")
        self.assertRewrite(m, "rpz1.c2w.", "NXDOMAIN")
        # The middle of the chain alone is not blocked, but leads into the blocked name.
        m = self.r.udp(cw.CNAME_CHAIN[1], "A")
        self.assertRewrite(m, "rpz1.c2w.", "NXDOMAIN")
        self.assertEqual(len(m.answer), 1, describe(m))

    def test_precedence_first_zone_wins(self):
        for proto, m in self.both("prec.open.example.test.", "A"):
            with self.subTest(proto=proto):
                self.assertRewrite(m, "rpz1.c2w.", "NXDOMAIN")
        # zone order beats exact-over-wildcard: rpz1's *.wnx wins over rpz2's exact name
        m = self.r.udp("x.wnx.open.example.test.", "A")
        self.assertRewrite(m, "rpz1.c2w.", "NXDOMAIN")

    def test_second_zone_acts_alone(self):
        for proto, m in self.both("z2.open.example.test.", "A"):
            with self.subTest(proto=proto):
                self.assertRewrite(m, "rpz2.c2w.", "NOERROR")
                self.assertEqual(rrset_values(m, "answer", "z2.open.example.test.", "A"),
                                 ["192.0.2.222"], describe(m))

    def test_shadow_mode_answers_normally(self):
        for proto, m in self.both("shadow.open.example.test.", "A"):
            with self.subTest(proto=proto):
                self.assertNormal(m, "shadow.open.example.test.", "A", [OPEN["A"]])

    def test_override_sinkhole(self):
        want = {"A": [SINK4], "AAAA": [SINK6]}
        for t, values in want.items():
            for proto, m in self.both("sinkme.open.example.test.", t):
                with self.subTest(proto=proto, type=t):
                    self.assertRewrite(m, "sink.c2w.", "NOERROR", soa_ttl=300)
                    self.assertEqual(rrset_values(m, "answer", "sinkme.open.example.test.", t),
                                     values, describe(m))
        # domains format: the name and every name below it; other types: NODATA
        m = self.r.udp("a.sinkme.open.example.test.", "TXT")
        self.assertRewrite(m, "sink.c2w.", "NOERROR", soa_ttl=300)
        self.assertEqual(len(m.answer), 0, describe(m))

    def test_override_cname_walled_garden(self):
        for proto, m in self.both("walled.open.example.test.", "A"):
            with self.subTest(proto=proto):
                self.assertRewrite(m, "garden.c2w.", "NOERROR", soa_ttl=300)
                self.assertEqual(rrset_values(m, "answer", "walled.open.example.test.", "CNAME"),
                                 [GARDEN], describe(m))
                self.assertEqual(rrset_values(m, "answer", GARDEN, "A"),
                                 [DATA[GARDEN]["A"]], describe(m))

    def test_ede_filtered(self):
        for proto, m in self.both("filt.open.example.test.", "A"):
            with self.subTest(proto=proto):
                self.assertRewrite(m, "filtered.c2w.", "NXDOMAIN", ede=17)

    def test_no_edns_no_ede_but_soa(self):
        m = self.r.udp("nx.open.example.test.", "A", edns=None)
        self.assertEqual(m.rcode(), dns.rcode.NXDOMAIN, describe(m))
        self.assertEqual(soa_owners(m), ["rpz1.c2w."], describe(m))
        self.assertIsNone(m.opt, describe(m))


class TestNameServerTriggers(PolicyCase):
    """NSDNAME and NSIP in recursive mode: the name servers of the zone that answers."""

    @classmethod
    def setUpClass(cls):
        cls.r = RNS

    def test_unrelated_name_resolves(self):
        for proto, m in self.both("www.example.test.", "A"):
            with self.subTest(proto=proto):
                self.assertNormal(m, "www.example.test.", "A", [DATA["www.example.test."]["A"]])

    def test_nsdname_exact(self):
        for proto, m in self.both("www.other.test.", "A"):
            with self.subTest(proto=proto):
                self.assertRewrite(m, "ns.c2w.", "NXDOMAIN")

    def test_nsdname_wildcard_local_data(self):
        for proto, m in self.both("www.secure.test.", "A"):
            with self.subTest(proto=proto):
                self.assertRewrite(m, "ns.c2w.", "NOERROR")
                self.assertEqual(rrset_values(m, "answer", "www.secure.test.", "A"),
                                 ["192.0.2.99"], describe(m))

    def test_nsip(self):
        for proto, m in self.both("www.sub.example.test.", "A"):
            with self.subTest(proto=proto):
                self.assertRewrite(m, "ns.c2w.", "NOERROR")
                self.assertEqual(len(m.answer), 0, describe(m))

    def test_repeated_from_cache(self):
        for _ in range(3):
            m = self.r.udp("www.other.test.", "A")
            self.assertRewrite(m, "ns.c2w.", "NXDOMAIN")


class TestExplain(unittest.TestCase):
    """`c2wall explain` against the running daemon's config file."""

    def explain(self, *args):
        return subprocess.run([cw.c2wall_bin(), "explain"] + list(args) + ["--config", R.conf],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=30)

    def test_blocked_name(self):
        r = self.explain("nx.open.example.test.")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("rpz1.c2w.", r.stdout)
        self.assertIn("ACTS", r.stdout)
        self.assertIn("shadow.c2w.", r.stdout)  # the log-only zone's rule is listed

    def test_precedence_explained(self):
        r = self.explain("prec.open.example.test.")
        self.assertEqual(r.returncode, 0, r.stdout)
        acts = [ln for ln in r.stdout.splitlines() if "ACTS" in ln]
        self.assertEqual(len(acts), 1, r.stdout)
        self.assertIn("rpz1.c2w.", acts[0])
        self.assertTrue(any("rpz2.c2w." in ln and "loses" in ln
                            for ln in r.stdout.splitlines()), r.stdout)

    def test_client_ip(self):
        r = self.explain("www.example.test.", "--client", "127.0.0.2")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("client-ip", r.stdout.lower())

    def test_unblocked_name(self):
        r = self.explain("www.example.test.")
        self.assertEqual(r.returncode, 3, r.stdout)


GUARD_BASE = ["g%02d.open.example.test CNAME ." % i for i in range(10)]


class TestReloadGuardRails(PolicyCase):
    """A reload whose feed blocks a protected name, or changes a zone's size by more than
    policy.max-change, is refused; the old policy keeps answering."""

    @classmethod
    def setUpClass(cls):
        cls.feed = os.path.join(FEEDS, "guard.rpz")
        cls.write_feed(GUARD_BASE)
        zones = [{"name": "guard.c2w.", "file": cls.feed}]
        extra = {"policy": {"zones": zones, "never-block": ["protected.open.example.test"],
                            "max-change": 0.5}}
        cls.r = cw.C2wall(WORLD, mode="recursive", extra=extra, name="c2wall-guard").start()

    @classmethod
    def tearDownClass(cls):
        if cls.r.running():
            cls.r.stop(check=True)

    @classmethod
    def write_feed(cls, lines):
        replace_feed(cls.feed, "guard.c2w.", "\n".join(lines) + "\n")

    def reload_and_wait(self, marker):
        """SIGHUP, then wait until the log shows one more @marker line."""
        n = self.r.stderr_text().count(marker)
        self.r.reload()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.r.stderr_text().count(marker) > n:
                return
            time.sleep(0.05)
        self.fail("no %r in the log after SIGHUP:\n%s" % (marker, self.r.stderr_text()[-3000:]))

    def assertOldPolicy(self):
        m = self.r.udp("g03.open.example.test.", "A")
        self.assertRewrite(m, "guard.c2w.", "NXDOMAIN")
        m = self.r.udp("new.open.example.test.", "A")
        self.assertNormal(m, "new.open.example.test.", "A", [OPEN["A"]])

    def test_1_protected_name_refused(self):
        self.assertOldPolicy()
        self.write_feed(GUARD_BASE + ["new.open.example.test CNAME .",
                                      "protected.open.example.test CNAME ."])
        self.reload_and_wait("policy not loaded")
        self.assertIn("protected.open.example.test", self.r.stderr_text())
        self.assertTrue(self.r.running())
        self.assertOldPolicy()

    def test_2_max_change_refused(self):
        extra = ["n%02d.open.example.test CNAME ." % i for i in range(20)]
        self.write_feed(GUARD_BASE + ["new.open.example.test CNAME ."] + extra)
        self.reload_and_wait("policy not loaded")
        self.assertOldPolicy()
        m = self.r.udp("n05.open.example.test.", "A")
        self.assertNormal(m, "n05.open.example.test.", "A", [OPEN["A"]])

    def test_3_small_change_accepted(self):
        self.write_feed(GUARD_BASE + ["new.open.example.test CNAME ."])
        self.reload_and_wait("reload: configuration")
        m = self.r.udp("new.open.example.test.", "A")
        self.assertRewrite(m, "guard.c2w.", "NXDOMAIN")
        m = self.r.udp("g03.open.example.test.", "A")
        self.assertRewrite(m, "guard.c2w.", "NXDOMAIN")


class TestNameServerRulesByReload(PolicyCase):
    """NSDNAME/NSIP rules that arrive by a reload: the worker makes its libunbound contexts
    again with full responses (the glue NSIP uses). libunbound freezes a context's options at
    its first query, so the option must go in before anything asks: were it late, the worker
    would log that it cannot ask for NS records."""

    @classmethod
    def setUpClass(cls):
        cls.feed = os.path.join(FEEDS, "nsflip.rpz")
        replace_feed(cls.feed, "nsflip.c2w.", "nx.open.example.test CNAME .\n")
        zones = [{"name": "nsflip.c2w.", "file": cls.feed}]
        cls.r = cw.C2wall(WORLD, mode="recursive", extra={"policy": {"zones": zones}},
                          name="c2wall-nsflip").start()

    @classmethod
    def tearDownClass(cls):
        if cls.r.running():
            cls.r.stop(check=True)

    def test_rules_arrive_by_reload(self):
        m = self.r.udp("www.other.test.", "A")
        self.assertNormal(m, "www.other.test.", "A", [DATA["www.other.test."]["A"]])
        m = self.r.udp("nx.open.example.test.", "A")
        self.assertRewrite(m, "nsflip.c2w.", "NXDOMAIN")
        n = self.r.stderr_text().count("reload: configuration")
        replace_feed(self.feed, "nsflip.c2w.", rpz(NS_RPZ, "nsflip.c2w.").split("\n", 3)[3])
        self.r.reload()
        deadline = time.monotonic() + 10
        while self.r.stderr_text().count("reload: configuration") == n:
            self.assertLess(time.monotonic(), deadline, self.r.stderr_text()[-3000:])
            time.sleep(0.05)
        # An answer cached under the old policy is checked again; a fresh name resolves.
        for name in ("www.other.test.", "ns.other.test."):
            for proto, m in self.both(name, "A"):
                with self.subTest(name=name, proto=proto):
                    self.assertRewrite(m, "nsflip.c2w.", "NXDOMAIN")
        for proto, m in self.both("www.sub.example.test.", "A"):
            with self.subTest(nsip=proto):
                self.assertRewrite(m, "nsflip.c2w.", "NOERROR")
                self.assertEqual(len(m.answer), 0, describe(m))
        m = self.r.udp("nx.open.example.test.", "A")  # the QNAME rule went with the old feed
        self.assertNormal(m, "nx.open.example.test.", "A", [OPEN["A"]])
        self.assertNotIn("cannot ask libunbound", self.r.stderr_text())
        self.assertNotIn("refused to set up", self.r.stderr_text())

if __name__ == "__main__":
    cw.main()
