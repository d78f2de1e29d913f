/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * The guest side of callbox: what a freestanding guest program includes to
 * export functions to the host.
 *
 * A guest is a static x86-64 ELF linked with the SDK (guest/sdk/). The SDK
 * runtime owns _start and the request loop; the program only defines
 * functions and registers them with CALLBOX_EXPORT():
 *
 *	static int64_t add(const int64_t *args) { return args[0] + args[1]; }
 *	CALLBOX_EXPORT(add, 2);
 *
 * Guest code runs in 64-bit long mode at CPL 0 with no OS and no interrupts.
 * A CPU exception (page fault, #GP, #UD, divide error, stack overflow ...)
 * ends the call ABORTED, and the host is told the vector, RIP and address.
 */
#ifndef CALLBOX_GUEST_H
#define CALLBOX_GUEST_H

/* The SDK's own abort codes are in abi.h, shared with the host. */
#include <callbox/abi.h>

#ifndef __ASSEMBLER__

#include <stddef.h>
#include <stdint.h>

#include <linux/callbox.h>

#include <callbox/format.h>
#include <callbox/heap.h>

/**
 * typedef callbox_guest_fn - an exported guest function
 * @args: the call's arguments; exactly as many as the export declared are
 *	meaningful, the rest of the CALLBOX_MAX_ARGS slots are zero
 *
 * Return: the call's result, which the host reads from the mailbox.
 */
typedef int64_t (*callbox_guest_fn)(const int64_t *args);

/**
 * struct callbox_export - one entry of the export table
 * @name: the name the host calls the function by
 * @nargs: the exact number of arguments the function takes
 * @fn: the function
 *
 * Entries are emitted by CALLBOX_EXPORT() into section .callbox_exports;
 * the linker script gathers them into one array between
 * __start_callbox_exports and __stop_callbox_exports, which the runtime
 * searches by name. All entries have the same size and alignment, so the
 * section is a plain C array with no padding between elements.
 */
struct callbox_export {
	const char *name;
	uint32_t nargs;
	callbox_guest_fn fn;
};

extern const struct callbox_export __start_callbox_exports[];
extern const struct callbox_export __stop_callbox_exports[];

/**
 * CALLBOX_EXPORT() - make a function callable from the host
 * @fname: a function ``int64_t fname(const int64_t *args)`` defined (or at
 *	least declared) before this line; the host calls it by this name
 * @n: the number of arguments it takes, at most CALLBOX_MAX_ARGS
 *
 * The entry is "used" so that neither the compiler nor the linker (which
 * KEEPs the section) drops it although nothing references it by name, and
 * the initialiser makes the compiler check @fname's type.
 */
#define CALLBOX_EXPORT(fname, n)					\
	_Static_assert((n) >= 0 && (n) <= CALLBOX_MAX_ARGS,		\
		       "callbox export " #fname ": too many arguments");	\
	static const struct callbox_export __callbox_export_##fname	\
	__attribute__((used, section(".callbox_exports"),		\
		       aligned(__alignof__(struct callbox_export)))) = {	\
		.name = #fname,						\
		.nargs = (n),						\
		.fn = fname,						\
	}

/**
 * callbox_guest_init() - optional one-time initialisation by the program
 *
 * Weak: a program that needs set-up before its first call defines it; if
 * it is not defined the runtime skips it. It runs once, during the init
 * call, after the runtime has checked the mailbox ABI.
 *
 * Return: 0 on success. Anything else makes the init call, and every later
 * call, end with CALLBOX_STATUS_INIT_FAILED.
 */
int callbox_guest_init(void) __attribute__((weak));

/**
 * callbox_outl() - write 32 bits to an I/O port
 * @port: the port
 * @val: the value
 *
 * The "memory" clobber makes this a compiler barrier: the host reads guest
 * memory when the out exits to it, and may have changed guest memory when
 * execution continues after it.
 */
static inline void callbox_outl(uint16_t port, uint32_t val)
{
	asm volatile("outl %0, %w1" : : "a"(val), "Nd"(port) : "memory");
}

/**
 * callbox_inl() - read 32 bits from an I/O port
 * @port: the port
 *
 * callbox defines no port a guest may read: under callbox any IN aborts
 * the call. This exists for completeness and for tests of that rule.
 *
 * Return: the value read.
 */
static inline uint32_t callbox_inl(uint16_t port)
{
	uint32_t val;

	asm volatile("inl %w1, %0" : "=a"(val) : "Nd"(port) : "memory");
	return val;
}

/**
 * callbox_abort() - give up: end the current call as ABORTED
 * @code: reported to the host as the call's out_detail
 *
 * Writes @code to CALLBOX_PORT_ABORT. The host never resumes an aborted
 * guest, but should it do so anyway the guest halts forever rather than
 * carry on with state it has declared broken.
 */
void callbox_abort(uint32_t code) __attribute__((noreturn));

/**
 * callbox_abort_msg() - give up, with a message for the host
 * @code: as for callbox_abort()
 * @message: shown by the host; cut at CALLBOX_ABORT_MESSAGE_MAX - 1 bytes
 */
void callbox_abort_msg(uint32_t code, const char *message)
	__attribute__((noreturn));

/**
 * callbox_log() - send a message to the host's log
 * @level: a &enum callbox_log_level
 * @message: cut at CALLBOX_LOG_MESSAGE_MAX - 1 bytes
 *
 * Messages above the host's threshold cost nothing: they are dropped here.
 */
void callbox_log(enum callbox_log_level level, const char *message);

/* callbox_log() with printf-style formatting (callbox/format.h). */
void callbox_logf(enum callbox_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Set up the IDT (exception.c); the runtime does it at boot. */
void callbox_exceptions_init(void);

/**
 * callbox_host_call() - call a host function from guest code
 * @function: which host function; the host library defines the numbers
 * @arg: its argument
 *
 * The call moves to HOSTCALL while the host runs the function; this
 * returns when the host continues the call. If the call is cancelled
 * meanwhile, it never returns: the call ends ABORTED.
 *
 * Return: the host function's result.
 */
int64_t callbox_host_call(uint32_t function, int64_t arg);

/*
 * The guest has no libc: the SDK provides these, with their standard
 * meaning. The compiler may also emit calls to memcpy, memset, memmove and
 * memcmp on its own (struct copies, zeroing), so they must always exist.
 */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

#endif /* !__ASSEMBLER__ */

#endif /* CALLBOX_GUEST_H */
