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

. selftests/vm/tap.sh

# The dependency files make reads: those it includes, as MAKEFILE_LIST
# names them (the top level's and each collection of selftests'). A
# dependency file left in build/ by an older layout of the tree is not
# among them, and says nothing about today's build.
included_deps() {
	local dir
	make -pnq --no-print-directory "${goals[@]}" 2>/dev/null |
		sed -n 's/^MAKEFILE_LIST := //p'
	for dir in selftests/*/; do
		dir=${dir%/}
		[ -f "$dir/Makefile" ] || continue
		make -pnq --no-print-directory -C "$dir" TOP="$root" \
			CALLBOX_BUILD="$root/$build" KSFT="$root/$build/ksft" \
			OUTPUT="$root/$build/$dir" all 2>/dev/null |
			sed -n 's/^MAKEFILE_LIST := //p'
	done
}
# The objects a build from scratch compiles from C or assembly (-c),
# as make -n -B lists them; the BPF object aside (clang -target bpf
# writes no dependency file, and includes nothing of ours).
compiled_objects() {
	local dir
	{
		make -nB --no-print-directory "${goals[@]}" 2>/dev/null
		for dir in selftests/*/; do
			dir=${dir%/}
			make -nB --no-print-directory -C "$dir" TOP="$root" \
				CALLBOX_BUILD="$root/$build" \
				KSFT="$root/$build/ksft" \
				OUTPUT="$root/$build/$dir" all 2>/dev/null
		done
	} | grep -E '(^| )-c( |$)' | grep -v -- '-target bpf' |
		grep -oE -- '-o [^ ]+\.o( |$)' | sed -e 's/^-o //' -e 's/ $//' \
		-e "s|^$root/||" | sort -u
}
# Guests built on request (make guest SRC=...) are goals too.
for d in "$build"/guest/obj/*.d; do
	[ -f "$d" ] && goals+=("$build/guest/$(basename "${d%.d}").elf")
done
mapfile -t deps < <(included_deps | tr ' ' '\n' | grep '\.d$' |
	sed "s|^$root/||" | sort -u)
declare -A included
for d in "${deps[@]}"; do included[$d]=1; done
echo "TAP version 13"

# Every object and test program has a dependency file that make reads.
missing=0
while read -r obj; do
	if [ -z "${included[${obj%.o}.d]:-}" ]; then
		echo "# make reads no dependency file for $obj"
		missing=1
	fi
done < <(compiled_objects)
for dir in "$build"/selftests/*/; do
	for prog in $(make -s --no-print-directory -C "selftests/$(basename "$dir")" \
		TOP="$root" CALLBOX_BUILD="$root/$build" KSFT="$root/$build/ksft" \
		OUTPUT="$root/$dir" emit_tests COLLECTION=x |
		sed -n 's/^x://p'); do
		case "$prog" in *.sh) continue ;; esac
		if [ -z "${included[$dir$prog.d]:-}" ]; then
			echo "# make reads no dependency file for $dir$prog"
			missing=1
		fi
	done
done
tap_result "$missing" "make reads a dependency file for every object and test program"

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
		tap_result 1 "touching $h rebuilds its $(wc -w <<<"${includers[$h]}") includers"
	else
		tap_result 0 "touching $h rebuilds its $(wc -w <<<"${includers[$h]}") includers"
	fi
done
tap_totals
