// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * A guest that leaves state behind in its CPU, for
 * selftests/vm/residue_test.c: each export writes or reads one piece of
 * vCPU state (an MSR, a debug or control register, the extended state),
 * so that the test can scribble over all of it, reset, and check that the
 * next request finds the CPU as a fresh sandbox had it.
 *
 * Every export takes and returns i64s (callbox_call_int()).
 */
#include <callbox/guest.h>

/* The SDK's main loop (guest/sdk/runtime.c), where its init ends up. */
void callbox_runtime_main(void) __attribute__((noreturn));

#define X86_CR4_OSXSAVE		(1ull << 18)
#define CPUID1_ECX_XSAVE	(1u << 26)
#define CPUID1_ECX_AVX		(1u << 28)
#define XCR0_X87_SSE_AVX	0x7ull
#define MSR_KVM_STEAL_TIME	0x4b564d03u
#define KVM_MSR_ENABLED		1ull

/* A faulting instruction, with the label the test looks up. */
#define AT(name) ".globl residue_at_" #name "\nresidue_at_" #name ":\n\t"

static void ok(const struct callbox_wire_value *args,
	       struct callbox_wire_writer *result)
{
	(void)args;
	callbox_wire_put_i64(result, 7);
}
CALLBOX_EXPORT(ok, CALLBOX_WIRE_I64);

/* ---- MSRs ---- */

static void read_msr(const struct callbox_wire_value *args,
		     struct callbox_wire_writer *result)
{
	uint32_t lo, hi;

	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"((uint32_t)args[0].i64));
	callbox_wire_put_i64(result, (int64_t)((uint64_t)hi << 32 | lo));
}
CALLBOX_EXPORT(read_msr, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64);

static void write_msr(const struct callbox_wire_value *args,
		      struct callbox_wire_writer *result)
{
	uint64_t v = (uint64_t)args[1].i64;

	asm volatile("wrmsr" : : "c"((uint32_t)args[0].i64), "a"((uint32_t)v),
		     "d"((uint32_t)(v >> 32)) : "memory");
	callbox_wire_put_i64(result, 0);
}
CALLBOX_EXPORT(write_msr, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64,
	       CALLBOX_WIRE_I64);

/*
 * Turn on KVM's steal-time accounting into guest-physical args[0]: KVM
 * would then write there on every entry, after a reset too. It must
 * fault (#GP): the host offers no paravirtual feature.
 */
static void steal_time_on(const struct callbox_wire_value *args,
			  struct callbox_wire_writer *result)
{
	uint64_t v = (uint64_t)args[0].i64 | KVM_MSR_ENABLED;

	asm volatile(AT(steal_time) "wrmsr" : : "c"(MSR_KVM_STEAL_TIME),
		     "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
	callbox_wire_put_i64(result, 0);
}
CALLBOX_EXPORT(steal_time_on, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64);

/* CPUID leaf @leaf, subleaf 0: its EBX (@ecx false) or ECX. */
static uint32_t cpuid(uint32_t leaf, bool ecx)
{
	uint32_t a, b, c, d;

	asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
		     : "a"(leaf), "c"(0));
	return ecx ? c : b;
}

static void cpuid_ebx(const struct callbox_wire_value *args,
		      struct callbox_wire_writer *result)
{
	callbox_wire_put_i64(result, cpuid((uint32_t)args[0].i64, false));
}
CALLBOX_EXPORT(cpuid_ebx, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64);

static void cpuid_ecx(const struct callbox_wire_value *args,
		      struct callbox_wire_writer *result)
{
	callbox_wire_put_i64(result, cpuid((uint32_t)args[0].i64, true));
}
CALLBOX_EXPORT(cpuid_ecx, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64);

/* ---- debug and control registers ---- */

static void read_dr(const struct callbox_wire_value *args,
		    struct callbox_wire_writer *result)
{
	uint64_t v;

	switch ((uint32_t)args[0].i64) {
	case 0: asm volatile("mov %%dr0, %0" : "=r"(v)); break;
	case 1: asm volatile("mov %%dr1, %0" : "=r"(v)); break;
	case 2: asm volatile("mov %%dr2, %0" : "=r"(v)); break;
	case 3: asm volatile("mov %%dr3, %0" : "=r"(v)); break;
	case 6: asm volatile("mov %%dr6, %0" : "=r"(v)); break;
	case 7: asm volatile("mov %%dr7, %0" : "=r"(v)); break;
	default: v = (uint64_t)-1;
	}
	callbox_wire_put_i64(result, (int64_t)v);
}
CALLBOX_EXPORT(read_dr, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64);

static void write_dr(const struct callbox_wire_value *args,
		     struct callbox_wire_writer *result)
{
	uint64_t v = (uint64_t)args[1].i64;

	switch ((uint32_t)args[0].i64) {
	case 0: asm volatile("mov %0, %%dr0" : : "r"(v)); break;
	case 1: asm volatile("mov %0, %%dr1" : : "r"(v)); break;
	case 2: asm volatile("mov %0, %%dr2" : : "r"(v)); break;
	case 3: asm volatile("mov %0, %%dr3" : : "r"(v)); break;
	case 7: asm volatile("mov %0, %%dr7" : : "r"(v)); break;
	default:
		callbox_wire_put_i64(result, -1);
		return;
	}
	callbox_wire_put_i64(result, 0);
}
CALLBOX_EXPORT(write_dr, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64,
	       CALLBOX_WIRE_I64);

/*
 * An instruction breakpoint on the SDK's main loop, which only the init
 * runs into: if it outlived a reset, the reset's init would take #DB and
 * every later reset would fail the same way.
 */
static void break_on_init(const struct callbox_wire_value *args,
			  struct callbox_wire_writer *result)
{
	uint64_t addr = (uint64_t)(uintptr_t)callbox_runtime_main;

	(void)args;
	asm volatile("mov %0, %%dr0" : : "r"(addr));
	/* L0: DR0 enabled, an instruction breakpoint (R/W0 = 00, LEN0 = 00). */
	asm volatile("mov %0, %%dr7" : : "r"(0x401ull));
	callbox_wire_put_i64(result, 0);
}
CALLBOX_EXPORT(break_on_init, CALLBOX_WIRE_I64);

static void read_cr(const struct callbox_wire_value *args,
		    struct callbox_wire_writer *result)
{
	uint64_t v;

	switch ((uint32_t)args[0].i64) {
	case 2: asm volatile("mov %%cr2, %0" : "=r"(v)); break;
	case 4: asm volatile("mov %%cr4, %0" : "=r"(v)); break;
	case 8: asm volatile("mov %%cr8, %0" : "=r"(v)); break;
	default: v = (uint64_t)-1;
	}
	callbox_wire_put_i64(result, (int64_t)v);
}
CALLBOX_EXPORT(read_cr, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64);

static void write_cr(const struct callbox_wire_value *args,
		     struct callbox_wire_writer *result)
{
	uint64_t v = (uint64_t)args[1].i64;

	switch ((uint32_t)args[0].i64) {
	case 2: asm volatile("mov %0, %%cr2" : : "r"(v)); break;
	case 8: asm volatile("mov %0, %%cr8" : : "r"(v)); break;
	default:
		callbox_wire_put_i64(result, -1);
		return;
	}
	callbox_wire_put_i64(result, 0);
}
CALLBOX_EXPORT(write_cr, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64,
	       CALLBOX_WIRE_I64);

/* ---- extended state ---- */

/* CR4.OSXSAVE on, if the CPU has XSAVE and AVX: 0, or -2 if not. */
static int xsave_on(void)
{
	uint32_t a, b, c, d;
	uint64_t cr4;

	asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
		     : "a"(1), "c"(0));
	if (!(c & CPUID1_ECX_XSAVE) || !(c & CPUID1_ECX_AVX))
		return -2;
	asm volatile("mov %%cr4, %0" : "=r"(cr4));
	asm volatile("mov %0, %%cr4" : : "r"(cr4 | X86_CR4_OSXSAVE) : "memory");
	return 0;
}

static uint64_t xgetbv0(void)
{
	uint32_t lo, hi;

	asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (uint64_t)hi << 32 | lo;
}

static void xsetbv0(uint64_t v)
{
	asm volatile("xsetbv" : : "c"(0), "a"((uint32_t)v),
		     "d"((uint32_t)(v >> 32)) : "memory");
}

/*
 * AVX on in XCR0, args[0] in every quadword of YMM0 (so in its upper
 * half, which x87/SSE state does not cover) and of XMM15, an MXCSR with
 * flush-to-zero and an x87 control word with 53-bit precision.
 */
static void xstate_scribble(const struct callbox_wire_value *args,
			    struct callbox_wire_writer *result)
{
	uint64_t v = (uint64_t)args[0].i64;
	uint64_t p[4] = { v, v, v, v };
	uint32_t mxcsr = 0x9f80;
	uint16_t fcw = 0x27f;

	if (xsave_on()) {
		callbox_wire_put_i64(result, -2);
		return;
	}
	xsetbv0(XCR0_X87_SSE_AVX);
	asm volatile("vmovdqu %0, %%ymm0" : : "m"(p) : "xmm0");
	asm volatile("movdqu %0, %%xmm15" : : "m"(p) : "xmm15");
	asm volatile("ldmxcsr %0" : : "m"(mxcsr));
	asm volatile("fldcw %0" : : "m"(fcw));
	callbox_wire_put_i64(result, 0);
}
CALLBOX_EXPORT(xstate_scribble, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64);

/*
 * One piece of extended state: 0 XCR0 (as found), 1 the low quadword of
 * YMM0's upper half (AVX turned on first to read it), 2 the low quadword
 * of XMM15, 3 MXCSR, 4 the x87 control word.
 */
static void xstate_read(const struct callbox_wire_value *args,
			struct callbox_wire_writer *result)
{
	uint64_t p[4] = { 0 };
	uint32_t mxcsr;
	uint16_t fcw;
	int64_t v;

	if (xsave_on()) {
		callbox_wire_put_i64(result, -2);
		return;
	}
	switch ((uint32_t)args[0].i64) {
	case 0:
		v = (int64_t)xgetbv0();
		break;
	case 1:
		xsetbv0(XCR0_X87_SSE_AVX);
		asm volatile("vmovdqu %%ymm0, %0" : "=m"(p));
		v = (int64_t)p[2];
		break;
	case 2:
		asm volatile("movdqu %%xmm15, %0" : "=m"(p));
		v = (int64_t)p[0];
		break;
	case 3:
		asm volatile("stmxcsr %0" : "=m"(mxcsr));
		v = mxcsr;
		break;
	case 4:
		asm volatile("fnstcw %0" : "=m"(fcw));
		v = fcw;
		break;
	default:
		v = -1;
	}
	callbox_wire_put_i64(result, v);
}
CALLBOX_EXPORT(xstate_read, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64);

/* ---- memory ---- */

/*
 * A word of the image's data, one of its bss, and one of its bss that the
 * init sets, for the test to find; and the init says that it ran.
 */
static volatile uint64_t residue_data = 0x5eed5eed5eed5eedull;
static volatile uint64_t residue_bss;
static volatile uint64_t residue_init_word;

int callbox_guest_init(void)
{
	residue_init_word = 0x1717171717171717ull;
	callbox_log(CALLBOX_LOG_WARN, "residue init");
	return 0;
}

static void data_addr(const struct callbox_wire_value *args,
		      struct callbox_wire_writer *result)
{
	volatile uint64_t *words[] = {
		&residue_data, &residue_bss, &residue_init_word,
	};
	uint64_t i = (uint64_t)args[0].i64;

	callbox_wire_put_i64(result, i < 3 ? (int64_t)words[i] : 0);
}
CALLBOX_EXPORT(data_addr, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64);

/* Guest memory is identity-mapped: args[0] is a guest-physical address. */
static void peek(const struct callbox_wire_value *args,
		 struct callbox_wire_writer *result)
{
	callbox_wire_put_i64(result, *(volatile int64_t *)args[0].i64);
}
CALLBOX_EXPORT(peek, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64);

static void poke(const struct callbox_wire_value *args,
		 struct callbox_wire_writer *result)
{
	*(volatile int64_t *)args[0].i64 = args[1].i64;
	callbox_wire_put_i64(result, 0);
}
CALLBOX_EXPORT(poke, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64);

/*
 * An 8-byte read across a page boundary into guest-physical memory the
 * VM does not have (the sandbox's must end below 1 GiB - 2 MiB): the
 * last 2 MiB page of the first GiB is mapped there, and the read at its
 * page 0's last 4 bytes is two MMIO exits, of which the call is aborted
 * at the first. RBX says how far the code got: if the read's second
 * half is ever finished, on whatever registers are loaded then, RIP goes
 * on past it.
 */
static void read_across_mmio(const struct callbox_wire_value *args,
			     struct callbox_wire_writer *result)
{
	volatile uint64_t *pd = (volatile uint64_t *)CALLBOX_GPA_PD;
	uint64_t va = 0x3fe00ffcull, v;

	(void)args;
	/* Present, writable, 2 MiB, to itself. */
	pd[511] = 0x3fe00000ull | 0x1 | 0x2 | 0x80;
	asm volatile("invlpg (%0)" : : "r"(va) : "memory");
	asm volatile("mov $1, %%rbx; mov (%1), %0; mov $2, %%rbx"
		     : "=&r"(v) : "r"(va) : "rbx", "memory");
	callbox_wire_put_i64(result, (int64_t)v);
}
CALLBOX_EXPORT(read_across_mmio, CALLBOX_WIRE_I64);

/* ---- ways a call ends, for the restore tests ---- */

/* Spins until the call is cancelled. */
static void spin(const struct callbox_wire_value *args,
		 struct callbox_wire_writer *result)
{
	(void)args;
	(void)result;
	for (;;)
		asm volatile("pause");
}
CALLBOX_EXPORT(spin, CALLBOX_WIRE_I64);

/*
 * A zero-limit IDT, then a fault: the #UD cannot be delivered, nor the
 * #DF after it, and the vCPU shuts down.
 */
static void triple_fault(const struct callbox_wire_value *args,
			 struct callbox_wire_writer *result)
{
	static const struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) no_idt;

	(void)args;
	(void)result;
	asm volatile("lidt %0\n\tud2" : : "m"(no_idt));
}
CALLBOX_EXPORT(triple_fault, CALLBOX_WIRE_I64);

/* Calls the host's wait(), which returns only when the call is cancelled. */
static void host_wait(const struct callbox_wire_value *args,
		      struct callbox_wire_writer *result)
{
	struct callbox_wire_value r;

	(void)args;
	callbox_wire_put_i64(result, callbox_call_host("wait", NULL, 0, &r));
}
CALLBOX_EXPORT(host_wait, CALLBOX_WIRE_I64);

/* Calls the host's nest(), which tries to use this sandbox from inside. */
static void host_nest(const struct callbox_wire_value *args,
		      struct callbox_wire_writer *result)
{
	struct callbox_wire_value r;

	(void)args;
	callbox_wire_put_i64(result, callbox_call_host("nest", NULL, 0, &r));
}
CALLBOX_EXPORT(host_nest, CALLBOX_WIRE_I64);
