#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The victim's authoritative server for bench/torture.sh, on loopback.

    torture_auth.py --addr A --port P --zone victim.example. --mode nxdomain|silent|slow
                    [--delay S] --stats F

nxdomain: every name under the zone is NXDOMAIN (with the zone's SOA), except names whose first
label starts with "ok" and the apex, which have an A record: a fresh "ok<N>" name tells whether
the resolver resolves the zone at all. silent: reads queries, never answers (a black-holed
zone). slow: the answers of nxdomain, each sent --delay seconds (default 0.5) after its query
came (an overloaded server). All count every query received; once a second the running total goes to F as
"<unix time> <total>" (the benchmark turns it into queries per second). Stops on SIGTERM.
"""
import argparse
import heapq
import signal
import socket
import struct
import sys
import threading
import time


def wire_name(text):
    out = b""
    for label in text.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def question_end(pkt):
    """Offset just past the question's name, or -1 when it is malformed or compressed."""
    off = 12
    while off < len(pkt):
        n = pkt[off]
        if n == 0:
            return off + 1
        if n & 0xC0:
            return -1
        off += 1 + n
    return -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--zone", default="victim.example.")
    ap.add_argument("--mode", choices=("nxdomain", "silent", "slow"), required=True)
    ap.add_argument("--delay", type=float, default=0.5)
    ap.add_argument("--stats", required=True)
    a = ap.parse_args()

    zone = wire_name(a.zone)
    soa_rdata = wire_name("ns." + a.zone) + wire_name("hostmaster." + a.zone) + \
        struct.pack("!IIIII", 1, 3600, 600, 86400, 30)
    # SOA in the authority section: owner = the zone (uncompressed), TTL 30 (negative TTL).
    soa_rr = zone + struct.pack("!HHIH", 6, 1, 30, len(soa_rdata)) + soa_rdata
    a_rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 30, 4) + socket.inet_aton("192.0.2.1")

    count = [0]
    stop = threading.Event()

    def writer():
        with open(a.stats, "w", encoding="ascii") as f:
            while not stop.is_set():
                f.write("%.3f %d\n" % (time.time(), count[0]))
                f.flush()
                stop.wait(1.0)
            f.write("%.3f %d\n" % (time.time(), count[0]))

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((a.addr, a.port))
    sock.settimeout(0.2)
    t = threading.Thread(target=writer)
    t.start()
    lzone = zone.lower()
    late = []  # slow: (due, seq, reply, peer), sent from this loop when due
    seq = 0
    while not stop.is_set():
        now = time.monotonic()
        while late and late[0][0] <= now:
            _, _, reply, peer = heapq.heappop(late)
            try:
                sock.sendto(reply, peer)
            except OSError:
                pass
        sock.settimeout(min(0.2, max(0.001, late[0][0] - now)) if late else 0.2)
        try:
            pkt, peer = sock.recvfrom(4096)
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        count[0] += 1
        if a.mode == "silent" or len(pkt) < 12:
            continue
        end = question_end(pkt)
        if end < 0 or end + 4 > len(pkt):
            continue
        qname = pkt[12:end].lower()
        qtype = struct.unpack("!H", pkt[end:end + 2])[0]
        first = qname[1:1 + qname[0]] if qname[0] else b""
        flags = 0x8400 | (struct.unpack("!H", pkt[2:4])[0] & 0x0100)  # QR AA, copy RD
        head = pkt[0:2]
        question = pkt[12:end + 4]
        if not qname.endswith(lzone):
            reply = head + struct.pack("!HHHHH", flags | 5, 1, 0, 0, 0) + question  # REFUSED
        elif (qname == lzone or first.startswith(b"ok")) and qtype == 1:
            reply = head + struct.pack("!HHHHH", flags, 1, 1, 0, 0) + question + a_rr
        elif qname == lzone or first.startswith(b"ok"):
            reply = head + struct.pack("!HHHHH", flags, 1, 0, 1, 0) + question + soa_rr
        else:
            reply = head + struct.pack("!HHHHH", flags | 3, 1, 0, 1, 0) + question + soa_rr
        if a.mode == "slow":
            seq += 1
            heapq.heappush(late, (time.monotonic() + a.delay, seq, reply, peer))
            continue
        try:
            sock.sendto(reply, peer)
        except OSError:
            pass
    t.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
