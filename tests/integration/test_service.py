# SPDX-License-Identifier: MIT
"""The daemon as a systemd service, on the real daemon (docs/operations.md "Service").

- sd_notify: READY=1 once it answers, RELOADING=1 then READY=1 around SIGHUP (a failed
  reload too), STOPPING=1 at SIGTERM, read from a NOTIFY_SOCKET this test listens on, as
  systemd's Type=notify does.
- Watchdog: with WATCHDOG_USEC set, WATCHDOG=1 arrives at about a quarter of the interval and
  stops while the process is frozen (SIGSTOP), so systemd would restart it.
- `c2wall stats` and `c2wall feeds` print the daemon's counters and followed zones (JSON) and
  exit 1 when no daemon listens.
- System-call filter: the running daemon has a seccomp filter in force (every test of the
  suite runs under it, server.syscall-filter defaults to true); with it off there is none.
"""

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import c2w_world as cw

WORLD = None


def setUpModule():
    global WORLD
    WORLD = cw.World().start()


def tearDownModule():
    WORLD.stop()


class Notify:
    """A NOTIFY_SOCKET like systemd's: a unix datagram socket we read messages from."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="notify-", dir=WORLD.tmp)
        self.path = os.path.join(self.dir, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.log = []  # (monotonic time, set of "KEY=VALUE" lines)

    def wait_for(self, line, timeout=15.0):
        """Messages until one has @line; return its time."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.sock.settimeout(max(0.05, end - time.monotonic()))
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                break
            now = time.monotonic()
            lines = set(data.decode().split("\n"))
            self.log.append((now, lines))
            if line in lines:
                return now
        raise AssertionError("no %r from the daemon within %.0fs; got %r" %
                             (line, timeout, self.log[-5:]))

    def count(self, line, seconds):
        """How many messages with @line arrive in @seconds."""
        n = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.sock.settimeout(max(0.05, end - time.monotonic()))
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            if line in data.decode().split("\n"):
                n += 1
        return n

    def close(self):
        self.sock.close()


def start_with_env(env, extra=None):
    r = cw.C2wall(WORLD, mode="forward", extra=extra or {})
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        r.start()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return r


def seccomp_mode(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Seccomp:"):
                return int(line.split()[1])
    return None


class TestNotify(unittest.TestCase):
    def test_ready_reload_stop(self):
        n = Notify()
        r = start_with_env({"NOTIFY_SOCKET": n.path})
        try:
            n.wait_for("READY=1")
            r.reload()
            n.wait_for("RELOADING=1")
            n.wait_for("READY=1")
            # A reload that fails (bad YAML) still ends with READY=1: the old config serves.
            with open(r.conf, "a") as f:
                f.write("server: [\n")
            r.reload()
            n.wait_for("RELOADING=1")
            t = n.wait_for("READY=1")
            self.assertTrue(any("STATUS=serving; last reload failed, see the log" in l
                                for _, l in n.log if _ >= t))
            self.assertEqual(r.udp("test.", "SOA").rcode(), 0)
            os.kill(r.proc.pid, signal.SIGTERM)
            n.wait_for("STOPPING=1")
        finally:
            r.stop()
            n.close()

    def test_watchdog_pings_and_stops_when_frozen(self):
        n = Notify()
        # 2 s interval: a ping every 0.5 s.
        r = start_with_env({"NOTIFY_SOCKET": n.path, "WATCHDOG_USEC": "2000000"})
        try:
            n.wait_for("READY=1")
            pings = n.count("WATCHDOG=1", 3.0)
            self.assertGreaterEqual(pings, 3, "expected a ping every ~0.5 s")
            os.kill(r.proc.pid, signal.SIGSTOP)
            try:
                time.sleep(0.6)  # a ping in the socket before the stop may still be read
                n.count("WATCHDOG=1", 0.5)
                self.assertEqual(n.count("WATCHDOG=1", 2.0), 0)
            finally:
                os.kill(r.proc.pid, signal.SIGCONT)
            self.assertGreaterEqual(n.count("WATCHDOG=1", 3.0), 2, "pings resume")
        finally:
            r.stop()
            n.close()


class TestCli(unittest.TestCase):
    def run_cli(self, conf, *args):
        return subprocess.run([cw.c2wall_bin()] + list(args) + ["--config", conf],
                              capture_output=True, text=True, timeout=30)

    def test_stats_and_feeds(self):
        r = cw.C2wall(WORLD, mode="forward").start()
        try:
            for _ in range(3):
                r.udp("test.", "SOA")
            p = self.run_cli(r.conf, "stats")
            self.assertEqual(p.returncode, 0, p.stderr)
            st = json.loads(p.stdout)
            self.assertEqual(st["workers"], 2)
            self.assertGreaterEqual(st["udp_queries"], 3)
            p = self.run_cli(r.conf, "feeds")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(json.loads(p.stdout), {"zones": []})
        finally:
            r.stop()
        p = self.run_cli(r.conf, "stats")
        self.assertEqual(p.returncode, 1)
        self.assertIn("no daemon listens", p.stderr)
        p = self.run_cli(r.conf, "feeds", "extra")
        self.assertEqual(p.returncode, 2)


class TestSyscallFilter(unittest.TestCase):
    def test_filter_in_force_by_default(self):
        r = cw.C2wall(WORLD, mode="forward").start()
        try:
            self.assertEqual(seccomp_mode(r.proc.pid), 2, "seccomp filter mode expected")
            self.assertIn("system-call filter on", r.stderr_text())
            self.assertEqual(r.udp("test.", "SOA").rcode(), 0)
            # Every thread has it (TSYNC), not only the main one.
            for tid in os.listdir("/proc/%d/task" % r.proc.pid):
                with open("/proc/%d/task/%s/status" % (r.proc.pid, tid)) as f:
                    self.assertIn("Seccomp:\t2", f.read())
        finally:
            r.stop()

    def test_filter_off(self):
        r = cw.C2wall(WORLD, mode="forward",
                      extra={"server": {"syscall-filter": False}}).start()
        try:
            self.assertEqual(seccomp_mode(r.proc.pid), 0)
            self.assertIn("syscall-filter is off", r.stderr_text())
        finally:
            r.stop()


if __name__ == "__main__":
    unittest.main()
