#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Unloading callbox.ko right after sandboxes close while their calls are
# being kicked: a deadline fires on a spinning guest, and the process is
# killed at about the same moment, so the close races with the kick.
# rmmod must succeed at once, dmesg must stay clean (the VM runner checks),
# and the module must load and work again. When a kick was task work, its
# callback was module code that could run after the last file closed,
# from a module rmmod had already freed.
#
# After every rmmod, nothing of the module's inspection interfaces is
# left: no /sys/class/misc/callbox, no /sys/kernel/debug/callbox, no
# callbox trace event; after every insmod they are back, empty. Unloading
# while a tracefs instance traces the callbox events works too.
#
# Prints kselftest-style TAP and the same "# Totals:" line as the C suites.
CALLBOX=${CALLBOX:-/bin/callbox}
GUESTS=${GUESTS:-/guests}
MODULE=${MODULE:-/lib/modules/callbox.ko}
ROUNDS=${ROUNDS:-30}
. "$(dirname "$0")/tap.sh"

# Wait up to 2 s for /dev/callbox to (dis)appear: $1 is "present" or "gone".
wait_dev() {
	i=0
	while [ $i -lt 20 ]; do
		if [ "$1" = present ] && [ -c /dev/callbox ]; then
			return 0
		fi
		if [ "$1" = gone ] && [ ! -e /dev/callbox ]; then
			return 0
		fi
		usleep 100000
		i=$((i + 1))
	done
	return 1
}

SYSFS=/sys/class/misc/callbox
DEBUGFS=/sys/kernel/debug/callbox
TRACEFS=/sys/kernel/tracing

# Mount debugfs and tracefs if they are not already.
[ -e /sys/kernel/debug/tracing ] || [ -d $DEBUGFS ] ||
	mount -t debugfs none /sys/kernel/debug 2>/dev/null
[ -e $TRACEFS/available_events ] ||
	mount -t tracefs nodev $TRACEFS 2>/dev/null

# Nothing of the module is left; prints what is, if anything.
module_gone() {
	left=""
	[ -e $SYSFS ] && left="$left $SYSFS"
	[ -e $DEBUGFS ] && left="$left $DEBUGFS"
	if [ -e $TRACEFS/available_events ] &&
		grep -q callbox $TRACEFS/available_events; then
		left="$left trace events: $(grep callbox $TRACEFS/available_events | tr '\n' ' ')"
	fi
	[ -z "$left" ] && return 0
	echo "$left"
	return 1
}

# Everything is there, with no sandbox and no call left; prints what is
# wrong.
module_idle() {
	bad=""
	[ "$(cat $SYSFS/sandboxes 2>&1)" = 0 ] || bad="$bad sandboxes=$(cat $SYSFS/sandboxes 2>&1)"
	for f in queued entered hostcall; do
		[ "$(cat $SYSFS/calls/$f 2>&1)" = 0 ] || bad="$bad calls/$f=$(cat $SYSFS/calls/$f 2>&1)"
	done
	[ "$(cat $DEBUGFS/objects 2>&1)" = "sandboxes 0
calls 0" ] || bad="$bad objects: $(cat $DEBUGFS/objects 2>&1 | tr '\n' ' ')"
	if [ -e $TRACEFS/available_events ]; then
		n=$(grep -c '^callbox:' $TRACEFS/available_events)
		[ "$n" = 5 ] || bad="$bad $n callbox trace events"
	fi
	[ -z "$bad" ] && return 0
	echo "$bad"
	return 1
}

echo "TAP version 13"
if [ ! -f "$MODULE" ] || ! grep -q '^callbox ' /proc/modules; then
	echo "1..0 # SKIP callbox.ko is not loaded from $MODULE"
	echo "# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0"
	exit 0
fi

round=0
while [ $round -lt "$ROUNDS" ]; do
	round=$((round + 1))
	# A 20 ms deadline fires while guest code runs (under emulation
	# already in the load's init call, which it also bounds), kicking
	# the runner; the kill lands 60 to 150 ms after the start, around
	# that kick and the exit it causes.
	$CALLBOX run --timeout 0.02 "$GUESTS/spin.elf" spin >/dev/null 2>&1 &
	pid=$!
	usleep $((60000 + (round * 3000) % 90000))
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	# The killed process's sandbox is gone once it is reaped.
	if ! bad=$(module_idle); then
		not_ok "round $round: after the kill:$bad"
		break
	fi
	if ! rmmod callbox 2>/tmp/rmmod.err; then
		not_ok "round $round: rmmod right after the close: $(cat /tmp/rmmod.err)"
		break
	fi
	if ! wait_dev gone; then
		not_ok "round $round: /dev/callbox stays after rmmod"
		break
	fi
	if ! left=$(module_gone); then
		not_ok "round $round: left after rmmod:$left"
		break
	fi
	if ! insmod "$MODULE" || ! wait_dev present; then
		not_ok "round $round: the module does not load again"
		break
	fi
	if ! bad=$(module_idle); then
		not_ok "round $round: after insmod:$bad"
		break
	fi
done
[ $fail -eq 0 ] && ok "rmmod right after $ROUNDS closes racing with a kick, nothing left"

# The module that came back works, and keeps nothing of it.
if out=$($CALLBOX run "$GUESTS/arith.elf" add 2 40 2>&1) && [ "$out" = 42 ]; then
	ok "a call after the last reload"
else
	not_ok "a call after the last reload: $out"
fi
if bad=$(module_idle); then
	ok "no sandbox, call or object left after the last call"
else
	not_ok "left after the last call:$bad"
fi

# Unloading while an instance of tracefs traces the callbox events: the
# events go (from the instance too), its buffer stays readable, and the
# module loads again.
inst=$TRACEFS/instances/callbox_rmmod_$$
if [ ! -e $TRACEFS/instances ]; then
	echo "# no tracefs: unloading while tracing is not checked"
elif ! mkdir $inst || ! echo 1 >$inst/events/callbox/enable; then
	not_ok "tracing the callbox events in $inst"
else
	$CALLBOX run "$GUESTS/arith.elf" add 2 40 >/dev/null 2>&1
	if ! grep -q 'sandbox_create: sandbox=' $inst/trace; then
		not_ok "no sandbox_create event traced"
	elif ! rmmod callbox 2>/tmp/rmmod.err; then
		not_ok "rmmod while tracing: $(cat /tmp/rmmod.err)"
	elif [ -e $inst/events/callbox ]; then
		not_ok "the instance keeps events/callbox after rmmod"
	elif ! left=$(module_gone); then
		not_ok "left after rmmod while tracing:$left"
	elif ! cat $inst/trace >/dev/null; then
		not_ok "the instance's trace cannot be read after rmmod"
	elif ! insmod "$MODULE" || ! wait_dev present; then
		not_ok "the module does not load again after rmmod while tracing"
	elif ! bad=$(module_idle); then
		not_ok "after insmod (was tracing):$bad"
	else
		ok "rmmod while an instance traces the callbox events"
	fi
	[ -e $inst/events/callbox/enable ] && echo 0 >$inst/events/callbox/enable
	rmdir $inst
fi

tap_totals
