# SPDX-License-Identifier: MIT
"""The warning page in a real browser: headless Chromium (Debian `chromium`) opens the blocked
name, resolved to the sinkhole on loopback by --host-resolver-rules, in Japanese and in English.
Assertions run on the rendered DOM (--dump-dom); screenshots are written to the build directory,
and to docs/img/ when C2W_UPDATE_SCREENSHOTS=1 (how docs/img/sinkhole-*.png were made).
Needs the packages chromium and fonts-noto-cjk (Japanese glyphs in the screenshots)."""

import os
import shutil
import subprocess
import tempfile
import unittest

from sinkhole_util import Sinkhole

SH = None
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
OUT = os.environ.get("C2W_BUILDDIR", tempfile.gettempdir())


def setUpModule():
    global SH
    if CHROMIUM is None:
        raise RuntimeError("chromium not installed (apt-get install chromium fonts-noto-cjk)")
    text = ("isp = 例ネット光\n"
            "link = 例ネット 安心サポート（マルウェア感染のご相談） | https://support.example.jp/anshin\n"
            "link = IPA 情報セキュリティ安心相談窓口 | https://www.ipa.go.jp/security/anshin/\n"
            "optout = 会員サイトの「安心設定」で、いつでも停止・再開できます。"
            "停止すると、このような通信も遮断されなくなります。\n"
            "contact = 例ネット光 サポートセンター　0120-000-000（受付 9:00〜18:00、年中無休）\n")
    text_en = ("isp = Example Hikari\n"
               "link = Example Hikari security help | https://support.example.jp/en/anshin\n"
               "link = JPCERT/CC | https://www.jpcert.or.jp/english/\n"
               "optout = You can turn this protection off and on again at any time under "
               "\"Safety settings\" on the member site. While it is off, such connections "
               "are not blocked.\n"
               "contact = Example Hikari support centre, 0120-000-000 (9:00-18:00, every day)\n")
    SH = Sinkhole(read_timeout_ms=5000, text_ja=text, text_en=text_en).start()


def tearDownModule():
    if SH is not None:
        SH.stop()


def chromium(url, lang, *mode, size="1024,900"):
    profile = tempfile.mkdtemp(prefix="c2w-chromium-")
    try:
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--hide-scrollbars",
               f"--user-data-dir={profile}", f"--lang={lang}", f"--accept-lang={lang}",
               # the blocked name resolves to the sinkhole; nothing else resolves at all
               f"--host-resolver-rules=MAP evil.example 127.0.0.1:{SH.http}, MAP * ~NOTFOUND",
               f"--window-size={size}", *mode, url]
        p = subprocess.run(cmd, capture_output=True, timeout=120)
        return p.returncode, p.stdout.decode("utf-8", errors="replace")
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(name, url, lang, size="1024,900"):
    path = os.path.join(OUT, name)
    code, _ = chromium(url, lang, f"--screenshot={path}", size=size)
    if os.environ.get("C2W_UPDATE_SCREENSHOTS") == "1":
        docs = os.path.join(os.environ["C2W_SRCDIR"], "docs", "img")
        os.makedirs(docs, exist_ok=True)
        shutil.copy(path, os.path.join(docs, name))
    return code, path


class Browser(unittest.TestCase):
    def test_japanese_page_renders(self):
        code, dom = chromium("http://evil.example/", "ja", "--dump-dom")
        self.assertEqual(code, 0)
        self.assertIn('lang="ja"', dom)
        self.assertIn("この接続は遮断されました", dom)
        self.assertIn("遠隔操作するサーバー", dom)
        self.assertIn("evil.example", dom)
        self.assertIn("Emotet", dom)
        self.assertIn("今すぐ行っていただきたいこと", dom)
        self.assertIn("例ネット光", dom)
        self.assertIn("0120-000-000", dom)
        self.assertIn("このサービスを停止するには", dom)
        self.assertNotIn("<script", dom)
        ev = SH.evidence(lambda r: "HeadlessChrome" in r.get("user_agent", "")
                         and r.get("host") == "evil.example" and r.get("lang") == "ja")
        self.assertTrue(ev, "the browser's visit is not in the evidence log")

    def test_english_page_renders(self):
        code, dom = chromium("http://evil.example/", "en-US", "--dump-dom")
        self.assertEqual(code, 0)
        self.assertIn('lang="en"', dom)
        self.assertIn("This connection was blocked", dom)
        self.assertIn("a server known to control malware", dom)
        self.assertIn("What to do now", dom)
        self.assertIn("How to opt out", dom)
        # the same page by query parameter, whatever the browser's language
        code, dom = chromium("http://evil.example/some/path?lang=en", "ja", "--dump-dom")
        self.assertIn("This connection was blocked", dom)

    def test_no_download_offered(self):
        _, dom = chromium("http://evil.example/", "ja", "--dump-dom")
        self.assertNotIn("download", dom.lower().replace("ダウンロード", ""))
        for ext in (".exe\"", ".msi\"", ".apk\"", ".zip\"", ".dmg\""):
            self.assertNotIn(ext, dom)

    def test_screenshots(self):
        for name, url, lang, size in (
                ("sinkhole-ja.png", "http://evil.example/", "ja", "1024,900"),
                ("sinkhole-en.png", "http://evil.example/?lang=en", "en-US", "1024,900"),
                ("sinkhole-ja-full.png", "http://evil.example/", "ja", "1024,1700"),
                ("sinkhole-phone-ja.png", "http://evil.example/", "ja", "390,1500")):
            code, path = screenshot(name, url, lang, size)
            self.assertEqual(code, 0)
            with open(path, "rb") as f:
                head = f.read(8)
            self.assertEqual(head, b"\x89PNG\r\n\x1a\n")
            self.assertGreater(os.path.getsize(path), 20000)


if __name__ == "__main__":
    unittest.main(verbosity=2)
