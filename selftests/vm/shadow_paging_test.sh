#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# With shadow paging (kvm_amd loaded with npt=0), a reset or a restore
# cannot take back a guest's page tables: KVM keeps the shadow pages it
# built from them and does not see the library put them back. A sandbox
# must refuse to start there, and say why; once kvm_amd is back with
# nested paging, sandboxes work again. The test reloads kvm_amd and
# callbox.ko with the options the VM loaded them with (/etc/vm/modules),
# and puts both back whatever happens.
#
# Prints kselftest-style TAP and the same "# Totals:" line as the C suites.
CALLBOX=${CALLBOX:-/bin/callbox}
GUESTS=${GUESTS:-/guests}
. "$(dirname "$0")/tap.sh"

NPT=/sys/module/kvm_amd/parameters/npt
MODULES=/etc/vm/modules

if [ ! -r $NPT ] || [ ! -r $MODULES ] ||
	! grep -q '^kvm-amd.ko' $MODULES || ! grep -q '^callbox.ko' $MODULES; then
	tap_skip "needs kvm_amd and callbox.ko loaded from $MODULES"
	tap_totals
	exit $?
fi
if [ "$(cat $NPT)" != Y ] && [ "$(cat $NPT)" != 1 ]; then
	tap_skip "kvm_amd already runs without nested paging"
	tap_totals
	exit $?
fi

kvm_opts=$(grep '^kvm-amd.ko' $MODULES | cut -d' ' -f2-)
callbox_opts=$(grep '^callbox.ko' $MODULES | cut -d' ' -f2-)

# Reload kvm_amd with the options given after its own, and callbox.ko.
reload() {
	rmmod callbox 2>/dev/null
	rmmod kvm_amd || return 1
	# shellcheck disable=SC2086 # word splitting intended
	insmod /lib/modules/kvm-amd.ko $kvm_opts "$@" || return 1
	# shellcheck disable=SC2086
	insmod /lib/modules/callbox.ko $callbox_opts || return 1
	i=0
	while [ ! -c /dev/callbox ] && [ $i -lt 20 ]; do
		usleep 100000
		i=$((i + 1))
	done
	[ -c /dev/callbox ]
}

trap 'reload >/dev/null 2>&1' EXIT

if ! reload npt=0 || [ "$(cat $NPT)" != N ]; then
	not_ok "kvm_amd reloads with npt=0"
else
	ok "kvm_amd reloads with npt=0"
	out=$($CALLBOX run "$GUESTS/arith.elf" add 2 40 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && echo "$out" | grep -q "shadow paging"; then
		ok "a sandbox refuses to start without nested paging, and says why"
	else
		not_ok "a sandbox without nested paging: exit $rc: $out"
	fi
fi

if ! reload || [ "$(cat $NPT)" != Y ]; then
	not_ok "kvm_amd reloads with nested paging"
else
	out=$($CALLBOX run "$GUESTS/arith.elf" add 2 40 2>&1)
	if [ "$out" = 42 ]; then
		ok "with nested paging back, a call works"
	else
		not_ok "with nested paging back: $out"
	fi
fi
trap - EXIT

tap_totals
