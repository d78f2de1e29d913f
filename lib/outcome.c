// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * libcallbox: what a call's end, or any failure, means, in an errno and
 * words, and who gets to know it.
 *
 * Every public function of the host SDK starts with sandbox_begin() and
 * reports through sandbox_fail() and sandbox_set_call(), which write the
 * calling thread's own outcome: what callbox_sandbox_last_error() and
 * callbox_sandbox_last_outcome() return, and what callbox_call_wait()
 * copies to its caller. No thread ever sees another's outcome.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <linux/kvm.h>

#include "sandbox.h"

/* The calling thread's last outcome, and the sandbox it was on. */
static __thread struct callbox_outcome thread_outcome;
static __thread const struct callbox_sandbox *thread_sandbox;

/* A public function on @sb starts: until it says otherwise, it went well. */
void sandbox_begin(const struct callbox_sandbox *sb)
{
	thread_sandbox = sb;
	/* The message is a string: not all 512 bytes, at every call. */
	thread_outcome.error = 0;
	thread_outcome.call = (struct callbox_call_info){ 0 };
	thread_outcome.message[0] = '\0';
}

/* Record failure @ret with a message; returns @ret. */
int sandbox_fail(const struct callbox_sandbox *sb, int ret, const char *fmt,
		 ...)
{
	va_list ap;

	thread_sandbox = sb;
	thread_outcome.error = ret;
	va_start(ap, fmt);
	vsnprintf(thread_outcome.message, sizeof(thread_outcome.message), fmt,
		  ap);
	va_end(ap);
	return ret;
}

/* Record the kernel's record of the call the function made or waited for. */
void sandbox_set_call(const struct callbox_sandbox *sb,
		      const struct callbox_call_info *call)
{
	thread_sandbox = sb;
	thread_outcome.call = *call;
}

const struct callbox_outcome *
callbox_sandbox_last_outcome(const struct callbox_sandbox *sb)
{
	static const struct callbox_outcome none;

	return thread_sandbox == sb ? &thread_outcome : &none;
}

const char *callbox_sandbox_last_error(const struct callbox_sandbox *sb)
{
	return callbox_sandbox_last_outcome(sb)->message;
}

static const char *callbox_exit_name(uint32_t exit_reason)
{
	/* The KVM_EXIT_* values a guest is likely to produce. */
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "UNKNOWN",
		[KVM_EXIT_EXCEPTION] = "EXCEPTION",
		[KVM_EXIT_IO] = "IO",
		[KVM_EXIT_HYPERCALL] = "HYPERCALL",
		[KVM_EXIT_DEBUG] = "DEBUG",
		[KVM_EXIT_HLT] = "HLT",
		[KVM_EXIT_MMIO] = "MMIO",
		[KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
		[KVM_EXIT_SHUTDOWN] = "SHUTDOWN",
		[KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
		[KVM_EXIT_INTR] = "INTR",
		/* A guest that lowered its CR8 (the TPR userspace keeps). */
		[KVM_EXIT_SET_TPR] = "SET_TPR",
		[KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS",
		[KVM_EXIT_NMI] = "NMI",
		[KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
		[KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
		[KVM_EXIT_X86_RDMSR] = "X86_RDMSR",
		[KVM_EXIT_X86_WRMSR] = "X86_WRMSR",
	};

	if (exit_reason < sizeof(names) / sizeof(names[0]) &&
	    names[exit_reason])
		return names[exit_reason];
	return "?";
}

/* One of callbox's own ports, by name; "" for any other. */
static const char *callbox_port_name(unsigned int port)
{
	switch (port) {
	case CALLBOX_PORT_DONE:
		return " (DONE)";
	case CALLBOX_PORT_ABORT:
		return " (ABORT)";
	case CALLBOX_PORT_HOSTCALL:
		return " (HOSTCALL)";
	default:
		return "";
	}
}

/* What a guest's port access outside the ABI was: a BAD_PORT's detail. */
static void callbox_describe_bad_port(uint64_t d, char *buf, size_t len)
{
	unsigned int port = d & CALLBOX_BAD_PORT_PORT_MASK;
	unsigned int size = (d & CALLBOX_BAD_PORT_SIZE_MASK) >>
			    CALLBOX_BAD_PORT_SIZE_SHIFT;
	bool in = d & CALLBOX_BAD_PORT_IN;
	char access[64];
	int n;

	if (!size)	/* a kernel that reported the port alone */
		snprintf(access, sizeof(access), "accessed");
	else if (d & CALLBOX_BAD_PORT_STRING)
		snprintf(access, sizeof(access),
			 "made a string %s (%s) of %u-byte units to",
			 in ? "IN" : "OUT", in ? "INS" : "OUTS", size);
	else
		snprintf(access, sizeof(access), "made a %u-byte %s %s", size,
			 in ? "IN" : "OUT", in ? "from" : "to");
	n = snprintf(buf, len, "guest %s I/O port 0x%x%s, outside the callbox ABI",
		     access, port, callbox_port_name(port));
	if (n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - n,
			 " (only a 4-byte OUT to 0x%x, 0x%x or 0x%x is allowed)",
			 CALLBOX_PORT_DONE, CALLBOX_PORT_ABORT,
			 CALLBOX_PORT_HOSTCALL);
}

void callbox_describe_call(const struct callbox_call_info *c, char *buf,
			   size_t len)
{
	uint64_t d = c->detail;

	switch (c->state) {
	case CALLBOX_STATE_EXITED:
		snprintf(buf, len, "exited with status %" PRIu32, c->status);
		return;
	case CALLBOX_STATE_QUEUED:
		snprintf(buf, len, "queued");
		return;
	case CALLBOX_STATE_ENTERED:
		snprintf(buf, len, "running in the guest");
		return;
	case CALLBOX_STATE_HOSTCALL:
		snprintf(buf, len, "waiting on host function %" PRIu32,
			 c->status);
		return;
	case CALLBOX_STATE_ABORTED:
		break;
	default:
		snprintf(buf, len, "in unknown state %" PRIu32, c->state);
		return;
	}

	switch (c->reason) {
	case CALLBOX_ABORT_GUEST_ABORT:
		snprintf(buf, len, "guest aborted with code %" PRIu64, d);
		break;
	case CALLBOX_ABORT_SHUTDOWN:
		snprintf(buf, len,
			 "guest shut down (triple fault: a CPU exception it could not handle)");
		break;
	case CALLBOX_ABORT_BAD_PORT:
		callbox_describe_bad_port(d, buf, len);
		break;
	case CALLBOX_ABORT_MMIO:
		snprintf(buf, len,
			 "guest accessed guest-physical address 0x%" PRIx64 ", which has no memory",
			 d);
		break;
	case CALLBOX_ABORT_HALT:
		snprintf(buf, len, "guest halted (HLT) with nothing to wake it");
		break;
	case CALLBOX_ABORT_ENTRY_FAILED:
		snprintf(buf, len,
			 "the guest left its vCPU in a state the CPU cannot enter (the VM entry failed, hardware reason 0x%" PRIx64 ")",
			 d);
		break;
	case CALLBOX_ABORT_INTERNAL_ERROR:
		snprintf(buf, len,
			 "KVM could not emulate the guest (suberror %" PRIu64 ")",
			 d);
		break;
	case CALLBOX_ABORT_UNEXPECTED_EXIT:
		snprintf(buf, len, "unexpected KVM exit %" PRIu32 " (%s)",
			 c->exit_reason, callbox_exit_name(c->exit_reason));
		break;
	case CALLBOX_ABORT_KILLED:
		snprintf(buf, len, "the thread running the guest was killed");
		break;
	case CALLBOX_ABORT_CANCELLED:
		snprintf(buf, len, "cancelled (%s)",
			 c->flags & CALLBOX_CALL_GUEST_RAN ?
			 "the guest had started" : "the guest never ran");
		break;
	case CALLBOX_ABORT_DEADLINE:
		snprintf(buf, len, "deadline passed (%s)",
			 c->flags & CALLBOX_CALL_GUEST_RAN ?
			 "the guest had started, and had not finished" :
			 "the guest never ran");
		break;
	case CALLBOX_ABORT_SANDBOX_CLOSED:
		snprintf(buf, len, "the sandbox was closed");
		break;
	case CALLBOX_ABORT_OWNER_EXITED:
		snprintf(buf, len,
			 "the thread that had to continue it exited (%s)",
			 c->state == CALLBOX_STATE_ABORTED &&
			 c->flags & CALLBOX_CALL_GUEST_RAN ?
			 "the guest had started" : "the guest never ran");
		break;
	case CALLBOX_ABORT_RUN_FAILED:
		snprintf(buf, len, "KVM_RUN failed: %s",
			 strerror((int)-(int64_t)d));
		break;
	default:
		snprintf(buf, len, "aborted for unknown reason %" PRIu32,
			 c->reason);
		break;
	}
}

/* An ioctl failed before the call ran, or while continuing it. */
int sandbox_run_error(const struct callbox_sandbox *sb, const char *what,
		      int ret)
{
	if (ret == -ENOTRECOVERABLE)
		return sandbox_fail(sb, ret,
				    "%s: an earlier call stopped inside the guest, so its state is unknown; reset the sandbox",
				    what);
	return sandbox_fail(sb, ret, "%s: %s", what, strerror(-ret));
}

/*
 * Is @c, an outcome the kernel returned for call @id, really about that
 * call? The kernel promises it; a mismatch would mean reading buffers the
 * call never wrote, so it is checked rather than trusted.
 */
int sandbox_check_outcome(const struct callbox_sandbox *sb, const char *what,
			  uint64_t id, const struct callbox_call_info *c)
{
	if (c->id == id)
		return 0;
	return sandbox_fail(sb, -EPROTO,
			    "%s: the kernel answered for call %" PRIu64 ", not call %" PRIu64,
			    what, (uint64_t)c->id, id);
}

/*
 * A string from guest memory, so hostile: copy at most @max - 1 bytes of
 * it (and what fits @buf), stop at a NUL, and show anything unprintable
 * as '?'.
 */
void sandbox_guest_string(const char *src, size_t max, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len && i + 1 < max && src[i]; i++)
		buf[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	buf[i] = '\0';
}

/*
 * Keep what a guest abort of call @c left in the mailbox in @abort: the
 * next abort (or a reset) overwrites the mailbox, while the call's owner
 * may read its outcome much later. Called with run_lock held, by the
 * runner that saw the call end, before the guest runs again.
 */
void sandbox_note_abort(struct callbox_sandbox *sb,
			const struct callbox_call_info *c,
			struct sandbox_abort *abort)
{
	const struct callbox_mailbox *mb = sandbox_mailbox(sb);

	if (c->state != CALLBOX_STATE_ABORTED ||
	    c->reason != CALLBOX_ABORT_GUEST_ABORT)
		return;
	memcpy(&abort->fault, &mb->fault, sizeof(abort->fault));
	/* Sanitised now: the mailbox's copy is gone by the time it is shown. */
	sandbox_guest_string(mb->abort_message, sizeof(mb->abort_message),
			     abort->message, sizeof(abort->message));
}

static const char *const exception_names[32] = {
	[0] = "#DE divide error", [1] = "#DB debug", [2] = "NMI",
	[3] = "#BP breakpoint", [4] = "#OF overflow",
	[5] = "#BR bound range exceeded", [6] = "#UD invalid opcode",
	[7] = "#NM device not available", [8] = "#DF double fault",
	[10] = "#TS invalid TSS", [11] = "#NP segment not present",
	[12] = "#SS stack-segment fault", [13] = "#GP general protection",
	[14] = "#PF page fault", [16] = "#MF x87 floating-point error",
	[17] = "#AC alignment check", [18] = "#MC machine check",
	[19] = "#XM SIMD floating-point error", [20] = "#VE virtualization",
	[21] = "#CP control protection",
};

/*
 * Describe the fault record the guest's exception handler left. It is the
 * guest's own claim, written in guest memory: every field is only a
 * number, checked before it is named.
 */
static void sandbox_describe_fault(struct callbox_sandbox *sb,
				   const struct callbox_fault *fault, char *buf,
				   size_t len)
{
	struct callbox_fault f = *fault;
	uint64_t guard = CALLBOX_STACK_GUARD(sb->vm.mem_size,
					     sb->cfg.stack_size);
	const char *name = f.vector < 32 ? exception_names[f.vector] : NULL;

	if (f.vector == 14 && f.cr2 >= guard && f.cr2 - guard < 0x1000) {
		snprintf(buf, len,
			 "stack overflow (a page fault on the guard page below the %" PRIu64 " KiB stack, at rip 0x%" PRIx64 ")",
			 sb->cfg.stack_size >> 10, f.rip);
		return;
	}
	/*
	 * #BP and #OF are traps: the CPU saves the rip of the instruction
	 * after the one that raised them.
	 */
	if (f.vector == 3 || f.vector == 4)
		snprintf(buf, len,
			 "CPU exception %s, a trap: rip 0x%" PRIx64 " is the instruction after it",
			 name, f.rip);
	else if (name)
		snprintf(buf, len, "CPU exception %s at rip 0x%" PRIx64, name,
			 f.rip);
	else if (f.vector < 32)
		snprintf(buf, len,
			 "CPU exception with reserved vector %" PRIu64 " at rip 0x%" PRIx64,
			 f.vector, f.rip);
	else
		snprintf(buf, len,
			 "an exception with vector %" PRIu64 ", which is not a CPU exception, at rip 0x%" PRIx64,
			 f.vector, f.rip);
	if (f.vector == 14)
		snprintf(buf + strlen(buf), len - strlen(buf),
			 ", address 0x%" PRIx64 " (error 0x%" PRIx64 ")",
			 f.cr2, f.error_code);
	else if (f.error_code)
		snprintf(buf + strlen(buf), len - strlen(buf),
			 ", error code 0x%" PRIx64, f.error_code);
}

/* A call that EXITED with a status other than OK: the guest refused it. */
static int sandbox_refused(struct callbox_sandbox *sb, const char *what,
			   const struct callbox_call_info *c, int slot)
{
	char message[CALLBOX_ABORT_MESSAGE_MAX];
	int ret;

	sandbox_guest_failure(sb, slot, message, sizeof(message));
	switch (c->status) {
	case CALLBOX_STATUS_FAILED:
		/* The function's own failure, in its own words. */
		return sandbox_fail(sb, -EREMOTEIO, "%s: %s", what, message);
	case CALLBOX_STATUS_RESULT_TOO_BIG:
		return sandbox_fail(sb, -E2BIG, "%s: %s", what, message);
	case CALLBOX_STATUS_BAD_RESULT:
		return sandbox_fail(sb, -EPROTO, "%s: %s", what, message);
	case CALLBOX_STATUS_NO_FUNCTION:
		ret = -ENOENT;
		break;
	case CALLBOX_STATUS_BAD_ARGS:
		ret = -EINVAL;
		break;
	default:
		ret = -EPROTO;
		break;
	}
	return sandbox_fail(sb, ret,
			    "%s: the guest refused the call (status %" PRIu32 "): %s",
			    what, c->status, message);
}

/* A call that ended ABORTED: the kernel's reason, then the guest's words. */
static int sandbox_aborted(struct callbox_sandbox *sb, const char *what,
			   const struct callbox_call_info *c,
			   const struct sandbox_abort *abort)
{
	char outcome[CALLBOX_OUTCOME_MESSAGE_MAX];
	uint64_t id = c->id;

	callbox_describe_call(c, outcome, sizeof(outcome));
	switch (c->reason) {
	case CALLBOX_ABORT_CANCELLED:
		return sandbox_fail(sb, -ECANCELED, "%s: call %" PRIu64 " %s",
				    what, id, outcome);
	case CALLBOX_ABORT_DEADLINE:
		return sandbox_fail(sb, -ETIMEDOUT, "%s: call %" PRIu64 " %s",
				    what, id, outcome);
	case CALLBOX_ABORT_SANDBOX_CLOSED:
		return sandbox_fail(sb, -ESHUTDOWN, "%s: call %" PRIu64 ": %s",
				    what, id, outcome);
	case CALLBOX_ABORT_KILLED:
		return sandbox_fail(sb, -EINTR, "%s: call %" PRIu64 ": %s",
				    what, id, outcome);
	case CALLBOX_ABORT_GUEST_ABORT:
		break;
	default:
		return sandbox_fail(sb, -EIO, "%s: call %" PRIu64 " aborted: %s",
				    what, id, outcome);
	}

	/*
	 * The kernel saw the guest write an abort code; anything more is the
	 * guest's own account, and is worded as such.
	 */
	if (c->detail == CALLBOX_GUEST_ABORT_EXCEPTION) {
		sandbox_describe_fault(sb, &abort->fault, outcome,
				       sizeof(outcome));
		return sandbox_fail(sb, -EIO,
				    "%s: call %" PRIu64 " aborted by the guest, which reports %s",
				    what, id, outcome);
	}
	if (c->detail == CALLBOX_GUEST_ABORT_HEAP)
		return sandbox_fail(sb, -EIO,
				    "%s: call %" PRIu64 " aborted by the guest, which reports that its heap is corrupted: %s",
				    what, id, abort->message);
	return sandbox_fail(sb, -ECONNABORTED,
			    "%s: call %" PRIu64 " aborted: %s%s%s", what, id,
			    outcome, abort->message[0] ? "; its message: " : "",
			    abort->message);
}

/**
 * sandbox_outcome() - turn a call's final outcome into 0 or -errno
 * @sb: the sandbox
 * @what: the function's name, for messages
 * @c: the kernel's record of the ended call
 * @slot: the call's slot, -1 if none (an init call)
 * @abort: what a guest abort left, kept by the runner (NULL: nothing)
 * @result: where the result goes, for an EXITED call with status OK
 *
 * The result is read from the slot only when the kernel says EXITED, and
 * only the slot's own output buffer is read, as hostile input.
 */
int sandbox_outcome(struct callbox_sandbox *sb, const char *what,
		    const struct callbox_call_info *c, int slot,
		    const struct sandbox_abort *abort,
		    struct callbox_wire_value *result)
{
	static const struct sandbox_abort unknown_abort;

	sandbox_set_call(sb, c);
	if (c->state == CALLBOX_STATE_ABORTED)
		return sandbox_aborted(sb, what, c,
				       abort ? abort : &unknown_abort);
	if (c->state != CALLBOX_STATE_EXITED)
		return sandbox_fail(sb, -EPROTO,
				    "%s: call %" PRIu64 " has not ended (state %" PRIu32 ")",
				    what, (uint64_t)c->id, c->state);
	if (slot < 0)
		return sandbox_fail(sb, -EPROTO, "%s: the call's slot is unknown",
				    what);
	if (c->status != CALLBOX_STATUS_OK)
		return sandbox_refused(sb, what, c, slot);
	return sandbox_read_result(sb, what, slot, result);
}
