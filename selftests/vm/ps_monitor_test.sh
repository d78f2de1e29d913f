#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# `callbox ps` and `callbox monitor` in the test VM, as an operator uses
# them: against another process's sandbox, with the exact lines they
# print. Prints kselftest-style TAP and a "# Totals:" line.
CALLBOX=${CALLBOX:-/bin/callbox}
GUESTS=${GUESTS:-/guests}
tmp=/tmp/ps_monitor_test
rm -rf $tmp
mkdir -p $tmp
n=0 pass=0 fail=0

result() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		pass=$((pass + 1))
		echo "ok $n $2"
	else
		fail=$((fail + 1))
		echo "not ok $n $2"
		[ -f "$3" ] && sed 's/^/#   /' "$3"
	fi
}

# expect FILE DESC ERE: FILE has a line matching ERE.
expect() {
	grep -Eq -- "$3" "$1"
	result $? "$2" "$1"
}

echo "TAP version 13"

# ---- ps, while another process's call spins ----
$CALLBOX run --timeout 30 $GUESTS/spin.elf spin >$tmp/spin.out 2>&1 &
spinner=$!
# Its sandbox is there once the spin call is ENTERED.
i=0
while [ $i -lt 100 ]; do
	$CALLBOX ps >$tmp/ps.out 2>&1
	grep -Eq "^[0-9]+ +$spinner +0 +running " $tmp/ps.out && break
	sleep 0.1
	i=$((i + 1))
done
expect $tmp/ps.out "ps: the spinning sandbox is running, owned by its pid" \
	"^[0-9]+ +$spinner +0 +running +[0-9.]+[mun]?s +2 +1 +0 +2$"
id=$(awk -v p=$spinner '$2 == p { print $1 }' $tmp/ps.out)

$CALLBOX ps "$id" >$tmp/ps_id.out 2>&1
result $? "ps ID exits 0" $tmp/ps_id.out
expect $tmp/ps_id.out "ps ID: the sandbox line" \
	"^sandbox $id: pid $spinner, uid 0, running, age "
expect $tmp/ps_id.out "ps ID: call 2 ENTERED, run by the CLI's thread, with a deadline" \
	"^2 +ENTERED +- +[0-9.]+[mun]?s +$spinner +[0-9.]+[mun]?s$"
expect $tmp/ps_id.out "ps ID: the init call exited, with its three states" \
	"^1 +EXITED +- +guest_ran,init +yes +QUEUED 0 ENTERED \+[0-9.]+[mun]?s EXITED \+[0-9.]+[mun]?s$"

$CALLBOX ps --json "$id" >$tmp/ps_json.out 2>&1
expect $tmp/ps_json.out "ps --json ID: one object with the live call" \
	"^\{\"id\":$id,\"owner_pid\":$spinner,.*\"live_calls\":\[\{\"id\":2,\"state\":\"ENTERED\""
$CALLBOX ps --json >$tmp/ps_jsonall.out 2>&1
head -n1 $tmp/ps_jsonall.out | grep -q '^\[$' &&
	tail -n1 $tmp/ps_jsonall.out | grep -q '^\]$' &&
	grep -Eq "^\{\"id\":$id,\"owner_pid\":$spinner,\"owner_uid\":0,\"state\":\"running\",.*\"current_call\":2\},?$" \
		$tmp/ps_jsonall.out
result $? "ps --json: an array with the sandbox, one object a line" \
	$tmp/ps_jsonall.out

kill $spinner
wait $spinner

# Gone with its process.
$CALLBOX ps "$id" >$tmp/ps_gone.out 2>&1
st=$?
[ $st -eq 1 ] && grep -q "no sandbox $id" $tmp/ps_gone.out
result $? "ps ID of a sandbox whose process died: exit 1, no such sandbox" \
	$tmp/ps_gone.out
$CALLBOX ps >$tmp/ps_after.out 2>&1
! grep -Eq "^$id " $tmp/ps_after.out
result $? "ps: the dead process's sandbox is gone" $tmp/ps_after.out

$CALLBOX ps 18446744073709551615 >$tmp/ps_huge.out 2>&1
[ $? -eq 1 ] && grep -q "no sandbox" $tmp/ps_huge.out
result $? "ps of a huge id: exit 1, no such sandbox" $tmp/ps_huge.out
$CALLBOX ps nope >$tmp/ps_bad.out 2>&1
[ $? -eq 2 ]
result $? "ps of a non-number: usage error (exit 2)" $tmp/ps_bad.out

# ---- monitor: the exact stream of one process's calls ----
$CALLBOX monitor >$tmp/mon.out 2>&1 &
mon=$!
$CALLBOX monitor --json >$tmp/monjson.out 2>&1 &
monjson=$!
sleep 0.5
$CALLBOX run $GUESTS/arith.elf add 2 3 >/dev/null 2>&1 &
adder=$!
wait $adder
$CALLBOX run $GUESTS/fault.elf 2>/dev/null | head -n1 >/dev/null
sleep 1
kill -INT $mon
wait $mon
result $? "monitor exits 0 on SIGINT" $tmp/mon.out
kill -TERM $monjson
wait $monjson
result $? "monitor --json exits 0 on SIGTERM" $tmp/monjson.out

# The adder's sandbox is the one created first after the monitor started.
sid=$(sed -n 's/^sandbox \([0-9]*\) created.*/\1/p' $tmp/mon.out | head -n1)
grep "^sandbox $sid " $tmp/mon.out >$tmp/mon_sb.out
cat >$tmp/mon_want.out <<EOT
sandbox $sid created uid 0
sandbox $sid call 1 new -> QUEUED flags=init
sandbox $sid call 1 QUEUED -> ENTERED flags=init
sandbox $sid call 1 ENTERED -> EXITED flags=guest_ran,init
sandbox $sid call 2 new -> QUEUED
sandbox $sid call 2 QUEUED -> ENTERED
sandbox $sid call 2 ENTERED -> EXITED flags=guest_ran
sandbox $sid shutdown
EOT
cmp -s $tmp/mon_sb.out $tmp/mon_want.out
result $? "monitor: the exact events of one add call" $tmp/mon_sb.out

grep "\"sandbox_id\":$sid[,}]" $tmp/monjson.out >$tmp/monjson_sb.out
[ "$(wc -l <$tmp/monjson_sb.out)" -eq 8 ] &&
	head -n1 $tmp/monjson_sb.out | grep -q '"type":"sandbox-create"' &&
	sed -n 7p $tmp/monjson_sb.out |
	grep -Eq '"call_id":2,"from":"ENTERED","to":"EXITED","reason":null,"flags":\["guest_ran"\]'
result $? "monitor --json: the same eight events as JSON Lines" \
	$tmp/monjson_sb.out

echo "1..$n"
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ $fail -eq 0 ]
