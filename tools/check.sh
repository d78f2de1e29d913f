#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run every callbox test and end with one line "N passed, N failed".
# Called by `make check` after the build (make userspace ksft-install
# vm-module); exits non-zero on any failure.
#
#   1. host suites: the "host" kselftest collection, run by kselftest's
#      run_kselftest.sh on this machine
#   2. static checks: checkpatch.pl --strict on the kernel code; the
#      module's W=1 and sparse build; the netlink spec against the files
#      generated from it; the library's exports; the build's
#      dependency tracking; a clang build; the selftests' config fragment
#      against the VM's kernel; the guest build kit; the Promela model of
#      the call lifecycle (tools/model-check.sh); a bounded libFuzzer run
#      of the wire decoder (tools/fuzz.sh); the install, DKMS and an
#      outside project built against the install, run in the VM
#      (tools/check-install.sh); the man pages (tools/check-man.sh); the
#      Debian packages (tools/check-deb.sh)
#   3. VM suites: the "vm" collection, run by run_kselftest.sh in QEMU
#      with callbox.ko loaded; a dirty dmesg or a VM that dies fails too
#
# Counts are the "# Totals:" lines of each suite. A suite that never
# prints its totals (crash, hang, VM death), or that the runner reports
# "not ok" (a non-zero exit, a timeout) with no failure counted, counts
# as one failure more.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
build=build
ksft=$build/kselftest
logs=$build/check
rm -rf "$logs"
mkdir -p "$logs"

. tools/check-lib.sh

# ---- 1. host suites ----
# The runner reopens /dev/stdout to append each test's output: the log
# must be in append mode too, or the two overwrite each other.
(cd "$ksft" && ./run_kselftest.sh -c host) >>"$logs/host.log" 2>&1
count_collection host "$logs/host.log"

# ---- 2. static checks ----
ksrc=$build/ksft/scripts
if [ ! -x "$ksrc/checkpatch.pl" ]; then
	mkdir -p "$build/ksft"
	tar -xJf /usr/src/linux-source-6.1.tar.xz -C "$build/ksft" \
		--strip-components=1 linux-source-6.1/scripts/checkpatch.pl \
		linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch
fi
# Only the sources: an in-tree module build leaves generated kmod/*.mod.c.
kfiles=(kmod/*.h uapi/linux/*.h)
for f in kmod/*.c; do
	case "$f" in *.mod.c) ;; *) kfiles+=("$f") ;; esac
done
for f in "${kfiles[@]}"; do
	check "checkpatch --strict $f" \
		"$ksrc/checkpatch.pl" --strict --no-tree --quiet -f "$f"
done
# The VM module was built with W=1 and sparse; the build fails on any
# warning (see the Makefile), so reaching here means it was clean.
check "callbox.ko builds clean with W=1 and sparse" test -f "$build/kmod-vm/callbox.ko"

# The library exports its header's functions, by name, and nothing else.
tools/check-exports.sh >"$logs/exports.log" 2>&1
count_suite exports "$logs/exports.log"

# The netlink spec and the files generated from it agree.
tools/check-nlspec.sh >"$logs/nlspec.log" 2>&1
count_suite nlspec "$logs/nlspec.log"

# kmod/Kbuild and dkms.conf agree on the kernels callbox builds for.
tools/check-kernels.sh >"$logs/kernels.log" 2>&1
count_suite kernels "$logs/kernels.log"

# Every object is rebuilt when a header it includes changes.
tools/check-build.sh >"$logs/build-deps.log" 2>&1
count_suite build-deps "$logs/build-deps.log"

# The userspace and the tests build with clang too, from a clean directory
# outside build/ (whose dependency files check-build.sh reads), in parallel.
clang_build=$(mktemp -d)
check "make CC=clang userspace selftests" \
	make --no-print-directory -j"$(nproc)" BUILD="$clang_build" CC=clang \
	WERROR=1 userspace selftests
rm -rf "$clang_build"

check "the VM's kernel has every option of selftests/vm/config" config_ok

# The guest build kit: a user's guest, outside guest/, in one command.
check "make guest SRC=... builds a user's guest" \
	make --no-print-directory guest SRC=selftests/guests/kit_guest.c

# The model: the call state machine, checked exhaustively by spin.
tools/model-check.sh >"$logs/model-check.log" 2>&1
count_suite model "$logs/model-check.log"

# Fuzzing: the wire decoder reads hostile guest memory.
tools/fuzz.sh >"$logs/fuzz-wire.log" 2>&1
count_suite fuzz/wire "$logs/fuzz-wire.log"

# Installed: make install / uninstall, an outside project built with
# pkg-config and the installed guest SDK, DKMS, and the outside project's
# programs in the VM on DKMS's module.
tools/check-install.sh >"$logs/install.log" 2>&1
count_suite install "$logs/install.log"

# The man pages: one for every exported function, each rendering cleanly.
tools/check-man.sh >"$logs/man.log" 2>&1
count_suite man "$logs/man.log"

# The Debian packages: built from a copy of the tree, lintian-clean,
# installed into a dpkg --root, their module source built by DKMS.
tools/check-deb.sh >"$logs/deb.log" 2>&1
count_suite deb "$logs/deb.log"

# ---- 3. the VM ----
# The "vm" collection, then "tsan": the outcome tests again, built with
# ThreadSanitizer, the dynamic programs, which take their loader and
# libraries along (--add-libs), as do iproute2's genl and libnl's
# genl-ctrl-list, which show the netlink family as operators see it.
vm_suites "$build/kmod-vm/callbox.ko"

summary
