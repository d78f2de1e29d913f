// SPDX-License-Identifier: GPL-2.0
/*
 * The racing pairs of the call lifecycle, on a raw guest: cancel against
 * entry and completion, and the deadline against completion. Two sides
 * act on one call at once; whatever the interleaving, both must agree on
 * the outcome. And RESET against the runner's leaving its RUN, right
 * after the call has been consumed: never EBUSY.
 */
#include <sched.h>

#include "callbox_util.h"
#include "starve_util.h"

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

/*
 * ==== RESET right after the call it waited for was consumed ====
 *
 * "RESET never waits for a call: it fails with EBUSY if a call is current
 * (running or parked), or another thread is starting one." Once a WAIT
 * has consumed the call, neither holds, though the runner may not have
 * left its RUN yet: RESET must not fail then (it "may wait for another
 * ioctl that holds the sandbox's run lock without starting a call").
 *
 * The window is from the call's end, which wakes the WAIT, to the
 * runner's leaving its RUN. The test thread runs SCHED_FIFO on the
 * runner's CPU, so under full preemption it preempts the runner at that
 * wakeup, inside the window, nearly every round; under voluntary
 * preemption it rarely gets there. So the test switches the kernel to
 * full preemption where it can (PREEMPT_DYNAMIC's debugfs knob), and puts
 * the old mode back afterwards; without the knob it runs as it is.
 */
#define PREEMPT_MODE	"/sys/kernel/debug/sched/preempt"
#define RESET_ROUNDS	1000
#define RACE_CPU	0

FIXTURE(reset_race) {
	struct box b;
	char preempt_was[32];	/* the mode to put back, "" if unchanged */
	pthread_t runner;
	bool started;
	atomic_bool stop;
};

/*
 * Switch to full preemption. Returns the mode in force before ("?" if
 * the knob cannot be read); @was gets it if the switch was made.
 */
static const char *preempt_full(char *was, size_t len)
{
	static char mode[32];
	char buf[128], *lp, *rp;
	ssize_t n;
	int fd;

	was[0] = '\0';
	strcpy(mode, "?");
	fd = open(PREEMPT_MODE, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return mode;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n > 0) {
		/* "none (voluntary) full": the mode in force is in (). */
		buf[n] = '\0';
		lp = strchr(buf, '(');
		rp = lp ? strchr(lp, ')') : NULL;
		if (rp && rp - lp - 1 < (ssize_t)sizeof(mode)) {
			*rp = '\0';
			strcpy(mode, lp + 1);
		}
	}
	if (strcmp(mode, "?") && strlen(mode) < len &&
	    !lseek(fd, 0, SEEK_SET) && write(fd, "full", 4) == 4)
		strcpy(was, mode);
	close(fd);
	return mode;
}

static void preempt_restore(const char *was)
{
	int fd = open(PREEMPT_MODE, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (write(fd, was, strlen(was)) < 0)
		perror(PREEMPT_MODE);
	close(fd);
}

/* Runs whatever comes, on the test thread's CPU, until shutdown. */
static void *reset_race_runner(void *p)
{
	FIXTURE_DATA(reset_race) *self = p;
	struct callbox_call_info c;

	if (set_self_sched(RACE_CPU, SCHED_OTHER, 0))
		return NULL;
	while (!atomic_load(&self->stop)) {
		if (_call_run(self->b.fd, 0, 0, &c) == -ESHUTDOWN)
			break;
	}
	return NULL;
}

FIXTURE_SETUP(reset_race)
{
	box_open(_metadata, &self->b, raw_guest_counter,
		 sizeof(raw_guest_counter), true);
}

/* Shutdown ends the runner's RUN; the old preemption mode comes back. */
FIXTURE_TEARDOWN(reset_race)
{
	set_self_sched(RACE_CPU, SCHED_OTHER, 0);
	atomic_store(&self->stop, true);
	if (self->b.fd >= 0)
		_sandbox_shutdown(self->b.fd);
	if (self->started)
		EXPECT_EQ(0, join_within(self->runner, 10000));
	if (self->preempt_was[0])
		preempt_restore(self->preempt_was);
	box_close(&self->b);
}

TEST_F_TIMEOUT(reset_race, reset_after_wait_consumed_the_call, 300)
{
	int i, ret, ok = 0, busy = 0;
	struct callbox_call_info c;
	const char *mode;
	uint64_t id, init;

	return_if_setup_skipped();
	mode = preempt_full(self->preempt_was, sizeof(self->preempt_was));
	if (!self->preempt_was[0])
		TH_LOG("cannot switch to full preemption (mode %s): the window is rarely hit",
		       mode);
	ASSERT_EQ(0, pthread_create(&self->runner, NULL, reset_race_runner,
				    self));
	self->started = true;
	ret = set_self_sched(RACE_CPU, SCHED_FIFO, 10);
	if (ret)
		TH_LOG("no SCHED_FIFO (%s): the window is rarely hit",
		       strerror(-ret));

	for (i = 0; i < RESET_ROUNDS; i++) {
		call_submit(self->b.fd, 0, &id);
		call_wait(self->b.fd, id, now_ns() + 10000 * MS, &c);
		ASSERT_EQ(CALLBOX_STATE_EXITED, c.state);

		/* Consumed; nothing is queued, current or starting. */
		ret = _sandbox_reset(self->b.fd, 0, &init);
		if (ret == -EBUSY) {
			if (busy++ < 3)
				TH_LOG("round %d: RESET EBUSY right after call %llu was consumed",
				       i, (unsigned long long)id);
			continue;
		}
		ASSERT_OK("CALLBOX_SANDBOX_RESET", ret);
		ok++;
		call_wait(self->b.fd, init, now_ns() + 10000 * MS, &c);
		ASSERT_EQ(CALLBOX_STATE_EXITED, c.state);
	}
	set_self_sched(RACE_CPU, SCHED_OTHER, 0);
	TH_LOG("preemption %s%s: %d rounds, RESET 0 %d times, EBUSY %d times",
	       self->preempt_was[0] ? "full, was " : "", mode, i, ok, busy);
	EXPECT_EQ(0, busy);
}

TEST_HARNESS_MAIN
