#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Generate the realistic (Zipf) benchmark workload: the zones NSD serves and a dnsperf input
file in binary form (dnsperf -B: each query a 2-byte length then the DNS message), so that
each query carries its own EDNS and DO bit.

    bench/gen_zipf.py --zone-dir DIR -o FILE [--keys N] [--queries Q] [--exponent S]
                      [--nxdomain-share F] [--edns-share F] [--do-share F]
                      [--blocked FILE] [--blocked-share F] [--seed SEED]

Popularity: the N distinct query keys (name, type) are ranked 1..N and each query picks rank
r with probability proportional to 1 / r^S (Zipf; S = 0.95 by default, within the 0.9-1.0
measured for resolver traffic). Queries are independent draws, so any window of the file has
the same shape; dnsperf loops over it.

Keys: rank r maps through a fixed bijection to an id; the id's name and type:
  - NXDOMAIN share (default 5 % of the keys): ID.nxK.bench.example. (no such node; K one of
    1024 parents) with type A or AAAA;
  - the rest: type A 45 %, AAAA 30 %, HTTPS 15 %, PTR 5 %, TXT 3 %, MX 2 % (of the rest),
    names ID.w.bench.example. (wildcards in bench.example. answer every type), PTR names
    d.c.b.77.203.in-addr.arpa. (a wildcard in 77.203.in-addr.arpa.; 203.77/16 is not one of
    the reverse zones resolvers answer locally).
Blocked names (--blocked FILE, dnsperf text lines "NAME TYPE" such as bench/gen_rpz.py --hits
writes): each query is, with probability --blocked-share (default 0.5 %), one of them, chosen
uniformly. They only mean something with an RPZ loaded (bench/run.sh --rpz).
EDNS: --edns-share (default 0.8) of the queries carry an OPT record (UDP size 1232), and
--do-share (default 0.3) of all queries set DO (a subset of the EDNS ones).

The output is the same for the same seed and options (Python's random with a fixed seed).
"""
import argparse
import bisect
import itertools
import os
import random
import struct
import sys

T_A, T_PTR, T_MX, T_TXT, T_AAAA, T_HTTPS = 1, 12, 15, 16, 28, 65
TYPE_CODES = {"A": T_A, "AAAA": T_AAAA, "PTR": T_PTR, "MX": T_MX, "TXT": T_TXT, "HTTPS": T_HTTPS}
# Cumulative mix of the existing-name types, in per mille.
MIX = [(450, T_A), (750, T_AAAA), (900, T_HTTPS), (950, T_PTR), (980, T_TXT), (1000, T_MX)]

MUL = 0x9E3779B97F4A7C15
# NXDOMAIN names spread over this many parents (nxK.bench.example.): real misses are typos and
# stale names across many zones; a single parent with a random tail is what a random-subdomain
# (water-torture) attack looks like, and c2wall's defence would rightly answer it SERVFAIL.
NX_PARENTS = 1024


def perm(i, bits):
    """A bijection of 0..2^bits-1 that scatters consecutive ranks (cache buckets, names)."""
    m = (1 << bits) - 1
    x = (i * MUL) & m
    x ^= x >> (bits // 2)
    return (x * MUL) & m


def key_of(rank, bits, nx_pm):
    """(name, qtype) of a rank: deterministic, unique per rank."""
    ident = perm(rank, bits)
    sel = (ident * 2654435761) % 1000
    if sel < nx_pm:
        return "%x.nx%d.bench.example." % (ident, (ident >> 3) % NX_PARENTS), T_A if ident & 1 else T_AAAA
    t = (ident >> 7) % 1000
    qtype = next(c for lim, c in MIX if t < lim)
    if qtype == T_PTR:
        return "%d.%d.%d.77.203.in-addr.arpa." % (ident & 255, (ident >> 8) & 255, (ident >> 16) & 255), qtype
    return "%x.w.bench.example." % ident, qtype


def wire(name, qtype, edns, do):
    """A query message with ID 0 (dnsperf sets the ID), RD set."""
    out = bytearray(struct.pack("!HHHHHH", 0, 0x0100, 1, 0, 0, 1 if edns else 0))
    for label in name.rstrip(".").split("."):
        out.append(len(label))
        out += label.encode("ascii")
    out.append(0)
    out += struct.pack("!HH", qtype, 1)
    if edns:
        out += b"\x00" + struct.pack("!HHIH", 41, 1232, 0x8000 if do else 0, 0)
    return bytes(out)


def write_zones(zdir):
    with open(os.path.join(zdir, "zipf.bench.example.zone"), "w") as f:
        f.write("""; bench/gen_zipf.py: appended to bench.example.'s zone
*.w  A     10.1.2.3
*.w  AAAA  2001:db8::1:2:3
*.w  HTTPS 1 . alpn="h2,h3"
*.w  TXT   "v=spf1 -all"
*.w  MX    10 mx.bench.example.
mx   A     10.1.2.4
""")
    with open(os.path.join(zdir, "77.203.in-addr.arpa.zone"), "w") as f:
        f.write("""$ORIGIN 77.203.in-addr.arpa.
$TTL 86400
@ SOA ns.bench.example. hostmaster.bench.example. 1 3600 600 864000 86400
@ NS ns.bench.example.
* PTR host.bench.example.
""")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--zone-dir", required=True)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--keys", type=int, default=2_000_000)
    ap.add_argument("--queries", type=int, default=2_000_000)
    ap.add_argument("--exponent", type=float, default=0.95)
    ap.add_argument("--nxdomain-share", type=float, default=0.05)
    ap.add_argument("--edns-share", type=float, default=0.8)
    ap.add_argument("--do-share", type=float, default=0.3)
    ap.add_argument("--blocked")
    ap.add_argument("--blocked-share", type=float, default=0.005)
    ap.add_argument("--seed", type=int, default=11)
    a = ap.parse_args()
    if not (1 <= a.keys <= 1 << 30 and 1 <= a.queries <= 100_000_000 and 0 < a.exponent < 3):
        ap.error("--keys 1..2^30, --queries 1..1e8, --exponent in (0, 3)")
    for v in (a.nxdomain_share, a.edns_share, a.do_share, a.blocked_share):
        if not 0 <= v <= 1:
            ap.error("shares are in 0..1")
    if a.do_share > a.edns_share:
        ap.error("--do-share must not exceed --edns-share (DO needs EDNS)")
    blocked = []
    if a.blocked:
        with open(a.blocked) as f:
            for line in f:
                p = line.split()
                if len(p) == 2 and p[1] in TYPE_CODES:
                    blocked.append((p[0].rstrip(".") + ".", TYPE_CODES[p[1]]))
        if not blocked:
            ap.error("no 'NAME TYPE' lines in --blocked file")
    write_zones(a.zone_dir)
    rng = random.Random(a.seed)
    bits = max(8, (a.keys - 1).bit_length())
    bits += bits & 1
    # Cumulative weights of ranks 1..N; a draw is a binary search.
    cum = list(itertools.accumulate(1.0 / (r ** a.exponent) for r in range(1, a.keys + 1)))
    total = cum[-1]
    nx_pm = int(a.nxdomain_share * 1000)
    used = set()
    nblk = 0
    with open(a.output, "wb") as out:
        for _ in range(a.queries):
            u = rng.random()
            if blocked and u < a.blocked_share:
                name, qtype = blocked[rng.randrange(len(blocked))]
                nblk += 1
            else:
                rank = bisect.bisect_left(cum, rng.random() * total)
                used.add(rank)
                name, qtype = key_of(rank, bits, nx_pm)
            e = rng.random()
            msg = wire(name, qtype, e < a.edns_share, e < a.do_share)
            out.write(struct.pack("!H", len(msg)) + msg)
    head = bisect.bisect_left(cum, 0.5 * total) + 1
    print("zipf: %d queries, %d keys (exponent %.2f), %d distinct keys asked, %d blocked; "
          "the top %d keys take half the queries" % (a.queries, a.keys, a.exponent, len(used), nblk, head),
          file=sys.stderr)


if __name__ == "__main__":
    main()
