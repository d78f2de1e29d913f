#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The callbox demo (`make demo`): boot the test VM with callbox.ko loaded
# and run real guest calls through the `callbox` CLI, good and bad.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=build

script=$(mktemp)
trap 'rm -f "$script"' EXIT
cat >"$script" <<'SCRIPT'
# Show a command, run it, show how it ended.
show() {
	echo "\$ $*"
	out=$("$@" 2>&1)
	rc=$?
	echo "$out" | sed 's/^/  /'
	echo "  -> exit status $rc"
	echo
}
echo "== callbox demo: $(uname -r), $(grep -c ^processor /proc/cpuinfo) vCPUs, module: $(lsmod | grep -o '^callbox')"
echo
echo "-- guest functions returning values"
show callbox run /guests/arith.elf add 2 40
show callbox run /guests/arith.elf mul -7 6
show callbox run /guests/arith.elf fib 50
show callbox run /guests/arith.elf sum6 1 2 3 4 5 6
echo "-- what a guest exports: its functions and their signatures"
show callbox run --list /guests/host.elf
echo "-- typed arguments (TYPE:VALUE) and results; the guest calls the CLI's"
echo "   host functions greeting(string) and transform(i64) on the way"
show callbox run /guests/host.elf greet_twice str:World
show callbox run /guests/host.elf via_host i64:20
echo "-- every type in one call, string processing, and some computing"
show callbox run /guests/echo.elf describe i32:-5 u32:7 i64:-9223372036854775808 u64:0xffffffffffffffff f32:1.5 f64:nan bool:true str:callbox bytes:hex:00ff10
show callbox run /guests/strings.elf reverse "str:a string, backwards"
show callbox run /guests/strings.elf word_count "str:how many words are here"
show callbox run /guests/compute.elf count_primes u32:1000000
echo "-- a guest calling back into the host's log"
show callbox run --log-level info /guests/host.elf log_levels
echo "-- mistakes are reported, not crashed on"
show callbox run /guests/arith.elf divide 1 2
show callbox run /guests/arith.elf add 1
show callbox run /guests/arith.elf add str:2 40
show callbox run /guests/arith.elf add 1 i32:3000000000
echo "-- guests that misbehave: the kernel ends the call ABORTED with a reason"
show callbox run /guests/fault.elf null_deref
show callbox run /guests/fault.elf stack_overflow 1000000
show callbox run /guests/fault.elf triple_fault
show callbox run /guests/fault.elf abort42
show callbox run /guests/fault.elf bad_port
show callbox run /guests/fault.elf mmio
echo "-- a guest that never ends: the kernel's deadline stops it"
show callbox run --timeout 0.5 /guests/spin.elf spin
echo "-- and the host is fine afterwards"
show callbox run /guests/fault.elf ok
SCRIPT

# The show() lines report each command's own status; the script as a
# whole succeeds so that only a broken VM or kernel fails the demo.
echo "true" >>"$script"

guests=()
for g in "$build"/guest/*.elf; do
	guests+=(--add "$g:/guests/")
done
tools/vm/run.sh --timeout 300 --module "$build/kmod-vm/callbox.ko" \
	--add "$build/callbox:/bin/callbox" "${guests[@]}" --script "$script"
