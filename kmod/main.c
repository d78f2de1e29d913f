// SPDX-License-Identifier: GPL-2.0
/*
 * callbox: the /dev/callbox device and the ioctl dispatcher.
 *
 * callbox runs functions of a freestanding guest in a KVM vCPU that the
 * calling process created. The kernel owns the lifecycle of every call:
 * each transition of a call's state happens here, under a spinlock, so
 * there is always one true answer to "did the guest run, and is there a
 * result?".
 *
 * Objects:
 *   /dev/callbox (this file)    creates sandboxes
 *   sandbox fd (sandbox.c)      one vCPU: lifetime, shutdown, reset, poll
 *   call ioctls (call_ioctl.c)  CALL_SYNC, SUBMIT, RUN, WAIT, GET, CANCEL
 *   call (call.c)               one call: state machine, cancellation,
 *                               deadline timer, kick
 *   run (run.c)                 enters the guest and decodes its exits
 *
 * Inspection (read-only): every sandbox by id (registry.c), reports of a
 * sandbox and its calls (inspect.c), module-wide counters in sysfs
 * (stats.c), debugfs (debugfs.c), tracepoints (trace.h), and the
 * "callbox" generic netlink family (netlink.c).
 *
 * Lock ordering (outermost first):
 *   callbox_sandbox.run_lock        mutex, held while a thread runs a call
 *     kvm_vcpu.mutex                taken by KVM_RUN inside the run
 *     callbox_sandbox.publish_lock  mutex, held while a new call gets its
 *                                   id and the id is written to userspace
 *                                   (SUBMIT takes it without run_lock)
 *       callbox_sandbox.lock        irq-safe spinlock (the deadline hrtimer
 *                                   takes it); guards the calls' state and
 *                                   the sandbox's lists. Nothing sleeps
 *                                   under it. The kick (task_work_add()),
 *                                   wake_up() and queue_delayed_work() are
 *                                   called under it and take only
 *                                   scheduler, waitqueue and workqueue
 *                                   locks, which never nest the other way.
 *
 * Module exit: every sandbox holds the module through its file, and stops
 * its timers and work before the file goes; a kick's task work holds no
 * file, so exit waits for those (callbox_call_kicks_drain()).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>

#include "callbox.h"

/*
 * Copy the struct in once, check its size and trailing bytes, and hand the
 * handler a kernel copy. The handler validates the fields and replies with
 * callbox_ucmd_respond().
 */
long callbox_ioctl_dispatch(const struct callbox_ioctl_op *ops,
			    size_t num_ops, void *obj, unsigned int cmd,
			    unsigned long arg)
{
	union {
		struct callbox_sandbox_create sandbox_create;
		struct callbox_call_sync call_sync;
		struct callbox_call_submit call_submit;
		struct callbox_call_run call_run;
		struct callbox_call_batch call_batch;
		struct callbox_call_wait call_wait;
		struct callbox_call_get call_get;
		struct callbox_call_cancel call_cancel;
		struct callbox_sandbox_reset sandbox_reset;
		struct callbox_sandbox_shutdown sandbox_shutdown;
		struct callbox_sandbox_restore sandbox_restore;
	} buf;
	const struct callbox_ioctl_op *op = NULL;
	struct callbox_ucmd ucmd = {};
	size_t i;
	int ret;

	for (i = 0; i < num_ops; i++) {
		if (ops[i].ioctl_num == cmd) {
			op = &ops[i];
			break;
		}
	}
	if (!op)
		return -ENOTTY;
	if (WARN_ON_ONCE(op->size > sizeof(buf)))
		return -EINVAL;

	ucmd.ubuffer = (void __user *)arg;
	ret = get_user(ucmd.user_size, (u32 __user *)ucmd.ubuffer);
	if (ret)
		return ret;
	if (ucmd.user_size < op->min_size)
		return -EINVAL;
	if (ucmd.user_size > CALLBOX_UCMD_SIZE_MAX)
		return -E2BIG;

	ucmd.cmd = &buf;
	ret = copy_struct_from_user(ucmd.cmd, op->size, ucmd.ubuffer,
				    ucmd.user_size);
	if (ret)
		return ret;

	return op->execute(obj, &ucmd);
}

/*
 * Copy the handler's reply back. Only the bytes of the struct this kernel
 * knows, and which copy_struct_from_user() fully initialised, go out.
 */
int callbox_ucmd_respond(struct callbox_ucmd *ucmd, size_t cmd_len)
{
	if (copy_to_user(ucmd->ubuffer, ucmd->cmd,
			 min_t(size_t, ucmd->user_size, cmd_len)))
		return -EFAULT;
	return 0;
}

/*
 * The same, but only if no page fault is needed: -EFAULT otherwise, and
 * nothing was waited for (a fault on a userfaultfd range may wait for as
 * long as its handler likes).
 */
int callbox_ucmd_respond_nofault(struct callbox_ucmd *ucmd, size_t cmd_len)
{
	if (copy_to_user_nofault(ucmd->ubuffer, ucmd->cmd,
				 min_t(size_t, ucmd->user_size, cmd_len)))
		return -EFAULT;
	return 0;
}

static const struct callbox_ioctl_op callbox_dev_ops[] = {
	{
		.ioctl_num = CALLBOX_SANDBOX_CREATE,
		.size = sizeof(struct callbox_sandbox_create),
		.min_size = offsetofend(struct callbox_sandbox_create,
					__reserved),
		.execute = callbox_sandbox_create,
	},
};

static long callbox_dev_ioctl(struct file *file, unsigned int cmd,
			      unsigned long arg)
{
	return callbox_ioctl_dispatch(callbox_dev_ops,
				      ARRAY_SIZE(callbox_dev_ops), NULL, cmd,
				      arg);
}

static const struct file_operations callbox_dev_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = callbox_dev_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

/*
 * World-accessible like /dev/kvm: a sandbox only runs a vCPU that the
 * caller already owns, so the device grants no new privilege.
 */
static struct miscdevice callbox_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "callbox",
	.fops = &callbox_dev_fops,
	.mode = 0666,
	.groups = callbox_stats_groups,
};

static int __init callbox_init(void)
{
	int ret;

	static_assert(sizeof(struct callbox_sandbox_create) == 24);
	static_assert(sizeof(struct callbox_call_info) == 40);
	static_assert(sizeof(struct callbox_call_sync) == 56);
	static_assert(sizeof(struct callbox_call_submit) == 24);
	static_assert(sizeof(struct callbox_call_run) == 56);
	static_assert(sizeof(struct callbox_call_batch) == 64);
	static_assert(sizeof(struct callbox_call_wait) == 64);
	static_assert(sizeof(struct callbox_call_get) == 56);
	static_assert(sizeof(struct callbox_call_cancel) == 16);
	static_assert(sizeof(struct callbox_sandbox_reset) == 24);
	static_assert(sizeof(struct callbox_sandbox_shutdown) == 8);
	static_assert(sizeof(struct callbox_sandbox_restore) == 24);

	callbox_debugfs_init();
	ret = callbox_netlink_init();
	if (ret)
		goto out_debugfs;
	/* Last: from here on sandboxes can be created. */
	ret = misc_register(&callbox_misc);
	if (ret)
		goto out_netlink;
	return 0;

out_netlink:
	callbox_netlink_exit();
out_debugfs:
	callbox_debugfs_exit();
	return ret;
}

static void __exit callbox_exit(void)
{
	misc_deregister(&callbox_misc);
	callbox_call_kicks_drain();
	callbox_netlink_exit();
	callbox_debugfs_exit();
}

module_init(callbox_init);
module_exit(callbox_exit);

MODULE_DESCRIPTION("callbox: kernel-owned calls into KVM micro-VMs");
/* GPL: callbox uses GPL-only exports (file_is_kvm, task_work_add, ...). */
MODULE_LICENSE("GPL");
