// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Example guest: hostile behaviours, one per function, for tests of how the
 * host contains a misbehaving guest. ok() is a healthy function in the same
 * image, so a test can check that a sandbox still works when it should.
 *
 * Every function takes and returns i64s, those that never return included
 * (an export declares a result type all the same), so that a host can call
 * any of them with callbox_call_int().
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
static void null_deref(const struct callbox_wire_value *args,
		       struct callbox_wire_writer *result)
{
	const volatile uint32_t *p = NULL;

	(void)args;
	asm volatile("" : "+r"(p));
	callbox_wire_put_i64(result, *p);
}
CALLBOX_EXPORT(null_deref, CALLBOX_WIRE_I64);

/* #UD: invalid opcode. */
static void ud2(const struct callbox_wire_value *args,
		 struct callbox_wire_writer *result)
{
	(void)args;
	(void)result;
	asm volatile("ud2");
	__builtin_unreachable();
}
CALLBOX_EXPORT(ud2, CALLBOX_WIRE_I64);

/* OUT to a port outside callbox's range (COM1's). */
static void bad_port(const struct callbox_wire_value *args,
		     struct callbox_wire_writer *result)
{
	(void)args;
	callbox_outl(0x3f8, 0x41);
	callbox_wire_put_i64(result, -1);
}
CALLBOX_EXPORT(bad_port, CALLBOX_WIRE_I64);

/* IN from a callbox port: callbox defines no port a guest may read. */
static void port_in(const struct callbox_wire_value *args,
		    struct callbox_wire_writer *result)
{
	(void)args;
	callbox_wire_put_i64(result, callbox_inl(CALLBOX_PORT_DONE));
}
CALLBOX_EXPORT(port_in, CALLBOX_WIRE_I64);

/*
 * Write to a guest-physical address that has no memory, which KVM reports
 * as an MMIO exit. The host maps nothing beyond guest memory, so first map
 * it: walk the identity map from CR3 (PML4[0] -> PDPT[0] -> PD) and install
 * a 2 MiB page for MMIO_ADDR. If that PD entry is already present, the
 * address is ordinary memory (a 1 GiB guest): return -1 instead of writing
 * over it.
 */
static void mmio(const struct callbox_wire_value *args,
		 struct callbox_wire_writer *result)
{
	uint64_t cr3, *pml4, *pdpt, *pd;
	uint64_t *pde;

	(void)args;
	asm volatile("mov %%cr3, %0" : "=r"(cr3));
	pml4 = (uint64_t *)(uintptr_t)(cr3 & PTE_ADDR_MASK);
	pdpt = (uint64_t *)(uintptr_t)(pml4[0] & PTE_ADDR_MASK);
	pd = (uint64_t *)(uintptr_t)(pdpt[0] & PTE_ADDR_MASK);
	pde = &pd[MMIO_ADDR >> PD_SHIFT];
	if (*pde & PTE_P) {
		callbox_wire_put_i64(result, -1);
		return;
	}

	*pde = MMIO_ADDR | PTE_PS | PTE_RW | PTE_P;
	asm volatile("invlpg (%0)" : : "r"(MMIO_ADDR) : "memory");
	*(volatile uint32_t *)(uintptr_t)MMIO_ADDR = 0xdeadbeef;
	callbox_wire_put_i64(result, -1);
}
CALLBOX_EXPORT(mmio, CALLBOX_WIRE_I64);

/*
 * Halt with interrupts off: nothing can wake the vCPU, and without an
 * in-kernel irqchip KVM hands the HLT to the host. Looped in case the host
 * resumes it anyway.
 */
static void halt(const struct callbox_wire_value *args,
		 struct callbox_wire_writer *result)
{
	(void)args;
	(void)result;
	for (;;)
		asm volatile("cli; hlt" : : : "memory");
}
CALLBOX_EXPORT(halt, CALLBOX_WIRE_I64);

/* #DE: the divisor comes from the host, so GCC cannot fold it. */
static void divide(const struct callbox_wire_value *args,
		   struct callbox_wire_writer *result)
{
	callbox_wire_put_i64(result, args[0].i64 / args[1].i64);
}
CALLBOX_EXPORT(divide, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64);

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

static void stack_overflow(const struct callbox_wire_value *args,
			   struct callbox_wire_writer *result)
{
	callbox_wire_put_i64(result, recurse(0, args[0].i64));
}
CALLBOX_EXPORT(stack_overflow, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64);

/*
 * A guest that breaks its own exception handling: an empty IDT, then a
 * fault. The CPU cannot deliver it, nor the double fault: triple fault,
 * which only the kernel can see (the vCPU shuts down).
 */
static void triple_fault(const struct callbox_wire_value *args,
			 struct callbox_wire_writer *result)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = { 0, 0 };

	(void)args;
	(void)result;
	asm volatile("lidt %0; ud2" : : "m"(idtr) : "memory");
	__builtin_unreachable();
}
CALLBOX_EXPORT(triple_fault, CALLBOX_WIRE_I64);

static void abort_msg(const struct callbox_wire_value *args,
		      struct callbox_wire_writer *result)
{
	(void)args;
	(void)result;
	callbox_abort_msg(7, "input out of range\n\x01");
}
CALLBOX_EXPORT(abort_msg, CALLBOX_WIRE_I64);

/*
 * A log record written past the SDK: no NUL anywhere, unprintable bytes,
 * first with a level no host knows, then as an error.
 */
static void hostile_log(const struct callbox_wire_value *args,
			 struct callbox_wire_writer *result)
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
	callbox_wire_put_i64(result, 7);
}
CALLBOX_EXPORT(hostile_log, CALLBOX_WIRE_I64);

/*
 * Allocate blocks of args[0] bytes until the heap says no, free them all,
 * and do it again: a clean NULL, and all of the memory back. Returns the
 * number of blocks, or -1 if the second round got a different count.
 */
static void exhaust_heap(const struct callbox_wire_value *args,
			 struct callbox_wire_writer *result)
{
	void **blocks = NULL, **grown;
	int64_t round, n, first = 0;
	size_t cap = 0;

	for (round = 0; round < 2; round++) {
		n = 0;
		for (;;) {
			void *p = malloc((size_t)args[0].i64);

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
		else if ((int64_t)callbox_heap_used() != first) {
			callbox_wire_put_i64(result, -1);
			return;
		}
	}
	callbox_wire_put_i64(result, callbox_heap_free_bytes() /
				     (size_t)args[0].i64);
}
CALLBOX_EXPORT(exhaust_heap, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64);

/* Free a block twice: the heap notices, and the call aborts with why. */
static void double_free(const struct callbox_wire_value *args,
			 struct callbox_wire_writer *result)
{
	void *p = malloc(32);

	(void)args;
	free(p);
	free(p);
	callbox_wire_put_i64(result, 0);
}
CALLBOX_EXPORT(double_free, CALLBOX_WIRE_I64);

static void abort42(const struct callbox_wire_value *args,
		    struct callbox_wire_writer *result)
{
	(void)args;
	(void)result;
	callbox_abort(42);
}
CALLBOX_EXPORT(abort42, CALLBOX_WIRE_I64);

static void ok(const struct callbox_wire_value *args,
	       struct callbox_wire_writer *result)
{
	(void)args;
	callbox_wire_put_i64(result, 7);
}
CALLBOX_EXPORT(ok, CALLBOX_WIRE_I64);
