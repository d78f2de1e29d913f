// SPDX-License-Identifier: GPL-2.0
/*
 * callbox: what the inspection interfaces (fdinfo, debugfs, netlink) show
 * of a sandbox and its calls, copied under the sandbox lock so that each
 * report is one consistent moment, and the names they print.
 *
 * Each call keeps the time of the states it enters; when it ends, its
 * record goes into its sandbox's ring of recent calls, where it stays
 * after the call is consumed.
 */
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/pid_namespace.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>

#include "callbox.h"

static const char *const callbox_state_names[] = {
	[CALLBOX_STATE_QUEUED] = "QUEUED",
	[CALLBOX_STATE_ENTERED] = "ENTERED",
	[CALLBOX_STATE_EXITED] = "EXITED",
	[CALLBOX_STATE_ABORTED] = "ABORTED",
	[CALLBOX_STATE_HOSTCALL] = "HOSTCALL",
};

const char *callbox_state_name(u32 state)
{
	if (state < ARRAY_SIZE(callbox_state_names) &&
	    callbox_state_names[state])
		return callbox_state_names[state];
	return "NONE";
}

static const char *const callbox_sandbox_state_names[] = {
	[CALLBOX_NL_SANDBOX_IDLE] = "idle",
	[CALLBOX_NL_SANDBOX_RUNNING] = "running",
	[CALLBOX_NL_SANDBOX_POISONED] = "poisoned",
	[CALLBOX_NL_SANDBOX_SHUTDOWN] = "shutdown",
	[CALLBOX_NL_SANDBOX_RESTORING] = "restoring",
};

const char *callbox_sandbox_state_name(u32 state)
{
	if (state < ARRAY_SIZE(callbox_sandbox_state_names) &&
	    callbox_sandbox_state_names[state])
		return callbox_sandbox_state_names[state];
	return "unknown";
}

/* As the sysfs files under aborted/ are named. */
static const char *const callbox_abort_reason_names[] = {
	[CALLBOX_ABORT_NONE] = "none",
	[CALLBOX_ABORT_GUEST_ABORT] = "guest_abort",
	[CALLBOX_ABORT_SHUTDOWN] = "shutdown",
	[CALLBOX_ABORT_BAD_PORT] = "bad_port",
	[CALLBOX_ABORT_MMIO] = "mmio",
	[CALLBOX_ABORT_HALT] = "halt",
	[CALLBOX_ABORT_ENTRY_FAILED] = "entry_failed",
	[CALLBOX_ABORT_INTERNAL_ERROR] = "internal_error",
	[CALLBOX_ABORT_UNEXPECTED_EXIT] = "unexpected_exit",
	[CALLBOX_ABORT_KILLED] = "killed",
	[CALLBOX_ABORT_RUN_FAILED] = "run_failed",
	[CALLBOX_ABORT_CANCELLED] = "cancelled",
	[CALLBOX_ABORT_DEADLINE] = "deadline",
	[CALLBOX_ABORT_SANDBOX_CLOSED] = "sandbox_closed",
	[CALLBOX_ABORT_OWNER_EXITED] = "owner_exited",
};

const char *callbox_abort_reason_name(u32 reason)
{
	if (reason < ARRAY_SIZE(callbox_abort_reason_names))
		return callbox_abort_reason_names[reason];
	return "unknown";
}

u32 callbox_sandbox_state_locked(const struct callbox_sandbox *sb)
{
	lockdep_assert_held(&sb->lock);

	if (sb->shutdown)
		return CALLBOX_NL_SANDBOX_SHUTDOWN;
	if (sb->current_call)
		return CALLBOX_NL_SANDBOX_RUNNING;
	if (sb->restoring)
		return CALLBOX_NL_SANDBOX_RESTORING;
	if (sb->poisoned)
		return CALLBOX_NL_SANDBOX_POISONED;
	return CALLBOX_NL_SANDBOX_IDLE;
}

static void callbox_call_record_fill_locked(const struct callbox_call *call,
					    struct callbox_call_record *rec,
					    u64 now)
{
	struct callbox_sandbox *sb = call->sb;
	u32 n = min_t(u32, call->nr_transitions, CALLBOX_NL_MAX_TRANSITIONS);
	u64 queued = call->transitions[0].time_ns;
	u64 last = call->transitions[n ? n - 1 : 0].time_ns;
	bool ended = callbox_call_ended(call);

	*rec = (struct callbox_call_record) {
		.id = call->id,
		.state = call->state,
		.reason = call->reason,
		.flags = call->flags,
		.age_ns = (ended ? last : now) - queued,
		.deadline_left_ns = -1,
		.nr_transitions = call->nr_transitions,
	};
	memcpy(rec->transitions, call->transitions,
	       n * sizeof(rec->transitions[0]));
	if (sb->current_call == call && sb->runner)
		rec->runner_tid = task_pid_vnr(sb->runner);
	if (call->deadline_ns && !ended)
		rec->deadline_left_ns = call->deadline_ns > now ?
					call->deadline_ns - now : 0;
}

/* @call has just ended: keep its record in the sandbox's ring. */
void callbox_call_record_end_locked(struct callbox_call *call, u64 now)
{
	struct callbox_sandbox *sb = call->sb;
	struct callbox_call_record *rec;

	lockdep_assert_held(&sb->lock);

	rec = &sb->recent[sb->nr_recent % CALLBOX_NL_RECENT_CALLS];
	callbox_call_record_fill_locked(call, rec, now);
	sb->nr_recent++;
	if (call->state == CALLBOX_STATE_EXITED)
		sb->nr_exited++;
	else
		sb->nr_aborted++;
}

/*
 * The pid of the process @pid names, as the current task's namespace sees
 * it; 0 if it is not visible there or has exited. An exited process keeps
 * its pid until its parent reaps it, and the number may name another
 * process after that: it counts as gone once its last thread has exited.
 */
static pid_t callbox_live_tgid_vnr(struct pid *pid)
{
	struct task_struct *leader;
	pid_t nr = 0;

	rcu_read_lock();
	leader = pid_task(pid, PIDTYPE_TGID);
	/* The task, and so its signal_struct, outlives the RCU section. */
	if (leader && atomic_read(&leader->signal->live))
		nr = pid_vnr(pid);
	rcu_read_unlock();
	return nr;
}

/**
 * callbox_sandbox_report() - copy what a sandbox shows, at one moment
 * @sb: the sandbox
 * @with_calls: include every live call (and allocate room for them)
 *
 * Pids are as the current task's pid namespace sees them.
 *
 * Return: the report (free with callbox_sandbox_report_free()), or NULL
 * if memory ran out.
 */
struct callbox_sandbox_report *callbox_sandbox_report(struct callbox_sandbox *sb,
						      bool with_calls)
{
	struct callbox_sandbox_report *r;
	struct callbox_call *call;
	u64 now, first;
	u32 i;

	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return NULL;
	if (with_calls) {
		/* Init calls have places of their own. */
		r->live = kcalloc(2 * CALLBOX_MAX_CALLS, sizeof(*r->live),
				  GFP_KERNEL);
		if (!r->live) {
			kfree(r);
			return NULL;
		}
	}

	r->owner_pid = callbox_live_tgid_vnr(sb->owner_pid);
	spin_lock_irq(&sb->lock);
	now = ktime_get_ns();
	callbox_sandbox_reap_locked(sb);
	r->id = sb->id;
	r->owner_uid = sb->owner_uid;
	r->state = callbox_sandbox_state_locked(sb);
	r->age_ns = now - sb->created_ns;
	r->nr_published = sb->nr_published;
	r->nr_exited = sb->nr_exited;
	r->nr_aborted = sb->nr_aborted;
	if (sb->current_call)
		r->current_call = sb->current_call->id;
	if (with_calls) {
		list_for_each_entry(call, &sb->calls, node) {
			if (WARN_ON_ONCE(r->nr_live >= 2 * CALLBOX_MAX_CALLS))
				break;
			callbox_call_record_fill_locked(call,
							&r->live[r->nr_live++],
							now);
		}
	}
	r->nr_recent = min_t(u64, sb->nr_recent, CALLBOX_NL_RECENT_CALLS);
	first = sb->nr_recent - r->nr_recent;
	for (i = 0; i < r->nr_recent; i++)
		r->recent[i] = sb->recent[(first + i) % CALLBOX_NL_RECENT_CALLS];
	spin_unlock_irq(&sb->lock);
	return r;
}

void callbox_sandbox_report_free(struct callbox_sandbox_report *r)
{
	if (!r)
		return;
	kfree(r->live);
	kfree(r);
}

/*
 * /proc/<pid>/fdinfo/<fd>: what is behind the fd, as KVM, io_uring and
 * eventfd answer it. One "key:\tvalue" per line.
 */
void callbox_sandbox_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct callbox_sandbox *sb = file->private_data;
	struct callbox_call *call;
	u64 call_id = 0;
	u32 call_state = 0;
	u32 state;

	spin_lock_irq(&sb->lock);
	callbox_sandbox_reap_locked(sb);
	state = callbox_sandbox_state_locked(sb);
	/* The call running or parked, else the next to run. */
	call = sb->current_call ?: list_first_entry_or_null(&sb->queue,
							      struct callbox_call,
							      queue_node);
	if (call) {
		call_id = call->id;
		call_state = call->state;
	}
	seq_printf(m, "sandbox_id:\t%llu\n", sb->id);
	seq_printf(m, "state:\t%s\n", callbox_sandbox_state_name(state));
	seq_printf(m, "call_id:\t%llu\n", call_id);
	seq_printf(m, "call_state:\t%s\n", callbox_state_name(call_state));
	seq_printf(m, "calls:\t%llu\n", sb->nr_published);
	seq_printf(m, "exited:\t%llu\n", sb->nr_exited);
	seq_printf(m, "aborted:\t%llu\n", sb->nr_aborted);
	seq_printf(m, "unconsumed:\t%u\n", sb->nr_calls + sb->nr_init);
	spin_unlock_irq(&sb->lock);
}
