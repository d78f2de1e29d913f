// SPDX-License-Identifier: GPL-2.0
/*
 * What is decided when a call enters the guest, when it ends, and who
 * consumes it, against uapi/linux/callbox.h:
 *
 * - the checks before entry hold at the moment of entry, not when the
 *   ioctl started: kvm_run.immediate_exit set while RUN waits for work
 *   enters nothing (the call stays QUEUED); and immediate_exit or a vCPU
 *   signal mask set while RUN writes @out, or CALL_SYNC its publication
 *   reply (a write held up with userfaultfd, see stall.h), refuses entry
 *   after that write;
 * - CALLBOX_RUN_NONBLOCK never waits, not even for another thread's run;
 *   RESET fails with EBUSY at once while a call runs;
 * - the exit is decided from KVM's own record of it: a process that
 *   rewrites its kvm_run page (io.port, exit_reason) while the guest runs
 *   cannot turn a host call into an EXITED call;
 * - a call is consumed once: of two WAITs, one gets the outcome and the
 *   other ESRCH.
 *
 * What another thread's vCPU ioctl changes while KVM_RUN waits for the
 * vCPU's mutex is vcpu_mutex_test's.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>

#include "callbox_util.h"
#include "stall.h"

FIXTURE(entry) {
	struct box b;
};

/* Each test opens the box with a guest of its own. */
FIXTURE_SETUP(entry)
{
	box_init(&self->b);
}

FIXTURE_TEARDOWN(entry)
{
	box_close(&self->b);
}

#define entry_guest(code) \
	box_open(_metadata, &self->b, code, sizeof(code), true)

/*
 * "kvm_run.immediate_exit is read before the guest is entered: if it is
 * set, the ioctl fails with EINTR and enters nothing", also for a RUN
 * that started waiting for work before it was set.
 */
TEST_F_TIMEOUT(entry, immediate_exit_set_while_run_waits, 60)
{
	struct call_runner r = { 0 };
	struct callbox_call_info c;
	uint64_t id;

	entry_guest(raw_guest_counter);
	r.fd = self->b.fd;
	ASSERT_EQ(0, pthread_create(&r.thread, NULL, call_runner_fn, &r));
	usleep(100 * 1000);	/* waiting for work */
	ASSERT_FALSE(atomic_load(&r.done));
	self->b.run->immediate_exit = 1;
	call_submit(self->b.fd, 0, &id);
	ASSERT_EQ(0, pthread_join(r.thread, NULL));
	EXPECT_EQ(-EINTR, r.ret);
	/* Nothing entered: still QUEUED, no GUEST_RAN, nothing poisoned. */
	call_get(self->b.fd, id, &c);
	EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
	EXPECT_EQ(0, c.flags);
	self->b.run->immediate_exit = 0;
	call_run(self->b.fd, id, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);	/* the guest's first call */
	call_wait(self->b.fd, id, 0, &c);
}

/*
 * While another thread runs a call: RUN with CALLBOX_RUN_NONBLOCK fails
 * with EAGAIN at once ("instead of waiting, whether for a call to be
 * submitted or for another thread's run to end"), and RESET with EBUSY
 * ("if a call is current (running or parked)").
 */
TEST_F_TIMEOUT(entry, nonblock_and_reset_do_not_wait_for_a_run, 60)
{
	struct call_runner r = { 0 };
	struct callbox_call_info c;
	uint64_t id, queued, t0;

	entry_guest(guest_spinner);
	r.fd = self->b.fd;
	call_submit(self->b.fd, 0, &id);
	call_submit(self->b.fd, 0, &queued);
	r.id = id;
	ASSERT_EQ(0, pthread_create(&r.thread, NULL, call_runner_fn, &r));
	ASSERT_TRUE(wait_for_state(self->b.fd, id, CALLBOX_STATE_ENTERED));

	t0 = now_ns();
	call_run_err(EAGAIN, self->b.fd, queued, CALLBOX_RUN_NONBLOCK, &c);
	call_run_err(EAGAIN, self->b.fd, 0, CALLBOX_RUN_NONBLOCK, &c);
	sandbox_reset_err(EBUSY, self->b.fd, 0, &id);
	/* At once: well under the second the guest is left to spin. */
	EXPECT_GT(now_ns(), t0);
	EXPECT_LT(now_ns() - t0, 500 * 1000 * 1000ull);
	EXPECT_EQ(CALLBOX_STATE_QUEUED, call_state(self->b.fd, queued));

	usleep(500 * 1000);
	call_cancel(self->b.fd, id);
	ASSERT_EQ(0, pthread_join(r.thread, NULL));
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, r.c.reason);
}

struct scribbler {
	struct kvm_run *run;
	atomic_bool stop;
};

/* Rewrites the exit record of kvm_run as fast as it can. */
static void *scribbler_fn(void *p)
{
	struct scribbler *s = p;
	volatile struct kvm_run *run = s->run;

	while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
		run->exit_reason = KVM_EXIT_IO;
		run->io.direction = KVM_EXIT_IO_OUT;
		run->io.size = 4;
		run->io.port = CALLBOX_PORT_DONE;
		run->io.count = 1;
	}
	return NULL;
}

/*
 * "The kernel decides from KVM's own record of the exit, not from the
 * kvm_run page, which the process can write": a thread that rewrites the
 * page as the guest makes its host call (to look like a DONE) changes
 * nothing. Each call reaches HOSTCALL, then EXITED when continued.
 */
TEST_F_TIMEOUT(entry, a_rewritten_exit_record_changes_nothing, 300)
{
	struct scribbler s = { 0 };
	struct callbox_call_info c;
	int i, hostcalls = 0, exited = 0;
	pthread_t t;

	entry_guest(guest_hostcaller);
	s.run = self->b.run;
	ASSERT_EQ(0, pthread_create(&t, NULL, scribbler_fn, &s));
	for (i = 0; i < 500; i++) {
		call_sync(self->b.fd, 0, &c);
		hostcalls += c.state == CALLBOX_STATE_HOSTCALL;
		if (c.state != CALLBOX_STATE_HOSTCALL) {
			TH_LOG("call %llu: state %u, status 0x%x",
			       (unsigned long long)c.id, c.state, c.status);
			continue;
		}
		call_run(self->b.fd, c.id, 0, &c);
		exited += c.state == CALLBOX_STATE_EXITED;
		call_wait(self->b.fd, c.id, 0, &c);
	}
	atomic_store(&s.stop, true);
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(500, hostcalls);
	EXPECT_EQ(500, exited);
}

/*
 * "Of several WAITs for one call, one returns its outcome and the others
 * then fail with ESRCH": a call is consumed exactly once.
 */
TEST_F_TIMEOUT(entry, two_waits_one_outcome, 120)
{
	struct call_waiter w[2];
	struct callbox_call_info c;
	int i, round, got = 0;
	uint64_t id;

	entry_guest(raw_guest_counter);
	for (round = 0; round < 100; round++) {
		call_submit(self->b.fd, 0, &id);
		for (i = 0; i < 2; i++) {
			w[i] = (struct call_waiter) {
				.fd = self->b.fd,
				.id = id,
			};
			ASSERT_EQ(0, pthread_create(&w[i].thread, NULL,
						    call_waiter_fn, &w[i]));
		}
		usleep(1000);
		call_run(self->b.fd, id, 0, &c);
		for (i = 0; i < 2; i++)
			ASSERT_EQ(0, pthread_join(w[i].thread, NULL));
		/* Exactly one of them, and the other was told it is gone. */
		EXPECT_EQ(-ESRCH, w[0].ret + w[1].ret) {
			TH_LOG("round %d: WAITs returned %d and %d", round,
			       w[0].ret, w[1].ret);
		}
		for (i = 0; i < 2; i++) {
			if (w[i].ret)
				continue;
			got++;
			EXPECT_EQ(id, w[i].c.id);
			EXPECT_EQ(CALLBOX_STATE_EXITED, w[i].c.state);
		}
		call_get_err(ESRCH, self->b.fd, id, &c);
	}
	EXPECT_EQ(100, got);
}

/*
 * ==== The checks before entry hold at entry, after a stalled write ====
 *
 * RUN "writes the call's id and state into @out before it enters the
 * guest", and CALL_SYNC publishes its call (writes the id back) before
 * it runs it; kvm_run.immediate_exit "is read before the guest is
 * entered", and "the vCPU must not have a signal mask ... now or when a
 * call enters it". So the checks belong after those writes, right before
 * KVM_RUN: whatever changes while a write is held up must still refuse
 * entry, with that errno, and nothing entered.
 *
 * RUN: the call stays QUEUED, without CALLBOX_CALL_GUEST_RAN, and runs
 * later as the guest's first call. CALL_SYNC: "the call is dropped
 * before it is published: @out.id then answers as the id of a consumed
 * call (ESRCH; EALREADY to CANCEL), and no later call gets it"; the
 * sandbox is not poisoned, and the next CALL_SYNC runs the guest's first
 * call, as call 2. The counter guest tells: the n-th call it runs reports
 * n.
 */
enum entry_block {
	BY_IMMEDIATE_EXIT,
	BY_SIGNAL_MASK,
};

FIXTURE(entry_check) {
	struct box b;
	struct stall st;
};

FIXTURE_VARIANT(entry_check) {
	bool sync;
	enum entry_block how;
	int err;
};

FIXTURE_VARIANT_ADD(entry_check, run_immediate_exit) {
	.sync = false, .how = BY_IMMEDIATE_EXIT, .err = EINTR,
};

FIXTURE_VARIANT_ADD(entry_check, run_signal_mask) {
	.sync = false, .how = BY_SIGNAL_MASK, .err = EOPNOTSUPP,
};

FIXTURE_VARIANT_ADD(entry_check, sync_immediate_exit) {
	.sync = true, .how = BY_IMMEDIATE_EXIT, .err = EINTR,
};

FIXTURE_VARIANT_ADD(entry_check, sync_signal_mask) {
	.sync = true, .how = BY_SIGNAL_MASK, .err = EOPNOTSUPP,
};

FIXTURE_SETUP(entry_check)
{
	stall_init(&self->st);
	box_open(_metadata, &self->b, raw_guest_counter,
		 sizeof(raw_guest_counter), true);
	if (_metadata->skip)
		return;
	stall_open(_metadata, &self->st);
}

/* stall_close() first: the stalled ioctl must end before the box goes. */
FIXTURE_TEARDOWN(entry_check)
{
	stall_close(_metadata, &self->st, self->b.fd);
	box_close(&self->b);
}

struct mask_setter {
	pthread_t thread;
	int vcpu_fd;
	int ret;
	atomic_bool done;
};

/* Gives the vCPU an (empty) signal mask. */
static void *mask_setter_fn(void *p)
{
	struct mask_setter *m = p;
	/* struct kvm_signal_mask ends in the sigset, a flexible array. */
	union {
		struct kvm_signal_mask mask;
		uint8_t bytes[sizeof(struct kvm_signal_mask) + sizeof(uint64_t)];
	} arg = { .mask.len = sizeof(uint64_t) };

	m->ret = ioctl(m->vcpu_fd, KVM_SET_SIGNAL_MASK, &arg.mask) ? -errno : 0;
	atomic_store(&m->done, true);
	return NULL;
}

TEST_F_TIMEOUT(entry_check, changed_during_the_stalled_write, 60)
{
	struct callbox_call_sync *sync = self->st.page;
	struct callbox_call_run *run = self->st.page;
	struct stall *t = &self->st;
	struct mask_setter m = { 0 };
	struct callbox_call_info c;
	uint64_t id;

	return_if_setup_skipped();
	if (variant->sync) {
		sync->size = sizeof(*sync);
	} else {
		call_submit(self->b.fd, 0, &id);
		ASSERT_EQ(1, id);
		run->size = sizeof(*run);
		run->id = id;
	}

	/* The ioctl passes every check, then stalls in its write. */
	stall_arm(t);
	stall_ioctl(t, self->b.fd,
		    variant->sync ? CALLBOX_CALL_SYNC : CALLBOX_CALL_RUN);
	ASSERT_TRUE(stall_wait(t, 5000)) {
		TH_LOG("the ioctl did not write its struct");
	}

	switch (variant->how) {
	case BY_IMMEDIATE_EXIT:
		self->b.run->immediate_exit = 1;
		break;
	case BY_SIGNAL_MASK:
		/*
		 * In a thread, bounded: it takes vcpu->mutex, which the
		 * stalled ioctl must not hold (it has not entered KVM_RUN).
		 */
		m.vcpu_fd = self->b.guest.vm.vcpu_fd;
		ASSERT_EQ(0, pthread_create(&m.thread, NULL, mask_setter_fn,
					    &m));
		EXPECT_TRUE(WAIT_FOR(atomic_load(&m.done))) {
			TH_LOG("KVM_SET_SIGNAL_MASK blocked by the stalled ioctl");
		}
		if (!atomic_load(&m.done))
			_stall_release(t);	/* unblocks it */
		ASSERT_EQ(0, pthread_join(m.thread, NULL));
		ASSERT_EQ(0, m.ret);
		break;
	}

	/* The write lands; the ioctl must now refuse to enter. */
	stall_release(t);
	ASSERT_TRUE(stall_ioctl_join(t, 10000)) {
		TH_LOG("the ioctl still runs");
	}
	EXPECT_EQ(-variant->err, t->ret) {
		c = variant->sync ? sync->out : run->out;
		TH_LOG("the ioctl returned %s, call %llu state %u flags %#x",
		       t->ret ? strerror(-t->ret) : "0",
		       (unsigned long long)c.id, c.state, c.flags);
	}
	if (variant->sync) {
		/* Its published id names a call that is gone, never run. */
		EXPECT_EQ(1, sync->out.id);
		EXPECT_EQ(-ESRCH, _call_get(self->b.fd, 1, &c)) {
			TH_LOG("call 1: state %u flags %#x", c.state, c.flags);
		}
		/*
		 * "@out.id then answers as the id of a consumed call (ESRCH;
		 * EALREADY to CANCEL)": to WAIT (bounded, should it wait) and
		 * CANCEL too.
		 */
		EXPECT_EQ(-ESRCH, _call_wait(self->b.fd, 1,
					     now_ns() + 2000 * MS, &c));
		call_cancel_err(EALREADY, self->b.fd, 1);
	} else {
		call_get(self->b.fd, 1, &c);
		EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
		EXPECT_EQ(0, c.flags) {
			TH_LOG("call 1: state %u flags %#x", c.state, c.flags);
		}
	}

	/* Once the condition is gone, the guest runs its first call. */
	self->b.run->immediate_exit = 0;
	ASSERT_EQ(0, ioctl(self->b.guest.vm.vcpu_fd, KVM_SET_SIGNAL_MASK,
			   NULL));
	if (variant->sync) {
		call_sync(self->b.fd, 0, &c);
		EXPECT_EQ(2, c.id);
	} else {
		call_run(self->b.fd, 1, 0, &c);
		EXPECT_EQ(1, c.id);
	}
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN, c.flags);
	EXPECT_EQ(1, c.status);
	if (!variant->sync) {
		EXPECT_EQ(0, _call_wait(self->b.fd, 1, now_ns() + 2000 * MS,
					&c));
	}
}
TEST_HARNESS_MAIN
