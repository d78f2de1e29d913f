# SPDX-License-Identifier: GPL-2.0
#
# TAP for the shell suites, sourced: ok/not_ok print one numbered line
# each, tap_totals the plan and the same "# Totals:" line as the C suites
# (kselftest_harness.h), and returns non-zero if anything failed.
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
