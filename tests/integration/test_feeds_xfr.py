# SPDX-License-Identifier: MIT
"""Policy zones that follow their primaries by zone transfer (docs/policy.md "Feeds").

c2wall is the secondary of a real BIND 9 `named`, a real Knot DNS `knotd` and a small hostile
primary in Python (xfr_primary.py) for faults real servers do not produce. Each zone's rules
give local data (A 10.x.y.z) to names that do not exist in the test world, so an answer says
at once whether a rule is in force. Checked: AXFR at start, an update on the primary + NOTIFY
-> IXFR -> the new rule answers within seconds; TSIG right, wrong MAC, unknown key, unsigned,
skewed; failover to the second primary; NOTIFY from others REFUSED and counted; no closing SOA,
serial backwards, reset mid-stream keep the last good copy; restart with every primary down
enforces the disk copy; expiry with on-expire drop and keep; the disk copy's mode. The Knot
zone is also served onward to a second c2wall (R2): an IXFR from Knot goes in as an increment
on R and R2 gets the same change by IXFR from R (R's served version made from the increment)."""

import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import time
import unittest

import dns.message
import dns.query
import dns.rcode
import dns.tsigkeyring

import c2w_world as cw
import events_util as eu
from c2w_world import rrset_values, describe
from knot_util import KnotPrimary
from xfr_primary import HostilePrimary, notify

NAMED = "/usr/sbin/named"
TSIG_KEYGEN = "/usr/sbin/tsig-keygen"
NSUPDATE = "/usr/bin/nsupdate"

WORLD = R = R2 = None
BIND = KNOT = HOST = None
PORTS = {}
KEYS = {}
TMP = None
BIND_ZONE = "c2.bind.example."
KNOT_ZONE = "c2.knot.example."
HOST_ZONE = "c2.hostile.example."
EXP_ZONE = "exp.hostile.example."
KEEP_ZONE = "keep.hostile.example."
SKEW_ZONE = "skew.hostile.example."
UNSIGNED_ZONE = "unsigned.hostile.example."


def keygen(name, alg="hmac-sha256"):
    """A BIND key file as tsig-keygen writes it; returns (path, secret)."""
    text = cw.run([TSIG_KEYGEN, "-a", alg, name])
    path = os.path.join(TMP, name + ".key")
    with open(path, "w") as f:
        f.write(text)
    secret = text.split('secret "')[1].split('"')[0]
    return path, secret


def rr_zone(origin, serial, records, expire=3600):
    lines = ["$ORIGIN %s" % origin, "$TTL 300",
             "@ SOA ns.%s hostmaster.%s %d 3600 1 %d 300" % (origin, origin, serial, expire),
             "@ NS localhost."]
    return "\n".join(lines + records) + "\n"


class Named:
    def __init__(self, port, c2port):
        self.dir = os.path.join(TMP, "named")
        os.makedirs(self.dir)
        self.port = port
        zones = ""
        for z, recs in ((BIND_ZONE, ["bind1.example.test A 10.0.1.1"]),
                        ("badmac.bind.example.", ["badmac.example.test A 10.0.1.2"]),
                        ("badkey.bind.example.", ["badkey.example.test A 10.0.1.3"])):
            zf = os.path.join(self.dir, z + "zone")
            with open(zf, "w") as f:
                f.write(rr_zone(z, 1, recs))
            zones += ('zone "%s" { type primary; file "%s"; allow-update { key "bind-key"; }; '
                      'also-notify { 127.0.0.1 port %d; }; };\n' % (z.rstrip("."), zf, c2port))
        self.conf = os.path.join(self.dir, "named.conf")
        with open(self.conf, "w") as f:
            f.write('include "%s";\n' % KEYS["bind"][0])
            f.write('options { directory "%s"; pid-file "%s/named.pid"; '
                    'listen-on port %d { 127.0.0.1; }; listen-on-v6 { none; }; '
                    'recursion no; notify explicit; allow-transfer { key "bind-key"; }; '
                    'dnssec-validation no; session-keyfile "%s/session.key"; '
                    'managed-keys-directory "%s"; };\n'
                    % (self.dir, self.dir, port, self.dir, self.dir))
            f.write("controls { };\n")
            f.write(zones)
        self.proc = None

    def start(self):
        err = open(os.path.join(self.dir, "stderr"), "w")
        self.proc = subprocess.Popen([NAMED, "-g", "-n", "1", "-c", self.conf], stdout=err,
                                     stderr=err, stdin=subprocess.DEVNULL)
        err.close()
        cw._register(self.proc)
        cw.wait_answer("127.0.0.1", self.port, BIND_ZONE, "SOA", 20, self.proc)

    def update(self, lines):
        cmds = "server 127.0.0.1 %d\nzone %s\n%s\nsend\n" % (self.port, BIND_ZONE,
                                                              "\n".join(lines))
        r = subprocess.run([NSUPDATE, "-k", KEYS["bind"][0]], input=cmds, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        if r.returncode != 0:
            raise AssertionError("nsupdate failed: %s" % r.stdout)

    def stop(self):
        if self.proc is not None:
            cw._stop_proc(self.proc)


zone_state = eu.feeds_zone
wait_state = eu.wait_feeds_zone


def xfr_out(r, name):
    for z in eu.control_json(r, "xfr-out")["zones"]:
        if z["name"] == name:
            return z
    raise AssertionError("zone %s not served" % name)


def a_values(r, qname):
    m = r.udp(qname, "A")
    return rrset_values(m, "answer", qname, "A"), m


def wait_answer_a(r, qname, value, timeout=20.0):
    """Poll until @qname A is @value (None: until it is no longer a policy answer)."""
    deadline = time.monotonic() + timeout
    vals = m = None
    while time.monotonic() < deadline:
        vals, m = a_values(r, qname)
        if (value is None and not any(v.startswith("10.") for v in vals)) or \
                (value is not None and vals == [value]):
            return time.monotonic()
        time.sleep(0.05)
    raise AssertionError("%s A: wanted %r, got %r; %s" % (qname, value, vals, describe(m)))


def setUpModule():
    global WORLD, R, BIND, KNOT, HOST, TMP
    WORLD = cw.World(sign=False).start()
    TMP = os.path.join(WORLD.tmp, "feeds")
    os.makedirs(TMP)
    KEYS["bind"] = keygen("bind-key", "hmac-sha256")
    KEYS["knot"] = keygen("knot-key", "hmac-sha512")
    KEYS["host"] = keygen("host-key", "hmac-sha1")
    # Same name as bind-key, another secret: named answers BADSIG. Unknown name: BADKEY.
    wrong = keygen("bind-key-wrong", "hmac-sha256")[0]
    KEYS["badmac"] = os.path.join(TMP, "badmac.key")
    with open(wrong) as f, open(KEYS["badmac"], "w") as g:
        g.write(f.read().replace('key "bind-key-wrong"', 'key "bind-key"'))
    KEYS["badkey"] = keygen("nobody-key", "hmac-sha384")[0]
    for k in ("bind", "knot", "host"):
        PORTS[k] = cw.free_port()
    PORTS["dead"] = cw.free_port()  # nothing listens there: connection refused
    PORTS["r2"] = cw.free_port()
    R = cw.make_resolver(WORLD, kind="c2wall", mode="recursive", validate=False,
                         extra={"policy": {"state-dir": os.path.join(TMP, "state"),
                                           "never-block": ["*.protected.example.test."],
                                           "zones": zones_conf()}})
    BIND = Named(PORTS["bind"], R.port)
    KNOT = KnotPrimary(os.path.join(TMP, "knot"), PORTS["knot"],
                       [(KNOT_ZONE, rr_zone(KNOT_ZONE, 1, ["knot1.example.test A 10.0.2.1"]))],
                       "knot-key", "hmac-sha512", KEYS["knot"][1], notify_port=R.port)
    BIND.start()
    KNOT.start()
    HOST = HostilePrimary("127.0.0.1", PORTS["host"],
                          dns.tsigkeyring.from_text({"host-key": ("hmac-sha1",
                                                                  KEYS["host"][1])}),
                          "host-key").start()
    HOST.publish(HOST_ZONE, 10, ["host1.example.test 300 IN A 10.0.3.1"])
    HOST.publish(EXP_ZONE, 1, ["exp1.example.test 300 IN A 10.0.4.1"], refresh=1,
                 expire=6)
    HOST.publish(KEEP_ZONE, 1, ["keep1.example.test 300 IN A 10.0.5.1"], refresh=1,
                 expire=6)
    HOST.publish(SKEW_ZONE, 1, ["skew1.example.test 300 IN A 10.0.6.1"])
    HOST.mode[SKEW_ZONE] = "skew"
    HOST.publish(UNSIGNED_ZONE, 1, ["unsigned1.example.test 300 IN A 10.0.7.1"])
    HOST.mode[UNSIGNED_ZONE] = "unsigned"
    R.start()
    # A second c2wall follows R for the Knot zone (R serves it onward: a chain).
    global R2
    R2 = cw.make_resolver(
        WORLD, kind="c2wall", mode="recursive", validate=False,
        listen=("127.0.0.1", PORTS["r2"]), name="onward",
        extra={"policy": {"state-dir": os.path.join(TMP, "r2state"),
                          "zones": [{"name": KNOT_ZONE,
                                     "primaries": ["127.0.0.1@%d" % R.port],
                                     "notify-interval": "0s", "refresh-min": "60s"}]}})
    R2.start()


def zones_conf():
    def hostile(name, **kw):
        z = {"name": name, "primaries": ["127.0.0.1@%d" % PORTS["host"]],
             "tsig-key-file": KEYS["host"][0], "notify-interval": "0s",
             "refresh-min": "1s", "retry-min": "1s", "retry-max": "2s"}
        z.update(kw)
        return z
    return [
        # Failover: the first primary refuses connections.
        {"name": BIND_ZONE, "primaries": ["127.0.0.1@%d" % PORTS["dead"],
                                          "127.0.0.1@%d" % PORTS["bind"]],
         "tsig-key-file": KEYS["bind"][0], "notify-interval": "1s"},
        {"name": KNOT_ZONE, "primaries": ["127.0.0.1@%d" % PORTS["knot"]],
         "tsig-key-file": KEYS["knot"][0], "notify-interval": "1s",
         # served onward to R2: increments must stay increments (docs/policy.md "Serials")
         "allow-transfer": ["127.0.0.1/32"], "notify": ["127.0.0.1@%d" % PORTS["r2"]]},
        {"name": "badmac.bind.example.", "primaries": ["127.0.0.1@%d" % PORTS["bind"]],
         "tsig-key-file": KEYS["badmac"], "retry-min": "30s"},
        {"name": "badkey.bind.example.", "primaries": ["127.0.0.1@%d" % PORTS["bind"]],
         "tsig-key-file": KEYS["badkey"], "retry-min": "30s"},
        hostile(HOST_ZONE),
        hostile(EXP_ZONE, **{"on-expire": "drop"}),
        hostile(KEEP_ZONE, **{"on-expire": "keep"}),
        hostile(SKEW_ZONE, **{"retry-min": "30s", "retry-max": "60s"}),
        hostile(UNSIGNED_ZONE, **{"retry-min": "30s", "retry-max": "60s"}),
    ]


def tearDownModule():
    try:
        if R2 is not None:
            R2.stop()
        if R is not None:
            assert R.stop() == 0
    finally:
        for p in (HOST, BIND, KNOT):
            if p is not None:
                p.stop()
        WORLD.stop()


class TestReal(unittest.TestCase):
    def test_bind_axfr_notify_ixfr(self):
        z = wait_state(R, BIND_ZONE, lambda z: z["has_copy"], what="first transfer")
        self.assertEqual(z["serial"], 1)
        self.assertTrue(z["tsig"])
        self.assertEqual(a_values(R, "bind1.example.test.")[0], ["10.0.1.1"])
        self.assertEqual(a_values(R, "bind2.example.test.")[0], [])
        t0 = time.monotonic()
        BIND.update(["update add bind2.example.test.%s 300 A 10.0.1.9" % BIND_ZONE])
        t1 = wait_answer_a(R, "bind2.example.test.", "10.0.1.9", timeout=20)
        z = wait_state(R, BIND_ZONE, lambda z: z["serial"] >= 2, what="serial 2")
        self.assertGreaterEqual(z["ixfr"], 1, z)
        self.assertGreaterEqual(z["notifies"], 1, z)
        self.assertEqual(z["rules"], 2, z)
        self.assertEqual(a_values(R, "bind1.example.test.")[0], ["10.0.1.1"])
        # A deletion travels by IXFR too.
        BIND.update(["update delete bind1.example.test.%s A" % BIND_ZONE])
        wait_answer_a(R, "bind1.example.test.", None, timeout=20)
        print("bind: update -> new rule answering in %.2fs" % (t1 - t0))

    def test_failover_to_second_primary(self):
        z = wait_state(R, BIND_ZONE, lambda z: z["has_copy"], what="first transfer")
        self.assertEqual(z["source"], "127.0.0.1@%d" % PORTS["bind"])
        self.assertIn("Connection refused", R.stderr_text())

    def test_knot_axfr_notify_ixfr(self):
        z = wait_state(R, KNOT_ZONE, lambda z: z["has_copy"], what="first transfer")
        self.assertEqual(a_values(R, "knot1.example.test.")[0], ["10.0.2.1"])
        t0 = time.monotonic()
        KNOT.update(KNOT_ZONE, ["update add knot2.example.test.%s 300 A 10.0.2.9" % KNOT_ZONE])
        t1 = wait_answer_a(R, "knot2.example.test.", "10.0.2.9", timeout=20)
        z = wait_state(R, KNOT_ZONE, lambda z: z["ixfr"] >= 1, what="an IXFR")
        self.assertGreaterEqual(z["serial"], 2)
        print("knot: update -> new rule answering in %.2fs" % (t1 - t0))

    def test_tsig_bad_mac_and_unknown_key(self):
        for name, qname, why in (("badmac.bind.example.", "badmac.example.test.", "BADSIG"),
                                 ("badkey.bind.example.", "badkey.example.test.", "BADKEY")):
            z = wait_state(R, name, lambda z: z["failures"] >= 1, what="a failed attempt")
            self.assertFalse(z["has_copy"], z)
            self.assertIn(why, z["last_error"], z)
            self.assertEqual(a_values(R, qname)[0], [])


class TestIncremental(unittest.TestCase):
    """An IXFR of a few changes goes in as an increment (docs/policy.md "Increments"): the
    feeds state says "incremental", the right names are blocked and unblocked, and a client
    querying all along loses no query and never sees a mix of versions."""

    def test_knot_ixfr_applied_incrementally(self):
        try:
            self._knot_ixfr_applied_incrementally()
        except AssertionError:
            for r in (R, R2):
                sys.stderr.write("\n".join(l for l in r.stderr_text().splitlines()
                                            if "knot" in l)[-12000:] + "\n")
            raise

    def _knot_ixfr_applied_incrementally(self):
        wait_state(R, KNOT_ZONE, lambda z: z["has_copy"], what="first transfer")
        stop = threading.Event()
        seen = {"answers": 0, "lost": 0, "wrong": []}

        def client():
            # Bounded: at most 2000 queries, stops with the test.
            for i in range(2000):
                if stop.is_set():
                    return
                q = dns.message.make_query("knot1.example.test." if i % 2 else
                                           "inc2.example.test.", "A")
                try:
                    m = dns.query.udp(q, R.addr, port=R.port, timeout=2.0)
                except Exception:  # a timeout is a lost query
                    seen["lost"] += 1
                    continue
                seen["answers"] += 1
                vals = rrset_values(m, "answer", q.question[0].name.to_text(), "A")
                if i % 2 and vals != ["10.0.2.1"]:
                    seen["wrong"].append(("knot1", vals))
                if not i % 2 and vals not in ([], ["10.0.2.22"], ["10.0.2.23"]):
                    seen["wrong"].append(("inc2", vals))
                time.sleep(0.005)

        wait_state(R2, KNOT_ZONE, lambda z: z["has_copy"], what="R2's first transfer")
        wait_state(R2, KNOT_ZONE, lambda z: z["serial"] == xfr_out(R, KNOT_ZONE)["serial"],
                   what="R2 as current as R")
        s0 = eu.control_json(R, "stats")
        x0 = xfr_out(R, KNOT_ZONE)
        th = threading.Thread(target=client)
        th.start()
        try:
            before = zone_state(R, KNOT_ZONE)
            KNOT.update(KNOT_ZONE, ["update add inc1.example.test.%s 300 A 10.0.2.21" % KNOT_ZONE,
                         "update add inc2.example.test.%s 300 A 10.0.2.22" % KNOT_ZONE,
                         "update add *.incw.example.test.%s 300 A 10.0.2.44" % KNOT_ZONE,
                         "update add 32.7.2.0.10.rpz-ip.%s 300 CNAME ." % KNOT_ZONE])
            wait_answer_a(R, "inc1.example.test.", "10.0.2.21")
            z = wait_state(R, KNOT_ZONE, lambda z: z["incremental"] > before["incremental"],
                           what="an incremental apply")
            self.assertEqual(z["last_apply"], "incremental", z)
            # R serves the zone onward: R2 gets the same change by IXFR (not a whole
            # zone), and R made that version from the increment, not a full export.
            wait_answer_a(R2, "inc1.example.test.", "10.0.2.21")
            wait_answer_a(R2, "a.b.incw.example.test.", "10.0.2.44")
            s1 = eu.control_json(R, "stats")
            x1 = xfr_out(R, KNOT_ZONE)
            self.assertGreater(s1["xfr_out_ixfr"], s0["xfr_out_ixfr"], (s0, s1))
            self.assertEqual(s1["xfr_out_ixfr_full"], s0["xfr_out_ixfr_full"], (s0, s1))
            self.assertGreater(x1["exports_incremental"], x0["exports_incremental"], (x0, x1))
            self.assertEqual(x1["exports_full"], x0["exports_full"], (x0, x1))
            self.assertEqual(x1["serial"], x0["serial"] + 1, (x0, x1))
            self.assertEqual(zone_state(R2, KNOT_ZONE)["serial"], x1["serial"])
            self.assertEqual(z["rules"], before["rules"] + 4, (before, z))
            self.assertEqual(a_values(R, "inc2.example.test.")[0], ["10.0.2.22"])
            self.assertEqual(a_values(R, "a.b.incw.example.test.")[0], ["10.0.2.44"])
            print("knot: 4 changes in force %.1f ms after the transfer (incremental)" %
                  (z["last_apply_us"] / 1000.0))
            # The log line says where that time went (docs/policy.md "Where the time goes").
            line = (r"serial %d from .* by IXFR, .* in force \(incremental, ([0-9.]+) ms after "
                    r"the transfer: ([0-9.]+) ms parse, ([0-9.]+) ms copy, ([0-9.]+) ms records, "
                    r"([0-9.]+) ms wait, ([0-9.]+) ms build, ([0-9.]+) ms swap; CPU: ([0-9.]+) ms "
                    r"receive, ([0-9.]+) ms copy, ([0-9.]+) ms records, ([0-9.]+) ms build\)"
                    % z["serial"])
            deadline = time.monotonic() + 5
            while not (stages := re.findall(line, R.stderr_text())) and \
                    time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertEqual(len(stages), 1, R.stderr_text()[-3000:])
            total, *parts = [float(v) for v in stages[0]]
            wall, cpu = parts[:6], parts[6:]
            self.assertLessEqual(sum(wall), total + 0.5, stages)
            # A stage's CPU time on its own thread is at most its wall time (clock steps and
            # rounding aside): copy, records, build.
            self.assertLessEqual(cpu[1], wall[1] + 1.0, stages)
            self.assertLessEqual(cpu[2], wall[2] + 1.0, stages)
            self.assertLessEqual(cpu[3], wall[4] + 1.0, stages)
            # Second increment over the first: a delete, a change, a delete of a wildcard.
            mid = z
            KNOT.update(KNOT_ZONE, ["update delete inc1.example.test.%s A" % KNOT_ZONE,
                         "update delete inc2.example.test.%s A" % KNOT_ZONE,
                         "update add inc2.example.test.%s 300 A 10.0.2.23" % KNOT_ZONE,
                         "update delete *.incw.example.test.%s" % KNOT_ZONE,
                         # an owner that keeps an untouched record (knot1's A): its rule is
                         # rebuilt from all its records, not only the added one
                         "update add knot1.example.test.%s 300 TXT \"note\"" % KNOT_ZONE])
            wait_answer_a(R, "inc2.example.test.", "10.0.2.23")
            z = wait_state(R, KNOT_ZONE, lambda z: z["incremental"] > mid["incremental"],
                           what="a second incremental apply")
            wait_answer_a(R2, "inc2.example.test.", "10.0.2.23")
            wait_answer_a(R2, "inc1.example.test.", None)
            x2 = xfr_out(R, KNOT_ZONE)
            self.assertEqual(x2["exports_full"], x0["exports_full"], (x0, x2))
            self.assertEqual(eu.control_json(R, "stats")["xfr_out_ixfr_full"],
                             s0["xfr_out_ixfr_full"])
            self.assertEqual(z["rules"], before["rules"] + 2, (before, z))
            self.assertEqual(a_values(R, "inc1.example.test.")[0], [])
            self.assertEqual(a_values(R, "a.b.incw.example.test.")[0], [])
            self.assertEqual(a_values(R, "knot1.example.test.")[0], ["10.0.2.1"])
            m = R.udp("knot1.example.test.", "TXT")
            self.assertIn('"note"', describe(m))
            # The disk copy has the new serial too.
            path = os.path.join(TMP, "state", KNOT_ZONE + "zone")
            with open(path) as f:
                head = f.readline()
            self.assertIn("serial=%d" % z["serial"], head)
        finally:
            stop.set()
            th.join(30)
        self.assertGreater(seen["answers"], 10, seen)
        self.assertEqual(seen["lost"], 0, seen)
        self.assertEqual(seen["wrong"], [], seen)

    def test_knot_ixfr_blocking_never_block_name_refused(self):
        """The guard rails hold for increments: an IXFR that would block a never-block name
        is refused whole (its other change too) and the old serial stays in force."""
        z0 = wait_state(R, KNOT_ZONE, lambda z: z["has_copy"], what="first transfer")
        KNOT.update(KNOT_ZONE, ["update add bank.protected.example.test.%s 300 A 10.0.2.66" % KNOT_ZONE,
                     "update add also.example.test.%s 300 A 10.0.2.67" % KNOT_ZONE])
        z = wait_state(R, KNOT_ZONE, lambda z: z["failures"] > z0["failures"],
                       what="a refused increment")
        self.assertEqual(z["serial"], z0["serial"], z)
        self.assertIn("not put in force", z["last_error"], z)
        self.assertEqual(a_values(R, "also.example.test.")[0], [])
        self.assertEqual(a_values(R, "bank.protected.example.test.")[0], [])
        # The primary takes it back: the next IXFR (both versions) goes in.
        KNOT.update(KNOT_ZONE, ["update delete bank.protected.example.test.%s A" % KNOT_ZONE])
        wait_answer_a(R, "also.example.test.", "10.0.2.67")
        z = zone_state(R, KNOT_ZONE)
        self.assertGreater(z["serial"], z0["serial"] + 1, z)
        self.assertEqual(a_values(R, "bank.protected.example.test.")[0], [])


class TestHostile(unittest.TestCase):
    def setUp(self):
        self.z = wait_state(R, HOST_ZONE, lambda z: z["has_copy"], what="first transfer")

    def _fault(self, mode, serial, expect):
        """Publish @serial with a new rule, serve it with fault @mode, NOTIFY: the refresh
        fails with @expect, the last good copy stays; then serve it right: it goes in."""
        before = zone_state(R, HOST_ZONE)
        qname = "fault%d.example.test." % serial
        HOST.publish(HOST_ZONE, serial, ["host1.example.test 300 IN A 10.0.3.1",
                                         "fault%d.example.test 300 IN A 10.0.3.%d" %
                                         (serial, serial)])
        HOST.mode[HOST_ZONE] = mode
        self.assertEqual(notify(R.addr, R.port, HOST_ZONE).rcode(), dns.rcode.NOERROR)
        z = wait_state(R, HOST_ZONE, lambda z: z["failures"] > before["failures"],
                       what="a failed refresh")
        self.assertIn(expect, z["last_error"], z)
        self.assertEqual(z["serial"], before["serial"], z)
        self.assertEqual(a_values(R, "host1.example.test.")[0], ["10.0.3.1"])
        self.assertEqual(a_values(R, qname)[0], [])
        HOST.mode[HOST_ZONE] = "ok"
        if mode == "backwards":
            HOST.current[HOST_ZONE] = serial
        notify(R.addr, R.port, HOST_ZONE)
        wait_answer_a(R, qname, "10.0.3.%d" % serial)

    def test_1_no_closing_soa(self):
        self._fault("noclose", 11, "before the closing SOA")

    def test_2_reset_mid_stream(self):
        self._fault("reset", 12, "")

    def test_3_serial_backwards(self):
        # The primary now offers serial 10 (older than what we hold).
        HOST.publish(HOST_ZONE, 13, ["host1.example.test 300 IN A 10.0.3.1",
                                     "fault13.example.test 300 IN A 10.0.3.13"])
        HOST.current[HOST_ZONE] = 13
        before = zone_state(R, HOST_ZONE)
        HOST.mode[HOST_ZONE] = "backwards"
        notify(R.addr, R.port, HOST_ZONE)
        z = wait_state(R, HOST_ZONE, lambda z: z["failures"] > before["failures"],
                       what="a failed refresh")
        self.assertIn("older than ours", z["last_error"], z)
        self.assertEqual(z["serial"], before["serial"])
        HOST.mode[HOST_ZONE] = "ok"
        notify(R.addr, R.port, HOST_ZONE)
        wait_answer_a(R, "fault13.example.test.", "10.0.3.13")

    def test_4_unsigned_and_skewed_rejected(self):
        z = wait_state(R, UNSIGNED_ZONE, lambda z: z["failures"] >= 1, what="failure")
        self.assertIn("not signed", z["last_error"], z)
        self.assertFalse(z["has_copy"])
        z = wait_state(R, SKEW_ZONE, lambda z: z["failures"] >= 1, what="failure")
        self.assertIn("TSIG", z["last_error"], z)
        self.assertFalse(z["has_copy"])
        self.assertEqual(a_values(R, "skew1.example.test.")[0], [])
        self.assertEqual(a_values(R, "unsigned1.example.test.")[0], [])

    def test_5_notify_refused_from_others(self):
        before = eu.control_json(R, "stats")
        m = notify(R.addr, R.port, HOST_ZONE, source="127.0.0.2")
        self.assertEqual(m.rcode(), dns.rcode.REFUSED)
        m = notify(R.addr, R.port, "not-followed.example.")
        self.assertEqual(m.rcode(), dns.rcode.REFUSED)
        after = eu.control_json(R, "stats")
        self.assertEqual(after["notify_refused"] - before["notify_refused"], 2)

    def test_6_notify_storm_one_refresh_per_interval(self):
        # c2.bind.example has notify-interval 1s: 50 NOTIFYs in well under a second.
        wait_state(R, BIND_ZONE, lambda z: z["has_copy"], what="copy")
        time.sleep(1.5)
        before = zone_state(R, BIND_ZONE)
        t0 = time.monotonic()
        for _ in range(50):
            notify(R.addr, R.port, BIND_ZONE)
        spent = time.monotonic() - t0
        time.sleep(1.5)
        z = zone_state(R, BIND_ZONE)
        done = z["transfers"] + z["failures"] - before["transfers"] - before["failures"]
        self.assertLessEqual(done, int(spent + 1.5) + 2, (done, spent))
        self.assertGreaterEqual(done, 1)

    def test_7_disk_copy(self):
        path = os.path.join(TMP, "state", HOST_ZONE + "zone")
        st = os.stat(path)
        self.assertEqual(stat.S_IMODE(st.st_mode) & 0o027, 0, oct(st.st_mode))
        with open(path) as f:
            head = f.readline()
        self.assertTrue(head.startswith("; c2wall-xfr v1 origin=%s" % HOST_ZONE), head)
        self.assertEqual([n for n in os.listdir(os.path.dirname(path)) if ".tmp." in n or
                          n.endswith(".candidate")], [])


class TestExpire(unittest.TestCase):
    def test_expire_drop_and_keep(self):
        wait_state(R, EXP_ZONE, lambda z: z["has_copy"], what="copy")
        wait_state(R, KEEP_ZONE, lambda z: z["has_copy"], what="copy")
        self.assertEqual(a_values(R, "exp1.example.test.")[0], ["10.0.4.1"])
        HOST.mode[EXP_ZONE] = "refuse"
        HOST.mode[KEEP_ZONE] = "refuse"
        z = wait_state(R, EXP_ZONE, lambda z: z["expired"], timeout=20, what="expired")
        self.assertFalse(z["enforced"])
        wait_answer_a(R, "exp1.example.test.", None, timeout=10)
        z = wait_state(R, KEEP_ZONE, lambda z: z["expired"], timeout=20, what="expired")
        self.assertTrue(z["enforced"])
        self.assertEqual(a_values(R, "keep1.example.test.")[0], ["10.0.5.1"])
        self.assertIn("EXPIRED", R.stderr_text())
        # The primary is back: enforced again.
        HOST.mode[EXP_ZONE] = "ok"
        wait_answer_a(R, "exp1.example.test.", "10.0.4.1", timeout=20)
        self.assertFalse(zone_state(R, EXP_ZONE)["expired"])


class TestRestart(unittest.TestCase):
    def test_restart_every_primary_down(self):
        wait_state(R, BIND_ZONE, lambda z: z["has_copy"], what="copy")
        state2 = os.path.join(TMP, "state2")
        os.makedirs(state2, exist_ok=True)
        shutil.copy(os.path.join(TMP, "state", BIND_ZONE + "zone"), state2)
        serial = zone_state(R, BIND_ZONE)["serial"]
        R2 = cw.make_resolver(WORLD, kind="c2wall", mode="recursive", validate=False,
                              name="c2wall-restart",
                              extra={"policy": {"state-dir": state2, "zones": [
                                  {"name": BIND_ZONE,
                                   "primaries": ["127.0.0.1@%d" % PORTS["dead"]],
                                   "tsig-key-file": KEYS["bind"][0]}]}})
        R2.start()
        try:
            z = zone_state(R2, BIND_ZONE)
            self.assertTrue(z["has_copy"])
            self.assertEqual(z["serial"], serial)
            self.assertEqual(a_values(R2, "bind2.example.test.")[0], ["10.0.1.9"])
            z = wait_state(R2, BIND_ZONE, lambda z: z["failures"] >= 1, what="failure")
            self.assertIn("refused", z["last_error"].lower(), z)
            self.assertEqual(a_values(R2, "bind2.example.test.")[0], ["10.0.1.9"])
        finally:
            self.assertEqual(R2.stop(), 0)


if __name__ == "__main__":
    cw.main()
