// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * A hostile guest, for the tests of how the host reads guest memory
 * (selftests/vm/hostile_test.c). The SDK's runtime never writes a malformed
 * message, so this guest goes around it: it writes raw bytes where the
 * host will read them and ends calls through the ports itself.
 *
 * - reply(u32 case) -> string: writes the malformed result message number
 *   @case (enum hostile_reply) into the call's output buffer and ends the
 *   call with status OK, from inside the function. From then on the guest
 *   never returns to the runtime: each later call is served by the same
 *   loop, which takes the u32 of the request as the next case. So after
 *   the first reply() a sandbox only answers reply().
 * - raw_host_call(u32 case) -> string: makes a malformed host call
 *   (enum hostile_host_call) and returns what the host answered, as
 *   "error N: MESSAGE" or "ok".
 * - target(i64) -> string and mutate(u32): the guest's own check of calls.
 * - echo_text(string) -> string and spin(): for the reset tests.
 * - ticket() -> u64: numbers the calls in the order they enter.
 * - Bad export tables: with log_level TRACE, the init call publishes
 *   export table number heap_size / 4096 (enum hostile_exports) in place
 *   of the real one, and ends the init call itself.
 */
#include <callbox/guest.h>

static volatile struct callbox_mailbox *const mailbox =
	(volatile struct callbox_mailbox *)CALLBOX_GPA_MAILBOX;

enum hostile_reply {
	REPLY_FINE,			/* a valid "fine" */
	REPLY_LENGTH_PAST_BUFFER,	/* header length > the output buffer */
	REPLY_STRING_PAST_END,		/* string length past the message end */
	REPLY_UNTERMINATED,		/* no NUL after the string */
	REPLY_BAD_TAG,			/* type tag 0x77 */
	REPLY_WRONG_TYPE,		/* an i64 for a declared string */
	REPLY_BAD_MAGIC,
	REPLY_TWO_VALUES,
	REPLY_NO_VALUE,
	REPLY_TRAILING,			/* bytes after the last value */
	REPLY_NUL_INSIDE,		/* a NUL among the string's bytes */
	REPLY_LENGTH_WRAPS,		/* string length 0xffffffff */
	REPLY_OVERLAP,			/* 2 values, the first covers the second */
	REPLY_SHORT_HEADER,		/* header length 5 */
	REPLY_FAIL_GARBAGE,		/* status BAD_ARGS, garbage for a message */
	REPLY_COUNT
};

enum hostile_host_call {
	HOST_CALL_NAME_UNTERMINATED,	/* 64 bytes of name, no NUL */
	HOST_CALL_BAD_MESSAGE,		/* arguments with a bad magic */
	HOST_CALL_ARGS_PAST_BUFFER,	/* argument length past the buffer */
	HOST_CALL_UNKNOWN_NUMBER,	/* port value 0x1234 */
	HOST_CALL_UNKNOWN_NAME,		/* a name nobody registered */
	HOST_CALL_COUNT
};

enum hostile_exports {
	EXPORTS_TOO_MANY = 1,		/* nr_exports 0xffffffff */
	EXPORTS_NAME_UNTERMINATED,
	EXPORTS_BAD_PARAM_TAG,
	EXPORTS_TOO_MANY_PARAMS,
	EXPORTS_NAME_WITH_SPACE,
	EXPORTS_DUPLICATE,		/* "good" twice */
	EXPORTS_OVER_THE_CAP,		/* 4097, which a large buffer holds */
};

static uint8_t *output(uint32_t index)
{
	return (uint8_t *)callbox_io_output(mailbox->io_base,
					    mailbox->input_size,
					    mailbox->output_size, index);
}

static uint8_t *input(uint32_t index)
{
	return (uint8_t *)callbox_io_input(mailbox->io_base,
					   mailbox->input_size,
					   mailbox->output_size, index);
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
	return p + 4;
}

/* A message header: magic, version, count, length. */
static uint8_t *header(uint8_t *p, uint32_t magic, uint16_t count,
		       uint32_t length)
{
	uint16_t version = CALLBOX_WIRE_VERSION;

	p = put32(p, magic);
	memcpy(p, &version, 2);
	memcpy(p + 2, &count, 2);
	return put32(p + 4, length);
}

/* A STRING value: tag, length, bytes; the caller adds the NUL or not. */
static uint8_t *string(uint8_t *p, uint32_t len, const char *bytes, size_t n)
{
	*p++ = CALLBOX_WIRE_STRING;
	p = put32(p, len);
	memcpy(p, bytes, n);
	return p + n;
}

/* Write reply @c into @out; returns the status to end the call with. */
static uint32_t write_reply(uint8_t *out, uint32_t c)
{
	const uint32_t magic = CALLBOX_WIRE_MAGIC;
	uint8_t *p;

	switch (c) {
	case REPLY_FINE:
		header(out, magic, 1, 12 + 5 + 5);
		string(out + 12, 4, "fine", 5);
		break;
	case REPLY_LENGTH_PAST_BUFFER:
		header(out, magic, 1, mailbox->output_size + 1);
		string(out + 12, 4, "fine", 5);
		break;
	case REPLY_STRING_PAST_END:
		header(out, magic, 1, 12 + 5 + 5);
		string(out + 12, 1000, "fine", 5);
		break;
	case REPLY_UNTERMINATED:
		header(out, magic, 1, 12 + 5 + 5);
		string(out + 12, 4, "finex", 5);
		break;
	case REPLY_BAD_TAG:
		header(out, magic, 1, 12 + 5);
		out[12] = 0x77;
		put32(out + 13, 0);
		break;
	case REPLY_WRONG_TYPE:
		header(out, magic, 1, 12 + 9);
		out[12] = CALLBOX_WIRE_I64;
		memset(out + 13, 0x41, 8);
		break;
	case REPLY_BAD_MAGIC:
		header(out, 0x12345678, 1, 12 + 5 + 5);
		string(out + 12, 4, "fine", 5);
		break;
	case REPLY_TWO_VALUES:
		header(out, magic, 2, 12 + 10 + 10);
		p = string(out + 12, 4, "fine", 5);
		string(p, 4, "more", 5);
		break;
	case REPLY_NO_VALUE:
		header(out, magic, 0, 12);
		break;
	case REPLY_TRAILING:
		header(out, magic, 1, 12 + 10 + 3);
		p = string(out + 12, 4, "fine", 5);
		memcpy(p, "abc", 3);
		break;
	case REPLY_NUL_INSIDE:
		header(out, magic, 1, 12 + 5 + 5);
		string(out + 12, 4, "f\0ne", 5);
		break;
	case REPLY_LENGTH_WRAPS:
		header(out, magic, 1, 12 + 5 + 5);
		string(out + 12, 0xffffffff, "fine", 5);
		break;
	case REPLY_OVERLAP:
		/* The first string's length swallows the second value. */
		header(out, magic, 2, 12 + 10 + 10);
		p = string(out + 12, 14, "fine", 5);
		string(p, 4, "more", 5);
		break;
	case REPLY_SHORT_HEADER:
		header(out, magic, 1, 5);
		break;
	case REPLY_FAIL_GARBAGE:
		memset(out, 0xff, 64);
		return CALLBOX_STATUS_BAD_ARGS;
	default:
		header(out, magic, 1, 12 + 5 + 5);
		string(out + 12, 4, "what", 5);
		break;
	}
	return CALLBOX_STATUS_OK;
}

/* The u32 argument of the request in slot @index: header, tag, value. */
static uint32_t request_case(uint32_t index)
{
	uint32_t c;

	memcpy(&c, input(index) + CALLBOX_WIRE_HEADER_SIZE + 1, 4);
	return c;
}

/* Serve every call from here on: the runtime never gets control back. */
static void reply(const struct callbox_wire_value *args,
		  struct callbox_wire_writer *result)
{
	uint32_t index = mailbox->slot, status;

	(void)result;
	status = write_reply(output(index), args[0].u32);
	for (;;) {
		callbox_outl(CALLBOX_PORT_DONE, status);
		index = mailbox->slot;
		status = write_reply(output(index), request_case(index));
	}
}
CALLBOX_EXPORT(reply, CALLBOX_WIRE_STRING, CALLBOX_WIRE_U32);

static void raw_host_call(const struct callbox_wire_value *args,
			  struct callbox_wire_writer *result)
{
	volatile struct callbox_hostcall *hc = &mailbox->hostcall;
	uint8_t *out = output(mailbox->nr_slots);
	uint32_t number = CALLBOX_HOSTCALL_FUNCTION;
	char text[CALLBOX_ERROR_MESSAGE_MAX + 32];
	uint32_t magic = CALLBOX_WIRE_MAGIC;
	uint32_t i;

	memcpy((char *)hc->function, "transform", sizeof("transform"));
	header(out, magic, 0, 12);
	switch (args[0].u32) {
	case HOST_CALL_NAME_UNTERMINATED:
		for (i = 0; i < CALLBOX_FUNCTION_NAME_MAX; i++)
			hc->function[i] = 'a';
		break;
	case HOST_CALL_BAD_MESSAGE:
		header(out, 0x87654321, 0, 12);
		break;
	case HOST_CALL_ARGS_PAST_BUFFER:
		header(out, magic, 1, 12 + 9);
		out[12] = CALLBOX_WIRE_BYTES;
		put32(out + 13, mailbox->output_size);
		break;
	case HOST_CALL_UNKNOWN_NUMBER:
		number = 0x1234;
		break;
	case HOST_CALL_UNKNOWN_NAME:
		memcpy((char *)hc->function, "no_such_fn", sizeof("no_such_fn"));
		break;
	}
	hc->error = 0;
	callbox_outl(CALLBOX_PORT_HOSTCALL, number);
	if (hc->error) {
		char message[CALLBOX_ERROR_MESSAGE_MAX];

		for (i = 0; i < CALLBOX_ERROR_MESSAGE_MAX - 1 && hc->message[i]; i++)
			message[i] = hc->message[i];
		message[i] = '\0';
		callbox_snprintf(text, sizeof(text), "error %d: %s",
				 (int)hc->error, message);
		callbox_wire_put_string(result, text);
		return;
	}
	callbox_wire_put_string(result, "ok");
}
CALLBOX_EXPORT(raw_host_call, CALLBOX_WIRE_STRING, CALLBOX_WIRE_U32);

/* A well-behaved function, to show the sandbox still works. */
static void ping(const struct callbox_wire_value *args,
		 struct callbox_wire_writer *result)
{
	(void)args;
	callbox_wire_put_string(result, "pong");
}
CALLBOX_EXPORT(ping, CALLBOX_WIRE_STRING);

/*
 * The guest checks calls too: target() is published as taking an i64,
 * and mutate() then changes what the guest's own table says, which the
 * host does not learn. The tables are in writable memory (the guest has
 * no read-only mappings), so this is a plain store.
 */
static void target(const struct callbox_wire_value *args,
		   struct callbox_wire_writer *result)
{
	(void)args;
	callbox_wire_put_string(result, "target ran");
}
CALLBOX_EXPORT(target, CALLBOX_WIRE_STRING, CALLBOX_WIRE_I64);

static void mutate(const struct callbox_wire_value *args,
		   struct callbox_wire_writer *result)
{
	(void)result;
	if (args[0].u32 == 1)
		*(uint8_t *)&__callbox_signature_target[1] = CALLBOX_WIRE_STRING;
	else
		*(uint32_t *)&__callbox_export_target.nr_params = 0;
}
CALLBOX_EXPORT(mutate, CALLBOX_WIRE_VOID, CALLBOX_WIRE_U32);

/* For the reset tests: a plain echo, and a call that never ends. */
static void echo_text(const struct callbox_wire_value *args,
		      struct callbox_wire_writer *result)
{
	callbox_wire_put_string(result, (const char *)args[0].data);
}
CALLBOX_EXPORT(echo_text, CALLBOX_WIRE_STRING, CALLBOX_WIRE_STRING);

static void spin(const struct callbox_wire_value *args,
		 struct callbox_wire_writer *result)
{
	(void)args;
	(void)result;
	for (;;)
		asm volatile("pause");
}
CALLBOX_EXPORT(spin, CALLBOX_WIRE_VOID);

/* Numbers calls in the order they enter the guest. */
static void ticket(const struct callbox_wire_value *args,
		   struct callbox_wire_writer *result)
{
	static uint64_t next;

	(void)args;
	callbox_wire_put_u64(result, next++);
}
CALLBOX_EXPORT(ticket, CALLBOX_WIRE_U64);

/* Publish bad export table @variant and end the init call from here. */
static void bad_exports(uint32_t variant)
{
	struct callbox_export_desc *d =
		(struct callbox_export_desc *)output(mailbox->nr_slots);

	memset(d, 0, 2 * sizeof(*d));
	memcpy(d[0].name, "good", 5);
	d[0].ret_type = CALLBOX_WIRE_I64;
	memcpy(d[1].name, "bad", 4);
	d[1].ret_type = CALLBOX_WIRE_I64;
	d[1].nr_params = 1;
	d[1].params[0] = CALLBOX_WIRE_I64;
	mailbox->nr_exports = 2;
	switch (variant) {
	case EXPORTS_TOO_MANY:
		mailbox->nr_exports = 0xffffffff;
		break;
	case EXPORTS_NAME_UNTERMINATED:
		memset(d[1].name, 'n', sizeof(d[1].name));
		break;
	case EXPORTS_BAD_PARAM_TAG:
		d[1].params[0] = 0x99;
		break;
	case EXPORTS_TOO_MANY_PARAMS:
		d[1].nr_params = 200;
		break;
	case EXPORTS_NAME_WITH_SPACE:
		memcpy(d[1].name, "b d", 4);
		break;
	case EXPORTS_DUPLICATE:
		memcpy(d[1].name, "good", 5);
		break;
	case EXPORTS_OVER_THE_CAP:
		mailbox->nr_exports = CALLBOX_MAX_EXPORTS + 1;
		break;
	}
	for (;;)
		callbox_outl(CALLBOX_PORT_DONE, CALLBOX_STATUS_OK);
}

int callbox_guest_init(void)
{
	if (mailbox->log_level == CALLBOX_LOG_TRACE)
		bad_exports((uint32_t)(mailbox->heap_size / 4096));
	return 0;
}
