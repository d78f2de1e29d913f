/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * callbox: run functions of a freestanding guest in a KVM vCPU, with the
 * lifecycle of every call owned by the kernel.
 *
 * This header is the whole ABI between callbox.ko and userspace: the ioctls
 * on /dev/callbox and on sandbox fds, and the I/O ports through which a guest
 * ends a call.
 */
#ifndef _UAPI_LINUX_CALLBOX_H
#define _UAPI_LINUX_CALLBOX_H

#include <linux/ioctl.h>
#include <linux/types.h>

/**
 * DOC: General ioctl format
 *
 * Every ioctl takes a pointer to a struct that starts with ``__u32 size``
 * and ``__u32 flags``. @size is sizeof() the struct as userspace knows it,
 * so a command can grow new trailing fields without a new number:
 *
 * - @size below the command's first published size fails with EINVAL;
 * - @size above the size this kernel knows is accepted only if every extra
 *   byte is zero, otherwise E2BIG;
 * - a bit in @flags outside the command's ``*_FLAGS_MASK`` fails with
 *   EINVAL, and so does a non-zero ``__reserved`` field.
 *
 * The kernel validates the whole struct before it changes anything, so a
 * failed ioctl has no side effect.
 *
 * Errors common to all commands:
 *
 * - ENOTTY: unknown command for this fd;
 * - EINVAL: malformed struct (size, flags, reserved field, bad value);
 * - E2BIG: non-zero bytes beyond the struct this kernel knows;
 * - EFAULT: the struct pointer, or a pointer inside it, is not accessible;
 * - EBADF: an fd field does not name an open file;
 * - EIO: the fd was created by another process (another mm): a sandbox
 *   cannot be used across fork() or fd passing, because its vCPU can only
 *   run in the address space that created it;
 * - ENOMEM: out of memory.
 */

#define CALLBOX_TYPE 0xCB

/*
 * Command numbers are unique across /dev/callbox and sandbox fds and are
 * never reused. 0xCB 0x00-0x1f belongs to another driver, so ours start at
 * CALLBOX_CMD_BASE.
 */
enum {
	CALLBOX_CMD_BASE = 0x80,
	CALLBOX_CMD_SANDBOX_CREATE = CALLBOX_CMD_BASE,
	CALLBOX_CMD_CALL_SYNC,
	CALLBOX_CMD_CALL_SUBMIT,
	CALLBOX_CMD_CALL_RUN,
	CALLBOX_CMD_CALL_WAIT,
	CALLBOX_CMD_CALL_GET,
	CALLBOX_CMD_CALL_CANCEL,
	CALLBOX_CMD_SANDBOX_RESET,
};

/**
 * DOC: Guest port ABI
 *
 * The guest runs in a KVM vCPU with no OS. It talks to callbox by writing
 * a 32-bit value (``out dx, eax``) to one of callbox's I/O ports. The
 * kernel decodes these exits itself:
 *
 * - CALLBOX_PORT_DONE: the guest finished the call. The value is a
 *   guest-defined status (0 for success by convention of the guest SDK);
 *   the kernel reports it in &callbox_call_info.status. The result itself
 *   is in guest memory, where the host library reads it.
 * - CALLBOX_PORT_ABORT: the guest gave up. The value is an abort code,
 *   reported in &callbox_call_info.detail.
 * - CALLBOX_PORT_HOSTCALL: the guest asks the host to run a host
 *   function. The call moves to HOSTCALL and the running ioctl returns to
 *   userspace with the value in &callbox_call_info.status; userspace runs
 *   the function and continues the call with CALLBOX_CALL_RUN.
 *
 * Ports CALLBOX_PORT_FIRST..CALLBOX_PORT_LAST are reserved for callbox.
 * Any other port access, any IN, and any access whose size is not 4 bytes
 * ends the call ABORTED with CALLBOX_ABORT_BAD_PORT.
 *
 * After CALLBOX_PORT_DONE the guest continues with the next instruction
 * when the next call enters it: a guest is a loop of "wait for a request,
 * run it, write DONE".
 */
#define CALLBOX_PORT_FIRST	0xcb00
#define CALLBOX_PORT_DONE	0xcb00
#define CALLBOX_PORT_ABORT	0xcb04
#define CALLBOX_PORT_HOSTCALL	0xcb08
#define CALLBOX_PORT_LAST	0xcb3f

/**
 * struct callbox_sandbox_create - ioctl(CALLBOX_SANDBOX_CREATE)
 * @size: sizeof(struct callbox_sandbox_create)
 * @flags: must be 0
 * @vm_fd: a KVM VM fd (from KVM_CREATE_VM) of the calling process
 * @vcpu_fd: a vCPU fd of that VM (from KVM_CREATE_VCPU)
 * @out_sandbox_fd: output: the new sandbox fd (O_CLOEXEC)
 * @__reserved: must be 0
 *
 * Issued on /dev/callbox. Binds a sandbox to one vCPU. The sandbox holds a
 * reference to the vCPU file, so userspace may close @vcpu_fd and @vm_fd
 * afterwards; the VM lives until the sandbox is released. Userspace must
 * set up the vCPU (registers, memory) before the first call; callbox only
 * runs it. A vCPU serves at most one sandbox at a time, so that calls on
 * one guest never interleave.
 *
 * Errors: EBADF if either fd is not open; EINVAL if @vm_fd is not a KVM VM
 * or @vcpu_fd is not a vCPU of that VM; EIO if the VM belongs to another
 * process; EBUSY if the vCPU is already bound to a sandbox.
 */
struct callbox_sandbox_create {
	__u32 size;
	__u32 flags;
	__s32 vm_fd;
	__s32 vcpu_fd;
	__s32 out_sandbox_fd;
	__u32 __reserved;
};

#define CALLBOX_SANDBOX_CREATE	_IO(CALLBOX_TYPE, CALLBOX_CMD_SANDBOX_CREATE)

/**
 * DOC: Call states
 *
 * Every call gets a 64-bit id, unique within its sandbox, that increases
 * from 1 and is never reused. Every transition below is made by the
 * kernel under the sandbox's spinlock, through one transition table, so
 * the state read back is the one true answer to "did the guest run, and
 * is there a result?"::
 *
 *   SUBMIT / CALL_SYNC
 *        |
 *        v
 *    QUEUED ----------------(RUN / CALL_SYNC)---------------> ENTERED
 *        |                                                  |  ^   |  |
 *        | cancel, deadline, close:                 HOSTCALL|  |RUN|  | DONE
 *        | guest code never ran                     port    v  |   |  v
 *        |                                             HOSTCALL  |  EXITED
 *        |                                                 |     |
 *        v                                                 v     v
 *    ABORTED <----- cancel, deadline, close, guest abort, fault, kill
 *
 * - QUEUED: accepted, guest code has not run for it. Owner: the kernel.
 * - ENTERED: the vCPU runs guest code for it. Owner: the thread inside
 *   CALLBOX_CALL_RUN or CALLBOX_CALL_SYNC that entered it.
 * - HOSTCALL: the guest waits on a host function. Owner: the userspace
 *   thread that got the HOSTCALL outcome; only it continues the call,
 *   with RUN.
 * - EXITED: terminal. The guest finished: status is valid and the result
 *   in guest memory was written by this call.
 * - ABORTED: terminal. reason says why; CALLBOX_CALL_GUEST_RAN says
 *   whether guest code ever ran for this call. No result may be read.
 *
 * Cancellation (CALLBOX_CALL_CANCEL), the call's deadline and closing the
 * sandbox race with completion through one decision under the lock, so
 * exactly one side wins and both learn which: the canceller from the
 * ioctl's return value (0: the call will end ABORTED with its reason;
 * EALREADY: it had already ended or another cancellation won), everyone
 * from the call's final reason.
 *
 * - A QUEUED call is aborted at once; guest code never runs for it.
 * - An ENTERED call: the kernel forces the vCPU out of the guest (no
 *   signal, no userspace involvement) and ends the call ABORTED, even if
 *   the guest completed in the meantime.
 * - A HOSTCALL call ends ABORTED when the host function returns and the
 *   call is continued with RUN. Meanwhile CALLBOX_CALL_CANCEL_PENDING is
 *   set and the sandbox fd polls EPOLLPRI, so a long host function can
 *   stop early.
 *
 * A kick is tied to the call it was meant for: once a call has ended, no
 * cancellation, deadline or kick can reach a later call.
 *
 * An abort that stops the guest in the middle of a call (anything but a
 * DONE at the call boundary) leaves guest memory and registers unknown:
 * the sandbox is then *poisoned* and refuses to run calls with
 * ENOTRECOVERABLE until userspace restores the guest and issues
 * CALLBOX_SANDBOX_RESET.
 *
 * Signals do not abort calls. When a signal (or other work for the
 * thread) interrupts the guest, the call stays ENTERED and the ioctl is
 * restarted after the handler, continuing the call where it stopped; only
 * a fatal signal ends it (CALLBOX_ABORT_KILLED). Only the interrupted
 * thread continues the call; meanwhile other CALL_SYNC callers wait. A
 * thread that leaves its signal handler by longjmp() and never calls
 * again leaves its call current (a cancel is then decided but takes
 * effect only when the call is continued) until the sandbox is closed.
 *
 * Closing: when the process that created the sandbox closes its fd (or
 * exits), the sandbox shuts down: QUEUED calls end ABORTED
 * (CALLBOX_ABORT_SANDBOX_CLOSED, guest never ran), a running call is
 * kicked and ends the same way, a call no thread runs (HOSTCALL, or
 * interrupted) ends at once, every waiter wakes with that answer, and
 * later SUBMIT, CALL_SYNC and RUN fail with ESHUTDOWN (RUN of an id that
 * has ended still returns its outcome).
 */
enum callbox_call_state {
	CALLBOX_STATE_QUEUED = 1,
	CALLBOX_STATE_ENTERED = 2,
	CALLBOX_STATE_EXITED = 3,
	CALLBOX_STATE_ABORTED = 4,
	CALLBOX_STATE_HOSTCALL = 5,
};

/**
 * enum callbox_abort_reason - why a call ended ABORTED
 * @CALLBOX_ABORT_NONE: the call did not abort
 * @CALLBOX_ABORT_GUEST_ABORT: the guest wrote CALLBOX_PORT_ABORT;
 *	detail is its code
 * @CALLBOX_ABORT_SHUTDOWN: the vCPU shut down (triple fault: the guest
 *	took an exception it could not handle)
 * @CALLBOX_ABORT_BAD_PORT: I/O to a port the ABI does not define, an IN,
 *	or a wrong-sized access; detail is the port number
 * @CALLBOX_ABORT_MMIO: access to a guest-physical address with no memory
 *	behind it; detail is the address
 * @CALLBOX_ABORT_HALT: the guest executed HLT with nothing to wake it
 * @CALLBOX_ABORT_ENTRY_FAILED: the CPU refused to enter the guest (bad
 *	vCPU state); detail is the hardware failure reason
 * @CALLBOX_ABORT_INTERNAL_ERROR: KVM could not emulate the guest;
 *	detail is KVM's suberror
 * @CALLBOX_ABORT_UNEXPECTED_EXIT: any other KVM exit; exit_reason holds it
 * @CALLBOX_ABORT_KILLED: the thread running the call got a fatal signal
 * @CALLBOX_ABORT_RUN_FAILED: KVM_RUN failed; detail is the negative
 *	errno it returned
 * @CALLBOX_ABORT_CANCELLED: CALLBOX_CALL_CANCEL won
 * @CALLBOX_ABORT_DEADLINE: the call's deadline passed first
 * @CALLBOX_ABORT_SANDBOX_CLOSED: the sandbox shut down first
 */
enum callbox_abort_reason {
	CALLBOX_ABORT_NONE = 0,
	CALLBOX_ABORT_GUEST_ABORT = 1,
	CALLBOX_ABORT_SHUTDOWN = 2,
	CALLBOX_ABORT_BAD_PORT = 3,
	CALLBOX_ABORT_MMIO = 4,
	CALLBOX_ABORT_HALT = 5,
	CALLBOX_ABORT_ENTRY_FAILED = 6,
	CALLBOX_ABORT_INTERNAL_ERROR = 7,
	CALLBOX_ABORT_UNEXPECTED_EXIT = 8,
	CALLBOX_ABORT_KILLED = 9,
	CALLBOX_ABORT_RUN_FAILED = 10,
	CALLBOX_ABORT_CANCELLED = 11,
	CALLBOX_ABORT_DEADLINE = 12,
	CALLBOX_ABORT_SANDBOX_CLOSED = 13,
};

/**
 * enum callbox_call_info_flags - facts about a call
 * @CALLBOX_CALL_GUEST_RAN: the vCPU was entered for this call, so guest
 *	code may have run for it. Set for every EXITED call. Clear on an
 *	ABORTED call: guest code certainly never ran for it.
 * @CALLBOX_CALL_CANCEL_PENDING: a cancellation, the deadline or the
 *	sandbox's shutdown has won; the call will end ABORTED with that
 *	reason as soon as it stops running (or is continued, if HOSTCALL).
 * @CALLBOX_CALL_POISONED: this call's abort stopped the guest in the
 *	middle of a call and poisoned the sandbox (see "Call states"). An
 *	ABORTED call with GUEST_RAN but without this flag was stopped at the
 *	call boundary: the guest had finished, but the cancellation won.
 */
enum callbox_call_info_flags {
	CALLBOX_CALL_GUEST_RAN = 1 << 0,
	CALLBOX_CALL_CANCEL_PENDING = 1 << 1,
	CALLBOX_CALL_POISONED = 1 << 2,
};

/**
 * struct callbox_call_info - the kernel's record of a call (output only)
 * @id: the call's id
 * @state: an &enum callbox_call_state
 * @reason: an &enum callbox_abort_reason; NONE unless ABORTED
 * @flags: &enum callbox_call_info_flags
 * @status: EXITED: the value the guest wrote to CALLBOX_PORT_DONE;
 *	HOSTCALL: the value it wrote to CALLBOX_PORT_HOSTCALL; else 0
 * @detail: reason-specific detail, see &enum callbox_abort_reason
 * @exit_reason: the KVM exit reason (KVM_EXIT_*) of the call's last exit,
 *	0 if it never ran
 * @__reserved: 0
 */
struct callbox_call_info {
	__aligned_u64 id;
	__u32 state;
	__u32 reason;
	__u32 flags;
	__u32 status;
	__aligned_u64 detail;
	__u32 exit_reason;
	__u32 __reserved;
};

/**
 * DOC: Deadlines
 *
 * A deadline is an absolute CLOCK_MONOTONIC time in nanoseconds (0 for
 * none), so restarting an interrupted ioctl never stretches it. A call's
 * deadline is enforced by the kernel with a timer, from submission on: a
 * call still QUEUED at its deadline ends ABORTED without running, a
 * running call is forced out of the guest. A deadline already past at
 * submission aborts the call at once; that is not an error.
 */

/**
 * struct callbox_call_sync - ioctl(CALLBOX_CALL_SYNC)
 * @size: sizeof(struct callbox_call_sync)
 * @flags: must be 0
 * @deadline_ns: the call's deadline, see "Deadlines"; 0 for none
 * @out: output: the call's outcome
 *
 * Issued on a sandbox fd. The fast path: submit one call and run it in
 * the calling thread until it ends, in one ioctl. Userspace writes the
 * request into guest memory before, and reads the result after, an EXITED
 * call. A terminal call is consumed: its id is then unknown to WAIT and
 * GET (ESRCH).
 *
 * If the guest makes a host call, the ioctl returns with @out.state
 * HOSTCALL; userspace runs the host function and continues the call with
 * CALLBOX_CALL_RUN, then consumes it with CALLBOX_CALL_WAIT.
 *
 * Returns 0 when the call ended or reached HOSTCALL; the outcome, good
 * or bad, is in @out. Only one call runs on a sandbox at a time: a second
 * caller waits for the first, including while the first is interrupted by
 * a signal.
 *
 * Errors (no call was made unless noted): ENOTRECOVERABLE if the sandbox
 * is poisoned; EINTR if kvm_run.immediate_exit was set (the call was made
 * and stays current: the next CALL_SYNC continues it);
 * EBUSY if calls submitted with CALLBOX_CALL_SUBMIT are pending or a call
 * waits in HOSTCALL; ESHUTDOWN after the sandbox shut down; EAGAIN if
 * CALLBOX_MAX_CALLS calls are unconsumed; EINTR if a fatal signal arrived
 * while waiting for the sandbox; EIO if called from another process.
 */
struct callbox_call_sync {
	__u32 size;
	__u32 flags;
	__aligned_u64 deadline_ns;
	struct callbox_call_info out;
};

#define CALLBOX_CALL_SYNC	_IO(CALLBOX_TYPE, CALLBOX_CMD_CALL_SYNC)

/* The most calls a sandbox keeps that have not been consumed. */
#define CALLBOX_MAX_CALLS	64

/**
 * struct callbox_call_submit - ioctl(CALLBOX_CALL_SUBMIT)
 * @size: sizeof(struct callbox_call_submit)
 * @flags: must be 0
 * @deadline_ns: the call's deadline, see "Deadlines"; 0 for none
 * @out_id: output: the new call's id
 *
 * Queues a call without running it; a runner thread runs it with
 * CALLBOX_CALL_RUN, and anyone waits for it with CALLBOX_CALL_WAIT.
 *
 * Errors: EAGAIN if CALLBOX_MAX_CALLS calls are unconsumed (queued,
 * running, or ended but not yet consumed by WAIT); ESHUTDOWN after the
 * sandbox shut down.
 */
struct callbox_call_submit {
	__u32 size;
	__u32 flags;
	__aligned_u64 deadline_ns;
	__aligned_u64 out_id;
};

#define CALLBOX_CALL_SUBMIT	_IO(CALLBOX_TYPE, CALLBOX_CMD_CALL_SUBMIT)

/**
 * enum callbox_call_run_flags - flags of CALLBOX_CALL_RUN
 * @CALLBOX_RUN_NONBLOCK: fail with EAGAIN instead of waiting when there
 *	is no call to run
 */
enum callbox_call_run_flags {
	CALLBOX_RUN_NONBLOCK = 1 << 0,
};

#define CALLBOX_RUN_FLAGS_MASK	CALLBOX_RUN_NONBLOCK

/**
 * struct callbox_call_run - ioctl(CALLBOX_CALL_RUN)
 * @size: sizeof(struct callbox_call_run)
 * @flags: &enum callbox_call_run_flags
 * @id: the call to run, or 0 for "the current call, else the oldest
 *	QUEUED one"
 * @out: output: the outcome of the call that ran
 *
 * Runs one call in the calling thread until it ends or reaches HOSTCALL.
 * If a call is current (HOSTCALL, or a submitted call ENTERED after an
 * interruption), RUN continues it, and @id must be 0 or its id. (A
 * CALL_SYNC call interrupted by a signal is continued by the restarted
 * CALL_SYNC, never by RUN.) Otherwise RUN takes the
 * QUEUED call @id, or the oldest QUEUED call, waiting for one to be
 * submitted unless CALLBOX_RUN_NONBLOCK. If call @id has already ended
 * (for example cancelled while queued), RUN returns its outcome without
 * entering the guest. RUN does not consume the call.
 *
 * Errors: ENOENT if @id was never issued; ESRCH if it was consumed;
 * EBUSY if another call is current, or the current call belongs to
 * another thread or to an interrupted CALL_SYNC; EINTR if
 * kvm_run.immediate_exit was
 * set (the call stays current); EAGAIN with CALLBOX_RUN_NONBLOCK and
 * nothing to run; ENOTRECOVERABLE if the sandbox is poisoned; ESHUTDOWN
 * after shutdown.
 */
struct callbox_call_run {
	__u32 size;
	__u32 flags;
	__aligned_u64 id;
	struct callbox_call_info out;
};

#define CALLBOX_CALL_RUN	_IO(CALLBOX_TYPE, CALLBOX_CMD_CALL_RUN)

/**
 * struct callbox_call_wait - ioctl(CALLBOX_CALL_WAIT)
 * @size: sizeof(struct callbox_call_wait)
 * @flags: must be 0
 * @id: the call to wait for
 * @deadline_ns: give up waiting at this time (see "Deadlines"); 0 to wait
 *	without limit. This does not cancel the call.
 * @out: output: the call's outcome
 *
 * Waits until call @id ends, then returns its outcome and consumes it.
 *
 * Errors: ETIMEDOUT if @deadline_ns passed first (the call goes on);
 * ENOENT if @id was never issued; ESRCH if it was already consumed.
 */
struct callbox_call_wait {
	__u32 size;
	__u32 flags;
	__aligned_u64 id;
	__aligned_u64 deadline_ns;
	struct callbox_call_info out;
};

#define CALLBOX_CALL_WAIT	_IO(CALLBOX_TYPE, CALLBOX_CMD_CALL_WAIT)

/**
 * struct callbox_call_get - ioctl(CALLBOX_CALL_GET)
 * @size: sizeof(struct callbox_call_get)
 * @flags: must be 0
 * @id: the call
 * @out: output: its state now
 *
 * Reads a call's state without waiting and without consuming it.
 *
 * Errors: ENOENT if @id was never issued; ESRCH if it was consumed.
 */
struct callbox_call_get {
	__u32 size;
	__u32 flags;
	__aligned_u64 id;
	struct callbox_call_info out;
};

#define CALLBOX_CALL_GET	_IO(CALLBOX_TYPE, CALLBOX_CMD_CALL_GET)

/**
 * struct callbox_call_cancel - ioctl(CALLBOX_CALL_CANCEL)
 * @size: sizeof(struct callbox_call_cancel)
 * @flags: must be 0
 * @id: the call to cancel
 *
 * Cancels call @id from any thread (see "Call states"). It acts on that
 * call only, whatever the sandbox is running now.
 *
 * Returns 0 if this cancellation won: the call ends (or has ended)
 * ABORTED with CALLBOX_ABORT_CANCELLED.
 *
 * Errors: EALREADY if the call had already ended, was consumed, or
 * another cancellation (deadline, shutdown) won; ENOENT if @id was never
 * issued.
 */
struct callbox_call_cancel {
	__u32 size;
	__u32 flags;
	__aligned_u64 id;
};

#define CALLBOX_CALL_CANCEL	_IO(CALLBOX_TYPE, CALLBOX_CMD_CALL_CANCEL)

/**
 * struct callbox_sandbox_reset - ioctl(CALLBOX_SANDBOX_RESET)
 * @size: sizeof(struct callbox_sandbox_reset)
 * @flags: must be 0
 *
 * Declares that userspace has restored guest memory and vCPU registers
 * after an abort poisoned the sandbox, so calls may run again. Queued
 * calls stay queued.
 *
 * Errors: EBUSY if a call is current (HOSTCALL or interrupted);
 * ESHUTDOWN after shutdown.
 */
struct callbox_sandbox_reset {
	__u32 size;
	__u32 flags;
};

#define CALLBOX_SANDBOX_RESET	_IO(CALLBOX_TYPE, CALLBOX_CMD_SANDBOX_RESET)

/**
 * DOC: Polling a sandbox fd
 *
 * - EPOLLIN: a call has ended and has not been consumed yet;
 * - EPOLLPRI: the call waiting in HOSTCALL has a cancellation pending;
 * - EPOLLHUP: the sandbox has shut down.
 */

#endif /* _UAPI_LINUX_CALLBOX_H */
