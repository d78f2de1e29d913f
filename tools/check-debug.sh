#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The debug lane: the VM suites of tools/check.sh on a kernel built from
# Debian's linux-source-6.1 with KASAN, lockdep, kmemleak, UBSAN, debug
# objects and fault injection (tools/debug-kernel/), and end with one line
# "N passed, N failed". Called by `make check-debug` after the build (the
# kernel, then the module against its tree); exits non-zero on any
# failure. Any KASAN, lockdep, kmemleak or UBSAN report fails the VM run
# (tools/vm/run.sh scans dmesg, and kmemleak after a scan).
#
# Usage: tools/check-debug.sh KERNEL_DIR KO
#   KERNEL_DIR  what tools/debug-kernel/build.sh printed
#   KO          callbox.ko built against KERNEL_DIR/obj
#
# Environment:
#   CALLBOX_FUZZ_SECONDS  how long ioctl_fuzz runs (default 300 here)
#   CALLBOX_SOAK_CALLS    calls of the soak (stress_test; default 1000000)
#
# Everything runs several times slower than on Debian's kernel (KASAN's
# checks and lockdep's on top of TCG): each suite gets 6 times its usual
# timeout, which the soak needs (1,000,000 calls took 2,508 s, at 399
# calls/s). Logs go to build/check-debug/.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
[ $# -eq 2 ] || { sed -n '13,16s/^# \{0,1\}//p' "$0" >&2; exit 2; }
export CALLBOX_VM_KERNEL=$1
ko=$2
build=build
ksft=$build/kselftest
logs=$build/check-debug
rm -rf "$logs"
mkdir -p "$logs"

kver=$(cat "$CALLBOX_VM_KERNEL/kver") || exit 1
echo "check-debug: kernel $kver (built in $(cat "$CALLBOX_VM_KERNEL/build-time") s)"
start=$SECONDS

. tools/check-lib.sh

check "callbox.ko builds clean for $kver with W=1 and sparse" \
	module_ok "$ko" "$kver"

check "make guest SRC=... builds a user's guest" \
	make --no-print-directory guest SRC=selftests/guests/kit_guest.c

settings_timeout=$(sed -n 's/^timeout=//p' "$ksft/vm/settings")
VM_PREPARE="sed -i 's/^timeout=.*/timeout=$((settings_timeout * 6))/' vm/settings"
VM_PREPARE+=" && export CALLBOX_FUZZ_SECONDS=${CALLBOX_FUZZ_SECONDS:-300}"
VM_PREPARE+=" CALLBOX_SOAK_CALLS=${CALLBOX_SOAK_CALLS:-1000000}"
# Four-level paging: with QEMU's la57, an interrupt that lands while the
# boot CPU re-reads its CPUID (get_cpu_cap(), LA57 briefly unknown) makes
# KASAN misjudge a direct-map address: "BUG: KASAN: wild-memory-access in
# do_raw_spin_lock" from handle_edge_irq, at 0.9 s, in one boot of two.
VM_APPEND=no5lvl
VM_TIMEOUT=$((4 * 3600))
vm_suites "$ko"

echo
echo "check-debug: kernel $kver, $((SECONDS - start)) s"
summary
