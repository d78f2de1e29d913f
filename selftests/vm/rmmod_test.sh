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
# Prints kselftest-style TAP and the same "# Totals:" line as the C suites.
CALLBOX=${CALLBOX:-/bin/callbox}
GUESTS=${GUESTS:-/guests}
MODULE=${MODULE:-/lib/modules/callbox.ko}
ROUNDS=${ROUNDS:-30}
n=0
pass=0
fail=0

ok() {
	n=$((n + 1))
	pass=$((pass + 1))
	echo "ok $n $*"
}

not_ok() {
	n=$((n + 1))
	fail=$((fail + 1))
	echo "not ok $n $*"
}

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
	if ! rmmod callbox 2>/tmp/rmmod.err; then
		not_ok "round $round: rmmod right after the close: $(cat /tmp/rmmod.err)"
		break
	fi
	if ! wait_dev gone; then
		not_ok "round $round: /dev/callbox stays after rmmod"
		break
	fi
	if ! insmod "$MODULE" || ! wait_dev present; then
		not_ok "round $round: the module does not load again"
		break
	fi
done
[ $fail -eq 0 ] && ok "rmmod right after $ROUNDS closes racing with a kick"

# The module that came back works.
if out=$($CALLBOX run "$GUESTS/arith.elf" add 2 40 2>&1) && [ "$out" = 42 ]; then
	ok "a call after the last reload"
else
	not_ok "a call after the last reload: $out"
fi

echo "1..$n"
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ "$fail" -eq 0 ]
