// SPDX-License-Identifier: GPL-2.0
/*
 * A reset is a boundary between requests: nothing one request leaves in
 * the vCPU may reach the next. The residue guest scribbles over every
 * piece of CPU state it can reach (MSRs, debug and control registers,
 * XCR0, the YMM upper halves, XMM15, MXCSR, the x87 control word), the
 * test checks that each write took, resets, and checks that the guest
 * finds each as a fresh sandbox had it: after a call that returned, and
 * after one that faulted.
 *
 * And what a hostile request did with that state before the library put
 * all of it back: a breakpoint on the SDK's init code failed every later
 * reset, and steal time, turned on, had KVM write into guest memory on
 * every entry. The host offers no paravirtual feature now: writing their
 * MSRs faults, and CPUID shows no KVM leaves. Memory the guest wrote is
 * put back too. And a restore puts all of it back as it was once the
 * init had exited, without running the init again; with
 * CALLBOX_CONFIG_FRESH_CALLS, before every call.
 */
#include <inttypes.h>

#include "sdk_util.h"

#define MSR_STAR		0xc0000081u
#define MSR_LSTAR		0xc0000082u
#define MSR_CSTAR		0xc0000083u
#define MSR_SYSCALL_MASK	0xc0000084u
#define MSR_FS_BASE		0xc0000100u
#define MSR_GS_BASE		0xc0000101u
#define MSR_KERNEL_GS_BASE	0xc0000102u
#define MSR_TSC_AUX		0xc0000103u
#define MSR_SYSENTER_CS		0x174u
#define MSR_SYSENTER_ESP	0x175u
#define MSR_SYSENTER_EIP	0x176u
#define MSR_PAT			0x277u
#define MSR_MTRR_PHYSBASE0	0x200u
#define MSR_MTRR_DEF_TYPE	0x2ffu
#define MSR_MC0_ADDR		0x402u
#define MSR_MC0_MISC		0x403u

/* "KVMK", the start of KVM's signature in CPUID 0x40000000's EBX. */
#define KVM_SIGNATURE_EBX	0x4b4d564bu

#define PATTERN			0x5a5a5a5aa5a5a5a5ull
#define NR_WORDS		5

/*
 * One piece of state: read with @read(@which); set to @value with
 * @write(@which, @value), or, for the extended state, all at once by
 * xstate_scribble(PATTERN), after which @read finds @value.
 */
struct piece {
	const char *name;
	const char *read, *write;
	uint32_t which;
	uint64_t value;
	/*
	 * Not compared after a reset, here: under QEMU's TCG (nested SVM)
	 * the guest reads back the CR8 and MXCSR it wrote although KVM holds
	 * the reset values (KVM_GET_SREGS says cr8 0; KVM_GET_FPU says
	 * mxcsr 0 even while the guest's is 0x9f80), so the emulator, not
	 * the library, decides what the guest sees. The library sets both
	 * (KVM_SET_SREGS, KVM_SET_FPU) at every boot.
	 */
	bool emulator_keeps;
};

#define MSR(n, v)	{ #n, "read_msr", "write_msr", n, v, false }
#define DR(n, v)	{ "DR" #n, "read_dr", "write_dr", n, v, false }
#define CR(n, v, k)	{ "CR" #n, "read_cr", "write_cr", n, v, k }
#define XSTATE(n, w, v, k) { n, "xstate_read", NULL, w, v, k }

static const struct piece pieces[] = {
	MSR(MSR_STAR, 0x0013000800000000ull),
	MSR(MSR_LSTAR, 0xffffffff81000000ull),
	MSR(MSR_CSTAR, 0xffffffff81000040ull),
	MSR(MSR_SYSCALL_MASK, 0x47700),
	MSR(MSR_FS_BASE, 0x7f0000001000ull),
	MSR(MSR_GS_BASE, 0x7f0000002000ull),
	MSR(MSR_KERNEL_GS_BASE, 0x7f0000003000ull),
	MSR(MSR_TSC_AUX, 0x42),
	MSR(MSR_SYSENTER_CS, 0x10),
	MSR(MSR_SYSENTER_ESP, 0x1000),
	MSR(MSR_SYSENTER_EIP, 0x2000),
	MSR(MSR_PAT, 0x0606060606060606ull),
	/* Not in KVM's list for migration; the library adds them. */
	MSR(MSR_MC0_ADDR, 0x5ec2e7000ull),
	MSR(MSR_MC0_MISC, 0x86),
	MSR(MSR_MTRR_PHYSBASE0, 0x80000006ull),
	MSR(MSR_MTRR_DEF_TYPE, 0xc06),
	/* Instruction breakpoints on page 0, which no code runs from. */
	DR(0, 0x10), DR(1, 0x20), DR(2, 0x30), DR(3, 0x40),
	DR(7, 0x455),
	CR(2, 0xdead000, false),
	CR(8, 5, true),
	XSTATE("XCR0", 0, 0x7, false),
	XSTATE("YMM0's upper half", 1, PATTERN, false),
	XSTATE("XMM15", 2, PATTERN, false),
	XSTATE("MXCSR", 3, 0x9f80, true),
	XSTATE("x87 control word", 4, 0x27f, false),
};

#define NR_PIECES (sizeof(pieces) / sizeof(pieces[0]))

static int read_piece(struct callbox_sandbox *sb, const struct piece *p,
		      int64_t *v)
{
	int64_t arg = p->which;

	return callbox_call_int(sb, p->read, &arg, 1, v);
}

static int write_piece(struct callbox_sandbox *sb, const struct piece *p)
{
	int64_t args[2] = { p->which, (int64_t)p->value };
	int64_t r;
	int ret = callbox_call_int(sb, p->write, args, 2, &r);

	return ret ? ret : (int)r;
}

FIXTURE(residue) {
	struct callbox_sandbox *sb;
	int64_t fresh[NR_PIECES];
	bool has[NR_PIECES];	/* the CPU has it (TSC_AUX, AVX may not) */
};

/* Calls take well under a second; a reset's init the same. */
#define CALL_TIMEOUT_NS (30 * 1000 * MS)

FIXTURE_SETUP(residue)
{
	struct callbox_config cfg;
	unsigned int i;

	if (access("/dev/callbox", F_OK))
		SKIP(return, "/dev/callbox is missing");
	callbox_config_init(&cfg);
	cfg.call_timeout_ns = CALL_TIMEOUT_NS;
	cfg.init_timeout_ns = CALL_TIMEOUT_NS;
	self->sb = load(&cfg, "residue");
	/* What a fresh sandbox finds; a piece it cannot read, it lacks. */
	for (i = 0; i < NR_PIECES; i++) {
		self->has[i] = !read_piece(self->sb, &pieces[i], &self->fresh[i]) &&
			       self->fresh[i] != -2;
		if (!self->has[i]) {
			TH_LOG("%s: not on this CPU (%s)", pieces[i].name,
			       callbox_sandbox_last_error(self->sb));
			ASSERT_EQ(0, callbox_sandbox_reset(self->sb));
		}
	}
}

FIXTURE_TEARDOWN(residue)
{
	callbox_sandbox_free(self->sb);
}

/* Write every piece, and check that each write took. */
static void scribble(struct __test_metadata *_metadata,
		     FIXTURE_DATA(residue) *self)
{
	int64_t pattern = (int64_t)PATTERN;
	unsigned int i;
	int64_t v;

	for (i = 0; i < NR_PIECES; i++) {
		if (!self->has[i] || !pieces[i].write)
			continue;
		ASSERT_EQ(0, write_piece(self->sb, &pieces[i])) {
			TH_LOG("writing %s: %s", pieces[i].name,
			       callbox_sandbox_last_error(self->sb));
		}
	}
	ASSERT_EQ(0, callbox_call_int(self->sb, "xstate_scribble", &pattern, 1,
				      &v));
	for (i = 0; i < NR_PIECES; i++) {
		if (!self->has[i])
			continue;
		ASSERT_EQ(0, read_piece(self->sb, &pieces[i], &v));
		EXPECT_EQ((int64_t)pieces[i].value, v) {
			TH_LOG("%s did not take %#" PRIx64 ": reads %#" PRIx64,
			       pieces[i].name, pieces[i].value, (uint64_t)v);
		}
		EXPECT_NE(self->fresh[i], v) {
			TH_LOG("%s: the scribble is its fresh value", pieces[i].name);
		}
	}
}

/* Every piece as a fresh sandbox had it. */
static void expect_pieces_fresh(struct __test_metadata *_metadata,
				FIXTURE_DATA(residue) *self)
{
	unsigned int i;
	int64_t v;

	for (i = 0; i < NR_PIECES; i++) {
		if (!self->has[i])
			continue;
		ASSERT_EQ(0, read_piece(self->sb, &pieces[i], &v)) {
			TH_LOG("reading %s: %s", pieces[i].name,
			       callbox_sandbox_last_error(self->sb));
		}
		if (pieces[i].emulator_keeps && v != self->fresh[i]) {
			TH_LOG("%s: %#" PRIx64 " once put back (the emulator's)",
			       pieces[i].name, (uint64_t)v);
			continue;
		}
		EXPECT_EQ(self->fresh[i], v) {
			TH_LOG("%s survived the reset: %#" PRIx64 ", fresh %#" PRIx64,
			       pieces[i].name, (uint64_t)v,
			       (uint64_t)self->fresh[i]);
		}
	}
}

/* After a reset, every piece as a fresh sandbox had it. */
static void expect_fresh(struct __test_metadata *_metadata,
			 FIXTURE_DATA(residue) *self)
{
	ASSERT_EQ(0, callbox_sandbox_reset(self->sb)) {
		TH_LOG("reset: %s", callbox_sandbox_last_error(self->sb));
	}
	expect_pieces_fresh(_metadata, self);
}

TEST_F(residue, reset_after_a_call_puts_every_piece_back)
{
	return_if_setup_skipped();
	scribble(_metadata, self);
	expect_fresh(_metadata, self);
}

TEST_F(residue, reset_after_a_fault_puts_every_piece_back)
{
	int64_t args[2] = { 0xdeadbeef, 0 };
	int64_t v;

	return_if_setup_skipped();
	scribble(_metadata, self);
	/* An MSR nobody has: #GP, and the call poisons the sandbox. */
	EXPECT_EQ(-EIO, callbox_call_int(self->sb, "write_msr", args, 2, &v));
	expect_fresh(_metadata, self);
}

/* The fresh values are the architectural ones a reset gives. */
TEST_F(residue, fresh_state_is_the_cpus_reset_state)
{
	static const struct { const char *name; int64_t value; } want[] = {
		{ "DR7", 0x400 }, { "CR8", 0 }, { "XCR0", 1 },
		{ "MXCSR", 0x1f80 }, { "x87 control word", 0x37f },
		{ "MSR_PAT", 0x0007040600070406ll },
	};
	unsigned int i, j;

	return_if_setup_skipped();
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		for (j = 0; j < NR_PIECES; j++)
			if (!strcmp(pieces[j].name, want[i].name))
				break;
		ASSERT_GT(NR_PIECES, j);
		if (!self->has[j])
			continue;
		EXPECT_EQ(want[i].value, self->fresh[j]) {
			TH_LOG("%s: %#" PRIx64, want[i].name,
			       (uint64_t)self->fresh[j]);
		}
	}
}

/*
 * A breakpoint on the SDK's main loop, which the init runs into: if it
 * survived the reset, the init would take #DB, and so would every reset
 * after it.
 */
TEST_F(residue, breakpoint_on_init_does_not_brick_the_sandbox)
{
	int64_t v;
	int i;

	return_if_setup_skipped();
	ASSERT_EQ(0, callbox_call_int(self->sb, "break_on_init", NULL, 0, &v));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, callbox_sandbox_reset(self->sb)) {
			TH_LOG("reset %d: %s", i,
			       callbox_sandbox_last_error(self->sb));
		}
		ASSERT_EQ(0, callbox_call_int(self->sb, "ok", NULL, 0, &v));
		EXPECT_EQ(7, v);
	}
}

/* Steal time would have KVM write into guest memory: the MSR faults. */
TEST_F(residue, steal_time_msr_faults)
{
	int64_t gpa = 0x1000;
	const struct callbox_outcome *o;
	char want[CALLBOX_OUTCOME_MESSAGE_MAX];
	uint64_t rip = elf_symbol(GUEST_DIR "/residue.elf",
				  "residue_at_steal_time");
	int64_t v;

	return_if_setup_skipped();
	ASSERT_NE(0, rip);
	EXPECT_EQ(-EIO, callbox_call_int(self->sb, "steal_time_on", &gpa, 1, &v));
	o = callbox_sandbox_last_outcome(self->sb);
	snprintf(want, sizeof(want),
		 "steal_time_on: call %" PRIu64 " aborted by the guest, which reports CPU exception #GP general protection at rip 0x%" PRIx64,
		 (uint64_t)o->call.id, rip);
	EXPECT_STREQ(want, callbox_sandbox_last_error(self->sb));
	ASSERT_EQ(0, callbox_sandbox_reset(self->sb));
	ASSERT_EQ(0, callbox_call_int(self->sb, "ok", NULL, 0, &v));
	EXPECT_EQ(7, v);
}

/* No hypervisor leaves: the guest is not told it runs on KVM. */
TEST_F(residue, cpuid_shows_no_kvm_leaves)
{
	int64_t leaf = 0x40000000, ebx;

	return_if_setup_skipped();
	ASSERT_EQ(0, callbox_call_int(self->sb, "cpuid_ebx", &leaf, 1, &ebx));
	EXPECT_NE(KVM_SIGNATURE_EBX, (uint32_t)ebx);
}

/*
 * Nor VMX or SVM: a guest that turned either on would keep state no reset
 * takes back (after VMXON, KVM refuses every later boot's CR4).
 */
TEST_F(residue, cpuid_shows_no_vmx_or_svm)
{
	int64_t leaf = 1, ecx;

	return_if_setup_skipped();
	ASSERT_EQ(0, callbox_call_int(self->sb, "cpuid_ecx", &leaf, 1, &ecx));
	EXPECT_EQ(0, ecx & (1 << 5));
	leaf = 0x80000001;
	ASSERT_EQ(0, callbox_call_int(self->sb, "cpuid_ecx", &leaf, 1, &ecx));
	EXPECT_EQ(0, ecx & (1 << 2));
}

/*
 * And in memory: a word of the image's data and of its bss, one the init
 * set, one of the heap and one at the bottom of the stack.
 */
struct word {
	const char *name;
	int64_t addr, fresh;
};

#define INIT_WORD	0x1717171717171717ll

static void find_words(struct __test_metadata *_metadata,
		       struct callbox_sandbox *sb, struct word *w)
{
	static const char *const names[] = {
		"image data", "image bss", "init's", "heap", "stack bottom",
	};
	int64_t i;

	for (i = 0; i < NR_WORDS; i++) {
		w[i].name = names[i];
		if (i < 3)
			ASSERT_EQ(0, callbox_call_int(sb, "data_addr", &i, 1,
						      &w[i].addr));
	}
	w[3].addr = 2 << 20;
	w[4].addr = (int64_t)(CALLBOX_DEFAULT_MEM_SIZE -
			      CALLBOX_DEFAULT_STACK_SIZE + 512);
	for (i = 0; i < NR_WORDS; i++)
		ASSERT_EQ(0, callbox_call_int(sb, "peek", &w[i].addr, 1,
					      &w[i].fresh));
	EXPECT_EQ(0x5eed5eed5eed5eedll, w[0].fresh);
	EXPECT_EQ(0, w[1].fresh);
	EXPECT_EQ(INIT_WORD, w[2].fresh);
	EXPECT_EQ(0, w[3].fresh);
	EXPECT_EQ(0, w[4].fresh);
}

static void poke_words(struct __test_metadata *_metadata,
		       struct callbox_sandbox *sb, const struct word *w)
{
	int64_t args[2], v;
	unsigned int i;

	for (i = 0; i < NR_WORDS; i++) {
		args[0] = w[i].addr;
		args[1] = (int64_t)PATTERN + i;
		ASSERT_EQ(0, callbox_call_int(sb, "poke", args, 2, &v));
		ASSERT_EQ(0, callbox_call_int(sb, "peek", args, 1, &v));
		ASSERT_EQ(args[1], v);
	}
}

static void expect_words_fresh(struct __test_metadata *_metadata,
			       struct callbox_sandbox *sb,
			       const struct word *w, const char *after)
{
	unsigned int i;
	int64_t v;

	for (i = 0; i < NR_WORDS; i++) {
		ASSERT_EQ(0, callbox_call_int(sb, "peek", (int64_t *)&w[i].addr,
					      1, &v));
		EXPECT_EQ(w[i].fresh, v) {
			TH_LOG("after %s, the %s word at %#" PRIx64 " is %#" PRIx64 ", not %#" PRIx64,
			       after, w[i].name, (uint64_t)w[i].addr,
			       (uint64_t)v, (uint64_t)w[i].fresh);
		}
	}
}

/*
 * Three rounds, the middle one writing nothing: a reset puts back only
 * the pages the guest wrote since the last one (KVM's dirty log), so each
 * round starts the log anew.
 */
TEST_F(residue, reset_puts_back_every_page_the_guest_wrote)
{
	struct word w[NR_WORDS];
	unsigned int round;

	return_if_setup_skipped();
	find_words(_metadata, self->sb, w);
	for (round = 0; round < 3; round++) {
		if (round != 1)
			poke_words(_metadata, self->sb, w);
		ASSERT_EQ(0, callbox_sandbox_reset(self->sb)) {
			TH_LOG("reset: %s", callbox_sandbox_last_error(self->sb));
		}
		expect_words_fresh(_metadata, self->sb, w, "a reset");
	}
}

static void count_init_logs(struct callbox_sandbox *sb, unsigned int level,
			    const char *message, void *opaque)
{
	*(int *)opaque += !strcmp(message, "residue init");
}

/*
 * A restore puts the guest back as it was once its init had exited, the
 * init's own writes included, without running the init again; a reset
 * after it runs the init again. Twice over, so that a restore after a
 * restore, and a reset after one, start from what the last one left.
 */
TEST_F(residue, restore_puts_back_the_guest_as_after_its_init)
{
	struct word w[NR_WORDS];
	int inits = 0, round;

	return_if_setup_skipped();
	find_words(_metadata, self->sb, w);
	callbox_sandbox_set_log_fn(self->sb, count_init_logs, &inits);
	for (round = 0; round < 2; round++) {
		scribble(_metadata, self);
		poke_words(_metadata, self->sb, w);
		ASSERT_EQ(0, callbox_sandbox_restore(self->sb)) {
			TH_LOG("restore: %s",
			       callbox_sandbox_last_error(self->sb));
		}
		EXPECT_EQ(round, inits);
		expect_words_fresh(_metadata, self->sb, w, "a restore");
		expect_pieces_fresh(_metadata, self);
		poke_words(_metadata, self->sb, w);
		ASSERT_EQ(0, callbox_sandbox_reset(self->sb));
		EXPECT_EQ(round + 1, inits);
		expect_words_fresh(_metadata, self->sb, w, "a reset");
	}
}

/* Submit @function(@args) and run it on this thread; its i64 result. */
static int64_t call_async(struct __test_metadata *_metadata,
			  struct callbox_sandbox *sb, const char *function,
			  const int64_t *args, unsigned int nr_args)
{
	struct callbox_wire_value a[2], result;
	unsigned int i;
	uint64_t id;

	for (i = 0; i < nr_args; i++)
		a[i] = (struct callbox_wire_value) {
			.type = CALLBOX_WIRE_I64, .i64 = args[i],
		};
	EXPECT_EQ(0, callbox_call_submit(sb, function, a, nr_args, 0, &id));
	EXPECT_EQ(0, callbox_call_run(sb, 0));
	EXPECT_EQ(0, callbox_call_wait(sb, id, 0, &result, NULL)) {
		TH_LOG("%s: %s", function, callbox_sandbox_last_error(sb));
	}
	return result.i64;
}

/*
 * CALLBOX_CONFIG_FRESH_CALLS: every call runs on the guest as after its
 * init, by callbox_call() and by a runner (callbox_call_run()) alike:
 * what one wrote, the next does not see; and the init does not run again.
 */
TEST(fresh_calls_see_nothing_of_the_last)
{
	struct callbox_config cfg;
	struct callbox_sandbox *sb;
	int64_t args[2], v, which = 1;
	uint64_t io_base, io[3];
	int inits = 0, i;

	if (access("/dev/callbox", F_OK))
		SKIP(return, "/dev/callbox is missing");
	callbox_config_init(&cfg);
	cfg.flags = CALLBOX_CONFIG_FRESH_CALLS;
	cfg.call_timeout_ns = CALL_TIMEOUT_NS;
	sb = load(&cfg, "residue");
	callbox_sandbox_set_log_fn(sb, count_init_logs, &inits);
	ASSERT_EQ(0, callbox_call_int(sb, "data_addr", &which, 1, &args[0]));
	/* I/O buffers no call holds: a free slot's pair, the host call's. */
	io_base = CALLBOX_STACK_GUARD(CALLBOX_DEFAULT_MEM_SIZE,
				      CALLBOX_DEFAULT_STACK_SIZE) -
		  callbox_io_size(CALLBOX_DEFAULT_IO_BUFFER,
				  CALLBOX_DEFAULT_IO_BUFFER,
				  CALLBOX_DEFAULT_MAX_CALLS);
	io[0] = callbox_io_input(io_base, CALLBOX_DEFAULT_IO_BUFFER,
				 CALLBOX_DEFAULT_IO_BUFFER, 7) + 64;
	io[1] = callbox_io_output(io_base, CALLBOX_DEFAULT_IO_BUFFER,
				  CALLBOX_DEFAULT_IO_BUFFER, 7) + 64;
	io[2] = callbox_io_input(io_base, CALLBOX_DEFAULT_IO_BUFFER,
				 CALLBOX_DEFAULT_IO_BUFFER,
				 CALLBOX_DEFAULT_MAX_CALLS) + 64;
	for (i = 0; i < 3; i++) {
		int64_t a[2] = { (int64_t)io[i], (int64_t)PATTERN };

		ASSERT_EQ(0, callbox_call_int(sb, "poke", a, 2, &v));
		ASSERT_EQ(0, callbox_call_int(sb, "peek", a, 1, &v));
		EXPECT_EQ(0, v) {
			TH_LOG("I/O buffer word %d at %#" PRIx64 " kept the last call's %#" PRIx64,
			       i, io[i], (uint64_t)v);
		}
	}
	for (i = 0; i < 3; i++) {
		args[1] = (int64_t)PATTERN + i;
		ASSERT_EQ(0, callbox_call_int(sb, "poke", args, 2, &v));
		ASSERT_EQ(0, callbox_call_int(sb, "peek", args, 1, &v));
		EXPECT_EQ(0, v) {
			TH_LOG("round %d: callbox_call() saw the last call's %#" PRIx64,
			       i, (uint64_t)v);
		}
		call_async(_metadata, sb, "poke", args, 2);
		v = call_async(_metadata, sb, "peek", args, 1);
		EXPECT_EQ(0, v) {
			TH_LOG("round %d: callbox_call_run() saw the last call's %#" PRIx64,
			       i, (uint64_t)v);
		}
	}
	EXPECT_EQ(0, inits);
	callbox_sandbox_free(sb);
}

TEST_HARNESS_MAIN
