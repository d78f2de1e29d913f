// SPDX-License-Identifier: GPL-2.0
/*
 * CALLBOX_CALL_BATCH against uapi/linux/callbox.h: queued calls run back
 * to back in one ioctl, in the order given, from @done; it stops at the
 * first call that does not end EXITED in it, and @done then counts
 * exactly the calls the guest ran to their DONE in this batch.
 *
 * - the order, @done on input and output, and every stop: a call
 *   cancelled or past its deadline while queued, a call that had ended
 *   before its turn, a host call, an abort that poisons;
 * - every error, also in the middle of a batch (the calls before have
 *   run, the one named by @done was not entered);
 * - while a batch runs, RESET fails with EBUSY, also between two calls,
 *   while it reads @ids (stalled with userfaultfd);
 * - a restart that finds its call run on by a BATCH from the signal
 *   handler counts nothing;
 * - SHUTDOWN waits for its @done write between two calls (stalled with
 *   userfaultfd), and the vCPU stays bound until it lands.
 *
 * The matrix of interruptions is batch_matrix_test's. The guests count
 * the calls they finish and return that count as the status, so every
 * outcome shows which call the guest really ran.
 */
#include <signal.h>
#include <sys/syscall.h>

#include "batch_util.h"
#include "interrupt_util.h"
#include "stall.h"

/* ---- on a guest that ends every call at once (status: its count) ---- */

BOX_FIXTURE(batch, raw_guest_counter, true)

TEST_F(batch, abi)
{
	struct callbox_call_batch cmd;
	uint64_t ids[1];

	return_if_setup_skipped();
	call_submit(self->b.fd, 0, &ids[0]);
	batch_init(&cmd, ids, 1);
	check_ioctl_abi(_metadata, self->b.fd, CALLBOX_CALL_BATCH, &cmd,
			sizeof(cmd), offsetof(struct callbox_call_batch, flags),
			0);
}

TEST_F(batch, runs_each_in_order)
{
	struct callbox_call_batch cmd;
	struct callbox_call_info c;
	uint64_t ids[5];
	unsigned int i;

	return_if_setup_skipped();
	submit_n(_metadata, self->b.fd, ids, 5);
	batch_init(&cmd, ids, 5);
	ASSERT_EQ(0, batch_ioctl(self->b.fd, &cmd));
	EXPECT_EQ(5, cmd.done);
	EXPECT_EQ(ids[4], cmd.out.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, cmd.out.state);
	EXPECT_EQ(5, cmd.out.status);
	/* BATCH consumes nothing: each call's WAIT has its own outcome. */
	for (i = 0; i < 5; i++) {
		call_wait(self->b.fd, ids[i], 0, &c);
		EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
		EXPECT_EQ(i + 1, c.status);
		EXPECT_EQ(CALLBOX_CALL_GUEST_RAN, c.flags);
	}
}

TEST_F(batch, starts_at_done)
{
	struct callbox_call_batch cmd;
	struct callbox_call_info c;
	uint64_t ids[3];

	return_if_setup_skipped();
	submit_n(_metadata, self->b.fd, ids, 3);
	batch_init(&cmd, ids, 3);
	cmd.done = 1;
	ASSERT_EQ(0, batch_ioctl(self->b.fd, &cmd));
	EXPECT_EQ(3, cmd.done);
	EXPECT_EQ(ids[2], cmd.out.id);
	EXPECT_EQ(2, cmd.out.status);
	EXPECT_EQ(CALLBOX_STATE_QUEUED, call_state(self->b.fd, ids[0]));
	call_wait(self->b.fd, ids[1], 0, &c);
	EXPECT_EQ(1, c.status);
}

/*
 * A call that ended while queued stops the batch: the guest was not
 * entered for it, so the next request would not be the one it serves.
 */
TEST_F(batch, stops_at_call_ended_while_queued)
{
	struct callbox_call_batch cmd;
	struct callbox_call_info c;
	uint64_t ids[4];

	return_if_setup_skipped();
	submit_n(_metadata, self->b.fd, ids, 2);
	/* One cancelled, one whose deadline had passed at submission. */
	call_cancel(self->b.fd, ids[1]);
	call_submit(self->b.fd, 1, &ids[2]);
	call_submit(self->b.fd, 0, &ids[3]);

	batch_init(&cmd, ids, 4);
	ASSERT_EQ(0, batch_ioctl(self->b.fd, &cmd));
	EXPECT_EQ(1, cmd.done);
	EXPECT_EQ(ids[1], cmd.out.id);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, cmd.out.state);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, cmd.out.reason);
	EXPECT_EQ(0, cmd.out.flags);

	cmd.done = 2;
	ASSERT_EQ(0, batch_ioctl(self->b.fd, &cmd));
	EXPECT_EQ(2, cmd.done);
	EXPECT_EQ(ids[2], cmd.out.id);
	EXPECT_EQ(CALLBOX_ABORT_DEADLINE, cmd.out.reason);
	EXPECT_EQ(CALLBOX_STATE_QUEUED, call_state(self->b.fd, ids[3]));

	cmd.done = 3;
	ASSERT_EQ(0, batch_ioctl(self->b.fd, &cmd));
	EXPECT_EQ(4, cmd.done);
	EXPECT_EQ(2, cmd.out.status);	/* the guest's second call */
	call_wait(self->b.fd, ids[0], 0, &c);
	EXPECT_EQ(1, c.status);
}

/* @done counts only calls this batch ran, not one that ended before. */
TEST_F(batch, stops_at_call_run_before)
{
	struct callbox_call_batch cmd;
	struct callbox_call_info c;
	uint64_t ids[2];

	return_if_setup_skipped();
	submit_n(_metadata, self->b.fd, ids, 2);
	call_run(self->b.fd, ids[0], 0, &c);
	ASSERT_EQ(CALLBOX_STATE_EXITED, c.state);

	batch_init(&cmd, ids, 2);
	ASSERT_EQ(0, batch_ioctl(self->b.fd, &cmd));
	EXPECT_EQ(0, cmd.done);
	EXPECT_EQ(ids[0], cmd.out.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, cmd.out.state);
	EXPECT_EQ(1, cmd.out.status);
	EXPECT_EQ(CALLBOX_STATE_QUEUED, call_state(self->b.fd, ids[1]));
}

TEST_F(batch, refuses_bad_input)
{
	struct callbox_call_batch cmd;
	struct callbox_call_info c;
	uint64_t ids[CALLBOX_MAX_CALLS + 1] = { 0 };
	uint64_t gone;

	return_if_setup_skipped();
	submit_n(_metadata, self->b.fd, ids, 2);

	batch_init(&cmd, ids, 2);
	cmd.flags = 1;
	EXPECT_EQ(-EINVAL, batch_ioctl(self->b.fd, &cmd));
	batch_init(&cmd, ids, 0);
	EXPECT_EQ(-EINVAL, batch_ioctl(self->b.fd, &cmd));
	batch_init(&cmd, ids, CALLBOX_MAX_CALLS + 1);
	EXPECT_EQ(-EINVAL, batch_ioctl(self->b.fd, &cmd));
	batch_init(&cmd, ids, 2);
	cmd.done = 2;
	EXPECT_EQ(-EINVAL, batch_ioctl(self->b.fd, &cmd));
	/* A restart that names another call than @ids[@done]. */
	batch_init(&cmd, ids, 2);
	cmd.out = (struct callbox_call_info) {
		.id = ids[1], .state = CALLBOX_STATE_ENTERED,
	};
	EXPECT_EQ(-EINVAL, batch_ioctl(self->b.fd, &cmd));
	/* ... or a call that was not interrupted in a BATCH. */
	cmd.out.id = ids[0];
	EXPECT_EQ(-EBUSY, batch_ioctl(self->b.fd, &cmd));
	batch_init(&cmd, NULL, 1);
	EXPECT_EQ(-EFAULT, batch_ioctl(self->b.fd, &cmd));

	/* Nothing of that ran anything. */
	EXPECT_EQ(CALLBOX_STATE_QUEUED, call_state(self->b.fd, ids[0]));
	EXPECT_EQ(CALLBOX_STATE_QUEUED, call_state(self->b.fd, ids[1]));

	/* Errors in the middle: what came before ran, @done says so. */
	call_submit(self->b.fd, 0, &gone);
	call_run(self->b.fd, gone, 0, &c);
	call_wait(self->b.fd, gone, 0, &c);
	ids[1] = 999;
	batch_init(&cmd, ids, 2);
	EXPECT_EQ(-ENOENT, batch_ioctl(self->b.fd, &cmd));
	EXPECT_EQ(1, cmd.done);
	call_submit(self->b.fd, 0, &ids[2]);
	ids[0] = ids[2];
	ids[1] = gone;
	batch_init(&cmd, ids, 2);
	EXPECT_EQ(-ESRCH, batch_ioctl(self->b.fd, &cmd));
	EXPECT_EQ(1, cmd.done);
	call_get(self->b.fd, ids[2], &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(3, c.status);
}

/*
 * @ids is read as the batch goes: an id it cannot read fails the batch
 * there, after the calls before it ran. A struct it cannot write fails it
 * before the first call is entered.
 */
TEST_F(batch, efault)
{
	long page = sysconf(_SC_PAGESIZE);
	struct callbox_call_batch *ro;
	struct callbox_call_batch cmd;
	uint64_t *ids;
	uint8_t *map;

	return_if_setup_skipped();
	map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, mprotect(map + page, page, PROT_NONE));
	ids = (uint64_t *)(map + page) - 1;	/* ids[1] is unreadable */
	call_submit(self->b.fd, 0, &ids[0]);
	batch_init(&cmd, ids, 2);
	EXPECT_EQ(-EFAULT, batch_ioctl(self->b.fd, &cmd));
	EXPECT_EQ(1, cmd.done);
	EXPECT_EQ(CALLBOX_STATE_EXITED, call_state(self->b.fd, ids[0]));

	call_submit(self->b.fd, 0, &ids[0]);
	ro = (struct callbox_call_batch *)map;
	batch_init(ro, ids, 1);
	ASSERT_EQ(0, mprotect(map, page, PROT_READ));
	EXPECT_EQ(-EFAULT, batch_ioctl(self->b.fd, ro));
	EXPECT_EQ(CALLBOX_STATE_QUEUED, call_state(self->b.fd, ids[0]));
	munmap(map, 2 * page);
}

/*
 * Between two calls the batch reads the next id, which may wait on a page
 * fault: RESET and a restore's BEGIN fail with EBUSY meanwhile, rather
 * than wait for it.
 */
TEST_F_TIMEOUT(batch, reset_busy_while_reading_ids, 60)
{
	struct callbox_sandbox_restore begin = {
		.size = sizeof(begin), .op = CALLBOX_RESTORE_BEGIN,
	};
	struct callbox_call_batch cmd;
	struct read_stall rs;
	uint64_t *ids, init_id;

	return_if_setup_skipped();
	read_stall_open(_metadata, &rs);
	return_if_setup_skipped();
	ids = (uint64_t *)read_stall_page(&rs) - 1;	/* ids[1] stalls */
	call_submit(self->b.fd, 0, &ids[0]);
	batch_init(&cmd, ids, 2);
	read_stall_ioctl(&rs, self->b.fd, CALLBOX_CALL_BATCH, &cmd);
	ASSERT_TRUE(read_stall_wait(&rs, 20000));
	EXPECT_EQ(CALLBOX_STATE_EXITED, call_state(self->b.fd, ids[0]));

	sandbox_reset_err(EBUSY, self->b.fd, 0, &init_id);
	EXPECT_EQ(-1, ioctl(self->b.fd, CALLBOX_SANDBOX_RESTORE, &begin));
	EXPECT_EQ(EBUSY, errno);

	/* ids[1] reads as 0x0101...: no such call. */
	read_stall_fill(&rs, 1);
	ASSERT_TRUE(read_stall_join(&rs, 10000));
	EXPECT_EQ(-ENOENT, rs.ret);
	EXPECT_EQ(1, cmd.done);
	read_stall_close(_metadata, &rs);
	sandbox_reset(self->b.fd, 0, &init_id);
}

/* ---- on a guest that spins in every call until released ---- */

FIXTURE(held) {
	struct box b;
	volatile uint8_t *hostcall_first, *release;
	volatile uint16_t *done_count;
};

FIXTURE_SETUP(held)
{
	uint8_t *mem;

	box_open(_metadata, &self->b, guest_held, sizeof(guest_held), true);
	if (_metadata->skip)
		return;
	mem = self->b.guest.mem;
	self->hostcall_first = mem + HELD_HOSTCALL_FIRST;
	self->release = mem + HELD_RELEASE;
	self->done_count = (volatile uint16_t *)(mem + HELD_DONE_COUNT);
}

FIXTURE_TEARDOWN(held)
{
	box_close(&self->b);
}


TEST_F_TIMEOUT(held, stops_at_hostcall, 60)
{
	struct callbox_call_batch cmd;
	struct callbox_call_info c;
	uint64_t ids[2];

	return_if_setup_skipped();
	*self->hostcall_first = 1;
	submit_n(_metadata, self->b.fd, ids, 2);
	batch_init(&cmd, ids, 2);
	ASSERT_EQ(0, batch_ioctl(self->b.fd, &cmd));
	EXPECT_EQ(0, cmd.done);
	EXPECT_EQ(ids[0], cmd.out.id);
	EXPECT_EQ(CALLBOX_STATE_HOSTCALL, cmd.out.state);
	EXPECT_EQ(HELD_HOSTCALL_STATUS, cmd.out.status);
	EXPECT_EQ(CALLBOX_STATE_QUEUED, call_state(self->b.fd, ids[1]));
	/* BATCH does not continue a host call; RUN does. */
	EXPECT_EQ(-EBUSY, batch_ioctl(self->b.fd, &cmd));

	*self->hostcall_first = 0;
	*self->release = 1;
	call_run(self->b.fd, ids[0], 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);
	cmd.done = 1;
	*self->release = 1;
	ASSERT_EQ(0, batch_ioctl(self->b.fd, &cmd));
	EXPECT_EQ(2, cmd.done);
	EXPECT_EQ(2, cmd.out.status);
}

/*
 * immediate_exit set while a call of the batch runs (KVM reads it at
 * entry only) stops the batch before the next call, which stays QUEUED:
 * EINTR, @done says where, and the same struct issued again goes on.
 */
TEST_F_TIMEOUT(held, immediate_exit_between_calls, 60)
{
	struct batcher w = { .fd = self->b.fd, .vcpu_fd = -1,
			     .run = self->b.run };
	uint16_t before;

	return_if_setup_skipped();
	submit_n(_metadata, self->b.fd, w.ids, 3);
	batch_init(&w.cmd, w.ids, 3);
	w.cmd.out.state = CALLBOX_STATE_EXITED;	/* not a restart */
	ASSERT_EQ(0, pthread_create(&w.thread, NULL, batcher_fn, &w));
	ASSERT_TRUE(wait_for_state(self->b.fd, w.ids[0],
				   CALLBOX_STATE_ENTERED));
	ASSERT_TRUE(held_wait_spinning(self->b.guest.mem));
	self->b.run->immediate_exit = 1;
	before = *self->done_count;
	*self->release = 1;
	/* batcher_fn clears it and issues the same struct again. */
	ASSERT_TRUE(WAIT_FOR(w.refused != 0));
	EXPECT_EQ(-EINTR, w.refused);
	EXPECT_EQ(1, w.refused_cmd.done);
	EXPECT_EQ(before + 1, *self->done_count);
	ASSERT_TRUE(wait_for_state(self->b.fd, w.ids[1],
				   CALLBOX_STATE_ENTERED));
	ASSERT_TRUE(held_release(self->release, self->done_count));
	ASSERT_TRUE(wait_for_state(self->b.fd, w.ids[2],
				   CALLBOX_STATE_ENTERED));
	ASSERT_TRUE(held_release(self->release, self->done_count));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(0, w.ret);
	EXPECT_EQ(3, w.cmd.done);
	EXPECT_EQ(3, w.cmd.out.status);
}

/*
 * The signal handler continues the interrupted batch with a BATCH of its
 * own, which runs both calls. The interrupted BATCH, restarted, finds its
 * call ended: it stops there and counts nothing, for it saw no DONE.
 */
static struct callbox_call_batch outer_cmd, inner_cmd;
static int inner_fd, inner_ret = 1;

static void on_inner_signal(int sig)
{
	(void)sig;
	inner_cmd = outer_cmd;	/* @out names the parked call */
	inner_ret = batch_ioctl(inner_fd, &inner_cmd);
}

static void *outer_fn(void *p)
{
	struct batcher *w = p;

	w->ret = batch_ioctl(w->fd, &outer_cmd);
	atomic_store(&w->returned, true);
	return NULL;
}

TEST_F_TIMEOUT(held, restart_after_handler_batch_counts_nothing, 60)
{
	struct sigaction sa = { .sa_handler = on_inner_signal };
	struct batcher w = { .fd = self->b.fd };
	uint64_t ids[2];

	return_if_setup_skipped();
	ASSERT_EQ(0, sigaction(SIGUSR2, &sa, NULL));
	inner_fd = self->b.fd;
	submit_n(_metadata, self->b.fd, ids, 2);
	batch_init(&outer_cmd, ids, 2);
	ASSERT_EQ(0, pthread_create(&w.thread, NULL, outer_fn, &w));
	ASSERT_TRUE(wait_for_state(self->b.fd, ids[0], CALLBOX_STATE_ENTERED));
	ASSERT_TRUE(held_wait_spinning(self->b.guest.mem));
	pthread_kill(w.thread, SIGUSR2);
	/* The handler's BATCH continues the first call, then the second. */
	ASSERT_TRUE(held_release(self->release, self->done_count));
	ASSERT_TRUE(wait_for_state(self->b.fd, ids[1], CALLBOX_STATE_ENTERED));
	ASSERT_TRUE(held_release(self->release, self->done_count));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));

	EXPECT_EQ(0, inner_ret);
	EXPECT_EQ(2, inner_cmd.done);
	EXPECT_EQ(0, w.ret);
	EXPECT_EQ(0, outer_cmd.done);
	EXPECT_EQ(ids[0], outer_cmd.out.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, outer_cmd.out.state);
	EXPECT_EQ(2, *self->done_count);
}

TEST_F_TIMEOUT(held, reset_is_busy_while_it_runs, 60)
{
	struct batcher w = { .fd = self->b.fd, .vcpu_fd = -1,
			     .run = self->b.run };
	uint64_t init_id;

	return_if_setup_skipped();
	submit_n(_metadata, self->b.fd, w.ids, 2);
	batch_init(&w.cmd, w.ids, 2);
	ASSERT_EQ(0, pthread_create(&w.thread, NULL, batcher_fn, &w));
	ASSERT_TRUE(wait_for_state(self->b.fd, w.ids[0],
				   CALLBOX_STATE_ENTERED));
	sandbox_reset_err(EBUSY, self->b.fd, 0, &init_id);
	ASSERT_TRUE(held_release(self->release, self->done_count));
	ASSERT_TRUE(wait_for_state(self->b.fd, w.ids[1],
				   CALLBOX_STATE_ENTERED));
	sandbox_reset_err(EBUSY, self->b.fd, 0, &init_id);
	*self->release = 1;
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	EXPECT_EQ(0, w.ret);
	EXPECT_EQ(2, w.cmd.done);
}

static void *shutdown_thread_fn(void *p)
{
	int *fd_ret = p;

	fd_ret[1] = _sandbox_shutdown(fd_ret[0]);
	return NULL;
}

/*
 * "Shutdown": a CALL_BATCH is about to run the vCPU until it has written
 * @done and read its next id, between its calls too. Its @done write
 * after the first call waits on a page fault: SHUTDOWN waits for it, and
 * the vCPU stays bound, though no call is current. Once the write lands,
 * the batch stops at its next call, which the shutdown ended, SHUTDOWN
 * returns, and the vCPU serves a new sandbox.
 */
TEST_F_TIMEOUT(held, shutdown_waits_for_the_done_write, 60)
{
	struct callbox_call_batch *cmd;
	int shut[2] = { self->b.fd, 1 };
	pthread_t shutter;
	struct stall st;
	uint64_t ids[2];
	int fd;

	return_if_setup_skipped();
	stall_open(_metadata, &st);
	return_if_setup_skipped();
	submit_n(_metadata, self->b.fd, ids, 2);
	cmd = st.page;
	batch_init(cmd, ids, 2);
	stall_ioctl(&st, self->b.fd, CALLBOX_CALL_BATCH);
	ASSERT_TRUE(wait_for_state(self->b.fd, ids[0], CALLBOX_STATE_ENTERED));
	ASSERT_TRUE(held_wait_spinning(self->b.guest.mem));
	stall_arm(&st);
	*self->release = 1;
	ASSERT_TRUE(stall_wait(&st, 20000)) {
		TH_LOG("the @done write after the first call did not stall");
	}
	EXPECT_EQ(CALLBOX_STATE_EXITED, call_state(self->b.fd, ids[0]));

	ASSERT_EQ(0, pthread_create(&shutter, NULL, shutdown_thread_fn, shut));
	ASSERT_TRUE(WAIT_FOR(call_state(self->b.fd, ids[1]) ==
			     CALLBOX_STATE_ABORTED));
	usleep(300 * 1000);
	EXPECT_EQ(1, shut[1]) {
		TH_LOG("SHUTDOWN returned during the batch's @done write");
	}
	EXPECT_EQ(-EBUSY, _sandbox_create(self->b.dev_fd,
					  self->b.guest.vm.vm_fd,
					  self->b.guest.vm.vcpu_fd));

	stall_release(&st);
	ASSERT_TRUE(stall_ioctl_join(&st, 10000));
	EXPECT_EQ(0, join_within(shutter, 10000));
	EXPECT_EQ(0, shut[1]);
	EXPECT_EQ(0, st.ret);
	EXPECT_EQ(1, cmd->done);
	EXPECT_EQ(ids[1], cmd->out.id);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, cmd->out.state);
	EXPECT_EQ(CALLBOX_ABORT_SANDBOX_CLOSED, cmd->out.reason);
	EXPECT_EQ(0, cmd->out.flags);

	fd = _sandbox_create(self->b.dev_fd, self->b.guest.vm.vm_fd,
			     self->b.guest.vm.vcpu_fd);
	EXPECT_LE(0, fd) {
		TH_LOG("CREATE once SHUTDOWN returned: %s", strerror(-fd));
	}
	if (fd >= 0)
		close(fd);
	stall_close(_metadata, &st, -1);
}

TEST_HARNESS_MAIN
