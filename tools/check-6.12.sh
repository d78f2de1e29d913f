#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The 6.12 lane: the VM suites of tools/check.sh on Debian's 6.12 kernel
# (bookworm-backports; the kernel of Debian 13), and end with one line
# "N passed, N failed". Called by `make check-6.12` after the build (make
# userspace ksft-install, and vm-module for 6.12); exits non-zero on any
# failure.
#
# Usage: tools/check-6.12.sh [KO]   KO: callbox.ko built for 6.12
#                                   (default build/kmod-vm-6.12/callbox.ko)
#
#   1. the module built clean with W=1 and sparse against 6.12's headers;
#      the selftests' config fragment against 6.12's config; the kit's
#      guest, which cli_test.sh runs
#   2. the "vm" and "tsan" collections, run by run_kselftest.sh in QEMU
#      booting 6.12, with the same command line as tools/check.sh; a
#      dirty dmesg or a VM that dies fails too
#
# The host suites and the other static checks do not depend on the VM's
# kernel: `make check` runs them. Logs go to build/check-6.12/.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
export CALLBOX_VM_KVER=6.12
build=build
ksft=$build/kselftest
ko=${1:-$build/kmod-vm-6.12/callbox.ko}
logs=$build/check-6.12
rm -rf "$logs"
mkdir -p "$logs"

kver=$(tools/vm/kernel.sh --kver) || exit 1
echo "check-6.12: kernel $kver"
start=$SECONDS

. tools/check-lib.sh

# ---- 1. static checks that depend on the kernel ----
check "callbox.ko builds clean for $kver with W=1 and sparse" \
	module_ok "$ko" "$kver"

check "the $kver kernel has every option of selftests/vm/config" config_ok

# cli_test.sh runs the kit's guest, which tools/check.sh builds among its
# static checks.
check "make guest SRC=... builds a user's guest" \
	make --no-print-directory guest SRC=selftests/guests/kit_guest.c

# ---- 2. the VM (tools/vm/run.sh boots $CALLBOX_VM_KVER) ----
vm_suites "$ko"

echo
echo "check-6.12: kernel $kver, $((SECONDS - start)) s"
summary
