/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * libcallbox: run functions of a freestanding guest in a KVM micro-VM,
 * with every call's lifecycle owned by the callbox kernel module.
 *
 * Two layers:
 *
 * - A thin ioctl layer (callbox_open(), callbox_sandbox_create_fd(),
 *   callbox_call_sync_fd()): each builds one uapi struct and makes one
 *   ioctl. For callers that set up KVM themselves.
 * - The host SDK (struct callbox_sandbox): creates the VM and its 64-bit
 *   vCPU, loads a static ELF guest, runs its init and calls its functions
 *   by name.
 *
 * Every function that can fail returns a negative errno (never -1 with
 * errno set). The sandbox functions also leave a one-line human-readable
 * explanation in callbox_last_error().
 *
 * Thread safety: a struct callbox_sandbox may be used by one thread at a
 * time; distinct sandboxes are independent.
 */
#ifndef CALLBOX_CALLBOX_H
#define CALLBOX_CALLBOX_H

#include <stddef.h>
#include <stdint.h>
#include <linux/callbox.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- thin ioctl layer ---- */

/**
 * callbox_open() - open /dev/callbox
 *
 * Return: a file descriptor (O_CLOEXEC), or -errno (-ENOENT if the module
 * is not loaded).
 */
int callbox_open(void);

/**
 * callbox_sandbox_create_fd() - ioctl(CALLBOX_SANDBOX_CREATE)
 * @dev_fd: from callbox_open()
 * @vm_fd: a KVM VM fd of this process
 * @vcpu_fd: a vCPU fd of that VM
 *
 * Return: the sandbox fd, or -errno.
 */
int callbox_sandbox_create_fd(int dev_fd, int vm_fd, int vcpu_fd);

/**
 * callbox_call_sync_fd() - ioctl(CALLBOX_CALL_SYNC): run one call
 * @sandbox_fd: from callbox_sandbox_create_fd()
 * @out: the call's outcome (state, reason, status, detail)
 *
 * Return: 0 when the call reached a terminal state (EXITED or ABORTED,
 * see @out), or -errno if no call could be made.
 */
int callbox_call_sync_fd(int sandbox_fd, struct callbox_call_sync *out);

/**
 * callbox_describe_call() - explain a call's outcome in words
 * @call: an outcome filled by CALLBOX_CALL_SYNC
 * @buf: where to write, always NUL-terminated
 * @len: size of @buf
 *
 * For example "exited with status 0" or "guest wrote to I/O port 0x3f8,
 * which is not part of the callbox ABI".
 */
void callbox_describe_call(const struct callbox_call_sync *call, char *buf,
			   size_t len);

/* ---- host SDK ---- */

#define CALLBOX_DEFAULT_MEM_SIZE	(4ull << 20)

/**
 * struct callbox_config - how to build a sandbox
 * @mem_size: guest memory in bytes: a multiple of 2 MiB from 2 MiB to
 *	1 GiB (default CALLBOX_DEFAULT_MEM_SIZE). The guest image is loaded
 *	at 1 MiB and the stack grows down from the top.
 * @reserved: room for later fields without breaking the library ABI;
 *	must be zero
 *
 * Initialise with callbox_config_init(), then change what you need.
 */
struct callbox_config {
	uint64_t mem_size;
	uint64_t reserved[15];
};

void callbox_config_init(struct callbox_config *cfg);

struct callbox_sandbox;

/**
 * callbox_sandbox_new() - allocate an empty sandbox
 * @cfg: configuration, copied; NULL for the defaults
 *
 * Return: the sandbox, or NULL if out of memory. Load a guest into it
 * with callbox_sandbox_load().
 */
struct callbox_sandbox *callbox_sandbox_new(const struct callbox_config *cfg);

/**
 * callbox_sandbox_load() - create the micro-VM and boot a guest in it
 * @sb: a sandbox from callbox_sandbox_new(), not loaded yet
 * @guest_path: a static x86-64 ELF executable built with the guest SDK
 *
 * Creates the VM and its vCPU, loads the ELF, binds the vCPU to a
 * callbox sandbox and runs the guest's init as the first call.
 *
 * Return: 0, or -errno: -EINVAL bad configuration, -ENOEXEC malformed
 * ELF, -E2BIG image does not fit, -ENOENT no /dev/kvm or /dev/callbox,
 * -EPROTO the guest speaks another ABI or its init failed, -EIO the guest
 * crashed during init, -EALREADY already loaded.
 */
int callbox_sandbox_load(struct callbox_sandbox *sb, const char *guest_path);

/**
 * callbox_call_int() - call a guest function with integer arguments
 * @sb: a loaded sandbox
 * @function: the function's name, as exported by the guest
 * @args: @nargs arguments
 * @nargs: at most CALLBOX_MAX_ARGS (6)
 * @result: where the function's return value goes; may be NULL
 *
 * Return: 0 when the guest returned a value, or -errno:
 * -ENOENT the guest has no such function, -EINVAL wrong number of
 * arguments or name too long, -ECONNABORTED the guest aborted, -EIO the
 * guest crashed (fault, bad I/O, halt ...), -EINTR a signal interrupted
 * the guest, -ENOTRECOVERABLE an earlier call left the guest in an
 * unknown state, -EPROTO the guest answered outside the ABI. After any
 * abort, callbox_last_call() holds the kernel's outcome.
 */
int callbox_call_int(struct callbox_sandbox *sb, const char *function,
		     const int64_t *args, unsigned int nargs,
		     int64_t *result);

/**
 * callbox_last_error() - what went wrong in the last failed call on @sb
 *
 * Return: a NUL-terminated message owned by @sb; "" if nothing failed.
 */
const char *callbox_last_error(const struct callbox_sandbox *sb);

/**
 * callbox_last_call() - the kernel's outcome of the last call on @sb
 *
 * Return: the outcome, owned by @sb; all zero before the first call.
 */
const struct callbox_call_sync *
callbox_last_call(const struct callbox_sandbox *sb);

/**
 * callbox_sandbox_free() - destroy a sandbox and its VM; NULL is allowed
 */
void callbox_sandbox_free(struct callbox_sandbox *sb);

#ifdef __cplusplus
}
#endif

#endif /* CALLBOX_CALLBOX_H */
