// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * callbox benchmark: stopping a guest that does not stop by itself.
 * cancel.spin and cancel.hlt: CANCEL to the call's end, for a guest
 * spinning in `jmp $` and for one asleep in HLT with the in-kernel
 * irqchip; deadline.overshoot: how late a deadline stops a spinning
 * guest. Each guest is a raw one with its sandbox, reset after every
 * call it was stopped in.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/callbox.h>
#include <linux/kvm.h>

#include <callbox/callbox.h>

#include "bench.h"
#include "bench_util.h"
#include "raw_guest.h"

static const uint8_t spinner[] = { 0xeb, 0xfe };		/* jmp $ */
static const uint8_t halter[] = { 0xfa, 0xf4, 0xeb, 0xfd };	/* cli; hlt */

struct stuck_guest {
	struct raw_guest g;
	struct kvm_run *run;
	size_t run_size;
	int fd;
	sem_t measured;		/* bench_cancel() has its figure */
};

static void stuck_create(struct stuck_guest *s, int dev_fd, bool halted)
{
	int kvm_fd, vm_fd, ret;

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0)
		die("KVM_CREATE_VM", errno);
	/* HLT sleeps in the kernel only with the in-kernel irqchip. */
	if (halted && ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0))
		die("KVM_CREATE_IRQCHIP", errno);
	ret = raw_guest_setup(&s->g, kvm_fd, vm_fd,
			      halted ? halter : spinner,
			      halted ? sizeof(halter) : sizeof(spinner));
	if (ret)
		die("raw guest", -ret);
	s->run = raw_guest_map_run(&s->g, &s->run_size);
	if (s->run == MAP_FAILED)
		die("mmap kvm_run", errno);
	s->fd = callbox_sandbox_create_fd(dev_fd, s->g.vm.vm_fd,
					  s->g.vm.vcpu_fd);
	if (s->fd < 0)
		die("CALLBOX_SANDBOX_CREATE", -s->fd);
}

static void stuck_destroy(struct stuck_guest *s)
{
	if (s->fd >= 0)
		close(s->fd);
	munmap(s->run, s->run_size);
	raw_guest_destroy(&s->g);
}

/*
 * One long-lived runner does every KVM_RUN, resets included: a vCPU that
 * changes threads costs KVM a pid switch with an RCU grace period, which
 * would be measured instead of the kick. It resets only once the figure
 * is taken: on a real host the reset runs beside the waiter, but single-
 * threaded TCG runs one vCPU at a time, and the waiter's vCPU would wait
 * for the reset's thirty-odd ioctls first.
 */
static void *stuck_runner(void *p)
{
	struct stuck_guest *s = p;
	struct callbox_call_info c = { 0 };
	int ret;

	while (!callbox_call_run_fd(s->fd, 0, 0, &c)) {
		while (sem_wait(&s->measured) && errno == EINTR)
			;
		/*
		 * The reset after the last cancel races with the shutdown
		 * that ends the benchmark, which refuses it: then we are done.
		 * (Under multi-threaded TCG the race was lost 1 run in 3.)
		 */
		ret = raw_guest_reset(&s->g, s->run, s->fd);
		if (ret == -ESHUTDOWN)
			break;
		if (ret)
			die("reset", -ret);
	}
	return NULL;
}

/* Times from CANCEL to the call's end, into @t (@n of them). */
void bench_cancel(int dev_fd, bool halted, uint64_t *t, int n)
{
	uint64_t t0, id;
	struct callbox_call_info c = { 0 };
	struct stuck_guest s;
	pthread_t thread;
	int i, ret;

	stuck_create(&s, dev_fd, halted);
	sem_init(&s.measured, 0, 0);
	pthread_create(&thread, NULL, stuck_runner, &s);
	for (i = 0; i < n; i++) {
		ret = callbox_call_submit_fd(s.fd, 0, &id);
		if (ret)
			die("SUBMIT", -ret);
		do {
			usleep(1000);
			ret = callbox_call_get_fd(s.fd, id, &c);
		} while (!ret && c.state != CALLBOX_STATE_ENTERED);
		usleep(5000);	/* well inside the guest */

		t0 = now_ns();
		ret = callbox_call_cancel_fd(s.fd, id);
		if (!ret)
			ret = callbox_call_wait_fd(s.fd, id, 0, &c);
		t[i] = now_ns() - t0;
		if (ret || c.reason != CALLBOX_ABORT_CANCELLED)
			die("cancel", ret ? -ret : EPROTO);
		sem_post(&s.measured);
	}
	/* The runner's RUN returns ESHUTDOWN; only then is the fd closed. */
	callbox_sandbox_shutdown_fd(s.fd);
	pthread_join(thread, NULL);
	sem_destroy(&s.measured);
	stuck_destroy(&s);
}

/* How late a 2 ms deadline stops a spinning guest, into @t (@n). */
void bench_deadline(int dev_fd, uint64_t *t, int n)
{
	uint64_t deadline;
	struct callbox_call_info c = { 0 };
	struct stuck_guest s;
	int i, ret;

	stuck_create(&s, dev_fd, false);
	for (i = 0; i < n; i++) {
		deadline = now_ns() + 2000000;
		ret = callbox_call_sync_fd(s.fd, deadline, &c);
		t[i] = now_ns() - deadline;
		if (ret || c.reason != CALLBOX_ABORT_DEADLINE)
			die("deadline", ret ? -ret : EPROTO);
		ret = raw_guest_reset(&s.g, s.run, s.fd);
		if (ret)
			die("reset", -ret);
	}
	stuck_destroy(&s);
}
