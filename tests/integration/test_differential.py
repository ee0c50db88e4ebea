# SPDX-License-Identifier: MIT
"""Differential check: the resolver under test and stock unbound, both recursive over the same
world, must agree on RCODE, the answer RRsets and the AD bit for a list of queries."""

import unittest

import dns.flags
import dns.rcode
import dns.rdatatype

import c2w_world as cw

WORLD = None
DUT = None
REF = None

QUERIES = [
    ("www.example.test.", "A", {}),
    ("www.example.test.", "AAAA", {}),
    ("www.example.test.", "TXT", {}),
    ("www.example.test.", "HINFO", {}),
    ("v4only.example.test.", "AAAA", {}),
    ("no-such.example.test.", "A", {}),
    ("no-such.test.", "A", {}),
    ("cname-a.example.test.", "A", {}),
    ("cname-a.example.test.", "AAAA", {}),
    ("cname-b.other.test.", "A", {}),
    ("example.test.", "MX", {}),
    ("example.test.", "NS", {}),
    ("example.test.", "SOA", {}),
    ("medtxt.example.test.", "TXT", {}),
    ("www.sub.example.test.", "A", {}),
    ("sub.example.test.", "NS", {}),
    ("www.other.test.", "A", {}),
    ("www.secure.test.", "A", {"want_dnssec": True}),
    ("www.secure.test.", "TXT", {"ad": True}),
    ("nope.secure.test.", "A", {"want_dnssec": True}),
    ("www.secure.test.", "AAAA", {"want_dnssec": True}),
    ("www.bogus.test.", "A", {}),
    ("www.bogus.test.", "A", {"cd": True}),
    ("www.dsbad.test.", "A", {}),
    ("test.", "SOA", {"want_dnssec": True}),
    (".", "NS", {}),
]


def setUpModule():
    global WORLD, DUT, REF
    WORLD = cw.World(upstream=False).start()
    try:
        DUT = cw.make_resolver(WORLD, mode="recursive").start()
        REF = cw.make_resolver(WORLD, kind="unbound", mode="recursive").start()
    except BaseException:
        for r in (DUT, REF):
            if r is not None and r.running():
                r.stop(check=False)
        WORLD.stop()
        raise


def tearDownModule():
    try:
        DUT.stop(check=True)
        REF.stop(check=True)
    finally:
        WORLD.stop()


def summary(m):
    """What must agree: RCODE, AD, and the answer RRsets without RRSIGs and TTLs."""
    ans = sorted((rr.name.to_text().lower(), dns.rdatatype.to_text(rr.rdtype),
                  tuple(sorted(rd.to_text() for rd in rr)))
                 for rr in m.answer if rr.rdtype != dns.rdatatype.RRSIG)
    return (dns.rcode.to_text(m.rcode()), bool(m.flags & dns.flags.AD), ans)


class TestDifferential(unittest.TestCase):
    def test_same_answers(self):
        for qname, rdtype, kw in QUERIES:
            for transport in ("udp", "tcp"):
                with self.subTest(q="%s %s %s %s" % (qname, rdtype, kw, transport)):
                    d = getattr(DUT, transport)(qname, rdtype, **kw)
                    r = getattr(REF, transport)(qname, rdtype, **kw)
                    self.assertEqual(summary(d), summary(r),
                                     "\n%s says:%s\nunbound says:%s" %
                                     (DUT.kind, cw.describe(d), cw.describe(r)))


if __name__ == "__main__":
    cw.main()
