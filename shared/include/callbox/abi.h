/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * The guest <-> host-library ABI of callbox: guest-physical memory layout,
 * the mailbox through which a call's request and result travel, and the
 * status codes a guest reports with CALLBOX_PORT_DONE.
 *
 * Shared, unchanged, by the freestanding guest SDK and by libcallbox. The
 * kernel does not read guest memory and does not use this header; its side
 * of the contract (the ports) is in uapi/linux/callbox.h.
 *
 * Everything the host reads from guest memory is hostile input: the host
 * checks every length and value it takes from the mailbox.
 */
#ifndef CALLBOX_ABI_H
#define CALLBOX_ABI_H

/*
 * Abort codes of the guest SDK itself (CALLBOX_PORT_ABORT values). A
 * program may abort with any other code; [CALLBOX_GUEST_ABORT_SDK_FIRST,
 * 0xffffffff] is the SDK's, so the host can tell a runtime failure from a
 * program's own abort. Plain literals: entry.S uses them too.
 */
#define CALLBOX_GUEST_ABORT_SDK_FIRST	0xffffff00
/* The runtime's main loop returned to _start, which must never happen. */
#define CALLBOX_GUEST_ABORT_RETURNED	0xffffff01
/* A CPU exception; the mailbox's fault says which and where. */
#define CALLBOX_GUEST_ABORT_EXCEPTION	0xffffff02
/* The heap found its own data structures corrupted. */
#define CALLBOX_GUEST_ABORT_HEAP	0xffffff03
/* An export of the program is malformed, or they do not fit (at init). */
#define CALLBOX_GUEST_ABORT_EXPORTS	0xffffff04

/*
 * Host call numbers: the values a guest writes to CALLBOX_PORT_HOSTCALL.
 * There are only these two; the host answers any other number with the
 * host-call error -ENOSYS in the mailbox's &struct callbox_hostcall.
 */
#define CALLBOX_HOSTCALL_SDK_FIRST	0xffffff00
/* Deliver the mailbox's log record to the host's log callback. */
#define CALLBOX_HOSTCALL_LOG		0xffffff00
/* Call the host function the mailbox's &struct callbox_hostcall names. */
#define CALLBOX_HOSTCALL_FUNCTION	0xffffff01

#ifndef __ASSEMBLER__

#include <stdint.h>

#define CALLBOX_ABI_MAGIC	0x584f4243u	/* "CBOX" little-endian */
#define CALLBOX_ABI_VERSION	7u

/*
 * Guest-physical memory starts at 0 and is identity-mapped (virtual ==
 * physical) by page tables the host builds. Page 0 is left unmapped so a
 * NULL dereference faults. The host lays out everything below
 * CALLBOX_GPA_IMAGE_MIN; the guest ELF is loaded at or above it, and the
 * stack grows down from the top of memory, with an unmapped guard page
 * below it so that an overflow faults. The I/O area lies right below the
 * guard page, and the heap between the image and the I/O area:
 *
 *	0x100000: image | heap ... | I/O area | guard page | stack | mem_size
 *
 * What the host sets up, for anyone writing a host or a guest from this
 * header alone:
 * - The image: a static x86-64 ELF executable (ET_EXEC) whose PT_LOAD
 *   segments lie at or above CALLBOX_GPA_IMAGE_MIN and end below the I/O
 *   area, with its entry point in an executable segment.
 * - The page tables map [0, mem_size) identity, read-write-execute, with
 *   4 KiB pages in the first and last 2 MiB and 2 MiB pages between,
 *   except page 0 and the stack's guard page; nothing above mem_size.
 * - The vCPU starts in 64-bit mode at the entry point with RSP = mem_size
 *   (16-byte aligned), interrupts off, CR0.PE|PG|MP|ET|NE|WP,
 *   CR4.PAE|OSFXSR|OSXMMEXCPT (SSE works, AVX does not: no OSXSAVE),
 *   EFER.LME|LMA, MXCSR 0x1f80, and the selectors below loaded.
 * - Before each call the host writes the slot's request (see
 *   &struct callbox_slot) and the slot's index into the mailbox's @slot.
 *   After each call, before its DONE, the guest moves @slot on to
 *   @next_slot[@slot], where the host chains the calls of a batch
 *   (CALLBOX_CALL_BATCH), which the kernel runs one after another with no
 *   host code between them.
 *
 * CPU exceptions: the host loads a 64-bit TSS whose IST1 is a stack of
 * its own (CALLBOX_GPA_EXC_STACK..CALLBOX_EXC_STACK_TOP); the guest SDK
 * fills the IDT at CALLBOX_GPA_IDT with gates on IST1, so even a stack
 * overflow is handled, and reports the fault in the mailbox.
 */
#define CALLBOX_GPA_GDT		0x1000ull
#define CALLBOX_GPA_PML4	0x2000ull
#define CALLBOX_GPA_PDPT	0x3000ull
#define CALLBOX_GPA_PD		0x4000ull
#define CALLBOX_GPA_PT		0x5000ull	/* 4 KiB pages of the first 2 MiB */
#define CALLBOX_GPA_PT_TOP	0x6000ull	/* ... and of the last 2 MiB */
#define CALLBOX_GPA_MAILBOX	0x8000ull	/* struct callbox_mailbox, 3 pages */
#define CALLBOX_GPA_TSS		0xb000ull
#define CALLBOX_GPA_IDT		0xc000ull	/* 256 gates of 16 bytes */
#define CALLBOX_GPA_EXC_STACK	0xe000ull
#define CALLBOX_EXC_STACK_TOP	0x10000ull
#define CALLBOX_GPA_IMAGE_MIN	0x100000ull

/* Stack size: a multiple of 4 KiB in [CALLBOX_STACK_MIN, CALLBOX_STACK_MAX]. */
#define CALLBOX_DEFAULT_STACK_SIZE	(256ull << 10)
#define CALLBOX_STACK_MIN		(16ull << 10)
#define CALLBOX_STACK_MAX		(1ull << 20)
/* The unmapped page just below the stack. */
#define CALLBOX_STACK_GUARD(mem_size, stack_size) \
	((mem_size) - (stack_size) - 0x1000ull)

/* Memory size: a multiple of 2 MiB in [CALLBOX_MEM_MIN, CALLBOX_MEM_MAX]. */
#define CALLBOX_MEM_ALIGN	(2ull << 20)
#define CALLBOX_MEM_MIN		(2ull << 20)
#define CALLBOX_MEM_MAX		(1ull << 30)

/*
 * GDT selectors the host loads (index 1: 64-bit code, index 2: data,
 * indices 3-4: the 64-bit TSS).
 */
#define CALLBOX_SEL_CODE	0x08
#define CALLBOX_SEL_DATA	0x10
#define CALLBOX_SEL_TSS		0x18
#define CALLBOX_GDT_ENTRIES	5

#define CALLBOX_FUNCTION_NAME_MAX	64	/* including the NUL */
/*
 * The most functions a guest may export; fewer if the output buffer is
 * small: each takes a struct callbox_export_desc (128 bytes) of the host
 * call's output buffer at init, so 128 with the default 16 KiB.
 */
#define CALLBOX_MAX_EXPORTS		4096
/* Parameters of a function, guest or host; == CALLBOX_WIRE_MAX_VALUES - 1. */
#define CALLBOX_MAX_PARAMS		32

/*
 * The I/O area: the buffers through which typed values travel, as
 * messages of the wire format (callbox/wire.h). It lies right below the
 * stack's guard page, and holds @nr_slots + 1 pairs of an input buffer
 * (host -> guest, @input_size bytes) and an output buffer (guest -> host,
 * @output_size bytes): pair i belongs to slot i, and the last pair to the
 * host call in progress. Both sizes are multiples of 4 KiB in
 * [CALLBOX_IO_BUFFER_MIN, CALLBOX_IO_BUFFER_MAX].
 *
 *	slot i input	callbox_io_input(io_base, in, out, i)
 *	slot i output	callbox_io_output(io_base, in, out, i)
 *	host call	the same with i = nr_slots
 */
#define CALLBOX_IO_BUFFER_MIN		(4ull << 10)
#define CALLBOX_IO_BUFFER_MAX		(256ull << 20)
#define CALLBOX_DEFAULT_IO_BUFFER	(16ull << 10)

static inline uint64_t callbox_io_input(uint64_t io_base, uint32_t input_size,
					uint32_t output_size, uint32_t index)
{
	return io_base + (uint64_t)index * ((uint64_t)input_size + output_size);
}

static inline uint64_t callbox_io_output(uint64_t io_base, uint32_t input_size,
					 uint32_t output_size, uint32_t index)
{
	return callbox_io_input(io_base, input_size, output_size, index) +
	       input_size;
}

/* The whole I/O area's size, for @nr_slots slots. */
static inline uint64_t callbox_io_size(uint32_t input_size,
				       uint32_t output_size, uint32_t nr_slots)
{
	return ((uint64_t)nr_slots + 1) * ((uint64_t)input_size + output_size);
}

/*
 * Status a guest writes to CALLBOX_PORT_DONE. The first DONE after boot
 * ends the init call; every later one ends a function call. With any
 * status but OK, the slot's output buffer holds a message with one STRING
 * that says what was wrong, e.g. "argument 2 is string, but the function
 * takes i64 there" (the host adds the function's name). The runtime writes
 * one for every failed call but those of a slot out of range or of a guest
 * of another ABI; the host clears the buffer's header before each call,
 * so a message is never a stale one.
 */
enum callbox_guest_status {
	CALLBOX_STATUS_OK = 0,
	CALLBOX_STATUS_NO_FUNCTION = 1,	/* no function of that name */
	CALLBOX_STATUS_BAD_ARGS = 2,	/* wrong number or types of arguments */
	CALLBOX_STATUS_BAD_REQUEST = 3,	/* malformed request */
	CALLBOX_STATUS_BAD_ABI = 4,	/* mailbox magic/version mismatch at init */
	CALLBOX_STATUS_INIT_FAILED = 5,	/* the guest's own init returned non-zero */
	CALLBOX_STATUS_RESULT_TOO_BIG = 6, /* the result overflowed the buffer */
	CALLBOX_STATUS_BAD_RESULT = 7,	/* not one value of the declared type */
	CALLBOX_STATUS_FAILED = 8,	/* the function failed (callbox_fail()) */
};

/*
 * One call's request. Every call the host has not consumed yet owns a
 * slot and its pair of I/O buffers, so a result stays where the guest
 * wrote it until the host has read it, however many calls run in between.
 *
 * @function: the name of the guest function, NUL-terminated
 *
 * The arguments are a message in the slot's input buffer; the result, one
 * value (VOID for a function that returns nothing), a message in its
 * output buffer.
 */
struct callbox_slot {
	char function[CALLBOX_FUNCTION_NAME_MAX];
};

#define CALLBOX_MAX_SLOTS	64	/* == CALLBOX_MAX_CALLS of the kernel */

/*
 * A CPU exception in the guest, as the SDK's handler saw it. The handler
 * writes it into the mailbox, then aborts the call with the code
 * CALLBOX_GUEST_ABORT_EXCEPTION (above).
 */
struct callbox_fault {
	uint64_t vector;	/* 0-31: #DE, #DB, ... #PF is 14 */
	uint64_t error_code;	/* 0 for vectors without one */
	uint64_t rip;
	uint64_t cr2;		/* the faulting address of a #PF */
	uint64_t rsp;
};

#define CALLBOX_ABORT_MESSAGE_MAX	128	/* including the NUL */

/* Log levels, most severe first; a level passes if <= the threshold. */
enum callbox_log_level {
	CALLBOX_LOG_ERROR = 1,
	CALLBOX_LOG_WARN = 2,
	CALLBOX_LOG_INFO = 3,
	CALLBOX_LOG_DEBUG = 4,
	CALLBOX_LOG_TRACE = 5,
};

#define CALLBOX_LOG_MESSAGE_MAX		256	/* including the NUL */

/*
 * One log message on its way to the host: the guest fills it, then makes
 * the host call CALLBOX_HOSTCALL_LOG, during which the host reads it.
 */
struct callbox_log_record {
	uint32_t level;
	uint32_t reserved;
	char message[CALLBOX_LOG_MESSAGE_MAX];
};

#define CALLBOX_ERROR_MESSAGE_MAX	128	/* including the NUL */

/*
 * A call of a host function by the guest (CALLBOX_HOSTCALL_FUNCTION).
 * The guest writes @function, and the arguments as a message into the
 * host call's output buffer; the host runs the function and writes
 * @error, @message and, on success, the result as a message with one
 * value into the host call's input buffer.
 *
 * @function: the host function's name, NUL-terminated
 * @error: 0, or the host function's error code (never 0), or one of the
 *	host library's: -ENOENT no such host function, -EINVAL arguments
 *	that do not match its signature or a name not NUL-terminated, -EBADMSG a malformed message,
 *	-E2BIG a result larger than the input buffer, -EPROTO a result
 *	that is not one value of the declared type, -ENOSYS an unknown
 *	host call number
 * @message: with an error, what went wrong, NUL-terminated
 */
struct callbox_hostcall {
	char function[CALLBOX_FUNCTION_NAME_MAX];
	int32_t error;
	uint32_t reserved;
	char message[CALLBOX_ERROR_MESSAGE_MAX];
};

/*
 * One exported guest function, as the guest publishes it at init: after
 * its own init the guest writes one of these per export into the host
 * call's output buffer and their number into the mailbox's @nr_exports,
 * at most CALLBOX_MAX_EXPORTS and as many as fit the buffer.
 * The host copies and checks them when the init call has ended, and
 * checks every call against them before it is queued.
 *
 * @name: NUL-terminated, 1 to 63 bytes of printable ASCII other than
 *	space, and no two exports of one name
 * @ret_type: the result's &enum callbox_wire_type; VOID for none
 * @nr_params: at most CALLBOX_MAX_PARAMS
 * @params: the parameters' types, none of them VOID; the bytes past
 *	@nr_params are ignored
 * @reserved: written as zero, ignored
 *
 * A table that breaks any of these fails the load.
 */
struct callbox_export_desc {
	char name[CALLBOX_FUNCTION_NAME_MAX];
	uint8_t ret_type;
	uint8_t nr_params;
	uint8_t params[CALLBOX_MAX_PARAMS];
	uint8_t reserved[30];
};

/*
 * The mailbox, at CALLBOX_GPA_MAILBOX.
 *
 * Boot: the host fills @magic, @version, @mem_size, @nr_slots, the sizes
 * and @io_base before the first run; the guest fills @nr_exports during
 * the init call. Each call: see &struct callbox_slot.
 * When the guest aborts a call, it may leave a NUL-terminated
 * @abort_message first, and after a CPU exception it fills @fault.
 * @log_level is the host's threshold: the guest does not send messages
 * above it, which saves an exit each; @log carries one that it sends.
 * @stack_size is the stack's size (the guard page lies below it), and
 * @heap_size the most the heap may take above the image, 0 for all of
 * the memory up to the I/O area. @next_slot[i] is the slot of the call
 * that follows slot i's in a batch, written by the host; what the guest
 * does with it is said above.
 */
struct callbox_mailbox {
	uint32_t magic;
	uint32_t version;
	uint64_t mem_size;
	uint32_t slot;
	uint32_t nr_slots;
	uint32_t log_level;
	uint32_t nr_exports;
	uint64_t stack_size;
	uint64_t heap_size;
	uint64_t io_base;
	uint32_t input_size;
	uint32_t output_size;
	struct callbox_fault fault;
	char abort_message[CALLBOX_ABORT_MESSAGE_MAX];
	struct callbox_log_record log;
	struct callbox_hostcall hostcall;
	struct callbox_slot slots[CALLBOX_MAX_SLOTS];
	uint8_t next_slot[CALLBOX_MAX_SLOTS];
};

#ifndef __cplusplus	/* C++ has static_assert, and the layout is C's */
_Static_assert(sizeof(struct callbox_export_desc) == 128, "export layout");
_Static_assert(sizeof(struct callbox_slot) == 64, "slot layout");
_Static_assert(sizeof(struct callbox_mailbox) ==
	       64 + 40 + CALLBOX_ABORT_MESSAGE_MAX +
	       sizeof(struct callbox_log_record) +
	       sizeof(struct callbox_hostcall) + 64 * 64 + 64,
	       "mailbox layout");
_Static_assert(CALLBOX_GPA_MAILBOX + sizeof(struct callbox_mailbox) <=
	       CALLBOX_GPA_TSS, "mailbox below the TSS");
#endif

#endif /* !__ASSEMBLER__ */

#endif /* CALLBOX_ABI_H */
