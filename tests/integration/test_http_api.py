# SPDX-License-Identifier: MIT
"""The HTTP API (control.http): bearer tokens and roles (401/403 without detail), every
/api/v1/ endpoint answering what the control socket answers (one implementation), opt-out
changes seen by both, reload, /metrics behind the same tokens, HTTPS with a certificate,
and hostile clients: huge body, many headers, headers trickled byte by byte, more connections
than control.http-connections-max. The daemon must keep answering DNS and HTTP after each."""

import json
import os
import socket
import subprocess
import tempfile
import time
import unittest

import c2w_world as cw
import events_util as eu
import http_util as hu

WORLD = R = T = None
PORT = TPORT = 0
READ, ADMIN = hu.new_token(), hu.new_token()
D = CA = None

FEED = """$TTL 300
@ SOA localhost. hostmaster.localhost. 1 3600 600 86400 300
  NS localhost.
cnc.evil.test          CNAME .              ; family=emotet
"""


def setUpModule():
    global WORLD, R, T, PORT, TPORT, D, CA
    WORLD = cw.World(upstream=False).start()
    try:
        D = tempfile.mkdtemp(dir=WORLD.tmp, prefix="http-")
        feed = os.path.join(D, "c2.rpz")
        with open(feed, "w") as f:
            f.write(FEED)
        PORT = cw.free_port()
        extra = hu.http_extra(D, PORT, READ, ADMIN, **{
            "http-timeout": "3s", "http-connections-max": 8, "http-body-max": 4096,
            "http-headers-max": 4096})
        extra["policy"] = {"zones": [{"name": "c2.rpz.", "file": feed}]}
        R = cw.make_resolver(WORLD, kind="c2wall", extra=extra).start()
        # A second daemon serving the API over TLS (self-signed certificate).
        CA = os.path.join(D, "cert.pem")
        key = os.path.join(D, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                        "/CN=127.0.0.1", "-keyout", key, "-out", CA], check=True,
                       capture_output=True, timeout=60)
        TPORT = cw.free_port()
        td = tempfile.mkdtemp(dir=WORLD.tmp, prefix="https-")
        textra = hu.http_extra(td, TPORT, READ, ADMIN, **{"http-tls-cert": CA,
                                                          "http-tls-key": key})
        T = cw.make_resolver(WORLD, kind="c2wall", extra=textra).start()
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    try:
        for r in (R, T):
            if r is not None and r.running():
                assert r.stop() == 0
    finally:
        WORLD.stop()


def alive():
    """DNS and the API still answer."""
    m = R.udp("www.example.test.", "A")
    assert m is not None and m.rcode() == 0, m
    st, _, _ = hu.request(PORT, "GET", "/api/v1/stats", READ)
    assert st == 200, st


class TestAuth(unittest.TestCase):
    def test_no_token(self):
        for path in ("/api/v1/stats", "/metrics", "/api/v1/nonexistent", "/api/v1/history",
                     "/assets/other.js"):
            st, hd, body = hu.request(PORT, "GET", path)
            self.assertEqual(st, 401, path)
            self.assertEqual(hd.get("www-authenticate"), 'Bearer realm="c2wall"')
            self.assertEqual(json.loads(body), {"error": "unauthorized"})

    def test_wrong_tokens(self):
        for tok in (READ[:-1], READ + "x", ADMIN.upper(), "x" * 300, "", "a b"):
            st, _, body = hu.request(PORT, "GET", "/api/v1/stats", headers={
                "Authorization": "Bearer " + tok})
            self.assertEqual(st, 401, tok)
        for hdr in ("Basic " + READ, READ, "Bearer", "Bearer  %s junk" % READ):
            st, _, _ = hu.request(PORT, "GET", "/api/v1/stats",
                                  headers={"Authorization": hdr})
            self.assertEqual(st, 401, hdr)
        st, _, _ = hu.request(PORT, "GET", "/api/v1/stats",
                              headers={"Authorization": "bearer   %s  " % READ})
        self.assertEqual(st, 200)

    def test_read_role_cannot_change(self):
        for path in ("/api/v1/reload", "/api/v1/optout/add?prefix=192.0.2.1",
                     "/api/v1/optout/remove?prefix=192.0.2.1"):
            st, _, body = hu.request(PORT, "POST", path, READ)
            self.assertEqual(st, 403, path)
            self.assertEqual(json.loads(body), {"error": "forbidden"})
        self.assertNotIn("192.0.2.1", eu.control_json(R, "optout list"))

    def test_unknown_path_and_method(self):
        st, _, _ = hu.request(PORT, "GET", "/api/v1/nonexistent", READ)
        self.assertEqual(st, 404)
        st, hd, _ = hu.request(PORT, "GET", "/api/v1/reload", ADMIN)
        self.assertEqual(st, 405)
        self.assertEqual(hd.get("allow"), "POST")
        st, _, _ = hu.request(PORT, "DELETE", "/api/v1/stats", ADMIN)
        self.assertIn(st, (405, 501))


class TestEndpoints(unittest.TestCase):
    def test_stats_same_as_control_socket(self):
        m = R.udp("cnc.evil.test.", "A")
        self.assertEqual(m.rcode(), 3)
        api = hu.get_json(PORT, "/api/v1/stats", READ)
        ctl = eu.control_json(R, "stats")
        self.assertEqual(api["workers"], ctl["workers"])
        self.assertEqual(api["policy_rules"], ctl["policy_rules"])
        self.assertGreaterEqual(api["nxdomain"], 1)
        self.assertEqual(set(api), set(ctl))

    def test_feeds_events(self):
        self.assertEqual(hu.get_json(PORT, "/api/v1/feeds", READ),
                         eu.control_json(R, "feeds"))
        ev = hu.get_json(PORT, "/api/v1/events", READ)
        self.assertEqual(set(ev), set(eu.control_json(R, "events")))

    def test_optout_add_list_remove(self):
        st, _, body = hu.request(PORT, "POST", "/api/v1/optout/add?prefix=198.51.100.0/24",
                                 ADMIN)
        self.assertEqual(st, 200, body)
        self.assertEqual(json.loads(body), {"result": "ok"})
        self.assertIn("198.51.100.0/24", hu.get_json(PORT, "/api/v1/optout", READ))
        self.assertIn("198.51.100.0/24", eu.control_json(R, "optout list"))
        st, _, body = hu.request(PORT, "POST", "/api/v1/optout/add?prefix=198.51.100.0/24",
                                 ADMIN)
        self.assertEqual(st, 409, body)
        self.assertIn("already opted out", json.loads(body)["error"])
        st, _, _ = hu.request(PORT, "POST", "/api/v1/optout/remove?prefix=198.51.100.0%2F24",
                              ADMIN)
        self.assertEqual(st, 200)
        self.assertNotIn("198.51.100.0/24", eu.control_json(R, "optout list"))
        st, _, body = hu.request(PORT, "POST", "/api/v1/optout/remove?prefix=198.51.100.0/24",
                                 ADMIN)
        self.assertEqual(st, 404, body)
        st, _, body = hu.request(PORT, "POST", "/api/v1/optout/add?prefix=not-an-address",
                                 ADMIN)
        self.assertEqual(st, 400, body)
        st, _, body = hu.request(PORT, "POST", "/api/v1/optout/add", ADMIN)
        self.assertEqual(st, 400, body)
        self.assertIn("prefix", json.loads(body)["error"])

    def test_reload(self):
        before = hu.sample(hu.metrics(PORT, READ), "c2wall_reloads_total")
        st, _, body = hu.request(PORT, "POST", "/api/v1/reload", ADMIN)
        self.assertEqual(st, 200, body)
        self.assertTrue(json.loads(body)["result"].startswith("ok"), body)
        self.assertEqual(hu.sample(hu.metrics(PORT, READ), "c2wall_reloads_total"), before + 1)
        alive()

    def test_explain(self):
        r = hu.get_json(PORT, "/api/v1/explain?name=cnc.evil.test", READ)
        self.assertEqual(r["query"], "cnc.evil.test.")
        self.assertEqual(r["verdict"], "act")
        c = r["candidates"][0]
        self.assertEqual((c["zone"], c["trigger"], c["match"], c["action"], c["wins"],
                          c["family"]),
                         ("c2.rpz.", "qname", "cnc.evil.test.", "nxdomain", True, "emotet"))
        r = hu.get_json(PORT, "/api/v1/explain?name=www.example.test&type=AAAA", READ)
        self.assertEqual((r["type"], r["candidates"], r["verdict"]), ("AAAA", [], "none"))
        # The CLI's explain over the same config names the same rule.
        out = eu.cli("explain", "cnc.evil.test", "--config", R.conf).stdout
        self.assertIn("ACTS  zone c2.rpz. (#1) qname cnc.evil.test. -> nxdomain", out)
        self.assertIn("why: " + c["why"], out)
        for q in ("", "?name=", "?name=a..b", "?name=x.test&type=NOPE"):
            st, _, body = hu.request(PORT, "GET", "/api/v1/explain" + q, READ)
            self.assertEqual(st, 400, (q, body))

    def test_incidents_list_and_mark(self):
        m = R.udp("cnc.evil.test.", "A")
        self.assertEqual(m.rcode(), 3)
        deadline = time.monotonic() + 15
        inc = []
        while time.monotonic() < deadline and not inc:
            inc = hu.get_json(PORT, "/api/v1/incidents", READ)["incidents"]
            time.sleep(0.3)
        self.assertTrue(inc, "no incident in the store")
        st, _, raw_body = hu.request(PORT, "GET", "/api/v1/incidents", READ)
        self.assertNotIn(b"127.0.0.1", raw_body)  # pseudonyms only, never the address
        iid = inc[0]["id"]
        st, _, body = hu.request(PORT, "POST", "/api/v1/incidents/mark-notified?id=%d" % iid,
                                 READ)
        self.assertEqual(st, 403)
        st, _, body = hu.request(PORT, "POST", "/api/v1/incidents/mark-notified?id=%d" % iid,
                                 ADMIN)
        self.assertEqual((st, json.loads(body)), (200, {"marked": 1}))
        left = hu.get_json(PORT, "/api/v1/incidents?unnotified=1", READ)["incidents"]
        self.assertNotIn(iid, [i["id"] for i in left])
        self.assertIn(iid, [i["id"] for i in hu.get_json(
            PORT, "/api/v1/incidents?since=2000-01-01", READ)["incidents"]])
        st, _, body = hu.request(PORT, "POST", "/api/v1/incidents/mark-notified?id=999999",
                                 ADMIN)
        self.assertEqual(st, 404, body)
        st, _, body = hu.request(PORT, "POST", "/api/v1/incidents/mark-notified?id=x", ADMIN)
        self.assertEqual(st, 400, body)
        st, _, body = hu.request(PORT, "GET", "/api/v1/incidents?since=yesterday", READ)
        self.assertEqual(st, 400, body)

    def test_tokens_reread_at_reload(self):
        """New and revoked tokens take effect at reload; a bad file keeps the tokens in force."""
        path = os.path.join(D, "http.tokens")
        new = hu.new_token()
        try:
            hu.write_tokens(path, new, ADMIN)  # READ revoked, NEW added
            st, _, body = hu.request(PORT, "POST", "/api/v1/reload", ADMIN)
            self.assertEqual(st, 200, body)
            self.assertEqual(hu.request(PORT, "GET", "/api/v1/stats", new)[0], 200)
            self.assertEqual(hu.request(PORT, "GET", "/api/v1/stats", READ)[0], 401)
            with open(path, "w") as f:
                f.write("reader %s\n" % READ)  # malformed: refused, the set in force stays
            os.chmod(path, 0o600)
            st, _, body = hu.request(PORT, "POST", "/api/v1/reload", ADMIN)
            self.assertEqual(st, 200, body)
            self.assertEqual(hu.request(PORT, "GET", "/api/v1/stats", new)[0], 200)
            self.assertEqual(hu.request(PORT, "GET", "/api/v1/stats", READ)[0], 401)
            self.assertIn("the loaded HTTP tokens stay in force", R.stderr_text())
        finally:
            hu.write_tokens(path, READ, ADMIN)
            hu.request(PORT, "POST", "/api/v1/reload", ADMIN)
        self.assertEqual(hu.request(PORT, "GET", "/api/v1/stats", READ)[0], 200)

    def test_metrics_content_type(self):
        st, hd, body = hu.request(PORT, "GET", "/metrics", READ)
        self.assertEqual(st, 200)
        self.assertEqual(hd["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        self.assertIn("c2wall_queries_total", body.decode())
        st, hd, body = hu.request(PORT, "HEAD", "/metrics", READ)
        self.assertEqual((st, body), (200, b""))

    def test_https(self):
        st, _, body = hu.request(TPORT, "GET", "/api/v1/stats", READ, tls_ca=CA)
        self.assertEqual(st, 200, body)
        self.assertIn("workers", json.loads(body))
        st, _, _ = hu.request(TPORT, "GET", "/api/v1/stats", tls_ca=CA)
        self.assertEqual(st, 401)
        # Plain HTTP to the TLS listener gets no answer.
        with self.assertRaises((ConnectionError, OSError, Exception)):
            hu.request(TPORT, "GET", "/api/v1/stats", READ, timeout=5)


def raw(data_parts, delay=0.0, timeout=10.0):
    """Send raw bytes (parts, @delay apart); return (what came back, seconds to close)."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
    t0 = time.monotonic()
    got = b""
    try:
        for p in data_parts:
            try:
                s.sendall(p)
            except OSError:
                break
            if delay:
                time.sleep(delay)
        s.settimeout(timeout)
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            got += chunk
    finally:
        s.close()
    return got, time.monotonic() - t0


class TestHostile(unittest.TestCase):
    def test_huge_body(self):
        head = ("POST /api/v1/reload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                "Content-Length: 10000000\r\n\r\n" % ADMIN).encode()
        got, _ = raw([head, b"x" * 65536])
        self.assertTrue(got.startswith(b"HTTP/1.1 413"), got[:80])
        alive()

    def test_many_headers(self):
        head = "GET /api/v1/stats HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n" % READ
        head += "".join("X-H%d: v\r\n" % i for i in range(2000)) + "\r\n"
        got, _ = raw([head.encode()])
        self.assertFalse(got.startswith(b"HTTP/1.1 200"), got[:80])
        alive()

    def test_slow_headers_cut_at_deadline(self):
        """Headers trickled one byte every 0.5 s (each byte would reset an idle timer): the
        connection is cut at http-timeout (3 s), counted as a deadline cut."""
        before = hu.sample(hu.metrics(PORT, READ), "c2wall_http_deadline_cuts_total")
        req = ("GET /api/v1/stats HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
               "X-Slow: " % READ).encode() + b"a" * 40
        got, took = raw([req[:10]] + [bytes([b]) for b in req[10:]], delay=0.5, timeout=15)
        self.assertNotIn(b"200 OK", got)
        self.assertLess(took, 3 + 4, "cut after %.1f s" % took)
        after = hu.sample(hu.metrics(PORT, READ), "c2wall_http_deadline_cuts_total")
        self.assertGreaterEqual(after, before + 1)
        alive()

    def test_connection_cap(self):
        before = hu.sample(hu.metrics(PORT, READ), "c2wall_http_connections_refused_total")
        idle = [socket.create_connection(("127.0.0.1", PORT), timeout=5) for _ in range(8)]
        try:
            time.sleep(0.3)
            s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
            s.sendall(("GET /api/v1/stats HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s"
                       "\r\n\r\n" % READ).encode())
            got = b""
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
            except (ConnectionResetError, socket.timeout):
                pass
            s.close()
            self.assertFalse(got.startswith(b"HTTP/1.1 200"), got[:80])
        finally:
            for c in idle:
                c.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            st = None
            try:
                st, _, _ = hu.request(PORT, "GET", "/api/v1/stats", READ, timeout=2)
            except OSError:
                pass
            if st == 200:
                break
            time.sleep(0.2)
        self.assertEqual(st, 200)
        after = hu.sample(hu.metrics(PORT, READ), "c2wall_http_connections_refused_total")
        self.assertGreaterEqual(after, before + 1)
        alive()


if __name__ == "__main__":
    cw.main()
