// SPDX-License-Identifier: GPL-2.0
/*
 * Calls: the CALLBOX_CALL_SYNC ABI on a raw guest, then real guests built
 * with the guest SDK through libcallbox: results, many calls, and every
 * way a guest can end a call badly.
 */
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sys/time.h>

#include <callbox/abi.h>
#include <callbox/callbox.h>

#include "callbox_util.h"

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
		ASSERT_EQ(0, _call_sync(self->sandbox_fd, &c));
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
	ASSERT_EQ(0, _call_sync(self->sandbox_fd, &c));
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);
}

/* Guest memory unmapped behind KVM's back: the call aborts, no oops. */
TEST_F(raw, guest_memory_unmapped)
{
	struct callbox_call_info c;

	ASSERT_EQ(0, munmap(self->guest.mem, RAW_GUEST_MEM_SIZE));
	ASSERT_EQ(0, _call_sync(self->sandbox_fd, &c));
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_NE(CALLBOX_ABORT_NONE, c.reason);
	/* The guest may have run before the fault: the sandbox is gone. */
	call_sync_err(ENOTRECOVERABLE, self->sandbox_fd);
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
		if (_call_sync(r->sandbox_fd, &c) ||
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

static struct callbox_sandbox *load(struct __test_metadata *_metadata,
				    const char *guest)
{
	struct callbox_sandbox *sb;
	char path[128];
	int ret;

	snprintf(path, sizeof(path), GUEST_DIR "/%s.elf", guest);
	sb = callbox_sandbox_new(NULL);
	ASSERT_NE(NULL, sb);
	ret = callbox_sandbox_load(sb, path);
	ASSERT_EQ(0, ret) {
		TH_LOG("load %s: %s", path, callbox_last_error(sb));
	}
	return sb;
}

static int64_t call2(struct callbox_sandbox *sb, const char *fn, int64_t a,
		     int64_t b, int *ret)
{
	int64_t args[2] = { a, b }, result = 0;

	*ret = callbox_call_int(sb, fn, args, 2, &result);
	return result;
}

TEST(guest_returns_values)
{
	struct callbox_sandbox *sb = load(_metadata, "arith");
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
	struct callbox_sandbox *sb = load(_metadata, "arith");
	int64_t seven[7] = { 1, 2, 3, 4, 5, 6, 7 };
	char long_name[100];
	int ret;

	call2(sb, "no_such_function", 1, 2, &ret);
	EXPECT_EQ(-ENOENT, ret);
	EXPECT_NE(NULL, strstr(callbox_last_error(sb), "no_such_function"));

	/*
	 * The wrong number of arguments: the library checks them against
	 * the signature the guest published, and says which function and
	 * what it takes.
	 */
	EXPECT_EQ(-EINVAL, callbox_call_int(sb, "add", NULL, 0, NULL));
	EXPECT_NE(NULL, strstr(callbox_last_error(sb),
			       "add: 0 arguments given, but the function takes 2 (i64 add(i64, i64))")) {
		TH_LOG("%s", callbox_last_error(sb));
	}
	EXPECT_EQ(-EINVAL, callbox_call_int(sb, "add", seven, 7, NULL));
	EXPECT_NE(NULL, strstr(callbox_last_error(sb),
			       "add: 7 arguments given")) {
		TH_LOG("%s", callbox_last_error(sb));
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
	struct callbox_sandbox *sb = load(_metadata, "arith");
	uint64_t first_id;
	int64_t i;
	int ret;

	first_id = callbox_last_call(sb)->id;
	for (i = 0; i < 10000; i++) {
		ASSERT_EQ(i + 1000, call2(sb, "add", i, 1000, &ret));
		ASSERT_EQ(0, ret);
	}
	EXPECT_EQ(first_id + 10000, callbox_last_call(sb)->id);
	callbox_sandbox_free(sb);
}

TEST(many_sandboxes)
{
	enum { N = 16 };
	struct callbox_sandbox *sb[N];
	int i, round, ret;

	for (i = 0; i < N; i++)
		sb[i] = load(_metadata, "arith");
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
	const char *message;	/* in callbox_last_error() */
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
	"bad_port", { 0 }, 0, -EIO, CALLBOX_ABORT_BAD_PORT, 0x3f8, "port 0x3f8",
};

FIXTURE_VARIANT_ADD(bad_guest, port_in) {
	"port_in", { 0 }, 0, -EIO, CALLBOX_ABORT_BAD_PORT, CALLBOX_PORT_DONE,
	"port 0xcb00",
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
	self->sb = load(_metadata, "fault");
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
	c = callbox_last_call(self->sb);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c->state);
	EXPECT_EQ(variant->reason, c->reason);
	EXPECT_EQ(variant->detail, c->detail);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_POISONED, c->flags);
	EXPECT_EQ(0, c->status);
	EXPECT_NE(NULL, strstr(callbox_last_error(self->sb), variant->message));
	TH_LOG("%s: %s", variant->function, callbox_last_error(self->sb));

	/* The guest stopped mid-call: its sandbox refuses further calls. */
	EXPECT_EQ(-ENOTRECOVERABLE,
		  callbox_call_int(self->sb, "ok", NULL, 0, &r));

	/* A fresh sandbox of the same guest works. */
	fresh = load(_metadata, "fault");
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
	struct callbox_sandbox *sb = load(_metadata, "spin");
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
		TH_LOG("%s", callbox_last_error(sb));
	}
	EXPECT_EQ(n, r);
	EXPECT_EQ(CALLBOX_STATE_EXITED, callbox_last_call(sb)->state);
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
	char path[] = GUEST_DIR "/spin.elf";

	callbox_config_init(&cfg);
	cfg.call_timeout_ns = 200 * 1000 * 1000;
	sb = callbox_sandbox_new(&cfg);
	ASSERT_NE(NULL, sb);
	ASSERT_EQ(0, callbox_sandbox_load(sb, path)) {
		TH_LOG("%s", callbox_last_error(sb));
	}

	EXPECT_EQ(-ETIMEDOUT, callbox_call_int(sb, "spin", NULL, 0, NULL));
	c = callbox_last_call(sb);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c->state);
	EXPECT_EQ(CALLBOX_ABORT_DEADLINE, c->reason);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_POISONED, c->flags);
	TH_LOG("%s", callbox_last_error(sb));

	EXPECT_EQ(-ENOTRECOVERABLE,
		  callbox_call_int(sb, "spin_for", &n, 1, &r));
	ASSERT_EQ(0, callbox_sandbox_reset(sb)) {
		TH_LOG("%s", callbox_last_error(sb));
	}
	EXPECT_EQ(0, callbox_call_int(sb, "spin_for", &n, 1, &r));
	EXPECT_EQ(10, r);
	callbox_sandbox_free(sb);
}

/* ---- host functions and async calls through the library ---- */

/*
 * The host functions guest/examples/host.c calls, registered by name:
 * i64 transform(i64) doubles, i64 wait() takes as long as the host likes
 * (until its call is cancelled), string greeting(string) greets.
 */
struct host_state {
	volatile int started;		/* wait() is running */
	volatile int saw_cancel;	/* and learnt its call was cancelled */
};

static int host_transform(struct callbox_sandbox *sb,
			  const struct callbox_wire_value *args,
			  struct callbox_wire_writer *result, void *opaque)
{
	(void)sb;
	(void)opaque;
	callbox_wire_put_i64(result, 2 * args[0].i64);
	return 0;
}

/* A long host function that stops early when its call is cancelled. */
static int host_wait(struct callbox_sandbox *sb,
		     const struct callbox_wire_value *args,
		     struct callbox_wire_writer *result, void *opaque)
{
	struct host_state *st = opaque;
	int i;

	(void)args;
	st->started = 1;
	for (i = 0; i < 10000; i++) {
		if (callbox_host_call_cancelled(sb)) {
			st->saw_cancel = 1;
			return callbox_host_fn_fail(sb, -ECANCELED,
						    "wait: the call was cancelled");
		}
		usleep(1000);
	}
	callbox_wire_put_i64(result, 0);
	return 0;
}

static int host_greeting(struct callbox_sandbox *sb,
			 const struct callbox_wire_value *args,
			 struct callbox_wire_writer *result, void *opaque)
{
	char *text;
	int ret;

	(void)opaque;
	if (asprintf(&text, "hello, %s", (const char *)args[0].data) < 0)
		return callbox_host_fn_fail(sb, -ENOMEM, "out of memory");
	ret = callbox_wire_put_string(result, text);
	free(text);
	return ret ? callbox_host_fn_fail(sb, -E2BIG, "greeting too long") : 0;
}

static void add_host_fns(struct __test_metadata *_metadata,
			 struct callbox_sandbox *sb, struct host_state *st)
{
	ASSERT_EQ(0, callbox_sandbox_add_host_fn(sb, "transform", "i64(i64)",
						 host_transform, NULL));
	ASSERT_EQ(0, callbox_sandbox_add_host_fn(sb, "wait", "i64()",
						 host_wait, st));
	ASSERT_EQ(0, callbox_sandbox_add_host_fn(sb, "greeting",
						 "string(string)",
						 host_greeting, NULL));
}

/* The host guest, with its host functions registered before the load. */
static struct callbox_sandbox *load_host(struct __test_metadata *_metadata,
					 struct host_state *st)
{
	struct callbox_sandbox *sb = callbox_sandbox_new(NULL);

	ASSERT_NE(NULL, sb);
	add_host_fns(_metadata, sb, st);
	ASSERT_EQ(0, callbox_sandbox_load(sb, GUEST_DIR "/host.elf")) {
		TH_LOG("load: %s", callbox_last_error(sb));
	}
	return sb;
}

struct log_capture {
	int n;
	unsigned int level[16];
	char message[16][CALLBOX_LOG_MESSAGE_MAX];
};

static void capture_log(struct callbox_sandbox *sb, unsigned int level,
			const char *message, void *opaque)
{
	struct log_capture *cap = opaque;

	(void)sb;
	if (cap->n < 16) {
		cap->level[cap->n] = level;
		snprintf(cap->message[cap->n], sizeof(cap->message[0]), "%s",
			 message);
	}
	cap->n++;
}

static struct callbox_sandbox *load_logging(struct __test_metadata *_metadata,
					    const char *guest,
					    unsigned int level,
					    struct log_capture *cap)
{
	struct callbox_config cfg;
	struct callbox_sandbox *sb;
	char path[128];

	callbox_config_init(&cfg);
	cfg.log_level = level;
	sb = callbox_sandbox_new(&cfg);
	ASSERT_NE(NULL, sb);
	callbox_sandbox_set_log_fn(sb, capture_log, cap);
	snprintf(path, sizeof(path), GUEST_DIR "/%s.elf", guest);
	ASSERT_EQ(0, callbox_sandbox_load(sb, path)) {
		TH_LOG("%s", callbox_last_error(sb));
	}
	return sb;
}

/* Log levels: what passes the threshold arrives, in order, even from init. */
TEST(guest_logging)
{
	struct log_capture cap = {};
	struct callbox_sandbox *sb;
	int64_t r;

	sb = load_logging(_metadata, "host", CALLBOX_LOG_DEBUG, &cap);
	ASSERT_EQ(1, cap.n);
	EXPECT_EQ(CALLBOX_LOG_INFO, cap.level[0]);
	EXPECT_STREQ("host guest ready", cap.message[0]);

	ASSERT_EQ(0, callbox_call_int(sb, "log_levels", NULL, 0, &r));
	EXPECT_EQ(5, r);
	ASSERT_EQ(5, cap.n);	/* no trace message */
	EXPECT_EQ(CALLBOX_LOG_ERROR, cap.level[1]);
	EXPECT_STREQ("an error", cap.message[1]);
	EXPECT_EQ(CALLBOX_LOG_DEBUG, cap.level[4]);
	EXPECT_STREQ("a debug message", cap.message[4]);
	callbox_sandbox_free(sb);

	/* The default threshold: errors and warnings only. */
	cap = (struct log_capture) {};
	sb = load_logging(_metadata, "host", CALLBOX_LOG_WARN, &cap);
	ASSERT_EQ(0, callbox_call_int(sb, "log_levels", NULL, 0, &r));
	EXPECT_EQ(2, cap.n);
	callbox_sandbox_free(sb);

	/* Off. */
	cap = (struct log_capture) {};
	sb = load_logging(_metadata, "host", 0, &cap);
	ASSERT_EQ(0, callbox_call_int(sb, "log_levels", NULL, 0, &r));
	EXPECT_EQ(0, cap.n);
	callbox_sandbox_free(sb);
}

TEST(guest_logf)
{
	struct log_capture cap = {};
	struct callbox_sandbox *sb;
	int64_t n = -42, r;

	sb = load_logging(_metadata, "host", CALLBOX_LOG_INFO, &cap);
	ASSERT_EQ(0, callbox_call_int(sb, "log_formatted", &n, 1, &r));
	EXPECT_EQ(-42, r);
	ASSERT_EQ(2, cap.n);	/* the init message, then ours */
	EXPECT_STREQ("n = -42, hex 0xffffffffffffffd6, done", cap.message[1]);
	callbox_sandbox_free(sb);
}

/*
 * A guest that allocates until its heap is exhausted gets NULL, a clean
 * error it can handle, and all the memory back when it frees.
 */
TEST(heap_exhaustion)
{
	struct callbox_sandbox *sb = load(_metadata, "fault");
	int64_t block = 4096, r = 0;

	ASSERT_EQ(0, callbox_call_int(sb, "exhaust_heap", &block, 1, &r)) {
		TH_LOG("%s", callbox_last_error(sb));
	}
	/*
	 * The heap is what lies between the image (above 1 MiB) and the
	 * I/O buffers below the stack guard (260 KiB below 4 MiB): 17 pairs
	 * of a 16 KiB input and a 16 KiB output buffer (16 calls and the
	 * host call), 544 KiB. That leaves about 2.19 MiB: 560 blocks.
	 */
	EXPECT_LT(530, r);
	EXPECT_GT(570, r);
	TH_LOG("%lld blocks of 4 KiB", (long long)r);
	/* The guest is healthy afterwards. */
	EXPECT_EQ(0, callbox_call_int(sb, "exhaust_heap", &block, 1, &r));
	callbox_sandbox_free(sb);
}

/* A log record that ignores the rules arrives bounded and printable. */
TEST(hostile_log_record)
{
	struct log_capture cap = {};
	struct callbox_sandbox *sb;
	int64_t r;
	int i;

	sb = load_logging(_metadata, "fault", CALLBOX_LOG_TRACE, &cap);
	ASSERT_EQ(0, callbox_call_int(sb, "hostile_log", NULL, 0, &r));
	EXPECT_EQ(7, r);
	ASSERT_EQ(1, cap.n);	/* level 99 was dropped */
	EXPECT_EQ(CALLBOX_LOG_ERROR, cap.level[0]);
	ASSERT_EQ(CALLBOX_LOG_MESSAGE_MAX - 1, strlen(cap.message[0]));
	for (i = 0; i < CALLBOX_LOG_MESSAGE_MAX - 1; i++)
		ASSERT_EQ(i % 2 ? '?' : 'A', cap.message[0][i]);
	callbox_sandbox_free(sb);
}

TEST(host_calls)
{
	struct callbox_sandbox *sb;
	struct host_state st = {};
	int64_t n, r;

	sb = load_host(_metadata, &st);
	n = 20;
	EXPECT_EQ(0, callbox_call_int(sb, "via_host", &n, 1, &r));
	EXPECT_EQ(41, r);
	n = 100;	/* many host calls nested in one guest call */
	EXPECT_EQ(0, callbox_call_int(sb, "many_host_calls", &n, 1, &r));
	EXPECT_EQ(9900, r);
	EXPECT_EQ(0, callbox_call_int(sb, "via_host", &n, 1, &r));
	EXPECT_EQ(201, r);
	callbox_sandbox_free(sb);
}

/*
 * A string through two host calls nested in one guest call, the second
 * fed the first's result: strings travel both ways, and the guest keeps
 * its copy of the first result although the second reuses the buffer.
 */
TEST(host_call_strings)
{
	struct callbox_sandbox *sb;
	struct callbox_wire_value name = CALLBOX_STRING("world");
	struct callbox_wire_value r = {};
	struct host_state st = {};

	sb = load_host(_metadata, &st);
	ASSERT_EQ(0, callbox_call(sb, "greet_twice", &name, 1, &r)) {
		TH_LOG("%s", callbox_last_error(sb));
	}
	ASSERT_EQ(CALLBOX_WIRE_STRING, r.type);
	EXPECT_STREQ("hello, hello, world", (const char *)r.data);
	EXPECT_EQ(strlen("hello, hello, world"), r.len);
	callbox_value_free(&r);
	callbox_sandbox_free(sb);
}

/* A host function found by the name the guest passes, with its result. */
TEST(host_call_by_name)
{
	struct callbox_sandbox *sb;
	struct callbox_wire_value args[2] = {
		CALLBOX_STRING("transform"), CALLBOX_I64(5),
	};
	struct callbox_wire_value r = {};
	struct host_state st = {};

	sb = load_host(_metadata, &st);
	ASSERT_EQ(0, callbox_call(sb, "try_host", args, 2, &r)) {
		TH_LOG("%s", callbox_last_error(sb));
	}
	ASSERT_EQ(CALLBOX_WIRE_STRING, r.type);
	EXPECT_STREQ("ok i64 10", (const char *)r.data);
	callbox_value_free(&r);
	callbox_sandbox_free(sb);
}

struct lib_runner {
	struct callbox_sandbox *sb;
	int calls;	/* run this many, or until stopped if < 0 */
	int ret;
};

static void *lib_runner(void *p)
{
	struct lib_runner *r = p;
	int i;

	for (i = 0; r->calls < 0 || i < r->calls; i++) {
		r->ret = callbox_run_next(r->sb, 0);
		if (r->ret)
			break;
	}
	return NULL;
}

/* Results stay in their own slots while later calls run. */
TEST(async_results_keep)
{
	struct callbox_sandbox *sb = load(_metadata, "arith");
	struct lib_runner r = { .sb = sb, .calls = 10 };
	struct callbox_call_info info;
	struct callbox_wire_value args[2], res;
	uint64_t ids[10];
	pthread_t t;
	int i;

	for (i = 0; i < 10; i++) {
		args[0] = CALLBOX_I64(i);
		args[1] = CALLBOX_I64(100);
		ASSERT_EQ(0, callbox_call_submit(sb, "add", args, 2, 0,
						 &ids[i]));
	}
	ASSERT_EQ(0, pthread_create(&t, NULL, lib_runner, &r));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, r.ret);
	/* Collect in reverse: each result is its own call's. */
	for (i = 9; i >= 0; i--) {
		ASSERT_EQ(0, callbox_call_wait(sb, ids[i], 0, &res, &info));
		EXPECT_EQ(CALLBOX_WIRE_I64, res.type);
		EXPECT_EQ(100 + i, res.i64);
		EXPECT_EQ(CALLBOX_STATE_EXITED, info.state);
	}
	EXPECT_EQ(-ESRCH, callbox_call_wait(sb, ids[0], 0, &res, NULL));
	callbox_sandbox_free(sb);
}

/* The deadline holds even when no runner ever comes; no result is read. */
TEST(async_deadline_without_runner)
{
	struct callbox_sandbox *sb = load(_metadata, "arith");
	struct callbox_wire_value args[2] = { CALLBOX_I64(1), CALLBOX_I64(2) };
	struct callbox_wire_value res = CALLBOX_I64(12345);
	struct callbox_call_info info;
	uint64_t id;

	ASSERT_EQ(0, callbox_call_submit(sb, "add", args, 2,
					 callbox_deadline_after(20000000),
					 &id));
	EXPECT_EQ(-ETIMEDOUT, callbox_call_wait(sb, id, 0, &res, &info));
	EXPECT_EQ(CALLBOX_ABORT_DEADLINE, info.reason);
	EXPECT_EQ(0, info.flags & CALLBOX_CALL_GUEST_RAN);
	EXPECT_EQ(CALLBOX_WIRE_I64, res.type);
	EXPECT_EQ(12345, res.i64);
	/* A runner now finds nothing to enter, and the guest is healthy. */
	EXPECT_EQ(-ETIMEDOUT, callbox_run_next(sb, callbox_deadline_after(1000000)));
	EXPECT_EQ(0, callbox_call(sb, "add", args, 2, &res));
	EXPECT_EQ(3, res.i64);
	callbox_sandbox_free(sb);
}

TEST(run_stop_wakes_runner)
{
	struct callbox_sandbox *sb = load(_metadata, "arith");
	struct lib_runner r = { .sb = sb, .calls = -1 };
	pthread_t t;

	ASSERT_EQ(0, pthread_create(&t, NULL, lib_runner, &r));
	usleep(50 * 1000);
	callbox_run_stop(sb);
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(-ESHUTDOWN, r.ret);
	callbox_sandbox_free(sb);
}

/*
 * Cancel a call while its host function runs (Hyperlight cannot, its
 * issue #192): the host function learns it and stops early, the call ends
 * ABORTED, and the sandbox recovers with a reset.
 */
TEST_F_TIMEOUT(slow, cancel_during_host_function, 60)
{
	struct callbox_sandbox *sb;
	struct lib_runner r = { .calls = 1 };
	struct callbox_call_info info;
	struct callbox_wire_value v = CALLBOX_I64(12345);
	struct host_state st = {};
	int64_t n = 5, res;
	pthread_t t;
	uint64_t id;
	int i;

	sb = load_host(_metadata, &st);
	r.sb = sb;
	ASSERT_EQ(0, callbox_call_submit(sb, "wait_on_host", NULL, 0, 0, &id));
	ASSERT_EQ(0, pthread_create(&t, NULL, lib_runner, &r));
	for (i = 0; i < 10000 && !st.started; i++)
		usleep(1000);
	ASSERT_TRUE(st.started);

	EXPECT_EQ(0, callbox_call_cancel(sb, id));
	EXPECT_EQ(-ECANCELED, callbox_call_wait(sb, id, 0, &v, &info));
	EXPECT_EQ(12345, v.i64);	/* no result from a cancelled call */
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, r.ret);
	EXPECT_TRUE(st.saw_cancel);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, info.reason);
	EXPECT_TRUE(info.flags & CALLBOX_CALL_GUEST_RAN);

	EXPECT_EQ(-ENOTRECOVERABLE, callbox_call_int(sb, "via_host", &n, 1,
						     &res));
	ASSERT_EQ(0, callbox_sandbox_reset(sb)) {
		TH_LOG("%s", callbox_last_error(sb));
	}
	EXPECT_EQ(0, callbox_call_int(sb, "via_host", &n, 1, &res));
	EXPECT_EQ(11, res);
	callbox_sandbox_free(sb);
}

static int load_cfg(struct callbox_config *cfg, const char *guest,
		    struct callbox_sandbox **sbp)
{
	char path[128];

	snprintf(path, sizeof(path), GUEST_DIR "/%s.elf", guest);
	*sbp = callbox_sandbox_new(cfg);
	return *sbp ? callbox_sandbox_load(*sbp, path) : -ENOMEM;
}

/* Stack and heap sizes are the configuration's, and checked at load. */
TEST(config_sizes)
{
	struct callbox_config cfg;
	struct callbox_sandbox *sb;
	int64_t arg, r = 0;

	/* A 64 KiB stack overflows sooner, and the error says its size. */
	callbox_config_init(&cfg);
	cfg.stack_size = 64 << 10;
	ASSERT_EQ(0, load_cfg(&cfg, "fault", &sb));
	arg = 1000000;
	EXPECT_EQ(-EIO, callbox_call_int(sb, "stack_overflow", &arg, 1, &r));
	EXPECT_NE(NULL, strstr(callbox_last_error(sb), "below the 64 KiB stack"));
	callbox_sandbox_free(sb);

	/* 256 KiB of heap: about 63 blocks of 4 KiB, then NULL. */
	callbox_config_init(&cfg);
	cfg.heap_size = 256 << 10;
	ASSERT_EQ(0, load_cfg(&cfg, "fault", &sb));
	arg = 4096;
	EXPECT_EQ(0, callbox_call_int(sb, "exhaust_heap", &arg, 1, &r));
	EXPECT_LT(55, r);
	EXPECT_GE(64, r);
	callbox_sandbox_free(sb);

	/* Layouts that cannot be: clear errors, no sandbox. */
	callbox_config_init(&cfg);
	cfg.heap_size = 64 << 20;
	EXPECT_EQ(-EINVAL, load_cfg(&cfg, "fault", &sb));
	EXPECT_NE(NULL, strstr(callbox_last_error(sb), "heap does not fit"));
	TH_LOG("%s", callbox_last_error(sb));
	callbox_sandbox_free(sb);

	callbox_config_init(&cfg);
	cfg.stack_size = 3 << 20;
	EXPECT_EQ(-EINVAL, load_cfg(&cfg, "fault", &sb));
	EXPECT_NE(NULL, strstr(callbox_last_error(sb), "stack size"));
	callbox_sandbox_free(sb);
}

TEST(load_errors)
{
	struct callbox_config cfg;
	struct callbox_sandbox *sb;

	sb = callbox_sandbox_new(NULL);
	ASSERT_NE(NULL, sb);
	EXPECT_EQ(-ENOENT, callbox_sandbox_load(sb, "/nonexistent.elf"));
	EXPECT_EQ(-ENOEXEC, callbox_sandbox_load(sb, "/proc/self/status"));
	EXPECT_EQ(-EBADF, callbox_call_int(sb, "add", NULL, 0, NULL));
	callbox_sandbox_free(sb);

	callbox_config_init(&cfg);
	cfg.mem_size = 3 << 20;
	sb = callbox_sandbox_new(&cfg);
	ASSERT_NE(NULL, sb);
	EXPECT_EQ(-EINVAL, callbox_sandbox_load(sb, GUEST_DIR "/arith.elf"));
	EXPECT_NE(NULL, strstr(callbox_last_error(sb), "config"));
	callbox_sandbox_free(sb);

	/* Loading twice into one sandbox. */
	sb = load(_metadata, "arith");
	EXPECT_EQ(-EALREADY, callbox_sandbox_load(sb, GUEST_DIR "/arith.elf"));
	callbox_sandbox_free(sb);
}

TEST_HARNESS_MAIN
