// SPDX-License-Identifier: GPL-2.0
/*
 * What callbox shows of a sandbox and its calls, in every state a call can
 * be in and after every way it can end: /proc/<pid>/fdinfo of the sandbox
 * fd, the module-wide counters in sysfs (as deltas from a baseline: the
 * suites run one at a time), and debugfs <id>/calls and <id>/recent. Each
 * must say exactly what CALLBOX_CALL_GET says of the call (id, state,
 * reason, flags), and all of it must go away with the sandbox: after
 * close, after the owner process is killed, with no object left behind.
 */
#include <dirent.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "inspect_util.h"
#include "stall.h"

#define S_Q	CALLBOX_STATE_QUEUED
#define S_E	CALLBOX_STATE_ENTERED
#define S_H	CALLBOX_STATE_HOSTCALL
#define S_X	CALLBOX_STATE_EXITED
#define S_A	CALLBOX_STATE_ABORTED
#define F_RAN	CALLBOX_CALL_GUEST_RAN
#define F_POIS	CALLBOX_CALL_POISONED
#define F_INIT	CALLBOX_CALL_INIT

static bool is_live(uint32_t state)
{
	return state == S_Q || state == S_E || state == S_H;
}

/* A sandbox of the scripted guest, its id and a baseline taken before it. */
struct ibox {
	struct cb_counters base;
	struct cb_objects obj_base;
	struct box b;
	uint64_t id;
};

static void ibox_open(struct __test_metadata *_metadata, struct ibox *ib)
{
	box_init(&ib->b);
	if (!path_exists("/dev/callbox"))
		SKIP(return, "/dev/callbox is missing");
	if (debugfs_ready())
		SKIP(return, "no debugfs");
	counters_read_ok(&ib->base);
	objects_read_ok(&ib->obj_base);
	box_open(_metadata, &ib->b, guest_script, sizeof(guest_script), true);
	return_if_setup_skipped();
	ib->id = sandbox_id_of(ib->b.fd);
	ASSERT_NE(0, ib->id);
	ASSERT_TRUE(sandbox_dir_exists(ib->id));
}

/* Close the sandbox fd now (box_close() leaves it then). */
static void ibox_close_fd(struct ibox *ib)
{
	if (ib->b.fd >= 0)
		close(ib->b.fd);
	ib->b.fd = -1;
}

/* Gone: no debugfs dir, and no sandbox or call object left. */
static void expect_gone(struct __test_metadata *_metadata,
			const struct ibox *ib)
{
	struct cb_objects o;

	EXPECT_FALSE(sandbox_dir_exists(ib->id));
	objects_read_ok(&o);
	EXPECT_EQ(ib->obj_base.sandboxes, o.sandboxes);
	EXPECT_EQ(ib->obj_base.calls, o.calls);
}

/*
 * ==== A call in each state, and after each way of ending ====
 */
enum how {
	LIVE_QUEUED,		/* SUBMIT (with a deadline), no runner */
	LIVE_ENTERED,		/* a thread runs a spinning guest */
	LIVE_HOSTCALL,		/* CALL_SYNC returned in HOSTCALL */
	LIVE_PARKED,		/* ENTERED, its thread in a signal handler */
	END_EXITED,		/* SUBMIT, RUN: DONE */
	END_MANY,		/* five host calls, then DONE */
	END_CANCEL_QUEUED,
	END_CANCEL_ENTERED,
	END_CANCEL_HOSTCALL,	/* cancel, then RUN continues it */
	END_DEADLINE_QUEUED,
	END_DEADLINE_ENTERED,
	END_GUEST_FAULT,	/* the guest's own exit ends it (cmd) */
	END_SHUTDOWN_QUEUED,
	END_SHUTDOWN_HOSTCALL,
	END_SHUTDOWN_ENTERED,
	END_OWNER_EXITED,	/* HOSTCALL, and the owner thread exits */
};

#define MANY_HOSTCALLS	5

/* What the vCPU is made to do before the call (END_GUEST_FAULT). */
enum prep {
	PREP_NONE,
	PREP_SINGLESTEP,	/* KVM_SET_GUEST_DEBUG: KVM_EXIT_DEBUG */
	PREP_BAD_SYNC_REGS,	/* kvm_run.kvm_valid_regs: KVM_RUN fails */
};

FIXTURE(surface) {
	struct ibox ib;
	struct tid_runner r;
};

FIXTURE_VARIANT(surface) {
	enum how how;
	enum script_cmd cmd;
	enum prep prep;
	/* what GET says then */
	uint32_t state, reason, flags, status;
	uint64_t detail;
	/* fdinfo's sandbox state */
	const char *sb_state;
	/* the states the call went through (debugfs recent) */
	uint32_t states[16];
	unsigned int nr_states;
	uint64_t kicks;
};

FIXTURE_VARIANT_ADD(surface, queued) {
	.how = LIVE_QUEUED, .state = S_Q, .sb_state = "idle",
};

FIXTURE_VARIANT_ADD(surface, entered) {
	.how = LIVE_ENTERED, .cmd = SCRIPT_SPIN, .state = S_E,
	.sb_state = "running",
};

FIXTURE_VARIANT_ADD(surface, hostcall) {
	.how = LIVE_HOSTCALL, .cmd = SCRIPT_HOSTCALL, .state = S_H,
	.flags = F_RAN, .status = SCRIPT_HOSTCALL_VALUE,
	.sb_state = "running",
};

/* Interrupted: guest code ran, no thread is in KVM_RUN for it. */
FIXTURE_VARIANT_ADD(surface, parked) {
	.how = LIVE_PARKED, .cmd = SCRIPT_SPIN, .state = S_E, .flags = F_RAN,
	.sb_state = "running",
};

FIXTURE_VARIANT_ADD(surface, exited) {
	.how = END_EXITED, .cmd = SCRIPT_DONE, .state = S_X, .flags = F_RAN,
	.status = SCRIPT_STATUS, .sb_state = "idle",
	.states = { S_Q, S_E, S_X }, .nr_states = 3,
};

/* More states than debugfs keeps: the first seven and the last. */
FIXTURE_VARIANT_ADD(surface, exited_after_host_calls) {
	.how = END_MANY, .cmd = SCRIPT_MULTI, .state = S_X, .flags = F_RAN,
	.status = SCRIPT_STATUS, .sb_state = "idle",
	.states = { S_Q, S_E, S_H, S_E, S_H, S_E, S_H, S_E, S_H, S_E, S_H,
		    S_E, S_X },
	.nr_states = 3 + 2 * MANY_HOSTCALLS,
};

FIXTURE_VARIANT_ADD(surface, cancelled_queued) {
	.how = END_CANCEL_QUEUED, .state = S_A,
	.reason = CALLBOX_ABORT_CANCELLED, .sb_state = "idle",
	.states = { S_Q, S_A }, .nr_states = 2,
};

FIXTURE_VARIANT_ADD(surface, cancelled_entered) {
	.how = END_CANCEL_ENTERED, .cmd = SCRIPT_SPIN, .state = S_A,
	.reason = CALLBOX_ABORT_CANCELLED, .flags = F_RAN | F_POIS,
	.sb_state = "poisoned", .states = { S_Q, S_E, S_A }, .nr_states = 3,
	.kicks = 1,
};

FIXTURE_VARIANT_ADD(surface, cancelled_hostcall) {
	.how = END_CANCEL_HOSTCALL, .cmd = SCRIPT_HOSTCALL, .state = S_A,
	.reason = CALLBOX_ABORT_CANCELLED, .flags = F_RAN | F_POIS,
	.sb_state = "poisoned", .states = { S_Q, S_E, S_H, S_A },
	.nr_states = 4,
};

FIXTURE_VARIANT_ADD(surface, deadline_queued) {
	.how = END_DEADLINE_QUEUED, .state = S_A,
	.reason = CALLBOX_ABORT_DEADLINE, .sb_state = "idle",
	.states = { S_Q, S_A }, .nr_states = 2,
};

FIXTURE_VARIANT_ADD(surface, deadline_entered) {
	.how = END_DEADLINE_ENTERED, .cmd = SCRIPT_SPIN, .state = S_A,
	.reason = CALLBOX_ABORT_DEADLINE, .flags = F_RAN | F_POIS,
	.sb_state = "poisoned", .states = { S_Q, S_E, S_A }, .nr_states = 3,
	.kicks = 1,
};

FIXTURE_VARIANT_ADD(surface, guest_abort) {
	.how = END_GUEST_FAULT, .cmd = SCRIPT_ABORT, .state = S_A,
	.reason = CALLBOX_ABORT_GUEST_ABORT, .flags = F_RAN | F_POIS,
	.detail = SCRIPT_ABORT_CODE, .sb_state = "poisoned",
	.states = { S_Q, S_E, S_A }, .nr_states = 3,
};

FIXTURE_VARIANT_ADD(surface, halt) {
	.how = END_GUEST_FAULT, .cmd = SCRIPT_HALT, .state = S_A,
	.reason = CALLBOX_ABORT_HALT, .flags = F_RAN | F_POIS,
	.sb_state = "poisoned", .states = { S_Q, S_E, S_A }, .nr_states = 3,
};

FIXTURE_VARIANT_ADD(surface, bad_port) {
	.how = END_GUEST_FAULT, .cmd = SCRIPT_BAD_PORT, .state = S_A,
	.reason = CALLBOX_ABORT_BAD_PORT, .flags = F_RAN | F_POIS,
	/* A 4-byte OUT to the port. */
	.detail = SCRIPT_BAD_PORT_NR | 4ull << CALLBOX_BAD_PORT_SIZE_SHIFT,
	.sb_state = "poisoned",
	.states = { S_Q, S_E, S_A }, .nr_states = 3,
};

FIXTURE_VARIANT_ADD(surface, mmio) {
	.how = END_GUEST_FAULT, .cmd = SCRIPT_MMIO, .state = S_A,
	.reason = CALLBOX_ABORT_MMIO, .flags = F_RAN | F_POIS,
	.detail = SCRIPT_MMIO_ADDR, .sb_state = "poisoned",
	.states = { S_Q, S_E, S_A }, .nr_states = 3,
};

/* A triple fault: KVM_EXIT_SHUTDOWN. */
FIXTURE_VARIANT_ADD(surface, triple_fault) {
	.how = END_GUEST_FAULT, .cmd = SCRIPT_TRIPLE_FAULT, .state = S_A,
	.reason = CALLBOX_ABORT_SHUTDOWN, .flags = F_RAN | F_POIS,
	.sb_state = "poisoned", .states = { S_Q, S_E, S_A }, .nr_states = 3,
};

/* Code fetched where there is no memory: KVM cannot emulate it. */
FIXTURE_VARIANT_ADD(surface, no_code) {
	.how = END_GUEST_FAULT, .cmd = SCRIPT_NO_CODE, .state = S_A,
	.reason = CALLBOX_ABORT_INTERNAL_ERROR, .flags = F_RAN | F_POIS,
	.detail = KVM_INTERNAL_ERROR_EMULATION, .sb_state = "poisoned",
	.states = { S_Q, S_E, S_A }, .nr_states = 3,
};

/* KVM_EXIT_DEBUG after one instruction: not an exit of the ABI. */
FIXTURE_VARIANT_ADD(surface, unexpected_exit) {
	.how = END_GUEST_FAULT, .cmd = SCRIPT_DONE, .prep = PREP_SINGLESTEP,
	.state = S_A, .reason = CALLBOX_ABORT_UNEXPECTED_EXIT,
	.flags = F_RAN | F_POIS, .detail = KVM_EXIT_DEBUG,
	.sb_state = "poisoned", .states = { S_Q, S_E, S_A }, .nr_states = 3,
};

/* KVM_RUN fails before the guest: it never ran, nothing is poisoned. */
FIXTURE_VARIANT_ADD(surface, run_failed) {
	.how = END_GUEST_FAULT, .cmd = SCRIPT_DONE, .prep = PREP_BAD_SYNC_REGS,
	.state = S_A, .reason = CALLBOX_ABORT_RUN_FAILED,
	.detail = (uint64_t)-EINVAL, .sb_state = "idle",
	.states = { S_Q, S_E, S_A }, .nr_states = 3,
};

FIXTURE_VARIANT_ADD(surface, shutdown_queued) {
	.how = END_SHUTDOWN_QUEUED, .state = S_A,
	.reason = CALLBOX_ABORT_SANDBOX_CLOSED, .sb_state = "shutdown",
	.states = { S_Q, S_A }, .nr_states = 2,
};

FIXTURE_VARIANT_ADD(surface, shutdown_hostcall) {
	.how = END_SHUTDOWN_HOSTCALL, .cmd = SCRIPT_HOSTCALL, .state = S_A,
	.reason = CALLBOX_ABORT_SANDBOX_CLOSED, .flags = F_RAN | F_POIS,
	.sb_state = "shutdown", .states = { S_Q, S_E, S_H, S_A },
	.nr_states = 4,
};

FIXTURE_VARIANT_ADD(surface, shutdown_entered) {
	.how = END_SHUTDOWN_ENTERED, .cmd = SCRIPT_SPIN, .state = S_A,
	.reason = CALLBOX_ABORT_SANDBOX_CLOSED, .flags = F_RAN | F_POIS,
	.sb_state = "shutdown", .states = { S_Q, S_E, S_A }, .nr_states = 3,
	.kicks = 1,
};

FIXTURE_VARIANT_ADD(surface, owner_thread_exited) {
	.how = END_OWNER_EXITED, .cmd = SCRIPT_HOSTCALL, .state = S_A,
	.reason = CALLBOX_ABORT_OWNER_EXITED, .flags = F_RAN | F_POIS,
	.sb_state = "poisoned", .states = { S_Q, S_E, S_H, S_A },
	.nr_states = 4,
};

/*
 * LIVE_PARKED: the runner's handler of SIGUSR1 waits until the test lets
 * it return; the interrupted ioctl then restarts by itself.
 */
static atomic_bool park_in_handler, park_release;

static void park_handler(int sig)
{
	(void)sig;
	atomic_store(&park_in_handler, true);
	while (!atomic_load(&park_release))
		usleep(1000);
}

FIXTURE_SETUP(surface)
{
	memset(&self->r, 0, sizeof(self->r));
	atomic_store(&park_in_handler, false);
	atomic_store(&park_release, false);
	ibox_open(_metadata, &self->ib);
}

FIXTURE_TEARDOWN(surface)
{
	if (self->r.started) {
		if (self->ib.b.fd >= 0)
			_call_cancel(self->ib.b.fd, 1);
		atomic_store(&park_release, true);
		tid_runner_join(&self->r, 10000);
	}
	box_close(&self->ib.b);
}

/* The deadline of the LIVE_QUEUED call, from its submission. */
#define LIVE_DEADLINE	(60000 * MS)

/*
 * Bring call 1 where the variant says; t0 is before its submission, and
 * *deadline its deadline (0 for none).
 */
static void drive(struct __test_metadata *_metadata,
		  FIXTURE_DATA(surface) *self,
		  const FIXTURE_VARIANT(surface) *variant, uint64_t *deadline)
{
	struct box *b = &self->ib.b;
	struct callbox_call_info c;
	uint64_t id = 0;
	int i;

	script_set(b->guest.mem, variant->cmd);
	((volatile uint8_t *)b->guest.mem)[SCRIPT_NR_HOSTCALLS] =
		MANY_HOSTCALLS;
	*deadline = 0;
	if (variant->prep == PREP_SINGLESTEP) {
		struct kvm_guest_debug dbg = {
			.control = KVM_GUESTDBG_ENABLE |
				   KVM_GUESTDBG_SINGLESTEP,
		};

		ASSERT_EQ(0, ioctl(b->guest.vm.vcpu_fd, KVM_SET_GUEST_DEBUG,
				   &dbg));
	} else if (variant->prep == PREP_BAD_SYNC_REGS) {
		b->run->kvm_valid_regs = 1u << 31;
	}

	switch (variant->how) {
	case LIVE_QUEUED:
		*deadline = now_ns() + LIVE_DEADLINE;
		call_submit(b->fd, *deadline, &id);
		break;
	case LIVE_ENTERED:
	case LIVE_PARKED:
	case END_CANCEL_ENTERED:
	case END_DEADLINE_ENTERED:
	case END_SHUTDOWN_ENTERED:
		if (variant->how == LIVE_PARKED) {
			struct sigaction sa = { .sa_handler = park_handler };

			ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
		}
		if (variant->how == END_DEADLINE_ENTERED)
			*deadline = now_ns() + 1500 * MS;
		call_submit(b->fd, *deadline, &id);
		self->r.fd = b->fd;
		self->r.id = id;
		tid_runner_start(&self->r);
		ASSERT_TRUE(WAIT_FOR(script_spinning(b->guest.mem)));
		if (*deadline) {
			ASSERT_GT(*deadline, now_ns()) {
				TH_LOG("the guest started after its deadline");
			}
		}
		if (variant->how == LIVE_ENTERED)
			break;
		if (variant->how == LIVE_PARKED) {
			ASSERT_EQ(0, pthread_kill(self->r.thread, SIGUSR1));
			ASSERT_TRUE(WAIT_FOR(atomic_load(&park_in_handler)));
			break;
		}
		if (variant->how == END_CANCEL_ENTERED)
			call_cancel(b->fd, id);
		if (variant->how == END_SHUTDOWN_ENTERED)
			sandbox_shutdown(b->fd);
		ASSERT_TRUE(tid_runner_join(&self->r, 10000));
		EXPECT_EQ(0, self->r.ret);
		EXPECT_EQ(S_A, self->r.c.state);
		break;
	case LIVE_HOSTCALL:
	case END_CANCEL_HOSTCALL:
	case END_SHUTDOWN_HOSTCALL:
		call_sync(b->fd, 0, &c);
		ASSERT_EQ(S_H, c.state);
		id = c.id;
		if (variant->how == END_CANCEL_HOSTCALL) {
			call_cancel(b->fd, id);
			call_run(b->fd, id, 0, &c);
			ASSERT_EQ(S_A, c.state);
		} else if (variant->how == END_SHUTDOWN_HOSTCALL) {
			sandbox_shutdown(b->fd);
		}
		break;
	case END_MANY:
		call_sync(b->fd, 0, &c);
		id = c.id;
		for (i = MANY_HOSTCALLS; i > 0; i--) {
			ASSERT_EQ(S_H, c.state);
			ASSERT_EQ((uint32_t)i, c.status);
			call_run(b->fd, id, 0, &c);
		}
		ASSERT_EQ(S_X, c.state);
		break;
	case END_EXITED:
	case END_GUEST_FAULT:
		call_submit(b->fd, 0, &id);
		call_run(b->fd, id, 0, &c);
		break;
	case END_CANCEL_QUEUED:
		call_submit(b->fd, 0, &id);
		call_cancel(b->fd, id);
		break;
	case END_DEADLINE_QUEUED:
		*deadline = now_ns() + 100 * MS;
		call_submit(b->fd, *deadline, &id);
		ASSERT_TRUE(wait_for_state(b->fd, id, S_A));
		break;
	case END_SHUTDOWN_QUEUED:
		call_submit(b->fd, 0, &id);
		sandbox_shutdown(b->fd);
		break;
	case END_OWNER_EXITED:
		self->r.fd = b->fd;
		self->r.sync = true;
		tid_runner_start(&self->r);
		ASSERT_TRUE(tid_runner_join(&self->r, 10000));
		ASSERT_EQ(0, self->r.ret);
		ASSERT_EQ(S_H, self->r.c.state);
		id = self->r.c.id;
		break;
	}
	ASSERT_EQ(1, id);
}

/* The counters the variant's call accounts for, alive or ended. */
static void call_deltas(const FIXTURE_VARIANT(surface) *variant,
			struct cb_counters *d)
{
	memset(d, 0, sizeof(*d));
	d->sandboxes = 1;
	d->total = 1;
	d->queued = variant->state == S_Q;
	d->entered = variant->state == S_E;
	d->hostcall = variant->state == S_H;
	d->exited = variant->state == S_X;
	if (variant->state == S_A)
		d->aborted[variant->reason] = 1;
	d->kicks = variant->kicks;
}

TEST_F_TIMEOUT(surface, shows_the_call, 60)
{
	struct ibox *ib = &self->ib;
	int fd = ib->b.fd;
	struct callbox_call_info c, w;
	struct cb_counters now, d;
	struct cb_fdinfo fi;
	struct dbg_call rows[4];
	struct dbg_recent rec[4], rec2[4];
	uint64_t t0, t1, t2, deadline;
	bool live = is_live(variant->state);
	int n;

	return_if_setup_skipped();
	t0 = now_ns();
	drive(_metadata, self, variant, &deadline);
	if (_metadata->skip)
		return;

	/* What GET says, exactly. */
	call_get(fd, 1, &c);
	EXPECT_EQ(1, c.id);
	EXPECT_EQ(variant->state, c.state);
	EXPECT_EQ(variant->reason, c.reason);
	EXPECT_EQ(variant->flags, c.flags);
	EXPECT_EQ(variant->status, c.status);
	EXPECT_EQ(variant->detail, c.detail);

	/* fdinfo: the same call, and the sandbox's counts. */
	t1 = now_ns();
	fdinfo_read_ok(0, fd, &fi);
	EXPECT_EQ(ib->id, fi.sandbox_id);
	EXPECT_STREQ(variant->sb_state, fi.state);
	EXPECT_EQ(live ? 1 : 0, fi.call_id);
	EXPECT_STREQ(live ? state_name(c.state) : "NONE", fi.call_state);
	EXPECT_EQ(1, fi.calls);
	EXPECT_EQ(c.state == S_X, fi.exited);
	EXPECT_EQ(c.state == S_A, fi.aborted);
	EXPECT_EQ(1, fi.unconsumed);

	/* sysfs: this call, and nothing else, since the baseline. */
	counters_read_ok(&now);
	call_deltas(variant, &d);
	expect_counters(&ib->base, &now, &d);

	/* debugfs calls: one row, GET's call. */
	n = dbg_calls_read(ib->id, rows, 4);
	t2 = now_ns();
	ASSERT_EQ(1, n);
	expect_row_is_call(&rows[0], &c);
	EXPECT_GE(t2 - t0, rows[0].age_ns);
	if (variant->how == LIVE_ENTERED) {
		EXPECT_EQ(atomic_load(&self->r.tid), rows[0].runner_tid);
	} else {
		EXPECT_EQ(0, rows[0].runner_tid);
	}
	if (live && deadline) {
		EXPECT_GE((int64_t)(deadline - t1), rows[0].deadline_left_ns);
		EXPECT_LE((int64_t)(deadline - t2), rows[0].deadline_left_ns);
	} else {
		EXPECT_EQ(-1, rows[0].deadline_left_ns);
	}

	/* debugfs recent: the call once it has ended, with every state. */
	n = dbg_recent_read(ib->id, rec, 4);
	ASSERT_EQ(live ? 0 : 1, n);
	if (!live) {
		ASSERT_LT(0, rec[0].n);
		expect_recent_is_call(&rec[0], &c);
		expect_recent_states(&rec[0], variant->states,
				     variant->nr_states, t2 - t0);
		/* An ended call's age is its life: ended, it ages no more. */
		EXPECT_EQ(rec[0].tr[rec[0].n - 1].ns, rows[0].age_ns);

		/* Consumed, it leaves calls, and stays in recent. */
		call_wait(fd, 1, 0, &w);
		EXPECT_EQ(c.state, w.state);
		EXPECT_EQ(c.reason, w.reason);
		EXPECT_EQ(c.flags, w.flags);
		call_get_err(ESRCH, fd, 1, &w);
		EXPECT_EQ(0, dbg_calls_read(ib->id, rows, 4));
		ASSERT_EQ(1, dbg_recent_read(ib->id, rec2, 4));
		EXPECT_EQ(0, memcmp(&rec[0], &rec2[0], sizeof(rec[0])));
		fdinfo_read_ok(0, fd, &fi);
		EXPECT_EQ(0, fi.unconsumed);
		EXPECT_EQ(1, fi.calls);
		EXPECT_EQ(0, fi.call_id);
		counters_read_ok(&now);
		expect_counters(&ib->base, &now, &d);
	}

	/*
	 * Close: a live call ends (a running one is cancelled first: its
	 * thread's ioctl holds the file), and everything goes.
	 */
	if (variant->how == LIVE_ENTERED || variant->how == LIVE_PARKED) {
		/* A parked call is aborted at once: no kick. */
		call_cancel(fd, 1);
		atomic_store(&park_release, true);
		ASSERT_TRUE(tid_runner_join(&self->r, 10000));
		EXPECT_EQ(0, self->r.ret);
		EXPECT_EQ(S_A, self->r.c.state);
		EXPECT_EQ(CALLBOX_ABORT_CANCELLED, self->r.c.reason);
		d.entered = 0;
		d.aborted[CALLBOX_ABORT_CANCELLED] = 1;
		d.kicks = variant->how == LIVE_ENTERED;
	} else if (live) {
		d.aborted[CALLBOX_ABORT_SANDBOX_CLOSED] = 1;
	}
	d.queued = d.hostcall = 0;
	d.sandboxes = 0;
	ibox_close_fd(ib);
	counters_read_ok(&now);
	expect_counters(&ib->base, &now, &d);
	expect_conserved(&now);
	expect_gone(_metadata, ib);
}

/*
 * ==== A new sandbox, the limits, the transition table ====
 */
FIXTURE(fresh) {
	struct ibox ib;
};

FIXTURE_SETUP(fresh)
{
	ibox_open(_metadata, &self->ib);
}

FIXTURE_TEARDOWN(fresh)
{
	box_close(&self->ib.b);
}

TEST_F(fresh, nothing_yet)
{
	struct cb_counters now, d = { .sandboxes = 1 };
	struct cb_fdinfo fi;
	struct dbg_call rows[1];
	struct dbg_recent rec[1];

	return_if_setup_skipped();
	fdinfo_read_ok(0, self->ib.b.fd, &fi);
	EXPECT_EQ(self->ib.id, fi.sandbox_id);
	EXPECT_STREQ("idle", fi.state);
	EXPECT_EQ(0, fi.call_id);
	EXPECT_STREQ("NONE", fi.call_state);
	EXPECT_EQ(0, fi.calls);
	EXPECT_EQ(0, fi.exited);
	EXPECT_EQ(0, fi.aborted);
	EXPECT_EQ(0, fi.unconsumed);
	EXPECT_EQ(0, dbg_calls_read(self->ib.id, rows, 1));
	EXPECT_EQ(0, dbg_recent_read(self->ib.id, rec, 1));
	counters_read_ok(&now);
	expect_counters(&self->ib.base, &now, &d);
}

/* The names in sysfs directory @dir, sorted, joined by spaces. */
static int list_dir(const char *dir, char *buf, size_t len)
{
	struct dirent **names;
	size_t n = 0;
	int nr, i;

	nr = scandir(dir, &names, NULL, alphasort);
	if (nr < 0)
		return -errno;
	buf[0] = 0;
	for (i = 0; i < nr; i++) {
		if (names[i]->d_name[0] != '.')
			n += snprintf(buf + n, n < len ? len - n : 0, "%s%s",
				      n ? " " : "", names[i]->d_name);
		free(names[i]);
	}
	free(names);
	return n < len ? 0 : -E2BIG;
}

/*
 * Exactly the files Documentation/ABI/testing/sysfs-class-misc-callbox
 * lists, each read-only for everyone; debugfs's for root only.
 */
TEST(file_layout)
{
	static const struct {
		const char *dir, *names;
	} dirs[] = {
		{ "calls", "entered exited hostcall queued total" },
		{ "aborted", "bad_port cancelled deadline entry_failed "
			     "guest_abort halt internal_error killed mmio "
			     "owner_exited run_failed sandbox_closed shutdown "
			     "unexpected_exit" },
		{ "kicks", "missed total" },
		{ "limits", "max_calls max_struct_size recent_calls" },
	};
	char path[256], buf[1024], *name, *save;
	struct stat st;
	size_t i;

	if (!path_exists(CALLBOX_SYSFS))
		SKIP(return, "callbox.ko is not loaded");
	ASSERT_EQ(0, stat(CALLBOX_SYSFS "/sandboxes", &st));
	EXPECT_EQ(0444, st.st_mode & 07777);
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), CALLBOX_SYSFS "/%s", dirs[i].dir);
		ASSERT_OK(path, list_dir(path, buf, sizeof(buf)));
		EXPECT_STREQ(dirs[i].names, buf);
		for (name = strtok_r(buf, " ", &save); name;
		     name = strtok_r(NULL, " ", &save)) {
			snprintf(path, sizeof(path), CALLBOX_SYSFS "/%s/%s",
				 dirs[i].dir, name);
			ASSERT_EQ(0, stat(path, &st));
			EXPECT_EQ(0444, st.st_mode & 07777) {
				TH_LOG("%s", path);
			}
		}
	}
	if (debugfs_ready())
		return;
	ASSERT_OK(CALLBOX_DEBUGFS, list_dir(CALLBOX_DEBUGFS, buf, sizeof(buf)));
	/* No sandbox lives between tests. */
	EXPECT_STREQ("objects transitions", buf);
	ASSERT_EQ(0, stat(CALLBOX_DEBUGFS "/objects", &st));
	EXPECT_EQ(0400, st.st_mode & 07777);
	ASSERT_EQ(0, stat(CALLBOX_DEBUGFS "/transitions", &st));
	EXPECT_EQ(0400, st.st_mode & 07777);
}

TEST(limits)
{
	uint64_t v;

	if (!path_exists(CALLBOX_SYSFS))
		SKIP(return, "callbox.ko is not loaded");
	ASSERT_OK("limits/max_calls",
		  read_u64(CALLBOX_SYSFS "/limits/max_calls", &v));
	EXPECT_EQ(CALLBOX_MAX_CALLS, v);
	ASSERT_OK("limits/max_struct_size",
		  read_u64(CALLBOX_SYSFS "/limits/max_struct_size", &v));
	EXPECT_EQ(4096, v);	/* "@size above 4096 is always E2BIG" */
	ASSERT_OK("limits/recent_calls",
		  read_u64(CALLBOX_SYSFS "/limits/recent_calls", &v));
	EXPECT_EQ(16, v);	/* CALLBOX_NL_RECENT_CALLS */
}

/* Exactly the state diagram of the uapi header. */
TEST(transition_table)
{
	char buf[1024];

	if (debugfs_ready())
		SKIP(return, "no debugfs, or callbox.ko is not loaded");
	ASSERT_LT(0, read_text(CALLBOX_DEBUGFS "/transitions", buf,
			       sizeof(buf)));
	EXPECT_STREQ("QUEUED   -> ENTERED ABORTED\n"
		     "ENTERED  -> HOSTCALL EXITED ABORTED\n"
		     "HOSTCALL -> ENTERED ABORTED\n"
		     "EXITED   ->\n"
		     "ABORTED  ->\n", buf);
}

/*
 * ==== recent keeps the last 16 calls that ended ====
 */
#define RING_CALLS	20
#define RING_SIZE	16

TEST_F_TIMEOUT(fresh, recent_ring, 60)
{
	static const uint32_t states[] = { S_Q, S_E, S_X };
	struct callbox_call_info c;
	struct dbg_recent rec[RING_SIZE + 1];
	struct cb_counters now, d = { .sandboxes = 1 };
	struct cb_fdinfo fi;
	uint64_t t0 = now_ns();
	int i, n;

	return_if_setup_skipped();
	script_set(self->ib.b.guest.mem, SCRIPT_DONE);
	for (i = 1; i <= RING_CALLS; i++) {
		call_sync(self->ib.b.fd, 0, &c);
		ASSERT_EQ(S_X, c.state);
		ASSERT_EQ((uint64_t)i, c.id);
	}
	n = dbg_recent_read(self->ib.id, rec, RING_SIZE + 1);
	ASSERT_EQ(RING_SIZE, n);
	for (i = 0; i < n; i++) {
		c.id = RING_CALLS - RING_SIZE + 1 + i;
		expect_recent_is_call(&rec[i], &c);
		expect_recent_states(&rec[i], states, 3, now_ns() - t0);
	}
	fdinfo_read_ok(0, self->ib.b.fd, &fi);
	EXPECT_EQ(RING_CALLS, fi.calls);
	EXPECT_EQ(RING_CALLS, fi.exited);
	EXPECT_EQ(0, fi.aborted);
	EXPECT_EQ(0, fi.unconsumed);
	counters_read_ok(&now);
	d.total = d.exited = RING_CALLS;
	expect_counters(&self->ib.base, &now, &d);
}

/*
 * ==== A reset's init call ====
 *
 * A guest abort poisons the sandbox; RESET queues init call 2 (flag
 * "init"), ahead of everything, and lifts the poison; it then exits.
 */
TEST_F_TIMEOUT(fresh, init_call, 60)
{
	static const uint32_t cancelled_states[] = { S_Q, S_A };
	struct box *b = &self->ib.b;
	struct callbox_call_info c1, c2, c3;
	struct dbg_call rows[4];
	struct dbg_recent rec[4];
	struct cb_fdinfo fi;
	struct cb_counters now, d = { .sandboxes = 1 };
	uint64_t init_id;

	return_if_setup_skipped();
	script_set(b->guest.mem, SCRIPT_ABORT);
	call_sync(b->fd, 0, &c1);	/* consumed: id 1 */
	ASSERT_EQ(S_A, c1.state);
	script_set(b->guest.mem, SCRIPT_DONE);
	ASSERT_EQ(0, raw_guest_rewind(&b->guest, b->run, b->fd, &init_id));
	ASSERT_EQ(2, init_id);

	call_get(b->fd, 2, &c2);
	EXPECT_EQ(S_Q, c2.state);
	EXPECT_EQ(F_INIT, c2.flags);
	fdinfo_read_ok(0, b->fd, &fi);
	EXPECT_STREQ("idle", fi.state);
	EXPECT_EQ(2, fi.call_id);
	EXPECT_STREQ("QUEUED", fi.call_state);
	EXPECT_EQ(2, fi.calls);
	EXPECT_EQ(1, fi.aborted);
	EXPECT_EQ(1, fi.unconsumed);
	ASSERT_EQ(1, dbg_calls_read(self->ib.id, rows, 4));
	expect_row_is_call(&rows[0], &c2);
	EXPECT_STREQ("init", rows[0].flags);
	counters_read_ok(&now);
	d.total = 2;
	d.queued = 1;
	d.aborted[CALLBOX_ABORT_GUEST_ABORT] = 1;
	expect_counters(&self->ib.base, &now, &d);

	call_run(b->fd, 2, 0, &c2);
	EXPECT_EQ(S_X, c2.state);
	EXPECT_EQ(F_INIT | F_RAN, c2.flags);
	ASSERT_EQ(2, dbg_recent_read(self->ib.id, rec, 4));
	expect_recent_is_call(&rec[0], &c1);
	expect_recent_is_call(&rec[1], &c2);
	EXPECT_STREQ("guest_ran,init", rec[1].flags);
	fdinfo_read_ok(0, b->fd, &fi);
	EXPECT_STREQ("idle", fi.state);
	EXPECT_EQ(1, fi.exited);
	counters_read_ok(&now);
	d.queued = 0;
	d.exited = 1;
	expect_counters(&self->ib.base, &now, &d);

	/*
	 * An init call that does not exit, even cancelled before it ran,
	 * poisons the sandbox again: flags "poisoned,init", no guest_ran.
	 */
	ASSERT_EQ(0, raw_guest_rewind(&b->guest, b->run, b->fd, &init_id));
	ASSERT_EQ(3, init_id);
	call_cancel(b->fd, 3);
	call_get(b->fd, 3, &c3);
	EXPECT_EQ(S_A, c3.state);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, c3.reason);
	EXPECT_EQ(F_INIT | F_POIS, c3.flags);
	ASSERT_EQ(3, dbg_recent_read(self->ib.id, rec, 4));
	expect_recent_is_call(&rec[2], &c3);
	EXPECT_STREQ("poisoned,init", rec[2].flags);
	expect_recent_states(&rec[2], cancelled_states, 2, UINT64_MAX);
	fdinfo_read_ok(0, b->fd, &fi);
	EXPECT_STREQ("poisoned", fi.state);
	EXPECT_EQ(3, fi.calls);
	EXPECT_EQ(2, fi.aborted);
	counters_read_ok(&now);
	d.total = 3;
	d.aborted[CALLBOX_ABORT_CANCELLED] = 1;
	expect_counters(&self->ib.base, &now, &d);
}

/*
 * ==== A full sandbox: 64 init calls and 64 calls, all unconsumed ====
 *
 * Init calls have CALLBOX_MAX_CALLS places of their own: debugfs shows
 * all 128, in order.
 */
TEST_F_TIMEOUT(fresh, full_sandbox, 120)
{
	struct box *b = &self->ib.b;
	struct callbox_call_info c;
	struct dbg_call rows[2 * CALLBOX_MAX_CALLS + 1];
	struct dbg_recent rec[RING_SIZE + 1];
	struct cb_counters now, d = { .sandboxes = 1 };
	struct cb_fdinfo fi;
	uint64_t id;
	int i, n;

	return_if_setup_skipped();
	script_set(b->guest.mem, SCRIPT_DONE);
	for (i = 1; i <= CALLBOX_MAX_CALLS; i++) {
		ASSERT_EQ(0, raw_guest_rewind(&b->guest, b->run, b->fd, &id));
		ASSERT_EQ((uint64_t)i, id);
		call_run(b->fd, id, 0, &c);
		ASSERT_EQ(S_X, c.state);
	}
	EXPECT_EQ(-EAGAIN, raw_guest_rewind(&b->guest, b->run, b->fd, &id));
	for (i = 1; i <= CALLBOX_MAX_CALLS; i++) {
		call_submit(b->fd, 0, &id);
		ASSERT_EQ((uint64_t)(CALLBOX_MAX_CALLS + i), id);
	}
	call_submit_err(EAGAIN, b->fd, 0, &id);

	n = dbg_calls_read(self->ib.id, rows, 2 * CALLBOX_MAX_CALLS + 1);
	ASSERT_EQ(2 * CALLBOX_MAX_CALLS, n);
	for (i = 0; i < n; i++) {
		bool init = i < CALLBOX_MAX_CALLS;

		EXPECT_EQ((uint64_t)i + 1, rows[i].id);
		EXPECT_STREQ(init ? "EXITED" : "QUEUED", rows[i].state);
		EXPECT_STREQ(init ? "guest_ran,init" : "-", rows[i].flags);
	}
	n = dbg_recent_read(self->ib.id, rec, RING_SIZE + 1);
	ASSERT_EQ(RING_SIZE, n);
	for (i = 0; i < n; i++)
		EXPECT_EQ((uint64_t)(CALLBOX_MAX_CALLS - RING_SIZE + 1 + i),
			  rec[i].id);
	fdinfo_read_ok(0, b->fd, &fi);
	EXPECT_STREQ("idle", fi.state);
	EXPECT_EQ(CALLBOX_MAX_CALLS + 1, fi.call_id);
	EXPECT_STREQ("QUEUED", fi.call_state);
	EXPECT_EQ(2 * CALLBOX_MAX_CALLS, fi.calls);
	EXPECT_EQ(CALLBOX_MAX_CALLS, fi.exited);
	EXPECT_EQ(2 * CALLBOX_MAX_CALLS, fi.unconsumed);
	counters_read_ok(&now);
	d.total = 2 * CALLBOX_MAX_CALLS;
	d.exited = CALLBOX_MAX_CALLS;
	d.queued = CALLBOX_MAX_CALLS;
	expect_counters(&self->ib.base, &now, &d);

	ibox_close_fd(&self->ib);
	counters_read_ok(&now);
	d.sandboxes = 0;
	d.queued = 0;
	d.aborted[CALLBOX_ABORT_SANDBOX_CLOSED] = CALLBOX_MAX_CALLS;
	expect_counters(&self->ib.base, &now, &d);
	expect_gone(_metadata, &self->ib);
}

/*
 * A call dropped before it was published: CALL_SYNC wrote its id back
 * (the write stalled meanwhile), then found kvm_run.immediate_exit set
 * and failed with EINTR. It was never seen: no count, no object, no row;
 * its id is used up (ESRCH), and the next call, id 2, is the first one
 * counted.
 */
TEST_F_TIMEOUT(fresh, dropped_call_leaves_nothing, 60)
{
	struct box *b = &self->ib.b;
	struct callbox_call_sync *cmd;
	struct callbox_call_info c;
	struct cb_counters now, d = { .sandboxes = 1 };
	struct cb_objects o;
	struct cb_fdinfo fi;
	struct dbg_call rows[2];
	struct dbg_recent rec[2];
	struct stall st;

	return_if_setup_skipped();
	stall_open(_metadata, &st);
	return_if_setup_skipped();
	cmd = st.page;
	*cmd = (struct callbox_call_sync) { .size = sizeof(*cmd) };
	script_set(b->guest.mem, SCRIPT_DONE);
	stall_arm(&st);
	stall_ioctl(&st, b->fd, CALLBOX_CALL_SYNC);
	ASSERT_TRUE(stall_wait(&st, 5000));
	b->run->immediate_exit = 1;
	stall_release(&st);
	ASSERT_TRUE(stall_ioctl_join(&st, 5000));
	b->run->immediate_exit = 0;
	EXPECT_EQ(-EINTR, st.ret);
	EXPECT_EQ(1, cmd->out.id);

	call_get_err(ESRCH, b->fd, 1, &c);
	fdinfo_read_ok(0, b->fd, &fi);
	EXPECT_EQ(0, fi.calls);
	EXPECT_EQ(0, fi.unconsumed);
	EXPECT_EQ(0, fi.call_id);
	EXPECT_EQ(0, dbg_calls_read(self->ib.id, rows, 2));
	EXPECT_EQ(0, dbg_recent_read(self->ib.id, rec, 2));
	counters_read_ok(&now);
	expect_counters(&self->ib.base, &now, &d);
	objects_read_ok(&o);
	EXPECT_EQ(self->ib.obj_base.calls, o.calls);

	call_sync(b->fd, 0, &c);
	EXPECT_EQ(2, c.id);
	EXPECT_EQ(S_X, c.state);
	fdinfo_read_ok(0, b->fd, &fi);
	EXPECT_EQ(1, fi.calls);
	EXPECT_EQ(1, fi.exited);
	ASSERT_EQ(1, dbg_recent_read(self->ib.id, rec, 2));
	expect_recent_is_call(&rec[0], &c);
	d.total = d.exited = 1;
	counters_read_ok(&now);
	expect_counters(&self->ib.base, &now, &d);
	stall_close(_metadata, &st, -1);
}

/*
 * A call left in HOSTCALL by a thread that then exits ends OWNER_EXITED
 * even if no one looks at the sandbox: the module-wide counters, which
 * look at no sandbox, see it within about 100 ms (the reap work).
 */
TEST_F_TIMEOUT(fresh, reaped_without_looking, 60)
{
	struct tid_runner r = { .fd = self->ib.b.fd, .sync = true };
	struct cb_counters now, d = { .sandboxes = 1, .total = 1 };
	uint64_t t0;

	return_if_setup_skipped();
	script_set(self->ib.b.guest.mem, SCRIPT_HOSTCALL);
	tid_runner_start(&r);
	ASSERT_TRUE(tid_runner_join(&r, 10000));
	ASSERT_EQ(0, r.ret);
	ASSERT_EQ(S_H, r.c.state);
	t0 = now_ns();
	ASSERT_TRUE(WAIT_FOR(!counters_read(&now) &&
			     now.hostcall == self->ib.base.hostcall));
	TH_LOG("counted as ended %llu ms after the owner was joined",
	       (unsigned long long)(now_ns() - t0) / MS);
	EXPECT_GT(1000 * MS, now_ns() - t0);
	d.aborted[CALLBOX_ABORT_OWNER_EXITED] = 1;
	expect_counters(&self->ib.base, &now, &d);
}

/*
 * ==== The owner process is killed ====
 *
 * A child process makes the sandbox and its call (it must: the vCPU runs
 * only in the address space that made it), and sends the sandbox fd here
 * (SCM_RIGHTS). Then it is killed: while its call runs in the guest
 * (ABORTED, KILLED), or while the call waits in HOSTCALL (its owner is
 * gone: OWNER_EXITED). If this process keeps the fd, the sandbox lives
 * on and shows that; if not, it goes with the child.
 */
FIXTURE(killed) {
	struct cb_counters base;
	struct cb_objects obj_base;
	pid_t pid;
	int sock;
	int fd;		/* the sandbox, here; -1 once closed */
	int child_fd;	/* its number in the child */
	uint64_t id;
};

FIXTURE_VARIANT(killed) {
	bool hostcall;
	bool keep;
};

FIXTURE_VARIANT_ADD(killed, running) { .hostcall = false, .keep = false };
FIXTURE_VARIANT_ADD(killed, running_fd_kept) { .hostcall = false, .keep = true };
FIXTURE_VARIANT_ADD(killed, hostcall) { .hostcall = true, .keep = false };
FIXTURE_VARIANT_ADD(killed, hostcall_fd_kept) { .hostcall = true, .keep = true };

struct child_msg {
	int fd;
	int err;
};

static void *child_watch(void *p)
{
	void **a = p;
	int sock = (int)(intptr_t)a[1];

	while (!script_spinning(a[0]))
		usleep(1000);
	if (write(sock, "R", 1) != 1)
		_exit(20);
	return NULL;
}

/* The child: its own guest and sandbox; never returns. */
static void child_main(int sock, bool hostcall)
{
	struct child_msg msg = { .fd = -1 };
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { &msg, sizeof(msg) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	struct callbox_call_info c;
	struct raw_guest g;
	pthread_t t;
	void *args[2];
	uint64_t id;
	int dev;

	msg.err = raw_guest_create(&g, guest_script, sizeof(guest_script));
	dev = open("/dev/callbox", O_RDWR | O_CLOEXEC);
	if (!msg.err && dev < 0)
		msg.err = -errno;
	if (!msg.err) {
		msg.fd = _sandbox_create(dev, g.vm.vm_fd, g.vm.vcpu_fd);
		if (msg.fd < 0)
			msg.err = msg.fd;
	}
	if (msg.err) {
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
		sendmsg(sock, &mh, 0);
		_exit(10);
	}
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &msg.fd, sizeof(int));
	if (sendmsg(sock, &mh, 0) != sizeof(msg))
		_exit(11);

	script_set(g.mem, hostcall ? SCRIPT_HOSTCALL : SCRIPT_SPIN);
	if (hostcall) {
		if (_call_sync(msg.fd, 0, &c) || c.state != S_H)
			_exit(12);
		if (write(sock, "R", 1) != 1)
			_exit(13);
		for (;;)
			pause();
	}
	args[0] = g.mem;
	args[1] = (void *)(intptr_t)sock;
	if (pthread_create(&t, NULL, child_watch, args))
		_exit(14);
	/* RUN, which does not consume the call (CALL_SYNC would). */
	if (_call_submit(msg.fd, 0, &id))
		_exit(15);
	_call_run(msg.fd, id, 0, &c);	/* spins until killed */
	_exit(16);
}

FIXTURE_SETUP(killed)
{
	struct child_msg msg;
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &msg, sizeof(msg) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	int sv[2];

	self->pid = -1;
	self->sock = -1;
	self->fd = -1;
	if (!path_exists("/dev/callbox") || !path_exists("/dev/kvm"))
		SKIP(return, "/dev/callbox or /dev/kvm is missing");
	if (debugfs_ready())
		SKIP(return, "no debugfs");
	counters_read_ok(&self->base);
	objects_read_ok(&self->obj_base);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	self->pid = fork();
	ASSERT_LE(0, self->pid);
	if (!self->pid) {
		close(sv[0]);
		child_main(sv[1], variant->hostcall);
	}
	close(sv[1]);
	self->sock = sv[0];
	ASSERT_EQ(sizeof(msg), recvmsg(self->sock, &mh, 0));
	ASSERT_EQ(0, msg.err) {
		TH_LOG("the child's sandbox: %s", strerror(-msg.err));
	}
	cm = CMSG_FIRSTHDR(&mh);
	ASSERT_NE(NULL, cm);
	ASSERT_EQ(SCM_RIGHTS, cm->cmsg_type);
	memcpy(&self->fd, CMSG_DATA(cm), sizeof(int));
	self->child_fd = msg.fd;
	if (!variant->keep) {
		/* One fd of several: closing it changes nothing. */
		close(self->fd);
		self->fd = -1;
	}
}

FIXTURE_TEARDOWN(killed)
{
	if (self->pid > 0) {
		kill(self->pid, SIGKILL);
		waitpid(self->pid, NULL, 0);
	}
	if (self->fd >= 0)
		close(self->fd);
	if (self->sock >= 0)
		close(self->sock);
}

/*
 * Does "callbox ps --json ID" (netlink) give sandbox @id the owner pid
 * @pid? The CLI is where check.sh puts it, or $CALLBOX.
 */
static bool ps_owner_pid_is(uint64_t id, pid_t pid)
{
	const char *cli = getenv("CALLBOX") ?: "/bin/callbox";
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
		 "%s ps --json %llu | grep -q '^{\"id\":%llu,\"owner_pid\":%d,'",
		 cli, (unsigned long long)id, (unsigned long long)id, pid);
	return system(cmd) == 0;
}

TEST_F_TIMEOUT(killed, shows_and_goes, 60)
{
	uint32_t live_state = variant->hostcall ? S_H : S_E;
	uint32_t reason = variant->hostcall ? CALLBOX_ABORT_OWNER_EXITED :
					      CALLBOX_ABORT_KILLED;
	uint32_t states[] = { S_Q, S_E, S_H, S_A };
	struct callbox_call_info c;
	struct cb_counters now, d = { .sandboxes = 1, .total = 1 };
	struct cb_objects o;
	struct cb_fdinfo fi;
	struct dbg_call rows[2];
	struct dbg_recent rec[2];
	int status;
	char r;

	return_if_setup_skipped();
	ASSERT_EQ(1, read(self->sock, &r, 1));

	/* Alive: the child's fdinfo, debugfs and sysfs show its call. */
	fdinfo_read_ok(self->pid, self->child_fd, &fi);
	self->id = fi.sandbox_id;
	ASSERT_TRUE(sandbox_dir_exists(self->id));
	EXPECT_STREQ("running", fi.state);
	EXPECT_EQ(1, fi.call_id);
	EXPECT_STREQ(state_name(live_state), fi.call_state);
	ASSERT_EQ(1, dbg_calls_read(self->id, rows, 2));
	EXPECT_EQ(1, rows[0].id);
	EXPECT_STREQ(state_name(live_state), rows[0].state);
	EXPECT_STREQ(variant->hostcall ? "guest_ran" : "-", rows[0].flags);
	/* The child's only thread runs it. */
	EXPECT_EQ(variant->hostcall ? 0 : self->pid, rows[0].runner_tid);
	counters_read_ok(&now);
	d.entered = !variant->hostcall;
	d.hostcall = variant->hostcall;
	expect_counters(&self->base, &now, &d);
	EXPECT_TRUE(ps_owner_pid_is(self->id, self->pid));

	ASSERT_EQ(0, kill(self->pid, SIGKILL));
	ASSERT_EQ(self->pid, waitpid(self->pid, &status, 0));
	self->pid = -1;
	ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
		TH_LOG("the child ended with status 0x%x", status);
	}
	d.entered = d.hostcall = 0;
	d.aborted[reason] = 1;

	if (variant->keep) {
		/* The sandbox lives on here: fdinfo first, which reaps. */
		fdinfo_read_ok(0, self->fd, &fi);
		EXPECT_EQ(self->id, fi.sandbox_id);
		EXPECT_STREQ("poisoned", fi.state);
		EXPECT_EQ(0, fi.call_id);
		EXPECT_STREQ("NONE", fi.call_state);
		EXPECT_EQ(1, fi.calls);
		EXPECT_EQ(0, fi.exited);
		EXPECT_EQ(1, fi.aborted);
		EXPECT_EQ(1, fi.unconsumed);
		/* Not this process's sandbox: no ioctl, only inspection. */
		call_get_err(EIO, self->fd, 1, &c);
		/* Its owner is gone: no pid, which may name another now. */
		EXPECT_TRUE(ps_owner_pid_is(self->id, 0));

		c = (struct callbox_call_info) {
			.id = 1, .state = S_A, .reason = reason,
			.flags = F_RAN | F_POIS,
		};
		ASSERT_EQ(1, dbg_calls_read(self->id, rows, 2));
		expect_row_is_call(&rows[0], &c);
		EXPECT_EQ(0, rows[0].runner_tid);
		ASSERT_EQ(1, dbg_recent_read(self->id, rec, 2));
		expect_recent_is_call(&rec[0], &c);
		if (variant->hostcall) {
			expect_recent_states(&rec[0], states, 4, UINT64_MAX);
		} else {
			states[2] = S_A;
			expect_recent_states(&rec[0], states, 3, UINT64_MAX);
		}
		counters_read_ok(&now);
		expect_counters(&self->base, &now, &d);
		EXPECT_TRUE(sandbox_dir_exists(self->id));

		close(self->fd);
		self->fd = -1;
	}

	/* Gone with its last fd. */
	d.sandboxes = 0;
	counters_read_ok(&now);
	expect_counters(&self->base, &now, &d);
	expect_conserved(&now);
	EXPECT_FALSE(sandbox_dir_exists(self->id));
	objects_read_ok(&o);
	EXPECT_EQ(self->obj_base.sandboxes, o.sandboxes);
	EXPECT_EQ(self->obj_base.calls, o.calls);
}

/*
 * ==== Nothing dangles ====
 */

/* A sandbox lives as long as its file: one fd of two closed changes nothing. */
TEST_F(fresh, dup_then_close)
{
	struct cb_counters now, d = { .sandboxes = 1 };
	int fd2;

	return_if_setup_skipped();
	fd2 = dup(self->ib.b.fd);
	ASSERT_LE(0, fd2);
	ibox_close_fd(&self->ib);
	EXPECT_TRUE(sandbox_dir_exists(self->ib.id));
	EXPECT_EQ(self->ib.id, sandbox_id_of(fd2));
	counters_read_ok(&now);
	expect_counters(&self->ib.base, &now, &d);
	close(fd2);
	d.sandboxes = 0;
	counters_read_ok(&now);
	expect_counters(&self->ib.base, &now, &d);
	expect_gone(_metadata, &self->ib);
}

/* Ids are never reused: the next sandbox, on the same vCPU, gets a new one. */
TEST_F(fresh, ids_not_reused)
{
	struct box *b = &self->ib.b;
	uint64_t first = self->ib.id, next;
	int i;

	return_if_setup_skipped();
	for (i = 0; i < 5; i++) {
		ibox_close_fd(&self->ib);
		EXPECT_FALSE(sandbox_dir_exists(first));
		b->fd = sandbox_create(b->dev_fd, b->guest.vm.vm_fd,
				       b->guest.vm.vcpu_fd);
		next = sandbox_id_of(b->fd);
		EXPECT_LT(first, next);
		EXPECT_TRUE(sandbox_dir_exists(next));
		first = next;
	}
}

/*
 * A debugfs file opened while the sandbox lived, read after it is gone:
 * an error (debugfs refuses files of removed entries), never the freed
 * sandbox.
 */
TEST_F(fresh, debugfs_open_across_close)
{
	char path[128], buf[4096];
	int calls_fd, recent_fd;
	uint64_t id;

	return_if_setup_skipped();
	call_submit(self->ib.b.fd, 0, &id);
	snprintf(path, sizeof(path), CALLBOX_DEBUGFS "/%" PRIu64 "/calls",
		 self->ib.id);
	calls_fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, calls_fd);
	snprintf(path, sizeof(path), CALLBOX_DEBUGFS "/%" PRIu64 "/recent",
		 self->ib.id);
	recent_fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, recent_fd);

	ibox_close_fd(&self->ib);
	EXPECT_FALSE(sandbox_dir_exists(self->ib.id));
	EXPECT_EQ(-1, read(calls_fd, buf, sizeof(buf)));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-1, read(recent_fd, buf, sizeof(buf)));
	EXPECT_EQ(EIO, errno);
	close(calls_fd);
	close(recent_fd);
	expect_gone(_metadata, &self->ib);
}

/*
 * A failed ioctl has no side effect: not on the counters, not on the
 * objects. A struct that can be read but not written back fails with
 * EFAULT after the kernel did its work: SANDBOX_CREATE's sandbox and
 * SUBMIT's call must vanish without a trace.
 */
TEST_F(fresh, failed_ioctls_leave_nothing)
{
	struct box *b = &self->ib.b;
	struct callbox_sandbox_create *cr;
	struct callbox_call_submit *sub;
	struct cb_counters now, d = { .sandboxes = 1 };
	struct cb_objects o;
	struct cb_fdinfo fi;
	void *page;

	return_if_setup_skipped();
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	cr = page;
	sub = (void *)((char *)page + 256);
	*cr = (struct callbox_sandbox_create) {
		.size = sizeof(*cr), .vm_fd = b->guest.vm.vm_fd,
		.vcpu_fd = b->guest.vm.vcpu_fd,
	};
	*sub = (struct callbox_call_submit) { .size = sizeof(*sub) };
	ASSERT_EQ(0, mprotect(page, 4096, PROT_READ));

	/* The vCPU is bound: unbind it first so that CREATE gets far. */
	ibox_close_fd(&self->ib);
	EXPECT_EQ(-1, ioctl(b->dev_fd, CALLBOX_SANDBOX_CREATE, cr));
	EXPECT_EQ(EFAULT, errno);
	counters_read_ok(&now);
	d.sandboxes = 0;
	expect_counters(&self->ib.base, &now, &d);
	objects_read_ok(&o);
	EXPECT_EQ(self->ib.obj_base.sandboxes, o.sandboxes);
	EXPECT_EQ(self->ib.obj_base.calls, o.calls);

	/* A new sandbox, and a SUBMIT whose id cannot be written back. */
	b->fd = sandbox_create(b->dev_fd, b->guest.vm.vm_fd,
			       b->guest.vm.vcpu_fd);
	EXPECT_EQ(-1, ioctl(b->fd, CALLBOX_CALL_SUBMIT, sub));
	EXPECT_EQ(EFAULT, errno);
	fdinfo_read_ok(0, b->fd, &fi);
	EXPECT_EQ(0, fi.calls);
	EXPECT_EQ(0, fi.unconsumed);
	counters_read_ok(&now);
	d.sandboxes = 1;
	expect_counters(&self->ib.base, &now, &d);
	objects_read_ok(&o);
	EXPECT_EQ(self->ib.obj_base.sandboxes + 1, o.sandboxes);
	EXPECT_EQ(self->ib.obj_base.calls, o.calls);
	munmap(page, 4096);
}

TEST_HARNESS_MAIN
