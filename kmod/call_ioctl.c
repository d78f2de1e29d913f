// SPDX-License-Identifier: GPL-2.0
/*
 * callbox: the call ioctls of a sandbox fd: CALL_SYNC, SUBMIT, RUN, WAIT,
 * GET and CANCEL.
 *
 * Each one validates its struct, then works under the sandbox's locks
 * (see main.c for their order). Two rules from the uapi header shape
 * them: a call is published only after its id has been written back, and
 * consumed only after its outcome has been; and an interrupted call is
 * continued only by the ioctl that was interrupted, which recognises
 * itself by the @out it left behind (callbox_run_is_restart()).
 */
#include <linux/ktime.h>
#include <linux/sched/signal.h>
#include <linux/wait.h>

#include "callbox.h"

/* Deadlines are CLOCK_MONOTONIC ktime values: 0 (none) or positive. */
static bool callbox_deadline_valid(u64 deadline_ns)
{
	return deadline_ns <= KTIME_MAX;
}

/* Look a call up by id and take a reference, or say why it is not there. */
static struct callbox_call *callbox_sandbox_get_call(struct callbox_sandbox *sb,
						     u64 id)
{
	struct callbox_call *call;

	spin_lock_irq(&sb->lock);
	callbox_sandbox_reap_locked(sb);
	call = callbox_call_find_locked(sb, id);
	if (call)
		callbox_call_get(call);
	else
		call = ERR_PTR(callbox_call_lookup_error_locked(sb, id));
	spin_unlock_irq(&sb->lock);
	return call;
}

/* Has @call ended, and is no other ioctl consuming it right now? */
static bool callbox_call_waitable(const struct callbox_call *call)
{
	return callbox_call_ended(call) &&
	       (!READ_ONCE(call->claimed) || READ_ONCE(call->consumed));
}

/*
 * Reply with @call's outcome: @out, written to @uout, the ioctl's struct's
 * only output field. The rest of the struct is input and is not written
 * back: that the guest ran must not hinge on a field the ioctl only read
 * being writable, when @out, written before entry, was. With @consume
 * (CALL_SYNC), consume the call too if the outcome written says it
 * ended, unless a reply of CALL_SYNC or RUN (@hands_out) took it in
 * HOSTCALL, after which WAIT consumes it: the claim is taken with the
 * snapshot, and the call consumed only once the reply is out. If
 * another ioctl (a WAIT) holds the claim, its reply is being written:
 * wait for it, then either it consumed the call (-ESRCH) or its reply
 * failed and this one tries. That wait is for another thread's copy to
 * userspace, so it ends only for a fatal signal, as a wait on a page
 * fault would. A call whose outcome could not be written stays for WAIT.
 */
static int callbox_call_reply(struct callbox_call *call,
			      struct callbox_call_info *out,
			      struct callbox_call_info __user *uout,
			      bool consume, bool hands_out)
{
	struct callbox_sandbox *sb = call->sb;
	bool claimed;
	int ret;

	for (;;) {
		spin_lock_irq(&sb->lock);
		callbox_call_fill_info_locked(call, out);
		/*
		 * Told HOSTCALL (or EFAULT, which leaves it for GET to tell),
		 * userspace continues the call with RUN and consumes it with
		 * WAIT: no CALL_SYNC may consume it from now on.
		 */
		if (hands_out && out->state == CALLBOX_STATE_HOSTCALL)
			call->hostcall_replied = true;
		ret = 0;
		claimed = consume && callbox_call_ended(call) &&
			  !call->hostcall_replied;
		if (claimed)
			ret = callbox_call_claim_locked(call);
		spin_unlock_irq(&sb->lock);
		if (ret != -EBUSY)
			break;
		ret = wait_event_killable(sb->wq, callbox_call_waitable(call));
		if (ret)
			return ret;
	}
	if (ret)
		return ret;	/* -ESRCH: consumed by another ioctl */

	ret = copy_to_user(uout, out, sizeof(*out)) ? -EFAULT : 0;
	if (claimed && ret)
		callbox_call_unclaim(call);
	else if (claimed)
		callbox_call_consume(call);
	return ret;
}

/*
 * After callbox_run_call() (@ret), with run_lock let go, so that a fault on
 * user memory holds up nothing: reply with the outcome (unless run.c has,
 * CALLBOX_RUN_REPLIED), or, if the call was parked, leave its record in
 * @uout for the restart. Userspace memory is written here and nowhere
 * under a sandbox lock but publication.
 */
static int callbox_call_finish(struct callbox_call *call,
			       struct callbox_call_info *out,
			       struct callbox_call_info __user *uout,
			       int ret, bool consume)
{
	if (ret == CALLBOX_RUN_REPLIED)
		return 0;
	if (ret == -ERESTARTNOINTR || ret == -EINTR)
		return copy_to_user(uout, out, sizeof(*out)) ? -EFAULT : ret;
	if (ret)
		return ret;
	return callbox_call_reply(call, out, uout, consume, true);
}

/*
 * May CALL_SYNC start a new call now? 0: yes; 1: another thread's call is
 * parked, so wait for it to end; or -errno. With run_lock and
 * publish_lock held, only shutdown can change the answer before the call
 * is published, and the publish checks that again.
 */
static int callbox_call_sync_may_start_locked(struct callbox_sandbox *sb)
{
	struct callbox_call *call;

	lockdep_assert_held(&sb->lock);

	callbox_sandbox_reap_locked(sb);
	call = sb->current_call;
	if (sb->shutdown)
		return -ESHUTDOWN;
	if (call) {
		/* A host function may take long; our own call we abandoned. */
		if (call->state == CALLBOX_STATE_HOSTCALL ||
		    callbox_call_owned_by_current(call))
			return -EBUSY;
		return 1;
	}
	/* Userspace is putting the guest back to a snapshot. */
	if (sb->restoring)
		return -EBUSY;
	if (sb->init_call || sb->poisoned)
		return -ENOTRECOVERABLE;
	if (!list_empty(&sb->queue))
		return -EBUSY;
	return 0;
}

/* Would CALL_SYNC now do anything but wait for another thread's call? */
static bool callbox_call_sync_changed_locked(struct callbox_sandbox *sb)
{
	return callbox_call_sync_may_start_locked(sb) != 1;
}

/* CALL_SYNC restarted after an interruption: continue that call. */
static int callbox_call_sync_continue(struct callbox_sandbox *sb,
				      struct callbox_ucmd *ucmd)
{
	struct callbox_call_sync *cmd = ucmd->cmd;
	struct callbox_call_sync __user *ucall = ucmd->ubuffer;
	struct callbox_run_req req = {
		.cmd = CALLBOX_CALL_SYNC,
		.restart = true,
		.uout = &ucall->out,
		.parked = &cmd->out,
	};
	struct callbox_call *call;
	int ret;

	ret = callbox_lock_or_restart(&sb->run_lock);
	if (ret)
		return ret;
	call = callbox_sandbox_get_call(sb, cmd->out.id);
	if (IS_ERR(call)) {
		ret = PTR_ERR(call);
		goto out_unlock_run;
	}
	ret = callbox_run_call(sb, call, &req);
	callbox_run_unlock(sb);
	ret = callbox_call_finish(call, &cmd->out, &ucall->out, ret, true);
	callbox_call_put(call);
	return ret;

out_unlock_run:
	callbox_run_unlock(sb);
	return ret;
}

int callbox_ioctl_call_sync(void *obj, struct callbox_ucmd *ucmd)
{
	struct callbox_sandbox *sb = obj;
	struct callbox_call_sync *cmd = ucmd->cmd;
	struct callbox_call_sync __user *ucall = ucmd->ubuffer;
	struct callbox_run_req req = {
		.cmd = CALLBOX_CALL_SYNC,
		.prepared = true,
		.parked = &cmd->out,
	};
	struct callbox_call *call;
	int ret;

	if (cmd->flags || !callbox_deadline_valid(cmd->deadline_ns))
		return -EINVAL;
	if (callbox_run_is_restart(&cmd->out))
		return callbox_call_sync_continue(sb, ucmd);

	call = callbox_call_alloc(sb);
	if (!call)
		return -ENOMEM;

	for (;;) {
		ret = callbox_lock_or_restart(&sb->run_lock);
		if (ret)
			goto out_put_call;
		ret = callbox_lock_or_restart(&sb->publish_lock);
		if (ret)
			goto out_unlock_run;
		spin_lock_irq(&sb->lock);
		ret = callbox_call_sync_may_start_locked(sb);
		if (!ret)
			callbox_sandbox_starting_locked(sb, call);
		spin_unlock_irq(&sb->lock);
		if (ret <= 0)
			break;
		mutex_unlock(&sb->publish_lock);
		callbox_run_unlock(sb);
		/*
		 * Another thread's interrupted call: wait until the answer
		 * changes (it ends, is reaped, or reaches HOSTCALL, which is
		 * EBUSY), asked under the lock. A signal meanwhile runs its
		 * handler, then the ioctl restarts: nothing has happened yet.
		 */
		spin_lock_irq(&sb->lock);
		ret = wait_event_interruptible_lock_irq(sb->wq,
							callbox_call_sync_changed_locked(sb),
							sb->lock);
		spin_unlock_irq(&sb->lock);
		if (ret) {
			ret = -ERESTARTNOINTR;
			goto out_put_call;
		}
	}
	/* Checked last, so that a refusal makes no call. */
	if (!ret)
		ret = callbox_run_prepare(sb);
	if (!ret) {
		cmd->out = (struct callbox_call_info) {
			.state = CALLBOX_STATE_QUEUED,
		};
		ret = callbox_sandbox_publish(sb, call, cmd->deadline_ns,
					      false, true, ucmd, &cmd->out.id,
					      sizeof(*cmd));
	}
	mutex_unlock(&sb->publish_lock);
	if (ret)
		goto out_unlock_run;
	ret = callbox_run_call(sb, call, &req);
	callbox_run_unlock(sb);
	ret = callbox_call_finish(call, &cmd->out, &ucall->out, ret, true);
	callbox_call_put(call);
	return ret;

out_unlock_run:
	callbox_run_unlock(sb);
out_put_call:
	callbox_call_put(call);
	return ret;
}

int callbox_ioctl_call_submit(void *obj, struct callbox_ucmd *ucmd)
{
	struct callbox_sandbox *sb = obj;
	struct callbox_call_submit *cmd = ucmd->cmd;
	struct callbox_call *call;
	int ret;

	if (cmd->flags || !callbox_deadline_valid(cmd->deadline_ns))
		return -EINVAL;

	call = callbox_call_alloc(sb);
	if (!call)
		return -ENOMEM;

	ret = callbox_lock_or_restart(&sb->publish_lock);
	if (!ret) {
		ret = callbox_sandbox_publish(sb, call, cmd->deadline_ns, false,
					      false, ucmd, &cmd->out_id,
					      sizeof(*cmd));
		mutex_unlock(&sb->publish_lock);
	}
	callbox_call_put(call);
	return ret;
}

static bool callbox_sandbox_has_work(struct callbox_sandbox *sb)
{
	return !list_empty(&sb->queue) || READ_ONCE(sb->shutdown) ||
	       READ_ONCE(sb->current_call);
}

/*
 * Choose what RUN runs, see struct callbox_call_run. @restart_id is the
 * interrupted call the ioctl asks to continue, 0 if none. Returns the
 * call with a reference, NULL if there is nothing to run yet, or an
 * ERR_PTR.
 */
static struct callbox_call *
callbox_call_run_choose_locked(struct callbox_sandbox *sb, u64 id,
			       u64 restart_id)
{
	struct callbox_call *call;

	lockdep_assert_held(&sb->lock);

	callbox_sandbox_reap_locked(sb);
	call = sb->current_call;
	if (restart_id) {
		call = callbox_call_find_locked(sb, restart_id);
		if (!call)
			return ERR_PTR(callbox_call_lookup_error_locked(sb,
									restart_id));
	} else if (call && id && id != call->id) {
		/* Another is current: only an ended call's outcome is news. */
		call = callbox_call_find_locked(sb, id);
		if (!call)
			return ERR_PTR(callbox_call_lookup_error_locked(sb, id));
		if (!callbox_call_ended(call))
			return ERR_PTR(-EBUSY);
	} else if (call) {
		/* Only its owner continues a call in HOSTCALL. */
		if (call->state != CALLBOX_STATE_HOSTCALL ||
		    !callbox_call_owned_by_current(call))
			return ERR_PTR(-EBUSY);
	} else if (id) {
		call = callbox_call_find_locked(sb, id);
		if (!call)
			return ERR_PTR(callbox_call_lookup_error_locked(sb, id));
	} else {
		if (sb->shutdown)
			return ERR_PTR(-ESHUTDOWN);
		if (sb->restoring)
			return ERR_PTR(-EBUSY);
		/* A reset's init call is at the head of the queue. */
		if (sb->poisoned && !sb->init_call)
			return ERR_PTR(-ENOTRECOVERABLE);
		call = list_first_entry_or_null(&sb->queue,
						struct callbox_call,
						queue_node);
		if (!call)
			return NULL;
	}
	callbox_call_get(call);
	return call;
}

int callbox_ioctl_call_run(void *obj, struct callbox_ucmd *ucmd)
{
	struct callbox_sandbox *sb = obj;
	struct callbox_call_run *cmd = ucmd->cmd;
	struct callbox_call_run __user *urun = ucmd->ubuffer;
	struct callbox_run_req req = {
		.cmd = CALLBOX_CALL_RUN,
		.uout = &urun->out,
		.parked = &cmd->out,
	};
	struct callbox_call *call;
	u64 restart_id = 0;
	int ret;

	if (cmd->flags & ~CALLBOX_RUN_FLAGS_MASK)
		return -EINVAL;
	if (callbox_run_is_restart(&cmd->out)) {
		restart_id = cmd->out.id;
		if (cmd->id && cmd->id != restart_id)
			return -EINVAL;
		req.restart = true;
	}

	for (;;) {
		if (cmd->flags & CALLBOX_RUN_NONBLOCK) {
			/* Not even for another thread's run to end. */
			if (!mutex_trylock(&sb->run_lock))
				return -EAGAIN;
		} else {
			ret = callbox_lock_or_restart(&sb->run_lock);
			if (ret)
				return ret;
		}
		spin_lock_irq(&sb->lock);
		call = callbox_call_run_choose_locked(sb, cmd->id, restart_id);
		if (!IS_ERR_OR_NULL(call) && !callbox_call_ended(call))
			callbox_sandbox_starting_locked(sb, call);
		spin_unlock_irq(&sb->lock);
		if (call)
			break;
		callbox_run_unlock(sb);

		if (cmd->flags & CALLBOX_RUN_NONBLOCK)
			return -EAGAIN;
		ret = wait_event_interruptible(sb->wq,
					       callbox_sandbox_has_work(sb));
		if (ret)
			return ret;
	}
	if (IS_ERR(call)) {
		ret = PTR_ERR(call);
		goto out_unlock_run;
	}

	ret = callbox_run_call(sb, call, &req);
	callbox_run_unlock(sb);
	ret = callbox_call_finish(call, &cmd->out, &urun->out, ret, false);
	callbox_call_put(call);
	return ret;

out_unlock_run:
	callbox_run_unlock(sb);
	return ret;
}

/* Wait for callbox_call_waitable(), until @deadline_ns if it is not 0. */
static int callbox_call_wait_waitable(struct callbox_call *call,
				      u64 deadline_ns)
{
	wait_queue_head_t *wq = &call->sb->wq;
	ktime_t timeout;
	int ret;

	if (!deadline_ns)
		return wait_event_interruptible(*wq,
						callbox_call_waitable(call));
	/* Absolute, so a restarted wait does not wait longer. */
	timeout = ns_to_ktime(max_t(s64, deadline_ns - ktime_get_ns(), 0));
	ret = wait_event_interruptible_hrtimeout(*wq,
						 callbox_call_waitable(call),
						 timeout);
	return ret == -ETIME ? -ETIMEDOUT : ret;
}

int callbox_ioctl_call_wait(void *obj, struct callbox_ucmd *ucmd)
{
	struct callbox_sandbox *sb = obj;
	struct callbox_call_wait *cmd = ucmd->cmd;
	struct callbox_call_wait __user *uwait = ucmd->ubuffer;
	struct callbox_call *call;
	int ret;

	if (cmd->flags || !callbox_deadline_valid(cmd->deadline_ns))
		return -EINVAL;

	call = callbox_sandbox_get_call(sb, cmd->id);
	if (IS_ERR(call))
		return PTR_ERR(call);

	/* Several WAITs: one gets the outcome, the others then ESRCH. */
	do {
		ret = callbox_call_wait_waitable(call, cmd->deadline_ns);
		if (ret)
			goto out_put_call;
		spin_lock_irq(&sb->lock);
		ret = callbox_call_claim_locked(call);
		callbox_call_fill_info_locked(call, &cmd->out);
		spin_unlock_irq(&sb->lock);
	} while (ret == -EBUSY);
	if (ret)
		goto out_put_call;

	/* @out only, as callbox_call_reply() writes. */
	ret = copy_to_user(&uwait->out, &cmd->out, sizeof(cmd->out)) ?
	      -EFAULT : 0;
	if (ret)
		callbox_call_unclaim(call);
	else
		callbox_call_consume(call);
out_put_call:
	callbox_call_put(call);
	return ret;
}

int callbox_ioctl_call_get(void *obj, struct callbox_ucmd *ucmd)
{
	struct callbox_sandbox *sb = obj;
	struct callbox_call_get *cmd = ucmd->cmd;
	struct callbox_call_get __user *ucall = ucmd->ubuffer;
	struct callbox_call *call;
	int ret;

	if (cmd->flags)
		return -EINVAL;

	call = callbox_sandbox_get_call(sb, cmd->id);
	if (IS_ERR(call))
		return PTR_ERR(call);
	ret = callbox_call_reply(call, &cmd->out, &ucall->out, false, false);
	callbox_call_put(call);
	return ret;
}

int callbox_ioctl_call_cancel(void *obj, struct callbox_ucmd *ucmd)
{
	struct callbox_sandbox *sb = obj;
	struct callbox_call_cancel *cmd = ucmd->cmd;
	struct callbox_call *call;
	int ret;

	if (cmd->flags)
		return -EINVAL;

	spin_lock_irq(&sb->lock);
	callbox_sandbox_reap_locked(sb);
	call = callbox_call_find_locked(sb, cmd->id);
	if (call)
		ret = callbox_call_cancel_locked(call, CALLBOX_ABORT_CANCELLED);
	else if (callbox_call_lookup_error_locked(sb, cmd->id) == -ENOENT)
		ret = -ENOENT;
	else
		ret = -EALREADY;	/* ended and consumed */
	spin_unlock_irq(&sb->lock);
	return ret;
}
