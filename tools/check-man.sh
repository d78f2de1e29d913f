#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The man pages in man/ are complete and render cleanly:
#
#   exports   every symbol of $BUILD/lib/exports.list (the library's
#             exports, from lib/libcallbox.map) has man/man3/SYMBOL.3: a
#             page, or a link file ".so man3/PAGE.3" or ".so man7/PAGE.7"
#   inline    so has every static inline function that the installed host
#             headers define ($BUILD/include/callbox/*.h, the headers as
#             the build lays them out for install)
#   links     every .so link names a page of man3 or man7 (".so man3/P.3",
#             ".so man7/P.7") that exists and is not itself a link
#   render    man1, man3, man4 and man7 have pages, and every page (not
#             the links), man7's included, formats with man-db's man -l,
#             with every groff warning on, and groff says nothing on
#             stderr; with mandoc installed, "mandoc -T lint -W warning"
#             says nothing either
#   commands  every command "$BUILD/callbox --help" lists has a section or
#             subsection of its own in man/man1/callbox.1
#   ioctls    every ioctl uapi/linux/callbox.h defines (#define
#             CALLBOX_... _IO...) is named in man/man4/callbox.4
#
# BUILD (default build) is the build directory. Prints kselftest-style TAP
# with a "# Totals:" line; exits 1 if any check fails.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
build=${BUILD:-build}
exports=$build/lib/exports.list
headers=$build/include/callbox
cli=$build/callbox
uapi=uapi/linux/callbox.h
man1=man/man1/callbox.1
man4=man/man4/callbox.4

. selftests/vm/tap.sh

# "# "-prefixed diagnostics, for lines TAP must not take as results.
diag() {
	sed 's/^/# /'
}

# A link file holds one line, ".so man3/PAGE.3" (man-db's convention), or
# ".so man7/PAGE.7".
is_link() {
	head -n 1 "$1" | grep -q '^\.so '
}

# The functions the headers FILE... define static inline, one name a line:
# comments and __attribute__((...)) dropped first, each file joined into
# one line, then every "static inline TYPE NAME(PARAMS) {" (either order
# of static and inline, or __inline__) gives NAME. A prototype without a
# body (";") defines nothing.
inline_functions() {
	local f
	for f in "$@"; do
		sed -zE 's@/\*([^*]|\*+[^*/])*\*+/@ @g' "$f" | tr '\n\0' '  ' |
			sed -E ':a; s/__attribute__[[:space:]]*\(\(([^()]|\([^()]*\))*\)\)//; ta' |
			grep -oE '(static[[:space:]]+(__)?inline(__)?|(__)?inline(__)?[[:space:]]+static)[[:space:]][^;{}()=]*\(([^()]|\([^()]*\))*\)[[:space:]]*\{' |
			sed -E 's/\(.*//; s/[[:space:]]+$//; s/.*[^A-Za-z0-9_]//'
	done | sort -u
}

# The subcommands "callbox --help" lists: the first word of each line
# between "Commands:" and the next blank line.
commands() {
	"$cli" --help 2>/dev/null |
		awk '/^Commands:/ { on = 1; next } on && /^$/ { exit }
		     on { print $1 }'
}

# The ioctls of the uapi header, continuation lines joined first.
ioctls() {
	sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$uapi" |
		sed -nE 's/^#define[[:space:]]+(CALLBOX_[A-Z0-9_]+)[[:space:]]+_IO(R|W|WR)?\(.*/\1/p'
}

# ---- what there is to check ----

mapfile -t symbols < <(grep -v '^[[:space:]]*$' "$exports" 2>/dev/null)
header_files=()
for f in "$headers"/*.h; do
	[ -e "$f" ] && header_files+=("$f")
done
inlines=()
if [ "${#header_files[@]}" -gt 0 ]; then
	# An inline function that is exported too is checked as an export.
	mapfile -t inlines < <(inline_functions "${header_files[@]}" |
		grep -vxF -f <(printf '%s\n' "${symbols[@]}" ""))
fi
pages=() links=()
for f in man/man[0-9]/*.[0-9]; do
	[ -e "$f" ] || continue
	if is_link "$f"; then
		links+=("$f")
	else
		pages+=("$f")
	fi
done
mapfile -t cmds < <(commands)
mapfile -t ioctl_names < <(ioctls 2>/dev/null)

echo "TAP version 13"

# ---- the inputs ----

[ "${#symbols[@]}" -gt 0 ]
tap_result $? "exports: $exports lists symbols (${#symbols[@]})"
[ "${#header_files[@]}" -gt 0 ]
tap_result $? "inline: $headers has headers (${#header_files[@]}; ${#inlines[@]} inline functions)"
[ "${#pages[@]}" -gt 0 ]
tap_result $? "render: man/ has pages (${#pages[@]})"
# (tap.sh counts the tests in n: count in a name of our own.)
for sec in 1 3 4 7; do
	in_sec=0
	for f in "${pages[@]}"; do
		case $f in man/man$sec/*) in_sec=$((in_sec + 1)) ;; esac
	done
	[ "$in_sec" -gt 0 ]
	tap_result $? "render: man/man$sec has pages ($in_sec)"
done
[ "${#cmds[@]}" -gt 0 ]
tap_result $? "commands: $cli --help lists commands (${#cmds[@]})"
[ "${#ioctl_names[@]}" -gt 0 ]
tap_result $? "ioctls: $uapi defines ioctls (${#ioctl_names[@]})"
command -v man >/dev/null && command -v groff >/dev/null
tap_result $? "render: man and groff are installed"

# ---- (a) every export, and every inline function, has its man3 file ----

for sym in "${symbols[@]}"; do
	test -f "man/man3/$sym.3"
	tap_result $? "exports: man/man3/$sym.3"
done

for fn in "${inlines[@]}"; do
	test -f "man/man3/$fn.3"
	tap_result $? "inline: man/man3/$fn.3"
done

# ---- (b) every link names an existing page of man3 or man7 ----

for f in "${links[@]}"; do
	target=$(sed -n '1s/^\.so[[:space:]]\{1,\}//p' "$f")
	ok=1
	if [ "$(wc -l <"$f")" -ne 1 ]; then
		echo "$f: more than the one .so line" | diag
	elif ! [[ "$target" =~ ^man3/[^/]+\.3$ || "$target" =~ ^man7/[^/]+\.7$ ]]; then
		echo "$f: '.so $target': not man3/PAGE.3 or man7/PAGE.7" | diag
	elif [ ! -f "man/$target" ]; then
		echo "$f: '.so $target': no such page" | diag
	elif is_link "man/$target"; then
		echo "$f: '.so $target' is itself a link" | diag
	else
		ok=0
	fi
	tap_result "$ok" "links: $f -> ${target:-?}"
done

# ---- (c) every page, man7's too, renders without a warning ----

# man-db 2.11: -l formats a local file, -T sends groff's output (for the
# utf8 device) to stdout instead of a pager, and --warnings passes -w to
# groff. groff's "all" leaves out the mac, di and reg warnings, so an
# undefined macro would pass; "w" is every warning. Warnings go to stderr.
for f in "${pages[@]}"; do
	out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings=w -l -Tutf8 "$f" \
		2>&1 >/dev/null)
	rc=$?
	if command -v mandoc >/dev/null; then
		lint=$(mandoc -T lint -W warning "$f" 2>&1)
		[ -n "$lint" ] && out+="${out:+$'\n'}$lint"
	fi
	[ -n "$out" ] && echo "$out" | diag
	[ "$rc" -eq 0 ] && [ -z "$out" ]
	tap_result $? "render: $f"
done

# ---- (d) every subcommand has its section in callbox.1 ----

for cmd in "${cmds[@]}"; do
	grep -Eq "^\.S[HS] \"?(callbox )?$cmd\"?[[:space:]]*$" "$man1"
	tap_result $? "commands: $man1 has a section for '$cmd'"
done

# ---- (e) every ioctl is named in callbox.4 ----

for name in "${ioctl_names[@]}"; do
	grep -qw -- "$name" "$man4"
	tap_result $? "ioctls: $man4 names $name"
done

tap_totals
