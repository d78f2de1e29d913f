#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The man pages in man/ are complete and render cleanly:
#
#   exports   every symbol of $BUILD/lib/exports.list (the library's
#             exports, from lib/libcallbox.map) has man/man3/SYMBOL.3: a
#             page, or a link file ".so man3/PAGE.3"
#   links     every .so link names a page that exists and is not itself a
#             link
#   render    every page (not the links) formats with man-db's man -l,
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
cli=$build/callbox
uapi=uapi/linux/callbox.h
man1=man/man1/callbox.1
man4=man/man4/callbox.4

. selftests/vm/tap.sh

# "# "-prefixed diagnostics, for lines TAP must not take as results.
diag() {
	sed 's/^/# /'
}

# A link file holds one line, ".so man3/PAGE.3" (man-db's convention).
is_link() {
	head -n 1 "$1" | grep -q '^\.so '
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
[ "${#pages[@]}" -gt 0 ]
tap_result $? "render: man/ has pages (${#pages[@]})"
[ "${#cmds[@]}" -gt 0 ]
tap_result $? "commands: $cli --help lists commands (${#cmds[@]})"
[ "${#ioctl_names[@]}" -gt 0 ]
tap_result $? "ioctls: $uapi defines ioctls (${#ioctl_names[@]})"
command -v man >/dev/null && command -v groff >/dev/null
tap_result $? "render: man and groff are installed"

# ---- (a) every export has its man3 file ----

for sym in "${symbols[@]}"; do
	test -f "man/man3/$sym.3"
	tap_result $? "exports: man/man3/$sym.3"
done

# ---- (b) every link names an existing page ----

for f in "${links[@]}"; do
	target=$(sed -n '1s/^\.so[[:space:]]\{1,\}//p' "$f")
	ok=1
	if [ "$(wc -l <"$f")" -ne 1 ]; then
		echo "$f: more than the one .so line" | diag
	elif [ -z "$target" ] || [ ! -f "man/$target" ]; then
		echo "$f: '.so $target': no such page" | diag
	elif is_link "man/$target"; then
		echo "$f: '.so $target' is itself a link" | diag
	else
		ok=0
	fi
	tap_result "$ok" "links: $f -> ${target:-?}"
done

# ---- (c) every page renders without a warning ----

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
