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
 * - the matrix: the first call of a batch, or a later one that the kernel
 *   entered without going back to userspace, crossed with every way a
 *   call is interrupted (signal, task work, vCPU signal mask, owner exit,
 *   kvm_run.immediate_exit) or stopped (cancel, deadline, shutdown);
 * - while a batch runs, RESET fails with EBUSY, also between two calls,
 *   while it reads @ids (stalled with userfaultfd);
 * - a restart that finds its call run on by a BATCH from the signal
 *   handler counts nothing.
 *
 * The guests count the calls they finish and return that count as the
 * status, so every outcome shows which call the guest really ran.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>

#include "callbox_util.h"
#include "interrupt_util.h"
#include "stall.h"
#include "task_work_ring.h"

#define BATCH_MAX	8

/* One BATCH of @nr ids from @ids, starting at 0. */
static void batch_init(struct callbox_call_batch *cmd, const uint64_t *ids,
		       uint32_t nr)
{
	*cmd = (struct callbox_call_batch) {
		.size = sizeof(*cmd),
		.ids = (uintptr_t)ids,
		.nr = nr,
	};
}

static int batch_ioctl(int fd, struct callbox_call_batch *cmd)
{
	return ioctl(fd, CALLBOX_CALL_BATCH, cmd) ? -errno : 0;
}

static void submit_n(struct __test_metadata *_metadata, int fd,
		     uint64_t *ids, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		call_submit(fd, 0, &ids[i]);
}

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

/* A thread that issues one BATCH. */
struct batcher {
	pthread_t thread;
	int fd, vcpu_fd;
	struct kvm_run *run;
	struct ring *ring;	/* BY_TASK_WORK: armed by the thread */
	unsigned int ring_ms;
	uint64_t ids[BATCH_MAX];
	struct callbox_call_batch cmd;
	int refused;		/* -errno of a refused restart, or 0 */
	struct callbox_call_batch refused_cmd;
	int ret;
	atomic_bool returned;
};

static void *batcher_fn(void *p)
{
	struct batcher *w = p;
	int ret;

	if (w->ring && ring_submit_timeout(w->ring, w->ring_ms)) {
		w->ret = -errno;
		atomic_store(&w->returned, true);
		return NULL;
	}
	ret = batch_ioctl(w->fd, &w->cmd);
	if (ret == -EOPNOTSUPP || ret == -EINTR) {
		/* Refused at the restart: clear what stopped it, again. */
		w->refused = ret;
		w->refused_cmd = w->cmd;
		ioctl(w->vcpu_fd, KVM_SET_SIGNAL_MASK, NULL);
		w->run->immediate_exit = 0;
		ret = batch_ioctl(w->fd, &w->cmd);
	}
	w->ret = ret;
	atomic_store(&w->returned, true);
	return NULL;
}

/* Let the guest finish the call it spins in; wait until it has. */
static bool held_release(volatile uint8_t *release,
			 volatile uint16_t *done_count)
{
	uint16_t before = *done_count;

	*release = 1;
	return WAIT_FOR(*done_count != before);
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

/* ---- the matrix ---- */

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
	pthread_t mask_thread;
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
		/* Late enough, for a later call, to land in that call. */
		w->ring = &self->ring;
		w->ring_ms = hit ? 1000 : 20;
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
		ASSERT_EQ(0, pthread_create(&mask_thread, NULL, set_mask_fn,
					     &w->vcpu_fd));
		pthread_kill(w->thread, SIGUSR1);
		ASSERT_EQ(0, pthread_join(mask_thread, NULL));
		ASSERT_TRUE(atomic_load(&mask_set));
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
