#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install every Debian package c2wall needs to build, run and test. Idempotent: packages that
# are already installed are skipped, so a second run costs nothing. Needs root.
set -euo pipefail

PKGS=(
  # build
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libunbound-dev libevent-dev liburcu-dev libyaml-dev libssl-dev libsqlite3-dev
  libfstrm-dev libprotobuf-c-dev protobuf-c-compiler libxxhash-dev libcurl4-openssl-dev
  libknot-dev libseccomp-dev libsystemd-dev libjemalloc-dev
  # Debian package (debian/): scripts/package.sh
  debhelper lintian help2man fakeroot
  # run: root hints and trust anchor
  dns-root-data
  # tests: real clients, real authoritative servers, real peers
  python3 python3-dnspython dnsutils bind9-dnsutils knot-dnsutils nsd knot bind9 bind9-utils
  unbound dnstap-ldns fstrm-bin curl openssl sqlite3 iproute2 procps
  # holds one daemon thread at a chosen point while the others run (test_feeds_reload_race)
  gdb
  # sinkhole page rendering tests
  chromium fonts-noto-cjk
  # metrics checks: promtool and a real scraping server; the dashboard's charts (served
  # from /usr/share/javascript at run time, tested in chromium)
  prometheus libjs-chart.js
  # benchmarks (bench/): dnsperf and the peers we compare with; bench/ixfr.py --via-ctl and
  # test_feeds_fold.py change the primary through Knot's control socket (python3-libknot)
  dnsperf pdns-recursor knot-resolver dnsdist python3-libknot
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: need root to install: ${missing[*]}" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}"
# Servers we install only as test peers must not start as system services (they would take
# port 53 on this machine); our tests start their own instances.
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  created_policy=1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [ "$created_policy" -eq 1 ]; then
  rm -f /usr/sbin/policy-rc.d
fi
