# SPDX-License-Identifier: MIT
"""`c2wall sinkhole` over loopback with real clients: curl for the warning page (Japanese by
default, English by Accept-Language or ?lang=en), openssl s_client for the TLS port (SNI
recorded, no handshake), raw sockets for hostile input (huge headers, malformed requests,
script in Host, slow senders, too many connections), and the evidence it leaves in the JSON
Lines log and the incident store."""

import socket
import subprocess
import time
import unittest

from sinkhole_util import Sinkhole, raw_exchange, split_response

SH = None
READ_TIMEOUT_S = 1.5
CAP = 16


def setUpModule():
    global SH
    text = ("isp = 例ネット光\n"
            "link = 例ネット 安心サポート | https://support.example.jp/anshin\n")
    SH = Sinkhole(read_timeout_ms=int(READ_TIMEOUT_S * 1000), max_connections=CAP,
                  text_ja=text).start()


def tearDownModule():
    code = SH.stop()
    assert code == 0, f"c2wall sinkhole exit code {code}: {SH.logtext()}"


def curl(*args):
    p = subprocess.run(["curl", "-sS", "--max-time", "5", "-D", "-", *args],
                       capture_output=True, timeout=15)
    raw = p.stdout
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), headers, body.decode("utf-8")


class Page(unittest.TestCase):
    def test_japanese_by_default(self):
        status, h, body = curl(f"http://127.0.0.1:{SH.http}/gate.php?id=1",
                               "-H", "Host: evil.example", "-A", "ja-default-probe")
        self.assertEqual(status, 403)
        self.assertEqual(h["cache-control"], "no-store")
        self.assertEqual(h["content-language"], "ja")
        self.assertTrue(h["content-type"].startswith("text/html; charset=utf-8"))
        self.assertIn("default-src 'none'", h["content-security-policy"])
        self.assertIn('<html lang="ja">', body)
        self.assertIn("evil.example", body)
        self.assertIn("Emotet", body)
        self.assertIn("マルウェア", body)
        self.assertIn("遮断", body)
        self.assertNotIn("<script", body)
        self.assertLess(len(body.encode()), 16 * 1024)  # small
        ev = SH.evidence(lambda r: r.get("user_agent") == "ja-default-probe")
        self.assertEqual(len(ev), 1)
        e = ev[0]
        self.assertEqual((e["proto"], e["host"], e["method"], e["path"], e["status"]),
                         ("http", "evil.example", "GET", "/gate.php?id=1", 403))
        self.assertTrue(e["blocked"])
        self.assertEqual(e["family"], "Emotet")
        self.assertEqual(e["port"], SH.http)
        self.assertEqual(len(e["client"]), 32)  # pseudonym, never the address
        self.assertNotIn("127.0.0.1", str(e))

    def test_english_by_accept_language(self):
        for al in ("en-US,en;q=0.9,ja;q=0.5", "fr, en;q=0.8", "*, ja;q=0"):
            status, h, body = curl(f"http://127.0.0.1:{SH.http}/",
                                   "-H", "Host: x.botnet.example", "-H", f"Accept-Language: {al}")
            self.assertEqual(status, 403)
            self.assertEqual(h["content-language"], "en", al)
            self.assertIn("a server known to control malware", body)
            self.assertIn("x.botnet.example", body)
        for al in ("ja,en;q=0.9", "en;q=0", "de"):
            _, h, _ = curl(f"http://127.0.0.1:{SH.http}/", "-H", "Host: evil.example",
                           "-H", f"Accept-Language: {al}")
            self.assertEqual(h["content-language"], "ja", al)

    def test_lang_query_overrides(self):
        _, h, body = curl(f"http://127.0.0.1:{SH.http}/?lang=en", "-H", "Host: evil.example",
                          "-H", "Accept-Language: ja")
        self.assertEqual(h["content-language"], "en")
        _, h, body = curl(f"http://127.0.0.1:{SH.http}/a?x=1&lang=ja", "-H", "Host: evil.example",
                          "-H", "Accept-Language: en")
        self.assertEqual(h["content-language"], "ja")

    def test_unknown_host_is_not_called_malware(self):
        status, _, body = curl(f"http://127.0.0.1:{SH.http}/?lang=en",
                               "-H", "Host: harmless.example")
        self.assertEqual(status, 403)
        self.assertIn("harmless.example", body)
        self.assertNotIn("known to control malware", body)
        self.assertNotIn("Malware family", body)

    def test_operator_text_file(self):
        _, _, body = curl(f"http://127.0.0.1:{SH.http}/", "-H", "Host: evil.example")
        self.assertIn("例ネット光", body)
        self.assertIn("https://support.example.jp/anshin", body)

    def test_ipv6_listener(self):
        status, _, body = curl("-g", f"http://[::1]:{SH.http6}/", "-H", "Host: evil.example")
        self.assertEqual(status, 403)
        self.assertIn("evil.example", body)

    def test_head_and_favicon(self):
        raw, _ = raw_exchange(SH.http, b"HEAD / HTTP/1.1\r\nHost: evil.example\r\n"
                              b"Connection: close\r\n\r\n")
        status, h, body = split_response(raw)
        self.assertEqual(status, 403)
        self.assertGreater(int(h["content-length"]), 1000)
        self.assertNotIn(b"<html", raw)
        raw, _ = raw_exchange(SH.http, b"GET /favicon.ico HTTP/1.1\r\nHost: evil.example\r\n"
                              b"Connection: close\r\n\r\n")
        self.assertEqual(split_response(raw)[0], 404)

    def test_pipelined_keep_alive(self):
        req = (b"GET /one HTTP/1.1\r\nHost: evil.example\r\n\r\n"
               b"GET /two?lang=en HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
        raw, closed = raw_exchange(SH.http, req)
        self.assertTrue(closed)
        self.assertEqual(raw.count(b"HTTP/1.1 403 Forbidden\r\n"), 2)
        first, second = raw.split(b"HTTP/1.1 403", 2)[1:]
        self.assertIn(b"Connection: keep-alive", first)
        self.assertIn(b"Connection: close", second)
        self.assertIn(b"Content-Language: en", second)

    def test_post_body_answered_and_closed(self):
        raw, closed = raw_exchange(SH.http, b"POST /gate.php HTTP/1.1\r\nHost: evil.example\r\n"
                                   b"Content-Length: 11\r\n\r\nbot=1&id=42")
        self.assertEqual(split_response(raw)[0], 403)
        self.assertTrue(closed)


class Hostile(unittest.TestCase):
    def test_script_in_host_is_escaped(self):
        raw, _ = raw_exchange(SH.http, b"GET / HTTP/1.1\r\nHost: <script>alert('x')</script>\r\n"
                              b"User-Agent: <img src=x onerror=alert(1)>\r\n"
                              b"Connection: close\r\n\r\n")
        status, _, body = split_response(raw)
        self.assertEqual(status, 403)
        self.assertNotIn(b"<script", body)
        self.assertNotIn(b"<img", body)
        self.assertIn(b"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;", body)
        ev = SH.evidence(lambda r: r.get("user_agent", "").startswith("<img"))
        self.assertEqual(ev[0]["host"], "<script>alert('x')</script>")

    def test_huge_header_431(self):
        req = b"GET / HTTP/1.1\r\nHost: evil.example\r\nX-Pad: " + b"a" * 20000 + b"\r\n\r\n"
        raw, closed = raw_exchange(SH.http, req)
        self.assertEqual(split_response(raw)[0], 431)
        self.assertTrue(closed)

    def test_too_many_fields_431(self):
        fields = b"".join(b"X-F%d: v\r\n" % i for i in range(100))
        raw, closed = raw_exchange(SH.http, b"GET / HTTP/1.1\r\nHost: a\r\n" + fields + b"\r\n")
        self.assertEqual(split_response(raw)[0], 431)
        self.assertTrue(closed)

    def test_long_uri_414(self):
        raw, closed = raw_exchange(SH.http, b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertEqual(split_response(raw)[0], 414)
        self.assertTrue(closed)

    def test_malformed_400(self):
        for req in (b"GET / HTTP/1.1\r\n\r\n",
                    b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                    b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
                    b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
                    b"\x16\x03\x01\x00\x05hello\r\n\r\n",
                    b"GET /\x00 HTTP/1.1\r\nHost: a\r\n\r\n",
                    b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"):
            raw, closed = raw_exchange(SH.http, req)
            self.assertTrue(raw.startswith(b"HTTP/1.1 400 Bad Request\r\n"), req)
            self.assertNotIn(b"<", raw)  # nothing reflected
            self.assertTrue(closed, req)

    def test_http2_preface_505(self):
        raw, closed = raw_exchange(SH.http, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        self.assertEqual(split_response(raw)[0], 505)

    def test_slow_sender_closed_after_deadline(self):
        """Slowloris: a byte every 200 ms keeps the socket busy but not the head alive."""
        s = socket.create_connection(("127.0.0.1", SH.http), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: evil.example\r\n")
        start = time.monotonic()
        closed_at = None
        for i in range(int(READ_TIMEOUT_S * 5) + 20):  # bounded
            try:
                s.sendall(b"X-%d: y\r\n" % i)
            except OSError:
                closed_at = time.monotonic()
                break
            s.settimeout(0.2)
            try:
                if s.recv(1) == b"":
                    closed_at = time.monotonic()
                    break
            except socket.timeout:
                pass
            except OSError:
                closed_at = time.monotonic()
                break
        s.close()
        self.assertIsNotNone(closed_at, "slow sender was never closed")
        elapsed = closed_at - start
        self.assertGreater(elapsed, READ_TIMEOUT_S - 0.3)
        self.assertLess(elapsed, READ_TIMEOUT_S + 1.5)

    def test_idle_connection_closed(self):
        raw, closed = raw_exchange(SH.http, b"", timeout=READ_TIMEOUT_S + 2)
        self.assertEqual(raw, b"")
        self.assertTrue(closed)

    def test_connection_cap(self):
        time.sleep(READ_TIMEOUT_S + 0.5)  # earlier tests' connections are gone
        held = [socket.create_connection(("127.0.0.1", SH.http), timeout=2) for _ in range(CAP)]
        try:
            time.sleep(0.3)
            extra = socket.create_connection(("127.0.0.1", SH.http), timeout=2)
            extra.settimeout(1.0)
            try:
                got = extra.recv(100)
            except ConnectionResetError:
                got = b""
            extra.close()
            self.assertEqual(got, b"", "connection over the cap was not closed at once")
        finally:
            for s in held:
                s.close()
        time.sleep(0.3)
        status, _, _ = curl(f"http://127.0.0.1:{SH.http}/", "-H", "Host: evil.example")
        self.assertEqual(status, 403)


class TlsAndTcp(unittest.TestCase):
    def test_tls_sni_recorded_no_handshake(self):
        p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{SH.tls}",
                            "-servername", "c9.botnet.example"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=15)
        out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("no peer certificate available", out)
        ev = SH.evidence(lambda r: r.get("sni") == "c9.botnet.example")
        self.assertEqual(len(ev), 1)
        self.assertEqual(ev[0]["proto"], "tls")
        self.assertTrue(ev[0]["blocked"])
        self.assertEqual(ev[0]["family"], "Emotet")

    def test_tls_port_plain_http(self):
        raw, closed = raw_exchange(SH.tls, b"GET / HTTP/1.1\r\nHost: tlsplain.example\r\n\r\n")
        self.assertEqual(raw, b"")
        self.assertTrue(closed)
        ev = SH.evidence(lambda r: r["proto"] == "tls" and
                         bytes.fromhex(r.get("first_bytes_hex", "")).startswith(b"GET / HTTP/1.1"))
        self.assertTrue(ev)

    def test_tcp_first_bytes(self):
        payload = b"NICK bot-4242\r\nUSER bot 0 * :bot\r\n" + bytes(range(256)) * 2
        s = socket.create_connection(("127.0.0.1", SH.tcp), timeout=5)
        s.sendall(payload)
        s.settimeout(3)
        try:
            self.assertEqual(s.recv(10), b"")
        except ConnectionResetError:
            pass
        s.close()
        ev = SH.evidence(lambda r: r.get("first_bytes_hex", "").startswith(b"NICK bot-4242".hex()))
        self.assertEqual(len(ev), 1)
        self.assertEqual(bytes.fromhex(ev[0]["first_bytes_hex"]), payload[:256])
        self.assertEqual(ev[0]["port"], SH.tcp)


class Store(unittest.TestCase):
    def test_evidence_in_incident_store(self):
        curl(f"http://127.0.0.1:{SH.http}/store-check", "-H", "Host: evil.example",
             "-A", "store-probe/1.0")
        deadline = time.monotonic() + 3
        rows = []
        while time.monotonic() < deadline and not rows:
            rows = SH.store_rows("SELECT host, method, path, user_agent, port, detail "
                                 "FROM evidence WHERE user_agent = 'store-probe/1.0'")
            time.sleep(0.05)
        self.assertEqual(len(rows), 1)
        host, method, path, ua, port, detail = rows[0]
        self.assertEqual((host, method, path, port), ("evil.example", "GET", "/store-check",
                                                      SH.http))
        self.assertIn("family=Emotet", detail)


if __name__ == "__main__":
    unittest.main(verbosity=2)
