// SPDX-License-Identifier: GPL-2.0
/*
 * callbox: debugfs, for a root user debugging the module. Not ABI.
 *
 *   /sys/kernel/debug/callbox/transitions      the call state table, as
 *                                              the kernel holds it
 *   /sys/kernel/debug/callbox/objects          sandboxes and calls
 *                                              allocated and not freed
 *                                              (a sandbox's spare call
 *                                              counts with the sandbox)
 *   /sys/kernel/debug/callbox/<id>/calls       every live call of sandbox
 *                                              <id>: state, flags, age,
 *                                              runner, deadline left
 *   /sys/kernel/debug/callbox/<id>/recent      its last ended calls, with
 *                                              the time of every state
 *                                              they entered
 *
 * A sandbox's directory comes with it and goes when its fd is released;
 * debugfs waits for readers in flight before the removal returns, so a
 * reader never sees a freed sandbox.
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>

#include "callbox.h"
#include "stats.h"

static struct dentry *callbox_debugfs_root;

static int callbox_debugfs_transitions_show(struct seq_file *m, void *v)
{
	static const u32 states[] = {
		CALLBOX_STATE_QUEUED, CALLBOX_STATE_ENTERED,
		CALLBOX_STATE_HOSTCALL, CALLBOX_STATE_EXITED,
		CALLBOX_STATE_ABORTED,
	};
	int i, j;

	for (i = 0; i < ARRAY_SIZE(states); i++) {
		seq_printf(m, "%-8s ->", callbox_state_name(states[i]));
		for (j = 0; j < ARRAY_SIZE(states); j++) {
			if (callbox_call_may_transition(states[i], states[j]))
				seq_printf(m, " %s",
					   callbox_state_name(states[j]));
		}
		seq_putc(m, '\n');
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(callbox_debugfs_transitions);

static int callbox_debugfs_objects_show(struct seq_file *m, void *v)
{
	long sandboxes, calls;

	callbox_stats_objects(&sandboxes, &calls);
	seq_printf(m, "sandboxes %ld\ncalls %ld\n", sandboxes, calls);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(callbox_debugfs_objects);

static void callbox_debugfs_show_flags(struct seq_file *m, u32 flags)
{
	static const char *const names[] = {
		"guest_ran", "cancel_pending", "poisoned", "init",
	};
	bool first = true;
	int i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		if (!(flags & BIT(i)))
			continue;
		seq_printf(m, "%s%s", first ? "" : ",", names[i]);
		first = false;
	}
	if (first)
		seq_putc(m, '-');
}

static int callbox_debugfs_calls_show(struct seq_file *m, void *v)
{
	struct callbox_sandbox_report *r;
	u32 i;

	r = callbox_sandbox_report(m->private, true);
	if (!r)
		return -ENOMEM;
	seq_puts(m, "id state flags age_ns runner_tid deadline_left_ns\n");
	for (i = 0; i < r->nr_live; i++) {
		const struct callbox_call_record *c = &r->live[i];

		seq_printf(m, "%llu %s ", c->id, callbox_state_name(c->state));
		callbox_debugfs_show_flags(m, c->flags);
		seq_printf(m, " %llu %d ", c->age_ns, c->runner_tid);
		if (c->deadline_left_ns < 0)
			seq_puts(m, "-\n");
		else
			seq_printf(m, "%lld\n", c->deadline_left_ns);
	}
	callbox_sandbox_report_free(r);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(callbox_debugfs_calls);

static int callbox_debugfs_recent_show(struct seq_file *m, void *v)
{
	struct callbox_sandbox_report *r;
	u32 i, j, n;

	r = callbox_sandbox_report(m->private, false);
	if (!r)
		return -ENOMEM;
	seq_puts(m, "id state reason flags guest_ran transitions (state@ns since queued)\n");
	for (i = 0; i < r->nr_recent; i++) {
		const struct callbox_call_record *c = &r->recent[i];
		u64 queued = c->transitions[0].time_ns;

		seq_printf(m, "%llu %s %s ", c->id,
			   callbox_state_name(c->state),
			   callbox_abort_reason_name(c->reason));
		callbox_debugfs_show_flags(m, c->flags);
		seq_printf(m, " %s %u",
			   c->flags & CALLBOX_CALL_GUEST_RAN ? "yes" : "no",
			   c->nr_transitions);
		n = min_t(u32, c->nr_transitions, CALLBOX_NL_MAX_TRANSITIONS);
		for (j = 0; j < n; j++) {
			/* The last place holds the latest, after a gap. */
			if (j == n - 1 && c->nr_transitions > n)
				seq_puts(m, " ...");
			seq_printf(m, " %s@%llu",
				   callbox_state_name(c->transitions[j].state),
				   c->transitions[j].time_ns - queued);
		}
		seq_putc(m, '\n');
	}
	callbox_sandbox_report_free(r);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(callbox_debugfs_recent);

void callbox_debugfs_sandbox_add(struct callbox_sandbox *sb)
{
	char name[24];

	snprintf(name, sizeof(name), "%llu", sb->id);
	/* Errors are ignored, as debugfs wants: it is not ABI. */
	sb->debugfs = debugfs_create_dir(name, callbox_debugfs_root);
	debugfs_create_file("calls", 0400, sb->debugfs, sb,
			    &callbox_debugfs_calls_fops);
	debugfs_create_file("recent", 0400, sb->debugfs, sb,
			    &callbox_debugfs_recent_fops);
}

/* Returns once no reader is inside a file of @sb's any more. */
void callbox_debugfs_sandbox_remove(struct callbox_sandbox *sb)
{
	debugfs_remove(sb->debugfs);
	sb->debugfs = NULL;
}

void callbox_debugfs_init(void)
{
	callbox_debugfs_root = debugfs_create_dir("callbox", NULL);
	debugfs_create_file("transitions", 0400, callbox_debugfs_root, NULL,
			    &callbox_debugfs_transitions_fops);
	debugfs_create_file("objects", 0400, callbox_debugfs_root, NULL,
			    &callbox_debugfs_objects_fops);
}

void callbox_debugfs_exit(void)
{
	debugfs_remove(callbox_debugfs_root);
}
