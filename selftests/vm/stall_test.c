// SPDX-License-Identifier: GPL-2.0
/*
 * What happens while an ioctl is held up writing to userspace.
 *
 * An ioctl's copy_to_user() can take as long as the process likes: its
 * struct may sit in a page that is being swapped in, served by a FUSE
 * file or by userfaultfd. Whatever the kernel decided before that write
 * may be stale after it, and whatever it holds during it, other threads
 * wait for. Each test here holds an ioctl in such a write (see stall.h),
 * changes something meanwhile, and checks the contract of
 * uapi/linux/callbox.h when the write goes on:
 *
 * - a call's outcome is handed out, and the call consumed, exactly once:
 *   a CALL_SYNC restarted after an interruption, whose call ended and was
 *   claimed by a WAIT held up in its reply, waits for that claim; it gets
 *   the outcome if the WAIT's reply fails, ESRCH if it succeeds;
 * - a CALL_SYNC waiting for another thread's parked call never fails
 *   with EINTR: the handler runs and the ioctl restarts; and it fails
 *   with EBUSY as soon as that call reaches HOSTCALL.
 *
 * What RESET does meanwhile is stall_reset_test's; that the checks before
 * entry hold after such a write is entry_test's (the entry_check
 * fixture), and that a BPF LSM's does, lsm_test's.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

#include "callbox_util.h"
#include "stall.h"

/* ---- signal handlers (one test per process: the harness forks) ---- */

/*
 * SIGUSR1 parks the call its thread runs: the handler holds the thread in
 * userspace until the test opens the gate (or 30 s have passed, so that a
 * test that failed early cannot leave it there), then the kernel restarts
 * the ioctl, which continues or collects the call.
 */
static atomic_bool gate_open;
static atomic_bool in_handler;
static atomic_int usr2_handled;

static void on_park(int sig)
{
	struct timespec ms = { .tv_nsec = 1000 * 1000 };
	int i;

	(void)sig;
	atomic_store(&in_handler, true);
	for (i = 0; i < 30000 && !atomic_load(&gate_open); i++)
		nanosleep(&ms, NULL);
	atomic_store(&in_handler, false);
}

/* SIGUSR2 only runs a handler, installed without SA_RESTART. */
static void on_usr2(int sig)
{
	(void)sig;
	atomic_fetch_add(&usr2_handled, 1);
}

/* Install @fn for @sig without SA_RESTART: the kernel must restart. */
#define handle_signal(sig, fn)						\
	do {								\
		struct sigaction __sa = { .sa_handler = (fn) };		\
		ASSERT_EQ(0, sigaction((sig), &__sa, NULL));		\
	} while (0)

/* ---- a raw guest with its sandbox, a stall page and threads ---- */

/*
 * The ioctl that stalls is the stall's own thread (stall.h); the others
 * are call_runners: CALL_SYNCs parked by a signal or waiting behind one.
 */
#define NR_RUNNERS	2

FIXTURE(stall) {
	struct box b;
	struct stall st;
	struct call_runner runner[NR_RUNNERS];
};

/* Each test opens the box with a guest of its own. */
FIXTURE_SETUP(stall)
{
	atomic_store(&gate_open, false);
	atomic_store(&in_handler, false);
	atomic_store(&usr2_handled, 0);
	box_init(&self->b);
	stall_open(_metadata, &self->st);
}

/*
 * Whatever the test left, and however it ended: open the handlers' gate,
 * then stall_close() lets a stalled write land, shuts the sandbox down
 * (which ends every call and wakes every waiter) and joins the stalled
 * ioctl; then every runner is joined, within a bound.
 */
FIXTURE_TEARDOWN(stall)
{
	atomic_store(&gate_open, true);
	stall_fixture_close(_metadata, &self->st, &self->b, self->runner,
			    NR_RUNNERS);
}

/* Start @r: a CALL_SYNC on the sandbox, on a thread of its own. */
#define start_sync(r)							\
	do {								\
		(r)->fd = self->b.fd;					\
		(r)->sync = true;					\
		call_runner_start(r);					\
	} while (0)

/*
 * ==== A call is consumed exactly once ====
 *
 * CALL_SYNC: "A terminal call is consumed: its id is then unknown to WAIT
 * and GET (ESRCH). An outcome is handed out once: if another thread's
 * WAIT consumes the call first, CALL_SYNC fails with ESRCH." And "a
 * command that consumes a call consumes it only once the outcome has
 * been written back": a WAIT holds a claim on the call while it writes.
 *
 * Thread A's CALL_SYNC is interrupted in the guest; its signal handler
 * keeps it in userspace while the parked call is cancelled. Thread W's
 * WAIT then claims the ended call and stalls writing its reply. A's
 * handler returns and its CALL_SYNC restarts, to collect the call W
 * holds: it cannot know yet whether W will hand the outcome out, so it
 * must wait for W's claim to resolve. Then either W's reply fails (A gets
 * the outcome and consumes the call) or it lands (A gets ESRCH). Either
 * way exactly one of them reports the outcome, and the call is gone
 * afterwards for GET and for any later WAIT.
 */
static void consume_race(struct __test_metadata *_metadata,
			 FIXTURE_DATA(stall) *self, bool wait_reply_fails)
{
	struct call_runner *a = &self->runner[0];
	struct callbox_call_wait *wcmd = self->st.page;
	struct stall *w = &self->st;
	struct callbox_call_info c;
	int handed_out;

	stall_guest(guest_spinner);
	handle_signal(SIGUSR1, on_park);

	/* A: a CALL_SYNC of call 1, parked by a signal in the guest. */
	start_sync(a);
	ASSERT_TRUE(wait_for_state(self->b.fd, 1, CALLBOX_STATE_ENTERED));
	usleep(10 * 1000);
	pthread_kill(a->thread, SIGUSR1);
	ASSERT_TRUE(WAIT_FOR(atomic_load(&in_handler)));

	/* The parked call ends: an outcome nobody has consumed yet. */
	call_cancel(self->b.fd, 1);
	call_get(self->b.fd, 1, &c);
	ASSERT_EQ(CALLBOX_STATE_ABORTED, c.state);

	/* W: a WAIT that claims it, then stalls writing the outcome. */
	wcmd->size = sizeof(*wcmd);
	wcmd->id = 1;
	stall_arm(w);
	stall_ioctl(w, self->b.fd, CALLBOX_CALL_WAIT);
	ASSERT_TRUE(stall_wait(w, 5000)) {
		TH_LOG("WAIT did not write its reply");
	}

	/* A's handler returns: its CALL_SYNC restarts for call 1. */
	atomic_store(&gate_open, true);
	usleep(500 * 1000);
	EXPECT_FALSE(atomic_load(&a->done)) {
		TH_LOG("CALL_SYNC returned (%s, state %u) while a WAIT held the claim on its call",
		       strerror(-a->ret), a->c.state);
	}
	EXPECT_FALSE(stall_ioctl_done(w));

	if (wait_reply_fails)
		stall_fail(w);
	else
		stall_release(w);
	ASSERT_TRUE(stall_ioctl_join(w, 10000));
	ASSERT_TRUE(call_runner_join(a, 10000)) {
		TH_LOG("CALL_SYNC still blocked after the WAIT returned");
	}

	if (wait_reply_fails) {
		/* W handed nothing out: the outcome is A's, and so is the call. */
		EXPECT_EQ(-EFAULT, w->ret);
		EXPECT_EQ(0, a->ret);
		EXPECT_EQ(1, a->c.id);
		EXPECT_EQ(CALLBOX_STATE_ABORTED, a->c.state);
		EXPECT_EQ(CALLBOX_ABORT_CANCELLED, a->c.reason);
	} else {
		/* W consumed it first: A is told so. */
		EXPECT_EQ(0, w->ret);
		EXPECT_EQ(1, wcmd->out.id);
		EXPECT_EQ(CALLBOX_STATE_ABORTED, wcmd->out.state);
		EXPECT_EQ(CALLBOX_ABORT_CANCELLED, wcmd->out.reason);
		EXPECT_EQ(-ESRCH, a->ret) {
			TH_LOG("CALL_SYNC got state %u of a call the WAIT consumed",
			       a->c.state);
		}
	}
	handed_out = (a->ret == 0) + (w->ret == 0);
	EXPECT_EQ(1, handed_out);

	/* Consumed: no GET, and no later WAIT, sees it again. */
	EXPECT_EQ(-ESRCH, _call_get(self->b.fd, 1, &c)) {
		TH_LOG("call 1 is still there, state %u", c.state);
	}
	EXPECT_EQ(-ESRCH, _call_wait(self->b.fd, 1, now_ns() + 2000 * MS,
				     &c)) {
		TH_LOG("a later WAIT got call 1's outcome again");
	}
}

TEST_F_TIMEOUT(stall, sync_restart_gets_outcome_when_wait_reply_fails, 60)
{
	return_if_setup_skipped();
	consume_race(_metadata, self, true);
}

TEST_F_TIMEOUT(stall, sync_restart_gets_esrch_when_wait_reply_lands, 60)
{
	return_if_setup_skipped();
	consume_race(_metadata, self, false);
}

/*
 * ==== Waiting for the sandbox never ends with EINTR ====
 *
 * "A wait for the sandbox itself (while another thread runs a call, say)
 * never ends so: the handler runs and the ioctl restarts." CALL_SYNC: "a
 * second caller waits for the first, including while the first is
 * interrupted."
 *
 * Thread A's call is parked (A sits in a signal handler); thread B's
 * CALL_SYNC waits behind it and gets signals whose handler was installed
 * without SA_RESTART. B must neither return nor make a call; once A
 * continues its call to its end, B makes call 2 and gets its outcome.
 */
TEST_F_TIMEOUT(stall, sync_waiting_behind_parked_call_restarts, 60)
{
	struct call_runner *a = &self->runner[0], *bt = &self->runner[1];
	volatile uint8_t *release;
	struct callbox_call_info c;
	int i;

	return_if_setup_skipped();
	stall_guest(guest_held);
	release = (uint8_t *)self->b.guest.mem + HELD_RELEASE;
	handle_signal(SIGUSR1, on_park);
	handle_signal(SIGUSR2, on_usr2);

	/* A: call 1, parked by a signal while the guest waits for release. */
	start_sync(a);
	ASSERT_TRUE(wait_for_state(self->b.fd, 1, CALLBOX_STATE_ENTERED));
	ASSERT_TRUE(held_wait_spinning(self->b.guest.mem));
	pthread_kill(a->thread, SIGUSR1);
	ASSERT_TRUE(WAIT_FOR(atomic_load(&in_handler)));

	/* B: waits for the sandbox; signals must not end that wait. */
	start_sync(bt);
	usleep(200 * 1000);
	ASSERT_FALSE(atomic_load(&bt->done)) {
		TH_LOG("CALL_SYNC did not wait behind a parked call: %s",
		       strerror(-bt->ret));
	}
	/* Signal B while it waits (a thread that returned is not signalled). */
	for (i = 0; i < 3 && !atomic_load(&bt->done); i++) {
		pthread_kill(bt->thread, SIGUSR2);
		WAIT_FOR(atomic_load(&usr2_handled) > i ||
			 atomic_load(&bt->done));
		usleep(50 * 1000);
	}
	usleep(200 * 1000);
	EXPECT_LE(1, atomic_load(&usr2_handled));
	EXPECT_FALSE(atomic_load(&bt->done)) {
		TH_LOG("CALL_SYNC waiting for the sandbox returned %s",
		       strerror(-bt->ret));
	}
	call_get_err(ENOENT, self->b.fd, 2, &c);
	EXPECT_EQ(CALLBOX_STATE_ENTERED, call_state(self->b.fd, 1));

	/* A continues call 1 to its end. */
	*release = 1;
	atomic_store(&gate_open, true);
	ASSERT_TRUE(call_runner_join(a, 10000));
	EXPECT_EQ(0, a->ret);
	EXPECT_EQ(1, a->c.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, a->c.state);
	EXPECT_EQ(1, a->c.status);

	/* Then B's wait is over: it makes call 2, which runs to its end. */
	if (!atomic_load(&bt->done)) {
		ASSERT_TRUE(wait_for_state(self->b.fd, 2,
					   CALLBOX_STATE_ENTERED));
	}
	*release = 1;
	ASSERT_TRUE(call_runner_join(bt, 10000));
	EXPECT_EQ(0, bt->ret) {
		TH_LOG("the waiting CALL_SYNC: %s", strerror(-bt->ret));
	}
	EXPECT_EQ(2, bt->c.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, bt->c.state);
	EXPECT_EQ(2, bt->c.status);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN, bt->c.flags);
}

/*
 * ==== A CALL_SYNC waiting behind a parked call that reaches HOSTCALL ====
 *
 * A second CALL_SYNC "waits for the first, including while the first is
 * interrupted", but fails with "EBUSY if ... a call waits in HOSTCALL".
 * Thread A's call is parked by a signal, and B's CALL_SYNC waits behind
 * it. A's handler returns, its CALL_SYNC restarts and continues the call,
 * which makes a host call. Now a call waits in HOSTCALL: B must fail with
 * EBUSY, making no call, as a fresh CALL_SYNC does, rather than wait for
 * the whole host function; and so whether or not a signal made B's ioctl
 * restart while it waited. A, the call's owner, lingers (it runs the host
 * function), then continues the call to its end.
 *
 * The guest spins until the test releases it, then makes a host call
 * (HELD_HOSTCALL_STATUS), then ends with DONE and the same value:
 *
 *   start:	mov  al, [0x2001]	; released by the test?
 *		test al, al
 *		jz   start
 *		mov  byte [0x2001], 0
 *		mov  dx, CALLBOX_PORT_HOSTCALL
 *		mov  eax, 7
 *		out  dx, eax
 *		mov  dx, CALLBOX_PORT_DONE
 *		out  dx, eax
 *		jmp  start
 */
static const uint8_t guest_held_then_hostcall[] = {
	0xa0, 0x01, 0x20, 0x84, 0xc0, 0x74, 0xf9, 0xc6, 0x06, 0x01, 0x20, 0x00,
	0xba, 0x08, 0xcb, 0x66, 0xb8, 0x07, 0x00, 0x00, 0x00, 0x66, 0xef, 0xba,
	0x00, 0xcb, 0x66, 0xef, 0xeb, 0xe2,
};

static void sync_behind_hostcall(struct __test_metadata *_metadata,
				 FIXTURE_DATA(stall) *self, bool signalled)
{
	struct call_runner *a = &self->runner[0], *bt = &self->runner[1];
	volatile uint8_t *release;
	struct callbox_call_info c;

	stall_guest(guest_held_then_hostcall);
	release = (uint8_t *)self->b.guest.mem + HELD_RELEASE;
	handle_signal(SIGUSR1, on_park);
	handle_signal(SIGUSR2, on_usr2);

	/* A: call 1, parked by a signal while the guest waits for release. */
	a->linger = true;
	start_sync(a);
	ASSERT_TRUE(wait_for_state(self->b.fd, 1, CALLBOX_STATE_ENTERED));
	usleep(10 * 1000);
	pthread_kill(a->thread, SIGUSR1);
	ASSERT_TRUE(WAIT_FOR(atomic_load(&in_handler)));

	/* B: waits behind it, through a signal's restart if @signalled. */
	start_sync(bt);
	usleep(200 * 1000);
	ASSERT_FALSE(atomic_load(&bt->done)) {
		TH_LOG("CALL_SYNC did not wait behind a parked call: %s",
		       strerror(-bt->ret));
	}
	if (signalled) {
		pthread_kill(bt->thread, SIGUSR2);
		ASSERT_TRUE(WAIT_FOR(atomic_load(&usr2_handled) == 1));
		usleep(100 * 1000);
		ASSERT_FALSE(atomic_load(&bt->done)) {
			TH_LOG("CALL_SYNC returned %s after a signal",
			       strerror(-bt->ret));
		}
	}

	/* A continues its call, and the guest makes its host call. */
	*release = 1;
	atomic_store(&gate_open, true);
	ASSERT_TRUE(WAIT_FOR(atomic_load(&a->done)));
	ASSERT_EQ(0, a->ret);
	ASSERT_EQ(1, a->c.id);
	ASSERT_EQ(CALLBOX_STATE_HOSTCALL, a->c.state);
	EXPECT_EQ(HELD_HOSTCALL_STATUS, a->c.status);

	/* B fails now, not once the host function is over. */
	ASSERT_TRUE(call_runner_join(bt, 2000)) {
		TH_LOG("CALL_SYNC still waits 2 s into another thread's host call");
	}
	EXPECT_EQ(-EBUSY, bt->ret) {
		TH_LOG("CALL_SYNC: %s, call %llu state %u",
		       bt->ret ? strerror(-bt->ret) : "0",
		       (unsigned long long)bt->c.id, bt->c.state);
	}
	call_get_err(ENOENT, self->b.fd, 2, &c);
	call_sync_err(EBUSY, self->b.fd, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_HOSTCALL, call_state(self->b.fd, 1));

	/* The host function returns: A continues the call to its end. */
	atomic_store(&a->cont, true);
	atomic_store(&a->go, true);
	ASSERT_TRUE(WAIT_FOR(atomic_load(&a->cont_done)));
	EXPECT_EQ(0, a->cont_ret);
	EXPECT_EQ(1, a->cont_c.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, a->cont_c.state);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN, a->cont_c.flags);
	EXPECT_EQ(HELD_HOSTCALL_STATUS, a->cont_c.status);
	call_wait(self->b.fd, 1, 0, &c);

	/* Then calls are taken again: call 2 is the next. */
	*release = 1;
	call_sync(self->b.fd, 0, &c);
	EXPECT_EQ(2, c.id);
	ASSERT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
	call_run(self->b.fd, 2, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	call_wait(self->b.fd, 2, 0, &c);
}

TEST_F_TIMEOUT(stall, sync_waiting_behind_parked_call_ebusy_at_hostcall, 60)
{
	return_if_setup_skipped();
	sync_behind_hostcall(_metadata, self, false);
}

TEST_F_TIMEOUT(stall, sync_restarted_behind_parked_call_ebusy_at_hostcall,
	       60)
{
	return_if_setup_skipped();
	sync_behind_hostcall(_metadata, self, true);
}

TEST_HARNESS_MAIN
