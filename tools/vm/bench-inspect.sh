#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# In the test VM (make bench): what inspection costs. Sync calls per
# second on the module before inspection existed (/bench/callbox-base.ko,
# built from BENCH_BASE_REV) and on today's (/bench/callbox.ko): with
# nobody listening, with the netlink events group followed, and with the
# callbox tracepoints on. Modules are swapped between runs; each run is
# measured against its own KVM_RUN floor, and the ratios of those are
# compared, round after round. Then callbox ps with 1,000 sandboxes.
#
# make bench boots the VM with tsc=reliable: the emulated machine's TSC
# looks unsynchronised to Linux, which then reads the time from an
# emulated HPET, an MMIO exit per read that no real host pays; the
# module reads the time at every call transition.
#
# Measured here (5 rounds, December 2026): nobody listening 1.060x,
# events followed 1.104x, tracepoints on 1.18x; callbox ps with 1,000
# sandboxes 30-55 ms (the dump alone 13-24 ms). Sending one message per
# event, a followed group cost 2.28x; batches brought it to 1.10x.
# Nobody listening misses its 1.02x target. Modules built with one part
# removed each put the rest of the cost on: the "does anyone listen?"
# check (genl_has_listeners(), -0.03x) and the three clock readings a
# call's states are timed with (-0.04x); the counters (per-CPU), the
# records and the tracepoints (a patched-out jump) are within noise.
# 6.1 offers no callback when someone joins a group, so the check cannot
# be cached without missing the first events of a new listener.
#
# The same runs with QEMU's -icount shift=0 (CALLBOX_VM_QEMU_EXTRA, single-
# threaded; the VM's clock then counts instructions, so a ratio is one of
# instructions, free of emulation artefacts and almost free of noise),
# December 2026: today's module costs 1.136x the one before inspection;
# with every inspection hook of a transition removed (records, times,
# counters, tracepoints, the listener check, the ring of ended calls) it
# still costs 1.065x: what the work of other issues since added. So
# inspection with nobody listening is about 1.067x, some 540 instructions
# a sync call: the listener check (three, -0.025x), the clock readings
# and transition records (-0.018x), the ring of ended calls (-0.018x);
# counters and tracepoints cost nothing measurable. Dropping the check
# alone (a static key turned on by a subscribe request, say) would leave
# about 1.04x: the 1.02x target needs the records made cheaper too.
#
# Since the calls themselves got cheaper (a sandbox reuses its last
# call's struct, and CALL_SYNC checks the security module once), the
# module before inspection costs more per call than today's: 5 rounds,
# December 2026, gave nobody listening 0.966x, events followed 0.976x,
# tracepoints on 1.094x; callbox ps with 1,000 sandboxes 34 ms. Against
# the base these ratios no longer show what inspection costs. With
# -icount, against today's module with the hooks removed, it is 1.091x
# (452 instructions a sync call of 5,438): the listener checks 155, the
# clock readings and records 143, the ring of ended calls 123.
set -eu
T=/sys/kernel/tracing
rounds=${ROUNDS:-5}
mount -t tracefs none $T 2>/dev/null || true
rmmod callbox 2>/dev/null || true

out=/tmp/bench-inspect.txt
: >$out
r=0
while [ $r -lt "$rounds" ]; do
	insmod /bench/callbox-base.ko
	echo "base $(bench-inspect rate)" | tee -a $out
	rmmod callbox
	insmod /bench/callbox.ko
	echo "quiet $(bench-inspect rate)" | tee -a $out
	echo "listen $(bench-inspect rate --listen)" | tee -a $out
	echo 1 >$T/events/callbox/enable
	echo "trace $(bench-inspect rate)" | tee -a $out
	echo 0 >$T/events/callbox/enable
	echo >$T/trace
	rmmod callbox
	r=$((r + 1))
done

# Per phase, the median over rounds of its sync/floor ratio, against base.
awk '
	{ for (i = 2; i < NF; i++) if ($i == "ratio") v[$1] = v[$1] " " $(i + 1) }
	function med(s,   a, n, i, j, t) {
		n = split(s, a, " ")
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
			if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return a[int((n + 1) / 2)]
	}
	END {
		b = med(v["base"])
		printf "sync call cost against the module before inspection existed (median of %d rounds, TCG):\n", split(v["base"], x, " ")
		printf "  %-34s %.3fx  (target <= 1.02x)\n", "nobody listening, tracepoints off", med(v["quiet"]) / b
		printf "  %-34s %.3fx  (target <= 1.10x)\n", "events group followed", med(v["listen"]) / b
		printf "  %-34s %.3fx\n", "callbox tracepoints on", med(v["trace"]) / b
	}' $out

insmod /bench/callbox.ko
mkfifo /tmp/hold
bench-inspect hold 1000 </tmp/hold >/tmp/hold.out &
exec 3>/tmp/hold
while ! grep -q ready /tmp/hold.out; do sleep 0.2; done
echo "callbox ps with 1,000 live sandboxes (median of 11):"
echo "  $(bench-inspect ps callbox)"
exec 3>&-
wait
