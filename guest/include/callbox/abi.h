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
#define CALLBOX_ABI_VERSION	1u

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
#define CALLBOX_GPA_MAILBOX	0x8000ull
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
 * The mailbox, at CALLBOX_GPA_MAILBOX, one page.
 *
 * Boot: the host fills @magic, @version and @mem_size before the first run.
 * Call: the host writes @function (NUL-terminated), @argc and @args, then
 * runs the call; the guest writes @result and ends the call with DONE.
 */
struct callbox_mailbox {
	uint32_t magic;
	uint32_t version;
	uint64_t mem_size;
	char function[CALLBOX_FUNCTION_NAME_MAX];
	uint32_t argc;
	uint32_t reserved;
	int64_t args[CALLBOX_MAX_ARGS];
	int64_t result;
};

_Static_assert(sizeof(struct callbox_mailbox) == 144, "mailbox layout");

#endif /* CALLBOX_ABI_H */
