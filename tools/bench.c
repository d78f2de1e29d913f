// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * callbox benchmark, run in the test VM by `make bench`.
 *
 * Measures in one run, interleaved in rounds so drift hits all equally:
 *   floor     raw KVM_RUN -> KVM_EXIT_IO round trips from userspace,
 *             on a guest that does nothing but `out` (one exit per call)
 *   sync      CALLBOX_CALL_SYNC on the same raw guest (one ioctl, one exit)
 *   sdk noop  callbox_call_int("noop") on a real SDK guest (mailbox write,
 *             guest-side dispatch by name, one exit)
 * and prints per-call medians and their ratio to the floor. Under TCG
 * the absolute numbers mean little; the ratios are the result.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <callbox/callbox.h>

#include "raw_guest.h"

#define ROUNDS		10
#define PER_ROUND	500
#define SAMPLES		(ROUNDS * PER_ROUND)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench: %s: %s\n", what, strerror(err));
	exit(1);
}

/* One KVM_RUN from userspace, which must come back as our DONE port. */
static void floor_call(int vcpu_fd, struct kvm_run *run)
{
	if (ioctl(vcpu_fd, KVM_RUN, 0))
		die("KVM_RUN", errno);
	if (run->exit_reason != KVM_EXIT_IO ||
	    run->io.port != CALLBOX_PORT_DONE) {
		fprintf(stderr, "bench: unexpected exit %u\n",
			run->exit_reason);
		exit(1);
	}
}

static void sync_call(int sandbox_fd)
{
	struct callbox_call_info c;
	int ret = callbox_call_sync_fd(sandbox_fd, 0, &c);

	if (ret)
		die("CALLBOX_CALL_SYNC", -ret);
	if (c.state != CALLBOX_STATE_EXITED) {
		fprintf(stderr, "bench: call aborted (reason %u)\n", c.reason);
		exit(1);
	}
}

static void sdk_call(struct callbox_sandbox *sb)
{
	if (callbox_call_int(sb, "noop", NULL, 0, NULL)) {
		fprintf(stderr, "bench: noop: %s\n", callbox_last_error(sb));
		exit(1);
	}
}

int main(int argc, char **argv)
{
	const char *guest = argc > 1 ? argv[1] : "/guests/arith.elf";
	static uint64_t t_floor[SAMPLES], t_sync[SAMPLES], t_sdk[SAMPLES];
	struct raw_guest floor_guest, sync_guest;
	struct callbox_sandbox *sb;
	uint64_t m_floor, m_sync, m_sdk, t0;
	struct kvm_run *run;
	int dev_fd, sandbox_fd, ret, r, i, n = 0;
	long run_size;

	ret = raw_guest_create(&floor_guest, raw_guest_counter,
			       sizeof(raw_guest_counter));
	if (ret)
		die("raw guest", -ret);
	run_size = ioctl(floor_guest.vm.kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0)
		die("KVM_GET_VCPU_MMAP_SIZE", errno);
	run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   floor_guest.vm.vcpu_fd, 0);
	if (run == MAP_FAILED)
		die("mmap kvm_run", errno);

	ret = raw_guest_create(&sync_guest, raw_guest_counter,
			       sizeof(raw_guest_counter));
	if (ret)
		die("raw guest", -ret);
	dev_fd = callbox_open();
	if (dev_fd < 0)
		die("/dev/callbox", -dev_fd);
	sandbox_fd = callbox_sandbox_create_fd(dev_fd, sync_guest.vm.vm_fd,
					       sync_guest.vm.vcpu_fd);
	if (sandbox_fd < 0)
		die("CALLBOX_SANDBOX_CREATE", -sandbox_fd);

	sb = callbox_sandbox_new(NULL);
	if (!sb)
		die("callbox_sandbox_new", ENOMEM);
	if (callbox_sandbox_load(sb, guest)) {
		fprintf(stderr, "bench: %s\n", callbox_last_error(sb));
		return 1;
	}

	/* Warm up each path (first entries fault pages in). */
	for (i = 0; i < 100; i++) {
		floor_call(floor_guest.vm.vcpu_fd, run);
		sync_call(sandbox_fd);
		sdk_call(sb);
	}

	for (r = 0; r < ROUNDS; r++) {
		for (i = 0; i < PER_ROUND; i++) {
			t0 = now_ns();
			floor_call(floor_guest.vm.vcpu_fd, run);
			t_floor[n + i] = now_ns() - t0;
		}
		for (i = 0; i < PER_ROUND; i++) {
			t0 = now_ns();
			sync_call(sandbox_fd);
			t_sync[n + i] = now_ns() - t0;
		}
		for (i = 0; i < PER_ROUND; i++) {
			t0 = now_ns();
			sdk_call(sb);
			t_sdk[n + i] = now_ns() - t0;
		}
		n += PER_ROUND;
	}

	m_floor = median(t_floor, SAMPLES);
	m_sync = median(t_sync, SAMPLES);
	m_sdk = median(t_sdk, SAMPLES);

	printf("callbox bench: %d calls each, medians (TCG: compare ratios only)\n",
	       SAMPLES);
	printf("  %-38s %9.1f us  1.00x\n", "floor: raw KVM_RUN + IO exit",
	       m_floor / 1000.0);
	printf("  %-38s %9.1f us  %.2fx\n", "sync: CALLBOX_CALL_SYNC, raw guest",
	       m_sync / 1000.0, (double)m_sync / m_floor);
	printf("  %-38s %9.1f us  %.2fx\n", "sdk: callbox_call_int(noop)",
	       m_sdk / 1000.0, (double)m_sdk / m_floor);

	callbox_sandbox_free(sb);
	close(sandbox_fd);
	close(dev_fd);
	munmap(run, run_size);
	raw_guest_destroy(&sync_guest);
	raw_guest_destroy(&floor_guest);
	return 0;
}
