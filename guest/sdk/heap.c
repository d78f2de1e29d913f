// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * The guest's heap allocator: first fit over one free list, with boundary
 * tags so that a freed block merges with both neighbours in constant time.
 *
 * Guests are small and their calls short, so this favours being simple and
 * hard to corrupt silently over speed. Layout of the region:
 *
 *	start                                                     end
 *	| block | block | ... | block | end marker (a header, size 0, in use) |
 *
 * Every block starts with a 16-byte header, so that payloads stay 16-byte
 * aligned:
 *
 *	word	block size (a multiple of 16) | BLOCK_USED | BLOCK_PREV_FREE
 *	check	address ^ word ^ heap.key
 *
 * An allocated block is header + payload. A free block also holds its
 * free-list links after the header and, in its last 8 bytes, a footer
 * repeating its size: the boundary tag through which the block after it
 * finds it when that block is freed. Only free blocks have footers, so an
 * allocated block gives all but its header to the program; BLOCK_PREV_FREE
 * says whether the footer before a header is there to be read.
 *
 * Invariants: no two free blocks are adjacent (freeing merges them); so the
 * block before a free block is always in use. Every free block, and no
 * other, is on the free list.
 *
 * The check word costs one XOR to keep and catches most misuse cheaply: a
 * pointer into the middle of a block, a header overwritten by a buffer
 * overrun of the block before it, a pointer from before the last
 * callbox_heap_init() (heap.key changes with each). A block is marked free
 * before it merges into its predecessor, so its stale header still says
 * "free" and a second free() of it is reported as a double free.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <callbox/heap.h>

struct heap_block {
	size_t word;
	uintptr_t check;
};

struct heap_free_block {
	struct heap_block hdr;
	struct heap_free_block *next;
	struct heap_free_block *prev;
};

#define HDR_SIZE	sizeof(struct heap_block)
#define FOOTER_SIZE	sizeof(size_t)
#define HEAP_ALIGN	((size_t)CALLBOX_HEAP_ALIGN)
/* Room for a free block's header, links and footer. */
#define MIN_BLOCK	((size_t)48)

#define BLOCK_USED	((size_t)1)
#define BLOCK_PREV_FREE	((size_t)2)
#define BLOCK_FLAGS	(HEAP_ALIGN - 1)

/* Mixed into every check word, so that zeroed memory never passes. */
#define HEAP_MAGIC	((uintptr_t)0x43424f5848454150ull)	/* "CBOXHEAP" */

_Static_assert(HDR_SIZE == CALLBOX_HEAP_ALIGN, "header keeps payloads aligned");
_Static_assert(MIN_BLOCK % CALLBOX_HEAP_ALIGN == 0, "block sizes aligned");
_Static_assert(MIN_BLOCK >= sizeof(struct heap_free_block) + FOOTER_SIZE,
	       "a free block fits in the smallest block");

static struct {
	uintptr_t start;	/* the first block; 0 if the heap is empty */
	uintptr_t end;		/* the end marker */
	struct heap_free_block *free_list;
	size_t used;		/* bytes in allocated blocks */
	size_t free;		/* bytes in free blocks */
	uintptr_t key;		/* this init's part of every check word */
} heap;

/* How many times callbox_heap_init() ran: survives the reset of @heap. */
static uintptr_t heap_generation;

static size_t block_size(const struct heap_block *b)
{
	return b->word & ~BLOCK_FLAGS;
}

static bool block_used(const struct heap_block *b)
{
	return b->word & BLOCK_USED;
}

static struct heap_block *block_at(uintptr_t addr)
{
	return (struct heap_block *)addr;
}

static struct heap_block *next_block(const struct heap_block *b)
{
	return block_at((uintptr_t)b + block_size(b));
}

static void *block_payload(struct heap_block *b)
{
	return (char *)b + HDR_SIZE;
}

static uintptr_t header_check(const struct heap_block *b, size_t word)
{
	return (uintptr_t)b ^ word ^ heap.key;
}

static void set_header(struct heap_block *b, size_t size, size_t flags)
{
	b->word = size | flags;
	b->check = header_check(b, b->word);
}

static void set_flags(struct heap_block *b, size_t flags)
{
	set_header(b, block_size(b), flags);
}

static size_t *block_footer(struct heap_block *b, size_t size)
{
	return (size_t *)((uintptr_t)b + size - FOOTER_SIZE);
}

/* Could a header live at @addr? Checked before anything is read there. */
static bool header_addr_ok(uintptr_t addr)
{
	return addr >= heap.start && addr <= heap.end &&
	       addr % HEAP_ALIGN == 0;
}

/*
 * Is @b (already known to be at a plausible address) an intact header?
 * Its check word must match, and its size must keep it inside the heap;
 * the end marker is the only header of size 0.
 */
static bool header_ok(const struct heap_block *b)
{
	uintptr_t addr = (uintptr_t)b;
	size_t size = block_size(b);

	if (b->check != header_check(b, b->word))
		return false;
	if (addr == heap.end)
		return size == 0 && block_used(b);
	return size >= MIN_BLOCK && size <= heap.end - addr;
}

static bool header_at_ok(uintptr_t addr)
{
	return header_addr_ok(addr) && header_ok(block_at(addr));
}

static bool link_ok(const struct heap_free_block *f)
{
	return !f || (header_addr_ok((uintptr_t)f) && (uintptr_t)f < heap.end);
}

/*
 * Are @f's free-list links consistent, so that unlinking it touches only
 * free-list nodes? Checked before a block found through a neighbour (not
 * through the list) is unlinked.
 */
static bool links_ok(const struct heap_free_block *f)
{
	if (!link_ok(f->next) || !link_ok(f->prev))
		return false;
	if (f->next && f->next->prev != f)
		return false;
	return f->prev ? f->prev->next == f : heap.free_list == f;
}

static void list_push(struct heap_free_block *f)
{
	f->prev = NULL;
	f->next = heap.free_list;
	if (f->next)
		f->next->prev = f;
	heap.free_list = f;
}

static void list_del(struct heap_free_block *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		heap.free_list = f->next;
	if (f->next)
		f->next->prev = f->prev;
}

/* Put @new where @old is in the list: a split keeps the list order. */
static void list_replace(struct heap_free_block *old,
			 struct heap_free_block *new)
{
	new->next = old->next;
	new->prev = old->prev;
	if (new->prev)
		new->prev->next = new;
	else
		heap.free_list = new;
	if (new->next)
		new->next->prev = new;
}

/*
 * The free block before @b, found through its footer; NULL if the footer
 * or the header it leads to is not a free block's.
 */
static struct heap_free_block *prev_free_block(struct heap_block *b)
{
	uintptr_t addr = (uintptr_t)b;
	size_t size;
	struct heap_block *prev;

	if (addr - heap.start < MIN_BLOCK)
		return NULL;
	size = *(const size_t *)(addr - FOOTER_SIZE);
	if (size < MIN_BLOCK || size % HEAP_ALIGN || size > addr - heap.start)
		return NULL;
	prev = block_at(addr - size);
	if (!header_ok(prev) || block_used(prev) || block_size(prev) != size)
		return NULL;
	return (struct heap_free_block *)prev;
}

void callbox_heap_init(void *base, size_t size)
{
	uintptr_t lo = (uintptr_t)base, hi;
	struct heap_free_block *f;

	heap.start = 0;
	heap.end = 0;
	heap.free_list = NULL;
	heap.used = 0;
	heap.free = 0;
	heap_generation++;
	heap.key = HEAP_MAGIC ^ (heap_generation * 0x9e3779b97f4a7c15ull);

	/*
	 * Room for one block and the end marker, before and after trimming
	 * (the first test keeps the rounding up of lo from overflowing).
	 */
	if (!base || size < MIN_BLOCK + HDR_SIZE ||
	    __builtin_add_overflow(lo, size, &hi))
		return;
	lo = (lo + HEAP_ALIGN - 1) & ~(HEAP_ALIGN - 1);
	hi &= ~(HEAP_ALIGN - 1);
	if (hi - lo < MIN_BLOCK + HDR_SIZE)
		return;

	heap.start = lo;
	heap.end = hi - HDR_SIZE;
	heap.free = heap.end - heap.start;

	f = (struct heap_free_block *)block_at(heap.start);
	set_header(&f->hdr, heap.free, 0);
	*block_footer(&f->hdr, heap.free) = heap.free;
	f->next = NULL;
	f->prev = NULL;
	heap.free_list = f;
	set_header(block_at(heap.end), 0, BLOCK_USED | BLOCK_PREV_FREE);
}

/*
 * The block size that serves a request of @n bytes: header added, rounded
 * up to the alignment and to the smallest block. False if that overflows,
 * which is what keeps a request near SIZE_MAX from wrapping to a small
 * block.
 */
static bool request_size(size_t n, size_t *size)
{
	size_t s;

	if (__builtin_add_overflow(n, HDR_SIZE + HEAP_ALIGN - 1, &s))
		return false;
	s &= ~(HEAP_ALIGN - 1);
	*size = s < MIN_BLOCK ? MIN_BLOCK : s;
	return true;
}

/*
 * Allocate @size bytes from the front of free block @f, which is at least
 * that large. The rest becomes a free block if it is big enough to be one,
 * and is otherwise given away with the allocation.
 */
static void *take_block(struct heap_free_block *f, size_t size)
{
	struct heap_block *b = &f->hdr, *next = next_block(b);
	size_t have = block_size(b);

	if (have - size >= MIN_BLOCK) {
		struct heap_free_block *rest;

		rest = (struct heap_free_block *)block_at((uintptr_t)b + size);
		set_header(&rest->hdr, have - size, 0);
		*block_footer(&rest->hdr, have - size) = have - size;
		list_replace(f, rest);
	} else {
		if (!header_at_ok((uintptr_t)next)) {
			callbox_heap_corrupted("malloc(): block header corrupted (heap overrun?)");
			return NULL;
		}
		list_del(f);
		set_flags(next, next->word & BLOCK_FLAGS & ~BLOCK_PREV_FREE);
		size = have;
	}
	/* A free block's predecessor is in use: no BLOCK_PREV_FREE. */
	set_header(b, size, BLOCK_USED);
	heap.used += size;
	heap.free -= size;
	return block_payload(b);
}

void *callbox_malloc(size_t n)
{
	struct heap_free_block *f, *prev = NULL;
	size_t size;

	/* Also fails on an empty heap, whose free byte count is 0. */
	if (!request_size(n, &size) || size > heap.free)
		return NULL;

	/*
	 * Checking each node's back link also ends the walk on a corrupted,
	 * cyclic list: the first node reached twice would need two different
	 * predecessors (or, for the head, one and none).
	 */
	for (f = heap.free_list; f; prev = f, f = f->next) {
		if (!header_at_ok((uintptr_t)f) || block_used(&f->hdr) ||
		    f->prev != prev) {
			callbox_heap_corrupted("malloc(): free list corrupted");
			return NULL;
		}
		if (block_size(&f->hdr) >= size)
			return take_block(f, size);
	}
	return NULL;
}

/* The messages one operation reports bad pointers with. */
struct heap_op {
	const char *foreign;
	const char *invalid;
	const char *freed;
};

static const struct heap_op heap_op_free = {
	.foreign = "free(): pointer not from the heap",
	.invalid = "free(): invalid pointer or block header corrupted",
	.freed = "free(): double free",
};

static const struct heap_op heap_op_realloc = {
	.foreign = "realloc(): pointer not from the heap",
	.invalid = "realloc(): invalid pointer or block header corrupted",
	.freed = "realloc(): pointer already freed",
};

/*
 * The live block whose payload @p is, or NULL after reporting why there is
 * none. Bounds first, so that a wild pointer is never read through.
 */
static struct heap_block *user_block(void *p, const struct heap_op *op)
{
	uintptr_t addr = (uintptr_t)p - HDR_SIZE;
	struct heap_block *b;

	if ((uintptr_t)p < HDR_SIZE || !header_addr_ok(addr) ||
	    addr == heap.end) {
		callbox_heap_corrupted(op->foreign);
		return NULL;
	}
	b = block_at(addr);
	if (!header_ok(b)) {
		callbox_heap_corrupted(op->invalid);
		return NULL;
	}
	if (!block_used(b)) {
		callbox_heap_corrupted(op->freed);
		return NULL;
	}
	return b;
}

/*
 * Free allocated block @b, merging it with a free block on either side.
 * Everything that will be written is checked first, so that on corruption
 * nothing has changed when the hook returns.
 */
static void release_block(struct heap_block *b)
{
	size_t size = block_size(b);
	struct heap_block *next = next_block(b), *after = next;
	struct heap_free_block *prev = NULL;

	if (!header_ok(next)) {
		callbox_heap_corrupted("free(): next block header corrupted (heap overrun?)");
		return;
	}
	if (b->word & BLOCK_PREV_FREE) {
		prev = prev_free_block(b);
		if (!prev || !links_ok(prev)) {
			callbox_heap_corrupted("free(): previous free block corrupted");
			return;
		}
	}
	if (!block_used(next)) {
		after = next_block(next);
		if (!links_ok((struct heap_free_block *)next) ||
		    !header_at_ok((uintptr_t)after) || !block_used(after)) {
			callbox_heap_corrupted("free(): next free block corrupted");
			return;
		}
	}

	heap.used -= size;
	heap.free += size;
	/* Stale once merged, but still saying "free" to a second free(). */
	set_flags(b, b->word & BLOCK_PREV_FREE);

	if (prev) {
		list_del(prev);
		size += block_size(&prev->hdr);
		b = &prev->hdr;
	}
	if (after != next) {
		list_del((struct heap_free_block *)next);
		size += block_size(next);
	}
	set_header(b, size, 0);
	*block_footer(b, size) = size;
	list_push((struct heap_free_block *)b);
	set_flags(after, (after->word & BLOCK_FLAGS) | BLOCK_PREV_FREE);
}

void callbox_free(void *p)
{
	struct heap_block *b;

	if (!p)
		return;
	b = user_block(p, &heap_op_free);
	if (b)
		release_block(b);
}

/*
 * Cut allocated block @b down to @size bytes if what is cut off can be a
 * block of its own, and free that. @size is a request_size() no larger
 * than the block.
 */
static void shrink_block(struct heap_block *b, size_t size)
{
	size_t have = block_size(b);
	struct heap_block *rest;

	if (have - size < MIN_BLOCK)
		return;
	rest = block_at((uintptr_t)b + size);
	set_header(b, size, b->word & BLOCK_FLAGS);
	set_header(rest, have - size, BLOCK_USED);
	release_block(rest);
}

void *callbox_realloc(void *p, size_t n)
{
	struct heap_block *b, *next;
	size_t size, have;
	void *q;

	if (!p)
		return callbox_malloc(n);
	b = user_block(p, &heap_op_realloc);
	if (!b)
		return NULL;
	if (!n) {
		release_block(b);
		return NULL;
	}
	if (!request_size(n, &size))
		return NULL;

	have = block_size(b);
	if (size <= have) {
		shrink_block(b, size);
		return p;
	}

	/* Grow in place into a free next block if that is enough. */
	next = next_block(b);
	if (!header_ok(next)) {
		callbox_heap_corrupted("realloc(): next block header corrupted (heap overrun?)");
		return NULL;
	}
	if (!block_used(next) && block_size(next) >= size - have) {
		struct heap_block *after = next_block(next);
		size_t more = block_size(next);

		if (!links_ok((struct heap_free_block *)next) ||
		    !header_at_ok((uintptr_t)after) || !block_used(after)) {
			callbox_heap_corrupted("realloc(): next free block corrupted");
			return NULL;
		}
		list_del((struct heap_free_block *)next);
		set_flags(after, after->word & BLOCK_FLAGS & ~BLOCK_PREV_FREE);
		set_header(b, have + more, b->word & BLOCK_FLAGS);
		heap.used += more;
		heap.free -= more;
		shrink_block(b, size);
		return p;
	}

	q = callbox_malloc(n);
	if (!q)
		return NULL;
	__builtin_memcpy(q, p, have - HDR_SIZE);
	release_block(b);
	return q;
}

void *callbox_calloc(size_t nmemb, size_t size)
{
	size_t n;
	void *p;

	if (__builtin_mul_overflow(nmemb, size, &n))
		return NULL;
	p = callbox_malloc(n);
	if (p)
		__builtin_memset(p, 0, n);
	return p;
}

size_t callbox_heap_used(void)
{
	return heap.used;
}

size_t callbox_heap_free_bytes(void)
{
	return heap.free;
}

static int heap_check_failed(const char *what)
{
	callbox_heap_corrupted(what);
	return -1;
}

int callbox_heap_check(void)
{
	size_t used = 0, free = 0, nr_free = 0, n = 0;
	struct heap_free_block *f, *prev = NULL;
	bool prev_free = false;
	uintptr_t addr;

	if (!heap.start)
		return heap.free_list || heap.used || heap.free ?
			heap_check_failed("heap check: empty heap has blocks") : 0;

	for (addr = heap.start;; addr += block_size(block_at(addr))) {
		struct heap_block *b = block_at(addr);

		if (!header_ok(b))
			return heap_check_failed("heap check: block header corrupted");
		if (!!(b->word & BLOCK_PREV_FREE) != prev_free)
			return heap_check_failed("heap check: wrong BLOCK_PREV_FREE");
		if (addr == heap.end)
			break;
		if (block_used(b)) {
			used += block_size(b);
			prev_free = false;
			continue;
		}
		if (prev_free)
			return heap_check_failed("heap check: adjacent free blocks");
		if (*block_footer(b, block_size(b)) != block_size(b))
			return heap_check_failed("heap check: footer does not match header");
		free += block_size(b);
		nr_free++;
		prev_free = true;
	}
	if (used != heap.used || free != heap.free)
		return heap_check_failed("heap check: byte counts wrong");

	for (f = heap.free_list; f; prev = f, f = f->next) {
		if (++n > nr_free)
			return heap_check_failed("heap check: free list too long or cyclic");
		if (!header_at_ok((uintptr_t)f) || (uintptr_t)f == heap.end ||
		    block_used(&f->hdr) || f->prev != prev)
			return heap_check_failed("heap check: free list corrupted");
	}
	if (n != nr_free)
		return heap_check_failed("heap check: free block not on the free list");
	return 0;
}
