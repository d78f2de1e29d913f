// SPDX-License-Identifier: GPL-2.0
/*
 * Hyperlight #373's class of bug (a host reading a result the guest never
 * wrote), through the host SDK rather than raw ioctls; see
 * regression_test.c for the original. Each test is named after the door
 * the bug came through, and stays.
 *
 * - host_calls_survive_signals: a host application with an interval timer
 *   (SIGALRM every 300 us, as profilers and runtimes use) calls a guest
 *   function that makes several host calls, 1,000 times. Each host call
 *   is continued with CALLBOX_CALL_RUN; before the fix a signal there made
 *   the restart fail with EBUSY and the next call read the old call's
 *   outcome ("malformed result from the guest: bad magic").
 * - reset_init_*: callbox_sandbox_reset() whose init call is aborted
 *   before it runs: cancelled by another thread, or its deadline passed
 *   while the resetting thread was off the CPU. Before the fix the
 *   sandbox was declared healthy anyway, and the next call ran the
 *   guest's boot code and was reported EXITED. The window between the
 *   init call's publication and its run is hit every time by wrapping the
 *   library's ioctl() (the test links with -Wl,--wrap=ioctl).
 */
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/time.h>

#include <callbox/callbox.h>

#include "sdk_util.h"

/* ---- host_calls_survive_signals ---- */

static atomic_int alarms;

static void on_alarm(int sig)
{
	(void)sig;
	atomic_fetch_add(&alarms, 1);
}

FIXTURE(signals) {};
FIXTURE_SETUP(signals) {}
FIXTURE_TEARDOWN(signals) {}

TEST_F_TIMEOUT(signals, host_calls_survive_signals, 300)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	struct itimerval it = {
		.it_interval = { .tv_usec = 300 },
		.it_value = { .tv_usec = 300 },
	};
	struct itimerval off = { 0 };
	struct callbox_sandbox *sb;
	int i, right = 0, ret;
	int64_t n, result;

	if (access("/dev/callbox", F_OK))
		SKIP(return, "/dev/callbox is missing");
	sb = sandbox_new(NULL);
	ASSERT_EQ(0, callbox_sandbox_add_host_fn(sb, "transform", "i64(i64)",
						 host_double, NULL));
	load_into(sb, "host");

	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	for (i = 0; i < 1000; i++) {
		/* The sum of transform(k) = 2k for k < n: n * (n - 1). */
		n = 3 + i % 5;
		result = -1;
		ret = callbox_call_int(sb, "many_host_calls", &n, 1, &result);
		if (!ret && result == n * (n - 1)) {
			right++;
			continue;
		}
		if (i - right < 5)
			TH_LOG("call %d: %s (result %lld)", i,
			       ret ? callbox_sandbox_last_error(sb) : "wrong result",
			       (long long)result);
	}
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &off, NULL));
	TH_LOG("%d of 1000 calls right, %d alarms", right,
	       atomic_load(&alarms));
	EXPECT_EQ(1000, right);
	/* The timer really interrupted the calls, many times. */
	EXPECT_LT(100, atomic_load(&alarms));
	callbox_sandbox_free(sb);
}

/* ---- reset_init_*: the library's ioctl(), wrapped ---- */

enum interference {
	NONE,
	CANCEL_FROM_ANOTHER_THREAD,
	SLEEP_PAST_THE_DEADLINE,
};

/* The init call's deadline in the sandboxes of these tests. */
#define INIT_TIMEOUT_NS		(200 * 1000 * 1000ull)

static enum interference interfere;
static bool reset_seen;
static int interfered;

static struct {
	pthread_t thread;
	sem_t go, done;
	int fd;
	uint64_t id;
	int ret;
} canceller;

static void *canceller_fn(void *p)
{
	(void)p;
	for (;;) {
		sem_wait(&canceller.go);
		if (!canceller.id)
			return NULL;
		canceller.ret = _call_cancel(canceller.fd, canceller.id);
		sem_post(&canceller.done);
	}
}

int __real_ioctl(int fd, unsigned long request, ...);

/*
 * Every ioctl of libcallbox comes here. The first CALL_RUN after a
 * SANDBOX_RESET is the one that would run the reset's init call: the
 * interference happens just before it, while the call is still QUEUED.
 */
int __wrap_ioctl(int fd, unsigned long request, ...)
{
	struct callbox_call_run *run;
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);

	if (request == CALLBOX_SANDBOX_RESET) {
		reset_seen = true;
	} else if (request == CALLBOX_CALL_RUN && reset_seen) {
		reset_seen = false;
		run = arg;
		switch (interfere) {
		case CANCEL_FROM_ANOTHER_THREAD:
			canceller.fd = fd;
			canceller.id = run->id;
			sem_post(&canceller.go);
			sem_wait(&canceller.done);
			interfered += canceller.ret == 0;
			break;
		case SLEEP_PAST_THE_DEADLINE:
			usleep(INIT_TIMEOUT_NS / 1000 + 100 * 1000);
			interfered++;
			break;
		case NONE:
			break;
		}
	}
	return __real_ioctl(fd, request, arg);
}

FIXTURE(reset_init) {
	struct callbox_sandbox *sb;
};

FIXTURE_VARIANT(reset_init) {
	enum interference how;
	const char *reason;	/* in the failed reset's message */
};

FIXTURE_VARIANT_ADD(reset_init, cancelled) {
	CANCEL_FROM_ANOTHER_THREAD, "cancelled (the guest never ran)",
};

FIXTURE_VARIANT_ADD(reset_init, deadline_passed) {
	SLEEP_PAST_THE_DEADLINE, "deadline passed (the guest never ran)",
};

FIXTURE_SETUP(reset_init)
{
	struct callbox_config cfg;

	if (access("/dev/callbox", F_OK))
		SKIP(return, "/dev/callbox is missing");
	callbox_config_init(&cfg);
	cfg.init_timeout_ns = INIT_TIMEOUT_NS;
	self->sb = load(&cfg, "fault");
	ASSERT_EQ(0, sem_init(&canceller.go, 0, 0));
	ASSERT_EQ(0, sem_init(&canceller.done, 0, 0));
	ASSERT_EQ(0, pthread_create(&canceller.thread, NULL, canceller_fn,
				    NULL));
}

FIXTURE_TEARDOWN(reset_init)
{
	interfere = NONE;
	if (!self->sb)
		return;
	canceller.id = 0;
	sem_post(&canceller.go);
	pthread_join(canceller.thread, NULL);
	callbox_sandbox_free(self->sb);
}

TEST_F_TIMEOUT(reset_init, never_runs_boot_code, 300)
{
	int64_t r;
	int i, ret;

	if (!self->sb)
		return;
	for (i = 0; i < 20; i++) {
		/* A guest fault mid-call poisons the sandbox. */
		ASSERT_EQ(-EIO, callbox_call_int(self->sb, "null_deref", NULL,
						 0, &r));

		/* A reset whose init call is aborted before it runs. */
		interfere = variant->how;
		ret = callbox_sandbox_reset(self->sb);
		interfere = NONE;
		EXPECT_NE(0, ret);
		EXPECT_NE(NULL, strstr(callbox_sandbox_last_error(self->sb),
				       variant->reason)) {
			TH_LOG("reset: %s", callbox_sandbox_last_error(self->sb));
		}

		/*
		 * The guest sits at its boot entry: no call may run there.
		 * Before the fix this returned the boot code's DONE as the
		 * call's result ("malformed result ...: bad magic").
		 */
		r = 0;
		ret = callbox_call_int(self->sb, "ok", NULL, 0, &r);
		ASSERT_EQ(-ENOTRECOVERABLE, ret) {
			TH_LOG("call after the failed reset: %s (result %lld)",
			       ret ? callbox_sandbox_last_error(self->sb) : "ran",
			       (long long)r);
		}

		/* A reset left alone works, and so does the next call. */
		ASSERT_EQ(0, callbox_sandbox_reset(self->sb)) {
			TH_LOG("reset: %s", callbox_sandbox_last_error(self->sb));
		}
		ASSERT_EQ(0, callbox_call_int(self->sb, "ok", NULL, 0, &r)) {
			TH_LOG("%s", callbox_sandbox_last_error(self->sb));
		}
		EXPECT_EQ(7, r);
	}
	EXPECT_EQ(20, interfered);
}

TEST_HARNESS_MAIN
