// SPDX-License-Identifier: GPL-2.0
/*
 * What is decided when a call enters the guest, when it ends, and who
 * consumes it, against uapi/linux/callbox.h:
 *
 * - the checks before entry hold at the moment of entry, not when the
 *   ioctl started: kvm_run.immediate_exit set while RUN waits for work
 *   enters nothing (the call stays QUEUED);
 * - CALLBOX_RUN_NONBLOCK never waits, not even for another thread's run;
 *   RESET fails with EBUSY at once while a call runs;
 * - the exit is decided from KVM's own record of it: a process that
 *   rewrites its kvm_run page (io.port, exit_reason) while the guest runs
 *   cannot turn a host call into an EXITED call;
 * - a call is consumed once: of two WAITs, one gets the outcome and the
 *   other ESRCH.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>

#include "callbox_util.h"

/* jmp $ : spins until something forces it out. */
static const uint8_t guest_spinner[] = {
	0xeb, 0xfe,			/* jmp $ */
};

/* Every call: a host call with status 0x1234, then DONE with it. */
static const uint8_t guest_hostcaller[] = {
	0x66, 0xb8, 0x34, 0x12, 0x00, 0x00,	/* 0: mov eax, 0x1234 */
	0xba, 0x08, 0xcb,		/* mov dx, CALLBOX_PORT_HOSTCALL */
	0x66, 0xef,			/* out dx, eax */
	0xba, 0x00, 0xcb,		/* mov dx, CALLBOX_PORT_DONE */
	0x66, 0xef,			/* out dx, eax */
	0xeb, 0xee,			/* jmp 0 */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint32_t call_state(int fd, uint64_t id)
{
	struct callbox_call_info c;

	return callbox_call_get_fd(fd, id, &c) ? 0 : c.state;
}

/* Poll @cond for up to 10 s. */
#define WAIT_FOR(cond)							\
	({								\
		uint64_t __until = now_ns() + 10000000000ull;		\
		while (!(cond) && now_ns() < __until)			\
			usleep(500);					\
		(cond);							\
	})

FIXTURE(entry) {
	int dev_fd;
	struct raw_guest guest;
	struct kvm_run *run;
	size_t run_size;
	int fd;
};

FIXTURE_SETUP(entry)
{
	self->fd = -1;
	self->run = MAP_FAILED;
	self->guest.vm = (struct raw_vm) { -1, -1, -1 };
	self->guest.mem = MAP_FAILED;
	self->dev_fd = open_or_skip(_metadata, "/dev/callbox");
}

FIXTURE_TEARDOWN(entry)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->run != MAP_FAILED)
		munmap(self->run, self->run_size);
	raw_guest_destroy(&self->guest);
	if (self->dev_fd >= 0)
		close(self->dev_fd);
}

/* Each test's own guest, with its kvm_run mapped and its sandbox. */
#define entry_guest(code)							({										raw_guest_create_ok(&self->guest, code, sizeof(code));			self->run = raw_guest_map_run(&self->guest,							      &self->run_size);				ASSERT_NE(MAP_FAILED, self->run);					self->fd = sandbox_create(self->dev_fd,								  self->guest.vm.vm_fd,							  self->guest.vm.vcpu_fd);		})

struct runner {
	pthread_t thread;
	int fd;
	uint64_t id;
	int ret;
	struct callbox_call_info c;
	atomic_bool done;
};

static void *runner_fn(void *p)
{
	struct runner *r = p;

	r->ret = callbox_call_run_fd(r->fd, r->id, 0, &r->c);
	atomic_store(&r->done, true);
	return NULL;
}

/*
 * "kvm_run.immediate_exit is read before the guest is entered: if it is
 * set, the ioctl fails with EINTR and enters nothing", also for a RUN
 * that started waiting for work before it was set.
 */
TEST_F_TIMEOUT(entry, immediate_exit_set_while_run_waits, 60)
{
	struct runner r = { 0 };
	struct callbox_call_info c;
	uint64_t id;

	entry_guest(raw_guest_counter);
	r.fd = self->fd;
	ASSERT_EQ(0, pthread_create(&r.thread, NULL, runner_fn, &r));
	usleep(100 * 1000);	/* waiting for work */
	ASSERT_FALSE(atomic_load(&r.done));
	self->run->immediate_exit = 1;
	ASSERT_EQ(0, callbox_call_submit_fd(self->fd, 0, &id));
	ASSERT_EQ(0, pthread_join(r.thread, NULL));
	EXPECT_EQ(-EINTR, r.ret);
	/* Nothing entered: still QUEUED, no GUEST_RAN, nothing poisoned. */
	ASSERT_EQ(0, callbox_call_get_fd(self->fd, id, &c));
	EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
	EXPECT_EQ(0, c.flags);
	self->run->immediate_exit = 0;
	ASSERT_EQ(0, callbox_call_run_fd(self->fd, id, 0, &c));
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);	/* the guest's first call */
	ASSERT_EQ(0, callbox_call_wait_fd(self->fd, id, 0, &c));
}

/*
 * While another thread runs a call: RUN with CALLBOX_RUN_NONBLOCK fails
 * with EAGAIN at once ("instead of waiting, whether for a call to be
 * submitted or for another thread's run to end"), and RESET with EBUSY
 * ("if a call is current (running or parked)").
 */
TEST_F_TIMEOUT(entry, nonblock_and_reset_do_not_wait_for_a_run, 60)
{
	struct runner r = { 0 };
	struct callbox_call_info c;
	uint64_t id, queued, t0;

	entry_guest(guest_spinner);
	r.fd = self->fd;
	ASSERT_EQ(0, callbox_call_submit_fd(self->fd, 0, &id));
	ASSERT_EQ(0, callbox_call_submit_fd(self->fd, 0, &queued));
	r.id = id;
	ASSERT_EQ(0, pthread_create(&r.thread, NULL, runner_fn, &r));
	ASSERT_TRUE(WAIT_FOR(call_state(self->fd, id) ==
			     CALLBOX_STATE_ENTERED));

	t0 = now_ns();
	EXPECT_EQ(-EAGAIN, callbox_call_run_fd(self->fd, queued,
					       CALLBOX_RUN_NONBLOCK, &c));
	EXPECT_EQ(-EAGAIN, callbox_call_run_fd(self->fd, 0,
					       CALLBOX_RUN_NONBLOCK, &c));
	EXPECT_EQ(-EBUSY, callbox_sandbox_reset_fd(self->fd, 0, &id));
	/* At once: well under the second the guest is left to spin. */
	EXPECT_GT(now_ns(), t0);
	EXPECT_LT(now_ns() - t0, 500 * 1000 * 1000ull);
	EXPECT_EQ(CALLBOX_STATE_QUEUED, call_state(self->fd, queued));

	usleep(500 * 1000);
	ASSERT_EQ(0, callbox_call_cancel_fd(self->fd, id));
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
	s.run = self->run;
	ASSERT_EQ(0, pthread_create(&t, NULL, scribbler_fn, &s));
	for (i = 0; i < 500; i++) {
		ASSERT_EQ(0, callbox_call_sync_fd(self->fd, 0, &c));
		hostcalls += c.state == CALLBOX_STATE_HOSTCALL;
		if (c.state != CALLBOX_STATE_HOSTCALL) {
			TH_LOG("call %llu: state %u, status 0x%x",
			       (unsigned long long)c.id, c.state, c.status);
			continue;
		}
		ASSERT_EQ(0, callbox_call_run_fd(self->fd, c.id, 0, &c));
		exited += c.state == CALLBOX_STATE_EXITED;
		ASSERT_EQ(0, callbox_call_wait_fd(self->fd, c.id, 0, &c));
	}
	atomic_store(&s.stop, true);
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(500, hostcalls);
	EXPECT_EQ(500, exited);
}

struct waiter {
	pthread_t thread;
	int fd;
	uint64_t id;
	int ret;
	struct callbox_call_info c;
};

static void *waiter_fn(void *p)
{
	struct waiter *w = p;

	w->ret = callbox_call_wait_fd(w->fd, w->id, 0, &w->c);
	return NULL;
}

/*
 * "Of several WAITs for one call, one returns its outcome and the others
 * then fail with ESRCH": a call is consumed exactly once.
 */
TEST_F_TIMEOUT(entry, two_waits_one_outcome, 120)
{
	struct waiter w[2];
	struct callbox_call_info c;
	int i, round, got = 0;
	uint64_t id;

	entry_guest(raw_guest_counter);
	for (round = 0; round < 100; round++) {
		ASSERT_EQ(0, callbox_call_submit_fd(self->fd, 0, &id));
		for (i = 0; i < 2; i++) {
			w[i] = (struct waiter) { .fd = self->fd, .id = id };
			ASSERT_EQ(0, pthread_create(&w[i].thread, NULL,
						    waiter_fn, &w[i]));
		}
		usleep(1000);
		ASSERT_EQ(0, callbox_call_run_fd(self->fd, id, 0, &c));
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
		EXPECT_EQ(-ESRCH, callbox_call_get_fd(self->fd, id, &c));
	}
	EXPECT_EQ(100, got);
}

TEST_HARNESS_MAIN
