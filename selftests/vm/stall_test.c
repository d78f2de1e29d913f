// SPDX-License-Identifier: GPL-2.0
/*
 * What happens while an ioctl is held up writing to userspace.
 *
 * An ioctl's copy_to_user() can take as long as the process likes: its
 * struct may sit in a page that is being swapped in, served by a FUSE
 * file or by userfaultfd. Whatever the kernel decided before that write
 * may be stale after it, and whatever it holds during it, other threads
 * wait for. Each test here holds an ioctl in such a write (see "A write
 * that stalls" below), changes something meanwhile, and checks the
 * contract of uapi/linux/callbox.h when the write goes on:
 *
 * - a call's outcome is handed out, and the call consumed, exactly once:
 *   a CALL_SYNC restarted after an interruption, whose call ended and was
 *   claimed by a WAIT held up in its reply, waits for that claim; it gets
 *   the outcome if the WAIT's reply fails, ESRCH if it succeeds;
 * - the checks before entry (kvm_run.immediate_exit, a vCPU signal mask)
 *   hold at the moment of entry, after RUN's write of @out and after
 *   CALL_SYNC's publication reply: changed during that write, they still
 *   refuse entry, with nothing entered;
 * - a CALL_SYNC waiting for another thread's parked call never fails
 *   with EINTR: the handler runs and the ioctl restarts;
 * - RESET fails at once with EBUSY while another thread starts a call,
 *   even one held up in its publication reply.
 */
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include "callbox_util.h"
#include "stall.h"

/* ---- raw guests (real mode, code at RAW_GUEST_CODE) ---- */

/* jmp $ : spins until something forces it out. */
static const uint8_t guest_spinner[] = {
	0xeb, 0xfe,			/* jmp $ */
};

/*
 * Every call spins until the test sets GUEST_RELEASE, clears it, and
 * ends with DONE, its status the number of calls the guest finished
 * (restart_test.c's guest, with its host call never taken):
 *
 *   start:	mov  al, [0x2000]	; take a host call first? (never)
 *		test al, al
 *		jz   spin
 *		mov  dx, CALLBOX_PORT_HOSTCALL
 *		mov  eax, 7
 *		out  dx, eax
 *   spin:	mov  al, [0x2001]	; released by the test?
 *		test al, al
 *		jz   spin
 *		mov  byte [0x2001], 0
 *		inc  word [0x2002]
 *		mov  ax, [0x2002]
 *		movzx eax, ax
 *		mov  dx, CALLBOX_PORT_DONE
 *		out  dx, eax
 *		jmp  start
 */
static const uint8_t guest_released[] = {
	0xa0, 0x00, 0x20, 0x84, 0xc0, 0x74, 0x0b, 0xba, 0x08, 0xcb, 0x66, 0xb8,
	0x07, 0x00, 0x00, 0x00, 0x66, 0xef, 0xa0, 0x01, 0x20, 0x84, 0xc0, 0x74,
	0xf9, 0xc6, 0x06, 0x01, 0x20, 0x00, 0xff, 0x06, 0x02, 0x20, 0xa1, 0x02,
	0x20, 0x66, 0x0f, 0xb7, 0xc0, 0xba, 0x00, 0xcb, 0x66, 0xef, 0xeb, 0xd0,
};

#define GUEST_RELEASE	0x2001

#define MS	(1000 * 1000ull)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Poll @cond for up to 10 s. */
#define WAIT_FOR(cond)							\
	({								\
		uint64_t __until = now_ns() + 10000 * MS;		\
		while (!(cond) && now_ns() < __until)			\
			usleep(500);					\
		(cond);							\
	})

/* ---- the thin layer, with a zeroed @out: a new call, never a restart ---- */

static int get(int fd, uint64_t id, struct callbox_call_info *c)
{
	memset(c, 0, sizeof(*c));
	return callbox_call_get_fd(fd, id, c);
}

static uint32_t call_state(int fd, uint64_t id)
{
	struct callbox_call_info c;

	return get(fd, id, &c) ? 0 : c.state;
}

/* ---- threads that make one ioctl each ---- */

struct ioctl_thread {
	pthread_t thread;
	bool started;
	int fd;
	unsigned long cmd;
	void *arg;		/* buf below, or a struct in the stall page */
	union {
		struct callbox_call_sync sync;
		struct callbox_call_run run;
		struct callbox_call_wait wait;
		struct callbox_sandbox_reset reset;
	} buf;
	/* Results. */
	int ret;
	uint64_t elapsed_ns;	/* how long the ioctl took */
	atomic_bool done;
};

static void *ioctl_thread_fn(void *p)
{
	struct ioctl_thread *t = p;
	uint64_t t0 = now_ns();

	t->ret = ioctl(t->fd, t->cmd, t->arg) ? -errno : 0;
	t->elapsed_ns = now_ns() - t0;
	atomic_store(&t->done, true);
	return NULL;
}

/* Start ioctl(@fd, @cmd, @arg) in @t; @arg NULL for @t's own buffer. */
#define ioctl_thread_start(t, _fd, _cmd, _arg)				\
	do {								\
		(t)->fd = (_fd);					\
		(t)->cmd = (_cmd);					\
		(t)->arg = (_arg) ? (void *)(_arg) : &(t)->buf;		\
		ASSERT_EQ(0, pthread_create(&(t)->thread, NULL,	\
					    ioctl_thread_fn, (t)));	\
		(t)->started = true;					\
	} while (0)

static bool finished(struct ioctl_thread *t)
{
	return atomic_load(&t->done);
}

/* Join @t if it ends within @ms: true if it did (or was never started). */
static bool join_within(struct ioctl_thread *t, unsigned int ms)
{
	struct timespec ts;

	if (!t->started)
		return true;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000l;
	if (ts.tv_nsec >= 1000000000l) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000l;
	}
	if (pthread_timedjoin_np(t->thread, NULL, &ts))
		return false;
	t->started = false;
	return true;
}

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

#define NR_THREADS	3

struct box {
	int dev_fd;
	struct raw_guest guest;
	struct kvm_run *run;
	size_t run_size;
	int fd;
	struct stall st;
	struct ioctl_thread th[NR_THREADS];
};

static void box_init(struct __test_metadata *_metadata, struct box *b)
{
	memset(b, 0, sizeof(*b));
	b->fd = -1;
	b->run = MAP_FAILED;
	b->guest.vm = (struct raw_vm) { -1, -1, -1 };
	b->guest.mem = MAP_FAILED;
	b->st.uffd = -1;
	b->st.page = MAP_FAILED;
	atomic_store(&gate_open, false);
	atomic_store(&in_handler, false);
	atomic_store(&usr2_handled, 0);
	b->dev_fd = open_or_skip(_metadata, "/dev/callbox");
	if (b->dev_fd < 0)
		return;
	stall_init(_metadata, &b->st);
}

/* The test's guest and its sandbox (a macro: SKIP and ASSERT return). */
#define box_open(b, code)						\
	do {								\
		raw_guest_create_ok(&(b)->guest, code, sizeof(code));	\
		(b)->run = raw_guest_map_run(&(b)->guest, &(b)->run_size); \
		ASSERT_NE(MAP_FAILED, (b)->run);			\
		(b)->fd = sandbox_create((b)->dev_fd,			\
					 (b)->guest.vm.vm_fd,		\
					 (b)->guest.vm.vcpu_fd);	\
	} while (0)

/*
 * Whatever the test left, and however it ended: open the handlers' gate,
 * let a stalled write land (first: SHUTDOWN would wait for it), shut the
 * sandbox down (which ends every call and wakes every waiter), and join
 * every thread, within a bound.
 */
static void box_close(struct __test_metadata *_metadata, struct box *b)
{
	bool joined;
	int i;

	atomic_store(&gate_open, true);
	stall_release(&b->st);
	if (b->fd >= 0)
		callbox_sandbox_shutdown_fd(b->fd);
	for (i = 0; i < NR_THREADS; i++) {
		/*
		 * No handler block on the EXPECT: after a failed ASSERT the
		 * harness leaves its trigger set, and the block would run.
		 */
		joined = join_within(&b->th[i], 10000);
		if (!joined)
			TH_LOG("thread %d still blocked after shutdown", i);
		EXPECT_TRUE(joined);
	}
	stall_destroy(&b->st);
	if (b->fd >= 0)
		close(b->fd);
	if (b->run != MAP_FAILED)
		munmap(b->run, b->run_size);
	raw_guest_destroy(&b->guest);
	if (b->dev_fd >= 0)
		close(b->dev_fd);
}

/*
 * This harness runs the test body even after FIXTURE_SETUP skipped (no
 * /dev/callbox, no userfaultfd): stop there.
 */
#define return_if_setup_skipped()					\
	do {								\
		if (_metadata->skip)					\
			return;						\
	} while (0)

FIXTURE(stall) {
	struct box b;
};

FIXTURE_SETUP(stall)
{
	box_init(_metadata, &self->b);
}

FIXTURE_TEARDOWN(stall)
{
	box_close(_metadata, &self->b);
}

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
static void consume_race(struct __test_metadata *_metadata, struct box *b,
			 bool wait_reply_fails)
{
	struct ioctl_thread *a = &b->th[0], *w = &b->th[1];
	struct callbox_call_wait *wcmd = b->st.page;
	struct callbox_call_info c;
	int handed_out;

	box_open(b, guest_spinner);
	handle_signal(SIGUSR1, on_park);

	/* A: a CALL_SYNC of call 1, parked by a signal in the guest. */
	a->buf.sync.size = sizeof(a->buf.sync);
	ioctl_thread_start(a, b->fd, CALLBOX_CALL_SYNC, NULL);
	ASSERT_TRUE(WAIT_FOR(call_state(b->fd, 1) == CALLBOX_STATE_ENTERED));
	usleep(10 * 1000);
	pthread_kill(a->thread, SIGUSR1);
	ASSERT_TRUE(WAIT_FOR(atomic_load(&in_handler)));

	/* The parked call ends: an outcome nobody has consumed yet. */
	ASSERT_EQ(0, callbox_call_cancel_fd(b->fd, 1));
	ASSERT_EQ(0, get(b->fd, 1, &c));
	ASSERT_EQ(CALLBOX_STATE_ABORTED, c.state);

	/* W: a WAIT that claims it, then stalls writing the outcome. */
	wcmd->size = sizeof(*wcmd);
	wcmd->id = 1;
	stall_arm(&b->st);
	ioctl_thread_start(w, b->fd, CALLBOX_CALL_WAIT, wcmd);
	ASSERT_TRUE(stall_wait(&b->st, 5000)) {
		TH_LOG("WAIT did not write its reply");
	}

	/* A's handler returns: its CALL_SYNC restarts for call 1. */
	atomic_store(&gate_open, true);
	usleep(500 * 1000);
	EXPECT_FALSE(finished(a)) {
		TH_LOG("CALL_SYNC returned (%s, state %u) while a WAIT held the claim on its call",
		       strerror(-a->ret), a->buf.sync.out.state);
	}
	EXPECT_FALSE(finished(w));

	ASSERT_EQ(0, wait_reply_fails ? stall_fail(&b->st) :
					 stall_release(&b->st));
	ASSERT_TRUE(join_within(w, 10000));
	ASSERT_TRUE(join_within(a, 10000)) {
		TH_LOG("CALL_SYNC still blocked after the WAIT returned");
	}

	if (wait_reply_fails) {
		/* W handed nothing out: the outcome is A's, and so is the call. */
		EXPECT_EQ(-EFAULT, w->ret);
		EXPECT_EQ(0, a->ret);
		EXPECT_EQ(1, a->buf.sync.out.id);
		EXPECT_EQ(CALLBOX_STATE_ABORTED, a->buf.sync.out.state);
		EXPECT_EQ(CALLBOX_ABORT_CANCELLED, a->buf.sync.out.reason);
	} else {
		/* W consumed it first: A is told so. */
		EXPECT_EQ(0, w->ret);
		EXPECT_EQ(1, wcmd->out.id);
		EXPECT_EQ(CALLBOX_STATE_ABORTED, wcmd->out.state);
		EXPECT_EQ(CALLBOX_ABORT_CANCELLED, wcmd->out.reason);
		EXPECT_EQ(-ESRCH, a->ret) {
			TH_LOG("CALL_SYNC got state %u of a call the WAIT consumed",
			       a->buf.sync.out.state);
		}
	}
	handed_out = (a->ret == 0) + (w->ret == 0);
	EXPECT_EQ(1, handed_out);

	/* Consumed: no GET, and no later WAIT, sees it again. */
	EXPECT_EQ(-ESRCH, get(b->fd, 1, &c)) {
		TH_LOG("call 1 is still there, state %u", c.state);
	}
	EXPECT_EQ(-ESRCH, callbox_call_wait_fd(b->fd, 1, now_ns() + 2000 * MS,
					       &c)) {
		TH_LOG("a later WAIT got call 1's outcome again");
	}
}

TEST_F_TIMEOUT(stall, sync_restart_gets_outcome_when_wait_reply_fails, 60)
{
	return_if_setup_skipped();
	consume_race(_metadata, &self->b, true);
}

TEST_F_TIMEOUT(stall, sync_restart_gets_esrch_when_wait_reply_lands, 60)
{
	return_if_setup_skipped();
	consume_race(_metadata, &self->b, false);
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
	struct ioctl_thread *a = &self->b.th[0], *bt = &self->b.th[1];
	volatile uint8_t *release;
	struct callbox_call_info c;
	int i;

	return_if_setup_skipped();
	box_open(&self->b, guest_released);
	release = (uint8_t *)self->b.guest.mem + GUEST_RELEASE;
	handle_signal(SIGUSR1, on_park);
	handle_signal(SIGUSR2, on_usr2);

	/* A: call 1, parked by a signal while the guest waits for release. */
	a->buf.sync.size = sizeof(a->buf.sync);
	ioctl_thread_start(a, self->b.fd, CALLBOX_CALL_SYNC, NULL);
	ASSERT_TRUE(WAIT_FOR(call_state(self->b.fd, 1) ==
			     CALLBOX_STATE_ENTERED));
	usleep(10 * 1000);
	pthread_kill(a->thread, SIGUSR1);
	ASSERT_TRUE(WAIT_FOR(atomic_load(&in_handler)));

	/* B: waits for the sandbox; signals must not end that wait. */
	bt->buf.sync.size = sizeof(bt->buf.sync);
	ioctl_thread_start(bt, self->b.fd, CALLBOX_CALL_SYNC, NULL);
	usleep(200 * 1000);
	ASSERT_FALSE(finished(bt)) {
		TH_LOG("CALL_SYNC did not wait behind a parked call: %s",
		       strerror(-bt->ret));
	}
	/* Signal B while it waits (a thread that returned is not signalled). */
	for (i = 0; i < 3 && !finished(bt); i++) {
		pthread_kill(bt->thread, SIGUSR2);
		WAIT_FOR(atomic_load(&usr2_handled) > i || finished(bt));
		usleep(50 * 1000);
	}
	usleep(200 * 1000);
	EXPECT_LE(1, atomic_load(&usr2_handled));
	EXPECT_FALSE(finished(bt)) {
		TH_LOG("CALL_SYNC waiting for the sandbox returned %s",
		       strerror(-bt->ret));
	}
	EXPECT_EQ(-ENOENT, get(self->b.fd, 2, &c));
	EXPECT_EQ(CALLBOX_STATE_ENTERED, call_state(self->b.fd, 1));

	/* A continues call 1 to its end. */
	*release = 1;
	atomic_store(&gate_open, true);
	ASSERT_TRUE(join_within(a, 10000));
	EXPECT_EQ(0, a->ret);
	EXPECT_EQ(1, a->buf.sync.out.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, a->buf.sync.out.state);
	EXPECT_EQ(1, a->buf.sync.out.status);

	/* Then B's wait is over: it makes call 2, which runs to its end. */
	if (!finished(bt)) {
		ASSERT_TRUE(WAIT_FOR(call_state(self->b.fd, 2) ==
				     CALLBOX_STATE_ENTERED));
	}
	*release = 1;
	ASSERT_TRUE(join_within(bt, 10000));
	EXPECT_EQ(0, bt->ret) {
		TH_LOG("the waiting CALL_SYNC: %s", strerror(-bt->ret));
	}
	EXPECT_EQ(2, bt->buf.sync.out.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, bt->buf.sync.out.state);
	EXPECT_EQ(2, bt->buf.sync.out.status);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN, bt->buf.sync.out.flags);
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
	struct ioctl_thread *t = &self->b.th[0], *r = &self->b.th[1];
	struct callbox_call_sync *cmd = self->b.st.page;
	struct callbox_call_info c;
	bool reset_returned;
	int ret;

	return_if_setup_skipped();
	box_open(&self->b, raw_guest_counter);

	cmd->size = sizeof(*cmd);
	stall_arm(&self->b.st);
	ioctl_thread_start(t, self->b.fd, CALLBOX_CALL_SYNC, cmd);
	ASSERT_TRUE(stall_wait(&self->b.st, 5000)) {
		TH_LOG("CALL_SYNC did not write its publication reply");
	}

	/* In a thread: a RESET that waits must not hang the test. */
	r->buf.reset.size = sizeof(r->buf.reset);
	ioctl_thread_start(r, self->b.fd, CALLBOX_SANDBOX_RESET, NULL);
	reset_returned = join_within(r, 2000);
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
	EXPECT_FALSE(finished(t));	/* still stalled */

	/* The CALL_SYNC goes on: its call runs and ends as usual. */
	ASSERT_EQ(0, stall_release(&self->b.st));
	ASSERT_TRUE(join_within(t, 10000));
	ASSERT_TRUE(join_within(r, 10000));
	EXPECT_EQ(0, t->ret);
	EXPECT_EQ(1, cmd->out.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, cmd->out.state);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN, cmd->out.flags);
	EXPECT_EQ(1, cmd->out.status);
	EXPECT_EQ(-ESRCH, get(self->b.fd, 1, &c));
	/* The RESET queued no init call, and the sandbox works on. */
	EXPECT_EQ(-ENOENT, get(self->b.fd, 2, &c)) {
		TH_LOG("call 2 exists: state %u flags %#x", c.state, c.flags);
	}
	ret = callbox_call_sync_fd(self->b.fd, 0, &c);
	ASSERT_EQ(0, ret) {
		TH_LOG("the next CALL_SYNC: %s", strerror(-ret));
	}
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(2, c.status);
}

/*
 * ==== The checks before entry hold at entry ====
 *
 * RUN "writes the call's id and state into @out before it enters the
 * guest", and CALL_SYNC publishes its call (writes the id back) before
 * it runs it; kvm_run.immediate_exit "is read before the guest is
 * entered", and "the vCPU must not have a signal mask ... now or when a
 * call enters it". So the checks belong after those writes, right before
 * KVM_RUN: whatever changes while a write is held up must still refuse
 * entry, with that errno, and nothing entered.
 *
 * RUN: the call stays QUEUED, without CALLBOX_CALL_GUEST_RAN, and runs
 * later as the guest's first call. CALL_SYNC: "the call is dropped
 * before it is published: @out.id names no call (ESRCH), and no later
 * call gets that id"; the sandbox is not poisoned, and the next CALL_SYNC
 * runs the guest's first call, as call 2. The counter guest tells: the
 * n-th call it runs reports n.
 */
enum entry_block {
	BY_IMMEDIATE_EXIT,
	BY_SIGNAL_MASK,
};

FIXTURE(entry_check) {
	struct box b;
};

FIXTURE_VARIANT(entry_check) {
	bool sync;
	enum entry_block how;
	int err;
};

FIXTURE_VARIANT_ADD(entry_check, run_immediate_exit) {
	.sync = false, .how = BY_IMMEDIATE_EXIT, .err = EINTR,
};

FIXTURE_VARIANT_ADD(entry_check, run_signal_mask) {
	.sync = false, .how = BY_SIGNAL_MASK, .err = EOPNOTSUPP,
};

FIXTURE_VARIANT_ADD(entry_check, sync_immediate_exit) {
	.sync = true, .how = BY_IMMEDIATE_EXIT, .err = EINTR,
};

FIXTURE_VARIANT_ADD(entry_check, sync_signal_mask) {
	.sync = true, .how = BY_SIGNAL_MASK, .err = EOPNOTSUPP,
};

FIXTURE_SETUP(entry_check)
{
	box_init(_metadata, &self->b);
}

FIXTURE_TEARDOWN(entry_check)
{
	box_close(_metadata, &self->b);
}

struct mask_setter {
	pthread_t thread;
	int vcpu_fd;
	int ret;
	atomic_bool done;
};

/* Gives the vCPU an (empty) signal mask. */
static void *mask_setter_fn(void *p)
{
	struct mask_setter *m = p;
	struct {
		struct kvm_signal_mask mask;
		uint64_t sigset;
	} arg = { .mask.len = sizeof(uint64_t) };

	m->ret = ioctl(m->vcpu_fd, KVM_SET_SIGNAL_MASK, &arg) ? -errno : 0;
	atomic_store(&m->done, true);
	return NULL;
}

TEST_F_TIMEOUT(entry_check, changed_during_the_stalled_write, 60)
{
	struct ioctl_thread *t = &self->b.th[0];
	struct callbox_call_sync *sync = self->b.st.page;
	struct callbox_call_run *run = self->b.st.page;
	struct mask_setter m = { 0 };
	struct callbox_call_info c;
	uint64_t id;
	int ret;

	return_if_setup_skipped();
	box_open(&self->b, raw_guest_counter);
	if (variant->sync) {
		sync->size = sizeof(*sync);
	} else {
		ASSERT_EQ(0, callbox_call_submit_fd(self->b.fd, 0, &id));
		ASSERT_EQ(1, id);
		run->size = sizeof(*run);
		run->id = id;
	}

	/* The ioctl passes every check, then stalls in its write. */
	stall_arm(&self->b.st);
	ioctl_thread_start(t, self->b.fd,
			   variant->sync ? CALLBOX_CALL_SYNC : CALLBOX_CALL_RUN,
			   self->b.st.page);
	ASSERT_TRUE(stall_wait(&self->b.st, 5000)) {
		TH_LOG("the ioctl did not write its struct");
	}

	switch (variant->how) {
	case BY_IMMEDIATE_EXIT:
		self->b.run->immediate_exit = 1;
		break;
	case BY_SIGNAL_MASK:
		/*
		 * In a thread, bounded: it takes vcpu->mutex, which the
		 * stalled ioctl must not hold (it has not entered KVM_RUN).
		 */
		m.vcpu_fd = self->b.guest.vm.vcpu_fd;
		ASSERT_EQ(0, pthread_create(&m.thread, NULL, mask_setter_fn,
					    &m));
		EXPECT_TRUE(WAIT_FOR(atomic_load(&m.done))) {
			TH_LOG("KVM_SET_SIGNAL_MASK blocked by the stalled ioctl");
		}
		if (!atomic_load(&m.done))
			stall_release(&self->b.st);	/* unblocks it */
		ASSERT_EQ(0, pthread_join(m.thread, NULL));
		ASSERT_EQ(0, m.ret);
		break;
	}

	/* The write lands; the ioctl must now refuse to enter. */
	ASSERT_EQ(0, stall_release(&self->b.st));
	ASSERT_TRUE(join_within(t, 10000)) {
		TH_LOG("the ioctl still runs");
	}
	EXPECT_EQ(-variant->err, t->ret) {
		c = variant->sync ? sync->out : run->out;
		TH_LOG("the ioctl returned %s, call %llu state %u flags %#x",
		       t->ret ? strerror(-t->ret) : "0",
		       (unsigned long long)c.id, c.state, c.flags);
	}
	if (variant->sync) {
		/* Its published id names a call that is gone, never run. */
		EXPECT_EQ(1, sync->out.id);
		EXPECT_EQ(-ESRCH, get(self->b.fd, 1, &c)) {
			TH_LOG("call 1: state %u flags %#x", c.state, c.flags);
		}
	} else {
		ASSERT_EQ(0, get(self->b.fd, 1, &c));
		EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
		EXPECT_EQ(0, c.flags) {
			TH_LOG("call 1: state %u flags %#x", c.state, c.flags);
		}
	}

	/* Once the condition is gone, the guest runs its first call. */
	self->b.run->immediate_exit = 0;
	ASSERT_EQ(0, ioctl(self->b.guest.vm.vcpu_fd, KVM_SET_SIGNAL_MASK,
			   NULL));
	if (variant->sync) {
		ret = callbox_call_sync_fd(self->b.fd, 0, &c);
		ASSERT_EQ(0, ret) {
			TH_LOG("the next CALL_SYNC: %s", strerror(-ret));
		}
		EXPECT_EQ(2, c.id);
	} else {
		ASSERT_EQ(0, callbox_call_run_fd(self->b.fd, 1, 0, &c));
		EXPECT_EQ(1, c.id);
	}
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN, c.flags);
	EXPECT_EQ(1, c.status);
	if (!variant->sync) {
		EXPECT_EQ(0, callbox_call_wait_fd(self->b.fd, 1,
						  now_ns() + 2000 * MS, &c));
	}
}

TEST_HARNESS_MAIN
