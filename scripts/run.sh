#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One command from a fresh Debian machine to a running c2wall: installs what is missing,
# builds, and runs the resolver in the foreground with conf/c2wall.yaml on 127.0.0.1:5353
# and [::1]:5353 with the sample C&C feed. Stop it with Ctrl-C.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
"$top/scripts/build.sh" "$top/build" -DC2W_WERROR=OFF -DBUILD_TESTING=OFF
echo "c2wall: try  dig @127.0.0.1 -p 5353 cc.malware.example   (blocked by feeds/sample-c2.rpz)"
exec "$top/build/c2wall" serve --config "$top/conf/c2wall.yaml" "$@"
