// SPDX-License-Identifier: GPL-2.0
/*
 * callbox: the call object and its state machine.
 *
 * Every change of a call's state goes through
 * callbox_call_transition_locked(), under the sandbox's spinlock, and is
 * checked against callbox_call_next_states[]. A transition the table does
 * not allow is a kernel bug and warns. model/callbox.pml checks the same
 * table (tools/model-check.sh compares the two).
 *
 * Cancellation, the deadline timer and shutdown all decide through
 * callbox_call_cancel_locked(): the first to set cancel_reason wins, and
 * the call then ends ABORTED with that reason whatever the guest does.
 *
 * Lifetime: the sandbox's list of calls holds a reference until the call
 * is consumed (callbox_call_consume(), which also stops the deadline timer
 * for good); threads working on a call hold their own; a queued kick holds
 * one until the task work has run. The final put is never made under the
 * sandbox lock.
 */
#include <linux/bits.h>
#include <linux/bug.h>
#include <linux/lockdep.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "callbox.h"

/* For each state, the set of states it may move to. */
static const u8 callbox_call_next_states[] = {
	[CALLBOX_STATE_QUEUED] = BIT(CALLBOX_STATE_ENTERED) |
				 BIT(CALLBOX_STATE_ABORTED),
	[CALLBOX_STATE_ENTERED] = BIT(CALLBOX_STATE_HOSTCALL) |
				  BIT(CALLBOX_STATE_EXITED) |
				  BIT(CALLBOX_STATE_ABORTED),
	[CALLBOX_STATE_HOSTCALL] = BIT(CALLBOX_STATE_ENTERED) |
				   BIT(CALLBOX_STATE_ABORTED),
	[CALLBOX_STATE_EXITED] = 0,
	[CALLBOX_STATE_ABORTED] = 0,
};

static void callbox_call_release(struct kref *kref)
{
	struct callbox_call *call = container_of(kref, struct callbox_call,
						 kref);
	struct callbox_sandbox *sb = call->sb;

	put_pid(call->owner);
	kfree(call);
	callbox_sandbox_put(sb);
}

void callbox_call_get(struct callbox_call *call)
{
	kref_get(&call->kref);
}

void callbox_call_put(struct callbox_call *call)
{
	kref_put(&call->kref, callbox_call_release);
}

/* The kick has done its work by the time this runs: drop its reference. */
static void callbox_call_kick_done(struct callback_head *head)
{
	callbox_call_put(container_of(head, struct callbox_call, kick_work));
}

static enum hrtimer_restart callbox_call_deadline_fn(struct hrtimer *timer)
{
	struct callbox_call *call = container_of(timer, struct callbox_call,
						 deadline_timer);
	struct callbox_sandbox *sb = call->sb;
	unsigned long irqflags;

	/* Losing to completion or another cancellation is fine here. */
	spin_lock_irqsave(&sb->lock, irqflags);
	callbox_call_cancel_locked(call, CALLBOX_ABORT_DEADLINE);
	spin_unlock_irqrestore(&sb->lock, irqflags);
	return HRTIMER_NORESTART;
}

/* A new call, not yet visible to anyone; the reference is the list's. */
struct callbox_call *callbox_call_alloc(struct callbox_sandbox *sb)
{
	struct callbox_call *call;

	call = kzalloc(sizeof(*call), GFP_KERNEL_ACCOUNT);
	if (!call)
		return NULL;
	kref_init(&call->kref);
	kref_get(&sb->kref);
	call->sb = sb;
	INIT_LIST_HEAD(&call->node);
	INIT_LIST_HEAD(&call->queue_node);
	hrtimer_init(&call->deadline_timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS);
	call->deadline_timer.function = callbox_call_deadline_fn;
	init_task_work(&call->kick_work, callbox_call_kick_done);
	return call;
}

/*
 * Publish a new call: give it the next id, queue it and arm its deadline.
 * A deadline already past aborts it at once, before any guest code runs.
 */
void callbox_call_add_locked(struct callbox_call *call, u64 deadline_ns)
{
	struct callbox_sandbox *sb = call->sb;

	lockdep_assert_held(&sb->lock);

	call->id = sb->next_call_id++;
	call->state = CALLBOX_STATE_QUEUED;
	list_add_tail(&call->node, &sb->calls);
	sb->nr_calls++;
	list_add_tail(&call->queue_node, &sb->queue);

	if (!deadline_ns)
		return;
	if (deadline_ns <= ktime_get_ns()) {
		callbox_call_cancel_locked(call, CALLBOX_ABORT_DEADLINE);
		return;
	}
	hrtimer_start(&call->deadline_timer, ns_to_ktime(deadline_ns),
		      HRTIMER_MODE_ABS);
}

struct callbox_call *callbox_call_find_locked(struct callbox_sandbox *sb,
					      u64 id)
{
	struct callbox_call *call;

	lockdep_assert_held(&sb->lock);

	list_for_each_entry(call, &sb->calls, node) {
		if (call->id == id)
			return call;
	}
	return NULL;
}

/* Why no call @id is on the list: never issued, or already consumed. */
int callbox_call_lookup_error_locked(struct callbox_sandbox *sb, u64 id)
{
	lockdep_assert_held(&sb->lock);

	if (!id || id >= sb->next_call_id)
		return -ENOENT;
	return -ESRCH;
}

/* Is the current task the one that entered the guest for @call? */
bool callbox_call_owned_by_current(const struct callbox_call *call)
{
	return call->owner == task_pid(current);
}

/*
 * Has @call reached a terminal state? Safe without the lock (a waiter's
 * condition): the state is written under it and only ever moves forward.
 */
bool callbox_call_ended(const struct callbox_call *call)
{
	u32 state = READ_ONCE(call->state);

	return state == CALLBOX_STATE_EXITED || state == CALLBOX_STATE_ABORTED;
}

void callbox_call_transition_locked(struct callbox_call *call, u32 new_state)
{
	struct callbox_sandbox *sb = call->sb;

	lockdep_assert_held(&sb->lock);

	if (WARN_ON_ONCE(call->state >= ARRAY_SIZE(callbox_call_next_states) ||
			 !(callbox_call_next_states[call->state] &
			   BIT(new_state))))
		return;

	if (call->state == CALLBOX_STATE_QUEUED)
		list_del_init(&call->queue_node);
	call->state = new_state;

	switch (new_state) {
	case CALLBOX_STATE_ENTERED:
		call->flags |= CALLBOX_CALL_GUEST_RAN;
		sb->current_call = call;
		if (!call->owner)
			call->owner = get_pid(task_pid(current));
		break;
	case CALLBOX_STATE_EXITED:
	case CALLBOX_STATE_ABORTED:
		call->flags &= ~CALLBOX_CALL_CANCEL_PENDING;
		if (sb->current_call == call) {
			sb->current_call = NULL;
			sb->runner = NULL;
		}
		sb->nr_ended++;
		/* From the timer itself this fails harmlessly. */
		hrtimer_try_to_cancel(&call->deadline_timer);
		wake_up_all(&sb->wq);
		break;
	}
}

/*
 * End a call ABORTED. If it stopped in the middle of guest code (anything
 * but a DONE at the call boundary, @clean_stop), guest memory and
 * registers can no longer be trusted: the sandbox is poisoned.
 */
void callbox_call_abort_locked(struct callbox_call *call, u32 reason,
			       u64 detail, bool clean_stop)
{
	bool was_running = call->state == CALLBOX_STATE_ENTERED ||
			   call->state == CALLBOX_STATE_HOSTCALL;

	lockdep_assert_held(&call->sb->lock);

	callbox_call_transition_locked(call, CALLBOX_STATE_ABORTED);
	call->reason = reason;
	call->detail = detail;
	if (was_running && !clean_stop) {
		call->sb->poisoned = true;
		call->flags |= CALLBOX_CALL_POISONED;
	}
}

/**
 * callbox_call_cancel_locked() - the one decision between cancellation
 *	and completion
 * @call: the call
 * @reason: CALLBOX_ABORT_CANCELLED, _DEADLINE or _SANDBOX_CLOSED
 *
 * Return: 0 if this cancellation won: the call has ended, or will end,
 * ABORTED with @reason. -EALREADY if the call had ended or another
 * cancellation had won; nothing changes then.
 */
int callbox_call_cancel_locked(struct callbox_call *call, u32 reason)
{
	struct callbox_sandbox *sb = call->sb;

	lockdep_assert_held(&sb->lock);

	if (callbox_call_ended(call) || call->cancel_reason)
		return -EALREADY;

	if (call->state == CALLBOX_STATE_QUEUED) {
		/* Guest code never ran for it and never will. */
		callbox_call_abort_locked(call, reason, 0, true);
		return 0;
	}

	/* ENTERED or HOSTCALL: it ends as soon as it stops running. */
	call->cancel_reason = reason;
	call->flags |= CALLBOX_CALL_CANCEL_PENDING;

	/*
	 * A thread is inside KVM_RUN for this call: force it out. The task
	 * work sets TIF_NOTIFY_SIGNAL and wakes the thread, which makes
	 * KVM_RUN return -EINTR whether the guest spins or sleeps in HLT,
	 * without any signal. The runner returns to userspace after this
	 * call, which runs the work, so the kick cannot reach a later call.
	 */
	if (sb->runner && sb->current_call == call && !call->kick_queued) {
		callbox_call_get(call);
		if (task_work_add(sb->runner, &call->kick_work, TWA_SIGNAL))
			/* Not the last reference: the list holds one. */
			callbox_call_put(call);
		else
			call->kick_queued = true;
	}
	/* Pollers: a host function may be waiting to learn this. */
	wake_up_all(&sb->wq);
	return 0;
}

void callbox_call_fill_info_locked(const struct callbox_call *call,
				   struct callbox_call_info *info)
{
	lockdep_assert_held(&call->sb->lock);

	*info = (struct callbox_call_info) {
		.id = call->id,
		.state = call->state,
		.reason = call->reason,
		.flags = call->flags,
		.status = call->status,
		.detail = call->detail,
		.exit_reason = call->exit_reason,
	};
}

/*
 * Consume an ended call: take it off the sandbox's list, so its id is
 * then unknown (ESRCH). The caller holds its own reference. Safe to call
 * twice (two waiters): only the first drops the list's reference.
 */
void callbox_call_consume(struct callbox_call *call)
{
	struct callbox_sandbox *sb = call->sb;
	bool on_list;

	WARN_ON_ONCE(!callbox_call_ended(call));
	hrtimer_cancel(&call->deadline_timer);

	spin_lock_irq(&sb->lock);
	on_list = !list_empty(&call->node);
	if (on_list) {
		list_del_init(&call->node);
		sb->nr_calls--;
		sb->nr_ended--;
	}
	spin_unlock_irq(&sb->lock);

	if (on_list)
		callbox_call_put(call);
}
