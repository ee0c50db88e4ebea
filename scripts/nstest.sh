#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run ctest in a private network namespace (its own loopback, so the test world's fixed
# 127.53.0.x addresses do not collide with another run on the same machine).
# Usage: scripts/nstest.sh BUILD_DIR [ctest args]. Needs root (unshare -n).
set -euo pipefail
dir=$1
shift
exec unshare -n bash -c '
  ip link set lo up
  export C2W_WORLD_LOCK=$(mktemp /tmp/c2w-world-ns.XXXXXX)
  cd "$0" && ctest --output-on-failure --timeout 600 "$@"
  rc=$?; rm -f "$C2W_WORLD_LOCK"; exit $rc' "$dir" "$@"
