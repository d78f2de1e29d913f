/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * The guest's heap: malloc() and friends over one region of guest memory.
 *
 * The allocator itself (guest/sdk/heap.c) exports only callbox_*() names,
 * so that it can be compiled into a hosted test program next to the host's
 * own malloc. The standard names are thin wrappers in guest/sdk/libc_alloc.c,
 * which only guests link.
 *
 * The guest is single-threaded and takes no interrupts, so none of this is
 * locked. All of it may be called before callbox_heap_init(): the heap is
 * then empty, and every allocation fails.
 */
#ifndef CALLBOX_HEAP_H
#define CALLBOX_HEAP_H

#include <stddef.h>

/* Every pointer the allocator returns is aligned to this many bytes. */
#define CALLBOX_HEAP_ALIGN	16

/**
 * callbox_heap_init() - (re)start the heap over a region of memory
 * @base: start of the region; need not be aligned
 * @size: its size in bytes
 *
 * The region is trimmed to CALLBOX_HEAP_ALIGN at both ends and becomes one
 * free block. A region too small to hold a single block (under 64 bytes or
 * so), or a NULL @base, gives an empty heap on which every allocation fails.
 *
 * Calling it again resets the heap: every earlier allocation is forgotten,
 * and a later free() or realloc() of one of them is reported to
 * callbox_heap_corrupted() rather than silently corrupting the new heap
 * (block headers are keyed by the init that wrote them).
 */
void callbox_heap_init(void *base, size_t size);

/**
 * callbox_malloc() - allocate memory
 * @n: bytes wanted
 *
 * callbox_malloc(0) returns a unique pointer to a minimum-sized block,
 * which must be freed like any other; it returns NULL only when the heap
 * is exhausted.
 *
 * Return: a CALLBOX_HEAP_ALIGN-aligned pointer to @n bytes, or NULL if
 * there is no free block that large (or @n is absurd, e.g. SIZE_MAX).
 */
void *callbox_malloc(size_t n) __attribute__((malloc, alloc_size(1)));

/**
 * callbox_free() - free memory
 * @p: a pointer from callbox_malloc(), callbox_calloc() or
 *	callbox_realloc(), or NULL (which does nothing)
 *
 * A double free, a pointer that is not the start of a live block, and a
 * block whose neighbour's header was overwritten are reported to
 * callbox_heap_corrupted(); should it return, the free is not done.
 */
void callbox_free(void *p);

/**
 * callbox_realloc() - resize an allocation
 * @p: the allocation, or NULL to allocate afresh
 * @n: the new size in bytes
 *
 * Standard semantics, with the implementation-defined case made explicit:
 * callbox_realloc(p, 0) with p != NULL frees p and returns NULL (as glibc
 * does). callbox_realloc(NULL, n) is callbox_malloc(n), for every n
 * including 0.
 *
 * Shrinking is done in place; growing is done in place when the next block
 * is free and large enough, and by allocate-copy-free otherwise.
 *
 * Return: the resized allocation, whose first min(old size, @n) bytes are
 * those of @p; or NULL, in which case @p is untouched and still allocated
 * (unless @n was 0).
 */
void *callbox_realloc(void *p, size_t n) __attribute__((alloc_size(2)));

/**
 * callbox_calloc() - allocate zeroed memory for an array
 * @nmemb: number of elements
 * @size: size of each element
 *
 * Return: zeroed memory as for callbox_malloc(nmemb * size), or NULL if
 * that product overflows or the heap has no room.
 */
void *callbox_calloc(size_t nmemb, size_t size)
	__attribute__((malloc, alloc_size(1, 2)));

/**
 * callbox_heap_used() - bytes taken by live allocations
 *
 * Counts whole blocks, headers and rounding included, so it grows by a
 * little more than n for each malloc(n).
 *
 * Return: the bytes in allocated blocks.
 */
size_t callbox_heap_used(void);

/**
 * callbox_heap_free_bytes() - bytes not taken by live allocations
 *
 * callbox_heap_used() + callbox_heap_free_bytes() is the same for the
 * whole life of a heap. Once everything has been freed, the free bytes are
 * one block again, and the largest possible allocation is
 * callbox_heap_free_bytes() - CALLBOX_HEAP_ALIGN (one block header).
 *
 * Return: the bytes in free blocks, their headers included.
 */
size_t callbox_heap_free_bytes(void);

/**
 * callbox_heap_check() - check the whole heap for consistency
 *
 * Walks every block and the free list, checking headers, boundary tags,
 * links and the byte counts. Linear in the size of the heap, so meant for
 * tests and for debugging a guest, not for every call.
 *
 * Return: 0 if the heap is consistent; otherwise -1, after reporting the
 * first problem found to callbox_heap_corrupted().
 */
int callbox_heap_check(void);

/**
 * callbox_heap_corrupted() - hook: the heap found misuse or corruption
 * @what: a constant string saying what was found, e.g. "free(): double free"
 *
 * Not defined by the allocator: the guest runtime defines it (and ends the
 * call), a host test defines its own. If it returns, the operation that
 * found the problem is abandoned: free() does nothing, the allocating
 * functions return NULL.
 */
void callbox_heap_corrupted(const char *what);

/*
 * The standard names, for guest programs (guest/sdk/libc_alloc.c). A
 * hosted program gets the same prototypes from <stdlib.h>, so these do not
 * conflict there.
 */
void *malloc(size_t n);
void free(void *p);
void *realloc(void *p, size_t n);
void *calloc(size_t nmemb, size_t size);

#endif /* CALLBOX_HEAP_H */
