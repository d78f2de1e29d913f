// SPDX-License-Identifier: GPL-2.0
/*
 * Outcomes: what a libcallbox function reports belongs to its caller.
 *
 * - Threads that fail different calls on one sandbox at the same time
 *   each get their own message and the kernel's record of their own call,
 *   from callbox_sandbox_last_error()/_last_outcome() (sync calls) and
 *   from the outcome callbox_call_wait() fills (async calls).
 * - A result is emptied first, so freeing it after any failure is safe.
 * - A deadline that passes with nothing to run or collect is -ETIME
 *   everywhere; -ETIMEDOUT is only a call's own deadline.
 * - Every failure leaves a message that names the problem.
 * - callbox_sandbox_new() says why it failed.
 *
 * The thread tests make the overlap certain rather than likely. The
 * threads start each round together (a barrier); the quick failures wait
 * until the slow ones are under way, and a slow one is held (in its host
 * function, or by holding back the runner) until the quick ones have
 * failed. Each thread checks its outcome right after its call, and again
 * once every thread's call of the round has returned (a second barrier),
 * when any record the threads shared would hold another's failure. The
 * tests time every call and count the rounds in which the calls really
 * were in flight together.
 *
 * The same file is built with -fsanitize=thread against a library
 * compiled with it too (selftests/tsan), where any data race ends the
 * test (see __tsan_default_options() below).
 *
 * callbox_sandbox_new()'s allocation failure is injected: the program is
 * linked with -Wl,--wrap=calloc (see the Makefiles), and __wrap_calloc()
 * below fails the calling thread's Nth calloc() from the moment it is
 * armed.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <callbox/abi.h>
#include <callbox/callbox.h>

#include "callbox_util.h"

#if defined(__SANITIZE_THREAD__)
#define OUTCOME_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define OUTCOME_TSAN 1
#endif
#endif

#ifdef OUTCOME_TSAN
/*
 * Under ThreadSanitizer, the first report ends the process with status 66,
 * which fails the test it happened in: a race is never just a warning.
 */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "halt_on_error=1:exitcode=66:second_deadlock_stack=1";
}
#endif

/* ---- calloc() failure injection (-Wl,--wrap=calloc) ---- */

void *__real_calloc(size_t nmemb, size_t size);
void *__wrap_calloc(size_t nmemb, size_t size);

/* This thread's callocs since the program started, and which one fails. */
static __thread unsigned long calloc_calls;
static __thread unsigned long calloc_fail_at;

void *__wrap_calloc(size_t nmemb, size_t size)
{
	if (++calloc_calls == calloc_fail_at) {
		calloc_fail_at = 0;
		errno = ENOMEM;
		return NULL;
	}
	return __real_calloc(nmemb, size);
}

/* Make this thread's @n-th calloc() from now (1: the next) fail. */
static void calloc_fail_nth(unsigned long n)
{
	calloc_fail_at = calloc_calls + n;
}

/* ---- helpers ---- */

/* One argument, as the array the calls take. */
#define ONE(v) ((struct callbox_wire_value[]){ v })

/*
 * Make the calling thread's last libcallbox function one on no loaded
 * sandbox, so that callbox_sandbox_last_error(sb) is "" for every sb:
 * whatever message it has next, the next function wrote.
 */
static void forget_outcome(void)
{
	struct callbox_sandbox *tmp;

	if (!callbox_sandbox_new(NULL, &tmp))
		callbox_sandbox_free(tmp);
}

static struct callbox_sandbox *load_cfg(struct __test_metadata *_metadata,
					const char *guest,
					const struct callbox_config *cfg)
{
	struct callbox_sandbox *sb;
	char path[128];

	snprintf(path, sizeof(path), GUEST_DIR "/%s.elf", guest);
	ASSERT_EQ(0, callbox_sandbox_new(cfg, &sb));
	ASSERT_EQ(0, callbox_sandbox_load(sb, path)) {
		TH_LOG("load %s: %s", path, callbox_sandbox_last_error(sb));
	}
	return sb;
}

static struct callbox_sandbox *load(struct __test_metadata *_metadata,
				    const char *guest)
{
	return load_cfg(_metadata, guest, NULL);
}

/*
 * A failure, expected: the call returns -@_errno, and the calling thread's
 * message, which was empty before, names the problem (@needle).
 */
#define EXPECT_FAILURE(sb, _errno, needle, expr)                          \
	({                                                                \
		const struct callbox_outcome *__o;                        \
		int __ret;                                                \
		forget_outcome();                                         \
		__ret = (expr);                                           \
		__o = callbox_sandbox_last_outcome(sb);                   \
		EXPECT_EQ(-(_errno), __ret) {                             \
			TH_LOG("%s: %d (%s)", #expr, __ret,               \
			       callbox_sandbox_last_error(sb));           \
		}                                                         \
		EXPECT_NE(NULL, strstr(callbox_sandbox_last_error(sb),    \
				       needle)) {                         \
			TH_LOG("%s: message \"%s\" does not say \"%s\"",  \
			       #expr, callbox_sandbox_last_error(sb),     \
			       needle);                                   \
		}                                                         \
		EXPECT_EQ(__ret, __o->error);                             \
		EXPECT_STREQ(callbox_sandbox_last_error(sb), __o->message); \
		__ret;                                                    \
	})

/* ---- the guest's host functions ---- */

/*
 * The host guest (guest/examples/host.c) calls them: via_host(x) returns
 * transform(x) + 1, greet_twice(s) greeting(greeting(s)), and
 * many_host_calls(n) sums transform(i) for i below n.
 *
 * transform refuses numbers from TAG_BASE up, naming them: the guest then
 * fails its call with the message, which thus names the round. greeting
 * answers a short name with GREETING_SHORT bytes and a longer one with
 * GREETING_LONG: in a sandbox whose output buffers are smaller than that,
 * greet_twice's result does not fit, which the guest's runtime reports
 * as a status of its own (RESULT_TOO_BIG).
 */
#define TAG_BASE	1000000
#define GREETING_SHORT	12000
#define GREETING_LONG	20000
#define OUTPUT_SIZE	(16u << 10)

/*
 * The threads' roles, by the function each calls (or fails to call): a
 * message must name its own and no other.
 */
static const char *const role_function[] = {
	"via_host", "greet_twice", "many_host_calls", "no_such_fn_",
};
#define NR_ROLES (sizeof(role_function) / sizeof(role_function[0]))

/* Shared by the threads of one test. */
struct shared {
	struct callbox_sandbox *sb;
	pthread_barrier_t barrier;
	/* Sync calls that reached a host function, in the order they ran. */
	atomic_uint runs;
	uint64_t base_id;	/* the id of the call before the threads' */
	/* Async: the collectors that have their outcome, this round. */
	atomic_uint collected;
	/* Each role's round + 1 once its call is under way. */
	atomic_uint under_way[NR_ROLES];
	/* Sync: the calls of roles 2 and 3 that have returned, in all. */
	atomic_uint fast_done;
	unsigned int rounds;
};

/* Wait until *@v is at least @value; false if that took 10 s. */
static bool wait_for(atomic_uint *v, unsigned int value)
{
	uint64_t give_up = now_ns() + 10000000000ull;

	while (atomic_load(v) < value) {
		if (now_ns() > give_up)
			return false;
		sched_yield();
	}
	return true;
}

/*
 * The order in which this thread's current sync call ran among all the
 * threads' calls: host functions run in the thread that runs the call,
 * and only one call runs at a time, so the kernel gave the call the id
 * base_id + 1 + call_order.
 */
static __thread long call_order = -1;

/*
 * Sync: a call's first host function holds it until the calls of roles 2
 * and 3 of its round have returned (fast_done reached this), so that
 * they fail while both guest calls are under way: one in its host
 * function, the other waiting for its turn. 0: no holding.
 */
static __thread unsigned int hold_until;
static __thread bool hold_timed_out;

static void note_run(struct shared *sh)
{
	if (!sh || call_order >= 0)
		return;
	call_order = (long)atomic_fetch_add(&sh->runs, 1);
	if (hold_until && !wait_for(&sh->fast_done, hold_until))
		hold_timed_out = true;
}

static int host_transform(struct callbox_sandbox *sb,
			  const struct callbox_wire_value *args,
			  struct callbox_wire_writer *result, void *opaque)
{
	note_run(opaque);
	if (args[0].i64 >= TAG_BASE)
		return callbox_host_fn_fail(sb, -EDOM, "transform refuses %lld",
					    (long long)args[0].i64);
	callbox_wire_put_i64(result, 2 * args[0].i64);
	return 0;
}

static int host_greeting(struct callbox_sandbox *sb,
			 const struct callbox_wire_value *args,
			 struct callbox_wire_writer *result, void *opaque)
{
	size_t len = args[0].len < 100 ? GREETING_SHORT : GREETING_LONG;
	char *text = malloc(len + 1);
	int ret;

	note_run(opaque);
	if (!text)
		return callbox_host_fn_fail(sb, -ENOMEM, "out of memory");
	memset(text, '.', len);
	text[len] = '\0';
	memcpy(text, "hello", 5);
	ret = callbox_wire_put_string(result, text);
	free(text);
	return ret ? callbox_host_fn_fail(sb, -E2BIG, "greeting too long") : 0;
}

/*
 * The host guest, in a sandbox whose input buffers hold a long greeting
 * and whose output buffers do not.
 */
static struct callbox_sandbox *load_host(struct __test_metadata *_metadata,
					 struct shared *sh)
{
	struct callbox_config cfg;
	struct callbox_sandbox *sb;

	callbox_config_init(&cfg);
	cfg.input_size = 32u << 10;
	cfg.output_size = OUTPUT_SIZE;
	ASSERT_EQ(0, callbox_sandbox_new(&cfg, &sb));
	ASSERT_EQ(0, callbox_sandbox_add_host_fn(sb, "transform", "i64(i64)",
						 host_transform, sh));
	ASSERT_EQ(0, callbox_sandbox_add_host_fn(sb, "greeting",
						 "string(string)",
						 host_greeting, sh));
	ASSERT_EQ(0, callbox_sandbox_load(sb, GUEST_DIR "/host.elf")) {
		TH_LOG("load: %s", callbox_sandbox_last_error(sb));
	}
	return sb;
}

/* ---- what a thread expects of its outcome, and the check ---- */

struct expect {
	int ret;
	char needle[2][96];	/* both in the message */
	uint64_t id;		/* the call's id; 0: it made none */
	uint32_t state;		/* of the call, if it made one */
	uint32_t status;	/* if EXITED */
	uint32_t reason;	/* if ABORTED */
};

/*
 * Does outcome @o, of a function that returned @ret, match @e? If not,
 * say why in @why.
 */
static bool outcome_matches(const struct callbox_outcome *o, int ret,
			    const struct expect *e, unsigned int role,
			    char *why, size_t len)
{
	const struct callbox_call_info *c = &o->call;
	unsigned int i;

	if (ret != e->ret || o->error != ret) {
		snprintf(why, len, "returned %d, outcome error %d, expected %d (message \"%s\")",
			 ret, o->error, e->ret, o->message);
		return false;
	}
	for (i = 0; i < 2; i++) {
		if (e->needle[i][0] && !strstr(o->message, e->needle[i])) {
			snprintf(why, len, "message \"%s\" does not say \"%s\"",
				 o->message, e->needle[i]);
			return false;
		}
	}
	for (i = 0; i < NR_ROLES; i++) {
		if (i != role && strstr(o->message, role_function[i])) {
			snprintf(why, len, "message \"%s\" names %s, another thread's function",
				 o->message, role_function[i]);
			return false;
		}
	}
	if (c->id != e->id) {
		snprintf(why, len, "outcome of call %" PRIu64 ", expected call %" PRIu64 " (message \"%s\")",
			 (uint64_t)c->id, e->id, o->message);
		return false;
	}
	if (!e->id) {
		if (c->state || c->status || c->reason || c->flags) {
			snprintf(why, len, "made no call, yet its outcome has a call in state %u",
				 c->state);
			return false;
		}
		return true;
	}
	if (c->state != e->state ||
	    (e->state == CALLBOX_STATE_EXITED && c->status != e->status) ||
	    (e->state == CALLBOX_STATE_ABORTED && c->reason != e->reason)) {
		snprintf(why, len, "call %" PRIu64 " in state %u, status %u, reason %u; expected state %u, status %u, reason %u",
			 (uint64_t)c->id, c->state, c->status, c->reason,
			 e->state, e->status, e->reason);
		return false;
	}
	return true;
}

/* One thread's account: its failures, and when its calls ran. */
struct racer {
	struct shared *sh;
	unsigned int role;
	unsigned int failures;
	char first_failure[768];
	uint64_t *start, *end;	/* per round: before the call, after it */
};

static void racer_fail(struct racer *r, unsigned int round, const char *when,
		       const char *why)
{
	if (!r->failures++)
		snprintf(r->first_failure, sizeof(r->first_failure),
			 "%s, round %u, %s: %s", role_function[r->role], round,
			 when, why);
}

static void racer_check(struct racer *r, unsigned int round, const char *when,
			const struct callbox_outcome *o, int ret,
			const struct expect *e)
{
	char why[640];

	if (!outcome_matches(o, ret, e, r->role, why, sizeof(why)))
		racer_fail(r, round, when, why);
}

/* ---- 1a. sync calls: callbox_sandbox_last_error()/_last_outcome() ---- */

/*
 * Round @round of role @r->role: its own failing call, and what must come
 * of it. Roles 0 and 1 run the guest, which fails the call (a status of
 * its own each); roles 2 and 3 fail before anything runs.
 */
static int sync_call(struct racer *r, unsigned int round, struct expect *e)
{
	struct callbox_sandbox *sb = r->sh->sb;
	struct callbox_wire_value v = { 0 };
	char name[64];
	int64_t args[3] = { 1, 2, 3 }, tag = TAG_BASE + round;
	int ret = 0;

	memset(e, 0, sizeof(*e));
	call_order = -1;
	switch (r->role) {
	case 0:
		ret = callbox_call_int(sb, "via_host", &tag, 1, NULL);
		e->ret = -EREMOTEIO;
		snprintf(e->needle[0], sizeof(e->needle[0]), "via_host: ");
		snprintf(e->needle[1], sizeof(e->needle[1]),
			 "transform refuses %lld", (long long)tag);
		e->state = CALLBOX_STATE_EXITED;
		e->status = CALLBOX_STATUS_FAILED;
		break;
	case 1:
		snprintf(name, sizeof(name), "r%u", round);
		ret = callbox_call(sb, "greet_twice",
				   ONE(CALLBOX_STRING(name)), 1, &v);
		callbox_value_free(&v);
		e->ret = -E2BIG;
		snprintf(e->needle[0], sizeof(e->needle[0]), "greet_twice: ");
		snprintf(e->needle[1], sizeof(e->needle[1]),
			 "does not fit the %u-byte output buffer", OUTPUT_SIZE);
		e->state = CALLBOX_STATE_EXITED;
		e->status = CALLBOX_STATUS_RESULT_TOO_BIG;
		break;
	case 2:
		ret = callbox_call_int(sb, "many_host_calls", args, 3, NULL);
		e->ret = -EINVAL;
		snprintf(e->needle[0], sizeof(e->needle[0]),
			 "many_host_calls: 3 arguments given");
		break;
	case 3:
		snprintf(name, sizeof(name), "no_such_fn_%u", round);
		ret = callbox_call_int(sb, name, NULL, 0, NULL);
		e->ret = -ENOENT;
		snprintf(e->needle[0], sizeof(e->needle[0]), "'%s'", name);
		break;
	}
	/* The call reached its host function as the call_order-th. */
	if (r->role <= 1 && call_order >= 0)
		e->id = r->sh->base_id + 1 + (uint64_t)call_order;
	else if (r->role <= 1)
		e->id = UINT64_MAX;	/* it should have: fail */
	return ret;
}

static void *sync_racer(void *arg)
{
	struct racer *r = arg;
	struct callbox_sandbox *sb = r->sh->sb;
	struct callbox_outcome mine;
	struct expect e;
	unsigned int round;
	int ret;

	for (round = 0; round < r->sh->rounds; round++) {
		pthread_barrier_wait(&r->sh->barrier);
		/*
		 * Roles 0 and 1 start their guest calls; 2 and 3 fail theirs
		 * once both are under way, and before either has returned
		 * (see hold_until).
		 */
		if (r->role >= 2 &&
		    (!wait_for(&r->sh->under_way[0], round + 1) ||
		     !wait_for(&r->sh->under_way[1], round + 1)))
			racer_fail(r, round, "start",
				   "the guest calls did not start in 10 s");
		r->start[round] = now_ns();
		atomic_store(&r->sh->under_way[r->role], round + 1);
		hold_until = r->role < 2 ? 2 * (round + 1) : 0;
		hold_timed_out = false;
		ret = sync_call(r, round, &e);
		r->end[round] = now_ns();
		if (r->role >= 2)
			atomic_fetch_add(&r->sh->fast_done, 1);
		if (hold_timed_out)
			racer_fail(r, round, "host function",
				   "roles 2 and 3 did not fail within 10 s");
		/* At once, while the others' calls may still be ending. */
		mine = *callbox_sandbox_last_outcome(sb);
		racer_check(r, round, "at once", &mine, ret, &e);
		if (strcmp(callbox_sandbox_last_error(sb), mine.message))
			racer_fail(r, round, "at once",
				   "callbox_sandbox_last_error() is not the outcome's message");

		/* Every thread's call of this round has returned. */
		pthread_barrier_wait(&r->sh->barrier);
		racer_check(r, round, "after every thread's call",
			    callbox_sandbox_last_outcome(sb), ret, &e);
		if (strcmp(callbox_sandbox_last_error(sb), mine.message))
			racer_fail(r, round, "after every thread's call",
				   "callbox_sandbox_last_error() changed");
	}
	return NULL;
}

/* Were the calls of threads @a and @b in @round in flight together? */
static bool pair_overlapped(const struct racer *a, const struct racer *b,
			    unsigned int round)
{
	return a->start[round] < b->end[round] &&
	       b->start[round] < a->end[round];
}

/*
 * Was the call of each of the @n threads in @round in flight together
 * with the calls of the first @k of them?
 */
static bool round_overlapped(const struct racer *r, unsigned int n,
			     unsigned int k, unsigned int round)
{
	unsigned int i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < k; j++) {
			if (!pair_overlapped(&r[i], &r[j], round))
				return false;
		}
	}
	return true;
}

#ifndef OUTCOME_ROUNDS
#define OUTCOME_ROUNDS 200
#endif

FIXTURE(threads) {
	struct shared sh;
	struct racer racer[NR_ROLES];
	pthread_t thread[NR_ROLES + 1];
};

FIXTURE_SETUP(threads)
{
	unsigned int i;

	memset(&self->sh, 0, sizeof(self->sh));
	atomic_init(&self->sh.runs, 0);
	atomic_init(&self->sh.collected, 0);
	atomic_init(&self->sh.fast_done, 0);
	self->sh.rounds = OUTCOME_ROUNDS;
	for (i = 0; i < NR_ROLES; i++) {
		atomic_init(&self->sh.under_way[i], 0);
		self->racer[i] = (struct racer) { .sh = &self->sh, .role = i };
		self->racer[i].start = calloc(OUTCOME_ROUNDS, sizeof(uint64_t));
		self->racer[i].end = calloc(OUTCOME_ROUNDS, sizeof(uint64_t));
		ASSERT_NE(NULL, self->racer[i].start);
		ASSERT_NE(NULL, self->racer[i].end);
	}
	self->sh.sb = load_host(_metadata, &self->sh);
}

FIXTURE_TEARDOWN(threads)
{
	unsigned int i;

	callbox_sandbox_free(self->sh.sb);
	for (i = 0; i < NR_ROLES; i++) {
		free(self->racer[i].start);
		free(self->racer[i].end);
	}
}

/*
 * Four threads fail four different calls on one sandbox at the same time,
 * round after round: two in the guest (a failure the guest reports, and a
 * result too big for its buffer), two before anything runs (bad arguments,
 * no such function). Each must read its own message and its own call.
 */
TEST_F_TIMEOUT(threads, sync_failures_are_each_callers_own, 600)
{
	struct shared *sh = &self->sh;
	unsigned int i, round, overlapped = 0;
	int64_t one = 1, r = 0;

	/* A call that works: the threads' calls get the ids after its. */
	ASSERT_EQ(0, callbox_call_int(sh->sb, "via_host", &one, 1, &r)) {
		TH_LOG("%s", callbox_sandbox_last_error(sh->sb));
	}
	ASSERT_EQ(3, r);
	sh->base_id = callbox_sandbox_last_outcome(sh->sb)->call.id;
	ASSERT_NE(0, sh->base_id);
	atomic_store(&sh->runs, 0);

	ASSERT_EQ(0, pthread_barrier_init(&sh->barrier, NULL, NR_ROLES));
	for (i = 0; i < NR_ROLES; i++)
		ASSERT_EQ(0, pthread_create(&self->thread[i], NULL,
					    sync_racer, &self->racer[i]));
	for (i = 0; i < NR_ROLES; i++)
		ASSERT_EQ(0, pthread_join(self->thread[i], NULL));
	pthread_barrier_destroy(&sh->barrier);

	for (i = 0; i < NR_ROLES; i++) {
		EXPECT_EQ(0, self->racer[i].failures) {
			TH_LOG("%u failures; the first: %s",
			       self->racer[i].failures,
			       self->racer[i].first_failure);
		}
	}
	/* Both guest calls of every round ran, one after the other. */
	EXPECT_EQ(2 * sh->rounds, atomic_load(&sh->runs));

	for (round = 0; round < sh->rounds; round++)
		overlapped += round_overlapped(self->racer, NR_ROLES, 2, round);
	TH_LOG("%u rounds; in %u, every call was in flight together with both guest calls",
	       sh->rounds, overlapped);
	/* By construction (see sync_racer()), in every round. */
	EXPECT_EQ(sh->rounds, overlapped);
}

/* ---- 1b. async calls: the outcome callbox_call_wait() fills ---- */

/*
 * A round: each collector submits its own call (or none), then a runner
 * runs them while the collectors wait for them, and each checks the
 * outcome its wait filled. Collector 0's call fails in the guest,
 * 1's is cancelled before it runs, 2's deadline has passed when it is
 * submitted, 3 waits for a call that does not exist.
 */
struct collector {
	struct racer r;
	uint64_t id;
	struct expect e;
};

static void async_submit(struct collector *c, unsigned int round)
{
	struct callbox_sandbox *sb = c->r.sh->sb;
	struct expect *e = &c->e;
	int64_t tag = TAG_BASE + round;
	char name[64];
	int ret = 0;

	memset(e, 0, sizeof(*e));
	c->id = 0;
	switch (c->r.role) {
	case 0:
		ret = callbox_call_submit(sb, "via_host", ONE(CALLBOX_I64(tag)), 1,
					  0, &c->id);
		e->ret = -EREMOTEIO;
		snprintf(e->needle[0], sizeof(e->needle[0]), "via_host: ");
		snprintf(e->needle[1], sizeof(e->needle[1]),
			 "transform refuses %lld", (long long)tag);
		e->state = CALLBOX_STATE_EXITED;
		e->status = CALLBOX_STATUS_FAILED;
		break;
	case 1:
		snprintf(name, sizeof(name), "r%u", round);
		ret = callbox_call_submit(sb, "greet_twice",
					  ONE(CALLBOX_STRING(name)), 1, 0, &c->id);
		if (!ret && callbox_call_cancel(sb, c->id))
			racer_fail(&c->r, round, "cancel",
				   callbox_sandbox_last_error(sb));
		e->ret = -ECANCELED;
		snprintf(e->needle[0], sizeof(e->needle[0]),
			 "greet_twice: call %" PRIu64 " cancelled", c->id);
		e->state = CALLBOX_STATE_ABORTED;
		e->reason = CALLBOX_ABORT_CANCELLED;
		break;
	case 2:
		/* A deadline long past: the call ends at once, never run. */
		ret = callbox_call_submit(sb, "many_host_calls",
					  ONE(CALLBOX_I64(5)), 1, 1, &c->id);
		e->ret = -ETIMEDOUT;
		snprintf(e->needle[0], sizeof(e->needle[0]),
			 "many_host_calls: call %" PRIu64 " deadline passed",
			 c->id);
		e->state = CALLBOX_STATE_ABORTED;
		e->reason = CALLBOX_ABORT_DEADLINE;
		break;
	case 3:
		/* No such call: ids are never this high here. */
		c->id = (1ull << 40) + round;
		e->ret = -ENOENT;
		snprintf(e->needle[0], sizeof(e->needle[0]),
			 "call %" PRIu64 ": ", c->id);
		return;
	}
	if (ret)
		racer_fail(&c->r, round, "submit",
			   callbox_sandbox_last_error(sb));
	e->id = c->id;
}

static void *async_collector(void *arg)
{
	struct collector *c = arg;
	struct shared *sh = c->r.sh;
	struct callbox_wire_value v = { 0 };
	struct callbox_outcome mine;
	unsigned int round;
	int ret;

	for (round = 0; round < sh->rounds; round++) {
		pthread_barrier_wait(&sh->barrier);
		async_submit(c, round);
		pthread_barrier_wait(&sh->barrier);	/* all submitted */

		/* The others wait, and fail, while collector 0 waits. */
		if (c->r.role && !wait_for(&sh->under_way[0], round + 1))
			racer_fail(&c->r, round, "start",
				   "collector 0 did not start waiting in 10 s");
		c->r.start[round] = now_ns();
		if (!c->r.role)
			atomic_store(&sh->under_way[0], round + 1);
		memset(&mine, 0xa5, sizeof(mine));
		ret = callbox_call_wait(sh->sb, c->id, 0, &v, &mine);
		c->r.end[round] = now_ns();
		atomic_fetch_add(&sh->collected, 1);
		callbox_value_free(&v);
		racer_check(&c->r, round, "wait's outcome", &mine, ret,
			    &c->e);
		racer_check(&c->r, round, "at once",
			    callbox_sandbox_last_outcome(sh->sb), ret, &c->e);

		/* Every wait of this round has returned, and the runner. */
		pthread_barrier_wait(&sh->barrier);
		racer_check(&c->r, round, "after every thread's wait",
			    callbox_sandbox_last_outcome(sh->sb), ret, &c->e);
		if (strcmp(callbox_sandbox_last_error(sh->sb), mine.message))
			racer_fail(&c->r, round, "after every thread's wait",
				   "callbox_sandbox_last_error() is not the message of this thread's wait");
	}
	return NULL;
}

struct runner {
	struct shared *sh;
	unsigned int failures;
	char first_failure[512];
};

/*
 * Runs the round's calls until every collector has its outcome. How many
 * it runs varies: a call that ended before its turn (cancelled, past its
 * deadline) is run only if its collector has not collected it yet. In
 * even rounds, it starts only once collectors 1 to 3 have theirs, so that
 * they all fail while collector 0's wait is certainly under way; in odd
 * ones, at once, so that it also meets calls that ended before their
 * turn, while their collectors collect them.
 */
static void *async_runner(void *arg)
{
	struct runner *run = arg;
	struct shared *sh = run->sh;
	unsigned int round;
	int ret;

	for (round = 0; round < sh->rounds; round++) {
		pthread_barrier_wait(&sh->barrier);
		pthread_barrier_wait(&sh->barrier);	/* all submitted */
		if (!(round % 2) && !wait_for(&sh->collected, NR_ROLES - 1) &&
		    !run->failures++)
			snprintf(run->first_failure, sizeof(run->first_failure),
				 "round %u: collectors 1 to 3 did not fail in 10 s",
				 round);
		while (atomic_load(&sh->collected) < NR_ROLES) {
			ret = callbox_call_run(sh->sb,
					       callbox_deadline_after(2000000));
			if (ret && ret != -ETIME && !run->failures++)
				snprintf(run->first_failure,
					 sizeof(run->first_failure),
					 "round %u: %d: %s", round, ret,
					 callbox_sandbox_last_error(sh->sb));
		}
		pthread_barrier_wait(&sh->barrier);
		/* Before anyone can reach the next round's wait. */
		atomic_store(&sh->collected, 0);
	}
	return NULL;
}

TEST_F_TIMEOUT(threads, async_outcomes_are_each_waiters_own, 600)
{
	struct shared *sh = &self->sh;
	struct collector c[NR_ROLES];
	struct runner run = { .sh = sh };
	unsigned int i, round, overlapped = 0;

	ASSERT_EQ(0, pthread_barrier_init(&sh->barrier, NULL, NR_ROLES + 1));
	for (i = 0; i < NR_ROLES; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].r = self->racer[i];
		ASSERT_EQ(0, pthread_create(&self->thread[i], NULL,
					    async_collector, &c[i]));
	}
	ASSERT_EQ(0, pthread_create(&self->thread[NR_ROLES], NULL,
				    async_runner, &run));
	for (i = 0; i <= NR_ROLES; i++)
		ASSERT_EQ(0, pthread_join(self->thread[i], NULL));
	pthread_barrier_destroy(&sh->barrier);

	for (i = 0; i < NR_ROLES; i++) {
		EXPECT_EQ(0, c[i].r.failures) {
			TH_LOG("%u failures; the first: %s", c[i].r.failures,
			       c[i].r.first_failure);
		}
	}
	EXPECT_EQ(0, run.failures) {
		TH_LOG("runner: %u failures; the first: %s", run.failures,
		       run.first_failure);
	}
	for (round = 0; round < sh->rounds; round++) {
		struct racer r[NR_ROLES];

		for (i = 0; i < NR_ROLES; i++)
			r[i] = c[i].r;
		overlapped += round_overlapped(r, NR_ROLES, 1, round);
	}
	TH_LOG("%u rounds; in %u, every wait was in flight together with collector 0's",
	       sh->rounds, overlapped);
	/* By construction (see async_runner()), in the even rounds at least. */
	EXPECT_LE((sh->rounds + 1) / 2, overlapped);
}

/* ---- 2. a result is emptied first ---- */

/* The way the call fails; it gets the result to fill. */
typedef int (*fail_fn)(struct __test_metadata *_metadata,
		       struct callbox_sandbox *sb,
		       struct callbox_wire_value *result);

static int fail_unknown_function(struct __test_metadata *_metadata,
				 struct callbox_sandbox *sb,
				 struct callbox_wire_value *result)
{
	(void)_metadata;
	return callbox_call(sb, "no_such_function", ONE(CALLBOX_STRING("x")), 1,
			    result);
}

static int fail_bad_args(struct __test_metadata *_metadata,
			 struct callbox_sandbox *sb,
			 struct callbox_wire_value *result)
{
	(void)_metadata;
	return callbox_call(sb, "reverse", ONE(CALLBOX_I64(1)), 1, result);
}

/* repeat() refuses a result longer than any buffer, with callbox_fail(). */
static int fail_in_guest(struct __test_metadata *_metadata,
			 struct callbox_sandbox *sb,
			 struct callbox_wire_value *result)
{
	struct callbox_wire_value args[2] = {
		CALLBOX_STRING("ab"), CALLBOX_U32(0xffffffff),
	};

	(void)_metadata;
	return callbox_call(sb, "repeat", args, 2, result);
}

/* spin() never returns: the variant's call timeout ends it. */
static int fail_call_timeout(struct __test_metadata *_metadata,
			     struct callbox_sandbox *sb,
			     struct callbox_wire_value *result)
{
	(void)_metadata;
	return callbox_call(sb, "spin", NULL, 0, result);
}

static int submit_reverse(struct __test_metadata *_metadata,
			  struct callbox_sandbox *sb, uint64_t deadline,
			  uint64_t *id)
{
	int ret = callbox_call_submit(sb, "reverse", ONE(CALLBOX_STRING("abc")), 1,
				      deadline, id);

	EXPECT_EQ(0, ret) {
		TH_LOG("submit: %s", callbox_sandbox_last_error(sb));
	}
	return ret;
}

static int fail_cancelled(struct __test_metadata *_metadata,
			  struct callbox_sandbox *sb,
			  struct callbox_wire_value *result)
{
	uint64_t id;

	if (submit_reverse(_metadata, sb, 0, &id))
		return 0;
	EXPECT_EQ(0, callbox_call_cancel(sb, id));
	return callbox_call_wait(sb, id, 0, result, NULL);
}

static int fail_deadline(struct __test_metadata *_metadata,
			 struct callbox_sandbox *sb,
			 struct callbox_wire_value *result)
{
	uint64_t id;

	if (submit_reverse(_metadata, sb, 1, &id))
		return 0;
	return callbox_call_wait(sb, id, 0, result, NULL);
}

/* The wait's own deadline passes: the call is still queued. */
static int fail_wait_deadline(struct __test_metadata *_metadata,
			      struct callbox_sandbox *sb,
			      struct callbox_wire_value *result)
{
	struct callbox_wire_value v;
	uint64_t id;
	int ret;

	if (submit_reverse(_metadata, sb, 0, &id))
		return 0;
	ret = callbox_call_wait(sb, id, callbox_deadline_after(10000000),
				result, NULL);
	/* Collect it, so the sandbox is clean for the next variant. */
	EXPECT_EQ(0, callbox_call_cancel(sb, id));
	EXPECT_EQ(-ECANCELED, callbox_call_wait(sb, id, 0, &v, NULL));
	return ret;
}

static int fail_unknown_id(struct __test_metadata *_metadata,
			   struct callbox_sandbox *sb,
			   struct callbox_wire_value *result)
{
	(void)_metadata;
	return callbox_call_wait(sb, 424242, 0, result, NULL);
}

FIXTURE(result) {
	struct callbox_sandbox *sb;
};

FIXTURE_VARIANT(result) {
	fail_fn fail;
	int ret;
	const char *guest;
	uint64_t call_timeout_ns;
};

FIXTURE_VARIANT_ADD(result, unknown_function) {
	fail_unknown_function, -ENOENT, "strings", 0,
};

FIXTURE_VARIANT_ADD(result, bad_args) {
	fail_bad_args, -EINVAL, "strings", 0,
};

FIXTURE_VARIANT_ADD(result, guest_failure) {
	fail_in_guest, -EREMOTEIO, "strings", 0,
};

/* The config's call timeout stops a guest that would spin forever. */
FIXTURE_VARIANT_ADD(result, call_timeout) {
	fail_call_timeout, -ETIMEDOUT, "spin", 200000000,
};

FIXTURE_VARIANT_ADD(result, cancelled) {
	fail_cancelled, -ECANCELED, "strings", 0,
};

FIXTURE_VARIANT_ADD(result, deadline) {
	fail_deadline, -ETIMEDOUT, "strings", 0,
};

FIXTURE_VARIANT_ADD(result, wait_deadline) {
	fail_wait_deadline, -ETIME, "strings", 0,
};

FIXTURE_VARIANT_ADD(result, unknown_id) {
	fail_unknown_id, -ENOENT, "strings", 0,
};

FIXTURE_SETUP(result)
{
	struct callbox_config cfg;

	callbox_config_init(&cfg);
	cfg.call_timeout_ns = variant->call_timeout_ns;
	self->sb = load_cfg(_metadata, variant->guest, &cfg);
}

FIXTURE_TEARDOWN(result)
{
	callbox_sandbox_free(self->sb);
}

/*
 * A result full of garbage (a STRING whose data pointer is no allocation)
 * is emptied whatever the failure, so callbox_value_free() on it is safe.
 */
TEST_F(result, emptied_on_failure)
{
	struct callbox_wire_value r = {
		.type = CALLBOX_WIRE_STRING,
		.len = 7,
		.data = (const void *)(uintptr_t)0xdeadbeef,
	};
	int ret;

	ret = variant->fail(_metadata, self->sb, &r);
	EXPECT_EQ(variant->ret, ret) {
		TH_LOG("%s", callbox_sandbox_last_error(self->sb));
	}
	EXPECT_EQ(CALLBOX_WIRE_VOID, r.type);
	EXPECT_EQ(0, r.len);
	ASSERT_EQ(NULL, r.data) {
		TH_LOG("the garbage is still there: freeing it would crash");
	}
	callbox_value_free(&r);
	EXPECT_EQ(NULL, r.data);
}

/* callbox_call_int()'s result is 0 after a failure, whatever it held. */
TEST(int_result_zeroed_on_failure)
{
	struct callbox_sandbox *sb = load(_metadata, "strings");
	int64_t r = 0x5555;

	EXPECT_EQ(-ENOENT, callbox_call_int(sb, "no_such_function", NULL, 0,
					    &r));
	EXPECT_EQ(0, r);
	r = 0x5555;
	/* reverse is not all i64. */
	EXPECT_EQ(-EINVAL, callbox_call_int(sb, "reverse", NULL, 0, &r));
	EXPECT_EQ(0, r);
	r = 0x5555;
	/* find(string, string) is i64, but its arguments are not. */
	EXPECT_EQ(-EINVAL, callbox_call_int(sb, "find", NULL, 0, &r));
	EXPECT_EQ(0, r);
	callbox_sandbox_free(sb);
}

/* ---- 3. the same condition, the same errno: -ETIME ---- */

TEST(deadline_with_nothing_is_etime)
{
	struct callbox_sandbox *sb = load(_metadata, "arith");
	struct callbox_wire_value v;
	struct callbox_outcome o;
	uint64_t id;

	/* No call came before the runner's deadline. */
	EXPECT_FAILURE(sb, ETIME, "no call was submitted in time",
		       callbox_call_run(sb, callbox_deadline_after(10000000)));

	/* The waiter's deadline passed before the call ended. */
	ASSERT_EQ(0, callbox_call_submit(sb, "add",
					 (struct callbox_wire_value[]){
						CALLBOX_I64(2), CALLBOX_I64(3) },
					 2, 0, &id));
	EXPECT_FAILURE(sb, ETIME, "has not ended yet",
		       callbox_call_wait(sb, id, callbox_deadline_after(10000000),
					 &v, &o));
	EXPECT_EQ(-ETIME, o.error);
	EXPECT_STREQ(callbox_sandbox_last_error(sb), o.message);

	/* The call goes on, and is collected as usual. */
	ASSERT_EQ(0, callbox_call_run(sb, 0));
	ASSERT_EQ(0, callbox_call_wait(sb, id, 0, &v, &o));
	EXPECT_EQ(5, v.i64);
	EXPECT_EQ(id, o.call.id);
	EXPECT_STREQ("", o.message);

	/* -ETIMEDOUT is only ever a call's own deadline. */
	ASSERT_EQ(0, callbox_call_submit(sb, "add",
					 (struct callbox_wire_value[]){
						CALLBOX_I64(2), CALLBOX_I64(3) },
					 2, 1, &id));
	EXPECT_FAILURE(sb, ETIMEDOUT, "deadline passed",
		       callbox_call_wait(sb, id, 0, &v, &o));
	EXPECT_EQ(CALLBOX_ABORT_DEADLINE, o.call.reason);
	callbox_sandbox_free(sb);
}

/* ---- 4. every failure leaves a message ---- */

static int noop_host_fn(struct callbox_sandbox *sb,
			const struct callbox_wire_value *args,
			struct callbox_wire_writer *result, void *opaque)
{
	(void)sb;
	(void)args;
	(void)result;
	(void)opaque;
	return 0;
}

TEST(host_fn_registration_messages)
{
	struct callbox_sandbox *sb, *loaded;
	char name[80];
	int i;

	ASSERT_EQ(0, callbox_sandbox_new(NULL, &sb));
	EXPECT_FAILURE(sb, EINVAL, "host function name ''",
		       callbox_sandbox_add_host_fn(sb, "", "void()",
						   noop_host_fn, NULL));
	EXPECT_FAILURE(sb, EINVAL, "'two words': byte 3",
		       callbox_sandbox_add_host_fn(sb, "two words", "void()",
						   noop_host_fn, NULL));
	memset(name, 'n', 64);
	name[64] = '\0';
	EXPECT_FAILURE(sb, EINVAL, "is not 1 to 63 bytes long",
		       callbox_sandbox_add_host_fn(sb, name, "void()",
						   noop_host_fn, NULL));
	EXPECT_FAILURE(sb, EINVAL, "host function nofn: no function",
		       callbox_sandbox_add_host_fn(sb, "nofn", "void()", NULL,
						   NULL));
	EXPECT_FAILURE(sb, EINVAL, "host function badsig: ",
		       callbox_sandbox_add_host_fn(sb, "badsig", "i64(",
						   noop_host_fn, NULL));
	EXPECT_FAILURE(sb, EINVAL, "host function badtype: ",
		       callbox_sandbox_add_host_fn(sb, "badtype", "i65()",
						   noop_host_fn, NULL));

	/* The failures registered nothing: up to 256 fit. */
	for (i = 0; i < 256; i++) {
		snprintf(name, sizeof(name), "fn%d", i);
		ASSERT_EQ(0, callbox_sandbox_add_host_fn(sb, name, "void()",
							 noop_host_fn, NULL)) {
			TH_LOG("%s: %s", name, callbox_sandbox_last_error(sb));
		}
		EXPECT_STREQ("", callbox_sandbox_last_error(sb));
	}
	EXPECT_FAILURE(sb, EEXIST, "host function fn7 is registered already",
		       callbox_sandbox_add_host_fn(sb, "fn7", "void()",
						   noop_host_fn, NULL));
	EXPECT_FAILURE(sb, ENOSPC, "host function fn256: 256 are registered",
		       callbox_sandbox_add_host_fn(sb, "fn256", "void()",
						   noop_host_fn, NULL));
	callbox_sandbox_free(sb);

	loaded = load(_metadata, "arith");
	EXPECT_FAILURE(loaded, EBUSY, "late: register host functions before",
		       callbox_sandbox_add_host_fn(loaded, "late", "void()",
						   noop_host_fn, NULL));
	callbox_sandbox_free(loaded);
}

/* A config field out of range, and what the message must say. */
struct bad_config {
	void (*set)(struct callbox_config *cfg);
	const char *message;
};

static void cfg_reserved(struct callbox_config *c)
{
	c->reserved[3] = 1;
}

static void cfg_max_calls(struct callbox_config *c)
{
	c->max_calls = 65;
}

static void cfg_input(struct callbox_config *c)
{
	c->input_size = 5000;
}

static void cfg_output(struct callbox_config *c)
{
	c->output_size = 3;
}

static void cfg_log_level(struct callbox_config *c)
{
	c->log_level = 9;
}

static void cfg_mem(struct callbox_config *c)
{
	c->mem_size = 3ull << 20;	/* not a multiple of 2 MiB */
}

static void cfg_stack(struct callbox_config *c)
{
	c->stack_size = 1000;
}

/* 64 calls' buffers of 64 + 64 KiB: 8 MiB, in 4 MiB of memory. */
static void cfg_io(struct callbox_config *c)
{
	c->max_calls = 64;
	c->input_size = 64u << 10;
	c->output_size = 64u << 10;
}

/* A 3 MiB heap in 4 MiB, beside the image, the stack and the buffers. */
static void cfg_heap(struct callbox_config *c)
{
	c->heap_size = 3ull << 20;
}

TEST(load_messages)
{
	static const struct bad_config bad[] = {
		{ cfg_reserved, "config: reserved field 3 is not zero" },
		{ cfg_max_calls, "config: max_calls 65 is not 1 to 64" },
		{ cfg_input, "config: input buffer size 5000 bytes" },
		{ cfg_output, "config: output buffer size 3 bytes" },
		{ cfg_log_level, "config: log level 9 is not" },
		{ cfg_mem, "config: " },
		{ cfg_stack, "config: " },
		{ cfg_io, "leave no room for the image" },
		{ cfg_heap, "heap does not fit" },
	};
	struct callbox_config cfg;
	struct callbox_sandbox *sb;
	const char *not_elf = "/tmp/outcome_test_not_an_elf";
	unsigned int i;
	int fd;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		callbox_config_init(&cfg);
		bad[i].set(&cfg);
		ASSERT_EQ(0, callbox_sandbox_new(&cfg, &sb));
		EXPECT_FAILURE(sb, EINVAL, bad[i].message,
			       callbox_sandbox_load(sb, GUEST_DIR "/arith.elf"));
		callbox_sandbox_free(sb);
	}

	ASSERT_EQ(0, callbox_sandbox_new(NULL, &sb));
	EXPECT_FAILURE(sb, ENOENT, GUEST_DIR "/no_such_guest.elf",
		       callbox_sandbox_load(sb, GUEST_DIR "/no_such_guest.elf"));
	EXPECT_FAILURE(sb, EINVAL, GUEST_DIR ": not a regular file",
		       callbox_sandbox_load(sb, GUEST_DIR));
	fd = open(not_elf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(13, write(fd, "not an ELF!!\n", 13));
	close(fd);
	EXPECT_FAILURE(sb, ENOEXEC, not_elf, callbox_sandbox_load(sb, not_elf));
	unlink(not_elf);

	/* The failed loads left it empty: a load works, and only one. */
	ASSERT_EQ(0, callbox_sandbox_load(sb, GUEST_DIR "/arith.elf")) {
		TH_LOG("%s", callbox_sandbox_last_error(sb));
	}
	EXPECT_STREQ("", callbox_sandbox_last_error(sb));
	EXPECT_FAILURE(sb, EALREADY, "already loaded",
		       callbox_sandbox_load(sb, GUEST_DIR "/arith.elf"));
	callbox_sandbox_free(sb);
}

/* Every function on a sandbox with no guest loaded. */
TEST(not_loaded_messages)
{
	struct callbox_call_info info;
	struct callbox_sandbox *sb;
	int64_t two[2] = { 1, 2 };
	uint64_t id;

	ASSERT_EQ(0, callbox_sandbox_new(NULL, &sb));
	EXPECT_FAILURE(sb, EBADF, "no guest loaded",
		       callbox_call(sb, "add", NULL, 0, NULL));
	EXPECT_FAILURE(sb, EBADF, "no guest loaded",
		       callbox_call_int(sb, "add", two, 2, NULL));
	EXPECT_FAILURE(sb, EBADF, "no guest loaded",
		       callbox_call_submit(sb, "add", NULL, 0, 0, &id));
	EXPECT_FAILURE(sb, EBADF, "no guest loaded",
		       callbox_sandbox_reset(sb));
	EXPECT_FAILURE(sb, EBADF, "call 5: ",
		       callbox_call_wait(sb, 5, 0, NULL, NULL));
	EXPECT_FAILURE(sb, EBADF, "call 6: ", callbox_call_cancel(sb, 6));
	EXPECT_FAILURE(sb, EBADF, "call 7: ", callbox_call_get(sb, 7, &info));
	EXPECT_FAILURE(sb, ETIME, "no call was submitted in time",
		       callbox_call_run(sb, callbox_deadline_after(1000000)));
	callbox_sandbox_free(sb);
}

/* The calls' own failures, before and after the guest runs. */
TEST(call_messages)
{
	struct callbox_sandbox *sb = load(_metadata, "strings");
	struct callbox_wire_value v, big_arg;
	struct callbox_call_info info;
	int64_t many[33] = { 0 };
	char name[80], *big;
	uint64_t id;

	EXPECT_FAILURE(sb, ENOENT, "no function named 'no_such_function'",
		       callbox_call(sb, "no_such_function", NULL, 0, &v));
	EXPECT_FAILURE(sb, ENOENT, "no function named 'no_such_function'",
		       callbox_call_submit(sb, "no_such_function", NULL, 0, 0,
					   &id));
	EXPECT_FAILURE(sb, EINVAL, "reverse: 0 arguments given",
		       callbox_call(sb, "reverse", NULL, 0, &v));
	EXPECT_FAILURE(sb, EINVAL, "reverse",
		       callbox_call(sb, "reverse", ONE(CALLBOX_I64(1)), 1, &v));
	memset(name, 'f', 70);
	name[70] = '\0';
	EXPECT_FAILURE(sb, EINVAL, "is longer than 63 bytes",
		       callbox_call(sb, name, NULL, 0, &v));
	EXPECT_FAILURE(sb, EINVAL, "callbox_call_int() calls only functions of i64",
		       callbox_call_int(sb, "reverse", NULL, 0, NULL));
	EXPECT_FAILURE(sb, EINVAL, "33 arguments, at most 32",
		       callbox_call_int(sb, "no_such_function", many, 33,
					NULL));

	big = malloc(20000);
	ASSERT_NE(NULL, big);
	memset(big, 'b', 19999);
	big[19999] = '\0';
	big_arg = CALLBOX_STRING(big);
	EXPECT_FAILURE(sb, E2BIG, "reverse: the arguments do not fit",
		       callbox_call(sb, "reverse", &big_arg, 1, &v));
	free(big);

	/* The guest's own failure, in its words. */
	EXPECT_FAILURE(sb, EREMOTEIO, "repeat: a result of",
		       fail_in_guest(_metadata, sb, &v));

	/* Ids: unknown, collected, not ended, ended. */
	EXPECT_FAILURE(sb, ENOENT, "call 424242: ",
		       callbox_call_wait(sb, 424242, 0, &v, NULL));
	EXPECT_FAILURE(sb, ENOENT, "call 424243: ",
		       callbox_call_cancel(sb, 424243));
	EXPECT_FAILURE(sb, ENOENT, "call 424244: ",
		       callbox_call_get(sb, 424244, &info));
	ASSERT_EQ(0, callbox_call_submit(sb, "reverse", ONE(CALLBOX_STRING("ab")),
					 1, 0, &id));
	EXPECT_FAILURE(sb, ETIME, "has not ended yet",
		       callbox_call_wait(sb, id, callbox_deadline_after(1000000),
					 &v, NULL));
	ASSERT_EQ(0, callbox_call_run(sb, 0));
	ASSERT_EQ(0, callbox_call_wait(sb, id, 0, &v, NULL));
	EXPECT_STREQ("ba", (const char *)v.data);
	callbox_value_free(&v);
	snprintf(name, sizeof(name), "call %" PRIu64 ": ", id);
	EXPECT_FAILURE(sb, ESRCH, name, callbox_call_wait(sb, id, 0, &v, NULL));
	snprintf(name, sizeof(name), "call %" PRIu64 " had ended already", id);
	/* Ended and collected: the kernel answers EALREADY. */
	EXPECT_FAILURE(sb, EALREADY, name, callbox_call_cancel(sb, id));

	/* Stopped runners. */
	callbox_call_run_stop(sb);
	EXPECT_FAILURE(sb, ESHUTDOWN, "the runners were stopped",
		       callbox_call_run(sb, 0));
	callbox_sandbox_free(sb);
}

/* Too many calls outstanding, with max_calls 1. */
TEST(too_many_calls_message)
{
	struct callbox_config cfg;
	struct callbox_sandbox *sb;
	int64_t two[2] = { 1, 2 };
	uint64_t id, id2;

	callbox_config_init(&cfg);
	cfg.max_calls = 1;
	sb = load_cfg(_metadata, "arith", &cfg);
	ASSERT_EQ(0, callbox_call_submit(sb, "add",
					 (struct callbox_wire_value[]){
						CALLBOX_I64(1), CALLBOX_I64(2) },
					 2, 0, &id));
	EXPECT_FAILURE(sb, EAGAIN, "add: 1 calls are outstanding already",
		       callbox_call_int(sb, "add", two, 2, NULL));
	EXPECT_FAILURE(sb, EAGAIN, "sub: 1 calls are outstanding already",
		       callbox_call_submit(sb, "sub",
					   (struct callbox_wire_value[]){
						CALLBOX_I64(1), CALLBOX_I64(2) },
					   2, 0, &id2));
	callbox_sandbox_free(sb);
}

/* A crash, then the poisoned sandbox, then the reset. */
TEST(poisoned_messages)
{
	struct callbox_sandbox *sb = load(_metadata, "fault");
	int64_t r;

	EXPECT_FAILURE(sb, EIO, "null_deref: call ",
		       callbox_call_int(sb, "null_deref", NULL, 0, &r));
	EXPECT_FAILURE(sb, ENOTRECOVERABLE, "ok: ",
		       callbox_call_int(sb, "ok", NULL, 0, &r));
	ASSERT_EQ(0, callbox_sandbox_reset(sb));
	EXPECT_STREQ("", callbox_sandbox_last_error(sb));
	EXPECT_EQ(0, callbox_call_int(sb, "ok", NULL, 0, &r));
	EXPECT_EQ(7, r);
	callbox_sandbox_free(sb);
}

/* Past the last export: the lookup's end is a failure with a message too. */
TEST(export_past_end_message)
{
	struct callbox_sandbox *sb = load(_metadata, "arith");
	char buf[128];
	unsigned int n;

	for (n = 0; !callbox_sandbox_export(sb, n, buf, sizeof(buf)); n++)
		EXPECT_STREQ("", callbox_sandbox_last_error(sb));
	EXPECT_LT(0, n);
	EXPECT_FAILURE(sb, ENOENT, "export",
		       callbox_sandbox_export(sb, n, buf, sizeof(buf)));
	callbox_sandbox_free(sb);
}

/* ---- 5. callbox_sandbox_new() says why it failed ---- */

TEST(sandbox_new_out_of_memory)
{
	struct callbox_sandbox *sb = (struct callbox_sandbox *)&sb;
	unsigned long before = calloc_calls;
	int ret;

	calloc_fail_nth(1);
	ret = callbox_sandbox_new(NULL, &sb);
	ASSERT_NE(before, calloc_calls) {
		TH_LOG("callbox_sandbox_new() made no calloc() through __wrap_calloc(): is the test linked with -Wl,--wrap=calloc?");
	}
	EXPECT_EQ(0, calloc_fail_at);	/* the failure was used */
	EXPECT_EQ(-ENOMEM, ret);
	EXPECT_EQ(NULL, sb);
	EXPECT_NE(NULL, strstr(callbox_sandbox_last_error(NULL),
			       "out of memory")) {
		TH_LOG("callbox_sandbox_last_error(NULL): \"%s\"",
		       callbox_sandbox_last_error(NULL));
	}
	EXPECT_EQ(-ENOMEM, callbox_sandbox_last_outcome(NULL)->error);
	if (!ret)
		callbox_sandbox_free(sb);

	/* Memory again: it works, and the message is gone. */
	ASSERT_EQ(0, callbox_sandbox_new(NULL, &sb));
	ASSERT_NE(NULL, sb);
	EXPECT_STREQ("", callbox_sandbox_last_error(NULL));
	EXPECT_EQ(0, callbox_sandbox_last_outcome(NULL)->error);
	callbox_sandbox_free(sb);
}

TEST_HARNESS_MAIN
