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
 * Locks: @lock guards the slot and record tables and is never held across
 * an ioctl that can block. @run_lock is held by the one thread that runs a
 * call (it writes mailbox->slot, then enters the guest) and across reset.
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
#include "vm.h"

/* A call submitted through the library, until it is consumed. */
struct sandbox_record {
	uint64_t id;		/* 0: free */
	uint32_t slot;
	bool started;		/* a runner has picked it up */
};

struct callbox_sandbox {
	struct callbox_config cfg;
	struct callbox_vm vm;
	int sandbox_fd;
	uint64_t entry;
	void *boot_image;	/* guest memory below image_end, as loaded */
	uint64_t image_end;
	callbox_host_fn host_fn;
	void *host_opaque;
	callbox_log_fn log_fn;
	void *log_opaque;

	pthread_mutex_t lock;
	pthread_cond_t submitted;
	uint64_t slots_used;	/* bit i: slot i belongs to a call */
	struct sandbox_record records[CALLBOX_MAX_SLOTS];
	bool stopping;

	pthread_mutex_t run_lock;
	uint64_t hostcall_id;	/* the call in HOSTCALL, for host functions */

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

void callbox_sandbox_set_host_fn(struct callbox_sandbox *sb,
				 callbox_host_fn fn, void *opaque)
{
	sb->host_fn = fn;
	sb->host_opaque = opaque;
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

static int sandbox_check_config(struct callbox_sandbox *sb)
{
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
	if (sb->cfg.reserved32)
		return sandbox_fail(sb, -EINVAL,
				    "config: reserved32 is not zero (use callbox_config_init())");
	if (sb->cfg.log_level > CALLBOX_LOG_TRACE)
		return sandbox_fail(sb, -EINVAL,
				    "config: log level %u is not 0 (none) to %u (trace)",
				    sb->cfg.log_level, CALLBOX_LOG_TRACE);
	ret = callbox_layout_check(sb->cfg.mem_size, sb->cfg.stack_size, err,
				   sizeof(err));
	if (ret)
		return sandbox_fail(sb, ret, "config: %s", err);
	return 0;
}

/* ---- slots and records, under sb->lock ---- */

static int sandbox_slot_alloc_locked(struct callbox_sandbox *sb)
{
	int i;

	for (i = 0; i < CALLBOX_MAX_SLOTS; i++) {
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

/* Write a request into a fresh slot. Returns the slot or -errno. */
static int sandbox_request(struct callbox_sandbox *sb, const char *function,
			   const int64_t *args, unsigned int nargs)
{
	struct callbox_slot *slot;
	size_t len;
	int i;

	if (sb->sandbox_fd < 0)
		return sandbox_fail(sb, -EBADF, "no guest loaded");
	len = strlen(function);
	if (len >= CALLBOX_FUNCTION_NAME_MAX)
		return sandbox_fail(sb, -EINVAL,
				    "function name '%.32s...' is longer than %d bytes",
				    function, CALLBOX_FUNCTION_NAME_MAX - 1);
	if (nargs > CALLBOX_MAX_ARGS)
		return sandbox_fail(sb, -EINVAL,
				    "%s: %u arguments, at most %d are supported",
				    function, nargs, CALLBOX_MAX_ARGS);

	pthread_mutex_lock(&sb->lock);
	i = sandbox_slot_alloc_locked(sb);
	pthread_mutex_unlock(&sb->lock);
	if (i < 0)
		return sandbox_fail(sb, i, "%s: %d calls are outstanding already",
				    function, CALLBOX_MAX_SLOTS);

	slot = &sandbox_mailbox(sb)->slots[i];
	memset(slot, 0, sizeof(*slot));
	memcpy(slot->function, function, len);
	slot->argc = nargs;
	if (nargs)
		memcpy(slot->args, args, nargs * sizeof(args[0]));
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

/* Describe the exception the guest reported; its fields are only numbers. */
static void sandbox_describe_fault(struct callbox_sandbox *sb, char *buf,
				   size_t len)
{
	struct callbox_fault f = sandbox_mailbox(sb)->fault;
	uint64_t guard = CALLBOX_STACK_GUARD(sb->vm.mem_size,
					     sb->cfg.stack_size);
	const char *name = f.vector < 32 ? exception_names[f.vector] : NULL;

	if (f.vector == 14 && f.cr2 >= guard && f.cr2 - guard < 0x1000) {
		snprintf(buf, len,
			 "stack overflow (page fault on the guard page below the %" PRIu64 " KiB stack, rip 0x%" PRIx64 ")",
			 sb->cfg.stack_size >> 10, f.rip);
		return;
	}
	if (name)
		snprintf(buf, len, "CPU exception %s at rip 0x%" PRIx64, name,
			 f.rip);
	else
		snprintf(buf, len,
			 "CPU exception, reserved vector %" PRIu64 ", at rip 0x%" PRIx64,
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

static void sandbox_abort_message(struct callbox_sandbox *sb, char *buf,
				  size_t len)
{
	sandbox_guest_string(sandbox_mailbox(sb)->abort_message,
			     CALLBOX_ABORT_MESSAGE_MAX, buf, len);
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
 * Turn a call's final outcome into 0 or -errno, with a message. The
 * result is read from the slot only when the kernel says EXITED.
 */
static int sandbox_outcome(struct callbox_sandbox *sb, const char *what,
			   const struct callbox_call_info *c, int slot,
			   int64_t *result)
{
	char message[CALLBOX_ABORT_MESSAGE_MAX];
	char outcome[256];

	if (c->state == CALLBOX_STATE_EXITED) {
		switch (c->status) {
		case CALLBOX_STATUS_OK:
			if (result && slot >= 0)
				*result = sandbox_mailbox(sb)->slots[slot].result;
			return 0;
		case CALLBOX_STATUS_NO_FUNCTION:
			return sandbox_fail(sb, -ENOENT,
					    "the guest has no function named '%s'",
					    what);
		case CALLBOX_STATUS_BAD_ARGC:
			return sandbox_fail(sb, -EINVAL,
					    "%s: wrong number of arguments", what);
		default:
			return sandbox_fail(sb, -EPROTO,
					    "%s: the guest answered with status %" PRIu32,
					    what, c->status);
		}
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
		if (c->detail == CALLBOX_GUEST_ABORT_EXCEPTION) {
			sandbox_describe_fault(sb, outcome, sizeof(outcome));
			return sandbox_fail(sb, -EIO,
					    "%s: call %" PRIu64 " aborted: %s",
					    what, (uint64_t)c->id, outcome);
		}
		sandbox_abort_message(sb, message, sizeof(message));
		if (c->detail == CALLBOX_GUEST_ABORT_HEAP)
			return sandbox_fail(sb, -EIO,
					    "%s: call %" PRIu64 " aborted: the guest's heap is corrupted: %s",
					    what, (uint64_t)c->id, message);
		return sandbox_fail(sb, -ECONNABORTED,
				    "%s: call %" PRIu64 " aborted: %s%s%s", what,
				    (uint64_t)c->id, outcome,
				    message[0] ? ": " : "", message);
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

/*
 * Serve host calls until the call ends: @c holds a HOSTCALL outcome on
 * entry while the guest waits. @slot is the call's, or -1 for the init
 * call, which has none (its host functions get 0 and their results are
 * dropped). Called with run_lock held.
 */
static int sandbox_serve_host_calls(struct callbox_sandbox *sb, int slot,
				    struct callbox_call_info *c)
{
	struct callbox_slot *s = slot >= 0 ?
				 &sandbox_mailbox(sb)->slots[slot] : NULL;
	int64_t ret_val = 0;
	int ret;

	while (c->state == CALLBOX_STATE_HOSTCALL) {
		if (c->status == CALLBOX_HOSTCALL_LOG) {
			sandbox_deliver_log(sb);
		} else if (c->status >= CALLBOX_HOSTCALL_SDK_FIRST ||
			   !sb->host_fn) {
			ret_val = -1;	/* no such host function */
		} else {
			sb->hostcall_id = c->id;
			ret_val = sb->host_fn(sb, c->status,
					      s ? s->host_arg : 0,
					      sb->host_opaque);
			sb->hostcall_id = 0;
		}
		if (s)
			s->host_result = ret_val;
		ret = callbox_call_run_fd(sb->sandbox_fd, c->id, 0, c);
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
 * Run the guest's init (the first call after boot) to its end. It goes
 * through SUBMIT + RUN + WAIT so that it works with calls queued too.
 */
static int sandbox_init_call(struct callbox_sandbox *sb)
{
	struct callbox_call_info *c = &sb->last_call;
	uint64_t id;
	int ret;

	ret = callbox_call_submit_fd(sb->sandbox_fd, 0, &id);
	if (!ret)
		ret = callbox_call_run_fd(sb->sandbox_fd, id, 0, c);
	/* The guest's init may log, or call host functions. */
	if (!ret)
		ret = sandbox_serve_host_calls(sb, -1, c);
	if (!ret)
		ret = callbox_call_wait_fd(sb->sandbox_fd, id, 0, c);
	if (ret)
		return sandbox_run_error(sb, "guest init", ret);

	if (c->state != CALLBOX_STATE_EXITED)
		return sandbox_outcome(sb, "guest init", c, -1, NULL);
	if (c->status == CALLBOX_STATUS_BAD_ABI)
		return sandbox_fail(sb, -EPROTO,
				    "guest init: the guest was built for another callbox ABI (host speaks version %u)",
				    CALLBOX_ABI_VERSION);
	if (c->status != CALLBOX_STATUS_OK)
		return sandbox_fail(sb, -EPROTO,
				    "guest init failed with status %" PRIu32,
				    c->status);
	return 0;
}

static int sandbox_boot(struct callbox_sandbox *sb, const char *guest_path)
{
	uint64_t guard;
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
	sandbox_mailbox(sb)->log_level = sb->cfg.log_level;
	sandbox_mailbox(sb)->heap_size = sb->cfg.heap_size;
	/* The image must end below the stack's guard page. */
	guard = CALLBOX_STACK_GUARD(sb->vm.mem_size, sb->cfg.stack_size);
	ret = callbox_elf_load(image, size, sb->vm.mem, guard,
			       CALLBOX_GPA_IMAGE_MIN, &sb->entry, &sb->image_end,
			       err, sizeof(err));
	free(image);
	if (ret)
		return sandbox_fail(sb, ret, "%s: %s", guest_path, err);
	if (sb->cfg.heap_size > guard - sb->image_end)
		return sandbox_fail(sb, -EINVAL,
				    "config: a %" PRIu64 " KiB heap does not fit: %s leaves %" PRIu64 " KiB between its image and the %" PRIu64 " KiB stack",
				    sb->cfg.heap_size >> 10, guest_path,
				    (guard - sb->image_end) >> 10,
				    sb->cfg.stack_size >> 10);

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

	return sandbox_init_call(sb);
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
	 * Memory as it was at load, except the slots: they hold requests of
	 * queued calls and results not yet collected.
	 */
	memcpy(mem, sb->boot_image, hdr_end);
	memcpy(mem + slots_end, (char *)sb->boot_image + slots_end,
	       sb->image_end - slots_end);
	memset(mem + sb->image_end, 0, sb->vm.mem_size - sb->image_end);

	ret = callbox_vm_boot_regs(&sb->vm, sb->entry, err, sizeof(err));
	if (ret) {
		sandbox_fail(sb, ret, "reset: %s", err);
		goto out_unlock;
	}
	ret = callbox_sandbox_reset_fd(sb->sandbox_fd);
	if (ret) {
		sandbox_fail(sb, ret, "CALLBOX_SANDBOX_RESET: %s",
			     strerror(-ret));
		goto out_unlock;
	}
	ret = sandbox_init_call(sb);

out_unlock:
	pthread_mutex_unlock(&sb->run_lock);
	return ret;
}

/* ---- calls ---- */

int callbox_call_int(struct callbox_sandbox *sb, const char *function,
		     const int64_t *args, unsigned int nargs, int64_t *result)
{
	struct callbox_call_info *c = &sb->last_call;
	uint64_t deadline = 0;
	int slot, ret;

	sb->last_error[0] = '\0';
	slot = sandbox_request(sb, function, args, nargs);
	if (slot < 0)
		return slot;
	if (sb->cfg.call_timeout_ns)
		deadline = callbox_deadline_after(sb->cfg.call_timeout_ns);

	pthread_mutex_lock(&sb->run_lock);
	sandbox_mailbox(sb)->slot = slot;
	ret = callbox_call_sync_fd(sb->sandbox_fd, deadline, c);
	/*
	 * A CALL_SYNC that ended consumed its call. One that stopped in a
	 * host call hands it over: serve it to the end, then consume it.
	 */
	if (!ret && c->state == CALLBOX_STATE_HOSTCALL) {
		ret = sandbox_serve_host_calls(sb, slot, c);
		if (!ret)
			ret = callbox_call_wait_fd(sb->sandbox_fd, c->id, 0, c);
	}
	pthread_mutex_unlock(&sb->run_lock);

	if (ret)
		ret = sandbox_run_error(sb, function, ret);
	else
		ret = sandbox_outcome(sb, function, c, slot, result);

	pthread_mutex_lock(&sb->lock);
	sandbox_slot_free_locked(sb, slot);
	pthread_mutex_unlock(&sb->lock);
	return ret;
}

int callbox_call_submit(struct callbox_sandbox *sb, const char *function,
			const int64_t *args, unsigned int nargs,
			uint64_t deadline_ns, uint64_t *id)
{
	struct sandbox_record *r;
	int slot, ret;

	slot = sandbox_request(sb, function, args, nargs);
	if (slot < 0)
		return slot;

	/* Under the lock, so runners see records in id order. */
	pthread_mutex_lock(&sb->lock);
	ret = callbox_call_submit_fd(sb->sandbox_fd, deadline_ns, id);
	if (ret) {
		sandbox_slot_free_locked(sb, slot);
	} else {
		r = sandbox_record_find_locked(sb, 0);
		*r = (struct sandbox_record) { .id = *id, .slot = slot };
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
	struct callbox_call_info c;
	struct sandbox_record *r;
	uint64_t id;
	int slot, ret = 0;

	pthread_mutex_lock(&sb->lock);
	while (!sb->stopping && !(r = sandbox_record_next_locked(sb)) && !ret)
		ret = deadline_ns ?
		      -pthread_cond_timedwait(&sb->submitted, &sb->lock, &until) :
		      -pthread_cond_wait(&sb->submitted, &sb->lock);
	if (sb->stopping) {
		pthread_mutex_unlock(&sb->lock);
		return -ESHUTDOWN;
	}
	if (ret) {
		pthread_mutex_unlock(&sb->lock);
		return ret;
	}
	r->started = true;
	id = r->id;
	slot = r->slot;
	pthread_mutex_unlock(&sb->lock);

	pthread_mutex_lock(&sb->run_lock);
	sandbox_mailbox(sb)->slot = slot;
	ret = callbox_call_run_fd(sb->sandbox_fd, id, 0, &c);
	if (!ret)
		ret = sandbox_serve_host_calls(sb, slot, &c);
	pthread_mutex_unlock(&sb->run_lock);

	switch (ret) {
	case -ENOTRECOVERABLE:
		/* Not run: it stays queued for after the reset. */
		pthread_mutex_lock(&sb->lock);
		r = sandbox_record_find_locked(sb, id);
		if (r)
			r->started = false;
		pthread_mutex_unlock(&sb->lock);
		return ret;
	case -ESRCH:
		/* Cancelled and consumed before its turn: nothing to run. */
		return 0;
	default:
		return ret;
	}
}

int callbox_call_wait(struct callbox_sandbox *sb, uint64_t id,
		      uint64_t deadline_ns, int64_t *result,
		      struct callbox_call_info *info)
{
	struct callbox_call_info c;
	struct sandbox_record *r;
	int slot = -1, ret;

	ret = callbox_call_wait_fd(sb->sandbox_fd, id, deadline_ns, &c);
	if (ret)
		return ret;
	if (info)
		*info = c;

	/* The kernel consumed the call: its slot is ours to read and free. */
	pthread_mutex_lock(&sb->lock);
	r = sandbox_record_find_locked(sb, id);
	if (r) {
		slot = r->slot;
		*r = (struct sandbox_record) { 0 };
	}
	pthread_mutex_unlock(&sb->lock);

	ret = sandbox_outcome(sb, "call", &c, slot, result);

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
	if (sb->sandbox_fd >= 0)
		close(sb->sandbox_fd);
	callbox_vm_destroy(&sb->vm);
	free(sb->boot_image);
	pthread_cond_destroy(&sb->submitted);
	pthread_mutex_destroy(&sb->run_lock);
	pthread_mutex_destroy(&sb->lock);
	free(sb);
}
