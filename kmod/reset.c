// SPDX-License-Identifier: GPL-2.0
/*
 * callbox: making a guest ready for calls again, after userspace has put
 * it back, to its entry point (CALLBOX_SANDBOX_RESET, which queues the
 * guest's init call) or to a snapshot (CALLBOX_SANDBOX_RESTORE, which
 * runs nothing).
 *
 * Both are refused while a call is current or being started: the guest
 * they declare ready would be one that a call is still changing. Both
 * take run_lock to decide, because everything that enters the guest
 * holds it from its own decision until the guest is entered.
 */
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

#include "callbox.h"

/* May a reset or a restore begin now? */
static int callbox_sandbox_may_reset_locked(struct callbox_sandbox *sb)
{
	lockdep_assert_held(&sb->lock);

	callbox_sandbox_reap_locked(sb);
	if (sb->shutdown)
		return -ESHUTDOWN;
	if (sb->current_call || sb->starting_call || sb->batching ||
	    sb->init_call || sb->restoring)
		return -EBUSY;
	return 0;
}

/*
 * Take run_lock for RESET or a restore's BEGIN, which never wait for a
 * call: EBUSY if one is current or starting, or a batch of calls runs.
 * Held by anything else (a RUN
 * looking for work, SHUTDOWN, another RESET), run_lock is let go soon:
 * wait for that, but fail as soon as its holder starts a call.
 */
static int callbox_sandbox_reset_lock(struct callbox_sandbox *sb)
{
	int ret;

	for (;;) {
		spin_lock_irq(&sb->lock);
		ret = callbox_sandbox_may_reset_locked(sb);
		spin_unlock_irq(&sb->lock);
		if (ret)
			return ret;
		if (mutex_trylock(&sb->run_lock))
			return 0;
		/* Nothing has happened yet: a signal restarts the ioctl. */
		if (wait_event_interruptible(sb->wq,
					     !mutex_is_locked(&sb->run_lock) ||
					     READ_ONCE(sb->starting_call) ||
					     READ_ONCE(sb->batching) ||
					     READ_ONCE(sb->current_call) ||
					     READ_ONCE(sb->restoring) ||
					     READ_ONCE(sb->shutdown)))
			return -ERESTARTNOINTR;
	}
}

int callbox_sandbox_reset(void *obj, struct callbox_ucmd *ucmd)
{
	struct callbox_sandbox *sb = obj;
	struct callbox_sandbox_reset *cmd = ucmd->cmd;
	struct callbox_call *call;
	int ret;

	if (cmd->flags || cmd->deadline_ns > KTIME_MAX)
		return -EINVAL;

	call = callbox_call_alloc(sb);
	if (!call)
		return -ENOMEM;

	ret = callbox_sandbox_reset_lock(sb);
	if (ret)
		goto out_put_call;
	ret = callbox_lock_or_restart(&sb->publish_lock);
	if (ret)
		goto out_unlock_run;

	spin_lock_irq(&sb->lock);
	ret = callbox_sandbox_may_reset_locked(sb);
	spin_unlock_irq(&sb->lock);
	if (!ret)
		ret = callbox_sandbox_publish(sb, call, cmd->deadline_ns, true,
					      false, ucmd, &cmd->out_id,
					      sizeof(*cmd));

	mutex_unlock(&sb->publish_lock);
out_unlock_run:
	callbox_run_unlock(sb);
out_put_call:
	callbox_call_put(call);
	return ret;
}

/*
 * BEGIN: from here no call enters the guest (callbox_run_may_enter_locked()
 * and CALL_SYNC check @restoring under the lock, with run_lock held, which
 * this holds while it sets it), until COMMIT or ABANDON. The id is written
 * back first, so that a reply that cannot be written begins nothing.
 */
static int callbox_sandbox_restore_begin(struct callbox_sandbox *sb,
					 struct callbox_ucmd *ucmd)
{
	struct callbox_sandbox_restore *cmd = ucmd->cmd;
	bool poisoned;
	u64 id;
	int ret;

	ret = callbox_sandbox_reset_lock(sb);
	if (ret)
		return ret;
	spin_lock_irq(&sb->lock);
	ret = callbox_sandbox_may_reset_locked(sb);
	id = sb->next_restore_id;
	/* With run_lock held and no call current, nothing changes it now. */
	poisoned = sb->poisoned;
	spin_unlock_irq(&sb->lock);
	if (ret)
		goto out_unlock_run;

	cmd->id = id;
	cmd->out_poisoned = poisoned;
	ret = callbox_ucmd_respond(ucmd, sizeof(*cmd));

	spin_lock_irq(&sb->lock);
	/* Userspace may have the id: no later restore gets it. */
	sb->next_restore_id = id + 1;
	/* With run_lock held, only shutdown can have changed meanwhile. */
	if (!ret)
		ret = callbox_sandbox_may_reset_locked(sb);
	if (!ret)
		sb->restoring = id;
	spin_unlock_irq(&sb->lock);
out_unlock_run:
	callbox_run_unlock(sb);
	return ret;
}

int callbox_sandbox_restore(void *obj, struct callbox_ucmd *ucmd)
{
	struct callbox_sandbox *sb = obj;
	struct callbox_sandbox_restore *cmd = ucmd->cmd;
	int ret = 0;

	if (cmd->flags)
		return -EINVAL;
	if (cmd->op == CALLBOX_RESTORE_BEGIN)
		return callbox_sandbox_restore_begin(sb, ucmd);
	if (cmd->op != CALLBOX_RESTORE_COMMIT &&
	    cmd->op != CALLBOX_RESTORE_ABANDON)
		return -EINVAL;

	spin_lock_irq(&sb->lock);
	if (sb->shutdown) {
		ret = -ESHUTDOWN;
	} else if (!sb->restoring || cmd->id != sb->restoring) {
		/* A late end of a restore that is over: not this one. */
		ret = -EINVAL;
	} else {
		sb->restoring = 0;
		/* Only a complete restore makes the guest ready. */
		sb->poisoned = cmd->op == CALLBOX_RESTORE_ABANDON;
	}
	spin_unlock_irq(&sb->lock);
	return ret;
}
