# SPDX-License-Identifier: MIT
"""The dashboard at / in a real browser: headless Chromium (Debian `chromium`) opens the page
with a read token, the page reads the API and draws its charts with Debian's Chart.js; the
tiles and the charts' data equal what the API returns, blocked names and waiting incidents are
listed without raw client addresses, and the browser logs no console error (a Content
Security Policy violation would be one). A screenshot goes to the build directory, and to
docs/img/dashboard.png when C2W_UPDATE_SCREENSHOTS=1. Needs chromium and libjs-chart.js."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import c2w_world as cw
import http_util as hu

WORLD = R = None
PORT = 0
READ, ADMIN = hu.new_token(), hu.new_token()
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
OUT = os.environ.get("C2W_BUILDDIR", tempfile.gettempdir())

FEED = """$TTL 300
@ SOA localhost. hostmaster.localhost. 1 3600 600 86400 300
  NS localhost.
cnc.evil.test          CNAME .              ; family=emotet
*.botnet.test          CNAME .              ; family=mirai
"""
SHADOW = """$TTL 300
@ SOA localhost. hostmaster.localhost. 1 3600 600 86400 300
  NS localhost.
mail.example.test      CNAME .              ; family=phishfam
"""


def setUpModule():
    global WORLD, R, PORT
    if CHROMIUM is None:
        raise RuntimeError("chromium not installed (apt-get install chromium)")
    if not os.path.exists("/usr/share/javascript/chart.js/chart.min.js"):
        raise RuntimeError("libjs-chart.js not installed (apt-get install libjs-chart.js)")
    WORLD = cw.World(upstream=False).start()
    try:
        d = tempfile.mkdtemp(dir=WORLD.tmp, prefix="dash-")
        c2, shadow = os.path.join(d, "c2.rpz"), os.path.join(d, "shadow.rpz")
        with open(c2, "w") as f:
            f.write(FEED)
        with open(shadow, "w") as f:
            f.write(SHADOW)
        PORT = cw.free_port()
        extra = hu.http_extra(d, PORT, READ, ADMIN)
        extra["policy"] = {"zones": [{"name": "c2.rpz.", "file": c2},
                                     {"name": "shadow.rpz.", "file": shadow, "policy": "log",
                                      "category": "phishing"}]}
        R = cw.make_resolver(WORLD, kind="c2wall", extra=extra).start()
        for q, src in (("cnc.evil.test.", "127.0.0.1"), ("cnc.evil.test.", "127.0.0.1"),
                       ("x.botnet.test.", "127.0.0.1"), ("y.botnet.test.", "127.0.0.2"),
                       ("mail.example.test.", "127.0.0.1"), ("www.example.test.", "127.0.0.1")):
            R.udp(q, "A", source=src)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            inc = hu.get_json(PORT, "/api/v1/incidents", READ)["incidents"]
            if sum(i["count"] for i in inc) >= 5:
                break
            time.sleep(0.3)
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    try:
        if R is not None and R.running():
            assert R.stop() == 0
    finally:
        if WORLD is not None:
            WORLD.stop()


def chromium(url, *mode, size="1280,1200"):
    profile = tempfile.mkdtemp(prefix="c2w-chromium-")
    try:
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
               f"--user-data-dir={profile}", "--lang=en-US",
               "--virtual-time-budget=15000", f"--window-size={size}", *mode, url]
        p = subprocess.run(cmd, capture_output=True, timeout=120)
        return (p.returncode, p.stdout.decode("utf-8", errors="replace"),
                p.stderr.decode("utf-8", errors="replace"))
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def console_errors(log):
    bad = []
    for line in log.splitlines():
        if "CONSOLE" in line or "Refused to" in line or "Uncaught" in line:
            bad.append(line)
    return bad


def tile(dom, tid):
    m = re.search(r'id="%s" class="num"[^>]*>([^<]*)<' % tid, dom)
    return m.group(1) if m else None


def fmt(n):
    return "{:,}".format(n)


class Dashboard(unittest.TestCase):
    def test_static_files_without_token(self):
        st, hd, body = hu.request(PORT, "GET", "/")
        self.assertEqual(st, 200)
        self.assertIn("text/html", hd["content-type"])
        self.assertIn("script-src 'self'", hd["content-security-policy"])
        self.assertIn(b"/assets/dashboard.js", body)
        st, hd, body = hu.request(PORT, "GET", "/assets/chart.min.js")
        self.assertEqual(st, 200)
        self.assertGreater(len(body), 100000)
        st, _, _ = hu.request(PORT, "GET", "/api/v1/history")
        self.assertEqual(st, 401)

    def test_history_endpoint(self):
        h = hu.get_json(PORT, "/api/v1/history", READ)
        self.assertEqual(h["interval"], 60)
        self.assertEqual(h["zones"], ["c2.rpz.", "shadow.rpz."])
        cur = h["minutes"][-1]
        self.assertTrue(cur["partial"])
        total = sum(m["queries"] for m in h["minutes"])
        self.assertEqual(total, hu.get_json(PORT, "/api/v1/stats", READ)["queries"])
        self.assertEqual(sum(sum(m["zone_hits"]) for m in h["minutes"]), 5)

    def test_renders_with_api_numbers(self):
        code, dom, log = chromium("http://127.0.0.1:%d/#token=%s" % (PORT, READ),
                                  "--dump-dom")
        self.assertEqual(code, 0, log[-2000:])
        self.assertIn('data-ready="1"', dom, dom[:3000] + log[-2000:])
        self.assertEqual(console_errors(log), [])
        stats = hu.get_json(PORT, "/api/v1/stats", READ)
        hist = hu.get_json(PORT, "/api/v1/history", READ)
        waiting = hu.get_json(PORT, "/api/v1/incidents?unnotified=1", READ)["incidents"]
        self.assertEqual(tile(dom, "t-queries"), fmt(stats["queries"]))
        self.assertEqual(tile(dom, "t-rules"), fmt(stats["policy_rules"]))
        self.assertEqual(tile(dom, "t-workers"), fmt(stats["workers"]))
        self.assertEqual(tile(dom, "t-waiting"), fmt(len(waiting)))
        self.assertEqual(tile(dom, "t-optouts"), "0")
        self.assertEqual(tile(dom, "t-hits"), "5")
        # Each chart was drawn from the API's numbers (the page records its datasets' sums).
        q = sum(m["queries"] for m in hist["minutes"])
        self.assertRegex(dom, r'id="c-traffic" data-sums="%d,5"' % q)
        self.assertRegex(dom, r'id="c-zones" data-sums="4,1"')
        fams = {f: sum(m["family_hits"][i] for m in hist["minutes"] if i < len(m["family_hits"]))
                for i, f in enumerate(hist["families"])}
        self.assertEqual(sum(fams.values()), 5, hist["families"])
        self.assertRegex(dom, r'id="c-famtime" data-sums="%s"' %
                         ",".join(str(v) for v in fams.values()))
        self.assertRegex(dom, r'id="c-families" data-sums="5"')
        # Answer latency: the minutes with answers carry p50 <= p99 (bucket bounds, ms), and
        # the chart plots them.
        lat = [m["latency_ms"] for m in hist["minutes"] if m.get("latency_ms")]
        self.assertTrue(lat, hist["minutes"])
        for x in lat:
            self.assertLessEqual(x["p50"], x["p99"])
            self.assertGreater(x["mean"], 0)
        sums = re.search(r'id="c-latency" data-sums="([^"]*)"', dom).group(1).split(",")
        self.assertEqual(len(sums), 3)
        self.assertAlmostEqual(float(sums[0]), sum(x["p50"] for x in lat), places=6)
        self.assertAlmostEqual(float(sums[1]), sum(x["p99"] for x in lat), places=6)
        self.assertRegex(dom, r'<canvas id="c-traffic"[^>]*(width|style)=')
        self.assertIn("cnc.evil.test.", dom)
        self.assertIn("emotet", dom)
        self.assertNotIn("127.0.0.1", dom.split("<main", 1)[1])
        self.assertNotIn("127.0.0.2", dom)

    def test_wrong_token_asks_again(self):
        code, dom, log = chromium("http://127.0.0.1:%d/#token=%s" % (PORT, "x" * 20),
                                  "--dump-dom")
        self.assertEqual(code, 0)
        self.assertIn('data-ready="error"', dom)
        self.assertIn("the token was refused", dom)
        self.assertRegex(dom, r'<form id="login">')

    def test_screenshot(self):
        path = os.path.join(OUT, "dashboard.png")
        code, _, log = chromium("http://127.0.0.1:%d/#token=%s" % (PORT, READ),
                                "--screenshot=" + path)
        self.assertEqual(code, 0, log[-2000:])
        with open(path, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        self.assertGreater(os.path.getsize(path), 30000)
        if os.environ.get("C2W_UPDATE_SCREENSHOTS") == "1":
            docs = os.path.join(os.environ["C2W_SRCDIR"], "docs", "img")
            os.makedirs(docs, exist_ok=True)
            shutil.copy(path, os.path.join(docs, "dashboard.png"))


if __name__ == "__main__":
    cw.main()
