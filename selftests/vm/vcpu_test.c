// SPDX-License-Identifier: GPL-2.0
/*
 * The vCPU a sandbox runs, on raw guests: what may be bound (not a vCPU's
 * statistics fd, not a vCPU with a signal mask, at CREATE and at every
 * entry), and its kvm_run.exit_reason reset before every entry, so that a
 * stale exit is never decoded as the new call's.
 */
#include <signal.h>

#include "callbox_util.h"

/* A vCPU's own checks at CALLBOX_SANDBOX_CREATE: not bound at setup. */
BOX_FIXTURE(bind, raw_guest_counter, false)

/* "EINVAL if ... @vcpu_fd is not a vCPU of that VM": its stats fd is not. */
TEST_F(bind, vcpu_stats_fd_is_not_a_vcpu)
{
	int stats = ioctl(self->b.guest.vm.vcpu_fd, KVM_GET_STATS_FD, 0);

	if (stats < 0 && (errno == EINVAL || errno == ENOTTY))
		SKIP(return, "KVM has no vCPU statistics fd");
	ASSERT_LE(0, stats);
	sandbox_create_err(EINVAL, self->b.dev_fd, self->b.guest.vm.vm_fd,
			   stats);
	close(stats);
	/* The refusal bound nothing. */
	EXPECT_EQ(0, probe_bind(&self->b));
}

/* Set (or with @block_sig 0, clear) the vCPU's KVM signal mask. */
static int set_vcpu_sigmask(int vcpu_fd, int block_sig)
{
	uint8_t buf[sizeof(struct kvm_signal_mask) + 8] = {};
	struct kvm_signal_mask *m = (struct kvm_signal_mask *)buf;
	uint64_t set = 1ull << (block_sig - 1);

	if (!block_sig)
		return ioctl(vcpu_fd, KVM_SET_SIGNAL_MASK, NULL) ? -errno : 0;
	m->len = 8;	/* the kernel's sigset_t */
	memcpy(buf + sizeof(*m), &set, sizeof(set));
	return ioctl(vcpu_fd, KVM_SET_SIGNAL_MASK, m) ? -errno : 0;
}

/* "EOPNOTSUPP if the vCPU has a signal mask." */
TEST_F(bind, signal_mask_refused_at_create)
{
	ASSERT_EQ(0, set_vcpu_sigmask(self->b.guest.vm.vcpu_fd, SIGUSR1));
	sandbox_create_err(EOPNOTSUPP, self->b.dev_fd,
			   self->b.guest.vm.vm_fd, self->b.guest.vm.vcpu_fd);
	ASSERT_EQ(0, set_vcpu_sigmask(self->b.guest.vm.vcpu_fd, 0));
	EXPECT_EQ(0, probe_bind(&self->b));
}

/*
 * "The vCPU must not have a signal mask, now or when a call enters it":
 * CALL_SYNC and RUN fail with EOPNOTSUPP, and "no call was made" / "nothing
 * was entered"; without the mask the call runs.
 */
TEST_F(bind, signal_mask_refused_at_entry)
{
	struct callbox_call_info c;
	uint64_t id;

	self->b.fd = sandbox_create(self->b.dev_fd, self->b.guest.vm.vm_fd,
				    self->b.guest.vm.vcpu_fd);
	ASSERT_EQ(0, set_vcpu_sigmask(self->b.guest.vm.vcpu_fd, SIGUSR1));

	call_sync_err(EOPNOTSUPP, self->b.fd, 0, &c);
	call_get_err(ENOENT, self->b.fd, 1, &c);

	call_submit(self->b.fd, 0, &id);
	EXPECT_EQ(1, id);
	call_run_err(EOPNOTSUPP, self->b.fd, id, 0, &c);
	call_run_err(EOPNOTSUPP, self->b.fd, 0, CALLBOX_RUN_NONBLOCK, &c);
	call_get(self->b.fd, id, &c);
	EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
	EXPECT_EQ(0, c.flags);

	ASSERT_EQ(0, set_vcpu_sigmask(self->b.guest.vm.vcpu_fd, 0));
	call_run(self->b.fd, id, 0, &c);
	EXPECT_EQ(id, c.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);	/* the guest's first call */
	call_wait(self->b.fd, id, 0, &c);
}

/*
 * ==== exit_reason is reset before every entry ====
 *
 * So a stale exit (the previous call's DONE, KVM_EXIT_IO) can never be
 * decoded as the new call's: while the second call spins in the guest,
 * the vCPU's mapped kvm_run says KVM_EXIT_UNKNOWN.
 */
BOX_FIXTURE(life, raw_guest_counter, true)

/* The first call ends with DONE, the second spins for ever. */
static const uint8_t guest_done_then_spin[] = {
	0xba, 0x00, 0xcb,		/* mov dx, CALLBOX_PORT_DONE */
	0x66, 0xef,			/* out dx, eax */
	0xeb, 0xfe,			/* jmp $ */
};

TEST_F_TIMEOUT(life, exit_reason_reset_before_entry, 60)
{
	struct call_runner r = { .fd = self->b.fd };
	struct callbox_call_info c;
	int i, stale = 0;

	box_load(&self->b, guest_done_then_spin,
		 sizeof(guest_done_then_spin));
	call_sync(self->b.fd, 0, &c);
	ASSERT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(KVM_EXIT_IO, c.exit_reason);
	ASSERT_EQ(KVM_EXIT_IO, self->b.run->exit_reason);

	call_submit(self->b.fd, 0, &r.id);
	ASSERT_EQ(0, pthread_create(&r.thread, NULL, call_runner_fn, &r));
	ASSERT_TRUE(wait_for_state(self->b.fd, r.id, CALLBOX_STATE_ENTERED));
	usleep(20 * 1000);
	for (i = 0; i < 50; i++) {
		stale += __atomic_load_n(&self->b.run->exit_reason,
					 __ATOMIC_RELAXED) != KVM_EXIT_UNKNOWN;
		usleep(1000);
	}
	EXPECT_EQ(0, stale) {
		TH_LOG("kvm_run.exit_reason %u while the call runs",
		       self->b.run->exit_reason);
	}
	call_get(self->b.fd, r.id, &c);
	EXPECT_EQ(CALLBOX_STATE_ENTERED, c.state);

	EXPECT_EQ(0, _call_cancel(self->b.fd, r.id));
	ASSERT_EQ(0, join_within(r.thread, 5000));
	EXPECT_EQ(0, r.ret);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, r.c.state);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, r.c.reason);
}

TEST_HARNESS_MAIN
