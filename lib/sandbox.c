// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * libcallbox: the host SDK's sandbox. A micro-VM with one guest loaded,
 * whose calls run through callbox.ko.
 *
 * The kernel owns every call's state; this file never guesses it. It only
 * keeps what the kernel does not know: which mailbox slot holds each
 * call's request and result (callbox/abi.h), and which submitted calls a
 * runner has not picked up yet. A result is read from its slot only after
 * the kernel said EXITED, and a slot is reused only after its call was
 * consumed, so no result can be read that its own call did not write.
 *
 * Typed values travel as wire-format messages (callbox/wire.h) in the I/O
 * buffers (callbox/abi.h). Every message the guest writes is decoded as
 * hostile input: a malformed one is an error with a message, and the
 * values handed to the caller are copies or point at memory the guest
 * cannot change while they are used (it is stopped during a host call).
 *
 * Locks: @lock guards the slot and record tables and is never held across
 * an ioctl that can block. @run_lock is held by the one thread that runs a
 * call (it writes mailbox->slot, then enters the guest) and across reset.
 * When both are held, @run_lock is taken first.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>

#include <callbox/abi.h>
#include <callbox/callbox.h>

#include "elf.h"
#include "layout.h"
#include "signature.h"
#include "vm.h"

#define CALLBOX_DEFAULT_MAX_CALLS	16
/* The kernel's limit; a reset's init call has a place beyond it. */
#define SANDBOX_MAX_CALLS		CALLBOX_MAX_CALLS
/* More would be a table of names nobody can keep in their head. */
#define SANDBOX_MAX_HOST_FNS		256

/* A call submitted through the library, until it is consumed. */
struct sandbox_record {
	uint64_t id;		/* 0: free */
	uint32_t slot;
	bool started;		/* a runner has picked it up */
	char function[CALLBOX_FUNCTION_NAME_MAX];	/* for messages */
};

/*
 * What a guest abort left in the mailbox, copied by the runner as the call
 * ended: the mailbox has one of each, which the next abort (or a reset)
 * overwrites, while the call's owner may read its outcome much later.
 */
struct sandbox_abort {
	struct callbox_fault fault;
	char message[CALLBOX_ABORT_MESSAGE_MAX];
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
	struct callbox_config cfg;
	struct callbox_vm vm;
	int sandbox_fd;
	uint64_t entry;
	void *boot_image;	/* guest memory below image_end, as loaded */
	uint64_t image_end;
	uint64_t io_base;
	struct sandbox_export *exports;
	unsigned int nr_exports;
	struct sandbox_host_fn *host_fns;
	unsigned int nr_host_fns;
	char host_fn_error[CALLBOX_ERROR_MESSAGE_MAX];
	callbox_log_fn log_fn;
	void *log_opaque;

	pthread_mutex_t lock;
	pthread_cond_t submitted;
	uint64_t slots_used;	/* bit i: slot i belongs to a call */
	/* The result type of each slot's call, as its export declares it. */
	uint8_t slot_ret_type[CALLBOX_MAX_SLOTS];
	/* How each slot's call aborted, if the guest aborted it. */
	struct sandbox_abort slot_abort[CALLBOX_MAX_SLOTS];
	struct sandbox_record records[CALLBOX_MAX_SLOTS];
	bool stopping;

	pthread_mutex_t run_lock;
	uint64_t hostcall_id;	/* the call in HOSTCALL, for host functions */
	bool ready;		/* the guest's last init succeeded */

	struct callbox_call_info last_call;
	char last_error[512];
};

static int sandbox_fail(struct callbox_sandbox *sb, int ret,
			const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sb->last_error, sizeof(sb->last_error), fmt, ap);
	va_end(ap);
	return ret;
}

void callbox_config_init(struct callbox_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_size = CALLBOX_DEFAULT_MEM_SIZE;
	cfg->log_level = CALLBOX_LOG_WARN;
	cfg->stack_size = CALLBOX_DEFAULT_STACK_SIZE;
	cfg->max_calls = CALLBOX_DEFAULT_MAX_CALLS;
	cfg->input_size = CALLBOX_DEFAULT_IO_BUFFER;
	cfg->output_size = CALLBOX_DEFAULT_IO_BUFFER;
}

struct callbox_sandbox *callbox_sandbox_new(const struct callbox_config *cfg)
{
	struct callbox_sandbox *sb = calloc(1, sizeof(*sb));
	pthread_condattr_t attr;

	if (!sb)
		return NULL;
	if (cfg)
		sb->cfg = *cfg;
	else
		callbox_config_init(&sb->cfg);
	callbox_vm_init(&sb->vm);
	sb->sandbox_fd = -1;
	pthread_mutex_init(&sb->lock, NULL);
	pthread_mutex_init(&sb->run_lock, NULL);
	/* Deadlines are CLOCK_MONOTONIC, like the kernel's. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&sb->submitted, &attr);
	pthread_condattr_destroy(&attr);
	return sb;
}

int callbox_sandbox_add_host_fn(struct callbox_sandbox *sb, const char *name,
				const char *signature, callbox_host_fn fn,
				void *opaque)
{
	struct sandbox_host_fn *h, *fns;
	char err[256];
	size_t len, i;
	int ret;

	sb->last_error[0] = '\0';
	/* Runners read the table without a lock: it is fixed from the load on. */
	if (sb->vm.vm_fd >= 0)
		return sandbox_fail(sb, -EBUSY,
				    "host function %s: register host functions before callbox_sandbox_load()",
				    name);
	len = strlen(name);
	if (!len || len >= CALLBOX_FUNCTION_NAME_MAX)
		return sandbox_fail(sb, -EINVAL,
				    "host function name '%.64s' is not 1 to %d bytes long",
				    name, CALLBOX_FUNCTION_NAME_MAX - 1);
	for (i = 0; i < len; i++) {
		if (name[i] <= ' ' || name[i] >= 0x7f)
			return sandbox_fail(sb, -EINVAL,
					    "host function name '%s': byte %zu is not printable ASCII",
					    name, i);
	}
	if (!fn)
		return sandbox_fail(sb, -EINVAL, "host function %s: no function",
				    name);
	for (i = 0; i < sb->nr_host_fns; i++) {
		if (!strcmp(sb->host_fns[i].name, name))
			return sandbox_fail(sb, -EEXIST,
					    "host function %s is registered already",
					    name);
	}
	if (sb->nr_host_fns == SANDBOX_MAX_HOST_FNS)
		return sandbox_fail(sb, -ENOSPC,
				    "host function %s: %d are registered already, the most there may be",
				    name, SANDBOX_MAX_HOST_FNS);

	fns = realloc(sb->host_fns, (sb->nr_host_fns + 1) * sizeof(*fns));
	if (!fns)
		return sandbox_fail(sb, -ENOMEM, "out of memory");
	sb->host_fns = fns;
	h = &fns[sb->nr_host_fns];
	memset(h, 0, sizeof(*h));
	ret = callbox_signature_parse(signature, &h->sig, err, sizeof(err));
	if (ret)
		return sandbox_fail(sb, ret, "host function %s: %s", name, err);
	memcpy(h->name, name, len + 1);
	h->fn = fn;
	h->opaque = opaque;
	sb->nr_host_fns++;
	return 0;
}

int callbox_host_fn_fail(struct callbox_sandbox *sb, int error,
			 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sb->host_fn_error, sizeof(sb->host_fn_error), fmt, ap);
	va_end(ap);
	return error;
}

void callbox_sandbox_set_log_fn(struct callbox_sandbox *sb, callbox_log_fn fn,
				void *opaque)
{
	sb->log_fn = fn;
	sb->log_opaque = opaque;
}

int callbox_sandbox_fd(const struct callbox_sandbox *sb)
{
	return sb->sandbox_fd;
}

static struct callbox_mailbox *sandbox_mailbox(struct callbox_sandbox *sb)
{
	return (struct callbox_mailbox *)((char *)sb->vm.mem +
					  CALLBOX_GPA_MAILBOX);
}

static bool sandbox_io_size_ok(uint64_t size)
{
	return size >= CALLBOX_IO_BUFFER_MIN && size <= CALLBOX_IO_BUFFER_MAX &&
	       !(size % CALLBOX_IO_BUFFER_MIN);
}

static int sandbox_check_config(struct callbox_sandbox *sb)
{
	uint64_t guard, io_size;
	char err[256];
	size_t i;
	int ret;

	for (i = 0; i < sizeof(sb->cfg.reserved) / sizeof(sb->cfg.reserved[0]);
	     i++) {
		if (sb->cfg.reserved[i])
			return sandbox_fail(sb, -EINVAL,
					    "config: reserved field %zu is not zero (use callbox_config_init())",
					    i);
	}
	/* 0 in a field added after reserved ones were zeroed: the default. */
	if (!sb->cfg.max_calls)
		sb->cfg.max_calls = CALLBOX_DEFAULT_MAX_CALLS;
	if (!sb->cfg.input_size)
		sb->cfg.input_size = CALLBOX_DEFAULT_IO_BUFFER;
	if (!sb->cfg.output_size)
		sb->cfg.output_size = CALLBOX_DEFAULT_IO_BUFFER;
	if (sb->cfg.max_calls > SANDBOX_MAX_CALLS)
		return sandbox_fail(sb, -EINVAL,
				    "config: max_calls %u is not 1 to %d",
				    sb->cfg.max_calls, SANDBOX_MAX_CALLS);
	if (!sandbox_io_size_ok(sb->cfg.input_size))
		return sandbox_fail(sb, -EINVAL,
				    "config: input buffer size %" PRIu64 " bytes is not a multiple of 4 KiB from %llu KiB to %llu MiB",
				    sb->cfg.input_size, CALLBOX_IO_BUFFER_MIN >> 10,
				    CALLBOX_IO_BUFFER_MAX >> 20);
	if (!sandbox_io_size_ok(sb->cfg.output_size))
		return sandbox_fail(sb, -EINVAL,
				    "config: output buffer size %" PRIu64 " bytes is not a multiple of 4 KiB from %llu KiB to %llu MiB",
				    sb->cfg.output_size, CALLBOX_IO_BUFFER_MIN >> 10,
				    CALLBOX_IO_BUFFER_MAX >> 20);
	if (sb->cfg.log_level > CALLBOX_LOG_TRACE)
		return sandbox_fail(sb, -EINVAL,
				    "config: log level %u is not 0 (none) to %u (trace)",
				    sb->cfg.log_level, CALLBOX_LOG_TRACE);
	ret = callbox_layout_check(sb->cfg.mem_size, sb->cfg.stack_size, err,
				   sizeof(err));
	if (ret)
		return sandbox_fail(sb, ret, "config: %s", err);
	/* The I/O area, below the guard page, leaves a page for an image. */
	guard = CALLBOX_STACK_GUARD(sb->cfg.mem_size, sb->cfg.stack_size);
	io_size = callbox_io_size(sb->cfg.input_size, sb->cfg.output_size,
				  sb->cfg.max_calls);
	if (io_size > guard - CALLBOX_GPA_IMAGE_MIN - 0x1000)
		return sandbox_fail(sb, -EINVAL,
				    "config: %u calls' I/O buffers of %" PRIu64 " + %" PRIu64 " KiB (%" PRIu64 " KiB in all) leave no room for the image in %" PRIu64 " MiB of memory",
				    sb->cfg.max_calls, sb->cfg.input_size >> 10,
				    sb->cfg.output_size >> 10, io_size >> 10,
				    sb->cfg.mem_size >> 20);
	sb->io_base = guard - io_size;
	return 0;
}

/* ---- slots and records, under sb->lock ---- */

static int sandbox_slot_alloc_locked(struct callbox_sandbox *sb)
{
	int i;

	for (i = 0; i < (int)sb->cfg.max_calls; i++) {
		if (!(sb->slots_used & (1ull << i))) {
			sb->slots_used |= 1ull << i;
			return i;
		}
	}
	return -EAGAIN;
}

static void sandbox_slot_free_locked(struct callbox_sandbox *sb, int slot)
{
	sb->slots_used &= ~(1ull << slot);
}

static struct sandbox_record *
sandbox_record_find_locked(struct callbox_sandbox *sb, uint64_t id)
{
	int i;

	for (i = 0; i < CALLBOX_MAX_SLOTS; i++) {
		if (sb->records[i].id == id)
			return &sb->records[i];
	}
	return NULL;
}

/* The oldest submitted call no runner has picked up yet. */
static struct sandbox_record *
sandbox_record_next_locked(struct callbox_sandbox *sb)
{
	struct sandbox_record *next = NULL;
	int i;

	for (i = 0; i < CALLBOX_MAX_SLOTS; i++) {
		struct sandbox_record *r = &sb->records[i];

		if (r->id && !r->started && (!next || r->id < next->id))
			next = r;
	}
	return next;
}

/* ---- typed values in guest memory ---- */

static void *sandbox_io_input(struct callbox_sandbox *sb, uint32_t index)
{
	return (char *)sb->vm.mem +
	       callbox_io_input(sb->io_base, sb->cfg.input_size,
				sb->cfg.output_size, index);
}

static void *sandbox_io_output(struct callbox_sandbox *sb, uint32_t index)
{
	return (char *)sb->vm.mem +
	       callbox_io_output(sb->io_base, sb->cfg.input_size,
				 sb->cfg.output_size, index);
}

/* The pair of I/O buffers of host calls comes after the slots'. */
static uint32_t sandbox_hostcall_index(struct callbox_sandbox *sb)
{
	return sb->cfg.max_calls;
}

static int sandbox_export_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sandbox_export *)a)->name,
		      ((const struct sandbox_export *)b)->name);
}

/* The exports are sorted by name (sandbox_read_exports()). */
static const struct sandbox_export *
sandbox_find_export(struct callbox_sandbox *sb, const char *name)
{
	struct sandbox_export key;
	size_t len = strlen(name);

	if (len >= sizeof(key.name) || !sb->nr_exports)
		return NULL;
	memcpy(key.name, name, len + 1);
	return bsearch(&key, sb->exports, sb->nr_exports, sizeof(key),
		       sandbox_export_cmp);
}

int callbox_sandbox_export(const struct callbox_sandbox *sb,
			   unsigned int index, char *buf, size_t len)
{
	if (index >= sb->nr_exports) {
		if (len)
			buf[0] = '\0';
		return -ENOENT;
	}
	callbox_signature_format(&sb->exports[index].sig,
				 sb->exports[index].name, buf, len);
	return 0;
}

/*
 * Encode @args as a message into @buf. Returns 0, or -errno with @what
 * (the function's name) and the reason in @err.
 */
static int sandbox_encode(void *buf, uint64_t size, const char *what,
			  const struct callbox_wire_value *args,
			  unsigned int nr_args, char *err, size_t errlen)
{
	struct callbox_wire_writer w;
	unsigned int i;
	int ret;

	callbox_wire_writer_init(&w, buf, size);
	for (i = 0; i < nr_args; i++) {
		ret = callbox_wire_put_value(&w, &args[i]);
		if (ret == -CALLBOX_WIRE_E2BIG) {
			snprintf(err, errlen,
				 "%s: the arguments do not fit the %" PRIu64 "-byte buffer (they run past it at argument %u)",
				 what, size, i + 1);
			return -E2BIG;
		}
		if (ret) {
			snprintf(err, errlen,
				 "%s: argument %u is not a valid %s (a NUL inside a string, or no data)",
				 what, i + 1, callbox_wire_type_name(args[i].type));
			return -EINVAL;
		}
	}
	ret = (int)callbox_wire_writer_finish(&w);
	if (ret < 0) {
		snprintf(err, errlen, "%s: the %" PRIu64 "-byte buffer cannot hold a message",
			 what, size);
		return -E2BIG;
	}
	return 0;
}

/*
 * Copy the message in the guest buffer @buf of @size bytes out of guest
 * memory, to decode the copy: while we decode, the guest may run another
 * call on another thread and rewrite the buffer, and what has been checked
 * must be what is used. Its header is read once; a header that does not
 * hold up gets just itself copied, for the decoder to reject with the
 * reason. Returns the copy, to be freed, and its length in @len.
 */
static uint8_t *sandbox_copy_message(const void *buf, uint64_t size,
				     uint32_t *len)
{
	struct callbox_wire_reader r;
	uint8_t *copy;

	*len = callbox_wire_reader_init(&r, buf, size) ?
	       CALLBOX_WIRE_HEADER_SIZE : r.length;
	copy = malloc(*len);
	if (copy)
		memcpy(copy, buf, *len);
	return copy;
}

/*
 * Decode a result message copied out of guest memory, which is hostile:
 * exactly one value, of type @type. STRING and BYTES data stay in @buf.
 * @buffer_size is the size of the guest buffer, for the message. Returns
 * 0, or -EBADMSG with the reason in @err.
 */
static int sandbox_decode_result(const void *buf, uint64_t size,
				 uint64_t buffer_size, uint8_t type,
				 const char *what,
				 struct callbox_wire_value *v, char *err,
				 size_t errlen)
{
	struct callbox_wire_value extra;
	struct callbox_wire_reader r;
	int ret;

	ret = callbox_wire_reader_init(&r, buf, size);
	if (!ret) {
		ret = callbox_wire_next(&r, v);
		if (ret == 0) {
			snprintf(err, errlen, "%s: the guest's result message holds no value",
				 what);
			return -EBADMSG;
		}
	}
	if (ret == 1) {
		ret = callbox_wire_next(&r, &extra);
		if (ret == 1) {
			snprintf(err, errlen, "%s: the guest's result message holds %u values, not one",
				 what, r.count);
			return -EBADMSG;
		}
	}
	if (ret < 0) {
		snprintf(err, errlen,
			 "%s: malformed result from the guest: %s (value %" PRIu64 ", at offset %" PRIu32 " of the %" PRIu64 "-byte buffer)",
			 what, r.err, r.err_value, r.err_offset, buffer_size);
		return -EBADMSG;
	}
	if (v->type != type) {
		snprintf(err, errlen, "%s: the guest returned %s, but the function is declared to return %s",
			 what, callbox_wire_type_name(v->type),
			 callbox_wire_type_name(type));
		return -EBADMSG;
	}
	return 0;
}

/*
 * Check a call against the guest's exports and write its request into a
 * fresh slot. Returns the slot or -errno.
 */
static int sandbox_request(struct callbox_sandbox *sb, const char *function,
			   const struct callbox_wire_value *args,
			   unsigned int nr_args)
{
	const struct sandbox_export *e;
	struct callbox_slot *slot;
	char err[512];
	size_t len;
	int i, ret;

	if (sb->sandbox_fd < 0)
		return sandbox_fail(sb, -EBADF, "no guest loaded");
	len = strlen(function);
	if (len >= CALLBOX_FUNCTION_NAME_MAX)
		return sandbox_fail(sb, -EINVAL,
				    "function name '%.32s...' is longer than %d bytes",
				    function, CALLBOX_FUNCTION_NAME_MAX - 1);
	e = sandbox_find_export(sb, function);
	if (!e)
		return sandbox_fail(sb, -ENOENT,
				    "the guest has no function named '%s'",
				    function);
	ret = callbox_signature_check(&e->sig, function, args, nr_args, err,
				      sizeof(err));
	if (ret)
		return sandbox_fail(sb, ret, "%s", err);

	pthread_mutex_lock(&sb->lock);
	i = sandbox_slot_alloc_locked(sb);
	pthread_mutex_unlock(&sb->lock);
	if (i < 0)
		return sandbox_fail(sb, i, "%s: %u calls are outstanding already (config max_calls)",
				    function, sb->cfg.max_calls);

	ret = sandbox_encode(sandbox_io_input(sb, i), sb->cfg.input_size,
			     function, args, nr_args, err, sizeof(err));
	if (ret) {
		pthread_mutex_lock(&sb->lock);
		sandbox_slot_free_locked(sb, i);
		pthread_mutex_unlock(&sb->lock);
		return sandbox_fail(sb, ret, "%s", err);
	}
	slot = &sandbox_mailbox(sb)->slots[i];
	memset(slot, 0, sizeof(*slot));
	memcpy(slot->function, function, len);
	/* No earlier call's result or message may pass for this call's. */
	memset(sandbox_io_output(sb, i), 0, CALLBOX_WIRE_HEADER_SIZE);
	memset(&sb->slot_abort[i], 0, sizeof(sb->slot_abort[i]));
	sb->slot_ret_type[i] = e->sig.ret_type;
	return i;
}

/* ---- outcomes ---- */

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
	if (name)
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

/*
 * A string from guest memory, so hostile: copy at most @max - 1 bytes of
 * it (and what fits @buf), stop at a NUL, and show anything unprintable
 * as '?'.
 */
static void sandbox_guest_string(const char *src, size_t max, char *buf,
				 size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len && i + 1 < max && src[i]; i++)
		buf[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	buf[i] = '\0';
}

/*
 * Keep what a guest abort left in the mailbox with the call's slot (-1:
 * the init call, whose outcome is read at once). Called with run_lock
 * held, by the runner that saw the call end, before the guest runs again.
 */
static void sandbox_note_abort(struct callbox_sandbox *sb, int slot,
			       const struct callbox_call_info *c,
			       struct sandbox_abort *init_abort)
{
	const struct callbox_mailbox *mb = sandbox_mailbox(sb);
	struct sandbox_abort *a = slot >= 0 ? &sb->slot_abort[slot] : init_abort;

	if (c->state != CALLBOX_STATE_ABORTED ||
	    c->reason != CALLBOX_ABORT_GUEST_ABORT)
		return;
	memcpy(&a->fault, &mb->fault, sizeof(a->fault));
	/* Sanitised now: the mailbox's copy is gone by the time it is shown. */
	sandbox_guest_string(mb->abort_message, sizeof(mb->abort_message),
			     a->message, sizeof(a->message));
}

static const char *const log_level_names[] = {
	[CALLBOX_LOG_ERROR] = "error", [CALLBOX_LOG_WARN] = "warn",
	[CALLBOX_LOG_INFO] = "info", [CALLBOX_LOG_DEBUG] = "debug",
	[CALLBOX_LOG_TRACE] = "trace",
};

/* Hand the guest's log record to the log callback, if its level passes. */
static void sandbox_deliver_log(struct callbox_sandbox *sb)
{
	const struct callbox_log_record *rec = &sandbox_mailbox(sb)->log;
	char message[CALLBOX_LOG_MESSAGE_MAX];
	uint32_t level = rec->level;

	/* The guest filters too, but the threshold is the host's. */
	if (level < CALLBOX_LOG_ERROR || level > sb->cfg.log_level)
		return;
	sandbox_guest_string(rec->message, CALLBOX_LOG_MESSAGE_MAX, message,
			     sizeof(message));
	if (sb->log_fn)
		sb->log_fn(sb, level, message, sb->log_opaque);
	else
		fprintf(stderr, "callbox[%d] %s: %s\n", sb->sandbox_fd,
			log_level_names[level], message);
}

/*
 * The message a guest leaves in the output buffer when it fails a call:
 * a message with one STRING, which is hostile like all of guest memory.
 */
static void sandbox_guest_failure(struct callbox_sandbox *sb, int slot,
				  char *buf, size_t len)
{
	struct callbox_wire_value v;
	uint8_t *msg;
	uint32_t n;
	char err[256];

	msg = sandbox_copy_message(sandbox_io_output(sb, slot),
				   sb->cfg.output_size, &n);
	if (!msg || sandbox_decode_result(msg, n, sb->cfg.output_size,
					  CALLBOX_WIRE_STRING, "", &v, err,
					  sizeof(err)))
		snprintf(buf, len, "(the guest left no readable message)");
	else
		sandbox_guest_string((const char *)v.data, (size_t)v.len + 1,
				     buf, len);
	free(msg);
}

/*
 * Hand the decoded @v to the caller. A STRING or BYTES result keeps @msg,
 * the private copy of the message it lies in: its data moves to the
 * front, with a NUL after it (a value's data starts at least 17 bytes in,
 * so there is room). Returns true if @msg now belongs to @result.
 */
static bool sandbox_take_result(uint8_t *msg,
				const struct callbox_wire_value *v,
				struct callbox_wire_value *result)
{
	*result = *v;
	if (v->type != CALLBOX_WIRE_STRING && v->type != CALLBOX_WIRE_BYTES)
		return false;
	memmove(msg, v->data, v->len);
	msg[v->len] = '\0';
	result->data = msg;
	return true;
}

void callbox_value_free(struct callbox_wire_value *v)
{
	if (v->type == CALLBOX_WIRE_STRING || v->type == CALLBOX_WIRE_BYTES)
		free((void *)v->data);
	v->data = NULL;
	v->len = 0;
}

/*
 * Turn a call's final outcome into 0 or -errno, with a message. The
 * result is read from the slot only when the kernel says EXITED, and
 * only the slot's own output buffer is read, as hostile input.
 */
static int sandbox_outcome(struct callbox_sandbox *sb, const char *what,
			   const struct callbox_call_info *c, int slot,
			   const struct sandbox_abort *abort,
			   struct callbox_wire_value *result)
{
	static const struct sandbox_abort unknown_abort;
	char message[CALLBOX_ABORT_MESSAGE_MAX];
	struct callbox_wire_value v;
	char outcome[512];
	int ret;

	if (!abort)
		abort = &unknown_abort;
	if (c->state == CALLBOX_STATE_EXITED && slot < 0)
		return sandbox_fail(sb, -EPROTO, "%s: the call's slot is unknown",
				    what);
	if (c->state == CALLBOX_STATE_EXITED) {
		if (c->status == CALLBOX_STATUS_OK) {
			uint8_t *msg;
			uint32_t n;

			msg = sandbox_copy_message(sandbox_io_output(sb, slot),
						   sb->cfg.output_size, &n);
			if (!msg)
				return sandbox_fail(sb, -ENOMEM,
						    "%s: out of memory", what);
			ret = sandbox_decode_result(msg, n, sb->cfg.output_size,
						    sb->slot_ret_type[slot],
						    what, &v, outcome,
						    sizeof(outcome));
			if (ret)
				ret = sandbox_fail(sb, ret, "%s", outcome);
			else if (result && sandbox_take_result(msg, &v, result))
				msg = NULL;
			free(msg);
			return ret;
		}
		sandbox_guest_failure(sb, slot, message, sizeof(message));
		switch (c->status) {
		case CALLBOX_STATUS_FAILED:
			/* The function's own failure, in its own words. */
			return sandbox_fail(sb, -EREMOTEIO, "%s: %s", what,
					    message);
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

	callbox_describe_call(c, outcome, sizeof(outcome));
	switch (c->reason) {
	case CALLBOX_ABORT_CANCELLED:
		return sandbox_fail(sb, -ECANCELED, "%s: call %" PRIu64 " %s",
				    what, (uint64_t)c->id, outcome);
	case CALLBOX_ABORT_DEADLINE:
		return sandbox_fail(sb, -ETIMEDOUT, "%s: call %" PRIu64 " %s",
				    what, (uint64_t)c->id, outcome);
	case CALLBOX_ABORT_SANDBOX_CLOSED:
		return sandbox_fail(sb, -ESHUTDOWN, "%s: call %" PRIu64 ": %s",
				    what, (uint64_t)c->id, outcome);
	case CALLBOX_ABORT_GUEST_ABORT:
		/*
		 * The kernel saw the guest write an abort code; anything more
		 * is the guest's own account, and is worded as such.
		 */
		if (c->detail == CALLBOX_GUEST_ABORT_EXCEPTION) {
			sandbox_describe_fault(sb, &abort->fault, outcome,
					       sizeof(outcome));
			return sandbox_fail(sb, -EIO,
					    "%s: call %" PRIu64 " aborted by the guest, which reports %s",
					    what, (uint64_t)c->id, outcome);
		}
		snprintf(message, sizeof(message), "%s", abort->message);
		if (c->detail == CALLBOX_GUEST_ABORT_HEAP)
			return sandbox_fail(sb, -EIO,
					    "%s: call %" PRIu64 " aborted by the guest, which reports that its heap is corrupted: %s",
					    what, (uint64_t)c->id, message);
		return sandbox_fail(sb, -ECONNABORTED,
				    "%s: call %" PRIu64 " aborted: %s%s%s", what,
				    (uint64_t)c->id, outcome,
				    message[0] ? "; its message: " : "",
				    message);
	case CALLBOX_ABORT_KILLED:
		return sandbox_fail(sb, -EINTR, "%s: call %" PRIu64 ": %s",
				    what, (uint64_t)c->id, outcome);
	default:
		return sandbox_fail(sb, -EIO, "%s: call %" PRIu64 " aborted: %s",
				    what, (uint64_t)c->id, outcome);
	}
}

static int sandbox_run_error(struct callbox_sandbox *sb, const char *what,
			     int ret)
{
	if (ret == -ENOTRECOVERABLE)
		return sandbox_fail(sb, ret,
				    "%s: an earlier call stopped inside the guest, so its state is unknown; reset the sandbox",
				    what);
	return sandbox_fail(sb, ret, "%s: %s", what, strerror(-ret));
}

/* Answer the guest's host call with an error it can read. */
static int sandbox_hostcall_error(struct callbox_sandbox *sb, int error,
				  const char *fmt, ...)
{
	struct callbox_hostcall *hc = &sandbox_mailbox(sb)->hostcall;
	va_list ap;

	hc->error = error;
	va_start(ap, fmt);
	vsnprintf(hc->message, sizeof(hc->message), fmt, ap);
	va_end(ap);
	return error;
}

/*
 * Run the host function the guest asked for (CALLBOX_HOSTCALL_FUNCTION).
 * The request is guest memory, so hostile: the name is copied and
 * bounded, the arguments decoded as a hostile message and checked against
 * the signature. The guest is stopped meanwhile, so the values the host
 * function gets cannot change under it.
 */
static int sandbox_host_call(struct callbox_sandbox *sb, uint64_t call_id)
{
	struct callbox_hostcall *hc = &sandbox_mailbox(sb)->hostcall;
	struct callbox_wire_value args[CALLBOX_WIRE_MAX_VALUES];
	uint32_t index = sandbox_hostcall_index(sb);
	char name[CALLBOX_FUNCTION_NAME_MAX];
	const struct sandbox_host_fn *h = NULL;
	struct callbox_wire_writer w;
	struct callbox_wire_reader r;
	unsigned int i, n = 0;
	char err[512];
	int ret;

	/* One copy, which is what is checked and looked up. */
	memcpy(name, hc->function, sizeof(name));
	if (!memchr(name, '\0', sizeof(name)))
		return sandbox_hostcall_error(sb, -EINVAL,
					      "host function name not NUL-terminated within %zu bytes",
					      sizeof(name));
	for (i = 0; i < sb->nr_host_fns && !h; i++)
		if (!strcmp(sb->host_fns[i].name, name))
			h = &sb->host_fns[i];
	/* Not found, it is only shown: registered names are printable. */
	if (!h)
		sandbox_guest_string(name, sizeof(name), name, sizeof(name));
	if (!h)
		return sandbox_hostcall_error(sb, -ENOENT,
					      "no host function named '%s'",
					      name);

	ret = callbox_wire_reader_init(&r, sandbox_io_output(sb, index),
				       sb->cfg.output_size);
	while (!ret && (ret = callbox_wire_next(&r, &args[n])) == 1)
		n++;
	if (ret < 0)
		return sandbox_hostcall_error(sb, -EBADMSG,
					      "%s: malformed arguments: %s (value %" PRIu64 ", at offset %" PRIu32 ")",
					      name, r.err, r.err_value,
					      r.err_offset);
	ret = callbox_signature_check(&h->sig, name, args, n, err,
				      sizeof(err));
	if (ret)
		return sandbox_hostcall_error(sb, ret, "%s", err);

	callbox_wire_writer_init(&w, sandbox_io_input(sb, index),
				 sb->cfg.input_size);
	sb->host_fn_error[0] = '\0';
	sb->hostcall_id = call_id;
	ret = h->fn(sb, args, &w, h->opaque);
	sb->hostcall_id = 0;
	if (ret)
		return sandbox_hostcall_error(sb, ret, "%s",
					      sb->host_fn_error[0] ?
					      sb->host_fn_error :
					      "the host function failed");

	if (!w.error && !w.count && h->sig.ret_type == CALLBOX_WIRE_VOID)
		callbox_wire_put_void(&w);
	if (callbox_wire_writer_finish(&w) < 0) {
		if (w.error == -CALLBOX_WIRE_E2BIG)
			return sandbox_hostcall_error(sb, -E2BIG,
						      "%s: the result does not fit the guest's %" PRIu64 "-byte input buffer",
						      name, sb->cfg.input_size);
		return sandbox_hostcall_error(sb, -EPROTO,
					      "%s: the host function put an invalid value",
					      name);
	}
	/* The first value's tag follows the header. */
	if (w.count != 1 ||
	    w.buf[CALLBOX_WIRE_HEADER_SIZE] != h->sig.ret_type)
		return sandbox_hostcall_error(sb, -EPROTO,
					      "%s: the host function returned %u values, not one %s",
					      name, w.count,
					      callbox_wire_type_name(h->sig.ret_type));
	hc->error = 0;
	hc->message[0] = '\0';
	return 0;
}

/*
 * Is @c, an outcome the kernel returned for call @id, really about that
 * call? The kernel promises it; a mismatch would mean reading buffers the
 * call never wrote, so it is checked rather than trusted.
 */
static int sandbox_check_outcome(struct callbox_sandbox *sb, const char *what,
				 uint64_t id,
				 const struct callbox_call_info *c)
{
	if (c->id == id)
		return 0;
	return sandbox_fail(sb, -EPROTO,
			    "%s: the kernel answered for call %" PRIu64 ", not call %" PRIu64,
			    what, (uint64_t)c->id, id);
}

/*
 * Serve host calls until the call ends: @c holds a HOSTCALL outcome on
 * entry while the guest waits. Called with run_lock held.
 */
static int sandbox_serve_host_calls(struct callbox_sandbox *sb,
				    struct callbox_call_info *c)
{
	uint64_t id;
	int ret;

	while (c->state == CALLBOX_STATE_HOSTCALL) {
		if (c->status == CALLBOX_HOSTCALL_LOG)
			sandbox_deliver_log(sb);
		else if (c->status == CALLBOX_HOSTCALL_FUNCTION)
			sandbox_host_call(sb, c->id);
		else
			sandbox_hostcall_error(sb, -ENOSYS,
					       "unknown host call number 0x%" PRIx32,
					       c->status);
		id = c->id;
		ret = callbox_call_run_fd(sb->sandbox_fd, id, 0, c);
		if (ret)
			return sandbox_run_error(sb, "continuing after a host call",
						 ret);
		ret = sandbox_check_outcome(sb, "host call", id, c);
		if (ret)
			return ret;
	}
	return 0;
}

bool callbox_host_call_cancelled(struct callbox_sandbox *sb)
{
	struct callbox_call_info c;

	if (!sb->hostcall_id ||
	    callbox_call_get_fd(sb->sandbox_fd, sb->hostcall_id, &c))
		return false;
	return c.flags & CALLBOX_CALL_CANCEL_PENDING;
}

/* ---- loading and the init call ---- */

/*
 * Take the exports the guest published during its init call: their
 * number from the mailbox, the table from the host call's output buffer.
 * All of it is hostile; a bad entry fails the load, so that no call is
 * ever checked against a signature we could not read.
 */
static int sandbox_read_exports(struct callbox_sandbox *sb)
{
	const struct callbox_export_desc *table =
		sandbox_io_output(sb, sandbox_hostcall_index(sb));
	uint64_t room = sb->cfg.output_size / sizeof(*table);
	uint32_t n = sandbox_mailbox(sb)->nr_exports;
	struct callbox_export_desc desc;
	struct sandbox_export *exports;
	char err[256];
	uint32_t i;
	int ret;

	if (n > room || n > CALLBOX_MAX_EXPORTS)
		return sandbox_fail(sb, -EPROTO,
				    "guest init: the guest claims %" PRIu32 " exports, more than the %" PRIu64 " that fit its table",
				    n, room < CALLBOX_MAX_EXPORTS ? room :
				    CALLBOX_MAX_EXPORTS);
	exports = calloc(n ? n : 1, sizeof(*exports));
	if (!exports)
		return sandbox_fail(sb, -ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		memcpy(&desc, &table[i], sizeof(desc));
		ret = callbox_signature_from_desc(&desc, &exports[i].sig,
						  exports[i].name, err,
						  sizeof(err));
		if (ret) {
			free(exports);
			return sandbox_fail(sb, ret,
					    "guest init: export %" PRIu32 " is malformed: %s",
					    i + 1, err);
		}
	}
	/* By name, so that listings do not depend on the guest's link order. */
	qsort(exports, n, sizeof(*exports), sandbox_export_cmp);
	for (i = 1; i < n; i++) {
		if (!strcmp(exports[i - 1].name, exports[i].name)) {
			ret = sandbox_fail(sb, -EPROTO,
					   "guest init: the guest exports %s twice",
					   exports[i].name);
			free(exports);
			return ret;
		}
	}
	free(sb->exports);
	sb->exports = exports;
	sb->nr_exports = n;
	return 0;
}

/*
 * End and consume call @id, which this thread started and cannot finish
 * (a failure of its own): cancel it, continue it once if it waits in a
 * host call (it then ends at once), and collect it. Best effort: the
 * failure that led here is what the caller reports.
 */
static void sandbox_abandon_call(struct callbox_sandbox *sb, uint64_t id)
{
	struct callbox_call_info c;

	callbox_call_cancel_fd(sb->sandbox_fd, id);
	if (!callbox_call_get_fd(sb->sandbox_fd, id, &c) &&
	    c.state == CALLBOX_STATE_HOSTCALL)
		callbox_call_run_fd(sb->sandbox_fd, id, 0, &c);
	callbox_call_wait_fd(sb->sandbox_fd, id, 0, &c);
}

/*
 * Run the guest's init (the first call after boot) to its end. It is the
 * init call of a CALLBOX_SANDBOX_RESET, so the kernel runs no other call
 * until it has exited, and poisons the sandbox if it does not: whatever
 * happens to it (a cancel, its deadline), no call can enter a guest that
 * is still at its boot entry.
 */
static int sandbox_init_call(struct callbox_sandbox *sb)
{
	struct callbox_call_info *c = &sb->last_call;
	struct sandbox_abort abort = { 0 };
	uint64_t deadline = 0, id = 0;
	int ret;

	sb->ready = false;
	/* A guest whose init never ends must not hang the load, or a reset. */
	if (sb->cfg.call_timeout_ns)
		deadline = callbox_deadline_after(sb->cfg.call_timeout_ns);
	ret = callbox_sandbox_reset_fd(sb->sandbox_fd, deadline, &id);
	if (ret)
		return sandbox_fail(sb, ret, "CALLBOX_SANDBOX_RESET: %s",
				    strerror(-ret));
	ret = callbox_call_run_fd(sb->sandbox_fd, id, 0, c);
	if (ret)
		ret = sandbox_run_error(sb, "guest init", ret);
	if (!ret)
		ret = sandbox_check_outcome(sb, "guest init", id, c);
	/* The guest's init may log, or call host functions. */
	if (!ret)
		ret = sandbox_serve_host_calls(sb, c);
	if (ret) {
		sandbox_abandon_call(sb, id);
		return ret;
	}
	ret = callbox_call_wait_fd(sb->sandbox_fd, id, 0, c);
	if (ret)
		return sandbox_run_error(sb, "guest init", ret);
	ret = sandbox_check_outcome(sb, "guest init", id, c);
	if (ret)
		return ret;

	sandbox_note_abort(sb, -1, c, &abort);
	if (c->state != CALLBOX_STATE_EXITED)
		return sandbox_outcome(sb, "guest init", c, -1, &abort, NULL);
	if (c->status == CALLBOX_STATUS_BAD_ABI)
		return sandbox_fail(sb, -EPROTO,
				    "guest init: the guest was built for another callbox ABI (host speaks version %u)",
				    CALLBOX_ABI_VERSION);
	if (c->status != CALLBOX_STATUS_OK)
		return sandbox_fail(sb, -EPROTO,
				    "guest init failed with status %" PRIu32,
				    c->status);
	sb->ready = true;
	return 0;
}

static int sandbox_boot(struct callbox_sandbox *sb, const char *guest_path)
{
	struct callbox_mailbox *mb;
	char err[256];
	size_t size;
	void *image;
	int dev_fd;
	int ret;

	ret = callbox_read_file(guest_path, &image, &size, err, sizeof(err));
	if (ret)
		return sandbox_fail(sb, ret, "%s", err);

	ret = callbox_vm_create(&sb->vm, sb->cfg.mem_size, err, sizeof(err));
	if (ret) {
		free(image);
		return sandbox_fail(sb, ret, "creating the VM: %s", err);
	}

	callbox_layout_build(sb->vm.mem, sb->vm.mem_size, sb->cfg.stack_size);
	mb = sandbox_mailbox(sb);
	mb->log_level = sb->cfg.log_level;
	mb->heap_size = sb->cfg.heap_size;
	mb->nr_slots = sb->cfg.max_calls;
	mb->io_base = sb->io_base;
	mb->input_size = (uint32_t)sb->cfg.input_size;
	mb->output_size = (uint32_t)sb->cfg.output_size;
	/* The image must end below the I/O area. */
	ret = callbox_elf_load(image, size, sb->vm.mem, sb->io_base,
			       CALLBOX_GPA_IMAGE_MIN, &sb->entry, &sb->image_end,
			       err, sizeof(err));
	free(image);
	if (ret)
		return sandbox_fail(sb, ret, "%s: %s", guest_path, err);
	if (sb->cfg.heap_size > sb->io_base - sb->image_end)
		return sandbox_fail(sb, -EINVAL,
				    "config: a %" PRIu64 " KiB heap does not fit: %s leaves %" PRIu64 " KiB between its image and the I/O buffers",
				    sb->cfg.heap_size >> 10, guest_path,
				    (sb->io_base - sb->image_end) >> 10);

	/* What callbox_sandbox_reset() restores. */
	sb->boot_image = malloc(sb->image_end);
	if (!sb->boot_image)
		return sandbox_fail(sb, -ENOMEM, "out of memory");
	memcpy(sb->boot_image, sb->vm.mem, sb->image_end);

	ret = callbox_vm_boot_regs(&sb->vm, sb->entry, err, sizeof(err));
	if (ret)
		return sandbox_fail(sb, ret, "setting up the vCPU: %s", err);

	dev_fd = callbox_open();
	if (dev_fd < 0)
		return sandbox_fail(sb, dev_fd,
				    "open /dev/callbox: %s (is callbox.ko loaded?)",
				    strerror(-dev_fd));
	ret = callbox_sandbox_create_fd(dev_fd, sb->vm.vm_fd, sb->vm.vcpu_fd);
	close(dev_fd);
	if (ret < 0)
		return sandbox_fail(sb, ret, "CALLBOX_SANDBOX_CREATE: %s",
				    strerror(-ret));
	sb->sandbox_fd = ret;

	ret = sandbox_init_call(sb);
	if (ret)
		return ret;
	/*
	 * Only here, not after a reset's init call: the same image publishes
	 * the same table, and callers check calls against it without a lock.
	 */
	return sandbox_read_exports(sb);
}

int callbox_sandbox_load(struct callbox_sandbox *sb, const char *guest_path)
{
	int ret;

	sb->last_error[0] = '\0';
	if (sb->vm.vm_fd >= 0)
		return sandbox_fail(sb, -EALREADY,
				    "a guest is already loaded in this sandbox");
	ret = sandbox_check_config(sb);
	if (ret)
		return ret;

	ret = sandbox_boot(sb, guest_path);
	if (ret) {
		if (sb->sandbox_fd >= 0)
			close(sb->sandbox_fd);
		sb->sandbox_fd = -1;
		free(sb->boot_image);
		sb->boot_image = NULL;
		callbox_vm_destroy(&sb->vm);
	}
	return ret;
}

int callbox_sandbox_reset(struct callbox_sandbox *sb)
{
	const size_t hdr_end = CALLBOX_GPA_MAILBOX +
			       offsetof(struct callbox_mailbox, slots);
	const size_t slots_end = CALLBOX_GPA_MAILBOX +
				 sizeof(struct callbox_mailbox);
	const uint64_t io_end = sb->io_base +
				callbox_io_size(sb->cfg.input_size,
						sb->cfg.output_size,
						sb->cfg.max_calls);
	char *mem = sb->vm.mem;
	char err[256];
	int ret;

	if (sb->sandbox_fd < 0)
		return sandbox_fail(sb, -EBADF, "no guest loaded");

	pthread_mutex_lock(&sb->run_lock);
	ret = callbox_vm_flush_exit(&sb->vm, err, sizeof(err));
	if (ret) {
		sandbox_fail(sb, ret, "reset: %s", err);
		goto out_unlock;
	}

	/*
	 * Memory as it was at load, except the slots and the I/O area: they
	 * hold requests of queued calls and results not yet collected.
	 */
	memcpy(mem, sb->boot_image, hdr_end);
	memcpy(mem + slots_end, (char *)sb->boot_image + slots_end,
	       sb->image_end - slots_end);
	memset(mem + sb->image_end, 0, sb->io_base - sb->image_end);
	memset(mem + io_end, 0, sb->vm.mem_size - io_end);

	ret = callbox_vm_boot_regs(&sb->vm, sb->entry, err, sizeof(err));
	if (ret) {
		sandbox_fail(sb, ret, "reset: %s", err);
		goto out_unlock;
	}
	ret = sandbox_init_call(sb);

out_unlock:
	pthread_mutex_unlock(&sb->run_lock);
	return ret;
}

/* ---- calls ---- */

/* With run_lock held: refuse to run calls in a guest whose init failed. */
static int sandbox_check_ready(struct callbox_sandbox *sb, const char *what)
{
	if (sb->ready)
		return 0;
	return sandbox_fail(sb, -ENOTRECOVERABLE,
			    "%s: the guest is not ready: its init failed at the last reset; reset the sandbox",
			    what);
}

/*
 * Serve the host calls of call @c, which is in HOSTCALL, until it ends,
 * then consume it, checking that every outcome is its own.
 */
static int sandbox_finish_call(struct callbox_sandbox *sb, const char *what,
			       struct callbox_call_info *c)
{
	uint64_t id = c->id;
	int ret;

	ret = sandbox_serve_host_calls(sb, c);
	if (ret)
		return ret;
	ret = callbox_call_wait_fd(sb->sandbox_fd, id, 0, c);
	if (ret)
		return sandbox_run_error(sb, what, ret);
	return sandbox_check_outcome(sb, what, id, c);
}

int callbox_call(struct callbox_sandbox *sb, const char *function,
		 const struct callbox_wire_value *args, unsigned int nr_args,
		 struct callbox_wire_value *result)
{
	/* This call's own outcome: other threads may run calls meanwhile. */
	struct callbox_call_info c;
	uint64_t deadline = 0;
	int slot, ret;

	sb->last_error[0] = '\0';
	slot = sandbox_request(sb, function, args, nr_args);
	if (slot < 0)
		return slot;
	if (sb->cfg.call_timeout_ns)
		deadline = callbox_deadline_after(sb->cfg.call_timeout_ns);

	pthread_mutex_lock(&sb->run_lock);
	ret = sandbox_check_ready(sb, function);
	if (!ret) {
		sandbox_mailbox(sb)->slot = slot;
		ret = callbox_call_sync_fd(sb->sandbox_fd, deadline, &c);
		if (ret)
			ret = sandbox_run_error(sb, function, ret);
	}
	/*
	 * A CALL_SYNC that ended consumed its call. One that stopped in a
	 * host call hands it over: serve it to the end, then consume it.
	 */
	if (!ret && c.state == CALLBOX_STATE_HOSTCALL)
		ret = sandbox_finish_call(sb, function, &c);
	if (!ret)
		sandbox_note_abort(sb, slot, &c, NULL);
	pthread_mutex_unlock(&sb->run_lock);

	if (!ret) {
		sb->last_call = c;
		ret = sandbox_outcome(sb, function, &c, slot,
				      &sb->slot_abort[slot], result);
	}

	pthread_mutex_lock(&sb->lock);
	sandbox_slot_free_locked(sb, slot);
	pthread_mutex_unlock(&sb->lock);
	return ret;
}

int callbox_call_int(struct callbox_sandbox *sb, const char *function,
		     const int64_t *args, unsigned int nr_args,
		     int64_t *result)
{
	struct callbox_wire_value values[CALLBOX_MAX_PARAMS];
	struct callbox_wire_value v;
	const struct sandbox_export *e;
	unsigned int i;
	int ret;

	sb->last_error[0] = '\0';
	e = sandbox_find_export(sb, function);
	if (e) {
		bool all_i64 = e->sig.ret_type == CALLBOX_WIRE_I64;
		char text[512];

		for (i = 0; i < e->sig.nr_params; i++)
			all_i64 &= e->sig.params[i] == CALLBOX_WIRE_I64;
		if (!all_i64) {
			callbox_signature_format(&e->sig, function, text,
						 sizeof(text));
			return sandbox_fail(sb, -EINVAL,
					    "%s: callbox_call_int() calls only functions of i64, and this is %s",
					    function, text);
		}
	}
	/* The count first: @args need not hold more than the function takes. */
	if (e && nr_args != e->sig.nr_params) {
		char err[512];

		callbox_signature_check(&e->sig, function, NULL, nr_args, err,
					sizeof(err));
		return sandbox_fail(sb, -EINVAL, "%s", err);
	}
	if (nr_args > CALLBOX_MAX_PARAMS)
		return sandbox_fail(sb, -EINVAL,
				    "%s: %u arguments, at most %d are allowed",
				    function, nr_args, CALLBOX_MAX_PARAMS);
	for (i = 0; i < nr_args; i++)
		values[i] = CALLBOX_I64(args[i]);
	ret = callbox_call(sb, function, values, nr_args, &v);
	if (!ret && result)
		*result = v.i64;
	return ret;
}

int callbox_call_submit(struct callbox_sandbox *sb, const char *function,
			const struct callbox_wire_value *args,
			unsigned int nr_args, uint64_t deadline_ns,
			uint64_t *id)
{
	struct sandbox_record *r;
	int slot, ret;

	slot = sandbox_request(sb, function, args, nr_args);
	if (slot < 0)
		return slot;

	/* Under the lock, so runners see records in id order. */
	pthread_mutex_lock(&sb->lock);
	ret = callbox_call_submit_fd(sb->sandbox_fd, deadline_ns, id);
	if (ret) {
		sandbox_slot_free_locked(sb, slot);
	} else {
		/* A free slot means a free record: both are freed on consume. */
		r = sandbox_record_find_locked(sb, 0);
		*r = (struct sandbox_record) { .id = *id, .slot = slot };
		/* sandbox_request() checked that the name fits. */
		strcpy(r->function, function);
		pthread_cond_broadcast(&sb->submitted);
	}
	pthread_mutex_unlock(&sb->lock);
	return ret;
}

void callbox_run_stop(struct callbox_sandbox *sb)
{
	pthread_mutex_lock(&sb->lock);
	sb->stopping = true;
	pthread_cond_broadcast(&sb->submitted);
	pthread_mutex_unlock(&sb->lock);
}

int callbox_run_next(struct callbox_sandbox *sb, uint64_t deadline_ns)
{
	struct timespec until = {
		.tv_sec = deadline_ns / 1000000000ull,
		.tv_nsec = deadline_ns % 1000000000ull,
	};
	char function[CALLBOX_FUNCTION_NAME_MAX];
	struct callbox_call_info c;
	struct sandbox_record *r;
	bool entered = false;
	uint64_t id;
	int slot, ret = 0;

	for (;;) {
		pthread_mutex_lock(&sb->lock);
		while (!sb->stopping && !sandbox_record_next_locked(sb) && !ret)
			ret = deadline_ns ?
			      -pthread_cond_timedwait(&sb->submitted, &sb->lock,
						      &until) :
			      -pthread_cond_wait(&sb->submitted, &sb->lock);
		pthread_mutex_unlock(&sb->lock);
		if (sb->stopping)
			return -ESHUTDOWN;
		if (ret)
			return ret;

		/*
		 * The turn first, then the oldest call: with several runners,
		 * calls are entered in the order they were submitted.
		 */
		pthread_mutex_lock(&sb->run_lock);
		pthread_mutex_lock(&sb->lock);
		r = sandbox_record_next_locked(sb);
		if (r) {
			r->started = true;
			id = r->id;
			slot = r->slot;
			memcpy(function, r->function, sizeof(function));
		}
		pthread_mutex_unlock(&sb->lock);
		if (r)
			break;
		/* Another runner took it meanwhile. */
		pthread_mutex_unlock(&sb->run_lock);
	}

	ret = sandbox_check_ready(sb, function);
	if (!ret) {
		sandbox_mailbox(sb)->slot = slot;
		ret = callbox_call_run_fd(sb->sandbox_fd, id, 0, &c);
		entered = !ret;
		if (ret && ret != -ESRCH)
			sandbox_run_error(sb, function, ret);
	}
	if (entered) {
		ret = sandbox_check_outcome(sb, function, id, &c);
		if (!ret)
			ret = sandbox_serve_host_calls(sb, &c);
		if (!ret)
			sandbox_note_abort(sb, slot, &c, NULL);
	}
	pthread_mutex_unlock(&sb->run_lock);

	if (ret == -ESRCH)
		return 0;	/* cancelled and consumed before its turn */
	if (ret && !entered) {
		/*
		 * Not run (poisoned, interrupted...): it stays queued, for
		 * another runner or for after the reset.
		 */
		pthread_mutex_lock(&sb->lock);
		r = sandbox_record_find_locked(sb, id);
		if (r)
			r->started = false;
		pthread_mutex_unlock(&sb->lock);
	}
	return ret;
}

int callbox_call_wait(struct callbox_sandbox *sb, uint64_t id,
		      uint64_t deadline_ns, struct callbox_wire_value *result,
		      struct callbox_call_info *info)
{
	char function[CALLBOX_FUNCTION_NAME_MAX] = "call";
	struct callbox_call_info c;
	struct sandbox_record *r;
	int slot = -1, ret;

	ret = callbox_call_wait_fd(sb->sandbox_fd, id, deadline_ns, &c);
	/* Not -ETIMEDOUT, which says the call's own deadline ended it. */
	if (ret == -ETIMEDOUT)
		return sandbox_fail(sb, -ETIME,
				    "call %" PRIu64 " has not ended yet", id);
	if (ret)
		return sandbox_fail(sb, ret, "call %" PRIu64 ": %s", id,
				    strerror(-ret));
	ret = sandbox_check_outcome(sb, "wait", id, &c);
	if (ret)
		return ret;
	if (info)
		*info = c;

	/* The kernel consumed the call: its slot is ours to read and free. */
	pthread_mutex_lock(&sb->lock);
	r = sandbox_record_find_locked(sb, id);
	if (r) {
		slot = r->slot;
		memcpy(function, r->function, sizeof(function));
		*r = (struct sandbox_record) { 0 };
	}
	pthread_mutex_unlock(&sb->lock);

	/*
	 * A guest abort ends a call while its runner holds run_lock, and the
	 * runner keeps the abort's details before it lets go: wait for that.
	 */
	if (c.state == CALLBOX_STATE_ABORTED &&
	    c.reason == CALLBOX_ABORT_GUEST_ABORT) {
		pthread_mutex_lock(&sb->run_lock);
		pthread_mutex_unlock(&sb->run_lock);
	}

	ret = sandbox_outcome(sb, function, &c, slot,
			      slot >= 0 ? &sb->slot_abort[slot] : NULL, result);

	if (slot >= 0) {
		pthread_mutex_lock(&sb->lock);
		sandbox_slot_free_locked(sb, slot);
		pthread_mutex_unlock(&sb->lock);
	}
	return ret;
}

int callbox_call_cancel(struct callbox_sandbox *sb, uint64_t id)
{
	return callbox_call_cancel_fd(sb->sandbox_fd, id);
}

int callbox_call_get(struct callbox_sandbox *sb, uint64_t id,
		     struct callbox_call_info *info)
{
	return callbox_call_get_fd(sb->sandbox_fd, id, info);
}

const char *callbox_last_error(const struct callbox_sandbox *sb)
{
	return sb->last_error;
}

const struct callbox_call_info *
callbox_last_call(const struct callbox_sandbox *sb)
{
	return &sb->last_call;
}

void callbox_sandbox_free(struct callbox_sandbox *sb)
{
	if (!sb)
		return;
	if (sb->sandbox_fd >= 0) {
		/* Threads still waiting on its calls wake with an answer. */
		callbox_sandbox_shutdown_fd(sb->sandbox_fd);
		close(sb->sandbox_fd);
	}
	callbox_vm_destroy(&sb->vm);
	free(sb->boot_image);
	free(sb->exports);
	free(sb->host_fns);
	pthread_cond_destroy(&sb->submitted);
	pthread_mutex_destroy(&sb->run_lock);
	pthread_mutex_destroy(&sb->lock);
	free(sb);
}
