// SPDX-License-Identifier: GPL-2.0
/*
 * callbox: entering the guest and deciding what its exit means.
 *
 * A call runs in the thread that issued the ioctl: callbox calls the vCPU
 * file's own KVM_RUN handler, so KVM sees exactly what it would see from
 * userspace (same thread, same mm, same vcpu->mutex), and decodes the exit
 * in the kernel. The exit data lives in the kvm_run page, which userspace
 * has mapped and can change at any time, so every field is read once and
 * checked before use.
 */
#include <linux/fs.h>
#include <linux/kvm_host.h>

#include "callbox.h"

/* What a KVM exit means for the call that was running. */
struct callbox_exit {
	u32 state;		/* EXITED or ABORTED */
	u32 reason;		/* if ABORTED */
	u32 status;		/* if EXITED */
	u64 detail;
};

static struct callbox_exit callbox_abort(u32 reason, u64 detail)
{
	return (struct callbox_exit) {
		.state = CALLBOX_STATE_ABORTED,
		.reason = reason,
		.detail = detail,
	};
}

/* An I/O exit: only a 4-byte OUT to DONE or ABORT is part of the ABI. */
static struct callbox_exit callbox_run_decode_io(struct kvm_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	u8 direction = READ_ONCE(run->io.direction);
	u8 size = READ_ONCE(run->io.size);
	u16 port = READ_ONCE(run->io.port);
	u32 count = READ_ONCE(run->io.count);
	u64 data_offset = READ_ONCE(run->io.data_offset);
	u32 value;

	if (direction != KVM_EXIT_IO_OUT || size != sizeof(u32) ||
	    count != 1 || (port != CALLBOX_PORT_DONE &&
			   port != CALLBOX_PORT_ABORT))
		return callbox_abort(CALLBOX_ABORT_BAD_PORT, port);

	/*
	 * x86 KVM keeps port data in its own page, which userspace sees at
	 * data_offset of the run mapping. Anything else means someone
	 * rewrote the shared run page under us.
	 */
	if (data_offset != KVM_PIO_PAGE_OFFSET * PAGE_SIZE)
		return callbox_abort(CALLBOX_ABORT_BAD_PORT, port);
	value = READ_ONCE(*(u32 *)vcpu->arch.pio_data);

	if (port == CALLBOX_PORT_ABORT)
		return callbox_abort(CALLBOX_ABORT_GUEST_ABORT, value);

	return (struct callbox_exit) {
		.state = CALLBOX_STATE_EXITED,
		.status = value,
	};
}

static struct callbox_exit callbox_run_decode(struct kvm_vcpu *vcpu,
					      long run_ret, u32 exit_reason)
{
	struct kvm_run *run = vcpu->run;

	/*
	 * -EINTR: a signal, task work or immediate_exit stopped KVM_RUN.
	 * The pending work can only be handled on the way back to
	 * userspace, so the call cannot simply be resumed in here.
	 */
	if (run_ret == -EINTR)
		return callbox_abort(CALLBOX_ABORT_INTERRUPTED, 0);
	if (run_ret < 0)
		return callbox_abort(CALLBOX_ABORT_RUN_FAILED, (u64)run_ret);

	switch (exit_reason) {
	case KVM_EXIT_IO:
		return callbox_run_decode_io(vcpu);
	case KVM_EXIT_MMIO:
		return callbox_abort(CALLBOX_ABORT_MMIO,
				     READ_ONCE(run->mmio.phys_addr));
	case KVM_EXIT_SHUTDOWN:
		return callbox_abort(CALLBOX_ABORT_SHUTDOWN, 0);
	case KVM_EXIT_HLT:
		return callbox_abort(CALLBOX_ABORT_HALT, 0);
	case KVM_EXIT_FAIL_ENTRY:
		return callbox_abort(CALLBOX_ABORT_ENTRY_FAILED,
				     READ_ONCE(run->fail_entry.hardware_entry_failure_reason));
	case KVM_EXIT_INTERNAL_ERROR:
		return callbox_abort(CALLBOX_ABORT_INTERNAL_ERROR,
				     READ_ONCE(run->internal.suberror));
	default:
		return callbox_abort(CALLBOX_ABORT_UNEXPECTED_EXIT,
				     exit_reason);
	}
}

/**
 * callbox_run_call() - run a QUEUED call to a terminal state
 * @sb: the sandbox, with @sb->run_lock held
 * @call: the call
 *
 * Every exit of the current ABI ends the call, so one KVM_RUN is one call.
 */
void callbox_run_call(struct callbox_sandbox *sb, struct callbox_call *call)
{
	struct file *vcpu_file = sb->vcpu_file;
	struct callbox_exit exit;
	u32 exit_reason;
	long ret;

	lockdep_assert_held(&sb->run_lock);

	spin_lock(&sb->lock);
	callbox_call_transition_locked(sb, call, CALLBOX_STATE_ENTERED);
	spin_unlock(&sb->lock);

	ret = vcpu_file->f_op->unlocked_ioctl(vcpu_file, KVM_RUN, 0);
	exit_reason = READ_ONCE(sb->vcpu->run->exit_reason);
	exit = callbox_run_decode(sb->vcpu, ret, exit_reason);

	spin_lock(&sb->lock);
	call->exit_reason = exit_reason;
	if (exit.state == CALLBOX_STATE_EXITED) {
		callbox_call_transition_locked(sb, call, CALLBOX_STATE_EXITED);
		call->status = exit.status;
	} else {
		callbox_call_abort_locked(sb, call, exit.reason, exit.detail);
	}
	spin_unlock(&sb->lock);
}
