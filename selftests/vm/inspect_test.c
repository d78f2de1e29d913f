// SPDX-License-Identifier: GPL-2.0
/*
 * What callbox shows of a call, in every state a call can be in and after
 * every way it can end: /proc/<pid>/fdinfo of the sandbox fd, the
 * module-wide counters in sysfs (as deltas from a baseline: the suites
 * run one at a time), and debugfs <id>/calls and <id>/recent. Each must
 * say exactly what CALLBOX_CALL_GET says of the call (id, state, reason,
 * flags), and all of it must go away with the sandbox. What a new
 * sandbox shows, and that nothing dangles, is inspect_files_test's; the
 * owner killed, inspect_killed_test's.
 */
#include <signal.h>

#include "inspect_box.h"


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

TEST_HARNESS_MAIN
