// SPDX-License-Identifier: GPL-2.0
/*
 * The guest heap allocator (guest/sdk/heap.c), compiled natively: random
 * operations checked against a shadow model, the corruption it must
 * report (a double free, foreign pointers, an overrun into the next
 * header), and a heap initialised again forgetting its old blocks.
 */
#include "heap_util.h"

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
