// SPDX-License-Identifier: GPL-2.0
/*
 * What changes while KVM_RUN waits for the vCPU's mutex, against
 * uapi/linux/callbox.h.
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
 * - a KVM_RUN of the test's own holding the mutex: the guest code it runs
 *   counts as run for the call (GUEST_RAN), which then poisons.
 * - a SHUTDOWN left by its handler's siglongjmp() while it waits for the
 *   runner: the vCPU is still unbound once the runner has left.
 *
 * A call KVM stopped before the guest also keeps exit_reason 0.
 *
 * The counter guest tells whether guest code ran for a call: the n-th
 * call it runs reports n.
 */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>

#include "callbox_util.h"
#include "stall.h"

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
		box_open(_metadata, &self->b, code, sizeof(code), true); \
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
	/* "0 if the guest never ran for it": no KVM_EXIT_INTR either. */
	EXPECT_EQ(0, self->r.c.exit_reason);
	call_get(self->b.fd, 2, &c);
	EXPECT_EQ(CALLBOX_STATE_ENTERED, c.state);
	EXPECT_EQ(0, c.flags);
	EXPECT_EQ(0, c.exit_reason);
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
	EXPECT_EQ(0, c.exit_reason);
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
	EXPECT_EQ(KVM_EXIT_IO, self->r.cont_c.exit_reason);
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
	EXPECT_EQ(0, self->r.c.exit_reason);

	/* Not poisoned; the guest's first call is call 2. */
	call_sync(self->b.fd, 0, &c);
	EXPECT_EQ(2, c.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);
}

static sigjmp_buf shutdown_jmp;

static void on_usr2_leave(int sig)
{
	(void)sig;
	siglongjmp(shutdown_jmp, 1);
}

/* A SHUTDOWN in a thread of its own, which SIGUSR2 makes leave it. */
struct shutdown_thread {
	pthread_t thread;
	int fd;
	atomic_int state;	/* 1: issued, 2: left by longjmp, 3: returned */
};

static void *shutdown_fn(void *p)
{
	struct shutdown_thread *st = p;

	if (sigsetjmp(shutdown_jmp, 1)) {
		atomic_store(&st->state, 2);
		return NULL;
	}
	atomic_store(&st->state, 1);
	_sandbox_shutdown(st->fd);
	atomic_store(&st->state, 3);
	return NULL;
}

/*
 * "The vCPU is unbound as soon as no thread runs it, so it can serve a
 * new sandbox": also when the SHUTDOWN that waits for the kicked runner
 * is left by its signal handler's siglongjmp(), which "Signals and
 * restarts" allows. The runner's KVM_RUN waits for the mutex meanwhile;
 * once it has left, with no guest code run, the vCPU is free.
 */
TEST_F_TIMEOUT(vcpu_mutex, shutdown_left_by_longjmp_still_unbinds, 60)
{
	struct sigaction sa = { .sa_handler = on_usr2_leave };
	struct shutdown_thread st = { .fd = -1 };
	int fd;

	mutex_guest(raw_guest_counter);
	ASSERT_EQ(0, sigaction(SIGUSR2, &sa, NULL));
	start_call_behind_mutex(_metadata, self, no_mask_arg(&self->rs), 1);

	st.fd = self->b.fd;
	ASSERT_EQ(0, pthread_create(&st.thread, NULL, shutdown_fn, &st));
	/* Shut down (POLLHUP), and waiting for the runner to leave. */
	ASSERT_TRUE(WAIT_FOR(poll_events(self->b.fd) & POLLHUP));
	usleep(100 * 1000);
	EXPECT_EQ(1, atomic_load(&st.state));
	ASSERT_EQ(0, pthread_kill(st.thread, SIGUSR2));
	ASSERT_TRUE(WAIT_FOR(atomic_load(&st.state) == 2));
	ASSERT_EQ(0, pthread_join(st.thread, NULL));

	EXPECT_EQ(-EINVAL, release_mutex(_metadata, self, 0));
	ASSERT_TRUE(WAIT_FOR(atomic_load(&self->r.done)));
	EXPECT_EQ(0, self->r.ret);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, self->r.c.state);
	EXPECT_EQ(CALLBOX_ABORT_SANDBOX_CLOSED, self->r.c.reason);
	EXPECT_EQ(0, self->r.c.flags);
	EXPECT_EQ(0, self->r.c.exit_reason);

	fd = _sandbox_create(self->b.dev_fd, self->b.guest.vm.vm_fd,
			     self->b.guest.vm.vcpu_fd);
	EXPECT_LE(0, fd) {
		TH_LOG("CREATE on the vCPU of a shut-down sandbox that no thread runs: %s",
		       strerror(-fd));
	}
	if (fd >= 0)
		close(fd);
}

struct raw_runner {
	pthread_t thread;
	int vcpu_fd;
	int ret;
	atomic_bool done;
};

static void *raw_runner_fn(void *p)
{
	struct raw_runner *rr = p;

	rr->ret = ioctl(rr->vcpu_fd, KVM_RUN, 0) ? -errno : 0;
	atomic_store(&rr->done, true);
	return NULL;
}

/*
 * The vCPU's mutex held by a KVM_RUN that userspace issued itself, its
 * guest (guest_held) spinning: "The guest code that KVM_RUN runs
 * meanwhile counts as run for the call: it gets CALLBOX_CALL_GUEST_RAN
 * (so its abort poisons the sandbox) even if its own KVM_RUN then stops
 * before the guest", here by immediate_exit. The guest was in the middle
 * of something while the call was ENTERED: nothing may say it was not.
 */
TEST_F_TIMEOUT(vcpu_mutex, a_users_own_kvm_run_meanwhile_counts_as_run, 60)
{
	struct raw_runner rr = { 0 };
	struct callbox_call_info c;

	mutex_guest(guest_held);
	rr.vcpu_fd = self->b.guest.vm.vcpu_fd;
	ASSERT_EQ(0, pthread_create(&rr.thread, NULL, raw_runner_fn, &rr));
	ASSERT_TRUE(held_wait_spinning(self->b.guest.mem));

	self->r.fd = self->b.fd;
	self->r.sync = true;
	self->r.linger = true;
	call_runner_start(&self->r);
	ASSERT_TRUE(wait_for_state(self->b.fd, 1, CALLBOX_STATE_ENTERED));
	usleep(100 * 1000);
	EXPECT_FALSE(atomic_load(&self->r.done));

	/* The user's KVM_RUN ends at the guest's DONE; callbox's stops. */
	self->b.run->immediate_exit = 1;
	*((volatile uint8_t *)self->b.guest.mem + HELD_RELEASE) = 1;
	ASSERT_TRUE(WAIT_FOR(atomic_load(&rr.done)));
	ASSERT_EQ(0, pthread_join(rr.thread, NULL));
	ASSERT_TRUE(WAIT_FOR(atomic_load(&self->r.done)));
	self->b.run->immediate_exit = 0;
	EXPECT_EQ(0, rr.ret);
	EXPECT_EQ(-EINTR, self->r.ret);
	EXPECT_EQ(1, self->r.c.id);
	EXPECT_EQ(CALLBOX_STATE_ENTERED, self->r.c.state);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN, self->r.c.flags);
	/* That KVM_RUN counts as having run the guest, and was interrupted. */
	EXPECT_EQ(KVM_EXIT_INTR, self->r.c.exit_reason);

	call_cancel(self->b.fd, 1);
	call_get(self->b.fd, 1, &c);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, c.reason);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_POISONED, c.flags);
	call_wait(self->b.fd, 1, 0, &c);
	EXPECT_EQ(-ENOTRECOVERABLE, _call_sync(self->b.fd, 0, &c));
}

TEST_HARNESS_MAIN
