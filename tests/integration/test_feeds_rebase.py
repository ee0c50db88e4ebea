# SPDX-License-Identifier: MIT
"""Increments folded into one layer, and the full merge where that cannot be (issue 9;
docs/policy.md "Increments", "Merge").

A real Knot DNS `knotd` is the primary of two RPZ zones, A (500 rules) and B (50 rules),
changed by dynamic updates (knsupdate with TSIG); after each the test NOTIFYs c2wall from the
primary's address (Knot's own NOTIFY follows about a second later), and every update reaches
c2wall as an IXFR applied as an increment, one layer over the full compile. Checked:

- Phase 1, zone A alone: 17 updates (additions, deletions, changes, a wildcard added then
  deleted). The 16th increment stacks 16 layers: c2wall folds them into one layer built from
  every owner they touched (a rebase), with no full compile (`rebases` 1, `merges` 0) and the
  log line saying how many owners; the 17th goes in over the folded layer.
- Phase 2, zone B once, then zone A until 16 layers again: the layers now belong to two zones,
  so they cannot be folded into one layer, and the merge (`merges` 1) makes one full image of
  them from the images (policy_snap_flatten()), not a compile from the copies: the log says
  so, and what c2wall serves onward stays at its versions (no full export).
- Throughout, a client queries a name every update leaves alone and a name the updates keep
  changing: no query lost, no answer outside the versions it was given. After each phase,
  every name ever touched answers as the last version says, and the feeds' rule counts match
  the zones."""

import os
import re
import threading
import time
import unittest

import dns.message
import dns.query
import dns.rdatatype

import c2w_world as cw
import events_util as eu
from c2w_world import rrset_values, describe
from knot_util import KnotPrimary, rpz_zone_text, tsig_keygen
from xfr_primary import notify
ZA = "a.rebase.example."
ZB = "b.rebase.example."
RULES_A = 500
RULES_B = 50

WORLD = R = KNOT = None
TMP = None
# The model: qname -> expected A value, or None for "no policy answer" (NXDOMAIN rule or none).
EXPECT = {}
WILD = {"v": None}  # the A value under *.wild.example.test


def zone_text(zone, rules, prefix):
    return rpz_zone_text(zone, rules, prefix, 4, 10, lambda i: "10.8.%d.%d" % (i // 250, i % 250))


def zone_state(name):
    return eu.feeds_zone(R, name)


def wait_state(name, pred, what, timeout=20.0):
    return eu.wait_feeds_zone(R, name, pred, timeout, what, every=0.02)


def setUpModule():
    global WORLD, R, KNOT, TMP
    WORLD = cw.World(sign=False).start()
    TMP = os.path.join(WORLD.tmp, "rebase")
    os.makedirs(TMP)
    key_path, secret = tsig_keygen(TMP, "rb-key")
    port = cw.free_port()
    rport = cw.free_port()

    def zconf(name):
        return {"name": name, "primaries": ["127.0.0.1@%d" % port], "tsig-key-file": key_path,
                "notify-interval": "0s", "refresh-min": "1h",
                # served onward too: a rebase keeps the served version (no export)
                "allow-transfer": ["127.0.0.1/32"]}
    R = cw.make_resolver(WORLD, kind="c2wall", mode="recursive", validate=False,
                         listen=("127.0.0.1", rport),
                         extra={"policy": {"state-dir": os.path.join(TMP, "state"),
                                           "zones": [zconf(ZA), zconf(ZB)]}})
    KNOT = KnotPrimary(os.path.join(TMP, "knot"), port,
                       [(ZA, zone_text(ZA, RULES_A, "a")), (ZB, zone_text(ZB, RULES_B, "b"))],
                       "rb-key", "hmac-sha256", secret, notify_port=rport)
    KNOT.start()
    R.start()
    for zone, prefix, rules in ((ZA, "a", RULES_A), (ZB, "b", RULES_B)):
        for i in range(rules):
            EXPECT["%s%04d.example.test." % (prefix, i)] = (
                "10.8.%d.%d" % (i // 250, i % 250) if i % 10 == 0 else None)


def tearDownModule():
    try:
        if R is not None:
            assert R.stop() == 0
    finally:
        if KNOT is not None:
            KNOT.stop()
        WORLD.stop()


def xfr_out(name):
    for z in eu.control_json(R, "xfr-out")["zones"]:
        if z["name"] == name:
            return z
    raise AssertionError("zone %s not served" % name)


def served_a(zone):
    """The A records of @zone as R serves it by AXFR: relative owner -> value."""
    out = {}
    for m in dns.query.xfr(R.addr, zone, port=R.port, lifetime=30,
                              relativize=False):
        for rrset in m.answer:
            if rrset.rdtype == dns.rdatatype.A:
                owner = rrset.name.to_text()[:-len(zone)]
                out[owner] = rrset[0].address
    return out


def answer_of(qname):
    m = R.udp(qname, "A")
    vals = rrset_values(m, "answer", qname, "A")
    return (vals[0] if len(vals) == 1 and vals[0].startswith("10.") else None), m


class TestRebase(unittest.TestCase):
    def _client(self, stop, seen, moving):
        # Bounded: at most 20000 queries, stops with the test. "a0001" no update touches
        # (NXDOMAIN all along); @moving["name"] takes one of the values in @moving["ok"].
        for i in range(20000):
            if stop.is_set():
                return
            q = "a0001.example.test." if i % 2 else moving["name"]
            try:
                m = dns.query.udp(dns.message.make_query(q, "A"), R.addr, port=R.port,
                                  timeout=2.0)
            except Exception:  # a timeout is a lost query
                seen["lost"] += 1
                continue
            seen["answers"] += 1
            vals = rrset_values(m, "answer", q, "A")
            if i % 2 and (vals or m.rcode() != 3):
                seen["wrong"].append((q, vals, m.rcode()))
            if not i % 2 and (vals[0] if vals else None) not in moving["ok"]:
                seen["wrong"].append((q, vals))
            time.sleep(0.003)

    def _check_all(self):
        bad = []
        for qname, want in sorted(EXPECT.items()):
            got, m = answer_of(qname)
            if got != want:
                bad.append((qname, want, got, describe(m)))
        self.assertEqual(bad[:5], [], "%d names answer otherwise than the last version"
                         % len(bad))
        # The wildcard came and went as the model says.
        got, _ = answer_of("x.y.wild.example.test.")
        self.assertEqual(got, WILD["v"])

    def _round(self, zone, serial, lines, model):
        before = zone_state(zone)
        KNOT.update(zone, lines)
        # Knot's own NOTIFY comes about a second after an update: ask at once (from the
        # primary's address, as c2wall requires), so that 31 rounds take seconds
        notify(R.addr, R.port, zone)
        for k, v in model.items():
            if k == "wild":
                WILD["v"] = v
            else:
                EXPECT[k] = v
        z = wait_state(zone, lambda z: z["serial"] >= serial and
                       z["incremental"] > before["incremental"], "serial %d in force" % serial)
        self.assertEqual(z["last_apply"], "incremental", z)
        return serial + 1

    def test_rebase_then_full_merge(self):
        za = zone_state(ZA)
        deadline = time.monotonic() + 30
        while not (za["has_copy"] and zone_state(ZB)["has_copy"]) and \
                time.monotonic() < deadline:
            time.sleep(0.1)
            za = zone_state(ZA)
        self.assertTrue(za["has_copy"], za)
        self.assertEqual(za["rules"], RULES_A, za)
        sa, sb = za["serial"] + 1, zone_state(ZB)["serial"] + 1
        x0 = xfr_out(ZA)
        moving = {"name": "moving.example.test.", "ok": {None}}
        EXPECT["moving.example.test."] = None
        stop = threading.Event()
        seen = {"answers": 0, "lost": 0, "wrong": []}
        th = threading.Thread(target=self._client, args=(stop, seen, moving))
        th.start()
        try:
            # Phase 1: zone A alone, 17 increments.
            for r in range(17):
                add = "n%02d.example.test.%s" % (r, ZA)
                lines = ["update add %s 300 A 10.7.1.%d" % (add, r + 1),
                         # delete a local-data rule of the full compile
                         "update delete a%04d.example.test.%s" % (200 + r * 10, ZA),
                         # the moving name: a new value every round
                         "update delete moving.example.test.%s" % ZA,
                         "update add moving.example.test.%s 300 A 10.7.2.%d" % (ZA, r + 1)]
                model = {"n%02d.example.test." % r: "10.7.1.%d" % (r + 1),
                         "a%04d.example.test." % (200 + r * 10): None,
                         "moving.example.test.": "10.7.2.%d" % (r + 1)}
                if r == 3:  # a wildcard in, then out again three rounds later
                    lines.append("update add *.wild.example.test.%s 300 A 10.7.3.1" % ZA)
                    model["wild"] = "10.7.3.1"
                if r == 5:  # an owner that keeps a record the update does not touch
                    lines.append('update add a0400.example.test.%s 300 TXT "note"' % ZA)
                if r == 6:
                    lines.append("update delete *.wild.example.test.%s" % ZA)
                    model["wild"] = None
                if r == 9:  # a local-data rule of the full compile changes its address
                    lines += ["update delete a0100.example.test.%s A" % ZA,
                              "update add a0100.example.test.%s 300 A 10.7.4.1" % ZA]
                    model["a0100.example.test."] = "10.7.4.1"
                if r == 12:  # a name added in an earlier layer goes again
                    lines.append("update delete n02.example.test.%s" % ZA)
                    model["n02.example.test."] = None
                moving["ok"] = {EXPECT["moving.example.test."], "10.7.2.%d" % (r + 1)}
                sa = self._round(ZA, sa, lines, model)
            z = zone_state(ZA)
            self.assertEqual(z["rebases"], 1, z)
            self.assertEqual(z["merges"], 0, z)
            self.assertGreaterEqual(z["incremental"], 17, z)
            # +17 n.., -17 a0200.., +1 moving, +1 -1 the wildcard, -1 n02 again
            self.assertEqual(z["rules"], RULES_A, z)
            log = R.stderr_text()
            m = re.search(r"zone %s: increments folded into one layer: (\d+) owners"
                          % re.escape(ZA), log)
            self.assertIsNotNone(m, log[-3000:])
            # the 16 increments' owners: 16 n.., 16 a0200.., moving, the wildcard, a0100, a0400
            self.assertEqual(int(m.group(1)), 16 + 16 + 1 + 1 + 1 + 1, m.group(0))
            self.assertNotIn("merged into a full compile", log)
            self._check_all()
            # a0400 kept its A beside the TXT added to it, through the rebase
            self.assertIn('"note"', describe(R.udp("a0400.example.test.", "TXT")))
            # Served onward: every increment made a version from the change alone, the
            # rebase none (no full export), and what R serves is the last version.
            x1 = xfr_out(ZA)
            self.assertEqual(x1["exports_incremental"] - x0["exports_incremental"], 17, (x0, x1))
            self.assertEqual(x1["exports_full"], x0["exports_full"], (x0, x1))
            self.assertEqual(x1["serial"], x0["serial"] + 17, (x0, x1))
            served = served_a(ZA)
            for qname, want in EXPECT.items():
                if qname.startswith(("a", "n", "moving")):
                    self.assertEqual(served.get(qname), want, qname)

            # Phase 2: zone B once, then zone A until the layers stack to 16 again.
            xb0 = xfr_out(ZA)
            sb = self._round(ZB, sb, ["update add bnew.example.test.%s 300 A 10.7.5.1" % ZB],
                             {"bnew.example.test.": "10.7.5.1"})
            r = 17
            while zone_state(ZA)["merges"] == 0 and r < 40:
                lines = ["update delete moving.example.test.%s" % ZA,
                         "update add moving.example.test.%s 300 A 10.7.2.%d" % (ZA, r + 1)]
                moving["ok"] = {EXPECT["moving.example.test."], "10.7.2.%d" % (r + 1)}
                sa = self._round(ZA, sa, lines, {"moving.example.test.": "10.7.2.%d" % (r + 1)})
                r += 1
            z = zone_state(ZA)
            self.assertEqual(z["merges"], 1, z)
            self.assertEqual(z["rebases"], 1, z)
            self.assertLess(r, 40, z)
            log = R.stderr_text()
            self.assertRegex(log, r"zone %s: increments folded into the full image, [0-9.]+ ms"
                             % re.escape(ZA))
            self.assertNotIn("merged into a full compile", log)
            self.assertNotIn("not folded", log)
            xb1 = xfr_out(ZA)
            self.assertEqual(xb1["exports_full"], xb0["exports_full"], (xb0, xb1))
            self.assertEqual(xb1["serial"], xb0["serial"] + r - 17, (xb0, xb1))
            # The next increment stacks on the folded image and is served as one.
            lines = ["update delete moving.example.test.%s" % ZA,
                     "update add moving.example.test.%s 300 A 10.7.2.%d" % (ZA, r + 1)]
            moving["ok"] = {EXPECT["moving.example.test."], "10.7.2.%d" % (r + 1)}
            sa = self._round(ZA, sa, lines, {"moving.example.test.": "10.7.2.%d" % (r + 1)})
            xb2 = xfr_out(ZA)
            self.assertEqual(xb2["exports_incremental"] - xb1["exports_incremental"], 1,
                             (xb1, xb2))
            self.assertEqual(xb2["exports_full"], xb0["exports_full"], (xb0, xb2))
            self.assertEqual(served_a(ZA).get("moving.example.test."), "10.7.2.%d" % (r + 1))
            self._check_all()
            self.assertEqual(zone_state(ZB)["rules"], RULES_B + 1)
        finally:
            stop.set()
            th.join(60)
        print("rebase test: %d answers during %d increments, lost %d"
              % (seen["answers"], sa - 2 + sb - 2, seen["lost"]))
        self.assertGreater(seen["answers"], 50, seen)
        self.assertEqual(seen["lost"], 0, seen)
        self.assertEqual(seen["wrong"], [], seen)


if __name__ == "__main__":
    unittest.main()
