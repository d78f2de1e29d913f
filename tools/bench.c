// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * callbox benchmark, run in the test VM by `make bench`.
 *
 * Measures in one run, interleaved in rounds so drift hits all equally:
 *   floor     raw KVM_RUN -> KVM_EXIT_IO round trips from userspace,
 *             on a guest that does nothing but `out` (one exit per call)
 *   kernel    a VM exit that KVM handles in the kernel, never returning
 *   exit      to userspace (a CPUID), against the floor: the least a call
 *             that ends in an exit can cost, so the bound of batch below
 *   sync      CALLBOX_CALL_SYNC on the same raw guest (one ioctl, one exit)
 *   sdk noop  callbox_call_int("noop") on a real SDK guest (signature
 *             check, request and result as wire messages, guest-side
 *             dispatch by name, one exit)
 *   fresh     the same on a sandbox with CALLBOX_CONFIG_FRESH_CALLS: a
 *             restore before each call, against sdk noop
 *   async     SUBMIT + WAIT on one thread, RUN on a runner thread
 *   batch     BENCH_BATCH SUBMITs, one BATCH that runs them all, the
 *             WAITs, per call (bench_batch.c)
 * and prints per-call medians and their ratio to the floor. Then, for
 * the kernel's control of a running guest (bench_stop.c):
 *   cancel    CANCEL to the call's end, for a guest spinning in `jmp $`
 *             and for one asleep in HLT with the in-kernel irqchip
 *   deadline  how late a deadline stops a spinning guest
 * and last, typed calls of growing size and one with a host call, each
 * against a typed call that passes nothing (echo.elf and host.elf, which
 * must sit beside the guest given; bench_typed.c).
 * Under TCG the absolute numbers mean little; the ratios are the result.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/callbox.h>
#include <linux/kvm.h>

#include <callbox/callbox.h>

#include "bench.h"
#include "bench_report.h"
#include "bench_util.h"
#include "raw_guest.h"

#define ROUNDS		10
#define PER_ROUND	500
/*
 * floor.kernel_exit: a sample, of RAW_GUEST_CPUID_EXITS + 1 exits, for
 * every this many of the floor's.
 */
#define KERNEL_EXIT_EVERY	10
#define SAMPLES		(ROUNDS * PER_ROUND)
/* --quick: enough to prove each benchmark runs. */
#define QUICK_ROUNDS	2
#define QUICK_PER_ROUND	50

bool bench_quick;

void floor_call(int vcpu_fd, struct kvm_run *run)
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
	struct callbox_call_info c = { 0 };
	int ret = callbox_call_sync_fd(sandbox_fd, 0, &c);

	if (ret)
		die("CALLBOX_CALL_SYNC", -ret);
	if (c.state != CALLBOX_STATE_EXITED) {
		fprintf(stderr, "bench: call aborted (reason %u)\n", c.reason);
		exit(1);
	}
}

/* ---- async: a runner thread serves SUBMIT + WAIT from another ---- */

struct async_bench {
	int fd;
	pthread_t runner;
	int runner_tid;
};

static void *async_runner(void *p)
{
	struct async_bench *a = p;
	struct callbox_call_info c = { 0 };

	a->runner_tid = gettid();
	/* Runs until the sandbox shuts down (ESHUTDOWN). */
	while (!callbox_call_run_fd(a->fd, 0, 0, &c))
		;
	return NULL;
}

static void async_call(int fd)
{
	struct callbox_call_info c = { 0 };
	uint64_t id;
	int ret;

	ret = callbox_call_submit_fd(fd, 0, &id);
	if (!ret)
		ret = callbox_call_wait_fd(fd, id, 0, &c);
	if (ret)
		die("SUBMIT/WAIT", -ret);
	if (c.state != CALLBOX_STATE_EXITED) {
		fprintf(stderr, "bench: async call aborted (reason %u)\n",
			c.reason);
		exit(1);
	}
}

static void sdk_call(struct callbox_sandbox *sb)
{
	if (callbox_call_int(sb, "noop", NULL, 0, NULL)) {
		fprintf(stderr, "bench: noop: %s\n", callbox_sandbox_last_error(sb));
		exit(1);
	}
}

/* Counted calls (bench_count_calls()): @calls of each kind. */
struct counted {
	int sandbox_fd, async_fd;
	struct callbox_sandbox *sb;
};

static void count_sync(void *p, int calls)
{
	struct counted *c = p;

	while (calls--)
		sync_call(c->sandbox_fd);
}

static void count_sdk(void *p, int calls)
{
	struct counted *c = p;

	while (calls--)
		sdk_call(c->sb);
}

static void count_async(void *p, int calls)
{
	struct counted *c = p;

	while (calls--)
		async_call(c->async_fd);
}

/* The figures, as a table on stdout and, if @json, as JSON there. */
static void print_report(const char *json)
{
	FILE *f;

	printf("callbox bench%s: medians and 99th percentiles, each against its baseline\n"
	       "(under TCG compare ratios only)\n", bench_quick ? " --quick" : "");
	bench_report_print(stdout);
	if (!json)
		return;
	f = fopen(json, "w");
	if (!f)
		die(json, errno);
	bench_report_json(f);
	if (fclose(f))
		die(json, errno);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench [--quick] [--lifecycle] [--json FILE] [GUEST]\n"
		"Benchmarks callbox's calls, creation and stops against the KVM\n"
		"floor; GUEST (default /guests/arith.elf) exports noop, and\n"
		"echo.elf and host.elf sit beside it.\n"
		"  --quick      a few samples each: proves the benchmarks run\n"
		"  --lifecycle  only creating, resetting and restoring sandboxes,\n"
		"               and what live ones cost in memory (create.*,\n"
		"               reset.*, restore.*, memory.*)\n"
		"  --json FILE  also write every figure to FILE, as JSON\n");
}

int main(int argc, char **argv)
{
	const char *guest = "/guests/arith.elf", *json = NULL;
	static uint64_t t_floor[SAMPLES], t_sync[SAMPLES], t_sdk[SAMPLES];
	static uint64_t t_exit[SAMPLES / KERNEL_EXIT_EVERY];
	static uint64_t t_async[SAMPLES], t_fresh[SAMPLES];
	static uint64_t t_batch[SAMPLES / BENCH_BATCH];
	static uint64_t t_batch_run[SAMPLES / BENCH_BATCH];
	static uint64_t t_spin[STOP_ROUNDS], t_hlt[STOP_ROUNDS];
	static uint64_t t_late[STOP_ROUNDS];
	struct raw_guest floor_guest, exit_guest, sync_guest, async_guest;
	int rounds = ROUNDS, per_round = PER_ROUND, stops = STOP_ROUNDS;
	bool lifecycle = false;
	struct async_bench async = { .runner_tid = 0 };
	struct callbox_sandbox *sb, *fresh;
	struct callbox_config fresh_cfg;
	struct counted counted;
	int dev_fd, sandbox_fd, ret, r, i, n = 0, nb = 0, ne = 0, tids[2];
	struct kvm_run *run, *exit_run;
	size_t run_size, exit_run_size;
	uint64_t t0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			bench_quick = true;
		} else if (!strcmp(argv[i], "--lifecycle")) {
			lifecycle = true;
		} else if (!strcmp(argv[i], "--json") && i + 1 < argc) {
			json = argv[++i];
		} else if (!strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-') {
			usage(stderr);
			return 2;
		} else {
			guest = argv[i];
		}
	}
	if (bench_quick) {
		rounds = QUICK_ROUNDS;
		per_round = QUICK_PER_ROUND;
		stops = 5;
	}
	if (lifecycle) {
		bench_create(guest);
		bench_memory_figures(guest);
		print_report(json);
		return 0;
	}

	ret = raw_guest_create(&floor_guest, raw_guest_counter,
			       sizeof(raw_guest_counter));
	if (ret)
		die("raw guest", -ret);
	run = raw_guest_map_run(&floor_guest, &run_size);
	if (run == MAP_FAILED)
		die("mmap kvm_run", errno);

	ret = raw_guest_create(&exit_guest, raw_guest_cpuid,
			       sizeof(raw_guest_cpuid));
	if (ret)
		die("raw guest", -ret);
	exit_run = raw_guest_map_run(&exit_guest, &exit_run_size);
	if (exit_run == MAP_FAILED)
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

	ret = raw_guest_create(&async_guest, raw_guest_counter,
			       sizeof(raw_guest_counter));
	if (ret)
		die("raw guest", -ret);
	async.fd = callbox_sandbox_create_fd(dev_fd, async_guest.vm.vm_fd,
					     async_guest.vm.vcpu_fd);
	if (async.fd < 0)
		die("CALLBOX_SANDBOX_CREATE", -async.fd);
	pthread_create(&async.runner, NULL, async_runner, &async);

	ret = callbox_sandbox_new(NULL, &sb);
	if (ret)
		die("callbox_sandbox_new", -ret);
	if (callbox_sandbox_load(sb, guest)) {
		fprintf(stderr, "bench: %s\n", callbox_sandbox_last_error(sb));
		return 1;
	}
	/* The same calls, each on the guest as after its init. */
	callbox_config_init(&fresh_cfg);
	fresh_cfg.flags = CALLBOX_CONFIG_FRESH_CALLS;
	ret = callbox_sandbox_new(&fresh_cfg, &fresh);
	if (ret)
		die("callbox_sandbox_new", -ret);
	if (callbox_sandbox_load(fresh, guest)) {
		fprintf(stderr, "bench: %s\n",
			callbox_sandbox_last_error(fresh));
		return 1;
	}

	/* Warm up each path (first entries fault pages in). */
	for (i = 0; i < 100; i++) {
		floor_call(floor_guest.vm.vcpu_fd, run);
		if (i % KERNEL_EXIT_EVERY == 0)
			floor_call(exit_guest.vm.vcpu_fd, exit_run);
		sync_call(sandbox_fd);
		sdk_call(sb);
		sdk_call(fresh);
		async_call(async.fd);
	}

	/* Interleaved in rounds, so that drift hits all alike. */
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < per_round; i++) {
			t0 = now_ns();
			floor_call(floor_guest.vm.vcpu_fd, run);
			t_floor[n + i] = now_ns() - t0;
		}
		/* One KVM_RUN: the CPUIDs' exits and the DONE's, per exit. */
		for (i = 0; i < per_round / KERNEL_EXIT_EVERY; i++, ne++) {
			t0 = now_ns();
			floor_call(exit_guest.vm.vcpu_fd, exit_run);
			t_exit[ne] = (now_ns() - t0) /
				     (RAW_GUEST_CPUID_EXITS + 1);
		}
		for (i = 0; i < per_round; i++) {
			t0 = now_ns();
			sync_call(sandbox_fd);
			t_sync[n + i] = now_ns() - t0;
		}
		for (i = 0; i < per_round; i++) {
			t0 = now_ns();
			sdk_call(sb);
			t_sdk[n + i] = now_ns() - t0;
		}
		for (i = 0; i < per_round; i++) {
			t0 = now_ns();
			sdk_call(fresh);
			t_fresh[n + i] = now_ns() - t0;
		}
		for (i = 0; i < per_round; i++) {
			t0 = now_ns();
			async_call(async.fd);
			t_async[n + i] = now_ns() - t0;
		}
		for (i = 0; i < per_round / BENCH_BATCH; i++, nb++)
			bench_batch_calls(sandbox_fd, &t_batch[nb],
					  &t_batch_run[nb]);
		n += per_round;
	}
	bench_figure("floor.kvm_run", t_floor, n, NULL);
	bench_figure("floor.kernel_exit", t_exit, ne, "floor.kvm_run");
	bench_figure("call.sync.raw", t_sync, n, "floor.kvm_run");
	bench_figure("call.sdk.noop", t_sdk, n, "floor.kvm_run");
	bench_figure("call.fresh", t_fresh, n, "call.sdk.noop");
	bench_old_design();
	bench_figure("call.async", t_async, n, "call.old_design");
	bench_figure("call.batch.per_call", t_batch, nb, "floor.kvm_run");
	bench_figure("call.batch.run_only", t_batch_run, nb, "floor.kvm_run");

	counted = (struct counted) {
		.sandbox_fd = sandbox_fd, .async_fd = async.fd, .sb = sb,
	};
	tids[0] = gettid();
	tids[1] = async.runner_tid;
	bench_count_calls("call.sync.raw", tids, 1, count_sync, &counted,
			  per_round);
	bench_count_calls("call.sdk.noop", tids, 1, count_sdk, &counted,
			  per_round);
	bench_count_calls("call.async", tids, 2, count_async, &counted,
			  per_round);
	bench_count_calls("call.batch.per_call", tids, 1, bench_count_batch,
			  &sandbox_fd, per_round);

	/* Shutting down frees the runner (its RUN returns ESHUTDOWN). */
	callbox_sandbox_shutdown_fd(async.fd);
	pthread_join(async.runner, NULL);
	close(async.fd);

	bench_cancel(dev_fd, false, t_spin, stops);
	bench_figure("cancel.spin", t_spin, stops, "floor.kvm_run");
	bench_cancel(dev_fd, true, t_hlt, stops);
	bench_figure("cancel.hlt", t_hlt, stops, "floor.kvm_run");
	bench_deadline(dev_fd, t_late, stops);
	bench_figure("deadline.overshoot", t_late, stops, "floor.kvm_run");
	bench_create(guest);
	bench_memory_figures(guest);

	print_report(json);

	if (!bench_quick) {
		/* The typed guests sit beside @guest. */
		char dir[4096];
		char *slash;

		snprintf(dir, sizeof(dir), "%s", guest);
		slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		else
			snprintf(dir, sizeof(dir), ".");
		bench_typed(dir);
	}

	callbox_sandbox_free(fresh);
	callbox_sandbox_free(sb);
	close(sandbox_fd);
	close(dev_fd);
	munmap(run, run_size);
	raw_guest_destroy(&async_guest);
	raw_guest_destroy(&sync_guest);
	munmap(exit_run, exit_run_size);
	raw_guest_destroy(&exit_guest);
	raw_guest_destroy(&floor_guest);
	return 0;
}
