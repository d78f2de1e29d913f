// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * The guest runtime: boot checks, then the request loop that serves the
 * host's calls one at a time.
 *
 * The guest and the host take turns: while the guest runs the host is
 * inside KVM_RUN and does not touch the mailbox; the guest hands the turn
 * back by writing a status to CALLBOX_PORT_DONE, and gets it again when
 * that out instruction "returns", which is when the host has written the
 * next request and entered the vCPU for the next call. So a request is
 * read right after the out, and a status is written at the top of the loop.
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

	/* Memory between the image and the stack's guard page, up to the
	 * host's heap size; the host checked that the layout fits. */
	heap_end = CALLBOX_STACK_GUARD(mailbox->mem_size, mailbox->stack_size);
	if (mailbox->heap_size && mailbox->heap_size < heap_end - heap)
		heap_end = heap + mailbox->heap_size;
	callbox_heap_init((void *)heap, heap_end - heap);

	if (callbox_guest_init && callbox_guest_init() != 0)
		return CALLBOX_STATUS_INIT_FAILED;

	return CALLBOX_STATUS_OK;
}

/* The slot of the call being served; a host call uses it too. */
static volatile struct callbox_slot *callbox_current_slot;

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

int64_t callbox_host_call(uint32_t function, int64_t arg)
{
	volatile struct callbox_slot *slot = callbox_current_slot;

	slot->host_arg = arg;
	callbox_outl(CALLBOX_PORT_HOSTCALL, function);
	return slot->host_result;
}

static const struct callbox_export *callbox_find(const char *name)
{
	const struct callbox_export *e;

	for (e = __start_callbox_exports; e < __stop_callbox_exports; e++)
		if (!strcmp(e->name, name))
			return e;
	return NULL;
}

/*
 * Serve one request. The request is copied out of the mailbox before it is
 * checked, so what is checked is what is used, and the function gets a
 * private argument array it may not scribble on the mailbox through.
 * The result is written only on success; on failure the host must not
 * read it.
 */
static uint32_t callbox_dispatch(void)
{
	char name[CALLBOX_FUNCTION_NAME_MAX];
	int64_t args[CALLBOX_MAX_ARGS] = { 0 };
	volatile struct callbox_slot *slot;
	const struct callbox_export *e;
	uint32_t argc, i, index;
	int64_t result;

	/* Read the slot number once: the host may not change it under us. */
	index = mailbox->slot;
	if (index >= CALLBOX_MAX_SLOTS)
		return CALLBOX_STATUS_BAD_REQUEST;
	slot = &mailbox->slots[index];
	callbox_current_slot = slot;

	for (i = 0; i < CALLBOX_FUNCTION_NAME_MAX; i++) {
		name[i] = slot->function[i];
		if (!name[i])
			break;
	}
	if (i == CALLBOX_FUNCTION_NAME_MAX)
		return CALLBOX_STATUS_BAD_REQUEST;

	e = callbox_find(name);
	if (!e)
		return CALLBOX_STATUS_NO_FUNCTION;

	argc = slot->argc;
	if (argc != e->nargs || argc > CALLBOX_MAX_ARGS)
		return CALLBOX_STATUS_BAD_ARGC;

	for (i = 0; i < argc; i++)
		args[i] = slot->args[i];

	result = e->fn(args);
	slot->result = result;
	return CALLBOX_STATUS_OK;
}

/**
 * callbox_runtime_main() - the guest's main loop, called by _start
 *
 * The first DONE ends the init call with the boot status; each later DONE
 * ends the call whose request was read after the previous one.
 */
void callbox_runtime_main(void)
{
	uint32_t boot = callbox_boot();
	uint32_t status = boot;

	for (;;) {
		barrier();
		callbox_outl(CALLBOX_PORT_DONE, status);
		barrier();

		if (boot != CALLBOX_STATUS_OK)
			status = boot;
		else
			status = callbox_dispatch();
	}
}
