// SPDX-License-Identifier: GPL-2.0
/*
 * callbox: entering the guest and deciding what its exit means.
 *
 * A call runs in the thread that issued the ioctl: callbox calls the vCPU
 * file's own KVM_RUN handler, after the same security hook that the ioctl
 * syscall would call, so KVM sees exactly what it would see from
 * userspace (same thread, same mm, same vcpu->mutex), and decodes the exit
 * in the kernel. The exit data lives in the kvm_run page, which userspace
 * has mapped and can change at any time, so every field is read once and
 * checked before use.
 */
#include <linux/fs.h>
#include <linux/kvm_host.h>
#include <linux/sched/signal.h>
#include <linux/security.h>
#include <linux/uaccess.h>

#include "callbox.h"
#include "stats.h"

/*
 * Since 6.11 the kernel's view of kvm_run.immediate_exit is named
 * immediate_exit__unsafe, a reminder that userspace may change it at any
 * time. callbox only reads it as a hint before entering (KVM reads it
 * again itself), which is what the name asks.
 */
#ifndef HINT_UNSAFE_IN_KVM
#define HINT_UNSAFE_IN_KVM(field) field
#endif

/* What a KVM exit means for the call that was running. */
enum callbox_exit_kind {
	CALLBOX_EXIT_DONE,		/* the guest finished the call */
	CALLBOX_EXIT_HOSTCALL,		/* the guest wants a host function */
	CALLBOX_EXIT_INTERRUPTED,	/* KVM_RUN returned -EINTR or a restart */
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

/* The detail of a BAD_PORT abort: the port, and what the access was. */
static struct callbox_exit callbox_bad_port(u16 port, u32 size, bool in,
					    bool string)
{
	u64 detail = port | (u64)(size & 0xff) << CALLBOX_BAD_PORT_SIZE_SHIFT;

	if (in)
		detail |= CALLBOX_BAD_PORT_IN;
	if (string)
		detail |= CALLBOX_BAD_PORT_STRING;
	return callbox_abort(CALLBOX_ABORT_BAD_PORT, detail);
}

/*
 * A port I/O exit, from KVM's own record of it (vcpu->arch.pio), which
 * userspace cannot write, unlike the kvm_run page: only a 4-byte OUT to
 * one of our ports is part of the ABI. The value comes from KVM's data
 * page, which the process has mapped: it can only ever forge the status
 * of its own call, never turn one exit into another.
 */
static struct callbox_exit callbox_run_decode_io(struct kvm_vcpu *vcpu)
{
	struct kvm_pio_request *pio = &vcpu->arch.pio;
	u16 port = pio->port;
	u32 value;

	/* A repeated INS keeps its count here; see callbox_run_decode(). */
	if (pio->in || pio->size != sizeof(u32) || pio->count != 1 ||
	    (port != CALLBOX_PORT_DONE && port != CALLBOX_PORT_ABORT &&
	     port != CALLBOX_PORT_HOSTCALL))
		return callbox_bad_port(port, pio->size, pio->in,
					pio->count > 1);

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

/*
 * Did KVM_RUN stop for a signal or task work, to be run again? Besides
 * -EINTR, what KVM calls on its way may give a restart errno: on 6.12 the
 * first KVM_RUN of a VM starts a kernel task, which fails with
 * -ERESTARTNOINTR while a signal is pending. No guest state is lost in
 * either case, so the call is interrupted, not failed.
 */
static bool callbox_run_interrupted(long run_ret)
{
	switch (run_ret) {
	case -EINTR:
	case -ERESTARTSYS:
	case -ERESTARTNOINTR:
	case -ERESTARTNOHAND:
	case -ERESTART_RESTARTBLOCK:
		return true;
	default:
		return false;
	}
}

/*
 * What the exit of a KVM_RUN that returned @run_ret means. For an IN or
 * OUT instruction that the CPU intercepted, KVM sets vcpu->arch.pio.count
 * as it exits to userspace and clears it when the next KVM_RUN completes
 * the I/O, so a 4-byte OUT to one of our ports is recognised from KVM's
 * own record, never from the kvm_run page. String I/O (OUTS, INS) goes
 * through KVM's instruction emulator, which clears pio.count for an OUT
 * before it exits: it shows only as exit_reason KVM_EXIT_IO, which
 * userspace could also have written there. Either way it is not one of
 * the ABI's exits, and ends the call BAD_PORT.
 */
static struct callbox_exit callbox_run_decode(struct kvm_vcpu *vcpu,
					      long run_ret, u32 *exit_reason)
{
	struct kvm_run *run = vcpu->run;

	if (callbox_run_interrupted(run_ret)) {
		/* KVM leaves exit_reason stale when immediate_exit stops it. */
		*exit_reason = KVM_EXIT_INTR;
		return (struct callbox_exit) {
			.kind = CALLBOX_EXIT_INTERRUPTED,
		};
	}
	if (run_ret < 0)
		return callbox_abort(CALLBOX_ABORT_RUN_FAILED, (u64)run_ret);
	if (vcpu->arch.pio.count) {
		*exit_reason = KVM_EXIT_IO;
		return callbox_run_decode_io(vcpu);
	}

	*exit_reason = READ_ONCE(run->exit_reason);
	switch (*exit_reason) {
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
	case KVM_EXIT_IO:
		/*
		 * String I/O, or a rewritten exit_reason: see above. The
		 * emulator left the rest of its record of the access.
		 */
		return callbox_bad_port(vcpu->arch.pio.port,
					vcpu->arch.pio.size,
					vcpu->arch.pio.in, true);
	default:
		/* KVM_EXIT_UNKNOWN too: KVM_RUN returned without an exit. */
		return callbox_abort(CALLBOX_ABORT_UNEXPECTED_EXIT,
				     *exit_reason);
	}
}

/**
 * callbox_run_prepare() - check that the guest may be entered now
 * @sb: the sandbox
 *
 * Everything that would keep KVM_RUN from running guest code, checked
 * right before a call is entered, after the last write to userspace (a
 * write can wait on a page fault for as long as userfaultfd likes), so
 * that refusing has no side effect, and a RUN that waited for work obeys
 * what holds when it enters, not when it started. CALL_SYNC checks before
 * it writes its publication reply, so that the common refusal makes no
 * call at all, and again after it only if that write had to wait for a
 * page fault (callbox_sandbox_publish()).
 *
 * Return: 0; -EOPNOTSUPP if the vCPU has a signal mask (see struct
 * callbox_sandbox_create for why); -EINTR if kvm_run.immediate_exit is
 * set; or the security module's refusal of KVM_RUN.
 */
int callbox_run_prepare(struct callbox_sandbox *sb)
{
	struct kvm_vcpu *vcpu = sb->vcpu;

	/*
	 * Both can still change before KVM_RUN has the vCPU's mutex, by a
	 * vCPU ioctl of another thread that holds it now: see "Calls and
	 * the vCPU" in the uapi header.
	 */
	if (READ_ONCE(vcpu->sigset_active))
		return -EOPNOTSUPP;
	if (READ_ONCE(vcpu->run->HINT_UNSAFE_IN_KVM(immediate_exit)))
		return -EINTR;
	return security_file_ioctl(sb->vcpu_file, KVM_RUN, 0);
}

/*
 * Is @out, as userspace passed it in, what an interrupted RUN or CALL_SYNC
 * left there, asking for that call to be continued?
 */
bool callbox_run_is_restart(const struct callbox_call_info *out)
{
	return out->state == CALLBOX_STATE_ENTERED && out->id;
}

/* @cmd (CALLBOX_CALL_SYNC, RUN or BATCH) as a bit of parked_cmds. */
static u32 callbox_run_cmd_bit(unsigned int cmd)
{
	BUILD_BUG_ON(CALLBOX_CMD_CALL_BATCH - CALLBOX_CMD_BASE >= 32);
	return BIT(_IOC_NR(cmd) - CALLBOX_CMD_BASE);
}

/*
 * May @call be entered by ioctl @cmd of the current thread, @restart
 * telling whether it asks to continue a call it was interrupted in?
 * Returns CALLBOX_RUN_ENTERED to enter, CALLBOX_RUN_ENDS_HERE (only RUN
 * continues a HOSTCALL, and RUN always has an @out to write first), 0 if
 * the call has ended (its outcome is the answer), or -errno. Reaps a
 * parked call whose owner has gone first.
 */
static int callbox_run_may_enter_locked(struct callbox_sandbox *sb,
					struct callbox_call *call,
					unsigned int cmd, bool restart)
{
	lockdep_assert_held(&sb->lock);

	callbox_sandbox_reap_locked(sb);

	/*
	 * A restart collects the outcome of, or continues, only a call it
	 * was itself interrupted in: whatever @out says, never another's.
	 * The interrupted ioctl may be restarted after others, issued from
	 * its signal handler, have run the call on (through a HOSTCALL, or
	 * interrupted in turn), and then collects its outcome.
	 */
	if (restart && (!(call->parked_cmds & callbox_run_cmd_bit(cmd)) ||
			!callbox_call_owned_by_current(call)))
		return -EBUSY;

	switch (call->state) {
	case CALLBOX_STATE_EXITED:
	case CALLBOX_STATE_ABORTED:
		return 0;
	case CALLBOX_STATE_QUEUED:
		if (restart || sb->current_call || sb->restoring)
			return -EBUSY;
		if (sb->init_call && sb->init_call != call)
			return -ENOTRECOVERABLE;
		if (sb->poisoned)
			return -ENOTRECOVERABLE;
		return CALLBOX_RUN_ENTERED;
	case CALLBOX_STATE_HOSTCALL:
		/* Continued by RUN from the thread that got the HOSTCALL. */
		if (cmd != CALLBOX_CALL_RUN ||
		    !callbox_call_owned_by_current(call))
			return -EBUSY;
		return call->cancel_reason ? CALLBOX_RUN_ENDS_HERE :
					     CALLBOX_RUN_ENTERED;
	case CALLBOX_STATE_ENTERED:
		/* Parked: continued only by the ioctl it was last parked in. */
		if (!restart || sb->runner || call->parked_cmd != cmd)
			return -EBUSY;
		return CALLBOX_RUN_ENTERED;
	}
	WARN_ON_ONCE(1);
	return -EINVAL;
}

/*
 * Enter @call, under the lock: start it if QUEUED, continue it if it is
 * parked or in HOSTCALL. Returns CALLBOX_RUN_ENTERED if entered, else as
 * callbox_run_may_enter_locked() (CALLBOX_RUN_ENDS_HERE: not entered).
 */
static int callbox_run_enter_locked(struct callbox_sandbox *sb,
				    struct callbox_call *call,
				    unsigned int cmd, bool restart)
{
	int ret = callbox_run_may_enter_locked(sb, call, cmd, restart);

	if (ret != CALLBOX_RUN_ENTERED)
		return ret;
	if (call->state != CALLBOX_STATE_ENTERED)
		callbox_call_transition_locked(call, CALLBOX_STATE_ENTERED);
	sb->runner = current;
	/* Current now, which RESET sees for itself. */
	sb->starting_call = NULL;
	return CALLBOX_RUN_ENTERED;
}

/*
 * The outcome callbox_call_abort_locked() gives a call in HOSTCALL whose
 * cancellation is pending, for RUN to write before the call ends.
 */
static void callbox_run_fill_ending_info_locked(const struct callbox_call *call,
						struct callbox_call_info *info)
{
	lockdep_assert_held(&call->sb->lock);

	callbox_call_fill_info_locked(call, info);
	info->state = CALLBOX_STATE_ABORTED;
	info->reason = call->cancel_reason;
	info->status = 0;
	info->detail = 0;
	if (info->flags & CALLBOX_CALL_GUEST_RAN)
		info->flags |= CALLBOX_CALL_POISONED;
	info->flags &= ~CALLBOX_CALL_CANCEL_PENDING;
}

/*
 * End @call, in HOSTCALL with a cancellation pending, with the outcome
 * @written to userspace already: RUN's only write, made before, so that
 * a RUN that cannot write changes nothing, and then cannot fail. Returns
 * CALLBOX_RUN_REPLIED; 0 if the call ended meanwhile (a shutdown: the
 * reply is written again); or -errno.
 */
static int callbox_run_end_here(struct callbox_sandbox *sb,
				struct callbox_call *call, unsigned int cmd,
				bool restart,
				const struct callbox_call_info *written)
{
	struct callbox_call_info info;
	int ret;

	spin_lock_irq(&sb->lock);
	ret = callbox_run_may_enter_locked(sb, call, cmd, restart);
	if (ret == CALLBOX_RUN_ENDS_HERE) {
		callbox_call_abort_locked(call, call->cancel_reason, 0, false);
		callbox_call_fill_info_locked(call, &info);
		WARN_ON_ONCE(memcmp(&info, written, sizeof(info)));
		ret = CALLBOX_RUN_REPLIED;
	} else if (ret == CALLBOX_RUN_ENTERED) {
		WARN_ON_ONCE(1);	/* a cancellation is never taken back */
		ret = -EINVAL;
	}
	spin_unlock_irq(&sb->lock);
	return ret;
}

/*
 * Decide the call's fate from one exit, under the lock. @guest_ran: KVM
 * counted a VM exit during this KVM_RUN (its own, or that of a KVM_RUN of
 * userspace's that held the vCPU meanwhile), so it counts as having run
 * the guest. Only such a KVM_RUN sets the call's exit_reason; one that
 * KVM stopped before the guest leaves the last, 0 if there was none.
 */
static int callbox_run_exit_locked(struct callbox_sandbox *sb,
				   struct callbox_call *call,
				   const struct callbox_exit *exit,
				   u32 exit_reason, unsigned int cmd,
				   bool guest_ran)
{
	lockdep_assert_held(&sb->lock);

	sb->runner = NULL;
	if (guest_ran) {
		call->exit_reason = exit_reason;
		call->flags |= CALLBOX_CALL_GUEST_RAN;
	}

	/* A cancellation decided while the guest ran wins over its exit. */
	if (call->cancel_reason) {
		/* The guest left on its own before the kick reached it. */
		if (call->kicked && exit->kind != CALLBOX_EXIT_INTERRUPTED)
			callbox_stats_kick_missed();
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
		callbox_sandbox_park_locked(sb);
		return 0;
	case CALLBOX_EXIT_INTERRUPTED:
		if (fatal_signal_pending(current)) {
			callbox_call_abort_locked(call, CALLBOX_ABORT_KILLED, 0,
						  false);
			return 0;
		}
		/*
		 * A signal or task work for this thread: let it run in
		 * userspace, then the ioctl restarts (ERESTARTNOINTR, even
		 * after a handler without SA_RESTART) and continues the call.
		 * Nothing pending means KVM stopped for a reason we checked
		 * before entering but userspace changed since (immediate_exit,
		 * a signal mask): say EINTR; the same ioctl continues later.
		 */
		call->parked_cmd = cmd;
		call->parked_cmds |= callbox_run_cmd_bit(cmd);
		callbox_sandbox_park_locked(sb);
		return signal_pending(current) ? -ERESTARTNOINTR : -EINTR;
	default:
		callbox_call_abort_locked(call, exit->reason, exit->detail,
					  false);
		return 0;
	}
}

/*
 * Everything before @call's KVM_RUN: write @req->uout, check what entry
 * needs (after the write: nothing may change it unseen), and enter the
 * call. Returns CALLBOX_RUN_ENTERED; 0 if the call has ended;
 * CALLBOX_RUN_REPLIED if RUN ended it in HOSTCALL; or -errno.
 */
static int callbox_run_begin(struct callbox_sandbox *sb,
			     struct callbox_call *call,
			     const struct callbox_run_req *req)
{
	/* With nothing to do before entry, the entry's own check will do. */
	bool check = req->uout || !req->prepared;
	struct callbox_call_info info;
	int ret;

	for (;;) {
		if (check) {
			spin_lock_irq(&sb->lock);
			ret = callbox_run_may_enter_locked(sb, call, req->cmd,
							   req->restart);
			if (ret == CALLBOX_RUN_ENDS_HERE)
				callbox_run_fill_ending_info_locked(call,
								    &info);
			else
				callbox_call_fill_info_locked(call, &info);
			spin_unlock_irq(&sb->lock);
			if (ret <= 0)
				return ret;
			if (req->uout &&
			    copy_to_user(req->uout, &info, sizeof(info)))
				return -EFAULT;
			/* It needs none of the checks before entry. */
			if (ret == CALLBOX_RUN_ENDS_HERE) {
				/* Its outcome must have been written. */
				if (WARN_ON_ONCE(!req->uout))
					return -EINVAL;
				return callbox_run_end_here(sb, call, req->cmd,
							    req->restart,
							    &info);
			}
		}
		if (!req->prepared) {
			ret = callbox_run_prepare(sb);
			if (ret)
				return ret;
		}

		/* Checked again: a cancel may have ended it meanwhile. */
		spin_lock_irq(&sb->lock);
		ret = callbox_run_enter_locked(sb, call, req->cmd,
					       req->restart);
		spin_unlock_irq(&sb->lock);
		/* Decided since @out was written: write the outcome first. */
		if (ret != CALLBOX_RUN_ENDS_HERE)
			return ret;
		check = true;
	}
}

/**
 * callbox_run_call() - run a call until it ends or needs userspace
 * @sb: the sandbox, with @sb->run_lock held
 * @call: the call, referenced by the caller
 * @req: which ioctl runs it, and how (see struct callbox_run_req)
 *
 * Every exit of the ABI either ends the call or hands it to userspace
 * (HOSTCALL, interruption), so one KVM_RUN serves one ioctl. Returning to
 * userspace after every call is also what runs a kick's task work before
 * the thread can start another call.
 *
 * Return: 0 when the call ended or reached HOSTCALL (or had ended before);
 * CALLBOX_RUN_REPLIED when RUN ended it in HOSTCALL for a cancellation,
 * its outcome in @req->uout already; -ERESTARTNOINTR if the thread must
 * return to userspace first, -EINTR if KVM_RUN stopped with nothing
 * pending (the call is parked either way, and @req->parked filled);
 * -EFAULT if @req->uout cannot be written; -EBUSY, -ENOTRECOVERABLE or
 * callbox_run_prepare()'s errors if the call could not be entered.
 */
int callbox_run_call(struct callbox_sandbox *sb, struct callbox_call *call,
		     const struct callbox_run_req *req)
{
	struct file *vcpu_file = sb->vcpu_file;
	struct kvm_run *run = sb->vcpu->run;
	struct callbox_exit exit;
	u32 exit_reason = 0;
	u64 exits;
	long run_ret;
	int ret;

	lockdep_assert_held(&sb->run_lock);

	ret = callbox_run_begin(sb, call, req);
	if (ret != CALLBOX_RUN_ENTERED)
		return ret;

	/* Whatever the last exit was, it must not pass for this one. */
	WRITE_ONCE(run->exit_reason, KVM_EXIT_UNKNOWN);
	/*
	 * KVM counts every VM exit: if the count moved, the guest was
	 * entered. If not, KVM stopped before the guest (immediate_exit, a
	 * signal) and no guest code ran for this KVM_RUN.
	 */
	exits = READ_ONCE(sb->vcpu->stat.exits);
	run_ret = vcpu_file->f_op->unlocked_ioctl(vcpu_file, KVM_RUN, 0);
	exit = callbox_run_decode(sb->vcpu, run_ret, &exit_reason);

	spin_lock_irq(&sb->lock);
	ret = callbox_run_exit_locked(sb, call, &exit, exit_reason, req->cmd,
				      READ_ONCE(sb->vcpu->stat.exits) != exits);
	/*
	 * Parked: the restart must name this call as ENTERED, even if a
	 * cancel ends it before userspace gets to restart.
	 */
	if (ret)
		callbox_call_fill_info_locked(call, req->parked);
	spin_unlock_irq(&sb->lock);
	return ret;
}
