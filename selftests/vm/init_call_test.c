// SPDX-License-Identifier: GPL-2.0
/*
 * The init call of CALLBOX_SANDBOX_RESET, on raw guests: it goes first in
 * line and is the only call that may enter until it has exited; it has
 * places of its own in the queue; and if it ends any other way the
 * sandbox is poisoned again.
 *
 * "The kernel queues the guest's init call (flag CALLBOX_CALL_INIT) ahead
 * of every queued call and lifts the poison, but until the init call
 * EXITs the sandbox runs no other call (ENOTRECOVERABLE)."
 */
#include "callbox_util.h"

BOX_FIXTURE(reset, raw_guest_counter, true)

TEST_F(reset, init_call_goes_first)
{
	struct callbox_call_info c;
	uint64_t a, init, b;
	int fd = self->b.fd;

	call_submit(fd, 0, &a);
	ASSERT_EQ(0, raw_guest_rewind(&self->b.guest, self->b.run, fd,
				      &init));
	EXPECT_EQ(a + 1, init);
	call_get(fd, init, &c);
	EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
	EXPECT_EQ(CALLBOX_CALL_INIT, c.flags);

	/* Submitting is fine; entering anything but the init call is not. */
	call_submit(fd, 0, &b);
	call_sync_err(ENOTRECOVERABLE, fd, 0, &c);
	call_run_err(ENOTRECOVERABLE, fd, a, 0, &c);
	call_run_err(ENOTRECOVERABLE, fd, b, 0, &c);
	call_get(fd, a, &c);
	EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
	EXPECT_EQ(0, c.flags);

	/* RUN with id 0 takes the init call, then the queue in order. */
	call_run(fd, 0, CALLBOX_RUN_NONBLOCK, &c);
	EXPECT_EQ(init, c.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(CALLBOX_CALL_INIT | CALLBOX_CALL_GUEST_RAN, c.flags);
	call_run(fd, 0, CALLBOX_RUN_NONBLOCK, &c);
	EXPECT_EQ(a, c.id);
	EXPECT_EQ(1, c.status);
	EXPECT_EQ(0, c.flags & CALLBOX_CALL_INIT);
	call_run(fd, 0, CALLBOX_RUN_NONBLOCK, &c);
	EXPECT_EQ(b, c.id);
	EXPECT_EQ(2, c.status);
	call_wait(fd, init, 0, &c);
	EXPECT_EQ(CALLBOX_CALL_INIT | CALLBOX_CALL_GUEST_RAN, c.flags);
}

/* "EBUSY if ... an init call is pending"; once it has exited, no more. */
TEST_F(reset, reset_while_init_pending)
{
	struct callbox_call_info c;
	uint64_t init, id;
	int fd = self->b.fd;

	ASSERT_EQ(0, raw_guest_rewind(&self->b.guest, self->b.run, fd,
				      &init));
	sandbox_reset_err(EBUSY, fd, 0, &id);
	call_get_err(ENOENT, fd, init + 1, &c);
	call_run(fd, init, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	/* Ended, not yet consumed: no longer pending. */
	ASSERT_EQ(0, raw_guest_rewind(&self->b.guest, self->b.run, fd, &id));
	EXPECT_EQ(init + 1, id);
}

/*
 * "Init calls have places of their own, beyond CALLBOX_MAX_CALLS": 64
 * unconsumed calls stop SUBMIT but not RESET, unconsumed init calls take
 * none of the 64, and only 64 unconsumed init calls stop RESET.
 */
TEST_F_TIMEOUT(reset, init_calls_have_places_of_their_own, 120)
{
	struct callbox_call_info c;
	uint64_t ids[CALLBOX_MAX_CALLS], inits[CALLBOX_MAX_CALLS], id;
	int fd = self->b.fd, i;

	for (i = 0; i < CALLBOX_MAX_CALLS; i++)
		call_submit(fd, 0, &ids[i]);
	call_submit_err(EAGAIN, fd, 0, &id);

	/* 64 init calls, each run to its end and left unconsumed. */
	for (i = 0; i < CALLBOX_MAX_CALLS; i++) {
		ASSERT_EQ(0, raw_guest_rewind(&self->b.guest, self->b.run, fd,
					      &inits[i]));
		call_run(fd, 0, CALLBOX_RUN_NONBLOCK, &c);
		ASSERT_EQ(inits[i], c.id);
		ASSERT_EQ(CALLBOX_STATE_EXITED, c.state);
	}
	call_submit_err(EAGAIN, fd, 0, &id);
	sandbox_reset_err(EAGAIN, fd, 0, &id);

	/* Each kind frees its own places. */
	call_cancel(fd, ids[0]);
	call_wait(fd, ids[0], 0, &c);
	sandbox_reset_err(EAGAIN, fd, 0, &id);
	call_submit(fd, 0, &ids[0]);
	call_wait(fd, inits[0], 0, &c);
	call_submit_err(EAGAIN, fd, 0, &id);
	ASSERT_EQ(0, raw_guest_rewind(&self->b.guest, self->b.run, fd, &id));
}

/*
 * Put the guest back at its init as raw_guest_rewind() does, without the
 * RESET, for tests that issue the RESET themselves.
 */
static int box_rewind_regs(struct box *b)
{
	struct kvm_regs regs = { .rip = RAW_GUEST_INIT, .rflags = 2 };
	int ret, err;

	b->run->immediate_exit = 1;
	ret = ioctl(b->guest.vm.vcpu_fd, KVM_RUN, 0);
	err = errno;
	b->run->immediate_exit = 0;
	if (ret != -1 || err != EINTR)
		return ret ? -err : -EPROTO;
	if (ioctl(b->guest.vm.vcpu_fd, KVM_SET_REGS, &regs))
		return -errno;
	return 0;
}

/* An init (at RAW_GUEST_INIT) that gives up: the guest never gets ready. */
static const uint8_t guest_aborting_init[] = {
	0xba, 0x04, 0xcb,		/* mov dx, CALLBOX_PORT_ABORT */
	0x66, 0xef,			/* out dx, eax */
	0xeb, 0xfe,			/* jmp $ */
};

/*
 * "If it ends any other way, even cancelled before it ran, the sandbox is
 * poisoned again: a call never enters a guest that was not made ready for
 * it." The init call carries CALLBOX_CALL_POISONED ("an init call that did
 * not exit"); the call queued behind it never enters, until a reset whose
 * init call exits.
 */
enum init_end { INIT_CANCELLED, INIT_DEADLINE_PAST, INIT_DEADLINE_QUEUED,
		INIT_GUEST_ABORT };

BOX_FIXTURE(initfail, raw_guest_counter, true)

FIXTURE_VARIANT(initfail) {
	enum init_end how;
	uint32_t reason;
	uint32_t flags;
};

FIXTURE_VARIANT_ADD(initfail, cancelled_queued) {
	INIT_CANCELLED, CALLBOX_ABORT_CANCELLED,
	CALLBOX_CALL_INIT | CALLBOX_CALL_POISONED,
};

/* "A deadline already past at submission aborts the call at once." */
FIXTURE_VARIANT_ADD(initfail, deadline_already_past) {
	INIT_DEADLINE_PAST, CALLBOX_ABORT_DEADLINE,
	CALLBOX_CALL_INIT | CALLBOX_CALL_POISONED,
};

FIXTURE_VARIANT_ADD(initfail, deadline_while_queued) {
	INIT_DEADLINE_QUEUED, CALLBOX_ABORT_DEADLINE,
	CALLBOX_CALL_INIT | CALLBOX_CALL_POISONED,
};

FIXTURE_VARIANT_ADD(initfail, guest_abort) {
	INIT_GUEST_ABORT, CALLBOX_ABORT_GUEST_ABORT,
	CALLBOX_CALL_INIT | CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_POISONED,
};

TEST_F_TIMEOUT(initfail, sandbox_poisoned_again, 60)
{
	uint8_t *init_code = (uint8_t *)self->b.guest.mem + RAW_GUEST_INIT;
	struct callbox_call_info c;
	uint64_t queued, init, deadline = 0;
	int fd = self->b.fd;

	call_submit(fd, 0, &queued);
	if (variant->how == INIT_DEADLINE_PAST)
		deadline = 1;
	if (variant->how == INIT_DEADLINE_QUEUED)
		deadline = now_ns() + 20 * MS;
	if (variant->how == INIT_GUEST_ABORT)
		memcpy(init_code, guest_aborting_init,
		       sizeof(guest_aborting_init));
	ASSERT_EQ(0, box_rewind_regs(&self->b));
	sandbox_reset(fd, deadline, &init);
	EXPECT_EQ(queued + 1, init);

	switch (variant->how) {
	case INIT_CANCELLED:
		EXPECT_EQ(0, _call_cancel(fd, init));
		break;
	case INIT_DEADLINE_PAST:
		break;
	case INIT_DEADLINE_QUEUED:
		ASSERT_TRUE(wait_for_state(fd, init, CALLBOX_STATE_ABORTED));
		break;
	case INIT_GUEST_ABORT:
		call_run(fd, 0, CALLBOX_RUN_NONBLOCK, &c);
		EXPECT_EQ(init, c.id);
		break;
	}
	call_get(fd, init, &c);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_EQ(variant->reason, c.reason);
	EXPECT_EQ(variant->flags, c.flags);

	/* Poisoned: nothing enters, the queued call included. */
	call_sync_err(ENOTRECOVERABLE, fd, 0, &c);
	call_run_err(ENOTRECOVERABLE, fd, queued, 0, &c);
	call_run_err(ENOTRECOVERABLE, fd, 0, CALLBOX_RUN_NONBLOCK, &c);
	call_get(fd, queued, &c);
	EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
	EXPECT_EQ(0, c.flags);

	/* A reset whose init call exits; then the guest's first call. */
	memcpy(init_code, raw_guest_init, sizeof(raw_guest_init));
	ASSERT_EQ(0, raw_guest_reset(&self->b.guest, self->b.run, fd));
	call_run(fd, 0, CALLBOX_RUN_NONBLOCK, &c);
	EXPECT_EQ(queued, c.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);
}

TEST_HARNESS_MAIN
