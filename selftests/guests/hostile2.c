// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * A catalogue of hostile guest behaviours, one export per behaviour, for
 * selftests/vm/hostile_catalogue_test.c: what a guest can do to its CPU,
 * its ports, its memory and the call protocol, each of which must end the
 * call with an error that says what the guest did, and leave the host
 * healthy. What guest/examples/fault.c does already (hlt with interrupts
 * off, a 4-byte IN from DONE, MMIO, a zero-limit IDT) the test takes
 * from there.
 *
 * Every export returns an i64, those that never return included, so that
 * the test reads every result the same way. ok() is the healthy call.
 *
 * An instruction that faults carries a global label, hostile2_at_NAME, so
 * that the test can find in this ELF the rip the error must name.
 *
 * Exports that end their call themselves (a raw result, no result) write
 * what they write and then re-enter the SDK's runtime through its entry,
 * callbox_runtime_main(): its first act is the DONE that ends this call
 * with status OK, and from then on it serves calls as usual (a frame
 * deeper on the stack; a reset starts afresh).
 */
#include <callbox/guest.h>

/* The SDK's main loop (guest/sdk/runtime.c); never returns. */
void callbox_runtime_main(void) __attribute__((noreturn));

static volatile struct callbox_mailbox *const mailbox =
	(volatile struct callbox_mailbox *)CALLBOX_GPA_MAILBOX;

/* Page-table entry bits, as in lib/layout.c. */
#define PTE_P		(1ull << 0)
#define PTE_RW		(1ull << 1)
#define PTE_PS		(1ull << 7)
#define PTE_ADDR_MASK	0x000ffffffffff000ull

#define MSR_EFER	0xc0000080u
#define EFER_LME	(1ull << 8)
#define X86_CR4_OSXSAVE	(1ull << 18)

/* A faulting instruction, with the label the test looks up. */
#define AT(name) ".globl hostile2_at_" #name "\nhostile2_at_" #name ":\n\t"

static void ok(const struct callbox_wire_value *args,
	       struct callbox_wire_writer *result)
{
	(void)args;
	callbox_wire_put_i64(result, 7);
}
CALLBOX_EXPORT(ok, CALLBOX_WIRE_I64);

/* ---- the CPU ---- */

static void ud2(const struct callbox_wire_value *args,
		struct callbox_wire_writer *result)
{
	(void)args;
	(void)result;
	asm volatile(AT(ud2) "ud2");
	__builtin_unreachable();
}
CALLBOX_EXPORT(ud2, CALLBOX_WIRE_I64);

/* A trap: the CPU reports the rip after the int3. */
static void int3(const struct callbox_wire_value *args,
		 struct callbox_wire_writer *result)
{
	(void)args;
	asm volatile(AT(int3) "int3");
	callbox_wire_put_i64(result, -1);
}
CALLBOX_EXPORT(int3, CALLBOX_WIRE_I64);

/*
 * A KVM hypercall, number args[0], arguments 0: KVM serves it in the
 * kernel (on AMD it first rewrites vmcall into vmmcall) and the guest gets
 * its answer in rax, which is the result.
 */
static void vmcall(const struct callbox_wire_value *args,
		   struct callbox_wire_writer *result)
{
	uint64_t rax = args[0].u64;

	asm volatile("vmcall"
		     : "+a"(rax)
		     : "b"(0ull), "c"(0ull), "d"(0ull), "S"(0ull)
		     : "memory");
	callbox_wire_put_i64(result, (int64_t)rax);
}
CALLBOX_EXPORT(vmcall, CALLBOX_WIRE_I64, CALLBOX_WIRE_U64);

/* An MSR nobody implements (args[0]), read, then written. */
static void rdmsr_unknown(const struct callbox_wire_value *args,
			  struct callbox_wire_writer *result)
{
	uint32_t lo, hi;

	asm volatile(AT(rdmsr) "rdmsr"
		     : "=a"(lo), "=d"(hi) : "c"(args[0].u32) : "memory");
	callbox_wire_put_i64(result, (int64_t)((uint64_t)hi << 32 | lo));
}
CALLBOX_EXPORT(rdmsr_unknown, CALLBOX_WIRE_I64, CALLBOX_WIRE_U32);

static void wrmsr_unknown(const struct callbox_wire_value *args,
			  struct callbox_wire_writer *result)
{
	asm volatile(AT(wrmsr) "wrmsr"
		     : : "c"(args[0].u32), "a"(0x1234u), "d"(0u) : "memory");
	callbox_wire_put_i64(result, -1);
}
CALLBOX_EXPORT(wrmsr_unknown, CALLBOX_WIRE_I64, CALLBOX_WIRE_U32);

/* Leave long mode from under the running code: EFER.LME while paging. */
static void clear_efer_lme(const struct callbox_wire_value *args,
			   struct callbox_wire_writer *result)
{
	uint32_t lo, hi;

	(void)args;
	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(MSR_EFER));
	lo &= ~(uint32_t)EFER_LME;
	asm volatile(AT(clear_efer_lme) "wrmsr"
		     : : "c"(MSR_EFER), "a"(lo), "d"(hi) : "memory");
	callbox_wire_put_i64(result, -1);
}
CALLBOX_EXPORT(clear_efer_lme, CALLBOX_WIRE_I64);

/* args[0] into CR3: the page tables are whatever lies there, or nothing. */
static void cr3_garbage(const struct callbox_wire_value *args,
			struct callbox_wire_writer *result)
{
	asm volatile(AT(cr3_garbage) "mov %0, %%cr3"
		     : : "r"(args[0].u64) : "memory");
	callbox_wire_put_i64(result, -1);
}
CALLBOX_EXPORT(cr3_garbage, CALLBOX_WIRE_I64, CALLBOX_WIRE_U64);

/*
 * XCR args[0] := args[1]. The host leaves CR4.OSXSAVE clear (xsetbv
 * would be #UD), so set it first if CPUID says XSAVE exists; returns -2
 * if it does not.
 */
static void xsetbv_bad(const struct callbox_wire_value *args,
		       struct callbox_wire_writer *result)
{
	uint32_t a, b, c, d;
	uint64_t cr4;

	asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
		     : "a"(1), "c"(0));
	if (!(c & (1u << 26))) {
		callbox_wire_put_i64(result, -2);
		return;
	}
	asm volatile("mov %%cr4, %0" : "=r"(cr4));
	cr4 |= X86_CR4_OSXSAVE;
	asm volatile("mov %0, %%cr4" : : "r"(cr4) : "memory");
	asm volatile(AT(xsetbv) "xsetbv"
		     : : "c"(args[0].u32), "a"((uint32_t)args[1].u64),
		       "d"((uint32_t)(args[1].u64 >> 32)) : "memory");
	callbox_wire_put_i64(result, -1);
}
CALLBOX_EXPORT(xsetbv_bad, CALLBOX_WIRE_I64, CALLBOX_WIRE_U32,
	       CALLBOX_WIRE_U64);

/* A million cpuids (args[0] of them): exits KVM serves by itself. */
static void cpuids(const struct callbox_wire_value *args,
		   struct callbox_wire_writer *result)
{
	uint32_t i, a, b, c, d;

	for (i = 0; i < args[0].u32; i++)
		asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
			     : "a"(i & 1 ? 0x80000000u : 0), "c"(0));
	callbox_wire_put_i64(result, i);
}
CALLBOX_EXPORT(cpuids, CALLBOX_WIRE_I64, CALLBOX_WIRE_U32);

/* ---- ports ---- */

/* DONE, but one byte wide (the status would be OK). */
static void done_outb(const struct callbox_wire_value *args,
		      struct callbox_wire_writer *result)
{
	(void)args;
	asm volatile("outb %b0, %w1"
		     : : "a"(CALLBOX_STATUS_OK), "Nd"(CALLBOX_PORT_DONE)
		     : "memory");
	callbox_wire_put_i64(result, -1);
}
CALLBOX_EXPORT(done_outb, CALLBOX_WIRE_I64);

static void done_outw(const struct callbox_wire_value *args,
		      struct callbox_wire_writer *result)
{
	(void)args;
	asm volatile("outw %w0, %w1"
		     : : "a"(CALLBOX_STATUS_OK), "Nd"(CALLBOX_PORT_DONE)
		     : "memory");
	callbox_wire_put_i64(result, -1);
}
CALLBOX_EXPORT(done_outw, CALLBOX_WIRE_I64);

/* One byte in from DONE (fault.c's port_in does a 4-byte one). */
static void done_inb(const struct callbox_wire_value *args,
		     struct callbox_wire_writer *result)
{
	uint8_t v;

	(void)args;
	asm volatile("inb %w1, %b0"
		     : "=a"(v) : "Nd"(CALLBOX_PORT_DONE) : "memory");
	callbox_wire_put_i64(result, v);
}
CALLBOX_EXPORT(done_inb, CALLBOX_WIRE_I64);

/* rep outsl of four statuses OK to DONE. */
static void done_rep_outs(const struct callbox_wire_value *args,
			  struct callbox_wire_writer *result)
{
	static const uint32_t statuses[4] = { CALLBOX_STATUS_OK };
	const uint32_t *src = statuses;
	uint64_t count = 4;

	(void)args;
	asm volatile("rep outsl"
		     : "+S"(src), "+c"(count) : "d"(CALLBOX_PORT_DONE)
		     : "memory");
	callbox_wire_put_i64(result, -1);
}
CALLBOX_EXPORT(done_rep_outs, CALLBOX_WIRE_I64);

/* A 4-byte OUT to port args[0], which the test picks at random. */
static void out_port(const struct callbox_wire_value *args,
		     struct callbox_wire_writer *result)
{
	asm volatile("outl %0, %w1"
		     : : "a"(0x41u), "d"((uint16_t)args[0].u32) : "memory");
	callbox_wire_put_i64(result, -1);
}
CALLBOX_EXPORT(out_port, CALLBOX_WIRE_I64, CALLBOX_WIRE_U32);

/* ---- memory ---- */

/* A write to the first byte past guest memory, which is not mapped. */
static void beyond_memory(const struct callbox_wire_value *args,
			  struct callbox_wire_writer *result)
{
	uint64_t addr = mailbox->mem_size;

	(void)args;
	asm volatile(AT(beyond_memory) "movl $0xdeadbeef, (%0)"
		     : : "r"(addr) : "memory");
	callbox_wire_put_i64(result, -1);
}
CALLBOX_EXPORT(beyond_memory, CALLBOX_WIRE_I64);

/* The 4 KiB page-table entry of @va, or NULL if a large page maps it. */
static volatile uint64_t *pte_of(uint64_t va)
{
	uint64_t cr3;
	volatile uint64_t *t;
	uint64_t e;

	asm volatile("mov %%cr3, %0" : "=r"(cr3));
	t = (volatile uint64_t *)(uintptr_t)(cr3 & PTE_ADDR_MASK);
	e = t[(va >> 39) & 511];
	t = (volatile uint64_t *)(uintptr_t)(e & PTE_ADDR_MASK);
	e = t[(va >> 30) & 511];
	if (e & PTE_PS)
		return NULL;
	t = (volatile uint64_t *)(uintptr_t)(e & PTE_ADDR_MASK);
	e = t[(va >> 21) & 511];
	if (e & PTE_PS)
		return NULL;
	t = (volatile uint64_t *)(uintptr_t)(e & PTE_ADDR_MASK);
	return &t[(va >> 12) & 511];
}

/*
 * Map every page of the I/O area onto physical page 0, then return 7 as
 * usual: the runtime writes the result through the mapping, into page 0,
 * and the host, which reads guest-physical memory, finds in the real
 * output buffer only the zeroed header it left there. Returns -1 without
 * touching anything if a 2 MiB page maps the area (a larger guest).
 */
static void io_alias_page0(const struct callbox_wire_value *args,
			   struct callbox_wire_writer *result)
{
	uint64_t base = mailbox->io_base;
	uint64_t end = base + callbox_io_size(mailbox->input_size,
					      mailbox->output_size,
					      mailbox->nr_slots);
	uint64_t va, cr3;

	(void)args;
	for (va = base; va < end; va += 4096) {
		if (!pte_of(va)) {
			callbox_wire_put_i64(result, -1);
			return;
		}
	}
	for (va = base; va < end; va += 4096)
		*pte_of(va) = 0 | PTE_RW | PTE_P;
	asm volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory");
	callbox_wire_put_i64(result, 7);
}
CALLBOX_EXPORT(io_alias_page0, CALLBOX_WIRE_I64);

/* ---- the call protocol ---- */

static uint8_t *output(void)
{
	return (uint8_t *)(uintptr_t)callbox_io_output(mailbox->io_base,
						       mailbox->input_size,
						       mailbox->output_size,
						       mailbox->slot);
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
	return p + 4;
}

/* A result message header: magic, version, count, length. */
static uint8_t *header(uint8_t *p, uint16_t count, uint32_t length)
{
	uint16_t version = CALLBOX_WIRE_VERSION;

	p = put32(p, CALLBOX_WIRE_MAGIC);
	memcpy(p, &version, 2);
	memcpy(p + 2, &count, 2);
	return put32(p + 4, length);
}

/* Result messages that claim 4 GiB: the whole message, a string, bytes. */
static void result_4g_message(const struct callbox_wire_value *args,
			      struct callbox_wire_writer *result)
{
	uint8_t *p = header(output(), 1, 0xffffffffu);

	(void)args;
	(void)result;
	*p++ = CALLBOX_WIRE_I64;
	memset(p, 0, 8);
	callbox_runtime_main();
}
CALLBOX_EXPORT(result_4g_message, CALLBOX_WIRE_I64);

static void result_4g_string(const struct callbox_wire_value *args,
			     struct callbox_wire_writer *result)
{
	uint8_t *p = header(output(), 1, 12 + 5 + 5);

	(void)args;
	(void)result;
	*p++ = CALLBOX_WIRE_STRING;
	p = put32(p, 0xffffffffu);
	memcpy(p, "four", 5);
	callbox_runtime_main();
}
CALLBOX_EXPORT(result_4g_string, CALLBOX_WIRE_I64);

static void result_4g_bytes(const struct callbox_wire_value *args,
			    struct callbox_wire_writer *result)
{
	uint8_t *p = header(output(), 1, 12 + 5 + 4);

	(void)args;
	(void)result;
	*p++ = CALLBOX_WIRE_BYTES;
	p = put32(p, 0xffffffffu);
	memcpy(p, "four", 4);
	callbox_runtime_main();
}
CALLBOX_EXPORT(result_4g_bytes, CALLBOX_WIRE_I64);

/* DONE with status OK, and no result written at all. */
static void done_no_result(const struct callbox_wire_value *args,
			   struct callbox_wire_writer *result)
{
	(void)args;
	(void)result;
	callbox_runtime_main();
}
CALLBOX_EXPORT(done_no_result, CALLBOX_WIRE_I64);

/*
 * Every byte of the mailbox 0xff, then return 7 as usual: the host finds
 * results in the buffers it placed, not where the mailbox says. The
 * runtime reads the mailbox for the next call, so that one goes wrong
 * until a reset.
 */
static void smash_mailbox(const struct callbox_wire_value *args,
			  struct callbox_wire_writer *result)
{
	(void)args;
	memset((void *)mailbox, 0xff, sizeof(*mailbox));
	callbox_wire_put_i64(result, 7);
}
CALLBOX_EXPORT(smash_mailbox, CALLBOX_WIRE_I64);

/* args[0] host calls in one call; returns how many answered right. */
static void host_calls(const struct callbox_wire_value *args,
		       struct callbox_wire_writer *result)
{
	struct callbox_wire_value r;
	uint32_t i;
	int64_t right = 0;

	for (i = 0; i < args[0].u32; i++) {
		if (callbox_call_host("transform", &CALLBOX_I64(i), 1, &r)) {
			callbox_fail("host call %u: %s", i,
				     callbox_host_error());
			return;
		}
		right += r.type == CALLBOX_WIRE_I64 && r.i64 == 2 * (int64_t)i;
	}
	callbox_wire_put_i64(result, right);
}
CALLBOX_EXPORT(host_calls, CALLBOX_WIRE_I64, CALLBOX_WIRE_U32);
