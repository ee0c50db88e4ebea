# SPDX-License-Identifier: MIT
"""Helpers for the hit-event, privacy and incident integration tests (test_events*.py,
test_privacy*.py, test_incidents*.py): the control socket, the c2wall CLI, JSON Lines and
SQLite readers, a Frame Streams + protobuf decoder for the dnstap policy fields, and UDP
queries from a chosen 127.0.0.x source address."""

import json
import os
import socket
import sqlite3
import struct
import subprocess
import threading
import time

import dns.message
import dns.query
import dns.rcode

import c2w_world as cw


def control(r, request, timeout=5.0):
    """One request line to the daemon's control socket; returns the response line."""
    path = os.path.join(r.dir, "control.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(request.encode() + b"\n")
        return read_line(s)
    finally:
        s.close()


def read_line(s):
    """The answer line on control-socket connection @s, without the newline."""
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf.decode().rstrip("\n")


class Poller(threading.Thread):
    """Calls ask() every @every seconds (at most @max_n times) until stop is set; keeps
    (sent, answered, what ask() returned) per call, monotonic seconds."""

    def __init__(self, ask, every=0.02, max_n=5000):
        super().__init__()
        self.ask, self.every, self.max_n = ask, every, max_n
        self.stop = threading.Event()
        self.seen = []

    def run(self):
        for _ in range(self.max_n):
            if self.stop.is_set():
                return
            t = time.monotonic()
            out = self.ask()
            self.seen.append((t, time.monotonic(), out))
            time.sleep(self.every)

    def during(self, t0, t1, ok=lambda out: True):
        """The calls sent after @t0 and answered before @t1 whose result is ok."""
        return [(a, b, o) for a, b, o in self.seen if a > t0 and b < t1 and ok(o)]

    def finish(self, timeout=90):
        self.stop.set()
        self.join(timeout)


def control_json(r, request):
    resp = control(r, request)
    if resp.startswith("error:"):
        raise AssertionError("control %r: %s" % (request, resp))
    return json.loads(resp)


def feeds_zone(r, name):
    """Zone @name's object in the daemon's `feeds` control state."""
    for z in control_json(r, "feeds")["zones"]:
        if z["name"] == name:
            return z
    raise AssertionError("zone %s not in feeds state" % name)


def wait_feeds_zone(r, name, pred, timeout=20.0, what="", every=0.1):
    """Zone @name's feeds state once pred(state) holds; fails after @timeout seconds."""
    deadline = time.monotonic() + timeout
    z = None
    while time.monotonic() < deadline:
        z = feeds_zone(r, name)
        if pred(z):
            return z
        time.sleep(every)
    raise AssertionError("zone %s: %s not reached in %.0fs; state %r" % (name, what, timeout, z))


def cli(*args, check=True, stdin=None, timeout=30):
    """Run `c2wall ARGS...`; returns CompletedProcess (text). Raises when check and rc != 0."""
    r = subprocess.run([cw.c2wall_bin()] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, input=stdin, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError("c2wall %s -> %d\nstdout: %s\nstderr: %s" %
                             (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


def query(r, qname, rdtype="A", source="127.0.0.1", timeout=3.0, tcp=False):
    """Query the daemon from @source (bound, so each test client has its own address; an
    IPv6 source queries the daemon's ::1 listener on the same port). Returns the message, or
    None when no answer came (DROP)."""
    q = dns.message.make_query(qname, rdtype, use_edns=0, payload=1232)
    dest = "::1" if ":" in source else r.addr
    try:
        if tcp:
            return dns.query.tcp(q, dest, port=r.port, timeout=timeout, source=source)
        return dns.query.udp(q, dest, port=r.port, timeout=timeout, source=source)
    except dns.exception.Timeout:
        return None


def rcode(m):
    return dns.rcode.to_text(m.rcode()) if m is not None else "TIMEOUT"


def read_jsonl(path):
    """Every line of a JSON Lines file (all must parse); [] when the file is missing."""
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.endswith("\n"):
                raise AssertionError("%s:%d: line not terminated: %r" % (path, n, line))
            out.append(json.loads(line))
    return out


def wait_for(pred, timeout=5.0, step=0.05):
    """Poll @pred until it returns a truthy value; returns it (or the last falsy value)."""
    deadline = time.monotonic() + timeout
    v = pred()
    while not v and time.monotonic() < deadline:
        time.sleep(step)
        v = pred()
    return v


def sql(path, statement, args=()):
    con = sqlite3.connect(path, timeout=5)
    try:
        return con.execute(statement, args).fetchall()
    finally:
        con.close()


def grep_tree(root, needle):
    """Paths of files under @root whose bytes contain @needle (bytes)."""
    hits = []
    for d, _, files in os.walk(root):
        for fn in files:
            p = os.path.join(d, fn)
            try:
                with open(p, "rb") as f:
                    if needle in f.read():
                        hits.append(p)
            except OSError:
                pass
    return hits


# ---- dnstap: Frame Streams file + the protobuf fields we need -------------------------------


def fstrm_frames(data):
    """Data frames of a Frame Streams file (bidirectional=false); control frames skipped."""
    frames, pos = [], 0
    while pos + 4 <= len(data):
        (n,) = struct.unpack_from(">I", data, pos)
        pos += 4
        if n == 0:  # escape: a control frame follows
            (clen,) = struct.unpack_from(">I", data, pos)
            pos += 4 + clen
            continue
        frames.append(data[pos:pos + n])
        pos += n
    return frames


def _varint(b, pos):
    v, shift = 0, 0
    while True:
        c = b[pos]
        pos += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, pos


def pb_fields(b):
    """Decode one protobuf message into {field: [values]} (varint ints, bytes, fixed ints)."""
    out, pos = {}, 0
    while pos < len(b):
        key, pos = _varint(b, pos)
        field, wt = key >> 3, key & 7
        if wt == 0:
            v, pos = _varint(b, pos)
        elif wt == 2:
            n, pos = _varint(b, pos)
            v, pos = b[pos:pos + n], pos + n
        elif wt == 5:
            (v,) = struct.unpack_from("<I", b, pos)
            pos += 4
        elif wt == 1:
            (v,) = struct.unpack_from("<Q", b, pos)
            pos += 8
        else:
            raise ValueError("wire type %d" % wt)
        out.setdefault(field, []).append(v)
    return out


POLICY_ACTIONS = {1: "NXDOMAIN", 2: "NODATA", 3: "PASS", 4: "DROP", 5: "TRUNCATE",
                  6: "LOCAL_DATA"}
POLICY_MATCHES = {1: "QNAME", 2: "CLIENT_IP", 3: "RESPONSE_IP", 4: "NS_NAME", 5: "NS_IP"}


def wire_name(b):
    labels, pos = [], 0
    while pos < len(b) and b[pos]:
        n = b[pos]
        labels.append(b[pos + 1:pos + 1 + n].decode("ascii", "replace"))
        pos += 1 + n
    return ".".join(labels) + "."


def dnstap_records(path):
    """The dnstap file as dicts: identity, extra (parsed key=value), type, policy fields,
    query_address presence, and the response's rcode and qname."""
    with open(path, "rb") as f:
        data = f.read()
    recs = []
    for fr in fstrm_frames(data):
        top = pb_fields(fr)
        msg = pb_fields(top[14][0]) if 14 in top else {}
        pol = pb_fields(msg[15][0]) if 15 in msg else {}
        extra = top.get(3, [b""])[0].decode()
        kv = {}
        for word in extra.split(" "):
            if "=" in word:
                k, v = word.split("=", 1)
                kv[k] = v
        rec = {
            "identity": top.get(1, [b""])[0].decode(),
            "extra": kv,
            "extra_raw": extra,
            "msg_type": msg.get(1, [0])[0],
            "has_query_address": 4 in msg,
            "policy_type": pol.get(1, [b""])[0].decode(),
            "policy_rule": wire_name(pol[2][0]) if 2 in pol else None,
            "policy_action": POLICY_ACTIONS.get(pol.get(3, [0])[0]),
            "policy_match": POLICY_MATCHES.get(pol.get(4, [0])[0]),
            "policy_value": pol.get(5, [b""])[0].decode(),
        }
        if 14 in msg:
            m = dns.message.from_wire(msg[14][0])
            rec["rcode"] = dns.rcode.to_text(m.rcode())
            rec["qname"] = m.question[0].name.to_text() if m.question else None
        recs.append(rec)
    return recs
