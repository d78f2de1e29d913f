// SPDX-License-Identifier: GPL-2.0
/*
 * RESET while another ioctl is held up writing to userspace (stall.h;
 * what the calls themselves do then is stall_test's). Against the
 * contract of uapi/linux/callbox.h, RESET fails at once with EBUSY while
 * another thread starts a call, even one held up in its publication
 * reply; and waits, rather than fail, for a RUN held up in its write
 * whose chosen call was cancelled meanwhile, which starts nothing.
 */
#include <stdatomic.h>

#include "callbox_util.h"
#include "stall.h"

/*
 * The ioctl that stalls is the stall's own thread (stall.h); the RESET is
 * a call_runner, so that one that waits cannot hang the test.
 */
#define NR_RUNNERS	1

FIXTURE(stall) {
	struct box b;
	struct stall st;
	struct call_runner runner[NR_RUNNERS];
};

/* Each test opens the box with a guest of its own. */
FIXTURE_SETUP(stall)
{
	box_init(&self->b);
	stall_open(_metadata, &self->st);
}

/*
 * Whatever the test left, and however it ended: stall_close() lets a
 * stalled write land, shuts the sandbox down (which ends every call and
 * wakes every waiter) and joins the stalled ioctl; then the runner is
 * joined, within a bound.
 */
FIXTURE_TEARDOWN(stall)
{
	stall_fixture_close(_metadata, &self->st, &self->b, self->runner,
			    NR_RUNNERS);
}

/*
 * ==== RESET does not wait for a call being started ====
 *
 * "RESET never waits for a call: it fails with EBUSY if a call is current
 * (running or parked), or another thread is starting one." Not for the
 * call, and not for the lock its starter holds while it writes to
 * userspace either. Here another thread's CALL_SYNC is held up in its
 * publication reply (the write of the new call's id); RESET must fail
 * with EBUSY well within 100 ms while that write is still stalled, and
 * queue no init call. Released, the CALL_SYNC then completes normally.
 */
TEST_F_TIMEOUT(stall, reset_while_sync_publishes_is_ebusy, 60)
{
	struct call_runner *r = &self->runner[0];
	struct callbox_call_sync *cmd = self->st.page;
	struct stall *t = &self->st;
	struct callbox_call_info c;
	bool reset_returned;

	return_if_setup_skipped();
	stall_guest(raw_guest_counter);

	cmd->size = sizeof(*cmd);
	stall_arm(t);
	stall_ioctl(t, self->b.fd, CALLBOX_CALL_SYNC);
	ASSERT_TRUE(stall_wait(t, 5000)) {
		TH_LOG("CALL_SYNC did not write its publication reply");
	}

	/* In a thread: a RESET that waits must not hang the test. */
	r->fd = self->b.fd;
	r->reset = true;
	call_runner_start(r);
	reset_returned = call_runner_join(r, 2000);
	EXPECT_TRUE(reset_returned) {
		TH_LOG("RESET still blocked after 2 s behind the stalled CALL_SYNC");
	}
	if (reset_returned) {
		EXPECT_EQ(-EBUSY, r->ret);
		EXPECT_GT(100 * MS, r->elapsed_ns) {
			TH_LOG("RESET took %llu ms",
			       (unsigned long long)(r->elapsed_ns / MS));
		}
	}
	EXPECT_FALSE(stall_ioctl_done(t));	/* still stalled */

	/* The CALL_SYNC goes on: its call runs and ends as usual. */
	stall_release(t);
	ASSERT_TRUE(stall_ioctl_join(t, 10000));
	ASSERT_TRUE(call_runner_join(r, 10000));
	EXPECT_EQ(0, t->ret);
	EXPECT_EQ(1, cmd->out.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, cmd->out.state);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN, cmd->out.flags);
	EXPECT_EQ(1, cmd->out.status);
	call_get_err(ESRCH, self->b.fd, 1, &c);
	/* The RESET queued no init call, and the sandbox works on. */
	EXPECT_EQ(-ENOENT, _call_get(self->b.fd, 2, &c)) {
		TH_LOG("call 2 exists: state %u flags %#x", c.state, c.flags);
	}
	call_sync(self->b.fd, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(2, c.status);
}

/*
 * ==== RESET waits for a RUN that starts no call ====
 *
 * RESET "may wait for another ioctl that holds the sandbox's run lock
 * without starting a call (a RUN returning the outcome of a call
 * cancelled before it entered, say) to write its struct back". Here a RUN
 * has chosen call 1 and is held up writing its @out; call 1 is cancelled
 * meanwhile, so it has ended and nothing will start. No call is current or
 * being started, so RESET must not fail with EBUSY; and it cannot go on
 * while the RUN holds the lock: it waits, while the write is stalled, and
 * returns 0 once the write has landed, its init call queued.
 */
TEST_F_TIMEOUT(stall, reset_waits_for_run_of_cancelled_call, 60)
{
	struct call_runner *r = &self->runner[0];
	struct callbox_call_run *cmd = self->st.page;
	struct stall *t = &self->st;
	struct callbox_call_info c;
	uint64_t id;

	return_if_setup_skipped();
	stall_guest(raw_guest_counter);

	call_submit(self->b.fd, 0, &id);
	ASSERT_EQ(1, id);
	cmd->size = sizeof(*cmd);
	cmd->id = 1;
	stall_arm(t);
	stall_ioctl(t, self->b.fd, CALLBOX_CALL_RUN);
	ASSERT_TRUE(stall_wait(t, 5000)) {
		TH_LOG("RUN did not write its @out");
	}

	/* Cancelled before it entered: it has ended, and will not start. */
	call_cancel(self->b.fd, 1);
	call_get(self->b.fd, 1, &c);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, c.reason);
	EXPECT_EQ(0, c.flags);

	/* In a thread: RESET waits for the RUN's write. */
	r->fd = self->b.fd;
	r->reset = true;
	call_runner_start(r);
	usleep(500 * 1000);
	ASSERT_FALSE(atomic_load(&r->done)) {
		TH_LOG("RESET returned %s while the RUN's write was stalled",
		       r->ret ? strerror(-r->ret) : "0");
	}
	EXPECT_FALSE(stall_ioctl_done(t));

	/* The write lands: the RUN returns the outcome, RESET goes on. */
	stall_release(t);
	ASSERT_TRUE(stall_ioctl_join(t, 10000));
	ASSERT_TRUE(call_runner_join(r, 10000)) {
		TH_LOG("RESET still blocked after the RUN returned");
	}
	EXPECT_EQ(0, t->ret);
	EXPECT_EQ(1, cmd->out.id);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, cmd->out.state);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, cmd->out.reason);
	EXPECT_EQ(0, cmd->out.flags);
	EXPECT_EQ(0, r->ret) {
		TH_LOG("RESET: %s", strerror(-r->ret));
	}
	EXPECT_EQ(2, r->id);

	/* Its init call is queued, and runs as the guest's first call. */
	call_get(self->b.fd, 2, &c);
	EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
	EXPECT_EQ(CALLBOX_CALL_INIT, c.flags);
	call_run(self->b.fd, 0, CALLBOX_RUN_NONBLOCK, &c);
	EXPECT_EQ(2, c.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);
	call_wait(self->b.fd, 2, 0, &c);
	call_wait(self->b.fd, 1, 0, &c);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, c.reason);
	call_sync(self->b.fd, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(2, c.status);
}

TEST_HARNESS_MAIN
