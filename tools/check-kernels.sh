#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The kernels callbox builds for, as two files say it: kmod/Kbuild's
# range (refused with a message outside it) and dkms.conf's
# BUILD_EXCLUSIVE_KERNEL (DKMS skips the kernels it does not match). For
# kernel versions on both sides of each bound, Kbuild must refuse exactly
# those that DKMS skips, and say why. Kbuild is read as make reads it
# inside kbuild, with VERSION and PATCHLEVEL given; no kernel is needed.
#
# Prints kselftest-style TAP with a "# Totals:" line; exits 1 on a failure.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1

. selftests/vm/tap.sh

# Every version that must build, then every version that must not.
builds=(6.1 6.2 6.9 6.10 6.12 6.14)
refused=(5.10 5.19 6.0 6.15 6.16 6.20 7.0 7.1 10.0)

dkms_re=$(sed -n 's/^BUILD_EXCLUSIVE_KERNEL="\(.*\)"$/\1/p' dkms.conf)
if [ -z "$dkms_re" ]; then
	not_ok "dkms.conf has a BUILD_EXCLUSIVE_KERNEL"
	tap_totals
	exit
fi

# kbuild_says VERSION.PATCHLEVEL: what kmod/Kbuild's checks print; empty
# when they let the version through (make then finds no targets, as it
# would outside kbuild).
kbuild_says() {
	make -s -f kmod/Kbuild src=kmod VERSION="${1%%.*}" \
		PATCHLEVEL="${1#*.}" 2>&1 | sed -n 's/.*\*\*\* \(callbox .*\)\.  Stop\./\1/p'
}

# check_version VERSION WANT: WANT is "builds" or "refused".
check_version() {
	local v=$1 want=$2 said matched

	said=$(kbuild_says "$v")
	grep -Eq "$dkms_re" <<<"$v.0-1-amd64" && matched=builds || matched=refused
	if [ "$want" = builds ]; then
		tap_result "$([ -z "$said" ] && echo 0 || echo 1)" \
			"kmod/Kbuild builds for $v${said:+ (it said: $said)}"
	else
		tap_result "$([ -n "$said" ] && echo 0 || echo 1)" \
			"kmod/Kbuild refuses $v, with a message${said:+: $said}"
	fi
	tap_result "$([ "$matched" = "$want" ] && echo 0 || echo 1)" \
		"dkms.conf: $v.0-1-amd64 $want (BUILD_EXCLUSIVE_KERNEL)"
}

for v in "${builds[@]}"; do
	check_version "$v" builds
done
for v in "${refused[@]}"; do
	check_version "$v" refused
done
tap_totals
