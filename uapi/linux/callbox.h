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

#include <linux/const.h>
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
 *   byte is zero, otherwise E2BIG; @size above 4096 is always E2BIG (like
 *   clone3() and openat2(), so the kernel never scans a huge tail);
 * - a bit in @flags outside the command's ``*_FLAGS_MASK`` fails with
 *   EINVAL, and so does a non-zero ``__reserved`` field of the input
 *   (@out's, an output, is ignored: see "Signals and restarts").
 *
 * A failed ioctl has no side effect (its struct's output fields may have
 * been written, and mean nothing then). The kernel validates the whole
 * struct before it changes anything, and a command that publishes
 * something (a call, a sandbox fd) writes its reply to userspace first:
 * if the struct cannot be written back (a read-only page, say) it fails
 * with EFAULT and nothing was published. A command that consumes a call
 * consumes it only once the outcome has been written back. The reply with
 * a call's outcome (of CALLBOX_CALL_SYNC, _RUN, _BATCH, _WAIT and _GET)
 * writes only the struct's output fields, @out and BATCH's @done; RUN,
 * BATCH, WAIT and GET write nothing else, so their input fields may be
 * read-only. The one thing no errno can undo is guest code that already
 * ran: if the struct becomes unwritable while the guest runs (another
 * thread unmaps it), CALLBOX_CALL_SYNC, CALLBOX_CALL_RUN and
 * CALLBOX_CALL_BATCH fail with EFAULT and leave the call unconsumed, under
 * the id they wrote into @out.id before entering the guest.
 *
 * Errors common to all commands:
 *
 * - ENOTTY: unknown command for this fd;
 * - EINVAL: malformed struct (size, flags, reserved field, bad value);
 * - E2BIG: non-zero bytes beyond the struct this kernel knows, or @size
 *   above 4096;
 * - EFAULT: the struct pointer, or a pointer inside it, is not accessible;
 * - EBADF: an fd field does not name an open file;
 * - EIO: the fd was created by another process (another mm): a sandbox
 *   cannot be used across fork() or fd passing, because its vCPU can only
 *   run in the address space that created it;
 * - ENOMEM: out of memory;
 * - EINTR: a signal arrived while the ioctl waited (for a call to run or
 *   to end) and its handler was installed without SA_RESTART; nothing
 *   happened. A wait for the sandbox itself (while another thread runs a
 *   call, say) never ends so: the handler runs and the ioctl restarts.
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
	CALLBOX_CMD_SANDBOX_SHUTDOWN,
	CALLBOX_CMD_SANDBOX_RESTORE,
	CALLBOX_CMD_CALL_BATCH,
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
 * Each of these is a 4-byte OUT instruction (out %eax, %dx) to the port.
 * Ports CALLBOX_PORT_FIRST..CALLBOX_PORT_LAST are reserved for callbox.
 * Any other port access that exits to userspace, any IN, any access whose
 * size is not 4 bytes, and any string I/O (OUTS, INS, to any port) ends
 * the call ABORTED with CALLBOX_ABORT_BAD_PORT (an OUTS whose source has
 * no memory behind it ends it CALLBOX_ABORT_MMIO: KVM's emulator reads
 * the memory first; an INS reaches the port first, and ends BAD_PORT
 * whatever its destination). The kernel
 * decides DONE, ABORT and HOSTCALL from KVM's own record of the exit,
 * never from the kvm_run page, which the process can write: by writing it
 * while the guest runs, a process can at most change the reason, detail
 * and @exit_reason of its own call's abort. Ports that KVM serves in the kernel
 * because userspace set the VM up so (an in-kernel irqchip's PIC and PIT,
 * a KVM_IOEVENTFD) never reach callbox; an ioeventfd on callbox's ports
 * would hide the guest's DONE from it. See "Calls and the vCPU" for what
 * userspace may still do with a bound vCPU.
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
 * afterwards; the VM lives until the sandbox's file is released. Userspace
 * must set up the vCPU (registers, memory) before the first call; callbox
 * only runs it. A vCPU serves at most one sandbox at a time, so that calls
 * on one guest never interleave; it is free again once its sandbox has
 * shut down (see "Shutdown"). The new sandbox is not poisoned: binding
 * declares the guest ready for its first call, whatever an earlier
 * sandbox of the vCPU left (its poison, a restore it had begun).
 *
 * The vCPU must not have a signal mask (KVM_SET_SIGNAL_MASK), now or when
 * a call enters it. With a mask, a signal that stops the guest stays
 * blocked in the thread, so it is never delivered and the ioctl cannot
 * restart and continue the call (see "Signals and restarts"). callbox
 * stops a guest by itself and needs no signal for it.
 *
 * Errors: EBADF if either fd is not open; EINVAL if @vm_fd is not a KVM VM
 * or @vcpu_fd is not a vCPU of that VM; EIO if the VM belongs to another
 * process; EBUSY if the vCPU is bound to a sandbox that has not shut down;
 * EOPNOTSUPP if the vCPU has a signal mask.
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
 *   SUBMIT / CALL_SYNC / RESET
 *        |
 *        v
 *    QUEUED ----------------(RUN / CALL_SYNC)---------------> ENTERED
 *        |                                                  |  ^   |  |
 *        | cancel, deadline, shutdown:              HOSTCALL|  |RUN|  | DONE
 *        | guest code never ran                     port    v  |   |  v
 *        |                                             HOSTCALL  |  EXITED
 *        |                                                 |     |
 *        v                                                 v     v
 *    ABORTED <--- cancel, deadline, shutdown, owner exit, guest abort,
 *                 fault, kill
 *
 * - QUEUED: accepted, guest code has not run for it. Owner: the kernel.
 * - ENTERED: the vCPU runs guest code for it, or did until an
 *   interruption. Owner: the thread that entered the guest for it, inside
 *   the CALLBOX_CALL_RUN, CALLBOX_CALL_SYNC or CALLBOX_CALL_BATCH that
 *   did so.
 * - HOSTCALL: the guest waits on a host function. Owner: the same thread,
 *   which got the HOSTCALL outcome; only it continues the call, with RUN.
 * - EXITED: terminal. The guest finished: status is valid and the result
 *   in guest memory was written by this call.
 * - ABORTED: terminal. reason says why; CALLBOX_CALL_GUEST_RAN says
 *   whether guest code ever ran for this call. No result may be read.
 *
 * At most one call is *current*: ENTERED or HOSTCALL. It is *parked* when
 * no thread is inside KVM_RUN for it: in HOSTCALL, or ENTERED after an
 * interruption sent its ioctl back to userspace.
 *
 * Cancellation (CALLBOX_CALL_CANCEL), the call's deadline and shutdown
 * race with completion through one decision under the lock, so exactly
 * one side wins and both learn which: the canceller from the ioctl's
 * return value (0: the call ends ABORTED with its reason; EALREADY: it
 * had already ended or another cancellation won), everyone from the
 * call's final reason.
 *
 * - A QUEUED call is aborted at once; guest code never runs for it.
 * - An ENTERED call that a thread runs: the kernel forces the vCPU out of
 *   the guest (no signal, no userspace involvement) and ends the call
 *   ABORTED, even if the guest completed in the meantime.
 * - A parked ENTERED call is aborted at once.
 * - A HOSTCALL call ends ABORTED when the host function returns and the
 *   call is continued with RUN. Meanwhile CALLBOX_CALL_CANCEL_PENDING is
 *   set and the sandbox fd polls EPOLLPRI, so a long host function can
 *   stop early.
 *
 * Forcing the vCPU out works like a signal with no handler: KVM_RUN stops
 * at once whether the guest spins or halts, and so does an interruptible
 * wait inside it. A thread that KVM_RUN has put in an uninterruptible wait
 * on the guest's memory (a userfaultfd or FUSE page that never arrives;
 * on kernels before 6.12 a userfaultfd wait is one) cannot be stopped by
 * anything but that memory arriving or a fatal signal: the cancellation
 * is decided at once, and the call ends ABORTED when the thread gets out.
 *
 * A kick is tied to the call it was meant for: once a call has ended, no
 * cancellation, deadline or kick can reach a later call.
 *
 * A parked call whose owner thread has exited can never be continued, so
 * it ends ABORTED: with the reason of a cancellation that had won, else
 * CALLBOX_ABORT_OWNER_EXITED. Every ioctl that looks at the call sees it
 * ended at once; a thread blocked waiting for it wakes within about
 * 100 ms of the exit.
 *
 * An abort that stops the guest in the middle of a call (anything but a
 * DONE at the call boundary) leaves guest memory and registers unknown:
 * the sandbox is then *poisoned* and refuses to run calls with
 * ENOTRECOVERABLE until it is reset and its init call has exited (see
 * CALLBOX_SANDBOX_RESET), or it is restored to a snapshot (see
 * CALLBOX_SANDBOX_RESTORE).
 */
enum callbox_call_state {
	CALLBOX_STATE_QUEUED = 1,
	CALLBOX_STATE_ENTERED = 2,
	CALLBOX_STATE_EXITED = 3,
	CALLBOX_STATE_ABORTED = 4,
	CALLBOX_STATE_HOSTCALL = 5,
};

/**
 * DOC: Signals and restarts
 *
 * Signals do not abort calls; only a fatal signal does
 * (CALLBOX_ABORT_KILLED). When a signal or task work for the thread
 * interrupts the guest, the call stays ENTERED, parked, and the ioctl goes
 * back to userspace to let it run. Then the kernel restarts the ioctl by
 * itself, even after a handler installed without SA_RESTART, and the
 * restarted ioctl continues the call where it stopped.
 *
 * The right to continue an interrupted call belongs to the ioctl that was
 * interrupted, and to nothing else. CALLBOX_CALL_SYNC, CALLBOX_CALL_RUN
 * and CALLBOX_CALL_BATCH write the call's id and state into their @out
 * before they enter the guest, and state ENTERED when they are
 * interrupted. An ioctl of the same
 * command, from the same thread, whose @out.state is CALLBOX_STATE_ENTERED
 * and whose @out.id names the parked call, is its continuation; if the
 * call has ended meanwhile (cancelled, say, or continued to its end by
 * such an ioctl issued from the signal handler), it returns that outcome
 * (CALL_SYNC: ESRCH if another ioctl consumed it). When one call was
 * interrupted in several ioctls of the thread (the handler of one ran it
 * on with another, which was interrupted in turn), each keeps the right
 * to its outcome once it has ended, but only the one interrupted last
 * continues it while it is parked: the others get EBUSY. A continuation,
 * too, writes @out (and BATCH its @done) before it enters the guest: if
 * it cannot, it fails with EFAULT and the call stays parked, to be
 * continued with a struct that can be written. Any other content of @out
 * is ignored on input, so a zeroed (or reused) struct always asks for
 * something new, and no @out can pick up a call that was not interrupted
 * in that ioctl (EBUSY). Meanwhile other
 * threads' CALL_SYNC wait, and everything else that would run a call
 * fails with EBUSY.
 *
 * kvm_run.immediate_exit is read before the guest is entered (KVM's idiom
 * for a signal that lands just before KVM_RUN): if it is set, the ioctl
 * fails with EINTR and enters nothing. A call being continued stays
 * parked, and issuing the ioctl again with the same struct, once
 * immediate_exit is clear, continues it. (If it is set only while KVM_RUN
 * waits for the vCPU, see "Calls and the vCPU", KVM stops before the
 * guest: the ioctl fails with EINTR and the call is parked, ENTERED but
 * without CALLBOX_CALL_GUEST_RAN, unless a KVM_RUN of userspace's own ran
 * the guest meanwhile, to be continued the same way.)
 *
 * A thread that leaves its signal handler by longjmp() abandons its
 * ioctl: the parked call stays current until it is cancelled, its deadline
 * passes, the thread exits or the sandbox shuts down, unless that thread
 * issues the struct (whose @out names the call) again: that continues it.
 */

/**
 * DOC: Shutdown
 *
 * A sandbox shuts down when CALLBOX_SANDBOX_SHUTDOWN is issued, or when
 * its file is released: its last fd is closed, in every process that has
 * one, and no ioctl is using it. As with a socket, closing one fd of
 * several (dup(), fork(), SCM_RIGHTS) changes nothing; use
 * CALLBOX_SANDBOX_SHUTDOWN to stop a sandbox that other fds or other
 * threads still use.
 *
 * At shutdown QUEUED calls end ABORTED (CALLBOX_ABORT_SANDBOX_CLOSED,
 * guest never ran), a running call is kicked and ends the same way, a
 * parked call ends at once, and every waiter wakes with that answer. Later
 * SUBMIT, CALL_SYNC, RUN and RESET fail with ESHUTDOWN (RUN of an id that
 * has ended still returns its outcome; WAIT and GET still work). The vCPU
 * is unbound as soon as no ioctl runs it or is about to, so it can serve
 * a new sandbox; the VM itself lives until the sandbox's file is
 * released. About to run it are the ioctls that are starting or
 * continuing a call (a RUN of a call in HOSTCALL too, even one that only
 * ends it), a reset or a restore (CALLBOX_RESTORE_BEGIN), and a CALL_SYNC
 * waiting for a SUBMIT's reply, until they have written their structs
 * back; and a CALL_BATCH, between its calls too, until it has written
 * @done and read its next id. A read or write that waits on a page fault, resolved
 * by userfaultfd say, delays the unbinding. SHUTDOWN returns once the
 * vCPU is unbound.
 */

/**
 * DOC: Calls and the vCPU
 *
 * While a vCPU is bound, only callbox may run it: a KVM_RUN that userspace
 * issues itself is not a call, and its exits are not seen. A call that
 * starts meanwhile waits for that KVM_RUN to return (KVM holds the vCPU's
 * mutex), and its deadline, CANCEL and shutdown cannot cut that wait
 * short. The guest code that KVM_RUN runs meanwhile counts as run for the
 * call: it gets CALLBOX_CALL_GUEST_RAN (so its abort poisons the sandbox)
 * even if its own KVM_RUN then stops before the guest.
 *
 * Other vCPU ioctls (KVM_SET_REGS, KVM_SET_SIGNAL_MASK ...) share that
 * mutex with KVM_RUN. callbox checks what must hold at entry (no signal
 * mask, immediate_exit clear, the security module's leave) right before
 * its KVM_RUN, but KVM_RUN then waits for the mutex if such an ioctl of
 * another thread holds it (for as long as that ioctl's own copy from
 * userspace takes), and what it changes callbox does not see: a signal
 * mask set then is in force for that run, so the process's own signals
 * do not interrupt it (callbox's cancellation still does), and nothing
 * but that ioctl's end cuts the wait for the mutex short. Set the vCPU up
 * while no call is starting or running on it.
 */

/**
 * enum callbox_abort_reason - why a call ended ABORTED
 * @CALLBOX_ABORT_NONE: the call did not abort
 * @CALLBOX_ABORT_GUEST_ABORT: the guest wrote CALLBOX_PORT_ABORT;
 *	detail is its code
 * @CALLBOX_ABORT_SHUTDOWN: the vCPU shut down (triple fault: the guest
 *	took an exception it could not handle)
 * @CALLBOX_ABORT_BAD_PORT: I/O to a port the ABI does not define, an IN,
 *	a wrong-sized access or string I/O; detail is the port number (bits
 *	0-15), the access size in bytes (bits 16-23), and the flags
 *	CALLBOX_BAD_PORT_IN and CALLBOX_BAD_PORT_STRING
 * @CALLBOX_ABORT_MMIO: access to a guest-physical address with no memory
 *	behind it; detail is the address
 * @CALLBOX_ABORT_HALT: the guest executed HLT with nothing to wake it
 * @CALLBOX_ABORT_ENTRY_FAILED: the CPU refused to enter the guest (bad
 *	vCPU state); detail is the hardware failure reason
 * @CALLBOX_ABORT_INTERNAL_ERROR: KVM could not emulate the guest;
 *	detail is KVM's suberror
 * @CALLBOX_ABORT_UNEXPECTED_EXIT: any other KVM exit, or KVM_RUN returned
 *	without reporting one; detail holds it, as exit_reason does if the
 *	guest ran
 * @CALLBOX_ABORT_KILLED: the thread running the call got a fatal signal
 * @CALLBOX_ABORT_RUN_FAILED: KVM_RUN failed; detail is the negative
 *	errno it returned
 * @CALLBOX_ABORT_CANCELLED: CALLBOX_CALL_CANCEL won
 * @CALLBOX_ABORT_DEADLINE: the call's deadline passed first
 * @CALLBOX_ABORT_SANDBOX_CLOSED: the sandbox shut down first
 * @CALLBOX_ABORT_OWNER_EXITED: the call was parked and the thread that
 *	had to continue it exited
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
	CALLBOX_ABORT_OWNER_EXITED = 14,
};

/*
 * The detail of a CALLBOX_ABORT_BAD_PORT abort: the port in bits 0-15,
 * the size of the access in bytes (1, 2 or 4) from bit
 * CALLBOX_BAD_PORT_SIZE_SHIFT, and these flags. A string instruction
 * (INS, OUTS) is marked as such when KVM's record of the exit tells it:
 * always for OUTS, and for an INS only when KVM took more than one element
 * at once. A single INS shows as an IN, and so does a REP INS whose
 * destination is at the end of a page (with DF set, at its start): KVM
 * takes one element there.
 */
#define CALLBOX_BAD_PORT_PORT_MASK	0xffffULL
#define CALLBOX_BAD_PORT_SIZE_SHIFT	16
#define CALLBOX_BAD_PORT_SIZE_MASK	(0xffULL << CALLBOX_BAD_PORT_SIZE_SHIFT)
#define CALLBOX_BAD_PORT_IN		_BITULL(24)
#define CALLBOX_BAD_PORT_STRING		_BITULL(25)

/**
 * enum callbox_call_info_flags - facts about a call
 * @CALLBOX_CALL_GUEST_RAN: KVM entered the guest for this call (KVM
 *	counted a VM exit during one of its KVM_RUNs), so guest code may
 *	have run for it. Set once that KVM_RUN has returned, for every
 *	EXITED call, and for every call in HOSTCALL. Clear on an ended
 *	call: guest code never ran for it, so its abort does not poison the
 *	sandbox. (Guest code that a KVM_RUN of userspace's own runs while
 *	the call waits for the vCPU counts as run for it: see "Calls and the
 *	vCPU".)
 * @CALLBOX_CALL_CANCEL_PENDING: a cancellation, the deadline or the
 *	sandbox's shutdown has won; the call will end ABORTED with that
 *	reason as soon as it stops running (or is continued, if HOSTCALL).
 * @CALLBOX_CALL_POISONED: this call's abort poisoned the sandbox: it
 *	stopped the guest in the middle of a call, or it was an init call
 *	that did not exit (see "Call states"). An ABORTED call with GUEST_RAN
 *	but without this flag was stopped at the call boundary: the guest
 *	had finished, but the cancellation won.
 * @CALLBOX_CALL_INIT: the init call queued by CALLBOX_SANDBOX_RESET
 */
enum callbox_call_info_flags {
	CALLBOX_CALL_GUEST_RAN = 1 << 0,
	CALLBOX_CALL_CANCEL_PENDING = 1 << 1,
	CALLBOX_CALL_POISONED = 1 << 2,
	CALLBOX_CALL_INIT = 1 << 3,
};

/**
 * struct callbox_call_info - the kernel's record of a call
 * @id: the call's id
 * @state: an &enum callbox_call_state
 * @reason: an &enum callbox_abort_reason; NONE unless ABORTED
 * @flags: &enum callbox_call_info_flags
 * @status: EXITED: the value the guest wrote to CALLBOX_PORT_DONE;
 *	HOSTCALL: the value it wrote to CALLBOX_PORT_HOSTCALL; else 0
 * @detail: reason-specific detail, see &enum callbox_abort_reason
 * @exit_reason: the KVM exit reason (KVM_EXIT_*) of the call's last
 *	KVM_RUN that counts as having run the guest (the rule of
 *	CALLBOX_CALL_GUEST_RAN): KVM_EXIT_INTR if a signal or a kick
 *	interrupted it, 0 (KVM_EXIT_UNKNOWN) if it failed
 *	(CALLBOX_ABORT_RUN_FAILED). Any other KVM_RUN, one that KVM stopped
 *	before the guest, leaves it as it was: it is 0 for a call the guest
 *	never ran, and non-zero only with CALLBOX_CALL_GUEST_RAN
 * @__reserved: 0
 *
 * Output only, except that CALLBOX_CALL_SYNC, CALLBOX_CALL_RUN and
 * CALLBOX_CALL_BATCH read @id and @state of their @out to recognise
 * their own restart (see "Signals and restarts").
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
 * submission aborts the call at once; that is not an error. Values above
 * KTIME_MAX (2^63 - 1) are EINVAL.
 */

/**
 * struct callbox_call_sync - ioctl(CALLBOX_CALL_SYNC)
 * @size: sizeof(struct callbox_call_sync)
 * @flags: must be 0
 * @deadline_ns: the call's deadline, see "Deadlines"; 0 for none
 * @out: output: the call's outcome. On input a zeroed @out makes a new
 *	call, and @out as an interruption left it continues that call (see
 *	"Signals and restarts").
 *
 * Issued on a sandbox fd. The fast path: submit one call and run it in
 * the calling thread until it ends, in one ioctl. Userspace writes the
 * request into guest memory before, and reads the result after, an EXITED
 * call. The kernel writes the new call's id into @out.id (state QUEUED)
 * before it publishes the call. A terminal call is consumed (but see host
 * calls, below): its id is then unknown to WAIT and GET (ESRCH). A call
 * is consumed once: if another thread's WAIT consumes it first, CALL_SYNC
 * fails with ESRCH.
 *
 * If the guest makes a host call, the ioctl returns with @out.state
 * HOSTCALL; userspace runs the host function and continues the call with
 * CALLBOX_CALL_RUN, then consumes it with CALLBOX_CALL_WAIT. Once a reply
 * of CALL_SYNC or RUN has taken it in HOSTCALL (written, or failed with
 * EFAULT), only WAIT consumes it: a continuation of this ioctl that then
 * returns its outcome (see "Signals and restarts") leaves it.
 *
 * Returns 0 when the call ended or reached HOSTCALL; the outcome, good
 * or bad, is in @out. Only one call runs on a sandbox at a time: a second
 * caller waits for the first, including while the first is interrupted.
 *
 * Errors (no call was made unless noted): ENOTRECOVERABLE if the sandbox
 * is poisoned, or its reset's init call has not exited yet; EBUSY if
 * submitted calls are queued, a restore has begun (see
 * CALLBOX_SANDBOX_RESTORE), a call waits in HOSTCALL, this thread's own
 * call is parked, or @out names a call this ioctl may not continue; EINTR
 * if kvm_run.immediate_exit is set; EOPNOTSUPP if the vCPU has a signal
 * mask; EAGAIN if CALLBOX_MAX_CALLS calls are unconsumed; ESHUTDOWN after
 * shutdown; ENOENT or ESRCH if @out names a call that was never issued,
 * or that was consumed meanwhile; the errno of a security module that
 * forbids KVM_RUN on the vCPU. A call being continued stays parked on any
 * of these. If writing the new call's id back had to wait for a page
 * fault (which userfaultfd can make last), EINTR, EOPNOTSUPP and the
 * security module's refusal are checked again after it; if one fails
 * then, the call is dropped before it is published: @out.id then answers
 * as the id of a consumed call (ESRCH; EALREADY to CANCEL), and no later
 * call gets it.
 *
 * The reply of a call that ended may have to wait for another thread's
 * WAIT of the same call, which holds the right to consume it while it
 * writes its own reply: only a fatal signal ends that wait, and a
 * handler runs once it is over.
 */
struct callbox_call_sync {
	__u32 size;
	__u32 flags;
	__aligned_u64 deadline_ns;
	struct callbox_call_info out;
};

#define CALLBOX_CALL_SYNC	_IO(CALLBOX_TYPE, CALLBOX_CMD_CALL_SYNC)

/*
 * The most calls a sandbox keeps that have not been consumed, not
 * counting the init calls of resets, which have as many places of their
 * own (see CALLBOX_SANDBOX_RESET).
 */
#define CALLBOX_MAX_CALLS	64

/**
 * struct callbox_call_submit - ioctl(CALLBOX_CALL_SUBMIT)
 * @size: sizeof(struct callbox_call_submit)
 * @flags: must be 0
 * @deadline_ns: the call's deadline, see "Deadlines"; 0 for none
 * @out_id: output: the new call's id
 *
 * Queues a call without running it; a runner thread runs it with
 * CALLBOX_CALL_RUN, and anyone waits for it with CALLBOX_CALL_WAIT. The
 * call is published only once @out_id has been written.
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
 * @CALLBOX_RUN_NONBLOCK: fail with EAGAIN instead of waiting, whether for
 *	a call to be submitted or for another thread's run to end
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
 * @out: output: the outcome of the call that ran. On input, as for
 *	CALLBOX_CALL_SYNC, @out as an interruption left it continues that
 *	call; anything else is ignored.
 *
 * Runs one call in the calling thread until it ends or reaches HOSTCALL.
 * Calls run one at a time: RUN first waits while another thread runs one.
 * A call in HOSTCALL is continued by RUN from its owner, with @id 0 or its
 * id. Otherwise RUN takes the QUEUED call @id, or the oldest QUEUED call,
 * waiting for one to be submitted unless CALLBOX_RUN_NONBLOCK. A call
 * interrupted in RUN is continued only by that RUN restarted, and one
 * interrupted in CALL_SYNC only by CALL_SYNC (see "Signals and restarts").
 * If call @id has already ended (for example cancelled while queued), RUN
 * returns its outcome without entering the guest. RUN writes the call's id
 * and state into @out before it enters the guest, and does not consume
 * the call.
 *
 * Errors: ENOENT if @id was never issued; ESRCH if it was consumed (so
 * also when a RUN restarted after a signal continues the call it named in
 * @out, and another ioctl has ended and consumed that call meanwhile);
 * EBUSY if another call is current (parked) and @id, if given, names one
 * that has not ended, or the current call belongs to another thread or
 * to an interrupted ioctl, or a restore has begun (RUN of a call that has
 * ended still returns its outcome); EINVAL if @out
 * names a call to continue and @id another; EINTR if kvm_run.immediate_exit
 * is set;
 * EOPNOTSUPP if the vCPU has a signal mask; EAGAIN with
 * CALLBOX_RUN_NONBLOCK and nothing to run; ENOTRECOVERABLE if the sandbox
 * is poisoned, or a reset's init call must run first; ESHUTDOWN after
 * shutdown; the errno of a security module that forbids KVM_RUN on the
 * vCPU. On any of these nothing was entered, and a call being continued
 * stays parked.
 */
struct callbox_call_run {
	__u32 size;
	__u32 flags;
	__aligned_u64 id;
	struct callbox_call_info out;
};

#define CALLBOX_CALL_RUN	_IO(CALLBOX_TYPE, CALLBOX_CMD_CALL_RUN)

/**
 * struct callbox_call_batch - ioctl(CALLBOX_CALL_BATCH)
 * @size: sizeof(struct callbox_call_batch)
 * @flags: must be 0
 * @ids: a pointer to @nr call ids (__u64 each): the calls to run, in order
 * @nr: how many ids @ids holds: 1 to CALLBOX_MAX_CALLS
 * @done: input: where in @ids to start, below @nr; output: the index
 *	of the call the batch stopped at, so the calls from where it started
 *	up to that one are those this ioctl (with its restarts) ran to
 *	EXITED; @nr once all did
 * @out: output: the outcome of the call the batch stopped at. On input,
 *	as for CALLBOX_CALL_RUN, @out as an interruption left it continues
 *	that call; anything else is ignored.
 *
 * Runs the calls @ids[@done], @ids[@done + 1], ... one after the other in
 * the calling thread, each as CALLBOX_CALL_RUN with its id would run it,
 * without going back to userspace between them: the cost of a return to
 * userspace and of a syscall is paid once for the batch. Each call must be
 * QUEUED when its turn comes (a call in HOSTCALL is continued by RUN
 * alone: EBUSY). After each call that ends EXITED, BATCH
 * writes @done + 1 back, then starts the next; when the last has EXITED,
 * it returns 0 with @done equal to @nr and @out the last call's outcome.
 * Otherwise it stops at the first call that does not end EXITED in it,
 * and returns 0 with @out that call's outcome and @done its index:
 *
 * - it reached HOSTCALL: continue it with RUN, as always, then issue
 *   BATCH again from @done + 1 for the rest;
 * - it ended ABORTED (an abort in the middle of the guest poisons the
 *   sandbox, so the rest could not run anyway);
 * - it had ended before its turn (cancelled or its deadline passed while
 *   queued, or it was not QUEUED but ended; for the call a restart
 *   continues, it ended meanwhile, cancelled say, or run on by a BATCH
 *   issued from the signal handler): this ioctl did not see its DONE.
 *
 * So the calls from where the batch started up to @ids[@done] are exactly
 * those the guest ran to their DONE in this batch, in order: a guest that
 * serves the requests of a batch in order can tell from @done which
 * requests it served. Like RUN, BATCH consumes no call; each is consumed
 * by WAIT.
 *
 * From the first call to the last, the batch holds the sandbox as a RUN
 * holds it for its call: other runners wait, and RESET and a restore's
 * BEGIN fail with EBUSY, also between two calls, while the batch reads
 * @ids and writes @done (which may wait on a page fault). A signal or
 * task work for the thread interrupts the batch like a RUN: in a call,
 * the call is parked, and the ioctl restarts by itself with @done where
 * it was and @out naming the call, which it continues before it goes on
 * to the rest; between two calls, the ioctl goes back to userspace to let
 * it run and restarts from @ids[@done]. Meanwhile, as between two RUNs,
 * other threads may run calls, reset or restore, and the restarted batch
 * goes on, or stops or fails at @ids[@done], as they left the sandbox. A
 * call interrupted in BATCH is continued only by a BATCH of the same
 * thread (see "Signals and restarts").
 *
 * Errors: EINVAL if @flags is not 0, @nr is 0 or above CALLBOX_MAX_CALLS,
 * @done is not below @nr, or @out names a call to continue that is not
 * @ids[@done]; EFAULT if @ids cannot be read, or @done or @out cannot be
 * written; for the call @ids[@done], any error of CALLBOX_CALL_RUN with
 * its id (ENOENT, ESRCH, EBUSY, ENOTRECOVERABLE, EINTR, EOPNOTSUPP,
 * ESHUTDOWN, a security module's). On an error the calls before
 * @ids[@done] have run to EXITED, and stay for WAIT, and @ids[@done] was
 * not entered by this ioctl, except the call it continues or runs when
 * it fails as RUN would then: a restart refused (EINTR, EOPNOTSUPP, a
 * security module's errno), which leaves that call parked, as after RUN;
 * or a struct that became unwritable while the guest ran (EFAULT), which
 * leaves the call as the guest left it, unconsumed. @done is written
 * back as it came before any call is entered, so only a struct that
 * became unwritable keeps a call's end from being counted in it; then
 * CALLBOX_CALL_GET tells which calls have ended.
 */
struct callbox_call_batch {
	__u32 size;
	__u32 flags;
	__aligned_u64 ids;
	__u32 nr;
	__u32 done;
	struct callbox_call_info out;
};

#define CALLBOX_CALL_BATCH	_IO(CALLBOX_TYPE, CALLBOX_CMD_CALL_BATCH)

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
 * The call is consumed only once @out has been written, and once: of
 * several WAITs for one call, one returns its outcome and the others
 * then fail with ESRCH.
 *
 * Errors: ETIMEDOUT if @deadline_ns passed first: before the call ended
 * (it goes on), or while another ioctl was writing its outcome back;
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
 * @deadline_ns: the init call's deadline, see "Deadlines"; 0 for none
 * @out_id: output: the init call's id
 *
 * Declares that userspace has put the guest back at its entry point
 * (memory and vCPU registers): after an abort poisoned the sandbox, or to
 * initialise a guest that was just loaded. The kernel queues the guest's
 * *init call* (flag CALLBOX_CALL_INIT) ahead of every queued call and
 * lifts the poison, but until the init call EXITs the sandbox runs no
 * other call (ENOTRECOVERABLE). Run the init call with CALLBOX_CALL_RUN,
 * and consume it with CALLBOX_CALL_WAIT, like a submitted call. If it ends
 * any other way, even cancelled before it ran, the sandbox is poisoned
 * again: a call never enters a guest that was not made ready for it.
 * Queued calls stay queued behind the init call.
 *
 * Init calls have places of their own, beyond CALLBOX_MAX_CALLS, so that
 * a sandbox whose queue is full can still be reset.
 *
 * RESET never waits for a call: it fails with EBUSY if a call is current
 * (running or parked), or another thread is starting one. It may wait for
 * another ioctl that holds the sandbox's run lock without starting a call
 * (a RUN returning the outcome of a call cancelled before it entered, say)
 * to write its struct back.
 *
 * Errors: EBUSY if a call is current or being started, an init call
 * is pending, or a restore has begun; EAGAIN if CALLBOX_MAX_CALLS init calls are unconsumed;
 * ESHUTDOWN after shutdown.
 */
struct callbox_sandbox_reset {
	__u32 size;
	__u32 flags;
	__aligned_u64 deadline_ns;
	__aligned_u64 out_id;
};

#define CALLBOX_SANDBOX_RESET	_IO(CALLBOX_TYPE, CALLBOX_CMD_SANDBOX_RESET)

/**
 * struct callbox_sandbox_shutdown - ioctl(CALLBOX_SANDBOX_SHUTDOWN)
 * @size: sizeof(struct callbox_sandbox_shutdown)
 * @flags: must be 0
 *
 * Shuts the sandbox down now, whatever fds refer to it (see "Shutdown").
 * When it returns, every call has ended, no thread runs the guest, and the
 * vCPU is unbound. Shutting down twice is not an error; nor is a signal
 * while SHUTDOWN waits for a kicked runner to leave the guest: the
 * handler runs and SHUTDOWN goes on.
 */
struct callbox_sandbox_shutdown {
	__u32 size;
	__u32 flags;
};

#define CALLBOX_SANDBOX_SHUTDOWN \
	_IO(CALLBOX_TYPE, CALLBOX_CMD_SANDBOX_SHUTDOWN)

/**
 * enum callbox_restore_op - the steps of CALLBOX_SANDBOX_RESTORE
 * @CALLBOX_RESTORE_BEGIN: userspace starts putting the guest back to a
 *	snapshot; no call may enter the guest until the restore ends
 * @CALLBOX_RESTORE_COMMIT: the guest is at a snapshot, memory and
 *	registers (put back to one, or one was just taken of it): it is ready
 *	for a call, and the poison is lifted
 * @CALLBOX_RESTORE_ABANDON: the restore failed half way: the guest is
 *	poisoned until a reset or a restore that commits
 */
enum callbox_restore_op {
	CALLBOX_RESTORE_BEGIN = 1,
	CALLBOX_RESTORE_COMMIT = 2,
	CALLBOX_RESTORE_ABANDON = 3,
};

/**
 * struct callbox_sandbox_restore - ioctl(CALLBOX_SANDBOX_RESTORE)
 * @size: sizeof(struct callbox_sandbox_restore)
 * @flags: must be 0
 * @op: an &enum callbox_restore_op
 * @out_poisoned: BEGIN: output: 1 if the sandbox was poisoned when the
 *	restore began, else 0. Ignored on input.
 * @id: BEGIN: output: the restore's id, unique within the sandbox,
 *	increasing from 1 and never reused. COMMIT and ABANDON: the id of the
 *	restore they end.
 *
 * A *snapshot* is the guest as userspace saved it at a call boundary (no
 * call current, and the guest at rest after its init or a call EXITed):
 * its memory and every piece of vCPU state. Putting the guest back to one
 * makes it ready for a call, as a reset's init call does, without running
 * anything. Userspace does the putting back, and the kernel fences it. The
 * same fence serves to take a snapshot: BEGIN, read the guest's whole
 * state with no call able to change it meanwhile, then COMMIT, or ABANDON
 * if @out_poisoned says the guest is in the middle of a call:
 *
 * - BEGIN fails with EBUSY if a call is current (running or parked) or
 *   another thread is starting one, a reset's init call is pending, or a
 *   restore has begun. Otherwise it writes the restore's id into @id and
 *   the sandbox's poison into @out_poisoned, and until the restore ends
 *   no call enters the guest: RUN and CALL_SYNC fail with EBUSY, and so
 *   do RESET and a second BEGIN. SUBMIT, WAIT, GET and CANCEL work as
 *   ever, and queued calls stay queued. If its reply cannot be written,
 *   BEGIN fails with EFAULT and no restore has begun (the id is used up).
 *   Like RESET, BEGIN may wait for another ioctl that holds the sandbox's
 *   run lock without starting a call to write its struct back.
 * - COMMIT ends the restore and lifts the poison (see "Call states"): the
 *   poison is lifted only once the restore is complete, never at BEGIN.
 * - ABANDON ends the restore and poisons the sandbox, whatever it was
 *   before: the guest is half put back. A reset, or a restore that
 *   commits, makes it ready again.
 *
 * Any thread of the process may end a restore that another began, given
 * its id: COMMIT and ABANDON fail with EINVAL if @id is not the restore
 * in progress (none has begun, or it has ended, say by another thread's
 * ABANDON, and another has begun since), so a late COMMIT never ends a
 * restore it did not see to completion. At shutdown a restore ends, and
 * the sandbox stays as it was.
 *
 * The fence, like the poison, belongs to the sandbox, and so to its one
 * vCPU. Other vCPUs of the same VM, bound to sandboxes of their own,
 * share the guest's memory but are not fenced: a process that restores
 * memory they use begins a restore on each of their sandboxes first. And
 * a new sandbox bound to the vCPU after this one has shut down starts as
 * CALLBOX_SANDBOX_CREATE says, whatever this one's poison or restore:
 * creating it declares the guest ready.
 *
 * Why the module does not restore the guest itself: guest memory is the
 * process's own mapping, which it can write whatever the module does, and
 * the vCPU's state is set with KVM's vCPU ioctls, which the process
 * holds; KVM does not offer its state loading to other modules, and the
 * snapshot's memory is best kept where it is used. What only the kernel
 * can do is decide, under the lock that every call's transitions take,
 * that no call runs while the guest is half put back, and when the
 * guest is ready again: that is what this ioctl does.
 *
 * Errors: EINVAL for an unknown @op or flags, or COMMIT or ABANDON of an
 * @id that is not the restore in progress; EBUSY as above; EFAULT if BEGIN
 * cannot write its reply; ESHUTDOWN after shutdown.
 */
struct callbox_sandbox_restore {
	__u32 size;
	__u32 flags;
	__u32 op;
	__u32 out_poisoned;
	__aligned_u64 id;
};

#define CALLBOX_SANDBOX_RESTORE	_IO(CALLBOX_TYPE, CALLBOX_CMD_SANDBOX_RESTORE)

/**
 * DOC: Polling a sandbox fd
 *
 * - EPOLLIN: a call has ended and has not been consumed yet;
 * - EPOLLPRI: the call waiting in HOSTCALL has a cancellation pending;
 * - EPOLLHUP: the sandbox has shut down.
 */

#endif /* _UAPI_LINUX_CALLBOX_H */
