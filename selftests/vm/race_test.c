// SPDX-License-Identifier: GPL-2.0
/*
 * The racing pairs of the call lifecycle, on a raw guest: cancel against
 * entry and completion, and the deadline against completion. Two sides
 * act on one call at once; whatever the interleaving, both must agree on
 * the outcome.
 */
#include "callbox_util.h"

BOX_FIXTURE(life, raw_guest_counter, true)

/* A sync call that must exit; recovers first if the sandbox is poisoned. */
static int check_healthy(int fd, struct raw_guest *g, struct kvm_run *run,
			 bool *poisoned)
{
	struct callbox_call_info c;
	int ret = _call_sync(fd, 0, &c);

	*poisoned = ret == -ENOTRECOVERABLE;
	if (*poisoned) {
		ret = raw_guest_reset(g, run, fd);
		if (!ret)
			ret = _call_sync(fd, 0, &c);
	}
	if (!ret && c.state != CALLBOX_STATE_EXITED)
		ret = -EIO;
	return ret;
}

/*
 * A cancel that wins while the guest runs poisons the sandbox, so the
 * runner recovers after those.
 */
struct race {
	int fd;
	struct raw_guest *guest;
	struct kvm_run *run;
	int iterations;
	pthread_barrier_t start, done;
	uint64_t id;		/* this round's call */
	uint64_t delay_ns;	/* how long the canceller lets the runner go */
	int run_ret, cancel_ret, health;
	bool poisoned;
	struct callbox_call_info c;
};

/*
 * Long-lived threads: a vCPU that changes threads costs KVM a pid switch
 * (and an RCU grace period), which would decide the race by itself.
 */
static void *race_runner(void *p)
{
	struct race *r = p;
	int i;

	for (i = 0; i < r->iterations; i++) {
		pthread_barrier_wait(&r->start);
		r->run_ret = _call_run(r->fd, r->id, 0, &r->c);
		/* Only this thread enters the vCPU, recovery included. */
		r->health = check_healthy(r->fd, r->guest, r->run,
					  &r->poisoned);
		pthread_barrier_wait(&r->done);
	}
	return NULL;
}

static void *race_canceller(void *p)
{
	struct race *r = p;
	uint64_t until;
	int i;

	for (i = 0; i < r->iterations; i++) {
		pthread_barrier_wait(&r->start);
		until = now_ns() + r->delay_ns;
		while (now_ns() < until)
			;
		r->cancel_ret = _call_cancel(r->fd, r->id);
		pthread_barrier_wait(&r->done);
	}
	return NULL;
}

TEST_F_TIMEOUT(life, cancel_vs_entry_and_completion, 300)
{
	int i, won = 0, lost = 0, never_ran = 0, poisoned = 0;
	struct race r = {
		.fd = self->b.fd,
		.guest = &self->b.guest,
		.run = self->b.run,
		.iterations = 1000,
	};
	struct callbox_call_info c;
	pthread_t tr, tc;

	pthread_barrier_init(&r.start, NULL, 3);
	pthread_barrier_init(&r.done, NULL, 3);
	ASSERT_EQ(0, pthread_create(&tr, NULL, race_runner, &r));
	ASSERT_EQ(0, pthread_create(&tc, NULL, race_canceller, &r));

	for (i = 0; i < r.iterations; i++) {
		call_submit(self->b.fd, 0, &r.id);
		/* Sweep the cancel across entry, the guest run and the exit. */
		r.delay_ns = (i % 40) * 10000;
		pthread_barrier_wait(&r.start);
		pthread_barrier_wait(&r.done);
		ASSERT_EQ(0, r.run_ret);
		call_wait(self->b.fd, r.id, 0, &c);

		if (r.cancel_ret == 0) {
			/* The cancel won: both sides say CANCELLED. */
			won++;
			ASSERT_EQ(CALLBOX_STATE_ABORTED, c.state);
			ASSERT_EQ(CALLBOX_ABORT_CANCELLED, c.reason);
			ASSERT_EQ(CALLBOX_ABORT_CANCELLED, r.c.reason);
			if (!(c.flags & CALLBOX_CALL_GUEST_RAN))
				never_ran++;
		} else {
			/* Completion won, and the canceller was told. */
			lost++;
			ASSERT_EQ(-EALREADY, r.cancel_ret);
			ASSERT_EQ(CALLBOX_STATE_EXITED, c.state);
			ASSERT_EQ(CALLBOX_STATE_EXITED, r.c.state);
		}
		ASSERT_EQ(0, r.health);
		poisoned += r.poisoned;
	}
	pthread_join(tr, NULL);
	pthread_join(tc, NULL);
	TH_LOG("cancel won %d (guest never ran %d, poisoned %d), completion won %d",
	       won, never_ran, poisoned, lost);
	/* Both outcomes happened, or the race was not a race. */
	EXPECT_LT(0, won);
	EXPECT_LT(0, lost);
	pthread_barrier_destroy(&r.start);
	pthread_barrier_destroy(&r.done);
}

TEST_F_TIMEOUT(life, deadline_vs_completion, 300)
{
	int i, exited = 0, deadline = 0;
	struct callbox_call_info c;
	bool poisoned;
	uint64_t id;

	for (i = 0; i < 1000; i++) {
		/* A deadline about as far as one call takes under TCG. */
		call_submit(self->b.fd, now_ns() + (i % 50) * 4000, &id);
		call_run(self->b.fd, id, 0, &c);
		call_wait(self->b.fd, id, 0, &c);
		if (c.state == CALLBOX_STATE_EXITED) {
			exited++;
		} else {
			deadline++;
			ASSERT_EQ(CALLBOX_ABORT_DEADLINE, c.reason);
		}
		ASSERT_EQ(0, check_healthy(self->b.fd, &self->b.guest,
					   self->b.run, &poisoned));
	}
	TH_LOG("exited %d, deadline %d", exited, deadline);
}

TEST_HARNESS_MAIN
