#!/bin/sh
# SPDX-License-Identifier: MIT
# Make the man page of one c2wall command from its --help text (NAME, SYNOPSIS, ... sections,
# body indented by four spaces), so the manual and --help never disagree.
# Usage: mkman.sh C2WALL_BINARY COMMAND VERSION OUT
set -eu
bin=$1 cmd=$2 version=$3 out=$4
exec >"$out.tmp"
upper=$(printf '%s' "c2wall-$cmd" | tr '[:lower:]' '[:upper:]')
printf '.TH %s 8 "" "c2wall %s" "c2wall manual"\n' "$upper" "$version"
"$bin" "$cmd" --help | awk -v cmd="$cmd" '
function esc(s) {
	gsub(/\\/, "\\e", s)
	gsub(/-/, "\\-", s)
	if (s ~ /^[.\047]/) s = "\\&" s
	return s
}
/^[A-Z][A-Z ]*$/ {
	if (open) print ".fi"
	open = 0
	section = $0
	print ".SH " $0
	next
}
section == "NAME" && /^    c2wall / {
	line = $0
	sub(/^    c2wall [a-z]+ - /, "", line)
	print "c2wall\\-" cmd " \\- " esc(line)
	next
}
/^$/ && !open { next }
{
	if (!open) { print ".nf"; open = 1 }
	line = $0
	sub(/^    /, "", line)
	print esc(line)
}
END {
	if (open) print ".fi"
	print ".SH SEE ALSO"
	print ".BR c2wall (8)"
}'
mv "$out.tmp" "$out"
