// SPDX-License-Identifier: GPL-2.0
/*
 * callbox: CALLBOX_CALL_BATCH, queued calls run back to back in one ioctl.
 *
 * Every call of a batch is run by callbox_run_call(), exactly as RUN runs
 * one, under run_lock held from the first call to the last. What belongs
 * to the batch is the order, and @done: it is written back before the
 * next call is entered, so that a restart goes on where the batch was, and
 * it counts only calls that ended EXITED in this batch, so that userspace
 * knows which requests the guest served. From its first call to its
 * last, sb->batching makes RESET and a restore's BEGIN fail rather than
 * wait, also while the batch reads @ids or writes @done between calls.
 */
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>

#include "callbox.h"

/*
 * Look up the call the batch has come to, with a reference. Unless it has
 * ended, it is starting from now on: RESET fails rather than wait for it.
 */
static struct callbox_call *callbox_batch_choose(struct callbox_sandbox *sb,
						 u64 id, bool *ended)
{
	struct callbox_call *call;

	spin_lock_irq(&sb->lock);
	callbox_sandbox_reap_locked(sb);
	call = callbox_call_find_locked(sb, id);
	if (call) {
		callbox_call_get(call);
		*ended = callbox_call_ended(call);
		if (!*ended)
			callbox_sandbox_starting_locked(sb, call);
	} else {
		call = ERR_PTR(callbox_call_lookup_error_locked(sb, id));
	}
	spin_unlock_irq(&sb->lock);
	return call;
}

/*
 * Run @ids[@cmd->done] ... with run_lock held, until one does not end
 * EXITED or all did. Returns 0 with @cmd->out the outcome of the call it
 * stopped at; -ERESTARTNOINTR or -EINTR with that call parked and its
 * record in @cmd->out; or an error for that call, which was not entered.
 */
static int callbox_batch_run(struct callbox_sandbox *sb,
			     struct callbox_call_batch *cmd,
			     struct callbox_call_batch __user *ubatch,
			     struct callbox_run_req *req)
{
	u64 __user *uids = u64_to_user_ptr(cmd->ids);
	struct callbox_call *call;
	bool ended;
	u64 id;
	int ret;

	for (;;) {
		if (get_user(id, &uids[cmd->done]))
			return -EFAULT;
		if (req->restart && id != cmd->out.id)
			return -EINVAL;
		call = callbox_batch_choose(sb, id, &ended);
		if (IS_ERR(call))
			return PTR_ERR(call);
		/*
		 * A restart asks run.c, which checks the call was parked in
		 * an ioctl of this thread and command, whatever its state.
		 */
		ret = 0;
		if (!ended || req->restart)
			ret = callbox_run_call(sb, call, req);
		/* Only RUN continues a HOSTCALL, where a call ends replied. */
		if (WARN_ON_ONCE(ret == CALLBOX_RUN_REPLIED))
			ret = -EINVAL;
		if (!ret) {
			spin_lock_irq(&sb->lock);
			callbox_call_fill_info_locked(call, &cmd->out);
			spin_unlock_irq(&sb->lock);
		}
		callbox_call_put(call);
		/*
		 * run_lock is held: no other thread can have run a call to
		 * EXITED meanwhile, so an EXITED call that had not ended at
		 * its turn ran here. One that had (even the call a restart
		 * continues: a BATCH from the signal handler may have run
		 * it) stops the batch, uncounted.
		 */
		if (ret || ended || cmd->out.state != CALLBOX_STATE_EXITED)
			return ret;

		cmd->done++;
		if (cmd->done == cmd->nr)
			return 0;
		if (put_user(cmd->done, &ubatch->done))
			return -EFAULT;
		req->restart = false;
		/*
		 * A signal, or task work (a kick of the call that just ended,
		 * which must not reach the next one), runs in userspace; the
		 * ioctl then restarts from @done.
		 */
		if (signal_pending(current))
			return -ERESTARTNOINTR;
		cond_resched();
	}
}

int callbox_ioctl_call_batch(void *obj, struct callbox_ucmd *ucmd)
{
	struct callbox_sandbox *sb = obj;
	struct callbox_call_batch *cmd = ucmd->cmd;
	struct callbox_call_batch __user *ubatch = ucmd->ubuffer;
	struct callbox_run_req req = {
		.cmd = CALLBOX_CALL_BATCH,
		.uout = &ubatch->out,
		.parked = &cmd->out,
	};
	u64 __user *uids = u64_to_user_ptr(cmd->ids);
	u64 id;
	int ret;

	if (cmd->flags || !cmd->nr || cmd->nr > CALLBOX_MAX_CALLS ||
	    cmd->done >= cmd->nr)
		return -EINVAL;
	req.restart = callbox_run_is_restart(&cmd->out);
	/* Validated before the write below, as every field is. */
	if (req.restart) {
		if (get_user(id, &uids[cmd->done]))
			return -EFAULT;
		if (id != cmd->out.id)
			return -EINVAL;
	}

	/*
	 * @done is written back after each call that EXITED: that it can
	 * be is found out now, before any call is entered (a continued one
	 * too), as @out's is before each entry.
	 */
	if (put_user(cmd->done, &ubatch->done))
		return -EFAULT;

	ret = callbox_lock_or_restart(&sb->run_lock);
	if (ret)
		return ret;
	spin_lock_irq(&sb->lock);
	WRITE_ONCE(sb->batching, true);
	spin_unlock_irq(&sb->lock);
	callbox_sandbox_wake(sb);	/* a RESET waiting for run_lock: EBUSY now */
	ret = callbox_batch_run(sb, cmd, ubatch, &req);
	callbox_run_unlock(sb);

	/* Parked: the restart must find the call named in @out. */
	if (ret == -ERESTARTNOINTR || ret == -EINTR) {
		if (copy_to_user(&ubatch->out, &cmd->out, sizeof(cmd->out)))
			return -EFAULT;
		return ret;
	}
	if (ret)
		return ret;
	/* The output fields only, as callbox_call_reply() writes. */
	if (copy_to_user(&ubatch->done, &cmd->done,
			 offsetofend(typeof(*cmd), out) -
			 offsetof(typeof(*cmd), done)))
		return -EFAULT;
	return 0;
}
