# SPDX-License-Identifier: MIT
"""Resolution through the daemon, recursive and forward mode, against the local world:
record types, CNAME chains across zones, negative answers, delegation, truncation and TCP,
EDNS, DNSSEC (secure, insecure, bogus), ANY, opcodes, TCP pipelining, dig/kdig clients."""

import socket
import struct
import time
import unittest

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype
import dns.update

import c2w_world as cw
from c2w_world import ADDR, BIGTXT, CNAME_CHAIN, DATA, MEDTXT, TXT_TEXT, describe, ede_codes, rrset_values

WORLD = None
RESOLVERS = {}


def setUpModule():
    global WORLD
    WORLD = cw.World().start()
    try:
        RESOLVERS["recursive"] = cw.make_resolver(WORLD, mode="recursive").start()
        RESOLVERS["forward"] = cw.make_resolver(
            WORLD, mode="forward", forward=["%s@53" % ADDR["upstream"]]).start()
    except BaseException:
        tearDownModule(check=False)
        raise


def tearDownModule(check=True):
    errors = []
    try:
        for name, r in RESOLVERS.items():
            try:
                r.stop(check=check)  # SIGTERM: exit 0, no sanitizer reports
            except AssertionError as e:
                errors.append("%s: %s" % (name, e))
        if errors:
            raise AssertionError("; ".join(errors))
    finally:
        RESOLVERS.clear()
        WORLD.stop()


def rcode(m):
    return dns.rcode.to_text(m.rcode())


class Cases:
    """The resolution cases; subclasses bind self.r to one resolver."""

    mode = None

    @property
    def r(self):
        return RESOLVERS[self.mode]

    def assertRcode(self, m, want):
        self.assertEqual(rcode(m), want, describe(m))

    # ---- record types ----
    def test_a(self):
        m = self.r.udp("www.example.test.", "A")
        self.assertRcode(m, "NOERROR")
        self.assertTrue(m.flags & dns.flags.RA, "RA not set" + describe(m))
        self.assertEqual(rrset_values(m, "answer", "www.example.test.", "A"),
                         [DATA["www.example.test."]["A"]], describe(m))

    def test_aaaa(self):
        m = self.r.udp("www.example.test.", "AAAA")
        self.assertRcode(m, "NOERROR")
        self.assertEqual(rrset_values(m, "answer", "www.example.test.", "AAAA"),
                         [DATA["www.example.test."]["AAAA"]], describe(m))

    def test_cname_chain_across_zones(self):
        m = self.r.udp(CNAME_CHAIN[0], "A")
        self.assertRcode(m, "NOERROR")
        self.assertEqual(rrset_values(m, "answer", CNAME_CHAIN[0], "CNAME"), [CNAME_CHAIN[1]],
                         describe(m))
        self.assertEqual(rrset_values(m, "answer", CNAME_CHAIN[1], "CNAME"), [CNAME_CHAIN[2]],
                         describe(m))
        self.assertEqual(rrset_values(m, "answer", CNAME_CHAIN[2], "A"),
                         [DATA[CNAME_CHAIN[2]]["A"]], describe(m))

    def test_mx(self):
        m = self.r.udp("example.test.", "MX")
        self.assertRcode(m, "NOERROR")
        self.assertEqual(rrset_values(m, "answer", "example.test.", "MX"),
                         ["10 mail.example.test."], describe(m))

    def test_txt(self):
        m = self.r.udp("txt.example.test.", "TXT")
        self.assertRcode(m, "NOERROR")
        self.assertEqual(rrset_values(m, "answer", "txt.example.test.", "TXT"),
                         ['"%s"' % TXT_TEXT], describe(m))

    def test_nxdomain_with_soa(self):
        m = self.r.udp("no-such-name.example.test.", "A")
        self.assertRcode(m, "NXDOMAIN")
        self.assertEqual(len(m.answer), 0, describe(m))
        soa = rrset_values(m, "authority", "example.test.", "SOA")
        self.assertEqual(len(soa), 1, "no SOA of example.test. in authority" + describe(m))

    def test_nodata_with_soa(self):
        m = self.r.udp("v4only.example.test.", "AAAA")
        self.assertRcode(m, "NOERROR")
        self.assertEqual(len(m.answer), 0, describe(m))
        self.assertEqual(len(rrset_values(m, "authority", "example.test.", "SOA")), 1,
                         describe(m))

    def test_delegation_to_child(self):
        m = self.r.udp("www.sub.example.test.", "A")
        self.assertRcode(m, "NOERROR")
        self.assertEqual(rrset_values(m, "answer", "www.sub.example.test.", "A"),
                         [DATA["www.sub.example.test."]["A"]], describe(m))

    def test_other_zone(self):
        m = self.r.tcp("www.other.test.", "A")
        self.assertRcode(m, "NOERROR")
        self.assertEqual(rrset_values(m, "answer", "www.other.test.", "A"),
                         [DATA["www.other.test."]["A"]], describe(m))

    # ---- size, truncation, TCP ----
    def test_large_txt_udp_truncated(self):
        m = self.r.udp("bigtxt.example.test.", "TXT", ignore_trailing=True)
        self.assertTrue(m.flags & dns.flags.TC, "TC not set on a >1232 byte UDP answer" +
                        describe(m))
        self.assertLessEqual(len(m.to_wire()), 1232)

    def test_large_txt_tcp_complete(self):
        m = self.r.tcp("bigtxt.example.test.", "TXT")
        self.assertRcode(m, "NOERROR")
        self.assertFalse(m.flags & dns.flags.TC, describe(m))
        got = sorted(s.decode() for rr in m.answer for rd in rr for s in rd.strings)
        self.assertEqual(got, sorted(BIGTXT))
        self.assertGreater(len(m.to_wire()), 1232)

    # ---- EDNS ----
    def test_edns_opt_echoed_1232(self):
        m = self.r.udp("www.example.test.", "A", payload=4096)
        self.assertEqual(m.edns, 0, "no OPT in the answer to an EDNS query" + describe(m))
        self.assertEqual(m.payload, 1232, describe(m))

    def test_no_opt_without_edns(self):
        m = self.r.udp("www.example.test.", "A", edns=None)
        self.assertRcode(m, "NOERROR")
        self.assertEqual(m.edns, -1, "OPT in the answer to a query without EDNS" + describe(m))

    def test_no_edns_over_512_truncated(self):
        q = self.r.make_query("medtxt.example.test.", "TXT", edns=None)
        wire = self.r.send_udp_raw(q.to_wire(), timeout=5)
        self.assertIsNotNone(wire, "no answer")
        self.assertLessEqual(len(wire), 512)
        m = dns.message.from_wire(wire, ignore_trailing=True)
        self.assertTrue(m.flags & dns.flags.TC, describe(m))

    def test_edns_medium_answer_not_truncated(self):
        m = self.r.udp("medtxt.example.test.", "TXT")
        self.assertFalse(m.flags & dns.flags.TC, describe(m))
        got = sorted(s.decode() for rr in m.answer for rd in rr for s in rd.strings)
        self.assertEqual(got, sorted(MEDTXT))

    # ---- DNSSEC ----
    def test_dnssec_secure_do_gives_ad_and_rrsig(self):
        m = self.r.udp("www.secure.test.", "A", want_dnssec=True)
        self.assertRcode(m, "NOERROR")
        self.assertTrue(m.flags & dns.flags.AD, "AD not set" + describe(m))
        self.assertTrue(m.ednsflags & dns.flags.DO, "DO not echoed" + describe(m))
        self.assertTrue(rrset_values(m, "answer", "www.secure.test.", "RRSIG"), describe(m))

    def test_dnssec_secure_ad_bit_gives_ad_without_rrsig(self):
        m = self.r.udp("www.secure.test.", "A", ad=True)
        self.assertRcode(m, "NOERROR")
        self.assertTrue(m.flags & dns.flags.AD, "AD not set" + describe(m))
        self.assertEqual(rrset_values(m, "answer", "www.secure.test.", "RRSIG"), [],
                         "RRSIG without DO" + describe(m))

    def test_dnssec_secure_plain_no_ad(self):
        m = self.r.udp("www.secure.test.", "A")
        self.assertRcode(m, "NOERROR")
        self.assertEqual(rrset_values(m, "answer", "www.secure.test.", "A"),
                         [DATA["www.secure.test."]["A"]], describe(m))
        self.assertFalse(m.flags & dns.flags.AD, "AD without DO/AD in the query" + describe(m))
        for rr in m.answer + m.authority:
            self.assertNotEqual(rr.rdtype, dns.rdatatype.RRSIG, describe(m))

    def test_dnssec_insecure_zone_no_ad(self):
        m = self.r.udp("www.example.test.", "A", want_dnssec=True)
        self.assertRcode(m, "NOERROR")
        self.assertFalse(m.flags & dns.flags.AD, "AD on an unsigned zone" + describe(m))

    def test_dnssec_secure_nxdomain_ad(self):
        m = self.r.udp("nope.secure.test.", "A", want_dnssec=True)
        self.assertRcode(m, "NXDOMAIN")
        self.assertTrue(m.flags & dns.flags.AD, describe(m))

    def test_dnssec_bogus_servfail_ede6(self):
        m = self.r.udp("www.bogus.test.", "A", want_dnssec=True)
        self.assertRcode(m, "SERVFAIL")
        self.assertEqual(len(m.answer), 0, describe(m))
        self.assertIn(dns.edns.EDECode.DNSSEC_BOGUS, ede_codes(m), describe(m))

    def test_dnssec_bogus_plain_query_servfail(self):
        m = self.r.udp("www.bogus.test.", "A", edns=None)
        self.assertRcode(m, "SERVFAIL")

    def test_dnssec_bogus_cd_answers_without_ad(self):
        m = self.r.udp("www.bogus.test.", "A", cd=True, want_dnssec=True)
        self.assertRcode(m, "NOERROR")
        self.assertEqual(rrset_values(m, "answer", "www.bogus.test.", "A"),
                         [DATA["www.bogus.test."]["A"]], describe(m))
        self.assertFalse(m.flags & dns.flags.AD, describe(m))
        self.assertTrue(m.flags & dns.flags.CD, "CD not copied" + describe(m))

    def test_dnssec_ds_mismatch_servfail(self):
        m = self.r.udp("www.dsbad.test.", "A", want_dnssec=True)
        self.assertRcode(m, "SERVFAIL")
        self.assertEqual(len(m.answer), 0, describe(m))
        self.assertTrue(ede_codes(m), "no EDE on a validation failure" + describe(m))

    # ---- ANY (RFC 8482) ----
    @cw.c2wall_only("unbound answers ANY with every cached RRset")
    def test_any_minimal(self):
        self.r.udp("www.example.test.", "A")  # something may be cached; must not matter
        m = self.r.udp("www.example.test.", "ANY")
        self.assertRcode(m, "NOERROR")
        types = {rr.rdtype for rr in m.answer if rr.rdtype != dns.rdatatype.RRSIG}
        self.assertEqual(len(types), 1, "ANY answered with more than one RRset" + describe(m))
        self.assertIn(list(types)[0], (dns.rdatatype.HINFO, dns.rdatatype.A,
                                       dns.rdatatype.AAAA, dns.rdatatype.TXT, dns.rdatatype.MX),
                      describe(m))

    # ---- opcodes ----
    def _opcode(self, msg, rcode=dns.rcode.NOTIMP):
        wire = self.r.send_udp_raw(msg.to_wire(), timeout=3)
        self.assertIsNotNone(wire, "no answer to opcode %s" % dns.opcode.to_text(msg.opcode()))
        qid, flags = struct.unpack("!HH", wire[:4])
        self.assertEqual(qid, msg.id)
        self.assertTrue(flags & 0x8000, "QR not set")
        self.assertEqual(flags & 0xF, rcode,
                         "opcode %s: rcode %s" % (dns.opcode.to_text(msg.opcode()),
                                                  dns.rcode.to_text(flags & 0xF)))
        self.assertEqual((flags >> 11) & 0xF, msg.opcode(), "opcode not copied")

    def test_opcode_notify_refused(self):
        # Not a zone this resolver follows by transfer (test_feeds_xfr.py has those).
        q = dns.message.make_query("example.test.", "SOA")
        q.set_opcode(dns.opcode.NOTIFY)
        q.flags |= dns.flags.AA
        self._opcode(q, dns.rcode.REFUSED)

    def test_opcode_update_notimp(self):
        u = dns.update.UpdateMessage("example.test.")
        u.add("new.example.test.", 300, "A", "192.0.2.99")
        self._opcode(u)

    def test_opcode_status_notimp(self):
        q = dns.message.make_query("example.test.", "SOA")
        q.set_opcode(dns.opcode.STATUS)
        self._opcode(q)

    # ---- TCP pipelining ----
    def test_tcp_pipelining(self):
        names = [("www.example.test.", "A"), ("www.example.test.", "AAAA"),
                 ("cname-a.example.test.", "A"), ("example.test.", "MX"),
                 ("txt.example.test.", "TXT"), ("www.sub.example.test.", "A"),
                 ("no-such.example.test.", "A"), ("www.secure.test.", "A"),
                 ("bigtxt.example.test.", "TXT"), ("www.other.test.", "A")]
        qs = {}
        buf = b""
        for i, (n, t) in enumerate(names):
            q = dns.message.make_query(n, t, use_edns=0)
            q.id = 1000 + i
            qs[q.id] = q
            w = q.to_wire()
            buf += struct.pack("!H", len(w)) + w
        s = self.r.tcp_connect()
        try:
            s.sendall(buf)  # all at once, before reading anything
            got = {}
            data = b""
            deadline = time.monotonic() + 10
            while len(got) < len(qs) and time.monotonic() < deadline:
                while len(data) >= 2 and len(data) >= 2 + struct.unpack("!H", data[:2])[0]:
                    n = struct.unpack("!H", data[:2])[0]
                    m = dns.message.from_wire(data[2:2 + n])
                    data = data[2 + n:]
                    got[m.id] = m
                if len(got) == len(qs):
                    break
                chunk = s.recv(65535)
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        self.assertEqual(sorted(got), sorted(qs), "ids answered on one TCP connection")
        for qid, m in got.items():
            self.assertEqual(m.question, qs[qid].question, "question mismatch for id %d" % qid)
        self.assertEqual(rcode(got[1006]), "NXDOMAIN")
        self.assertEqual(rrset_values(got[1000], "answer", "www.example.test.", "A"),
                         [DATA["www.example.test."]["A"]])

    # ---- real clients ----
    def test_kdig_tcp_dnssec(self):
        out = self.r.dig("+tcp", "+dnssec", "+noall", "+answer", "+header", "www.secure.test.",
                         "A")
        self.assertIn(DATA["www.secure.test."]["A"], out)
        self.assertIn("RRSIG", out)
        self.assertRegex(out, r"[Ff]lags:[^\n;]*\bad\b")

    def test_dig_udp(self):
        out = self.r.dig("+short", CNAME_CHAIN[0], "A", tool="dig")
        self.assertEqual(out.split(), CNAME_CHAIN[1:] + [DATA[CNAME_CHAIN[2]]["A"]])


class TestRecursive(Cases, unittest.TestCase):
    mode = "recursive"


class TestForward(Cases, unittest.TestCase):
    mode = "forward"


if __name__ == "__main__":
    cw.main()
