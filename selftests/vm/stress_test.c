// SPDX-License-Identifier: GPL-2.0
/*
 * Stress, and the debug lane's soak: 100,000 calls (CALLBOX_SOAK_CALLS
 * overrides it; check-debug asks for 1,000,000) on one sandbox, from two
 * submitter threads, run by one runner thread, while a canceller thread
 * cancels recent calls at random, a signaller thread interrupts the
 * runner with a signal whose handler has no SA_RESTART, and the calls
 * carry random deadlines (none, already past, or a few hundred
 * microseconds ahead). Every other call makes a host call on its way to
 * DONE, which the runner continues. Every race between completion, host
 * call, signal, cancellation, deadline and consumption gets hit many
 * times.
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
 * - a host call comes from the call the guest is counting, with its count;
 * - a RUN interrupted in the guest restarts by itself and continues its
 *   call: only when another thread ended and consumed that call meanwhile
 *   does it fail (ESRCH), and that call had run;
 * - submitted == exited + aborted (by reason), and the guest's own count
 *   at the end agrees with the calls the kernel said it completed;
 * - the module's sysfs counters moved by exactly the calls made, all of
 *   which ended.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include <callbox/callbox.h>

#include "inspect_util.h"

#define SUBMITTERS		2
/* Calls in all, unless CALLBOX_SOAK_CALLS says otherwise. */
#define DEFAULT_CALLS		100000
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
/* No call takes this long to end: a WAIT that does has lost a wakeup. */
#define WAIT_LIMIT_NS		30000000000ull
/* The signaller waits up to this long between two signals. */
#define SIGNAL_PAUSE_NS		200000

/*
 * The counter guest (raw_guest_counter), with a host call on odd counts:
 *
 *	xor eax, eax
 *   1:	inc eax
 *	test al, 1 / jz 2f
 *	mov dx, 0xcb08 / out dx, eax	; HOSTCALL, value: the count
 *   2:	mov dx, 0xcb00 / out dx, eax	; DONE, status: the count
 *	jmp 1b
 */
static const uint8_t stress_guest[] = {
	0x66, 0x31, 0xc0, 0x66, 0x40, 0xa8, 0x01, 0x74, 0x05, 0xba, 0x08,
	0xcb, 0x66, 0xef, 0xba, 0x00, 0xcb, 0x66, 0xef, 0xeb, 0xee,
};

#include "stress_check.h"

struct stress {
	int sandbox_fd;
	struct raw_guest *guest;
	struct kvm_run *run;
	struct call_rec *recs;
	uint64_t nr_recs;
	unsigned int calls_per_submitter;
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
	uint64_t hostcalls;
	uint64_t eintr;		/* waits for a call, interrupted */
	uint64_t consumed;	/* restarted RUNs that found their call gone */
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

struct signaller {
	struct stress *s;
	pthread_t thread, target;
	bool started;
	unsigned int seed;
	uint64_t sent;
};

static _Atomic uint64_t signals_handled;

static void on_signal(int sig)
{
	atomic_fetch_add(&signals_handled, 1);
}

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

/*
 * CALLBOX_CALL_RUN, with @out as the kernel left it whatever the result:
 * after ESRCH too, when it names the call a restarted RUN went back for
 * (the library's thin layer copies @out only on success and EINTR).
 */
static int runner_run(int fd, uint64_t id, struct callbox_call_info *out)
{
	struct callbox_call_run cmd = {
		.size = sizeof(cmd),
		.id = id,
	};
	int ret = ioctl(fd, CALLBOX_CALL_RUN, &cmd) ? -errno : 0;

	*out = cmd.out;
	return ret;
}

static void *runner_thread(void *arg)
{
	struct runner *r = arg;
	struct stress *s = r->s;
	struct callbox_call_info out;
	bool poison_seen = false, poison_maybe = false;
	struct call_rec *rec;
	uint64_t id;
	int ret;

	for (;;) {
		ret = runner_run(s->sandbox_fd, 0, &out);
		/*
		 * A host call: continue it, as often as the guest makes one.
		 * A RUN that continues a host call leaves @out zeroed if it
		 * fails, so keep the id.
		 */
		id = 0;
		while (!ret && out.state == CALLBOX_STATE_HOSTCALL) {
			r->hostcalls++;
			/* Odd counts only, with the count of this call. */
			if (out.status != r->count + 1 || !(out.status & 1))
				r->violations++;
			id = out.id;
			ret = runner_run(s->sandbox_fd, id, &out);
		}
		if (ret == -EINTR) {
			/* The signal came while RUN waited: nothing ran. */
			r->eintr++;
			continue;
		}
		if (ret == -ESRCH) {
			/*
			 * The restart of a RUN interrupted in the guest (or
			 * the continuation of a host call) found that the
			 * canceller and a WAIT had ended and consumed its
			 * call meanwhile. A restarted RUN has its id in @out,
			 * written before entering; if it had run, the
			 * sandbox is poisoned.
			 */
			r->consumed++;
			if (!id)
				id = out.id;
			if (id && id < s->nr_recs)
				s->recs[id].run_consumed++;
			else
				r->violations++;
			poison_maybe = true;
			continue;
		}
		if (ret == -ENOTRECOVERABLE) {
			/* Only an outcome that said so may poison. */
			if (!poison_seen && !poison_maybe)
				r->violations++;
			ret = runner_reset(s);
			if (ret) {
				r->error = ret;
				break;
			}
			r->resets++;
			r->count = 0;
			poison_seen = poison_maybe = false;
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
		poison_maybe = false;
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
			} else if (!(out.flags & CALLBOX_CALL_POISONED)) {
				/*
				 * Ended at the guest's DONE: it completed
				 * the call (and counted it), but the
				 * cancellation had already won.
				 */
				if (out.exit_reason != KVM_EXIT_IO)
					r->violations++;
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

	for (i = 0; i < (int)s->calls_per_submitter; i++) {
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

/* Interrupt the runner at random moments, until the submitters are done. */
static void *signaller_thread(void *arg)
{
	struct signaller *sg = arg;
	struct timespec pause = { 0 };

	while (!atomic_load(&sg->s->submitters_done)) {
		pause.tv_nsec = rand_r(&sg->seed) % SIGNAL_PAUSE_NS;
		nanosleep(&pause, NULL);
		if (!pthread_kill(sg->target, SIGUSR1))
			sg->sent++;
	}
	return NULL;
}

FIXTURE(stress) {
	struct box b;
	struct stress s;
	struct runner runner;
	struct submitter sub[SUBMITTERS];
	struct canceller canceller;
	struct signaller signaller;
	struct cb_counters before;
	bool ready;
};

FIXTURE_SETUP(stress)
{
	/* The runner flushes the vCPU's last exit through kvm_run. */
	struct sigaction sa = { .sa_handler = on_signal };
	const char *env = getenv("CALLBOX_SOAK_CALLS");
	unsigned long calls = env ? strtoul(env, NULL, 10) : DEFAULT_CALLS;

	ASSERT_LE(SUBMITTERS, calls);
	ASSERT_GE(100000000, calls);
	/* No SA_RESTART: a RUN waiting for a call fails with EINTR. */
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	box_open(_metadata, &self->b, stress_guest, sizeof(stress_guest),
		 true);
	self->s.sandbox_fd = self->b.fd;
	self->s.guest = &self->b.guest;
	self->s.run = self->b.run;
	/*
	 * Every call: the submitted ones, the last one and the sync one;
	 * every call may poison, and each reset's init call takes an id.
	 */
	self->s.calls_per_submitter = calls / SUBMITTERS;
	self->s.nr_recs = 2 * SUBMITTERS * self->s.calls_per_submitter + 3;
	atomic_store(&self->s.exit_id, UINT64_MAX);
	self->s.recs = calloc(self->s.nr_recs, sizeof(*self->s.recs));
	ASSERT_NE(NULL, self->s.recs);
	counters_read_ok(&self->before);
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
	if (self->signaller.started)
		pthread_join(self->signaller.thread, NULL);
	if (self->runner.started)
		pthread_join(self->runner.thread, NULL);
	free(self->s.recs);
	box_close(&self->b);
}

/* The soak's million calls need more than the default count's 60 s. */
TEST_F_TIMEOUT(stress, submit_run_wait_cancel, 7200)
{
	struct stress *s = &self->s;
	struct runner *r = &self->runner;
	struct callbox_call_info c;
	uint64_t start, elapsed, id, last, aborted = 0, aborted_sysfs = 0;
	struct cb_counters now;
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
	self->signaller = (struct signaller) {
		.s = s, .seed = 7, .target = r->thread,
	};
	ASSERT_EQ(0, pthread_create(&self->signaller.thread, NULL,
				    signaller_thread, &self->signaller));
	self->signaller.started = true;

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
	ASSERT_EQ(0, pthread_join(self->signaller.thread, NULL));
	self->signaller.started = false;
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
	if (c.state == CALLBOX_STATE_HOSTCALL) {
		EXPECT_EQ(r->count + 1, c.status);
		call_run(s->sandbox_fd, c.id, 0, &c);
	}
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
	TH_LOG("host calls %llu; signals %llu sent, %llu handled; RUN waits interrupted %llu; restarted RUNs that found their call consumed %llu (%llu had run)",
	       (unsigned long long)r->hostcalls,
	       (unsigned long long)self->signaller.sent,
	       (unsigned long long)atomic_load(&signals_handled),
	       (unsigned long long)r->eintr,
	       (unsigned long long)r->consumed,
	       (unsigned long long)t.consumed);

	EXPECT_EQ(0, t.violations);
	EXPECT_EQ(0, r->violations);
	EXPECT_EQ(SUBMITTERS * s->calls_per_submitter + 1, t.submitted);
	EXPECT_EQ(t.submitted, t.exited + aborted);
	EXPECT_EQ(r->exited, t.exited);
	/* A consumed call that had run poisoned the sandbox too. */
	EXPECT_LE(r->poisoned, r->resets);
	EXPECT_GE(r->poisoned + r->consumed, r->resets);
	EXPECT_LE(r->resets, t.init_calls);
	EXPECT_EQ(r->exited + r->withheld + r->poisoned + t.consumed,
		  t.exited + t.nr_aborted_ran);
	EXPECT_LT(0, r->hostcalls);
	EXPECT_LT(0, atomic_load(&signals_handled));

	/*
	 * The module's counters: one call for each id this sandbox issued
	 * (the last one is the sync call above), all ended; nothing left
	 * in a live state.
	 */
	counters_read_ok(&now);
	for (i = 1; i < NR_REASONS; i++)
		aborted_sysfs += now.aborted[i] - self->before.aborted[i];
	EXPECT_EQ(c.id, now.total - self->before.total);
	EXPECT_EQ(now.total - self->before.total,
		  now.exited - self->before.exited + aborted_sysfs);
	EXPECT_EQ(self->before.queued, now.queued);
	EXPECT_EQ(self->before.entered, now.entered);
	EXPECT_EQ(self->before.hostcall, now.hostcall);
}

TEST_HARNESS_MAIN
