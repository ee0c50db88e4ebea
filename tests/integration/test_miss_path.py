# SPDX-License-Identifier: MIT
"""The cache-miss path (issue 11 "a cheap miss path", issue 8's miss-heavy run):

- An answer libunbound has in its own cache, but c2wall's answer cache does not (here: a name
  of a signed zone asked again with DO=1, a different answer-cache key), is answered during the
  call and leaves with the batch being handled: counted in `resolver_immediate`, right records.
- An answer without DNSSEC records (unsigned zone) is kept once in the answer cache and serves
  clients with and without DO: the DO=1 query after a DO=0 one is an answer-cache hit.
- Answers carry the answer section only, as Unbound's daemon sends them (minimal-responses):
  no NS set in authority, no glue in additional; negative answers keep their SOA.
- Answers that waited for the resolver leave together: a burst of 80 distinct names gets every
  answer, each to its own question, in fewer `udp_defer_flushes` (sendmmsg calls) than
  answers.
- Queries in flight share one deadline timer: queries toward a black hole get SERVFAIL
  (EDE 22) after resolver.timeout, neither early nor much late, each counted in `timeouts`,
  also after earlier queries (the head of the deadline list) were answered in time."""

import socket
import time
import unittest

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

import c2w_world as cw
from c2w_world import DATA, describe, ede_codes, rrset_values
import events_util as eu

WORLD = R = None
TIMEOUT_MS = 1000


def setUpModule():
    global WORLD, R
    WORLD = cw.World().start()
    try:
        # One worker: every query meets the same caches and counters.
        R = cw.make_resolver(WORLD, kind="c2wall", mode="recursive", workers=1,
                             timeout_ms=TIMEOUT_MS).start()
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    try:
        if R is not None:
            R.stop()
    finally:
        if WORLD is not None:
            WORLD.stop()


def stats():
    return eu.control_json(R, "stats")


def rcode(m):
    return dns.rcode.to_text(m.rcode())


class TestMissPath(unittest.TestCase):
    def test_resolver_cache_answer_joins_the_batch(self):
        name = "www.secure.test."
        m = R.udp(name, "A")
        self.assertEqual(rrset_values(m, "answer", name, "A"), [DATA[name]["A"]], describe(m))
        self.assertFalse([r for r in m.answer if r.rdtype == dns.rdatatype.RRSIG], describe(m))
        before = stats()
        # A signed zone: DO=1 is another key of our answer cache (its body keeps the RRSIG),
        # the same entry of libunbound's.
        m = R.udp(name, "A", want_dnssec=True)
        after = stats()
        self.assertEqual(rcode(m), "NOERROR", describe(m))
        self.assertEqual(rrset_values(m, "answer", name, "A"), [DATA[name]["A"]], describe(m))
        self.assertEqual(after["cache_misses"] - before["cache_misses"], 1)
        self.assertEqual(after["resolver_immediate"] - before["resolver_immediate"], 1)
        self.assertEqual(after["timeouts"], before["timeouts"])
        # Now in our cache too: a hit, not another trip through libunbound.
        m = R.udp(name, "A", want_dnssec=True)
        self.assertEqual(rrset_values(m, "answer", name, "A"), [DATA[name]["A"]], describe(m))
        last = stats()
        self.assertEqual(last["cache_hits"] - after["cache_hits"], 1)
        self.assertEqual(last["resolver_immediate"], after["resolver_immediate"])
        self.assertTrue([r for r in m.answer if r.rdtype == dns.rdatatype.RRSIG], describe(m))
        # Over TCP the same kind of answer is queued on the connection, complete.
        m = R.tcp(name, "A", cd=True, want_dnssec=True)
        self.assertEqual(rrset_values(m, "answer", name, "A"), [DATA[name]["A"]], describe(m))

    def test_unsigned_answer_serves_both_do(self):
        name = "v4only.example.test."
        m = R.udp(name, "A")
        self.assertEqual(rrset_values(m, "answer", name, "A"), [DATA[name]["A"]], describe(m))
        before = stats()
        m = R.udp(name, "A", want_dnssec=True)
        after = stats()
        self.assertEqual(rcode(m), "NOERROR", describe(m))
        self.assertEqual(rrset_values(m, "answer", name, "A"), [DATA[name]["A"]], describe(m))
        self.assertFalse(m.flags & dns.flags.AD, describe(m))
        self.assertEqual(after["cache_hits"] - before["cache_hits"], 1)
        self.assertEqual(after["cache_misses"], before["cache_misses"])
        self.assertEqual(after["resolver_immediate"], before["resolver_immediate"])
        # CD is still part of the key: CD=1 is not served from the CD=0 entry.
        R.udp(name, "A", cd=True)
        self.assertEqual(stats()["cache_misses"] - after["cache_misses"], 1)

    def test_minimal_responses(self):
        name = "www.example.test."
        for proto in ("udp", "tcp"):
            with self.subTest(proto=proto):
                m = getattr(R, proto)(name, "A")
                self.assertEqual(rrset_values(m, "answer", name, "A"), [DATA[name]["A"]],
                                 describe(m))
                self.assertEqual(m.authority, [], describe(m))
                self.assertEqual(m.additional, [], describe(m))
        m = R.udp("nope.example.test.", "A")
        self.assertEqual(rcode(m), "NXDOMAIN", describe(m))
        self.assertEqual([rr.rdtype for rr in m.authority], [dns.rdatatype.SOA], describe(m))

    def test_resolver_answers_leave_in_batches(self):
        # The zone's delegation first, so the burst below is one upstream query per name.
        m = R.udp("warm.open.example.test.", "A")
        self.assertEqual(rcode(m), "NOERROR", describe(m))
        want = DATA["x.open.example.test."]["A"]
        # Below limits.client-inflight-max (100 by default): one client, all in flight at once.
        count = 80
        # Whether upstream replies arrive together depends on scheduling: on a loaded machine
        # (a sanitizer build beside another test) one burst may see them one by one. Every
        # burst must be answered right; at least one of three must leave in batches.
        flush_counts = []
        for attempt in range(3):
            before = stats()
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(0.5)
            try:
                sent = {}
                for i in range(count):
                    q = dns.message.make_query("burst%d-%d.open.example.test." % (attempt, i),
                                               "A", use_edns=0)
                    q.id = i
                    s.sendto(q.to_wire(), (R.addr, R.port))
                    sent[i] = q.question[0].name
                got = {}
                end = time.monotonic() + 20
                while len(got) < count and time.monotonic() < end:
                    try:
                        wire, _ = s.recvfrom(65535)
                    except socket.timeout:
                        continue
                    m = dns.message.from_wire(wire)
                    got[m.id] = m
            finally:
                s.close()
            self.assertEqual(len(got), count, "answers missing")
            for qid, m in got.items():
                name = sent[qid].to_text()
                self.assertEqual(rcode(m), "NOERROR", describe(m))
                self.assertEqual(m.question[0].name, sent[qid], describe(m))
                self.assertEqual(rrset_values(m, "answer", name, "A"), [want], describe(m))
            after = stats()
            misses = after["cache_misses"] - before["cache_misses"]
            flushes = after["udp_defer_flushes"] - before["udp_defer_flushes"]
            self.assertEqual(misses, count)
            self.assertEqual(after["send_errors"], before["send_errors"])
            self.assertGreaterEqual(flushes, 1)
            flush_counts.append(flushes)
            if flushes < count:
                break
        self.assertLess(min(flush_counts), count,
                        "every answer had a sendmmsg of its own, %s" % flush_counts)

    def test_deadlines(self):
        before = stats()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.2)
        try:
            sent = {}
            # Two waves: the first wave's deadlines are the head of the list when an answered
            # query (www) leaves it; the second joins while the first is pending.
            for wave in range(2):
                for i in range(5):
                    q = dns.message.make_query("w%d-%d.dead.test." % (wave, i), "A",
                                               use_edns=0)
                    s.sendto(q.to_wire(), (R.addr, R.port))
                    sent[q.id] = (q, time.monotonic())
                ok = dns.message.make_query("www.example.test.", "A", use_edns=0)
                s.sendto(ok.to_wire(), (R.addr, R.port))
                sent[ok.id] = (ok, time.monotonic())
                time.sleep(0.3)
            got = {}
            end = time.monotonic() + 10
            while len(got) < len(sent) and time.monotonic() < end:
                try:
                    wire, _ = s.recvfrom(65535)
                except socket.timeout:
                    continue
                m = dns.message.from_wire(wire)
                if m.id in sent:
                    got[m.id] = (m, time.monotonic() - sent[m.id][1])
        finally:
            s.close()
        self.assertEqual(len(got), len(sent), "answers missing")
        for qid, (m, waited) in got.items():
            qname = sent[qid][0].question[0].name.to_text()
            with self.subTest(qname=qname):
                if qname.startswith("www."):
                    self.assertEqual(rcode(m), "NOERROR", describe(m))
                    self.assertLess(waited, TIMEOUT_MS / 1000.0, describe(m))
                    continue
                self.assertEqual(rcode(m), "SERVFAIL", describe(m))
                self.assertIn(22, ede_codes(m), describe(m))
                # Not early (the coarse clock may be a few ms ahead), not much late.
                self.assertGreaterEqual(waited, TIMEOUT_MS / 1000.0 - 0.05, describe(m))
                self.assertLess(waited, TIMEOUT_MS / 1000.0 + 2.0, describe(m))
        self.assertEqual(stats()["timeouts"] - before["timeouts"], 10)


if __name__ == "__main__":
    cw.main()
