#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Generate a synthetic RPZ zone for the benchmark: N rules of the kinds C&C feeds carry.

    bench/gen_rpz.py [-n N] [--origin rpz.bench.] [--wildcard-every K] [--ip-every K]
                     [--client-ip-every K] [--nsdname-every K] [--mix] [--seed S]
                     [--hits FILE] [--hits-count M] [--extra NAME...] [-o FILE]

The zone has an SOA and NS (BIND and Unbound insist), $ORIGIN set (Knot Resolver reads it), and
rules of these kinds:

  QNAME       "name CNAME ." (NXDOMAIN), "name CNAME *." (NODATA, every 10th), "name A
              127.0.0.2" (local data: the sinkhole, every 10th), and for every K-th name
              (--wildcard-every, default 10) also "*.name CNAME ." (wildcard)
  RESPONSE-IP (--ip-every K) "32.d.c.b.a.rpz-ip CNAME ." and IPv6 "128.w8...w1.rpz-ip" with
              "zz" for the longest zero run; every 10th of them a /24 or /48 prefix; half IPv4,
              half IPv6
  CLIENT-IP   (--client-ip-every K) "32.d.c.b.a.rpz-client-ip", half of them CNAME . and half
              CNAME rpz-passthru.; IPv6 /128 too
  NSDNAME     (--nsdname-every K) "ns1.name.rpz-nsdname CNAME .", every 4th a wildcard

--mix is --ip-every 20 --client-ip-every 1000 --nsdname-every 100 (5 % IP, 1 % NSDNAME,
0.1 % client IP rules; the rest QNAME rules, 10 % of those names with a wildcard too).

Every rule counts as one: -n 1000000 writes exactly 1,000,000 rule lines. Names are
pseudo-random registrable names (and some subdomains) under ten common TLDs, unique by
construction (the first seven characters encode the rule number through a bijection), never
under bench.example.; IP rules lie in 20.0.0.0/6, 40.0.0.0/6 (prefixes), 2001:db8::/32 and
2a0f::/16 (prefixes); client IPs in 172.16.0.0/12 and fd00::/8. So the benchmark queries
(bench.example., answers in 10.0.0.0/8, from 127.0.0.1) miss every rule and each server pays
for the lookups only. The first rule is always "name CNAME ." (bench/run.sh probes it to see the
policy is in force).

--hits FILE writes M query lines ("NAME A", dnsperf format) that DO match rules: exact QNAME
rules and names under wildcards, spread evenly over the file. --extra NAME adds
"NAME CNAME ." rules after the generated ones (they count towards N). The output is
deterministic for a given seed and options. 10 million rules take about a minute.
"""
import argparse
import random
import sys

TLDS = ["com", "net", "org", "info", "biz", "ru", "cn", "top", "xyz", "jp"]
# 32 symbols: 5 bits each.
ALPHA = "abcdefghijklmnopqrstuvwxyz234567"
PAIRS = [a + b for a in ALPHA for b in ALPHA]  # 10 bits each

MUL = 0x9E3779B97F4A7C15  # odd: multiplying by it is a bijection modulo 2^b


def perm(i, b):
    """A bijection of 0..2^b-1 that scatters consecutive numbers (i must be below 2^b)."""
    m = (1 << b) - 1
    x = (i * MUL) & m
    x ^= x >> (b // 2)
    return (x * MUL) & m


def perm35(i):
    return perm(i, 35)


def head7(i):
    """Seven characters unique per i < 2^35 (a bijection, so no set is needed)."""
    x = perm(i + 1000003, 35)
    return PAIRS[x >> 25] + PAIRS[(x >> 15) & 1023] + PAIRS[(x >> 5) & 1023] + ALPHA[x & 31]


def tail(bits, n):
    s = ""
    while n >= 2:
        s += PAIRS[bits & 1023]
        bits >>= 10
        n -= 2
    if n:
        s += ALPHA[bits & 31]
    return s


class Gen:
    def __init__(self, args):
        self.rng = random.Random(args.seed)
        self.args = args
        self.k = 0  # unique names made
        self.v4 = 0
        self.v6 = 0
        self.c4 = 0
        self.counts = {}

    def name(self):
        r = self.rng.getrandbits(64)
        base = head7(self.k) + tail(r >> 8, r & 7) + "." + TLDS[(r >> 3) % 10]
        self.k += 1
        if (r >> 60) < 5:  # about 30 %: a subdomain
            base = tail(r >> 30, 3 + ((r >> 56) & 3)) + "." + base
        return base

    def count(self, kind, n=1):
        self.counts[kind] = self.counts.get(kind, 0) + n

    def ip_rule(self, suffix, j):
        """j-th IP trigger owner (without the action)."""
        if j % 2 == 0:
            if j % 20 == 0:  # /24 in 40.0.0.0/6
                a = (40 << 24) | (perm(j // 20, 18) << 8)
                bits = 24
            else:  # /32 in 20.0.0.0/6
                a = (20 << 24) | perm(j, 26)
                bits = 32
            return "%d.%d.%d.%d.%d.%s" % (bits, a & 255, (a >> 8) & 255, (a >> 16) & 255,
                                          a >> 24, suffix)
        x = perm35(j)
        if j % 20 == 1:  # /48 under 2a0f::/16
            y = perm(j // 20, 32)
            words = [0x2A0F, y >> 16, y & 0xFFFF, 0, 0, 0, 0, 0]
            bits = 48
        else:  # /128 in 2001:db8::/32
            words = [0x2001, 0xDB8, 0, 0, 0, (x >> 32) & 0xFFFF, (x >> 16) & 0xFFFF,
                     x & 0xFFFF]
            bits = 128
        return "%d.%s.%s" % (bits, v6_labels(words), suffix)

    def client_rule(self, j):
        x = perm35(j)
        if j % 4 == 3:
            words = [0xFD00, 0, 0, 0, (x >> 32) & 0xFFFF, (x >> 16) & 0xFFFF, x & 0xFFFF, 1]
            owner = "128.%s.rpz-client-ip" % v6_labels(words)
        else:
            a = (172 << 24) | (16 << 16) | perm(j & 0xFFFFF, 20)
            owner = "32.%d.%d.%d.%d.rpz-client-ip" % (a & 255, (a >> 8) & 255,
                                                       (a >> 16) & 255, a >> 24)
        return owner + (" CNAME rpz-passthru." if j % 2 else " CNAME .")

    def rules(self, n, hits_every):
        a = self.args
        i = 0
        while i < n:
            if a.client_ip_every and i % a.client_ip_every == 7 % a.client_ip_every and i:
                yield self.client_rule(self.c4)
                self.c4 += 1
                self.count("client-ip")
                i += 1
                continue
            if a.nsdname_every and i % a.nsdname_every == 5 % a.nsdname_every and i:
                nm = self.name()
                if self.k % 4 == 0:
                    yield "*.%s.rpz-nsdname CNAME ." % nm
                else:
                    yield "ns1.%s.rpz-nsdname CNAME ." % nm
                self.count("nsdname")
                i += 1
                continue
            if a.ip_every and i % a.ip_every == 3 % a.ip_every and i:
                j = self.v4
                self.v4 += 1
                yield self.ip_rule("rpz-ip", j) + " CNAME ."
                self.count("response-ip")
                i += 1
                continue
            nm = self.name()
            hit = hits_every and self.k % hits_every == 1
            if a.wildcard_every and i % a.wildcard_every == 0 and i + 1 < n:
                yield "%s CNAME ." % nm
                yield "*.%s CNAME ." % nm
                self.count("qname", 1)
                self.count("qname-wildcard", 1)
                if hit:
                    self.hits.append(nm)
                    self.hits.append("www." + nm)
                i += 2
                continue
            kind = i % 10
            if kind == 8 and i:
                yield "%s CNAME *." % nm
            elif kind == 9:
                yield "%s A 127.0.0.2" % nm
            else:
                yield "%s CNAME ." % nm
            self.count("qname")
            if hit:
                self.hits.append(nm)
            i += 1


def v6_labels(words):
    """RPZ form of an IPv6 address: words reversed, lower-case hex, longest zero run -> zz."""
    best, best_len, run, run_len = -1, 0, -1, 0
    for idx, w in enumerate(words):
        if w == 0:
            if run < 0:
                run, run_len = idx, 0
            run_len += 1
            if run_len > best_len:
                best, best_len = run, run_len
        else:
            run = -1
    parts = []
    idx = 0
    while idx < 8:
        if best_len >= 2 and idx == best:
            parts.append("zz")
            idx += best_len
            continue
        parts.append("%x" % words[idx])
        idx += 1
    return ".".join(reversed(parts))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=100000, help="number of rules (default 100000)")
    ap.add_argument("--origin", default="rpz.bench.", help="zone origin (default rpz.bench.)")
    ap.add_argument("--wildcard-every", type=int, default=10,
                    help="every K-th QNAME rule name also gets a *. wildcard rule (0 = none)")
    ap.add_argument("--ip-every", type=int, default=0, help="every K-th rule is rpz-ip (0 = none)")
    ap.add_argument("--client-ip-every", type=int, default=0,
                    help="every K-th rule is rpz-client-ip (0 = none)")
    ap.add_argument("--nsdname-every", type=int, default=0,
                    help="every K-th rule is rpz-nsdname (0 = none)")
    ap.add_argument("--mix", action="store_true",
                    help="--ip-every 20 --client-ip-every 1000 --nsdname-every 100")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--hits", help="write query lines that match rules to this file")
    ap.add_argument("--hits-count", type=int, default=10000, help="about this many (default 10000)")
    ap.add_argument("--extra", nargs="*", default=[], help="extra 'NAME CNAME .' rules")
    ap.add_argument("-o", "--output", default="-", help="output file (default stdout)")
    ap.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    args = ap.parse_args()
    for k in ("n", "wildcard_every", "ip_every", "client_ip_every", "nsdname_every", "hits_count"):
        if getattr(args, k) < 0:
            ap.error("numbers must not be negative")
    if args.n >= 1 << 34:
        ap.error("-n must be below 2^34")
    if len(args.extra) > args.n:
        ap.error("more --extra rules than -n")
    if args.mix:
        args.ip_every = args.ip_every or 20
        args.client_ip_every = args.client_ip_every or 1000
        args.nsdname_every = args.nsdname_every or 100
    origin = args.origin if args.origin.endswith(".") else args.origin + "."
    gen = Gen(args)
    gen.hits = []
    n_gen = max(0, args.n - len(args.extra))
    hits_every = max(1, n_gen // max(1, args.hits_count)) if args.hits else 0
    out = sys.stdout if args.output == "-" else open(args.output, "w", encoding="ascii")
    try:
        out.write("$ORIGIN %s\n$TTL 300\n" % origin)
        out.write("@ SOA localhost. hostmaster.localhost. 1 3600 600 86400 300\n")
        out.write("@ NS localhost.\n")
        buf = []
        for line in gen.rules(n_gen, hits_every):
            buf.append(line)
            if len(buf) >= 65536:
                buf.append("")
                out.write("\n".join(buf))
                buf = []
        for e in args.extra:
            buf.append("%s CNAME ." % e)
            gen.count("qname")
        if buf:
            buf.append("")
            out.write("\n".join(buf))
    finally:
        if out is not sys.stdout:
            out.close()
    if args.hits:
        with open(args.hits, "w", encoding="ascii") as f:
            for h in gen.hits:
                f.write("%s A\n" % h)
    if not args.quiet:
        total = sum(gen.counts.values())
        sys.stderr.write("gen_rpz: %d rules: %s%s\n" % (
            total, ", ".join("%s %d" % kv for kv in sorted(gen.counts.items())),
            "; %d hit queries in %s" % (len(gen.hits), args.hits) if args.hits else ""))


if __name__ == "__main__":
    main()
