// SPDX-License-Identifier: GPL-2.0
/*
 * Outcomes are each caller's own, for sync calls: threads that fail
 * different calls on one sandbox at the same time each get their own
 * message and the kernel's record of their own call, from
 * callbox_sandbox_last_error()/_last_outcome(). outcome_async_test has the
 * same for the outcome callbox_call_wait() fills (async calls). The host
 * guest, the check of an outcome and the threads' fixture are in
 * outcome_util.h, and so is how the tests make the calls overlap.
 *
 * The same file is built with -fsanitize=thread against a library
 * compiled with it too (selftests/tsan), where any data race ends the
 * test (see __tsan_default_options() in outcome_util.h). That a result is
 * emptied on every failure is result_test's concern, and that every
 * failure leaves a message, message_test's.
 */
#include "outcome_util.h"

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

TEST_HARNESS_MAIN
