#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What tools/check.sh and tools/check-6.12.sh share: the counting of
# checks and kselftest suites, the config fragment check, the VM suites'
# command line, and the last line. Sourced, with $build, $ksft and $logs
# set.

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

# Module $1 is there and built for kernel release $2. The vm-module rule
# fails on any W=1 or sparse warning, so a module there means a clean
# build.
module_ok() {
	local ko=$1 kver=$2 magic
	[ -f "$ko" ] || { echo "$ko is missing"; return 1; }
	magic=$(modinfo -F vermagic "$ko") || return 1
	[[ "$magic" == "$kver "* ]] || { echo "$ko is for '$magic', not $kver"; return 1; }
}

# Every option the VM suites need is set in the kernel the VM boots.
config_ok() {
	local config=/boot/config-$(tools/vm/kernel.sh --kver) opt ok=0
	while read -r opt; do
		case "$opt" in "" | "#"*) continue ;; esac
		grep -qxF -- "$opt" "$config" || { echo "$config lacks $opt"; ok=1; }
	done <selftests/vm/config
	return $ok
}
# The "vm" and "tsan" collections in the VM, with module $1, counted.
# VM_TIMEOUT (seconds, default 1500) bounds the whole VM run; VM_PREPARE,
# if set, is a shell command run in the VM's /kselftest first (the debug
# lane lengthens the suites' timeouts and sets the fuzzer's time there);
# VM_APPEND, if set, is more kernel command line.
vm_suites() {
	local ko=$1 g vm_rc guests=()

	for g in "$build"/guest/*.elf; do
		guests+=(--add "$g:/guests/")
	done
	tools/vm/run.sh --timeout "${VM_TIMEOUT:-1500}" \
		--log "$logs/vm-console.log" \
		--module "$ko" \
		${VM_APPEND:+--append "$VM_APPEND"} \
		--add "$build/callbox:/bin/callbox" \
		--add "$build/callbox-bench:/bin/bench" \
		--add tools/vm/timeout:/usr/bin/timeout \
		--add "$ksft/run_kselftest.sh:/kselftest/" \
		--add "$ksft/kselftest-list.txt:/kselftest/" \
		--add "$ksft/kselftest:/kselftest/" \
		--add "$ksft/vm:/kselftest/" \
		--add "$ksft/tsan:/kselftest/" \
		--add-libs "$ksft/tsan/outcome_tsan_test" \
		--add-libs "$ksft/tsan/outcome_async_tsan_test" \
		--add /usr/sbin/genl:/usr/sbin/genl --add-libs /usr/sbin/genl \
		--add /usr/bin/genl-ctrl-list:/usr/bin/genl-ctrl-list \
		--add-libs /usr/bin/genl-ctrl-list \
		--add /usr/bin/trinity:/usr/bin/trinity \
		--add-libs /usr/bin/trinity \
		"${guests[@]}" \
		-- "cd /kselftest && ${VM_PREPARE:-true} && ./run_kselftest.sh -c vm -c tsan" \
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
}

# The last line: "N passed, N failed"; the status says whether all passed.
summary() {
	echo
	if [ "${#failures[@]}" -ne 0 ]; then
		echo "Failures:"
		printf '  %s\n' "${failures[@]}"
	fi
	# Skips are counted apart (fail_nth_test needs a fault-injection
	# kernel, say), so that the last line keeps its form.
	[ "$skipped" -eq 0 ] || echo "($skipped skipped)"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
