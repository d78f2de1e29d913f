// SPDX-License-Identifier: GPL-2.0
/*
 * The matrix of CALLBOX_CALL_BATCH against uapi/linux/callbox.h: the
 * first call of a batch, or a later one that the kernel entered without
 * going back to userspace, crossed with every way a call is interrupted
 * (signal, task work, vCPU signal mask, owner exit,
 * kvm_run.immediate_exit) or stopped (cancel, deadline, shutdown). The
 * held guest counts the calls it finishes, so every outcome shows which
 * call the guest really ran.
 */
#include <signal.h>

#include "batch_util.h"
#include "interrupt_util.h"


FIXTURE(batch_matrix) {
	struct box b;
	volatile uint8_t *release;
	volatile uint16_t *done_count;
	struct batcher w;
	struct ring ring;
};

FIXTURE_VARIANT(batch_matrix) {
	unsigned int hit;	/* which call of the batch is interrupted */
	enum interruption how;
};

#define CELL(name, h, i)						\
	FIXTURE_VARIANT_ADD(batch_matrix, name) { .hit = h, .how = i }

CELL(first_signal, 0, BY_SIGNAL);
CELL(first_task_work, 0, BY_TASK_WORK);
CELL(first_signal_mask, 0, BY_SIGNAL_MASK);
CELL(first_owner_exit, 0, BY_OWNER_EXIT);
CELL(first_immediate_exit, 0, BY_IMMEDIATE_EXIT);
CELL(first_cancel, 0, BY_CANCEL);
CELL(first_deadline, 0, BY_DEADLINE);
CELL(first_shutdown, 0, BY_SHUTDOWN);
CELL(later_signal, 1, BY_SIGNAL);
CELL(later_task_work, 1, BY_TASK_WORK);
CELL(later_signal_mask, 1, BY_SIGNAL_MASK);
CELL(later_owner_exit, 1, BY_OWNER_EXIT);
CELL(later_immediate_exit, 1, BY_IMMEDIATE_EXIT);
CELL(later_cancel, 1, BY_CANCEL);
CELL(later_deadline, 1, BY_DEADLINE);
CELL(later_shutdown, 1, BY_SHUTDOWN);

FIXTURE_SETUP(batch_matrix)
{
	uint8_t *mem;

	self->ring.fd = -1;
	box_open(_metadata, &self->b, guest_held, sizeof(guest_held), true);
	if (_metadata->skip)
		return;
	mem = self->b.guest.mem;
	self->release = mem + HELD_RELEASE;
	self->done_count = (volatile uint16_t *)(mem + HELD_DONE_COUNT);
	if (variant->how == BY_TASK_WORK)
		ASSERT_EQ(0, ring_setup(&self->ring));
}

FIXTURE_TEARDOWN(batch_matrix)
{
	ring_destroy(&self->ring);
	box_close(&self->b);
}

TEST_F_TIMEOUT(batch_matrix, each_call_and_each_stop, 120)
{
	struct sigaction sa = { .sa_handler = on_interrupt_signal };
	struct batcher *w = &self->w;
	const unsigned int nr = 3, hit = variant->hit;
	struct callbox_call_info c;
	uint64_t deadline = 0;
	unsigned int i;
	bool aborts;
	int fd = self->b.fd;

	return_if_setup_skipped();
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	interrupt_how = variant->how;
	interrupt_run = self->b.run;
	*w = (struct batcher) { .fd = fd, .vcpu_fd = self->b.guest.vm.vcpu_fd,
				.run = self->b.run };
	if (variant->how == BY_TASK_WORK) {
		/*
		 * Late enough to land in the call hit, which spins until
		 * released: after the test saw it spinning, even on the debug
		 * kernel (20 ms for the first call was not, once).
		 */
		w->ring = &self->ring;
		w->ring_ms = 1000;
	}
	for (i = 0; i < nr; i++) {
		/* Far enough for the call to be seen spinning first. */
		if (variant->how == BY_DEADLINE && i == hit)
			deadline = now_ns() + 5000 * MS;
		call_submit(fd, i == hit ? deadline : 0, &w->ids[i]);
	}
	batch_init(&w->cmd, w->ids, nr);
	ASSERT_EQ(0, pthread_create(&w->thread, NULL, batcher_fn, w));

	/* The calls before the one hit end inside the batch. */
	for (i = 0; i < hit; i++) {
		ASSERT_TRUE(wait_for_state(fd, w->ids[i],
					   CALLBOX_STATE_ENTERED));
		ASSERT_TRUE(held_release(self->release, self->done_count));
	}
	ASSERT_TRUE(wait_for_state(fd, w->ids[hit], CALLBOX_STATE_ENTERED));
	ASSERT_TRUE(held_wait_spinning(self->b.guest.mem));
	if (variant->how == BY_TASK_WORK) {
		ASSERT_FALSE(ring_completed(&self->ring)) {
			TH_LOG("the task work came before call %u ran", hit);
		}
	}

	aborts = false;
	switch (variant->how) {
	case BY_SIGNAL:
		for (i = 0; i < 5; i++) {
			pthread_kill(w->thread, SIGUSR1);
			ASSERT_TRUE(WAIT_FOR(atomic_load(&signals_handled) >
					     (int)i));
			usleep(1000);
		}
		break;
	case BY_TASK_WORK:
		ASSERT_TRUE(WAIT_FOR(ring_completed(&self->ring)));
		EXPECT_EQ(0, atomic_load(&signals_handled));
		break;
	case BY_SIGNAL_MASK:
		ASSERT_TRUE(interrupt_by_signal_mask(w->thread, &w->vcpu_fd));
		ASSERT_TRUE(WAIT_FOR(w->refused != 0));
		break;
	case BY_IMMEDIATE_EXIT:
		pthread_kill(w->thread, SIGUSR1);
		ASSERT_TRUE(WAIT_FOR(w->refused != 0));
		break;
	case BY_OWNER_EXIT:
		pthread_kill(w->thread, SIGUSR1);
		ASSERT_EQ(0, pthread_join(w->thread, NULL));
		call_get(fd, w->ids[hit], &c);
		EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
		EXPECT_EQ(CALLBOX_ABORT_OWNER_EXITED, c.reason);
		EXPECT_EQ(CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_POISONED,
			  c.flags);
		for (i = hit + 1; i < nr; i++)
			EXPECT_EQ(CALLBOX_STATE_QUEUED,
				  call_state(fd, w->ids[i]));
		EXPECT_EQ(hit, *self->done_count);
		return;
	case BY_CANCEL:
		call_cancel(fd, w->ids[hit]);
		aborts = true;
		break;
	case BY_DEADLINE:
		aborts = true;
		break;
	case BY_SHUTDOWN:
		sandbox_shutdown(fd);
		aborts = true;
		break;
	}

	if (!aborts) {
		/* Still in the call hit, until released; then the rest. */
		usleep(2000);
		EXPECT_FALSE(atomic_load(&w->returned));
		EXPECT_EQ(CALLBOX_STATE_ENTERED, call_state(fd, w->ids[hit]));
		for (i = hit; i < nr; i++) {
			ASSERT_TRUE(wait_for_state(fd, w->ids[i],
						   CALLBOX_STATE_ENTERED));
			ASSERT_TRUE(held_release(self->release,
						 self->done_count));
		}
	}
	ASSERT_EQ(0, pthread_join(w->thread, NULL));
	EXPECT_EQ(0, w->ret) {
		TH_LOG("BATCH: %s", strerror(-w->ret));
	}
	if (w->refused) {
		/* Refused, the restart left @out naming the parked call. */
		EXPECT_EQ(variant->how == BY_SIGNAL_MASK ? -EOPNOTSUPP : -EINTR,
			  w->refused);
		EXPECT_EQ(w->ids[hit], w->refused_cmd.out.id);
		EXPECT_EQ(CALLBOX_STATE_ENTERED, w->refused_cmd.out.state);
		EXPECT_EQ(hit, w->refused_cmd.done);
	}

	if (!aborts) {
		EXPECT_EQ(nr, w->cmd.done);
		EXPECT_EQ(w->ids[nr - 1], w->cmd.out.id);
		EXPECT_EQ(CALLBOX_STATE_EXITED, w->cmd.out.state);
		EXPECT_EQ(nr, *self->done_count);
		/* Each call ran once, in order, with its own outcome. */
		for (i = 0; i < nr; i++) {
			call_wait(fd, w->ids[i], 0, &c);
			EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
			EXPECT_EQ(i + 1, c.status);
		}
		return;
	}

	/* Stopped in the call hit: the batch ends there, ABORTED. */
	EXPECT_EQ(hit, w->cmd.done);
	EXPECT_EQ(w->ids[hit], w->cmd.out.id);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, w->cmd.out.state);
	EXPECT_EQ(variant->how == BY_CANCEL ? CALLBOX_ABORT_CANCELLED :
		  variant->how == BY_DEADLINE ? CALLBOX_ABORT_DEADLINE :
		  CALLBOX_ABORT_SANDBOX_CLOSED, w->cmd.out.reason);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_POISONED,
		  w->cmd.out.flags);
	EXPECT_EQ(hit, *self->done_count);
	for (i = 0; i < hit; i++) {
		call_get(fd, w->ids[i], &c);
		EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
		EXPECT_EQ(i + 1, c.status);
	}
	/* The rest never ran: queued, or ended by the shutdown. */
	for (i = hit + 1; i < nr; i++) {
		call_get(fd, w->ids[i], &c);
		if (variant->how == BY_SHUTDOWN) {
			EXPECT_EQ(CALLBOX_ABORT_SANDBOX_CLOSED, c.reason);
		} else {
			EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
		}
		EXPECT_EQ(0, c.flags & CALLBOX_CALL_GUEST_RAN);
	}
}

TEST_HARNESS_MAIN
