// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of callbox_layout_check() and callbox_layout_build() (lib/layout.c).
 *
 * The page tables are checked by translating addresses the way the CPU
 * does in 4-level paging, starting from CR3 = CALLBOX_GPA_PML4, rather than
 * by comparing entries against the values the code meant to write.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <callbox/abi.h>

/*
 * The 6.1 harness, and the TEST() wrappers it expands to in this file, have
 * unused parameters, which -Wextra -Werror would reject.
 */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"

#include "layout.h"

#define POISON		0xa5
/* Poisoned and checked: the whole of small guests, the start of big ones. */
#define POISON_MAX	(8ull << 20)

/* The architectural bits the walker looks at (Intel SDM vol. 3, 4.5). */
#define X86_PTE_P		(1ull << 0)
#define X86_PTE_RW		(1ull << 1)
#define X86_PTE_A		(1ull << 5)
#define X86_PTE_D		(1ull << 6)
#define X86_PTE_PS		(1ull << 7)
#define X86_PTE_NX		(1ull << 63)
#define X86_PTE_ADDR		0x000ffffffffff000ull

enum walk_result {
	WALK_OK,
	WALK_NOT_PRESENT,
	WALK_BAD,	/* a table outside memory, or an entry we never write */
};

/*
 * Translate @va as the CPU would with CR3 = CALLBOX_GPA_PML4; returns an
 * enum walk_result, as an int to compare with its constants. Besides
 * translating, insist on what the layout promises: every level present,
 * writable and accessed, the page dirty (so that the CPU never writes a
 * table), no NX, page sizes 4 KiB or 2 MiB only, tables in memory.
 */
static int walk(const unsigned char *mem, uint64_t mem_size, uint64_t va,
		uint64_t *pa)
{
	static const unsigned int shift[] = { 39, 30, 21, 12 };
	uint64_t table = CALLBOX_GPA_PML4, entry, gpa, page;
	unsigned int level;

	for (level = 0; level < 4; level++) {
		gpa = table + ((va >> shift[level]) & 511) * 8;
		if (gpa + 8 > mem_size)
			return WALK_BAD;
		memcpy(&entry, mem + gpa, sizeof(entry));

		if (!(entry & X86_PTE_P))
			return WALK_NOT_PRESENT;
		if (!(entry & X86_PTE_RW) || !(entry & X86_PTE_A) ||
		    (entry & X86_PTE_NX))
			return WALK_BAD;

		if (level < 3 && (entry & X86_PTE_PS)) {
			/* Only a PD entry may map a (2 MiB) page here. */
			if (level != 2)
				return WALK_BAD;
			page = 1ull << shift[level];
			if (((entry & X86_PTE_ADDR) & (page - 1)) ||
			    !(entry & X86_PTE_D))
				return WALK_BAD;
			*pa = (entry & X86_PTE_ADDR) | (va & (page - 1));
			return WALK_OK;
		}
		if (level == 3 && !(entry & X86_PTE_D))
			return WALK_BAD;
		table = entry & X86_PTE_ADDR;
	}
	*pa = table | (va & 0xfff);
	return WALK_OK;
}

static uint64_t get64(const unsigned char *mem, uint64_t gpa)
{
	uint64_t val;

	memcpy(&val, mem + gpa, sizeof(val));
	return val;
}

FIXTURE(layout) {
	unsigned char *mem;
	uint64_t mem_size;
	uint64_t poisoned;
	uint64_t stack_size;
	struct callbox_layout layout;
};

FIXTURE_VARIANT(layout) {
	uint64_t mem_size;
	uint64_t stack_size;
};

FIXTURE_VARIANT_ADD(layout, mem_2m) {
	.mem_size = 2ull << 20,
	.stack_size = CALLBOX_DEFAULT_STACK_SIZE,
};

/* The largest stack in the smallest guest: its guard is in region 0. */
FIXTURE_VARIANT_ADD(layout, mem_2m_stack_max) {
	.mem_size = 2ull << 20,
	.stack_size = 1016ull << 10,	/* leaves one page of image */
};

FIXTURE_VARIANT_ADD(layout, mem_4m) {
	.mem_size = 4ull << 20,
	.stack_size = CALLBOX_DEFAULT_STACK_SIZE,
};

FIXTURE_VARIANT_ADD(layout, mem_4m_stack_min) {
	.mem_size = 4ull << 20,
	.stack_size = CALLBOX_STACK_MIN,
};

FIXTURE_VARIANT_ADD(layout, mem_6m) {
	.mem_size = 6ull << 20,
	.stack_size = CALLBOX_DEFAULT_STACK_SIZE,
};

FIXTURE_VARIANT_ADD(layout, mem_1g_stack_max) {
	.mem_size = 1ull << 30,
	.stack_size = CALLBOX_STACK_MAX,
};

FIXTURE_SETUP(layout)
{
	char err[256];

	self->mem_size = variant->mem_size;
	self->stack_size = variant->stack_size;
	ASSERT_EQ(0, callbox_layout_check(self->mem_size, self->stack_size, err,
					  sizeof(err))) {
		TH_LOG("%s", err);
	}

	/* mmap, so that 1 GiB costs only the pages actually touched. */
	self->mem = mmap(NULL, self->mem_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);

	self->poisoned = self->mem_size < POISON_MAX ? self->mem_size :
						       POISON_MAX;
	memset(self->mem, POISON, self->poisoned);

	self->layout = (struct callbox_layout){
		.mem_size = self->mem_size,
		.stack_size = self->stack_size,
		.heap_size = 0x123000,
		.io_base = CALLBOX_GPA_IMAGE_MIN + 0x10000,
		.nr_slots = 7,
		.input_size = 0x2000,
		.output_size = 0x3000,
		.log_level = 3,
	};
	callbox_layout_build(self->mem, &self->layout);
}

FIXTURE_TEARDOWN(layout)
{
	munmap(self->mem, self->mem_size);
}

TEST_F(layout, null_page_unmapped)
{
	uint64_t pa, va;

	for (va = 0; va < 0x1000; va += 8)
		ASSERT_EQ(WALK_NOT_PRESENT, walk(self->mem, self->mem_size, va,
						 &pa));
}

TEST_F(layout, identity_map)
{
	static const uint64_t probes[] = {
		0x1000, 0x1fff, CALLBOX_GPA_MAILBOX, CALLBOX_GPA_IMAGE_MIN,
		0x1fffff, 0x200000,
	};
	uint64_t pa, va;
	unsigned int i;

	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		if (probes[i] >= self->mem_size)
			continue;
		ASSERT_EQ(WALK_OK, walk(self->mem, self->mem_size, probes[i],
					&pa));
		ASSERT_EQ(probes[i], pa);
	}

	ASSERT_EQ(WALK_OK, walk(self->mem, self->mem_size,
				self->mem_size - 1, &pa));
	ASSERT_EQ(self->mem_size - 1, pa);

	/* Every page but page 0 and the stack guard, at both ends. */
	for (va = 0x1000; va < self->mem_size; va += 0x1000) {
		if (va == CALLBOX_STACK_GUARD(self->mem_size, self->stack_size))
			continue;
		ASSERT_EQ(WALK_OK, walk(self->mem, self->mem_size, va, &pa)) {
			TH_LOG("va 0x%llx", (unsigned long long)va);
		}
		ASSERT_EQ(va, pa);
		ASSERT_EQ(WALK_OK, walk(self->mem, self->mem_size,
					va + 0xfff, &pa));
		ASSERT_EQ(va + 0xfff, pa);
	}
}

/* The page below the stack is a hole, so that an overflow faults. */
TEST_F(layout, stack_guard)
{
	uint64_t guard = CALLBOX_STACK_GUARD(self->mem_size, self->stack_size), pa;

	ASSERT_EQ(WALK_NOT_PRESENT, walk(self->mem, self->mem_size, guard,
					 &pa));
	ASSERT_EQ(WALK_NOT_PRESENT, walk(self->mem, self->mem_size,
					 guard + 0xfff, &pa));
	ASSERT_EQ(WALK_OK, walk(self->mem, self->mem_size, guard - 1, &pa));
	ASSERT_EQ(guard - 1, pa);
	ASSERT_EQ(WALK_OK, walk(self->mem, self->mem_size, guard + 0x1000,
				&pa));
	ASSERT_EQ(guard + 0x1000, pa);
	/* The stack itself, and the image area, lie on either side. */
	ASSERT_EQ(self->mem_size - self->stack_size, guard + 0x1000);
	ASSERT_LT(CALLBOX_GPA_IMAGE_MIN, guard);
}

TEST_F(layout, nothing_beyond_memory)
{
	static const uint64_t far[] = {
		1ull << 30, 2ull << 30, 1ull << 39, 0x7ffffffff000ull,
	};
	uint64_t pa, va;
	unsigned int i;

	ASSERT_EQ(WALK_NOT_PRESENT, walk(self->mem, self->mem_size,
					 self->mem_size, &pa));
	for (va = self->mem_size; va < (1ull << 30); va += 0x1000)
		ASSERT_EQ(WALK_NOT_PRESENT, walk(self->mem, self->mem_size,
						 va, &pa)) {
			TH_LOG("va 0x%llx", (unsigned long long)va);
		}
	for (i = 0; i < sizeof(far) / sizeof(far[0]); i++)
		ASSERT_EQ(WALK_NOT_PRESENT, walk(self->mem, self->mem_size,
						 far[i], &pa));
}

TEST_F(layout, gdt)
{
	uint64_t gpa;

	ASSERT_EQ(0ull, get64(self->mem, CALLBOX_GPA_GDT));
	ASSERT_EQ(0x00af9b000000ffffull,
		  get64(self->mem, CALLBOX_GPA_GDT + CALLBOX_SEL_CODE));
	ASSERT_EQ(0x00cf93000000ffffull,
		  get64(self->mem, CALLBOX_GPA_GDT + CALLBOX_SEL_DATA));

	/* The busy 64-bit TSS at CALLBOX_GPA_TSS, limit 103, 16 bytes. */
	ASSERT_EQ(0x00008b0000000067ull | (CALLBOX_GPA_TSS & 0xffffff) << 16,
		  get64(self->mem, CALLBOX_GPA_GDT + CALLBOX_SEL_TSS));
	ASSERT_EQ(0ull, get64(self->mem, CALLBOX_GPA_GDT + CALLBOX_SEL_TSS + 8));

	/* Nothing else in the GDT's page that a larger GDTR would pick up. */
	for (gpa = CALLBOX_GPA_GDT + CALLBOX_GDT_ENTRIES * 8;
	     gpa < CALLBOX_GPA_PML4; gpa++)
		ASSERT_EQ(0, self->mem[gpa]);
}

/* IST1 of the TSS: the exception stack; no I/O bitmap. */
TEST_F(layout, tss)
{
	uint16_t iomap;

	ASSERT_EQ(CALLBOX_EXC_STACK_TOP, get64(self->mem, CALLBOX_GPA_TSS + 0x24));
	memcpy(&iomap, self->mem + CALLBOX_GPA_TSS + 0x66, sizeof(iomap));
	ASSERT_EQ(104, iomap);
}

TEST_F(layout, mailbox)
{
	struct callbox_mailbox mb, zero;

	memcpy(&mb, self->mem + CALLBOX_GPA_MAILBOX, sizeof(mb));
	ASSERT_EQ(CALLBOX_ABI_MAGIC, mb.magic);
	ASSERT_EQ(CALLBOX_ABI_VERSION, mb.version);
	ASSERT_EQ(self->mem_size, mb.mem_size);
	ASSERT_EQ(self->stack_size, mb.stack_size);
	/* Every boot field comes from the layout, written once. */
	ASSERT_EQ(self->layout.heap_size, mb.heap_size);
	ASSERT_EQ(self->layout.io_base, mb.io_base);
	ASSERT_EQ(self->layout.nr_slots, mb.nr_slots);
	ASSERT_EQ(self->layout.input_size, mb.input_size);
	ASSERT_EQ(self->layout.output_size, mb.output_size);
	ASSERT_EQ(self->layout.log_level, mb.log_level);

	/* No request yet: everything else is zero. */
	memset(&zero, 0, sizeof(zero));
	zero.magic = mb.magic;
	zero.version = mb.version;
	zero.mem_size = mb.mem_size;
	zero.stack_size = mb.stack_size;
	zero.heap_size = mb.heap_size;
	zero.io_base = mb.io_base;
	zero.nr_slots = mb.nr_slots;
	zero.input_size = mb.input_size;
	zero.output_size = mb.output_size;
	zero.log_level = mb.log_level;
	ASSERT_EQ(0, memcmp(&zero, &mb, sizeof(mb)));
}

/* Below the image, only the structures the layout defines are non-zero. */
TEST_F(layout, low_memory_zeroed)
{
	static const struct {
		uint64_t start, end;
	} used[] = {
		{ CALLBOX_GPA_GDT, CALLBOX_GPA_GDT + CALLBOX_GDT_ENTRIES * 8 },
		{ CALLBOX_GPA_PML4, CALLBOX_GPA_PT_TOP + 0x1000 },
		{ CALLBOX_GPA_TSS + 0x24, CALLBOX_GPA_TSS + 0x2c },
		{ CALLBOX_GPA_TSS + 0x66, CALLBOX_GPA_TSS + 0x68 },
		{ CALLBOX_GPA_MAILBOX, CALLBOX_GPA_MAILBOX + 16 },
#define MAILBOX_FIELD(f)						\
	{ CALLBOX_GPA_MAILBOX + offsetof(struct callbox_mailbox, f),	\
	  CALLBOX_GPA_MAILBOX + offsetof(struct callbox_mailbox, f) +	\
	  sizeof(((struct callbox_mailbox *)0)->f) }
		MAILBOX_FIELD(nr_slots),
		MAILBOX_FIELD(log_level),
		MAILBOX_FIELD(stack_size),
		MAILBOX_FIELD(heap_size),
		MAILBOX_FIELD(io_base),
		MAILBOX_FIELD(input_size),
		MAILBOX_FIELD(output_size),
#undef MAILBOX_FIELD
	};
	uint64_t gpa;
	unsigned int i;
	bool in_use;

	for (gpa = 0; gpa < CALLBOX_GPA_IMAGE_MIN; gpa++) {
		in_use = false;
		for (i = 0; i < sizeof(used) / sizeof(used[0]); i++)
			if (gpa >= used[i].start && gpa < used[i].end)
				in_use = true;
		if (!in_use)
			ASSERT_EQ(0, self->mem[gpa]) {
				TH_LOG("gpa 0x%llx", (unsigned long long)gpa);
			}
	}
}

TEST_F(layout, image_untouched)
{
	uint64_t gpa;

	for (gpa = CALLBOX_GPA_IMAGE_MIN; gpa < self->poisoned; gpa++)
		ASSERT_EQ(POISON, self->mem[gpa]) {
			TH_LOG("gpa 0x%llx", (unsigned long long)gpa);
		}
}

TEST(check_accepts)
{
	static const uint64_t good[] = {
		2ull << 20, 4ull << 20, 6ull << 20, 1ull << 30,
	};
	char err[256];
	unsigned int i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(err, 'x', sizeof(err));
		ASSERT_EQ(0, callbox_layout_check(good[i],
						  CALLBOX_DEFAULT_STACK_SIZE, err,
						  sizeof(err)));
		ASSERT_EQ('\0', err[0]);
	}
}

TEST(check_rejects)
{
	static const uint64_t bad[] = {
		0, 1ull << 20, 3ull << 20, (2ull << 20) + 0x1000,
		(1ull << 30) + (2ull << 20), 2ull << 30, UINT64_MAX,
	};
	char err[256];
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ASSERT_EQ(-EINVAL, callbox_layout_check(bad[i],
							CALLBOX_DEFAULT_STACK_SIZE,
							err, sizeof(err)));
		TH_LOG("err: %s", err);
		ASSERT_NE('\0', err[0]);
	}

	/* No room for a message is fine too. */
	ASSERT_EQ(-EINVAL, callbox_layout_check(0, CALLBOX_DEFAULT_STACK_SIZE,
						NULL, 0));
}

TEST(check_rejects_stacks)
{
	static const uint64_t bad[] = {
		0, 4096, CALLBOX_STACK_MIN - 4096, CALLBOX_STACK_MIN + 1,
		CALLBOX_STACK_MAX + 4096, UINT64_MAX,
	};
	char err[256];
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ASSERT_EQ(-EINVAL, callbox_layout_check(4ull << 20, bad[i], err,
							sizeof(err)));
		TH_LOG("err: %s", err);
		ASSERT_NE(NULL, strstr(err, "stack"));
	}
	/* A 1 MiB stack leaves the 2 MiB guest no page of image. */
	err[0] = '\0';
	ASSERT_EQ(-EINVAL, callbox_layout_check(2ull << 20, CALLBOX_STACK_MAX,
						err, sizeof(err)));
	TH_LOG("err: %s", err);
	ASSERT_NE(NULL, strstr(err, "no room for the image"));
}

TEST_HARNESS_MAIN
