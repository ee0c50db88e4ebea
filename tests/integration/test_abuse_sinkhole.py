# SPDX-License-Identifier: MIT
"""The sinkhole under abuse (docs/abuse.md, "Sinkhole connections and evidence"), with
`c2wall sinkhole` on loopback: many connections from one address stop at
sinkhole.clients-per-address while another address is served; a bot looping on the warning
page gets every page but leaves at most sinkhole.evidence-per-minute records (a burst of that
many, then one per 60/N seconds) in the incident store and the evidence log. The counters are
read from the sinkhole's exit line."""

import re
import socket
import time
import unittest

from sinkhole_util import Sinkhole, split_response

SH = None
PER_ADDR = 4
PER_MINUTE = 60


def setUpModule():
    global SH
    SH = Sinkhole(read_timeout_ms=8000, max_connections=64,
                  sinkhole_keys={"clients-per-address": PER_ADDR,
                                 "evidence-per-minute": PER_MINUTE}).start()


def tearDownModule():
    if SH is not None and SH.proc is not None and SH.proc.poll() is None:
        SH.stop()


def connect(source):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(3)
    s.bind((source, 0))
    s.connect(("127.0.0.1", SH.http))
    return s


def closed_by_server(s, within):
    s.settimeout(within)
    try:
        while True:
            if not s.recv(4096):
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def get_page(source, ua):
    s = connect(source)
    try:
        s.sendall(b"GET /gate.php HTTP/1.1\r\nHost: evil.example\r\nUser-Agent: " +
                  ua.encode() + b"\r\nConnection: close\r\n\r\n")
        raw = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            raw += chunk
    finally:
        s.close()
    return split_response(raw)[0]


def stored(ua):
    return SH.store_rows("SELECT count(*) FROM evidence WHERE user_agent = ?", (ua,))[0][0]


def logged(ua):
    return len(SH.evidence(lambda r: r.get("user_agent") == ua, wait_s=0.5))


class TestSinkholeAbuse(unittest.TestCase):
    def test_1_per_address_cap(self):
        socks = [connect("127.0.8.1") for _ in range(10)]
        try:
            closed = [closed_by_server(s, 0.8) for s in socks]
            self.assertEqual(closed.count(False), PER_ADDR, closed)
            # Another address is served while the first holds its share.
            self.assertEqual(get_page("127.0.8.2", "other-address"), 403)
        finally:
            for s in socks:
                s.close()
        # Recovery: once they close, the address is served again.
        time.sleep(0.3)
        for i in range(PER_ADDR + 2):
            self.assertEqual(get_page("127.0.8.1", "after-cap-%d" % i), 403)

    def test_2_evidence_rate(self):
        ua = "looping-bot"
        t0 = time.monotonic()
        n = 100
        for _ in range(n):
            self.assertEqual(get_page("127.0.8.3", ua), 403)  # every page is served
        elapsed = time.monotonic() - t0
        # A burst of PER_MINUTE, plus one a second (60 a minute) while the loop ran.
        got = stored(ua)
        self.assertGreaterEqual(got, PER_MINUTE)
        self.assertLessEqual(got, PER_MINUTE + int(elapsed) + 1)
        self.assertEqual(logged(ua), got)
        # Another client is not limited by this one.
        for i in range(5):
            get_page("127.0.8.4", "bystander")
        self.assertEqual(stored("bystander"), 5)
        # The bucket refills: after 3 s, at least two more records.
        time.sleep(3.2)
        for _ in range(5):
            get_page("127.0.8.3", ua)
        self.assertGreaterEqual(stored(ua) - got, 2)
        self.__class__.bot_records = stored(ua)
        self.__class__.bot_requests = n + 5

    def test_3_counters(self):
        SH.proc.terminate()
        SH.proc.wait(timeout=10)
        log = SH.logtext()
        code = SH.stop()
        self.assertEqual(code, 0, log)
        m = re.search(r"(\d+) over the per-address cap, .* (\d+) evidence records, "
                      r"(\d+) over the evidence rate", log)
        self.assertIsNotNone(m, log)
        refused_addr, records, limited = (int(x) for x in m.groups())
        self.assertGreaterEqual(refused_addr, 10 - PER_ADDR)
        self.assertEqual(limited, self.bot_requests - self.bot_records)
        self.assertGreaterEqual(records, self.bot_records + 5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
