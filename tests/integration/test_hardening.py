# SPDX-License-Identifier: MIT
"""Hardening of files, privileges and privacy leaks (issue 12, first half), on the real daemon.

- Started as root with server.user set, the daemon runs as that user, hands it the data
  directory and files it created (or a root run left), rotates the pseudonym key and reopens
  the hit log after SIGHUP as that user; a key directory the user cannot write refuses the
  start (instead of rotations failing silently later); a missing user refuses the start.
- The incident store and its -wal/-shm files are 0600; a store others can read is refused.
- Sinkhole evidence honours the opt-out registry.
- $INCLUDE in a feed is off unless the zone sets allow-include, then confined to the feed's
  directory.

The privilege tests create a system user (c2w-hardening) when absent and delete it after.
"""

import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import unittest

import c2w_world as cw
import events_util as eu

WORLD = None
USER = "c2w-hardening"
CREATED_USER = False
OLD_KEY = ("c2wall-pseudonym-key 1\n"
           "xxxxxxxx 1000000000 "
           "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n")

FEED = """$TTL 300
@ SOA localhost. hostmaster.localhost. 1 3600 600 86400 300
  NS localhost.
blocked.example   CNAME .   ; family=hardfam
"""


def setUpModule():
    global WORLD, CREATED_USER
    WORLD = cw.World(upstream=False).start()
    # The run-time user must reach the root hints and its config below the world's dir.
    os.chmod(WORLD.tmp, 0o755)
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                            "/usr/sbin/nologin", USER], check=True)
            CREATED_USER = True


def tearDownModule():
    WORLD.stop()
    if CREATED_USER:
        subprocess.run(["userdel", USER], check=False)


def daemon(d, extra, name):
    feed = os.path.join(d, "c2.rpz")
    if not os.path.exists(feed):
        with open(feed, "w") as f:
            f.write(FEED)
    port = cw.free_port("127.0.0.1")
    base = {
        "server": {"listen": ["127.0.0.1@%d" % port]},
        "policy": {"zones": [{"name": "c2.rpz.", "file": feed}]},
    }
    return cw.make_resolver(WORLD, kind="c2wall", extra=cw._merge(base, extra), name=name,
                            listen=("127.0.0.1", port))


def start_fails(r, timeout=15.0):
    """Start @r expecting it to refuse: returns its stderr."""
    try:
        r.start(timeout=timeout)
    except RuntimeError:
        return r.stderr_text()
    r.stop(check=False)
    raise AssertionError("the daemon started although it should have refused")


def uid_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    return None


@unittest.skipUnless(os.geteuid() == 0, "privilege tests need root")
class TestPrivileges(unittest.TestCase):
    def setUp(self):
        self.pw = pwd.getpwnam(USER)
        self.d = tempfile.mkdtemp(dir=WORLD.tmp, prefix="priv-")
        os.chmod(self.d, 0o755)

    def user_daemon(self, data, keys):
        extra = {
            "server": {"user": USER},
            "events": {"jsonl": os.path.join(data, "hits.jsonl")},
            "store": {"sqlite": os.path.join(data, "incidents.db")},
            "privacy": {"key-file": os.path.join(keys, "pseudonym.key"),
                        "optout-file": os.path.join(data, "optout.txt")},
        }
        r = daemon(self.d, extra, "user")
        os.chmod(r.dir, 0o755)
        return r

    def test_runs_as_user_rotates_key_and_reopens_log(self):
        data = os.path.join(self.d, "data")        # created by the daemon
        keys = os.path.join(self.d, "keys")        # the operator gave it to the user
        os.mkdir(keys, 0o700)
        os.chown(keys, self.pw.pw_uid, self.pw.pw_gid)
        key = os.path.join(keys, "pseudonym.key")
        with open(key, "w") as f:                  # left by an earlier root run, rotation due
            f.write(OLD_KEY)
        os.chmod(key, 0o600)
        r = self.user_daemon(data, keys).start()
        try:
            self.assertEqual(uid_of(r.proc.pid)[:2], [self.pw.pw_uid] * 2)
            st = os.stat(data)
            self.assertEqual(st.st_uid, self.pw.pw_uid, "data directory not handed over")
            m = eu.query(r, "blocked.example.", "A", source="127.0.0.71")
            self.assertEqual(eu.rcode(m), "NXDOMAIN")
            jsonl = os.path.join(data, "hits.jsonl")
            self.assertTrue(eu.wait_for(lambda: eu.read_jsonl(jsonl), 5))
            for path in (os.path.join(data, "hits.jsonl"), os.path.join(data, "incidents.db"),
                         os.path.join(r.dir, "control.sock")):
                self.assertEqual(os.lstat(path).st_uid, self.pw.pw_uid, path)
            # The key was due: rotated by the run-time user at start, loudly counted.
            ev = eu.wait_for(lambda: (lambda e: e if e["key_rotations"] else None)(
                eu.control_json(r, "events")), 5)
            self.assertTrue(ev, "no key rotation")
            self.assertEqual(ev["key_rotations"], 1)
            self.assertEqual(ev["key_rotation_failures"], 0)
            with open(key) as f:
                self.assertNotIn("1000000000 0011", f.read().split("\n", 2)[2])
            self.assertEqual(os.stat(key).st_uid, self.pw.pw_uid)
            # logrotate: move the log, SIGHUP, the next hit lands in a new file.
            os.rename(jsonl, jsonl + ".1")
            r.reload()
            self.assertTrue(eu.wait_for(lambda: os.path.exists(jsonl), 5), "not reopened")
            m = eu.query(r, "blocked.example.", "A", source="127.0.0.72")
            self.assertTrue(eu.wait_for(lambda: eu.read_jsonl(jsonl), 5))
            ev = eu.control_json(r, "events")
            self.assertEqual(ev["jsonl_reopen_failures"], 0)
            self.assertEqual(os.stat(jsonl).st_uid, self.pw.pw_uid)
        finally:
            self.assertEqual(r.stop(), 0)

    def test_key_directory_not_writable_refuses_start(self):
        data = os.path.join(self.d, "data2")
        keys = os.path.join(self.d, "rootkeys")    # root's, 0755: rotation would fail later
        os.mkdir(keys, 0o755)
        r = self.user_daemon(data, keys)
        err = start_fails(r)
        self.assertIn("cannot write directory %s" % keys, err)
        self.assertIn("pseudonym key rotation", err)

    def test_missing_user_refuses_start(self):
        r = daemon(self.d, {"server": {"user": "c2w-no-such-user"}}, "nouser")
        err = start_fails(r)
        self.assertIn("user 'c2w-no-such-user' does not exist", err)


class TestStoreModes(unittest.TestCase):
    def test_store_files_are_owner_only(self):
        d = tempfile.mkdtemp(dir=WORLD.tmp, prefix="modes-")
        old = os.umask(0o022)
        try:
            r = daemon(d, {}, "modes").start()
        finally:
            os.umask(old)
        try:
            m = eu.query(r, "blocked.example.", "A", source="127.0.0.73")
            self.assertEqual(eu.rcode(m), "NXDOMAIN")
            db = os.path.join(r.dir, "incidents.db")
            self.assertTrue(eu.wait_for(lambda: os.path.exists(db + "-wal") and
                                        os.path.exists(db + "-shm"), 5))
            for f in (db, db + "-wal", db + "-shm"):
                self.assertEqual(stat.S_IMODE(os.stat(f).st_mode), 0o600, f)
        finally:
            self.assertEqual(r.stop(), 0)

    def test_readable_store_refused(self):
        d = tempfile.mkdtemp(dir=WORLD.tmp, prefix="modes2-")
        r = daemon(d, {}, "modes2")
        db = os.path.join(r.dir, "incidents.db")
        open(db, "w").close()
        os.chmod(db, 0o644)
        err = start_fails(r)
        self.assertIn("accessible by group or others", err)


class TestEvidenceOptout(unittest.TestCase):
    def test_opted_out_contact_leaves_no_evidence(self):
        d = tempfile.mkdtemp(dir=WORLD.tmp, prefix="evopt-")
        optfile = os.path.join(d, "optout.txt")
        with open(optfile, "w") as f:
            f.write("127.0.0.61\n")
        os.chmod(optfile, 0o600)
        http = cw.free_port("127.0.0.1")
        r = daemon(d, {"privacy": {"optout-file": optfile},
                       "sinkhole": {"ipv4": "127.0.0.2", "http": ["127.0.0.1@%d" % http]}},
                   "evopt").start()
        try:
            for src, ua in (("127.0.0.61", "optout-probe/1"), ("127.0.0.62", "other-probe/1")):
                s = socket.create_connection(("127.0.0.1", http), timeout=5,
                                             source_address=(src, 0))
                s.sendall(b"GET /x HTTP/1.1\r\nHost: blocked.example\r\nUser-Agent: " +
                          ua.encode() + b"\r\nConnection: close\r\n\r\n")
                s.settimeout(5)
                while s.recv(4096):
                    pass
                s.close()
            db = os.path.join(r.dir, "incidents.db")
            q = "SELECT count(*) FROM evidence WHERE user_agent = ?"
            self.assertTrue(eu.wait_for(lambda: eu.sql(db, q, ("other-probe/1",))[0][0], 5),
                            "evidence of the other client missing")
            self.assertEqual(eu.sql(db, q, ("optout-probe/1",))[0][0], 0)
            self.assertEqual(eu.sql(db, "SELECT count(*) FROM evidence WHERE path = '/x'")[0][0],
                             1)
        finally:
            self.assertEqual(r.stop(), 0)


class TestFeedInclude(unittest.TestCase):
    def test_include_off_by_default_and_confined(self):
        d = tempfile.mkdtemp(dir=WORLD.tmp, prefix="inc-")
        feeds = os.path.join(d, "feeds")
        os.mkdir(feeds)
        head = "$TTL 300\n@ SOA localhost. h.localhost. 1 3600 600 86400 300\n  NS localhost.\n"
        with open(os.path.join(feeds, "a.rpz"), "w") as f:
            f.write(head + "$INCLUDE inc-a.rpz\n")
        with open(os.path.join(feeds, "inc-a.rpz"), "w") as f:
            f.write("inca.example A 192.0.2.91\n")
        with open(os.path.join(feeds, "b.rpz"), "w") as f:
            f.write(head + "$INCLUDE inc-b.rpz\n$INCLUDE ../outside.rpz\n")
        with open(os.path.join(feeds, "inc-b.rpz"), "w") as f:
            f.write("incb.example A 192.0.2.92\n")
        with open(os.path.join(d, "outside.rpz"), "w") as f:
            f.write("outside.example A 192.0.2.93\n")
        r = daemon(d, {"policy": {"zones": [
            {"name": "a.rpz.", "file": os.path.join(feeds, "a.rpz")},
            {"name": "b.rpz.", "file": os.path.join(feeds, "b.rpz"), "allow-include": True},
        ]}}, "inc").start()
        try:
            def answer(name):
                m = eu.query(r, name, "A")
                return cw.rrset_values(m, "answer", name, "A") if m is not None else None
            self.assertEqual(answer("incb.example."), ["192.0.2.92"])
            self.assertNotEqual(answer("inca.example."), ["192.0.2.91"])
            self.assertNotEqual(answer("outside.example."), ["192.0.2.93"])
            err = r.stderr_text()
            self.assertIn("$INCLUDE not allowed here", err)
            self.assertIn("$INCLUDE outside the feed's directory", err)
        finally:
            self.assertEqual(r.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
