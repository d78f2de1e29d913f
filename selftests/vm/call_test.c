// SPDX-License-Identifier: GPL-2.0
/*
 * A call and how it ends: the CALLBOX_CALL_SYNC ABI on a raw guest, then
 * real guests built with the guest SDK through libcallbox: results, many
 * calls, and every way a guest can end a call badly; signals do not end
 * a call, the call timeout does.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sys/time.h>

#include <callbox/abi.h>
#include <callbox/callbox.h>

#include "sdk_util.h"

/* ---- the kernel ABI, on a raw guest ---- */

FIXTURE(raw) {
	int dev_fd;
	struct raw_guest guest;
	int sandbox_fd;
};

FIXTURE_SETUP(raw)
{
	self->dev_fd = open_or_skip(_metadata, "/dev/callbox");
	raw_guest_create_ok(&self->guest, raw_guest_counter,
			    sizeof(raw_guest_counter));
	self->sandbox_fd = sandbox_create(self->dev_fd, self->guest.vm.vm_fd,
					  self->guest.vm.vcpu_fd);
}

FIXTURE_TEARDOWN(raw)
{
	close(self->sandbox_fd);
	raw_guest_destroy(&self->guest);
	close(self->dev_fd);
}

TEST_F(raw, call_exits_with_status)
{
	struct callbox_call_info c;
	int i;

	for (i = 1; i <= 3; i++) {
		call_sync(self->sandbox_fd, 0, &c);
		EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
		EXPECT_EQ(CALLBOX_ABORT_NONE, c.reason);
		EXPECT_EQ(CALLBOX_CALL_GUEST_RAN, c.flags);
		EXPECT_EQ((uint32_t)i, c.status);
		EXPECT_EQ((uint64_t)i, c.id);
		EXPECT_EQ(0, c.detail);
		EXPECT_EQ(KVM_EXIT_IO, c.exit_reason);
		EXPECT_EQ(0, c.__reserved);
	}
}

TEST_F(raw, call_abi)
{
	struct callbox_call_sync c = { .size = sizeof(c) };
	struct {
		struct callbox_call_sync c;
		uint64_t zeros;
	} longer = { .c = { .size = sizeof(longer) } };
	struct callbox_call_sync bad_deadline = {
		.size = sizeof(bad_deadline),
		.deadline_ns = 1ull << 63,
	};

	check_ioctl_abi(_metadata, self->sandbox_fd, CALLBOX_CALL_SYNC, &c,
			sizeof(c), offsetof(struct callbox_call_sync, flags), 0);

	/* A deadline past KTIME_MAX is no time at all. */
	EXPECT_EQ(-1, ioctl(self->sandbox_fd, CALLBOX_CALL_SYNC,
			    &bad_deadline));
	EXPECT_EQ(EINVAL, errno);

	/* None of the rejected probes ran a call: the first call is id 1. */
	ASSERT_EQ(0, ioctl(self->sandbox_fd, CALLBOX_CALL_SYNC, &longer));
	EXPECT_EQ(1, longer.c.out.id);
	EXPECT_EQ(1, longer.c.out.status);
	EXPECT_EQ(0, longer.zeros);
}

/* The sandbox holds the vCPU: the KVM fds may be closed after binding. */
TEST_F(raw, kvm_fds_closed)
{
	struct callbox_call_info c;

	raw_vm_destroy(&self->guest.vm);
	call_sync(self->sandbox_fd, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);
}

/* Guest memory unmapped behind KVM's back: the call aborts, no oops. */
TEST_F(raw, guest_memory_unmapped)
{
	struct callbox_call_info c;

	ASSERT_EQ(0, munmap(self->guest.mem, RAW_GUEST_MEM_SIZE));
	call_sync(self->sandbox_fd, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_NE(CALLBOX_ABORT_NONE, c.reason);
	/* Non-zero only if the guest ran; KVM_EXIT_UNKNOWN if KVM_RUN failed. */
	if (!(c.flags & CALLBOX_CALL_GUEST_RAN) ||
	    c.reason == CALLBOX_ABORT_RUN_FAILED)
		EXPECT_EQ(0, c.exit_reason);
	/* The guest may have run before the fault: the sandbox is gone. */
	call_sync_err(ENOTRECOVERABLE, self->sandbox_fd, 0, &c);
	self->guest.mem = MAP_FAILED;
}

struct racer {
	int sandbox_fd;
	int calls;
	uint64_t *ids;
	int failures;
};

static void *racer_thread(void *arg)
{
	struct racer *r = arg;
	struct callbox_call_info c;
	int i;

	for (i = 0; i < r->calls; i++) {
		if (_call_sync(r->sandbox_fd, 0, &c) ||
		    c.state != CALLBOX_STATE_EXITED || c.status != c.id)
			r->failures++;
		r->ids[i] = c.id;
	}
	return NULL;
}

/*
 * Two threads call one sandbox: calls run one at a time, every id is
 * used once, and the guest's own count agrees with the kernel's id.
 */
TEST_F_TIMEOUT(raw, two_threads, 120)
{
	enum { CALLS = 2000 };
	static uint64_t ids[2][CALLS];
	static uint8_t seen[2 * CALLS + 1];
	struct racer r[2];
	pthread_t t[2];
	int i, j;

	for (i = 0; i < 2; i++) {
		r[i] = (struct racer) { self->sandbox_fd, CALLS, ids[i], 0 };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, racer_thread, &r[i]));
	}
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, pthread_join(t[i], NULL));
		EXPECT_EQ(0, r[i].failures);
	}
	for (i = 0; i < 2; i++) {
		for (j = 0; j < CALLS; j++) {
			ASSERT_LT(0, ids[i][j]);
			ASSERT_GE(2 * CALLS, ids[i][j]);
			EXPECT_EQ(0, seen[ids[i][j]]);
			seen[ids[i][j]] = 1;
		}
	}
}

/* ---- real guests through libcallbox ---- */

static int64_t call2(struct callbox_sandbox *sb, const char *fn, int64_t a,
		     int64_t b, int *ret)
{
	int64_t args[2] = { a, b }, result = 0;

	*ret = callbox_call_int(sb, fn, args, 2, &result);
	return result;
}

TEST(guest_returns_values)
{
	struct callbox_sandbox *sb = load(NULL, "arith");
	int64_t six[6] = { 1, 2, 3, 4, 5, 6 }, r;
	int ret;

	EXPECT_EQ(5, call2(sb, "add", 2, 3, &ret));
	EXPECT_EQ(0, ret);
	EXPECT_EQ(-7, call2(sb, "sub", 3, 10, &ret));
	EXPECT_EQ(0, ret);
	EXPECT_EQ(INT64_MIN, call2(sb, "mul", INT64_MIN / 2, 2, &ret));
	EXPECT_EQ(0, ret);
	EXPECT_EQ(0, callbox_call_int(sb, "sum6", six, 6, &r));
	EXPECT_EQ(21, r);
	r = 10;
	EXPECT_EQ(0, callbox_call_int(sb, "fib", &r, 1, &r));
	EXPECT_EQ(55, r);
	EXPECT_EQ(0, callbox_call_int(sb, "noop", NULL, 0, NULL));
	callbox_sandbox_free(sb);
}

TEST(guest_request_errors)
{
	struct callbox_sandbox *sb = load(NULL, "arith");
	int64_t seven[7] = { 1, 2, 3, 4, 5, 6, 7 };
	char long_name[100];
	int ret;

	call2(sb, "no_such_function", 1, 2, &ret);
	EXPECT_EQ(-ENOENT, ret);
	EXPECT_NE(NULL, strstr(callbox_sandbox_last_error(sb), "no_such_function"));

	/*
	 * The wrong number of arguments: the library checks them against
	 * the signature the guest published, and says which function and
	 * what it takes.
	 */
	EXPECT_EQ(-EINVAL, callbox_call_int(sb, "add", NULL, 0, NULL));
	EXPECT_NE(NULL, strstr(callbox_sandbox_last_error(sb),
			       "add: 0 arguments given, but the function takes 2 (i64 add(i64, i64))")) {
		TH_LOG("%s", callbox_sandbox_last_error(sb));
	}
	EXPECT_EQ(-EINVAL, callbox_call_int(sb, "add", seven, 7, NULL));
	EXPECT_NE(NULL, strstr(callbox_sandbox_last_error(sb),
			       "add: 7 arguments given")) {
		TH_LOG("%s", callbox_sandbox_last_error(sb));
	}
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	EXPECT_EQ(-EINVAL, callbox_call_int(sb, long_name, NULL, 0, NULL));

	/* Errors the guest reported did not hurt it. */
	EXPECT_EQ(3, call2(sb, "add", 1, 2, &ret));
	EXPECT_EQ(0, ret);
	callbox_sandbox_free(sb);
}

/* Tests that wait on a guest get more than the default 30 s under TCG. */
FIXTURE(slow) {};
FIXTURE_SETUP(slow) {}
FIXTURE_TEARDOWN(slow) {}

TEST_F_TIMEOUT(slow, ten_thousand_calls, 300)
{
	struct callbox_sandbox *sb = load(NULL, "arith");
	uint64_t first_id;
	int64_t i;
	int ret;

	first_id = callbox_sandbox_last_outcome(sb)->call.id;
	for (i = 0; i < 10000; i++) {
		ASSERT_EQ(i + 1000, call2(sb, "add", i, 1000, &ret));
		ASSERT_EQ(0, ret);
	}
	EXPECT_EQ(first_id + 10000, callbox_sandbox_last_outcome(sb)->call.id);
	callbox_sandbox_free(sb);
}

TEST(many_sandboxes)
{
	enum { N = 16 };
	struct callbox_sandbox *sb[N];
	int i, round, ret;

	for (i = 0; i < N; i++)
		sb[i] = load(NULL, "arith");
	for (round = 0; round < 10; round++) {
		for (i = 0; i < N; i++) {
			ASSERT_EQ(i * round, call2(sb[i], "mul", i, round,
						   &ret));
			ASSERT_EQ(0, ret);
		}
	}
	for (i = 0; i < N; i++)
		callbox_sandbox_free(sb[i]);
}

/* One way for a guest to end a call badly, and what the host must see. */
FIXTURE(bad_guest) {
	struct callbox_sandbox *sb;
};

FIXTURE_VARIANT(bad_guest) {
	const char *function;
	int64_t args[2];	/* the first nargs are passed */
	unsigned int nargs;
	int ret;
	uint32_t reason;
	uint64_t detail;
	const char *message;	/* in callbox_sandbox_last_error() */
};

FIXTURE_VARIANT_ADD(bad_guest, null_deref) {
	"null_deref", { 0 }, 0, -EIO, CALLBOX_ABORT_GUEST_ABORT,
	CALLBOX_GUEST_ABORT_EXCEPTION, "#PF page fault at rip 0x",
};

FIXTURE_VARIANT_ADD(bad_guest, ud2) {
	"ud2", { 0 }, 0, -EIO, CALLBOX_ABORT_GUEST_ABORT,
	CALLBOX_GUEST_ABORT_EXCEPTION, "#UD invalid opcode",
};

FIXTURE_VARIANT_ADD(bad_guest, divide_by_zero) {
	"divide", { 7, 0 }, 2, -EIO, CALLBOX_ABORT_GUEST_ABORT,
	CALLBOX_GUEST_ABORT_EXCEPTION, "#DE divide error",
};

FIXTURE_VARIANT_ADD(bad_guest, stack_overflow) {
	"stack_overflow", { 1000000 }, 1, -EIO, CALLBOX_ABORT_GUEST_ABORT,
	CALLBOX_GUEST_ABORT_EXCEPTION, "stack overflow",
};

/* An exception the guest cannot handle is still caught by the kernel. */
FIXTURE_VARIANT_ADD(bad_guest, triple_fault) {
	"triple_fault", { 0 }, 0, -EIO, CALLBOX_ABORT_SHUTDOWN, 0, "triple fault",
};

FIXTURE_VARIANT_ADD(bad_guest, bad_port) {
	/* A 4-byte OUT to 0x3f8: the detail has the port and the access. */
	"bad_port", { 0 }, 0, -EIO, CALLBOX_ABORT_BAD_PORT,
	0x3f8 | 4 << CALLBOX_BAD_PORT_SIZE_SHIFT,
	"made a 4-byte OUT to I/O port 0x3f8,",
};

FIXTURE_VARIANT_ADD(bad_guest, port_in) {
	"port_in", { 0 }, 0, -EIO, CALLBOX_ABORT_BAD_PORT,
	CALLBOX_PORT_DONE | 4 << CALLBOX_BAD_PORT_SIZE_SHIFT | CALLBOX_BAD_PORT_IN,
	"made a 4-byte IN from I/O port 0xcb00 (DONE),",
};

FIXTURE_VARIANT_ADD(bad_guest, mmio) {
	"mmio", { 0 }, 0, -EIO, CALLBOX_ABORT_MMIO, 0x3fe00000, "0x3fe00000",
};

FIXTURE_VARIANT_ADD(bad_guest, halt) {
	"halt", { 0 }, 0, -EIO, CALLBOX_ABORT_HALT, 0, "HLT",
};

FIXTURE_VARIANT_ADD(bad_guest, abort42) {
	"abort42", { 0 }, 0, -ECONNABORTED, CALLBOX_ABORT_GUEST_ABORT, 42,
	"aborted with code 42",
};

FIXTURE_VARIANT_ADD(bad_guest, double_free) {
	"double_free", { 0 }, 0, -EIO, CALLBOX_ABORT_GUEST_ABORT,
	CALLBOX_GUEST_ABORT_HEAP, "heap is corrupted: ",
};

/* A guest's message arrives, with anything unprintable made harmless. */
FIXTURE_VARIANT_ADD(bad_guest, abort_message) {
	"abort_msg", { 0 }, 0, -ECONNABORTED, CALLBOX_ABORT_GUEST_ABORT, 7,
	"code 7; its message: input out of range??",
};

FIXTURE_SETUP(bad_guest)
{
	self->sb = load(NULL, "fault");
}

FIXTURE_TEARDOWN(bad_guest)
{
	callbox_sandbox_free(self->sb);
}

TEST_F(bad_guest, aborts_and_poisons)
{
	const struct callbox_call_info *c;
	struct callbox_sandbox *fresh;
	int64_t r = 0;

	/* A healthy call first, in the same guest. */
	ASSERT_EQ(0, callbox_call_int(self->sb, "ok", NULL, 0, &r));
	ASSERT_EQ(7, r);

	EXPECT_EQ(variant->ret,
		  callbox_call_int(self->sb, variant->function, variant->args,
				   variant->nargs, &r));
	c = &callbox_sandbox_last_outcome(self->sb)->call;
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c->state);
	EXPECT_EQ(variant->reason, c->reason);
	EXPECT_EQ(variant->detail, c->detail);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_POISONED, c->flags);
	EXPECT_EQ(0, c->status);
	EXPECT_NE(NULL, strstr(callbox_sandbox_last_error(self->sb), variant->message));
	TH_LOG("%s: %s", variant->function, callbox_sandbox_last_error(self->sb));

	/* The guest stopped mid-call: its sandbox refuses further calls. */
	EXPECT_EQ(-ENOTRECOVERABLE,
		  callbox_call_int(self->sb, "ok", NULL, 0, &r));

	/* A fresh sandbox of the same guest works. */
	fresh = load(NULL, "fault");
	EXPECT_EQ(0, callbox_call_int(fresh, "ok", NULL, 0, &r));
	EXPECT_EQ(7, r);
	callbox_sandbox_free(fresh);
}

static volatile int alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/*
 * Signals do not abort calls: a call interrupted by one continues after
 * the handler, and ends with its real result.
 */
TEST_F_TIMEOUT(slow, signals_do_not_abort, 120)
{
	struct callbox_sandbox *sb = load(NULL, "spin");
	struct itimerval it = {
		.it_value = { .tv_usec = 1000 },
		.it_interval = { .tv_usec = 1000 },
	};
	struct sigaction sa = { .sa_handler = on_alarm };
	int64_t n = 3000000, r = 0;
	int ret;

	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	alarms = 0;
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	ret = callbox_call_int(sb, "spin_for", &n, 1, &r);
	it = (struct itimerval) {};
	setitimer(ITIMER_REAL, &it, NULL);
	EXPECT_EQ(0, ret) {
		TH_LOG("%s", callbox_sandbox_last_error(sb));
	}
	EXPECT_EQ(n, r);
	EXPECT_EQ(CALLBOX_STATE_EXITED,
		  callbox_sandbox_last_outcome(sb)->call.state);
	/* The call must really have been interrupted for this to count. */
	EXPECT_LT(0, alarms);
	TH_LOG("%d signals during the call", alarms);
	callbox_sandbox_free(sb);
}

/*
 * The call timeout stops a guest that would spin forever, in the kernel;
 * the sandbox is then poisoned until reset, and works after it.
 */
TEST_F_TIMEOUT(slow, timeout_stops_spin_then_reset, 60)
{
	struct callbox_config cfg;
	struct callbox_sandbox *sb;
	const struct callbox_call_info *c;
	int64_t n = 10, r = 0;

	callbox_config_init(&cfg);
	cfg.call_timeout_ns = 200 * 1000 * 1000;
	sb = load(&cfg, "spin");

	EXPECT_EQ(-ETIMEDOUT, callbox_call_int(sb, "spin", NULL, 0, NULL));
	c = &callbox_sandbox_last_outcome(sb)->call;
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c->state);
	EXPECT_EQ(CALLBOX_ABORT_DEADLINE, c->reason);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_POISONED, c->flags);
	TH_LOG("%s", callbox_sandbox_last_error(sb));

	EXPECT_EQ(-ENOTRECOVERABLE,
		  callbox_call_int(sb, "spin_for", &n, 1, &r));
	ASSERT_EQ(0, callbox_sandbox_reset(sb)) {
		TH_LOG("%s", callbox_sandbox_last_error(sb));
	}
	EXPECT_EQ(0, callbox_call_int(sb, "spin_for", &n, 1, &r));
	EXPECT_EQ(10, r);
	callbox_sandbox_free(sb);
}

/*
 * The guest's init has a limit of its own: a call timeout shorter than
 * any init (1 ns) does not fail the load, and still limits the calls.
 */
TEST(init_is_not_limited_by_the_call_timeout)
{
	struct callbox_config cfg;
	struct callbox_sandbox *sb;
	int64_t args[2] = { 2, 3 }, r;

	callbox_config_init(&cfg);
	cfg.call_timeout_ns = 1;
	sb = load(&cfg, "arith");
	EXPECT_EQ(-ETIMEDOUT, callbox_call_int(sb, "add", args, 2, &r));
	EXPECT_ERROR(sb, "deadline passed");
	callbox_sandbox_free(sb);
}

/* An init that never ends fails the load at config.init_timeout_ns. */
TEST(init_timeout_stops_an_init_that_never_ends)
{
	struct callbox_config cfg;
	struct callbox_sandbox *sb;
	uint64_t start, ms;

	callbox_config_init(&cfg);
	EXPECT_EQ(CALLBOX_DEFAULT_INIT_TIMEOUT_NS, cfg.init_timeout_ns);
	cfg.init_timeout_ns = 300 * MS;
	sb = sandbox_new(&cfg);
	start = now_ns();
	EXPECT_EQ(-ETIMEDOUT, _load_into(sb, "init_spin"));
	ms = (now_ns() - start) / MS;
	TH_LOG("%s (after %" PRIu64 " ms)", callbox_sandbox_last_error(sb), ms);
	EXPECT_ERROR(sb, "guest init: call ");
	EXPECT_ERROR(sb, " deadline passed (the guest had started, and had not finished)");
	EXPECT_LE(300, ms);
	callbox_sandbox_free(sb);
}

TEST_HARNESS_MAIN
