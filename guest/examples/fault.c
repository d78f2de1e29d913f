// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Example guest: hostile behaviours, one per function, for tests of how the
 * host contains a misbehaving guest. ok() is a healthy function in the same
 * image, so a test can check that a sandbox still works when it should.
 */
#include <callbox/guest.h>

/* Page-table entry bits, as in lib/layout.c. */
#define PTE_P		(1ull << 0)
#define PTE_RW		(1ull << 1)
#define PTE_PS		(1ull << 7)
#define PTE_ADDR_MASK	0x000ffffffffff000ull

/*
 * A guest-physical address with no memory behind it when guest memory is
 * smaller than 1 GiB: the base of the last 2 MiB page the page directory
 * can map.
 */
#define MMIO_ADDR	0x3fe00000ull
#define PD_SHIFT	21

/*
 * Page 0 is not mapped: a #PF, which the SDK reports with the address.
 * The asm hides the NULL from GCC, which would otherwise replace a known
 * NULL dereference with ud2.
 */
static int64_t null_deref(const int64_t *args)
{
	const volatile uint32_t *p = NULL;

	(void)args;
	asm volatile("" : "+r"(p));
	return *p;
}
CALLBOX_EXPORT(null_deref, 0);

/* #UD: invalid opcode. */
static int64_t ud2(const int64_t *args)
{
	(void)args;
	asm volatile("ud2");
	__builtin_unreachable();
}
CALLBOX_EXPORT(ud2, 0);

/* OUT to a port outside callbox's range (COM1's). */
static int64_t bad_port(const int64_t *args)
{
	(void)args;
	callbox_outl(0x3f8, 0x41);
	return -1;
}
CALLBOX_EXPORT(bad_port, 0);

/* IN from a callbox port: callbox defines no port a guest may read. */
static int64_t port_in(const int64_t *args)
{
	(void)args;
	return callbox_inl(CALLBOX_PORT_DONE);
}
CALLBOX_EXPORT(port_in, 0);

/*
 * Write to a guest-physical address that has no memory, which KVM reports
 * as an MMIO exit. The host maps nothing beyond guest memory, so first map
 * it: walk the identity map from CR3 (PML4[0] -> PDPT[0] -> PD) and install
 * a 2 MiB page for MMIO_ADDR. If that PD entry is already present, the
 * address is ordinary memory (a 1 GiB guest): return -1 instead of writing
 * over it.
 */
static int64_t mmio(const int64_t *args)
{
	uint64_t cr3, *pml4, *pdpt, *pd;
	uint64_t *pde;

	(void)args;
	asm volatile("mov %%cr3, %0" : "=r"(cr3));
	pml4 = (uint64_t *)(uintptr_t)(cr3 & PTE_ADDR_MASK);
	pdpt = (uint64_t *)(uintptr_t)(pml4[0] & PTE_ADDR_MASK);
	pd = (uint64_t *)(uintptr_t)(pdpt[0] & PTE_ADDR_MASK);
	pde = &pd[MMIO_ADDR >> PD_SHIFT];
	if (*pde & PTE_P)
		return -1;

	*pde = MMIO_ADDR | PTE_PS | PTE_RW | PTE_P;
	asm volatile("invlpg (%0)" : : "r"(MMIO_ADDR) : "memory");
	*(volatile uint32_t *)(uintptr_t)MMIO_ADDR = 0xdeadbeef;
	return -1;
}
CALLBOX_EXPORT(mmio, 0);

/*
 * Halt with interrupts off: nothing can wake the vCPU, and without an
 * in-kernel irqchip KVM hands the HLT to the host. Looped in case the host
 * resumes it anyway.
 */
static int64_t halt(const int64_t *args)
{
	(void)args;
	for (;;)
		asm volatile("cli; hlt" : : : "memory");
	return 0;	/* not reached */
}
CALLBOX_EXPORT(halt, 0);

/* #DE: the divisor comes from the host, so GCC cannot fold it. */
static int64_t divide(const int64_t *args)
{
	return args[0] / args[1];
}
CALLBOX_EXPORT(divide, 2);

/*
 * Recursion to depth args[0], 512 bytes a frame: deep enough, and it
 * runs into the guard page below the stack.
 */
static int64_t recurse(int64_t depth, int64_t limit)
{
	volatile char frame[512];

	if (depth >= limit)
		return 0;
	frame[0] = (char)depth;
	return recurse(depth + 1, limit) + frame[0];
}

static int64_t stack_overflow(const int64_t *args)
{
	return recurse(0, args[0]);
}
CALLBOX_EXPORT(stack_overflow, 1);

/*
 * A guest that breaks its own exception handling: an empty IDT, then a
 * fault. The CPU cannot deliver it, nor the double fault: triple fault,
 * which only the kernel can see (the vCPU shuts down).
 */
static int64_t triple_fault(const int64_t *args)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = { 0, 0 };

	(void)args;
	asm volatile("lidt %0; ud2" : : "m"(idtr) : "memory");
	__builtin_unreachable();
}
CALLBOX_EXPORT(triple_fault, 0);

static int64_t abort_msg(const int64_t *args)
{
	(void)args;
	callbox_abort_msg(7, "input out of range\n\x01");
}
CALLBOX_EXPORT(abort_msg, 0);

/*
 * A log record written past the SDK: no NUL anywhere, unprintable bytes,
 * first with a level no host knows, then as an error.
 */
static int64_t hostile_log(const int64_t *args)
{
	volatile struct callbox_mailbox *mb =
		(volatile struct callbox_mailbox *)CALLBOX_GPA_MAILBOX;
	unsigned int i;

	(void)args;
	for (i = 0; i < CALLBOX_LOG_MESSAGE_MAX; i++)
		mb->log.message[i] = (char)(i % 2 ? 0x01 : 'A');
	mb->log.level = 99;
	callbox_outl(CALLBOX_PORT_HOSTCALL, CALLBOX_HOSTCALL_LOG);
	mb->log.level = CALLBOX_LOG_ERROR;
	callbox_outl(CALLBOX_PORT_HOSTCALL, CALLBOX_HOSTCALL_LOG);
	return 7;
}
CALLBOX_EXPORT(hostile_log, 0);

/*
 * Allocate blocks of args[0] bytes until the heap says no, free them all,
 * and do it again: a clean NULL, and all of the memory back. Returns the
 * number of blocks, or -1 if the second round got a different count.
 */
static int64_t exhaust_heap(const int64_t *args)
{
	void **blocks = NULL, **grown;
	int64_t round, n, first = 0;
	size_t cap = 0;

	for (round = 0; round < 2; round++) {
		n = 0;
		for (;;) {
			void *p = malloc((size_t)args[0]);

			if (!p)
				break;
			if ((size_t)n == cap) {
				cap = cap ? 2 * cap : 64;
				grown = realloc(blocks, cap * sizeof(*blocks));
				if (!grown) {
					free(p);
					break;
				}
				blocks = grown;
			}
			blocks[n++] = p;
		}
		while (n)
			free(blocks[--n]);
		free(blocks);
		blocks = NULL;
		cap = 0;
		if (!round)
			first = callbox_heap_used();
		else if ((int64_t)callbox_heap_used() != first)
			return -1;
	}
	return callbox_heap_free_bytes() / (size_t)args[0];
}
CALLBOX_EXPORT(exhaust_heap, 1);

/* Free a block twice: the heap notices, and the call aborts with why. */
static int64_t double_free(const int64_t *args)
{
	void *p = malloc(32);

	(void)args;
	free(p);
	free(p);
	return 0;
}
CALLBOX_EXPORT(double_free, 0);

static int64_t abort42(const int64_t *args)
{
	(void)args;
	callbox_abort(42);
}
CALLBOX_EXPORT(abort42, 0);

static int64_t ok(const int64_t *args)
{
	(void)args;
	return 7;
}
CALLBOX_EXPORT(ok, 0);
