// SPDX-License-Identifier: GPL-2.0
/*
 * Outcomes are each caller's own: threads that fail different calls on
 * one sandbox at the same time each get their own message and the
 * kernel's record of their own call, from callbox_sandbox_last_error()/
 * _last_outcome() (sync calls) and from the outcome callbox_call_wait()
 * fills (async calls).
 *
 * The tests make the overlap certain rather than likely. The threads
 * start each round together (a barrier); the quick failures wait until
 * the slow ones are under way, and a slow one is held (in its host
 * function, or by holding back the runner) until the quick ones have
 * failed. Each thread checks its outcome right after its call, and again
 * once every thread's call of the round has returned (a second barrier),
 * when any record the threads shared would hold another's failure. The
 * tests time every call and count the rounds in which the calls really
 * were in flight together.
 *
 * The same file is built with -fsanitize=thread against a library
 * compiled with it too (selftests/tsan), where any data race ends the
 * test (see __tsan_default_options() below). That a result is emptied on
 * every failure is result_test's concern, and that every failure leaves
 * a message, message_test's.
 */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <callbox/abi.h>
#include <callbox/callbox.h>

#include "sdk_util.h"

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
	sb = sandbox_new(&cfg);
	ASSERT_EQ(0, callbox_sandbox_add_host_fn(sb, "transform", "i64(i64)",
						 host_transform, sh));
	ASSERT_EQ(0, callbox_sandbox_add_host_fn(sb, "greeting",
						 "string(string)",
						 host_greeting, sh));
	load_into(sb, "host");
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

/* ---- sync calls: callbox_sandbox_last_error()/_last_outcome() ---- */

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

/* ---- async calls: the outcome callbox_call_wait() fills ---- */

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

TEST_HARNESS_MAIN
