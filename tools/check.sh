#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run every callbox test and end with one line "N passed, N failed".
# Called by `make check` after the build; exits non-zero on any failure.
#
#   1. host tests: code that needs no kernel (ELF loader, memory layout)
#   2. static checks: checkpatch.pl --strict on the kernel code, the
#      Promela model of the call lifecycle (tools/model-check.sh), and a
#      bounded libFuzzer run of the wire decoder (tools/fuzz.sh)
#   3. VM suites: the kselftest suites and the CLI test, in QEMU with
#      callbox.ko loaded; a dirty dmesg or a VM that dies fails too
#
# Counts are the kselftest "# Totals:" lines of each suite. A suite that
# never prints its totals (crash, hang, VM death) counts as one failure.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
build=build
logs=$build/check
mkdir -p "$logs"

passed=0
failed=0
skipped=0
failures=()

fail() {
	failed=$((failed + 1))
	failures+=("$1")
}

# Add the "# Totals:" of suite $1 from log $2; no totals is a failure.
count_suite() {
	local name=$1 log=$2 line p f s
	line=$(grep -E '^# Totals: pass:' "$log" | tail -n 1)
	if [ -z "$line" ]; then
		echo "check: $name: no totals (crashed or never ran)"
		fail "$name (no totals)"
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
		failures+=("$name: $(grep -E '^(not ok|#  FAIL|# FAIL)' "$log" | tr '\n' ' ')")
	fi
}

# ---- 1. host tests ----
for t in "$build"/host-tests/*_test; do
	name=host/$(basename "$t")
	"$t" >"$logs/$(basename "$t").log" 2>&1
	count_suite "$name" "$logs/$(basename "$t").log"
done

# ---- 2. static checks on the kernel side ----
ksrc=$build/ksft/scripts
if [ ! -x "$ksrc/checkpatch.pl" ]; then
	mkdir -p "$build/ksft"
	tar -xJf /usr/src/linux-source-6.1.tar.xz -C "$build/ksft" \
		--strip-components=1 linux-source-6.1/scripts/checkpatch.pl \
		linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch
fi
# Only the sources: an in-tree module build leaves generated kmod/*.mod.c.
kfiles=(kmod/*.h uapi/linux/callbox.h)
for f in kmod/*.c; do
	case "$f" in *.mod.c) ;; *) kfiles+=("$f") ;; esac
done
for f in "${kfiles[@]}"; do
	if "$ksrc/checkpatch.pl" --strict --no-tree --quiet -f "$f" \
		>"$logs/checkpatch.log" 2>&1; then
		passed=$((passed + 1))
	else
		cat "$logs/checkpatch.log"
		fail "checkpatch --strict $f"
	fi
done
echo "check: checkpatch --strict on ${#kfiles[@]} files"
# The VM module was built with W=1 and sparse; the build fails on any
# warning (see the Makefile), so reaching here means it was clean.
passed=$((passed + 1))
echo "check: callbox.ko builds clean with W=1 and sparse"

# ---- the guest build kit: a user's guest, outside guest/, in one command ----
if make --no-print-directory guest SRC=selftests/guests/kit_guest.c \
	>"$logs/guest-kit.log" 2>&1 && [ -f "$build/guest/kit_guest.elf" ]; then
	passed=$((passed + 1))
	echo "check: make guest SRC=... builds a user's guest"
else
	cat "$logs/guest-kit.log"
	fail "make guest SRC=selftests/guests/kit_guest.c"
fi

# ---- the model: the call state machine, checked exhaustively by spin ----
tools/model-check.sh >"$logs/model-check.log" 2>&1
count_suite model "$logs/model-check.log"

# ---- fuzzing: the wire decoder reads hostile guest memory ----
tools/fuzz.sh >"$logs/fuzz-wire.log" 2>&1
count_suite fuzz/wire "$logs/fuzz-wire.log"

# ---- 3. the VM ----
guests=()
for g in "$build"/guest/*.elf; do
	guests+=(--add "$g:/guests/")
done
suites=()
adds=()
for t in "$build"/selftests/*_test; do
	suites+=("$(basename "$t")")
	adds+=(--add "$t:/selftests/")
done
for t in selftests/vm/*_test.sh; do
	suites+=("$(basename "$t")")
	adds+=(--add "$t:/selftests/")
done
tools/vm/run.sh --timeout 1200 --log "$logs/vm-console.log" \
	--module "$build/kmod-vm/callbox.ko" \
	--add "$build/callbox:/bin/callbox" \
	"${adds[@]}" \
	"${guests[@]}" \
	--script selftests/vm/run-in-vm.sh >"$logs/vm.log" 2>"$logs/vm.err"
vm_rc=$?
cat "$logs/vm.log"
for suite in "${suites[@]}"; do
	# Each suite's output, from its header to the next one.
	awk -v s="=== suite $suite" '$0 == s { on = 1; next }
		/^=== suite / { on = 0 } on' "$logs/vm.log" >"$logs/vm-$suite.log"
	count_suite "vm/$suite" "$logs/vm-$suite.log"
done
if [ "$vm_rc" -ne 0 ]; then
	cat "$logs/vm.err"
	# The suites' own failures are counted already; a VM-level failure
	# (panic, timeout, kernel warning in dmesg) is one more.
	if grep -qE 'vm: (timeout|kernel panicked|dmesg)' "$logs/vm.err"; then
		fail "vm: $(grep -E '^vm: ' "$logs/vm.err" | head -n 1)"
	fi
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
