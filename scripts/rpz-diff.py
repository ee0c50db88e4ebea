#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Long generated differential run of RPZ answers against BIND 9 (issue 13).

Usage (in a private network namespace: the generated world uses fixed 127.54.0.x addresses):
  unshare -n bash -c 'ip link set lo up; C2WALL_BIN=build-test/c2wall \
      scripts/rpz-diff.py --seeds 1-5 --queries 600 [--no-ns] [--test bind] [-v]'

For each seed: a new random world, policy and query list (tests/integration/rpz_gen.py), each
query sent to BIND and to the resolver under test, policy zones in their order and reversed.
Prints a per-seed line and a summary of the differences by class; -v prints each difference.
Exit 1 when any query differs in a class not listed as intended (rpz_gen.INTENDED).
"""
import argparse
import collections
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

import rpz_gen  # noqa: E402


def seeds_of(text):
    out = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            out += list(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="1")
    ap.add_argument("--queries", type=int, default=600)
    ap.add_argument("--no-ns", action="store_true", help="no NSDNAME/NSIP rules")
    ap.add_argument("--strip-ns", action="store_true",
                    help="the policy of a run with NS rules, without them (attribution)")
    ap.add_argument("--test", default="c2wall", choices=["c2wall", "bind"])
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    total = 0
    diffs = []
    for seed in seeds_of(a.seeds):
        ns = "strip" if a.strip_ns else not a.no_ns
        n, d = rpz_gen.run(seed, a.queries, under_test=a.test, ns_rules=ns,
                           log=lambda m: print(m, flush=True))
        total += 2 * n
        diffs += [(seed,) + x for x in d]
    by = collections.Counter()
    for seed, order, q, ra, rb in diffs:
        by[rpz_gen.classify(q, ra, rb)] += 1
    print("\nSUMMARY: %d queries (%s), %d differ; NS rules %s; under test %s" %
          (total, a.seeds, len(diffs),
           "stripped" if a.strip_ns else "off" if a.no_ns else "on", a.test))
    for k, v in by.most_common():
        print("  %-14s %d%s" % (k, v, "  (intended, docs/policy.md)" if k in rpz_gen.INTENDED
                                else ""))
    if a.v:
        for seed, order, q, ra, rb in sorted(diffs, key=lambda x: rpz_gen.classify(x[2], x[3],
                                                                                  x[4])):
            print("[%s] seed %s %s" % (rpz_gen.classify(q, ra, rb), seed,
                                       rpz_gen.describe((order, q, ra, rb))))
    return 1 if any(rpz_gen.classify(q, ra, rb) not in rpz_gen.INTENDED
                    for _, _, q, ra, rb in diffs) else 0


if __name__ == "__main__":
    sys.exit(main())
