// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of the guest heap allocator (guest/sdk/heap.c), compiled natively.
 *
 * heap.c exports only callbox_*() names, so it links into this hosted
 * program next to libc's malloc, which the harness and ASan keep using.
 * Heaps are carved from mmap()ed memory, so ASan does not watch inside them;
 * what catches a block that overlaps another, or a header overwritten, is
 * filling every block with a pattern of its own and checking it later,
 * and callbox_heap_check() after every step that matters. Random
 * operations against a shadow model, and the corruption heap.c must
 * report, are heap_check_test's.
 */
#include "heap_util.h"

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

TEST_HARNESS_MAIN
