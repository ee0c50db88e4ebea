# SPDX-License-Identifier: MIT
"""Start and stop `c2wall sinkhole` for the sinkhole integration tests.

Loopback only, free high ports picked by the kernel, a private temp directory with the config,
a small RPZ feed, the incident store and the evidence log. Everything started here is stopped
by PID. C2W_KEEP_TMP=1 keeps the directory for debugging.
"""

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time

FEED = """$TTL 300
@ SOA localhost. hostmaster.localhost. 1 3600 600 86400 300
  NS localhost.
; family metadata in the RPZ TXT convention is optional: the zone default names it
evil.example CNAME .
*.botnet.example CNAME .
"""


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Sinkhole:
    """One `c2wall sinkhole` process with HTTP (v4 and v6), TLS and TCP listeners."""

    def __init__(self, read_timeout_ms=1500, max_connections=16, extra_args=(), text_ja=None,
                 text_en=None, sinkhole_keys=None):
        self.bin = os.environ.get("C2WALL_BIN", "c2wall")
        self.tmp = tempfile.mkdtemp(prefix="c2w-sinkhole-")
        self.http = free_port()
        self.http6 = free_port(socket.AF_INET6, "::1")
        self.tls = free_port()
        self.tcp = free_port()
        self.read_timeout_ms = read_timeout_ms
        self.max_connections = max_connections
        self.extra_args = list(extra_args)
        self.evlog = os.path.join(self.tmp, "evidence.jsonl")
        self.db = os.path.join(self.tmp, "incidents.db")
        self.proc = None
        self.templates = os.path.join(self.tmp, "templates")
        os.mkdir(self.templates)
        for lang, text in (("ja", text_ja), ("en", text_en)):
            if text:
                path = os.path.join(self.templates, f"text.{lang}.txt")
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text)
        with open(os.path.join(self.tmp, "c2.rpz"), "w") as f:
            f.write(FEED)
        self.config = os.path.join(self.tmp, "c2wall.yaml")
        # The functional tests count every record they cause; test_abuse_sinkhole.py sets
        # the per-client evidence rate (default 30 a minute) itself.
        keys = {"evidence-per-minute": 0}
        keys.update(sinkhole_keys or {})
        extra = "".join(f"  {k}: {v}\n" for k, v in keys.items())
        with open(self.config, "w") as f:
            # The tests run as root in CI: stay root (server.user defaults to c2wall).
            f.write(f"""server:
  user: none
policy:
  zones:
    - name: c2.rpz.example.
      file: c2.rpz
      policy: sinkhole
      family: Emotet
sinkhole:
  ipv4: 127.0.0.1
  http: ["127.0.0.1@{self.http}", "::1@{self.http6}"]
  tls: ["127.0.0.1@{self.tls}"]
  tcp: ["127.0.0.1@{self.tcp}"]
  templates: {self.templates}
{extra}store:
  sqlite: {self.db}
privacy:
  key-file: {os.path.join(self.tmp, "pseudonym.key")}
log:
  level: info
""")

    def start(self):
        self.log = open(os.path.join(self.tmp, "sinkhole.log"), "w")
        cmd = [self.bin, "sinkhole", "--config", self.config, "--evidence-log", self.evlog,
               "--read-timeout", str(self.read_timeout_ms),
               "--max-connections", str(self.max_connections)] + self.extra_args
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("c2wall sinkhole exited: " + self.logtext())
            try:
                socket.create_connection(("127.0.0.1", self.tcp), timeout=0.2).close()
                # that probe was an extra-port contact: it is recorded; wait for it
                time.sleep(0.1)
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("c2wall sinkhole did not start: " + self.logtext())

    def logtext(self):
        try:
            with open(os.path.join(self.tmp, "sinkhole.log")) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode if self.proc is not None else None
        if os.environ.get("C2W_KEEP_TMP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            print("kept", self.tmp)
        return code

    def evidence(self, pred=None, wait_s=3.0):
        """Evidence lines (dicts) matching pred, waiting up to wait_s for one to appear."""
        deadline = time.monotonic() + wait_s
        while True:
            rows = []
            try:
                with open(self.evlog, encoding="utf-8") as f:
                    rows = [json.loads(line) for line in f if line.strip()]
            except FileNotFoundError:
                pass
            hits = [r for r in rows if pred is None or pred(r)]
            if hits or time.monotonic() > deadline:
                return hits
            time.sleep(0.05)

    def store_rows(self, sql, args=()):
        con = sqlite3.connect(self.db, timeout=5)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()


def raw_exchange(port, data, timeout=3.0, host="127.0.0.1", family=socket.AF_INET):
    """Send data, read until the server closes (or timeout). Returns (bytes, closed_by_peer)."""
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    if data:
        s.sendall(data)
    out = b""
    closed = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            out += chunk
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    s.close()
    return out, closed


def split_response(raw):
    """(status, headers dict lower-case, body bytes) of the first response in raw."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    return status, headers, rest[:n]
