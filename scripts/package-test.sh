#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install a c2wall .deb into a fresh Debian 12 root and boot that root with systemd-nspawn on
# a private network: the service must start hardened (its own user, one capability, the
# seccomp filter), block the sample feed's names, reload, rotate its hit log, be restarted by
# the watchdog when frozen, stop cleanly, and purge. Needs root; the Debian 12 base root is
# made once with debootstrap (Debian packages only) and kept in $C2W_PKGTEST_CACHE.
# Usage: scripts/package-test.sh [path/to/c2wall_*.deb]   (default: builds one first)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
for p in debootstrap systemd-container; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$p" >/dev/null
done
deb=${1:-}
[ -n "$deb" ] || deb=$("$top/scripts/package.sh" | tail -1)
deb=$(realpath "$deb")
cache=${C2W_PKGTEST_CACHE:-/var/cache/c2wall-pkgtest}
base=$cache/bookworm
if [ ! -x "$base/bin/bash" ]; then
  mkdir -p "$cache"
  rm -rf "$base.tmp"
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,logrotate \
    bookworm "$base.tmp" >"$cache/debootstrap.log" 2>&1 || {
    tail -20 "$cache/debootstrap.log"; exit 1; }
  mv "$base.tmp" "$base"
fi
root=$(mktemp -d /tmp/c2wall-pkgtest.XXXXXX)
nspawn_pid=
cleanup() {
  if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
    kill "$nspawn_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$nspawn_pid" 2>/dev/null || true
  fi
  rm -rf "$root"
}
trap cleanup EXIT
cp -a "$base/." "$root/"
cp "$deb" "$root/root/"
# Install with the host's network (apt resolves the package's dependencies), not booted.
systemd-nspawn -q -D "$root" --register=no --keep-unit --pipe bash -c "export DEBIAN_FRONTEND=noninteractive;
  apt-get update -qq && apt-get install -y -qq --no-install-recommends \
  /root/$(basename "$deb") bind9-dnsutils" >"$root.install.log" 2>&1 || {
  tail -30 "$root.install.log"; rm -f "$root.install.log"; exit 1; }
rm -f "$root.install.log"

# Boot it, alone on its own network.
systemd-nspawn -q -D "$root" --boot --private-network --register=no --keep-unit \
  >"$root/boot.log" 2>&1 &
nspawn_pid=$!
init=
# The container's init is nspawn's child running systemd (nspawn may fork a short-lived helper
# first); wait until it has its own namespaces.
for _ in $(seq 200); do
  init=$(pgrep -P "$nspawn_pid" -x systemd | head -1 || true)
  [ -n "$init" ] && [ -e "/proc/$init/ns/user" ] && break
  init=
  sleep 0.1
done
[ -n "$init" ] || { echo "package test: container did not start"; exit 1; }
ct() { nsenter -t "$init" -a "$@"; }

passed=0 failed=0
check() { # check NAME COMMAND...
  local name=$1; shift
  if "$@" >/dev/null 2>&1; then
    passed=$((passed + 1)); echo "ok   $name"
  else
    failed=$((failed + 1)); echo "FAIL $name"
  fi
}
wait_for() { # wait_for SECONDS COMMAND...
  local end=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do [ $SECONDS -lt $end ] || return 1; sleep 0.3; done
}
blocked() { ct dig +time=2 +tries=1 @127.0.0.1 cc.malware.example | grep -q "status: NXDOMAIN"; }
mainpid() { ct systemctl show -p MainPID --value c2wall; }
status_has() { ct grep -q "$1" "/proc/$(mainpid)/status"; }

check "service active after boot" wait_for 60 ct systemctl is-active c2wall
check "blocks the sample feed's name" wait_for 10 blocked
check "runs as the c2wall user" status_has "^Uid:[[:space:]]*$(ct id -u c2wall)[[:space:]]"
check "keeps only CAP_NET_BIND_SERVICE" status_has "^CapEff:[[:space:]]*0000000000000400"
check "seccomp filter in force" status_has "^Seccomp:[[:space:]]*2"
check "watchdog armed" bash -c "[ \"\$(nsenter -t $init -a systemctl show -p WatchdogUSec --value c2wall)\" = 30s ]"
check "c2wall stats answers" bash -c "nsenter -t $init -a c2wall stats | grep -q '\"workers\"'"
check "man page installed" ct test -s /usr/share/man/man8/c2wall-serve.8.gz
check "config readable by root and c2wall only" bash -c "[ \"\$(nsenter -t $init -a stat -c %a:%U:%G /etc/c2wall/c2wall.yaml)\" = 640:root:c2wall ]"
check "systemctl reload succeeds" ct systemctl reload c2wall
ct cp /etc/c2wall/c2wall.yaml /root/c2wall.yaml.good
ct sh -c 'echo "server: [" >> /etc/c2wall/c2wall.yaml'
check "a bad config makes systemctl reload fail" bash -c "! nsenter -t $init -a systemctl reload c2wall"
check "and the old config keeps serving" blocked
ct cp /root/c2wall.yaml.good /etc/c2wall/c2wall.yaml
check "hit log written" ct grep -q cc.malware.example /var/log/c2wall/hits.jsonl
check "logrotate rotates the hit log" ct logrotate -f /etc/logrotate.d/c2wall
blocked || true
check "hits go to the new file after rotation" wait_for 10 ct grep -q cc.malware.example /var/log/c2wall/hits.jsonl
check "rotated file kept" ct test -s /var/log/c2wall/hits.jsonl.1

# The watchdog: a frozen daemon is restarted (interval shortened for the test).
ct mkdir -p /etc/systemd/system/c2wall.service.d
ct sh -c 'printf "[Service]\nWatchdogSec=3s\n" > /etc/systemd/system/c2wall.service.d/test.conf'
ct systemctl daemon-reload
ct systemctl restart c2wall
wait_for 30 blocked || true
before=$(mainpid)
ct sh -c "kill -STOP $before"
check "watchdog restarts a frozen daemon" wait_for 30 bash -c \
  "p=\$(nsenter -t $init -a systemctl show -p MainPID --value c2wall); [ \"\$p\" != 0 ] && [ \"\$p\" != $before ]"
check "and it serves again" wait_for 30 blocked
ct rm -rf /etc/systemd/system/c2wall.service.d
ct systemctl daemon-reload

check "systemctl stop is clean" ct systemctl stop c2wall
check "stopped with result success" bash -c "[ \"\$(nsenter -t $init -a systemctl show -p Result --value c2wall)\" = success ]"
check "purge removes its data" bash -c "nsenter -t $init -a dpkg --purge c2wall && ! nsenter -t $init -a test -e /var/lib/c2wall"

if [ "$failed" -gt 0 ]; then
  ct journalctl -u c2wall --no-pager | tail -40 || true
fi
echo "package test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
