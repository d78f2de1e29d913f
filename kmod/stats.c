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
#include <linux/percpu.h>
#include <linux/device.h>
#include <linux/kernel.h>
#include <linux/sysfs.h>

#include "callbox.h"
#include "stats.h"

DEFINE_PER_CPU(struct callbox_stats, callbox_stats);

/* Sum of the counter at @offset in struct callbox_stats, over all CPUs. */
static long callbox_stats_sum(size_t offset)
{
	long sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += *(long *)((char *)per_cpu_ptr(&callbox_stats, cpu) +
				 offset);
	return sum;
}

void callbox_stats_objects(long *sandboxes, long *calls)
{
	*sandboxes = callbox_stats_sum(offsetof(struct callbox_stats,
						sandbox_objects));
	*calls = callbox_stats_sum(offsetof(struct callbox_stats,
					    call_objects));
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
 * One file per counter: the attribute carries where the counter is in
 * struct callbox_stats. A count of calls in a state now is summed from
 * CPUs that move at once, so a call that leaves one CPU's count and
 * enters another's can make the sum fall below zero for a moment: it
 * shows as 0.
 */
struct callbox_counter_attr {
	struct device_attribute attr;
	size_t offset;
	bool now;
};

static ssize_t callbox_counter_show(struct device *dev,
				    struct device_attribute *attr, char *buf)
{
	struct callbox_counter_attr *ca = container_of(attr,
						       struct callbox_counter_attr,
						       attr);
	long sum = callbox_stats_sum(ca->offset);

	return sysfs_emit(buf, "%ld\n", ca->now ? max(sum, 0L) : sum);
}

#define CALLBOX_NAMED_COUNTER(_var, _file, _field, _now)		\
	struct callbox_counter_attr callbox_attr_##_var = {		\
		.attr = {						\
			.attr = { .name = _file, .mode = 0444 },	\
			.show = callbox_counter_show,			\
		},							\
		.offset = offsetof(struct callbox_stats, _field),	\
		.now = (_now),						\
	}
#define CALLBOX_COUNTER(_name, _field, _now)				\
	CALLBOX_NAMED_COUNTER(_name, #_name, _field, _now)

static CALLBOX_COUNTER(queued, in_state[CALLBOX_STATE_QUEUED], true);
static CALLBOX_COUNTER(entered, in_state[CALLBOX_STATE_ENTERED], true);
static CALLBOX_COUNTER(hostcall, in_state[CALLBOX_STATE_HOSTCALL], true);
static CALLBOX_COUNTER(total, total, false);
static CALLBOX_COUNTER(exited, exited, false);

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
	CALLBOX_COUNTER(_name, aborted[_reason], false)

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

static CALLBOX_NAMED_COUNTER(kicks_total, "total", kicks, false);
static CALLBOX_NAMED_COUNTER(kicks_missed, "missed", kicks_missed, false);

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
