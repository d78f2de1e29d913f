// SPDX-License-Identifier: GPL-2.0
/*
 * Outcomes are each waiter's own, for async calls: threads that wait at
 * the same time for calls on one sandbox that end in different failures
 * each get their own message and the kernel's record of their own call,
 * in the outcome callbox_call_wait() fills, and from
 * callbox_sandbox_last_error()/_last_outcome(). outcome_test has the same
 * for sync calls. The host guest, the check of an outcome and the
 * threads' fixture are in outcome_util.h, and so is how the tests make
 * the calls overlap.
 *
 * The same file is built with -fsanitize=thread against a library
 * compiled with it too (selftests/tsan), where any data race ends the
 * test (see __tsan_default_options() in outcome_util.h).
 */
#include "outcome_util.h"

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
