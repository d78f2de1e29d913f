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
#include <linux/sched/signal.h>

#include "callbox.h"

/* What a KVM exit means for the call that was running. */
enum callbox_exit_kind {
	CALLBOX_EXIT_DONE,		/* the guest finished the call */
	CALLBOX_EXIT_HOSTCALL,		/* the guest wants a host function */
	CALLBOX_EXIT_INTERRUPTED,	/* KVM_RUN returned -EINTR */
	CALLBOX_EXIT_ABORT,		/* anything else ends the call */
};

struct callbox_exit {
	enum callbox_exit_kind kind;
	u32 value;		/* DONE, HOSTCALL: what the guest wrote */
	u32 reason;		/* ABORT */
	u64 detail;		/* ABORT */
};

static struct callbox_exit callbox_abort(u32 reason, u64 detail)
{
	return (struct callbox_exit) {
		.kind = CALLBOX_EXIT_ABORT,
		.reason = reason,
		.detail = detail,
	};
}

/* An I/O exit: only a 4-byte OUT to one of our ports is part of the ABI. */
static struct callbox_exit callbox_run_decode_io(struct kvm_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	u8 direction = READ_ONCE(run->io.direction);
	u8 size = READ_ONCE(run->io.size);
	u16 port = READ_ONCE(run->io.port);
	u32 count = READ_ONCE(run->io.count);
	u64 data_offset = READ_ONCE(run->io.data_offset);
	u32 value;

	if (direction != KVM_EXIT_IO_OUT || size != sizeof(u32) || count != 1)
		return callbox_abort(CALLBOX_ABORT_BAD_PORT, port);
	if (port != CALLBOX_PORT_DONE && port != CALLBOX_PORT_ABORT &&
	    port != CALLBOX_PORT_HOSTCALL)
		return callbox_abort(CALLBOX_ABORT_BAD_PORT, port);

	/*
	 * x86 KVM keeps port data in its own page, which userspace sees at
	 * data_offset of the run mapping. Anything else means someone
	 * rewrote the shared run page under us.
	 */
	if (data_offset != KVM_PIO_PAGE_OFFSET * PAGE_SIZE)
		return callbox_abort(CALLBOX_ABORT_BAD_PORT, port);
	value = READ_ONCE(*(u32 *)vcpu->arch.pio_data);

	switch (port) {
	case CALLBOX_PORT_ABORT:
		return callbox_abort(CALLBOX_ABORT_GUEST_ABORT, value);
	case CALLBOX_PORT_HOSTCALL:
		return (struct callbox_exit) {
			.kind = CALLBOX_EXIT_HOSTCALL,
			.value = value,
		};
	default:
		return (struct callbox_exit) {
			.kind = CALLBOX_EXIT_DONE,
			.value = value,
		};
	}
}

static struct callbox_exit callbox_run_decode(struct kvm_vcpu *vcpu,
					      long run_ret, u32 exit_reason)
{
	struct kvm_run *run = vcpu->run;

	if (run_ret == -EINTR)
		return (struct callbox_exit) {
			.kind = CALLBOX_EXIT_INTERRUPTED,
		};
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

/*
 * Enter @call, under the lock: start it if QUEUED, continue it if it is
 * the current call (HOSTCALL, or ENTERED after an interruption). A pending
 * cancellation ends a current call here, before the guest runs again.
 * Returns true if the guest is to be entered.
 */
static bool callbox_run_enter_locked(struct callbox_sandbox *sb,
				     struct callbox_call *call, int *ret)
{
	lockdep_assert_held(&sb->lock);

	*ret = 0;
	switch (call->state) {
	case CALLBOX_STATE_QUEUED:
		if (sb->poisoned) {
			*ret = -ENOTRECOVERABLE;
			return false;
		}
		if (sb->current_call) {
			*ret = -EBUSY;
			return false;
		}
		callbox_call_transition_locked(call, CALLBOX_STATE_ENTERED);
		break;
	case CALLBOX_STATE_HOSTCALL:
	case CALLBOX_STATE_ENTERED:
		if (WARN_ON_ONCE(sb->current_call != call) ||
		    !callbox_call_owned_by_current(call)) {
			*ret = -EBUSY;
			return false;
		}
		if (call->cancel_reason) {
			callbox_call_abort_locked(call, call->cancel_reason, 0,
						  false);
			return false;
		}
		if (call->state == CALLBOX_STATE_HOSTCALL)
			callbox_call_transition_locked(call,
						       CALLBOX_STATE_ENTERED);
		break;
	default:
		/* Ended already (cancelled while queued, say): nothing to do. */
		return false;
	}
	sb->runner = current;
	return true;
}

/* Decide the call's fate from one exit, under the lock. */
static int callbox_run_exit_locked(struct callbox_sandbox *sb,
				   struct callbox_call *call,
				   const struct callbox_exit *exit,
				   u32 exit_reason)
{
	lockdep_assert_held(&sb->lock);

	sb->runner = NULL;
	call->exit_reason = exit_reason;

	/* A cancellation decided while the guest ran wins over its exit. */
	if (call->cancel_reason) {
		callbox_call_abort_locked(call, call->cancel_reason, 0,
					  exit->kind == CALLBOX_EXIT_DONE);
		return 0;
	}

	switch (exit->kind) {
	case CALLBOX_EXIT_DONE:
		callbox_call_transition_locked(call, CALLBOX_STATE_EXITED);
		call->status = exit->value;
		return 0;
	case CALLBOX_EXIT_HOSTCALL:
		callbox_call_transition_locked(call, CALLBOX_STATE_HOSTCALL);
		call->status = exit->value;
		return 0;
	case CALLBOX_EXIT_INTERRUPTED:
		if (fatal_signal_pending(current)) {
			callbox_call_abort_locked(call, CALLBOX_ABORT_KILLED, 0,
						  false);
			return 0;
		}
		/*
		 * A signal or other work for this thread: let it run in
		 * userspace, then restart the ioctl, which continues the
		 * call where it stopped (ERESTARTNOINTR restarts even after
		 * a handler without SA_RESTART). The restart happens only if
		 * something is pending; with nothing pending, userspace left
		 * kvm_run.immediate_exit set: say EINTR, and the call stays
		 * current for the next RUN (or CALL_SYNC) to continue.
		 */
		return signal_pending(current) ? -ERESTARTNOINTR : -EINTR;
	default:
		callbox_call_abort_locked(call, exit->reason, exit->detail,
					  false);
		return 0;
	}
}

/**
 * callbox_run_call() - run a call until it ends or needs userspace
 * @sb: the sandbox, with @sb->run_lock held
 * @call: the call, referenced by the caller
 *
 * Every exit of the ABI either ends the call or hands it to userspace
 * (HOSTCALL, interruption), so one KVM_RUN serves one ioctl. Returning to
 * userspace after every call is also what consumes a kick's task work
 * before the thread can start another call.
 *
 * Return: 0 when the call ended or reached HOSTCALL (or had ended before),
 * -ERESTARTNOINTR if the thread must return to userspace first, -EINTR
 * if kvm_run.immediate_exit stopped the run,
 * -ENOTRECOVERABLE or -EBUSY if the call could not start.
 */
int callbox_run_call(struct callbox_sandbox *sb, struct callbox_call *call)
{
	struct file *vcpu_file = sb->vcpu_file;
	struct callbox_exit exit;
	u32 exit_reason;
	long run_ret;
	int ret;

	lockdep_assert_held(&sb->run_lock);

	spin_lock_irq(&sb->lock);
	if (!callbox_run_enter_locked(sb, call, &ret)) {
		spin_unlock_irq(&sb->lock);
		return ret;
	}
	spin_unlock_irq(&sb->lock);

	run_ret = vcpu_file->f_op->unlocked_ioctl(vcpu_file, KVM_RUN, 0);
	/* KVM leaves exit_reason stale when immediate_exit stops it. */
	exit_reason = run_ret == -EINTR ? KVM_EXIT_INTR :
		      READ_ONCE(sb->vcpu->run->exit_reason);
	exit = callbox_run_decode(sb->vcpu, run_ret, exit_reason);

	spin_lock_irq(&sb->lock);
	ret = callbox_run_exit_locked(sb, call, &exit, exit_reason);
	spin_unlock_irq(&sb->lock);
	return ret;
}
