// SPDX-License-Identifier: GPL-2.0
/*
 * callbox: the sandbox object and its fd.
 *
 * A sandbox binds callbox to one KVM vCPU of the calling process. It holds
 * a reference on the vCPU's file, which in turn holds the VM, so the vCPU
 * outlives every call. The sandbox is reachable only through its own fd,
 * and an ioctl holds that fd, so release() runs only when no call is
 * running.
 *
 * callbox relies on these KVM details, all stable for a module built
 * against the running kernel's headers: file_is_kvm() (exported) to
 * recognise a VM file, the VM's vcpu_array to recognise one of its vCPU
 * files, and vcpu->run / vcpu->arch.pio_data to read an exit (run.c).
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kvm_host.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/poll.h>
#include <linux/string.h>
#include <linux/xarray.h>

#include "callbox.h"

/*
 * The vCPUs bound to a sandbox, indexed by address. A vCPU serves one
 * sandbox at most: two sandboxes interleaving calls on one guest would
 * each see the other's state. Bound vCPUs cannot be freed (the sandbox
 * holds their file), so an address is never reused while it is here.
 */
static DEFINE_XARRAY(callbox_bound_vcpus);

static void callbox_sandbox_free(struct kref *kref)
{
	struct callbox_sandbox *sb = container_of(kref, struct callbox_sandbox,
						  kref);

	xa_erase(&callbox_bound_vcpus, (unsigned long)sb->vcpu);
	fput(sb->vcpu_file);
	mmdrop(sb->mm);
	mutex_destroy(&sb->run_lock);
	kfree(sb);
}

void callbox_sandbox_put(struct callbox_sandbox *sb)
{
	kref_put(&sb->kref, callbox_sandbox_free);
}

/*
 * Shut down: nothing new may start, QUEUED calls end ABORTED without
 * running, and the current call is cancelled (kicked if it runs).
 */
static void callbox_sandbox_shutdown_locked(struct callbox_sandbox *sb)
{
	struct callbox_call *call, *next;

	lockdep_assert_held(&sb->lock);

	if (sb->shutdown)
		return;
	sb->shutdown = true;
	list_for_each_entry_safe(call, next, &sb->queue, queue_node)
		callbox_call_cancel_locked(call, CALLBOX_ABORT_SANDBOX_CLOSED);
	call = sb->current_call;
	if (call) {
		callbox_call_cancel_locked(call, CALLBOX_ABORT_SANDBOX_CLOSED);
		/*
		 * No thread runs it (HOSTCALL, or interrupted): end it now
		 * rather than when, if ever, someone continues it, so that
		 * its waiters get their answer.
		 */
		if (!sb->runner)
			callbox_call_abort_locked(call, call->cancel_reason, 0,
						  false);
	}
	wake_up_all(&sb->wq);
}

/*
 * close() of the sandbox fd by the process that created it shuts the
 * sandbox down at once, so that other threads waiting on it or running it
 * get their answer now rather than whenever the last reference goes. A
 * close elsewhere (a forked child, an fd passed away) changes nothing.
 */
static int callbox_sandbox_flush(struct file *file, fl_owner_t id)
{
	struct callbox_sandbox *sb = file->private_data;

	if (id != sb->owner_files)
		return 0;
	spin_lock_irq(&sb->lock);
	callbox_sandbox_shutdown_locked(sb);
	spin_unlock_irq(&sb->lock);
	return 0;
}

static int callbox_sandbox_release(struct inode *inode, struct file *file)
{
	struct callbox_sandbox *sb = file->private_data;
	struct callbox_call *call;

	spin_lock_irq(&sb->lock);
	callbox_sandbox_shutdown_locked(sb);
	/* No ioctl holds the file now, so no thread can be running a call. */
	WARN_ON_ONCE(sb->current_call);
	spin_unlock_irq(&sb->lock);

	/* Every call has ended now; consume them all. */
	for (;;) {
		spin_lock_irq(&sb->lock);
		call = list_first_entry_or_null(&sb->calls,
						struct callbox_call, node);
		if (call)
			callbox_call_get(call);
		spin_unlock_irq(&sb->lock);
		if (!call)
			break;
		callbox_call_consume(call);
		callbox_call_put(call);
	}

	callbox_sandbox_put(sb);
	return 0;
}

static __poll_t callbox_sandbox_poll(struct file *file,
				     struct poll_table_struct *wait)
{
	struct callbox_sandbox *sb = file->private_data;
	struct callbox_call *call;
	__poll_t mask = 0;

	poll_wait(file, &sb->wq, wait);

	spin_lock_irq(&sb->lock);
	if (sb->nr_ended)
		mask |= EPOLLIN | EPOLLRDNORM;
	call = sb->current_call;
	if (call && call->state == CALLBOX_STATE_HOSTCALL &&
	    call->cancel_reason)
		mask |= EPOLLPRI;
	if (sb->shutdown)
		mask |= EPOLLHUP;
	spin_unlock_irq(&sb->lock);
	return mask;
}

/* Deadlines are CLOCK_MONOTONIC ktime values: 0 (none) or positive. */
static bool callbox_deadline_valid(u64 deadline_ns)
{
	return deadline_ns <= KTIME_MAX;
}

static void callbox_call_info_get(struct callbox_call *call,
				  struct callbox_call_info *info)
{
	spin_lock_irq(&call->sb->lock);
	callbox_call_fill_info_locked(call, info);
	spin_unlock_irq(&call->sb->lock);
}

/*
 * Choose what CALL_SYNC runs: the interrupted current call when the ioctl
 * is being restarted, else @new, published now. Returns the call with a
 * reference for the caller, NULL if another thread's interrupted sync
 * call must end first, or an ERR_PTR.
 */
static struct callbox_call *
callbox_sandbox_sync_call_locked(struct callbox_sandbox *sb,
				 struct callbox_call *new, u64 deadline_ns)
{
	struct callbox_call *call = sb->current_call;

	lockdep_assert_held(&sb->lock);

	if (call) {
		/* HOSTCALL, or a submitted call: not CALL_SYNC's to continue. */
		if (!call->sync || call->state != CALLBOX_STATE_ENTERED ||
		    sb->runner)
			return ERR_PTR(-EBUSY);
		/* Another thread's interrupted call: wait for it to end. */
		if (!callbox_call_owned_by_current(call))
			return NULL;
		/* Our own CALL_SYNC, restarted after an interruption. */
		callbox_call_get(call);
		return call;
	}
	if (sb->shutdown)
		return ERR_PTR(-ESHUTDOWN);
	if (!list_empty(&sb->queue))
		return ERR_PTR(-EBUSY);
	if (sb->poisoned)
		return ERR_PTR(-ENOTRECOVERABLE);
	if (sb->nr_calls >= CALLBOX_MAX_CALLS)
		return ERR_PTR(-EAGAIN);

	new->sync = true;
	callbox_call_add_locked(new, deadline_ns);
	callbox_call_get(new);
	return new;
}

static int callbox_sandbox_call_sync(void *obj, struct callbox_ucmd *ucmd)
{
	struct callbox_sandbox *sb = obj;
	struct callbox_call_sync *cmd = ucmd->cmd;
	struct callbox_call *new, *call;
	int ret;

	if (cmd->flags || !callbox_deadline_valid(cmd->deadline_ns))
		return -EINVAL;

	new = callbox_call_alloc(sb);
	if (!new)
		return -ENOMEM;

	for (;;) {
		if (mutex_lock_killable(&sb->run_lock)) {
			callbox_call_put(new);
			return -EINTR;
		}
		spin_lock_irq(&sb->lock);
		call = callbox_sandbox_sync_call_locked(sb, new,
							cmd->deadline_ns);
		spin_unlock_irq(&sb->lock);
		if (call)
			break;
		mutex_unlock(&sb->run_lock);
		ret = wait_event_interruptible(sb->wq,
					       !READ_ONCE(sb->current_call));
		if (ret) {
			callbox_call_put(new);
			return ret;
		}
	}
	if (call != new)
		callbox_call_put(new);
	if (IS_ERR(call)) {
		ret = PTR_ERR(call);
		goto out_unlock_run;
	}

	ret = callbox_run_call(sb, call);
	if (ret)
		goto out_put_call;

	callbox_call_info_get(call, &cmd->out);
	if (callbox_call_ended(call))
		callbox_call_consume(call);
	ret = callbox_ucmd_respond(ucmd, sizeof(*cmd));

out_put_call:
	callbox_call_put(call);
out_unlock_run:
	mutex_unlock(&sb->run_lock);
	return ret;
}

static int callbox_sandbox_call_submit(void *obj, struct callbox_ucmd *ucmd)
{
	struct callbox_sandbox *sb = obj;
	struct callbox_call_submit *cmd = ucmd->cmd;
	struct callbox_call *call;
	int ret = 0;

	if (cmd->flags || !callbox_deadline_valid(cmd->deadline_ns))
		return -EINVAL;

	call = callbox_call_alloc(sb);
	if (!call)
		return -ENOMEM;

	spin_lock_irq(&sb->lock);
	if (sb->shutdown) {
		ret = -ESHUTDOWN;
	} else if (sb->nr_calls >= CALLBOX_MAX_CALLS) {
		ret = -EAGAIN;
	} else {
		callbox_call_add_locked(call, cmd->deadline_ns);
		cmd->out_id = call->id;
		/* A runner may be waiting for work. */
		wake_up_all(&sb->wq);
	}
	spin_unlock_irq(&sb->lock);

	if (ret) {
		callbox_call_put(call);
		return ret;
	}
	return callbox_ucmd_respond(ucmd, sizeof(*cmd));
}

static bool callbox_sandbox_has_work(struct callbox_sandbox *sb)
{
	return !list_empty(&sb->queue) || READ_ONCE(sb->shutdown) ||
	       READ_ONCE(sb->current_call);
}

/*
 * Choose what RUN runs, see struct callbox_call_run. Returns the call
 * with a reference, NULL if there is nothing to run yet, or an ERR_PTR.
 */
static struct callbox_call *
callbox_sandbox_run_call_locked(struct callbox_sandbox *sb, u64 id)
{
	struct callbox_call *call = sb->current_call;

	lockdep_assert_held(&sb->lock);

	if (call) {
		/*
		 * Only the thread that ran it continues a current call, and
		 * an interrupted sync call only by its CALL_SYNC.
		 */
		if ((id && id != call->id) ||
		    !callbox_call_owned_by_current(call) ||
		    (call->sync && call->state == CALLBOX_STATE_ENTERED))
			return ERR_PTR(-EBUSY);
	} else if (id) {
		call = callbox_call_find_locked(sb, id);
		if (!call)
			return ERR_PTR(callbox_call_lookup_error_locked(sb, id));
	} else {
		if (sb->shutdown)
			return ERR_PTR(-ESHUTDOWN);
		if (sb->poisoned)
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

static int callbox_sandbox_call_run(void *obj, struct callbox_ucmd *ucmd)
{
	struct callbox_sandbox *sb = obj;
	struct callbox_call_run *cmd = ucmd->cmd;
	struct callbox_call *call;
	int ret;

	if (cmd->flags & ~CALLBOX_RUN_FLAGS_MASK)
		return -EINVAL;

	for (;;) {
		if (mutex_lock_killable(&sb->run_lock))
			return -EINTR;
		spin_lock_irq(&sb->lock);
		call = callbox_sandbox_run_call_locked(sb, cmd->id);
		spin_unlock_irq(&sb->lock);
		if (call)
			break;
		mutex_unlock(&sb->run_lock);

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

	ret = callbox_run_call(sb, call);
	if (!ret) {
		callbox_call_info_get(call, &cmd->out);
		ret = callbox_ucmd_respond(ucmd, sizeof(*cmd));
	}
	callbox_call_put(call);
out_unlock_run:
	mutex_unlock(&sb->run_lock);
	return ret;
}

/* Look a call up by id and take a reference, or say why it is not there. */
static struct callbox_call *callbox_sandbox_get_call(struct callbox_sandbox *sb,
						     u64 id)
{
	struct callbox_call *call;

	spin_lock_irq(&sb->lock);
	call = callbox_call_find_locked(sb, id);
	if (call)
		callbox_call_get(call);
	else
		call = ERR_PTR(callbox_call_lookup_error_locked(sb, id));
	spin_unlock_irq(&sb->lock);
	return call;
}

static int callbox_sandbox_call_wait(void *obj, struct callbox_ucmd *ucmd)
{
	struct callbox_sandbox *sb = obj;
	struct callbox_call_wait *cmd = ucmd->cmd;
	struct callbox_call *call;
	ktime_t timeout;
	int ret;

	if (cmd->flags || !callbox_deadline_valid(cmd->deadline_ns))
		return -EINVAL;

	call = callbox_sandbox_get_call(sb, cmd->id);
	if (IS_ERR(call))
		return PTR_ERR(call);

	if (cmd->deadline_ns) {
		/* Absolute, so a restarted wait does not wait longer. */
		timeout = ns_to_ktime(max_t(s64, cmd->deadline_ns -
						 ktime_get_ns(), 0));
		ret = wait_event_interruptible_hrtimeout(sb->wq,
							 callbox_call_ended(call),
							 timeout);
		if (ret == -ETIME)
			ret = -ETIMEDOUT;
	} else {
		ret = wait_event_interruptible(sb->wq,
					       callbox_call_ended(call));
	}
	if (ret)
		goto out_put_call;

	callbox_call_info_get(call, &cmd->out);
	callbox_call_consume(call);
	ret = callbox_ucmd_respond(ucmd, sizeof(*cmd));

out_put_call:
	callbox_call_put(call);
	return ret;
}

static int callbox_sandbox_call_get(void *obj, struct callbox_ucmd *ucmd)
{
	struct callbox_sandbox *sb = obj;
	struct callbox_call_get *cmd = ucmd->cmd;
	struct callbox_call *call;

	if (cmd->flags)
		return -EINVAL;

	call = callbox_sandbox_get_call(sb, cmd->id);
	if (IS_ERR(call))
		return PTR_ERR(call);
	callbox_call_info_get(call, &cmd->out);
	callbox_call_put(call);
	return callbox_ucmd_respond(ucmd, sizeof(*cmd));
}

static int callbox_sandbox_call_cancel(void *obj, struct callbox_ucmd *ucmd)
{
	struct callbox_sandbox *sb = obj;
	struct callbox_call_cancel *cmd = ucmd->cmd;
	struct callbox_call *call;
	int ret;

	if (cmd->flags)
		return -EINVAL;

	spin_lock_irq(&sb->lock);
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

static int callbox_sandbox_reset(void *obj, struct callbox_ucmd *ucmd)
{
	struct callbox_sandbox *sb = obj;
	struct callbox_sandbox_reset *cmd = ucmd->cmd;
	int ret = 0;

	if (cmd->flags)
		return -EINVAL;

	if (mutex_lock_killable(&sb->run_lock))
		return -EINTR;
	spin_lock_irq(&sb->lock);
	if (sb->shutdown)
		ret = -ESHUTDOWN;
	else if (sb->current_call)
		ret = -EBUSY;
	else
		sb->poisoned = false;
	spin_unlock_irq(&sb->lock);
	mutex_unlock(&sb->run_lock);
	return ret;
}

static const struct callbox_ioctl_op callbox_sandbox_ops[] = {
	{
		.ioctl_num = CALLBOX_CALL_SYNC,
		.size = sizeof(struct callbox_call_sync),
		.min_size = offsetofend(struct callbox_call_sync, out),
		.execute = callbox_sandbox_call_sync,
	},
	{
		.ioctl_num = CALLBOX_CALL_SUBMIT,
		.size = sizeof(struct callbox_call_submit),
		.min_size = offsetofend(struct callbox_call_submit, out_id),
		.execute = callbox_sandbox_call_submit,
	},
	{
		.ioctl_num = CALLBOX_CALL_RUN,
		.size = sizeof(struct callbox_call_run),
		.min_size = offsetofend(struct callbox_call_run, out),
		.execute = callbox_sandbox_call_run,
	},
	{
		.ioctl_num = CALLBOX_CALL_WAIT,
		.size = sizeof(struct callbox_call_wait),
		.min_size = offsetofend(struct callbox_call_wait, out),
		.execute = callbox_sandbox_call_wait,
	},
	{
		.ioctl_num = CALLBOX_CALL_GET,
		.size = sizeof(struct callbox_call_get),
		.min_size = offsetofend(struct callbox_call_get, out),
		.execute = callbox_sandbox_call_get,
	},
	{
		.ioctl_num = CALLBOX_CALL_CANCEL,
		.size = sizeof(struct callbox_call_cancel),
		.min_size = offsetofend(struct callbox_call_cancel, id),
		.execute = callbox_sandbox_call_cancel,
	},
	{
		.ioctl_num = CALLBOX_SANDBOX_RESET,
		.size = sizeof(struct callbox_sandbox_reset),
		.min_size = offsetofend(struct callbox_sandbox_reset, flags),
		.execute = callbox_sandbox_reset,
	},
};

static long callbox_sandbox_ioctl(struct file *file, unsigned int cmd,
				  unsigned long arg)
{
	struct callbox_sandbox *sb = file->private_data;

	/* Like KVM: the vCPU can only run in the mm that created it. */
	if (sb->mm != current->mm)
		return -EIO;

	return callbox_ioctl_dispatch(callbox_sandbox_ops,
				      ARRAY_SIZE(callbox_sandbox_ops), sb, cmd,
				      arg);
}

static const struct file_operations callbox_sandbox_fops = {
	.owner = THIS_MODULE,
	.flush = callbox_sandbox_flush,
	.release = callbox_sandbox_release,
	.poll = callbox_sandbox_poll,
	.unlocked_ioctl = callbox_sandbox_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

/*
 * Find the vCPU of @kvm that @file is the fd of. Only pointers are
 * compared, so a file of any other kind is never dereferenced as a vCPU.
 */
static struct kvm_vcpu *callbox_kvm_find_vcpu(struct kvm *kvm,
					      struct file *file)
{
	struct kvm_vcpu *vcpu;
	unsigned long i;

	if (!str_has_prefix(file->f_path.dentry->d_name.name, "kvm-vcpu:"))
		return NULL;

	kvm_for_each_vcpu(i, vcpu, kvm) {
		if (file->private_data == vcpu)
			return vcpu;
	}
	return NULL;
}

int callbox_sandbox_create(void *unused, struct callbox_ucmd *ucmd)
{
	struct callbox_sandbox_create *cmd = ucmd->cmd;
	struct callbox_sandbox *sb;
	struct file *vcpu_file;
	struct kvm_vcpu *vcpu;
	struct file *file;
	struct fd vm;
	struct kvm *kvm;
	int ret;
	int fd;

	if (cmd->flags || cmd->__reserved)
		return -EINVAL;

	vm = fdget(cmd->vm_fd);
	if (!vm.file)
		return -EBADF;
	if (!file_is_kvm(vm.file)) {
		ret = -EINVAL;
		goto out_put_vm;
	}
	kvm = vm.file->private_data;
	if (kvm->mm != current->mm) {
		ret = -EIO;
		goto out_put_vm;
	}

	vcpu_file = fget(cmd->vcpu_fd);
	if (!vcpu_file) {
		ret = -EBADF;
		goto out_put_vm;
	}
	vcpu = callbox_kvm_find_vcpu(kvm, vcpu_file);
	if (!vcpu) {
		ret = -EINVAL;
		goto out_put_vcpu;
	}

	sb = kzalloc(sizeof(*sb), GFP_KERNEL_ACCOUNT);
	if (!sb) {
		ret = -ENOMEM;
		goto out_put_vcpu;
	}
	kref_init(&sb->kref);
	sb->vcpu_file = vcpu_file;
	sb->vcpu = vcpu;
	sb->mm = current->mm;
	mmgrab(sb->mm);
	sb->owner_files = current->files;
	mutex_init(&sb->run_lock);
	spin_lock_init(&sb->lock);
	init_waitqueue_head(&sb->wq);
	INIT_LIST_HEAD(&sb->calls);
	INIT_LIST_HEAD(&sb->queue);
	sb->next_call_id = 1;

	ret = xa_insert(&callbox_bound_vcpus, (unsigned long)vcpu, sb,
			GFP_KERNEL_ACCOUNT);
	if (ret)
		goto out_free_sb;

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto out_unbind;
	}
	file = anon_inode_getfile("[callbox-sandbox]", &callbox_sandbox_fops,
				  sb, O_RDWR);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto out_put_fd;
	}
	/* From here the file owns sb: its release() drops it. */

	cmd->out_sandbox_fd = fd;
	ret = callbox_ucmd_respond(ucmd, sizeof(*cmd));
	if (ret) {
		fput(file);
		put_unused_fd(fd);
		goto out_put_vm;
	}

	/* Point of no return: userspace can use the fd from now on. */
	fd_install(fd, file);
	fdput(vm);
	return 0;

out_put_fd:
	put_unused_fd(fd);
out_unbind:
	xa_erase(&callbox_bound_vcpus, (unsigned long)vcpu);
out_free_sb:
	mmdrop(sb->mm);
	mutex_destroy(&sb->run_lock);
	kfree(sb);
out_put_vcpu:
	fput(vcpu_file);
out_put_vm:
	fdput(vm);
	return ret;
}
