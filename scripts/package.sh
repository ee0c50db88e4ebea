#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build the Debian package from the tracked files of this checkout and check it with lintian.
# Usage: scripts/package.sh [OUTDIR]   (default: build-deb/). Prints the .deb's path last.
# Install it with: apt install ./build-deb/c2wall_*.deb   (docs/operations.md)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$top/build-deb}")
"$top/scripts/deps.sh"
version=$(sed -n '1s/^c2wall (\([^)]*\)).*/\1/p' "$top/debian/changelog")
work=$(mktemp -d /tmp/c2wall-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
src="$work/c2wall-$version"
mkdir -p "$src" "$out"
(cd "$top" && git ls-files -z | tar --null -T - -cf -) | tar -xf - -C "$src"
(cd "$src" && dpkg-buildpackage -us -uc -b -j"$(nproc)" >"$work/build.log" 2>&1) || {
  tail -60 "$work/build.log"; exit 1; }
deb=$(ls "$work"/c2wall_"$version"_*.deb)
# Errors and warnings fail the build; informational tags are printed.
lintian --fail-on error,warning \
  "$deb" || { echo "package: lintian failed" >&2; exit 1; }
cp "$deb" "$out/"
echo "$out/$(basename "$deb")"
