// SPDX-License-Identifier: GPL-2.0
/*
 * The call lifecycle, on raw guests: every transition of the state
 * machine, the errno contract of each ioctl, and the racing pairs
 * (cancel vs completion, cancel vs entry, deadline vs completion, close vs
 * run), each checked for agreement between both sides.
 */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/time.h>
#include <stddef.h>
#include <sys/wait.h>
#include <time.h>

#include <callbox/callbox.h>

#include "callbox_util.h"

/* jmp $ : spins until something forces it out. */
static const uint8_t raw_guest_spinner[] = { 0xeb, 0xfe };

/* cli; 1: hlt; jmp 1b : sleeps in HLT for ever. */
static const uint8_t raw_guest_halter[] = { 0xfa, 0xf4, 0xeb, 0xfd };

/*
 * A host call, then DONE, per call:
 *   1: mov dx, CALLBOX_PORT_HOSTCALL; out dx, eax
 *      mov dx, CALLBOX_PORT_DONE; out dx, eax; jmp 1b
 */
static const uint8_t raw_guest_hostcaller[] = {
	0xba, 0x08, 0xcb, 0x66, 0xef,
	0xba, 0x00, 0xcb, 0x66, 0xef,
	0xeb, 0xf4,
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ---- thin wrappers returning -errno ---- */

static int submit(int fd, uint64_t deadline_ns, uint64_t *id)
{
	return callbox_call_submit_fd(fd, deadline_ns, id);
}

static int run(int fd, uint64_t id, uint32_t flags,
	       struct callbox_call_info *c)
{
	memset(c, 0, sizeof(*c));
	return callbox_call_run_fd(fd, id, flags, c);
}

static int wait_call(int fd, uint64_t id, uint64_t deadline_ns,
		     struct callbox_call_info *c)
{
	memset(c, 0, sizeof(*c));
	return callbox_call_wait_fd(fd, id, deadline_ns, c);
}

static int get(int fd, uint64_t id, struct callbox_call_info *c)
{
	memset(c, 0, sizeof(*c));
	return callbox_call_get_fd(fd, id, c);
}

static int sync_call(int fd, uint64_t deadline_ns, struct callbox_call_info *c)
{
	memset(c, 0, sizeof(*c));
	return callbox_call_sync_fd(fd, deadline_ns, c);
}

static short poll_events(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLPRI };

	return poll(&p, 1, 0) == 1 ? p.revents : 0;
}

/* Wait (up to 10 s) until call @id is in @state; true if it got there. */
static bool wait_for_state(int fd, uint64_t id, uint32_t state)
{
	struct callbox_call_info c;
	int i;

	for (i = 0; i < 10000; i++) {
		if (get(fd, id, &c) == 0 && c.state == state)
			return true;
		usleep(1000);
	}
	return false;
}

FIXTURE(life) {
	int dev_fd;
	struct raw_guest guest;
	int fd;
	struct kvm_run *run;
	size_t run_size;
};

FIXTURE_SETUP(life)
{
	self->dev_fd = open_or_skip(_metadata, "/dev/callbox");
	raw_guest_create_ok(&self->guest, raw_guest_counter,
			    sizeof(raw_guest_counter));
	self->fd = sandbox_create(self->dev_fd, self->guest.vm.vm_fd,
				  self->guest.vm.vcpu_fd);
	self->run = raw_guest_map_run(&self->guest, &self->run_size);
	ASSERT_NE(MAP_FAILED, self->run);
}

FIXTURE_TEARDOWN(life)
{
	munmap(self->run, self->run_size);
	if (self->fd >= 0)
		close(self->fd);
	raw_guest_destroy(&self->guest);
	close(self->dev_fd);
}

/* A sync call that must exit; recovers first if the sandbox is poisoned. */
static int check_healthy(int fd, struct raw_guest *g, struct kvm_run *run,
			 bool *poisoned)
{
	struct callbox_call_info c;
	int ret = sync_call(fd, 0, &c);

	*poisoned = ret == -ENOTRECOVERABLE;
	if (*poisoned) {
		ret = raw_guest_reset(g, run, fd);
		if (!ret)
			ret = sync_call(fd, 0, &c);
	}
	if (!ret && c.state != CALLBOX_STATE_EXITED)
		ret = -EIO;
	return ret;
}

TEST_F(life, submit_run_wait)
{
	struct callbox_call_info c;
	uint64_t id;

	ASSERT_EQ(0, submit(self->fd, 0, &id));
	EXPECT_EQ(1, id);
	ASSERT_EQ(0, get(self->fd, id, &c));
	EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
	EXPECT_EQ(0, c.flags);
	EXPECT_EQ(0, poll_events(self->fd) & POLLIN);

	ASSERT_EQ(0, run(self->fd, 0, 0, &c));
	EXPECT_EQ(id, c.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN, c.flags);
	EXPECT_EQ(1, c.status);
	/* Ended, not consumed: readable, and GET still knows it. */
	EXPECT_EQ(POLLIN, poll_events(self->fd) & POLLIN);
	ASSERT_EQ(0, get(self->fd, id, &c));
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);

	ASSERT_EQ(0, wait_call(self->fd, id, 0, &c));
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);
	EXPECT_EQ(0, poll_events(self->fd) & POLLIN);

	/* Consumed ids and never-issued ids have their own errnos. */
	EXPECT_EQ(-ESRCH, get(self->fd, id, &c));
	EXPECT_EQ(-ESRCH, wait_call(self->fd, id, 0, &c));
	EXPECT_EQ(-ENOENT, get(self->fd, 0, &c));
	EXPECT_EQ(-ENOENT, get(self->fd, id + 1, &c));
	EXPECT_EQ(-ENOENT, wait_call(self->fd, 1000, 0, &c));
	EXPECT_EQ(-ENOENT, run(self->fd, 1000, 0, &c));
	EXPECT_EQ(-ESRCH, run(self->fd, id, 0, &c));
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

	self->run->immediate_exit = 1;
	EXPECT_EQ(-EINTR, sync_call(self->fd, 0, &c));
	EXPECT_EQ(-ENOENT, get(self->fd, 1, &c));
	ASSERT_EQ(0, submit(self->fd, 0, &id));
	EXPECT_EQ(1, id);
	EXPECT_EQ(-EINTR, run(self->fd, id, 0, &c));
	ASSERT_EQ(0, get(self->fd, id, &c));
	EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
	EXPECT_EQ(0, c.flags);

	self->run->immediate_exit = 0;
	ASSERT_EQ(0, run(self->fd, id, 0, &c));
	EXPECT_EQ(id, c.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);
	ASSERT_EQ(0, wait_call(self->fd, id, 0, &c));
}

TEST_F(life, cancel_queued)
{
	struct callbox_call_info c;
	uint64_t a, b;

	ASSERT_EQ(0, submit(self->fd, 0, &a));
	ASSERT_EQ(0, submit(self->fd, 0, &b));
	EXPECT_EQ(0, callbox_call_cancel_fd(self->fd, a));
	EXPECT_EQ(-EALREADY, callbox_call_cancel_fd(self->fd, a));
	ASSERT_EQ(0, get(self->fd, a, &c));
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, c.reason);
	EXPECT_EQ(0, c.flags);	/* the guest never ran for it */

	/* RUN of the cancelled call reports it without entering the guest. */
	ASSERT_EQ(0, run(self->fd, a, 0, &c));
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_EQ(0, c.flags);

	/* The next RUN takes b, and the guest counts its first call. */
	ASSERT_EQ(0, run(self->fd, 0, 0, &c));
	EXPECT_EQ(b, c.id);
	EXPECT_EQ(1, c.status);

	ASSERT_EQ(0, wait_call(self->fd, a, 0, &c));
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, c.reason);
	ASSERT_EQ(0, wait_call(self->fd, b, 0, &c));
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
}

TEST_F(life, cancel_errnos)
{
	struct callbox_call_info c;
	uint64_t a, b;

	ASSERT_EQ(0, sync_call(self->fd, 0, &c));
	a = c.id;
	/* Ended and consumed, ended, never issued. */
	EXPECT_EQ(-EALREADY, callbox_call_cancel_fd(self->fd, a));
	ASSERT_EQ(0, submit(self->fd, 0, &b));
	ASSERT_EQ(0, run(self->fd, b, 0, &c));
	EXPECT_EQ(-EALREADY, callbox_call_cancel_fd(self->fd, b));
	EXPECT_EQ(-ENOENT, callbox_call_cancel_fd(self->fd, b + 1));
	EXPECT_EQ(-ENOENT, callbox_call_cancel_fd(self->fd, 0));
	ASSERT_EQ(0, wait_call(self->fd, b, 0, &c));
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
		ASSERT_EQ(0, sync_call(self->fd, 0, &c));
		first = c.id;
		ASSERT_EQ(0, submit(self->fd, 0, &next));
		EXPECT_EQ(-EALREADY, callbox_call_cancel_fd(self->fd, first));
		ASSERT_EQ(0, run(self->fd, next, 0, &c));
		EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
		EXPECT_EQ((uint32_t)(2 * i + 2), c.status);
		ASSERT_EQ(0, wait_call(self->fd, next, 0, &c));
	}
}

TEST_F(life, deadline_while_queued)
{
	struct callbox_call_info c;
	uint64_t id;

	ASSERT_EQ(0, submit(self->fd, now_ns() + 20 * 1000 * 1000, &id));
	ASSERT_EQ(0, wait_call(self->fd, id, 0, &c));
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_EQ(CALLBOX_ABORT_DEADLINE, c.reason);
	EXPECT_EQ(0, c.flags);

	/* A deadline already past aborts at once; not an error. */
	ASSERT_EQ(0, submit(self->fd, 1, &id));
	ASSERT_EQ(0, get(self->fd, id, &c));
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_EQ(CALLBOX_ABORT_DEADLINE, c.reason);
	ASSERT_EQ(0, wait_call(self->fd, id, 0, &c));

	/* Guest code never ran: the sandbox is not poisoned. */
	ASSERT_EQ(0, sync_call(self->fd, 0, &c));
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);
}

TEST_F(life, wait_deadline)
{
	struct callbox_call_info c;
	uint64_t id, t0;

	ASSERT_EQ(0, submit(self->fd, 0, &id));
	t0 = now_ns();
	EXPECT_EQ(-ETIMEDOUT, wait_call(self->fd, id, t0 + 30 * 1000 * 1000,
					&c));
	EXPECT_LE(t0 + 30 * 1000 * 1000, now_ns());
	/* Giving up waiting does not touch the call. */
	ASSERT_EQ(0, get(self->fd, id, &c));
	EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
	ASSERT_EQ(0, run(self->fd, 0, 0, &c));
	/* A deadline past KTIME_MAX is no time at all. */
	EXPECT_EQ(-EINVAL, wait_call(self->fd, id, ~0ull, &c));
	ASSERT_EQ(0, wait_call(self->fd, id, 1, &c));
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
}

TEST_F(life, queue_limits)
{
	struct callbox_call_info c;
	uint64_t ids[CALLBOX_MAX_CALLS], extra;
	int i;

	EXPECT_EQ(-EAGAIN, run(self->fd, 0, CALLBOX_RUN_NONBLOCK, &c));
	for (i = 0; i < CALLBOX_MAX_CALLS; i++)
		ASSERT_EQ(0, submit(self->fd, 0, &ids[i]));
	EXPECT_EQ(-EAGAIN, submit(self->fd, 0, &extra));
	/* CALL_SYNC does not jump the queue. */
	EXPECT_EQ(-EBUSY, sync_call(self->fd, 0, &c));
	for (i = 0; i < CALLBOX_MAX_CALLS; i++) {
		ASSERT_EQ(0, run(self->fd, 0, CALLBOX_RUN_NONBLOCK, &c));
		EXPECT_EQ(ids[i], c.id);
		EXPECT_EQ((uint32_t)i + 1, c.status);
	}
	/* Ended but not consumed still count, for CALL_SYNC too. */
	EXPECT_EQ(-EAGAIN, submit(self->fd, 0, &extra));
	EXPECT_EQ(-EAGAIN, sync_call(self->fd, 0, &c));
	for (i = 0; i < CALLBOX_MAX_CALLS; i++)
		ASSERT_EQ(0, wait_call(self->fd, ids[i], 0, &c));
	EXPECT_EQ(0, submit(self->fd, 0, &extra));
}

struct runner_arg {
	int fd;
	uint64_t id;
	uint32_t flags;
	int ret;
	struct callbox_call_info c;
};

static void *runner(void *p)
{
	struct runner_arg *a = p;

	a->ret = run(a->fd, a->id, a->flags, &a->c);
	return NULL;
}

/* A runner blocked in RUN wakes when a call is submitted. */
TEST_F(life, run_waits_for_submit)
{
	struct runner_arg a = { .fd = self->fd };
	struct callbox_call_info c;
	pthread_t t;
	uint64_t id;

	ASSERT_EQ(0, pthread_create(&t, NULL, runner, &a));
	usleep(50 * 1000);
	ASSERT_EQ(0, submit(self->fd, 0, &id));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, a.ret);
	EXPECT_EQ(id, a.c.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, a.c.state);
	ASSERT_EQ(0, wait_call(self->fd, id, 0, &c));
}

/*
 * Races: two sides act on one call at once; whatever the interleaving,
 * both must agree on the outcome. A cancel that wins while the guest runs
 * poisons the sandbox, so recover after those.
 */
struct race {
	int fd;
	struct raw_guest *guest;
	struct kvm_run *run;
	int iterations;
	pthread_barrier_t start, done;
	uint64_t id;		/* this round's call */
	uint64_t delay_ns;	/* how long the canceller lets the runner go */
	int run_ret, cancel_ret, health;
	bool poisoned;
	struct callbox_call_info c;
};

/*
 * Long-lived threads: a vCPU that changes threads costs KVM a pid switch
 * (and an RCU grace period), which would decide the race by itself.
 */
static void *race_runner(void *p)
{
	struct race *r = p;
	int i;

	for (i = 0; i < r->iterations; i++) {
		pthread_barrier_wait(&r->start);
		r->run_ret = run(r->fd, r->id, 0, &r->c);
		/* Only this thread enters the vCPU, recovery included. */
		r->health = check_healthy(r->fd, r->guest, r->run,
					  &r->poisoned);
		pthread_barrier_wait(&r->done);
	}
	return NULL;
}

static void *race_canceller(void *p)
{
	struct race *r = p;
	uint64_t until;
	int i;

	for (i = 0; i < r->iterations; i++) {
		pthread_barrier_wait(&r->start);
		until = now_ns() + r->delay_ns;
		while (now_ns() < until)
			;
		r->cancel_ret = callbox_call_cancel_fd(r->fd, r->id);
		pthread_barrier_wait(&r->done);
	}
	return NULL;
}

TEST_F_TIMEOUT(life, cancel_vs_entry_and_completion, 300)
{
	int i, won = 0, lost = 0, never_ran = 0, poisoned = 0;
	struct race r = {
		.fd = self->fd,
		.guest = &self->guest,
		.run = self->run,
		.iterations = 1000,
	};
	struct callbox_call_info c;
	pthread_t tr, tc;

	pthread_barrier_init(&r.start, NULL, 3);
	pthread_barrier_init(&r.done, NULL, 3);
	ASSERT_EQ(0, pthread_create(&tr, NULL, race_runner, &r));
	ASSERT_EQ(0, pthread_create(&tc, NULL, race_canceller, &r));

	for (i = 0; i < r.iterations; i++) {
		ASSERT_EQ(0, submit(self->fd, 0, &r.id));
		/* Sweep the cancel across entry, the guest run and the exit. */
		r.delay_ns = (i % 40) * 10000;
		pthread_barrier_wait(&r.start);
		pthread_barrier_wait(&r.done);
		ASSERT_EQ(0, r.run_ret);
		ASSERT_EQ(0, wait_call(self->fd, r.id, 0, &c));

		if (r.cancel_ret == 0) {
			/* The cancel won: both sides say CANCELLED. */
			won++;
			ASSERT_EQ(CALLBOX_STATE_ABORTED, c.state);
			ASSERT_EQ(CALLBOX_ABORT_CANCELLED, c.reason);
			ASSERT_EQ(CALLBOX_ABORT_CANCELLED, r.c.reason);
			if (!(c.flags & CALLBOX_CALL_GUEST_RAN))
				never_ran++;
		} else {
			/* Completion won, and the canceller was told. */
			lost++;
			ASSERT_EQ(-EALREADY, r.cancel_ret);
			ASSERT_EQ(CALLBOX_STATE_EXITED, c.state);
			ASSERT_EQ(CALLBOX_STATE_EXITED, r.c.state);
		}
		ASSERT_EQ(0, r.health);
		poisoned += r.poisoned;
	}
	pthread_join(tr, NULL);
	pthread_join(tc, NULL);
	TH_LOG("cancel won %d (guest never ran %d, poisoned %d), completion won %d",
	       won, never_ran, poisoned, lost);
	/* Both outcomes happened, or the race was not a race. */
	EXPECT_LT(0, won);
	EXPECT_LT(0, lost);
	pthread_barrier_destroy(&r.start);
	pthread_barrier_destroy(&r.done);
}

TEST_F_TIMEOUT(life, deadline_vs_completion, 300)
{
	int i, exited = 0, deadline = 0;
	struct callbox_call_info c;
	bool poisoned;
	uint64_t id;

	for (i = 0; i < 1000; i++) {
		/* A deadline about as far as one call takes under TCG. */
		ASSERT_EQ(0, submit(self->fd, now_ns() + (i % 50) * 4000, &id));
		ASSERT_EQ(0, run(self->fd, id, 0, &c));
		ASSERT_EQ(0, wait_call(self->fd, id, 0, &c));
		if (c.state == CALLBOX_STATE_EXITED) {
			exited++;
		} else {
			deadline++;
			ASSERT_EQ(CALLBOX_ABORT_DEADLINE, c.reason);
		}
		ASSERT_EQ(0, check_healthy(self->fd, &self->guest, self->run,
					   &poisoned));
	}
	TH_LOG("exited %d, deadline %d", exited, deadline);
}

/* Guests that never end by themselves. */
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
	raw_guest_spinner, sizeof(raw_guest_spinner), false,
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
	struct runner_arg a = { .fd = self->fd };
	struct callbox_call_info c;
	uint64_t id, t0;
	pthread_t t;

	ASSERT_EQ(0, submit(self->fd, 0, &id));
	a.id = id;
	ASSERT_EQ(0, pthread_create(&t, NULL, runner, &a));
	ASSERT_TRUE(wait_for_state(self->fd, id, CALLBOX_STATE_ENTERED));
	usleep(20 * 1000);	/* let it really spin or sleep */

	t0 = now_ns();
	EXPECT_EQ(0, callbox_call_cancel_fd(self->fd, id));
	ASSERT_EQ(0, pthread_join(t, NULL));
	TH_LOG("cancel to return: %llu us",
	       (unsigned long long)(now_ns() - t0) / 1000);

	EXPECT_EQ(0, a.ret);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, a.c.state);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, a.c.reason);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_POISONED,
		  a.c.flags);
	ASSERT_EQ(0, wait_call(self->fd, id, 0, &c));

	/* Stopped mid-guest: poisoned, and RESET queues the init call. */
	EXPECT_EQ(-ENOTRECOVERABLE, sync_call(self->fd, 0, &c));
	EXPECT_EQ(-ENOTRECOVERABLE, run(self->fd, 0, CALLBOX_RUN_NONBLOCK, &c));
	EXPECT_EQ(0, callbox_sandbox_reset_fd(self->fd, 0, &t0));
	EXPECT_EQ(id + 1, t0);
	ASSERT_EQ(0, get(self->fd, t0, &c));
	EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
	EXPECT_EQ(CALLBOX_CALL_INIT, c.flags);
}

TEST_F_TIMEOUT(stuck, deadline_running, 60)
{
	struct callbox_call_info c;
	uint64_t t0 = now_ns();

	ASSERT_EQ(0, sync_call(self->fd, t0 + 50 * 1000 * 1000, &c));
	EXPECT_LE(t0 + 50 * 1000 * 1000, now_ns());
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_EQ(CALLBOX_ABORT_DEADLINE, c.reason);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_POISONED,
		  c.flags);
	TH_LOG("deadline overshoot: %llu us",
	       (unsigned long long)(now_ns() - t0) / 1000 - 50000);
	EXPECT_EQ(-ENOTRECOVERABLE, sync_call(self->fd, 0, &c));
}

struct sync_arg {
	int fd;
	volatile bool done;
	int ret;
	struct callbox_call_info c;
};

static void *sync_thread(void *p)
{
	struct sync_arg *a = p;

	a->ret = sync_call(a->fd, 0, &a->c);
	a->done = true;
	return NULL;
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
	struct sync_arg other;
	pthread_t t;

	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	if (!sigsetjmp(escape, 1)) {
		ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
		sync_call(self->fd, 0, &c);
		ASSERT_TRUE(false);	/* the guest never ends */
	}

	ASSERT_EQ(0, get(self->fd, 1, &c));
	EXPECT_EQ(CALLBOX_STATE_ENTERED, c.state);
	EXPECT_EQ(-EBUSY, run(self->fd, 0, 0, &c));
	EXPECT_EQ(-EBUSY, run(self->fd, 1, 0, &c));
	EXPECT_EQ(-EBUSY, sync_call(self->fd, 0, &c));

	/* Another thread's CALL_SYNC waits for it instead of taking it. */
	other = (struct sync_arg) { .fd = self->fd };
	ASSERT_EQ(0, pthread_create(&t, NULL, sync_thread, &other));
	usleep(100 * 1000);
	EXPECT_FALSE(other.done);

	/* No thread runs it: the cancel ends it at once, mid-guest. */
	EXPECT_EQ(0, callbox_call_cancel_fd(self->fd, 1));
	ASSERT_EQ(0, get(self->fd, 1, &c));
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, c.reason);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_POISONED, c.flags);

	/* The other caller goes on: into a poisoned sandbox. */
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(-ENOTRECOVERABLE, other.ret);
	ASSERT_EQ(0, wait_call(self->fd, 1, 0, &c));
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, c.reason);
}

/* SHUTDOWN while another thread runs the call. */
TEST_F_TIMEOUT(stuck, shutdown_while_running, 60)
{
	struct runner_arg a = { .fd = dup(self->fd) };
	struct callbox_call_info c;
	pthread_t t;
	uint64_t id;

	ASSERT_EQ(0, submit(self->fd, 0, &id));
	a.id = id;
	ASSERT_EQ(0, pthread_create(&t, NULL, runner, &a));
	ASSERT_TRUE(wait_for_state(self->fd, id, CALLBOX_STATE_ENTERED));
	ASSERT_EQ(0, callbox_sandbox_shutdown_fd(self->fd));
	/* When SHUTDOWN returns, the runner is out of the guest. */
	ASSERT_EQ(0, get(a.fd, id, &c));
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, a.ret);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, a.c.state);
	EXPECT_EQ(CALLBOX_ABORT_SANDBOX_CLOSED, a.c.reason);

	/* Shut down: nothing new starts; the outcome is still readable. */
	EXPECT_EQ(-ESHUTDOWN, submit(a.fd, 0, &id));
	EXPECT_EQ(-ESHUTDOWN, sync_call(a.fd, 0, &c));
	EXPECT_EQ(-ESHUTDOWN, callbox_sandbox_reset_fd(a.fd, 0, &id));
	EXPECT_EQ(0, callbox_sandbox_shutdown_fd(a.fd));	/* twice is fine */
	EXPECT_EQ(POLLHUP, poll_events(a.fd) & POLLHUP);
	ASSERT_EQ(0, wait_call(a.fd, a.c.id, 0, &c));
	EXPECT_EQ(CALLBOX_ABORT_SANDBOX_CLOSED, c.reason);
	close(a.fd);
}

struct waiter_arg {
	int fd;
	uint64_t id;
	int ret;
	struct callbox_call_info c;
};

static void *waiter(void *p)
{
	struct waiter_arg *w = p;

	w->ret = wait_call(w->fd, w->id, 0, &w->c);
	return NULL;
}

/* SHUTDOWN while a call is queued and another thread waits for it. */
TEST_F_TIMEOUT(stuck, shutdown_while_queued, 60)
{
	struct waiter_arg w = { .fd = dup(self->fd) };
	pthread_t t;

	ASSERT_EQ(0, submit(self->fd, 0, &w.id));
	ASSERT_EQ(0, pthread_create(&t, NULL, waiter, &w));
	usleep(50 * 1000);
	ASSERT_EQ(0, callbox_sandbox_shutdown_fd(self->fd));
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	ASSERT_EQ(0, pthread_join(t, NULL));
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

		if (raw_guest_create(&g, raw_guest_spinner,
				     sizeof(raw_guest_spinner)))
			_exit(1);
		fd = _sandbox_create(self->dev_fd, g.vm.vm_fd, g.vm.vcpu_fd);
		if (fd < 0)
			_exit(1);
		sync_call(fd, 0, &c);
		_exit(2);	/* never reached: the guest spins */
	}
	usleep(300 * 1000);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(SIGKILL, WTERMSIG(status));
}

/* Host calls: the guest's first OUT is a host call, then it ends. */
FIXTURE(host) {
	int dev_fd;
	struct raw_guest guest;
	int fd;
};

FIXTURE_SETUP(host)
{
	self->dev_fd = open_or_skip(_metadata, "/dev/callbox");
	raw_guest_create_ok(&self->guest, raw_guest_hostcaller,
			    sizeof(raw_guest_hostcaller));
	self->fd = sandbox_create(self->dev_fd, self->guest.vm.vm_fd,
				  self->guest.vm.vcpu_fd);
}

FIXTURE_TEARDOWN(host)
{
	close(self->fd);
	raw_guest_destroy(&self->guest);
	close(self->dev_fd);
}

TEST_F(host, hostcall_then_continue)
{
	struct callbox_call_info c;
	uint64_t id;

	ASSERT_EQ(0, sync_call(self->fd, 0, &c));
	EXPECT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
	id = c.id;
	ASSERT_EQ(0, get(self->fd, id, &c));
	EXPECT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
	EXPECT_EQ(0, poll_events(self->fd) & (POLLIN | POLLPRI));

	/* Only RUN may continue it, and only this call may run now. */
	EXPECT_EQ(-EBUSY, sync_call(self->fd, 0, &c));
	EXPECT_EQ(-EBUSY, run(self->fd, id + 5, 0, &c));
	/* No reset under a call that is still current. */
	EXPECT_EQ(-EBUSY, callbox_sandbox_reset_fd(self->fd, 0, &id));

	ASSERT_EQ(0, run(self->fd, 0, 0, &c));
	EXPECT_EQ(id, c.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	ASSERT_EQ(0, wait_call(self->fd, id, 0, &c));
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
}

static void *run_thread(void *p)
{
	struct runner_arg *a = p;

	a->ret = run(a->fd, a->id, CALLBOX_RUN_NONBLOCK, &a->c);
	return NULL;
}

/* Only the thread that got HOSTCALL continues the call. */
TEST_F(host, hostcall_owned_by_its_thread)
{
	struct runner_arg other = { .fd = self->fd };
	struct callbox_call_info c;
	pthread_t t;

	ASSERT_EQ(0, sync_call(self->fd, 0, &c));
	ASSERT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
	ASSERT_EQ(0, pthread_create(&t, NULL, run_thread, &other));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(-EBUSY, other.ret);
	ASSERT_EQ(0, run(self->fd, c.id, 0, &c));
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
}

/* SHUTDOWN while a host function runs: its waiters get the answer at once. */
TEST_F(host, shutdown_in_hostcall)
{
	struct waiter_arg w = { .fd = dup(self->fd) };
	struct callbox_call_info c;
	pthread_t t;

	ASSERT_EQ(0, sync_call(self->fd, 0, &c));
	ASSERT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
	w.id = c.id;
	ASSERT_EQ(0, pthread_create(&t, NULL, waiter, &w));
	usleep(50 * 1000);
	ASSERT_EQ(0, callbox_sandbox_shutdown_fd(self->fd));
	ASSERT_EQ(0, close(self->fd));
	self->fd = w.fd;	/* the teardown closes it */
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, w.ret);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, w.c.state);
	EXPECT_EQ(CALLBOX_ABORT_SANDBOX_CLOSED, w.c.reason);
	/* The host function returns and tries to continue: told it ended. */
	EXPECT_EQ(-ESRCH, run(self->fd, c.id, 0, &c));
	EXPECT_EQ(-ESHUTDOWN, run(self->fd, 0, 0, &c));
}

TEST_F(host, cancel_in_hostcall)
{
	struct callbox_call_info c;
	uint64_t id;

	ASSERT_EQ(0, sync_call(self->fd, 0, &c));
	ASSERT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
	id = c.id;

	EXPECT_EQ(0, callbox_call_cancel_fd(self->fd, id));
	EXPECT_EQ(-EALREADY, callbox_call_cancel_fd(self->fd, id));
	/* The host function can see it: a flag, and POLLPRI. */
	ASSERT_EQ(0, get(self->fd, id, &c));
	EXPECT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
	EXPECT_TRUE(c.flags & CALLBOX_CALL_CANCEL_PENDING);
	EXPECT_EQ(POLLPRI, poll_events(self->fd) & POLLPRI);

	/* When it returns, the call ends ABORTED and the guest is stale. */
	ASSERT_EQ(0, run(self->fd, 0, 0, &c));
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, c.reason);
	EXPECT_EQ(0, c.flags & CALLBOX_CALL_CANCEL_PENDING);
	ASSERT_EQ(0, wait_call(self->fd, id, 0, &c));
	EXPECT_EQ(-ENOTRECOVERABLE, sync_call(self->fd, 0, &c));
}

TEST_F(host, deadline_in_hostcall)
{
	struct callbox_call_info c;
	uint64_t id;

	ASSERT_EQ(0, sync_call(self->fd, now_ns() + 20 * 1000 * 1000, &c));
	ASSERT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
	id = c.id;
	usleep(50 * 1000);
	ASSERT_EQ(0, get(self->fd, id, &c));
	EXPECT_TRUE(c.flags & CALLBOX_CALL_CANCEL_PENDING);
	ASSERT_EQ(0, run(self->fd, id, 0, &c));
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_EQ(CALLBOX_ABORT_DEADLINE, c.reason);
	ASSERT_EQ(0, wait_call(self->fd, id, 0, &c));
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

	check_ioctl_abi(_metadata, self->fd, CALLBOX_CALL_SUBMIT, &submit_cmd,
			sizeof(submit_cmd),
			offsetof(struct callbox_call_submit, flags), 0);
	check_ioctl_abi(_metadata, self->fd, CALLBOX_CALL_RUN, &run_cmd,
			sizeof(run_cmd), offsetof(struct callbox_call_run, flags),
			0);
	check_ioctl_abi(_metadata, self->fd, CALLBOX_CALL_WAIT, &wait_cmd,
			sizeof(wait_cmd),
			offsetof(struct callbox_call_wait, flags), 0);
	check_ioctl_abi(_metadata, self->fd, CALLBOX_CALL_GET, &get_cmd,
			sizeof(get_cmd), offsetof(struct callbox_call_get, flags),
			0);
	check_ioctl_abi(_metadata, self->fd, CALLBOX_CALL_CANCEL, &cancel_cmd,
			sizeof(cancel_cmd),
			offsetof(struct callbox_call_cancel, flags), 0);
	check_ioctl_abi(_metadata, self->fd, CALLBOX_SANDBOX_RESET, &reset_cmd,
			sizeof(reset_cmd),
			offsetof(struct callbox_sandbox_reset, flags), 0);
	check_ioctl_abi(_metadata, self->fd, CALLBOX_SANDBOX_SHUTDOWN,
			&shutdown_cmd, sizeof(shutdown_cmd),
			offsetof(struct callbox_sandbox_shutdown, flags), 0);
	EXPECT_EQ(-1, ioctl(self->fd, CALLBOX_CALL_SUBMIT, &bad));
	EXPECT_EQ(EINVAL, errno);

	/* None of the probes queued, ran or shut down anything. */
	EXPECT_EQ(-EAGAIN, run(self->fd, 0, CALLBOX_RUN_NONBLOCK, &c));
	ASSERT_EQ(0, submit(self->fd, 0, &id));
	EXPECT_EQ(1, id);
}

TEST_HARNESS_MAIN
