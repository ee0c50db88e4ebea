# SPDX-License-Identifier: MIT
"""Hit events end to end (issue 4): blocked queries of several triggers and actions (QNAME
exact and wildcard, CLIENT-IP, RESPONSE-IP; NXDOMAIN, NODATA, local data, PASSTHRU, DROP and a
shadow `policy: log` zone) reach the JSON Lines file, the dnstap file (read back with Debian's
`dnstap-ldns -r` and with our own decoder for the Policy fields) and the incident store with
the right fields; the raw client address appears in no sink; allowed queries leave no record;
the control socket counts hits per zone and action; the JSON Lines file is reopened on SIGHUP
(logrotate) without losing hits; `events.query-log: true` is the only way to record queries
that hit no policy.

Not tested here: the syslog sink. glibc's syslog() writes to /dev/log, which this test host
does not have, and replacing it would touch the machine outside the test's directory."""

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import dns.message
import dns.rcode

import c2w_world as cw
import events_util as eu
from c2w_world import DATA

WORLD = None
R = None  # the daemon with every sink on
JSONL = DNSTAP = DB = FEED_PATH = None

FEED = """$TTL 300
@ SOA localhost. hostmaster.localhost. 1 3600 600 86400 300
  NS localhost.
cnc.evil.test          CNAME .              ; category=c2 family=emotet
*.botnet.test          CNAME .              ; family=mirai
nodata.evil.test       CNAME *.             ; family=nodatafam
sink.evil.test         A 192.0.2.66         ; category=malware family=qakbot
www.other.test         CNAME rpz-passthru.  ; family=passfam
drop.evil.test         CNAME rpz-drop.      ; family=dropfam
32.2.2.0.192.rpz-ip    CNAME .              ; family=respfam
32.9.0.0.127.rpz-client-ip CNAME .          ; family=clientfam
"""

SHADOW = """$TTL 300
@ SOA localhost. hostmaster.localhost. 1 3600 600 86400 300
  NS localhost.
mail.example.test      CNAME .              ; family=shadowfam
"""

# qname, type, source address, expected: rcode (None = no answer), trigger, match, zone,
# action, category, family
CASES = [
    ("cnc.evil.test.", "A", "127.0.0.1", "NXDOMAIN", "qname", "cnc.evil.test.", "c2.rpz.",
     "nxdomain", "c2", "emotet"),
    ("a.b.botnet.test.", "AAAA", "127.0.0.1", "NXDOMAIN", "qname", "*.botnet.test.", "c2.rpz.",
     "nxdomain", "c2", "mirai"),
    ("nodata.evil.test.", "A", "127.0.0.1", "NOERROR", "qname", "nodata.evil.test.",
     "c2.rpz.", "nodata", "c2", "nodatafam"),
    ("sink.evil.test.", "A", "127.0.0.1", "NOERROR", "qname", "sink.evil.test.", "c2.rpz.",
     "local-data", "malware", "qakbot"),
    ("www.other.test.", "A", "127.0.0.1", "NOERROR", "qname", "www.other.test.", "c2.rpz.",
     "passthru", "c2", "passfam"),
    ("drop.evil.test.", "A", "127.0.0.1", None, "qname", "drop.evil.test.", "c2.rpz.", "drop",
     "c2", "dropfam"),
    ("v4only.example.test.", "A", "127.0.0.1", "NXDOMAIN", "response-ip", "192.0.2.2/32",
     "c2.rpz.", "nxdomain", "c2", "respfam"),
    ("www.example.test.", "A", "127.0.0.9", "NXDOMAIN", "client-ip", "127.0.0.9/32",
     "c2.rpz.", "nxdomain", "c2", "clientfam"),
    ("mail.example.test.", "A", "127.0.0.1", "NOERROR", "qname", "mail.example.test.",
     "shadow.rpz.", "log", "phishing", "shadowfam"),
]


def zones(d):
    global FEED_PATH
    c2, shadow = os.path.join(d, "c2.rpz"), os.path.join(d, "shadow.rpz")
    FEED_PATH = FEED_PATH or c2
    with open(c2, "w") as f:
        f.write(FEED)
    with open(shadow, "w") as f:
        f.write(SHADOW)
    return [{"name": "c2.rpz.", "file": c2},
            {"name": "shadow.rpz.", "file": shadow, "policy": "log", "category": "phishing",
             "feed": "shadow-feed"}]


def setUpModule():
    global WORLD, R, JSONL, DNSTAP, DB
    WORLD = cw.World(upstream=False).start()
    try:
        d = tempfile.mkdtemp(dir=WORLD.tmp, prefix="events-")
        JSONL = os.path.join(d, "log", "hits.jsonl")
        DNSTAP = os.path.join(d, "log", "hits.dnstap")
        extra = {"policy": {"zones": zones(d)},
                 "events": {"jsonl": JSONL, "dnstap": "file:" + DNSTAP}}
        R = cw.make_resolver(WORLD, kind="c2wall", extra=extra).start()
        DB = os.path.join(R.dir, "incidents.db")
        run_cases()
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    try:
        if R is not None and R.running():
            assert R.stop() == 0
    finally:
        WORLD.stop()


ANSWERS = {}


def run_cases():
    """Send every case once (the module's tests then inspect the sinks)."""
    for c in CASES:
        ANSWERS[c[0]] = eu.query(R, c[0], c[1], source=c[2], timeout=1.5 if c[3] is None
                                 else 3.0)
    # Allowed queries: no policy applies; they must leave no record at all.
    for name in ("www.example.test.", "cname-a.example.test.", "www.sub.example.test."):
        m = eu.query(R, name, "A", source="127.0.0.3")
        assert m is not None and eu.rcode(m) == "NOERROR", name


def jsonl_lines(count, timeout=5.0):
    """Wait until the JSONL file has at least @count lines (the sink flushes every second)."""
    return eu.wait_for(lambda: (lambda v: v if len(v) >= count else None)(
        eu.read_jsonl(JSONL)), timeout) or eu.read_jsonl(JSONL)


def dnstap_stopped_copy():
    """dnstap records: libfstrm writes the file through its own thread; the file is complete
    once the daemon stopped, so the module's last test reads it (see TestZZDnstap)."""
    return eu.dnstap_records(DNSTAP)


class TestAnswers(unittest.TestCase):
    def test_answers_follow_the_actions(self):
        for c in CASES:
            with self.subTest(qname=c[0], source=c[2]):
                self.assertEqual(eu.rcode(ANSWERS[c[0]]) if c[3] else None,
                                 c[3] if c[3] else None, cw.describe(ANSWERS[c[0]]))
        self.assertEqual(cw.rrset_values(ANSWERS["sink.evil.test."], "answer",
                                         "sink.evil.test.", "A"), ["192.0.2.66"])
        self.assertEqual(cw.rrset_values(ANSWERS["www.other.test."], "answer",
                                         "www.other.test.", "A"), [DATA["www.other.test."]["A"]])
        self.assertEqual(cw.rrset_values(ANSWERS["mail.example.test."], "answer",
                                         "mail.example.test.", "A"),
                         [DATA["mail.example.test."]["A"]])
        self.assertIsNone(ANSWERS["drop.evil.test."])


class TestJsonl(unittest.TestCase):
    def test_every_hit_with_its_fields(self):
        lines = jsonl_lines(len(CASES))
        self.assertEqual(len(lines), len(CASES), lines)
        by_name = {l["qname"]: l for l in lines}
        for qname, qtype, src, _, trig, match, zone, action, cat, fam in CASES:
            with self.subTest(qname=qname):
                l = by_name.get(qname)
                self.assertIsNotNone(l, "no JSONL line for %s: %s" % (qname, lines))
                self.assertRegex(l["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
                self.assertRegex(l["client"], r"^[0-9a-f]{32}$")
                self.assertEqual(l["qtype"], qtype)
                self.assertEqual(l["trigger"], trig)
                if trig == "client-ip":
                    # issue 12: a client-ip rule's prefix is subscriber data: the /32 rule is
                    # the client's own address, so it is its pseudonym.
                    self.assertEqual(l["match"], l["client"] + "/" + match.split("/")[1])
                    self.assertNotIn(match.split("/")[0], json.dumps(l))
                else:
                    self.assertEqual(l["match"], match)
                self.assertEqual(l["zone"], zone)
                self.assertEqual(l["action"], action)
                self.assertEqual(l["category"], cat)
                self.assertEqual(l["family"], fam)
                self.assertEqual(l["feed"], "shadow-feed" if zone == "shadow.rpz." else zone)
                self.assertTrue(l["answer"], l)
        self.assertIn("NXDOMAIN", by_name["cnc.evil.test."]["answer"])
        self.assertIn("passthru", by_name["www.other.test."]["answer"])
        self.assertIn("drop", by_name["drop.evil.test."]["answer"])
        self.assertIn("shadow", by_name["mail.example.test."]["answer"])
        # one client, one pseudonym; another client, another one
        p1 = {l["client"] for l in lines if l["qname"] != "www.example.test."}
        self.assertEqual(len(p1), 1)
        self.assertNotIn(by_name["www.example.test."]["client"], p1)

    def test_no_raw_address_and_no_allowed_query(self):
        jsonl_lines(len(CASES))
        with open(JSONL, "rb") as f:
            data = f.read()
        self.assertNotIn(b"127.0.0.1", data)
        self.assertNotIn(b"127.0.0.3", data)
        self.assertNotIn(b"127.0.0.9\"", data.replace(b"127.0.0.9/32", b""))
        for name in (b"cname-a.example.test", b"www.sub.example.test"):
            self.assertNotIn(name, data)


class TestStoreAndCounters(unittest.TestCase):
    def test_incidents_per_client_day_family(self):
        rows = eu.wait_for(lambda: (lambda r: r if sum(x[2] for x in r) >= len(CASES) else
                                    None)(eu.sql(DB, "SELECT label, zone, count, pseudonym, "
                                                     "client_ip, action FROM incidents WHERE "
                                                     "client_ip IN ('127.0.0.1', '127.0.0.9')"
                                                     )), 5)
        self.assertTrue(rows, eu.sql(DB, "SELECT * FROM incidents"))
        labels = {r[0]: r for r in rows}
        for c in CASES:
            self.assertIn(c[9], labels, rows)
            self.assertEqual(labels[c[9]][1], c[6])
            self.assertEqual(labels[c[9]][2], 1)
        self.assertEqual(labels["emotet"][4], "127.0.0.1")  # raw address: local store only
        self.assertEqual(labels["clientfam"][4], "127.0.0.9")
        # the allowed client has no incident
        self.assertEqual(eu.sql(DB, "SELECT count(*) FROM incidents WHERE client_ip = ?",
                                ("127.0.0.3",))[0][0], 0)
        names = eu.sql(DB, "SELECT qname FROM incident_names")
        self.assertNotIn(("cname-a.example.test.",), names)

    def test_control_counts_per_zone_and_action(self):
        jsonl_lines(len(CASES))
        ev = eu.control_json(R, "events")
        got = {(z["zone"], z["action"]): z["hits"] for z in ev["zones"]}
        want = {}
        for c in CASES:
            want[(c[6], c[7])] = want.get((c[6], c[7]), 0) + 1
        for k, n in want.items():
            self.assertGreaterEqual(got.get(k, 0), n, (k, ev))
        self.assertEqual(ev["dropped"], 0)
        self.assertEqual(ev["query_skipped"], 0)
        self.assertEqual(ev["queries_logged"], 0)
        stats = eu.control_json(R, "stats")
        self.assertGreater(stats["queries"], len(CASES))


class TestReopen(unittest.TestCase):
    def test_logrotate_rename_then_hup(self):
        before = len(jsonl_lines(len(CASES)))
        rotated = JSONL + ".1"
        # hits flowing while the file is renamed, then HUP (what logrotate's postrotate does)
        for i in range(5):
            eu.query(R, "r%d.botnet.test." % i, "A", source="127.0.0.4")
        # The writer is asynchronous: the first five are in the file before it is renamed
        # (under ASan one could still be queued at the HUP and land in the new file).
        self.assertTrue(eu.wait_for(lambda: all(
            "r%d.botnet.test." % i in {l["qname"] for l in eu.read_jsonl(JSONL)}
            for i in range(5)), 5), "first five hits not written")
        os.rename(JSONL, rotated)
        for i in range(5, 10):
            eu.query(R, "r%d.botnet.test." % i, "A", source="127.0.0.4")
        R.reload()
        self.assertTrue(eu.wait_for(lambda: os.path.exists(JSONL), 5), "no new file after HUP")
        for i in range(10, 15):
            eu.query(R, "r%d.botnet.test." % i, "A", source="127.0.0.4")

        def all_seen():
            names = {l["qname"] for l in eu.read_jsonl(rotated) + eu.read_jsonl(JSONL)}
            return all("r%d.botnet.test." % i in names for i in range(15))
        self.assertTrue(eu.wait_for(all_seen, 5), (eu.read_jsonl(rotated)[-3:],
                                                   eu.read_jsonl(JSONL)))
        old, new = eu.read_jsonl(rotated), eu.read_jsonl(JSONL)
        self.assertGreaterEqual(len(old), before + 5)
        self.assertIn("r14.botnet.test.", {l["qname"] for l in new})
        self.assertEqual(len(old) + len(new), before + 15)
        self.assertTrue(R.running())

    def test_reopen_even_when_the_reload_fails(self):
        """logrotate's HUP must reopen the hit log even if the new config does not load."""
        eu.query(R, "s0.botnet.test.", "A", source="127.0.0.6")
        self.assertTrue(eu.wait_for(lambda: "s0.botnet.test." in
                                    {l["qname"] for l in eu.read_jsonl(JSONL)}, 5))
        rotated = JSONL + ".2"
        os.rename(JSONL, rotated)
        os.rename(FEED_PATH, FEED_PATH + ".away")  # the reload now fails: feed unreadable
        try:
            R.reload()
            self.assertTrue(eu.wait_for(lambda: "keeping the running configuration" in
                                        R.stderr_text(), 5), R.stderr_text()[-2000:])
            self.assertTrue(eu.wait_for(lambda: os.path.exists(JSONL), 5),
                            "hit log not reopened after a failed reload")
        finally:
            os.rename(FEED_PATH + ".away", FEED_PATH)
        m = eu.query(R, "s1.botnet.test.", "A", source="127.0.0.6")
        self.assertEqual(eu.rcode(m), "NXDOMAIN")  # the running policy stayed
        self.assertTrue(eu.wait_for(lambda: "s1.botnet.test." in
                                    {l["qname"] for l in eu.read_jsonl(JSONL)}, 5))
        self.assertNotIn("s1.botnet.test.", {l["qname"] for l in eu.read_jsonl(rotated)})


class TestRingAndRotation(unittest.TestCase):
    """A tiny ring under a burst drops and counts (per zone and action), never delays an
    answer; the JSON Lines file rotates by size and keeps every written hit."""

    def test_full_ring_drops_and_counts_size_rotation(self):
        d = tempfile.mkdtemp(dir=WORLD.tmp, prefix="ring-")
        jsonl = os.path.join(d, "hits.jsonl")
        extra = {"policy": {"zones": zones(d)},
                 "events": {"jsonl": jsonl, "ring-entries": 16, "jsonl-rotate-size": 8192}}
        r = cw.make_resolver(WORLD, kind="c2wall", extra=extra, workers=1,
                             name="ring").start()
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.7", 0))
            s.settimeout(3)
            answered, sent = 0, 0
            for burst in range(4):
                ids = set()
                for i in range(100):
                    q = dns.message.make_query("b%d-%d.botnet.test." % (burst, i), "A")
                    ids.add(q.id)
                    s.sendto(q.to_wire(), (r.addr, r.port))
                    sent += 1
                for _ in range(100):
                    try:
                        m = dns.message.from_wire(s.recv(4096))
                    except OSError:
                        break
                    if m.id in ids and m.rcode() == dns.rcode.NXDOMAIN:
                        answered += 1
            s.close()
            self.assertEqual(answered, sent, "a full ring must not cost answers")
            ev = eu.wait_for(lambda: (lambda e: e if e["hits"] + e["dropped"] >= sent
                                      else None)(eu.control_json(r, "events")), 5)
            self.assertTrue(ev, eu.control_json(r, "events"))
            self.assertGreater(ev["dropped"], 0, ev)
            self.assertEqual(ev["hits"] + ev["dropped"], sent, ev)
            z = {(x["zone"], x["action"]): x for x in ev["zones"]}[("c2.rpz.", "nxdomain")]
            self.assertEqual(z["hits"], ev["hits"])
            self.assertEqual(z["dropped"], ev["dropped"])
            self.assertGreater(ev["jsonl_rotations"], 0, ev)

            def all_lines():
                files = [f for f in os.listdir(d) if f.startswith("hits.jsonl")]
                return files, [l for f in files for l in eu.read_jsonl(os.path.join(d, f))]
            ok = eu.wait_for(lambda: len(all_lines()[1]) == ev["hits"], 5)
            files, lines = all_lines()
            self.assertTrue(ok, (files, len(lines), ev))
            self.assertGreater(len(files), 1)
            for f in files:
                self.assertLessEqual(os.path.getsize(os.path.join(d, f)), 8192, f)
            self.assertEqual(len({l["qname"] for l in lines}), ev["hits"])  # no duplicates
        finally:
            self.assertEqual(r.stop(), 0)


def can_unshare():
    try:
        return subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                              timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class SyslogC2wall(cw.C2wall):
    """c2wall in a private mount namespace whose /dev/log is the test's own socket: glibc's
    syslog() writes there, and nothing outside the namespace changes. /dev is a tmpfs with
    the four devices the daemon uses bound in from the real one."""

    log_sock = None

    def command(self):
        script = ('set -e; mkdir -p "$D/olddev"; mount --bind /dev "$D/olddev"; '
                  'mount -t tmpfs none /dev; for n in null zero urandom random; do '
                  ': > /dev/$n; mount --bind "$D/olddev/$n" /dev/$n; done; '
                  'ln -s "$SOCK" /dev/log; exec "$@"')
        return ["/usr/bin/env", "D=" + self.dir, "SOCK=" + self.log_sock, "unshare", "-m",
                "--propagation", "private", "sh", "-c", script, "sh"] + super().command()


@unittest.skipUnless(can_unshare(), "needs a private mount namespace (root) for /dev/log")
class TestSyslog(unittest.TestCase):
    def test_syslog_sink(self):
        d = tempfile.mkdtemp(dir=WORLD.tmp, prefix="syslog-")
        sock_path = os.path.join(d, "log.sock")
        rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        rx.bind(sock_path)
        rx.settimeout(0.2)
        r = SyslogC2wall(WORLD, extra={"policy": {"zones": zones(d)},
                                       "events": {"syslog": True}}, name="syslog")
        r.log_sock = sock_path
        r.start()
        try:
            eu.query(r, "cnc.evil.test.", "A", source="127.0.0.8")
            eu.query(r, "www.sub.example.test.", "A", source="127.0.0.8")
            eu.query(r, "zz.botnet.test.", "TXT", source="127.0.0.8")
            msgs = []
            deadline = time.monotonic() + 10
            # Each worker has its own ring: the event thread may drain the second hit's ring
            # before the first's, so wait for both names, not for the last one sent.
            while time.monotonic() < deadline and \
                    not (any("zz.botnet.test." in m for m in msgs) and
                         any("cnc.evil.test." in m for m in msgs)):
                try:
                    msgs.append(rx.recv(8192).decode(errors="replace"))
                except socket.timeout:
                    pass
        finally:
            self.assertEqual(r.stop(), 0)
            rx.close()
        hits = [m for m in msgs if " hit " in m]
        self.assertEqual(len(hits), 2, msgs)
        cnc = [m for m in hits if "qname=cnc.evil.test." in m][0]
        self.assertTrue(cnc.startswith("<%d>" % (3 * 8 + 5)), cnc)  # daemon.notice
        for field in ("trigger=qname", "match=cnc.evil.test.", "zone=c2.rpz.",
                      "action=nxdomain", "category=c2", "family=emotet", "feed=c2.rpz."):
            self.assertIn(field, cnc)
        self.assertRegex(cnc, r"client=[0-9a-f]{32} key=[0-9a-f]{8}")
        self.assertIn("qtype=TXT", [m for m in hits if "zz.botnet" in m][0])
        self.assertFalse([m for m in msgs if "127.0.0.8" in m or "www.sub.example" in m], msgs)


class TestDnstapUnix(unittest.TestCase):
    """dnstap to a unix socket (a collector: Debian's fstrm_capture). The collector is not
    there when the daemon starts: the daemon answers anyway and connects once it appears."""

    def test_unix_socket_collector_late(self):
        d = tempfile.mkdtemp(dir=WORLD.tmp, prefix="tapsock-")
        sock, out = os.path.join(d, "dnstap.sock"), os.path.join(d, "capture.fstrm")
        r = cw.make_resolver(WORLD, kind="c2wall", name="tapsock",
                             extra={"policy": {"zones": zones(d)},
                                    "events": {"dnstap": "unix:" + sock}}).start()
        cap = None
        try:
            self.assertEqual(eu.rcode(eu.query(r, "early.botnet.test.", source="127.0.0.10")),
                             "NXDOMAIN")
            log = open(os.path.join(d, "capture.log"), "w")
            cap = subprocess.Popen(["/usr/bin/fstrm_capture", "-t", "protobuf:dnstap.Dnstap",
                                    "-u", sock, "-w", out], stdout=log, stderr=log)
            cw._register(cap)
            log.close()
            # the daemon retries the connection every second (libfstrm's reopen interval)
            time.sleep(2.5)
            eu.query(r, "last.botnet.test.", "AAAA", source="127.0.0.10")
        finally:
            self.assertEqual(r.stop(), 0)  # flushes libfstrm's queue
            if cap is not None:
                time.sleep(0.3)
                cw._stop_proc(cap, signal.SIGINT)
        recs = eu.dnstap_records(out)
        names = {x["qname"] for x in recs}
        self.assertIn("last.botnet.test.", names, names)
        last = [x for x in recs if x["qname"] == "last.botnet.test."][0]
        self.assertEqual(last["policy_match"], "QNAME")
        self.assertEqual(last["policy_rule"], "*.botnet.test.")
        self.assertEqual(last["policy_action"], "NXDOMAIN")
        ld = subprocess.run(["/usr/bin/dnstap-ldns", "-r", out], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=30)
        self.assertEqual(ld.returncode, 0, ld.stdout)
        self.assertIn("last.botnet.test.", ld.stdout)


class TestZZDnstap(unittest.TestCase):
    """Runs last: stops the daemon so libfstrm closes the file with its STOP frame."""

    def test_dnstap_ldns_and_policy_fields(self):
        # One hit over TCP: dnstap must say so (socket_protocol).
        m = R.tcp("tcp.botnet.test.", "A", source="127.0.0.7")
        self.assertEqual(dns.rcode.to_text(m.rcode()), "NXDOMAIN")
        time.sleep(0.3)
        assert R.stop() == 0
        out = subprocess.run(["/usr/bin/dnstap-ldns", "-r", DNSTAP], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stdout)
        self.assertIn("cnc.evil.test", out.stdout)
        self.assertIn("CR ", out.stdout)  # CLIENT_RESPONSE in dnstap-ldns's quiet format
        self.assertNotIn("127.0.0.1", out.stdout)
        full = subprocess.run(["/usr/bin/dnstap-ldns", "-y", "-r", DNSTAP],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=30)
        self.assertEqual(full.returncode, 0, full.stdout)
        self.assertIn("NXDOMAIN", full.stdout)
        self.assertIn("socket_protocol: TCP", full.stdout)
        self.assertIn("socket_protocol: UDP", full.stdout)

        recs = eu.dnstap_records(DNSTAP)
        by_name = {}
        for r in recs:
            by_name.setdefault(r["qname"], r)
        for qname, _, _, rc, trig, match, zone, action, cat, fam in CASES:
            with self.subTest(qname=qname):
                r = by_name.get(qname)
                self.assertIsNotNone(r, [x["qname"] for x in recs])
                self.assertEqual(r["msg_type"], 6)  # CLIENT_RESPONSE
                self.assertFalse(r["has_query_address"])
                self.assertEqual(r["policy_type"], "RPZ")
                if trig == "client-ip":  # pseudonymised (issue 12)
                    self.assertRegex(r["policy_value"], r"^[0-9a-f]{32}/%s$" % match.split("/")[1])
                else:
                    self.assertEqual(r["policy_value"], match)
                self.assertEqual(r["policy_match"], {
                    "qname": "QNAME", "client-ip": "CLIENT_IP",
                    "response-ip": "RESPONSE_IP"}[trig])
                self.assertEqual(r["policy_action"], {
                    "nxdomain": "NXDOMAIN", "nodata": "NODATA", "local-data": "LOCAL_DATA",
                    "passthru": "PASS", "drop": "DROP", "log": "PASS"}[action])
                if trig == "qname":
                    self.assertEqual(r["policy_rule"], match)
                self.assertEqual(r["extra"]["zone"], zone)
                self.assertEqual(r["extra"]["family"], fam)
                self.assertEqual(r["extra"]["category"], cat)
                self.assertRegex(r["extra"]["client"], r"^[0-9a-f]{32}$")
                if rc == "NXDOMAIN":
                    self.assertEqual(r["rcode"], "NXDOMAIN")
        with open(DNSTAP, "rb") as f:
            self.assertNotIn(b"127.0.0.1", f.read())
        # nothing anywhere in the daemon's files carries the allowed names
        for name in (b"cname-a.example.test", b"www.sub.example.test"):
            self.assertEqual(eu.grep_tree(os.path.dirname(JSONL), name), [])


class TestQueryLog(unittest.TestCase):
    """events.query-log: off (above) writes nothing for allowed queries; on, it does."""

    def test_query_log_opt_in(self):
        d = tempfile.mkdtemp(dir=WORLD.tmp, prefix="qlog-")
        jsonl = os.path.join(d, "q.jsonl")
        extra = {"policy": {"zones": zones(d)},
                 "events": {"jsonl": jsonl, "query-log": True}}
        q = cw.make_resolver(WORLD, kind="c2wall", extra=extra, name="qlog").start()
        try:
            eu.query(q, "www.sub.example.test.", "A", source="127.0.0.5")
            eu.query(q, "cnc.evil.test.", "A", source="127.0.0.5")
            lines = eu.wait_for(lambda: (lambda v: v if len(v) >= 3 else None)(
                [l for l in eu.read_jsonl(jsonl) if "evil" in l["qname"] or
                 "sub.example" in l["qname"]]), 5)
            self.assertTrue(lines, eu.read_jsonl(jsonl))
            kinds = {(l["qname"], l.get("kind", "hit")) for l in lines}
            self.assertIn(("www.sub.example.test.", "query"), kinds)
            self.assertIn(("cnc.evil.test.", "query"), kinds)
            self.assertIn(("cnc.evil.test.", "hit"), kinds)
            for l in lines:
                self.assertRegex(l["client"], r"^[0-9a-f]{32}$")
            with open(jsonl, "rb") as f:
                self.assertNotIn(b"127.0.0.5", f.read())
            ev = eu.control_json(q, "events")
            self.assertGreaterEqual(ev["queries_logged"], 2)
            # query records never become incidents
            db = os.path.join(q.dir, "incidents.db")
            self.assertEqual(eu.sql(db, "SELECT count(*) FROM incident_names WHERE qname = ?",
                                    ("www.sub.example.test.",))[0][0], 0)
        finally:
            assert q.stop() == 0


if __name__ == "__main__":
    cw.main()
