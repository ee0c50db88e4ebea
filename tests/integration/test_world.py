# SPDX-License-Identifier: MIT
"""The test world checks itself: the authoritative servers serve what the other tests rely on
(asked directly, no resolver), and stock unbound, the reference, validates the signed chain and
rejects the bogus zones. When this file fails, the fixture is broken, not c2wall."""

import unittest

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode

import c2w_world as cw
from c2w_world import ADDR, DATA, describe, ede_codes, rrset_values

WORLD = None
REF = None


def setUpModule():
    global WORLD, REF
    WORLD = cw.World().start()
    try:
        REF = cw.make_resolver(WORLD, kind="unbound", mode="recursive").start()
    except BaseException:
        WORLD.stop()
        raise


def tearDownModule():
    try:
        REF.stop(check=True)
    finally:
        WORLD.stop()


def ask(server, qname, rdtype, tcp=False, **kw):
    q = dns.message.make_query(qname, rdtype, use_edns=0, payload=1232, **kw)
    q.flags &= ~dns.flags.RD
    if tcp:
        return dns.query.tcp(q, ADDR[server], port=53, timeout=3)
    return dns.query.udp(q, ADDR[server], port=53, timeout=3, ignore_trailing=True)


class TestAuthorities(unittest.TestCase):
    def test_root_refers_test(self):
        m = ask("root", "www.example.test.", "A")
        self.assertEqual(rrset_values(m, "authority", "test.", "NS"), ["ns.test."], describe(m))

    def test_each_server_is_authoritative(self):
        for server, origin in cw.SERVERS:
            m = ask(server, origin, "SOA")
            self.assertTrue(m.flags & dns.flags.AA, "%s not AA for %s" % (server, origin))
            self.assertEqual(len(rrset_values(m, "answer", origin, "SOA")), 1, describe(m))

    def test_bigtxt_truncated_by_nsd_over_udp(self):
        m = ask("example", "bigtxt.example.test.", "TXT")
        self.assertTrue(m.flags & dns.flags.TC, describe(m))
        m = ask("example", "bigtxt.example.test.", "TXT", tcp=True)
        self.assertEqual(len(m.answer[0]), 4)

    def test_signed_zones_have_rrsig_and_ds(self):
        for origin, server in (("secure.test.", "secure"), ("bogus.test.", "bogus"),
                               ("dsbad.test.", "dsbad")):
            m = ask(server, "www." + origin, "A", want_dnssec=True)
            self.assertTrue(rrset_values(m, "answer", "www." + origin, "RRSIG"), describe(m))
            m = ask("test", origin, "DS", want_dnssec=True)
            self.assertTrue(rrset_values(m, "answer", origin, "DS"), describe(m))

    def test_broken_servers_listening(self):
        n = WORLD.blackhole.queries
        with self.assertRaises(dns.exception.Timeout):
            ask("blackhole", "www.dead.test.", "A")
        self.assertEqual(WORLD.blackhole.queries, n + 1)

    def test_upstream_recurses(self):
        q = dns.message.make_query("cname-a.example.test.", "A")
        m = dns.query.udp(q, ADDR["upstream"], port=53, timeout=5)
        self.assertEqual(rrset_values(m, "answer", "cname-c.example.test.", "A"),
                         [DATA["cname-c.example.test."]["A"]], describe(m))


class TestReference(unittest.TestCase):
    """Stock unbound over the world: the chain validates, the broken zones do not."""

    def test_secure_validates(self):
        m = REF.udp("www.secure.test.", "A", want_dnssec=True)
        self.assertTrue(m.flags & dns.flags.AD, describe(m))

    def test_bogus_signature(self):
        m = REF.udp("www.bogus.test.", "A", want_dnssec=True)
        self.assertEqual(m.rcode(), dns.rcode.SERVFAIL, describe(m))
        self.assertIn(dns.edns.EDECode.DNSSEC_BOGUS, ede_codes(m), describe(m))

    def test_ds_mismatch(self):
        m = REF.udp("www.dsbad.test.", "A", want_dnssec=True)
        self.assertEqual(m.rcode(), dns.rcode.SERVFAIL, describe(m))

    def test_insecure_delegation(self):
        m = REF.udp("www.example.test.", "A", want_dnssec=True)
        self.assertEqual(m.rcode(), dns.rcode.NOERROR, describe(m))
        self.assertFalse(m.flags & dns.flags.AD, describe(m))


if __name__ == "__main__":
    cw.main()
