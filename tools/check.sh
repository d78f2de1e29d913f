#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run every callbox test and end with one line "N passed, N failed".
# Called by `make check` after the build (make userspace ksft-install
# vm-module); exits non-zero on any failure.
#
#   1. host suites: the "host" kselftest collection, run by kselftest's
#      run_kselftest.sh on this machine
#   2. static checks: checkpatch.pl --strict on the kernel code; the
#      module's W=1 and sparse build; the netlink spec against the files
#      generated from it; the library's exports; the build's
#      dependency tracking; a clang build; the selftests' config fragment
#      against the VM's kernel; the guest build kit; the Promela model of
#      the call lifecycle (tools/model-check.sh); a bounded libFuzzer run
#      of the wire decoder (tools/fuzz.sh)
#   3. VM suites: the "vm" collection, run by run_kselftest.sh in QEMU
#      with callbox.ko loaded; a dirty dmesg or a VM that dies fails too
#
# Counts are the "# Totals:" lines of each suite. A suite that never
# prints its totals (crash, hang, VM death), or that the runner reports
# "not ok" (a non-zero exit, a timeout) with no failure counted, counts
# as one failure more.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
build=build
ksft=$build/kselftest
logs=$build/check
rm -rf "$logs"
mkdir -p "$logs"

passed=0
failed=0
skipped=0
failures=()

fail() {
	failed=$((failed + 1))
	failures+=("$1")
}

# One check that is not a suite: NAME, then its command; its output goes
# to $logs/NAME.log and is shown if it fails.
check() {
	local name=$1 log
	shift
	log=$logs/${name//[^a-zA-Z0-9_.-]/_}.log
	if "$@" >"$log" 2>&1; then
		passed=$((passed + 1))
		echo "check: $name"
	else
		cat "$log"
		fail "$name"
	fi
}

# Add the "# Totals:" of suite $1 from log $2; no totals is a failure.
# $3, if given, is the runner's line for it: "ok ..." or "not ok ...".
count_suite() {
	local name=$1 log=$2 verdict=${3:-ok} line p f s
	line=$(grep -E '^(# )*# Totals: pass:' "$log" | tail -n 1 |
		sed -E 's/^(# )*# Totals/# Totals/')
	if [ -z "$line" ]; then
		echo "check: $name: no totals (crashed or never ran): $verdict"
		fail "$name (no totals: $verdict)"
		return
	fi
	p=$(sed -E 's/^# Totals: pass:([0-9]+) .*/\1/' <<<"$line")
	f=$(sed -E 's/^# Totals: pass:[0-9]+ fail:([0-9]+) .*/\1/' <<<"$line")
	s=$(sed -E 's/.* skip:([0-9]+) .*/\1/' <<<"$line")
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
	echo "check: $name: $p passed, $f failed, $s skipped"
	if [ "$f" -ne 0 ]; then
		failures+=("$name: $(grep -E '^(# )*(not ok|#  FAIL)' "$log" | sed -E 's/^(# )+//' | tr '\n' ' ')")
	elif [[ "$verdict" != ok* ]]; then
		# Everything passed, yet the program failed (exit status, timeout).
		fail "$name: $verdict"
	fi
}

# Count every suite of run_kselftest.sh's output $2 for collection $1:
# each is "# selftests: C: NAME", its output prefixed with "# ", then
# "ok N selftests: C: NAME" or "not ok N ...".
count_collection() {
	local collection=$1 out=$2 name verdict
	awk -v dir="$logs/$collection" '
		/^# selftests: / { name = $NF; file = dir "-" name ".log"; next }
		/^(not )?ok [0-9]+ selftests: / { print > (file ".verdict"); file = ""; next }
		file != "" { print > file }' "$out"
	for name in $(sed -n "s/^$collection://p" "$ksft/kselftest-list.txt"); do
		verdict=$(cat "$logs/$collection-$name.log.verdict" 2>/dev/null ||
			echo "never ran")
		[ -f "$logs/$collection-$name.log" ] || : >"$logs/$collection-$name.log"
		count_suite "$collection/$name" "$logs/$collection-$name.log" "$verdict"
	done
}

# ---- 1. host suites ----
# The runner reopens /dev/stdout to append each test's output: the log
# must be in append mode too, or the two overwrite each other.
(cd "$ksft" && ./run_kselftest.sh -c host) >>"$logs/host.log" 2>&1
count_collection host "$logs/host.log"

# ---- 2. static checks ----
ksrc=$build/ksft/scripts
if [ ! -x "$ksrc/checkpatch.pl" ]; then
	mkdir -p "$build/ksft"
	tar -xJf /usr/src/linux-source-6.1.tar.xz -C "$build/ksft" \
		--strip-components=1 linux-source-6.1/scripts/checkpatch.pl \
		linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch
fi
# Only the sources: an in-tree module build leaves generated kmod/*.mod.c.
kfiles=(kmod/*.h uapi/linux/*.h)
for f in kmod/*.c; do
	case "$f" in *.mod.c) ;; *) kfiles+=("$f") ;; esac
done
for f in "${kfiles[@]}"; do
	check "checkpatch --strict $f" \
		"$ksrc/checkpatch.pl" --strict --no-tree --quiet -f "$f"
done
# The VM module was built with W=1 and sparse; the build fails on any
# warning (see the Makefile), so reaching here means it was clean.
check "callbox.ko builds clean with W=1 and sparse" test -f "$build/kmod-vm/callbox.ko"

# The library exports its header's functions, by name, and nothing else.
tools/check-exports.sh >"$logs/exports.log" 2>&1
count_suite exports "$logs/exports.log"

# The netlink spec and the files generated from it agree.
tools/check-nlspec.sh >"$logs/nlspec.log" 2>&1
count_suite nlspec "$logs/nlspec.log"

# Every object is rebuilt when a header it includes changes.
tools/check-build.sh >"$logs/build-deps.log" 2>&1
count_suite build-deps "$logs/build-deps.log"

# The userspace and the tests build with clang too, from a clean directory
# outside build/ (whose dependency files check-build.sh reads), in parallel.
clang_build=$(mktemp -d)
check "make CC=clang userspace selftests" \
	make --no-print-directory -j"$(nproc)" BUILD="$clang_build" CC=clang \
	WERROR=1 userspace selftests
rm -rf "$clang_build"

# Every option the VM suites need is set in the kernel the VM boots.
config_ok() {
	local config=/boot/config-$(tools/vm/kernel.sh --kver) opt ok=0
	while read -r opt; do
		case "$opt" in "" | "#"*) continue ;; esac
		grep -qxF -- "$opt" "$config" || { echo "$config lacks $opt"; ok=1; }
	done <selftests/vm/config
	return $ok
}
check "the VM's kernel has every option of selftests/vm/config" config_ok

# The guest build kit: a user's guest, outside guest/, in one command.
check "make guest SRC=... builds a user's guest" \
	make --no-print-directory guest SRC=selftests/guests/kit_guest.c

# The model: the call state machine, checked exhaustively by spin.
tools/model-check.sh >"$logs/model-check.log" 2>&1
count_suite model "$logs/model-check.log"

# Fuzzing: the wire decoder reads hostile guest memory.
tools/fuzz.sh >"$logs/fuzz-wire.log" 2>&1
count_suite fuzz/wire "$logs/fuzz-wire.log"

# ---- 3. the VM ----
# The "vm" collection, then "tsan": the outcome test again, built with
# ThreadSanitizer, the one dynamic program, which takes its loader and
# libraries along (--add-libs), as do iproute2's genl and libnl's
# genl-ctrl-list, which show the netlink family as operators see it.
guests=()
for g in "$build"/guest/*.elf; do
	guests+=(--add "$g:/guests/")
done
tools/vm/run.sh --timeout 1500 --log "$logs/vm-console.log" \
	--module "$build/kmod-vm/callbox.ko" \
	--add "$build/callbox:/bin/callbox" \
	--add tools/vm/timeout:/usr/bin/timeout \
	--add "$ksft/run_kselftest.sh:/kselftest/" \
	--add "$ksft/kselftest-list.txt:/kselftest/" \
	--add "$ksft/kselftest:/kselftest/" \
	--add "$ksft/vm:/kselftest/" \
	--add "$ksft/tsan:/kselftest/" \
	--add-libs "$ksft/tsan/outcome_tsan_test" \
	--add /usr/sbin/genl:/usr/sbin/genl --add-libs /usr/sbin/genl \
	--add /usr/bin/genl-ctrl-list:/usr/bin/genl-ctrl-list \
	--add-libs /usr/bin/genl-ctrl-list \
	"${guests[@]}" \
	-- "cd /kselftest && ./run_kselftest.sh -c vm -c tsan" \
	>"$logs/vm.log" 2>"$logs/vm.err"
vm_rc=$?
cat "$logs/vm.log"
count_collection vm "$logs/vm.log"
count_collection tsan "$logs/vm.log"
if grep -qE 'vm: (timeout|kernel panicked|dmesg)' "$logs/vm.err"; then
	cat "$logs/vm.err"
	# The suites' own failures are counted already; a VM-level failure
	# (panic, timeout, kernel warning in dmesg) is one more.
	fail "vm: $(grep -E '^vm: ' "$logs/vm.err" | head -n 1)"
elif [ "$vm_rc" -ne 0 ] && ! grep -q '^not ok' "$logs/vm.log"; then
	cat "$logs/vm.err"
	fail "vm: exit status $vm_rc"
else
	passed=$((passed + 1))
	echo "check: vm: dmesg clean, verdict received"
fi

echo
if [ "${#failures[@]}" -ne 0 ]; then
	echo "Failures:"
	printf '  %s\n' "${failures[@]}"
fi
if [ "$skipped" -ne 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
