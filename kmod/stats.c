// SPDX-License-Identifier: GPL-2.0
/*
 * callbox: module-wide counters, and their sysfs files.
 *
 * The files hang off the misc device, /sys/class/misc/callbox/, one value
 * each (Documentation/ABI/testing/sysfs-class-misc-callbox):
 *
 *   sandboxes                 live sandboxes
 *   calls/queued, calls/entered, calls/hostcall
 *                             calls in that state right now
 *   calls/total, calls/exited calls published and calls that ended EXITED
 *                             since the module was loaded
 *   aborted/<reason>          calls that ended ABORTED with that reason
 *   kicks/total, kicks/missed kicks sent, and kicks that found the runner
 *                             out of the guest already
 *   limits/max_calls, limits/max_struct_size, limits/recent_calls
 *
 * Per-sandbox values are not here but in debugfs and netlink: a sandbox is
 * owned by one user, and sysfs is world-readable ABI, so a directory per
 * sandbox would show every user's sandboxes to every other user, and a
 * kobject per sandbox costs more than the sandbox's creation should.
 */
#include <linux/atomic.h>
#include <linux/device.h>
#include <linux/kernel.h>
#include <linux/sysfs.h>

#include "callbox.h"

struct callbox_stats {
	atomic_long_t in_state[CALLBOX_STATE_HOSTCALL + 1];
	atomic64_t total;
	atomic64_t exited;
	atomic64_t aborted[CALLBOX_ABORT_OWNER_EXITED + 1];
	atomic64_t kicks;
	atomic64_t kicks_missed;
	/* Allocated and not yet freed, for leak checks (debugfs "objects"). */
	atomic_long_t sandbox_objects;
	atomic_long_t call_objects;
};

static struct callbox_stats callbox_stats;

/* A call entered @state from @from (0: it was just published). */
void callbox_stats_transition(u32 from, u32 state, u32 reason)
{
	if (from)
		atomic_long_dec(&callbox_stats.in_state[from]);
	else
		atomic64_inc(&callbox_stats.total);
	switch (state) {
	case CALLBOX_STATE_EXITED:
		atomic64_inc(&callbox_stats.exited);
		break;
	case CALLBOX_STATE_ABORTED:
		if (!WARN_ON_ONCE(reason >= ARRAY_SIZE(callbox_stats.aborted)))
			atomic64_inc(&callbox_stats.aborted[reason]);
		break;
	default:
		atomic_long_inc(&callbox_stats.in_state[state]);
	}
}

void callbox_stats_objects_add(int sandboxes, int calls)
{
	atomic_long_add(sandboxes, &callbox_stats.sandbox_objects);
	atomic_long_add(calls, &callbox_stats.call_objects);
}

void callbox_stats_objects(long *sandboxes, long *calls)
{
	*sandboxes = atomic_long_read(&callbox_stats.sandbox_objects);
	*calls = atomic_long_read(&callbox_stats.call_objects);
}

void callbox_stats_kick(void)
{
	atomic64_inc(&callbox_stats.kicks);
}

/* A kick found its runner out of the guest already: it forced nothing. */
void callbox_stats_kick_missed(void)
{
	atomic64_inc(&callbox_stats.kicks_missed);
}

static ssize_t sandboxes_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", callbox_registry_count());
}
static DEVICE_ATTR_RO(sandboxes);

static struct attribute *callbox_top_attrs[] = {
	&dev_attr_sandboxes.attr,
	NULL,
};

static const struct attribute_group callbox_top_group = {
	.attrs = callbox_top_attrs,
};

/*
 * One file per counter: the attribute carries a pointer to it, and
 * whether it is an atomic64_t or an atomic_long_t.
 */
struct callbox_counter_attr {
	struct device_attribute attr;
	void *counter;
	bool is_long;
};

static ssize_t callbox_counter_show(struct device *dev,
				    struct device_attribute *attr, char *buf)
{
	struct callbox_counter_attr *ca = container_of(attr,
						       struct callbox_counter_attr,
						       attr);

	if (ca->is_long)
		return sysfs_emit(buf, "%ld\n", atomic_long_read(ca->counter));
	return sysfs_emit(buf, "%lld\n", atomic64_read(ca->counter));
}

#define CALLBOX_NAMED_COUNTER(_var, _file, _counter, _long)		\
	struct callbox_counter_attr callbox_attr_##_var = {		\
		.attr = {						\
			.attr = { .name = _file, .mode = 0444 },	\
			.show = callbox_counter_show,			\
		},							\
		.counter = (_counter),					\
		.is_long = (_long),					\
	}
#define CALLBOX_COUNTER(_name, _counter, _long)				\
	CALLBOX_NAMED_COUNTER(_name, #_name, _counter, _long)

static CALLBOX_COUNTER(queued,
		       &callbox_stats.in_state[CALLBOX_STATE_QUEUED], true);
static CALLBOX_COUNTER(entered,
		       &callbox_stats.in_state[CALLBOX_STATE_ENTERED], true);
static CALLBOX_COUNTER(hostcall,
		       &callbox_stats.in_state[CALLBOX_STATE_HOSTCALL], true);
static CALLBOX_COUNTER(total, &callbox_stats.total, false);
static CALLBOX_COUNTER(exited, &callbox_stats.exited, false);

static struct attribute *callbox_calls_attrs[] = {
	&callbox_attr_queued.attr.attr,
	&callbox_attr_entered.attr.attr,
	&callbox_attr_hostcall.attr.attr,
	&callbox_attr_total.attr.attr,
	&callbox_attr_exited.attr.attr,
	NULL,
};

static const struct attribute_group callbox_calls_group = {
	.name = "calls",
	.attrs = callbox_calls_attrs,
};

#define CALLBOX_ABORTED(_name, _reason)					\
	CALLBOX_COUNTER(_name, &callbox_stats.aborted[_reason], false)

static CALLBOX_ABORTED(guest_abort, CALLBOX_ABORT_GUEST_ABORT);
static CALLBOX_ABORTED(shutdown, CALLBOX_ABORT_SHUTDOWN);
static CALLBOX_ABORTED(bad_port, CALLBOX_ABORT_BAD_PORT);
static CALLBOX_ABORTED(mmio, CALLBOX_ABORT_MMIO);
static CALLBOX_ABORTED(halt, CALLBOX_ABORT_HALT);
static CALLBOX_ABORTED(entry_failed, CALLBOX_ABORT_ENTRY_FAILED);
static CALLBOX_ABORTED(internal_error, CALLBOX_ABORT_INTERNAL_ERROR);
static CALLBOX_ABORTED(unexpected_exit, CALLBOX_ABORT_UNEXPECTED_EXIT);
static CALLBOX_ABORTED(killed, CALLBOX_ABORT_KILLED);
static CALLBOX_ABORTED(run_failed, CALLBOX_ABORT_RUN_FAILED);
static CALLBOX_ABORTED(cancelled, CALLBOX_ABORT_CANCELLED);
static CALLBOX_ABORTED(deadline, CALLBOX_ABORT_DEADLINE);
static CALLBOX_ABORTED(sandbox_closed, CALLBOX_ABORT_SANDBOX_CLOSED);
static CALLBOX_ABORTED(owner_exited, CALLBOX_ABORT_OWNER_EXITED);

/* Named as callbox_abort_reason_name() names them, lower case. */
static struct attribute *callbox_aborted_attrs[] = {
	&callbox_attr_guest_abort.attr.attr,
	&callbox_attr_shutdown.attr.attr,
	&callbox_attr_bad_port.attr.attr,
	&callbox_attr_mmio.attr.attr,
	&callbox_attr_halt.attr.attr,
	&callbox_attr_entry_failed.attr.attr,
	&callbox_attr_internal_error.attr.attr,
	&callbox_attr_unexpected_exit.attr.attr,
	&callbox_attr_killed.attr.attr,
	&callbox_attr_run_failed.attr.attr,
	&callbox_attr_cancelled.attr.attr,
	&callbox_attr_deadline.attr.attr,
	&callbox_attr_sandbox_closed.attr.attr,
	&callbox_attr_owner_exited.attr.attr,
	NULL,
};

static const struct attribute_group callbox_aborted_group = {
	.name = "aborted",
	.attrs = callbox_aborted_attrs,
};

static CALLBOX_NAMED_COUNTER(kicks_total, "total", &callbox_stats.kicks,
			     false);
static CALLBOX_NAMED_COUNTER(kicks_missed, "missed",
			     &callbox_stats.kicks_missed, false);

static struct attribute *callbox_kicks_attrs[] = {
	&callbox_attr_kicks_total.attr.attr,
	&callbox_attr_kicks_missed.attr.attr,
	NULL,
};

static const struct attribute_group callbox_kicks_group = {
	.name = "kicks",
	.attrs = callbox_kicks_attrs,
};

#define CALLBOX_LIMIT(_name, _value)					\
static ssize_t _name##_show(struct device *dev,				\
			    struct device_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%u\n", (unsigned int)(_value));		\
}									\
static DEVICE_ATTR_RO(_name)

CALLBOX_LIMIT(max_calls, CALLBOX_MAX_CALLS);
CALLBOX_LIMIT(max_struct_size, CALLBOX_UCMD_SIZE_MAX);
CALLBOX_LIMIT(recent_calls, CALLBOX_NL_RECENT_CALLS);

static struct attribute *callbox_limits_attrs[] = {
	&dev_attr_max_calls.attr,
	&dev_attr_max_struct_size.attr,
	&dev_attr_recent_calls.attr,
	NULL,
};

static const struct attribute_group callbox_limits_group = {
	.name = "limits",
	.attrs = callbox_limits_attrs,
};

const struct attribute_group *callbox_stats_groups[] = {
	&callbox_top_group,
	&callbox_calls_group,
	&callbox_aborted_group,
	&callbox_kicks_group,
	&callbox_limits_group,
	NULL,
};
