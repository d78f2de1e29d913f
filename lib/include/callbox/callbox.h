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
 *   by name with typed arguments; the guest calls back host functions
 *   registered by name with their signatures.
 *
 * - Inspection (callbox_inspect_*(), callbox_monitor_*()): what every
 *   sandbox and call on the machine is doing, and their events as they
 *   happen, read from the kernel's "callbox" generic netlink family.
 *
 * Typed values are &struct callbox_wire_value (callbox/wire.h), made with
 * CALLBOX_I64(), CALLBOX_STRING() and friends, and travel in the wire
 * format that header documents. Types: i32, u32, i64, u64, f32, f64,
 * bool, string, bytes; up to CALLBOX_MAX_PARAMS (32) parameters; a result
 * of one of those types, or void.
 *
 * Every function that can fail returns a negative errno (never -1 with
 * errno set). The host SDK's functions also describe each failure in one
 * line of words: the caller's own &struct callbox_outcome where a function
 * takes one, and always the calling thread's callbox_sandbox_last_error().
 *
 * Thread safety: the calls on one sandbox are safe to use from several
 * threads: submit, wait, cancel and get from any thread, and calls run one
 * at a time (callbox_call() and callbox_call_run() serialise). What a
 * function reports is its caller's alone: the outcome it fills, and the
 * last error and outcome of the calling thread.
 */
#ifndef CALLBOX_CALLBOX_H
#define CALLBOX_CALLBOX_H

/* The host's API: a guest (freestanding) has <callbox/guest.h> instead. */
#if !__STDC_HOSTED__
#error "<callbox/callbox.h> is for host programs; a guest includes <callbox/guest.h>"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/callbox.h>
#include <linux/callbox_netlink.h>

#include <callbox/abi.h>
#include <callbox/wire.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- thin ioctl layer: one uapi struct, one ioctl, 0 or -errno ---- */

/* Open /dev/callbox. Returns an fd or -errno (-ENOENT: module not loaded). */
int callbox_open(void);
/* CALLBOX_SANDBOX_CREATE: returns the sandbox fd or -errno. */
int callbox_sandbox_create_fd(int dev_fd, int vm_fd, int vcpu_fd);
/*
 * The calls that run the guest (SYNC, RUN, BATCH) take @out in and out.
 * Zero it to ask for something new. After -EINTR (kvm_run.immediate_exit)
 * or -EOPNOTSUPP (a vCPU signal mask) @out names the call left parked:
 * clear the cause and call again with the same @out (and the same @ids,
 * *@done) to continue it, as <linux/callbox.h>'s "Signals and restarts"
 * says. Any other @out the kernel ignores.
 *
 * CALLBOX_CALL_SYNC: a new call, run to its end; 0 when it ended or
 * reached HOSTCALL (see @out).
 */
int callbox_call_sync_fd(int sandbox_fd, uint64_t deadline_ns,
			 struct callbox_call_info *out);
/* CALLBOX_CALL_SUBMIT: queue a call, its id in *@id. */
int callbox_call_submit_fd(int sandbox_fd, uint64_t deadline_ns,
			   uint64_t *id);
/* CALLBOX_CALL_RUN: run call @id (0: the current or oldest one), as SYNC. */
int callbox_call_run_fd(int sandbox_fd, uint64_t id, uint32_t flags,
			struct callbox_call_info *out);
/*
 * CALLBOX_CALL_BATCH: run the queued calls @ids[*@done] .. @ids[@nr - 1]
 * in order, in one ioctl, until one does not end EXITED. On return, also
 * on an error, *@done is the index of the call it stopped at (@nr when all
 * EXITED); @out is that call's outcome (the last's when all EXITED).
 */
int callbox_call_batch_fd(int sandbox_fd, const uint64_t *ids, uint32_t nr,
			  uint32_t *done, struct callbox_call_info *out);
/* CALLBOX_CALL_WAIT: wait for call @id to end and consume it. */
int callbox_call_wait_fd(int sandbox_fd, uint64_t id, uint64_t deadline_ns,
			 struct callbox_call_info *out);
/* CALLBOX_CALL_GET: the state of call @id now. */
int callbox_call_get_fd(int sandbox_fd, uint64_t id,
			struct callbox_call_info *out);
/* CALLBOX_CALL_CANCEL: 0 if this cancellation won, -EALREADY if not. */
int callbox_call_cancel_fd(int sandbox_fd, uint64_t id);
/*
 * CALLBOX_SANDBOX_RESET: the guest is back at its entry; queues its init
 * call, with deadline @deadline_ns (0: none), and puts its id in *@id.
 */
int callbox_sandbox_reset_fd(int sandbox_fd, uint64_t deadline_ns,
			     uint64_t *id);
/*
 * CALLBOX_SANDBOX_RESTORE, step @op (CALLBOX_RESTORE_BEGIN, _COMMIT or
 * _ABANDON): fence off calls while the guest is put back to a snapshot,
 * or one is taken. BEGIN puts the restore's id in *@id, and returns 1 if
 * the sandbox was poisoned, else 0; COMMIT and ABANDON end restore *@id
 * and return 0. -errno on error.
 */
int callbox_sandbox_restore_fd(int sandbox_fd, uint32_t op, uint64_t *id);
/* CALLBOX_SANDBOX_SHUTDOWN: end every call and unbind the vCPU now. */
int callbox_sandbox_shutdown_fd(int sandbox_fd);

/* The CLOCK_MONOTONIC time @ns nanoseconds from now, as a deadline. */
uint64_t callbox_deadline_after(uint64_t ns);

/**
 * callbox_describe_call() - explain a call's state in words
 * @call: from any of the calls above
 * @buf: where to write, always NUL-terminated
 * @len: size of @buf
 *
 * For example "exited with status 0", "cancelled (the guest never ran)" or
 * "guest accessed I/O port 0x3f8 outside the callbox ABI ...".
 */
void callbox_describe_call(const struct callbox_call_info *call, char *buf,
			   size_t len);

/* ---- host SDK ---- */

/* ---- host SDK ---- */

/* Defaults of &struct callbox_config (callbox_config_init()). */
#define CALLBOX_DEFAULT_MEM_SIZE	(4ull << 20)
#define CALLBOX_DEFAULT_MAX_CALLS	16u
#define CALLBOX_DEFAULT_LOG_LEVEL	CALLBOX_LOG_WARN
/* 30 s: the SDK's init takes milliseconds, even under emulation. */
#define CALLBOX_DEFAULT_INIT_TIMEOUT_NS	(30ull * 1000 * 1000 * 1000)
/* CALLBOX_DEFAULT_STACK_SIZE and CALLBOX_DEFAULT_IO_BUFFER: callbox/abi.h */

/**
 * struct callbox_config - how to build a sandbox
 * @mem_size: guest memory in bytes: a multiple of 2 MiB from 2 MiB to
 *	1 GiB (default CALLBOX_DEFAULT_MEM_SIZE). The guest image is loaded
 *	at 1 MiB, the stack grows down from the top, and the I/O buffers,
 *	(@max_calls + 1) * (@input_size + @output_size) bytes, lie below it.
 * @call_timeout_ns: deadline of each callbox_call(), from its start; 0
 *	(the default) for none. The kernel enforces it. It does not limit
 *	the guest's init (@init_timeout_ns does).
 * @log_level: the most verbose guest log level delivered, a
 *	CALLBOX_LOG_* value (callbox/abi.h), or 0 for none; default
 *	CALLBOX_DEFAULT_LOG_LEVEL. The guest drops messages above it without
 *	an exit.
 * @max_calls: how many calls may be outstanding (submitted and not yet
 *	collected) at once, 1 to CALLBOX_MAX_CALLS (the kernel's limit; a
 *	reset's init call has a place beyond it); 0 for the default,
 *	CALLBOX_DEFAULT_MAX_CALLS. Each has a pair of I/O buffers in guest
 *	memory.
 * @stack_size: the guest's stack, at the top of memory, a multiple of
 *	4 KiB from CALLBOX_STACK_MIN to CALLBOX_STACK_MAX (default
 *	CALLBOX_DEFAULT_STACK_SIZE). An unmapped guard page below it turns an
 *	overflow into a clear error.
 * @heap_size: the most the guest's heap (malloc) may take, from the end of
 *	the image up; 0 (the default) for everything up to the I/O buffers.
 *	A heap that does not fit fails the load with a clear error.
 * @input_size: the largest message of arguments into the guest (a call's
 *	arguments, a host function's result), in bytes: a multiple of 4 KiB
 *	from CALLBOX_IO_BUFFER_MIN to CALLBOX_IO_BUFFER_MAX; 0 for the
 *	default, CALLBOX_DEFAULT_IO_BUFFER. A string takes its length plus 6
 *	bytes, bytes their length plus 5, a bool 2, a 32-bit number 5, a
 *	64-bit one 9, void 1, and the message's header 12.
 * @output_size: the largest message out of the guest (a call's result, a
 *	host call's arguments), as for @input_size.
 * @init_timeout_ns: deadline of the guest's init, at the load and at each
 *	reset, from its start; 0 for the default,
 *	CALLBOX_DEFAULT_INIT_TIMEOUT_NS. Its own limit, so that a short
 *	@call_timeout_ns does not fail the load of a guest whose init takes
 *	longer than its calls, and an init that never ends still fails it.
 * @flags: CALLBOX_CONFIG_* bits; 0 (the default) for none
 * @reserved: room for later fields without breaking the library ABI;
 *	must be zero
 *
 * Initialise with callbox_config_init(), then change what you need.
 */
struct callbox_config {
	uint64_t mem_size;
	uint64_t call_timeout_ns;
	uint32_t log_level;
	uint32_t max_calls;
	uint64_t stack_size;
	uint64_t heap_size;
	uint64_t input_size;
	uint64_t output_size;
	uint64_t init_timeout_ns;
	uint64_t flags;
	uint64_t reserved[7];
};

/*
 * Every call runs on the guest as at its snapshot (once its init had
 * exited, or the last callbox_sandbox_snapshot()): before each call that
 * follows one that entered the guest, the library puts the guest back as
 * callbox_sandbox_restore() does. Nothing a request leaves in the guest
 * reaches the next, for the price of a restore a call. Calls go through
 * callbox_call() one at a time, each holding the sandbox from before its
 * request is written until its result is read, so no request is ever in
 * the guest with another; callbox_call_submit() fails with -EOPNOTSUPP
 * (a queued request would wait in guest memory).
 */
#define CALLBOX_CONFIG_FRESH_CALLS	(1ull << 0)
#define CALLBOX_CONFIG_FLAGS_MASK	CALLBOX_CONFIG_FRESH_CALLS

/* Fill @cfg with the defaults. */
void callbox_config_init(struct callbox_config *cfg);

/* The longest message an outcome carries, NUL included. */
#define CALLBOX_OUTCOME_MESSAGE_MAX	512

/**
 * struct callbox_outcome - how one libcallbox function went, in full
 * @error: what it returned: 0, or a negative errno
 * @call: the kernel's record of the call it made or waited for, if any
 *	(@call.id is 0 if it made none, e.g. arguments that did not match)
 * @message: "" on success, else one line naming the function and what
 *	went wrong, e.g. "add: call 7 aborted by the guest, which reports
 *	CPU exception #PF page fault at rip 0x100035, address 0x0"
 *
 * Owned by the caller: the functions that take one fill it for their
 * caller alone, whatever other threads do on the same sandbox.
 */
struct callbox_outcome {
	int error;
	struct callbox_call_info call;
	char message[CALLBOX_OUTCOME_MESSAGE_MAX];
};

struct callbox_sandbox;

/**
 * typedef callbox_host_fn - a host function the guest can call
 * @sb: the sandbox whose guest called
 * @args: the arguments, as many and of the types the signature declares
 *	(the library checked them); STRING and BYTES data point into guest
 *	memory, valid until the function returns. A STRING is NUL-terminated.
 * @result: where the result goes: one callbox_wire_put_*() of the
 *	declared type; nothing (or callbox_wire_put_void()) for void
 * @opaque: as given to callbox_sandbox_add_host_fn()
 *
 * Runs in the thread that runs the call, while the call is in HOSTCALL,
 * with the sandbox's run lock held: it must not run, wait for or reset
 * calls of its own sandbox, which would wait for itself. A long function
 * should check callbox_host_fn_cancelled() (or poll callbox_sandbox_fd()
 * for POLLPRI) and return early: a cancelled call ends ABORTED when it
 * returns, whatever it returns.
 *
 * Return: 0 on success; or an error code, never 0, that the guest's
 * callbox_call_host() returns, with a message set by
 * callbox_host_fn_fail(). Negative errno values are the convention.
 */
typedef int (*callbox_host_fn)(struct callbox_sandbox *sb,
			       const struct callbox_wire_value *args,
			       struct callbox_wire_writer *result,
			       void *opaque);

/**
 * typedef callbox_log_fn - where guest log messages go
 * @sb: the sandbox whose guest logged
 * @level: 1 (error) to 5 (trace), see CALLBOX_LOG_* in callbox/abi.h
 * @message: the message, NUL-terminated, with anything unprintable
 *	replaced by '?'
 * @opaque: as given to callbox_sandbox_set_log_fn()
 *
 * The default writes "callbox[FD] LEVEL: MESSAGE" to stderr, FD being
 * the sandbox fd.
 */
typedef void (*callbox_log_fn)(struct callbox_sandbox *sb, unsigned int level,
			       const char *message, void *opaque);

/* ---- the sandbox ---- */

/**
 * callbox_sandbox_new() - allocate an empty sandbox
 * @cfg: configuration, copied; NULL for the defaults (it is checked by
 *	callbox_sandbox_load())
 * @sb: where the new sandbox goes; NULL on failure
 *
 * Load a guest into it with callbox_sandbox_load().
 *
 * Return: 0, or -ENOMEM (or another errno from pthreads), with
 * callbox_sandbox_last_error(NULL) saying so.
 */
int callbox_sandbox_new(const struct callbox_config *cfg,
			struct callbox_sandbox **sb);

/**
 * callbox_sandbox_add_host_fn() - register a host function for the guest
 * @sb: a sandbox not loaded yet: the set is fixed from the load on
 * @name: the name the guest calls it by, 1 to 63 bytes of printable ASCII
 *	other than space
 * @signature: its types, e.g. "i64(i64, string)" or "void()": the result
 *	type (or void), then the parameter types in parentheses
 * @fn: the function
 * @opaque: passed to @fn
 *
 * The library checks each call's arguments against @signature before @fn
 * runs, and the guest sees a mismatch as error -EINVAL with a message.
 *
 * Return: 0, -EINVAL for a bad name or signature, -EEXIST if @name is
 * registered already, -EBUSY after the load, -ENOSPC past 256 host
 * functions, -ENOMEM.
 */
int callbox_sandbox_add_host_fn(struct callbox_sandbox *sb, const char *name,
				const char *signature, callbox_host_fn fn,
				void *opaque);

/**
 * callbox_log_level_name() - the name of a log level
 * @level: 0 (off) or a CALLBOX_LOG_* value
 *
 * Return: "off", "error", "warn", "info", "debug" or "trace"; NULL for
 * any other @level.
 */
const char *callbox_log_level_name(unsigned int level);

/* Send guest log messages to @fn instead of stderr; NULL restores that. */
void callbox_sandbox_set_log_fn(struct callbox_sandbox *sb, callbox_log_fn fn,
				void *opaque);

/**
 * callbox_sandbox_load() - create the micro-VM and boot a guest in it
 * @sb: a sandbox from callbox_sandbox_new(), not loaded yet
 * @guest_path: a static x86-64 ELF executable built with the guest SDK
 *
 * Checks the configuration, creates the VM and its vCPU, loads the ELF,
 * binds the vCPU to a callbox sandbox and runs the guest's init.
 *
 * Return: 0, or -errno: -EINVAL bad configuration, -ENOEXEC malformed
 * ELF, -E2BIG image does not fit, -ENOENT no /dev/kvm or /dev/callbox,
 * -EPROTO the guest speaks another ABI, its init failed or its export
 * table is malformed, -ECONNABORTED the guest aborted its init (e.g. an
 * export with a bad type tag), -EIO the guest crashed during init,
 * -ETIMEDOUT the init outlasted config.init_timeout_ns, -EALREADY already
 * loaded, -ENOMEM.
 */
int callbox_sandbox_load(struct callbox_sandbox *sb, const char *guest_path);

/**
 * callbox_sandbox_export() - describe one of the loaded guest's functions
 * @sb: a loaded sandbox
 * @index: from 0, in the order of the functions' names
 * @buf: where the signature goes, e.g. "i64 add(i64, i64)"; always
 *	NUL-terminated
 * @len: the size of @buf
 *
 * Return: 0, or -ENOENT when @index is past the last export.
 */
int callbox_sandbox_export(const struct callbox_sandbox *sb,
			   unsigned int index, char *buf, size_t len);

/**
 * callbox_sandbox_fd() - the sandbox fd, for poll/epoll
 *
 * POLLIN: a call has ended and waits to be consumed; POLLPRI: the current
 * host call's call was cancelled; POLLHUP: the sandbox shut down.
 */
int callbox_sandbox_fd(const struct callbox_sandbox *sb);

/**
 * callbox_sandbox_reset() - recover a poisoned sandbox
 *
 * Reloads the guest's memory and registers as they were at load, and
 * runs the guest's init again as the kernel's init call. Until that init
 * has succeeded, calls fail with -ENOTRECOVERABLE. Submitted calls, and
 * the results of ended calls not yet waited for, are kept. Only the pages
 * the guest wrote since the last reset are put back (KVM logs them), so a
 * reset costs what the guest wrote, not the size of its memory.
 *
 * Return: 0 or -errno.
 */
int callbox_sandbox_reset(struct callbox_sandbox *sb);

/**
 * callbox_sandbox_clone() - a new sandbox from @parent's snapshot
 * @parent: a loaded sandbox, not itself a clone
 * @child: where the new sandbox goes; NULL on error
 *
 * The clone starts as @parent's snapshot (the load's, or the last
 * callbox_sandbox_snapshot()'s), memory and vCPU, with @parent's config,
 * exports, host functions and log function; its init does not run. It
 * shares @parent's memory copy-on-write: a page is its own only once its
 * guest writes it, so N clones cost N times the pages they write, not N
 * times the memory, and no write of one is ever seen by another, or by
 * @parent. Calls, restores and snapshots of the clone are its own; it
 * cannot be reset (-EOPNOTSUPP: it has no image of its own, restore it),
 * nor cloned. It lives on when @parent is freed. Free it with
 * callbox_sandbox_free().
 *
 * Return: 0; -EOPNOTSUPP if @parent is a clone; -EBADF if it has no guest;
 * -EDEADLK from one of its host functions; -ENOMEM; or a KVM ioctl's
 * -errno, with @parent's callbox_sandbox_last_error() saying why.
 */
int callbox_sandbox_clone(struct callbox_sandbox *parent,
			  struct callbox_sandbox **child);

/**
 * callbox_sandbox_save() - write @sb's snapshot to the file @path
 *
 * The file holds what a sandbox needs to start as the snapshot in another
 * process, without the guest's ELF: the guest's layout (memory, stack,
 * heap and I/O sizes, max_calls, log level), its image as loaded, its
 * exports, the snapshot's memory and vCPU state, and the CPU it was taken
 * on. It is versioned and checksummed. Created with mode 0600, replaced
 * if it exists: written whole beside @path and renamed over it, so a file
 * already there is replaced whole, or left as it was if the save fails.
 * Calls may go on meanwhile.
 *
 * Return: 0; -EOPNOTSUPP for a clone (save the sandbox it was cloned
 * from); -EBADF if no guest is loaded; -EDEADLK from a host function of
 * this sandbox; -ENOMEM; or mkostemp()'s, write()'s (-ENOSPC, say),
 * fsync()'s and rename()'s -errno.
 */
int callbox_sandbox_save(struct callbox_sandbox *sb, const char *path);

/**
 * callbox_sandbox_load_snapshot() - load a snapshot file into a new sandbox
 * @sb: a sandbox from callbox_sandbox_new(), its host functions added,
 *	nothing loaded
 * @path: a file from callbox_sandbox_save()
 *
 * Instead of callbox_sandbox_load(): the guest starts as the snapshot,
 * and its init does not run. The guest's layout comes from the file;
 * timeouts, flags and the log function from @sb. Its memory maps the
 * snapshot copy-on-write, as a clone's does, but the sandbox has the
 * image too: it can be reset, snapshot, saved and cloned.
 *
 * Every byte of the file is checked before it is used: against its
 * checksum, which finds corruption, not tampering (it has no key), and
 * against a sandbox's limits, so no file crashes the process or leaves a
 * half-built sandbox; a crafted file can still hold a guest state that
 * fails when it runs. Return: 0;
 * -EINVAL if it is not a snapshot, of another format version, truncated
 * or inconsistent; -EBADMSG if corrupt (its checksum); -ENOEXEC if taken
 * on another CPU model; -EALREADY if @sb has a guest; -ENOMEM; or
 * open()'s, KVM's or the module's -errno. Each with
 * callbox_sandbox_last_error() naming the file and what is wrong with it;
 * on error @sb is as it was, and may load again.
 */
int callbox_sandbox_load_snapshot(struct callbox_sandbox *sb,
				  const char *path);

/**
 * callbox_sandbox_snapshot() - make the guest as it is now the restore point
 *
 * Takes the guest's memory (the pages that differ from the image as
 * loaded) and its whole vCPU state, at a call boundary: the kernel lets no
 * call enter the guest meanwhile (CALLBOX_SANDBOX_RESTORE fences it).
 * From then on callbox_sandbox_restore(), and every call with
 * CALLBOX_CONFIG_FRESH_CALLS, puts the guest back to this snapshot; a
 * reset still goes back to the image and runs the init. The load takes
 * the first snapshot, once the init has exited.
 *
 * Like a restore, it waits for a call another thread runs to end.
 *
 * Return: 0; -ENOTRECOVERABLE if the guest stopped in the middle of a
 * call (poisoned) or its last init failed; -EBUSY if the kernel has a
 * call current that the library does not run (the fd used directly);
 * -EDEADLK from a host function of this sandbox; -ENOMEM; or a KVM
 * ioctl's -errno. On error the restore point stays as it was.
 */
int callbox_sandbox_snapshot(struct callbox_sandbox *sb);

/**
 * callbox_sandbox_restore() - put the guest back to its snapshot
 *
 * The load takes a snapshot of the guest once its init has exited: every
 * page of memory it wrote, and the whole vCPU state;
 * callbox_sandbox_snapshot() takes another. A restore puts the last one
 * back, and zeroes or reloads the pages the guest wrote since, without
 * running the init again: a request can run on a clean guest, and its
 * state is thrown away after, for much less than a reset. Only the pages
 * written since the last reset or restore are touched, so a restore costs
 * what the guest wrote, not the size of its memory. Submitted calls, and
 * the results of ended calls not yet waited for, are kept.
 *
 * The mailbox slots and I/O buffers of outstanding calls stay as they
 * are (their requests, their results); those of free slots are zeroed.
 * The snapshot holds a copy of every page the init wrote.
 *
 * The kernel knows of it (CALLBOX_SANDBOX_RESTORE): no call can enter
 * the guest while it is half put back, and once the restore is complete
 * it lifts the poison of a call aborted in the middle of guest code, so a
 * restore brings an aborted sandbox back, as a reset does. If the restore
 * fails half way, calls fail with -ENOTRECOVERABLE until a reset or a
 * restore that succeeds. While another thread runs a call (its host
 * functions included), it waits for that call to end; it fails with
 * -EBUSY, touching nothing, only if the kernel has a call current that
 * the library does not run (the fd used directly). From a host function
 * of this sandbox it fails with -EDEADLK: the call that runs the host
 * function holds the sandbox.
 *
 * Return: 0 or -errno.
 */
int callbox_sandbox_restore(struct callbox_sandbox *sb);

/**
 * callbox_sandbox_last_error() - what went wrong, in words
 * @sb: the sandbox; NULL for callbox_sandbox_new()
 *
 * Return: the message of the calling thread's last libcallbox function on
 * @sb if it failed, else "". Other threads' calls never change it. Valid
 * until this thread's next libcallbox function.
 */
const char *callbox_sandbox_last_error(const struct callbox_sandbox *sb);

/**
 * callbox_sandbox_last_outcome() - how the calling thread's last
 *	libcallbox function on @sb went
 * @sb: the sandbox; NULL for callbox_sandbox_new()
 *
 * Return: its outcome, the kernel's record of its call included; an empty
 * outcome if this thread's last function was on another sandbox. Valid
 * until this thread's next libcallbox function.
 */
const struct callbox_outcome *
callbox_sandbox_last_outcome(const struct callbox_sandbox *sb);

/**
 * callbox_sandbox_free() - destroy a sandbox and its VM; NULL is allowed
 *
 * Shuts the kernel sandbox down first, so threads still waiting on its
 * calls get an answer (-ESHUTDOWN). No other thread may call into @sb
 * after this: stop runners with callbox_call_run_stop() and join them
 * first.
 */
void callbox_sandbox_free(struct callbox_sandbox *sb);

/* ---- calls ---- */

/**
 * callbox_call() - call a guest function and wait for its result
 * @sb: a loaded sandbox
 * @function: the function's name, as exported by the guest
 * @args: @nr_args typed arguments, e.g. (struct callbox_wire_value[]){
 *	CALLBOX_I32(5), CALLBOX_STRING("hello") }
 * @nr_args: at most CALLBOX_MAX_PARAMS (32)
 * @result: the function's result, one value of its declared type (VOID
 *	for none); may be NULL, and may be one of @args. Always written,
 *	last: the result, or an empty (VOID) value after a failure, so
 *	callbox_value_free() is safe on it whatever happens. A STRING or
 *	BYTES result is a copy the caller owns: release it with
 *	callbox_value_free(). A STRING result is NUL-terminated.
 *
 * The arguments are checked against the signature the guest published,
 * so a mismatch fails before the guest runs. Runs the call in this thread
 * (one ioctl unless the guest makes host calls), with the configured call
 * timeout. A malformed result from the guest is an error, never trusted.
 * callbox_sandbox_last_outcome() then has the call's full outcome.
 *
 * Return: 0 when the guest returned a value, or -errno:
 * -ENOENT the guest has no such function, -EINVAL the arguments do not
 * match its signature (or name too long), -E2BIG the arguments do not fit
 * the input buffer or the result the output buffer, -EREMOTEIO the
 * function failed (callbox_fail() in the guest), -EBADMSG the result in
 * guest memory is malformed or of the wrong type, -EPROTO the guest's
 * runtime found its function's result wrong, or answered outside the
 * ABI, -ETIMEDOUT the call's deadline passed, -ECANCELED cancelled,
 * -ECONNABORTED the guest aborted, -EIO the guest crashed (fault, bad
 * I/O, halt ...), -ENOTRECOVERABLE an earlier abort left the guest in an
 * unknown state (see callbox_sandbox_reset() and callbox_sandbox_restore()),
 * -EBUSY async calls are pending, -EAGAIN too many calls outstanding,
 * -ESHUTDOWN the sandbox was freed meanwhile, -ENOMEM.
 */
int callbox_call(struct callbox_sandbox *sb, const char *function,
		 const struct callbox_wire_value *args, unsigned int nr_args,
		 struct callbox_wire_value *result);

/**
 * callbox_call_int() - callbox_call() for functions of i64 only
 * @sb, @function: as for callbox_call()
 * @args: @nr_args i64 arguments
 * @nr_args: as for callbox_call()
 * @result: the i64 result; may be NULL, and may point into @args; always
 *	written, last: 0 unless the call succeeds
 *
 * Return: as for callbox_call(); -EINVAL also if the function's
 * signature is not all i64, its result included.
 */
int callbox_call_int(struct callbox_sandbox *sb, const char *function,
		     const int64_t *args, unsigned int nr_args,
		     int64_t *result);

/**
 * callbox_call_submit() - queue a call for a runner thread
 * @sb: a loaded sandbox
 * @function, @args, @nr_args: as for callbox_call(), checked the same way
 * @deadline_ns: absolute CLOCK_MONOTONIC deadline (see
 *	callbox_deadline_after()), 0 for none; the kernel enforces it from
 *	now on, whether or not a runner ever gets to the call
 * @id: the call's id
 *
 * Return: 0, -EAGAIN if config.max_calls calls are outstanding, -ENOENT,
 * -EINVAL, -E2BIG as for callbox_call(), -ESHUTDOWN; -EOPNOTSUPP with
 * CALLBOX_CONFIG_FRESH_CALLS.
 */
int callbox_call_submit(struct callbox_sandbox *sb, const char *function,
			const struct callbox_wire_value *args,
			unsigned int nr_args, uint64_t deadline_ns,
			uint64_t *id);

/**
 * callbox_call_run() - on a runner thread: run the oldest submitted call
 * @sb: the sandbox
 * @deadline_ns: wait for a call to be submitted until then; 0 to wait
 *	without limit
 *
 * Runs one call until it ends, serving its host calls. A call cancelled
 * before its turn is not entered. Its outcome goes to whoever waits for
 * it, with callbox_call_wait().
 *
 * Return: 0 after a call, -ETIME if none came before @deadline_ns,
 * -ESHUTDOWN after callbox_call_run_stop(), -ENOTRECOVERABLE if the
 * sandbox is poisoned (the call stays queued; reset or restore, and run
 * again).
 */
int callbox_call_run(struct callbox_sandbox *sb, uint64_t deadline_ns);

/**
 * callbox_call_run_all() - on a runner thread: run every submitted call
 * @sb: the sandbox
 * @deadline_ns: as for callbox_call_run()
 *
 * As callbox_call_run(), for every submitted call that waits for a runner
 * (up to CALLBOX_MAX_SLOTS), oldest first, back to back in one ioctl
 * (CALLBOX_CALL_BATCH): the kernel goes from one call's end to the next
 * call's start without coming back to userspace, except to serve a host
 * call. The guest finds each call's request through the mailbox's chain
 * (callbox/abi.h).
 *
 * Return: how many calls were taken (1 or more; a call cancelled before
 * its turn counts, though it was not entered), or as callbox_call_run().
 * When a call cannot be entered (a poisoned sandbox, say) after others
 * ran, they count, and it stays queued for the next run.
 */
int callbox_call_run_all(struct callbox_sandbox *sb, uint64_t deadline_ns);

/* Make callbox_call_run() return -ESHUTDOWN, now and from now on. */
void callbox_call_run_stop(struct callbox_sandbox *sb);

/**
 * callbox_call_wait() - wait for a submitted call and collect it
 * @sb: the sandbox
 * @id: from callbox_call_submit()
 * @deadline_ns: stop waiting then (the call goes on); 0 for no limit
 * @result: the function's result, as for callbox_call(); may be NULL
 * @outcome: the caller's own record of how the call went, the kernel's
 *	record and the message included; may be NULL
 *
 * Return: 0 if the guest returned a value; -ETIME if @deadline_ns passed
 * first (the call is not collected; wait again or cancel it); else the
 * call's failure as for callbox_call() (-ETIMEDOUT: the call's own
 * deadline ended it), or -ENOENT/-ESRCH for an unknown or already
 * collected id.
 */
int callbox_call_wait(struct callbox_sandbox *sb, uint64_t id,
		      uint64_t deadline_ns, struct callbox_wire_value *result,
		      struct callbox_outcome *outcome);

/* Cancel call @id: 0 if this cancellation won, -EALREADY if not. */
int callbox_call_cancel(struct callbox_sandbox *sb, uint64_t id);

/* The state of call @id now, without collecting it. */
int callbox_call_get(struct callbox_sandbox *sb, uint64_t id,
		     struct callbox_call_info *info);

/* ---- host functions ---- */

/**
 * callbox_host_fn_fail() - fail a host function, with a message
 * @sb: the sandbox the host function runs for
 * @error: the error code, not 0, that the guest sees
 * @fmt: printf-style; the guest sees at most CALLBOX_ERROR_MESSAGE_MAX - 1
 *	bytes of it through callbox_host_error()
 *
 * For use inside a &typedef callbox_host_fn: return callbox_host_fn_fail(
 * sb, -EDOM, "division by zero");
 *
 * Return: @error.
 */
int callbox_host_fn_fail(struct callbox_sandbox *sb, int error,
			 const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * callbox_host_fn_cancelled() - for a host function: should it stop?
 *
 * Return: true if the call that made the current host call has been
 * cancelled (or its deadline passed); it will end ABORTED.
 */
bool callbox_host_fn_cancelled(struct callbox_sandbox *sb);

/* ---- values ---- */

/* Free the data of a STRING or BYTES result, and empty @v. */
void callbox_value_free(struct callbox_wire_value *v);

/* Flags of callbox_value_parse(): what it may read besides @text. */
#define CALLBOX_VALUE_READ_FILES	(1u << 0)	/* bytes:@FILE */
#define CALLBOX_VALUE_READ_STDIN	(1u << 1)	/* bytes:@- */

/**
 * callbox_value_parse() - a typed value from its text, TYPE:VALUE
 * @text: e.g. "i32:-5", "u64:0xff", "f64:1.5", "bool:true", "str:hi",
 *	"bytes:hex:00ff", "bytes:@FILE" (the file's contents), "bytes:@-"
 *	(all of standard input), or a plain integer, taken as i64. Types:
 *	i32 u32 i64 u64 f32 f64 bool str (or string) bytes. Integers are
 *	decimal, 0x hex or 0 octal, and must fit their type; floats are
 *	strtod()'s (inf, nan and hex included) and must fit theirs.
 * @flags: 0, or CALLBOX_VALUE_READ_FILES to allow bytes:@FILE, and
 *	CALLBOX_VALUE_READ_STDIN to allow bytes:@-, which reads stdin to its
 *	end (so a caller that parses several values should allow it once).
 *	Nothing else is ever read; a file named "-" is bytes:@./-.
 * @v: the value, emptied first; a STRING or BYTES value's data is a copy
 *	to release with callbox_value_free()
 * @err: a one-line message when it fails, e.g. "3000000000 is out of
 *	range for i32 (-2147483648 to 2147483647)"; it quotes at most
 *	@text, so strlen(@text) + 256 bytes always hold it whole
 * @errlen: the size of @err; the message is truncated to fit
 *
 * A file or stdin is read whole, up to CALLBOX_IO_BUFFER_MAX bytes, the
 * most any message into the guest can hold.
 *
 * Return: 0, or -EINVAL (malformed, out of range), -EPERM (a file or
 * stdin that @flags do not allow), -ENOENT and others from opening a
 * file, -EIO reading it, -E2BIG a file too large, -ENOMEM.
 */
int callbox_value_parse(const char *text, unsigned int flags,
			struct callbox_wire_value *v, char *err, size_t errlen);

/**
 * callbox_value_format() - a typed value as text, as the CLI prints it
 * @v: the value
 * @buf: where the text goes, always NUL-terminated (truncated if needed)
 * @len: the size of @buf
 *
 * Numbers in decimal, floats to the precision that reads back the same
 * value, bool as true/false, a string as itself, bytes in hex, void as "".
 *
 * Return: the length of the whole text, as snprintf() does.
 */
size_t callbox_value_format(const struct callbox_wire_value *v, char *buf,
			    size_t len);

/* ---- inspection: every sandbox, its calls, and their events ---- */

/*
 * These read the kernel's "callbox" generic netlink family
 * (linux/callbox_netlink.h), through libnl, so they see the sandboxes of
 * every process, not only the caller's. A caller without CAP_SYS_ADMIN sees
 * the sandboxes whose owner has its uid, and cannot monitor events. Each
 * function uses a netlink socket of its own, so any thread may call them;
 * one &struct callbox_monitor is for one thread at a time.
 *
 * Every function that can fail returns a negative errno, and describes
 * the failure, the kernel's own words (extended ack) included, in
 * callbox_inspect_last_error(). The errors of them all: -EPROTONOSUPPORT
 * the family is not registered (callbox.ko is not loaded, or too old to
 * have it), -ENOMEM, and any errno of the netlink socket or the kernel.
 */

/* Name the numbers these structs carry; NULL for a number with no name. */
/* "QUEUED", "ENTERED", "HOSTCALL", "EXITED", "ABORTED" */
const char *callbox_call_state_name(uint32_t state);
/* "none", "guest_abort", "deadline", "cancelled" ...: the enum's name */
const char *callbox_abort_reason_name(uint32_t reason);
/*
 * "idle", "running", "poisoned", "shutdown", "restoring"
 * (CALLBOX_NL_SANDBOX_*)
 */
const char *callbox_sandbox_state_name(uint32_t state);

/* The most changes of state of one call a &struct callbox_call_status holds. */
#define CALLBOX_CALL_TRANSITIONS_MAX	8

/**
 * struct callbox_transition - a state a call entered, and when
 * @state: an &enum callbox_call_state
 * @reserved: zero
 * @time_ns: when, on the CLOCK_MONOTONIC clock
 */
struct callbox_transition {
	uint32_t state;
	uint32_t reserved;
	uint64_t time_ns;
};

/**
 * struct callbox_call_status - one call, as the kernel shows it
 * @id: its id, unique within its sandbox
 * @state: an &enum callbox_call_state
 * @reason: an &enum callbox_abort_reason, when @state is ABORTED
 * @flags: CALLBOX_CALL_GUEST_RAN and the other &enum callbox_call_info_flags
 * @runner_tid: the thread running it in KVM_RUN, in the caller's pid
 *	namespace; 0 if none (QUEUED, parked, ended)
 * @age_ns: time since it was queued; for an ended call, its whole life
 * @deadline_left_ns: time left until its deadline, 0 if it has passed;
 *	-1 if it has none, or has ended
 * @nr_transitions: the entries of @transitions
 * @transitions_total: how many changes of state the call went through,
 *	the first (to QUEUED) included. If more than @nr_transitions, the
 *	entries are the first @nr_transitions - 1 and the last one.
 * @transitions: the states it entered, oldest first
 * @reserved: zero
 */
struct callbox_call_status {
	uint64_t id;
	uint32_t state;
	uint32_t reason;
	uint32_t flags;
	int32_t runner_tid;
	uint64_t age_ns;
	int64_t deadline_left_ns;
	uint32_t nr_transitions;
	uint32_t transitions_total;
	struct callbox_transition transitions[CALLBOX_CALL_TRANSITIONS_MAX];
	uint64_t reserved[4];
};

/**
 * struct callbox_sandbox_status - one sandbox, as the kernel shows it
 * @id: the kernel's id of the sandbox, never reused while callbox.ko is
 *	loaded (not its fd)
 * @owner_pid: the process that created it, in the caller's pid namespace;
 *	0 if it is not visible there
 * @owner_uid: the creator's effective uid, in the caller's user namespace
 *	((uint32_t)-1 if the kernel did not say)
 * @state: CALLBOX_NL_SANDBOX_IDLE, _RUNNING (a call is ENTERED or in
 *	HOSTCALL), _POISONED (calls are refused until a reset), _SHUTDOWN or
 *	_RESTORING (a restore is putting it back; calls are refused until
 *	it ends)
 * @reserved0: zero
 * @age_ns: time since it was created
 * @nr_calls: calls made on it, init calls included
 * @nr_exited: its calls that ended EXITED
 * @nr_aborted: its calls that ended ABORTED
 * @current_call: the id of its call that is ENTERED or in HOSTCALL; 0 if
 *	none
 * @nr_live: the entries of @live
 * @live: every call not yet collected, oldest first (callbox_inspect_get()
 *	only; NULL from callbox_inspect_list())
 * @nr_recent: the entries of @recent
 * @recent: the last calls that ended (up to CALLBOX_NL_RECENT_CALLS),
 *	oldest first, with their transitions (callbox_inspect_get() only)
 * @reserved: zero
 */
struct callbox_sandbox_status {
	uint64_t id;
	uint32_t owner_pid;
	uint32_t owner_uid;
	uint32_t state;
	uint32_t reserved0;
	uint64_t age_ns;
	uint64_t nr_calls;
	uint64_t nr_exited;
	uint64_t nr_aborted;
	uint64_t current_call;
	size_t nr_live;
	struct callbox_call_status *live;
	size_t nr_recent;
	struct callbox_call_status *recent;
	uint64_t reserved[4];
};

/**
 * callbox_inspect_list() - every sandbox the caller may see
 * @list: where the array goes, in the order of their ids; free it with
 *	callbox_inspect_free(). NULL (and @count 0) on failure.
 * @count: its entries; 0 if there are no sandboxes (@list is then an
 *	empty array, still to be freed)
 *
 * One snapshot of each sandbox, without its calls. If sandboxes come or
 * go while the kernel lists them, the list is taken again, a few times.
 *
 * Return: 0, or -errno: -EAGAIN if sandboxes kept coming and going.
 */
int callbox_inspect_list(struct callbox_sandbox_status **list, size_t *count);

/**
 * callbox_inspect_get() - one sandbox, with its live and recent calls
 * @id: the sandbox's id (&callbox_sandbox_status.id)
 * @status: where it goes; free it with callbox_inspect_free(@status, 1).
 *	NULL on failure.
 *
 * Return: 0, or -errno: -ENOENT no sandbox @id that the caller may see.
 */
int callbox_inspect_get(uint64_t id, struct callbox_sandbox_status **status);

/* Free what callbox_inspect_list() or _get() made; NULL is allowed. */
void callbox_inspect_free(struct callbox_sandbox_status *status,
			  size_t count);

/**
 * callbox_inspect_last_error() - what went wrong, in words
 *
 * Return: the message of the calling thread's last callbox_inspect_*()
 * or callbox_monitor_*() function if it failed, else "". Valid until this
 * thread's next such function.
 */
const char *callbox_inspect_last_error(void);

/**
 * struct callbox_event - one event of the kernel's "events" group
 * @type: CALLBOX_NL_EVENT_SANDBOX_CREATE, _SANDBOX_SHUTDOWN,
 *	_CALL_TRANSITION or _LOST
 * @owner_uid: the sandbox owner's uid, in the initial user namespace (the
 *	kernel sends one message to every listener); (uint32_t)-1 if the
 *	event has none
 * @sandbox_id: the sandbox; 0 for a LOST event
 * @call_id: the call that changed state; 0 if not a CALL_TRANSITION
 * @from: the state the call left; 0 for a new call, which enters QUEUED
 * @to: the state it entered
 * @reason: an &enum callbox_abort_reason, when @to is ABORTED
 * @flags: the call's &enum callbox_call_info_flags after the change
 * @time_ns: when, on the CLOCK_MONOTONIC clock; 0 for an overflow of the
 *	monitor's own socket
 * @lost: for a LOST event, how many events were dropped; 0 if unknown
 *	(the monitor's socket overflowed because it was read too slowly)
 * @reserved: zero
 */
struct callbox_event {
	uint32_t type;
	uint32_t owner_uid;
	uint64_t sandbox_id;
	uint64_t call_id;
	uint32_t from;
	uint32_t to;
	uint32_t reason;
	uint32_t flags;
	uint64_t time_ns;
	uint64_t lost;
	uint64_t reserved[4];
};

struct callbox_monitor;

/**
 * callbox_monitor_open() - subscribe to the kernel's callbox events
 * @monitor: the new monitor, for callbox_monitor_close(); NULL on failure
 *
 * Joins the family's "events" group: from now on every sandbox created
 * or shut down, and every change of state of every call, is an event.
 *
 * Return: 0, or -errno: -EPERM the caller lacks CAP_SYS_ADMIN, which the
 * group needs; -EPROTONOSUPPORT as for every inspection function.
 */
int callbox_monitor_open(struct callbox_monitor **monitor);

/* Its file descriptor, non-blocking: POLLIN when events may be waiting. */
int callbox_monitor_fd(const struct callbox_monitor *monitor);

/**
 * callbox_monitor_read() - the next event, without blocking
 * @monitor: from callbox_monitor_open()
 * @event: where the event goes; zeroed if there is none
 *
 * Events come in the order the kernel sent them. If some were dropped, a
 * LOST event takes their place: the kernel's, when its queue of events
 * was full, or the monitor's own (@event->lost 0), when the socket's
 * buffer was, because the monitor was read too slowly. What follows a
 * LOST event happened after the loss: a reader that keeps state can
 * take it afresh (callbox_inspect_list()) then. One read from the socket
 * may bring several events, which are kept: read until -EAGAIN before
 * polling callbox_monitor_fd() again.
 *
 * Return: 0 with an event, -EAGAIN if none is waiting, or another -errno.
 */
int callbox_monitor_read(struct callbox_monitor *monitor,
			 struct callbox_event *event);

/* Leave the group and free @monitor; NULL is allowed. */
void callbox_monitor_close(struct callbox_monitor *monitor);

#ifdef __cplusplus
}
#endif

#endif /* CALLBOX_CALLBOX_H */
