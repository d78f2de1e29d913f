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
 * - what another thread's vCPU ioctl changes while KVM_RUN waits for the
 *   vCPU's mutex ("Calls and the vCPU"): immediate_exit then stops KVM
 *   before the guest, and the call is parked without GUEST_RAN, so its
 *   cancellation poisons nothing; a signal mask then is in force for the
 *   run, and CANCEL still forces the guest out; a CANCEL then waits for
 *   the mutex like the call, which then ends without guest code run;
 * - CALLBOX_RUN_NONBLOCK never waits, not even for another thread's run;
 *   RESET fails with EBUSY at once while a call runs;
 * - the exit is decided from KVM's own record of it: a process that
 *   rewrites its kvm_run page (io.port, exit_reason) while the guest runs
 *   cannot turn a host call into an EXITED call;
 * - a call is consumed once: of two WAITs, one gets the outcome and the
 *   other ESRCH.
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

/*
 * ==== What changes while KVM_RUN waits for the vCPU's mutex ====
 *
 * "Calls and the vCPU": callbox checks what must hold at entry right
 * before its KVM_RUN, "but KVM_RUN then waits for the mutex if such an
 * ioctl of another thread holds it (for as long as that ioctl's own copy
 * from userspace takes), and what it changes callbox does not see". Here
 * that ioctl is KVM_SET_SIGNAL_MASK, its argument on a page whose read
 * stalls (stall.h's read stall). Once the call is ENTERED, callbox's
 * checks have passed; what the test changes before it lets the read go
 * on, KVM_RUN finds when it has the mutex, which it gets only after that
 * ioctl has ended. So each case below is decided, whether or not KVM_RUN
 * had reached the mutex yet.
 *
 * - immediate_exit set then: KVM stops before the guest. "The ioctl fails
 *   with EINTR and the call is parked, ENTERED but without
 *   CALLBOX_CALL_GUEST_RAN, to be continued the same way"; continued, it
 *   runs as the guest's call; cancelled, it ends ABORTED CANCELLED, still
 *   without GUEST_RAN, and poisons nothing (GUEST_RAN: "Clear on an ended
 *   call: guest code never ran for it, so its abort does not poison the
 *   sandbox").
 * - a signal mask set then "is in force for that run, so the process's
 *   own signals do not interrupt it (callbox's cancellation still does)".
 * - a CANCEL meanwhile wins at once, but "nothing but that ioctl's end
 *   cuts the wait for the mutex short"; then KVM_RUN finds the kick
 *   pending and stops before the guest: the call ends without GUEST_RAN.
 *
 * The counter guest tells whether guest code ran for a call: the n-th
 * call it runs reports n.
 */
FIXTURE(vcpu_mutex) {
	struct box b;
	struct read_stall rs;
	struct call_runner r;	/* the call; lingers, as its owner */
};

/* Each test opens the box with a guest of its own. */
FIXTURE_SETUP(vcpu_mutex)
{
	box_init(&self->b);
	read_stall_open(_metadata, &self->rs);
}

/*
 * The stalled vCPU ioctl goes first: the call's KVM_RUN waits for its
 * mutex, and nothing else ends that wait. Then shutdown ends the call,
 * and its thread is joined.
 */
FIXTURE_TEARDOWN(vcpu_mutex)
{
	bool joined;

	read_stall_close(_metadata, &self->rs);
	if (self->b.fd >= 0)
		_sandbox_shutdown(self->b.fd);
	joined = call_runner_join(&self->r, 10000);
	/* No handler block on the EXPECT: see stall_close(). */
	if (!joined)
		TH_LOG("the call's thread is still blocked after shutdown");
	EXPECT_TRUE(joined);
	box_close(&self->b);
}

/* The test's guest, bound (a macro: a SKIP in box_open() ends the test). */
#define mutex_guest(code)						\
	do {								\
		return_if_setup_skipped();				\
		entry_guest(code);					\
		return_if_setup_skipped();				\
	} while (0)

static atomic_int usr1_handled;

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&usr1_handled, 1);
}

/*
 * KVM_SET_SIGNAL_MASK arguments on the read stall's pages. The first is
 * all in the stalled page, which the test fills with zeros: len 0, so
 * the ioctl fails with EINVAL and changes nothing; it only holds the
 * mutex. The second has its len (8) read at once, and its sigset is the
 * start of the stalled page, which the test fills with 0xff: every
 * signal blocked.
 */
static void *no_mask_arg(struct read_stall *rs)
{
	return read_stall_page(rs);
}

static void *full_mask_arg(struct read_stall *rs)
{
	struct kvm_signal_mask *m;

	m = (void *)((uint8_t *)read_stall_page(rs) -
		     offsetof(struct kvm_signal_mask, sigset));
	m->len = sizeof(uint64_t);
	return m;
}

/*
 * Hold the vCPU's mutex with KVM_SET_SIGNAL_MASK stalled reading @arg,
 * then start a CALL_SYNC (call @id) on self->r, and return once it is
 * ENTERED: callbox's checks have passed, and its KVM_RUN waits for the
 * mutex.
 */
static void start_call_behind_mutex(struct __test_metadata *_metadata,
				    FIXTURE_DATA(vcpu_mutex) *self,
				    void *arg, uint64_t id)
{
	read_stall_ioctl(&self->rs, self->b.guest.vm.vcpu_fd,
			 KVM_SET_SIGNAL_MASK, arg);
	ASSERT_TRUE(read_stall_wait(&self->rs, 5000)) {
		TH_LOG("KVM_SET_SIGNAL_MASK did not read its argument");
	}
	self->r.fd = self->b.fd;
	self->r.sync = true;
	self->r.linger = true;
	call_runner_start(&self->r);
	ASSERT_TRUE(wait_for_state(self->b.fd, id, CALLBOX_STATE_ENTERED));
	/* Time to reach the mutex, though what follows holds either way. */
	usleep(100 * 1000);
	ASSERT_FALSE(atomic_load(&self->r.done)) {
		TH_LOG("CALL_SYNC returned (%s, state %u) while another vCPU ioctl held the vCPU",
		       strerror(-self->r.ret), self->r.c.state);
	}
}

/* Let the stalled KVM_SET_SIGNAL_MASK read @byte; 0 or its -errno. */
static int release_mutex(struct __test_metadata *_metadata,
			 FIXTURE_DATA(vcpu_mutex) *self, uint8_t byte)
{
	read_stall_fill(&self->rs, byte);
	ASSERT_TRUE(read_stall_join(&self->rs, 10000)) {
		TH_LOG("KVM_SET_SIGNAL_MASK still blocked after its read");
	}
	return self->rs.ret;
}

/*
 * Call 1 runs as usual; call 2 gets immediate_exit set while its KVM_RUN
 * waits for the mutex: EINTR, parked ENTERED without GUEST_RAN, its
 * owner (self->r) lingering. immediate_exit is clear again on return.
 */
static void park_by_immediate_exit(struct __test_metadata *_metadata,
				   FIXTURE_DATA(vcpu_mutex) *self)
{
	struct callbox_call_info c;

	call_sync(self->b.fd, 0, &c);
	ASSERT_EQ(1, c.status);

	start_call_behind_mutex(_metadata, self, no_mask_arg(&self->rs), 2);
	self->b.run->immediate_exit = 1;
	EXPECT_EQ(-EINVAL, release_mutex(_metadata, self, 0));
	ASSERT_TRUE(WAIT_FOR(atomic_load(&self->r.done))) {
		TH_LOG("CALL_SYNC still blocked after the vCPU ioctl ended");
	}
	self->b.run->immediate_exit = 0;

	EXPECT_EQ(-EINTR, self->r.ret) {
		TH_LOG("CALL_SYNC: %s, state %u",
		       self->r.ret ? strerror(-self->r.ret) : "0",
		       self->r.c.state);
	}
	/* Its @out names the parked call, for the restart. */
	EXPECT_EQ(2, self->r.c.id);
	EXPECT_EQ(CALLBOX_STATE_ENTERED, self->r.c.state);
	EXPECT_EQ(0, self->r.c.flags) {
		TH_LOG("KVM never entered the guest, yet flags %#x",
		       self->r.c.flags);
	}
	call_get(self->b.fd, 2, &c);
	EXPECT_EQ(CALLBOX_STATE_ENTERED, c.state);
	EXPECT_EQ(0, c.flags);
}

/* Cancelled: ends without GUEST_RAN, poisons nothing. */
TEST_F_TIMEOUT(vcpu_mutex, immediate_exit_then_cancel, 60)
{
	struct callbox_call_info c;

	mutex_guest(raw_guest_counter);
	park_by_immediate_exit(_metadata, self);

	call_cancel(self->b.fd, 2);
	call_get(self->b.fd, 2, &c);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, c.reason);
	EXPECT_EQ(0, c.flags) {
		TH_LOG("flags %#x for a call no guest code ran for", c.flags);
	}
	call_wait(self->b.fd, 2, 0, &c);

	/* Not poisoned, and the guest never ran call 2: 3 is its second. */
	call_sync(self->b.fd, 0, &c);
	EXPECT_EQ(3, c.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN, c.flags);
	EXPECT_EQ(2, c.status);
}

/* Continued by the same ioctl with its @out: it runs, once. */
TEST_F_TIMEOUT(vcpu_mutex, immediate_exit_then_continue, 60)
{
	struct callbox_call_info c;

	mutex_guest(raw_guest_counter);
	park_by_immediate_exit(_metadata, self);

	atomic_store(&self->r.cont, true);
	atomic_store(&self->r.go, true);
	ASSERT_TRUE(WAIT_FOR(atomic_load(&self->r.cont_done)));
	EXPECT_EQ(0, self->r.cont_ret) {
		TH_LOG("the continuation: %s", strerror(-self->r.cont_ret));
	}
	EXPECT_EQ(2, self->r.cont_c.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, self->r.cont_c.state);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN, self->r.cont_c.flags);
	EXPECT_EQ(2, self->r.cont_c.status);
	call_get_err(ESRCH, self->b.fd, 2, &c);

	call_sync(self->b.fd, 0, &c);
	EXPECT_EQ(3, c.id);
	EXPECT_EQ(3, c.status);
}

/*
 * A signal mask set while KVM_RUN waits: in force for the run. The
 * guest spins; a signal for the thread running it does not interrupt it
 * (no handler runs, the call stays ENTERED); CANCEL still forces it out,
 * and the signal is delivered once KVM_RUN has put the thread's own mask
 * back.
 */
TEST_F_TIMEOUT(vcpu_mutex, signal_mask_in_force_cancel_still_works, 60)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct callbox_call_info c;

	mutex_guest(guest_spinner);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	start_call_behind_mutex(_metadata, self, full_mask_arg(&self->rs), 1);
	ASSERT_EQ(0, release_mutex(_metadata, self, 0xff));

	usleep(100 * 1000);	/* the guest spins, under that mask */
	ASSERT_EQ(0, pthread_kill(self->r.thread, SIGUSR1));
	usleep(500 * 1000);
	EXPECT_EQ(0, atomic_load(&usr1_handled));
	EXPECT_FALSE(atomic_load(&self->r.done)) {
		TH_LOG("CALL_SYNC returned %s, state %u",
		       strerror(-self->r.ret), self->r.c.state);
	}
	EXPECT_EQ(CALLBOX_STATE_ENTERED, call_state(self->b.fd, 1));

	call_cancel(self->b.fd, 1);
	ASSERT_TRUE(WAIT_FOR(atomic_load(&self->r.done))) {
		TH_LOG("CANCEL did not force the guest out under the mask");
	}
	EXPECT_EQ(0, self->r.ret);
	EXPECT_EQ(1, self->r.c.id);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, self->r.c.state);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, self->r.c.reason);
	/* Stopped in the middle of guest code. */
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_POISONED,
		  self->r.c.flags);
	EXPECT_TRUE(WAIT_FOR(atomic_load(&usr1_handled) == 1));

	call_get_err(ESRCH, self->b.fd, 1, &c);
	/* The vCPU keeps the mask until userspace clears it. */
	EXPECT_EQ(0, ioctl(self->b.guest.vm.vcpu_fd, KVM_SET_SIGNAL_MASK,
			   NULL));
}

/*
 * CANCEL while KVM_RUN waits for the mutex: it wins at once, yet the
 * call goes on waiting until the vCPU ioctl ends; then KVM stops before
 * the guest, and the call ends with no guest code run for it.
 */
TEST_F_TIMEOUT(vcpu_mutex, cancel_waits_for_the_mutex, 60)
{
	struct callbox_call_info c;

	mutex_guest(raw_guest_counter);
	start_call_behind_mutex(_metadata, self, no_mask_arg(&self->rs), 1);

	call_cancel(self->b.fd, 1);
	usleep(300 * 1000);
	EXPECT_FALSE(atomic_load(&self->r.done));
	call_get(self->b.fd, 1, &c);
	EXPECT_EQ(CALLBOX_STATE_ENTERED, c.state);
	EXPECT_EQ(CALLBOX_CALL_CANCEL_PENDING, c.flags);

	EXPECT_EQ(-EINVAL, release_mutex(_metadata, self, 0));
	ASSERT_TRUE(WAIT_FOR(atomic_load(&self->r.done)));
	EXPECT_EQ(0, self->r.ret);
	EXPECT_EQ(1, self->r.c.id);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, self->r.c.state);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, self->r.c.reason);
	EXPECT_EQ(0, self->r.c.flags) {
		TH_LOG("flags %#x for a call no guest code ran for",
		       self->r.c.flags);
	}

	/* Not poisoned; the guest's first call is call 2. */
	call_sync(self->b.fd, 0, &c);
	EXPECT_EQ(2, c.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);
}

TEST_HARNESS_MAIN
