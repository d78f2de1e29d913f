/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * The guest side of callbox: what a freestanding guest program includes to
 * export functions to the host.
 *
 * A guest is a static x86-64 ELF linked with the SDK (guest/sdk/). The SDK
 * runtime owns _start and the request loop; the program only defines
 * functions and registers them, with their signatures, by CALLBOX_EXPORT():
 *
 *	static void add(const struct callbox_wire_value *args,
 *			struct callbox_wire_writer *result)
 *	{
 *		callbox_wire_put_u64(result, args[0].u64 + args[1].u64);
 *	}
 *	CALLBOX_EXPORT(add, CALLBOX_WIRE_U64, CALLBOX_WIRE_U64, CALLBOX_WIRE_U64);
 *
 * The runtime checks every call against the signature before the function
 * runs, so the function finds exactly the arguments it declared.
 *
 * Guest code runs in 64-bit long mode at CPL 0 with no OS and no interrupts.
 * A CPU exception (page fault, #GP, #UD, divide error, stack overflow ...)
 * ends the call ABORTED, and the host is told the vector, RIP and address.
 */
#ifndef CALLBOX_GUEST_H
#define CALLBOX_GUEST_H

/* A guest is freestanding: it has neither the host's libc nor its API. */
#if __STDC_HOSTED__
#error "<callbox/guest.h> is for guests: compile with -ffreestanding (pkg-config --cflags callbox-guest)"
#endif

/* The SDK's own abort codes are in abi.h, shared with the host. */
#include <callbox/abi.h>

#ifndef __ASSEMBLER__

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/callbox.h>

#include <callbox/format.h>
#include <callbox/heap.h>
#include <callbox/wire.h>

/**
 * typedef callbox_guest_fn - an exported guest function
 * @args: the call's arguments, as many and of the types the export
 *	declared. A STRING's data is NUL-terminated. STRING and BYTES data
 *	live in the call's input buffer: valid until the function returns.
 * @result: where the function puts its result, with one
 *	callbox_wire_put_*() of the declared type. A function declared VOID
 *	puts nothing (or one callbox_wire_put_void()).
 *
 * A result that does not fit the output buffer, or is not one value of
 * the declared type, fails the call with a message; the host sees it.
 */
typedef void (*callbox_guest_fn)(const struct callbox_wire_value *args,
				 struct callbox_wire_writer *result);

/**
 * struct callbox_export - one entry of the export table
 * @name: the name the host calls the function by
 * @fn: the function
 * @signature: the result's type, then the parameters' types
 *	(&enum callbox_wire_type)
 * @nr_params: how many parameters follow the result's type in @signature
 *
 * Entries are emitted by CALLBOX_EXPORT() into section .callbox_exports;
 * the linker script gathers them into one array between
 * __start_callbox_exports and __stop_callbox_exports, which the runtime
 * searches by name. All entries have the same size and alignment, so the
 * section is a plain C array with no padding between elements.
 */
struct callbox_export {
	const char *name;
	callbox_guest_fn fn;
	const uint8_t *signature;
	uint32_t nr_params;
};

extern const struct callbox_export __start_callbox_exports[];
extern const struct callbox_export __stop_callbox_exports[];

/**
 * CALLBOX_EXPORT() - make a function callable from the host
 * @fname: a &typedef callbox_guest_fn defined (or at least declared)
 *	before this line; the host calls it by this name
 * @...: the type of its result, a CALLBOX_WIRE_* tag (VOID for none),
 *	then the types of its parameters, at most CALLBOX_MAX_PARAMS, none
 *	of them VOID
 *
 * The entry is "used" so that neither the compiler nor the linker (which
 * KEEPs the section) drops it although nothing references it by name, and
 * the initialiser makes the compiler check @fname's type. The entry is a
 * global symbol, so that two exports of one name fail the link. The
 * runtime checks the type tags at boot: a bad one aborts the init call.
 */
#define CALLBOX_EXPORT(fname, ...)					\
	static const uint8_t __callbox_signature_##fname[] = {		\
		__VA_ARGS__ };						\
	_Static_assert(sizeof(__callbox_signature_##fname) - 1 <=	\
		       CALLBOX_MAX_PARAMS,					\
		       "callbox export " #fname ": too many parameters");	\
	_Static_assert(sizeof(#fname) <= CALLBOX_FUNCTION_NAME_MAX,	\
		       "callbox export " #fname ": name too long");	\
	const struct callbox_export __callbox_export_##fname		\
	__attribute__((used, section(".callbox_exports"),		\
		       aligned(__alignof__(struct callbox_export)))) = {	\
		.name = #fname,						\
		.fn = fname,						\
		.signature = __callbox_signature_##fname,		\
		.nr_params = sizeof(__callbox_signature_##fname) - 1,	\
	}

/**
 * callbox_guest_init() - optional initialisation by the program
 *
 * A program that needs set-up before its first call defines it; if it is
 * not defined the runtime skips it (the runtime declares it weak). It runs
 * during the init call, after the runtime has checked the mailbox ABI:
 * once at load, and again after each reset of the sandbox.
 *
 * Return: 0 on success. Anything else makes the init call, and every later
 * call, end with CALLBOX_STATUS_INIT_FAILED.
 */
int callbox_guest_init(void);

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
	__asm__ __volatile__("outl %0, %w1" : : "a"(val), "Nd"(port) : "memory");
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

	__asm__ __volatile__("inl %w1, %0" : "=a"(val) : "Nd"(port) : "memory");
	return val;
}

/**
 * callbox_abort() - give up: end the current call as ABORTED
 * @code: reported to the host as the call's detail
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
 * callbox_fail() - fail the current call, with a message for the host
 * @fmt: printf-style (callbox/format.h); the host sees at most
 *	CALLBOX_ERROR_MESSAGE_MAX - 1 bytes
 *
 * For a guest function that cannot do what it was asked, because of its
 * input or a lack of memory: the call ends EXITED with
 * CALLBOX_STATUS_FAILED, and the host's call returns -EREMOTEIO with
 * "FUNCTION: MESSAGE". Unlike callbox_abort(), this leaves the guest
 * healthy for the next call. The function returns as usual afterwards;
 * what it put in its result is dropped.
 */
void callbox_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

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
 * callbox_call_host() - call a host function from guest code
 * @function: the host function's name, as the host registered it
 * @args: its arguments, e.g. (struct callbox_wire_value[]){
 *	CALLBOX_I64(1), CALLBOX_STRING("two") }; the host checks them
 *	against the function's signature
 * @nr_args: how many, at most CALLBOX_MAX_PARAMS
 * @result: the result on success: one value of the function's declared
 *	type (VOID for none). STRING and BYTES data point into the host
 *	call's input buffer and stay valid until the next host call.
 *
 * The call moves to HOSTCALL while the host runs the function; this
 * returns when the host continues the call. If the call is cancelled
 * meanwhile, it never returns: the call ends ABORTED.
 *
 * Return: 0, or the error the host reported, never 0: the host function's
 * own error code, or the host library's (see &struct callbox_hostcall:
 * -ENOENT no such function, -EINVAL arguments that do not match ...); or
 * one of the SDK's, found before or after the exit: -CALLBOX_WIRE_E2BIG
 * the arguments do not fit the host call's output buffer,
 * -CALLBOX_WIRE_EINVAL a name too long, too many arguments or an invalid
 * value, -CALLBOX_WIRE_EBADMSG a malformed reply. In every case
 * callbox_host_error() then says what went wrong.
 */
int callbox_call_host(const char *function,
		      const struct callbox_wire_value *args,
		      unsigned int nr_args, struct callbox_wire_value *result);

/**
 * callbox_host_error() - what went wrong in the last failed host call
 *
 * Return: a NUL-terminated message, valid until the next host call.
 */
const char *callbox_host_error(void);

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
