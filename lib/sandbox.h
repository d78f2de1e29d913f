/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * libcallbox's private view of a sandbox: the struct, who may touch which
 * part of it when, and the functions its files share. The public API is
 * callbox/callbox.h; nothing here is exported.
 *
 * Locks, outermost first:
 *   run_lock  held by the one thread that runs a call, from writing the
 *             mailbox's slot index to reading the call's outcome, while
 *             it serves the call's host calls, and across a reset. It
 *             owns the mailbox's shared parts (slot index, host call,
 *             log, fault record) and the guest while it is stopped.
 *   lock      guards the slot table and the runners' wakeup (slots[],
 *             stopping, the condition variable). Never held across an
 *             ioctl that can block.
 * Everything else is written before the guest is loaded, or by load and
 * reset alone, and read without a lock afterwards (the config, the VM,
 * the export table, the host functions).
 *
 * The kernel owns every call's state; this library only keeps what the
 * kernel does not know: which slot holds each call's request and result,
 * and which submitted calls no runner has picked up yet.
 */
#ifndef CALLBOX_LIB_SANDBOX_H
#define CALLBOX_LIB_SANDBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <callbox/abi.h>
#include <callbox/callbox.h>

#include "signature.h"
#include "snapshot.h"
#include "vm.h"

/* More would be a table of names nobody can keep in their head. */
#define SANDBOX_MAX_HOST_FNS	256

/*
 * What a guest abort left in the mailbox, copied by the runner as the
 * call ended: the mailbox has one of each, which the next abort (or a
 * reset) overwrites, while the call's owner may read its outcome later.
 */
struct sandbox_abort {
	struct callbox_fault fault;
	char message[CALLBOX_ABORT_MESSAGE_MAX];
};

/**
 * struct sandbox_slot - one mailbox slot and the call that holds it
 * @used: a call holds the slot, from its request until its outcome was
 *	collected
 * @id: the kernel's id of a submitted call, 0 for a sync call
 * @started: a runner has picked the submitted call up
 * @ret_type: the result type its function's export declares
 * @abort: what a guest abort of the call left, kept by its runner
 * @function: the function's name, for messages
 *
 * Guarded by &callbox_sandbox.lock, except @abort, which the runner
 * writes under run_lock before it lets go and the owner reads after.
 */
struct sandbox_slot {
	bool used;
	uint64_t id;
	bool started;
	/*
	 * A put-back left its mailbox entry and buffers as the call had
	 * them, for it: they are zeroed when it is freed, so that the next
	 * call in the slot finds nothing of it.
	 */
	bool kept;
	uint8_t ret_type;
	struct sandbox_abort abort;
	char function[CALLBOX_FUNCTION_NAME_MAX];
};

/* A guest function, as the guest published it at init and we checked. */
struct sandbox_export {
	char name[CALLBOX_FUNCTION_NAME_MAX];
	struct callbox_signature sig;
};

struct sandbox_host_fn {
	char name[CALLBOX_FUNCTION_NAME_MAX];
	struct callbox_signature sig;
	callbox_host_fn fn;
	void *opaque;
};

struct callbox_sandbox {
	/* Set by new and load (and host functions before the load). */
	struct callbox_config cfg;
	struct callbox_vm vm;
	int sandbox_fd;
	uint64_t entry;
	void *boot_image;	/* guest memory below image_end, as loaded */
	bool clone;		/* boot_image maps a template (clone.c) */
	struct sandbox_memory memory;	/* snapshot.c */
	uint64_t image_end;
	uint64_t io_base;
	struct sandbox_export *exports;
	unsigned int nr_exports;
	struct sandbox_host_fn *host_fns;
	unsigned int nr_host_fns;
	callbox_log_fn log_fn;
	void *log_opaque;

	pthread_mutex_t lock;
	pthread_cond_t submitted;	/* a call was submitted, or stop */
	struct sandbox_slot slots[CALLBOX_MAX_SLOTS];
	bool stopping;

	pthread_mutex_t run_lock;
	uint64_t hostcall_id;	/* the call in HOSTCALL, for host functions */
	char host_fn_error[CALLBOX_ERROR_MESSAGE_MAX];
	bool ready;		/* the guest's last init succeeded */
};

/* outcome.c: what a call's end, or a failure, means, in words */
int sandbox_fail(const struct callbox_sandbox *sb, int ret,
		 const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void sandbox_begin(const struct callbox_sandbox *sb);
void sandbox_set_call(const struct callbox_sandbox *sb,
		      const struct callbox_call_info *call);
int sandbox_run_error(const struct callbox_sandbox *sb, const char *what,
		      int ret);
int sandbox_check_outcome(const struct callbox_sandbox *sb, const char *what,
			  uint64_t id, const struct callbox_call_info *c);
void sandbox_note_abort(struct callbox_sandbox *sb,
			const struct callbox_call_info *c,
			struct sandbox_abort *abort);
int sandbox_outcome(struct callbox_sandbox *sb, const char *what,
		    const struct callbox_call_info *c, int slot,
		    const struct sandbox_abort *abort,
		    struct callbox_wire_value *result);
void sandbox_guest_string(const char *src, size_t max, char *buf,
			  size_t len);

/* config.c */
int sandbox_check_config(struct callbox_sandbox *sb);

/*
 * sandbox.c: take run_lock for @what; -EDEADLK (with the message) from a
 * host function of this sandbox, whose call holds it.
 */
int sandbox_run_lock(struct callbox_sandbox *sb, const char *what);

/* slot.c: the slot table, under sb->lock */
int sandbox_slot_alloc_locked(struct callbox_sandbox *sb);
void sandbox_slot_free(struct callbox_sandbox *sb, int slot);
int sandbox_slot_find_locked(struct callbox_sandbox *sb, uint64_t id);
int sandbox_slot_next_locked(struct callbox_sandbox *sb);

/* message.c: typed values in guest memory */
struct callbox_mailbox *sandbox_mailbox(struct callbox_sandbox *sb);
void *sandbox_io_input(struct callbox_sandbox *sb, uint32_t index);
void *sandbox_io_output(struct callbox_sandbox *sb, uint32_t index);
uint32_t sandbox_hostcall_index(struct callbox_sandbox *sb);
int sandbox_request(struct callbox_sandbox *sb, const char *function,
		    const struct sandbox_export *e,
		    const struct callbox_wire_value *args,
		    unsigned int nr_args);
int sandbox_read_result(struct callbox_sandbox *sb, const char *what,
			int slot, struct callbox_wire_value *result);
void sandbox_guest_failure(struct callbox_sandbox *sb, int slot, char *buf,
			   size_t len);

/* boot.c: undo a load that failed half way; the sandbox is as new. */
void sandbox_unload(struct callbox_sandbox *sb);

/* exports.c */
int sandbox_read_exports(struct callbox_sandbox *sb);
/* Check and take @n exports from @table (hostile), @what failing if not. */
int sandbox_set_exports(struct callbox_sandbox *sb,
			const struct callbox_export_desc *table, uint32_t n,
			const char *what);
const struct sandbox_export *sandbox_find_export(struct callbox_sandbox *sb,
						 const char *name);

/* host_fn.c and log.c: serving the guest's host calls */
int sandbox_serve_host_calls(struct callbox_sandbox *sb,
			     struct callbox_call_info *c);
void sandbox_deliver_log(struct callbox_sandbox *sb);

/* boot.c */
void sandbox_end_call(struct callbox_sandbox *sb, uint64_t id);
void sandbox_abandon_call(struct callbox_sandbox *sb, uint64_t id);

/* call.c */
int sandbox_prepare_call(struct callbox_sandbox *sb, const char *what);

#endif /* CALLBOX_LIB_SANDBOX_H */
