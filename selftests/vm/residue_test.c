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
#include "residue_util.h"

FIXTURE(residue) {
	struct residue r;
};

FIXTURE_SETUP(residue)
{
	struct callbox_config cfg;

	if (access("/dev/callbox", F_OK))
		SKIP(return, "/dev/callbox is missing");
	residue_config(&cfg);
	self->r.sb = load(&cfg, "residue");
	residue_read_fresh(_metadata, &self->r);
}

FIXTURE_TEARDOWN(residue)
{
	callbox_sandbox_free(self->r.sb);
}

/* After a reset, every piece as a fresh sandbox had it. */
static void expect_fresh(struct __test_metadata *_metadata,
			 struct residue *self)
{
	ASSERT_EQ(0, callbox_sandbox_reset(self->sb)) {
		TH_LOG("reset: %s", callbox_sandbox_last_error(self->sb));
	}
	expect_pieces_fresh(_metadata, self);
}

TEST_F(residue, reset_after_a_call_puts_every_piece_back)
{
	return_if_setup_skipped();
	scribble(_metadata, &self->r);
	expect_fresh(_metadata, &self->r);
}

TEST_F(residue, reset_after_a_fault_puts_every_piece_back)
{
	int64_t args[2] = { 0xdeadbeef, 0 };
	int64_t v;

	return_if_setup_skipped();
	scribble(_metadata, &self->r);
	/* An MSR nobody has: #GP, and the call poisons the sandbox. */
	EXPECT_EQ(-EIO, callbox_call_int(self->r.sb, "write_msr", args, 2, &v));
	expect_fresh(_metadata, &self->r);
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
		if (!self->r.has[j])
			continue;
		EXPECT_EQ(want[i].value, self->r.fresh[j]) {
			TH_LOG("%s: %#" PRIx64, want[i].name,
			       (uint64_t)self->r.fresh[j]);
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
	ASSERT_EQ(0, callbox_call_int(self->r.sb, "break_on_init", NULL, 0, &v));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, callbox_sandbox_reset(self->r.sb)) {
			TH_LOG("reset %d: %s", i,
			       callbox_sandbox_last_error(self->r.sb));
		}
		ASSERT_EQ(0, callbox_call_int(self->r.sb, "ok", NULL, 0, &v));
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
	EXPECT_EQ(-EIO, callbox_call_int(self->r.sb, "steal_time_on", &gpa, 1, &v));
	o = callbox_sandbox_last_outcome(self->r.sb);
	snprintf(want, sizeof(want),
		 "steal_time_on: call %" PRIu64 " aborted by the guest, which reports CPU exception #GP general protection at rip 0x%" PRIx64,
		 (uint64_t)o->call.id, rip);
	EXPECT_STREQ(want, callbox_sandbox_last_error(self->r.sb));
	ASSERT_EQ(0, callbox_sandbox_reset(self->r.sb));
	ASSERT_EQ(0, callbox_call_int(self->r.sb, "ok", NULL, 0, &v));
	EXPECT_EQ(7, v);
}

/*
 * The MSRs a restore does not put back (all but lib/vcpu_state.c's
 * guest_msrs[]) must be out of the guest's reach, or one request could
 * leave a value in one for the next: KVM's MSR filter faults every write
 * to them. A few of each kind: KVM's paravirtual ones, old and new
 * (steal time has a test of its own above), Hyper-V's, AMD's performance
 * counters and controls, the machine-check bank and MTRRs (which a
 * restore used to write back), the TSC and its adjustment, and others
 * KVM lists for migration.
 */
static const uint32_t msrs_a_restore_leaves_out[] = {
	0x11, 0x12,					/* KVM's first clock */
	0x4b564d00, 0x4b564d01, 0x4b564d02, 0x4b564d04,	/* KVM's now */
	0x40000000, 0x40000001, 0x40000021, 0x40000073,	/* Hyper-V */
	0x40000080, 0x400000b0, 0x40000100, 0x40000106,
	0xc0010000, 0xc0010004, 0xc0010007,		/* AMD PMU, legacy */
	0xc0010200, 0xc0010201, 0xc001020b,		/* AMD PMU, core */
	MSR_MC0_ADDR, MSR_MC0_MISC, 0x17a, 0x17b,	/* MC0, MCG_STATUS, _CTL */
	MSR_MTRR_PHYSBASE0, 0x201, 0x250, MSR_MTRR_DEF_TYPE,	/* MTRRs */
	0x10, 0x3b,					/* TSC, TSC_ADJUST */
	0x48, 0x1a0, 0x1d9,		/* SPEC_CTRL, MISC_ENABLE, DEBUGCTL */
	0xc0010015, 0xc0010117, 0xc001011f,	/* HWCR, VM_HSAVE_PA, VIRT_SSBD */
};

TEST_F(residue, msrs_a_restore_leaves_out_fault_on_write)
{
	int64_t args[2], v;
	unsigned int i;

	return_if_setup_skipped();
	for (i = 0; i < sizeof(msrs_a_restore_leaves_out) / sizeof(uint32_t);
	     i++) {
		args[0] = msrs_a_restore_leaves_out[i];
		args[1] = 0x1001;	/* a page, and an enable bit */
		EXPECT_EQ(-EIO, callbox_call_int(self->r.sb, "write_msr", args,
						 2, &v)) {
			TH_LOG("MSR %#x took the guest's write",
			       (uint32_t)args[0]);
			continue;
		}
		EXPECT_NE(NULL, strstr(callbox_sandbox_last_error(self->r.sb),
				       "#GP general protection")) {
			TH_LOG("MSR %#x: %s", (uint32_t)args[0],
			       callbox_sandbox_last_error(self->r.sb));
		}
		ASSERT_EQ(0, callbox_sandbox_reset(self->r.sb));
	}
}

/* No hypervisor leaves: the guest is not told it runs on KVM. */
TEST_F(residue, cpuid_shows_no_kvm_leaves)
{
	int64_t leaf = 0x40000000, ebx;

	return_if_setup_skipped();
	ASSERT_EQ(0, callbox_call_int(self->r.sb, "cpuid_ebx", &leaf, 1, &ebx));
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
	ASSERT_EQ(0, callbox_call_int(self->r.sb, "cpuid_ecx", &leaf, 1, &ecx));
	EXPECT_EQ(0, ecx & (1 << 5));
	leaf = 0x80000001;
	ASSERT_EQ(0, callbox_call_int(self->r.sb, "cpuid_ecx", &leaf, 1, &ecx));
	EXPECT_EQ(0, ecx & (1 << 2));
}

/*
 * Nor protection keys: with CR4.PKE a guest could set PKRU, which KVM
 * left as it was through a reset (an XSAVE image that marks PKRU in its
 * initial state does not load it).
 */
TEST_F(residue, cpuid_shows_no_protection_keys)
{
	int64_t leaf = 7, ecx;

	return_if_setup_skipped();
	ASSERT_EQ(0, callbox_call_int(self->r.sb, "cpuid_ecx", &leaf, 1, &ecx));
	EXPECT_EQ(0, ecx & (1 << 3));	/* PKU */
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
	find_words(_metadata, self->r.sb, w);
	for (round = 0; round < 3; round++) {
		if (round != 1)
			poke_words(_metadata, self->r.sb, w);
		ASSERT_EQ(0, callbox_sandbox_reset(self->r.sb)) {
			TH_LOG("reset: %s", callbox_sandbox_last_error(self->r.sb));
		}
		expect_words_fresh(_metadata, self->r.sb, w, "a reset");
	}
}

/*
 * Four rounds, each writing the same words: from the second on, their
 * pages are hot (dirty_log.c: KVM leaves them writable), and must still
 * be put back every time.
 */
TEST_F(residue, restore_puts_back_the_guest_as_after_its_init)
{
	struct word w[NR_WORDS];
	int inits = 0, round;

	return_if_setup_skipped();
	find_words(_metadata, self->r.sb, w);
	callbox_sandbox_set_log_fn(self->r.sb, count_init_logs, &inits);
	for (round = 0; round < 4; round++) {
		scribble(_metadata, &self->r);
		poke_words(_metadata, self->r.sb, w);
		ASSERT_EQ(0, callbox_sandbox_restore(self->r.sb)) {
			TH_LOG("restore: %s",
			       callbox_sandbox_last_error(self->r.sb));
		}
		EXPECT_EQ(round, inits);
		expect_words_fresh(_metadata, self->r.sb, w, "a restore");
		expect_pieces_fresh(_metadata, &self->r);
		poke_words(_metadata, self->r.sb, w);
		ASSERT_EQ(0, callbox_sandbox_reset(self->r.sb));
		EXPECT_EQ(round + 1, inits);
		expect_words_fresh(_metadata, self->r.sb, w, "a reset");
	}
}

/*
 * A request stopped in the middle of an access that takes two MMIO exits
 * (read_across_mmio): KVM finishes the rest only at the next KVM_RUN, so
 * the put-back must have it finished first, or it is finished onto the
 * registers the restore or reset loaded (RIP moved on past the access).
 */
TEST_F(residue, a_split_mmio_access_is_finished_before_the_put_back)
{
	static const struct {
		const char *name;
		int (*fn)(struct callbox_sandbox *sb);
	} put_backs[] = {
		{ "restore", callbox_sandbox_restore },
		{ "reset", callbox_sandbox_reset },
	};
	struct callbox_sandbox *sb = self->r.sb;
	unsigned int i;
	int64_t v;

	return_if_setup_skipped();
	for (i = 0; i < sizeof(put_backs) / sizeof(put_backs[0]); i++) {
		EXPECT_EQ(-EIO, callbox_call_int(sb, "read_across_mmio", NULL,
						 0, &v));
		ASSERT_EQ(0, put_backs[i].fn(sb)) {
			TH_LOG("%s: %s", put_backs[i].name,
			       callbox_sandbox_last_error(sb));
		}
		EXPECT_EQ(0, callbox_call_int(sb, "ok", NULL, 0, &v)) {
			TH_LOG("after the %s: %s", put_backs[i].name,
			       callbox_sandbox_last_error(sb));
		}
		EXPECT_EQ(7, v);
	}
}

/*
 * A clone starts with its parent's snapshot's CR8, and a restore puts
 * the clone's back: KVM_RUN loads CR8 from kvm_run, which is the clone's
 * own.
 */
TEST_F(residue, clone_starts_with_the_snapshots_cr8)
{
	int64_t cr8_is_6[2] = { 8, 6 }, cr8_is_9[2] = { 8, 9 }, which = 8, v;
	struct callbox_sandbox *clone;

	return_if_setup_skipped();
	ASSERT_EQ(0, callbox_call_int(self->r.sb, "write_cr", cr8_is_6, 2, &v));
	ASSERT_EQ(0, callbox_sandbox_snapshot(self->r.sb));
	ASSERT_EQ(0, callbox_sandbox_clone(self->r.sb, &clone));
	EXPECT_EQ(0, callbox_call_int(clone, "read_cr", &which, 1, &v));
	EXPECT_EQ(6, v);
	ASSERT_EQ(0, callbox_call_int(clone, "write_cr", cr8_is_9, 2, &v));
	ASSERT_EQ(0, callbox_sandbox_restore(clone));
	EXPECT_EQ(0, callbox_call_int(clone, "read_cr", &which, 1, &v));
	EXPECT_EQ(6, v);
	callbox_sandbox_free(clone);
}

/*
 * A call outstanding across a restore keeps its slot's buffers for its
 * caller; once collected, the next call in that slot finds none of what
 * it wrote there.
 */
TEST_F(residue, a_slot_a_restore_kept_is_cleared_once_collected)
{
	struct callbox_sandbox *sb = self->r.sb;
	struct callbox_wire_value result;
	uint64_t io_base, id;
	int64_t addr, v;

	return_if_setup_skipped();
	/* The first slot's output buffer, well past any result. */
	io_base = CALLBOX_STACK_GUARD(CALLBOX_DEFAULT_MEM_SIZE,
				      CALLBOX_DEFAULT_STACK_SIZE) -
		  callbox_io_size(CALLBOX_DEFAULT_IO_BUFFER,
				  CALLBOX_DEFAULT_IO_BUFFER,
				  CALLBOX_DEFAULT_MAX_CALLS);
	addr = (int64_t)callbox_io_output(io_base, CALLBOX_DEFAULT_IO_BUFFER,
					  CALLBOX_DEFAULT_IO_BUFFER, 0) + 2048;
	ASSERT_EQ(0, callbox_call_submit(sb, "poke",
					 (struct callbox_wire_value[]) {
						CALLBOX_I64(addr),
						CALLBOX_I64((int64_t)PATTERN),
					 }, 2, 0, &id));
	ASSERT_EQ(0, callbox_call_run(sb, 0));
	ASSERT_EQ(0, callbox_sandbox_restore(sb));
	ASSERT_EQ(0, callbox_call_wait(sb, id, 0, &result, NULL));
	ASSERT_EQ(0, callbox_call_int(sb, "peek", &addr, 1, &v));
	EXPECT_EQ(0, v) {
		TH_LOG("the slot's next call found %#" PRIx64, (uint64_t)v);
	}
}

/*
 * CALLBOX_CONFIG_FRESH_CALLS: every call runs on the guest as after its
 * init: what one wrote, the next does not see (nor its own slot's
 * buffers: isolation_test); and the init does not run again.
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
	}
	/* And after a call stopped in the middle of a split access. */
	EXPECT_EQ(-EIO, callbox_call_int(sb, "read_across_mmio", NULL, 0, &v));
	EXPECT_EQ(0, callbox_call_int(sb, "ok", NULL, 0, &v)) {
		TH_LOG("after the split access: %s",
		       callbox_sandbox_last_error(sb));
	}
	EXPECT_EQ(7, v);
	EXPECT_EQ(0, inits);
	callbox_sandbox_free(sb);
}

TEST_HARNESS_MAIN
