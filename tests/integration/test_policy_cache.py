# SPDX-License-Identifier: MIT
"""The answer cache and policy reloads (issue 3): a feed update keeps the resolver's caches,
yet every cached answer is served only as the policy now in force allows.

- A reload with the same resolver settings keeps the answer cache: a name asked before the
  reload is a cache hit after it (control socket `stats`).
- A body cached before a reload whose new rule blocks a name in its CNAME chain is not served:
  the answer follows the new rule.
- A body cached for an opted-out client (no policy applied) is checked before another client
  gets it: a RESPONSE-IP rule still acts for that client."""

import os
import tempfile
import time
import unittest

import dns.rcode

import c2w_world as cw
from c2w_world import CNAME_CHAIN, DATA
import events_util as eu

WORLD = R = None
FEED = None
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
    global WORLD, R, FEED
    WORLD = cw.World().start()
    try:
        d = tempfile.mkdtemp(prefix="cache-", dir=WORLD.tmp)
        FEED = os.path.join(d, "cache.rpz")
        write_feed([
            # RESPONSE-IP: answers that carry 192.0.2.4 (www.other.test) are blocked.
            "32.4.2.0.192.rpz-ip CNAME .",
        ])
        optout = os.path.join(d, "optout.txt")
        with open(optout, "w") as f:
            f.write(OPTED_OUT + "\n")
        extra = {
            "policy": {"zones": [{"name": ZONE, "file": FEED}], "max-change": 0},
            "privacy": {"optout-file": optout},
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
