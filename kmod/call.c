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
 * Lifetime: the sandbox's list of calls holds a reference from publication
 * until the call is consumed (callbox_call_consume(), which also stops the deadline timer
 * for good); threads working on a call hold their own. The final put is
 * never made under the sandbox lock. Nothing else points at a call: a
 * kick is a thread flag, not a callback (see callbox_call_kick_locked()).
 */
#include <linux/bits.h>
#include <linux/bug.h>
#include <linux/kvm_host.h>
#include <linux/lockdep.h>
#include <linux/pid.h>
#include <linux/rcupdate.h>
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

/* A new call, not yet visible to anyone; the reference is the caller's. */
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
	return call;
}

/*
 * Publish a new call under @id (the sandbox's next one): the list takes a
 * reference, the call is queued, and its deadline armed. An init call goes
 * ahead of every queued call and is the only one the sandbox will run
 * until it ends. A deadline already past aborts the call at once, before
 * any guest code runs.
 */
void callbox_call_add_locked(struct callbox_call *call, u64 id,
			     u64 deadline_ns, bool init)
{
	struct callbox_sandbox *sb = call->sb;

	lockdep_assert_held(&sb->lock);

	call->id = id;
	sb->next_call_id = id + 1;
	call->state = CALLBOX_STATE_QUEUED;
	callbox_call_get(call);
	list_add_tail(&call->node, &sb->calls);
	sb->nr_calls++;
	if (init) {
		call->flags |= CALLBOX_CALL_INIT;
		sb->init_call = call;
		list_add(&call->queue_node, &sb->queue);
	} else {
		list_add_tail(&call->queue_node, &sb->queue);
	}

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
 * Has the thread that owns @call exited, or started to? An exiting thread
 * never returns to userspace, so it can never continue the call. Safe in
 * any context, the deadline timer's included.
 */
bool callbox_call_owner_exited(const struct callbox_call *call)
{
	struct task_struct *task;
	bool exited;

	if (!call->owner)
		return false;
	rcu_read_lock();
	task = pid_task(call->owner, PIDTYPE_PID);
	exited = !task || (READ_ONCE(task->flags) & PF_EXITING);
	rcu_read_unlock();
	return exited;
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

/* The end of a reset's init call decides whether the guest is ready. */
static void callbox_call_end_init_locked(struct callbox_call *call,
					 u32 new_state)
{
	struct callbox_sandbox *sb = call->sb;

	sb->init_call = NULL;
	if (new_state == CALLBOX_STATE_EXITED)
		return;
	/* The guest never got ready: no call may run in it. */
	sb->poisoned = true;
	call->flags |= CALLBOX_CALL_POISONED;
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
	/* Only DONE and HOSTCALL give a status meaning; they set it after. */
	call->status = 0;
	call->parked_cmd = 0;

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
		if (sb->init_call == call)
			callbox_call_end_init_locked(call, new_state);
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

/*
 * Force the runner of the current call out of KVM_RUN, whether the guest
 * spins or sleeps in HLT, without a signal and without a callback:
 * TIF_NOTIFY_SIGNAL makes KVM_RUN return -EINTR at its next check (as
 * for task work queued with TWA_SIGNAL), and kvm_vcpu_kick() makes that
 * check happen now, by waking a halted vCPU or sending an IPI to the CPU
 * that runs the guest. Setting the flag before the kick pairs with KVM
 * setting vcpu->mode before it checks for work, so the kick is never
 * lost. The flag is cleared when the runner returns to userspace, which
 * it does after every call: a kick cannot reach a later call, and no
 * module code runs on the runner's behalf, so none can outlive rmmod.
 */
static void callbox_call_kick_locked(struct callbox_sandbox *sb)
{
	lockdep_assert_held(&sb->lock);

	set_tsk_thread_flag(sb->runner, TIF_NOTIFY_SIGNAL);
	kvm_vcpu_kick(sb->vcpu);
}

/**
 * callbox_call_reap_locked() - end a parked call whose owner is gone
 * @call: the current call, with no runner
 *
 * A parked call (HOSTCALL, or interrupted) is continued only by the
 * thread that owns it. If that thread has exited, nothing can continue
 * it: the call ended when its owner did, with the reason of a
 * cancellation that had won by then, else OWNER_EXITED. Whoever notices
 * first makes it so, and a later cancellation finds it ended.
 *
 * Return: true if the call has ended now.
 */
bool callbox_call_reap_locked(struct callbox_call *call)
{
	lockdep_assert_held(&call->sb->lock);

	if (!callbox_call_owner_exited(call))
		return false;
	callbox_call_abort_locked(call, call->cancel_reason ?:
				  CALLBOX_ABORT_OWNER_EXITED, 0, false);
	return true;
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
	/* Parked, and its owner gone: it is over already. */
	if (call == sb->current_call && !sb->runner &&
	    callbox_call_reap_locked(call))
		return -EALREADY;

	if (call->state == CALLBOX_STATE_QUEUED) {
		/* Guest code never ran for it and never will. */
		callbox_call_abort_locked(call, reason, 0, true);
		return 0;
	}

	/* ENTERED or HOSTCALL, so the current call. */
	call->cancel_reason = reason;
	call->flags |= CALLBOX_CALL_CANCEL_PENDING;
	if (sb->runner) {
		callbox_call_kick_locked(sb);
	} else if (call->state == CALLBOX_STATE_ENTERED) {
		/*
		 * Parked after an interruption, so stopped mid-guest with no
		 * thread in KVM_RUN: end it now. A host function, though, may
		 * still be writing guest memory for its call, which ends when
		 * the function returns (or its thread exits).
		 */
		callbox_call_abort_locked(call, reason, 0, false);
		return 0;
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
