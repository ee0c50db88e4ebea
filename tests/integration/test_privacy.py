# SPDX-License-Identifier: MIT
"""Privacy end to end (issue 4): pseudonyms are stable across a daemon restart with the same
key file and different with a new key; `c2wall optout add|remove|list --config FILE` against
the running daemon takes effect at once (an opted-out client gets the real answer for a
blocked name and leaves no record in the hit log, dnstap, or the incident store, even with
the query log on), the opt-out file is rewritten atomically, prefixes and IPv6 work, the list
survives a restart, and without a daemon the CLI edits the file directly. Each client sends
from its own 127.0.0.x source address."""

import os
import stat
import tempfile
import time
import unittest

import c2w_world as cw
import events_util as eu
from c2w_world import DATA

WORLD = None
BLOCKED = "www.other.test."  # exists in the world (192.0.2.4), blocked by the feed
REAL = DATA[BLOCKED]["A"]

FEED = """$TTL 300
@ SOA localhost. hostmaster.localhost. 1 3600 600 86400 300
  NS localhost.
www.other.test   CNAME .   ; family=optfam
"""


def setUpModule():
    global WORLD
    WORLD = cw.World(upstream=False).start()


def tearDownModule():
    WORLD.stop()


def make_daemon(d, key_file=None, query_log=False, name="priv"):
    feed = os.path.join(d, "c2.rpz")
    with open(feed, "w") as f:
        f.write(FEED)
    port = cw.free_port("127.0.0.1")
    extra = {
        "server": {"listen": ["127.0.0.1@%d" % port, "::1@%d" % port]},
        "policy": {"zones": [{"name": "c2.rpz.", "file": feed}]},
        "events": {"jsonl": os.path.join(d, "hits.jsonl"),
                   "dnstap": "file:" + os.path.join(d, "hits.dnstap"),
                   "query-log": query_log},
        "privacy": {"optout-file": os.path.join(d, "optout.txt")},
    }
    if key_file:
        extra["privacy"]["key-file"] = key_file
    return cw.make_resolver(WORLD, kind="c2wall", extra=extra, name=name,
                            listen=("127.0.0.1", port))


def hits_for(jsonl, source_pseudonym=None, qname=None):
    return [l for l in eu.read_jsonl(jsonl)
            if (source_pseudonym is None or l["client"] == source_pseudonym) and
            (qname is None or l["qname"] == qname)]


def blocked_then_pseudonym(r, jsonl, source):
    m = eu.query(r, BLOCKED, "A", source=source)
    assert eu.rcode(m) == "NXDOMAIN", cw.describe(m)
    got = eu.wait_for(lambda: [l for l in eu.read_jsonl(jsonl) if l["qname"] == BLOCKED], 5)
    assert got, "no hit in %s" % jsonl
    return got[-1]["client"]


class TestPseudonyms(unittest.TestCase):
    def test_stable_with_same_key_new_with_new_key(self):
        d = tempfile.mkdtemp(dir=WORLD.tmp, prefix="pseudo-")
        key = os.path.join(d, "keys", "pseudonym.key")
        r = make_daemon(d, key_file=key, name="pseudo")
        jsonl = os.path.join(d, "hits.jsonl")
        r.start()
        try:
            p1 = blocked_then_pseudonym(r, jsonl, "127.0.0.21")
            other = eu.query(r, BLOCKED, "A", source="127.0.0.22")
            self.assertEqual(eu.rcode(other), "NXDOMAIN")
        finally:
            self.assertEqual(r.stop(), 0)
        st = os.stat(key)
        self.assertEqual(stat.S_IMODE(st.st_mode) & 0o077, 0, "key file readable by others")
        with open(key) as f:
            self.assertTrue(f.readline().startswith("c2wall-pseudonym-key"))
        lines = eu.read_jsonl(jsonl)
        self.assertEqual(len({l["client"] for l in lines}), 2, lines)  # two clients
        key_id = lines[0]["key_id"]

        os.rename(jsonl, jsonl + ".run1")
        r.start()  # same key file
        try:
            p2 = blocked_then_pseudonym(r, jsonl, "127.0.0.21")
        finally:
            self.assertEqual(r.stop(), 0)
        self.assertEqual(p1, p2)
        self.assertEqual(eu.read_jsonl(jsonl)[-1]["key_id"], key_id)

        os.rename(jsonl, jsonl + ".run2")
        os.unlink(key)  # a new key is made at start
        r.start()
        try:
            p3 = blocked_then_pseudonym(r, jsonl, "127.0.0.21")
        finally:
            self.assertEqual(r.stop(), 0)
        self.assertNotEqual(p1, p3)
        self.assertNotEqual(eu.read_jsonl(jsonl)[-1]["key_id"], key_id)
        # the store keeps the pseudonym (and its key id) of the incident's first hit next to
        # the raw address: one incident per client, day and family, whatever the key since
        db = os.path.join(r.dir, "incidents.db")
        rows = eu.sql(db, "SELECT pseudonym, key_id, count FROM incidents WHERE client_ip = ?",
                      ("127.0.0.21",))
        self.assertEqual(rows, [(p1, key_id, 3)])
        tap = [x["extra"]["client"] for x in eu.dnstap_records(os.path.join(d, "hits.dnstap"))]
        self.assertIn(p3, tap)
        self.assertEqual(eu.grep_tree(d, b"127.0.0.21"), [])


class TestOptout(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = tempfile.mkdtemp(dir=WORLD.tmp, prefix="optout-")
        cls.r = make_daemon(cls.d, query_log=True, name="optout").start()
        cls.jsonl = os.path.join(cls.d, "hits.jsonl")
        cls.db = os.path.join(cls.r.dir, "incidents.db")
        cls.optfile = os.path.join(cls.d, "optout.txt")

    @classmethod
    def tearDownClass(cls):
        if cls.r.running():
            assert cls.r.stop() == 0

    def optout(self, *args, check=True):
        return eu.cli("optout", *args, "--config", self.r.conf, check=check)

    def optfile_entries(self):
        if not os.path.exists(self.optfile):
            return []
        with open(self.optfile) as f:
            return [l.strip() for l in f if l.strip() and not l.startswith("#")]

    def records_of(self, pseudonym):
        """Every trace of a client: JSONL lines, store incidents and names by pseudonym."""
        lines = [l for l in eu.read_jsonl(self.jsonl) if l["client"] == pseudonym]
        rows = eu.sql(self.db, "SELECT id, count FROM incidents WHERE pseudonym = ?",
                      (pseudonym,))
        return lines, rows

    def test_1_add_takes_effect_at_once_and_leaves_no_record(self):
        src = "127.0.0.31"
        p = blocked_then_pseudonym(self.r, self.jsonl, src)
        time.sleep(1.2)  # the store commits each second
        lines0, rows0 = self.records_of(p)
        self.assertTrue(lines0)
        self.assertEqual(sum(c for _, c in rows0), 1)

        out = self.optout("add", src)
        self.assertIn("ok", out.stdout)
        self.assertEqual(self.optfile_entries(), [src])
        # at once: no sleep between the command and the query
        m = eu.query(self.r, BLOCKED, "A", source=src)
        self.assertEqual(eu.rcode(m), "NOERROR", cw.describe(m))
        self.assertEqual(cw.rrset_values(m, "answer", BLOCKED, "A"), [REAL])
        m = eu.query(self.r, "www.sub.example.test.", "A", source=src)
        self.assertEqual(eu.rcode(m), "NOERROR")
        # another client is still blocked, and recorded
        m = eu.query(self.r, BLOCKED, "A", source="127.0.0.32")
        self.assertEqual(eu.rcode(m), "NXDOMAIN")
        p_other = eu.wait_for(lambda: [l["client"] for l in eu.read_jsonl(self.jsonl)
                                       if l["client"] != p and l.get("kind") != "query"], 5)
        self.assertTrue(p_other)
        time.sleep(1.5)  # everything the opted-out client did would be written by now
        lines1, rows1 = self.records_of(p)
        self.assertEqual(lines1, lines0, "opted-out client recorded in the hit/query log")
        self.assertEqual(rows1, rows0, "opted-out client recorded in the store")
        self.assertEqual(eu.sql(self.db, "SELECT count(*) FROM incident_names n JOIN incidents "
                                "i ON n.incident_id = i.id WHERE i.pseudonym = ? AND "
                                "n.qname = ?", (p, "www.sub.example.test."))[0][0], 0)
        ev = eu.control_json(self.r, "events")
        self.assertGreater(ev["optout_skipped"] + ev["hits"], 0)

        out = self.optout("list")
        self.assertEqual(out.stdout.split(), [src])
        again = self.optout("add", src, check=False)
        self.assertEqual(again.returncode, 1)
        self.assertIn("already", again.stderr)

    def test_2_remove_restores_blocking(self):
        src = "127.0.0.31"
        if src not in self.optfile_entries():
            self.optout("add", src)
        self.optout("remove", src)
        self.assertEqual(self.optfile_entries(), [])
        m = eu.query(self.r, BLOCKED, "A", source=src)
        self.assertEqual(eu.rcode(m), "NXDOMAIN", cw.describe(m))
        self.assertTrue(eu.wait_for(lambda: [
            l for l in eu.read_jsonl(self.jsonl)
            if l["qname"] == BLOCKED and l.get("kind") != "query" and
            l["ts"] >= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 3))], 5))
        gone = self.optout("remove", src, check=False)
        self.assertEqual(gone.returncode, 1)
        self.assertIn("not in the opt-out list", gone.stderr)

    def test_3_prefix_v6_atomic_file_and_restart(self):
        self.optout("add", "127.0.0.48/28")
        self.optout("add", "::1/128")
        bad = self.optout("add", "127.0.0.49/24", check=False)  # host bits set
        self.assertEqual(bad.returncode, 1)
        self.assertEqual(sorted(self.optfile_entries()), ["127.0.0.48/28", "::1"])
        # atomic rewrite: no temp files left beside it, a whole file, one entry per line
        left = [f for f in os.listdir(self.d) if f.startswith("optout") and f != "optout.txt"]
        self.assertEqual(left, [])
        with open(self.optfile) as f:
            self.assertTrue(f.read().endswith("\n"))
        for src in ("127.0.0.50", "127.0.0.63"):
            m = eu.query(self.r, BLOCKED, "A", source=src)
            self.assertEqual(cw.rrset_values(m, "answer", BLOCKED, "A"), [REAL], src)
        m = eu.query(self.r, BLOCKED, "A", source="127.0.0.64")  # just outside the /28
        self.assertEqual(eu.rcode(m), "NXDOMAIN")
        m = eu.query(self.r, BLOCKED, "A", source="::1")
        self.assertEqual(cw.rrset_values(m, "answer", BLOCKED, "A"), [REAL], cw.describe(m))

        # persisted: a restart reads the list back
        self.assertEqual(self.r.stop(), 0)
        # no daemon: the CLI edits the file directly and says so
        out = self.optout("add", "127.0.0.77")
        self.assertIn("no daemon running", out.stderr)
        self.assertIn("127.0.0.77", self.optfile_entries())
        self.r.start()
        for src in ("127.0.0.50", "127.0.0.77", "::1"):
            m = eu.query(self.r, BLOCKED, "A", source=src)
            self.assertEqual(cw.rrset_values(m, "answer", BLOCKED, "A"), [REAL], src)
        self.assertEqual(sorted(self.optout("list").stdout.split()),
                         ["127.0.0.48/28", "127.0.0.77", "::1"])
        time.sleep(1.2)
        # raw addresses appear only in the opt-out file itself, never in a sink
        for needle in (b"127.0.0.50", b"127.0.0.77", b"127.0.0.31", b"127.0.0.32"):
            self.assertEqual([p for p in eu.grep_tree(self.d, needle)
                              if not p.endswith("optout.txt")], [], needle)

if __name__ == "__main__":
    cw.main()
