/* SPDX-License-Identifier: GPL-2.0 */
/*
 * callbox: the module-wide counters (stats.c shows them in sysfs). They
 * are counted on the path of every call transition, under the sandbox
 * lock, so they are per-CPU: one plain increment, no shared cache line,
 * no atomic operation. Readers sum them.
 */
#ifndef _CALLBOX_STATS_H
#define _CALLBOX_STATS_H

#include <linux/percpu.h>
#include <linux/callbox.h>

/**
 * struct callbox_stats - one CPU's share of the module-wide counters
 * @in_state: calls that entered each state here minus those that left it
 * @total: calls published
 * @exited: calls that ended EXITED
 * @aborted: calls that ended ABORTED, by reason
 * @kicks: kicks sent
 * @kicks_missed: kicks that found the runner out of the guest already
 * @sandbox_objects: sandboxes allocated minus freed (debugfs "objects")
 * @call_objects: calls allocated minus released; a released call kept
 *	as its sandbox's spare counts with the sandbox (callbox_call_alloc())
 */
struct callbox_stats {
	long in_state[CALLBOX_STATE_HOSTCALL + 1];
	long total;
	long exited;
	long aborted[CALLBOX_ABORT_OWNER_EXITED + 1];
	long kicks;
	long kicks_missed;
	long sandbox_objects;
	long call_objects;
};

DECLARE_PER_CPU(struct callbox_stats, callbox_stats);

/* A call entered @state from @from (0: it was just published). */
static inline void callbox_stats_transition(u32 from, u32 state, u32 reason)
{
	if (from)
		this_cpu_dec(callbox_stats.in_state[from]);
	else
		this_cpu_inc(callbox_stats.total);
	switch (state) {
	case CALLBOX_STATE_EXITED:
		this_cpu_inc(callbox_stats.exited);
		break;
	case CALLBOX_STATE_ABORTED:
		if (!WARN_ON_ONCE(reason > CALLBOX_ABORT_OWNER_EXITED))
			this_cpu_inc(callbox_stats.aborted[reason]);
		break;
	default:
		this_cpu_inc(callbox_stats.in_state[state]);
	}
}

static inline void callbox_stats_objects_add(long sandboxes, long calls)
{
	this_cpu_add(callbox_stats.sandbox_objects, sandboxes);
	this_cpu_add(callbox_stats.call_objects, calls);
}

static inline void callbox_stats_kick(void)
{
	this_cpu_inc(callbox_stats.kicks);
}

/* A kick found its runner out of the guest already: it forced nothing. */
static inline void callbox_stats_kick_missed(void)
{
	this_cpu_inc(callbox_stats.kicks_missed);
}

void callbox_stats_objects(long *sandboxes, long *calls);

#endif /* _CALLBOX_STATS_H */
