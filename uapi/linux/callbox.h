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
};

/**
 * DOC: Guest port ABI
 *
 * The guest runs in a KVM vCPU with no OS. It ends a call by writing a
 * 32-bit value (``out dx, eax``) to one of callbox's I/O ports. The kernel
 * handles these exits itself, without returning to userspace:
 *
 * - CALLBOX_PORT_DONE: the guest finished the call. The value is a
 *   guest-defined status (0 for success by convention of the guest SDK);
 *   the kernel reports it in &callbox_call_sync.out_status. The result itself
 *   is in guest memory, where the host library reads it.
 * - CALLBOX_PORT_ABORT: the guest gave up. The value is an abort code,
 *   reported in &callbox_call_sync.out_detail.
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
 * afterwards; the VM lives until the sandbox fd is closed. Userspace must
 * set up the vCPU (registers, memory) before the first call; callbox only
 * runs it.
 *
 * A vCPU serves at most one sandbox at a time, so that calls on one guest
 * never interleave.
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
 * and is never reused. A call moves through these states; every
 * transition is made by the kernel under the sandbox's lock, so the state
 * read back is the one true answer::
 *
 *                  (kernel, caller's thread)
 *   QUEUED ---------------------------------> ENTERED
 *     |                                        |     |
 *     | (never entered: guest code              |     | guest wrote
 *     |  did not run for this call)             |     | CALLBOX_PORT_DONE
 *     v                                        v     v
 *   ABORTED <-------------------------------------  EXITED
 *             guest abort, fault, bad exit,
 *             interrupted
 *
 * - QUEUED: accepted by the kernel, guest code has not run for it. Owner:
 *   the kernel.
 * - ENTERED: the vCPU runs guest code for this call. Owner: the thread
 *   running the call, inside the ioctl.
 * - EXITED: terminal. The guest finished; out_status is valid and the
 *   result in guest memory was written by this call.
 * - ABORTED: terminal. out_reason says why; CALLBOX_CALL_GUEST_RAN says
 *   whether guest code ran for this call. No result may be read.
 */
enum callbox_call_state {
	CALLBOX_STATE_QUEUED = 1,
	CALLBOX_STATE_ENTERED = 2,
	CALLBOX_STATE_EXITED = 3,
	CALLBOX_STATE_ABORTED = 4,
};

/**
 * enum callbox_abort_reason - why a call ended ABORTED
 * @CALLBOX_ABORT_NONE: the call did not abort
 * @CALLBOX_ABORT_GUEST_ABORT: the guest wrote CALLBOX_PORT_ABORT;
 *	out_detail is its code
 * @CALLBOX_ABORT_SHUTDOWN: the vCPU shut down (triple fault: the guest
 *	took an exception it could not handle)
 * @CALLBOX_ABORT_BAD_PORT: I/O to a port the ABI does not define, an IN,
 *	or a wrong-sized access; out_detail is the port number
 * @CALLBOX_ABORT_MMIO: access to a guest-physical address with no memory
 *	behind it; out_detail is the address
 * @CALLBOX_ABORT_HALT: the guest executed HLT with nothing to wake it
 * @CALLBOX_ABORT_ENTRY_FAILED: the CPU refused to enter the guest (bad
 *	vCPU state); out_detail is the hardware failure reason
 * @CALLBOX_ABORT_INTERNAL_ERROR: KVM could not emulate the guest;
 *	out_detail is KVM's suberror
 * @CALLBOX_ABORT_UNEXPECTED_EXIT: any other KVM exit; out_exit_reason
 *	holds it
 * @CALLBOX_ABORT_INTERRUPTED: KVM_RUN returned -EINTR: a signal, task
 *	work or kvm_run.immediate_exit interrupted the running guest
 * @CALLBOX_ABORT_RUN_FAILED: KVM_RUN failed; out_detail is the negative
 *	errno it returned
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
	CALLBOX_ABORT_INTERRUPTED = 9,
	CALLBOX_ABORT_RUN_FAILED = 10,
};

/**
 * enum callbox_call_out_flags - facts about a finished call
 * @CALLBOX_CALL_GUEST_RAN: guest code ran for this call. Set for every
 *	EXITED call; for an ABORTED call it tells whether the guest may have
 *	changed its memory.
 */
enum callbox_call_out_flags {
	CALLBOX_CALL_GUEST_RAN = 1 << 0,
};

/**
 * struct callbox_call_sync - ioctl(CALLBOX_CALL_SYNC)
 * @size: sizeof(struct callbox_call)
 * @flags: must be 0
 * @out_id: output: the id the kernel gave this call
 * @out_state: output: CALLBOX_STATE_EXITED or CALLBOX_STATE_ABORTED
 * @out_reason: output: an &enum callbox_abort_reason, NONE if EXITED
 * @out_flags: output: &enum callbox_call_out_flags
 * @out_status: output: the value the guest wrote to CALLBOX_PORT_DONE
 *	(EXITED only, else 0)
 * @out_detail: output: reason-specific detail, see
 *	&enum callbox_abort_reason (0 if none)
 * @out_exit_reason: output: the KVM exit reason (KVM_EXIT_*) of the
 *	last exit of this call
 * @__reserved: must be 0
 *
 * Issued on a sandbox fd. Runs one call synchronously in the calling
 * thread: the kernel queues the call, enters the guest and runs the vCPU
 * until the call reaches a terminal state. Userspace writes the request
 * into guest memory before, and reads the result after, an EXITED call.
 *
 * Returns 0 when the call reached a terminal state; the outcome, good or
 * bad, is in the out_* fields. Calls on one sandbox run one at a time;
 * a second caller waits for the first.
 *
 * Errors (no call was made unless noted): ENOTRECOVERABLE if an earlier
 * call aborted after guest code ran, so the guest's state is unknown; EIO
 * if called from another process; EINTR if a fatal signal arrived while
 * waiting for the sandbox; EFAULT if the outcome could not be copied out
 * (the call did run).
 */
struct callbox_call_sync {
	__u32 size;
	__u32 flags;
	__aligned_u64 out_id;
	__u32 out_state;
	__u32 out_reason;
	__u32 out_flags;
	__u32 out_status;
	__aligned_u64 out_detail;
	__u32 out_exit_reason;
	__u32 __reserved;
};

#define CALLBOX_CALL_SYNC	_IO(CALLBOX_TYPE, CALLBOX_CMD_CALL_SYNC)

#endif /* _UAPI_LINUX_CALLBOX_H */
