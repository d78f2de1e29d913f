/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the outcome suites share (outcome_test, sync calls;
 * outcome_async_test, async calls): the host guest, whose host functions
 * name the round in a failure and can hold a call back, what a thread
 * expects of its outcome and the check of it, each thread's account of
 * its calls and their timing, and the fixture of the threads.
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
 * Both suites are built with -fsanitize=thread too (selftests/tsan), where
 * any data race ends the test (see __tsan_default_options() below).
 */
#ifndef CALLBOX_OUTCOME_UTIL_H
#define CALLBOX_OUTCOME_UTIL_H

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
 * Not static: the sanitizer's runtime calls it. Each program includes
 * this header once.
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
static inline bool wait_for(atomic_uint *v, unsigned int value)
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

static inline void note_run(struct shared *sh)
{
	if (!sh || call_order >= 0)
		return;
	call_order = (long)atomic_fetch_add(&sh->runs, 1);
	if (hold_until && !wait_for(&sh->fast_done, hold_until))
		hold_timed_out = true;
}

static inline int host_transform(struct callbox_sandbox *sb,
				 const struct callbox_wire_value *args,
				 struct callbox_wire_writer *result,
				 void *opaque)
{
	note_run(opaque);
	if (args[0].i64 >= TAG_BASE)
		return callbox_host_fn_fail(sb, -EDOM, "transform refuses %lld",
					    (long long)args[0].i64);
	callbox_wire_put_i64(result, 2 * args[0].i64);
	return 0;
}

static inline int host_greeting(struct callbox_sandbox *sb,
				const struct callbox_wire_value *args,
				struct callbox_wire_writer *result,
				void *opaque)
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
static inline struct callbox_sandbox *
load_host(struct __test_metadata *_metadata, struct shared *sh)
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
static inline bool outcome_matches(const struct callbox_outcome *o, int ret,
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

static inline void racer_fail(struct racer *r, unsigned int round,
			      const char *when, const char *why)
{
	if (!r->failures++)
		snprintf(r->first_failure, sizeof(r->first_failure),
			 "%s, round %u, %s: %s", role_function[r->role], round,
			 when, why);
}

static inline void racer_check(struct racer *r, unsigned int round,
			       const char *when,
			       const struct callbox_outcome *o, int ret,
			       const struct expect *e)
{
	char why[640];

	if (!outcome_matches(o, ret, e, r->role, why, sizeof(why)))
		racer_fail(r, round, when, why);
}

/* Were the calls of threads @a and @b in @round in flight together? */
static inline bool pair_overlapped(const struct racer *a, const struct racer *b,
				   unsigned int round)
{
	return a->start[round] < b->end[round] &&
	       b->start[round] < a->end[round];
}

/*
 * Was the call of each of the @n threads in @round in flight together
 * with the calls of the first @k of them?
 */
static inline bool round_overlapped(const struct racer *r, unsigned int n,
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

#endif /* CALLBOX_OUTCOME_UTIL_H */
