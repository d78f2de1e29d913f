#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# libcallbox exports what its public header declares, and nothing else,
# from both of its forms. Four lists must be the same set of names:
#
#   map     the global: names of lib/libcallbox.map, each by name (a glob
#           fails the check)
#   header  the functions the public headers (<callbox/...>, as they
#           install in build/include) declare, as the compiler sees them
#           (-aux-info), not as a regex reads them
#   shared  the functions build/libcallbox.so.1 defines in its dynamic
#           symbol table
#   static  the global symbols build/libcallbox.a defines
#
# Prints kselftest-style TAP with a "# Totals:" line; exits 1 on a mismatch.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
build=${BUILD:-build}
map=lib/libcallbox.map
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

. selftests/vm/tap.sh

echo "TAP version 13"

# The map: names between "global:" and "local:".
sed -n '/global:/,/local:/p' "$map" | sed '1d;$d' |
	sed 's/[[:space:]]//g; s/;$//; /^$/d; /^#/d' | sort >"$tmp/map"
! grep -q '[*?[]' "$tmp/map"
tap_result $? "the map names every symbol, no globs"

# The headers, through the compiler: every function they declare.
for h in "$build"/include/callbox/*.h; do
	echo "#include <callbox/$(basename "$h")>"
done >"$tmp/h.c"
${CC:-cc} -I"$build/include" -fsyntax-only -aux-info "$tmp/aux" "$tmp/h.c"
# "NC" marks a declaration; static inline helpers ("NF", definitions)
# are not exported, they are compiled into the caller.
grep -F "/* $build/include/callbox/" "$tmp/aux" | grep -E '^/\* [^ ]*:NC \*/ extern ' |
	sed -E 's/^[^*]*\*\/ *//; s/ *\(.*//; s/.*[ *]//' | sort -u >"$tmp/header"

check_same() {
	local what=$1 file=$2
	if diff -u "$tmp/map" "$file" >"$tmp/diff"; then
		tap_result 0 "$what exports what the map lists"
	else
		sed 's/^/# /' "$tmp/diff"
		tap_result 1 "$what exports what the map lists"
	fi
}

if diff -u "$tmp/map" "$tmp/header" >"$tmp/diff"; then
	tap_result 0 "the map lists what the public headers declare"
else
	echo "# - map only, + header only:"
	sed 's/^/# /' "$tmp/diff"
	tap_result 1 "the map lists what the public headers declare"
fi

nm -D --defined-only "$build/libcallbox.so.1" | awk '$2 ~ /^[TDBRW]$/ { print $3 }' |
	sed 's/@.*//' | grep -v '^LIBCALLBOX' | sort -u >"$tmp/shared"
check_same "libcallbox.so.1" "$tmp/shared"

nm -g --defined-only "$build/libcallbox.a" 2>/dev/null |
	awk 'NF == 3 { print $3 }' | sort -u >"$tmp/static"
check_same "libcallbox.a" "$tmp/static"

tap_totals
