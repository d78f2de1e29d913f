// SPDX-License-Identifier: GPL-2.0
/*
 * The restart matrix of the call contract: every way a call is entered or
 * continued (CALL_SYNC, or SUBMIT and RUN; at once, or after a host call)
 * crossed with every way it can be interrupted while the guest runs (a
 * signal, task work, a vCPU signal mask, its owner thread exiting,
 * kvm_run.immediate_exit), the interrupted ioctl issued raw or, in the
 * thin_ cells, through libcallbox's thin layer (callbox_call_sync_fd(),
 * callbox_call_run_fd()). Each cell checks that the outcome carries the
 * call's own id and state, that the guest ran the call exactly once, and
 * that the next call gets its own outcome, never the old one.
 *
 * The guest, guest_util.h's guest_held, takes an optional host call,
 * then spins until the test releases it, so every interruption lands
 * while it runs.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>

#include "callbox_util.h"
#include "interrupt_util.h"
#include "task_work_ring.h"

enum entry { BY_SYNC, BY_SUBMIT };

/* ---- the thread that makes the call, and the handler that hits it ---- */

struct worker {
	pthread_t thread;
	int fd, vcpu_fd;
	struct kvm_run *run;
	struct ring ring;
	enum entry entry;
	bool after_hostcall;
	enum interruption how;
	bool thin;			/* through callbox_call_*_fd() */
	uint64_t submitted_id;		/* BY_SUBMIT: the call to run */
	atomic_int phase;		/* see enum worker_phase */
	atomic_bool go;			/* continue after the host call */
	/* Results, read after the join. */
	int hostcall_ret;
	struct callbox_call_info hostcall_out;
	int refused;			/* -errno of a refused restart, or 0 */
	struct callbox_call_info refused_out;
	int ret;
	struct callbox_call_info out;
	atomic_bool returned;		/* the last ioctl returned */
};

enum worker_phase {
	STARTED = 1,
	IN_HOSTCALL,	/* got HOSTCALL, waits for go */
	RUNNING,	/* issuing the ioctl that will be interrupted */
	REISSUING,	/* the restart was refused; issuing it again */
};

/*
 * The ioctl the interruption hits: raw, or through the library's thin
 * layer, which takes @out in and out so that the same @out continues a
 * call an interruption parked. Returns 0 or -errno.
 */
static int issue(struct worker *w, unsigned long request, void *cmd,
		 uint64_t id, struct callbox_call_info *out)
{
	if (!w->thin)
		return ioctl(w->fd, request, cmd) ? -errno : 0;
	if (request == CALLBOX_CALL_SYNC)
		return callbox_call_sync_fd(w->fd, 0, out);
	return callbox_call_run_fd(w->fd, id, 0, out);
}

static void *worker_fn(void *p)
{
	struct worker *w = p;
	union {
		struct callbox_call_sync sync;
		struct callbox_call_run run;
	} cmd;
	struct callbox_call_info *out;
	unsigned long request;
	uint64_t id = w->submitted_id;
	int ret;

	atomic_store(&w->phase, STARTED);
	if (w->after_hostcall) {
		memset(&cmd, 0, sizeof(cmd));
		if (w->entry == BY_SYNC) {
			cmd.sync.size = sizeof(cmd.sync);
			ret = ioctl(w->fd, CALLBOX_CALL_SYNC, &cmd.sync);
			w->hostcall_out = cmd.sync.out;
		} else {
			cmd.run.size = sizeof(cmd.run);
			cmd.run.id = id;
			ret = ioctl(w->fd, CALLBOX_CALL_RUN, &cmd.run);
			w->hostcall_out = cmd.run.out;
		}
		w->hostcall_ret = ret ? -errno : 0;
		if (ret || w->hostcall_out.state != CALLBOX_STATE_HOSTCALL)
			return NULL;
		id = w->hostcall_out.id;
		atomic_store(&w->phase, IN_HOSTCALL);
		while (!atomic_load(&w->go))
			usleep(1000);
	}

	/* The ioctl the interruption hits: zeroed, so it is not a restart. */
	memset(&cmd, 0, sizeof(cmd));
	if (w->entry == BY_SYNC && !w->after_hostcall) {
		cmd.sync.size = sizeof(cmd.sync);
		request = CALLBOX_CALL_SYNC;
		out = &cmd.sync.out;
	} else {
		cmd.run.size = sizeof(cmd.run);
		cmd.run.id = id;
		request = CALLBOX_CALL_RUN;
		out = &cmd.run.out;
	}
	if (w->how == BY_TASK_WORK && ring_submit_timeout(&w->ring, 20)) {
		w->ret = -errno;
		return NULL;
	}
	atomic_store(&w->phase, RUNNING);
	ret = issue(w, request, &cmd, id, out);
	if (ret == -EOPNOTSUPP || ret == -EINTR) {
		/*
		 * The restart was refused and the call stays parked, named by
		 * @out: clear what stopped it, and issue the same struct again.
		 */
		w->refused = ret;
		w->refused_out = *out;
		if (w->how == BY_SIGNAL_MASK)
			ioctl(w->vcpu_fd, KVM_SET_SIGNAL_MASK, NULL);
		w->run->immediate_exit = 0;
		atomic_store(&w->phase, REISSUING);
		ret = issue(w, request, &cmd, id, out);
	}
	w->ret = ret;
	w->out = *out;
	atomic_store(&w->returned, true);
	return NULL;
}

/* ---- the matrix ---- */

FIXTURE(restart) {
	struct box b;
	volatile uint8_t *hostcall_first, *release;
	volatile uint16_t *done_count;
	struct worker w;
};

FIXTURE_VARIANT(restart) {
	enum entry entry;
	bool after_hostcall;
	enum interruption how;
	bool thin;
};

#define CELL(name, e, h, i)						\
	FIXTURE_VARIANT_ADD(restart, name) {				\
		.entry = e, .after_hostcall = h, .how = i,		\
	}
/* The same, the interrupted ioctl issued through the thin layer. */
#define THIN_CELL(name, e, h, i)					\
	FIXTURE_VARIANT_ADD(restart, name) {				\
		.entry = e, .after_hostcall = h, .how = i, .thin = true, \
	}

CELL(sync_signal, BY_SYNC, false, BY_SIGNAL);
CELL(sync_task_work, BY_SYNC, false, BY_TASK_WORK);
CELL(sync_signal_mask, BY_SYNC, false, BY_SIGNAL_MASK);
CELL(sync_owner_exit, BY_SYNC, false, BY_OWNER_EXIT);
CELL(sync_immediate_exit, BY_SYNC, false, BY_IMMEDIATE_EXIT);
CELL(sync_hostcall_signal, BY_SYNC, true, BY_SIGNAL);
CELL(sync_hostcall_task_work, BY_SYNC, true, BY_TASK_WORK);
CELL(sync_hostcall_signal_mask, BY_SYNC, true, BY_SIGNAL_MASK);
CELL(sync_hostcall_owner_exit, BY_SYNC, true, BY_OWNER_EXIT);
CELL(sync_hostcall_immediate_exit, BY_SYNC, true, BY_IMMEDIATE_EXIT);
CELL(submit_signal, BY_SUBMIT, false, BY_SIGNAL);
CELL(submit_task_work, BY_SUBMIT, false, BY_TASK_WORK);
CELL(submit_signal_mask, BY_SUBMIT, false, BY_SIGNAL_MASK);
CELL(submit_owner_exit, BY_SUBMIT, false, BY_OWNER_EXIT);
CELL(submit_immediate_exit, BY_SUBMIT, false, BY_IMMEDIATE_EXIT);
CELL(submit_hostcall_signal, BY_SUBMIT, true, BY_SIGNAL);
CELL(submit_hostcall_task_work, BY_SUBMIT, true, BY_TASK_WORK);
CELL(submit_hostcall_signal_mask, BY_SUBMIT, true, BY_SIGNAL_MASK);
CELL(submit_hostcall_owner_exit, BY_SUBMIT, true, BY_OWNER_EXIT);
CELL(submit_hostcall_immediate_exit, BY_SUBMIT, true, BY_IMMEDIATE_EXIT);
THIN_CELL(thin_sync_signal, BY_SYNC, false, BY_SIGNAL);
THIN_CELL(thin_sync_signal_mask, BY_SYNC, false, BY_SIGNAL_MASK);
THIN_CELL(thin_sync_immediate_exit, BY_SYNC, false, BY_IMMEDIATE_EXIT);
THIN_CELL(thin_sync_hostcall_signal_mask, BY_SYNC, true, BY_SIGNAL_MASK);
THIN_CELL(thin_sync_hostcall_immediate_exit, BY_SYNC, true,
	  BY_IMMEDIATE_EXIT);
THIN_CELL(thin_submit_signal, BY_SUBMIT, false, BY_SIGNAL);
THIN_CELL(thin_submit_signal_mask, BY_SUBMIT, false, BY_SIGNAL_MASK);
THIN_CELL(thin_submit_immediate_exit, BY_SUBMIT, false, BY_IMMEDIATE_EXIT);
THIN_CELL(thin_submit_hostcall_signal_mask, BY_SUBMIT, true, BY_SIGNAL_MASK);
THIN_CELL(thin_submit_hostcall_immediate_exit, BY_SUBMIT, true,
	  BY_IMMEDIATE_EXIT);

FIXTURE_SETUP(restart)
{
	uint8_t *mem;

	self->w.ring.fd = -1;
	box_open(_metadata, &self->b, guest_held, sizeof(guest_held), true);
	mem = self->b.guest.mem;
	self->hostcall_first = mem + HELD_HOSTCALL_FIRST;
	self->release = mem + HELD_RELEASE;
	self->done_count = (volatile uint16_t *)(mem + HELD_DONE_COUNT);
	if (variant->how == BY_TASK_WORK)
		ASSERT_EQ(0, ring_setup(&self->w.ring));
}

FIXTURE_TEARDOWN(restart)
{
	ring_destroy(&self->w.ring);
	box_close(&self->b);
}

TEST_F_TIMEOUT(restart, each_way_in_and_each_interruption, 120)
{
	struct sigaction sa = { .sa_handler = on_interrupt_signal };
	struct worker *w = &self->w;
	struct callbox_call_info c;
	uint64_t id = 1, next;
	int i;

	/* No SA_RESTART: the kernel must restart the ioctl by itself. */
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	*self->hostcall_first = variant->after_hostcall;
	*self->release = 0;
	w->fd = self->b.fd;
	w->vcpu_fd = self->b.guest.vm.vcpu_fd;
	w->run = self->b.run;
	w->entry = variant->entry;
	w->after_hostcall = variant->after_hostcall;
	w->how = variant->how;
	w->thin = variant->thin;
	interrupt_how = variant->how;
	interrupt_run = w->run;
	if (variant->entry == BY_SUBMIT) {
		call_submit(self->b.fd, 0, &w->submitted_id);
		ASSERT_EQ(id, w->submitted_id);
	}
	ASSERT_EQ(0, pthread_create(&w->thread, NULL, worker_fn, w));

	if (variant->after_hostcall) {
		ASSERT_TRUE(WAIT_FOR(atomic_load(&w->phase) == IN_HOSTCALL));
		EXPECT_EQ(0, w->hostcall_ret);
		EXPECT_EQ(id, w->hostcall_out.id);
		EXPECT_EQ(HELD_HOSTCALL_STATUS, w->hostcall_out.status);
		EXPECT_EQ(CALLBOX_STATE_HOSTCALL, call_state(self->b.fd, id));
		atomic_store(&w->go, true);
	}
	/*
	 * In the guest, which spins until released. ENTERED is set just
	 * before KVM_RUN: wait for the guest to be seen spinning, so that
	 * what interrupts it finds guest code running (GUEST_RAN). (A fixed
	 * 20 ms was not enough on the debug kernel.)
	 */
	ASSERT_TRUE(WAIT_FOR(atomic_load(&w->phase) == RUNNING &&
			     call_state(self->b.fd, id) ==
			     CALLBOX_STATE_ENTERED));
	ASSERT_TRUE(held_wait_spinning(self->b.guest.mem));

	switch (variant->how) {
	case BY_SIGNAL:
		/* Several, each one a restart that continues the call. */
		for (i = 0; i < 5; i++) {
			ASSERT_FALSE(atomic_load(&w->returned)) {
				TH_LOG("the interrupted ioctl returned: %s",
				       strerror(-w->ret));
			}
			pthread_kill(w->thread, SIGUSR1);
			ASSERT_TRUE(WAIT_FOR(atomic_load(&signals_handled) >
					     i));
			usleep(1000);
		}
		break;
	case BY_TASK_WORK:
		/* The completion is posted by the task work it queued. */
		ASSERT_TRUE(WAIT_FOR(ring_completed(&w->ring)));
		EXPECT_EQ(0, atomic_load(&signals_handled));
		break;
	case BY_SIGNAL_MASK:
		ASSERT_TRUE(interrupt_by_signal_mask(w->thread, &w->vcpu_fd));
		ASSERT_TRUE(WAIT_FOR(atomic_load(&w->phase) == REISSUING));
		break;
	case BY_IMMEDIATE_EXIT:
		pthread_kill(w->thread, SIGUSR1);
		ASSERT_TRUE(WAIT_FOR(atomic_load(&w->phase) == REISSUING));
		break;
	case BY_OWNER_EXIT:
		pthread_kill(w->thread, SIGUSR1);
		ASSERT_EQ(0, pthread_join(w->thread, NULL));
		/* Parked, with nobody left to continue it: it has ended. */
		call_get(self->b.fd, id, &c);
		EXPECT_EQ(id, c.id);
		EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
		EXPECT_EQ(CALLBOX_ABORT_OWNER_EXITED, c.reason);
		EXPECT_EQ(CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_POISONED,
			  c.flags);
		EXPECT_EQ(0, c.status);
		call_wait(self->b.fd, id, 0, &c);
		EXPECT_EQ(CALLBOX_ABORT_OWNER_EXITED, c.reason);
		/* It stopped mid-guest: nothing runs until a reset. */
		call_sync_err(ENOTRECOVERABLE, self->b.fd, 0, &c);
		EXPECT_EQ(0, *self->done_count);
		ASSERT_EQ(0, raw_guest_reset(&self->b.guest, self->b.run,
					     self->b.fd));
		/* The next call gets its own outcome: id 3 after the init. */
		*self->hostcall_first = 0;
		*self->release = 1;
		call_sync(self->b.fd, 0, &c);
		EXPECT_EQ(id + 2, c.id);
		EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
		EXPECT_EQ(1, c.status);
		return;
	case BY_CANCEL:
	case BY_DEADLINE:
	case BY_SHUTDOWN:
		/* batch_test crosses these; lifecycle_test the rest. */
		ASSERT_TRUE(false);
	}

	/* Still in the guest, in the same call, until released. */
	usleep(2000);
	ASSERT_FALSE(atomic_load(&w->returned)) {
		TH_LOG("the interrupted ioctl returned: %s", strerror(-w->ret));
	}
	EXPECT_EQ(CALLBOX_STATE_ENTERED, call_state(self->b.fd, id));
	*self->release = 1;
	ASSERT_EQ(0, pthread_join(w->thread, NULL));
	EXPECT_EQ(0, w->ret) {
		TH_LOG("the interrupted call's ioctl: %s", strerror(-w->ret));
	}
	EXPECT_EQ(id, w->out.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, w->out.state);
	EXPECT_EQ(1, w->out.status);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN, w->out.flags);
	EXPECT_EQ(1, *self->done_count);	/* it ran once, to its end */

	switch (variant->how) {
	case BY_SIGNAL_MASK:
		EXPECT_EQ(-EOPNOTSUPP, w->refused);
		break;
	case BY_IMMEDIATE_EXIT:
		EXPECT_EQ(-EINTR, w->refused);
		break;
	default:
		EXPECT_EQ(0, w->refused);
		break;
	}
	if (w->refused) {
		/* Refused, the restart left @out naming the parked call. */
		EXPECT_EQ(id, w->refused_out.id);
		EXPECT_EQ(CALLBOX_STATE_ENTERED, w->refused_out.state);
	}

	/* CALL_SYNC consumed its call; anything else is consumed by WAIT. */
	if (variant->entry == BY_SYNC && !variant->after_hostcall) {
		call_get_err(ESRCH, self->b.fd, id, &c);
	} else {
		call_wait(self->b.fd, id, 0, &c);
		EXPECT_EQ(id, c.id);
		EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
		EXPECT_EQ(1, c.status);
	}

	/* The next call is a new call, with its own id and result. */
	*self->hostcall_first = 0;
	*self->release = 1;
	call_sync(self->b.fd, 0, &c);
	next = c.id;
	EXPECT_EQ(id + 1, next);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(2, c.status);
	EXPECT_EQ(2, *self->done_count);
}

/*
 * An @out that only looks like a restart (state ENTERED and some id)
 * cannot pick up a call that was not interrupted in that ioctl: not an
 * ended call that a runner left for its submitter's WAIT, not a parked
 * call through the other command or from another thread. The thread that
 * was interrupted does collect its call's outcome when the call ended
 * before the restart.
 */
struct forger {
	int fd;
	struct kvm_run *run;
	uint64_t id;
	struct callbox_call_run cmd;	/* the interrupted RUN's struct */
	int interrupted, as_sync, collected;
	struct callbox_call_info collected_out;
	atomic_bool parked, cancelled;
};

static struct forger *the_forger;

static void on_forger_signal(int sig)
{
	(void)sig;
	the_forger->run->immediate_exit = 1;
}

static void *forger_fn(void *p)
{
	struct forger *f = p;
	struct callbox_call_sync sync = { .size = sizeof(sync) };

	/* Interrupted, then refused at the restart: parked, named by cmd. */
	f->cmd = (struct callbox_call_run) { .size = sizeof(f->cmd),
					     .id = f->id };
	f->interrupted = ioctl(f->fd, CALLBOX_CALL_RUN, &f->cmd) ? -errno : 0;
	f->run->immediate_exit = 0;
	atomic_store(&f->parked, true);
	while (!atomic_load(&f->cancelled))
		usleep(1000);
	/* The same @out through the other command: not its call. */
	sync.out = f->cmd.out;
	f->as_sync = ioctl(f->fd, CALLBOX_CALL_SYNC, &sync) ? -errno : 0;
	/* The interrupted RUN again: the call ended, here is how. */
	f->collected = ioctl(f->fd, CALLBOX_CALL_RUN, &f->cmd) ? -errno : 0;
	f->collected_out = f->cmd.out;
	return NULL;
}

FIXTURE(forged) {
	struct box b;
	volatile uint8_t *release;
};

FIXTURE_SETUP(forged)
{
	box_open(_metadata, &self->b, guest_held, sizeof(guest_held), true);
	self->release = (uint8_t *)self->b.guest.mem + HELD_RELEASE;
}

FIXTURE_TEARDOWN(forged)
{
	box_close(&self->b);
}

TEST_F_TIMEOUT(forged, restart_is_refused, 60)
{
	struct sigaction sa = { .sa_handler = on_forger_signal };
	struct callbox_call_sync sync = { .size = sizeof(sync) };
	struct callbox_call_run run = { .size = sizeof(run) };
	struct forger f = { .fd = self->b.fd, .run = self->b.run };
	struct callbox_call_info c;
	uint64_t done_id;
	pthread_t t;

	/* A call a runner ran to its end, left for its submitter's WAIT. */
	*self->release = 1;
	call_submit(self->b.fd, 0, &done_id);
	call_run(self->b.fd, done_id, 0, &c);
	ASSERT_EQ(CALLBOX_STATE_EXITED, c.state);
	sync.out = (struct callbox_call_info) {
		.id = done_id, .state = CALLBOX_STATE_ENTERED,
	};
	EXPECT_EQ(-1, ioctl(self->b.fd, CALLBOX_CALL_SYNC, &sync));
	EXPECT_EQ(EBUSY, errno);
	run.out = sync.out;
	EXPECT_EQ(-1, ioctl(self->b.fd, CALLBOX_CALL_RUN, &run));
	EXPECT_EQ(EBUSY, errno);
	call_wait(self->b.fd, done_id, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);

	/* A call interrupted in RUN on another thread, then cancelled. */
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	the_forger = &f;
	call_submit(self->b.fd, 0, &f.id);
	ASSERT_EQ(0, pthread_create(&t, NULL, forger_fn, &f));
	ASSERT_TRUE(wait_for_state(self->b.fd, f.id, CALLBOX_STATE_ENTERED));
	pthread_kill(t, SIGUSR1);
	ASSERT_TRUE(WAIT_FOR(atomic_load(&f.parked)));
	EXPECT_EQ(-EINTR, f.interrupted);
	EXPECT_EQ(f.id, f.cmd.out.id);
	EXPECT_EQ(CALLBOX_STATE_ENTERED, f.cmd.out.state);

	/* Its @out, copied by this thread: not this thread's call. */
	run.out = f.cmd.out;
	EXPECT_EQ(-1, ioctl(self->b.fd, CALLBOX_CALL_RUN, &run));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(0, _call_cancel(self->b.fd, f.id));
	atomic_store(&f.cancelled, true);
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(-EBUSY, f.as_sync);
	EXPECT_EQ(0, f.collected);
	EXPECT_EQ(f.id, f.collected_out.id);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, f.collected_out.state);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, f.collected_out.reason);
	/* RUN does not consume: the submitter still gets it. */
	call_wait(self->b.fd, f.id, 0, &c);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, c.reason);
}

TEST_HARNESS_MAIN
