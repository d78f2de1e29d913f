/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * What the benchmarks (bench.c, bench_inspect.c) share: a clock, medians,
 * and dying with a message.
 */
#ifndef CALLBOX_BENCH_UTIL_H
#define CALLBOX_BENCH_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static inline int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The median of @v (sorted in place). */
static inline uint64_t median(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

/* "PROGRAM: WHAT: strerror(ERR)", and exit 1. */
static inline void die(const char *what, int err)
{
	fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
		strerror(err));
	exit(1);
}

#endif /* CALLBOX_BENCH_UTIL_H */
