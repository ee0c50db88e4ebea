#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Generate a synthetic RPZ zone for the benchmark: N QNAME rules, some of them wildcards.

    bench/gen_rpz.py [-n N] [--origin rpz.bench.] [--wildcard-every K] [--seed S] [-o FILE]

The zone has an SOA and NS (BIND and Unbound insist), $ORIGIN set (Knot Resolver reads it), and
rules of the kinds C&C feeds carry: "name CNAME ." (NXDOMAIN), "*.name CNAME ." (wildcard),
"name CNAME *." (NODATA) and "name A 127.0.0.2" (local data, the sinkhole). Rule names are
pseudo-random registrable names (and some subdomains) under ten common TLDs, never under
bench.example., so the benchmark queries miss every rule and each server pays for the lookup
only. The first rule is always "name CNAME ." (bench/run.sh probes it to see the policy is in
force). The output is deterministic for a given seed.
"""
import argparse
import random
import sys

TLDS = ["com", "net", "org", "info", "biz", "ru", "cn", "top", "xyz", "jp"]
ALPHA = "abcdefghijklmnopqrstuvwxyz0123456789"


def label(rng, lo, hi):
    return "".join(rng.choice(ALPHA) for _ in range(rng.randint(lo, hi)))


def rules(rng, n, wildcard_every):
    seen = set()
    i = 0
    while i < n:
        name = "%s.%s" % (label(rng, 6, 14), rng.choice(TLDS))
        if rng.random() < 0.3:
            name = "%s.%s" % (label(rng, 3, 8), name)
        if name in seen:
            continue
        seen.add(name)
        if wildcard_every and i % wildcard_every == 0:
            yield "%s CNAME ." % name
            yield "*.%s CNAME ." % name
            i += 2
            continue
        kind = i % 10
        if kind == 8:
            yield "%s CNAME *." % name
        elif kind == 9:
            yield "%s A 127.0.0.2" % name
        else:
            yield "%s CNAME ." % name
        i += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=100000, help="number of rules (default 100000)")
    ap.add_argument("--origin", default="rpz.bench.", help="zone origin (default rpz.bench.)")
    ap.add_argument("--wildcard-every", type=int, default=10,
                    help="every K-th rule name also gets a *. wildcard rule (0 = none)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("-o", "--output", default="-", help="output file (default stdout)")
    args = ap.parse_args()
    if args.n < 0 or args.wildcard_every < 0:
        ap.error("-n and --wildcard-every must not be negative")
    origin = args.origin if args.origin.endswith(".") else args.origin + "."
    rng = random.Random(args.seed)
    out = sys.stdout if args.output == "-" else open(args.output, "w", encoding="ascii")
    try:
        out.write("$ORIGIN %s\n$TTL 300\n" % origin)
        out.write("@ SOA localhost. hostmaster.localhost. 1 3600 600 86400 300\n")
        out.write("@ NS localhost.\n")
        for line in rules(rng, args.n, args.wildcard_every):
            out.write(line + "\n")
    finally:
        if out is not sys.stdout:
            out.close()


if __name__ == "__main__":
    main()
