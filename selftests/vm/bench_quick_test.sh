#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# `bench --quick`: the benchmarks still run, and write every figure they
# promise to their JSON, each with a median, a 99th percentile, and a
# baseline of the same run with its ratio. No timing is asserted: under
# emulation the numbers mean little, and --quick takes few samples.
#
# Needs /bin/bench and the example guests in /guests (tools/check-lib.sh
# puts them in the VM). Prints kselftest-style TAP and the same
# "# Totals:" line as the C suites.
BENCH=${BENCH:-/bin/bench}
GUEST=${GUEST:-/guests/arith.elf}
. "$(dirname "$0")/tap.sh"

out=/tmp/bench_quick.json
if "$BENCH" --quick --json "$out" "$GUEST" >/tmp/bench_quick.log 2>&1; then
	ok "bench --quick ran"
else
	not_ok "bench --quick ran: exit $?"
	sed 's/^/# /' /tmp/bench_quick.log
fi
sed 's/^/# /' /tmp/bench_quick.log

# name baseline: the figure's object, with its fields.
figure() {
	line=$(grep "\"name\": \"$1\"" "$out" 2>/dev/null)
	if [ -z "$line" ]; then
		not_ok "$1: not in the JSON"
		return
	fi
	case $line in
	*'"median_us": '[0-9]*'"p99_us": '[0-9]*) ;;
	*)
		not_ok "$1: no median or p99: $line"
		return
		;;
	esac
	if [ "$2" = - ]; then
		case $line in
		*'"baseline": null'*) ok "$1" ;;
		*) not_ok "$1: a baseline, where none was expected: $line" ;;
		esac
		return
	fi
	case $line in
	*"\"baseline\": \"$2\", \"ratio\": "[0-9]*) ok "$1 (against $2)" ;;
	*) not_ok "$1: no ratio against $2: $line" ;;
	esac
}

figure floor.kvm_run -
figure floor.kernel_exit floor.kvm_run
figure call.sync.raw floor.kvm_run
figure call.sdk.noop floor.kvm_run
figure call.old_design floor.kvm_run
figure call.async call.old_design
figure call.batch.per_call floor.kvm_run
figure call.batch.run_only floor.kvm_run
figure cancel.spin floor.kvm_run
figure cancel.hlt floor.kvm_run
figure deadline.overshoot floor.kvm_run
figure create.floor -
figure create.elf create.floor
figure create.snapshot create.elf
figure call.fresh call.sdk.noop
figure reset.d1.m4 create.floor
figure reset.d1.m256 reset.d1.m4
figure restore.d1.m4 floor.kvm_run
figure restore.d1.m256 restore.d1.m4
figure restore.d256.m4 restore.d1.m4
figure restore.d256.m256 restore.d256.m4

# Memory per live sandbox: kernel memory and Pss, for clones and loads.
for name in memory.clone.n1 memory.elf.n1 memory.clone.n100 memory.elf.n100; do
	line=$(grep "\"name\": \"$name\"" "$out" 2>/dev/null)
	case $line in
	*'"sandboxes": '[1-9]*'"kernel_kib_per_sandbox": '*'"pss_kib_per_sandbox": '*)
		ok "$name: kernel memory and Pss per sandbox" ;;
	*) not_ok "$name: not in the JSON: $line" ;;
	esac
done

# The counted calls: a sync call is one system call or more, never none.
for name in call.sync.raw call.sdk.noop call.async call.batch.per_call; do
	line=$(grep "\"name\": \"$name\"" "$out" 2>/dev/null)
	case $line in
	*'"syscalls_per_call": '[1-9]*'"voluntary_ctxt_switches_per_call": '[0-9]*)
		ok "$name: system calls and context switches per call counted" ;;
	*) not_ok "$name: no per-call counts: $line" ;;
	esac
done

tap_totals
