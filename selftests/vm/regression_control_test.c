// SPDX-License-Identifier: GPL-2.0
/*
 * The control of regression_test's hyperlight_373 (Hyperlight issue #373;
 * see regression_test.c): the old protocol, a userspace queue and an
 * atomic "running" flag that only the handler thread sets, with no
 * callbox state, under the same starvation of the thread that runs calls
 * (see regression_util.h).
 *
 * control_userspace_flag_protocol_is_wrong: on timeout the submitter reads
 * the flag, as Hyperlight's host did; it must read a result that was never
 * written at least once: this proves the scenario is real, so that the
 * callbox test passing means something.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "regression_util.h"

/* ---- the old protocol: a userspace queue and a "running" flag ---- */

struct old_proto {
	pthread_t thread;
	bool started;
	int vcpu_fd;
	struct kvm_run *run;
	pthread_mutex_t lock;
	pthread_cond_t work;	/* the handler waits for a request */
	pthread_cond_t done;	/* the submitter waits for its result */
	bool pending;		/* a request waits for the handler */
	bool stop;
	uint64_t seq;		/* the last request handed over */
	uint64_t done_seq;	/* the last request the handler finished */
	/* The two things Hyperlight's host looked at. */
	atomic_bool running;
	_Atomic uint32_t result;
	atomic_bool ready;
	int error;
};

/*
 * The handler thread of the old design: it takes a request, says it is
 * running only once it has been scheduled to do so, runs the guest with
 * a real KVM_RUN, writes the result and says it is done.
 */
static void *old_handler_thread(void *arg)
{
	struct old_proto *p = arg;
	struct kvm_run *run = p->run;
	uint32_t value;
	uint64_t seq;

	p->error = set_self_sched(STARVED_CPU, SCHED_IDLE, 0);
	atomic_store(&p->ready, true);
	if (p->error)
		return NULL;

	for (;;) {
		pthread_mutex_lock(&p->lock);
		while (!p->pending && !p->stop)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->stop) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		p->pending = false;
		seq = p->seq;
		pthread_mutex_unlock(&p->lock);

		/* The bug: only the handler thread ever sets this. */
		atomic_store(&p->running, true);
		if (ioctl(p->vcpu_fd, KVM_RUN, 0)) {
			p->error = -errno;
			value = 0;
		} else if (run->exit_reason != KVM_EXIT_IO ||
			   run->io.port != CALLBOX_PORT_DONE) {
			p->error = -EPROTO;
			value = 0;
		} else {
			value = *(uint32_t *)((uint8_t *)run +
					      run->io.data_offset);
		}
		atomic_store(&p->result, value);
		atomic_store(&p->running, false);

		pthread_mutex_lock(&p->lock);
		p->done_seq = seq;
		pthread_cond_broadcast(&p->done);
		pthread_mutex_unlock(&p->lock);
	}
	return NULL;
}

static void old_handler_stop(struct old_proto *p)
{
	if (!p->started)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	p->started = false;
}

/* ---- the fixture ---- */

FIXTURE(hyperlight_373) {
	struct box b;		/* never bound */
	struct starver starver;
	struct old_proto proto;
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
	old_handler_stop(&self->proto);
	box_close(&self->b);
}

/* ---- the control: the old protocol under the same starvation ---- */

struct old_tally {
	unsigned int iterations;
	unsigned int in_time;
	unsigned int timed_out;
	unsigned int concluded_finished;	/* timed out, !running */
	unsigned int wrong;	/* ... and read a result never written */
	unsigned int still_running;
	unsigned int withdrawn;	/* the handler never took it */
	unsigned int violations;
	uint32_t count;		/* the handler's guest's count */
};

static void old_iteration(struct __test_metadata *_metadata,
			  struct old_proto *p, struct old_tally *t)
{
	uint64_t deadline = now_ns() + WAIT_TIMEOUT_NS, seq;
	struct timespec ts = {
		.tv_sec = deadline / 1000000000ull,
		.tv_nsec = deadline % 1000000000ull,
	};
	bool done, withdrawn = false;
	uint32_t value;
	int ret = 0;

	/* Reset the result buffer before the call, as Hyperlight did. */
	atomic_store(&p->result, 0);
	pthread_mutex_lock(&p->lock);
	seq = ++p->seq;
	p->pending = true;
	pthread_cond_signal(&p->work);
	while (p->done_seq != seq && ret != ETIMEDOUT)
		ret = pthread_cond_timedwait(&p->done, &p->lock, &ts);
	done = p->done_seq == seq;
	pthread_mutex_unlock(&p->lock);

	if (done) {
		t->in_time++;
		t->count++;
		value = atomic_load(&p->result);
		check(t, value == t->count, "result %u, count %u", value,
		      t->count);
		return;
	}

	t->timed_out++;
	if (!atomic_load(&p->running)) {
		/*
		 * The old protocol: "not running, so it finished while we
		 * were cancelling it". Read the result.
		 */
		t->concluded_finished++;
		value = atomic_load(&p->result);
		if (!value)
			t->wrong++;
	} else {
		/* The old protocol would kill it here. */
		t->still_running++;
	}

	/*
	 * Bookkeeping of the test, not part of the protocol: take the
	 * request back if the handler never took it, else let it finish,
	 * so that the next iteration starts clean.
	 */
	pthread_mutex_lock(&p->lock);
	if (p->pending) {
		p->pending = false;
		withdrawn = true;
	}
	while (!withdrawn && p->done_seq != seq)
		pthread_cond_wait(&p->done, &p->lock);
	pthread_mutex_unlock(&p->lock);
	if (withdrawn)
		t->withdrawn++;
	else
		t->count++;
	ASSERT_EQ(0, p->error);
}

TEST_F_TIMEOUT(hyperlight_373, control_userspace_flag_protocol_is_wrong, 120)
{
	struct old_proto *p = &self->proto;
	struct old_tally t = { 0 };
	pthread_condattr_t attr;
	uint64_t start;
	unsigned int i;

	pin_submitter();
	p->vcpu_fd = self->b.guest.vm.vcpu_fd;
	p->run = self->b.run;
	ASSERT_EQ(0, pthread_mutex_init(&p->lock, NULL));
	ASSERT_EQ(0, pthread_cond_init(&p->work, NULL));
	ASSERT_EQ(0, pthread_condattr_init(&attr));
	ASSERT_EQ(0, pthread_condattr_setclock(&attr, CLOCK_MONOTONIC));
	ASSERT_EQ(0, pthread_cond_init(&p->done, &attr));
	pthread_condattr_destroy(&attr);

	ASSERT_EQ(0, pthread_create(&p->thread, NULL, old_handler_thread, p));
	p->started = true;
	while (!atomic_load(&p->ready))
		sched_yield();
	ASSERT_EQ(0, p->error) {
		TH_LOG("handler at SCHED_IDLE on CPU %d: %s", STARVED_CPU,
		       strerror(-p->error));
	}
	usleep(10000);
	starve_start_ok(&self->starver, STARVED_CPU);

	start = now_ns();
	for (i = 0; i < ITERATIONS; i++) {
		starve_step(&self->starver, i, UNSTARVED_EVERY);
		old_iteration(_metadata, p, &t);
		t.iterations++;
	}
	starve_stop_report(&self->starver);
	old_handler_stop(p);
	ASSERT_EQ(0, p->error) {
		TH_LOG("handler: %s", strerror(-p->error));
	}

	TH_LOG("%u iterations in %.1f s: %u timed out, %u in time; on timeout the flag said finished %u times, running %u times",
	       t.iterations, (now_ns() - start) / 1e9, t.timed_out,
	       t.in_time, t.concluded_finished, t.still_running);
	TH_LOG("results read that the guest never wrote: %u (the handler never took %u requests)",
	       t.wrong, t.withdrawn);

	EXPECT_EQ(0, t.violations);
	/* The scenario is real: the old protocol reads garbage. */
	EXPECT_LE(1, t.wrong);
}

TEST_HARNESS_MAIN
