#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One command from a fresh Debian machine to every test passing: installs what is missing,
# builds with warnings as errors, runs unit, fuzz-corpus and integration tests under CTest.
# Extra arguments go to ctest (e.g. -L unit, -R dns).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
dir=${C2W_BUILD_DIR:-$top/build-test}
"$top/scripts/build.sh" "$dir" -DC2W_WERROR=ON ${C2W_CMAKE_ARGS:-}
cd "$dir"
ctest --output-on-failure --timeout 600 -j"${C2W_TEST_JOBS:-2}" "$@"
