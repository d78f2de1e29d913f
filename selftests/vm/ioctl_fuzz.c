// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl_fuzz: a structured fuzzer of callbox's ioctls. For
 * CALLBOX_FUZZ_SECONDS (default 60) NR_WORKERS threads issue sequences of
 * ioctls on /dev/callbox and on sandbox fds, from a seed it prints
 * (CALLBOX_FUZZ_SEED, default from the clock): a failure names its seed,
 * and the same seed gives every thread the same choices again (how the
 * threads interleave differs from run to run).
 *
 * What it generates (each worker, sequence after sequence):
 *
 * - slot sequences: up to a dozen of SYNC, SUBMIT (and bursts past
 *   CALLBOX_MAX_CALLS), RUN (blocking, NONBLOCK, an id), BATCH, WAIT,
 *   GET, CANCEL, RESET (with or without rewinding the guest first), RESTORE
 *   (BEGIN, the guest's registers put back or not, then COMMIT or
 *   ABANDON; a lone COMMIT or ABANDON, an unknown op, a restore left
 *   begun for another thread or a shutdown to end), SHUTDOWN, poll and
 *   epoll, on one of NR_SLOTS shared sandboxes, or on a dup of it; ids 0,
 *   small, recent (its own and other threads'), huge; deadlines none,
 *   past, near, far, KTIME_MAX and beyond; @out empty, garbage, or naming
 *   a call to continue; a host call continued or abandoned, an
 *   interrupted call continued or abandoned. BATCH gets 1 to
 *   CALLBOX_MAX_CALLS + 1 ids: calls it submitted just before, mostly,
 *   mixed with other threads' ids, 0, huge ones and duplicates; @done 0,
 *   inside, at or past @nr; @ids readable, in a read-only page, NULL,
 *   unmapped, starting in or running into an unmapped page; a host call
 *   it stopped at is continued with RUN and the rest batched again from
 *   @done + 1. The guest is the scripted raw guest of inspect_util.h:
 *   DONE, HOSTCALL, several host calls, spin, HLT, abort, a bad port, as
 *   the worker sets it before a call;
 * - ABI probes: every size (0, below the struct, exact, longer with a zero
 *   and a non-zero tail, 4096 with both, 4097, huge), bad flags, reserved
 *   fields, deadlines, RESTORE ops, BATCH's @nr and @done, pointers that
 *   are NULL, kernel, unmapped, end in an unmapped page, or are
 *   read-only (for BATCH too, whatever its @ids); on a private
 *   sandbox, where fdinfo then shows that no failed ioctl had an effect;
 * - SANDBOX_CREATE with fds of every wrong kind (closed, -1, a pipe,
 *   /dev/null, /dev/kvm, /dev/callbox, a sandbox fd as the VM, a VM fd as
 *   the vCPU, a vCPU of another VM, a vCPU's stats fd), and on a vCPU
 *   bound or free; callbox commands on fds of other kinds and unknown
 *   commands (ENOTTY);
 * - close races: a sandbox of its own that two helper threads use while
 *   the worker closes its last fd, or closes it and shuts the sandbox down
 *   through a dup, or shuts it down under them;
 * - fork: a child tries the inherited sandbox (EIO) and the parent's VM
 *   (EIO), makes a sandbox of its own and runs calls in it, then exits, or
 *   is killed (in the middle of a call that spins, say);
 * - meanwhile a recycler thread shuts a slot down and binds its vCPU to a
 *   new sandbox, or closes it with calls in it and builds a new guest,
 *   every few hundred ms; and a pinger sends SIGUSR1 (no SA_RESTART) to
 *   the workers.
 *
 * The oracle:
 *
 * - every ioctl's errno is one of those the uapi header documents for it,
 *   narrowed by what the request is: a malformed struct gets exactly the
 *   errno of its fault and never succeeds; EBADF only where an fd may have
 *   been closed, EIO only in a child, EFAULT only for a bad pointer or a
 *   read-only struct that has to be written back, ETIMEDOUT only with a
 *   deadline, EAGAIN from RUN only with NONBLOCK, EINTR only from the
 *   ioctls that wait for a call (EOPNOTSUPP never: no vCPU here has a
 *   signal mask). BATCH: EINVAL only for @flags, @nr, @done, or an @out
 *   that names a call to continue other than @ids[@done]; EFAULT only
 *   for a bad struct pointer, a read-only struct, or an id from @done on
 *   that cannot be read (and always when @ids[@done] cannot); ENOENT
 *   only with an id from @done on that may never have been issued, ESRCH
 *   only with one that may have been. Every unexpected one is printed
 *   with the request;
 * - what comes back is consistent: states, reasons and flags in range and
 *   coherent, ids new and increasing, a call this thread cancelled (0)
 *   ends CANCELLED, a SYNC with no deadline never ends DEADLINE and one
 *   with a past deadline always does, a BATCH's @done is between the
 *   @done it was given and @nr (below @nr on an error), the calls before
 *   it are EXITED (GET or WAIT), @out names @ids[@done] (the last id when
 *   @done is @nr, and EXITED then), an error names the id it is about
 *   (EFAULT: one that cannot be read), a zero tail stays zero, a SHUTDOWN
 *   that returned refuses the next SUBMIT and polls POLLHUP, a vCPU is
 *   free for a new sandbox once SHUTDOWN returned;
 * - no ioctl (nor KVM_RUN, poll, epoll_wait) is in flight for more than
 *   STUCK_NS beyond its own timeout: a watchdog thread names it, with its
 *   arguments and the kernel stack of the thread. Blocking waits are part
 *   of the run (WAIT and RUN without a deadline): the recycler shuts every
 *   slot down within a few seconds, which must end them;
 * - every child exits by itself with status 0, or by the SIGKILL it was
 *   sent;
 * - at the end, with every fd closed: debugfs "objects" shows no sandbox
 *   and no call, sysfs "sandboxes" is 0, and /dev/kmsg got no kernel
 *   report during the run (the VM runner checks dmesg again).
 *
 * Its parts, which share ioctl_fuzz.h: fuzz_common.c (errno sets, the
 * command table, shared state, random numbers, reports, raw guests),
 * fuzz_request.c (a request placed, issued and judged), fuzz_ops.c (the
 * operations of a slot sequence), fuzz_batch.c (CALL_BATCH),
 * fuzz_sequences.c (the sequences), fuzz_races.c (close races, fork),
 * fuzz_watchdog.c (the watchdog), fuzz_threads.c (the workers, the
 * recycler and the pinger); this file has the verdict and main().
 */
#include "ioctl_fuzz.h"
#include "inspect_util.h"

/* ---- the end ---- */

static const char *const kmsg_reports[] = {
	"WARNING:", "BUG:", "Oops", "general protection", "lockdep",
	"possible circular locking", "INFO: task", "Call Trace:", "UBSAN:",
	"KASAN:", "kernel BUG", "refcount_t:", "list_add corruption",
	"list_del corruption", "unreferenced object", "soft lockup",
	"callbox",
};

/* Kernel reports in /dev/kmsg since @fd was opened: how many. */
static int kmsg_scan(int fd)
{
	char buf[8192];
	int found = 0;
	size_t i;

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		char *msg;

		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten: read on */
		if (n <= 0)
			break;
		buf[n] = 0;
		msg = strchr(buf, ';');
		msg = msg ? msg + 1 : buf;
		for (i = 0; i < sizeof(kmsg_reports) / sizeof(kmsg_reports[0]); i++) {
			if (strstr(msg, kmsg_reports[i])) {
				if (found++ < 30)
					ksft_print_msg("kmsg: %.*s", (int)strcspn(msg, "\n") + 1, msg);
				break;
			}
		}
	}
	return found;
}

static int g_kmsg_fd = -1;
static bool g_have_debugfs;

static void print_stats(void)
{
	char line[1024];
	int c, b;
	size_t n;

	ksft_print_msg("%lu sequences, %lu close races, %lu forks (%lu killed), %lu slot recycles, %lu rewinds, %lu polls, %lu signals\n",
		       atomic_load(&g_seqs), atomic_load(&g_races),
		       atomic_load(&g_forks), atomic_load(&g_kills),
		       atomic_load(&g_recycles), atomic_load(&g_rewinds),
		       atomic_load(&g_polls), atomic_load(&g_sigs));
	for (c = 0; c < NR_CMDS; c++) {
		n = snprintf(line, sizeof(line), "%-16s ok %lu", cmds[c].name,
			     atomic_load(&g_stat[c][NR_EB]));
		for (b = 0; b < NR_EB && n < sizeof(line); b++)
			if (atomic_load(&g_stat[c][b]))
				n += snprintf(line + n, sizeof(line) - n,
					      ", %s %lu", errname(eb_errno[b]),
					      atomic_load(&g_stat[c][b]));
		if (atomic_load(&g_stat[c][NR_EB + 1]) && n < sizeof(line))
			snprintf(line + n, sizeof(line) - n, ", other %lu",
				 atomic_load(&g_stat[c][NR_EB + 1]));
		ksft_print_msg("%s\n", line);
	}
	n = snprintf(line, sizeof(line), "outcomes: EXITED %lu, HOSTCALL %lu",
		     atomic_load(&g_out_exited), atomic_load(&g_out_hostcall));
	for (b = 1; b < NR_REASONS && n < sizeof(line); b++)
		if (atomic_load(&g_out_aborted[b]))
			n += snprintf(line + n, sizeof(line) - n,
				      ", ABORTED %s %lu", reason_names[b],
				      atomic_load(&g_out_aborted[b]));
	ksft_print_msg("%s\n", line);
	{
		atomic_ulong *stop = g_batch_stop;
		unsigned long nb = 0;

		for (b = 0; b < NR_EB + 2; b++)
			nb += atomic_load(&g_stat[C_BATCH][b]);
		ksft_print_msg("CALL_BATCH: %lu ioctls; %lu calls ran to EXITED in them, %lu batches ran all; stopped at HOSTCALL %lu, ABORTED %lu, EXITED before its turn %lu\n",
			       nb, atomic_load(&g_batch_ran),
			       atomic_load(&g_batch_all),
			       atomic_load(&stop[CALLBOX_STATE_HOSTCALL]),
			       atomic_load(&stop[CALLBOX_STATE_ABORTED]),
			       atomic_load(&stop[CALLBOX_STATE_EXITED]));
	}
}

static pthread_mutex_t g_exit_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * The verdicts. @finished: every thread ended and every fd is closed;
 * else (something is stuck) only the first three can be given.
 */
void results_and_exit(bool finished)
{
	struct cb_objects o = { -1, -1 };
	uint64_t sandboxes = UINT64_MAX;
	bool ran;
	int ret = 0;

	pthread_mutex_lock(&g_exit_lock);
	print_stats();
	ksft_test_result(!atomic_load(&g_stuck),
			 "no ioctl in flight for over %" PRIu64 " ms beyond its timeout\n",
			 (uint64_t)(STUCK_NS / MS));
	ksft_test_result(!atomic_load(&g_unexpected),
			 "every errno documented, every outcome consistent (%d not)\n",
			 atomic_load(&g_unexpected));
	ksft_test_result(!atomic_load(&g_child_fail),
			 "every child exited cleanly (%lu forks)\n",
			 atomic_load(&g_forks));
	if (!finished) {
		ksft_test_result_skip("debugfs objects: the run did not end\n");
		ksft_test_result_skip("sysfs sandboxes: the run did not end\n");
		ksft_test_result_skip("kmsg: the run did not end\n");
		ksft_test_result_skip("the guests ran: the run did not end\n");
		fflush(stdout);
		ksft_print_cnts();
		fflush(stdout);
		_exit(KSFT_FAIL);
	}

	/* Releases may finish a little after the last close. */
	if (g_have_debugfs) {
		uint64_t until = now_ns() + 10 * SEC;

		do {
			ret = objects_read(&o);
			if (!ret && !o.sandboxes && !o.calls)
				break;
			usleep(10000);
		} while (now_ns() < until);
		ksft_test_result(!ret && !o.sandboxes && !o.calls,
				 "debugfs objects: %ld sandboxes, %ld calls left\n",
				 o.sandboxes, o.calls);
	} else {
		ksft_test_result_skip("debugfs objects: no debugfs\n");
	}
	{
		uint64_t until = now_ns() + 10 * SEC;

		do {
			ret = read_u64(CALLBOX_SYSFS "/sandboxes", &sandboxes);
			if (!ret && !sandboxes)
				break;
			usleep(10000);
		} while (now_ns() < until);
		ksft_test_result(!ret && !sandboxes,
				 "sysfs sandboxes: %" PRIu64 " left\n",
				 ret ? UINT64_MAX : sandboxes);
	}
	if (g_kmsg_fd >= 0) {
		int found = kmsg_scan(g_kmsg_fd);

		ksft_test_result(!found, "kmsg: %d kernel reports\n", found);
	} else {
		ksft_test_result_skip("kmsg: cannot read /dev/kmsg\n");
	}
	/* The fuzzer did what it says: calls really ran and ended. */
	ran = atomic_load(&g_out_exited) && atomic_load(&g_out_hostcall) &&
	      atomic_load(&g_out_aborted[CALLBOX_ABORT_CANCELLED]) &&
	      atomic_load(&g_out_aborted[CALLBOX_ABORT_DEADLINE]) &&
	      atomic_load(&g_out_aborted[CALLBOX_ABORT_SANDBOX_CLOSED]);
	if (g_seconds >= 10)
		ksft_test_result(ran, "the guests ran: EXITED, HOSTCALL, and CANCELLED, DEADLINE, SANDBOX_CLOSED aborts all seen\n");
	else
		ksft_test_result_skip("the guests ran: too short a run to tell\n");
	ksft_finished();
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_sigusr1 };
	pthread_t watchdog, recycler, pinger;
	struct rlimit rl;
	const char *env;
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ksft_print_header();

	env = getenv("CALLBOX_FUZZ_SECONDS");
	g_seconds = env ? atoi(env) : 60;
	if (g_seconds < 1)
		g_seconds = 1;
	env = getenv("CALLBOX_FUZZ_STUCK_MS");
	if (env && atoi(env) > 0)
		g_stuck_ns = atoi(env) * MS;
	env = getenv("CALLBOX_FUZZ_SEED");
	g_seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) ^
		 ((uint64_t)getpid() << 32);
	ksft_print_msg("seed %" PRIu64 ", %d s, %d workers: replay with CALLBOX_FUZZ_SEED=%" PRIu64 " CALLBOX_FUZZ_SECONDS=%d\n",
		       g_seed, g_seconds, NR_WORKERS, g_seed, g_seconds);

	g_dev_fd = open("/dev/callbox", O_RDWR | O_CLOEXEC);
	if (g_dev_fd < 0)
		ksft_exit_skip("/dev/callbox: %s\n", strerror(errno));
	if (access("/dev/kvm", R_OK | W_OK))
		ksft_exit_skip("/dev/kvm: %s\n", strerror(errno));
	ksft_set_plan(7);

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < 1024) {
		rl.rlim_cur = rl.rlim_max < 1024 ? rl.rlim_max : 1024;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	g_inf = mmap(NULL, sizeof(*g_inf) * NR_INF, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g_inf == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	g_kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (g_kmsg_fd >= 0)
		lseek(g_kmsg_fd, 0, SEEK_END);
	g_have_debugfs = !debugfs_ready();
	if (g_have_debugfs) {
		struct cb_objects o;

		if (!objects_read(&o) && (o.sandboxes || o.calls))
			ksft_print_msg("before the run: %ld sandboxes, %ld calls\n",
				       o.sandboxes, o.calls);
	}
	sigaction(SIGUSR1, &sa, NULL);	/* no SA_RESTART */
	signal(SIGPIPE, SIG_IGN);

	for (i = 0; i < NR_SLOTS; i++) {
		pthread_rwlockattr_t a;
		int ret;

		pthread_rwlockattr_init(&a);
		pthread_rwlockattr_setkind_np(&a,
			PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&g_slots[i].lock, &a);
		pthread_rwlockattr_destroy(&a);
		ret = slot_open(&g_slots[i]);
		if (ret)
			ksft_exit_fail_msg("a sandbox: %s\n", strerror(-ret));
	}
	for (i = 0; i < NR_WORKERS; i++) {
		struct worker *w = &g_workers[i];
		uint64_t s = g_seed + i + 1;
		int ret, r;

		w->t = (struct thr) {
			.widx = i, .role = "worker", .rng = splitmix(&s),
			.inf = &g_inf[i * INF_PER_WORKER], .area = area_new(),
			.res = RES_FD_BASE + i * RES_PER_WORKER, .w = w,
		};
		for (r = 0; r < RES_PER_WORKER; r++)
			close(w->t.res + r);
		if (!w->t.area || pipe2(w->pipefd, O_CLOEXEC))
			ksft_exit_fail_msg("setup: %s\n", strerror(errno));
		w->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		w->ep_fd = epoll_create1(EPOLL_CLOEXEC);
		ret = raw_vm_create(&w->other);
		if (ret)
			ksft_exit_fail_msg("a VM: %s\n", strerror(-ret));
		w->stats_fd = ioctl(w->other.vcpu_fd, KVM_GET_STATS_FD, 0);
		if (w->stats_fd < 0)
			w->stats_fd = dup(w->null_fd);
	}
	g_recycler_thr = (struct thr) {
		.widx = -1, .role = "recycler", .rng = g_seed ^ 0x7ec7c1e,
		.inf = &g_inf[INF_RECYCLER], .area = area_new(),
	};

	if (pthread_create(&watchdog, NULL, watchdog_fn, NULL) ||
	    pthread_create(&recycler, NULL, recycler_fn, NULL) ||
	    pthread_create(&pinger, NULL, pinger_fn, NULL))
		ksft_exit_fail_msg("pthread_create\n");
	for (i = 0; i < NR_WORKERS; i++)
		if (pthread_create(&g_workers[i].thread, NULL, worker_fn,
				   &g_workers[i]))
			ksft_exit_fail_msg("pthread_create\n");

	{
		uint64_t until = now_ns() + g_seconds * SEC;

		while (now_ns() < until && !atomic_load(&g_stop))
			usleep(100 * 1000);
	}
	atomic_store(&g_stop, true);
	for (i = 0; i < NR_WORKERS; i++)
		if (join_within(g_workers[i].thread, 3 * STUCK_NS / MS)) {
			report(NULL, &g_stuck, "worker %d never ended", i);
			results_and_exit(false);
		}
	atomic_store(&g_pinger_stop, true);
	atomic_store(&g_recycler_stop, true);
	pthread_join(pinger, NULL);
	if (join_within(recycler, 3 * STUCK_NS / MS)) {
		report(NULL, &g_stuck, "the recycler never ended");
		results_and_exit(false);
	}

	/* Close everything. */
	for (i = 0; i < NR_SLOTS; i++) {
		close(g_slots[i].fd);
		gbox_close(&g_slots[i].gb);
	}
	for (i = 0; i < NR_WORKERS; i++) {
		struct worker *w = &g_workers[i];
		int r;

		priv_close(w);
		for (r = 0; r < RES_PER_WORKER; r++)
			close(w->t.res + r);
		close(w->pipefd[0]);
		close(w->pipefd[1]);
		close(w->null_fd);
		close(w->ep_fd);
		close(w->stats_fd);
		raw_vm_destroy(&w->other);
	}
	close(g_dev_fd);
	atomic_store(&g_watch_stop, true);
	pthread_join(watchdog, NULL);
	results_and_exit(true);
	return 0;
}
