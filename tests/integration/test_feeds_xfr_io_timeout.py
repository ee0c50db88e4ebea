# SPDX-License-Identifier: MIT
"""A large AXFR from a primary with a short I/O timeout (issue 9; docs/policy.md "Feeds").

A real Knot DNS `knotd` serves an RPZ zone of N rules (C2W_XFR_IO_RULES, default 600,000)
signed with TSIG and gives each outgoing message at most `tcp-io-timeout` (C2W_XFR_IO_MS,
default 50 ms) to leave: when c2wall stops reading for longer than that, Knot drops the
transfer. Before the reader thread, c2wall parsed each message before reading the next and
stalled on its table doublings (the one past 524,288 records here), so Knot dropped the
transfer ("stream cut inside a message") every time. Checked: the first AXFR succeeds at the
first attempt (no failure, nothing in last_error, a retry much later than the test), every
record is in the copy, the first, middle and last rules answer, and the received-message
queue's high-water mark is in the zone state and within transfer-max-size. A second zone over
a 1 MiB transfer-max-size fails with the cap named, keeps no copy, and its queue never held
more than the cap."""

import os
import subprocess
import time
import unittest

import dns.rcode

import c2w_world as cw
import events_util as eu
from c2w_world import rrset_values, describe
from knot_util import tsig_keygen

KNOTD = "/usr/sbin/knotd"
ZONE = "big.knot.example."
CAP_ZONE = "cap.knot.example."  # the same kind of zone over a 1 MiB transfer-max-size
CAP_RULES = 100000
CAP_SIZE = 1 << 20
RULES = int(os.environ.get("C2W_XFR_IO_RULES", "600000"))
IO_MS = int(os.environ.get("C2W_XFR_IO_MS", "50"))
MAX_SIZE = 256 << 20  # transfer-max-size set below: the queue's budget

WORLD = R = KNOT = None
TMP = None
PROBES = {}  # name -> A value of the probe rules


def write_zone(path, zone=ZONE, rules=RULES):
    """N rules: NXDOMAIN (CNAME .) names, with local-data A probes at the start, middle, end."""
    probes_at = {0: "first", rules // 2: "middle", rules - 1: "last"}
    with open(path, "w") as f:
        f.write("$ORIGIN %s\n$TTL 300\n@ SOA ns.%s hostmaster.%s 1 3600 600 86400 300\n"
                "@ NS localhost.\n" % (zone, zone, zone))
        for i in range(rules):
            if i in probes_at:
                name = "%s-probe%s.example.test" % (probes_at[i], "" if zone == ZONE else "-cap")
                value = "10.9.0.%d" % (len(PROBES) + 1)
                if zone == ZONE:
                    PROBES[name + "."] = value
                f.write("%s A %s\n" % (name, value))
            else:
                f.write("%s%07d.example.test CNAME .\n" % ("b" if zone == ZONE else "c", i))


class Knot:
    def __init__(self, port, secret):
        self.dir = os.path.join(TMP, "knot")
        os.makedirs(self.dir)
        self.port = port
        zf = os.path.join(self.dir, ZONE + "zone")
        write_zone(zf)
        cf = os.path.join(self.dir, CAP_ZONE + "zone")
        write_zone(cf, CAP_ZONE, CAP_RULES)
        self.conf = os.path.join(self.dir, "knot.conf")
        with open(self.conf, "w") as f:
            f.write("""server:
    rundir: "%(d)s"
    listen: 127.0.0.1@%(port)d
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
    tcp-io-timeout: %(io)d
log:
  - target: stderr
    any: info
database:
    storage: "%(d)s"
key:
  - id: big-key
    algorithm: hmac-sha256
    secret: %(secret)s
acl:
  - id: xfr
    key: big-key
    action: transfer
zone:
  - domain: %(zone)s
    storage: "%(d)s"
    file: "%(zf)s"
    acl: xfr
    zonefile-sync: -1
    journal-content: none
  - domain: %(cap)s
    storage: "%(d)s"
    file: "%(cf)s"
    acl: xfr
    zonefile-sync: -1
    journal-content: none
""" % {"d": self.dir, "port": port, "secret": secret, "zone": ZONE, "zf": zf, "io": IO_MS,
       "cap": CAP_ZONE, "cf": cf})
        self.proc = None

    def start(self):
        self.err_path = os.path.join(self.dir, "stderr")
        err = open(self.err_path, "w")
        self.proc = subprocess.Popen([KNOTD, "-c", self.conf], stdout=err, stderr=err,
                                        stdin=subprocess.DEVNULL)
        err.close()
        cw._register(self.proc)
        # Loading a zone of this size takes Knot a while on a loaded machine.
        cw.wait_answer("127.0.0.1", self.port, ZONE, "SOA", 120, self.proc)

    def log(self):
        with open(self.err_path) as f:
            return f.read()

    def stop(self):
        if self.proc is not None:
            cw._stop_proc(self.proc)


def zone_state(r, name=ZONE):
    return eu.feeds_zone(r, name)


def setUpModule():
    global WORLD, R, KNOT, TMP
    WORLD = cw.World(sign=False).start()
    TMP = os.path.join(WORLD.tmp, "xfrio")
    os.makedirs(TMP)
    key_path, secret = tsig_keygen(TMP, "big-key")
    port = cw.free_port()
    KNOT = Knot(port, secret)
    KNOT.start()
    R = cw.make_resolver(WORLD, kind="c2wall", mode="recursive", validate=False,
                         extra={"policy": {"state-dir": os.path.join(TMP, "state"),
                                           "zones": [{
                                               "name": ZONE,
                                               "primaries": ["127.0.0.1@%d" % port],
                                               "tsig-key-file": key_path,
                                               "notify-interval": "0s",
                                               # one attempt within the test: a failure shows
                                               "retry-min": "600s", "retry-max": "600s",
                                               "transfer-timeout": "100s",
                                               "transfer-max-size": "256MiB"}, {
                                               "name": CAP_ZONE,
                                               "primaries": ["127.0.0.1@%d" % port],
                                               "tsig-key-file": key_path,
                                               "notify-interval": "0s",
                                               "retry-min": "600s", "retry-max": "600s",
                                               "transfer-max-size": "1MiB"}]}})
    R.start()


def tearDownModule():
    try:
        if R is not None:
            assert R.stop() == 0
    finally:
        if KNOT is not None:
            KNOT.stop()
        WORLD.stop()


class TestShortIoTimeout(unittest.TestCase):
    def test_large_axfr_first_attempt(self):
        t0 = time.monotonic()
        deadline = t0 + 100
        z = None
        while time.monotonic() < deadline:
            z = zone_state(R)
            if z["has_copy"] or z["failures"] > 0 or z["last_error"]:
                break
            time.sleep(0.2)
        took = time.monotonic() - t0
        knot_says = [l for l in KNOT.log().splitlines() if "AXFR" in l][-4:]
        self.assertTrue(z["has_copy"] and z["failures"] == 0 and z["last_error"] == "",
                        "AXFR of %d rules from Knot (tcp-io-timeout %d ms) failed: state %r; "
                        "Knot: %s" % (RULES, IO_MS, z, "\n".join(knot_says)))
        print("AXFR of %d rules with Knot's tcp-io-timeout %d ms: in force after %.1f s, "
              "queue peak %d bytes" % (RULES, IO_MS, took, z["queue_peak_bytes"]))
        self.assertEqual(z["records"], RULES + 1)  # and the apex NS
        self.assertEqual(z["transfers"], 1)
        self.assertEqual(z["axfr"], 1)
        # The queue held something, never more than its budget (transfer-max-size).
        self.assertGreater(z["queue_peak_bytes"], 0)
        self.assertLessEqual(z["queue_peak_bytes"], MAX_SIZE)
        self.assertEqual(z["last_queue_peak_bytes"], z["queue_peak_bytes"])
        for name, value in PROBES.items():
            m = R.udp(name, "A")
            self.assertEqual(rrset_values(m, "answer", name, "A"), [value], describe(m))
        m = R.udp("b%07d.example.test." % (RULES // 3), "A")
        self.assertEqual(m.rcode(), dns.rcode.NXDOMAIN, describe(m))

    def test_size_cap_holds_the_queue(self):
        """A transfer over transfer-max-size fails with the cap named, keeps no copy, and the
        queue never held more than the cap."""
        deadline = time.monotonic() + 100
        z = None
        while time.monotonic() < deadline:
            z = zone_state(R, CAP_ZONE)
            if z["has_copy"] or z["failures"] > 0:
                break
            time.sleep(0.2)
        self.assertFalse(z["has_copy"], z)
        self.assertEqual(z["failures"], 1, z)
        self.assertIn("transfer exceeds %d bytes" % CAP_SIZE, z["last_error"], z)
        self.assertGreater(z["queue_peak_bytes"], 0, z)
        self.assertLessEqual(z["queue_peak_bytes"], CAP_SIZE, z)
        m = R.udp("first-probe-cap.example.test.", "A")  # a rule of that zone only
        self.assertEqual(rrset_values(m, "answer", "first-probe-cap.example.test.", "A"), [],
                         describe(m))


if __name__ == "__main__":
    cw.main()
