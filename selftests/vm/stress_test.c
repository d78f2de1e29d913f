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
 *
 * The threads are in stress_threads.h; the records and the check of each
 * call, in stress_check.h.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "stress_threads.h"

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
