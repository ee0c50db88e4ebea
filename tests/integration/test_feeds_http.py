# SPDX-License-Identifier: MIT
"""Policy zones downloaded over HTTPS (docs/policy.md "HTTP(S) feeds") and per-entry lifetimes
("expires=").

A real HTTPS server (Python's http.server + ssl, in this process) with a test CA and a server
certificate for 127.0.0.1 made here with the openssl CLI serves hosts files the test changes.
Rules give local data (A 10.x.y.z) to names that do not exist in the test world, so an answer
says at once whether a rule is in force. Checked: first load, a change picked up on refresh,
304 (the server sees If-None-Match), 404, a huge body (size cap), a slow body (time cap), an
HTML page (does not parse), an https->http redirect, max-change and never-block refusals, a
server certificate from the wrong CA: each keeps the last good policy and shows the error in
the `feeds` state; restart with the server down enforces the disk copy; entries with
"expires=" stop being answered at their time, in a downloaded feed and in a file feed."""

import datetime
import hashlib
import http.server
import os
import re
import shutil
import socketserver
import ssl
import stat
import threading
import time
import unittest

import dns.message
import dns.query

import c2w_world as cw
import events_util as eu
from c2w_world import rrset_values, describe
from rpz_peers import UnboundRpz

OPENSSL = "/usr/bin/openssl"

WORLD = R = None
TMP = None
HTTPS = PLAIN = None
MAIN = "main.http.example."
BADCA = "badca.http.example."
EXP = "exp.http.example."
FILEZ = "file.example."
SLOWZ = "slow.http.example."
NXZ = "nx.http.example."
NOVAL = "noval.http.example."
ONWARD = "onward.http.example."
DEAD_PORT = None

ONWARD_LINES = ["10.0.8.%d onward%d.example.test" % (i, i) for i in range(1, 5)]
MAIN_LINES = ["10.0.9.%d m%d.example.test" % (i, i) for i in range(1, 11)]
# Ten entries that stay, so one more is within max-change (0.5).
EXP_LINES = ["10.0.8.%d stay%d.example.test" % (i, i) for i in range(10, 20)]
FILE_LINES = ["10.0.6.%d filestay%d.example.test" % (i, i) for i in range(10, 20)]


def utc(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


# ---- certificates ------------------------------------------------------------------------------

def make_ca(name):
    key, pem = os.path.join(TMP, name + ".key"), os.path.join(TMP, name + ".pem")
    cw.run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", pem, "-days", "2",
            "-subj", "/CN=c2wall test %s" % name])
    return key, pem


def make_server_cert(ca_key, ca_pem):
    key, csr, pem = (os.path.join(TMP, "srv." + x) for x in ("key", "csr", "pem"))
    ext = os.path.join(TMP, "srv.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    cw.run([OPENSSL, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"])
    cw.run([OPENSSL, "x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key,
            "-CAcreateserial", "-out", pem, "-days", "2", "-extfile", ext])
    return key, pem


# ---- the feed server ----------------------------------------------------------------------------

class Feeds:
    """What the server serves: path -> text, path -> mode, and what it saw."""

    def __init__(self):
        self.lock = threading.Lock()
        self.body = {}
        self.mode = {}
        self.seen = []  # (path, If-None-Match or None, status)

    def set(self, path, lines):
        with self.lock:
            self.body[path] = "".join(l + "\n" for l in lines)


FEEDS = Feeds()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def _send(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        if code != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if code != 304:
            self.wfile.write(body)

    def do_GET(self):
        path = self.path
        inm = self.headers.get("If-None-Match")
        with FEEDS.lock:
            mode = FEEDS.mode.get(path, "ok")
            text = FEEDS.body.get(path)
        status = {"404": 404, "ok": 200}.get(mode, 200)
        FEEDS.seen.append((path, inm, mode))
        try:
            if mode == "404" or text is None:
                self._send(404, b"not here\n")
            elif mode == "huge":
                # No Content-Length: the daemon must count and stop by itself.
                self.send_response(200)
                self.end_headers()
                chunk = b"0.0.0.0 filler.example.test\n" * 1024
                for _ in range(64):  # ~1.8 MB
                    self.wfile.write(chunk)
            elif mode == "slow":
                self.send_response(200)
                self.send_header("Content-Length", "4000")
                self.end_headers()
                for _ in range(40):
                    self.wfile.write(b"#")
                    self.wfile.flush()
                    time.sleep(0.5)
            elif mode == "html":
                self._send(200, b"<html><head><title>Maintenance</title></head>\n"
                                b"<body><p>We are down for maintenance.</p></body></html>\n")
            elif mode == "novalidators":
                self._send(200, text.encode())
            elif mode == "downgrade":
                self._send(302, b"", [("Location", "http://127.0.0.1:%d%s" %
                                       (PLAIN.server_address[1], path))])
            else:
                body = text.encode()
                etag = '"%s"' % hashlib.sha1(body).hexdigest()[:16]
                if inm == etag:
                    self._send(304, headers=[("ETag", etag)])
                else:
                    self._send(status, body, [("ETag", etag),
                                              ("Last-Modified", "Wed, 02 Dec 2026 10:00:00 GMT"),
                                              ("Content-Type", "text/plain")])
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def start_server(tls_key=None, tls_pem=None):
    srv = Server(("127.0.0.1", 0), Handler)
    if tls_key is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls_pem, tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    return srv


UNB = None
UNB_PORT = [0]


def a_at(port, qname):
    q = dns.message.make_query(qname, "A")
    try:
        m = dns.query.udp(q, "127.0.0.1", port=port, timeout=2.0)
    except Exception:  # noqa: BLE001 - a server still starting
        return []
    return rrset_values(m, "answer", qname, "A")


def wait_a_at(port, qname, want, timeout=30.0):
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = a_at(port, qname)
        if got == want:
            return time.monotonic()
        time.sleep(0.1)
    raise AssertionError("port %d: %s A %r, wanted %r" % (port, qname, got, want))


def url(path, port=None):
    return "https://127.0.0.1:%d%s" % (port or HTTPS.server_address[1], path)


# ---- helpers -----------------------------------------------------------------------------------

zone_state = eu.feeds_zone
wait_state = eu.wait_feeds_zone


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
            return time.time()
        time.sleep(0.05)
    raise AssertionError("%s A: wanted %r, got %r; %s" % (qname, value, vals, describe(m)))


def setUpModule():
    global WORLD, R, TMP, HTTPS, PLAIN, DEAD_PORT, UNB
    WORLD = cw.World(sign=False).start()
    TMP = os.path.join(WORLD.tmp, "feeds-http")
    os.makedirs(TMP)
    ca_key, ca_pem = make_ca("ca")
    _, wrong_pem = make_ca("wrong-ca")
    srv_key, srv_pem = make_server_cert(ca_key, ca_pem)
    HTTPS = start_server(srv_key, srv_pem)
    PLAIN = start_server()
    DEAD_PORT = cw.free_port()
    FEEDS.set("/main.hosts", MAIN_LINES)
    FEEDS.set("/onward.hosts", ONWARD_LINES)
    UNB_PORT[0] = cw.free_port()
    FEEDS.set("/badca.hosts", ["10.0.7.1 badca.example.test"])
    FEEDS.set("/exp.hosts", EXP_LINES)
    FEEDS.set("/slow.hosts", ["10.0.5.1 slow.example.test"])
    FEEDS.set("/noval.hosts", ["10.0.4.1 noval.example.test"])
    FEEDS.mode["/noval.hosts"] = "novalidators"
    FEEDS.mode["/slow.hosts"] = "slow"
    with open(os.path.join(TMP, "file.hosts"), "w") as f:
        f.write("".join(l + "\n" for l in FILE_LINES))
    R = cw.make_resolver(WORLD, kind="c2wall", mode="recursive", validate=False, extra={
        "policy": {"state-dir": os.path.join(TMP, "state"), "max-change": 0.5,
                   "never-block": ["safe.example.test"], "zones": [
                       {"name": MAIN, "url": url("/main.hosts"), "format": "hosts",
                        "ca-file": ca_pem, "refresh": "1s", "retry-min": "1s",
                        "retry-max": "1s", "transfer-timeout": "3s",
                        "transfer-max-size": "64KiB"},
                       {"name": BADCA, "url": url("/badca.hosts"), "format": "hosts",
                        "ca-file": wrong_pem, "retry-min": "30s"},
                       {"name": EXP, "url": url("/exp.hosts"), "format": "hosts",
                        "ca-file": ca_pem, "refresh": "1s"},
                       {"name": FILEZ, "file": os.path.join(TMP, "file.hosts"),
                        "format": "hosts"},
                       {"name": NOVAL, "url": url("/noval.hosts"), "format": "hosts",
                        "ca-file": ca_pem, "refresh": "1s"},
                       {"name": NXZ, "url": "https://feed.invalid/list.hosts",
                        "format": "hosts", "transfer-timeout": "5s", "retry-min": "30s"},
                       {"name": SLOWZ, "url": url("/slow.hosts"), "format": "hosts",
                        "ca-file": ca_pem, "low-speed-limit": 100, "low-speed-time": "2s",
                        "retry-min": "30s"},
                       # downloaded and served onward, as RPZ, to Unbound
                       {"name": ONWARD, "url": url("/onward.hosts"), "format": "hosts",
                        "ca-file": ca_pem, "refresh": "1s",
                        "allow-transfer": ["127.0.0.1/32"],
                        "notify": ["127.0.0.1@%d" % UNB_PORT[0]]},
                   ]}})
    R.start()
    UNB = UnboundRpz(TMP, UNB_PORT[0], ONWARD, R.port)
    UNB.start()


def tearDownModule():
    try:
        if UNB is not None:
            UNB.stop()
        if R is not None:
            assert R.stop() == 0
    finally:
        for s in (HTTPS, PLAIN):
            if s is not None:
                s.shutdown()
                s.server_close()
        WORLD.stop()


class TestDownload(unittest.TestCase):
    def test_1_first_load_and_change(self):
        z = first = wait_state(R, MAIN, lambda z: z["has_copy"], what="first download")
        self.assertEqual(z["url"], url("/main.hosts"))
        self.assertTrue(z["etag"].startswith('"'), z)
        self.assertEqual(z["last_modified"], "Wed, 02 Dec 2026 10:00:00 GMT")
        self.assertEqual(z["rules"], 10, z)
        self.assertEqual(a_values(R, "m1.example.test.")[0], ["10.0.9.1"])
        self.assertEqual(a_values(R, "new.example.test.")[0], [])
        t0 = time.time()
        FEEDS.set("/main.hosts", MAIN_LINES + ["10.0.9.99 new.example.test"])
        t1 = wait_answer_a(R, "new.example.test.", "10.0.9.99", timeout=20)
        # The validators are noted after the new copy is in force: wait for both, so the
        # next test starts from the new ETag.
        z = wait_state(R, MAIN, lambda z: z["rules"] == 11 and z["etag"] != first["etag"],
                       what="11 rules and the new ETag")
        print("http: change on the server -> answering in %.2fs (refresh 1s)" % (t1 - t0))

    def test_2_not_modified(self):
        wait_state(R, MAIN, lambda z: z["has_copy"], what="copy")
        before = zone_state(R, MAIN)
        z = wait_state(R, MAIN, lambda z: z["not_modified"] >= before["not_modified"] + 2,
                       what="two 304s")
        self.assertEqual(z["http_status"], 304)
        self.assertEqual(z["last_error"], "")
        self.assertEqual(z["etag"], before["etag"])
        sent = [inm for p, inm, _ in FEEDS.seen if p == "/main.hosts" and inm is not None]
        self.assertIn(z["etag"], sent)

    def _fault(self, mode, expect, lines=None):
        """Serve @mode (or @lines): the refresh fails with @expect, the policy stays."""
        wait_state(R, MAIN, lambda z: z["has_copy"], what="copy")
        good = list(FEEDS.body["/main.hosts"].splitlines())
        before = zone_state(R, MAIN)
        if lines is not None:
            FEEDS.set("/main.hosts", lines)
        else:
            FEEDS.mode["/main.hosts"] = mode
        try:
            z = wait_state(R, MAIN, lambda z: z["failures"] > before["failures"] and
                           expect in z["last_error"], timeout=30, what="failure: " + expect)
            self.assertEqual(a_values(R, "m1.example.test.")[0], ["10.0.9.1"])
            self.assertEqual(z["rules"], before["rules"], z)
            self.assertTrue(z["has_copy"])
            print("fault %s: %s" % (mode or "content", z["last_error"]))
        finally:
            FEEDS.mode["/main.hosts"] = "ok"
            FEEDS.set("/main.hosts", good)
        wait_state(R, MAIN, lambda z: z["last_error"] == "", what="recovery")
        return z

    def test_3_not_found(self):
        z = self._fault("404", "HTTP 404")
        self.assertEqual(z["http_status"], 404)

    def test_4_huge_body(self):
        self._fault("huge", "transfer-max-size")

    def test_5_slow_body(self):
        t0 = time.monotonic()
        self._fault("slow", "timeout")
        self.assertLess(time.monotonic() - t0, 15)

    def test_6_html_page(self):
        self._fault("html", "does not parse")

    def test_7_https_to_http_redirect(self):
        self._fault("downgrade", "rotocol")

    def test_8_max_change_and_never_block(self):
        self._fault(None, "max-change", lines=MAIN_LINES[:2])
        self._fault(None, "never-block",
                    lines=MAIN_LINES + ["0.0.0.0 safe.example.test"])
        self.assertEqual(a_values(R, "safe.example.test.")[0], [])

    def test_9_wrong_ca(self):
        z = wait_state(R, BADCA, lambda z: z["failures"] >= 1, what="a failed download")
        self.assertFalse(z["has_copy"], z)
        self.assertIn("certificate", z["last_error"], z)
        print("wrong CA: %s" % z["last_error"])
        self.assertEqual(a_values(R, "badca.example.test.")[0], [])

    def test_low_speed(self):
        # 2 bytes/s against a floor of 100 bytes/s over 2 s; transfer-timeout is 120 s.
        z = wait_state(R, SLOWZ, lambda z: z["failures"] >= 1, timeout=30, what="failure")
        self.assertIn("too slow", z["last_error"], z)
        self.assertFalse(z["has_copy"], z)
        self.assertEqual(a_values(R, "slow.example.test.")[0], [])

    def test_same_body_no_rebuild(self):
        # The server sends no ETag or Last-Modified: every refresh is a 200 with the same
        # body, recognised as the copy in force and not compiled again.
        z = wait_state(R, NOVAL, lambda z: z["has_copy"], what="copy")
        self.assertEqual(z["etag"], "")
        z = wait_state(R, NOVAL, lambda z: z["unchanged"] >= 2, what="two unchanged")
        self.assertEqual(z["not_modified"], 0)
        self.assertEqual(R.stderr_text().count("zone %s: new copy" % NOVAL), 1)
        self.assertEqual(a_values(R, "noval.example.test.")[0], ["10.0.4.1"])

    def test_dns_failure(self):
        # A name under .invalid (RFC 6761) never resolves.
        z = wait_state(R, NXZ, lambda z: z["failures"] >= 1, timeout=30, what="failure")
        self.assertIn("resolv", z["last_error"].lower(), z)
        self.assertFalse(z["has_copy"], z)
        print("dns failure: %s" % z["last_error"])

    def test_disk_copy(self):
        wait_state(R, MAIN, lambda z: z["has_copy"], what="copy")
        path = os.path.join(TMP, "state", MAIN + "feed")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode) & 0o027, 0)
        with open(path + ".meta") as f:
            meta = f.read()
        self.assertTrue(meta.startswith("c2wall-http v1\n"), meta)
        self.assertIn("etag=\"", meta)
        # Downloads run every second: a temp file may exist for a moment, none may stay.
        def temps():
            return {n for n in os.listdir(os.path.dirname(path))
                    if n.startswith(MAIN) and ".tmp." in n}
        first = temps()
        time.sleep(3)
        self.assertEqual(first & temps(), set())


class TestExpires(unittest.TestCase):
    def test_expires_in_http_feed(self):
        wait_state(R, EXP, lambda z: z["has_copy"], what="copy")
        at = int(time.time()) + 10
        FEEDS.set("/exp.hosts", EXP_LINES + [
            "10.0.8.2 soon.example.test # expires=%s" % utc(at),
            "10.0.8.3 gone.example.test # expires=%s" % utc(at - 3600)])
        wait_answer_a(R, "soon.example.test.", "10.0.8.2", timeout=at - time.time() - 0.5)
        self.assertEqual(a_values(R, "gone.example.test.")[0], [])
        t = wait_answer_a(R, "soon.example.test.", None, timeout=at - time.time() + 10)
        self.assertGreaterEqual(t, at)
        self.assertEqual(a_values(R, "stay10.example.test.")[0], ["10.0.8.10"])
        print("expires= (http feed): stopped %.2fs after its time" % (t - at))
        # No new feed version was needed: the server still serves the same body (304s).
        self.assertEqual(zone_state(R, EXP)["last_error"], "")

    def test_expires_in_file_feed(self):
        at = int(time.time()) + 8
        with open(os.path.join(TMP, "file.hosts"), "w") as f:
            f.write("".join(l + "\n" for l in FILE_LINES) +
                    "10.0.6.2 filesoon.example.test # expires=%s\n" % utc(at))
        R.reload()
        wait_answer_a(R, "filesoon.example.test.", "10.0.6.2", timeout=at - time.time() - 0.5)
        t = wait_answer_a(R, "filesoon.example.test.", None, timeout=at - time.time() + 10)
        self.assertGreaterEqual(t, at)
        self.assertEqual(a_values(R, "filestay10.example.test.")[0], ["10.0.6.10"])
        print("expires= (file feed): stopped %.2fs after its time" % (t - at))
        # compiled on the transfer thread, the main thread only swapped it in
        log = R.stderr_text()
        self.assertRegex(log, r"no longer enforced \(rebuilt in \d+ ms, on the "
                         r"transfer thread\)")
        # one rebuild per second due: a rebuild that kept its entries (it read the second
        # before from the coarse clock) was followed by another for the same second
        due = re.findall(r"entries expired at (\d+) no longer enforced", log)
        self.assertEqual(len(due), len(set(due)), due)


class TestRestart(unittest.TestCase):
    def test_restart_server_down(self):
        z0 = wait_state(R, MAIN, lambda z: z["has_copy"], what="copy")
        state2 = os.path.join(TMP, "state2")
        os.makedirs(state2, exist_ok=True)
        for suffix in ("feed", "feed.meta"):
            shutil.copy(os.path.join(TMP, "state", MAIN + suffix), state2)
        # The same URL path on a port where nothing listens: connection refused.
        R2 = cw.make_resolver(WORLD, kind="c2wall", mode="recursive", validate=False,
                              name="c2wall-restart",
                              extra={"policy": {"state-dir": state2, "zones": [
                                  {"name": MAIN, "format": "hosts", "retry-min": "1s",
                                   "url": url("/main.hosts", DEAD_PORT)}]}})
        R2.start()
        try:
            self.assertEqual(a_values(R2, "m1.example.test.")[0], ["10.0.9.1"])
            z = zone_state(R2, MAIN)
            self.assertTrue(z["has_copy"])
            self.assertEqual(z["etag"], z0["etag"])
            z = wait_state(R2, MAIN, lambda z: z["failures"] >= 1, what="failure")
            self.assertIn("onnect", z["last_error"], z)
            self.assertEqual(a_values(R2, "m1.example.test.")[0], ["10.0.9.1"])
        finally:
            self.assertEqual(R2.stop(), 0)


if __name__ == "__main__":
    cw.main()


class TestServedOnward(unittest.TestCase):
    """A `url:` feed served onward (docs/policy.md "c2wall as primary"): Unbound, an RPZ
    secondary of c2wall, gets the downloaded hosts list as RPZ by AXFR and blocks what c2wall
    blocks (local data 10.0.8.x); a new version of the list reaches it by NOTIFY and IXFR."""

    def test_url_feed_to_unbound(self):
        try:
            self._url_feed_to_unbound()
        except AssertionError:
            print(UNB.log())
            raise

    def _url_feed_to_unbound(self):
        wait_state(R, ONWARD, lambda z: z["has_copy"], what="first download")
        for i in (1, 4):
            wait_a_at(UNB_PORT[0], "onward%d.example.test." % i, ["10.0.8.%d" % i])
        self.assertEqual(a_at(UNB_PORT[0], "onward5.example.test."), [])
        s0 = eu.control_json(R, "stats")
        FEEDS.set("/onward.hosts", ONWARD_LINES + ["10.0.8.5 onward5.example.test"])
        t0 = time.monotonic()
        wait_a_at(R.port, "onward5.example.test.", ["10.0.8.5"])
        t1 = wait_a_at(UNB_PORT[0], "onward5.example.test.", ["10.0.8.5"])
        print("url: feed -> c2wall -> Unbound: %.2fs after the list changed" % (t1 - t0))
        self.assertEqual(a_at(UNB_PORT[0], "onward1.example.test."), ["10.0.8.1"])
        s1 = eu.control_json(R, "stats")
        self.assertGreater(s1["xfr_out_ixfr"], s0["xfr_out_ixfr"], (s0, s1))
