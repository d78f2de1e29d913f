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
skip=0
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

# skip DESC REASON: count a test that cannot run here.
skip() {
	n=$((n + 1))
	skip=$((skip + 1))
	echo "ok $n $1 # SKIP $2"
}

# The example guest echo.c (echo_T(T) for every type T and more) is
# optional: each of its tests runs only if echo.elf exports its function.
echo_functions=$($CALLBOX run --list $GUESTS/echo.elf 2>/dev/null)

# check_echo FUNCTION DESC EXPECTED_STATUS PATTERN -- CMD...
check_echo() {
	func=$1
	shift
	if printf '%s\n' "$echo_functions" | grep -q " $func("; then
		check "$@"
	else
		skip "$1" "echo.elf has no function $func"
	fi
}

echo "TAP version 13"
check "add prints the sum" 0 '^5$' -- $CALLBOX run $GUESTS/arith.elf add 2 3
check "negative and hex arguments" 0 '^-240$' -- $CALLBOX run $GUESTS/arith.elf mul -0x10 15
check "fib" 0 '^6765$' -- $CALLBOX run $GUESTS/arith.elf fib 20
check "--mem is honoured" 0 '^3$' -- $CALLBOX run --mem 64M $GUESTS/arith.elf add 1 2
check "unknown function" 1 "no function named 'nope'" -- $CALLBOX run $GUESTS/arith.elf nope
check "wrong argument count" 1 'add: 1 argument given, but the function takes 2 \(i64 add\(i64, i64\)\)' -- $CALLBOX run $GUESTS/arith.elf add 1
check "guest fault is reported" 1 'page fault at rip 0x[0-9a-f]+, address 0x0' -- $CALLBOX run $GUESTS/fault.elf null_deref
check "stack overflow is reported" 1 'stack overflow' -- $CALLBOX run $GUESTS/fault.elf stack_overflow 1000000
check "triple fault is reported" 1 'triple fault' -- $CALLBOX run $GUESTS/fault.elf triple_fault
check "guest abort code is reported" 1 'aborted with code 42' -- $CALLBOX run $GUESTS/fault.elf abort42
check "bad port is reported" 1 'I/O port 0x3f8' -- $CALLBOX run $GUESTS/fault.elf bad_port
check "missing guest file" 1 'No such file' -- $CALLBOX run /nonexistent.elf add 1 2
check "not an ELF" 1 'ELF' -- $CALLBOX run /proc/self/cmdline add 1 2
check "bad memory size" 1 'config' -- $CALLBOX run --mem 3M $GUESTS/arith.elf add 1 2
snap=/tmp/cli_test.cbsnap
check "--save-snapshot writes a snapshot after the call" 0 '^5$' -- $CALLBOX run --mem 64M --save-snapshot $snap $GUESTS/arith.elf add 2 3
check "--snapshot starts from it, with no ELF" 0 '^42$' -- $CALLBOX run --snapshot $snap add 40 2
check "--snapshot lists its functions" 0 'i64 add\(i64, i64\)' -- $CALLBOX run --snapshot $snap --list
check "--list with --save-snapshot lists and saves" 0 'i64 add\(i64, i64\)' -- $CALLBOX run --list --save-snapshot $snap.listed $GUESTS/arith.elf
check "... and the snapshot it saved runs" 0 '^7$' -- $CALLBOX run --snapshot $snap.listed add 3 4
cp $snap $snap.bad && printf 'x' | dd of=$snap.bad bs=1 seek=5000 conv=notrunc 2>/dev/null
check "--snapshot of a corrupt file" 1 "$snap.bad: corrupt: checksum" -- $CALLBOX run --snapshot $snap.bad add 1 2
check "--snapshot of an ELF" 1 'arith.elf: not a callbox snapshot' -- $CALLBOX run --snapshot $GUESTS/arith.elf add 1 2
rm -f $snap $snap.bad $snap.listed
check "--timeout stops a runaway guest" 1 'deadline passed \(the guest had started, and had not finished\)' -- $CALLBOX run --timeout 0.2 $GUESTS/spin.elf spin
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

# Typed arguments, TYPE:VALUE, and results printed by type.
check "typed i64 arguments" 0 '^42$' -- $CALLBOX run $GUESTS/arith.elf add i64:2 i64:40
check "typed and bare arguments mix" 0 '^-1$' -- $CALLBOX run $GUESTS/arith.elf add i64:-0x10 017
check "i64 extremes" 0 '^-9223372036854775808$' -- $CALLBOX run $GUESTS/arith.elf add i64:-9223372036854775807 -1
check "a built-in host function: transform" 0 '^41$' -- $CALLBOX run $GUESTS/host.elf via_host i64:20
check "a string argument and result" 0 '^Hello, Hello, World!!$' -- $CALLBOX run $GUESTS/host.elf greet_twice str:World
check "string: is str:" 0 '^Hello, Hello, a b:c!!$' -- $CALLBOX run $GUESTS/host.elf greet_twice "string:a b:c"
check "an empty string" 0 '^Hello, Hello, !!$' -- $CALLBOX run $GUESTS/host.elf greet_twice str:
check "the host's signature check reaches the guest" 0 "^error -22: greeting: argument 1 is i64, but the function takes string" -- $CALLBOX run $GUESTS/host.elf try_host str:greeting 5
check "the wait host function fails" 1 'host call wait failed with -38: the callbox CLI has no long-running host function' -- $CALLBOX run $GUESTS/host.elf wait_on_host
long=$(head -c 20000 /dev/zero | tr '\0' x)
check "a string too long for the input buffer" 1 'greet_twice: the arguments do not fit the 16384-byte buffer' -- $CALLBOX run $GUESTS/host.elf greet_twice "str:$long"
check "--input-size and --output-size are honoured" 0 '^20017$' -- sh -c "$CALLBOX run --input-size 32K --output-size 32K $GUESTS/host.elf greet_twice str:$long | wc -c"
check "bad --input-size" 1 'input buffer size 5120 bytes is not a multiple of 4 KiB' -- $CALLBOX run --input-size 5K $GUESTS/arith.elf add 1 2
check "--output-size that is not a size" 2 "--output-size: 'lots' is not a size" -- $CALLBOX run --output-size lots $GUESTS/arith.elf add 1 2

# Every type, through echo.elf.
check_echo echo_i32 "i32" 0 '^-2147483648$' -- $CALLBOX run $GUESTS/echo.elf echo_i32 i32:-2147483648
check_echo echo_u32 "u32" 0 '^4294967295$' -- $CALLBOX run $GUESTS/echo.elf echo_u32 u32:0xffffffff
check_echo echo_i64 "i64 in octal" 0 '^-8$' -- $CALLBOX run $GUESTS/echo.elf echo_i64 i64:-010
check_echo echo_u64 "u64 past INT64_MAX" 0 '^18446744073709551615$' -- $CALLBOX run $GUESTS/echo.elf echo_u64 u64:18446744073709551615
check_echo echo_f32 "f32 prints 9 digits" 0 '^0.100000001$' -- $CALLBOX run $GUESTS/echo.elf echo_f32 f32:0.1
check_echo echo_f64 "f64 prints 17 digits" 0 '^0.10000000000000001$' -- $CALLBOX run $GUESTS/echo.elf echo_f64 f64:0.1
check_echo echo_f64 "f64 exponent" 0 '^-20000000000$' -- $CALLBOX run $GUESTS/echo.elf echo_f64 f64:-2e10
check_echo echo_f64 "f64 nan" 0 '^-?nan$' -- $CALLBOX run $GUESTS/echo.elf echo_f64 f64:nan
check_echo echo_f64 "f64 -inf" 0 '^-inf$' -- $CALLBOX run $GUESTS/echo.elf echo_f64 f64:-inf
check_echo echo_bool "bool true" 0 '^true$' -- $CALLBOX run $GUESTS/echo.elf echo_bool bool:true
check_echo echo_bool "bool 0" 0 '^false$' -- $CALLBOX run $GUESTS/echo.elf echo_bool bool:0
check_echo echo_string "string" 0 '^hello, world$' -- $CALLBOX run $GUESTS/echo.elf echo_string "str:hello, world"
check_echo echo_bytes "bytes in hex" 0 '^00ff10$' -- $CALLBOX run $GUESTS/echo.elf echo_bytes bytes:hex:00FF10
check_echo echo_bytes "empty bytes" 0 '^$' -- $CALLBOX run $GUESTS/echo.elf echo_bytes bytes:hex:
check_echo echo_bytes "--raw writes bytes as they are" 0 '^ABC[|]$' -- sh -c "$CALLBOX run --raw $GUESTS/echo.elf echo_bytes bytes:hex:414243; echo '|'"
check_echo nothing "a void result prints nothing" 0 '^0$' -- sh -c "$CALLBOX run $GUESTS/echo.elf nothing | wc -c"
check_echo describe "one argument of every type" 0 "^i32 -1, u32 2, i64 -3, u64 4, f32 0x3fc00000, f64 0xc004000000000000, bool true, string 'hi' \(2\), bytes 3$" -- $CALLBOX run $GUESTS/echo.elf describe i32:-1 u32:2 i64:-3 u64:4 f32:1.5 f64:-2.5 bool:true str:hi bytes:hex:010203
check_echo sum32 "32 arguments" 0 '^528$' -- $CALLBOX run $GUESTS/echo.elf sum32 $(seq 1 32)

# bytes:@FILE and bytes:@- (stdin).
printf 'abc\000\n' >/tmp/cli_test.bin
check "bytes:@file is read (arith says it is bytes)" 1 'add: argument 1 is bytes, but the function takes i64' -- $CALLBOX run $GUESTS/arith.elf add bytes:@/tmp/cli_test.bin 1
check_echo echo_bytes "bytes:@file" 0 '^616263000a$' -- $CALLBOX run $GUESTS/echo.elf echo_bytes bytes:@/tmp/cli_test.bin
check_echo echo_bytes "bytes:@- reads stdin" 0 '^616263000a$' -- sh -c "$CALLBOX run $GUESTS/echo.elf echo_bytes bytes:@- </tmp/cli_test.bin"
check_echo echo_bytes "--raw round-trips a file" 0 '^same$' -- sh -c "$CALLBOX run --raw $GUESTS/echo.elf echo_bytes bytes:@/tmp/cli_test.bin | cmp - /tmp/cli_test.bin && echo same"

# Bad arguments: exit 2, naming the argument and what is wrong.
check "i32 out of range" 2 "argument 2 \('i32:3000000000'\): 3000000000 is out of range for i32" -- $CALLBOX run $GUESTS/arith.elf add 1 i32:3000000000
check "negative u64" 2 "argument 1 \('u64:-1'\): -1 is out of range for u64" -- $CALLBOX run $GUESTS/arith.elf add u64:-1 2
check "i64 out of range" 2 'argument 1 .*out of range for i64' -- $CALLBOX run $GUESTS/arith.elf add 9223372036854775808 2
check "not an integer" 2 "argument 1 \('i32:12abc'\): '12abc' is not an integer" -- $CALLBOX run $GUESTS/arith.elf add i32:12abc 2
check "not a float" 2 "argument 1 \('f64:one'\): 'one' is not a number" -- $CALLBOX run $GUESTS/arith.elf add f64:one 2
check "f32 out of range" 2 'argument 1 .*1e39 is out of range for f32' -- $CALLBOX run $GUESTS/arith.elf add f32:1e39 2
check "not a bool" 2 "argument 1 \('bool:yes'\): 'yes' is not a bool" -- $CALLBOX run $GUESTS/arith.elf add bool:yes 2
check "unknown type" 2 "argument 2 \('int:5'\): unknown type 'int'" -- $CALLBOX run $GUESTS/arith.elf add 1 int:5
check "empty value" 2 "argument 1 \('i64:'\): no value after 'i64:'" -- $CALLBOX run $GUESTS/arith.elf add i64: 2
check "odd hex" 2 'argument 1 .*3 hex digits, an odd number' -- $CALLBOX run $GUESTS/arith.elf add bytes:hex:abc 2
check "not hex" 2 "argument 1 .*'g' at position 2 of the hex is not a hex digit" -- $CALLBOX run $GUESTS/arith.elf add bytes:hex:0g 2
check "bytes without @ or hex:" 2 'argument 1 .*bytes are given as bytes:@FILE' -- $CALLBOX run $GUESTS/arith.elf add bytes:abc 2
check "missing bytes file" 2 'argument 1 .*/nonexistent: No such file or directory' -- $CALLBOX run $GUESTS/arith.elf add bytes:@/nonexistent 2
check "stdin twice" 2 'argument 2 .*stdin is read once' -- sh -c "$CALLBOX run $GUESTS/arith.elf add bytes:@- bytes:@- </dev/null"
check "33 arguments" 2 'at most 32 arguments, 33 given' -- $CALLBOX run $GUESTS/arith.elf add $(seq 1 33)

# A type mismatch: the library's message, naming the function; exit 1.
check "string for an i64" 1 "add: argument 1 is string, but the function takes i64 there \(i64 add\(i64, i64\)\)" -- $CALLBOX run $GUESTS/arith.elf add str:2 40
check "i64 for a string" 1 'greet_twice: argument 1 is i64, but the function takes string there' -- $CALLBOX run $GUESTS/host.elf greet_twice 5
check "i32 for an i64" 1 'fib: argument 1 is i32, but the function takes i64' -- $CALLBOX run $GUESTS/arith.elf fib i32:5

# Listing the guest's functions.
check "--list" 0 '^i64 add\(i64, i64\)$' -- $CALLBOX run --list $GUESTS/arith.elf
check "--list shows string signatures" 0 '^string greet_twice\(string\)$' -- $CALLBOX run --list $GUESTS/host.elf
check "no FUNCTION lists" 0 '^i64 fib\(i64\)$' -- $CALLBOX run $GUESTS/arith.elf
check "--list with a FUNCTION" 2 'takes GUEST only' -- $CALLBOX run --list $GUESTS/arith.elf add
check "an unknown function shows the functions" 1 '^  i64 sum6\(i64, i64, i64, i64, i64, i64\)$' -- $CALLBOX run $GUESTS/arith.elf nope
check "--help explains typed arguments" 0 'bytes:hex:00ff10' -- $CALLBOX run --help
check "--help" 0 'Usage: callbox run' -- $CALLBOX --help
check "unknown command" 2 "unknown command 'frobnicate'" -- $CALLBOX frobnicate

# Subcommands: the table, help, --version, list.
check "--help lists the commands" 0 '^  list +list a guest' -- $CALLBOX --help
check "no arguments: usage on stderr" 2 '^Usage: callbox run' -- sh -c "$CALLBOX 2>&1 >/dev/null"
check "no arguments: nothing on stdout" 0 '^0$' -- sh -c "$CALLBOX 2>/dev/null | wc -c"
check "help without COMMAND" 0 '^Usage: callbox run' -- $CALLBOX help
check "help run is run --help" 0 '^same$' -- sh -c "$CALLBOX run --help >/tmp/cli_test.help && $CALLBOX help run | cmp - /tmp/cli_test.help && echo same"
check "help list" 0 '^Usage: callbox list' -- $CALLBOX help list
check "help of an unknown command" 2 "unknown command 'nope'" -- $CALLBOX help nope
check "--version" 0 '^callbox [0-9]+\.[0-9]+' -- $CALLBOX --version
check "unknown command suggests --help" 2 "^Try 'callbox --help'" -- $CALLBOX frobnicate
check "list" 0 '^i64 add\(i64, i64\)$' -- $CALLBOX list $GUESTS/arith.elf
check "list is run --list" 0 '^same$' -- sh -c "$CALLBOX run --list $GUESTS/host.elf >/tmp/cli_test.list && $CALLBOX list $GUESTS/host.elf | cmp - /tmp/cli_test.list && echo same"
check "list takes the sandbox options" 1 'config' -- $CALLBOX list --mem 3M $GUESTS/arith.elf
check "list --mem" 0 '^i64 fib\(i64\)$' -- $CALLBOX list --mem 64M $GUESTS/arith.elf
check "list without GUEST" 2 'Usage: callbox list' -- $CALLBOX list
check "list with a FUNCTION" 2 'list needs GUEST, and only GUEST' -- $CALLBOX list $GUESTS/arith.elf add
check "list of a missing guest" 1 'No such file' -- $CALLBOX list /nonexistent.elf
check "list --help" 0 'Usage: callbox list' -- $CALLBOX list --help

# A bytes result larger than a piece of the printer's hex.
seq 1 3000 | head -c 10000 >/tmp/cli_test.big
check_echo echo_bytes "10000 bytes in hex" 0 '^same$' -- sh -c "$CALLBOX run --input-size 32K --output-size 32K $GUESTS/echo.elf echo_bytes bytes:@/tmp/cli_test.big >/tmp/cli_test.hex && { xxd -p /tmp/cli_test.big | tr -d '\n'; echo; } | cmp - /tmp/cli_test.hex && echo same"

echo "1..$n"
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
[ "$fail" -eq 0 ]
