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

#include <stdint.h>

#define CALLBOX_ABI_MAGIC	0x584f4243u	/* "CBOX" little-endian */
#define CALLBOX_ABI_VERSION	2u

/*
 * Guest-physical memory starts at 0 and is identity-mapped (virtual ==
 * physical) by page tables the host builds. Page 0 is left unmapped so a
 * NULL dereference faults. The host owns everything below
 * CALLBOX_GPA_IMAGE_MIN; the guest ELF is loaded at or above it and the
 * stack grows down from the top of memory.
 */
#define CALLBOX_GPA_GDT		0x1000ull
#define CALLBOX_GPA_PML4	0x2000ull
#define CALLBOX_GPA_PDPT	0x3000ull
#define CALLBOX_GPA_PD		0x4000ull
#define CALLBOX_GPA_PT		0x5000ull	/* 4 KiB pages of the first 2 MiB */
#define CALLBOX_GPA_MAILBOX	0x8000ull	/* struct callbox_mailbox, 3 pages */
#define CALLBOX_GPA_IMAGE_MIN	0x100000ull

/* Memory size: a multiple of 2 MiB in [CALLBOX_MEM_MIN, CALLBOX_MEM_MAX]. */
#define CALLBOX_MEM_ALIGN	(2ull << 20)
#define CALLBOX_MEM_MIN		(2ull << 20)
#define CALLBOX_MEM_MAX		(1ull << 30)

/* GDT selectors the host loads (index 1: 64-bit code, index 2: data). */
#define CALLBOX_SEL_CODE	0x08
#define CALLBOX_SEL_DATA	0x10

#define CALLBOX_FUNCTION_NAME_MAX	64	/* including the NUL */
#define CALLBOX_MAX_ARGS		6

/*
 * Status a guest writes to CALLBOX_PORT_DONE. The first DONE after boot
 * ends the init call; every later one ends a function call.
 */
enum callbox_guest_status {
	CALLBOX_STATUS_OK = 0,
	CALLBOX_STATUS_NO_FUNCTION = 1,	/* no function of that name */
	CALLBOX_STATUS_BAD_ARGC = 2,	/* wrong number of arguments */
	CALLBOX_STATUS_BAD_REQUEST = 3,	/* malformed request (name not terminated) */
	CALLBOX_STATUS_BAD_ABI = 4,	/* mailbox magic/version mismatch at init */
	CALLBOX_STATUS_INIT_FAILED = 5,	/* the guest's own init returned non-zero */
};

/*
 * One call's request and result. Every call the host has not consumed yet
 * owns a slot, so a result stays where the guest wrote it until the host
 * has read it, however many calls run in between.
 *
 * @function, @argc, @args: the request (host -> guest)
 * @result: the return value (guest -> host), valid once the call EXITED
 * @host_arg, @host_result: a host call in progress: the guest writes
 *	@host_arg, then writes the host function's number to
 *	CALLBOX_PORT_HOSTCALL; the host writes @host_result before it
 *	continues the call
 */
struct callbox_slot {
	char function[CALLBOX_FUNCTION_NAME_MAX];
	uint32_t argc;
	uint32_t reserved;
	int64_t args[CALLBOX_MAX_ARGS];
	int64_t result;
	int64_t host_arg;
	int64_t host_result;
};

#define CALLBOX_MAX_SLOTS	64	/* == CALLBOX_MAX_CALLS of the kernel */

/*
 * The mailbox, at CALLBOX_GPA_MAILBOX.
 *
 * Boot: the host fills @magic, @version, @mem_size and @nr_slots before
 * the first run. Each call: the host writes the request into a free slot
 * and @slot, then enters the guest; the guest reads @slot once, runs the
 * request of that slot, writes its @result and ends the call with DONE.
 */
struct callbox_mailbox {
	uint32_t magic;
	uint32_t version;
	uint64_t mem_size;
	uint32_t slot;
	uint32_t nr_slots;
	uint64_t reserved;
	struct callbox_slot slots[CALLBOX_MAX_SLOTS];
};

_Static_assert(sizeof(struct callbox_slot) == 144, "slot layout");
_Static_assert(sizeof(struct callbox_mailbox) == 32 + 64 * 144,
	       "mailbox layout");
_Static_assert(CALLBOX_GPA_MAILBOX + sizeof(struct callbox_mailbox) <=
	       CALLBOX_GPA_IMAGE_MIN, "mailbox below the image");

#endif /* CALLBOX_ABI_H */
