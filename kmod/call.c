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
 * until the call is consumed (callbox_call_consume(), which also stops the
 * deadline timer for good); threads working on a call hold their own, and
 * so does a queued kick until its task work has run. The final put is
 * never made under the sandbox lock.
 */
#include <linux/bits.h>
#include <linux/bug.h>
#include <linux/kvm_host.h>
#include <linux/lockdep.h>
#include <linux/pid.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/task_work.h>
#include <linux/wait_bit.h>

#include "callbox.h"
#include "netlink.h"
#include "stats.h"
#include "trace.h"

/*
 * Kicks queued as task work whose callback has not finished, module-wide:
 * module exit waits for them (callbox_call_kicks_drain()).
 */
static atomic_t callbox_kicks_pending = ATOMIC_INIT(0);
static bool callbox_kicked;

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

/*
 * The last reference is gone: keep the call as its sandbox's spare if it
 * has none, else free it. The sandbox frees its spare with itself.
 */
static void callbox_call_release(struct kref *kref)
{
	struct callbox_call *call = container_of(kref, struct callbox_call,
						 kref);
	struct callbox_sandbox *sb = call->sb;

	put_pid(call->owner);
	callbox_stats_objects_add(0, -1);
	/* Full barrier: the call is wholly let go before another takes it. */
	if (cmpxchg(&sb->spare_call, NULL, call))
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

/*
 * The kick's task work, run by the runner on its way back to userspace,
 * after the kicked call has ended: drop the kick's reference. This is
 * module code running on behalf of no file, so module exit waits for it.
 */
static void callbox_call_kick_done(struct callback_head *head)
{
	callbox_call_put(container_of(head, struct callbox_call, kick_work));
	/* Last: from here on only the return to task_work_run() remains. */
	if (atomic_dec_and_test(&callbox_kicks_pending))
		wake_up_var(&callbox_kicks_pending);
}

/**
 * callbox_call_kicks_drain() - wait until no kick's task work can run
 *
 * For module exit, once no sandbox is left, so no new kick can be queued:
 * wait for the queued ones to run, then for an RCU Tasks grace period, by
 * which every task has left their callback's last instructions too.
 */
void callbox_call_kicks_drain(void)
{
	wait_var_event(&callbox_kicks_pending,
		       !atomic_read(&callbox_kicks_pending));
	if (READ_ONCE(callbox_kicked))
		synchronize_rcu_tasks();
}

static enum hrtimer_restart callbox_call_deadline_fn(struct hrtimer *timer)
{
	struct callbox_call *call = container_of(timer, struct callbox_call,
						 deadline_timer);
	struct callbox_sandbox *sb = call->sb;
	unsigned long irqflags;

	trace_call_deadline(sb->id, call->id);
	/* Losing to completion or another cancellation is fine here. */
	spin_lock_irqsave(&sb->lock, irqflags);
	callbox_call_cancel_locked(call, CALLBOX_ABORT_DEADLINE);
	spin_unlock_irqrestore(&sb->lock, irqflags);
	return HRTIMER_NORESTART;
}

/*
 * A new call, not yet visible to anyone; the reference is the caller's.
 *
 * It is the sandbox's spare, the last call released, if there is one:
 * most sandboxes run one call at a time, so after the first they never
 * allocate. That spares each call more than the allocator's fast path:
 * with init_on_alloc (a default of Debian's kernels) kmalloc() zeroes the
 * whole 512-byte slab object, and the memcg charge and uncharge come on
 * top; under emulation that was a quarter of what a sync call costs
 * beyond the bare KVM_RUN (December 2026).
 */
struct callbox_call *callbox_call_alloc(struct callbox_sandbox *sb)
{
	struct callbox_call *call;

	call = xchg(&sb->spare_call, NULL);
	if (!call) {
		call = kmalloc(sizeof(*call), GFP_KERNEL_ACCOUNT);
		if (!call)
			return NULL;
		/* A spare keeps these; its timer and task work are idle. */
		call->sb = sb;
		hrtimer_init(&call->deadline_timer, CLOCK_MONOTONIC,
			     HRTIMER_MODE_ABS);
		call->deadline_timer.function = callbox_call_deadline_fn;
		init_task_work(&call->kick_work, callbox_call_kick_done);
	}
	memset_startat(call, 0, id);
	callbox_stats_objects_add(0, 1);
	kref_init(&call->kref);
	kref_get(&sb->kref);
	INIT_LIST_HEAD(&call->node);
	INIT_LIST_HEAD(&call->queue_node);
	return call;
}

/*
 * Tell the inspection interfaces that @call entered its state from @from
 * (0: it was just published). Its reason and flags are final for the
 * state by now.
 */
static void callbox_call_notify_locked(struct callbox_call *call, u32 from)
{
	struct callbox_sandbox *sb = call->sb;

	trace_call_transition(sb->id, call->id, from, call->state,
			      call->reason, call->flags);
	callbox_stats_transition(from, call->state, call->reason);
	if (callbox_nl_listening())
		callbox_netlink_call_event_locked(call, from);
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
	call->deadline_ns = deadline_ns;
	callbox_call_get(call);
	list_add_tail(&call->node, &sb->calls);
	if (init) {
		call->flags |= CALLBOX_CALL_INIT;
		sb->init_call = call;
		sb->nr_init++;
		list_add(&call->queue_node, &sb->queue);
	} else {
		sb->nr_calls++;
		list_add_tail(&call->queue_node, &sb->queue);
	}
	sb->nr_published++;
	callbox_call_record_transition_locked(call, ktime_get_ns());
	callbox_call_notify_locked(call, 0);

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

bool callbox_call_may_transition(u32 from, u32 to)
{
	return from < ARRAY_SIZE(callbox_call_next_states) &&
	       (callbox_call_next_states[from] & BIT(to));
}

void callbox_call_transition_locked(struct callbox_call *call, u32 new_state)
{
	struct callbox_sandbox *sb = call->sb;
	u32 from = call->state;
	u64 now;

	lockdep_assert_held(&sb->lock);

	if (WARN_ON_ONCE(!callbox_call_may_transition(from, new_state)))
		return;

	if (call->state == CALLBOX_STATE_QUEUED)
		list_del_init(&call->queue_node);
	/* Read without the lock by waiters (callbox_call_ended()). */
	WRITE_ONCE(call->state, new_state);
	/* Only DONE and HOSTCALL give a status meaning; they set it after. */
	call->status = 0;
	now = ktime_get_ns();
	callbox_call_record_transition_locked(call, now);

	switch (new_state) {
	case CALLBOX_STATE_ENTERED:
		/* GUEST_RAN waits for KVM to have entered the guest. */
		WRITE_ONCE(sb->current_call, call);
		if (!call->owner)
			call->owner = get_pid(task_pid(current));
		break;
	case CALLBOX_STATE_HOSTCALL:
		/* A CALL_SYNC waiting for the call now fails with EBUSY. */
		callbox_sandbox_wake(sb);
		break;
	case CALLBOX_STATE_EXITED:
	case CALLBOX_STATE_ABORTED:
		call->flags &= ~CALLBOX_CALL_CANCEL_PENDING;
		/* It will not start now: RESET need not wait for it. */
		if (sb->starting_call == call)
			WRITE_ONCE(sb->starting_call, NULL);
		if (sb->current_call == call) {
			WRITE_ONCE(sb->current_call, NULL);
			sb->runner = NULL;
		}
		if (sb->init_call == call)
			callbox_call_end_init_locked(call, new_state);
		sb->nr_ended++;
		/* From the timer itself this fails harmlessly. */
		if (call->deadline_ns)
			hrtimer_try_to_cancel(&call->deadline_timer);
		callbox_call_record_end_locked(call, now);
		callbox_sandbox_wake(sb);
		break;
	}
	callbox_call_notify_locked(call, from);
}

/*
 * End a call ABORTED. If guest code ran for it and it stopped in the
 * middle of that code (anything but a DONE at the call boundary,
 * @clean_stop), guest memory and registers can no longer be trusted: the
 * sandbox is poisoned.
 */
void callbox_call_abort_locked(struct callbox_call *call, u32 reason,
			       u64 detail, bool clean_stop)
{
	lockdep_assert_held(&call->sb->lock);

	if (WARN_ON_ONCE(callbox_call_ended(call)))
		return;
	/* Set first: the transition's record and events carry them. */
	call->reason = reason;
	call->detail = detail;
	if ((call->flags & CALLBOX_CALL_GUEST_RAN) && !clean_stop) {
		call->sb->poisoned = true;
		call->flags |= CALLBOX_CALL_POISONED;
	}
	callbox_call_transition_locked(call, CALLBOX_STATE_ABORTED);
}

/*
 * Force the runner of the current call @call out of KVM_RUN, whether the
 * guest spins, sleeps in HLT, or its thread sleeps interruptibly inside
 * KVM_RUN (a fault on guest memory, say): task work queued with
 * TWA_SIGNAL sets TIF_NOTIFY_SIGNAL and wakes or IPIs the thread, which
 * makes KVM_RUN return -EINTR at its next check, without a signal. The
 * runner returns to userspace after every call, which runs the work, so
 * the kick cannot reach a later call. A call is kicked at most once: its
 * cancellation is decided once.
 */
static void callbox_call_kick_locked(struct callbox_call *call)
{
	struct callbox_sandbox *sb = call->sb;

	lockdep_assert_held(&sb->lock);

	trace_call_kick(sb->id, call->id);
	callbox_stats_kick();
	call->kicked = true;
	callbox_call_get(call);
	atomic_inc(&callbox_kicks_pending);
	WRITE_ONCE(callbox_kicked, true);
	if (!task_work_add(sb->runner, &call->kick_work, TWA_SIGNAL))
		return;
	callbox_stats_kick_missed();
	/*
	 * The runner is exiting, so its KVM_RUN ends anyway. Not the last
	 * reference: the sandbox's list holds one.
	 */
	atomic_dec(&callbox_kicks_pending);
	callbox_call_put(call);
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
		callbox_call_kick_locked(call);
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
	callbox_sandbox_wake(sb);
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

/**
 * callbox_call_claim_locked() - take the right to consume a call
 * @call: an ended call
 *
 * For the one ioctl about to write @call's outcome and consume it: at most
 * one holds the claim, so a call is consumed exactly once, by an ioctl
 * whose outcome reached userspace. The holder then consumes the call, or
 * gives the claim back with callbox_call_unclaim() if its reply failed.
 *
 * Return: 0 with the claim; -ESRCH if the call was consumed; -EBUSY if
 * another ioctl holds the claim.
 */
int callbox_call_claim_locked(struct callbox_call *call)
{
	lockdep_assert_held(&call->sb->lock);

	if (call->consumed)
		return -ESRCH;
	if (call->claimed)
		return -EBUSY;
	WRITE_ONCE(call->claimed, true);
	return 0;
}

/* Give back a claim whose reply could not be written: another may try. */
void callbox_call_unclaim(struct callbox_call *call)
{
	struct callbox_sandbox *sb = call->sb;

	spin_lock_irq(&sb->lock);
	WRITE_ONCE(call->claimed, false);
	callbox_sandbox_wake(sb);
	spin_unlock_irq(&sb->lock);
}

/*
 * Consume an ended call: take it off the sandbox's list, so its id is
 * then unknown (ESRCH). The caller holds its own reference, and the claim
 * (or is release(), when no ioctl can hold one). Only the first call
 * drops the list's reference.
 */
void callbox_call_consume(struct callbox_call *call)
{
	struct callbox_sandbox *sb = call->sb;
	bool on_list;

	WARN_ON_ONCE(!callbox_call_ended(call));
	/* Only a call published with a deadline ever armed its timer. */
	if (call->deadline_ns)
		hrtimer_cancel(&call->deadline_timer);

	spin_lock_irq(&sb->lock);
	on_list = !call->consumed;
	if (on_list) {
		list_del_init(&call->node);
		WRITE_ONCE(call->consumed, true);
		if (call->flags & CALLBOX_CALL_INIT)
			sb->nr_init--;
		else
			sb->nr_calls--;
		sb->nr_ended--;
		/* Waiters held off by the claim learn it is gone. */
		callbox_sandbox_wake(sb);
	}
	spin_unlock_irq(&sb->lock);

	if (on_list)
		callbox_call_put(call);
}
