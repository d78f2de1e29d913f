// SPDX-License-Identifier: GPL-2.0
/*
 * callbox: the sandbox object and its fd.
 *
 * A sandbox binds callbox to one KVM vCPU of the calling process. It holds
 * a reference on the vCPU's file, which in turn holds the VM, so the vCPU
 * outlives every call. The sandbox is reachable only through its own fd,
 * and an ioctl holds that fd, so release() runs only when no call is
 * running. Its lifetime is the file's, whichever fd copies exist; only
 * CALLBOX_SANDBOX_SHUTDOWN ends it earlier.
 *
 * callbox relies on these KVM details, all stable for a module built
 * against the running kernel's headers: file_is_kvm() (exported) to
 * recognise a VM file, the VM's vcpu_array to recognise one of its vCPU
 * files, vcpu->sigset_active, and vcpu->run / vcpu->arch.pio_data to read
 * an exit (run.c).
 */
#include <linux/anon_inodes.h>
#include <linux/dcache.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kvm_host.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/poll.h>
#include <linux/string.h>
#include <linux/xarray.h>

#include "callbox.h"
#include "stats.h"
#include "trace.h"

/* How often a parked call's owner is checked while it stays parked. */
#define CALLBOX_REAP_INTERVAL	(HZ / 10)

/*
 * The vCPUs bound to a sandbox that has not shut down, indexed by
 * address. A vCPU serves one sandbox at most: two sandboxes interleaving
 * calls on one guest would each see the other's state. A bound vCPU
 * cannot be freed (the sandbox holds its file), so an address is never
 * reused while it is here.
 */
static DEFINE_XARRAY(callbox_bound_vcpus);

/* Free the vCPU for a new sandbox, if it is still ours. Idempotent. */
static void callbox_sandbox_unbind(struct callbox_sandbox *sb)
{
	xa_cmpxchg(&callbox_bound_vcpus, (unsigned long)sb->vcpu, sb, NULL, 0);
}

static void callbox_sandbox_free(struct kref *kref)
{
	struct callbox_sandbox *sb = container_of(kref, struct callbox_sandbox,
						  kref);

	callbox_sandbox_unbind(sb);
	callbox_registry_remove(sb);
	put_pid(sb->owner_pid);
	fput(sb->vcpu_file);
	mmdrop(sb->mm);
	mutex_destroy(&sb->publish_lock);
	mutex_destroy(&sb->run_lock);
	/* No call holds a reference now, so none can be put back here. */
	kfree(sb->spare_call);
	kfree(sb);
	callbox_stats_objects_add(-1, 0);
}

void callbox_sandbox_put(struct callbox_sandbox *sb)
{
	kref_put(&sb->kref, callbox_sandbox_free);
}

/**
 * callbox_sandbox_reap_locked() - end a parked call whose owner is gone
 * @sb: the sandbox
 *
 * See callbox_call_reap_locked(). Every ioctl that looks at calls reaps
 * first, so that what it reports is true; the reap work does it for
 * threads that only wait.
 *
 * Return: true if a call is still parked.
 */
bool callbox_sandbox_reap_locked(struct callbox_sandbox *sb)
{
	struct callbox_call *call = sb->current_call;

	lockdep_assert_held(&sb->lock);

	return call && !sb->runner && !callbox_call_reap_locked(call);
}

/* The current call was just parked: watch its owner while it stays so. */
void callbox_sandbox_park_locked(struct callbox_sandbox *sb)
{
	lockdep_assert_held(&sb->lock);

	queue_delayed_work(system_wq, &sb->reap_work, CALLBOX_REAP_INTERVAL);
}

static void callbox_sandbox_reap_fn(struct work_struct *work)
{
	struct callbox_sandbox *sb = container_of(to_delayed_work(work),
						  struct callbox_sandbox,
						  reap_work);

	spin_lock_irq(&sb->lock);
	if (callbox_sandbox_reap_locked(sb))
		callbox_sandbox_park_locked(sb);
	spin_unlock_irq(&sb->lock);
}

/**
 * callbox_sandbox_publish() - give a new call its id and publish it
 * @sb: the sandbox, with @sb->publish_lock held
 * @call: the new call
 * @deadline_ns: its deadline (0: none)
 * @init: it is a reset's init call
 * @enter: CALL_SYNC enters the call next, with no write to userspace in
 *	between, and checked callbox_run_prepare() before: check it again if
 *	writing the reply had to wait for a page fault
 * @ucmd: the ioctl; its reply, with the id, is written before anything
 *	is published, so a reply that cannot be written publishes nothing
 * @reply_id: where the id goes in the kernel copy of the ioctl's struct
 * @reply_len: how much of that struct is the reply
 *
 * Only publish_lock holders give out ids, so the id written is the one the
 * call gets. An id written back for a call that then is not published
 * (@enter's check failed) is used up: it names no call, ever (ESRCH).
 *
 * Return: 0 (the sandbox's list now holds its own reference on @call), or
 * -ESHUTDOWN, -EAGAIN (CALLBOX_MAX_CALLS unconsumed calls of its kind:
 * init calls or the others), -EFAULT or callbox_run_prepare()'s errors,
 * with nothing published.
 */
int callbox_sandbox_publish(struct callbox_sandbox *sb,
			    struct callbox_call *call, u64 deadline_ns,
			    bool init, bool enter, struct callbox_ucmd *ucmd,
			    u64 *reply_id, size_t reply_len)
{
	int ret = 0;
	u64 id;

	lockdep_assert_held(&sb->publish_lock);

	spin_lock_irq(&sb->lock);
	if (sb->shutdown)
		ret = -ESHUTDOWN;
	/* Init calls have places of their own: a full queue can be reset. */
	else if ((init ? sb->nr_init : sb->nr_calls) >= CALLBOX_MAX_CALLS)
		ret = -EAGAIN;
	id = sb->next_call_id;
	spin_unlock_irq(&sb->lock);
	if (ret)
		return ret;

	*reply_id = id;
	/*
	 * Written without a fault, nothing was waited for since CALL_SYNC's
	 * check, which then stands as one made right before the entry, as
	 * the ioctl syscall's own check of KVM_RUN does.
	 */
	if (!enter || callbox_ucmd_respond_nofault(ucmd, reply_len)) {
		ret = callbox_ucmd_respond(ucmd, reply_len);
		if (ret)
			return ret;
		/* The write may have waited long: check what holds now. */
		if (enter)
			ret = callbox_run_prepare(sb);
	}

	spin_lock_irq(&sb->lock);
	if (ret) {
		/* Userspace has the id: no later call may get it. */
		sb->next_call_id = id + 1;
	} else if (sb->shutdown) {
		/* Only shutdown can have changed: adding a call takes our lock. */
		ret = -ESHUTDOWN;
	} else {
		/*
		 * Lifted first: an init call that ends at once (a deadline
		 * already past) poisons the sandbox again as it ends.
		 */
		if (init)
			sb->poisoned = false;
		callbox_call_add_locked(call, id, deadline_ns, init);
		/* A runner may be waiting for work. */
		callbox_sandbox_wake(sb);
	}
	spin_unlock_irq(&sb->lock);
	return ret;
}

/*
 * Shut down: nothing new may start, QUEUED calls end ABORTED without
 * running, a running call is kicked, a parked one ends now.
 */
static void callbox_sandbox_shutdown_locked(struct callbox_sandbox *sb)
{
	struct callbox_call *call, *next;

	lockdep_assert_held(&sb->lock);

	if (sb->shutdown)
		return;
	/* Read without the lock by waiters. */
	WRITE_ONCE(sb->shutdown, true);
	/* Nothing can be entered any more: the sandbox stays as it is. */
	sb->restoring = 0;
	list_for_each_entry_safe(call, next, &sb->queue, queue_node)
		callbox_call_cancel_locked(call, CALLBOX_ABORT_SANDBOX_CLOSED);
	call = sb->current_call;
	if (call) {
		callbox_call_cancel_locked(call, CALLBOX_ABORT_SANDBOX_CLOSED);
		/*
		 * A host function still runs for it: end it now rather than
		 * when, if ever, someone continues it, so that its waiters
		 * get their answer.
		 */
		if (!sb->runner && !callbox_call_ended(call))
			callbox_call_abort_locked(call, call->cancel_reason, 0,
						  false);
	}
	/*
	 * After the calls it ended (a running one ends when its kick lands),
	 * and not if the sandbox's creation failed: then no one saw it.
	 */
	if (sb->id) {
		trace_sandbox_shutdown(sb->id);
		callbox_netlink_sandbox_event(sb,
					      CALLBOX_NL_EVENT_SANDBOX_SHUTDOWN);
	}
	callbox_sandbox_wake(sb);
}

static int callbox_sandbox_shutdown(void *obj, struct callbox_ucmd *ucmd)
{
	struct callbox_sandbox *sb = obj;
	struct callbox_sandbox_shutdown *cmd = ucmd->cmd;
	int ret;

	if (cmd->flags)
		return -EINVAL;

	spin_lock_irq(&sb->lock);
	callbox_sandbox_shutdown_locked(sb);
	spin_unlock_irq(&sb->lock);

	/*
	 * A kicked runner leaves the guest soon; then no one runs it, and
	 * callbox_run_unlock() unbinds the vCPU. A signal meanwhile restarts
	 * SHUTDOWN, which finds it done.
	 */
	ret = callbox_lock_or_restart(&sb->run_lock);
	if (ret)
		return ret;
	callbox_run_unlock(sb);
	return 0;
}

/**
 * callbox_sandbox_starting_locked() - a run_lock holder starts a call
 * @sb: the sandbox, with @sb->lock and @sb->run_lock held
 * @call: the call it will enter
 *
 * Until @call is entered or ends, or run_lock is let go, RESET fails at
 * once rather than wait for run_lock: the call may take long to start
 * (its struct write can wait on a page fault) and then runs.
 */
void callbox_sandbox_starting_locked(struct callbox_sandbox *sb,
				     struct callbox_call *call)
{
	lockdep_assert_held(&sb->lock);
	lockdep_assert_held(&sb->run_lock);

	WRITE_ONCE(sb->starting_call, call);
	callbox_sandbox_wake(sb);
}

/*
 * Let go of run_lock, which a RESET may be waiting for. After shutdown no
 * thread enters the guest again, so the holder frees the vCPU for a new
 * sandbox as it lets go: the last runner does it even if the SHUTDOWN
 * waiting for it was abandoned (its signal handler longjmp()ed out).
 */
void callbox_run_unlock(struct callbox_sandbox *sb)
{
	bool shutdown;

	spin_lock_irq(&sb->lock);
	WRITE_ONCE(sb->starting_call, NULL);
	WRITE_ONCE(sb->batching, false);
	shutdown = sb->shutdown;
	spin_unlock_irq(&sb->lock);
	if (shutdown)
		callbox_sandbox_unbind(sb);
	mutex_unlock(&sb->run_lock);
	callbox_sandbox_wake(sb);
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

	/* Nothing is parked any more, so the work does not come back. */
	cancel_delayed_work_sync(&sb->reap_work);
	callbox_sandbox_unbind(sb);
	/* Gone for the inspection interfaces with its last fd. */
	callbox_debugfs_sandbox_remove(sb);
	callbox_registry_remove(sb);

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
	callbox_sandbox_reap_locked(sb);
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

static const struct callbox_ioctl_op callbox_sandbox_ops[] = {
	{
		.ioctl_num = CALLBOX_CALL_SYNC,
		.size = sizeof(struct callbox_call_sync),
		.min_size = offsetofend(struct callbox_call_sync, out),
		.execute = callbox_ioctl_call_sync,
	},
	{
		.ioctl_num = CALLBOX_CALL_SUBMIT,
		.size = sizeof(struct callbox_call_submit),
		.min_size = offsetofend(struct callbox_call_submit, out_id),
		.execute = callbox_ioctl_call_submit,
	},
	{
		.ioctl_num = CALLBOX_CALL_RUN,
		.size = sizeof(struct callbox_call_run),
		.min_size = offsetofend(struct callbox_call_run, out),
		.execute = callbox_ioctl_call_run,
	},
	{
		.ioctl_num = CALLBOX_CALL_BATCH,
		.size = sizeof(struct callbox_call_batch),
		.min_size = offsetofend(struct callbox_call_batch, out),
		.execute = callbox_ioctl_call_batch,
	},
	{
		.ioctl_num = CALLBOX_CALL_WAIT,
		.size = sizeof(struct callbox_call_wait),
		.min_size = offsetofend(struct callbox_call_wait, out),
		.execute = callbox_ioctl_call_wait,
	},
	{
		.ioctl_num = CALLBOX_CALL_GET,
		.size = sizeof(struct callbox_call_get),
		.min_size = offsetofend(struct callbox_call_get, out),
		.execute = callbox_ioctl_call_get,
	},
	{
		.ioctl_num = CALLBOX_CALL_CANCEL,
		.size = sizeof(struct callbox_call_cancel),
		.min_size = offsetofend(struct callbox_call_cancel, id),
		.execute = callbox_ioctl_call_cancel,
	},
	{
		.ioctl_num = CALLBOX_SANDBOX_RESET,
		.size = sizeof(struct callbox_sandbox_reset),
		.min_size = offsetofend(struct callbox_sandbox_reset, out_id),
		.execute = callbox_sandbox_reset,
	},
	{
		.ioctl_num = CALLBOX_SANDBOX_RESTORE,
		.size = sizeof(struct callbox_sandbox_restore),
		.min_size = offsetofend(struct callbox_sandbox_restore, id),
		.execute = callbox_sandbox_restore,
	},
	{
		.ioctl_num = CALLBOX_SANDBOX_SHUTDOWN,
		.size = sizeof(struct callbox_sandbox_shutdown),
		.min_size = offsetofend(struct callbox_sandbox_shutdown, flags),
		.execute = callbox_sandbox_shutdown,
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
	.release = callbox_sandbox_release,
	.poll = callbox_sandbox_poll,
	.show_fdinfo = callbox_sandbox_show_fdinfo,
	.unlocked_ioctl = callbox_sandbox_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

/*
 * Find the vCPU of @kvm that @file is the fd of. Pointers first: only a
 * file KVM made for one of its vCPUs can hold one as private_data, so no
 * other file is ever looked into. KVM makes two such anon-inode files, the
 * vCPU fd ("kvm-vcpu:N") and its statistics fd ("kvm-vcpu-stats"), and
 * the name tells them apart; an anon inode's name never changes.
 */
static struct kvm_vcpu *callbox_kvm_find_vcpu(struct kvm *kvm,
					      struct file *file)
{
	struct kvm_vcpu *vcpu, *found = NULL;
	unsigned long i;

	kvm_for_each_vcpu(i, vcpu, kvm) {
		if (file->private_data == vcpu) {
			found = vcpu;
			break;
		}
	}
	if (!found || !file->f_op->unlocked_ioctl ||
	    !str_has_prefix(file->f_path.dentry->d_name.name, "kvm-vcpu:"))
		return NULL;
	return found;
}

static struct callbox_sandbox *callbox_sandbox_alloc(struct file *vcpu_file,
						     struct kvm_vcpu *vcpu)
{
	struct callbox_sandbox *sb;

	sb = kzalloc(sizeof(*sb), GFP_KERNEL_ACCOUNT);
	if (!sb)
		return NULL;
	callbox_stats_objects_add(1, 0);
	kref_init(&sb->kref);
	sb->vcpu_file = vcpu_file;
	sb->vcpu = vcpu;
	sb->mm = current->mm;
	mmgrab(sb->mm);
	mutex_init(&sb->run_lock);
	mutex_init(&sb->publish_lock);
	spin_lock_init(&sb->lock);
	init_waitqueue_head(&sb->wq);
	INIT_DELAYED_WORK(&sb->reap_work, callbox_sandbox_reap_fn);
	INIT_LIST_HEAD(&sb->calls);
	INIT_LIST_HEAD(&sb->queue);
	sb->next_call_id = 1;
	sb->next_restore_id = 1;
	sb->owner_pid = get_pid(task_tgid(current));
	sb->owner_uid = current_euid();
	sb->created_ns = ktime_get_ns();
	return sb;
}

int callbox_sandbox_create(void *unused, struct callbox_ucmd *ucmd)
{
	struct callbox_sandbox_create *cmd = ucmd->cmd;
	struct callbox_sandbox *sb;
	struct file *vm_file, *vcpu_file, *file;
	struct kvm_vcpu *vcpu;
	struct kvm *kvm;
	int ret;
	int fd;

	if (cmd->flags || cmd->__reserved)
		return -EINVAL;

	vm_file = fget(cmd->vm_fd);
	if (!vm_file)
		return -EBADF;
	if (!file_is_kvm(vm_file)) {
		ret = -EINVAL;
		goto out_put_vm;
	}
	kvm = vm_file->private_data;
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
	/* See struct callbox_sandbox_create; checked again at every entry. */
	if (READ_ONCE(vcpu->sigset_active)) {
		ret = -EOPNOTSUPP;
		goto out_put_vcpu;
	}

	sb = callbox_sandbox_alloc(vcpu_file, vcpu);
	if (!sb) {
		ret = -ENOMEM;
		goto out_put_vcpu;
	}

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
	/* From here the file owns sb (and the vCPU file): release() frees. */

	cmd->out_sandbox_fd = fd;
	ret = callbox_ucmd_respond(ucmd, sizeof(*cmd));
	/* Visible to the inspection interfaces only if the ioctl succeeds. */
	if (!ret)
		ret = callbox_registry_add(sb);
	if (ret) {
		fput(file);
		put_unused_fd(fd);
		goto out_put_vm;
	}

	/* Point of no return: userspace can use the fd from now on. */
	callbox_debugfs_sandbox_add(sb);
	/* As the initial namespaces see them, like the trace's own pids. */
	trace_sandbox_create(sb->id, pid_nr(sb->owner_pid),
			     from_kuid_munged(&init_user_ns, sb->owner_uid));
	callbox_netlink_sandbox_event(sb, CALLBOX_NL_EVENT_SANDBOX_CREATE);
	fd_install(fd, file);
	fput(vm_file);
	return 0;

out_put_fd:
	put_unused_fd(fd);
out_unbind:
	callbox_sandbox_unbind(sb);
out_free_sb:
	put_pid(sb->owner_pid);
	mmdrop(sb->mm);
	mutex_destroy(&sb->publish_lock);
	mutex_destroy(&sb->run_lock);
	kfree(sb);
	callbox_stats_objects_add(-1, 0);
out_put_vcpu:
	fput(vcpu_file);
out_put_vm:
	fput(vm_file);
	return ret;
}
