# SPDX-License-Identifier: MIT
"""The answer cache and policy reloads (issue 3): a feed update keeps the resolver's caches,
yet every cached answer is served only as the policy now in force allows.

- A reload with the same resolver settings keeps the answer cache: a name asked before the
  reload is a cache hit after it (control socket `stats`).
- A body cached before a reload whose new rule blocks a name in its CNAME chain is not served:
  the answer follows the new rule.
- A body cached for an opted-out client (no policy applied) is checked before another client
  gets it: a RESPONSE-IP rule still acts for that client.
- A body the policy in force cleared when it was stored (no rule for the name in any zone,
  log-only ones included, no CLIENT-IP rule) is served without matching again
  (`cache_hits_prechecked`); a reload that adds a rule for the name blocks it at once.
- A name a log-only zone lists is matched on every cached answer: each one is recorded.
- With a CLIENT-IP rule in force, a cleared body still needs the client matched: the listed
  client is blocked from the cache, another client skips the name lookup."""

import os
import tempfile
import time
import unittest

import dns.rcode

import c2w_world as cw
from c2w_world import CNAME_CHAIN, DATA
import events_util as eu

WORLD = R = None
FEED = JSONL = None
SHADOWED = "shadowed.open.example.test."
CLIENT_LISTED = "127.0.0.10"
OPTED_OUT = "127.0.0.9"
ZONE = "cache.c2w."


def write_feed(rules):
    lines = ["$TTL 60", "@ SOA ns.%s hostmaster.%s 1 3600 600 86400 30" % (ZONE, ZONE),
             "@ NS localhost.", "marker-0.open.example.test CNAME ."] + rules
    tmp = FEED + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, FEED)


def reload_until_blocked(marker):
    """SIGHUP, then wait until @marker (a rule of the new feed) is blocked."""
    R.reload()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if dns.rcode.to_text(R.udp(marker, "A").rcode()) == "NXDOMAIN":
            return
        time.sleep(0.1)
    raise AssertionError("the reload did not take effect")


def setUpModule():
    global WORLD, R, FEED, JSONL
    WORLD = cw.World().start()
    try:
        d = tempfile.mkdtemp(prefix="cache-", dir=WORLD.tmp)
        FEED = os.path.join(d, "cache.rpz")
        JSONL = os.path.join(d, "hits.jsonl")
        logonly = os.path.join(d, "logonly.rpz")
        with open(logonly, "w") as f:
            f.write("$TTL 60\n@ SOA ns.logonly.c2w. hostmaster.logonly.c2w. 1 3600 600 86400 30\n"
                    "@ NS localhost.\n%s CNAME .\n" % SHADOWED[:-1])
        write_feed([
            # RESPONSE-IP: answers that carry 192.0.2.4 (www.other.test) are blocked.
            "32.4.2.0.192.rpz-ip CNAME .",
        ])
        optout = os.path.join(d, "optout.txt")
        with open(optout, "w") as f:
            f.write(OPTED_OUT + "\n")
        extra = {
            "policy": {"zones": [{"name": ZONE, "file": FEED},
                                 {"name": "logonly.c2w.", "file": logonly, "policy": "log"}],
                       "max-change": 0},
            "privacy": {"optout-file": optout},
            "events": {"jsonl": JSONL},
        }
        # One worker: every query meets the same answer cache.
        R = cw.make_resolver(WORLD, kind="c2wall", mode="recursive", workers=1,
                             extra=extra).start()
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


def rcode(m):
    return dns.rcode.to_text(m.rcode())


def addresses(m):
    return sorted(rd.address for rrset in m.answer for rd in rrset if rrset.rdtype == 1)


class TestPolicyCache(unittest.TestCase):
    def test_1_reload_keeps_the_cache(self):
        m = R.udp("v4only.example.test.", "A")
        self.assertEqual(addresses(m), [DATA["v4only.example.test."]["A"]])
        write_feed(["32.4.2.0.192.rpz-ip CNAME .", "marker-1.open.example.test CNAME ."])
        reload_until_blocked("marker-1.open.example.test.")
        before = eu.control_json(R, "stats")["cache_hits"]
        m = R.udp("v4only.example.test.", "A")
        self.assertEqual(addresses(m), [DATA["v4only.example.test."]["A"]])
        after = eu.control_json(R, "stats")["cache_hits"]
        self.assertGreater(after, before, "the answer cache was emptied by a feed reload")

    def test_2_new_rule_on_a_cached_cname_chain(self):
        m = R.udp(CNAME_CHAIN[0], "A")
        self.assertEqual(rcode(m), "NOERROR")
        self.assertEqual(addresses(m), [DATA[CNAME_CHAIN[2]]["A"]])
        # The chain's last name becomes blocked; the chain was cached under the old policy.
        write_feed(["32.4.2.0.192.rpz-ip CNAME .", "marker-2.open.example.test CNAME .",
                    CNAME_CHAIN[2][:-1] + " CNAME ."])
        reload_until_blocked("marker-2.open.example.test.")
        m = R.udp(CNAME_CHAIN[0], "A")
        self.assertEqual(rcode(m), "NXDOMAIN", m.to_text())
        self.assertEqual(addresses(m), [])

    def test_3_opted_out_body_checked_for_others(self):
        m = R.udp("www.other.test.", "A", source=OPTED_OUT)
        self.assertEqual(addresses(m), [DATA["www.other.test."]["A"]],
                         "the opted-out client gets the real answer")
        m = R.udp("www.other.test.", "A", source="127.0.0.1")
        self.assertEqual(rcode(m), "NXDOMAIN", m.to_text())

    def test_4_cleared_body_skips_the_policy(self):
        name = "clean4.open.example.test."
        before = eu.control_json(R, "stats")
        for _ in range(3):
            m = R.udp(name, "A")
            self.assertEqual(addresses(m), [DATA["x.open.example.test."]["A"]])
        after = eu.control_json(R, "stats")
        self.assertEqual(after["cache_hits_prechecked"] - before["cache_hits_prechecked"], 2)
        self.assertEqual(after["cache_hits"] - before["cache_hits"], 2)
        # A new generation with a rule for the name: the cached body's label no longer
        # matches, the policy is consulted and blocks it.
        write_feed(["32.4.2.0.192.rpz-ip CNAME .", "marker-4.open.example.test CNAME .",
                    name[:-1] + " CNAME ."])
        reload_until_blocked("marker-4.open.example.test.")
        m = R.udp(name, "A")
        self.assertEqual(rcode(m), "NXDOMAIN", m.to_text())

    def test_5_log_only_rule_recorded_on_every_cached_answer(self):
        before = eu.control_json(R, "stats")
        for _ in range(3):
            m = R.udp(SHADOWED, "A")
            self.assertEqual(addresses(m), [DATA["x.open.example.test."]["A"]],
                             "a log-only zone answers normally")
        after = eu.control_json(R, "stats")
        self.assertEqual(after["cache_hits"] - before["cache_hits"], 2)
        self.assertEqual(after["cache_hits_prechecked"], before["cache_hits_prechecked"])
        recorded = eu.wait_for(lambda: len([
            l for l in eu.read_jsonl(JSONL) if l["qname"] == SHADOWED]) >= 3)
        self.assertTrue(recorded, "each of the 3 answers is recorded as a log-only hit")

    def test_6_client_ip_rule_checked_on_cached_answers(self):
        name = "clean6.open.example.test."
        write_feed(["32.4.2.0.192.rpz-ip CNAME .", "marker-6.open.example.test CNAME .",
                    "32.10.0.0.127.rpz-client-ip CNAME ."])
        reload_until_blocked("marker-6.open.example.test.")
        before = eu.control_json(R, "stats")
        for _ in range(2):
            m = R.udp(name, "A")
            self.assertEqual(addresses(m), [DATA["x.open.example.test."]["A"]])
        m = R.udp(name, "A", source=CLIENT_LISTED)
        self.assertEqual(rcode(m), "NXDOMAIN", m.to_text())
        after = eu.control_json(R, "stats")
        # The unlisted client's second query skipped the name lookup (its address matched no
        # CLIENT-IP rule); the listed client's went through the whole policy.
        self.assertEqual(after["cache_hits_prechecked"] - before["cache_hits_prechecked"], 1)
        self.assertEqual(after["cache_hits"] - before["cache_hits"], 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
