#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Configure and build c2wall into a build directory. Usage: scripts/build.sh DIR [cmake args]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/build}
shift || true
cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
