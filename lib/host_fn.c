// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * libcallbox: host functions, registered by name and signature before the
 * load, and the serving of a call's host calls: while the guest waits in
 * HOSTCALL, the runner thread runs what the guest asked for (a host
 * function, or a log record) and continues the call.
 *
 * The request is guest memory, so hostile: the name is copied and
 * bounded, the arguments decoded as a hostile message and checked against
 * the signature. The guest is stopped meanwhile, so the values a host
 * function gets cannot change under it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox.h"

int callbox_sandbox_add_host_fn(struct callbox_sandbox *sb, const char *name,
				const char *signature, callbox_host_fn fn,
				void *opaque)
{
	struct sandbox_host_fn *h, *fns;
	char err[256];
	size_t len, i;
	int ret;

	sandbox_begin(sb);
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

bool callbox_host_fn_cancelled(struct callbox_sandbox *sb)
{
	struct callbox_call_info c;

	if (!sb->hostcall_id ||
	    callbox_call_get_fd(sb->sandbox_fd, sb->hostcall_id, &c))
		return false;
	return c.flags & CALLBOX_CALL_CANCEL_PENDING;
}

/* Answer the guest's host call with an error it can read. */
static int host_call_error(struct callbox_sandbox *sb, int error,
			   const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int host_call_error(struct callbox_sandbox *sb, int error,
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

static const struct sandbox_host_fn *
host_fn_find(struct callbox_sandbox *sb, const char *name)
{
	unsigned int i;

	for (i = 0; i < sb->nr_host_fns; i++) {
		if (!strcmp(sb->host_fns[i].name, name))
			return &sb->host_fns[i];
	}
	return NULL;
}

/*
 * Check what host function @h put in the guest's input buffer @buf of
 * @size bytes: exactly one value, of the type its signature declares.
 * A void function that put nothing gets its void put for it.
 */
static int host_fn_check_result(struct callbox_sandbox *sb,
				const struct sandbox_host_fn *h,
				struct callbox_wire_writer *w, const void *buf,
				uint64_t size)
{
	struct callbox_wire_reader r;
	struct callbox_wire_value v;

	if (!callbox_wire_writer_count(w) &&
	    h->sig.ret_type == CALLBOX_WIRE_VOID)
		callbox_wire_put_void(w);
	switch (callbox_wire_writer_finish(w)) {
	case -CALLBOX_WIRE_E2BIG:
		return host_call_error(sb, -E2BIG,
				       "%s: the result does not fit the guest's %" PRIu64 "-byte input buffer",
				       h->name, size);
	case -CALLBOX_WIRE_EINVAL:
		return host_call_error(sb, -EPROTO,
				       "%s: the host function put an invalid value",
				       h->name);
	}
	if (callbox_wire_writer_count(w) != 1 ||
	    callbox_wire_reader_init(&r, buf, size) ||
	    callbox_wire_next(&r, &v) != 1 || v.type != h->sig.ret_type)
		return host_call_error(sb, -EPROTO,
				       "%s: the host function returned %u values, not one %s",
				       h->name, callbox_wire_writer_count(w),
				       callbox_wire_type_name(h->sig.ret_type));
	return 0;
}

/*
 * Run the host function the guest asked for (CALLBOX_HOSTCALL_FUNCTION)
 * during call @call_id, and leave its result, or an error, for the guest.
 */
static int host_call(struct callbox_sandbox *sb, uint64_t call_id)
{
	struct callbox_hostcall *hc = &sandbox_mailbox(sb)->hostcall;
	struct callbox_wire_value args[CALLBOX_WIRE_MAX_VALUES];
	uint32_t index = sandbox_hostcall_index(sb);
	void *input = sandbox_io_input(sb, index);
	char name[CALLBOX_FUNCTION_NAME_MAX];
	const struct sandbox_host_fn *h;
	struct callbox_wire_writer w;
	struct callbox_wire_reader r;
	unsigned int n = 0;
	char err[512];
	int ret;

	/* One copy, which is what is checked and looked up. */
	memcpy(name, hc->function, sizeof(name));
	if (!memchr(name, '\0', sizeof(name)))
		return host_call_error(sb, -EINVAL,
				       "host function name not NUL-terminated within %zu bytes",
				       sizeof(name));
	h = host_fn_find(sb, name);
	if (!h) {
		/* Only shown: registered names are printable. */
		sandbox_guest_string(name, sizeof(name), name, sizeof(name));
		return host_call_error(sb, -ENOENT,
				       "no host function named '%s'", name);
	}

	ret = callbox_wire_reader_init(&r, sandbox_io_output(sb, index),
				       sb->cfg.output_size);
	while (!ret && (ret = callbox_wire_next(&r, &args[n])) == 1)
		n++;
	if (ret < 0)
		return host_call_error(sb, -EBADMSG,
				       "%s: malformed arguments: %s (value %" PRIu64 ", at offset %" PRIu32 ")",
				       name, r.err, r.err_value, r.err_offset);
	ret = callbox_signature_check(&h->sig, name, args, n, err,
				      sizeof(err));
	if (ret)
		return host_call_error(sb, ret, "%s", err);

	callbox_wire_writer_init(&w, input, sb->cfg.input_size);
	sb->host_fn_error[0] = '\0';
	sb->hostcall_id = call_id;
	ret = h->fn(sb, args, &w, h->opaque);
	sb->hostcall_id = 0;
	/* For the next reset or restore; a failed put may be anywhere. */
	sandbox_memory_note_write(sb, input, w.error ? sb->cfg.input_size :
						       w.pos);
	if (ret)
		return host_call_error(sb, ret, "%s",
				       sb->host_fn_error[0] ?
				       sb->host_fn_error :
				       "the host function failed");
	ret = host_fn_check_result(sb, h, &w, input, sb->cfg.input_size);
	if (ret)
		return ret;
	hc->error = 0;
	hc->message[0] = '\0';
	return 0;
}

/**
 * sandbox_serve_host_calls() - serve a call's host calls until it ends
 * @sb: the sandbox, with run_lock held
 * @c: the call's outcome, HOSTCALL on entry while the guest waits; its
 *	next outcome on return
 *
 * Return: 0, or -errno with a message if continuing the call failed.
 */
int sandbox_serve_host_calls(struct callbox_sandbox *sb,
			     struct callbox_call_info *c)
{
	uint64_t id;
	int ret;

	while (c->state == CALLBOX_STATE_HOSTCALL) {
		if (c->status == CALLBOX_HOSTCALL_LOG)
			sandbox_deliver_log(sb);
		else if (c->status == CALLBOX_HOSTCALL_FUNCTION)
			host_call(sb, c->id);
		else
			host_call_error(sb, -ENOSYS,
					"unknown host call number 0x%" PRIx32,
					c->status);
		id = c->id;
		ret = callbox_call_run_fd(sb->sandbox_fd, id, 0, c);
		if (ret)
			return sandbox_run_error(sb,
						 "continuing after a host call",
						 ret);
		ret = sandbox_check_outcome(sb, "host call", id, c);
		if (ret)
			return ret;
	}
	return 0;
}
