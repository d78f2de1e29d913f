// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * libcallbox: typed values in guest memory. A call's arguments are written
 * as one wire-format message (callbox/wire.h) into its slot's input
 * buffer, and its result read from the slot's output buffer.
 *
 * Everything the guest writes is hostile. A message is copied out of
 * guest memory before it is decoded, because another thread may run
 * another call meanwhile and the guest could rewrite the buffer: what has
 * been checked must be what is used. Lengths and offsets are checked by
 * the decoder; a malformed message is an error with the reason, never a
 * crash.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"
#include "sandbox.h"

struct callbox_mailbox *sandbox_mailbox(struct callbox_sandbox *sb)
{
	return (struct callbox_mailbox *)((char *)sb->vm.mem +
					  CALLBOX_GPA_MAILBOX);
}

void *sandbox_io_input(struct callbox_sandbox *sb, uint32_t index)
{
	return (char *)sb->vm.mem +
	       callbox_io_input(sb->io_base, sb->cfg.input_size,
				sb->cfg.output_size, index);
}

void *sandbox_io_output(struct callbox_sandbox *sb, uint32_t index)
{
	return (char *)sb->vm.mem +
	       callbox_io_output(sb->io_base, sb->cfg.input_size,
				 sb->cfg.output_size, index);
}

/* The pair of I/O buffers of host calls comes after the slots'. */
uint32_t sandbox_hostcall_index(struct callbox_sandbox *sb)
{
	return sb->cfg.max_calls;
}

/* sandbox_encode()'s values and header, into @w. */
static int sandbox_encode_values(struct callbox_wire_writer *w, uint64_t size,
				 const char *what,
				 const struct callbox_wire_value *args,
				 unsigned int nr_args, char *err, size_t errlen)
{
	unsigned int i;
	int ret;

	for (i = 0; i < nr_args; i++) {
		ret = callbox_wire_put_value(w, &args[i]);
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
	if (callbox_wire_writer_finish(w) < 0) {
		snprintf(err, errlen, "%s: the %" PRIu64 "-byte buffer cannot hold a message",
			 what, size);
		return -E2BIG;
	}
	return 0;
}

/*
 * Encode @args as a message into @buf, in guest memory: the library notes
 * what it wrote there, for the next reset or restore. Returns 0, or
 * -errno with @what (the function's name) and the reason in @err.
 */
static int sandbox_encode(struct callbox_sandbox *sb, void *buf,
			  uint64_t size, const char *what,
			  const struct callbox_wire_value *args,
			  unsigned int nr_args, char *err, size_t errlen)
{
	struct callbox_wire_writer w;
	int ret;

	callbox_wire_writer_init(&w, buf, size);
	ret = sandbox_encode_values(&w, size, what, args, nr_args, err,
				    errlen);
	/* A failed put may have written anywhere in the buffer. */
	sandbox_memory_note_write(sb, buf, ret ? size : w.pos);
	return ret;
}

/**
 * sandbox_request() - check a call and write its request into a new slot
 * @sb: a loaded sandbox
 * @function: the function's name
 * @e: sandbox_find_export(@sb, @function), which the caller looked up
 * @args: its arguments
 * @nr_args: how many
 *
 * The arguments are checked against the signature the guest published
 * before anything is written, so a mismatch never reaches the guest.
 *
 * Return: the slot, or -errno with a message.
 */
int sandbox_request(struct callbox_sandbox *sb, const char *function,
		    const struct sandbox_export *e,
		    const struct callbox_wire_value *args, unsigned int nr_args)
{
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
	if (i >= 0) {
		sb->slots[i].ret_type = e->sig.ret_type;
		memcpy(sb->slots[i].function, function, len + 1);
	}
	pthread_mutex_unlock(&sb->lock);
	if (i < 0)
		return sandbox_fail(sb, i, "%s: %u calls are outstanding already (config max_calls)",
				    function, sb->cfg.max_calls);

	ret = sandbox_encode(sb, sandbox_io_input(sb, i), sb->cfg.input_size,
			     function, args, nr_args, err, sizeof(err));
	if (ret) {
		sandbox_slot_free(sb, i);
		return sandbox_fail(sb, ret, "%s", err);
	}
	slot = &sandbox_mailbox(sb)->slots[i];
	memset(slot, 0, sizeof(*slot));
	memcpy(slot->function, function, len);
	/* No earlier call's result or message may pass for this call's. */
	memset(sandbox_io_output(sb, i), 0, CALLBOX_WIRE_HEADER_SIZE);
	sandbox_memory_note_write(sb, sandbox_io_output(sb, i),
				  CALLBOX_WIRE_HEADER_SIZE);
	return i;
}

/*
 * Copy the message in the guest buffer @buf of @size bytes out of guest
 * memory, to decode the copy. Its header is read once; a header that does
 * not hold up gets just itself copied, for the decoder to reject with the
 * reason. Returns the copy, to be freed, and its length in @len.
 */
static uint8_t *sandbox_copy_message(const void *buf, uint64_t size,
				     uint32_t *len)
{
	struct callbox_wire_reader r;
	uint8_t *copy;

	*len = callbox_wire_reader_init(&r, buf, size) ?
	       CALLBOX_WIRE_HEADER_SIZE : callbox_wire_reader_length(&r);
	copy = malloc(*len);
	if (copy)
		memcpy(copy, buf, *len);
	return copy;
}

/*
 * Decode a result message copied out of guest memory: exactly one value,
 * of type @type. STRING and BYTES data stay in @buf. @buffer_size is the
 * size of the guest buffer, for the message. Returns 0, or -EBADMSG with
 * the reason in @err.
 */
static int sandbox_decode_result(const void *buf, uint64_t size,
				 uint64_t buffer_size, uint8_t type,
				 const char *what,
				 struct callbox_wire_value *v, char *err,
				 size_t errlen)
{
	static const uint8_t zero_header[CALLBOX_WIRE_HEADER_SIZE];
	struct callbox_wire_value extra;
	struct callbox_wire_reader r;
	int ret;

	/*
	 * The host zeroes the header before each call: still zero, it was
	 * never written, which "bad magic (value 0)" would not make clear.
	 */
	if (size >= sizeof(zero_header) &&
	    !memcmp(buf, zero_header, sizeof(zero_header))) {
		snprintf(err, errlen,
			 "%s: the guest ended the call without writing a result (the result buffer's header is still zero, as the host left it)",
			 what);
		return -EBADMSG;
	}
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
				 what, callbox_wire_reader_count(&r));
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

/*
 * Read the result of the EXITED call in @slot, for the caller's @result
 * (may be NULL). Returns 0, or -errno with the reason.
 */
int sandbox_read_result(struct callbox_sandbox *sb, const char *what,
			int slot, struct callbox_wire_value *result)
{
	char err[CALLBOX_OUTCOME_MESSAGE_MAX];
	struct callbox_wire_value v;
	uint8_t *msg;
	uint32_t n;
	int ret;

	msg = sandbox_copy_message(sandbox_io_output(sb, slot),
				   sb->cfg.output_size, &n);
	if (!msg)
		return sandbox_fail(sb, -ENOMEM, "%s: out of memory", what);
	ret = sandbox_decode_result(msg, n, sb->cfg.output_size,
				    sb->slots[slot].ret_type, what, &v, err,
				    sizeof(err));
	if (ret)
		ret = sandbox_fail(sb, ret, "%s", err);
	else if (result && sandbox_take_result(msg, &v, result))
		msg = NULL;
	free(msg);
	return ret;
}

/*
 * The message a guest leaves in the output buffer of @slot when it fails
 * a call: a message with one STRING, which is hostile like all of guest
 * memory.
 */
void sandbox_guest_failure(struct callbox_sandbox *sb, int slot, char *buf,
			   size_t len)
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

void callbox_value_free(struct callbox_wire_value *v)
{
	if (v->type == CALLBOX_WIRE_STRING || v->type == CALLBOX_WIRE_BYTES)
		free((void *)v->data);
	v->data = NULL;
	v->len = 0;
}
