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
# checks and lockdep's on top of TCG): each suite gets 4 times its usual
# timeout. Logs go to build/check-debug/.
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
VM_PREPARE="sed -i 's/^timeout=.*/timeout=$((settings_timeout * 4))/' vm/settings"
VM_PREPARE+=" && export CALLBOX_FUZZ_SECONDS=${CALLBOX_FUZZ_SECONDS:-300}"
VM_PREPARE+=" CALLBOX_SOAK_CALLS=${CALLBOX_SOAK_CALLS:-1000000}"
VM_TIMEOUT=$((4 * 3600))
vm_suites "$ko"

echo
echo "check-debug: kernel $kver, $((SECONDS - start)) s"
summary
