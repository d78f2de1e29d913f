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

static void callbox_sandbox_free(struct callbox_sandbox *sb)
{
	xa_erase(&callbox_bound_vcpus, (unsigned long)sb->vcpu);
	fput(sb->vcpu_file);
	mmdrop(sb->mm);
	mutex_destroy(&sb->run_lock);
	kfree(sb);
}

static int callbox_sandbox_release(struct inode *inode, struct file *file)
{
	callbox_sandbox_free(file->private_data);
	return 0;
}

static int callbox_sandbox_call_sync(void *obj, struct callbox_ucmd *ucmd)
{
	struct callbox_sandbox *sb = obj;
	struct callbox_call_sync *cmd = ucmd->cmd;
	struct callbox_call *call = &sb->call;
	int ret;

	if (cmd->flags || cmd->__reserved)
		return -EINVAL;

	if (mutex_lock_killable(&sb->run_lock))
		return -EINTR;

	spin_lock(&sb->lock);
	if (sb->poisoned) {
		spin_unlock(&sb->lock);
		ret = -ENOTRECOVERABLE;
		goto out_unlock_run;
	}
	callbox_call_init_locked(sb, call);
	spin_unlock(&sb->lock);

	callbox_run_call(sb, call);

	spin_lock(&sb->lock);
	cmd->out_id = call->id;
	cmd->out_state = call->state;
	cmd->out_reason = call->reason;
	cmd->out_flags = call->flags;
	cmd->out_status = call->status;
	cmd->out_detail = call->detail;
	cmd->out_exit_reason = call->exit_reason;
	spin_unlock(&sb->lock);

	ret = callbox_ucmd_respond(ucmd, sizeof(*cmd));

out_unlock_run:
	mutex_unlock(&sb->run_lock);
	return ret;
}

static const struct callbox_ioctl_op callbox_sandbox_ops[] = {
	{
		.ioctl_num = CALLBOX_CALL_SYNC,
		.size = sizeof(struct callbox_call_sync),
		.min_size = offsetofend(struct callbox_call_sync, __reserved),
		.execute = callbox_sandbox_call_sync,
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
	sb->vcpu_file = vcpu_file;
	sb->vcpu = vcpu;
	sb->mm = current->mm;
	mmgrab(sb->mm);
	mutex_init(&sb->run_lock);
	spin_lock_init(&sb->lock);
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
	/* From here the file owns sb: its release() frees it. */

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
