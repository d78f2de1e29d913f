/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the heap suites share (heap_test, heap_check_test): heaps in
 * mmap()ed regions, the hook heap.c reports corruption to, a fixed-seed
 * PRNG, and blocks filled with patterns of their own.
 */
#ifndef CALLBOX_HEAP_UTIL_H
#define CALLBOX_HEAP_UTIL_H

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

/*
 * What callbox_heap_corrupted() was told; each TEST runs in its own fork.
 * heap.c calls it: each suite, a program of one file, defines it here.
 */
static const char *corrupted_what;
static unsigned int corrupted_count;

void callbox_heap_corrupted(const char *what)
{
	corrupted_what = what;
	corrupted_count++;
}

/* An mmap()ed region; it is never unmapped, as each test is a process. */
static inline void *region(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* A heap over @size bytes at @offset into a fresh region. */
static inline void *new_heap(size_t size, size_t offset)
{
	unsigned char *p = region(size + offset + 4096);

	if (!p)
		return NULL;
	callbox_heap_init(p + offset, size);
	return p + offset;
}

/* A fixed-seed PRNG (xorshift64*), so that failures reproduce. */
static uint64_t rng_state;

static inline void rng_seed(uint64_t seed)
{
	rng_state = seed ? seed : 1;
}

static inline uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static inline size_t rng_below(size_t n)
{
	return rng() % n;
}

static inline unsigned char pattern(uint32_t seed, size_t i)
{
	return (unsigned char)(seed + i * 131 + (i >> 8));
}

static inline void fill(void *p, size_t n, uint32_t seed)
{
	unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		c[i] = pattern(seed, i);
}

/* The index of the first byte that does not match, or @n. */
static inline size_t check_fill(const void *p, size_t n, uint32_t seed)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (c[i] != pattern(seed, i))
			return i;
	return n;
}

static inline bool aligned(const void *p)
{
	return (uintptr_t)p % CALLBOX_HEAP_ALIGN == 0;
}

#endif /* CALLBOX_HEAP_UTIL_H */
