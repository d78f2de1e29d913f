// SPDX-License-Identifier: GPL-2.0
/*
 * CALLBOX_SANDBOX_RESTORE, on the scripted raw guest: the kernel fences a
 * restore that userspace does, and decides when the guest is ready again.
 *
 * "Otherwise, until the restore ends, no call enters the guest: RUN and
 * CALL_SYNC fail with EBUSY, and so do RESET and a second BEGIN. SUBMIT,
 * WAIT, GET and CANCEL work as ever, and queued calls stay queued."
 * "COMMIT ends the restore and lifts the poison ...: the poison is lifted
 * only once the restore is complete, never at BEGIN."
 * "ABANDON ends the restore and poisons the sandbox, whatever it was
 * before."
 */
#include <stdatomic.h>

#include "inspect_util.h"

static int _restore(int fd, uint32_t op, uint64_t *id)
{
	return callbox_sandbox_restore_fd(fd, op, id);
}

/*
 * BEGIN puts the restore's id in *@id; COMMIT and ABANDON end *@id. A
 * BEGIN through restore() must find the sandbox not poisoned (0).
 */
#define restore(fd, op, id) \
	ASSERT_OK("CALLBOX_SANDBOX_RESTORE", _restore(fd, op, id))
#define restore_err(_errno, fd, op, id) \
	({ EXPECT_EQ(-(_errno), _restore(fd, op, id)); })

/* The state fdinfo shows for the sandbox. */
#define expect_fdinfo_state(fd, want)					\
	({								\
		struct cb_fdinfo __fi;					\
									\
		ASSERT_EQ(0, fdinfo_read(0, fd, &__fi));		\
		EXPECT_STREQ(want, __fi.state);				\
	})

BOX_FIXTURE(restore, guest_script, true)
BOX_FIXTURE(poisoned, guest_script, true)

/* The ioctl's ABI, and every op and field it refuses, touching nothing. */
TEST_F(restore, refuses_bad_requests)
{
	uint64_t rid = 0;
	struct callbox_sandbox_restore cmd = {
		.size = sizeof(cmd),
		.op = CALLBOX_RESTORE_BEGIN,
	};
	static const uint32_t bad_ops[] = { 0, 4, 0x80000001, 0xffffffff };
	struct callbox_call_info c;
	int fd = self->b.fd;
	unsigned int i;

	return_if_setup_skipped();
	check_ioctl_abi(_metadata, fd, CALLBOX_SANDBOX_RESTORE, &cmd,
			sizeof(cmd),
			offsetof(struct callbox_sandbox_restore, flags), 0);
	for (i = 0; i < ARRAY_SIZE(bad_ops); i++)
		restore_err(EINVAL, fd, bad_ops[i], &rid);
	/* No restore has begun. */
	restore_err(EINVAL, fd, CALLBOX_RESTORE_COMMIT, &rid);
	restore_err(EINVAL, fd, CALLBOX_RESTORE_ABANDON, &rid);
	/* "@out_poisoned ... Ignored on input": BEGIN writes it. */
	cmd.out_poisoned = 7;
	cmd.id = 99;
	ASSERT_EQ(0, ioctl(fd, CALLBOX_SANDBOX_RESTORE, &cmd));
	EXPECT_EQ(0, cmd.out_poisoned);
	EXPECT_EQ(1, cmd.id);
	rid = cmd.id;
	restore(fd, CALLBOX_RESTORE_COMMIT, &rid);
	/* Nothing is left begun, or poisoned. */
	expect_fdinfo_state(fd, "idle");
	call_sync(fd, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(SCRIPT_STATUS, c.status);
}

/*
 * Between BEGIN and its end, every way into the guest is refused with
 * EBUSY, and every way that does not enter it works.
 */
TEST_F(restore, no_way_into_the_guest_while_restoring)
{
	uint64_t rid = 0;
	struct callbox_call_info c;
	uint64_t queued, cancelled, id;
	int fd = self->b.fd;

	return_if_setup_skipped();
	call_submit(fd, 0, &queued);
	restore(fd, CALLBOX_RESTORE_BEGIN, &rid);
	expect_fdinfo_state(fd, "restoring");

	call_sync_err(EBUSY, fd, 0, &c);
	call_run_err(EBUSY, fd, queued, 0, &c);
	call_run_err(EBUSY, fd, 0, 0, &c);
	call_run_err(EBUSY, fd, 0, CALLBOX_RUN_NONBLOCK, &c);
	sandbox_reset_err(EBUSY, fd, 0, &id);
	restore_err(EBUSY, fd, CALLBOX_RESTORE_BEGIN, &rid);

	/* What does not enter the guest works as ever. */
	call_submit(fd, 0, &cancelled);
	call_get(fd, queued, &c);
	EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
	call_cancel(fd, cancelled);
	/* RUN of a call that has ended returns its outcome. */
	call_run(fd, cancelled, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, c.reason);
	call_wait(fd, cancelled, 0, &c);
	EXPECT_EQ(0, c.flags & CALLBOX_CALL_GUEST_RAN);

	/* Nothing ran meanwhile: the queued call runs once it is over. */
	call_get(fd, queued, &c);
	EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
	EXPECT_EQ(0, c.flags & CALLBOX_CALL_GUEST_RAN);
	restore(fd, CALLBOX_RESTORE_COMMIT, &rid);
	expect_fdinfo_state(fd, "idle");
	call_run(fd, 0, CALLBOX_RUN_NONBLOCK, &c);
	EXPECT_EQ(queued, c.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	call_wait(fd, queued, 0, &c);
	call_sync(fd, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
}

/*
 * "BEGIN fails with EBUSY if a call is current (running or parked) or
 * ... a reset's init call is pending, or a restore has begun", and the
 * call goes on undisturbed. After shutdown, ESHUTDOWN.
 */
TEST_F_TIMEOUT(restore, refused_while_a_call_is_current, 60)
{
	uint64_t rid = 0;
	struct call_runner r = { .fd = self->b.fd };
	struct callbox_call_info c;
	uint64_t id;
	int fd = self->b.fd;

	return_if_setup_skipped();
	/* Parked in HOSTCALL. */
	script_set(self->b.guest.mem, SCRIPT_HOSTCALL);
	call_sync(fd, 0, &c);
	ASSERT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
	restore_err(EBUSY, fd, CALLBOX_RESTORE_BEGIN, &rid);
	id = c.id;
	call_run(fd, id, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	call_wait(fd, id, 0, &c);

	/* Running: a spinning guest on another thread. */
	script_set(self->b.guest.mem, SCRIPT_SPIN);
	call_submit(fd, 0, &r.id);
	call_runner_start(&r);
	ASSERT_TRUE(WAIT_FOR(script_spinning(self->b.guest.mem)));
	restore_err(EBUSY, fd, CALLBOX_RESTORE_BEGIN, &rid);
	call_get(fd, r.id, &c);
	EXPECT_EQ(CALLBOX_STATE_ENTERED, c.state);
	call_cancel(fd, r.id);
	ASSERT_TRUE(call_runner_join(&r, 10000));
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, r.c.reason);
	call_wait(fd, r.id, 0, &c);

	/* A reset's init call pending. */
	script_set(self->b.guest.mem, SCRIPT_DONE);
	ASSERT_EQ(0, raw_guest_rewind(&self->b.guest, self->b.run, fd, &id));
	restore_err(EBUSY, fd, CALLBOX_RESTORE_BEGIN, &rid);
	call_run(fd, id, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	call_wait(fd, id, 0, &c);

	/* Shut down, with a restore begun and without. */
	restore(fd, CALLBOX_RESTORE_BEGIN, &rid);
	sandbox_shutdown(fd);
	expect_fdinfo_state(fd, "shutdown");
	restore_err(ESHUTDOWN, fd, CALLBOX_RESTORE_COMMIT, &rid);
	restore_err(ESHUTDOWN, fd, CALLBOX_RESTORE_ABANDON, &rid);
	restore_err(ESHUTDOWN, fd, CALLBOX_RESTORE_BEGIN, &rid);
}

/* "ABANDON ... poisons the sandbox, whatever it was before." */
TEST_F(restore, abandon_poisons_until_a_reset_or_a_commit)
{
	uint64_t rid = 0;
	struct callbox_call_info c;
	int fd = self->b.fd;

	return_if_setup_skipped();
	restore(fd, CALLBOX_RESTORE_BEGIN, &rid);
	restore(fd, CALLBOX_RESTORE_ABANDON, &rid);
	expect_fdinfo_state(fd, "poisoned");
	call_sync_err(ENOTRECOVERABLE, fd, 0, &c);
	ASSERT_EQ(0, raw_guest_reset(&self->b.guest, self->b.run, fd));
	call_sync(fd, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);

	restore(fd, CALLBOX_RESTORE_BEGIN, &rid);
	restore(fd, CALLBOX_RESTORE_ABANDON, &rid);
	call_sync_err(ENOTRECOVERABLE, fd, 0, &c);
	ASSERT_EQ(0, raw_guest_restore(&self->b.guest, self->b.run, fd));
	call_sync(fd, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(SCRIPT_STATUS, c.status);
}

/*
 * "COMMIT and ABANDON fail with EINVAL if @id is not the restore in
 * progress ..., so a late COMMIT never ends a restore it did not see to
 * completion": a COMMIT meant for a restore that another thread abandoned
 * does not end the one begun since (a hostile review found that it did,
 * and a call then ran on the half-restored guest). Ids increase from 1.
 */
TEST_F(restore, a_late_commit_ends_no_later_restore)
{
	struct callbox_call_info c;
	uint64_t first = 0, second = 0, stale;
	int fd = self->b.fd;

	return_if_setup_skipped();
	restore(fd, CALLBOX_RESTORE_BEGIN, &first);
	EXPECT_EQ(1, first);
	stale = first;
	restore(fd, CALLBOX_RESTORE_ABANDON, &first);
	/* The ABANDON poisoned it: BEGIN says so. */
	EXPECT_EQ(1, _restore(fd, CALLBOX_RESTORE_BEGIN, &second));
	EXPECT_EQ(first + 1, second);

	restore_err(EINVAL, fd, CALLBOX_RESTORE_COMMIT, &stale);
	restore_err(EINVAL, fd, CALLBOX_RESTORE_ABANDON, &stale);
	stale = second + 1;
	restore_err(EINVAL, fd, CALLBOX_RESTORE_COMMIT, &stale);
	expect_fdinfo_state(fd, "restoring");
	call_sync_err(EBUSY, fd, 0, &c);

	restore(fd, CALLBOX_RESTORE_COMMIT, &second);
	call_sync(fd, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	/* Ended: its id ends nothing any more. */
	restore_err(EINVAL, fd, CALLBOX_RESTORE_COMMIT, &second);
}

/*
 * "If @id cannot be written, BEGIN fails with EFAULT and no restore has
 * begun (the id is used up)."
 */
TEST_F(restore, begin_that_cannot_write_its_id_begins_nothing)
{
	struct callbox_sandbox_restore *ro;
	struct callbox_call_info c;
	uint64_t rid = 0;
	int fd = self->b.fd;

	return_if_setup_skipped();
	ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	*ro = (struct callbox_sandbox_restore) {
		.size = sizeof(*ro),
		.op = CALLBOX_RESTORE_BEGIN,
	};
	ASSERT_EQ(0, mprotect(ro, 4096, PROT_READ));
	EXPECT_EQ(-1, ioctl(fd, CALLBOX_SANDBOX_RESTORE, ro));
	EXPECT_EQ(EFAULT, errno);
	munmap(ro, 4096);

	expect_fdinfo_state(fd, "idle");
	call_sync(fd, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	restore(fd, CALLBOX_RESTORE_BEGIN, &rid);
	EXPECT_EQ(2, rid);
	restore(fd, CALLBOX_RESTORE_COMMIT, &rid);
}

/*
 * A guest that reports the word at RACE_WORD as its DONE status: a call
 * that ran while the restore had the word at 1 would say so.
 *
 *   start:	mov  eax, [0x3000]
 *		mov  dx, 0xcb00
 *		out  dx, eax
 *		jmp  start
 */
static const uint8_t guest_word_reporter[] = {
	0x66, 0xa1, 0x00, 0x30, 0xba, 0x00, 0xcb, 0x66, 0xef, 0xeb, 0xf5,
};

#define RACE_WORD	0x3000

struct restorer {
	pthread_t thread;
	int fd;
	volatile uint32_t *word;
	atomic_bool stop;
	unsigned long begun, refused;
	int error;
};

/* Restore again and again, the word at 1 only between BEGIN and COMMIT. */
static void *restorer_fn(void *p)
{
	uint64_t rid = 0;
	struct restorer *r = p;
	int ret;

	while (!atomic_load(&r->stop)) {
		ret = _restore(r->fd, CALLBOX_RESTORE_BEGIN, &rid);
		if (ret == -EBUSY) {
			r->refused++;
			continue;
		}
		if (ret) {
			r->error = ret;
			break;
		}
		r->begun++;
		*r->word = 1;
		sched_yield();
		*r->word = 0;
		ret = _restore(r->fd, CALLBOX_RESTORE_COMMIT, &rid);
		if (ret) {
			r->error = ret;
			break;
		}
	}
	return NULL;
}

FIXTURE(race) {
	struct box b;
};

FIXTURE_VARIANT(race) {
	bool sync;	/* CALL_SYNC, else SUBMIT and RUN */
};

FIXTURE_VARIANT_ADD(race, sync) { .sync = true };
FIXTURE_VARIANT_ADD(race, submit_run) { .sync = false };

FIXTURE_SETUP(race)
{
	box_open(_metadata, &self->b, guest_word_reporter,
		 sizeof(guest_word_reporter), true);
}

FIXTURE_TEARDOWN(race)
{
	box_close(&self->b);
}

/*
 * Calls race with restores for two seconds: none ever runs on a guest
 * that is half put back, though both sides get their turns.
 */
TEST_F_TIMEOUT(race, no_call_runs_on_a_half_restored_guest, 60)
{
	struct restorer r = {
		.fd = self->b.fd,
		.word = (uint32_t *)((char *)self->b.guest.mem + RACE_WORD),
	};
	unsigned long ran = 0, busy = 0, torn = 0;
	struct callbox_call_info c;
	uint64_t until = now_ns() + 2000 * MS, id;
	int fd = self->b.fd, ret;

	return_if_setup_skipped();
	ASSERT_EQ(0, pthread_create(&r.thread, NULL, restorer_fn, &r));
	while (now_ns() < until) {
		if (variant->sync) {
			ret = _call_sync(fd, 0, &c);
		} else {
			ASSERT_EQ(0, _call_submit(fd, 0, &id));
			ret = _call_run(fd, id, 0, &c);
			if (ret == -EBUSY) {
				call_cancel(fd, id);
				call_wait(fd, id, 0, &c);
				busy++;
				continue;
			}
			if (!ret)
				ASSERT_EQ(0, _call_wait(fd, id, 0, &c));
		}
		if (ret == -EBUSY) {
			busy++;
			continue;
		}
		ASSERT_EQ(0, ret);
		ASSERT_EQ(CALLBOX_STATE_EXITED, c.state);
		ran++;
		if (c.status)
			torn++;
	}
	atomic_store(&r.stop, true);
	ASSERT_EQ(0, pthread_join(r.thread, NULL));
	TH_LOG("%lu calls ran, %lu refused; %lu restores, %lu refused",
	       ran, busy, r.begun, r.refused);
	EXPECT_EQ(0, r.error);
	EXPECT_EQ(0, torn);
	/* Both sides had turns, so the fence was tried. */
	EXPECT_LT(0, ran);
	EXPECT_LT(0, r.begun);
	EXPECT_LT(0, busy + r.refused);
}

/*
 * How a call ended that poisoned the sandbox. Not a triple fault here:
 * this real-mode raw guest never runs again after one under our nested
 * TCG (rip stays at its entry until the deadline, after a reset as after
 * a restore); residue_test restores an SDK guest after one.
 */
FIXTURE_VARIANT(poisoned) {
	enum script_cmd cmd;	/* what the call did */
	bool cancel;		/* a spinning call, cancelled */
	bool deadline;		/* a spinning call, its deadline passed */
	uint32_t reason;
};

FIXTURE_VARIANT_ADD(poisoned, guest_abort) {
	.cmd = SCRIPT_ABORT, .reason = CALLBOX_ABORT_GUEST_ABORT,
};

FIXTURE_VARIANT_ADD(poisoned, bad_port) {
	.cmd = SCRIPT_BAD_PORT, .reason = CALLBOX_ABORT_BAD_PORT,
};

FIXTURE_VARIANT_ADD(poisoned, halt) {
	.cmd = SCRIPT_HALT, .reason = CALLBOX_ABORT_HALT,
};

FIXTURE_VARIANT_ADD(poisoned, mmio) {
	.cmd = SCRIPT_MMIO, .reason = CALLBOX_ABORT_MMIO,
};

FIXTURE_VARIANT_ADD(poisoned, cancelled_while_spinning) {
	.cmd = SCRIPT_SPIN, .cancel = true, .reason = CALLBOX_ABORT_CANCELLED,
};

FIXTURE_VARIANT_ADD(poisoned, deadline_while_spinning) {
	.cmd = SCRIPT_SPIN, .deadline = true,
	.reason = CALLBOX_ABORT_DEADLINE,
};

FIXTURE_VARIANT_ADD(poisoned, hostcall_abandoned) {
	.cmd = SCRIPT_HOSTCALL, .cancel = true,
	.reason = CALLBOX_ABORT_CANCELLED,
};

/* End a call as the variant says; the sandbox is poisoned after. */
static void poison(struct __test_metadata *_metadata,
		   FIXTURE_DATA(poisoned) *self,
		   const FIXTURE_VARIANT(poisoned) *variant)
{
	struct call_runner r = { .fd = self->b.fd };
	struct callbox_call_info c;
	int fd = self->b.fd;
	uint64_t id;

	script_set(self->b.guest.mem, variant->cmd);
	if (variant->cmd == SCRIPT_HOSTCALL) {
		/* The host function "never returns": the call is cancelled. */
		call_sync(fd, 0, &c);
		ASSERT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
		id = c.id;
		call_cancel(fd, id);
		call_run(fd, id, 0, &c);
	} else if (variant->cancel) {
		call_submit(fd, 0, &r.id);
		call_runner_start(&r);
		ASSERT_TRUE(WAIT_FOR(script_spinning(self->b.guest.mem)));
		call_cancel(fd, r.id);
		ASSERT_TRUE(call_runner_join(&r, 10000));
		id = r.id;
		c = r.c;
	} else {
		/* CALL_SYNC consumes the call it ended. */
		call_sync(fd, variant->deadline ?
			  callbox_deadline_after(50 * MS) : 0, &c);
		id = 0;
	}
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_EQ(variant->reason, c.reason);
	EXPECT_EQ(CALLBOX_CALL_POISONED,
		  c.flags & CALLBOX_CALL_POISONED);
	if (id)
		call_wait(fd, id, 0, &c);
	expect_fdinfo_state(fd, "poisoned");
}

/*
 * Every way a call can poison the sandbox: BEGIN lifts nothing, ABANDON
 * lifts nothing, a restore that commits lifts it, and the next call runs
 * on the restored guest, with no init call run.
 */
TEST_F_TIMEOUT(poisoned, restore_lifts_the_poison_only_at_commit, 60)
{
	uint64_t rid = 0;
	struct callbox_call_info c;
	int fd = self->b.fd;

	return_if_setup_skipped();
	poison(_metadata, self, variant);
	call_sync_err(ENOTRECOVERABLE, fd, 0, &c);

	/* BEGIN says the sandbox is poisoned (1), as a snapshot must know. */
	EXPECT_EQ(1, _restore(fd, CALLBOX_RESTORE_BEGIN, &rid));
	expect_fdinfo_state(fd, "restoring");
	call_sync_err(EBUSY, fd, 0, &c);
	restore(fd, CALLBOX_RESTORE_ABANDON, &rid);
	expect_fdinfo_state(fd, "poisoned");
	call_sync_err(ENOTRECOVERABLE, fd, 0, &c);

	script_set(self->b.guest.mem, SCRIPT_DONE);
	ASSERT_EQ(0, raw_guest_restore(&self->b.guest, self->b.run, fd));
	expect_fdinfo_state(fd, "idle");
	call_sync(fd, callbox_deadline_after(10000 * MS), &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state) {
		TH_LOG("the restored guest: %s, %s, detail %#llx",
		       callbox_call_state_name(c.state),
		       callbox_abort_reason_name(c.reason),
		       (unsigned long long)c.detail);
	}
	EXPECT_EQ(SCRIPT_STATUS, c.status);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN, c.flags);
}

TEST_HARNESS_MAIN
