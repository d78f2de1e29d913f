// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * The standard allocation functions of the guest, which has no libc.
 *
 * The allocator (heap.c) exports only callbox_*() names so that the host
 * tests can compile it into a hosted program, where defining malloc() would
 * replace the libc allocator the test harness itself runs on. Only guests
 * link this file. Each wrapper compiles to a single tail jump.
 */
#include <callbox/heap.h>

void *malloc(size_t n)
{
	return callbox_malloc(n);
}

void free(void *p)
{
	callbox_free(p);
}

void *realloc(void *p, size_t n)
{
	return callbox_realloc(p, n);
}

void *calloc(size_t nmemb, size_t size)
{
	return callbox_calloc(nmemb, size);
}
