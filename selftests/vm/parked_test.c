// SPDX-License-Identifier: GPL-2.0
/*
 * How a parked call ends, on raw guests: a call in HOSTCALL, or ENTERED
 * after an interruption, that no thread runs. If its owner thread exits
 * it ends ABORTED (OWNER_EXITED, or the reason of a cancellation that had
 * won), seen at once by every ioctl, and waiters wake; and whatever ends a
 * call parked in HOSTCALL, its status is 0 from then on. A call parked by
 * a signal and continued to its end from that signal's handler: the
 * interrupted ioctl, restarted, returns its outcome.
 */
#include <signal.h>
#include <sys/syscall.h>

#include "callbox_util.h"

/*
 * ==== A parked call whose owner thread has exited ====
 *
 * "can never be continued, so it ends ABORTED: with the reason of a
 * cancellation that had won, else CALLBOX_ABORT_OWNER_EXITED. Every ioctl
 * that looks at the call sees it ended at once; a thread blocked waiting
 * for it wakes within about 100 ms of the exit."
 *
 * The owner thread makes call 1 with CALL_SYNC and parks it: in HOSTCALL
 * (the host-caller guest), or ENTERED after a signal interrupted it in a
 * spinning guest (its handler never returns). It then waits to be told to
 * exit: pthread_exit() after a HOSTCALL, SYS_exit from the handler.
 *
 * The signal is sent only once the guest has run (it marks guest memory
 * before it spins): a signal that lands while KVM_RUN has not yet entered
 * the guest parks the call without CALLBOX_CALL_GUEST_RAN, and its end
 * then rightly poisons nothing, which is not what these tests are about.
 */

/* Marks that it ran, then spins: mov byte [MARK_RAN], 1; jmp $ */
#define MARK_RAN	0x2010
static const uint8_t guest_marking_spinner[] = {
	0xc6, 0x06, MARK_RAN & 0xff, MARK_RAN >> 8, 0x01,
	0xeb, 0xfe,
};
static struct {
	int fd;
	uint64_t deadline_rel_ns;
	int parked[2], go[2];
	pthread_t thread;
	int ret;
	struct callbox_call_info c;
} owner;

static void owner_park(void)
{
	ssize_t n;
	char b = 0;

	n = write(owner.parked[1], &b, 1);
	n = read(owner.go[0], &b, 1);
	(void)n;
}

static void owner_on_signal(int sig)
{
	(void)sig;
	owner_park();
	syscall(SYS_exit, 0);	/* this thread only; the ioctl never restarts */
}

static void *owner_fn(void *p)
{
	uint64_t deadline = 0;

	(void)p;
	if (owner.deadline_rel_ns)
		deadline = now_ns() + owner.deadline_rel_ns;
	owner.ret = _call_sync(owner.fd, deadline, &owner.c);
	owner_park();		/* "runs the host function" */
	pthread_exit(NULL);
}

/* Start the owner and return once call 1 is parked. */
static void owner_start(struct __test_metadata *_metadata, struct box *box,
			bool interrupted, uint64_t deadline_rel_ns)
{
	struct sigaction sa = { .sa_handler = owner_on_signal };
	volatile uint8_t *ran = (uint8_t *)box->guest.mem + MARK_RAN;
	struct callbox_call_info c;
	int fd = box->fd;
	char b;

	owner.fd = fd;
	owner.deadline_rel_ns = deadline_rel_ns;
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, pipe(owner.parked));
	ASSERT_EQ(0, pipe(owner.go));
	ASSERT_EQ(0, pthread_create(&owner.thread, NULL, owner_fn, NULL));
	if (interrupted) {
		ASSERT_TRUE(WAIT_FOR(*ran));
		ASSERT_EQ(0, pthread_kill(owner.thread, SIGUSR1));
	}
	ASSERT_EQ(1, read(owner.parked[0], &b, 1));
	call_get(fd, 1, &c);
	if (interrupted) {
		ASSERT_EQ(CALLBOX_STATE_ENTERED, c.state);
	} else {
		ASSERT_EQ(0, owner.ret);
		ASSERT_EQ(CALLBOX_STATE_HOSTCALL, owner.c.state);
		ASSERT_EQ(HOSTCALL_VALUE, owner.c.status);
		ASSERT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
	}
}

/* Let the owner exit without continuing its call; joined on return. */
static void owner_exit(struct __test_metadata *_metadata)
{
	char b = 0;

	ASSERT_EQ(1, write(owner.go[1], &b, 1));
	ASSERT_EQ(0, join_within(owner.thread, 10000));
}

FIXTURE(orphan) {
	struct box b;
};

FIXTURE_VARIANT(orphan) {
	const uint8_t *code;
	size_t len;
	bool interrupted;
};

FIXTURE_VARIANT_ADD(orphan, hostcall) {
	.code = guest_hostcaller,
	.len = sizeof(guest_hostcaller),
	.interrupted = false,
};

FIXTURE_VARIANT_ADD(orphan, interrupted) {
	.code = guest_marking_spinner,
	.len = sizeof(guest_marking_spinner),
	.interrupted = true,
};

FIXTURE_SETUP(orphan)
{
	box_open(_metadata, &self->b, variant->code, variant->len, true);
}

FIXTURE_TEARDOWN(orphan)
{
	box_close(&self->b);
}

static void expect_orphaned(struct __test_metadata *_metadata,
			    const struct callbox_call_info *c, uint32_t reason)
{
	EXPECT_EQ(1, c->id);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c->state);
	EXPECT_EQ(reason, c->reason);
	/* Stopped in the middle of the guest's call. */
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_POISONED, c->flags);
	EXPECT_EQ(0, c->status);
}

/* "Every ioctl that looks at the call sees it ended at once." */
TEST_F_TIMEOUT(orphan, get_sees_it_ended, 60)
{
	struct callbox_call_info c;

	owner_start(_metadata, &self->b, variant->interrupted, 0);
	owner_exit(_metadata);
	call_get(self->b.fd, 1, &c);
	expect_orphaned(_metadata, &c, CALLBOX_ABORT_OWNER_EXITED);
	EXPECT_EQ(POLLIN, poll_events(self->b.fd) & (POLLIN | POLLPRI));
	call_wait(self->b.fd, 1, 0, &c);
	expect_orphaned(_metadata, &c, CALLBOX_ABORT_OWNER_EXITED);
}

/*
 * After the exit the call has ended, so CANCEL "had already ended":
 * EALREADY, and the reason stays OWNER_EXITED.
 */
TEST_F_TIMEOUT(orphan, cancel_after_exit, 60)
{
	struct callbox_call_info c;

	owner_start(_metadata, &self->b, variant->interrupted, 0);
	owner_exit(_metadata);
	call_cancel_err(EALREADY, self->b.fd, 1);
	call_get(self->b.fd, 1, &c);
	expect_orphaned(_metadata, &c, CALLBOX_ABORT_OWNER_EXITED);
}

/*
 * A cancellation that won before the exit gives its reason: a parked
 * interrupted call ends at once, a HOSTCALL call when its owner exits.
 */
TEST_F_TIMEOUT(orphan, cancel_before_exit, 60)
{
	struct callbox_call_info c;

	owner_start(_metadata, &self->b, variant->interrupted, 0);
	EXPECT_EQ(0, _call_cancel(self->b.fd, 1));
	call_get(self->b.fd, 1, &c);
	if (variant->interrupted) {
		/* "A parked ENTERED call is aborted at once." */
		expect_orphaned(_metadata, &c, CALLBOX_ABORT_CANCELLED);
	} else {
		EXPECT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
		EXPECT_TRUE(c.flags & CALLBOX_CALL_CANCEL_PENDING);
	}
	owner_exit(_metadata);
	call_get(self->b.fd, 1, &c);
	expect_orphaned(_metadata, &c, CALLBOX_ABORT_CANCELLED);
	call_cancel_err(EALREADY, self->b.fd, 1);
}

/* "a thread blocked waiting for it wakes within about 100 ms of the exit" */
TEST_F_TIMEOUT(orphan, waiter_wakes_after_exit, 60)
{
	struct call_waiter w = { .fd = self->b.fd, .id = 1 };
	uint64_t t0, woke;

	owner_start(_metadata, &self->b, variant->interrupted, 0);
	ASSERT_EQ(0, pthread_create(&w.thread, NULL, call_waiter_fn, &w));
	usleep(100 * 1000);
	/* The owner lives: the call goes on. */
	EXPECT_FALSE(atomic_load(&w.done));

	owner_exit(_metadata);
	t0 = now_ns();
	ASSERT_EQ(0, join_within(w.thread, 5000)) {
		TH_LOG("the waiter still sleeps 5 s after the owner exited");
	}
	woke = now_ns() - t0;
	TH_LOG("waiter woke %llu ms after the owner was joined",
	       (unsigned long long)woke / MS);
	EXPECT_GT(1000 * MS, woke);
	EXPECT_EQ(0, w.ret);
	expect_orphaned(_metadata, &w.c, CALLBOX_ABORT_OWNER_EXITED);
}

/*
 * SHUTDOWN after the exit looks at a call that has already ended: it keeps
 * the reason it ended with ("Every ioctl that looks at the call sees it
 * ended at once"), as CANCEL does above, whether or not another ioctl
 * happened to look at it first.
 */
TEST_F_TIMEOUT(orphan, shutdown_after_exit, 60)
{
	struct callbox_call_info c;

	owner_start(_metadata, &self->b, variant->interrupted, 0);
	owner_exit(_metadata);
	sandbox_shutdown(self->b.fd);
	call_get(self->b.fd, 1, &c);
	expect_orphaned(_metadata, &c, CALLBOX_ABORT_OWNER_EXITED);
}

/*
 * Nothing is stuck behind the orphan: the sandbox is poisoned
 * (ENOTRECOVERABLE, not EBUSY or a hang), RESET works, and after its init
 * call calls run again.
 */
TEST_F_TIMEOUT(orphan, reset_after_exit, 60)
{
	struct callbox_call_info c;

	owner_start(_metadata, &self->b, variant->interrupted, 0);
	owner_exit(_metadata);
	call_sync_err(ENOTRECOVERABLE, self->b.fd, 0, &c);
	call_run_err(ENOTRECOVERABLE, self->b.fd, 0, CALLBOX_RUN_NONBLOCK, &c);

	box_load(&self->b, raw_guest_counter, sizeof(raw_guest_counter));
	ASSERT_EQ(0, raw_guest_reset(&self->b.guest, self->b.run,
				     self->b.fd));
	call_sync(self->b.fd, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);
	call_get(self->b.fd, 1, &c);
	expect_orphaned(_metadata, &c, CALLBOX_ABORT_OWNER_EXITED);
}

/*
 * The deadline is a cancellation too: if it passed while the owner still
 * lived, the orphan ends with CALLBOX_ABORT_DEADLINE, and a WAIT issued
 * before returns. (A parked interrupted call ends at the deadline itself;
 * a HOSTCALL call only once its owner is gone.)
 */
TEST_F_TIMEOUT(orphan, deadline_won_before_exit, 60)
{
	struct call_waiter w = { .fd = self->b.fd, .id = 1 };

	owner_start(_metadata, &self->b, variant->interrupted,
		    300 * MS);
	ASSERT_EQ(0, pthread_create(&w.thread, NULL, call_waiter_fn, &w));
	if (variant->interrupted) {
		ASSERT_EQ(0, join_within(w.thread, 5000));
		owner_exit(_metadata);
	} else {
		ASSERT_TRUE(wait_for_flags(self->b.fd, 1,
					   CALLBOX_CALL_CANCEL_PENDING));
		usleep(50 * 1000);
		EXPECT_FALSE(atomic_load(&w.done));
		owner_exit(_metadata);
		ASSERT_EQ(0, join_within(w.thread, 5000));
	}
	EXPECT_EQ(0, w.ret);
	expect_orphaned(_metadata, &w.c, CALLBOX_ABORT_DEADLINE);
}

/*
 * "Only one call runs on a sandbox at a time: a second caller waits for
 * the first, including while the first is interrupted" (and gets EBUSY if
 * "a call waits in HOSTCALL"); once the owner has exited it is not stuck:
 * it wakes and finds the sandbox poisoned.
 */
TEST_F_TIMEOUT(orphan, other_sync_caller_not_stuck, 60)
{
	struct call_runner r = { .fd = self->b.fd, .sync = true };
	uint64_t t0;

	owner_start(_metadata, &self->b, variant->interrupted, 0);
	ASSERT_EQ(0, pthread_create(&r.thread, NULL, call_runner_fn, &r));
	if (!variant->interrupted) {
		ASSERT_EQ(0, join_within(r.thread, 5000));
		EXPECT_EQ(-EBUSY, r.ret);
		owner_exit(_metadata);
		return;
	}
	usleep(100 * 1000);
	EXPECT_FALSE(atomic_load(&r.done));
	owner_exit(_metadata);
	t0 = now_ns();
	ASSERT_EQ(0, join_within(r.thread, 5000));
	EXPECT_GT(1000 * MS, now_ns() - t0);
	EXPECT_EQ(-ENOTRECOVERABLE, r.ret);
}

/*
 * ==== status is 0 unless EXITED or HOSTCALL ====
 *
 * "@status: EXITED: the value the guest wrote to CALLBOX_PORT_DONE;
 * HOSTCALL: the value it wrote to CALLBOX_PORT_HOSTCALL; else 0": a call
 * that reached HOSTCALL with a value and then aborted reports 0, whatever
 * ended it.
 */
enum hostcall_end { BY_CANCEL, BY_DEADLINE, BY_SHUTDOWN, BY_OWNER_EXIT };

BOX_FIXTURE(hostabort, guest_hostcaller, true)

FIXTURE_VARIANT(hostabort) {
	enum hostcall_end how;
	uint32_t reason;
};

FIXTURE_VARIANT_ADD(hostabort, cancel) {
	BY_CANCEL, CALLBOX_ABORT_CANCELLED,
};

FIXTURE_VARIANT_ADD(hostabort, deadline) {
	BY_DEADLINE, CALLBOX_ABORT_DEADLINE,
};

FIXTURE_VARIANT_ADD(hostabort, shutdown) {
	BY_SHUTDOWN, CALLBOX_ABORT_SANDBOX_CLOSED,
};

FIXTURE_VARIANT_ADD(hostabort, owner_exit) {
	BY_OWNER_EXIT, CALLBOX_ABORT_OWNER_EXITED,
};

TEST_F_TIMEOUT(hostabort, status_is_zero, 60)
{
	struct callbox_call_info c;
	int fd = self->b.fd;

	if (variant->how == BY_OWNER_EXIT) {
		owner_start(_metadata, &self->b, false, 0);
		owner_exit(_metadata);
	} else {
		uint64_t deadline = 0;

		if (variant->how == BY_DEADLINE)
			deadline = now_ns() + 200 * MS;
		call_sync(fd, deadline, &c);
		ASSERT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
		ASSERT_EQ(HOSTCALL_VALUE, c.status);
		if (variant->how == BY_CANCEL)
			call_cancel(fd, c.id);
		if (variant->how != BY_SHUTDOWN) {
			/* Decided, not yet ended: still the host call's value. */
			ASSERT_TRUE(wait_for_flags(fd, c.id,
						   CALLBOX_CALL_CANCEL_PENDING));
			call_get(fd, c.id, &c);
			EXPECT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
			EXPECT_EQ(HOSTCALL_VALUE, c.status);
			/* The host function returns and continues the call. */
			call_run(fd, c.id, 0, &c);
		} else {
			sandbox_shutdown(fd);
			call_get(fd, c.id, &c);
		}
		EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
		EXPECT_EQ(0, c.status);
	}
	call_wait(fd, 1, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_EQ(variant->reason, c.reason);
	EXPECT_EQ(0, c.status);
}

/*
 * ==== A parked call continued from its own signal handler ====
 *
 * "An ioctl of the same command, from the same thread, whose @out ...
 * names the parked call, is its continuation; if the call has ended
 * meanwhile (... or continued to its end by such an ioctl issued from the
 * signal handler), it returns that outcome (CALL_SYNC: ESRCH if another
 * ioctl consumed it)."
 *
 * The guest marks that it ran, spins until the host sets a flag, then
 * ends with status NESTED_STATUS. The handler sets the flag and issues
 * the same command with the @out the interruption left; then the kernel
 * restarts the interrupted ioctl.
 */
#define NESTED_FLAG	0x2020
#define NESTED_STATUS	0x55
static const uint8_t guest_flag_waiter[] = {
	0xc6, 0x06, MARK_RAN & 0xff, MARK_RAN >> 8, 0x01,	/* mark ran */
	0x80, 0x3e, NESTED_FLAG & 0xff, NESTED_FLAG >> 8, 0x00,	/* 1: cmp */
	0x74, 0xf9,						/* je 1b */
	0x66, 0xb8, NESTED_STATUS, 0x00, 0x00, 0x00,		/* mov eax */
	0xba, 0x00, 0xcb,					/* mov dx, DONE */
	0x66, 0xef,						/* out */
	0xeb, 0xe7,						/* jmp to the start */
};

static struct {
	int fd;
	bool sync;
	volatile uint8_t *flag;
	union {
		struct callbox_call_run run;
		struct callbox_call_sync sync;
	} outer, inner;
	int outer_ret, inner_ret, signals;
} nested;

static void nested_on_signal(int sig)
{
	int saved = errno;

	(void)sig;
	if (nested.signals++)
		return;
	/* The outer ioctl's struct, with @out as the interruption left it. */
	nested.inner = nested.outer;
	*nested.flag = 1;
	nested.inner_ret = ioctl(nested.fd, nested.sync ? CALLBOX_CALL_SYNC :
				 CALLBOX_CALL_RUN, &nested.inner) ? -errno : 0;
	errno = saved;
}

static void *nested_fn(void *p)
{
	int ret;

	(void)p;
	if (nested.sync) {
		nested.outer.sync.size = sizeof(nested.outer.sync);
		ret = ioctl(nested.fd, CALLBOX_CALL_SYNC, &nested.outer.sync);
	} else {
		nested.outer.run.size = sizeof(nested.outer.run);
		ret = ioctl(nested.fd, CALLBOX_CALL_RUN, &nested.outer.run);
	}
	nested.outer_ret = ret ? -errno : 0;
	return NULL;
}

FIXTURE(nested) {
	struct box b;
};

FIXTURE_VARIANT(nested) {
	bool sync;
};

FIXTURE_VARIANT_ADD(nested, run) {
	.sync = false,
};

FIXTURE_VARIANT_ADD(nested, sync) {
	.sync = true,
};

FIXTURE_SETUP(nested)
{
	box_open(_metadata, &self->b, guest_flag_waiter,
		 sizeof(guest_flag_waiter), true);
}

FIXTURE_TEARDOWN(nested)
{
	box_close(&self->b);
}

TEST_F_TIMEOUT(nested, continued_from_the_handler, 60)
{
	struct sigaction sa = { .sa_handler = nested_on_signal };
	volatile uint8_t *ran = (uint8_t *)self->b.guest.mem + MARK_RAN;
	const struct callbox_call_info *in, *out;
	struct callbox_call_info c;
	uint64_t id;
	pthread_t t;

	return_if_setup_skipped();
	memset(&nested, 0, sizeof(nested));
	nested.fd = self->b.fd;
	nested.sync = variant->sync;
	nested.flag = (uint8_t *)self->b.guest.mem + NESTED_FLAG;
	if (!variant->sync)
		call_submit(self->b.fd, 0, &id);
	/* No SA_RESTART: the kernel restarts the ioctl by itself. */
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, pthread_create(&t, NULL, nested_fn, NULL));
	ASSERT_TRUE(WAIT_FOR(*ran));
	ASSERT_EQ(0, pthread_kill(t, SIGUSR1));
	ASSERT_EQ(0, join_within(t, 10000));

	in = variant->sync ? &nested.inner.sync.out : &nested.inner.run.out;
	out = variant->sync ? &nested.outer.sync.out : &nested.outer.run.out;
	/* The handler's ioctl continued the call to its end. */
	EXPECT_EQ(0, nested.inner_ret);
	EXPECT_EQ(1, in->id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, in->state);
	EXPECT_EQ(NESTED_STATUS, in->status);
	if (variant->sync) {
		/* ... and consumed it. */
		EXPECT_EQ(-ESRCH, nested.outer_ret);
		call_get_err(ESRCH, self->b.fd, 1, &c);
	} else {
		/* The interrupted RUN, restarted, returns that outcome. */
		EXPECT_EQ(0, nested.outer_ret);
		EXPECT_EQ(1, out->id);
		EXPECT_EQ(CALLBOX_STATE_EXITED, out->state);
		EXPECT_EQ(NESTED_STATUS, out->status);
		call_wait(self->b.fd, 1, 0, &c);
		EXPECT_EQ(NESTED_STATUS, c.status);
	}
	/* Nothing is left parked: the next call runs. */
	*nested.flag = 1;
	call_sync(self->b.fd, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(NESTED_STATUS, c.status);
}

TEST_HARNESS_MAIN
