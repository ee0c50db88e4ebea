# SPDX-License-Identifier: MIT
"""/metrics checked by the real tools: `promtool check metrics` finds nothing to say about the
page, the figures equal what the control socket reports (queries by transport, answers by
rcode, policy hits by zone and action), and a real Prometheus server (Debian `prometheus`)
scraping c2wall on loopback with a bearer token returns the same series through its own query
API. Needs the package prometheus (promtool, prometheus)."""

import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

import c2w_world as cw
import events_util as eu
import http_util as hu

WORLD = R = PROM = None
PORT = PPORT = 0
READ, ADMIN = hu.new_token(), hu.new_token()
D = None
PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")

FEED = """$TTL 300
@ SOA localhost. hostmaster.localhost. 1 3600 600 86400 300
  NS localhost.
cnc.evil.test          CNAME .              ; family=emotet
*.botnet.test          CNAME .              ; family=mirai
nodata.evil.test       CNAME *.             ; family=nodatafam
"""


def setUpModule():
    global WORLD, R, PORT, D
    if PROMTOOL is None or PROMETHEUS is None:
        raise RuntimeError("prometheus not installed (apt-get install prometheus)")
    WORLD = cw.World(upstream=False).start()
    try:
        D = tempfile.mkdtemp(dir=WORLD.tmp, prefix="metrics-")
        feed = os.path.join(D, "c2.rpz")
        with open(feed, "w") as f:
            f.write(FEED)
        PORT = cw.free_port()
        extra = hu.http_extra(D, PORT, READ, ADMIN)
        extra["policy"] = {"zones": [{"name": "c2.rpz.", "file": feed, "category": "c2",
                                      "family": "unknown-family"}]}
        R = cw.make_resolver(WORLD, kind="c2wall", extra=extra).start()
        for q in ("cnc.evil.test.", "a.botnet.test.", "b.botnet.test.", "nodata.evil.test.",
                  "www.example.test."):
            R.udp(q, "A")
        R.tcp("cnc.evil.test.", "A")
        R.tcp("www.example.test.", "AAAA")
        settle()
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    try:
        if PROM is not None and PROM.poll() is None:
            PROM.terminate()
            try:
                PROM.wait(timeout=10)
            except subprocess.TimeoutExpired:
                PROM.kill()
                PROM.wait()
        if R is not None and R.running():
            assert R.stop() == 0
    finally:
        WORLD.stop()


def settle(timeout=10.0):
    """Wait until the hit pipeline has written every hit (it drains the rings ~every 10 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        t = hu.metrics(PORT, READ)
        hits = hu.sample(t, "c2wall_hit_records_total") or 0
        if hits >= 5:
            return
        time.sleep(0.1)


class TestPage(unittest.TestCase):
    def test_promtool_clean(self):
        text = hu.metrics(PORT, READ)
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=60)
        out = (p.stdout + p.stderr).decode()
        self.assertEqual(p.returncode, 0, out)
        self.assertEqual(out.strip(), "", out)

    def test_same_as_control_socket(self):
        text = hu.metrics(PORT, READ)
        st = eu.control_json(R, "stats")
        self.assertEqual(hu.sample(text, "c2wall_queries_total", {"transport": "udp"}),
                         st["udp_queries"])
        self.assertEqual(hu.sample(text, "c2wall_queries_total", {"transport": "tcp"}),
                         st["tcp_queries"])
        self.assertGreaterEqual(st["tcp_queries"], 2)
        for rcode, key in (("NOERROR", "noerror"), ("NXDOMAIN", "nxdomain"),
                           ("SERVFAIL", "servfail")):
            self.assertEqual(hu.sample(text, "c2wall_answers_total", {"rcode": rcode}),
                             st[key], rcode)
        self.assertEqual(hu.sample(text, "c2wall_policy_rules"), st["policy_rules"])
        self.assertEqual(hu.sample(text, "c2wall_answer_cache_hits_total"), st["cache_hits"])
        self.assertEqual(hu.sample(text, "c2wall_workers"), st["workers"])
        # Counters of the list that have no family of their own keep their name.
        self.assertEqual(hu.sample(text, "c2wall_tcp_accepted_total"), st["tcp_accepted"])
        self.assertEqual(hu.sample(text, "c2wall_tcp_open"), st["tcp_open"])

    def test_hits_by_family_and_store_lag(self):
        text = hu.metrics(PORT, READ)
        fam = "c2wall_policy_hits_by_family_total"
        self.assertEqual(hu.sample(text, fam, {"category": "c2", "family": "emotet"}), 2)
        self.assertEqual(hu.sample(text, fam, {"category": "c2", "family": "mirai"}), 2)
        self.assertEqual(hu.sample(text, fam, {"category": "c2", "family": "nodatafam"}), 1)
        self.assertEqual(hu.sample(text, "c2wall_incident_store_up"), 1)
        # Commits run every second: the lag of a healthy store stays small.
        self.assertLess(hu.sample(text, "c2wall_incident_store_commit_age_seconds"), 5)
        self.assertGreaterEqual(hu.sample(text, "c2wall_incident_store_pending_records"), 0)

    def test_answer_latency_histogram(self):
        text = hu.metrics(PORT, READ)
        st = eu.control_json(R, "stats")
        name = "c2wall_answer_duration_seconds"
        les = [line.split('le="')[1].split('"')[0] for line in text.splitlines()
               if line.startswith(name + "_bucket{")]
        self.assertEqual(les[-1], "+Inf")
        cum = [hu.sample(text, name + "_bucket", {"le": le}) for le in les]
        self.assertEqual(cum, sorted(cum), "buckets are cumulative")
        count = hu.sample(text, name + "_count")
        self.assertEqual(cum[-1], count)
        # Every answer of the setup was timed (the scrapes themselves send no DNS answers).
        self.assertEqual(count, st["answers"])
        # Local answers from a loopback world take well under a second each on average.
        self.assertGreater(hu.sample(text, name + "_sum"), 0)
        self.assertLess(hu.sample(text, name + "_sum") / count, 1.0)

    def test_policy_hits_by_zone_and_action(self):
        text = hu.metrics(PORT, READ)
        self.assertEqual(hu.sample(text, "c2wall_policy_hits_total",
                                   {"zone": "c2.rpz.", "action": "nxdomain"}), 4)
        self.assertEqual(hu.sample(text, "c2wall_policy_hits_total",
                                   {"zone": "c2.rpz.", "action": "nodata"}), 1)
        self.assertEqual(hu.sample(text, "c2wall_policy_zone_info",
                                   {"zone": "c2.rpz.", "category": "c2",
                                    "family": "unknown-family"}), 1)
        self.assertEqual(hu.sample(text, "c2wall_hit_records_total"), 5)

    def test_build_info_names_the_allocator(self):
        # The allocator label says what serves malloc() in the running process: jemalloc in
        # a normal build (CMake C2W_JEMALLOC), glibc where a sanitizer brings its own.
        text = hu.metrics(PORT, READ)
        line = [ln for ln in text.splitlines() if ln.startswith("c2wall_build_info{")]
        self.assertEqual(len(line), 1, line)
        alloc = line[0].split('allocator="', 1)[1].split('"', 1)[0]
        with open("/proc/%d/maps" % R.proc.pid) as f:
            mapped = "libjemalloc" in f.read()
        if mapped:
            self.assertTrue(alloc.startswith("jemalloc 5."), alloc)
        else:
            self.assertEqual(alloc, "glibc")

    def test_process_and_optouts(self):
        text = hu.metrics(PORT, READ)
        self.assertGreater(hu.sample(text, "process_resident_memory_bytes"), 1e6)
        self.assertGreater(hu.sample(text, "process_open_fds"), 5)
        self.assertLessEqual(abs(hu.sample(text, "process_start_time_seconds") - time.time()),
                             600)
        n = hu.sample(text, "c2wall_optouts")
        eu.control(R, "optout add 203.0.113.7")
        try:
            self.assertEqual(hu.sample(hu.metrics(PORT, READ), "c2wall_optouts"), n + 1)
        finally:
            eu.control(R, "optout remove 203.0.113.7")

    def test_failed_reload_counted(self):
        before = hu.sample(hu.metrics(PORT, READ), "c2wall_reload_failures_total")
        with open(R.conf) as f:
            good = f.read()
        try:
            with open(R.conf, "a") as f:
                f.write("\nbogus-section: 1\n")
            st, _, body = hu.request(PORT, "POST", "/api/v1/reload", ADMIN)
            self.assertEqual(st, 500, body)
            self.assertIn("running configuration stays", json.loads(body)["error"])
        finally:
            with open(R.conf, "w") as f:
                f.write(good)
        self.assertEqual(hu.sample(hu.metrics(PORT, READ), "c2wall_reload_failures_total"),
                         before + 1)


def prom_query(expr):
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (PPORT, urllib.parse.urlencode(
        {"query": expr}))
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


class TestPrometheusScrape(unittest.TestCase):
    def test_series_through_prometheus(self):
        global PROM, PPORT
        d = tempfile.mkdtemp(dir=WORLD.tmp, prefix="prometheus-")
        cred = os.path.join(d, "token")
        with open(cred, "w") as f:
            f.write(READ)
        os.chmod(cred, 0o600)
        conf = os.path.join(d, "prometheus.yml")
        with open(conf, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: c2wall\n"
                    "    authorization:\n      credentials_file: %s\n"
                    "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % (cred, PORT))
        PPORT = cw.free_port()
        log = open(os.path.join(d, "prometheus.log"), "w")
        PROM = subprocess.Popen([PROMETHEUS, "--config.file=" + conf,
                                 "--storage.tsdb.path=" + os.path.join(d, "data"),
                                 "--web.listen-address=127.0.0.1:%d" % PPORT],
                                stdout=log, stderr=subprocess.STDOUT)
        want = eu.control_json(R, "stats")["udp_queries"]
        deadline = time.monotonic() + 45
        got = None
        while time.monotonic() < deadline and PROM.poll() is None:
            try:
                r = prom_query('c2wall_queries_total{job="c2wall",transport="udp"}')
                res = r["data"]["result"]
                if res:
                    got = float(res[0]["value"][1])
                    break
            except OSError:
                pass
            time.sleep(0.5)
        if got is None:
            with open(os.path.join(d, "prometheus.log")) as f:
                print(f.read()[-3000:])
        self.assertEqual(got, want)
        up = prom_query('up{job="c2wall"}')["data"]["result"]
        self.assertEqual(float(up[0]["value"][1]), 1.0)
        hits = prom_query('c2wall_policy_hits_total{zone="c2.rpz.",action="nxdomain"}')
        self.assertEqual(float(hits["data"]["result"][0]["value"][1]), 4)
        # The scrape left its trace in c2wall's own counter.
        self.assertGreaterEqual(hu.sample(hu.metrics(PORT, READ), "c2wall_http_requests_total"),
                                2)


if __name__ == "__main__":
    cw.main()
