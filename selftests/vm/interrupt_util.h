/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ways the contract matrices (restart_test, batch_test) interrupt a
 * call while its guest runs, and the SIGUSR1 handler that does it in the
 * calling thread. One test per process (the harness forks), so the
 * handler's state is global: set interrupt_how and interrupt_run first.
 */
#ifndef CALLBOX_SELFTEST_INTERRUPT_UTIL_H
#define CALLBOX_SELFTEST_INTERRUPT_UTIL_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/kvm.h>

enum interruption {
	BY_SIGNAL,		/* a handler runs, the ioctl restarts */
	BY_TASK_WORK,		/* io_uring's TWA_SIGNAL task work, no signal */
	BY_SIGNAL_MASK,		/* a vCPU mask appears during the interruption */
	BY_OWNER_EXIT,		/* the handler ends the thread */
	BY_IMMEDIATE_EXIT,	/* the handler sets kvm_run.immediate_exit */
	/* What stops a call rather than interrupt it: */
	BY_CANCEL,
	BY_DEADLINE,
	BY_SHUTDOWN,
};

static enum interruption interrupt_how;
static struct kvm_run *interrupt_run;
static atomic_int signals_handled;
static atomic_bool mask_set;

static inline void on_interrupt_signal(int sig)
{
	(void)sig;
	switch (interrupt_how) {
	case BY_SIGNAL_MASK:
		/* Stay out of the ioctl until the vCPU has its mask. */
		while (!atomic_load(&mask_set))
			;
		break;
	case BY_OWNER_EXIT:
		/* The thread ends here, its call parked in the kernel. */
		syscall(SYS_exit, 0);
		break;
	case BY_IMMEDIATE_EXIT:
		interrupt_run->immediate_exit = 1;
		break;
	default:
		break;
	}
	atomic_fetch_add(&signals_handled, 1);
}

/*
 * On a thread of its own, @p the vCPU fd's address: give the vCPU a
 * signal mask once the runner has let go of it (KVM_SET_SIGNAL_MASK takes
 * the vCPU's mutex, so it waits until KVM_RUN has returned).
 */
static inline void *set_mask_fn(void *p)
{
	/* struct kvm_signal_mask ends in the sigset, a flexible array. */
	union {
		struct kvm_signal_mask mask;
		uint8_t bytes[sizeof(struct kvm_signal_mask) + sizeof(uint64_t)];
	} m = { .mask.len = sizeof(uint64_t) };

	if (!ioctl(*(int *)p, KVM_SET_SIGNAL_MASK, &m.mask))
		atomic_store(&mask_set, true);
	return NULL;
}

/*
 * BY_SIGNAL_MASK: SIGUSR1 takes @runner out of KVM_RUN, and meanwhile
 * another thread gives the vCPU (*@vcpu_fd) a signal mask, which lands as
 * soon as KVM_RUN lets go of the vCPU. True once the mask is set.
 */
static inline bool interrupt_by_signal_mask(pthread_t runner, int *vcpu_fd)
{
	pthread_t setter;

	if (pthread_create(&setter, NULL, set_mask_fn, vcpu_fd))
		return false;
	pthread_kill(runner, SIGUSR1);
	pthread_join(setter, NULL);
	return atomic_load(&mask_set);
}

#endif /* CALLBOX_SELFTEST_INTERRUPT_UTIL_H */
