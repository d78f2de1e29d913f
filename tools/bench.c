// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * callbox benchmark, run in the test VM by `make bench`.
 *
 * Measures in one run, interleaved in rounds so drift hits all equally:
 *   floor     raw KVM_RUN -> KVM_EXIT_IO round trips from userspace,
 *             on a guest that does nothing but `out` (one exit per call)
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
 * the kernel's control of a running guest:
 *   cancel    CANCEL to the call's end, for a guest spinning in `jmp $`
 *             and for one asleep in HLT with the in-kernel irqchip
 *   deadline  how late a deadline stops a spinning guest
 * and last, typed calls of growing size and one with a host call, each
 * against a typed call that passes nothing (echo.elf and host.elf, which
 * must sit beside the guest given).
 * Under TCG the absolute numbers mean little; the ratios are the result.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
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

/* ---- stopping a guest that does not stop by itself ---- */

#define STOP_ROUNDS 25

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
static void bench_cancel(int dev_fd, bool halted, uint64_t *t, int n)
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
static void bench_deadline(int dev_fd, uint64_t *t, int n)
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

/* ---- typed calls: what values and host calls add to a no-op call ---- */

#define TYPED_ROUNDS	5
#define TYPED_PER_ROUND	200
#define TYPED_SAMPLES	(TYPED_ROUNDS * TYPED_PER_ROUND)

struct typed_case {
	const char *label;
	struct callbox_sandbox *sb;
	const char *function;
	struct callbox_wire_value args[32];
	unsigned int nr_args;
	uint64_t t[TYPED_SAMPLES];
};

static int bench_transform(struct callbox_sandbox *sb,
			   const struct callbox_wire_value *args,
			   struct callbox_wire_writer *result, void *opaque)
{
	(void)sb;
	(void)opaque;
	return callbox_wire_put_i64(result, 2 * args[0].i64);
}

static struct callbox_sandbox *typed_sandbox(const char *guest)
{
	struct callbox_config cfg;
	struct callbox_sandbox *sb;
	int ret;

	callbox_config_init(&cfg);
	cfg.input_size = 64 << 10;
	cfg.output_size = 64 << 10;
	cfg.max_calls = 1;
	ret = callbox_sandbox_new(&cfg, &sb);
	if (ret)
		die("callbox_sandbox_new", -ret);
	if (callbox_sandbox_add_host_fn(sb, "transform", "i64(i64)",
					bench_transform, NULL) ||
	    callbox_sandbox_load(sb, guest)) {
		fprintf(stderr, "bench: %s: %s\n", guest, callbox_sandbox_last_error(sb));
		exit(1);
	}
	return sb;
}

static void typed_call(struct typed_case *c)
{
	struct callbox_wire_value r;

	if (callbox_call(c->sb, c->function, c->args, c->nr_args, &r)) {
		fprintf(stderr, "bench: %s: %s\n", c->function,
			callbox_sandbox_last_error(c->sb));
		exit(1);
	}
	callbox_value_free(&r);
}

/*
 * Typed calls on the example guests echo.elf and host.elf, beside them in
 * @dir, interleaved in rounds; each is printed against the first, a call
 * that passes nothing, measured in the same rounds.
 */
static void bench_typed(const char *dir)
{
	static char text[1024 + 1];
	static uint8_t blob[60 << 10];
	static struct typed_case cases[6];
	struct callbox_sandbox *echo, *host;
	char path[4096 + 16];
	unsigned int i, k, j, n = 0;
	uint64_t t0, base;

	snprintf(path, sizeof(path), "%s/echo.elf", dir);
	echo = typed_sandbox(path);
	snprintf(path, sizeof(path), "%s/host.elf", dir);
	host = typed_sandbox(path);
	memset(text, 't', sizeof(text) - 1);
	memset(blob, 0xb5, sizeof(blob));

	cases[0] = (struct typed_case){ .label = "nothing(): void, no arguments",
					.sb = echo, .function = "nothing" };
	cases[1] = (struct typed_case){ .label = "echo_i64(i64)", .sb = echo,
					.function = "echo_i64", .nr_args = 1 };
	cases[1].args[0] = CALLBOX_I64(-1);
	cases[2] = (struct typed_case){ .label = "sum32(32 x i64)", .sb = echo,
					.function = "sum32", .nr_args = 32 };
	for (i = 0; i < 32; i++)
		cases[2].args[i] = CALLBOX_I64(i);
	cases[3] = (struct typed_case){ .label = "echo_string(1 KiB)",
					.sb = echo, .function = "echo_string",
					.nr_args = 1 };
	cases[3].args[0] = CALLBOX_STRING(text);
	cases[4] = (struct typed_case){ .label = "echo_bytes(60 KiB)",
					.sb = echo, .function = "echo_bytes",
					.nr_args = 1 };
	cases[4].args[0] = CALLBOX_BYTES(blob, sizeof(blob));
	cases[5] = (struct typed_case){ .label = "via_host(i64): 1 host call",
					.sb = host, .function = "via_host",
					.nr_args = 1 };
	cases[5].args[0] = CALLBOX_I64(20);

	for (k = 0; k < 6; k++)
		for (i = 0; i < 50; i++)
			typed_call(&cases[k]);
	for (j = 0; j < TYPED_ROUNDS; j++) {
		for (k = 0; k < 6; k++) {
			for (i = 0; i < TYPED_PER_ROUND; i++) {
				t0 = now_ns();
				typed_call(&cases[k]);
				cases[k].t[n + i] = now_ns() - t0;
			}
		}
		n += TYPED_PER_ROUND;
	}

	printf("typed calls through callbox_call(), medians of %d:\n",
	       TYPED_SAMPLES);
	base = median(cases[0].t, TYPED_SAMPLES);
	for (k = 0; k < 6; k++) {
		uint64_t m = k ? median(cases[k].t, TYPED_SAMPLES) : base;

		printf("  %-38s %9.1f us  %.2fx nothing()\n", cases[k].label,
		       m / 1000.0, (double)m / base);
	}
	callbox_sandbox_free(host);
	callbox_sandbox_free(echo);
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
	static uint64_t t_async[SAMPLES], t_fresh[SAMPLES];
	static uint64_t t_batch[SAMPLES / BENCH_BATCH];
	static uint64_t t_batch_run[SAMPLES / BENCH_BATCH];
	static uint64_t t_spin[STOP_ROUNDS], t_hlt[STOP_ROUNDS];
	static uint64_t t_late[STOP_ROUNDS];
	struct raw_guest floor_guest, sync_guest, async_guest;
	int rounds = ROUNDS, per_round = PER_ROUND, stops = STOP_ROUNDS;
	bool lifecycle = false;
	struct async_bench async = { .runner_tid = 0 };
	struct callbox_sandbox *sb, *fresh;
	struct callbox_config fresh_cfg;
	struct counted counted;
	int dev_fd, sandbox_fd, ret, r, i, n = 0, nb = 0, tids[2];
	struct kvm_run *run;
	size_t run_size;
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
	raw_guest_destroy(&floor_guest);
	return 0;
}
