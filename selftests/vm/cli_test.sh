#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The `callbox` CLI against the example guests, in the test VM. Prints
# kselftest-style TAP and the same "# Totals:" line as the C suites.
CALLBOX=${CALLBOX:-/bin/callbox}
GUESTS=${GUESTS:-/guests}
n=0
pass=0
fail=0
out=/tmp/cli_test.out

# check DESC EXPECTED_STATUS PATTERN -- CMD...: run CMD, compare its exit
# status and grep its stdout+stderr for PATTERN (an ERE).
check() {
	desc=$1 want=$2 pattern=$3
	shift 4
	n=$((n + 1))
	"$@" >"$out" 2>&1
	got=$?
	if [ "$got" -eq "$want" ] && grep -Eq -- "$pattern" "$out"; then
		pass=$((pass + 1))
		echo "ok $n $desc"
	else
		fail=$((fail + 1))
		echo "not ok $n $desc (exit $got, wanted $want and /$pattern/)"
		sed 's/^/#   /' "$out"
	fi
}

echo "TAP version 13"
check "add prints the sum" 0 '^5$' -- $CALLBOX run $GUESTS/arith.elf add 2 3
check "negative and hex arguments" 0 '^-240$' -- $CALLBOX run $GUESTS/arith.elf mul -0x10 15
check "fib" 0 '^6765$' -- $CALLBOX run $GUESTS/arith.elf fib 20
check "--mem is honoured" 0 '^3$' -- $CALLBOX run --mem 64M $GUESTS/arith.elf add 1 2
check "unknown function" 1 "no function named 'nope'" -- $CALLBOX run $GUESTS/arith.elf nope
check "wrong argument count" 1 'wrong number of arguments' -- $CALLBOX run $GUESTS/arith.elf add 1
check "guest fault is reported" 1 'page fault at rip 0x[0-9a-f]+, address 0x0' -- $CALLBOX run $GUESTS/fault.elf null_deref
check "stack overflow is reported" 1 'stack overflow' -- $CALLBOX run $GUESTS/fault.elf stack_overflow 1000000
check "triple fault is reported" 1 'triple fault' -- $CALLBOX run $GUESTS/fault.elf triple_fault
check "guest abort code is reported" 1 'aborted with code 42' -- $CALLBOX run $GUESTS/fault.elf abort42
check "bad port is reported" 1 'I/O port 0x3f8' -- $CALLBOX run $GUESTS/fault.elf bad_port
check "missing guest file" 1 'No such file' -- $CALLBOX run /nonexistent.elf add 1 2
check "not an ELF" 1 'ELF' -- $CALLBOX run /proc/self/cmdline add 1 2
check "bad memory size" 1 'config' -- $CALLBOX run --mem 3M $GUESTS/arith.elf add 1 2
check "--timeout stops a runaway guest" 1 'deadline passed \(the guest had started\)' -- $CALLBOX run --timeout 0.2 $GUESTS/spin.elf spin
check "--timeout that is not a number" 2 'not a positive number' -- $CALLBOX run --timeout soon $GUESTS/spin.elf spin
check "--log-level shows guest logs" 0 'callbox\[[0-9]+\] debug: a debug message' -- $CALLBOX run --log-level debug $GUESTS/host.elf log_levels
check "default log level shows warnings" 0 'callbox\[[0-9]+\] warn: a warning' -- $CALLBOX run $GUESTS/host.elf log_levels
check "default log level hides info" 1 '^0$' -- sh -c "$CALLBOX run $GUESTS/host.elf log_levels 2>&1 | grep -c information"
check "bad --log-level" 2 'is not off, error' -- $CALLBOX run --log-level loud $GUESTS/host.elf log_levels
check "a guest built with the kit runs" 0 '^42$' -- $CALLBOX run $GUESTS/kit_guest.elf triple 14
check "the kit's guest logs" 0 'info: triple\(14\)' -- $CALLBOX run --log-level info $GUESTS/kit_guest.elf triple 14
check "--heap that cannot fit" 1 'heap does not fit' -- $CALLBOX run --heap 8M $GUESTS/arith.elf add 1 2
check "--stack is honoured" 1 'below the 64 KiB stack' -- $CALLBOX run --stack 64K $GUESTS/fault.elf stack_overflow 1000000
check "bad --stack" 1 'stack size' -- $CALLBOX run --stack 5K $GUESTS/arith.elf add 1 2
check "unparsable argument" 2 'not a 64-bit integer' -- $CALLBOX run $GUESTS/arith.elf add 1 x
check "missing arguments" 2 'Usage' -- $CALLBOX run
check "--help" 0 'Usage: callbox run' -- $CALLBOX --help
check "unknown command" 2 "unknown command 'frobnicate'" -- $CALLBOX frobnicate

echo "1..$n"
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ "$fail" -eq 0 ]
