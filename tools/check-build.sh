#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The build knows what every object includes: for each header of the
# project, make must want to rebuild every object (or program compiled
# from source) that includes it. The truth of "includes" is the
# compiler's: the dependency files -MMD wrote. The question is whether
# make reads them all: "make -n -W HEADER" (as if HEADER had just been
# touched) must list a command that writes each includer.
#
# Also: every object has its dependency file.
#
# Run after a full build (make userspace selftests). Prints kselftest-style
# TAP with a "# Totals:" line; exits 1 on a failure.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
build=build
goals=(userspace selftests)

n=0 pass=0 fail=0
result() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		pass=$((pass + 1))
		echo "ok $n $2"
	else
		fail=$((fail + 1))
		echo "not ok $n $2"
	fi
}

# The dependency files of everything compiled here, the module's Kbuild
# and the extracted kernel files aside.
mapfile -t deps < <(find "$build" -name '*.d' -not -path "$build/kmod*" \
	-not -path "$build/ksft/*" -not -path "$build/kselftest/*" \
	-not -path "$build/fuzz/*" -not -path "$build/model/*" | sort)
# Guests built on request (make guest SRC=...) are goals too.
for d in "$build"/guest/obj/*.d; do
	[ -f "$d" ] && goals+=("$build/guest/$(basename "${d%.d}").elf")
done
echo "TAP version 13"

# Every object and test program has its dependency file.
missing=0
while read -r obj; do
	if [ ! -f "${obj%.o}.d" ]; then
		echo "# no dependency file for $obj"
		missing=1
	fi
done < <(find "$build/lib" "$build/shared" "$build/tools" "$build/guest" \
	"$build/selftests" -name '*.o' -not -name '*.bpf.o' \
	-not -name libcallbox.o)
for dir in "$build"/selftests/*/; do
	for prog in $(make -s --no-print-directory -C "selftests/$(basename "$dir")" \
		TOP="$root" CALLBOX_BUILD="$root/$build" KSFT="$root/$build/ksft" \
		OUTPUT="$root/$dir" emit_tests COLLECTION=x |
		sed -n 's/^x://p'); do
		case "$prog" in *.sh) continue ;; esac
		if [ ! -f "$dir/$prog.d" ]; then
			echo "# no dependency file for $dir$prog"
			missing=1
		fi
	done
done
result "$missing" "every object and test program has a dependency file"

# header -> the targets whose dependency file names it. A header is
# named as the compiler named it: relative to where that make runs.
declare -A includers
for d in "${deps[@]}"; do
	target=$(sed -n '1s/:.*//p' "$d")
	prereqs=$(sed -e ':a;/\\$/{N;s/\\\n//;ba}' "$d" | sed -n '1s/^[^:]*://p')
	# Left over from a source that is gone (a renamed test, say): not
	# part of the build any more. A relative source is the selftests'.
	read -r src _ <<<"$prereqs"
	case "$src" in
	/*) ;;
	*) [ -e "$src" ] || src=selftests/$(basename "$(dirname "$d")")/$src ;;
	esac
	if [ ! -e "$src" ]; then
		echo "# stale, ignored: $d"
		continue
	fi
	for h in $prereqs; do
		case "$h" in
		*.h) ;;
		*) continue ;;
		esac
		# Headers of this project only.
		case "$h" in
		/*) [[ "$h" == "$root"/* && "$h" != "$root/$build/ksft/"* ]] || continue ;;
		esac
		includers[$h]+=" $target"
	done
done

# make does not pass -W on to sub-makes, so each collection of selftests
# is asked directly, with the variables the top-level Makefile gives it
# (see selftests/Makefile).
what_if() {
	local h=$1 dir
	make -n --no-print-directory -W "$h" "${goals[@]}" 2>&1
	for dir in selftests/*/; do
		dir=${dir%/}
		make -n --no-print-directory -W "$h" -C "$dir" \
			TOP="$root" CALLBOX_BUILD="$root/$build" \
			KSFT="$root/$build/ksft" OUTPUT="$root/$build/$dir" \
			all 2>&1
	done
}

for h in $(printf '%s\n' "${!includers[@]}" | sort); do
	out=$(what_if "$h")
	bad=
	for t in ${includers[$h]}; do
		grep -qF -- "-o $t" <<<"$out" || grep -qF -- "-o $root/$t" <<<"$out" ||
			bad+=" $t"
	done
	if [ -n "$bad" ]; then
		echo "# touching $h rebuilds none of:$bad"
		result 1 "touching $h rebuilds its $(wc -w <<<"${includers[$h]}") includers"
	else
		result 0 "touching $h rebuilds its $(wc -w <<<"${includers[$h]}") includers"
	fi
done
echo "1..$n"
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ "$fail" -eq 0 ]
