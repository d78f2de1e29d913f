// SPDX-License-Identifier: GPL-2.0
/*
 * Regressions from prior art, each named after the bug and kept forever.
 *
 * hyperlight_373 (hyperlight-dev/hyperlight issue #373, fixed by PR #385):
 * the host handed a call to a handler thread and waited with a timeout.
 * Under load the handler thread was never scheduled. On timeout the host
 * read an atomic "running" flag that only the handler thread set, saw
 * false, concluded that the call had finished while it was being
 * cancelled, and read the result from a buffer that had just been reset
 * and never written.
 *
 * callbox_never_reads_unwritten_result: SUBMIT, WAIT with the timeout,
 * CANCEL, WAIT for the definite answer, under that starvation of the
 * thread that runs calls (see regression_util.h). The kernel's answer must
 * agree with what the runner thread and the guest itself did, every time.
 * regression_control_test shows that the scenario is real: the old
 * protocol, under the same starvation, reads a result never written.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include <callbox/callbox.h>

#include "regression_util.h"

/*
 * The answer after a CANCEL must come from the kernel alone, without the
 * starved runner's help: a starved call is answered at once. Far more
 * than that means the kernel waits for the runner, which may never run.
 */
#define ANSWER_TIMEOUT_NS	10000000000ull

/* ---- callbox: the runner thread ---- */

/* What CALLBOX_CALL_RUN reported for one call, indexed by call id. */
struct run_rec {
	uint8_t runs;
	uint8_t state;
	uint8_t flags;
	uint32_t status;
};

struct cb_runner {
	pthread_t thread;
	bool started;
	int sandbox_fd;
	struct raw_guest *guest;
	struct kvm_run *run;
	struct run_rec *recs;
	uint64_t nr_recs;
	atomic_bool ready;
	/* The runner leaves after running a call with this id or above. */
	_Atomic uint64_t exit_id;
	/* Results, read after the join. */
	int error;
	uint64_t resets;
	uint64_t out_of_range;
};

static void *cb_runner_thread(void *arg)
{
	struct cb_runner *r = arg;
	struct callbox_call_info out;
	struct run_rec *rec;
	int ret;

	r->error = set_self_sched(STARVED_CPU, SCHED_IDLE, 0);
	atomic_store(&r->ready, true);
	if (r->error)
		return NULL;

	for (;;) {
		/* Blocks until the submitter's SUBMIT wakes it up. */
		ret = _call_run(r->sandbox_fd, 0, 0, &out);
		if (ret == -ENOTRECOVERABLE) {
			ret = raw_guest_reset(r->guest, r->run,
						r->sandbox_fd);
			if (ret) {
				r->error = ret;
				break;
			}
			r->resets++;
			continue;
		}
		if (ret == -ESHUTDOWN)	/* teardown closed the sandbox */
			break;
		if (ret) {
			r->error = ret;
			break;
		}
		if (out.id < r->nr_recs) {
			rec = &r->recs[out.id];
			rec->runs++;
			rec->state = out.state;
			rec->flags = out.flags;
			rec->status = out.status;
		} else {
			r->out_of_range++;
		}
		if (out.id >= atomic_load(&r->exit_id))
			break;
	}
	return NULL;
}

/* ---- the fixture ---- */

FIXTURE(hyperlight_373) {
	struct box b;		/* bound by the test */
	struct starver starver;
	struct cb_runner runner;
	/* sched_rt_runtime_us before the test, if it was changed */
	char rt_runtime[32];
	bool ready;
};

FIXTURE_SETUP(hyperlight_373)
{
	self->ready = starved_box_open(_metadata, &self->b, self->rt_runtime,
				       sizeof(self->rt_runtime));
}

FIXTURE_TEARDOWN(hyperlight_373)
{
	starvation_end(&self->starver, self->rt_runtime);
	if (self->runner.started) {
		/* Shutdown wakes a blocked RUN with ESHUTDOWN. */
		_sandbox_shutdown(self->b.fd);
		pthread_join(self->runner.thread, NULL);
	}
	free(self->runner.recs);
	box_close(&self->b);
}

/* What the submitter concluded about one call. */
struct cb_rec {
	uint64_t id;
	uint8_t state;
	uint8_t flags;
	uint32_t status;
};

struct cb_tally {
	unsigned int iterations;
	unsigned int in_time;	/* WAIT returned before the timeout */
	unsigned int timed_out;
	unsigned int never_ran;	/* ABORTED, CALLBOX_CALL_GUEST_RAN clear */
	unsigned int exited;
	unsigned int exited_late;	/* timed out, then CANCEL: EALREADY */
	unsigned int ran_cancelled;	/* ABORTED after the guest started */
	unsigned int poisoned;
	unsigned int wrong;	/* a result read that the guest never wrote */
	unsigned int violations;
	/* The guest's count of completed calls since its last restore. */
	uint32_t count;
	/* The last id SUBMIT gave; a reset's init call takes ids too. */
	uint64_t last_id;
};

/*
 * Fold one call's outcome into the tally. This is the one place a result
 * is read, and only from an EXITED call: it must be the guest's count.
 */
static void cb_account(struct cb_tally *t, const struct callbox_call_info *c,
		       struct __test_metadata *_metadata)
{
	switch (c->state) {
	case CALLBOX_STATE_EXITED:
		check(t, c->reason == CALLBOX_ABORT_NONE, "reason %u",
		      c->reason);
		check(t, c->flags == CALLBOX_CALL_GUEST_RAN, "flags %#x",
		      c->flags);
		t->exited++;
		t->count++;
		if (c->status != t->count) {
			t->wrong++;
			violation(t, "call %llu EXITED with status %u, the guest's count is %u",
				  (unsigned long long)c->id, c->status,
				  t->count);
		}
		break;
	case CALLBOX_STATE_ABORTED:
		check(t, !(c->flags & CALLBOX_CALL_CANCEL_PENDING),
		      "flags %#x", c->flags);
		if (!(c->flags & CALLBOX_CALL_GUEST_RAN)) {
			t->never_ran++;
			break;
		}
		t->ran_cancelled++;
		/*
		 * The guest started: it either reached its DONE before the
		 * cancellation forced it out (the kernel then withholds the
		 * result, and the sandbox stays usable) or it was stopped
		 * in the middle and the sandbox is poisoned; the runner
		 * restores the guest before the next call can run.
		 */
		if (c->exit_reason == KVM_EXIT_IO) {
			t->count++;
		} else {
			t->poisoned++;
			t->count = 0;
		}
		break;
	default:
		violation(t, "call %llu ended in state %u",
			  (unsigned long long)c->id, c->state);
	}
}

/* One call: submit, wait with a timeout, cancel, wait for the answer. */
static void cb_iteration(struct __test_metadata *_metadata, int sandbox_fd,
			 struct cb_tally *t, struct cb_rec *rec)
{
	struct callbox_call_info c, again;
	uint64_t id;
	int cancel, ret;

	call_submit(sandbox_fd, 0, &id);
	check(t, id > t->last_id, "id %llu after %llu", (unsigned long long)id,
	      (unsigned long long)t->last_id);
	t->last_id = id;

	ret = _call_wait(sandbox_fd, id, now_ns() + WAIT_TIMEOUT_NS, &c);
	if (!ret) {
		/* The runner got to it in time; it is consumed already. */
		t->in_time++;
		cancel = _call_cancel(sandbox_fd, id);
		check(t, cancel == -EALREADY, "CANCEL: %s", strerror(-cancel));
		ret = _call_wait(sandbox_fd, id, 0, &again);
		check(t, ret == -ESRCH, "second WAIT: %s", strerror(-ret));
	} else {
		ASSERT_EQ(-ETIMEDOUT, ret) {
			TH_LOG("WAIT with a deadline: %s", strerror(-ret));
		}
		t->timed_out++;
		/* Where Hyperlight looked at its flag: ask the kernel. */
		cancel = _call_cancel(sandbox_fd, id);
		ret = _call_wait(sandbox_fd, id, now_ns() + ANSWER_TIMEOUT_NS,
				 &c);
		ASSERT_EQ(0, ret) {
			TH_LOG("WAIT after CANCEL (which returned %d): %s",
			       cancel, strerror(-ret));
		}
		if (cancel == -EALREADY)
			t->exited_late++;
	}

	check(t, c.id == id, "outcome of call %llu",
	      (unsigned long long)c.id);
	check(t, cancel == 0 || cancel == -EALREADY, "CANCEL: %s",
	      strerror(-cancel));
	if (!cancel)
		check(t, c.state == CALLBOX_STATE_ABORTED &&
			 c.reason == CALLBOX_ABORT_CANCELLED,
		      "CANCEL won, but state %u reason %u", c.state, c.reason);
	/* Nothing else here aborts calls: no deadlines, no other canceller. */
	if (cancel == -EALREADY)
		check(t, c.state == CALLBOX_STATE_EXITED,
		      "CANCEL lost, but state %u reason %u", c.state,
		      c.reason);

	cb_account(t, &c, _metadata);
	*rec = (struct cb_rec) {
		.id = id,
		.state = c.state,
		.flags = c.flags,
		.status = c.status,
	};
}

TEST_F_TIMEOUT(hyperlight_373, callbox_never_reads_unwritten_result, 120)
{
	struct cb_runner *r = &self->runner;
	struct callbox_call_info c;
	struct cb_tally t = { 0 };
	struct cb_rec *recs;
	uint64_t start, pill;
	unsigned int i;

	pin_submitter();
	self->b.fd = sandbox_create(self->b.dev_fd, self->b.guest.vm.vm_fd,
				    self->b.guest.vm.vcpu_fd);
	recs = calloc(ITERATIONS, sizeof(*recs));
	ASSERT_NE(NULL, recs);

	*r = (struct cb_runner) {
		.sandbox_fd = self->b.fd,
		.guest = &self->b.guest,
		.run = self->b.run,
		/*
		 * Every call: the iterations, the pill and the final one, and
		 * each reset's init call takes an id too.
		 */
		.nr_recs = 2 * ITERATIONS + 3,
		.exit_id = UINT64_MAX,
	};
	r->recs = calloc(r->nr_recs, sizeof(*r->recs));
	ASSERT_NE(NULL, r->recs);
	ASSERT_EQ(0, pthread_create(&r->thread, NULL, cb_runner_thread, r));
	r->started = true;
	while (!atomic_load(&r->ready))
		sched_yield();
	ASSERT_EQ(0, r->error) {
		TH_LOG("runner at SCHED_IDLE on CPU %d: %s", STARVED_CPU,
		       strerror(-r->error));
	}
	/* Let it block in RUN, as an idle runner would be. */
	usleep(10000);
	starve_start_ok(&self->starver, STARVED_CPU);

	start = now_ns();
	for (i = 0; i < ITERATIONS; i++) {
		starve_step(&self->starver, i, UNSTARVED_EVERY);
		cb_iteration(_metadata, self->b.fd, &t, &recs[i]);
		t.iterations++;
	}
	starve_stop_report(&self->starver);

	/*
	 * Let the runner drain and leave: it stops after one more call. Its
	 * id is above every id so far, and the runner sees no other call
	 * (it runs a reset's init call inside raw_guest_reset()), so it
	 * cannot miss it.
	 */
	atomic_store(&r->exit_id, t.last_id + 1);
	call_submit(self->b.fd, 0, &pill);
	ASSERT_LT(t.last_id, pill);
	call_wait(self->b.fd, pill, 0, &c);
	ASSERT_EQ(CALLBOX_STATE_EXITED, c.state);
	cb_account(&t, &c, _metadata);
	ASSERT_EQ(0, pthread_join(r->thread, NULL));
	r->started = false;
	ASSERT_EQ(0, r->error) {
		TH_LOG("runner: %s", strerror(-r->error));
	}
	EXPECT_EQ(0, r->out_of_range);

	/*
	 * The guest's own count: every call it completed, and no other. A
	 * cancelled call that ran in the guest would show up here.
	 */
	call_sync(self->b.fd, 0, &c);
	ASSERT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(t.count + 1, c.status);

	/* The submitter's answers against what the runner really ran. */
	for (i = 0; i < ITERATIONS; i++) {
		struct run_rec *rr = &r->recs[recs[i].id];

		if (recs[i].state == CALLBOX_STATE_EXITED &&
		    (rr->runs != 1 || rr->state != CALLBOX_STATE_EXITED ||
		     rr->status != recs[i].status)) {
			t.wrong++;
			violation(&t, "call %llu: read status %u, the runner saw state %u status %u (%u runs)",
				  (unsigned long long)recs[i].id,
				  recs[i].status, rr->state, rr->status,
				  rr->runs);
		}
		if (recs[i].state != CALLBOX_STATE_ABORTED)
			continue;
		/* The runner may see a call that ended before it began. */
		if (recs[i].flags & CALLBOX_CALL_GUEST_RAN)
			check(&t, rr->runs == 1 &&
				  rr->state == CALLBOX_STATE_ABORTED &&
				  (rr->flags & CALLBOX_CALL_GUEST_RAN),
			      "call %llu: runner saw %u runs, state %u flags %#x",
			      (unsigned long long)recs[i].id, rr->runs,
			      rr->state, rr->flags);
		else
			check(&t, rr->runs == 0 ||
				  (rr->runs == 1 &&
				   !(rr->flags & CALLBOX_CALL_GUEST_RAN)),
			      "call %llu: never ran, but the runner saw %u runs, flags %#x",
			      (unsigned long long)recs[i].id, rr->runs,
			      rr->flags);
	}

	TH_LOG("%u iterations in %.1f s: %u timed out, guest never ran %u, exited %u (%u in time, %u after the timeout), cancelled after the guest started %u (poisoned %u, restored %llu)",
	       t.iterations, (now_ns() - start) / 1e9, t.timed_out,
	       t.never_ran, t.exited - 1, t.in_time, t.exited_late,
	       t.ran_cancelled, t.poisoned, (unsigned long long)r->resets);
	TH_LOG("results read that the guest never wrote: %u", t.wrong);
	free(recs);

	EXPECT_EQ(0, t.violations);
	EXPECT_EQ(0, t.wrong);
	EXPECT_EQ(t.poisoned, r->resets);
	/* Without starvation this test tests nothing. */
	EXPECT_LE(t.iterations / 2, t.never_ran);
}

TEST_HARNESS_MAIN
