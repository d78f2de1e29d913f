#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Can the test VM run on multi-threaded TCG? Boots the VM without callbox
# and runs build/nested-probe (tools/vm/nested_probe.c), plain KVM guests
# whose every KVM_RUN must complete, for SECONDS. Exit status 0 if no
# worker stalled, 1 if one did (its stack and KVM's events are printed).
#
# Usage: tools/vm/nested-probe.sh [--single] [SECONDS]   (default 600)
#   --single   probe single-threaded TCG, the lane the VM suites use,
#              instead of tcg,thread=multi
#
# Run it after an upgrade of QEMU: the VM suites can move to multi-threaded
# TCG (tools/vm/run.sh's default -accel) only once it passes there for as
# long as a full make check takes (about 15 minutes). Build the probe with
# `make build/nested-probe` first.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
probe=$root/build/nested-probe
accel=tcg,thread=multi
seconds=600

usage() {
	sed -n '4,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

while [ $# -gt 0 ]; do
	case $1 in
	--single) accel=tcg,thread=single ;;
	-h | --help) usage && exit 0 ;;
	[0-9]*) seconds=$1 ;;
	*) echo "nested-probe.sh: unknown argument '$1'" >&2 && usage >&2 && exit 2 ;;
	esac
	shift
done
[[ $seconds =~ ^[1-9][0-9]*$ ]] || {
	echo "nested-probe.sh: SECONDS must be a positive number, not '$seconds'" >&2
	exit 2
}
[ -x "$probe" ] || {
	echo "nested-probe.sh: $probe is missing: run 'make build/nested-probe'" >&2
	exit 2
}

echo "nested-probe.sh: -accel $accel, $seconds s"
CALLBOX_VM_ACCEL=$accel exec "$root/tools/vm/run.sh" \
	--timeout $((seconds + 300)) \
	--log "$root/build/vm/nested-probe-console.log" \
	--add "$probe:/bin/nested-probe" -- "nested-probe $seconds"
