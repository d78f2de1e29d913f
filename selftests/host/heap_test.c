// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of the guest heap allocator (guest/sdk/heap.c), compiled natively.
 *
 * heap.c exports only callbox_*() names, so it links into this hosted
 * program next to libc's malloc, which the harness and ASan keep using.
 * Heaps are carved from mmap()ed memory, so ASan does not watch inside them;
 * what catches a block that overlaps another, or a header overwritten, is
 * filling every block with a pattern of its own and checking it later,
 * and callbox_heap_check() after every step that matters.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <callbox/heap.h>

/*
 * The 6.1 harness, and the TEST() wrappers it expands to in this file, have
 * unused parameters, which -Wextra -Werror would reject.
 */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"

#define HDR		16	/* a block header, as heap.c lays it out */
#define MIN_BLOCK	48	/* the smallest block, as heap.c lays it out */

/* What callbox_heap_corrupted() was told; each TEST runs in its own fork. */
static const char *corrupted_what;
static unsigned int corrupted_count;

void callbox_heap_corrupted(const char *what)
{
	corrupted_what = what;
	corrupted_count++;
}

/* An mmap()ed region; it is never unmapped, as each test is a process. */
static void *region(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* A heap over @size bytes at @offset into a fresh region. */
static void *new_heap(size_t size, size_t offset)
{
	unsigned char *p = region(size + offset + 4096);

	if (!p)
		return NULL;
	callbox_heap_init(p + offset, size);
	return p + offset;
}

/* A fixed-seed PRNG (xorshift64*), so that failures reproduce. */
static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
	rng_state = seed ? seed : 1;
}

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static size_t rng_below(size_t n)
{
	return rng() % n;
}

static unsigned char pattern(uint32_t seed, size_t i)
{
	return (unsigned char)(seed + i * 131 + (i >> 8));
}

static void fill(void *p, size_t n, uint32_t seed)
{
	unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		c[i] = pattern(seed, i);
}

/* The index of the first byte that does not match, or @n. */
static size_t check_fill(const void *p, size_t n, uint32_t seed)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (c[i] != pattern(seed, i))
			return i;
	return n;
}

static bool aligned(const void *p)
{
	return (uintptr_t)p % CALLBOX_HEAP_ALIGN == 0;
}

TEST(uninitialised_heap_is_empty)
{
	ASSERT_EQ(NULL, callbox_malloc(0));
	ASSERT_EQ(NULL, callbox_malloc(1));
	ASSERT_EQ(NULL, callbox_calloc(1, 1));
	ASSERT_EQ(NULL, callbox_realloc(NULL, 1));
	callbox_free(NULL);
	ASSERT_EQ(0, callbox_heap_used());
	ASSERT_EQ(0, callbox_heap_free_bytes());
	ASSERT_EQ(0, callbox_heap_check());
	ASSERT_EQ(0, corrupted_count);

	/* Nothing is from an empty heap. */
	callbox_free(&corrupted_count);
	ASSERT_EQ(1, corrupted_count);
	ASSERT_STREQ("free(): pointer not from the heap", corrupted_what);
}

TEST(tiny_heaps)
{
	unsigned char *mem = region(4096);
	size_t size, offset;

	ASSERT_NE(NULL, mem);

	callbox_heap_init(NULL, 1 << 20);
	ASSERT_EQ(0, callbox_heap_free_bytes());
	ASSERT_EQ(NULL, callbox_malloc(0));

	/* An empty heap for anything below one block and the end marker. */
	for (offset = 0; offset < 16; offset++) {
		for (size = 0; size <= 128; size++) {
			size_t lo = ((uintptr_t)mem + offset + 15) & ~15ul;
			size_t hi = ((uintptr_t)mem + offset + size) & ~15ul;
			bool room = size >= MIN_BLOCK + HDR &&
				    hi - lo >= MIN_BLOCK + HDR;
			void *p;

			callbox_heap_init(mem + offset, size);
			ASSERT_EQ(0, callbox_heap_check());
			ASSERT_EQ(0, callbox_heap_used());
			callbox_free(NULL);
			p = callbox_malloc(0);
			if (!room) {
				ASSERT_EQ(0, callbox_heap_free_bytes());
				ASSERT_EQ(NULL, p);
				ASSERT_EQ(NULL, callbox_malloc(1));
				continue;
			}
			ASSERT_EQ(hi - lo - HDR, callbox_heap_free_bytes() +
				  callbox_heap_used());
			ASSERT_NE(NULL, p);
			ASSERT_TRUE(aligned(p));
			ASSERT_LE((uintptr_t)mem + offset, (uintptr_t)p - HDR);
			ASSERT_GE((uintptr_t)mem + offset + size,
				  (uintptr_t)p + MIN_BLOCK - HDR);
			callbox_free(p);
			ASSERT_EQ(0, callbox_heap_used());
			ASSERT_EQ(0, callbox_heap_check());
		}
	}
	/* A region that would wrap around the address space. */
	callbox_heap_init(mem, SIZE_MAX);
	ASSERT_EQ(0, callbox_heap_free_bytes());
	ASSERT_EQ(NULL, callbox_malloc(1));
	ASSERT_EQ(0, corrupted_count);
}

TEST(alignment)
{
	size_t offset, n;

	for (offset = 0; offset < 32; offset += 3) {
		ASSERT_NE(NULL, new_heap(8 << 20, offset));
		for (n = 0; n < 600; n++) {
			void *p = callbox_malloc(n);
			void *q = callbox_calloc(n, 3);
			void *r = callbox_realloc(NULL, n);

			ASSERT_NE(NULL, p);
			ASSERT_NE(NULL, q);
			ASSERT_NE(NULL, r);
			ASSERT_TRUE(aligned(p));
			ASSERT_TRUE(aligned(q));
			ASSERT_TRUE(aligned(r));
			r = callbox_realloc(r, n * 2 + 1);
			ASSERT_NE(NULL, r);
			ASSERT_TRUE(aligned(r));
			if (n % 3)
				callbox_free(q);
		}
		ASSERT_EQ(0, callbox_heap_check());
	}
	ASSERT_EQ(0, corrupted_count);
}

TEST(malloc_zero_is_unique)
{
	void *p[64];
	size_t used, i, j;

	ASSERT_NE(NULL, new_heap(1 << 16, 0));
	for (i = 0; i < 64; i++) {
		used = callbox_heap_used();
		p[i] = callbox_malloc(0);
		ASSERT_NE(NULL, p[i]);
		ASSERT_EQ(used + MIN_BLOCK, callbox_heap_used());
		for (j = 0; j < i; j++)
			ASSERT_NE(p[j], p[i]);
	}
	for (i = 0; i < 64; i++)
		callbox_free(p[i]);
	ASSERT_EQ(0, callbox_heap_used());
	ASSERT_EQ(0, callbox_heap_check());
	ASSERT_EQ(0, corrupted_count);
}

/* Blocks filled to their requested size leave each other alone. */
TEST(fill_to_requested_size)
{
	enum { N = 400 };
	void *p[N];
	size_t n[N];
	size_t i;

	ASSERT_NE(NULL, new_heap(4 << 20, 0));
	rng_seed(1);
	for (i = 0; i < N; i++) {
		/* Every size around the block-size steps, and some bigger. */
		n[i] = i < 200 ? i : rng_below(20000);
		p[i] = callbox_malloc(n[i]);
		ASSERT_NE(NULL, p[i]);
		fill(p[i], n[i], i);
	}
	ASSERT_EQ(0, callbox_heap_check());
	for (i = 0; i < N; i++)
		ASSERT_EQ(n[i], check_fill(p[i], n[i], i));

	/* Free every other block, refill the holes, check everything. */
	for (i = 0; i < N; i += 2)
		callbox_free(p[i]);
	ASSERT_EQ(0, callbox_heap_check());
	for (i = 0; i < N; i += 2) {
		n[i] = rng_below(3000);
		p[i] = callbox_malloc(n[i]);
		ASSERT_NE(NULL, p[i]);
		fill(p[i], n[i], i + 1000);
	}
	ASSERT_EQ(0, callbox_heap_check());
	for (i = 0; i < N; i++)
		ASSERT_EQ(n[i], check_fill(p[i], n[i], i % 2 ? i : i + 1000));
	ASSERT_EQ(0, corrupted_count);
}

/*
 * Fill the heap with @n-byte blocks until it is exhausted, free them in the
 * order @order picks, and check that everything merged back into one block.
 */
static void exhaust_and_free(struct __test_metadata *_metadata, size_t n,
			     int order)
{
	static void *p[1 << 16];
	size_t total = callbox_heap_free_bytes(), count = 0, i;
	size_t need = (n + HDR + 15) / 16 * 16;
	void *q;

	if (need < MIN_BLOCK)
		need = MIN_BLOCK;

	while ((q = callbox_malloc(n))) {
		ASSERT_LT(count, ARRAY_SIZE(p));
		fill(q, n, count);
		p[count++] = q;
	}
	ASSERT_GT(count, 0);
	ASSERT_EQ(0, callbox_heap_check());
	/* Exhausted: less than a block of this size is left. */
	ASSERT_LT(callbox_heap_free_bytes(), need);
	ASSERT_EQ(NULL, callbox_malloc(n));
	ASSERT_EQ(NULL, callbox_calloc(n, 1));

	for (i = 0; i < count; i++)
		ASSERT_EQ(n, check_fill(p[i], n, i));

	switch (order) {
	case 0:		/* in allocation order */
		for (i = 0; i < count; i++)
			callbox_free(p[i]);
		break;
	case 1:		/* in reverse */
		for (i = count; i--;)
			callbox_free(p[i]);
		break;
	case 2:		/* odd ones first, leaving holes, then even ones */
		for (i = 1; i < count; i += 2)
			callbox_free(p[i]);
		ASSERT_EQ(0, callbox_heap_check());
		for (i = 0; i < count; i += 2)
			callbox_free(p[i]);
		break;
	default:	/* shuffled */
		for (i = count; i > 1; i--) {
			size_t j = rng_below(i);

			q = p[i - 1];
			p[i - 1] = p[j];
			p[j] = q;
		}
		for (i = 0; i < count; i++)
			callbox_free(p[i]);
		break;
	}

	ASSERT_EQ(0, callbox_heap_check());
	ASSERT_EQ(0, callbox_heap_used());
	ASSERT_EQ(total, callbox_heap_free_bytes());
	/* One block again: the largest allocation fits, one byte more not. */
	ASSERT_EQ(NULL, callbox_malloc(total - HDR + 1));
	q = callbox_malloc(total - HDR);
	ASSERT_NE(NULL, q);
	memset(q, 0xee, total - HDR);
	ASSERT_EQ(0, callbox_heap_free_bytes());
	ASSERT_EQ(NULL, callbox_malloc(0));
	callbox_free(q);
	ASSERT_EQ(total, callbox_heap_free_bytes());
}

TEST(exhaustion_and_coalescing)
{
	static const size_t sizes[] = { 0, 1, 16, 17, 33, 100, 1000, 4096, 65536 };
	size_t i;
	int order;

	rng_seed(2);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		for (order = 0; order < 4; order++) {
			ASSERT_NE(NULL, new_heap(1 << 20, i));
			exhaust_and_free(_metadata, sizes[i], order);
		}
	}
	ASSERT_EQ(0, corrupted_count);
}

/* Mixed sizes, exhausted and freed in random order, repeatedly. */
TEST(no_fragmentation_drift)
{
	static void *p[4096];
	size_t total, count, round, i;

	ASSERT_NE(NULL, new_heap(1 << 20, 0));
	total = callbox_heap_free_bytes();
	rng_seed(3);
	for (round = 0; round < 20; round++) {
		for (count = 0; count < 4096; count++) {
			p[count] = callbox_malloc(rng_below(2000));
			if (!p[count])
				break;
		}
		for (i = count; i > 1; i--) {
			size_t j = rng_below(i);
			void *t = p[i - 1];

			p[i - 1] = p[j];
			p[j] = t;
		}
		for (i = 0; i < count; i++)
			callbox_free(p[i]);
		ASSERT_EQ(0, callbox_heap_check());
		ASSERT_EQ(total, callbox_heap_free_bytes());
		p[0] = callbox_malloc(total - HDR);
		ASSERT_NE(NULL, p[0]);
		callbox_free(p[0]);
	}
	ASSERT_EQ(0, corrupted_count);
}

TEST(huge_sizes_fail_cleanly)
{
	static const size_t huge[] = {
		SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 8, SIZE_MAX - 15,
		SIZE_MAX - 16, SIZE_MAX - 17, SIZE_MAX - 31, SIZE_MAX - 32,
		SIZE_MAX - 47, SIZE_MAX - 48, SIZE_MAX - 64, SIZE_MAX / 2,
		SIZE_MAX / 2 + 1, (size_t)1 << 32, 1 << 20,
	};
	size_t total, i;
	void *p;

	ASSERT_NE(NULL, new_heap(1 << 20, 0));
	total = callbox_heap_free_bytes();
	p = callbox_malloc(100);
	ASSERT_NE(NULL, p);
	fill(p, 100, 7);

	for (i = 0; i < ARRAY_SIZE(huge); i++) {
		ASSERT_EQ(NULL, callbox_malloc(huge[i]));
		ASSERT_EQ(NULL, callbox_calloc(huge[i], 1));
		ASSERT_EQ(NULL, callbox_calloc(1, huge[i]));
		ASSERT_EQ(NULL, callbox_realloc(NULL, huge[i]));
		/* A failed realloc leaves the block as it was. */
		ASSERT_EQ(NULL, callbox_realloc(p, huge[i]));
		ASSERT_EQ(100, check_fill(p, 100, 7));
		ASSERT_EQ(0, callbox_heap_check());
	}
	/* Just too big for the heap, and just big enough. */
	ASSERT_EQ(NULL, callbox_malloc(total));
	ASSERT_EQ(NULL, callbox_realloc(p, total));
	ASSERT_EQ(100, check_fill(p, 100, 7));
	callbox_free(p);
	ASSERT_EQ(total, callbox_heap_free_bytes());
	p = callbox_malloc(total - HDR);
	ASSERT_NE(NULL, p);
	callbox_free(p);
	ASSERT_EQ(0, callbox_heap_check());
	ASSERT_EQ(0, corrupted_count);
}

TEST(calloc_zeroes_and_checks_overflow)
{
	static const size_t bad[][2] = {
		{ SIZE_MAX, 2 }, { 2, SIZE_MAX }, { SIZE_MAX / 2 + 1, 2 },
		{ (size_t)1 << 32, (size_t)1 << 32 }, { SIZE_MAX, SIZE_MAX },
		{ ((size_t)1 << 60) + 1, 16 },
	};
	unsigned char *p, *q;
	size_t i, n;

	ASSERT_NE(NULL, new_heap(1 << 20, 0));
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		ASSERT_EQ(NULL, callbox_calloc(bad[i][0], bad[i][1]));

	/* Dirty the memory first, so that zeroes are calloc's doing. */
	for (n = 1; n < 5000; n = n * 3 + 1) {
		p = callbox_malloc(n * 8);
		ASSERT_NE(NULL, p);
		memset(p, 0xff, n * 8);
		callbox_free(p);
		q = callbox_calloc(n, 8);
		ASSERT_EQ(p, q);
		for (i = 0; i < n * 8; i++)
			ASSERT_EQ(0, q[i]);
		callbox_free(q);
	}

	p = callbox_calloc(0, 100);
	q = callbox_calloc(100, 0);
	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, q);
	ASSERT_NE(p, q);
	callbox_free(p);
	callbox_free(q);
	ASSERT_EQ(0, callbox_heap_used());
	ASSERT_EQ(0, corrupted_count);
}

TEST(realloc_keeps_contents)
{
	unsigned char *p, *q, *r, *blocker;
	size_t n, prev, used;

	ASSERT_NE(NULL, new_heap(1 << 20, 0));

	/* realloc(NULL, n) is malloc(n), n == 0 included. */
	p = callbox_realloc(NULL, 0);
	ASSERT_NE(NULL, p);
	callbox_free(p);

	/* Grow in place: all that follows the block is free. */
	p = callbox_malloc(10);
	ASSERT_NE(NULL, p);
	fill(p, 10, 1);
	for (prev = 10, n = 11; n < 20000; prev = n, n = n * 2 + 3) {
		q = callbox_realloc(p, n);
		ASSERT_EQ(p, q);
		ASSERT_EQ(prev, check_fill(q, prev, 1));
		fill(q, n, 1);
	}
	/* Shrink in place, freeing the tail. */
	used = callbox_heap_used();
	q = callbox_realloc(p, 100);
	ASSERT_EQ(p, q);
	ASSERT_EQ(100, check_fill(q, 100, 1));
	ASSERT_LT(callbox_heap_used(), used);
	ASSERT_EQ(0, callbox_heap_check());

	/* Grow by moving: a live block right after this one. */
	blocker = callbox_malloc(50);
	ASSERT_EQ((uintptr_t)q + 128, (uintptr_t)blocker);
	fill(blocker, 50, 2);
	r = callbox_realloc(q, 5000);
	ASSERT_NE(NULL, r);
	ASSERT_NE(q, r);
	ASSERT_EQ(100, check_fill(r, 100, 1));
	ASSERT_EQ(50, check_fill(blocker, 50, 2));
	fill(r, 5000, 3);
	q = callbox_malloc(100);
	ASSERT_NE(NULL, q);
	fill(q, 100, 6);
	ASSERT_EQ(5000, check_fill(r, 5000, 3));
	ASSERT_EQ(50, check_fill(blocker, 50, 2));
	callbox_free(q);
	callbox_free(r);
	callbox_free(blocker);
	ASSERT_EQ(0, callbox_heap_used());
	ASSERT_EQ(0, callbox_heap_check());
	ASSERT_EQ(0, corrupted_count);
}

TEST(realloc_grows_into_free_neighbour)
{
	unsigned char *p, *q, *r;
	size_t used;

	ASSERT_NE(NULL, new_heap(1 << 20, 0));
	p = callbox_malloc(64);
	q = callbox_malloc(256);
	r = callbox_malloc(16);
	ASSERT_NE(NULL, r);
	ASSERT_EQ((uintptr_t)p + 80, (uintptr_t)q);
	fill(p, 64, 4);
	fill(r, 16, 5);
	callbox_free(q);

	/* Exactly what p and the freed q make together. */
	q = callbox_realloc(p, 64 + 272);
	ASSERT_EQ(p, q);
	ASSERT_EQ(64, check_fill(q, 64, 4));
	fill(q, 64 + 272, 4);
	ASSERT_EQ(0, callbox_heap_check());
	/* One byte more moves it. */
	q = callbox_realloc(p, 64 + 272 + 1);
	ASSERT_NE(p, q);
	ASSERT_EQ(64 + 272, check_fill(q, 64 + 272, 4));
	p = q;
	fill(p, 300, 4);

	/* Shrinking never moves; it frees a tail big enough to be a block. */
	used = callbox_heap_used();
	q = callbox_realloc(p, 299);
	ASSERT_EQ(p, q);
	ASSERT_EQ(299, check_fill(q, 299, 4));
	/* 368 bytes cut to 320: the 48 left over are just a block. */
	ASSERT_EQ(used - MIN_BLOCK, callbox_heap_used());
	q = callbox_realloc(p, 1);
	ASSERT_EQ(p, q);
	ASSERT_EQ(1, check_fill(q, 1, 4));
	ASSERT_LT(callbox_heap_used(), used);

	/* realloc(p, 0) frees p and returns NULL. */
	used = callbox_heap_used();
	ASSERT_EQ(NULL, callbox_realloc(q, 0));
	ASSERT_EQ(used - MIN_BLOCK, callbox_heap_used());
	ASSERT_EQ(0, callbox_heap_check());

	ASSERT_EQ(16, check_fill(r, 16, 5));
	callbox_free(r);
	ASSERT_EQ(0, callbox_heap_used());
	ASSERT_EQ(0, corrupted_count);
}

struct shadow {
	unsigned char *p;
	size_t n;
	uint32_t seed;
};

static void shadow_check_all(struct __test_metadata *_metadata,
			     const struct shadow *s, size_t nr, size_t total)
{
	size_t i, live = 0;

	for (i = 0; i < nr; i++) {
		if (!s[i].p)
			continue;
		ASSERT_TRUE(aligned(s[i].p));
		ASSERT_EQ(s[i].n, check_fill(s[i].p, s[i].n, s[i].seed));
		live += (s[i].n + HDR + 15) / 16 * 16;
	}
	ASSERT_EQ(0, callbox_heap_check());
	ASSERT_EQ(total, callbox_heap_used() + callbox_heap_free_bytes());
	/* Blocks may have a little slack, never less than they need. */
	ASSERT_LE(live, callbox_heap_used());
}

static size_t random_size(void)
{
	switch (rng_below(16)) {
	case 0:
		return rng_below(65536);
	case 1:
	case 2:
		return rng_below(4096);
	case 3:
		return rng_below(4) ? rng_below(64) : SIZE_MAX - rng_below(64);
	default:
		return rng_below(256);
	}
}

/*
 * 100k random operations checked against a shadow model: every live block
 * keeps its own pattern, so an overlap, a lost copy or a write past a block
 * shows up as a mismatch.
 */
TEST(random_operations_against_shadow)
{
	enum { SLOTS = 1024, OPS = 100000 };
	static struct shadow s[SLOTS];
	size_t total, op, i, n, keep, failures = 0;
	uint32_t seed = 0;
	unsigned char *q;

	ASSERT_NE(NULL, new_heap(16 << 20, 8));
	total = callbox_heap_free_bytes();
	rng_seed(0x5eed);

	for (op = 0; op < OPS; op++) {
		struct shadow *e = &s[rng_below(SLOTS)];

		n = random_size();
		seed++;
		if (!e->p) {
			bool zeroed = rng_below(4) == 0;

			q = zeroed ? callbox_calloc(1, n) : callbox_malloc(n);
			if (n > total) {
				ASSERT_EQ(NULL, q);
				continue;
			}
			if (!q) {
				failures++;
				continue;
			}
			if (zeroed)
				for (i = 0; i < n; i++)
					ASSERT_EQ(0, q[i]);
			fill(q, n, seed);
			*e = (struct shadow){ q, n, seed };
		} else if (rng_below(2)) {
			ASSERT_EQ(e->n, check_fill(e->p, e->n, e->seed));
			callbox_free(e->p);
			e->p = NULL;
		} else {
			if (rng_below(32) == 0)
				n = 0;
			q = callbox_realloc(e->p, n);
			if (!n) {
				ASSERT_EQ(NULL, q);
				e->p = NULL;
				continue;
			}
			if (!q) {
				ASSERT_GT(n, total / 4);
				ASSERT_EQ(e->n, check_fill(e->p, e->n, e->seed));
				if (n <= total)
					failures++;
				continue;
			}
			keep = n < e->n ? n : e->n;
			ASSERT_EQ(keep, check_fill(q, keep, e->seed));
			fill(q, n, seed);
			*e = (struct shadow){ q, n, seed };
		}
		if (op % 5000 == 0)
			shadow_check_all(_metadata, s, SLOTS, total);
	}
	shadow_check_all(_metadata, s, SLOTS, total);
	/* 16 MiB is far more than the model ever has live: nothing fails. */
	ASSERT_EQ(0, failures);

	for (i = 0; i < SLOTS; i++)
		callbox_free(s[i].p);
	ASSERT_EQ(0, callbox_heap_check());
	ASSERT_EQ(0, callbox_heap_used());
	ASSERT_EQ(total, callbox_heap_free_bytes());
	ASSERT_EQ(0, corrupted_count);
}

TEST(double_free_is_reported)
{
	void *a, *b, *c;
	size_t used, free_bytes;

	ASSERT_NE(NULL, new_heap(1 << 16, 0));
	a = callbox_malloc(100);
	b = callbox_malloc(100);
	c = callbox_malloc(100);
	ASSERT_NE(NULL, c);

	callbox_free(b);
	used = callbox_heap_used();
	free_bytes = callbox_heap_free_bytes();
	callbox_free(b);
	ASSERT_EQ(1, corrupted_count);
	ASSERT_STREQ("free(): double free", corrupted_what);
	/* The bad free changed nothing. */
	ASSERT_EQ(used, callbox_heap_used());
	ASSERT_EQ(free_bytes, callbox_heap_free_bytes());
	ASSERT_EQ(0, callbox_heap_check());

	ASSERT_EQ(NULL, callbox_realloc(b, 10));
	ASSERT_EQ(2, corrupted_count);
	ASSERT_STREQ("realloc(): pointer already freed", corrupted_what);

	/* Still caught once the block has merged into its neighbour. */
	callbox_free(a);
	callbox_free(b);
	ASSERT_EQ(3, corrupted_count);
	ASSERT_STREQ("free(): double free", corrupted_what);
	callbox_free(c);
	callbox_free(c);
	ASSERT_EQ(4, corrupted_count);
	ASSERT_STREQ("free(): double free", corrupted_what);
	ASSERT_EQ(0, callbox_heap_used());
	ASSERT_EQ(0, callbox_heap_check());
}

TEST(foreign_pointers_are_reported)
{
	static const char *const invalid =
		"free(): invalid pointer or block header corrupted";
	static const char *const foreign = "free(): pointer not from the heap";
	unsigned char *heap_mem, *p;
	size_t free_bytes;
	int local;

	heap_mem = new_heap(1 << 16, 0);
	ASSERT_NE(NULL, heap_mem);
	p = callbox_malloc(256);
	ASSERT_NE(NULL, p);
	free_bytes = callbox_heap_free_bytes();

	callbox_free(&local);
	ASSERT_EQ(1, corrupted_count);
	ASSERT_STREQ(foreign, corrupted_what);
	callbox_free(heap_mem + (1 << 16) + 64);
	ASSERT_STREQ(foreign, corrupted_what);
	callbox_free((void *)8);
	ASSERT_STREQ(foreign, corrupted_what);
	/* Misaligned, inside the heap. */
	callbox_free(p + 1);
	ASSERT_STREQ(foreign, corrupted_what);
	/* Aligned, but inside a block rather than at its start. */
	callbox_free(p + 16);
	ASSERT_STREQ(invalid, corrupted_what);
	callbox_free(p + 128);
	ASSERT_STREQ(invalid, corrupted_what);
	/* The first block's header itself. */
	callbox_free(p - 16);
	ASSERT_STREQ(foreign, corrupted_what);
	ASSERT_EQ(7, corrupted_count);

	ASSERT_EQ(NULL, callbox_realloc(&local, 10));
	ASSERT_STREQ("realloc(): pointer not from the heap", corrupted_what);
	ASSERT_EQ(NULL, callbox_realloc(p + 32, 10));
	ASSERT_STREQ("realloc(): invalid pointer or block header corrupted",
		     corrupted_what);
	ASSERT_EQ(9, corrupted_count);

	/* None of it touched the heap. */
	ASSERT_EQ(free_bytes, callbox_heap_free_bytes());
	ASSERT_EQ(0, callbox_heap_check());
	callbox_free(p);
	ASSERT_EQ(9, corrupted_count);
	ASSERT_EQ(0, callbox_heap_used());
}

TEST(overrun_into_next_header_is_reported)
{
	unsigned char *a, *b;

	ASSERT_NE(NULL, new_heap(1 << 16, 0));
	a = callbox_malloc(32);
	b = callbox_malloc(32);
	ASSERT_NE(NULL, b);
	ASSERT_EQ((uintptr_t)a + MIN_BLOCK, (uintptr_t)b);

	/*
	 * Four bytes past a's block: the start of b's header. Laundered, as
	 * GCC knows from alloc_size that this overruns and would say so.
	 */
	asm("" : "+r"(a));
	memset(a, 'x', MIN_BLOCK - HDR + 4);
	ASSERT_EQ(-1, callbox_heap_check());
	ASSERT_EQ(1, corrupted_count);
	callbox_free(a);
	ASSERT_EQ(2, corrupted_count);
	ASSERT_STREQ("free(): next block header corrupted (heap overrun?)",
		     corrupted_what);
	callbox_free(b);
	ASSERT_EQ(3, corrupted_count);
	ASSERT_STREQ("free(): invalid pointer or block header corrupted",
		     corrupted_what);
}

TEST(reinit_forgets_old_blocks)
{
	unsigned char *mem, *p, *q;
	size_t total;

	mem = new_heap(1 << 16, 0);
	ASSERT_NE(NULL, mem);
	p = callbox_malloc(100);
	q = callbox_malloc(100);
	ASSERT_NE(NULL, q);

	callbox_heap_init(mem, 1 << 16);
	total = callbox_heap_free_bytes();
	ASSERT_EQ(0, callbox_heap_used());
	/* q's header is still in memory, but from the old heap. */
	callbox_free(q);
	ASSERT_EQ(1, corrupted_count);
	ASSERT_STREQ("free(): invalid pointer or block header corrupted",
		     corrupted_what);
	ASSERT_EQ(total, callbox_heap_free_bytes());
	ASSERT_EQ(0, callbox_heap_check());

	/* The same addresses come back, fresh. */
	ASSERT_EQ(p, callbox_malloc(100));
	ASSERT_EQ(q, callbox_malloc(100));
	callbox_free(q);
	callbox_free(p);
	ASSERT_EQ(1, corrupted_count);
	ASSERT_EQ(total, callbox_heap_free_bytes());
}

TEST_HARNESS_MAIN
