// SPDX-License-Identifier: GPL-2.0
/*
 * The call lifecycle, on raw guests: every transition of the state
 * machine, host calls included, and the errno contract of each ioctl.
 * race_test.c has the racing pairs, stuck_test.c the guests that never
 * end by themselves.
 */
#include <stddef.h>

#include "callbox_util.h"

BOX_FIXTURE(life, raw_guest_counter, true)

TEST_F(life, submit_run_wait)
{
	struct callbox_call_info c;
	uint64_t id;

	call_submit(self->b.fd, 0, &id);
	EXPECT_EQ(1, id);
	call_get(self->b.fd, id, &c);
	EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
	EXPECT_EQ(0, c.flags);
	EXPECT_EQ(0, poll_events(self->b.fd) & POLLIN);

	call_run(self->b.fd, 0, 0, &c);
	EXPECT_EQ(id, c.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN, c.flags);
	EXPECT_EQ(1, c.status);
	/* Ended, not consumed: readable, and GET still knows it. */
	EXPECT_EQ(POLLIN, poll_events(self->b.fd) & POLLIN);
	call_get(self->b.fd, id, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);

	call_wait(self->b.fd, id, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);
	EXPECT_EQ(0, poll_events(self->b.fd) & POLLIN);

	/* Consumed ids and never-issued ids have their own errnos. */
	call_get_err(ESRCH, self->b.fd, id, &c);
	call_wait_err(ESRCH, self->b.fd, id, 0, &c);
	call_get_err(ENOENT, self->b.fd, 0, &c);
	call_get_err(ENOENT, self->b.fd, id + 1, &c);
	call_wait_err(ENOENT, self->b.fd, 1000, 0, &c);
	call_run_err(ENOENT, self->b.fd, 1000, 0, &c);
	call_run_err(ESRCH, self->b.fd, id, 0, &c);
}

/*
 * kvm_run.immediate_exit is read before the guest is entered: with it set,
 * CALL_SYNC and RUN fail with EINTR (never a kernel-internal restart code)
 * and neither make nor enter a call.
 */
TEST_F(life, immediate_exit)
{
	struct callbox_call_info c;
	uint64_t id;

	self->b.run->immediate_exit = 1;
	call_sync_err(EINTR, self->b.fd, 0, &c);
	call_get_err(ENOENT, self->b.fd, 1, &c);
	call_submit(self->b.fd, 0, &id);
	EXPECT_EQ(1, id);
	call_run_err(EINTR, self->b.fd, id, 0, &c);
	call_get(self->b.fd, id, &c);
	EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
	EXPECT_EQ(0, c.flags);

	self->b.run->immediate_exit = 0;
	call_run(self->b.fd, id, 0, &c);
	EXPECT_EQ(id, c.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);
	call_wait(self->b.fd, id, 0, &c);
}

TEST_F(life, cancel_queued)
{
	struct callbox_call_info c;
	uint64_t a, b;

	call_submit(self->b.fd, 0, &a);
	call_submit(self->b.fd, 0, &b);
	EXPECT_EQ(0, _call_cancel(self->b.fd, a));
	call_cancel_err(EALREADY, self->b.fd, a);
	call_get(self->b.fd, a, &c);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, c.reason);
	EXPECT_EQ(0, c.flags);	/* the guest never ran for it */

	/* RUN of the cancelled call reports it without entering the guest. */
	call_run(self->b.fd, a, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_EQ(0, c.flags);

	/* The next RUN takes b, and the guest counts its first call. */
	call_run(self->b.fd, 0, 0, &c);
	EXPECT_EQ(b, c.id);
	EXPECT_EQ(1, c.status);

	call_wait(self->b.fd, a, 0, &c);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, c.reason);
	call_wait(self->b.fd, b, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
}

TEST_F(life, cancel_errnos)
{
	struct callbox_call_info c;
	uint64_t a, b;

	call_sync(self->b.fd, 0, &c);
	a = c.id;
	/* Ended and consumed, ended, never issued. */
	call_cancel_err(EALREADY, self->b.fd, a);
	call_submit(self->b.fd, 0, &b);
	call_run(self->b.fd, b, 0, &c);
	call_cancel_err(EALREADY, self->b.fd, b);
	call_cancel_err(ENOENT, self->b.fd, b + 1);
	call_cancel_err(ENOENT, self->b.fd, 0);
	call_wait(self->b.fd, b, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(2, c.status);
}

/* A cancel for the previous id never touches the next call. */
TEST_F(life, stale_cancel)
{
	struct callbox_call_info c;
	uint64_t first, next;
	int i;

	for (i = 0; i < 100; i++) {
		call_sync(self->b.fd, 0, &c);
		first = c.id;
		call_submit(self->b.fd, 0, &next);
		call_cancel_err(EALREADY, self->b.fd, first);
		call_run(self->b.fd, next, 0, &c);
		EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
		EXPECT_EQ((uint32_t)(2 * i + 2), c.status);
		call_wait(self->b.fd, next, 0, &c);
	}
}

TEST_F(life, deadline_while_queued)
{
	struct callbox_call_info c;
	uint64_t id;

	call_submit(self->b.fd, now_ns() + 20 * MS, &id);
	call_wait(self->b.fd, id, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_EQ(CALLBOX_ABORT_DEADLINE, c.reason);
	EXPECT_EQ(0, c.flags);

	/* A deadline already past aborts at once; not an error. */
	call_submit(self->b.fd, 1, &id);
	call_get(self->b.fd, id, &c);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_EQ(CALLBOX_ABORT_DEADLINE, c.reason);
	call_wait(self->b.fd, id, 0, &c);

	/* Guest code never ran: the sandbox is not poisoned. */
	call_sync(self->b.fd, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);
}

TEST_F(life, wait_deadline)
{
	struct callbox_call_info c;
	uint64_t id, t0;

	call_submit(self->b.fd, 0, &id);
	t0 = now_ns();
	call_wait_err(ETIMEDOUT, self->b.fd, id, t0 + 30 * MS, &c);
	EXPECT_LE(t0 + 30 * MS, now_ns());
	/* Giving up waiting does not touch the call. */
	call_get(self->b.fd, id, &c);
	EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
	call_run(self->b.fd, 0, 0, &c);
	/* A deadline past KTIME_MAX is no time at all. */
	call_wait_err(EINVAL, self->b.fd, id, ~0ull, &c);
	call_wait(self->b.fd, id, 1, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
}

TEST_F(life, queue_limits)
{
	struct callbox_call_info c;
	uint64_t ids[CALLBOX_MAX_CALLS], extra;
	int i;

	call_run_err(EAGAIN, self->b.fd, 0, CALLBOX_RUN_NONBLOCK, &c);
	for (i = 0; i < CALLBOX_MAX_CALLS; i++)
		call_submit(self->b.fd, 0, &ids[i]);
	call_submit_err(EAGAIN, self->b.fd, 0, &extra);
	/* CALL_SYNC does not jump the queue. */
	call_sync_err(EBUSY, self->b.fd, 0, &c);
	for (i = 0; i < CALLBOX_MAX_CALLS; i++) {
		call_run(self->b.fd, 0, CALLBOX_RUN_NONBLOCK, &c);
		EXPECT_EQ(ids[i], c.id);
		EXPECT_EQ((uint32_t)i + 1, c.status);
	}
	/* Ended but not consumed still count, for CALL_SYNC too. */
	call_submit_err(EAGAIN, self->b.fd, 0, &extra);
	call_sync_err(EAGAIN, self->b.fd, 0, &c);
	for (i = 0; i < CALLBOX_MAX_CALLS; i++)
		call_wait(self->b.fd, ids[i], 0, &c);
	EXPECT_EQ(0, _call_submit(self->b.fd, 0, &extra));
}

/* A runner blocked in RUN wakes when a call is submitted. */
TEST_F(life, run_waits_for_submit)
{
	struct call_runner r = { .fd = self->b.fd };
	struct callbox_call_info c;
	uint64_t id;

	ASSERT_EQ(0, pthread_create(&r.thread, NULL, call_runner_fn, &r));
	usleep(50 * 1000);
	call_submit(self->b.fd, 0, &id);
	ASSERT_EQ(0, pthread_join(r.thread, NULL));
	EXPECT_EQ(0, r.ret);
	EXPECT_EQ(id, r.c.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, r.c.state);
	call_wait(self->b.fd, id, 0, &c);
}

/*
 * Host calls: the guest's first OUT is a host call, then it ends.
 *
 *   1: mov dx, CALLBOX_PORT_HOSTCALL; out dx, eax
 *      mov dx, CALLBOX_PORT_DONE; out dx, eax; jmp 1b
 */
static const uint8_t raw_guest_hostcaller[] = {
	0xba, 0x08, 0xcb, 0x66, 0xef,
	0xba, 0x00, 0xcb, 0x66, 0xef,
	0xeb, 0xf4,
};

BOX_FIXTURE(host, raw_guest_hostcaller, true)

TEST_F(host, hostcall_then_continue)
{
	struct callbox_call_info c;
	uint64_t id;

	call_sync(self->b.fd, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
	id = c.id;
	call_get(self->b.fd, id, &c);
	EXPECT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
	EXPECT_EQ(0, poll_events(self->b.fd) & (POLLIN | POLLPRI));

	/* Only RUN may continue it, and only this call may run now. */
	call_sync_err(EBUSY, self->b.fd, 0, &c);
	call_run_err(ENOENT, self->b.fd, id + 5, 0, &c);
	/* No reset under a call that is still current. */
	sandbox_reset_err(EBUSY, self->b.fd, 0, &id);

	call_run(self->b.fd, 0, 0, &c);
	EXPECT_EQ(id, c.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	call_wait(self->b.fd, id, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
}

/* Only the thread that got HOSTCALL continues the call. */
TEST_F(host, hostcall_owned_by_its_thread)
{
	struct call_runner other = {
		.fd = self->b.fd,
		.flags = CALLBOX_RUN_NONBLOCK,
	};
	struct callbox_call_info c;

	call_sync(self->b.fd, 0, &c);
	ASSERT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
	ASSERT_EQ(0, pthread_create(&other.thread, NULL, call_runner_fn,
				    &other));
	ASSERT_EQ(0, pthread_join(other.thread, NULL));
	EXPECT_EQ(-EBUSY, other.ret);
	call_run(self->b.fd, c.id, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
}

/*
 * A call that has ended: RUN returns its outcome, though another call is
 * current (parked in HOSTCALL), from the thread that parked it or any
 * other, and leaves the parked call to its owner.
 */
TEST_F(host, run_of_ended_call_beside_a_parked_one)
{
	struct call_runner other = { .fd = self->b.fd };
	struct callbox_call_info c;
	uint64_t parked, ended;

	call_submit(self->b.fd, 0, &parked);
	call_submit(self->b.fd, 0, &ended);
	call_cancel(self->b.fd, ended);
	call_run(self->b.fd, parked, 0, &c);
	ASSERT_EQ(CALLBOX_STATE_HOSTCALL, c.state);

	call_run(self->b.fd, ended, 0, &c);
	EXPECT_EQ(ended, c.id);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, c.reason);
	EXPECT_EQ(0, c.flags & CALLBOX_CALL_GUEST_RAN);

	other.id = ended;
	ASSERT_EQ(0, pthread_create(&other.thread, NULL, call_runner_fn,
				    &other));
	ASSERT_EQ(0, pthread_join(other.thread, NULL));
	EXPECT_EQ(0, other.ret);
	EXPECT_EQ(ended, other.c.id);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, other.c.state);

	/* Consumed or never issued: as when nothing is current. */
	call_wait(self->b.fd, ended, 0, &c);
	call_run_err(ESRCH, self->b.fd, ended, 0, &c);
	call_run_err(ENOENT, self->b.fd, ended + 100, 0, &c);

	/* A call still queued is not run beside it. */
	call_submit(self->b.fd, 0, &ended);
	call_run_err(EBUSY, self->b.fd, ended, 0, &c);

	call_run(self->b.fd, parked, 0, &c);
	EXPECT_EQ(parked, c.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
}

/* SHUTDOWN while a host function runs: its waiters get the answer at once. */
TEST_F(host, shutdown_in_hostcall)
{
	struct call_waiter w = { .fd = dup(self->b.fd) };
	struct callbox_call_info c;

	call_sync(self->b.fd, 0, &c);
	ASSERT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
	w.id = c.id;
	ASSERT_EQ(0, pthread_create(&w.thread, NULL, call_waiter_fn, &w));
	usleep(50 * 1000);
	sandbox_shutdown(self->b.fd);
	ASSERT_EQ(0, close(self->b.fd));
	self->b.fd = w.fd;	/* the teardown closes it */
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(0, w.ret);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, w.c.state);
	EXPECT_EQ(CALLBOX_ABORT_SANDBOX_CLOSED, w.c.reason);
	/* The host function returns and tries to continue: told it ended. */
	call_run_err(ESRCH, self->b.fd, c.id, 0, &c);
	call_run_err(ESHUTDOWN, self->b.fd, 0, 0, &c);
}

TEST_F(host, cancel_in_hostcall)
{
	struct callbox_call_info c;
	uint64_t id;

	call_sync(self->b.fd, 0, &c);
	ASSERT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
	id = c.id;

	EXPECT_EQ(0, _call_cancel(self->b.fd, id));
	call_cancel_err(EALREADY, self->b.fd, id);
	/* The host function can see it: a flag, and POLLPRI. */
	call_get(self->b.fd, id, &c);
	EXPECT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
	EXPECT_TRUE(c.flags & CALLBOX_CALL_CANCEL_PENDING);
	EXPECT_EQ(POLLPRI, poll_events(self->b.fd) & POLLPRI);

	/* When it returns, the call ends ABORTED and the guest is stale. */
	call_run(self->b.fd, 0, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, c.reason);
	EXPECT_EQ(0, c.flags & CALLBOX_CALL_CANCEL_PENDING);
	call_wait(self->b.fd, id, 0, &c);
	call_sync_err(ENOTRECOVERABLE, self->b.fd, 0, &c);
}

TEST_F(host, deadline_in_hostcall)
{
	struct callbox_call_info c;
	uint64_t id, margin = 20 * MS;

	/*
	 * The deadline must fall after the guest has reached its host call,
	 * which takes longer on a slow kernel (KASAN's, or on a busy host). A
	 * call that did not get there in time ended by its deadline inside
	 * the guest: start again on a new guest, with twice the time.
	 */
	for (;;) {
		call_sync(self->b.fd, now_ns() + margin, &c);
		if (c.state == CALLBOX_STATE_HOSTCALL)
			break;
		ASSERT_EQ(CALLBOX_STATE_ABORTED, c.state);
		ASSERT_EQ(CALLBOX_ABORT_DEADLINE, c.reason);
		ASSERT_GT(2000 * MS, margin) {
			TH_LOG("the guest never reached its host call in time");
		}
		box_close(&self->b);
		box_open(_metadata, &self->b, raw_guest_hostcaller,
			 sizeof(raw_guest_hostcaller), true);
		margin *= 2;
	}
	id = c.id;
	/* Past the deadline now, whatever the margin was. */
	usleep((margin + 30 * MS) / 1000);
	call_get(self->b.fd, id, &c);
	EXPECT_TRUE(c.flags & CALLBOX_CALL_CANCEL_PENDING);
	call_run(self->b.fd, id, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_EQ(CALLBOX_ABORT_DEADLINE, c.reason);
	call_wait(self->b.fd, id, 0, &c);
}

/* ---- the ioctl ABI of every lifecycle command ---- */

TEST_F(host, lifecycle_abi)
{
	struct callbox_call_submit submit_cmd = { .size = sizeof(submit_cmd) };
	struct callbox_call_run run_cmd = {
		.size = sizeof(run_cmd),
		.flags = CALLBOX_RUN_NONBLOCK,
	};
	struct callbox_call_wait wait_cmd = { .size = sizeof(wait_cmd) };
	struct callbox_call_get get_cmd = { .size = sizeof(get_cmd) };
	struct callbox_call_cancel cancel_cmd = { .size = sizeof(cancel_cmd) };
	struct callbox_sandbox_reset reset_cmd = { .size = sizeof(reset_cmd) };
	struct callbox_sandbox_shutdown shutdown_cmd = {
		.size = sizeof(shutdown_cmd),
	};
	struct callbox_call_submit bad = {
		.size = sizeof(bad),
		.deadline_ns = ~0ull,
	};
	struct callbox_call_info c;
	uint64_t id;
	int fd = self->b.fd;

	check_ioctl_abi(_metadata, fd, CALLBOX_CALL_SUBMIT, &submit_cmd,
			sizeof(submit_cmd),
			offsetof(struct callbox_call_submit, flags), 0);
	check_ioctl_abi(_metadata, fd, CALLBOX_CALL_RUN, &run_cmd,
			sizeof(run_cmd), offsetof(struct callbox_call_run, flags),
			0);
	check_ioctl_abi(_metadata, fd, CALLBOX_CALL_WAIT, &wait_cmd,
			sizeof(wait_cmd),
			offsetof(struct callbox_call_wait, flags), 0);
	check_ioctl_abi(_metadata, fd, CALLBOX_CALL_GET, &get_cmd,
			sizeof(get_cmd), offsetof(struct callbox_call_get, flags),
			0);
	check_ioctl_abi(_metadata, fd, CALLBOX_CALL_CANCEL, &cancel_cmd,
			sizeof(cancel_cmd),
			offsetof(struct callbox_call_cancel, flags), 0);
	check_ioctl_abi(_metadata, fd, CALLBOX_SANDBOX_RESET, &reset_cmd,
			sizeof(reset_cmd),
			offsetof(struct callbox_sandbox_reset, flags), 0);
	check_ioctl_abi(_metadata, fd, CALLBOX_SANDBOX_SHUTDOWN,
			&shutdown_cmd, sizeof(shutdown_cmd),
			offsetof(struct callbox_sandbox_shutdown, flags), 0);
	EXPECT_EQ(-1, ioctl(fd, CALLBOX_CALL_SUBMIT, &bad));
	EXPECT_EQ(EINVAL, errno);

	/* None of the probes queued, ran or shut down anything. */
	call_run_err(EAGAIN, fd, 0, CALLBOX_RUN_NONBLOCK, &c);
	call_submit(fd, 0, &id);
	EXPECT_EQ(1, id);
}

TEST_HARNESS_MAIN
