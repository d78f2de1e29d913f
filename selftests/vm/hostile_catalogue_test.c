// SPDX-License-Identifier: GPL-2.0
/*
 * A catalogue of hostile guests, one row per behaviour, driven through
 * libcallbox: each call ends with the errno, the kernel's record and the
 * exact message the table says, a message that tells what the guest did;
 * a sandbox the guest poisoned refuses the next call until a reset; and
 * after a reset the next call works. The rows run one after another in
 * the same two sandboxes, so every reset follows every kind of breakage.
 * The VM runner checks dmesg afterwards.
 *
 * The guests are selftests/guests/hostile2.c (one export per behaviour)
 * and, for what it has already, guest/examples/fault.c. In a message,
 * {id} stands for the call's id, {rip} for the address of the guest's
 * label hostile2_at_NAME (read from the ELF) plus the row's offset, and
 * {port} for the port the test picked at random.
 *
 * Every reset must succeed (see reset_after()).
 *
 * Under TCG the run takes about 45 s, 40 of them the million cpuids.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <callbox/callbox.h>

#include "sdk_util.h"
#include "typed_host_fns.h"

#define ABORTED CALLBOX_STATE_ABORTED
#define EXITED CALLBOX_STATE_EXITED
#define EXCEPTION CALLBOX_GUEST_ABORT_EXCEPTION

/* The message of a call refused because an earlier one poisoned it. */
#define POISONED_MESSAGE \
	"ok: an earlier call stopped inside the guest, so its state is unknown; reset the sandbox"

struct behaviour {
	const char *guest;	/* NULL: "hostile2"; or "fault" */
	const char *function;	/* the export, which returns an i64 */
	unsigned int nargs;
	struct callbox_wire_value args[2];
	int err;		/* what callbox_call() returns */
	uint32_t state;		/* the kernel's record of the call */
	uint32_t reason;
	uint64_t detail;
	const char *message;	/* exact; "" for none */
	const char *label;	/* {rip} is hostile2_at_LABEL ... */
	unsigned int rip_offset;	/* ... plus this */
	bool poisons;		/* the kernel refuses calls until a reset */
	/* Not poisoned, but the guest broke itself: no call before a reset. */
	bool needs_reset;
	int64_t result;		/* if err is 0 */
	/* args[0] and the detail are a port the test picks at random. */
	bool random_port;
	/* Run with this deadline (callbox_call_submit()), not the config's. */
	unsigned int deadline_ms;
	/* Where a real CPU checks what QEMU's TCG lets pass: its outcome. */
	const struct behaviour *or_else;
};

/* Arguments, as constants a static table can hold. */
#define U32(v) { .type = CALLBOX_WIRE_U32, .u32 = (v) }
#define U64(v) { .type = CALLBOX_WIRE_U64, .u64 = (v) }

/* How each guest CPU exception, port and protocol error reads. */
#define EXC(fn, what) \
	fn ": call {id} aborted by the guest, which reports CPU exception " what
#define SHUTDOWN(fn) \
	fn ": call {id} aborted: guest shut down (triple fault: a CPU exception it could not handle)"
#define BAD_PORT(fn, access, port) \
	fn ": call {id} aborted: guest made " access " I/O port " port ", outside the callbox ABI (only a 4-byte OUT to 0xcb00, 0xcb04 or 0xcb08 is allowed)"
#define MALFORMED(fn, what) \
	fn ": malformed result from the guest: " what
#define NO_RESULT(fn) \
	fn ": the guest ended the call without writing a result (the result buffer's header is still zero, as the host left it)"
/* A BAD_PORT abort's detail: the port, the access size, IN and STRING. */
#define PORT_DETAIL(port, size, flags) \
	((port) | (uint64_t)(size) << CALLBOX_BAD_PORT_SIZE_SHIFT | (flags))

/* A CPU exception the SDK's handler reports: the call poisons. */
#define GUEST_EXCEPTION .err = -EIO, .state = ABORTED, \
	.reason = CALLBOX_ABORT_GUEST_ABORT, .detail = EXCEPTION, .poisons = true
/* An abort the kernel decides on from the exit: the call poisons. */
#define KERNEL_ABORT(r, d) .err = -EIO, .state = ABORTED, .reason = (r), \
	.detail = (d), .poisons = true

static const struct behaviour catalogue[] = {
	/* ---- the CPU ---- */
	{ .function = "ud2", GUEST_EXCEPTION, .label = "ud2",
	  .message = EXC("ud2", "#UD invalid opcode at rip 0x{rip}") },
	/* A trap: the CPU reports the rip after the int3. */
	{ .function = "int3", GUEST_EXCEPTION, .label = "int3", .rip_offset = 1,
	  .message = EXC("int3", "#BP breakpoint, a trap: rip 0x{rip} is the instruction after it") },
	/*
	 * No error: KVM serves hypercalls in the kernel, and answers one it
	 * does not know with -KVM_ENOSYS (-1000) in rax.
	 */
	{ .function = "vmcall", .nargs = 1, .args = { U64(0xdeadbeef) },
	  .state = EXITED, .message = "", .result = -1000 },
	{ .function = "rdmsr_unknown", .nargs = 1, .args = { U32(0xdeadbeef) },
	  GUEST_EXCEPTION, .label = "rdmsr",
	  .message = EXC("rdmsr_unknown", "#GP general protection at rip 0x{rip}") },
	{ .function = "wrmsr_unknown", .nargs = 1, .args = { U32(0xdeadbeef) },
	  GUEST_EXCEPTION, .label = "wrmsr",
	  .message = EXC("wrmsr_unknown", "#GP general protection at rip 0x{rip}") },
	{ .function = "clear_efer_lme", GUEST_EXCEPTION, .label = "clear_efer_lme",
	  .message = EXC("clear_efer_lme", "#GP general protection at rip 0x{rip}") },
	/* Page 0 holds zeros: nothing is mapped any more, not even the IDT. */
	{ .function = "cr3_garbage", .nargs = 1, .args = { U64(0) },
	  KERNEL_ABORT(CALLBOX_ABORT_SHUTDOWN, 0),
	  .message = SHUTDOWN("cr3_garbage") },
	/*
	 * No memory behind the page tables: the guest never exits again,
	 * and only a deadline (or a cancel) ends the call; callbox sets none
	 * by default. What the guest did, the host cannot see: only that it
	 * had started and never finished.
	 */
	{ .function = "cr3_garbage", .nargs = 1, .args = { U64(0xdead000) },
	  .deadline_ms = 2000,
	  .err = -ETIMEDOUT, .state = ABORTED,
	  .reason = CALLBOX_ABORT_DEADLINE, .poisons = true,
	  .message = "cr3_garbage: call {id} deadline passed (the guest had started, and had not finished)" },
	/*
	 * Bits above the physical address width. QEMU's TCG takes the MOV,
	 * and the next VMRUN fails; a CPU that checks CR3 raises #GP at the
	 * MOV.
	 */
	{ .function = "cr3_garbage", .nargs = 1,
	  .args = { U64(0xdeadbeefdeadb000) },
	  KERNEL_ABORT(CALLBOX_ABORT_ENTRY_FAILED, 0xffffffff),
	  .message = "cr3_garbage: call {id} aborted: the guest left its vCPU in a state the CPU cannot enter (the VM entry failed, hardware reason 0xffffffff)",
	  .or_else = &(const struct behaviour){
		GUEST_EXCEPTION, .label = "cr3_garbage",
		.message = EXC("cr3_garbage", "#GP general protection at rip 0x{rip}") } },
	/* A zero-limit IDT, then a fault. */
	{ .guest = "fault", .function = "triple_fault",
	  KERNEL_ABORT(CALLBOX_ABORT_SHUTDOWN, 0),
	  .message = SHUTDOWN("triple_fault") },
	/* XCR0 without x87 state; an XCR that does not exist. */
	{ .function = "xsetbv_bad", .nargs = 2, .args = { U32(0), U64(0) },
	  GUEST_EXCEPTION, .label = "xsetbv",
	  .message = EXC("xsetbv_bad", "#GP general protection at rip 0x{rip}") },
	{ .function = "xsetbv_bad", .nargs = 2, .args = { U32(1), U64(1) },
	  GUEST_EXCEPTION, .label = "xsetbv",
	  .message = EXC("xsetbv_bad", "#GP general protection at rip 0x{rip}") },
	/* cli; hlt */
	{ .guest = "fault", .function = "halt",
	  KERNEL_ABORT(CALLBOX_ABORT_HALT, 0),
	  .message = "halt: call {id} aborted: guest halted (HLT) with nothing to wake it" },
	/* Exits that KVM serves by itself, a million of them: no error. */
	{ .function = "cpuids", .nargs = 1, .args = { U32(1000000) },
	  .state = EXITED, .message = "", .result = 1000000 },

	/* ---- ports ---- */
	/* The DONE port, accessed every way but the one the ABI has. */
	{ .function = "done_outb",
	  KERNEL_ABORT(CALLBOX_ABORT_BAD_PORT, PORT_DETAIL(CALLBOX_PORT_DONE, 1, 0)),
	  .message = BAD_PORT("done_outb", "a 1-byte OUT to", "0xcb00 (DONE)") },
	{ .function = "done_outw",
	  KERNEL_ABORT(CALLBOX_ABORT_BAD_PORT, PORT_DETAIL(CALLBOX_PORT_DONE, 2, 0)),
	  .message = BAD_PORT("done_outw", "a 2-byte OUT to", "0xcb00 (DONE)") },
	{ .guest = "fault", .function = "port_in",
	  KERNEL_ABORT(CALLBOX_ABORT_BAD_PORT,
		       PORT_DETAIL(CALLBOX_PORT_DONE, 4, CALLBOX_BAD_PORT_IN)),
	  .message = BAD_PORT("port_in", "a 4-byte IN from", "0xcb00 (DONE)") },
	{ .function = "done_inb",
	  KERNEL_ABORT(CALLBOX_ABORT_BAD_PORT,
		       PORT_DETAIL(CALLBOX_PORT_DONE, 1, CALLBOX_BAD_PORT_IN)),
	  .message = BAD_PORT("done_inb", "a 1-byte IN from", "0xcb00 (DONE)") },
	{ .function = "done_rep_outs",
	  KERNEL_ABORT(CALLBOX_ABORT_BAD_PORT,
		       PORT_DETAIL(CALLBOX_PORT_DONE, 4, CALLBOX_BAD_PORT_STRING)),
	  .message = BAD_PORT("done_rep_outs", "a string OUT (OUTS) of 4-byte units to", "0xcb00 (DONE)") },
	/* A 4-byte OUT to a port picked at random. */
	{ .function = "out_port", .nargs = 1, .args = { U32(0) },
	  .random_port = true,
	  KERNEL_ABORT(CALLBOX_ABORT_BAD_PORT, PORT_DETAIL(0, 4, 0)),
	  .message = BAD_PORT("out_port", "a 4-byte OUT to", "0x{port}") },

	/* ---- memory ---- */
	/* The first byte past the default 4 MiB, which is not mapped. */
	{ .function = "beyond_memory", GUEST_EXCEPTION, .label = "beyond_memory",
	  .message = EXC("beyond_memory", "#PF page fault at rip 0x{rip}, address 0x400000 (error 0x2)") },
	/* Mapped first, so that the write reaches KVM. */
	{ .guest = "fault", .function = "mmio",
	  KERNEL_ABORT(CALLBOX_ABORT_MMIO, 0x3fe00000),
	  .message = "mmio: call {id} aborted: guest accessed guest-physical address 0x3fe00000, which has no memory" },
	/*
	 * The result went to page 0, not to the buffer the host reads; the
	 * guest is broken, not poisoned.
	 */
	{ .function = "io_alias_page0", .err = -EBADMSG, .state = EXITED,
	  .needs_reset = true, .message = NO_RESULT("io_alias_page0") },

	/* ---- the call protocol ---- */
	{ .function = "result_4g_message", .err = -EBADMSG, .state = EXITED,
	  .message = MALFORMED("result_4g_message", "message length past the end of the buffer (value 4294967295, at offset 8 of the 16384-byte buffer)") },
	{ .function = "result_4g_string", .err = -EBADMSG, .state = EXITED,
	  .message = MALFORMED("result_4g_string", "string length runs past the message end (value 4294967295, at offset 13 of the 16384-byte buffer)") },
	{ .function = "result_4g_bytes", .err = -EBADMSG, .state = EXITED,
	  .message = MALFORMED("result_4g_bytes", "bytes length runs past the message end (value 4294967295, at offset 13 of the 16384-byte buffer)") },
	{ .function = "done_no_result", .err = -EBADMSG, .state = EXITED,
	  .message = NO_RESULT("done_no_result") },
	/*
	 * No error: the host reads the result where it put the buffers, not
	 * where the mailbox says. The guest's runtime reads the mailbox, so
	 * it is broken until a reset.
	 */
	{ .function = "smash_mailbox", .state = EXITED, .message = "",
	  .needs_reset = true, .result = 7 },
	{ .function = "host_calls", .nargs = 1, .args = { U32(10000) },
	  .state = EXITED, .message = "", .result = 10000 },
};

/* @tmpl with {id}, {rip} and {port} put in. */
static void expand(char *buf, size_t len, const char *tmpl, uint64_t id,
		   uint64_t rip, uint32_t port)
{
	size_t n = 0;

	buf[0] = '\0';
	while (*tmpl && n + 1 < len) {
		if (!strncmp(tmpl, "{id}", 4)) {
			n += snprintf(buf + n, len - n, "%" PRIu64, id);
			tmpl += 4;
		} else if (!strncmp(tmpl, "{rip}", 5)) {
			n += snprintf(buf + n, len - n, "%" PRIx64, rip);
			tmpl += 5;
		} else if (!strncmp(tmpl, "{port}", 6)) {
			n += snprintf(buf + n, len - n, "%" PRIx32, port);
			tmpl += 6;
		} else {
			buf[n++] = *tmpl++;
			buf[n] = '\0';
		}
	}
}

/* A port no 4-byte OUT may use: anything but DONE, ABORT and HOSTCALL. */
static uint32_t random_port(void)
{
	uint32_t port;

	do
		port = (uint32_t)random() & 0xffff;
	while (port == CALLBOX_PORT_DONE || port == CALLBOX_PORT_ABORT ||
	       port == CALLBOX_PORT_HOSTCALL);
	return port;
}

FIXTURE(catalogue) {
	struct callbox_sandbox *hostile2, *fault;
	struct host_counts n;
};

/*
 * No call of the table takes two minutes, even under TCG (the million
 * cpuids take about 40 s there): a guest that hangs fails its row, and
 * the reset's init call has the same limit.
 */
#define CALL_TIMEOUT_NS (120 * 1000 * MS)

FIXTURE_SETUP(catalogue)
{
	struct callbox_config cfg;

	if (access("/dev/callbox", F_OK))
		SKIP(return, "/dev/callbox is missing");
	callbox_config_init(&cfg);
	cfg.call_timeout_ns = CALL_TIMEOUT_NS;
	cfg.init_timeout_ns = CALL_TIMEOUT_NS;
	memset(&self->n, 0, sizeof(self->n));
	self->hostile2 = sandbox_new(&cfg);
	add_host_fns(_metadata, self->hostile2, &self->n);
	load_into(self->hostile2, "hostile2");
	self->fault = load(&cfg, "fault");
}

FIXTURE_TEARDOWN(catalogue)
{
	callbox_sandbox_free(self->hostile2);
	callbox_sandbox_free(self->fault);
}

/* Call @b->function as the row says: 0 or -errno, the outcome in @sb. */
static int call_row(struct callbox_sandbox *sb, const struct behaviour *b,
		    const struct callbox_wire_value *args,
		    struct callbox_wire_value *r)
{
	uint64_t id;
	int ret;

	if (!b->deadline_ms)
		return callbox_call(sb, b->function, args, b->nargs, r);
	ret = callbox_call_submit(sb, b->function, args, b->nargs,
				  callbox_deadline_after(b->deadline_ms * MS),
				  &id);
	if (!ret)
		ret = callbox_call_run(sb, 0);
	if (!ret)
		ret = callbox_call_wait(sb, id, 0, r, NULL);
	return ret;
}

/*
 * A guest stopped (by a deadline here) while KVM was delivering an
 * exception to it left that exception injected in the vCPU, and the
 * reset's init call took it at the guest's first instruction, with no
 * IDT yet: a triple fault, about 1 reset in 5 after the
 * cr3_garbage(0xdead000) row under TCG. The library now clears the
 * vCPU's events at reset: every reset must succeed.
 */
static int reset_after(struct __test_metadata *_metadata,
		       struct callbox_sandbox *sb, const struct behaviour *b)
{
	int ret = callbox_sandbox_reset(sb);

	if (ret)
		TH_LOG("%s: the reset failed: %s", b->function,
		       callbox_sandbox_last_error(sb));
	return ret;
}

TEST_F_TIMEOUT(catalogue, every_behaviour_ends_clearly, 600)
{
	unsigned int seed = (unsigned int)(now_ns() ^ getpid());
	char want[CALLBOX_OUTCOME_MESSAGE_MAX];
	struct callbox_wire_value args[2], r;
	const struct callbox_outcome *o;
	struct callbox_sandbox *sb;
	uint64_t rip, start, ms;
	unsigned int i, j;
	int64_t ok;
	int ret;

	return_if_setup_skipped();
	srandom(seed);
	TH_LOG("random seed %u", seed);
	for (i = 0; i < sizeof(catalogue) / sizeof(catalogue[0]); i++) {
		const struct behaviour *b = &catalogue[i];
		const char *guest = b->guest ? b->guest : "hostile2";
		uint32_t port = random_port();
		uint64_t detail;

		sb = strcmp(guest, "fault") ? self->hostile2 : self->fault;
		for (j = 0; j < b->nargs; j++)
			args[j] = b->args[j];
		if (b->random_port)
			args[0].u32 = port;

		start = now_ns();
		ret = call_row(sb, b, args, &r);
		ms = (now_ns() - start) / MS;
		o = callbox_sandbox_last_outcome(sb);
		TH_LOG("%s %s: %d in %" PRIu64 " ms: %s", guest, b->function,
		       ret, ms, o->message);
		if (b->or_else && o->call.state == b->or_else->state &&
		    o->call.reason == b->or_else->reason) {
			b = b->or_else;
			TH_LOG("(as a CPU that checks does it)");
		}

		detail = b->random_port ? b->detail | port : b->detail;
		rip = 0;
		if (b->label) {
			char sym[64];

			snprintf(sym, sizeof(sym), "hostile2_at_%s", b->label);
			rip = elf_symbol(GUEST_DIR "/hostile2.elf", sym);
			EXPECT_NE(0, rip) {
				TH_LOG("no symbol %s", sym);
			}
			rip += b->rip_offset;
		}
		expand(want, sizeof(want), b->message, o->call.id, rip, port);

		EXPECT_EQ(b->err, ret);
		EXPECT_EQ(ret, o->error);
		EXPECT_EQ(b->state, o->call.state);
		EXPECT_EQ(b->reason, o->call.reason);
		if (b->state == ABORTED)
			EXPECT_EQ(detail, o->call.detail);
		EXPECT_TRUE(o->call.flags & CALLBOX_CALL_GUEST_RAN);
		EXPECT_EQ(b->poisons, !!(o->call.flags & CALLBOX_CALL_POISONED));
		EXPECT_STREQ(want, o->message);
		EXPECT_STREQ(want, callbox_sandbox_last_error(sb));
		if (!b->err && !ret) {
			EXPECT_EQ(CALLBOX_WIRE_I64, r.type);
			EXPECT_EQ(b->result, r.i64);
		}
		callbox_value_free(&r);

		if (b->poisons) {
			EXPECT_EQ(-ENOTRECOVERABLE,
				  callbox_call_int(sb, "ok", NULL, 0, &ok));
			EXPECT_STREQ(POISONED_MESSAGE,
				     callbox_sandbox_last_error(sb));
		} else if (!b->needs_reset) {
			EXPECT_EQ(0, callbox_call_int(sb, "ok", NULL, 0, &ok)) {
				TH_LOG("%s, no reset: %s", b->function,
				       callbox_sandbox_last_error(sb));
			}
			EXPECT_EQ(7, ok);
		}
		/* Whatever happened, a reset brings the sandbox back. */
		ASSERT_EQ(0, reset_after(_metadata, sb, b)) {
			TH_LOG("%s: reset: %s", b->function,
			       callbox_sandbox_last_error(sb));
		}
		ASSERT_EQ(0, callbox_call_int(sb, "ok", NULL, 0, &ok)) {
			TH_LOG("%s, after the reset: %s", b->function,
			       callbox_sandbox_last_error(sb));
		}
		EXPECT_EQ(7, ok);
	}
	/* The 10,000 host calls all reached the host function. */
	EXPECT_EQ(10000, self->n.transform);
}

TEST_HARNESS_MAIN
