#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What NSDNAME/NSIP rules cost upstream: tests/integration/test_policy_ns.py's cost case with
# more cold names (N per zone, 5 zones, negative and positive names: 10*N names in all),
# counted at the authorities (NSD) with the name-server rules and with QNAME rules only.
# Usage: bench/ns_cost.sh [BUILD_DIR] [N]   (default build-test, 1000). Needs root (netns).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-test}
n=${2:-1000}
C2W_NS_COLD=$n exec ./scripts/nstest.sh "$build" -R 'integration_test_policy_ns$' -V \
  --timeout 1800
