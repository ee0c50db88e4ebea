# SPDX-License-Identifier: MIT
"""The config and the CLI do what they say (issue 12): `serve --check` reports what `serve`
would refuse or silently miss at start, `serve` refuses a missing root-hints file or feed at
once, every command takes --config FILE (-c) and --help, `help UNKNOWN` fails, a config that
cannot be opened is named, `incidents mark-notified` fails on an unknown id, and `c2wall
reload` prints the daemon's reason for a refused reload and the keys that need a restart."""

import os
import subprocess
import tempfile
import unittest

import c2w_world as cw
import events_util as ev

WORLD = R = None
TMP = None
COMMANDS = ["serve", "reload", "check", "compile", "explain", "optout", "subscribers",
            "incidents", "sinkhole"]
FEED = """$TTL 60
@ SOA ns.c2.rpz. h.c2.rpz. 1 3600 600 86400 30
@ NS localhost.
blocked.example.test CNAME .
"""


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def config(name, extra_lines="", feed=None, root_hints=None, **kw):
    """A minimal config in TMP/NAME.yaml whose every file exists unless a test breaks one."""
    d = os.path.join(TMP, name)
    os.makedirs(d, exist_ok=True)
    feed = feed if feed is not None else write(os.path.join(d, "c2.rpz"), FEED)
    text = ("server:\n  listen: [\"127.0.0.1@%d\"]\n  workers: 1\n%s"
            "resolver:\n  root-hints: %s\n  trust-anchor: %s\n"
            "policy:\n  zones:\n    - name: c2.rpz.\n      file: %s\n"
            "store:\n  sqlite: %s\n"
            "privacy:\n  key-file: %s\n"
            "control:\n  socket: %s\n%s" %
            # CI runs as root: stay root unless a test names a user (default: c2wall).
            (cw.free_port(), kw.get("server_extra", "  user: none\n"),
             root_hints or WORLD.root_hints, kw.get("trust_anchor", "none"), feed,
             kw.get("sqlite", os.path.join(d, "var/incidents.db")),
             os.path.join(d, "var/pseudonym.key"), os.path.join(d, "var/control.sock"),
             extra_lines))
    return write(os.path.join(d, "c2wall.yaml"), text)


def setUpModule():
    global WORLD, R, TMP
    WORLD = cw.World(sign=False).start()
    TMP = tempfile.mkdtemp(prefix="cli-", dir=WORLD.tmp)
    feed = write(os.path.join(TMP, "running.rpz"), FEED)
    R = cw.C2wall(WORLD, mode="recursive", workers=2, name="c2wall-cli",
                  extra={"policy": {"zones": [{"name": "c2.rpz.", "file": feed}]}}).start()


def tearDownModule():
    try:
        if R is not None and R.running():
            R.stop(check=True)
    finally:
        WORLD.stop()


class TestCheck(unittest.TestCase):
    def test_valid(self):
        r = ev.cli("serve", "--config", config("valid"), "--check")
        self.assertIn("configuration is valid", r.stdout)

    def test_each_problem_is_named(self):
        cases = [
            ("feed", dict(feed="/nonexistent/c2.rpz"), "policy.zones[0].file"),
            ("hints", dict(root_hints="/nonexistent/root.hints"), "resolver.root-hints"),
            ("anchor", dict(trust_anchor="/nonexistent/root.key"), "resolver.trust-anchor"),
            ("templates", dict(extra_lines="sinkhole:\n  templates: /nonexistent/tpl\n"),
             "sinkhole.templates"),
            ("user", dict(server_extra="  user: c2w-no-such-user\n"), "server.user"),
            ("store", dict(sqlite="/etc/hostname/incidents.db"), "store.sqlite"),
        ]
        for name, kw, key in cases:
            with self.subTest(name):
                r = ev.cli("serve", "--config", config("check-" + name, **kw), "--check",
                           check=False)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn(key, r.stderr)
                self.assertNotIn("valid", r.stdout)

    def test_bad_feed_line_is_skipped_not_fatal(self):
        # A feed with a bad line starts (the line is skipped and reported)...
        d = os.path.join(TMP, "badline")
        os.makedirs(d, exist_ok=True)
        feed = write(os.path.join(d, "c2.rpz"), FEED + "bad line here\n")
        ev.cli("serve", "--config", config("badline", feed=feed), "--check")

    def test_serve_refuses_missing_files_at_start(self):
        for name, kw, needle in [
                ("hints", dict(root_hints="/nonexistent/root.hints"), "root-hints"),
                ("feed", dict(feed="/nonexistent/c2.rpz"), "/nonexistent/c2.rpz")]:
            with self.subTest(name):
                p = subprocess.run([cw.c2wall_bin(), "serve", "--config",
                                    config("serve-" + name, **kw)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   timeout=30)
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn(needle, p.stderr)


class TestCli(unittest.TestCase):
    def test_help_unknown_fails(self):
        r = ev.cli("help", "no-such-command", check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("no-such-command", r.stderr)
        self.assertEqual(ev.cli("help", "serve").returncode, 0)

    def test_every_command_has_help_with_config(self):
        for c in COMMANDS:
            with self.subTest(c):
                r = ev.cli(c, "--help")
                self.assertIn("--config", r.stdout)

    def test_every_command_takes_config(self):
        conf = config("takes")
        out = os.path.join(TMP, "takes.snap")
        r = ev.cli("check", "--config", conf)
        self.assertIn("total: 1 rules", r.stdout)
        ev.cli("check", "-c", conf)
        ev.cli("compile", "-c", conf, "-o", out)
        self.assertTrue(os.path.getsize(out) > 0)
        r = ev.cli("explain", "blocked.example.test", "-c", conf)
        self.assertIn("a rule acts now", r.stdout)
        # sinkhole -c reads the config (which has no sinkhole listener: a clear refusal,
        # not a usage error).
        r = ev.cli("sinkhole", "-c", conf, check=False)
        self.assertEqual(r.returncode, 1, r.stderr)

    def test_unopenable_config_is_named(self):
        missing = os.path.join(TMP, "no-such-dir", "c2wall.yaml")
        for args in (["reload"], ["incidents", "list"], ["optout", "list"],
                     ["subscribers", "import", "/dev/null"], ["check"], ["explain", "x.test"],
                     ["sinkhole"]):
            with self.subTest(args[0]):
                r = ev.cli(*(args + ["--config", missing]), check=False)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn(missing, r.stderr)

    def test_mark_notified_unknown_id_fails(self):
        conf = config("mark")
        os.makedirs(os.path.join(TMP, "mark", "var"), exist_ok=True)
        r = ev.cli("incidents", "mark-notified", "987654", "--config", conf, check=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("987654", r.stderr)


class TestReload(unittest.TestCase):
    def rewrite(self, text):
        with open(R.conf, "w") as f:
            f.write(text)

    def test_reason_and_restart_keys(self):
        with open(R.conf) as f:
            good = f.read()
        try:
            # A feed the daemon cannot read: the CLI's own parse passes, the daemon refuses
            # and says which file.
            self.rewrite(good.replace(os.path.join(TMP, "running.rpz"),
                                      os.path.join(TMP, "gone.rpz")))
            r = ev.cli("reload", "--config", R.conf, check=False)
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn("gone.rpz", r.stderr)
            self.assertIn("running configuration stays", r.stderr)
            m = R.udp("blocked.example.test.", "A")
            self.assertEqual(m.rcode(), 3, m)  # still the old policy: NXDOMAIN
            # A restart-only key: applied at restart, and the reply says so.
            self.rewrite(good.replace("level: \"debug\"", "level: \"info\""))
            r = ev.cli("reload", "--config", R.conf)
            self.assertIn("restart needed for: log.level", r.stdout)
            self.assertIn("restart is needed for: log.level", R.stderr_text())
        finally:
            self.rewrite(good)


if __name__ == "__main__":
    cw.main()
