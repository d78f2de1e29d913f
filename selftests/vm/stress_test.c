// SPDX-License-Identifier: GPL-2.0
/*
 * Stress: over 100,000 calls on one sandbox, from two submitter threads,
 * run by one runner thread, while a canceller thread cancels recent calls
 * at random and the calls carry random deadlines (none, already past, or
 * a few hundred microseconds ahead). Every race between completion,
 * cancellation, deadline and consumption gets hit many times.
 *
 * The threads only record what they saw; the test thread checks it all
 * afterwards, call by call, against the promises of the ABI:
 *
 * - every call reaches exactly one terminal state, which WAIT returns
 *   once (a second WAIT gives ESRCH);
 * - a status is read only from an EXITED call, and it is exactly the
 *   count the guest reported for it to the runner;
 * - EXITED implies CALLBOX_CALL_GUEST_RAN; an ABORTED call the guest
 *   never ran for was never entered by the runner;
 * - a CANCEL that returned 0 is the final reason CANCELLED, and a call
 *   whose every CANCEL returned EALREADY is not CANCELLED;
 * - a deadline already past aborts at submission; a call without one is
 *   never aborted for one;
 * - an abort in the middle of guest code poisons the sandbox, and only
 *   then: the next RUN fails with ENOTRECOVERABLE until the runner
 *   restores the guest and resets the sandbox;
 * - submitted == exited + aborted (by reason), and the guest's own count
 *   at the end agrees with the calls the kernel said it completed.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include <callbox/callbox.h>

#include "callbox_util.h"

#define SUBMITTERS		2
#define CALLS_PER_SUBMITTER	50000
/*
 * Calls a submitter keeps in flight. Two of them can ask for more than
 * CALLBOX_MAX_CALLS, so SUBMIT does hit EAGAIN; one alone cannot, so a
 * submitter always holds a call it can wait for when that happens.
 */
#define WINDOW			40
/* The canceller picks among the last CANCEL_SPAN ids, running ones too. */
#define CANCEL_SPAN		100
/* ... and sometimes sleeps up to this long between cancellations. */
#define CANCEL_PAUSE_NS		20000
/* A deadline "ahead" is this far from submission, plus up to as much. */
#define DEADLINE_AHEAD_NS	300000
#define MAX_LOGGED		10
/* No call takes this long to end: a WAIT that does has lost a wakeup. */
#define WAIT_LIMIT_NS		30000000000ull

enum deadline_kind { DEADLINE_NONE, DEADLINE_PAST, DEADLINE_AHEAD };

/*
 * Everything seen about one call, indexed by id. Each field is written by
 * one thread only (the submitter that owns the call, the runner, or the
 * canceller) and read after all of them are joined.
 */
struct call_rec {
	/* the submitter */
	uint8_t submitted;
	uint8_t deadline;	/* enum deadline_kind */
	uint8_t waited;		/* successful WAITs */
	uint8_t rewait_ok;	/* the second WAIT gave ESRCH */
	struct callbox_call_info out;
	/* the runner */
	uint8_t runs;		/* RUN outcomes for this call */
	uint8_t run_state;
	uint8_t run_flags;
	uint32_t run_status;
	/* the runner's resets: an init call, and how it ended */
	uint8_t init;
	uint8_t init_state;
	/* the canceller */
	uint16_t cancel_won;
	uint16_t cancel_lost;	/* EALREADY */
	uint16_t cancel_other;
};

struct stress {
	int sandbox_fd;
	struct raw_guest *guest;
	struct kvm_run *run;
	struct call_rec *recs;
	uint64_t nr_recs;
	_Atomic uint64_t latest_id;	/* highest id a SUBMIT returned */
	atomic_bool submitters_done;
	_Atomic uint64_t exit_id;	/* the runner leaves after this id */
};

struct runner {
	struct stress *s;
	pthread_t thread;
	bool started;
	int error;
	uint64_t runs;
	uint64_t exited;
	uint64_t never_entered;	/* ended before RUN could enter it */
	uint64_t withheld;	/* guest reached DONE, cancellation won */
	uint64_t poisoned;
	uint64_t resets;
	uint64_t violations;
	/* Guest completions since its last restore: its eax. */
	uint32_t count;
};

struct submitter {
	struct stress *s;
	pthread_t thread;
	bool started;
	unsigned int seed;
	int error;
	uint64_t eagain;
	uint64_t ring[WINDOW];
	unsigned int head, nr;
};

struct canceller {
	struct stress *s;
	pthread_t thread;
	bool started;
	unsigned int seed;
	uint64_t tries;
};

/*
 * Recover the poisoned sandbox as raw_guest_reset() does, noting which ids
 * were init calls: the canceller may cancel those too, and each one that
 * does not exit leaves the sandbox poisoned, so try again.
 */
static int runner_reset(struct stress *s)
{
	int tries;

	for (tries = 0; tries < 100; tries++) {
		struct callbox_call_info out;
		uint64_t id = 0;
		int ret;

		ret = raw_guest_rewind(s->guest, s->run, s->sandbox_fd, &id);
		if (ret)
			return ret;
		if (id >= s->nr_recs)
			return -ERANGE;
		s->recs[id].init = 1;
		ret = _call_run(s->sandbox_fd, id, 0, &out);
		if (!ret)
			ret = _call_wait(s->sandbox_fd, id, 0, &out);
		if (ret)
			return ret;
		s->recs[id].init_state = out.state;
		if (out.state == CALLBOX_STATE_EXITED)
			return 0;
	}
	return -EPROTO;
}

static void *runner_thread(void *arg)
{
	struct runner *r = arg;
	struct stress *s = r->s;
	struct callbox_call_info out;
	bool poison_seen = false;
	struct call_rec *rec;
	int ret;

	for (;;) {
		ret = _call_run(s->sandbox_fd, 0, 0, &out);
		if (ret == -ENOTRECOVERABLE) {
			/* Only an outcome that said so may poison. */
			if (!poison_seen)
				r->violations++;
			ret = runner_reset(s);
			if (ret) {
				r->error = ret;
				break;
			}
			r->resets++;
			r->count = 0;
			poison_seen = false;
			continue;
		}
		if (ret == -ESHUTDOWN)	/* teardown closed the sandbox */
			break;
		if (ret) {
			r->error = ret;
			break;
		}
		/* A call ran, or ended, while the sandbox was poisoned. */
		if (poison_seen)
			r->violations++;
		r->runs++;
		if (out.id >= s->nr_recs) {
			r->violations++;
			continue;
		}
		rec = &s->recs[out.id];
		rec->runs++;
		rec->run_state = out.state;
		rec->run_flags = out.flags;

		switch (out.state) {
		case CALLBOX_STATE_EXITED:
			/* Calls run one at a time: the count is exact. */
			r->exited++;
			r->count++;
			rec->run_status = out.status;
			if (out.status != r->count)
				r->violations++;
			break;
		case CALLBOX_STATE_ABORTED:
			if (!(out.flags & CALLBOX_CALL_GUEST_RAN)) {
				r->never_entered++;
			} else if (out.exit_reason == KVM_EXIT_IO) {
				/*
				 * The counter guest's only I/O is its DONE:
				 * it completed the call (and counted it),
				 * but the cancellation had already won.
				 */
				r->withheld++;
				r->count++;
			} else {
				r->poisoned++;
				poison_seen = true;
			}
			break;
		default:
			r->violations++;
		}
		if (out.id >= atomic_load(&s->exit_id))
			break;
	}
	return NULL;
}

/* Wait for the oldest call of this submitter, and record what it was. */
static int submitter_wait_oldest(struct submitter *sub)
{
	struct stress *s = sub->s;
	struct callbox_call_info again;
	uint64_t id = sub->ring[sub->head];
	struct call_rec *rec = &s->recs[id];
	int ret;

	ret = _call_wait(s->sandbox_fd, id, now_ns() + WAIT_LIMIT_NS,
			 &rec->out);
	if (ret)
		return ret;
	rec->waited++;
	/* Consumed: the id is gone for good. */
	ret = _call_wait(s->sandbox_fd, id, 0, &again);
	rec->rewait_ok = ret == -ESRCH;
	sub->head = (sub->head + 1) % WINDOW;
	sub->nr--;
	return 0;
}

static void publish_latest(struct stress *s, uint64_t id)
{
	uint64_t latest = atomic_load(&s->latest_id);

	while (latest < id &&
	       !atomic_compare_exchange_weak(&s->latest_id, &latest, id))
		;
}

static void *submitter_thread(void *arg)
{
	struct submitter *sub = arg;
	struct stress *s = sub->s;
	uint64_t deadline, id;
	enum deadline_kind kind;
	int i, ret = 0;

	for (i = 0; i < CALLS_PER_SUBMITTER; i++) {
		kind = rand_r(&sub->seed) % 3;
		switch (kind) {
		case DEADLINE_NONE:
			deadline = 0;
			break;
		case DEADLINE_PAST:
			deadline = 1;
			break;
		default:
			deadline = now_ns() + DEADLINE_AHEAD_NS +
				   rand_r(&sub->seed) % DEADLINE_AHEAD_NS;
		}
		for (;;) {
			ret = _call_submit(s->sandbox_fd, deadline, &id);
			if (ret != -EAGAIN)
				break;
			sub->eagain++;
			/* Full: make room by consuming our oldest call. */
			if (!sub->nr)
				break;
			ret = submitter_wait_oldest(sub);
			if (ret)
				break;
		}
		if (ret)
			break;
		if (id >= s->nr_recs) {
			ret = -ERANGE;
			break;
		}
		s->recs[id].submitted++;
		s->recs[id].deadline = kind;
		publish_latest(s, id);
		sub->ring[(sub->head + sub->nr) % WINDOW] = id;
		sub->nr++;
		if (sub->nr == WINDOW) {
			ret = submitter_wait_oldest(sub);
			if (ret)
				break;
		}
	}
	while (!ret && sub->nr)
		ret = submitter_wait_oldest(sub);
	sub->error = ret;
	return NULL;
}

static void *canceller_thread(void *arg)
{
	struct canceller *c = arg;
	struct stress *s = c->s;
	struct timespec pause = { 0 };
	uint64_t latest, back, id;
	struct call_rec *rec;
	int ret;

	while (!atomic_load(&s->submitters_done)) {
		latest = atomic_load(&s->latest_id);
		back = rand_r(&c->seed) % CANCEL_SPAN;
		if (back >= latest) {
			sched_yield();
			continue;
		}
		id = latest - back;
		rec = &s->recs[id];
		c->tries++;
		ret = _call_cancel(s->sandbox_fd, id);
		if (!ret)
			rec->cancel_won++;
		else if (ret == -EALREADY)
			rec->cancel_lost++;
		else
			rec->cancel_other++;
		/*
		 * Mostly just yield, so cancellations come fast enough to
		 * hit running calls often; now and then sleep, so they also
		 * come at moments the other threads do not expect.
		 */
		if (rand_r(&c->seed) % 8) {
			sched_yield();
			continue;
		}
		pause.tv_nsec = rand_r(&c->seed) % CANCEL_PAUSE_NS;
		nanosleep(&pause, NULL);
	}
	return NULL;
}

FIXTURE(stress) {
	struct box b;
	struct stress s;
	struct runner runner;
	struct submitter sub[SUBMITTERS];
	struct canceller canceller;
	bool ready;
};

FIXTURE_SETUP(stress)
{
	/* The runner flushes the vCPU's last exit through kvm_run. */
	box_open(_metadata, &self->b, raw_guest_counter,
		 sizeof(raw_guest_counter), true);
	self->s.sandbox_fd = self->b.fd;
	self->s.guest = &self->b.guest;
	self->s.run = self->b.run;
	/*
	 * Every call: the submitted ones, the last one and the sync one;
	 * every call may poison, and each reset's init call takes an id.
	 */
	self->s.nr_recs = 2 * SUBMITTERS * CALLS_PER_SUBMITTER + 3;
	atomic_store(&self->s.exit_id, UINT64_MAX);
	self->s.recs = calloc(self->s.nr_recs, sizeof(*self->s.recs));
	ASSERT_NE(NULL, self->s.recs);
	self->ready = true;
}

FIXTURE_TEARDOWN(stress)
{
	int i;

	/*
	 * After a failed assertion threads may still run: shutting the
	 * sandbox down ends every call and wakes every waiter and runner.
	 */
	atomic_store(&self->s.submitters_done, true);
	if (self->b.fd >= 0)
		_sandbox_shutdown(self->b.fd);
	for (i = 0; i < SUBMITTERS; i++)
		if (self->sub[i].started)
			pthread_join(self->sub[i].thread, NULL);
	if (self->canceller.started)
		pthread_join(self->canceller.thread, NULL);
	if (self->runner.started)
		pthread_join(self->runner.thread, NULL);
	free(self->s.recs);
	box_close(&self->b);
}

struct tally {
	uint64_t submitted;
	uint64_t exited;
	uint64_t aborted[CALLBOX_ABORT_SANDBOX_CLOSED + 1];
	/* ... of which after the guest had started */
	uint64_t aborted_ran[CALLBOX_ABORT_SANDBOX_CLOSED + 1];
	uint64_t nr_aborted_ran;
	uint64_t cancels_won;
	uint64_t cancels_lost;
	uint64_t init_calls;	/* of the runner's resets */
	uint64_t violations;
};

#define violation(t, id, fmt, ...)                                      \
	do {                                                            \
		if ((t)->violations++ < MAX_LOGGED)                     \
			TH_LOG("call %llu: " fmt,                       \
			       (unsigned long long)(id), ##__VA_ARGS__); \
	} while (0)

#define check(t, id, cond)                                              \
	do {                                                            \
		if (!(cond))                                            \
			violation(t, id, "%s", #cond);                  \
	} while (0)

/* Everything that must hold for one call, from all the threads' records. */
static void check_call(struct __test_metadata *_metadata, struct tally *t,
		       uint64_t id, const struct call_rec *rec)
{
	const struct callbox_call_info *c = &rec->out;
	bool ran = c->flags & CALLBOX_CALL_GUEST_RAN;

	/* A reset's init call: it exited, or the canceller ended it. */
	if (rec->init) {
		check(t, id, !rec->submitted && !rec->waited && !rec->runs);
		check(t, id, rec->init_state == CALLBOX_STATE_EXITED ||
			     (rec->init_state == CALLBOX_STATE_ABORTED &&
			      rec->cancel_won == 1));
		t->init_calls++;
		return;
	}
	check(t, id, rec->submitted == 1);
	check(t, id, rec->waited == 1);
	check(t, id, rec->rewait_ok);
	check(t, id, c->id == id);
	check(t, id, !(c->flags & CALLBOX_CALL_CANCEL_PENDING));
	check(t, id, rec->cancel_other == 0);
	check(t, id, rec->cancel_won <= 1);
	t->submitted++;
	t->cancels_won += rec->cancel_won;
	t->cancels_lost += rec->cancel_lost;

	/* The kernel's CANCELLED and the canceller's 0 are one decision. */
	if (rec->cancel_won)
		check(t, id, c->state == CALLBOX_STATE_ABORTED &&
			     c->reason == CALLBOX_ABORT_CANCELLED);
	else
		check(t, id, c->reason != CALLBOX_ABORT_CANCELLED);

	switch (rec->deadline) {
	case DEADLINE_NONE:
		check(t, id, c->reason != CALLBOX_ABORT_DEADLINE);
		break;
	case DEADLINE_PAST:
		/* Aborted inside SUBMIT: nothing could ever reach it. */
		check(t, id, c->state == CALLBOX_STATE_ABORTED &&
			     c->reason == CALLBOX_ABORT_DEADLINE && !ran &&
			     !rec->runs && !rec->cancel_won);
		break;
	}

	switch (c->state) {
	case CALLBOX_STATE_EXITED:
		t->exited++;
		check(t, id, c->reason == CALLBOX_ABORT_NONE);
		check(t, id, c->flags == CALLBOX_CALL_GUEST_RAN);
		check(t, id, c->exit_reason == KVM_EXIT_IO);
		/* The result is the one the guest gave the runner. */
		if (rec->runs != 1 || rec->run_state != CALLBOX_STATE_EXITED ||
		    rec->run_status != c->status || !c->status)
			violation(t, id, "EXITED with status %u; the runner saw %u runs, state %u, status %u",
				  c->status, rec->runs, rec->run_state,
				  rec->run_status);
		break;
	case CALLBOX_STATE_ABORTED:
		check(t, id, c->reason == CALLBOX_ABORT_CANCELLED ||
			     c->reason == CALLBOX_ABORT_DEADLINE);
		if (c->reason < ARRAY_SIZE(t->aborted))
			t->aborted[c->reason]++;
		check(t, id, !c->status);
		if (ran) {
			if (c->reason < ARRAY_SIZE(t->aborted_ran))
				t->aborted_ran[c->reason]++;
			t->nr_aborted_ran++;
			check(t, id, rec->runs == 1 &&
				     rec->run_state == CALLBOX_STATE_ABORTED &&
				     (rec->run_flags &
				      CALLBOX_CALL_GUEST_RAN));
		} else {
			/* RUN may return a call that ended as it took it. */
			check(t, id, rec->runs == 0 ||
				     (rec->runs == 1 &&
				      rec->run_state == CALLBOX_STATE_ABORTED &&
				      !(rec->run_flags &
					CALLBOX_CALL_GUEST_RAN)));
		}
		break;
	default:
		violation(t, id, "ended in state %u", c->state);
	}
}

TEST_F_TIMEOUT(stress, submit_run_wait_cancel, 300)
{
	struct stress *s = &self->s;
	struct runner *r = &self->runner;
	struct callbox_call_info c;
	uint64_t start, elapsed, id, last, aborted = 0;
	struct tally t = { 0 };
	int i;

	/* The 6.1 harness runs the body even after a SKIP in the setup. */
	if (!self->ready)
		return;

	*r = (struct runner) { .s = s };
	ASSERT_EQ(0, pthread_create(&r->thread, NULL, runner_thread, r));
	r->started = true;

	start = now_ns();
	for (i = 0; i < SUBMITTERS; i++) {
		self->sub[i] = (struct submitter) { .s = s, .seed = 1 + i };
		ASSERT_EQ(0, pthread_create(&self->sub[i].thread, NULL,
					    submitter_thread, &self->sub[i]));
		self->sub[i].started = true;
	}
	self->canceller = (struct canceller) { .s = s, .seed = 42 };
	ASSERT_EQ(0, pthread_create(&self->canceller.thread, NULL,
				    canceller_thread, &self->canceller));
	self->canceller.started = true;

	for (i = 0; i < SUBMITTERS; i++) {
		ASSERT_EQ(0, pthread_join(self->sub[i].thread, NULL));
		self->sub[i].started = false;
		EXPECT_EQ(0, self->sub[i].error) {
			TH_LOG("submitter %d: %s", i,
			       strerror(-self->sub[i].error));
		}
	}
	atomic_store(&s->submitters_done, true);
	ASSERT_EQ(0, pthread_join(self->canceller.thread, NULL));
	self->canceller.started = false;
	/* A runner that gave up explains every submitter's timeout. */
	ASSERT_EQ(0, r->error) {
		TH_LOG("runner: %s, after %llu runs and %llu resets",
		       strerror(-r->error), (unsigned long long)r->runs,
		       (unsigned long long)r->resets);
	}

	/*
	 * One last call makes the runner leave. Every earlier call has been
	 * consumed, so its id is above them all (a reset's init call may
	 * take one in between, but the runner runs those inside
	 * raw_guest_reset()): the runner cannot miss it.
	 */
	last = atomic_load(&s->latest_id) + 1;
	atomic_store(&s->exit_id, last);
	call_submit(s->sandbox_fd, 0, &id);
	ASSERT_LE(last, id);
	last = id;
	s->recs[id].submitted++;
	call_wait(s->sandbox_fd, id, now_ns() + WAIT_LIMIT_NS,
		  &s->recs[id].out);
	s->recs[id].waited++;
	s->recs[id].rewait_ok =
		_call_wait(s->sandbox_fd, id, 0, &c) == -ESRCH;
	EXPECT_EQ(CALLBOX_STATE_EXITED, s->recs[id].out.state);
	ASSERT_EQ(0, pthread_join(r->thread, NULL));
	r->started = false;
	elapsed = now_ns() - start;
	ASSERT_EQ(0, r->error) {
		TH_LOG("runner: %s", strerror(-r->error));
	}

	/*
	 * The guest's own count: the calls it completed since the runner
	 * last restored it, which the runner learned from the kernel's
	 * outcomes alone. A call that ran behind the kernel's back would
	 * make it bigger.
	 */
	call_sync(s->sandbox_fd, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_LT(last, c.id);
	EXPECT_EQ(r->count + 1, c.status);

	for (id = 1; id <= last; id++)
		check_call(_metadata, &t, id, &s->recs[id]);
	for (i = 0; i < (int)ARRAY_SIZE(t.aborted); i++)
		aborted += t.aborted[i];

	TH_LOG("%llu calls in %.1f s: %.0f calls/s",
	       (unsigned long long)t.submitted, elapsed / 1e9,
	       t.submitted / (elapsed / 1e9));
	TH_LOG("exited %llu; aborted: cancelled %llu (%llu after the guest started), deadline %llu (%llu after the guest started)",
	       (unsigned long long)t.exited,
	       (unsigned long long)t.aborted[CALLBOX_ABORT_CANCELLED],
	       (unsigned long long)t.aborted_ran[CALLBOX_ABORT_CANCELLED],
	       (unsigned long long)t.aborted[CALLBOX_ABORT_DEADLINE],
	       (unsigned long long)t.aborted_ran[CALLBOX_ABORT_DEADLINE]);
	TH_LOG("cancels: %llu tried, %llu won, %llu too late; SUBMIT EAGAIN %llu",
	       (unsigned long long)self->canceller.tries,
	       (unsigned long long)t.cancels_won,
	       (unsigned long long)t.cancels_lost,
	       (unsigned long long)(self->sub[0].eagain +
				    self->sub[1].eagain));
	TH_LOG("runner: %llu runs, %llu ended before entering, guest DONE but cancelled %llu, poisoned %llu, restored %llu with %llu init calls",
	       (unsigned long long)r->runs,
	       (unsigned long long)r->never_entered,
	       (unsigned long long)r->withheld,
	       (unsigned long long)r->poisoned,
	       (unsigned long long)r->resets,
	       (unsigned long long)t.init_calls);

	EXPECT_EQ(0, t.violations);
	EXPECT_EQ(0, r->violations);
	EXPECT_LE(100000, t.submitted);
	EXPECT_EQ(t.submitted, t.exited + aborted);
	EXPECT_EQ(r->exited, t.exited);
	EXPECT_EQ(r->poisoned, r->resets);
	EXPECT_LE(r->resets, t.init_calls);
	EXPECT_EQ(r->exited + r->withheld + r->poisoned, t.exited +
		  t.nr_aborted_ran);
}

TEST_HARNESS_MAIN
