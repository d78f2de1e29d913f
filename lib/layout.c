// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * The host-owned low memory of a guest: GDT, page tables and mailbox, at the
 * addresses fixed by shared/include/callbox/abi.h.
 *
 * Paging maps guest-physical memory 1:1 (virtual == physical) with one PML4,
 * PDPT and PD, which covers the first 1 GiB, the most a guest may have. The
 * first 2 MiB go through a page table of 4 KiB pages so that page 0 can be
 * left unmapped and a NULL dereference faults, and so do the last 2 MiB, so
 * that the page below the stack can be left unmapped as a guard; the rest
 * uses 2 MiB pages. Nothing at or above mem_size is mapped, so a stray
 * access there faults rather than reaching MMIO.
 *
 * The GDT also holds a 64-bit TSS, whose IST1 gives CPU exceptions a stack
 * of their own: a stack overflow's page fault cannot fault again.
 *
 * This file is the one owner of the guest's x86 boot state: the segment
 * descriptors below are both written into the GDT and loaded into the
 * vCPU (callbox_layout_sregs()), and the mailbox's boot fields are all
 * written here.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <linux/kvm.h>

#include <callbox/abi.h>

#include "layout.h"

/* Page-table entry bits (Intel SDM vol. 3, 4.5). */
#define PTE_PRESENT	(1ull << 0)
#define PTE_WRITE	(1ull << 1)
#define PTE_ACCESSED	(1ull << 5)
#define PTE_DIRTY	(1ull << 6)	/* in an entry that maps a page */
#define PTE_LARGE	(1ull << 7)	/* PS: in a PD entry, a 2 MiB page */

/*
 * Accessed and dirty are set now, as Linux sets them in its own kernel
 * mappings, so that the CPU never writes a page table: otherwise a
 * request that touched a page the init had not (deeper stack, another
 * I/O buffer, the heap) would set bits in the tables that map it, and
 * every restore would put those tables back, to be written again. (Under
 * QEMU's TCG the tables count as written all the same: its page walker
 * probes each table for a store through nested paging, which KVM's dirty
 * log takes for a write.)
 */
#define PTE_TABLE	(PTE_PRESENT | PTE_WRITE | PTE_ACCESSED)
#define PTE_PAGE	(PTE_PRESENT | PTE_WRITE | PTE_ACCESSED | PTE_DIRTY)

#define PAGE_SIZE	0x1000ull
#define LARGE_PAGE_SIZE	(2ull << 20)
#define PT_ENTRIES	512

/* GDT descriptor access byte and flags (Intel SDM vol. 3, 3.4.5). */
#define SEG_ACCESSED	(1u << 0)	/* set now, so the CPU never writes it */
#define SEG_RW		(1u << 1)	/* code: readable; data: writable */
#define SEG_CODE	(1u << 3)
#define SEG_S		(1u << 4)	/* code or data, not system */
#define SEG_PRESENT	(1u << 7)

#define SEG_FLAG_L	(1u << 1)	/* 64-bit code */
#define SEG_FLAG_DB	(1u << 2)	/* 32-bit default operand size */
#define SEG_FLAG_G	(1u << 3)	/* limit in 4 KiB units */

#define SEG_TSS_BUSY	0xbu	/* system type: 64-bit TSS, busy (TR) */

/* Control registers and EFER for long mode with SSE (SDM vol. 3, 2.5). */
#define X86_CR0_PE	(1ull << 0)
#define X86_CR0_MP	(1ull << 1)
#define X86_CR0_ET	(1ull << 4)
#define X86_CR0_NE	(1ull << 5)
#define X86_CR0_WP	(1ull << 16)
#define X86_CR0_PG	(1ull << 31)
#define X86_CR4_PAE	(1ull << 5)
#define X86_CR4_OSFXSR	(1ull << 9)
#define X86_CR4_OSXMMEXCPT (1ull << 10)
#define X86_EFER_LME	(1ull << 8)
#define X86_EFER_LMA	(1ull << 10)

/*
 * The flat code and data segments: base 0, limit 4 GiB. In 64-bit mode
 * base and limit are ignored, but a conventional flat descriptor keeps
 * the GDT meaningful to anyone reading it.
 */
struct layout_segment {
	uint16_t selector;
	uint8_t type;		/* the access byte's low nibble */
	bool l;			/* 64-bit code */
	bool db;		/* 32-bit default operand size */
};

static const struct layout_segment seg_code = {
	CALLBOX_SEL_CODE, SEG_CODE | SEG_RW | SEG_ACCESSED, true, false,
};

static const struct layout_segment seg_data = {
	CALLBOX_SEL_DATA, SEG_RW | SEG_ACCESSED, false, true,
};

/* The 64-bit TSS (Intel SDM vol. 3, 8.7). */
#define TSS_LIMIT	103u
#define TSS_IST1	0x24u
#define TSS_IOMAP_BASE	0x66u

/* What the code below relies on. */
_Static_assert(CALLBOX_MEM_ALIGN == LARGE_PAGE_SIZE,
	       "memory is mapped in whole 2 MiB pages");
_Static_assert(CALLBOX_MEM_MAX <= PT_ENTRIES * LARGE_PAGE_SIZE,
	       "one page directory maps all of memory");
_Static_assert(CALLBOX_GPA_MAILBOX + sizeof(struct callbox_mailbox) <=
	       CALLBOX_GPA_IMAGE_MIN && CALLBOX_GPA_IMAGE_MIN <= CALLBOX_MEM_MIN,
	       "host-owned memory fits below the image, in the smallest guest");
_Static_assert(CALLBOX_SEL_TSS / 8 + 2 == CALLBOX_GDT_ENTRIES,
	       "the TSS descriptor is the GDT's last, two entries long");
_Static_assert(CALLBOX_GPA_IMAGE_MIN <
	       CALLBOX_STACK_GUARD(CALLBOX_MEM_MIN, CALLBOX_DEFAULT_STACK_SIZE),
	       "the smallest guest has room for an image below its stack");
_Static_assert(CALLBOX_STACK_MAX + 0x1000 <= LARGE_PAGE_SIZE,
	       "the guard page lies in the last 2 MiB, which has small pages");

static void put64(void *mem, uint64_t gpa, uint64_t val)
{
	memcpy((unsigned char *)mem + gpa, &val, sizeof(val));
}

static void put16(void *mem, uint64_t gpa, uint16_t val)
{
	memcpy((unsigned char *)mem + gpa, &val, sizeof(val));
}

/*
 * The 16-byte system descriptor of the TSS, marked busy since the host
 * loads TR with it before the guest runs.
 */
static void gdt_put_tss(void *mem, uint64_t gpa, uint64_t base)
{
	uint64_t low = (TSS_LIMIT & 0xffff) |
		       (base & 0xffffff) << 16 |
		       (uint64_t)(SEG_PRESENT | SEG_TSS_BUSY) << 40 |
		       (uint64_t)((TSS_LIMIT >> 16) & 0xf) << 48 |
		       ((base >> 24) & 0xff) << 56;

	put64(mem, gpa, low);
	put64(mem, gpa + 8, base >> 32);
}

/* Map one 2 MiB region with 4 KiB pages, all present but @hole (if any). */
static void map_small_pages(void *mem, uint64_t pt, uint64_t region,
			    uint64_t hole)
{
	uint64_t i, gpa;

	put64(mem, CALLBOX_GPA_PD + region / LARGE_PAGE_SIZE * 8,
	      pt | PTE_TABLE);
	for (i = 0; i < PT_ENTRIES; i++) {
		gpa = region + i * PAGE_SIZE;
		if (gpa != hole)
			put64(mem, pt + i * 8, gpa | PTE_PAGE);
	}
}

/* @seg's GDT descriptor. */
static uint64_t gdt_flat(const struct layout_segment *seg)
{
	const uint64_t limit = 0xfffff;
	unsigned int access = SEG_PRESENT | SEG_S | seg->type;
	unsigned int flags = SEG_FLAG_G | (seg->l ? SEG_FLAG_L : 0) |
			     (seg->db ? SEG_FLAG_DB : 0);

	return (limit & 0xffff) |
	       (uint64_t)access << 40 |
	       ((limit >> 16) & 0xf) << 48 |
	       (uint64_t)flags << 52;
}

/* @seg as the vCPU's hidden segment state holds it. */
static struct kvm_segment kvm_flat(const struct layout_segment *seg)
{
	return (struct kvm_segment) {
		.base = 0,
		.limit = 0xffffffff,
		.selector = seg->selector,
		.type = seg->type,
		.present = 1,
		.dpl = 0,
		.db = seg->db,
		.s = 1,
		.l = seg->l,
		.g = 1,
	};
}

static int __attribute__((format(printf, 3, 4)))
layout_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int callbox_layout_check(uint64_t mem_size, uint64_t stack_size, char *err,
			 size_t errlen)
{
	if (errlen)
		err[0] = '\0';

	if (mem_size < CALLBOX_MEM_MIN)
		return layout_fail(err, errlen,
				   "memory size %" PRIu64 " bytes is below the minimum of %llu MiB",
				   mem_size, CALLBOX_MEM_MIN >> 20);
	if (mem_size > CALLBOX_MEM_MAX)
		return layout_fail(err, errlen,
				   "memory size %" PRIu64 " bytes is above the maximum of %llu MiB",
				   mem_size, CALLBOX_MEM_MAX >> 20);
	if (mem_size % CALLBOX_MEM_ALIGN)
		return layout_fail(err, errlen,
				   "memory size %" PRIu64 " bytes is not a multiple of %llu MiB",
				   mem_size, CALLBOX_MEM_ALIGN >> 20);
	if (stack_size < CALLBOX_STACK_MIN || stack_size > CALLBOX_STACK_MAX ||
	    stack_size % PAGE_SIZE)
		return layout_fail(err, errlen,
				   "stack size %" PRIu64 " bytes is not a multiple of 4 KiB from %llu KiB to %llu KiB",
				   stack_size, CALLBOX_STACK_MIN >> 10,
				   CALLBOX_STACK_MAX >> 10);
	/* At least one page of image must fit between 1 MiB and the guard. */
	if (CALLBOX_STACK_GUARD(mem_size, stack_size) <
	    CALLBOX_GPA_IMAGE_MIN + PAGE_SIZE)
		return layout_fail(err, errlen,
				   "a %" PRIu64 " KiB stack leaves no room for the image in %" PRIu64 " MiB of memory",
				   stack_size >> 10, mem_size >> 20);
	return 0;
}

void callbox_layout_build(void *mem, const struct callbox_layout *layout)
{
	const uint64_t gdt[] = {
		0,
		[CALLBOX_SEL_CODE / 8] = gdt_flat(&seg_code),
		[CALLBOX_SEL_DATA / 8] = gdt_flat(&seg_data),
	};
	const uint64_t mem_size = layout->mem_size;
	const uint64_t guard = CALLBOX_STACK_GUARD(mem_size,
						   layout->stack_size);
	const uint64_t top = mem_size - LARGE_PAGE_SIZE;
	struct callbox_mailbox mb = {
		.magic = CALLBOX_ABI_MAGIC,
		.version = CALLBOX_ABI_VERSION,
		.mem_size = mem_size,
		.stack_size = layout->stack_size,
		.heap_size = layout->heap_size,
		.nr_slots = layout->nr_slots,
		.io_base = layout->io_base,
		.input_size = layout->input_size,
		.output_size = layout->output_size,
		.log_level = layout->log_level,
	};
	uint64_t i;

	memset(mem, 0, CALLBOX_GPA_IMAGE_MIN);

	for (i = 0; i < sizeof(gdt) / sizeof(gdt[0]); i++)
		put64(mem, CALLBOX_GPA_GDT + i * 8, gdt[i]);
	gdt_put_tss(mem, CALLBOX_GPA_GDT + CALLBOX_SEL_TSS, CALLBOX_GPA_TSS);
	put64(mem, CALLBOX_GPA_TSS + TSS_IST1, CALLBOX_EXC_STACK_TOP);
	/* An I/O bitmap base past the limit: no I/O bitmap. */
	put16(mem, CALLBOX_GPA_TSS + TSS_IOMAP_BASE, TSS_LIMIT + 1);

	put64(mem, CALLBOX_GPA_PML4, CALLBOX_GPA_PDPT | PTE_TABLE);
	put64(mem, CALLBOX_GPA_PDPT, CALLBOX_GPA_PD | PTE_TABLE);

	for (i = 1; i < mem_size / LARGE_PAGE_SIZE; i++)
		put64(mem, CALLBOX_GPA_PD + i * 8,
		      i * LARGE_PAGE_SIZE | PTE_LARGE | PTE_PAGE);

	/* 4 KiB pages where holes are needed: page 0, and the stack guard. */
	if (top)
		map_small_pages(mem, CALLBOX_GPA_PT_TOP, top, guard);
	map_small_pages(mem, CALLBOX_GPA_PT, 0, top ? 0 : guard);
	put64(mem, CALLBOX_GPA_PT, 0);

	memcpy((unsigned char *)mem + CALLBOX_GPA_MAILBOX, &mb, sizeof(mb));
}

void callbox_layout_sregs(struct kvm_sregs *sregs)
{
	sregs->cs = kvm_flat(&seg_code);
	sregs->ds = kvm_flat(&seg_data);
	sregs->es = sregs->ds;
	sregs->fs = sregs->ds;
	sregs->gs = sregs->ds;
	sregs->ss = sregs->ds;
	sregs->gdt.base = CALLBOX_GPA_GDT;
	sregs->gdt.limit = CALLBOX_GDT_ENTRIES * 8 - 1;
	/* The TSS gives exceptions their own stack (IST1): see abi.h. */
	sregs->tr = (struct kvm_segment) {
		.base = CALLBOX_GPA_TSS,
		.limit = TSS_LIMIT,
		.selector = CALLBOX_SEL_TSS,
		.type = SEG_TSS_BUSY,
		.present = 1,
	};
	sregs->cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE |
		     X86_CR0_WP | X86_CR0_PG;
	sregs->cr3 = CALLBOX_GPA_PML4;
	sregs->cr4 = X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
	sregs->efer = X86_EFER_LME | X86_EFER_LMA;
}
