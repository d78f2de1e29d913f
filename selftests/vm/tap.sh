# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
#
# TAP for the shell suites, sourced: ok/not_ok print one numbered line
# each (tap_result chooses by a status), tap_totals the plan and the same
# "# Totals:" line as the C suites (kselftest_harness.h), and returns
# non-zero if anything failed. The host's check scripts (tools/check-*.sh)
# source it too.
n=0
pass=0
fail=0
skip=0

ok() {
	n=$((n + 1))
	pass=$((pass + 1))
	echo "ok $n $*"
}

not_ok() {
	n=$((n + 1))
	fail=$((fail + 1))
	echo "not ok $n $*"
}

# tap_result STATUS DESCRIPTION [LOG]: ok if STATUS is 0, else not ok,
# followed by the last lines of the file LOG, if given, as diagnostics.
tap_result() {
	if [ "$1" -eq 0 ]; then
		ok "$2"
	else
		not_ok "$2"
		[ -z "${3:-}" ] || tail -n 30 "$3" | sed 's/^/# /'
	fi
}

# tap_check LOG DESCRIPTION CMD...: one test, CMD, its output in the file
# LOG, shown if it fails.
tap_check() {
	tap_check_log=$1
	tap_check_desc=$2
	shift 2
	"$@" >"$tap_check_log" 2>&1
	tap_result $? "$tap_check_desc" "$tap_check_log"
}

tap_skip() {
	n=$((n + 1))
	skip=$((skip + 1))
	echo "ok $n # SKIP $*"
}

tap_totals() {
	echo "1..$n"
	echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
	[ "$fail" -eq 0 ]
}
