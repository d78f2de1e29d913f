// SPDX-License-Identifier: GPL-2.0
/*
 * Raw guests that never end a call by themselves, spinning or asleep in
 * HLT: what still ends the call (cancel, deadline, shutdown, the death of
 * the process), what an interrupted call leaves behind, and that the
 * sandbox is poisoned afterwards.
 */
#include <setjmp.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "callbox_util.h"

/* cli; 1: hlt; jmp 1b : sleeps in HLT for ever. */
static const uint8_t raw_guest_halter[] = { 0xfa, 0xf4, 0xeb, 0xfd };

FIXTURE(stuck) {
	int dev_fd;
	struct raw_guest guest;
	int fd;
};

FIXTURE_VARIANT(stuck) {
	const uint8_t *code;
	size_t len;
	bool irqchip;
};

FIXTURE_VARIANT_ADD(stuck, spinning) {
	guest_spinner, sizeof(guest_spinner), false,
};

/* With the in-kernel irqchip, HLT sleeps in the kernel: no exit at all. */
FIXTURE_VARIANT_ADD(stuck, halted_irqchip) {
	raw_guest_halter, sizeof(raw_guest_halter), true,
};

FIXTURE_SETUP(stuck)
{
	self->dev_fd = open_or_skip(_metadata, "/dev/callbox");
	if (variant->irqchip) {
		/* The irqchip must exist before the vCPU. */
		int kvm_fd = open("/dev/kvm", O_RDWR);
		int vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);

		ASSERT_LE(0, vm_fd);
		ASSERT_EQ(0, ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0));
		ASSERT_EQ(0, raw_guest_setup(&self->guest, kvm_fd, vm_fd,
					     variant->code, variant->len));
	} else {
		raw_guest_create_ok(&self->guest, variant->code, variant->len);
	}
	self->fd = sandbox_create(self->dev_fd, self->guest.vm.vm_fd,
				  self->guest.vm.vcpu_fd);
}

FIXTURE_TEARDOWN(stuck)
{
	if (self->fd >= 0)
		close(self->fd);
	raw_guest_destroy(&self->guest);
	close(self->dev_fd);
}

TEST_F_TIMEOUT(stuck, cancel_running, 60)
{
	struct call_runner r = { .fd = self->fd };
	struct callbox_call_info c;
	struct vcpu_stat exits;
	uint64_t id, t0, before;

	ASSERT_EQ(0, vcpu_stat_open(&exits, self->guest.vm.vcpu_fd, "exits"));
	before = vcpu_stat_read(&exits);
	call_submit(self->fd, 0, &id);
	r.id = id;
	ASSERT_EQ(0, pthread_create(&r.thread, NULL, call_runner_fn, &r));
	ASSERT_TRUE(wait_for_state(self->fd, id, CALLBOX_STATE_ENTERED));
	/*
	 * ENTERED comes before KVM_RUN, which can take long to enter the
	 * guest on a slow kernel (KASAN's). Once KVM has left the guest (a
	 * timer tick for the spinner, its HLT for the halter), it has run.
	 */
	ASSERT_TRUE(WAIT_FOR(vcpu_stat_read(&exits) != before));
	close(exits.fd);
	usleep(20 * 1000);	/* let it really spin or sleep */

	t0 = now_ns();
	EXPECT_EQ(0, _call_cancel(self->fd, id));
	ASSERT_EQ(0, pthread_join(r.thread, NULL));
	TH_LOG("cancel to return: %llu us",
	       (unsigned long long)(now_ns() - t0) / 1000);

	EXPECT_EQ(0, r.ret);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, r.c.state);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, r.c.reason);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_POISONED,
		  r.c.flags);
	call_wait(self->fd, id, 0, &c);

	/* Stopped mid-guest: poisoned, and RESET queues the init call. */
	call_sync_err(ENOTRECOVERABLE, self->fd, 0, &c);
	call_run_err(ENOTRECOVERABLE, self->fd, 0, CALLBOX_RUN_NONBLOCK, &c);
	EXPECT_EQ(0, _sandbox_reset(self->fd, 0, &t0));
	EXPECT_EQ(id + 1, t0);
	call_get(self->fd, t0, &c);
	EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
	EXPECT_EQ(CALLBOX_CALL_INIT, c.flags);
}

TEST_F_TIMEOUT(stuck, deadline_running, 60)
{
	struct callbox_call_info c;
	uint64_t t0, margin;

	/*
	 * The deadline must fall after KVM has entered the guest, which
	 * takes longer on a slow kernel (KASAN's). A call that the deadline
	 * ended before the guest ran changed nothing (no GUEST_RAN, not
	 * poisoned): try again with twice the time.
	 */
	for (margin = 50 * MS;; margin *= 2) {
		t0 = now_ns();
		call_sync(self->fd, t0 + margin, &c);
		EXPECT_LE(t0 + margin, now_ns());
		ASSERT_EQ(CALLBOX_STATE_ABORTED, c.state);
		ASSERT_EQ(CALLBOX_ABORT_DEADLINE, c.reason);
		if (c.flags & CALLBOX_CALL_GUEST_RAN)
			break;
		ASSERT_EQ(0, c.flags);
		ASSERT_GT(2000 * MS, margin) {
			TH_LOG("KVM never entered the guest in time");
		}
	}
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_POISONED,
		  c.flags);
	TH_LOG("deadline overshoot: %llu us",
	       (unsigned long long)((now_ns() - t0 - margin) / 1000));
	call_sync_err(ENOTRECOVERABLE, self->fd, 0, &c);
}

static sigjmp_buf escape;

static void escape_handler(int sig)
{
	(void)sig;
	siglongjmp(escape, 1);
}

/*
 * A CALL_SYNC interrupted by a signal whose handler never returns (it
 * longjmps away) leaves its call ENTERED and parked. Nothing but that
 * ioctl's restart may continue it: not RUN, not a new CALL_SYNC of the
 * same thread, which would otherwise return the old call's outcome. A
 * cancel ends it at once, since no thread runs it.
 */
TEST_F_TIMEOUT(stuck, interrupted_sync_call, 60)
{
	struct sigaction sa = { .sa_handler = escape_handler };
	struct itimerval it = { .it_value = { .tv_usec = 100000 } };
	struct callbox_call_info c;
	struct call_runner other = { .fd = self->fd, .sync = true };

	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	if (!sigsetjmp(escape, 1)) {
		ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
		_call_sync(self->fd, 0, &c);
		ASSERT_TRUE(false);	/* the guest never ends */
	}

	call_get(self->fd, 1, &c);
	EXPECT_EQ(CALLBOX_STATE_ENTERED, c.state);
	call_run_err(EBUSY, self->fd, 0, 0, &c);
	call_run_err(EBUSY, self->fd, 1, 0, &c);
	call_sync_err(EBUSY, self->fd, 0, &c);

	/* Another thread's CALL_SYNC waits for it instead of taking it. */
	ASSERT_EQ(0, pthread_create(&other.thread, NULL, call_runner_fn,
				    &other));
	usleep(100 * 1000);
	EXPECT_FALSE(atomic_load(&other.done));

	/* No thread runs it: the cancel ends it at once, mid-guest. */
	EXPECT_EQ(0, _call_cancel(self->fd, 1));
	call_get(self->fd, 1, &c);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, c.reason);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_POISONED, c.flags);

	/* The other caller goes on: into a poisoned sandbox. */
	ASSERT_EQ(0, pthread_join(other.thread, NULL));
	EXPECT_EQ(-ENOTRECOVERABLE, other.ret);
	call_wait(self->fd, 1, 0, &c);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, c.reason);
}

/* SHUTDOWN while another thread runs the call. */
TEST_F_TIMEOUT(stuck, shutdown_while_running, 60)
{
	struct call_runner r = { .fd = dup(self->fd) };
	struct callbox_call_info c;
	uint64_t id;

	call_submit(self->fd, 0, &id);
	r.id = id;
	ASSERT_EQ(0, pthread_create(&r.thread, NULL, call_runner_fn, &r));
	ASSERT_TRUE(wait_for_state(self->fd, id, CALLBOX_STATE_ENTERED));
	sandbox_shutdown(self->fd);
	/* When SHUTDOWN returns, the runner is out of the guest. */
	call_get(r.fd, id, &c);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	ASSERT_EQ(0, pthread_join(r.thread, NULL));
	EXPECT_EQ(0, r.ret);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, r.c.state);
	EXPECT_EQ(CALLBOX_ABORT_SANDBOX_CLOSED, r.c.reason);

	/* Shut down: nothing new starts; the outcome is still readable. */
	call_submit_err(ESHUTDOWN, r.fd, 0, &id);
	call_sync_err(ESHUTDOWN, r.fd, 0, &c);
	sandbox_reset_err(ESHUTDOWN, r.fd, 0, &id);
	EXPECT_EQ(0, _sandbox_shutdown(r.fd));	/* twice is fine */
	EXPECT_EQ(POLLHUP, poll_events(r.fd) & POLLHUP);
	call_wait(r.fd, r.c.id, 0, &c);
	EXPECT_EQ(CALLBOX_ABORT_SANDBOX_CLOSED, c.reason);
	close(r.fd);
}

/* SHUTDOWN while a call is queued and another thread waits for it. */
TEST_F_TIMEOUT(stuck, shutdown_while_queued, 60)
{
	struct call_waiter w = { .fd = dup(self->fd) };

	call_submit(self->fd, 0, &w.id);
	ASSERT_EQ(0, pthread_create(&w.thread, NULL, call_waiter_fn, &w));
	usleep(50 * 1000);
	sandbox_shutdown(self->fd);
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(0, w.ret);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, w.c.state);
	EXPECT_EQ(CALLBOX_ABORT_SANDBOX_CLOSED, w.c.reason);
	EXPECT_EQ(0, w.c.flags);	/* the guest never ran */
	close(w.fd);
}

/* The process dies (SIGKILL) while its thread runs a guest: no leak, no oops. */
TEST_F_TIMEOUT(stuck, sigkill_while_running, 60)
{
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct raw_guest g;
		struct callbox_call_info c;
		int fd;

		if (raw_guest_create(&g, guest_spinner, sizeof(guest_spinner)))
			_exit(1);
		fd = _sandbox_create(self->dev_fd, g.vm.vm_fd, g.vm.vcpu_fd);
		if (fd < 0)
			_exit(1);
		_call_sync(fd, 0, &c);
		_exit(2);	/* never reached: the guest spins */
	}
	usleep(300 * 1000);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(SIGKILL, WTERMSIG(status));
}

TEST_HARNESS_MAIN
