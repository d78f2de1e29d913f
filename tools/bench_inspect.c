// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * What inspection costs, for tools/vm/bench-inspect.sh (make bench).
 *
 *   bench-inspect rate [--listen]   median of sync calls on a raw guest,
 *                                   and of the raw KVM_RUN floor beside
 *                                   them, interleaved; with --listen, a
 *                                   thread follows the netlink events
 *                                   group meanwhile (and counts them)
 *   bench-inspect hold N            create N sandboxes (one VM, N vCPUs),
 *                                   print "ready", and keep them until
 *                                   stdin closes
 *   bench-inspect ps CLI            median time of callbox_inspect_list()
 *                                   and of "CLI ps" (output discarded)
 *
 * The script swaps modules between runs, so each run prints its sync
 * median as a ratio to its own floor: the floor does not depend on the
 * module, and the ratio cancels the drift of an emulated machine.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <linux/callbox.h>
#include <linux/kvm.h>

#include <callbox/callbox.h>

#include "bench_util.h"
#include "raw_guest.h"

#define ROUNDS		20
#define PER_ROUND	500
#define SAMPLES		(ROUNDS * PER_ROUND)

/* ---- a listener on the events group, draining as fast as it can ---- */

static atomic_bool listener_stop;
static atomic_ulong listener_events;

static void *listener(void *p)
{
	struct callbox_monitor *m = p;
	struct pollfd pfd = { .fd = callbox_monitor_fd(m), .events = POLLIN };
	struct callbox_event ev;

	while (!atomic_load(&listener_stop)) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		while (!callbox_monitor_read(m, &ev))
			atomic_fetch_add(&listener_events, 1);
	}
	return NULL;
}

static int bench_rate(bool listen)
{
	static uint64_t t_floor[SAMPLES], t_sync[SAMPLES];
	struct raw_guest floor_guest, sync_guest;
	struct callbox_monitor *m = NULL;
	struct callbox_call_info c = { 0 };
	pthread_t thread;
	struct kvm_run *run;
	int dev_fd, fd, ret, r, i, n = 0;
	uint64_t t0, m_floor, m_sync;
	size_t run_size;

	ret = raw_guest_create(&floor_guest, raw_guest_counter,
			       sizeof(raw_guest_counter));
	if (!ret)
		ret = raw_guest_create(&sync_guest, raw_guest_counter,
				       sizeof(raw_guest_counter));
	if (ret)
		die("raw guest", -ret);
	run = raw_guest_map_run(&floor_guest, &run_size);
	if (run == MAP_FAILED)
		die("mmap kvm_run", errno);
	dev_fd = callbox_open();
	if (dev_fd < 0)
		die("/dev/callbox", -dev_fd);
	fd = callbox_sandbox_create_fd(dev_fd, sync_guest.vm.vm_fd,
				       sync_guest.vm.vcpu_fd);
	if (fd < 0)
		die("CALLBOX_SANDBOX_CREATE", -fd);
	if (listen) {
		ret = callbox_monitor_open(&m);
		if (ret)
			die("callbox_monitor_open", -ret);
		pthread_create(&thread, NULL, listener, m);
	}

	for (r = -1; r < ROUNDS; r++) {
		/* Round -1 warms both paths up and is not counted. */
		for (i = 0; i < PER_ROUND; i++) {
			t0 = now_ns();
			if (ioctl(floor_guest.vm.vcpu_fd, KVM_RUN, 0))
				die("KVM_RUN", errno);
			if (r >= 0)
				t_floor[n + i] = now_ns() - t0;
		}
		for (i = 0; i < PER_ROUND; i++) {
			t0 = now_ns();
			ret = callbox_call_sync_fd(fd, 0, &c);
			if (ret)
				die("CALLBOX_CALL_SYNC", -ret);
			if (c.state != CALLBOX_STATE_EXITED)
				die("call did not exit", EIO);
			if (r >= 0)
				t_sync[n + i] = now_ns() - t0;
		}
		if (r >= 0)
			n += PER_ROUND;
	}
	if (listen) {
		atomic_store(&listener_stop, true);
		pthread_join(thread, NULL);
		callbox_monitor_close(m);
	}
	close(fd);

	m_floor = median(t_floor, SAMPLES);
	m_sync = median(t_sync, SAMPLES);
	printf("floor_ns %" PRIu64 " sync_ns %" PRIu64 " ratio %.4f events %lu\n",
	       m_floor, m_sync, (double)m_sync / m_floor,
	       atomic_load(&listener_events));
	return 0;
}

static int bench_hold(long count)
{
	struct raw_vm vm;
	int dev_fd, vcpu_fd, fd, ret;
	char c;
	long i;
	struct rlimit nofile = { .rlim_cur = count + 64, .rlim_max = count + 64 };

	/* One fd per sandbox: its vCPU's is closed, the sandbox holds it. */
	if (nofile.rlim_cur > 1024 && setrlimit(RLIMIT_NOFILE, &nofile))
		die("RLIMIT_NOFILE", errno);
	ret = raw_vm_create(&vm);
	if (ret)
		die("KVM VM", -ret);
	dev_fd = callbox_open();
	if (dev_fd < 0)
		die("/dev/callbox", -dev_fd);
	/* vCPU 0 is the raw VM's own; one sandbox on each vCPU. */
	for (i = 0; i < count; i++) {
		vcpu_fd = i ? ioctl(vm.vm_fd, KVM_CREATE_VCPU, i) : vm.vcpu_fd;
		if (vcpu_fd < 0)
			die("KVM_CREATE_VCPU", errno);
		fd = callbox_sandbox_create_fd(dev_fd, vm.vm_fd, vcpu_fd);
		if (fd < 0)
			die("CALLBOX_SANDBOX_CREATE", -fd);
		if (i)
			close(vcpu_fd);
	}
	printf("ready\n");
	fflush(stdout);
	while (read(STDIN_FILENO, &c, 1) > 0)
		;
	return 0;
}

#define PS_RUNS	11

static int bench_ps(const char *cli)
{
	uint64_t t_list[PS_RUNS], t_cli[PS_RUNS], t0;
	struct callbox_sandbox_status *list;
	char cmd[512];
	size_t count = 0;
	int i, ret;

	snprintf(cmd, sizeof(cmd), "%s ps >/dev/null", cli);
	for (i = 0; i < PS_RUNS; i++) {
		t0 = now_ns();
		ret = callbox_inspect_list(&list, &count);
		t_list[i] = now_ns() - t0;
		if (ret)
			die(callbox_inspect_last_error(), -ret);
		callbox_inspect_free(list, count);
		t0 = now_ns();
		if (system(cmd))
			die(cmd, EIO);
		t_cli[i] = now_ns() - t0;
	}
	printf("sandboxes %zu inspect_list_ms %.2f ps_ms %.2f\n", count,
	       median(t_list, PS_RUNS) / 1e6, median(t_cli, PS_RUNS) / 1e6);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "rate"))
		return bench_rate(argc == 3 && !strcmp(argv[2], "--listen"));
	if (argc == 3 && !strcmp(argv[1], "hold"))
		return bench_hold(strtol(argv[2], NULL, 0));
	if (argc == 3 && !strcmp(argv[1], "ps"))
		return bench_ps(argv[2]);
	fprintf(stderr,
		"usage: bench-inspect rate [--listen]\n"
		"       bench-inspect hold N\n"
		"       bench-inspect ps CLI\n");
	return 2;
}
