#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Benign subscribers for bench/torture.sh: a fixed rate of queries, each timed.

    torture_benign.py --server 127.0.0.1 --port P --source 127.2.0.1 --rate 200 \
        --seconds 60 --hot 100 --fresh-from 100000 --out results.tsv

Each query alternates between a hot name (n0..n<hot-1>.bench.example, warmed into the cache
first with --warm) and a fresh one (n<fresh-from + k>.bench.example, asked once: a cache miss
that needs the upstream); once a second a fresh ok<k>.victim.example (a name that exists in the
victim zone when its server answers). Success: NOERROR with an answer within --timeout seconds.
Every query is one line of --out: "<sent, s since start> <class> <ok 0/1> <latency ms or -1>
<send lag ms>" (send lag: how late this client sent it, against its schedule: on a loaded
machine the client itself can be starved, and its late queries then go out in a burst). The
latency runs from the kernel's transmit timestamp of the query to its receive timestamp of the
answer (SO_TIMESTAMPING, software stamps, one clock), so time the client spends unscheduled
does not count, neither before it reads nor between taking the time and sending (a starved
client preempted there once in a hundred queries made a p99 of its own). Where the kernel
gives no transmit stamp, the clock just before sendto() stands in.
The load is bounded by --rate x --seconds; the run ends by itself.
"""
import argparse
import select
import socket
import struct
import sys
import time

# Linux's values; Python has no constants for them. SCM_TIMESTAMPING is SO_TIMESTAMPING.
SO_TIMESTAMPING = 37
TS_FLAGS = (1 << 1) | (1 << 3) | (1 << 4) | (1 << 7) | (1 << 11)
# TX_SOFTWARE | RX_SOFTWARE | SOFTWARE | OPT_ID (a counter per datagram sent, from 0) |
# OPT_TSONLY (the error queue holds the stamp, not a copy of the query)
MSG_ERRQUEUE = 0x2000
IP_RECVERR = 11
SO_EE_ORIGIN_TIMESTAMPING = 4


def stamp(anc):
    """The software timestamp (Unix seconds) in a message's ancillary data, or None."""
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPING and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            if sec or nsec:
                return sec + nsec / 1e9
    return None


def query(qid, name):
    wire = b""
    for label in name.split("."):
        wire += bytes([len(label)]) + label.encode()
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + wire + b"\x00" + \
        struct.pack("!HH", 1, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--source", default="127.2.0.1")
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--hot", type=int, default=100)
    ap.add_argument("--fresh-from", type=int, default=100000)
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--warm", action="store_true", help="only ask the hot names once and exit")
    ap.add_argument("--out")
    a = ap.parse_args()

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((a.source, 0))
    sock.setblocking(False)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPING, TS_FLAGS)
    dest = (a.server, a.port)

    if a.warm:
        for i in range(a.hot):
            sock.sendto(query(i, "n%d.bench.example" % i), dest)
            time.sleep(0.002)
        deadline = time.monotonic() + 5
        got = 0
        while got < a.hot and time.monotonic() < deadline:
            r, _, _ = select.select([sock], [], [], 0.2)
            if r:
                sock.recv(4096)
                got += 1
        print("warmed %d/%d" % (got, a.hot))
        return 0 if got == a.hot else 1

    out = open(a.out, "w", encoding="ascii")
    pending = {}  # id -> (sent_rel, class, t_sent, lag, wall clock before sendto, datagram no.)
    tx = {}  # datagram no. -> the kernel's transmit stamp
    sends = 0  # datagrams handed to sendto(), the kernel's OPT_ID counter
    stamped = [0]  # answers timed from the kernel's transmit stamp
    start = time.monotonic()
    total = int(a.rate * a.seconds)
    interval = 1.0 / a.rate
    nxt = start
    sent = hot_i = fresh_i = victim_i = 0
    next_victim = start
    qid = 0

    def finish(q, ok, lat_ms):
        sent_rel, cls, _, lag, _, no = pending.pop(q)
        tx.pop(no, None)
        out.write("%.3f %s %d %.3f %.1f\n" % (sent_rel, cls, ok, lat_ms, lag))

    def drain_tx():
        while True:
            try:
                _, anc, _, _ = sock.recvmsg(1, 256, MSG_ERRQUEUE)
            except BlockingIOError:
                return
            t = stamp(anc)
            for level, kind, data in anc:
                if level == socket.SOL_IP and kind == IP_RECVERR and len(data) >= 16:
                    origin = data[4]
                    no = struct.unpack("I", data[12:16])[0]
                    if origin == SO_EE_ORIGIN_TIMESTAMPING and t is not None:
                        tx[no] = t

    def drain():
        # a query's transmit stamp is queued while its sendto() runs, before any answer can
        # come: read them first
        drain_tx()
        while True:
            try:
                pkt, anc, _, _ = sock.recvmsg(65535, 64)
            except BlockingIOError:
                return
            if len(pkt) < 12:
                continue
            q, flags, _, an = struct.unpack("!HHHH", pkt[0:8])
            if q not in pending:
                continue
            lat = (time.monotonic() - pending[q][2]) * 1000.0
            rx = stamp(anc)
            if rx is not None:
                sent = tx.get(pending[q][5])
                if sent is None or not pending[q][4] - 0.01 <= sent <= rx:
                    sent = pending[q][4]  # no stamp, or not this query's
                else:
                    stamped[0] += 1
                lat = (rx - sent) * 1000.0
            ok = (flags & 0x000F) == 0 and an > 0 and lat <= a.timeout * 1000.0
            finish(q, 1 if ok else 0, lat)

    while sent < total or pending:
        now = time.monotonic()
        while sent < total and now >= nxt:
            qid = (qid + 1) & 0xFFFF
            if now >= next_victim:
                name, cls = "ok%d.victim.example" % victim_i, "victim"
                victim_i += 1
                next_victim += 1.0
            elif sent % 2 == 0:
                name, cls = "n%d.bench.example" % (hot_i % a.hot), "hot"
                hot_i += 1
                sent += 1
            else:
                name, cls = "n%d.bench.example" % (a.fresh_from + fresh_i), "fresh"
                fresh_i += 1
                sent += 1
            if qid in pending:
                finish(qid, 0, -1)
            lag = max(0.0, (now - (next_victim - 1.0 if cls == "victim" else nxt)) * 1000.0)
            pending[qid] = (now - start, cls, now, lag, time.time(), sends)
            try:
                sock.sendto(query(qid, name), dest)
                sends += 1
            except OSError:
                pass
            if cls != "victim":
                nxt += interval
        # Answers already waiting count before anything is declared lost: a client that was
        # not scheduled for a while must not blame the server for its own delay.
        drain()
        now = time.monotonic()
        for q in [q for q, v in pending.items() if now - v[2] > a.timeout]:
            finish(q, 0, -1)
        wait = max(0.0, min(nxt - time.monotonic(), 0.05)) if sent < total else 0.05
        r, _, _ = select.select([sock], [], [], wait)
        if r:
            drain()
    out.close()
    print("benign: %d queries, %d answers timed by both kernel stamps" % (sends, stamped[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
