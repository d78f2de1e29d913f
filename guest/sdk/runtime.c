// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * The guest runtime: boot checks, then the request loop that serves the
 * host's calls one at a time.
 *
 * The guest and the host take turns on the current call: while the guest
 * runs, the host leaves the current slot, its buffers and the mailbox's
 * header alone (it may queue other calls in other slots meanwhile). The
 * guest hands the turn back by writing a status to CALLBOX_PORT_DONE, and
 * gets it again when that out instruction "returns", which is when the
 * host has written the next request and entered the vCPU for the next
 * call. So a request is read right after the out, and a status is written
 * at the top of the loop.
 */
#include <stdarg.h>

#include <callbox/guest.h>

/* Make the compiler forget what it knew of memory: the host changes it. */
static inline void barrier(void)
{
	asm volatile("" : : : "memory");
}

/*
 * Every access goes through a volatile pointer, so each read of the
 * mailbox really is a read of guest memory after the host's last write,
 * never a value the compiler kept from before the out.
 */
static volatile struct callbox_mailbox *const mailbox =
	(volatile struct callbox_mailbox *)CALLBOX_GPA_MAILBOX;

void callbox_runtime_main(void) __attribute__((noreturn));

/* Weak here only: a program may define it, once (guest.h). */
int callbox_guest_init(void) __attribute__((weak));

void callbox_abort_msg(uint32_t code, const char *message)
{
	size_t i;

	for (i = 0; i < CALLBOX_ABORT_MESSAGE_MAX - 1 && message[i]; i++)
		mailbox->abort_message[i] = message[i];
	mailbox->abort_message[i] = '\0';
	callbox_outl(CALLBOX_PORT_ABORT, code);
	for (;;)
		asm volatile("cli; hlt" : : : "memory");
}

void callbox_abort(uint32_t code)
{
	callbox_abort_msg(code, "");
}

/* The I/O buffers of pair @index (callbox/abi.h), as the host laid them out. */
static void *callbox_input(uint32_t index)
{
	return (void *)callbox_io_input(mailbox->io_base, mailbox->input_size,
					mailbox->output_size, index);
}

static void *callbox_output(uint32_t index)
{
	return (void *)callbox_io_output(mailbox->io_base, mailbox->input_size,
					 mailbox->output_size, index);
}

/*
 * Check the program's exports and publish them for the host: their
 * signatures go into the host call's output buffer, which is free at the
 * end of the init call. A malformed export is the program's bug, found
 * before any call could trip over it.
 */
static void callbox_publish_exports(void)
{
	struct callbox_export_desc *desc = callbox_output(mailbox->nr_slots);
	size_t room = mailbox->output_size / sizeof(*desc);
	const struct callbox_export *e;
	char message[CALLBOX_ABORT_MESSAGE_MAX];
	uint32_t n = 0, i;

	for (e = __start_callbox_exports; e < __stop_callbox_exports; e++, n++) {
		/* CALLBOX_EXPORT() checks these; a hand-made entry may not. */
		if (strlen(e->name) >= CALLBOX_FUNCTION_NAME_MAX ||
		    e->nr_params > CALLBOX_MAX_PARAMS) {
			callbox_snprintf(message, sizeof(message),
					 "export %u: a name of %zu bytes, %u parameters",
					 n + 1, strlen(e->name), e->nr_params);
			callbox_abort_msg(CALLBOX_GUEST_ABORT_EXPORTS, message);
		}
		if (n == room || n == CALLBOX_MAX_EXPORTS) {
			callbox_snprintf(message, sizeof(message),
					 "more than %u exports: at most %d, as far as the %u-byte output buffer holds them",
					 n, CALLBOX_MAX_EXPORTS, mailbox->output_size);
			callbox_abort_msg(CALLBOX_GUEST_ABORT_EXPORTS, message);
		}
		memset(&desc[n], 0, sizeof(desc[n]));
		memcpy(desc[n].name, e->name, strlen(e->name) + 1);
		desc[n].ret_type = e->signature[0];
		desc[n].nr_params = (uint8_t)e->nr_params;
		if (e->signature[0] >= CALLBOX_WIRE_TYPE_COUNT) {
			callbox_snprintf(message, sizeof(message),
					 "export %s: result type tag %u is no type",
					 e->name, e->signature[0]);
			callbox_abort_msg(CALLBOX_GUEST_ABORT_EXPORTS, message);
		}
		for (i = 0; i < e->nr_params; i++) {
			uint8_t type = e->signature[i + 1];

			if (type == CALLBOX_WIRE_VOID ||
			    type >= CALLBOX_WIRE_TYPE_COUNT) {
				callbox_snprintf(message, sizeof(message),
						 "export %s: parameter %u has type tag %u, which is no parameter type",
						 e->name, i + 1, type);
				callbox_abort_msg(CALLBOX_GUEST_ABORT_EXPORTS,
						  message);
			}
			desc[n].params[i] = type;
		}
	}
	mailbox->nr_exports = n;
}

/*
 * Checks done once, for the init call. Their outcome is final: a guest
 * whose ABI does not match the host's, or whose own init failed, must not
 * run functions, so the loop keeps reporting the same status.
 */
/* The end of the image (guest.ld): the heap starts above it. */
extern char _end[];

static uint32_t callbox_boot(void)
{
	uintptr_t heap = ((uintptr_t)_end + 15) & ~(uintptr_t)15;
	uintptr_t heap_end;

	callbox_exceptions_init();

	if (mailbox->magic != CALLBOX_ABI_MAGIC ||
	    mailbox->version != CALLBOX_ABI_VERSION)
		return CALLBOX_STATUS_BAD_ABI;

	/* Memory between the image and the I/O area, up to the host's heap
	 * size; the host checked that the layout fits. */
	heap_end = mailbox->io_base;
	if (mailbox->heap_size && mailbox->heap_size < heap_end - heap)
		heap_end = heap + mailbox->heap_size;
	callbox_heap_init((void *)heap, heap_end - heap);

	if (callbox_guest_init && callbox_guest_init() != 0)
		return CALLBOX_STATUS_INIT_FAILED;

	/* Last: host calls made by the init above use the same buffer. */
	callbox_publish_exports();
	return CALLBOX_STATUS_OK;
}

void callbox_log(enum callbox_log_level level, const char *message)
{
	size_t i;

	if (level > mailbox->log_level)
		return;
	mailbox->log.level = level;
	for (i = 0; i < CALLBOX_LOG_MESSAGE_MAX - 1 && message[i]; i++)
		mailbox->log.message[i] = message[i];
	mailbox->log.message[i] = '\0';
	callbox_outl(CALLBOX_PORT_HOSTCALL, CALLBOX_HOSTCALL_LOG);
}

void callbox_logf(enum callbox_log_level level, const char *fmt, ...)
{
	char message[CALLBOX_LOG_MESSAGE_MAX];
	va_list ap;

	if (level > mailbox->log_level)
		return;
	va_start(ap, fmt);
	callbox_vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	callbox_log(level, message);
}

/* The heap found its own structures broken: nothing it says can be trusted. */
void callbox_heap_corrupted(const char *what)
{
	callbox_abort_msg(CALLBOX_GUEST_ABORT_HEAP, what);
}

/* The message of the last failed host call, the host's or our own. */
static char callbox_host_error_message[CALLBOX_ERROR_MESSAGE_MAX];

const char *callbox_host_error(void)
{
	return callbox_host_error_message;
}

static int callbox_host_fail(int error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	callbox_vsnprintf(callbox_host_error_message,
			  sizeof(callbox_host_error_message), fmt, ap);
	va_end(ap);
	return error;
}

int callbox_call_host(const char *function,
		      const struct callbox_wire_value *args,
		      unsigned int nr_args, struct callbox_wire_value *result)
{
	volatile struct callbox_hostcall *hc = &mailbox->hostcall;
	struct callbox_wire_writer w;
	struct callbox_wire_reader r;
	unsigned int i;
	int64_t len;
	int ret;

	callbox_host_error_message[0] = '\0';
	if (strlen(function) >= CALLBOX_FUNCTION_NAME_MAX)
		return callbox_host_fail(-CALLBOX_WIRE_EINVAL,
					 "host function name longer than %d bytes",
					 CALLBOX_FUNCTION_NAME_MAX - 1);
	if (nr_args > CALLBOX_MAX_PARAMS)
		return callbox_host_fail(-CALLBOX_WIRE_EINVAL,
					 "%s: %u arguments, at most %d are allowed",
					 function, nr_args, CALLBOX_MAX_PARAMS);
	callbox_wire_writer_init(&w, callbox_output(mailbox->nr_slots),
				 mailbox->output_size);
	for (i = 0; i < nr_args; i++)
		callbox_wire_put_value(&w, &args[i]);
	len = callbox_wire_writer_finish(&w);
	if (len < 0)
		return callbox_host_fail((int)len,
					 len == -CALLBOX_WIRE_E2BIG ?
					 "%s: the arguments do not fit the %u-byte output buffer" :
					 "%s: an argument is not a valid value (type tag, NUL in a string, NULL data)",
					 function, mailbox->output_size);

	for (i = 0; function[i]; i++)
		hc->function[i] = function[i];
	hc->function[i] = '\0';
	hc->error = 0;
	hc->message[0] = '\0';
	callbox_outl(CALLBOX_PORT_HOSTCALL, CALLBOX_HOSTCALL_FUNCTION);

	ret = hc->error;
	if (ret) {
		for (i = 0; i < CALLBOX_ERROR_MESSAGE_MAX - 1 && hc->message[i]; i++)
			callbox_host_error_message[i] = hc->message[i];
		callbox_host_error_message[i] = '\0';
		return ret;
	}
	/* The host is trusted, but a reply is still checked before use. */
	callbox_wire_reader_init(&r, callbox_input(mailbox->nr_slots),
				 mailbox->input_size);
	ret = callbox_wire_next(&r, result);
	if (ret == 1 && callbox_wire_next(&r, &(struct callbox_wire_value){ 0 }) == 0)
		return 0;
	return callbox_host_fail(-CALLBOX_WIRE_EBADMSG,
				 "%s: the host's reply is malformed: %s",
				 function, r.err ? r.err : "not one value");
}

static const struct callbox_export *callbox_find(const char *name)
{
	const struct callbox_export *e;

	for (e = __start_callbox_exports; e < __stop_callbox_exports; e++)
		if (!strcmp(e->name, name))
			return e;
	return NULL;
}

/* Set by callbox_fail() while a guest function runs. */
static bool callbox_failed;
static char callbox_fail_message[CALLBOX_ERROR_MESSAGE_MAX];

void callbox_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	callbox_vsnprintf(callbox_fail_message, sizeof(callbox_fail_message),
			  fmt, ap);
	va_end(ap);
	callbox_failed = true;
}

/*
 * End a call with a failure @status and say why, in the output buffer as
 * a message with one STRING, which the host shows after the function's
 * name.
 */
static uint32_t callbox_call_fail(void *out, uint32_t status,
				  const char *fmt, ...)
{
	char message[CALLBOX_ERROR_MESSAGE_MAX];
	struct callbox_wire_writer w;
	va_list ap;

	va_start(ap, fmt);
	callbox_vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	callbox_wire_writer_init(&w, out, mailbox->output_size);
	callbox_wire_put_string(&w, message);
	callbox_wire_writer_finish(&w);
	return status;
}

/*
 * Serve one request: check it against the export's signature, run the
 * function, and check that its result is what it declared. The function
 * name is copied out of the mailbox before it is looked up, so what is
 * checked is what is used.
 */
static uint32_t callbox_dispatch(uint32_t index)
{
	struct callbox_wire_value args[CALLBOX_MAX_PARAMS + 1];
	char name[CALLBOX_FUNCTION_NAME_MAX];
	volatile struct callbox_slot *slot;
	const struct callbox_export *e;
	struct callbox_wire_writer w;
	struct callbox_wire_reader r;
	uint32_t i, n;
	void *out;
	int ret;

	if (index >= mailbox->nr_slots || index >= CALLBOX_MAX_SLOTS)
		return CALLBOX_STATUS_BAD_REQUEST;
	slot = &mailbox->slots[index];
	out = callbox_output(index);

	for (i = 0; i < CALLBOX_FUNCTION_NAME_MAX; i++) {
		name[i] = slot->function[i];
		if (!name[i])
			break;
	}
	if (i == CALLBOX_FUNCTION_NAME_MAX)
		return callbox_call_fail(out, CALLBOX_STATUS_BAD_REQUEST,
					 "the function name is not terminated");

	e = callbox_find(name);
	if (!e)
		return callbox_call_fail(out, CALLBOX_STATUS_NO_FUNCTION,
					 "the guest has no function of that name");

	callbox_wire_reader_init(&r, callbox_input(index), mailbox->input_size);
	for (n = 0; (ret = callbox_wire_next(&r, &args[n])) == 1; n++)
		if (n == CALLBOX_MAX_PARAMS)
			break;
	if (ret < 0)
		return callbox_call_fail(out, CALLBOX_STATUS_BAD_REQUEST,
					 "malformed arguments: %s at offset %u",
					 r.err, r.err_offset);
	if (ret == 1 || n != e->nr_params)
		return callbox_call_fail(out, CALLBOX_STATUS_BAD_ARGS,
					 "%u arguments given, but the function takes %u",
					 ret == 1 ? n + 1 : n, e->nr_params);
	for (i = 0; i < n; i++)
		if (args[i].type != e->signature[i + 1])
			return callbox_call_fail(out, CALLBOX_STATUS_BAD_ARGS,
						 "argument %u is %s, but the function takes %s there",
						 i + 1,
						 callbox_wire_type_name(args[i].type),
						 callbox_wire_type_name(e->signature[i + 1]));

	callbox_wire_writer_init(&w, out, mailbox->output_size);
	callbox_failed = false;
	e->fn(args, &w);
	if (callbox_failed)
		return callbox_call_fail(out, CALLBOX_STATUS_FAILED, "%s",
					 callbox_fail_message);
	if (!w.error && !w.count && e->signature[0] == CALLBOX_WIRE_VOID)
		callbox_wire_put_void(&w);
	if (callbox_wire_writer_finish(&w) < 0)
		return callbox_call_fail(out, w.error == -CALLBOX_WIRE_E2BIG ?
					 CALLBOX_STATUS_RESULT_TOO_BIG :
					 CALLBOX_STATUS_BAD_RESULT,
					 w.error == -CALLBOX_WIRE_E2BIG ?
					 "the result does not fit the %u-byte output buffer" :
					 "the function put more than one value, or an invalid one",
					 mailbox->output_size);
	/* The first value's tag follows the header. */
	if (w.count != 1)
		return callbox_call_fail(out, CALLBOX_STATUS_BAD_RESULT,
					 "the function put %u values, but it is declared to return one %s",
					 w.count,
					 callbox_wire_type_name(e->signature[0]));
	if (((uint8_t *)out)[CALLBOX_WIRE_HEADER_SIZE] != e->signature[0])
		return callbox_call_fail(out, CALLBOX_STATUS_BAD_RESULT,
					 "the function returned %s, but it is declared to return %s",
					 callbox_wire_type_name(((uint8_t *)out)[CALLBOX_WIRE_HEADER_SIZE]),
					 callbox_wire_type_name(e->signature[0]));
	return CALLBOX_STATUS_OK;
}

/* A guest that failed to boot refuses every call, saying why if it can. */
static uint32_t callbox_refuse(uint32_t boot, uint32_t index)
{
	/* A bad ABI means the mailbox cannot be trusted to say where. */
	if (boot == CALLBOX_STATUS_BAD_ABI || index >= mailbox->nr_slots ||
	    index >= CALLBOX_MAX_SLOTS)
		return boot;
	return callbox_call_fail(callbox_output(index), boot,
				 "the guest's init failed, so it runs no function");
}

/**
 * callbox_runtime_main() - the guest's main loop, called by _start
 *
 * The first DONE ends the init call with the boot status; each later DONE
 * ends the call whose request was read after the previous one. Before
 * it, the mailbox's slot moves on to the next call's of a batch.
 */
void callbox_runtime_main(void)
{
	uint32_t boot = callbox_boot();
	uint32_t status = boot;
	uint32_t index;

	for (;;) {
		barrier();
		callbox_outl(CALLBOX_PORT_DONE, status);
		barrier();

		/* Read the slot number once: the host may not change it. */
		index = mailbox->slot;
		if (boot != CALLBOX_STATUS_OK)
			status = callbox_refuse(boot, index);
		else
			status = callbox_dispatch(index);
		/* A bad ABI means the mailbox has no chain to follow. */
		if (boot != CALLBOX_STATUS_BAD_ABI && index < mailbox->nr_slots &&
		    index < CALLBOX_MAX_SLOTS)
			mailbox->slot = mailbox->next_slot[index];
	}
}
