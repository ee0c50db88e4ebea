# SPDX-License-Identifier: MIT
"""The whole path of issue 5: a query for a blocked name gets the sinkhole address; an HTTP
request to that address with that Host shows the page naming the domain and its family; the
visit appears as evidence on the client's incident in the store, next to the DNS hit.

`c2wall serve` does all of it in one process: it answers with the sinkhole address (policy:
sinkhole), records the hit, serves the page on sinkhole.http / sinkhole.tls, and stores the
visit as evidence with the same pseudonym key. (`c2wall sinkhole` runs the same page server
standalone; test_sinkhole.py covers it.)"""

import os
import socket
import sqlite3
import subprocess
import time
import unittest

import dns.rdatatype

import c2w_world as cw
from sinkhole_util import free_port, split_response

WORLD = None
R = None
SH = None  # standalone `c2wall sinkhole` when the daemon does not run one
SH_LOG = None
HTTP_PORT = None
TLS_PORT = None
FEED = """$TTL 300
@ SOA localhost. hostmaster.localhost. 1 3600 600 86400 300
  NS localhost.
cnc.evil.test CNAME .
*.botnet.test CNAME .
"""


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.3).close()
        return True
    except OSError:
        return False


def setUpModule():
    global WORLD, R, SH, SH_LOG, HTTP_PORT, TLS_PORT
    WORLD = cw.World(upstream=False).start()
    try:
        feed = os.path.join(WORLD.tmp, "sinkhole-c2.rpz")
        with open(feed, "w") as f:
            f.write(FEED)
        HTTP_PORT, TLS_PORT = free_port(), free_port()
        extra = {
            "policy": {"zones": [{"name": "c2.rpz.example.", "file": feed,
                                  "policy": "sinkhole", "family": "Emotet"}]},
            "sinkhole": {"ipv4": "127.0.0.1", "ipv6": "::1",
                         "http": ["127.0.0.1@%d" % HTTP_PORT],
                         "tls": ["127.0.0.1@%d" % TLS_PORT]},
        }
        R = cw.make_resolver(WORLD, kind="c2wall", mode="recursive", extra=extra).start()
        # The daemon binds its sinkhole listeners before it answers DNS.
        if not port_open(HTTP_PORT) or not port_open(TLS_PORT):
            raise RuntimeError("c2wall serve did not start its sinkhole listeners")
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    try:
        if SH is not None and SH.poll() is None:
            SH.terminate()
            SH.wait(timeout=10)
        if SH_LOG is not None:
            SH_LOG.close()
        if R is not None and R.running():
            assert R.stop() == 0
    finally:
        WORLD.stop()


def http_get(host, path="/", lang=None):
    hdrs = "Host: %s\r\nUser-Agent: path-test/1\r\nConnection: close\r\n" % host
    if lang:
        hdrs += "Accept-Language: %s\r\n" % lang
    s = socket.create_connection(("127.0.0.1", HTTP_PORT), timeout=5)
    s.sendall(("GET %s HTTP/1.1\r\n%s\r\n" % (path, hdrs)).encode())
    raw = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        raw += chunk
    s.close()
    return split_response(raw)


def store_rows(sql, args=()):
    con = sqlite3.connect(os.path.join(R.dir, "incidents.db"), timeout=5)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


class Path(unittest.TestCase):
    def test_dns_then_page_then_evidence_on_incident(self):
        name = "cnc.evil.test"
        m = R.udp(name + ".", "A")
        self.assertEqual(cw.rrset_values(m, "answer", name + ".", "A"), ["127.0.0.1"])
        m = R.udp(name + ".", "AAAA")
        self.assertEqual(cw.rrset_values(m, "answer", name + ".", "AAAA"), ["::1"])
        time.sleep(1.5)  # the daemon commits its hit batch at least once a second

        # the browser follows the answer: the sinkhole address, with that Host
        status, headers, body = http_get(name, "/panel/gate.php")
        self.assertEqual(status, 403)
        self.assertEqual(headers["cache-control"], "no-store")
        text = body.decode()
        self.assertIn(name, text)
        self.assertIn("Emotet", text)
        self.assertIn("遠隔操作するサーバー", text)
        status, headers, body = http_get(name, lang="en-US,en;q=0.9")
        self.assertIn("a server known to control malware", body.decode())

        # the hit and the visit on one incident (the daemon commits hits within a second)
        deadline = time.monotonic() + 5
        rows = []
        while time.monotonic() < deadline:
            rows = store_rows(
                "SELECT i.id, i.family, e.host, e.path, e.user_agent "
                "FROM evidence e JOIN incidents i ON e.incident_id = i.id "
                "WHERE e.host = ? AND e.path = '/panel/gate.php'", (name,))
            if rows:
                break
            time.sleep(0.1)
        if not rows:
            # evidence written before the hit was committed stays unattached; say so clearly
            loose = store_rows("SELECT incident_id, host, path FROM evidence WHERE host = ?",
                               (name,))
            incidents = store_rows("SELECT id, family, label FROM incidents")
            self.fail("visit not on an incident: evidence %r, incidents %r" % (loose, incidents))
        inc_id, family, host, path, ua = rows[0]
        self.assertEqual(family, "Emotet")
        self.assertEqual(ua, "path-test/1")
        names = store_rows("SELECT qname FROM incident_names WHERE incident_id = ?", (inc_id,))
        self.assertIn(name, [n[0].rstrip(".") for n in names])

    def test_tls_sni_on_incident(self):
        name = "x1.botnet.test"
        m = R.udp(name + ".", "A")
        self.assertEqual(cw.rrset_values(m, "answer", name + ".", "A"), ["127.0.0.1"])
        time.sleep(1.5)  # the daemon's batch commit
        subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % TLS_PORT,
                        "-servername", name], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=15)
        deadline = time.monotonic() + 5
        rows = []
        while time.monotonic() < deadline and not rows:
            rows = store_rows("SELECT incident_id, port FROM evidence WHERE host = ? AND "
                              "incident_id IS NOT NULL", (name,))
            time.sleep(0.1)
        self.assertTrue(rows, "TLS contact not on the incident")
        self.assertEqual(rows[0][1], TLS_PORT)


if __name__ == "__main__":
    unittest.main(verbosity=2)
