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
 */
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest.h"
#include "inspect_util.h"

#define NR_WORKERS	4
#define NR_HELPERS	2	/* per worker, in a close race */
#define NR_SLOTS	4
/* Watchdog entries: each worker, its helpers and its child; then these. */
#define INF_PER_WORKER	(1 + NR_HELPERS + 1)
#define INF_RECYCLER	(NR_WORKERS * INF_PER_WORKER)
#define INF_MAIN	(INF_RECYCLER + 1)
#define NR_INF		(INF_MAIN + 1)
#define SEC		(1000 * MS)
/*
 * No ioctl is in flight longer than this beyond its own timeout
 * (CALLBOX_FUZZ_STUCK_MS overrides it, to see the watchdog fire).
 */
static uint64_t g_stuck_ns = 10 * 1000 * 1000 * 1000ull;
#define STUCK_NS	g_stuck_ns
/* The longest deadline a sequence that must end by itself gives. */
#define BOUNDED_NS	(300 * MS)
/* fd numbers each thread keeps for itself (dup2): never reused by others. */
#define RES_FD_BASE	600
#define RES_PER_WORKER	8
#define RES_RACE	0	/* the close race's sandbox */
#define RES_DUP		1	/* a dup of a slot's sandbox */
#define RES_RACE_DUP	2	/* the close race's second fd */
#define RES_CLOSED	3	/* always closed */
#define PAGE		4096
/*
 * The thread's struct area: RW RW NONE RO NONE, then the page of a
 * BATCH's ids (RW, or RO during an ioctl) and an unmapped one: RW NONE.
 */
#define AREA_PAGES	7
#define IDS_PAGE	5
#define MAX_REPORTS	40

/* ---- errnos ---- */

enum {
	eb_ENOTTY, eb_EINVAL, eb_E2BIG, eb_EFAULT, eb_EBADF, eb_EIO,
	eb_ENOMEM, eb_EINTR, eb_EBUSY, eb_EOPNOTSUPP, eb_ENOTRECOVERABLE,
	eb_EAGAIN, eb_ESHUTDOWN, eb_ENOENT, eb_ESRCH, eb_ETIMEDOUT,
	eb_EALREADY, NR_EB
};
#define EB(e)	(1u << eb_##e)

static const int eb_errno[NR_EB] = {
	ENOTTY, EINVAL, E2BIG, EFAULT, EBADF, EIO, ENOMEM, EINTR, EBUSY,
	EOPNOTSUPP, ENOTRECOVERABLE, EAGAIN, ESHUTDOWN, ENOENT, ESRCH,
	ETIMEDOUT, EALREADY,
};

static int eb_of(int err)
{
	int i;

	for (i = 0; i < NR_EB; i++)
		if (eb_errno[i] == err)
			return i;
	return -1;
}

static const char *errname(int err)
{
	const char *n = strerrorname_np(err);

	return n ? n : "E?";
}

static void mask_str(char *buf, size_t len, uint32_t mask, bool ok)
{
	size_t n = 0;
	int i;

	buf[0] = 0;
	if (ok)
		n += snprintf(buf + n, len - n, "0");
	for (i = 0; i < NR_EB && n < len; i++)
		if (mask & (1u << i))
			n += snprintf(buf + n, len - n, "%s%s", n ? "," : "",
				      errname(eb_errno[i]));
	if (!n)
		snprintf(buf, len, "nothing");
}

/* ---- the commands ---- */

enum {
	C_CREATE, C_SYNC, C_SUBMIT, C_RUN, C_WAIT, C_GET, C_CANCEL, C_RESET,
	C_SHUTDOWN, C_RESTORE, C_BATCH, NR_CMDS
};

/* The last command number in use: every one after it is unknown. */
#define CMD_LAST	CALLBOX_CMD_CALL_BATCH

union cmd_img {
	struct callbox_sandbox_create create;
	struct callbox_call_sync sync;
	struct callbox_call_submit submit;
	struct callbox_call_run run;
	struct callbox_call_wait wait;
	struct callbox_call_get get;
	struct callbox_call_cancel cancel;
	struct callbox_sandbox_reset reset;
	struct callbox_sandbox_shutdown shutdown;
	struct callbox_sandbox_restore restore;
	struct callbox_call_batch batch;
	uint8_t raw[64];
};

struct cmd_info {
	const char *name;
	unsigned long nr;
	uint32_t ksize;
	uint32_t flags_mask;
	int rsv_off;		/* -1: none */
	int deadline_off;	/* -1: none */
	bool writes;		/* success writes the struct back */
};

#define OFF(type, field) ((int)offsetof(struct type, field))

static const struct cmd_info cmds[NR_CMDS] = {
	[C_CREATE] = { "SANDBOX_CREATE", CALLBOX_SANDBOX_CREATE,
		       sizeof(struct callbox_sandbox_create), 0,
		       OFF(callbox_sandbox_create, __reserved), -1, true },
	[C_SYNC] = { "CALL_SYNC", CALLBOX_CALL_SYNC,
		     sizeof(struct callbox_call_sync), 0, -1,
		     OFF(callbox_call_sync, deadline_ns), true },
	[C_SUBMIT] = { "CALL_SUBMIT", CALLBOX_CALL_SUBMIT,
		       sizeof(struct callbox_call_submit), 0, -1,
		       OFF(callbox_call_submit, deadline_ns), true },
	[C_RUN] = { "CALL_RUN", CALLBOX_CALL_RUN,
		    sizeof(struct callbox_call_run), CALLBOX_RUN_FLAGS_MASK,
		    -1, -1, true },
	[C_WAIT] = { "CALL_WAIT", CALLBOX_CALL_WAIT,
		     sizeof(struct callbox_call_wait), 0, -1,
		     OFF(callbox_call_wait, deadline_ns), true },
	[C_GET] = { "CALL_GET", CALLBOX_CALL_GET,
		    sizeof(struct callbox_call_get), 0, -1, -1, true },
	[C_CANCEL] = { "CALL_CANCEL", CALLBOX_CALL_CANCEL,
		       sizeof(struct callbox_call_cancel), 0, -1, -1, false },
	[C_RESET] = { "SANDBOX_RESET", CALLBOX_SANDBOX_RESET,
		      sizeof(struct callbox_sandbox_reset), 0, -1,
		      OFF(callbox_sandbox_reset, deadline_ns), true },
	[C_SHUTDOWN] = { "SANDBOX_SHUTDOWN", CALLBOX_SANDBOX_SHUTDOWN,
			 sizeof(struct callbox_sandbox_shutdown), 0, -1, -1,
			 false },
	[C_RESTORE] = { "SANDBOX_RESTORE", CALLBOX_SANDBOX_RESTORE,
			sizeof(struct callbox_sandbox_restore), 0,
			-1, -1, false },
	[C_BATCH] = { "CALL_BATCH", CALLBOX_CALL_BATCH,
		      sizeof(struct callbox_call_batch), 0, -1, -1, true },
};

/* How a struct is handed to the kernel. */
enum {
	SZ_EXACT, SZ_BIG0, SZ_BIGX, SZ_PAGE0, SZ_PAGEX, SZ_SMALL, SZ_ZERO,
	SZ_4097, SZ_HUGE, NR_SZ
};
static const char *const sz_name[NR_SZ] = {
	"exact", "longer, zero tail", "longer, non-zero tail",
	"4096, zero tail", "4096, non-zero tail", "too short", "0", "4097",
	"huge",
};
enum { PK_NORMAL, PK_RO, PK_STRADDLE, PK_BAD, NR_PK };
static const char *const pk_name[NR_PK] = {
	"normal", "read-only", "runs into an unmapped page", "bad",
};

struct shape {
	int sz, pk;
	uint32_t size;
	uint8_t *p;
	bool tail_x;	/* a non-zero byte beyond the known struct */
	bool fault;	/* [p, p + size) is not all readable */
};

/* ---- the watchdog's view of every thread ---- */

struct inflight {
	_Atomic uint64_t start_ns;	/* 0: nothing in flight */
	uint64_t bound_ns;
	int pid, tid;
	int cmd;			/* C_*, or -1: @what */
	const char *what;
	int fd;
	uint32_t size;
	int sz, pk;
	union cmd_img img;
	atomic_int reported;
	atomic_int child_failed;	/* a child's own verdict, if killed */
};

static struct inflight *g_inf;	/* MAP_SHARED: children use it too */

/* ---- global state ---- */

static uint64_t g_seed;
static int g_seconds;
static int g_dev_fd = -1;
static atomic_bool g_stop, g_recycler_stop, g_pinger_stop, g_watch_stop;
static _Atomic uint64_t g_inst;
static _Atomic uint64_t g_stuck_since;

static pthread_mutex_t g_report_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int g_unexpected, g_stuck, g_child_fail, g_reports;

static atomic_ulong g_stat[NR_CMDS][NR_EB + 2];	/* + ok, other */
static atomic_ulong g_out_exited, g_out_hostcall, g_out_aborted[NR_REASONS];
static atomic_ulong g_forks, g_kills, g_races, g_recycles, g_sigs, g_seqs;
static atomic_ulong g_rewinds, g_polls;
/* BATCH: calls it ran to EXITED, batches that ran all, where they stopped. */
static atomic_ulong g_batch_ran, g_batch_all;
static atomic_ulong g_batch_stop[CALLBOX_STATE_HOSTCALL + 1];

/* ---- random ---- */

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

struct thr;
static uint64_t rnd64(struct thr *t);

/* ---- sandboxes ---- */

/* A raw guest running the script, its kvm_run mapped. */
struct gbox {
	struct raw_guest g;
	struct kvm_run *run;
	size_t run_size;
	pthread_mutex_t rewind_lock;	/* one rewind at a time */
};

/* Recent call ids of a sandbox, that its users share. */
struct idring {
	_Atomic uint64_t id[16];
	atomic_uint n;
	_Atomic uint64_t restore_id;	/* the last restore BEGIN gave */
};

struct slot {
	pthread_rwlock_t lock;	/* read: using fd; write: the recycler */
	struct gbox gb;
	int fd;
	uint64_t inst;
	struct idring ring;
};

static struct slot g_slots[NR_SLOTS];

/* What a sequence issues its ioctls on. */
struct target {
	int fd;
	uint64_t inst;		/* the sandbox's instance, 0: not one */
	bool maybe_closed;	/* another thread may close @fd meanwhile */
	bool foreign;		/* a sandbox of another process: EIO */
	bool bounded;		/* only what ends by itself: no blocking */
	/*
	 * Never leave a restore begun on it: no other thread, and no
	 * recycler, would end it, and seq_long_struct wants it idle.
	 */
	bool sole;
	struct gbox *gb;	/* NULL: no guest to steer or rewind */
	struct idring *ring;
	const char *name;
};

struct worker;

struct thr {
	int widx;
	const char *role;
	uint64_t rng;
	struct inflight *inf;
	uint8_t *area;
	int res;
	bool child, child_failed;
	uint64_t ids_inst, last_new;	/* ids this thread got new */
	struct {
		uint64_t inst, id;
	} won[16];			/* cancels this thread won */
	unsigned int nwon;
	struct worker *w;
	int depth;
};

struct worker {
	struct thr t;
	pthread_t thread;
	atomic_int tid;
	int pipefd[2], null_fd, ep_fd, stats_fd;
	struct raw_vm other;	/* a VM of its own, never set up */
	struct gbox priv;	/* for the ABI probes */
	int priv_fd;
	uint64_t priv_inst;
	struct idring priv_ring;
	bool priv_open;
};

static struct worker g_workers[NR_WORKERS];
/* The close-race helpers running now, for the pinger. */
static atomic_int g_helper_tid[NR_WORKERS][NR_HELPERS];

static uint64_t rnd64(struct thr *t)
{
	return splitmix(&t->rng);
}

static uint64_t rnd(struct thr *t, uint64_t n)
{
	return n ? rnd64(t) % n : 0;
}

static bool chance(struct thr *t, unsigned int pct)
{
	return rnd(t, 100) < pct;
}

static pid_t my_tid(void)
{
	return syscall(SYS_gettid);
}

/* ---- reports ---- */

/*
 * A failure: printed (the first MAX_REPORTS) and counted in @counter. A
 * child writes to stderr itself and fails its exit status: the parent's
 * locks may be held in its copy of memory.
 */
static void __attribute__((format(printf, 3, 4)))
report(struct thr *t, atomic_int *counter, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	if (t && t->child) {
		char line[1100];
		int m = snprintf(line, sizeof(line),
				 "# child %d: %s\n", (int)getpid(), buf);

		if (!t->child_failed && write(2, line, m) < 0)
			m = 0;	/* the first one says it */
		t->child_failed = true;
		atomic_store(&t->inf->child_failed, 1);
		return;
	}
	atomic_fetch_add(counter, 1);
	pthread_mutex_lock(&g_report_lock);
	if (atomic_fetch_add(&g_reports, 1) < MAX_REPORTS)
		ksft_print_msg("%s%s%s\n", t ? t->role : "",
			       t ? ": " : "", buf);
	pthread_mutex_unlock(&g_report_lock);
}

/* One line of what a request was, for reports. */
static void describe(char *buf, size_t len, int cmd, const char *what,
		     int fd, const char *fdname, uint32_t size, int sz, int pk,
		     const union cmd_img *img)
{
	size_t n;

	if (cmd < 0) {
		snprintf(buf, len, "%s on fd %d", what, fd);
		return;
	}
	n = snprintf(buf, len, "%s on fd %d (%s), size %u (%s), pointer %s",
		     cmds[cmd].name, fd, fdname ? fdname : "?", size,
		     sz_name[sz], pk_name[pk]);
	if (n >= len)
		return;
	switch (cmd) {
	case C_CREATE:
		snprintf(buf + n, len - n,
			 ", flags 0x%x, vm_fd %d, vcpu_fd %d, reserved 0x%x",
			 img->create.flags, img->create.vm_fd,
			 img->create.vcpu_fd, img->create.__reserved);
		break;
	case C_SYNC:
		snprintf(buf + n, len - n,
			 ", flags 0x%x, deadline %" PRIu64 ", out.id %" PRIu64
			 ", out.state %u", img->sync.flags,
			 (uint64_t)img->sync.deadline_ns,
			 (uint64_t)img->sync.out.id, img->sync.out.state);
		break;
	case C_SUBMIT:
		snprintf(buf + n, len - n, ", flags 0x%x, deadline %" PRIu64,
			 img->submit.flags, (uint64_t)img->submit.deadline_ns);
		break;
	case C_RUN:
		snprintf(buf + n, len - n,
			 ", flags 0x%x, id %" PRIu64 ", out.id %" PRIu64
			 ", out.state %u", img->run.flags,
			 (uint64_t)img->run.id, (uint64_t)img->run.out.id,
			 img->run.out.state);
		break;
	case C_WAIT:
		snprintf(buf + n, len - n,
			 ", flags 0x%x, id %" PRIu64 ", deadline %" PRIu64,
			 img->wait.flags, (uint64_t)img->wait.id,
			 (uint64_t)img->wait.deadline_ns);
		break;
	case C_GET:
		snprintf(buf + n, len - n, ", flags 0x%x, id %" PRIu64,
			 img->get.flags, (uint64_t)img->get.id);
		break;
	case C_CANCEL:
		snprintf(buf + n, len - n, ", flags 0x%x, id %" PRIu64,
			 img->cancel.flags, (uint64_t)img->cancel.id);
		break;
	case C_RESET:
		snprintf(buf + n, len - n, ", flags 0x%x, deadline %" PRIu64,
			 img->reset.flags, (uint64_t)img->reset.deadline_ns);
		break;
	case C_SHUTDOWN:
		snprintf(buf + n, len - n, ", flags 0x%x",
			 img->shutdown.flags);
		break;
	case C_RESTORE:
		snprintf(buf + n, len - n,
			 ", flags 0x%x, op %u, out_poisoned %u, id %" PRIu64,
			 img->restore.flags, img->restore.op,
			 img->restore.out_poisoned, (uint64_t)img->restore.id);
		break;
	case C_BATCH:
		snprintf(buf + n, len - n,
			 ", flags 0x%x, ids 0x%" PRIx64 ", nr %u, done %u"
			 ", out.id %" PRIu64 ", out.state %u", img->batch.flags,
			 (uint64_t)img->batch.ids, img->batch.nr,
			 img->batch.done, (uint64_t)img->batch.out.id,
			 img->batch.out.state);
		break;
	}
}

/* ---- the watchdog ---- */

static void inf_begin(struct inflight *e, int cmd, const char *what, int fd,
		      const union cmd_img *img, const struct shape *s,
		      uint64_t timeout_ns)
{
	e->cmd = cmd;
	e->what = what;
	e->fd = fd;
	if (img)
		e->img = *img;
	e->size = s ? s->size : 0;
	e->sz = s ? s->sz : 0;
	e->pk = s ? s->pk : 0;
	e->bound_ns = timeout_ns + STUCK_NS;
	atomic_store(&e->reported, 0);
	atomic_store_explicit(&e->start_ns, now_ns(), memory_order_release);
}

static void inf_end(struct inflight *e)
{
	atomic_store_explicit(&e->start_ns, 0, memory_order_release);
}

static void print_file(const char *path, const char *prefix)
{
	char buf[4096], *line, *save;

	if (read_text(path, buf, sizeof(buf)) < 0)
		return;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		ksft_print_msg("%s%s\n", prefix, line);
}

static void report_stuck(struct inflight *e, uint64_t age)
{
	char desc[512], path[96];

	describe(desc, sizeof(desc), e->cmd, e->what, e->fd, NULL, e->size,
		 e->sz, e->pk, &e->img);
	report(NULL, &g_stuck,
	       "STUCK: pid %d tid %d: %s: in flight for %" PRIu64 " ms",
	       e->pid, e->tid, desc, (uint64_t)(age / MS));
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stack", e->pid,
		 e->tid);
	print_file(path, "    ");
	uint64_t zero = 0;

	atomic_compare_exchange_strong(&g_stuck_since, &zero, now_ns());
}

static void results_and_exit(bool finished);

static void *watchdog_fn(void *arg)
{
	int i;

	while (!atomic_load(&g_watch_stop)) {
		uint64_t now, since;

		usleep(50 * 1000);
		now = now_ns();
		for (i = 0; i < NR_INF; i++) {
			struct inflight *e = &g_inf[i];
			uint64_t start = atomic_load_explicit(&e->start_ns,
							      memory_order_acquire);

			if (!start || now < start || now - start <= e->bound_ns)
				continue;
			if (!atomic_exchange(&e->reported, 1))
				report_stuck(e, now - start);
		}
		/* Something never returns: give the verdict anyway. */
		since = atomic_load(&g_stuck_since);
		if (since && now - since > 3 * STUCK_NS) {
			ksft_print_msg("the run cannot end: something is stuck\n");
			results_and_exit(false);
		}
	}
	return NULL;
}

/* ---- sandboxes and guests ---- */

static int gbox_open(struct gbox *gb)
{
	int ret = raw_guest_create(&gb->g, guest_script, sizeof(guest_script));

	gb->run = MAP_FAILED;
	pthread_mutex_init(&gb->rewind_lock, NULL);
	if (ret)
		return ret;
	((volatile uint8_t *)gb->g.mem)[SCRIPT_NR_HOSTCALLS] = 3;
	script_set(gb->g.mem, SCRIPT_DONE);
	gb->run = raw_guest_map_run(&gb->g, &gb->run_size);
	return gb->run == MAP_FAILED ? -ENOMEM : 0;
}

static void gbox_close(struct gbox *gb)
{
	if (gb->run != MAP_FAILED)
		munmap(gb->run, gb->run_size);
	gb->run = MAP_FAILED;
	raw_guest_destroy(&gb->g);
	pthread_mutex_destroy(&gb->rewind_lock);
}

/* A plain SANDBOX_CREATE, for setting up: the fd or -errno. */
static int bind_sandbox(int vm_fd, int vcpu_fd)
{
	struct callbox_sandbox_create c = {
		.size = sizeof(c), .vm_fd = vm_fd, .vcpu_fd = vcpu_fd,
	};

	return ioctl(g_dev_fd, CALLBOX_SANDBOX_CREATE, &c) ? -errno :
		c.out_sandbox_fd;
}

static int plain_shutdown(int fd)
{
	struct callbox_sandbox_shutdown c = { .size = sizeof(c) };

	return ioctl(fd, CALLBOX_SANDBOX_SHUTDOWN, &c) ? -errno : 0;
}

static void ring_add(struct idring *r, uint64_t id)
{
	unsigned int n;

	if (!r || !id)
		return;
	n = atomic_fetch_add(&r->n, 1);
	atomic_store(&r->id[n % 16], id);
}

static uint64_t ring_pick(struct thr *t, struct idring *r)
{
	unsigned int n = r ? atomic_load(&r->n) : 0;

	if (!n)
		return 1;
	return atomic_load(&r->id[rnd(t, n < 16 ? n : 16) % 16]);
}

static uint64_t ring_last(struct idring *r)
{
	unsigned int n = r ? atomic_load(&r->n) : 0;

	return n ? atomic_load(&r->id[(n - 1) % 16]) : 0;
}

static void ring_reset(struct idring *r)
{
	int i;

	for (i = 0; i < 16; i++)
		atomic_store(&r->id[i], 0);
	atomic_store(&r->n, 0);
	atomic_store(&r->restore_id, 0);
}

static uint64_t new_inst(void)
{
	return atomic_fetch_add(&g_inst, 1) + 1;
}

/* ---- placing a struct ---- */

static void area_ro_write(struct thr *t, bool writable)
{
	mprotect(t->area + 3 * PAGE, PAGE,
		 writable ? PROT_READ | PROT_WRITE : PROT_READ);
}

/* Pick how a struct is handed over: exact and normal unless @abi_pct. */
static void shape_pick(struct thr *t, unsigned int abi_pct, bool force_bad,
		       struct shape *s)
{
	static const int bad_sz[] = {
		SZ_BIGX, SZ_PAGEX, SZ_SMALL, SZ_ZERO, SZ_4097, SZ_HUGE,
	};

	memset(s, 0, sizeof(*s));
	s->sz = SZ_EXACT;
	s->pk = PK_NORMAL;
	if (force_bad) {
		switch (rnd(t, 3)) {
		case 0:
			s->sz = bad_sz[rnd(t, sizeof(bad_sz) / sizeof(bad_sz[0]))];
			break;
		case 1:
			s->pk = chance(t, 50) ? PK_STRADDLE : PK_BAD;
			break;
		default:
			s->pk = PK_RO;	/* the caller makes sure it counts */
			break;
		}
		return;
	}
	if (!chance(t, abi_pct))
		return;
	if (chance(t, 65))
		s->sz = 1 + rnd(t, NR_SZ - 1);
	if (s->sz == SZ_EXACT || chance(t, 25))
		s->pk = 1 + rnd(t, NR_PK - 1);
}

/* Lay @img out as @s says; fills s->size, s->p, s->tail_x, s->fault. */
static void place(struct thr *t, union cmd_img *img, uint32_t ksize,
		  struct shape *s)
{
	static const uint32_t huge[] = {
		8192, 65536, 1u << 31, UINT32_MAX, 4096 + 8,
	};
	uint32_t size, span, off, k;

	switch (s->sz) {
	case SZ_BIG0:
	case SZ_BIGX:
		size = ksize + 1 + rnd(t, 64);
		break;
	case SZ_PAGE0:
	case SZ_PAGEX:
		size = 4096;
		break;
	case SZ_SMALL:
		size = 1 + rnd(t, ksize - 1);
		break;
	case SZ_ZERO:
		size = 0;
		break;
	case SZ_4097:
		size = 4097;
		break;
	case SZ_HUGE:
		size = huge[rnd(t, sizeof(huge) / sizeof(huge[0]))];
		break;
	default:
		size = ksize;
		break;
	}
	s->size = size;
	img->create.size = size;	/* every struct starts with it */
	span = size >= ksize && size <= 4096 ? size : ksize;

	if (s->pk == PK_BAD) {
		static const uintptr_t bad[] = {
			0, 8, 0xffff888000000000ull, (uintptr_t)-8,
		};
		unsigned int i = rnd(t, 6);

		if (i < 4)
			s->p = (uint8_t *)bad[i];
		else
			s->p = t->area + (i == 4 ? 2 : 4) * PAGE;
		return;
	}
	if (s->pk == PK_STRADDLE && span < 5)
		s->pk = PK_NORMAL;
	if (s->pk == PK_RO && span > PAGE)
		s->pk = PK_NORMAL;

	switch (s->pk) {
	case PK_STRADDLE:
		/* At least the size is readable; the rest runs off. */
		k = 4 + rnd(t, span - 4);
		s->p = t->area + 2 * PAGE - k;
		memset(s->p, 0, k);
		memcpy(s->p, img, k < ksize ? k : ksize);
		if (s->sz == SZ_BIGX || s->sz == SZ_PAGEX) {
			uint32_t x = ksize + rnd(t, size - ksize);

			/* Beyond k the kernel faults before it sees it. */
			if (x < k) {
				s->p[x] = 1 + rnd(t, 255);
				s->tail_x = true;
			}
		}
		s->fault = size >= ksize && size <= 4096;
		return;
	case PK_RO:
		off = rnd(t, PAGE - span + 1) & ~7u;
		s->p = t->area + 3 * PAGE + off;
		area_ro_write(t, true);
		break;
	default:
		off = rnd(t, 2 * PAGE - span + 1);
		if (chance(t, 80))
			off &= ~7u;
		s->p = t->area + off;
		break;
	}
	memset(s->p, 0, span);
	memcpy(s->p, img, ksize);
	if (s->sz == SZ_BIGX || s->sz == SZ_PAGEX) {
		s->p[ksize + rnd(t, size - ksize)] = 1 + rnd(t, 255);
		s->tail_x = true;
	}
	if (s->pk == PK_RO)
		area_ro_write(t, false);
}

/* ---- issuing a request ---- */

/*
 * What an id of a BATCH may be in its sandbox: one the kernel gave
 * (never ENOENT), one that may or may not have been issued, or one that
 * never is (0, huge: never ESRCH). BK_FAULT: the kernel cannot read it.
 */
enum { BK_ISSUED, BK_MAYBE, BK_NEVER, BK_FAULT = 4 };
#define BK_KIND(k)	((k) & 3)

/* A BATCH's ids, as the fuzzer laid them out in its ids page. */
struct batch_ids {
	uint64_t id[CALLBOX_MAX_CALLS + 1];
	uint8_t kind[CALLBOX_MAX_CALLS + 1];
	uint32_t n;		/* how many it generated */
	bool ro;		/* the page is read-only during the ioctl */
	const char *where;	/* how @ids points at them */
};

struct req {
	int cmd;
	union cmd_img img;	/* in: the fields; out: what came back */
	union cmd_img sent;	/* what was sent */
	uint32_t rt_mask;	/* the errnos of a well-formed request */
	bool rt_ok;		/* may a well-formed request succeed? */
	unsigned int abi_pct;	/* chance of a bad size, pointer or field */
	bool force_bad;		/* it must be malformed */
	uint64_t timeout_ns;	/* its own wait, for the watchdog */
	const struct batch_ids *bi;	/* BATCH: what @ids holds */
	/* results */
	struct shape s;
	bool wellformed;
	int ret;		/* 0 or -errno */
};

static void req_init(struct req *r, int cmd)
{
	memset(r, 0, sizeof(*r));
	r->cmd = cmd;
	r->rt_ok = true;
}

static bool looks_restart(const struct callbox_call_info *out)
{
	return out->state == CALLBOX_STATE_ENTERED && out->id;
}

/* An op that RESTORE does not know. */
static uint32_t bad_restore_op(struct thr *t)
{
	static const uint32_t bad[] = {
		0, CALLBOX_RESTORE_ABANDON + 1, 0x80000001, UINT32_MAX,
	};

	if (chance(t, 25))
		return CALLBOX_RESTORE_ABANDON + 1 + rnd(t, 0xffff);
	return bad[rnd(t, sizeof(bad) / sizeof(bad[0]))];
}

/* BATCH's @nr 0 or above CALLBOX_MAX_CALLS, or @done at or past @nr. */
static void batch_mutate(struct thr *t, struct callbox_call_batch *b)
{
	static const uint32_t big[] = {
		CALLBOX_MAX_CALLS + 1, CALLBOX_MAX_CALLS + 2, 1024, 1u << 31,
		UINT32_MAX,
	};

	switch (rnd(t, 3)) {
	case 0:
		b->nr = chance(t, 50) ? 0 : big[rnd(t, sizeof(big) /
						       sizeof(big[0]))];
		break;
	case 1:
		b->done = b->nr + rnd(t, 3);
		break;
	default:
		b->done = chance(t, 50) ? UINT32_MAX : b->nr + rnd64(t) % 1000;
		break;
	}
}

/*
 * Make a field malformed: a flag, the reserved field, the deadline,
 * RESTORE's op or BATCH's @nr and @done.
 */
static void mutate_field(struct thr *t, struct req *r)
{
	const struct cmd_info *ci = &cmds[r->cmd];
	uint8_t *raw = r->img.raw;
	uint32_t bit;

	for (;;) {
		switch (rnd(t, 5)) {
		case 0:
			do
				bit = 1u << rnd(t, 32);
			while (bit & ci->flags_mask);
			r->img.create.flags |= bit;	/* at offset 4 always */
			return;
		case 1:
			if (ci->rsv_off < 0)
				continue;
			*(uint32_t *)(raw + ci->rsv_off) = 1 + rnd(t, 0xffff);
			return;
		case 2:
			if (ci->deadline_off < 0)
				continue;
			*(uint64_t *)(raw + ci->deadline_off) =
				chance(t, 50) ? UINT64_MAX :
				(uint64_t)INT64_MAX + 1 + rnd(t, 1000);
			return;
		case 3:
			if (r->cmd != C_RESTORE)
				continue;
			r->img.restore.op = bad_restore_op(t);
			return;
		default:
			if (r->cmd != C_BATCH)
				continue;
			batch_mutate(t, &r->img.batch);
			return;
		}
	}
}

static bool restore_op_bad(uint32_t op)
{
	return op < CALLBOX_RESTORE_BEGIN || op > CALLBOX_RESTORE_ABANDON;
}

/*
 * BATCH's EINVAL: @nr 0 or above CALLBOX_MAX_CALLS, @done not below @nr,
 * or @out naming a call to continue that is not @ids[@done] (which the
 * kernel can only tell if it can read that id).
 */
static bool batch_bad(const struct callbox_call_batch *b,
		      const struct batch_ids *bi)
{
	if (!b->nr || b->nr > CALLBOX_MAX_CALLS || b->done >= b->nr)
		return true;
	return looks_restart(&b->out) && bi && b->done < bi->n &&
	       !(bi->kind[b->done] & BK_FAULT) &&
	       b->out.id != bi->id[b->done];
}

static bool fields_bad(const struct req *r)
{
	const struct cmd_info *ci = &cmds[r->cmd];
	const uint8_t *raw = r->img.raw;

	if (r->img.create.flags & ~ci->flags_mask)
		return true;
	if (ci->rsv_off >= 0 && *(const uint32_t *)(raw + ci->rsv_off))
		return true;
	if (ci->deadline_off >= 0 &&
	    *(const uint64_t *)(raw + ci->deadline_off) > (uint64_t)INT64_MAX)
		return true;
	if (r->cmd == C_RUN && looks_restart(&r->img.run.out) &&
	    r->img.run.id && r->img.run.id != r->img.run.out.id)
		return true;
	if (r->cmd == C_RESTORE && restore_op_bad(r->img.restore.op))
		return true;
	if (r->cmd == C_BATCH && batch_bad(&r->img.batch, r->bi))
		return true;
	return false;
}

/* ", ids (where) [id, id, ?, ...]": what a BATCH's @ids held. */
static void batch_ids_str(char *buf, size_t len, const struct batch_ids *bi)
{
	size_t n = snprintf(buf, len, ", ids (%s) [", bi->where);
	uint32_t i;

	for (i = 0; i < bi->n && n < len; i++) {
		if (len - n < 32) {
			n += snprintf(buf + n, len - n, "... %u more",
				      bi->n - i);
			break;
		}
		if (bi->kind[i] & BK_FAULT)
			n += snprintf(buf + n, len - n, "%s?", i ? "," : "");
		else
			n += snprintf(buf + n, len - n, "%s%" PRIu64,
				      i ? "," : "", bi->id[i]);
	}
	if (n < len)
		snprintf(buf + n, len - n, "]");
}

/* Does success write the struct back? RESTORE's BEGIN writes its id. */
static bool req_writes(const struct req *r)
{
	return cmds[r->cmd].writes ||
	       (r->cmd == C_RESTORE &&
		r->img.restore.op == CALLBOX_RESTORE_BEGIN);
}

static int issue(struct thr *t, const struct target *tg, struct req *r)
{
	const struct cmd_info *ci = &cmds[r->cmd];
	struct shape *s = &r->s;
	uint32_t mask, ksize = ci->ksize;
	bool ok, bad_field;
	int ret, e;

	shape_pick(t, r->abi_pct, r->force_bad, s);
	if (r->force_bad && s->pk == PK_RO && !req_writes(r))
		s->pk = PK_BAD;
	if ((r->force_bad && s->pk == PK_NORMAL && s->sz == SZ_EXACT) ||
	    (!r->force_bad && chance(t, r->abi_pct / 2)))
		mutate_field(t, r);
	bad_field = fields_bad(r);
	place(t, &r->img, ksize, s);
	r->sent = r->img;

	/* What may come back. */
	if (s->pk == PK_BAD) {
		mask = EB(EFAULT);
		ok = false;
	} else if (s->size < ksize) {
		mask = EB(EINVAL);
		ok = false;
	} else if (s->size > 4096) {
		mask = EB(E2BIG);
		ok = false;
	} else {
		mask = (s->fault ? EB(EFAULT) : 0) | (s->tail_x ? EB(E2BIG) : 0) |
		       (bad_field ? EB(EINVAL) : 0);
		ok = !mask;
		if (ok) {
			mask = r->rt_mask | EB(ENOMEM);
			ok = r->rt_ok;
			if (s->pk == PK_RO && req_writes(r)) {
				mask |= EB(EFAULT);
				ok = false;
			}
		}
	}
	r->wellformed = s->pk != PK_BAD && s->size >= ksize &&
		s->size <= 4096 && !s->fault && !s->tail_x && !bad_field;
	if (tg->foreign && r->cmd != C_CREATE) {
		mask = EB(EIO);
		ok = false;
		r->wellformed = false;
	}
	if (tg->maybe_closed)
		mask |= EB(EBADF);

	inf_begin(t->inf, r->cmd, NULL, tg->fd, &r->sent, s, r->timeout_ns);
	ret = ioctl(tg->fd, ci->nr, s->p);
	e = errno;
	inf_end(t->inf);
	r->ret = ret ? -e : 0;
	if (ret && ret != -1) {
		report(t, &g_unexpected, "%s returned %d", ci->name, ret);
		r->ret = -EPROTO;
	}

	/* What came back, if it can be read. */
	if ((s->pk == PK_NORMAL || s->pk == PK_RO) && s->size >= ksize &&
	    s->size <= 4096)
		memcpy(&r->img, s->p, ksize);

	if (!t->child) {
		int b = r->ret ? eb_of(-r->ret) : NR_EB;

		atomic_fetch_add(&g_stat[r->cmd][b < 0 ? NR_EB + 1 : b], 1);
	}
	if (r->ret ? !(eb_of(-r->ret) >= 0 &&
		       (mask & (1u << eb_of(-r->ret)))) : !ok) {
		char desc[900], allowed[200];
		size_t dn;

		describe(desc, sizeof(desc), r->cmd, NULL, tg->fd, tg->name,
			 s->size, s->sz, s->pk, &r->sent);
		dn = strlen(desc);
		if (r->cmd == C_BATCH && r->bi)
			batch_ids_str(desc + dn, sizeof(desc) - dn, r->bi);
		mask_str(allowed, sizeof(allowed), mask, ok);
		report(t, &g_unexpected, "%s -> %s (expected %s)", desc,
		       r->ret ? errname(-r->ret) : "success", allowed);
		if (!r->ret && r->cmd == C_CREATE && s->size >= ksize &&
		    (s->pk == PK_NORMAL || s->pk == PK_RO)) {
			plain_shutdown(r->img.create.out_sandbox_fd);
			close(r->img.create.out_sandbox_fd);
		}
		r->wellformed = false;
		return r->ret ? r->ret : -EPROTO;
	}
	/* A zero tail stays zero: the kernel writes only what it knows. */
	if (!r->ret && s->pk == PK_NORMAL &&
	    (s->sz == SZ_BIG0 || s->sz == SZ_PAGE0)) {
		uint32_t i;

		for (i = ksize; i < s->size; i++) {
			if (s->p[i]) {
				report(t, &g_unexpected,
				       "%s wrote byte %u of a %u-byte struct",
				       ci->name, i, s->size);
				break;
			}
		}
	}
	return r->ret;
}

/* ---- what comes back ---- */

static void note_won(struct thr *t, const struct target *tg, uint64_t id)
{
	unsigned int i = t->nwon++ % 16;

	t->won[i].inst = tg->inst;
	t->won[i].id = id;
}

static bool won(struct thr *t, const struct target *tg, uint64_t id)
{
	unsigned int i;

	for (i = 0; i < 16 && i < t->nwon; i++)
		if (t->won[i].inst == tg->inst && t->won[i].id == id)
			return true;
	return false;
}

/* A new id this thread got: the sandbox's ids only increase. */
static void note_new_id(struct thr *t, const struct target *tg,
			const char *what, uint64_t id)
{
	if (!id) {
		report(t, &g_unexpected, "%s on %s returned id 0", what,
		       tg->name);
		return;
	}
	if (t->ids_inst != tg->inst) {
		t->ids_inst = tg->inst;
		t->last_new = 0;
	}
	if (id <= t->last_new)
		report(t, &g_unexpected,
		       "%s on %s: new id %" PRIu64 " after %" PRIu64,
		       what, tg->name, id, t->last_new);
	t->last_new = id;
	ring_add(tg->ring, id);
}

enum { W_ANY, W_RUNRET, W_TERMINAL };

static void check_info(struct thr *t, const struct target *tg,
		       const char *what, const struct callbox_call_info *c,
		       uint64_t want_id, int want)
{
	bool terminal = c->state == CALLBOX_STATE_EXITED ||
			c->state == CALLBOX_STATE_ABORTED;
	const char *why = NULL;

	if (c->state < CALLBOX_STATE_QUEUED || c->state > CALLBOX_STATE_HOSTCALL)
		why = "state out of range";
	else if (!c->id)
		why = "id 0";
	else if (want_id && c->id != want_id)
		why = "another call's id";
	else if (c->__reserved)
		why = "reserved field set";
	else if (c->flags & ~0xfu)
		why = "unknown flags";
	else if (c->state == CALLBOX_STATE_ABORTED &&
		 (c->reason < 1 || c->reason >= NR_REASONS))
		why = "reason out of range";
	else if (c->state != CALLBOX_STATE_ABORTED && c->reason)
		why = "a reason, but not ABORTED";
	else if ((c->state == CALLBOX_STATE_EXITED ||
		  c->state == CALLBOX_STATE_HOSTCALL) &&
		 !(c->flags & CALLBOX_CALL_GUEST_RAN))
		why = "EXITED or HOSTCALL without GUEST_RAN";
	else if ((c->flags & CALLBOX_CALL_POISONED) &&
		 c->state != CALLBOX_STATE_ABORTED)
		why = "POISONED but not ABORTED";
	else if ((c->flags & CALLBOX_CALL_POISONED) &&
		 !(c->flags & (CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_INIT)))
		why = "POISONED, yet neither GUEST_RAN nor INIT";
	else if (terminal && (c->flags & CALLBOX_CALL_CANCEL_PENDING))
		why = "ended with CANCEL_PENDING";
	else if (want == W_TERMINAL && !terminal)
		why = "not ended";
	else if (want == W_RUNRET && !terminal &&
		 c->state != CALLBOX_STATE_HOSTCALL)
		why = "returned neither ended nor in HOSTCALL";
	else if (won(t, tg, c->id) && terminal &&
		 (c->state != CALLBOX_STATE_ABORTED ||
		  c->reason != CALLBOX_ABORT_CANCELLED))
		why = "this thread's CANCEL won, yet it did not end CANCELLED";
	else if (won(t, tg, c->id) && !terminal &&
		 !(c->flags & CALLBOX_CALL_CANCEL_PENDING))
		why = "this thread's CANCEL won, yet no CANCEL_PENDING";
	else if (c->state == CALLBOX_STATE_ABORTED &&
		 c->reason == CALLBOX_ABORT_RUN_FAILED &&
		 (int64_t)c->detail <= -512 && (int64_t)c->detail >= -530)
		/* ERESTARTSYS & co: a signal or a kick, not a failure. */
		why = "RUN_FAILED with a kernel-internal restart errno";
	if (why) {
		report(t, &g_unexpected,
		       "%s on %s: %s: id %" PRIu64 " (wanted %" PRIu64
		       ") state %u reason %u flags 0x%x status 0x%x detail %" PRId64
		       " exit_reason %u", what, tg->name, why, (uint64_t)c->id,
		       want_id, c->state, c->reason, c->flags, c->status,
		       (int64_t)c->detail, c->exit_reason);
		return;
	}
	if (want == W_ANY || t->child)
		return;
	if (c->state == CALLBOX_STATE_EXITED)
		atomic_fetch_add(&g_out_exited, 1);
	else if (c->state == CALLBOX_STATE_HOSTCALL)
		atomic_fetch_add(&g_out_hostcall, 1);
	else if (c->state == CALLBOX_STATE_ABORTED &&
		 !atomic_fetch_add(&g_out_aborted[c->reason], 1))
		ksft_print_msg("first ABORTED %s: %s on %s, flags 0x%x, detail 0x%llx, exit_reason %u\n",
			       reason_names[c->reason], what, tg->name,
			       c->flags, (unsigned long long)c->detail,
			       c->exit_reason);
}

/* ---- random fields ---- */

static uint64_t rand_deadline(struct thr *t, bool bounded)
{
	uint64_t now = now_ns();

	if (bounded) {
		switch (rnd(t, 4)) {
		case 0:
			return 1;
		case 1:
			return now - rnd(t, MS);
		default:
			return now + rnd(t, BOUNDED_NS);
		}
	}
	switch (rnd(t, 10)) {
	case 0:
	case 1:
	case 2:
		return 0;
	case 3:
		return 1;
	case 4:
		return now + rnd(t, 2 * MS);
	case 5:
	case 6:
		return now + rnd(t, 200 * MS);
	case 7:
		return now + 3600 * SEC;
	case 8:
		return INT64_MAX;
	default:
		return chance(t, 50) ? UINT64_MAX :
			(uint64_t)INT64_MAX + 1 + rnd(t, 1000);
	}
}

static uint64_t pick_id(struct thr *t, const struct target *tg)
{
	unsigned int r = rnd(t, 100);

	if (r < 12)
		return 0;
	if (r < 22)
		return 1 + rnd(t, 4);
	if (r < 75)
		return ring_pick(t, tg->ring);
	if (r < 85)
		return ring_pick(t, tg->ring) + (chance(t, 50) ? 1 : -1);
	if (r < 90)
		return UINT64_MAX;
	if (r < 95)
		return 1ull << 63;
	return ring_last(tg->ring) + 1000;
}

/* @out on input: zero (a new call), garbage, or naming a call. */
static void rand_out(struct thr *t, const struct target *tg,
		     struct callbox_call_info *out)
{
	unsigned int r = rnd(t, 100);

	memset(out, 0, sizeof(*out));
	if (r < 85)
		return;
	if (r < 93) {
		out->id = chance(t, 50) ? rnd64(t) : pick_id(t, tg);
		out->state = rnd(t, 8);
		out->reason = rnd64(t);
		out->flags = rnd64(t);
		out->status = rnd64(t);
		return;
	}
	out->id = pick_id(t, tg);
	out->state = CALLBOX_STATE_ENTERED;
}

static void set_behaviour(struct thr *t, const struct target *tg)
{
	static const uint8_t pick[] = {
		SCRIPT_DONE, SCRIPT_DONE, SCRIPT_DONE, SCRIPT_DONE,
		SCRIPT_DONE, SCRIPT_DONE, SCRIPT_DONE, SCRIPT_HOSTCALL,
		SCRIPT_HOSTCALL, SCRIPT_MULTI, SCRIPT_SPIN, SCRIPT_SPIN,
		SCRIPT_HALT, SCRIPT_ABORT, SCRIPT_BAD_PORT, SCRIPT_DONE,
	};

	if (tg->gb)
		script_set(tg->gb->g.mem, pick[rnd(t, sizeof(pick))]);
}

/* ---- the operations ---- */

static void op_run_id(struct thr *t, const struct target *tg, uint64_t id,
		      uint32_t flags, unsigned int abi_pct);
static void op_wait_id(struct thr *t, const struct target *tg, uint64_t id,
		       uint64_t deadline, unsigned int abi_pct);

/*
 * After a SYNC or RUN (@r): check a returned outcome, continue a host
 * call or an interrupted call, or leave them.
 */
static void after_run(struct thr *t, const struct target *tg, struct req *r)
{
	struct callbox_call_info *out = r->cmd == C_SYNC ? &r->img.sync.out :
							   &r->img.run.out;
	bool was_restart = looks_restart(r->cmd == C_SYNC ?
					 &r->sent.sync.out : &r->sent.run.out);

	if (!r->wellformed)
		return;
	if (r->ret == -EINTR && looks_restart(out) && t->depth < 4 &&
	    chance(t, 70)) {
		/* Interrupted (immediate_exit): continue as the ABI says. */
		struct req c;

		req_init(&c, r->cmd);
		c.img = r->img;
		c.rt_mask = r->rt_mask | EB(ENOENT) | EB(ESRCH);
		c.timeout_ns = r->timeout_ns;
		t->depth++;
		issue(t, tg, &c);
		after_run(t, tg, &c);
		t->depth--;
		return;
	}
	if (r->ret)
		return;
	check_info(t, tg, cmds[r->cmd].name, out,
		   r->cmd == C_RUN && r->img.run.id ? r->img.run.id : 0,
		   W_RUNRET);
	ring_add(tg->ring, out->id);
	if (r->cmd == C_SYNC && !was_restart) {
		uint64_t dl = r->sent.sync.deadline_ns;

		if (!dl && out->reason == CALLBOX_ABORT_DEADLINE)
			report(t, &g_unexpected,
			       "CALL_SYNC on %s without a deadline ended DEADLINE (id %" PRIu64 ")",
			       tg->name, (uint64_t)out->id);
		if (dl == 1 &&
		    (out->state != CALLBOX_STATE_ABORTED ||
		     out->reason != CALLBOX_ABORT_DEADLINE ||
		     (out->flags & CALLBOX_CALL_GUEST_RAN)))
			report(t, &g_unexpected,
			       "CALL_SYNC on %s with a past deadline: state %u reason %u flags 0x%x (id %" PRIu64 ")",
			       tg->name, out->state, out->reason, out->flags,
			       (uint64_t)out->id);
	}
	if (out->state == CALLBOX_STATE_HOSTCALL && t->depth < 5) {
		uint64_t id = out->id;

		t->depth++;
		if (chance(t, 75))
			op_run_id(t, tg, chance(t, 50) ? id : 0, 0, 0);
		else if (chance(t, 50))
			op_wait_id(t, tg, id, tg->bounded ?
				   now_ns() + rnd(t, BOUNDED_NS) :
				   rand_deadline(t, false), 0);
		t->depth--;
		return;
	}
	/* Consume what ended, now and then. */
	if ((out->state == CALLBOX_STATE_EXITED ||
	     out->state == CALLBOX_STATE_ABORTED) && r->cmd == C_RUN &&
	    chance(t, 60) && t->depth < 5) {
		t->depth++;
		op_wait_id(t, tg, out->id, now_ns() + rnd(t, BOUNDED_NS), 0);
		t->depth--;
	}
}

static void op_sync(struct thr *t, const struct target *tg,
		    unsigned int abi_pct)
{
	struct req r;

	req_init(&r, C_SYNC);
	r.abi_pct = abi_pct;
	r.img.sync.deadline_ns = rand_deadline(t, tg->bounded);
	rand_out(t, tg, &r.img.sync.out);
	r.rt_mask = EB(ENOTRECOVERABLE) | EB(EBUSY) | EB(EINTR) | EB(EAGAIN) |
		    EB(ESHUTDOWN) | EB(ESRCH);
	if (looks_restart(&r.img.sync.out))
		r.rt_mask |= EB(ENOENT);
	issue(t, tg, &r);
	after_run(t, tg, &r);
}

static void op_submit(struct thr *t, const struct target *tg,
		      unsigned int abi_pct)
{
	struct req r;

	req_init(&r, C_SUBMIT);
	r.abi_pct = abi_pct;
	r.img.submit.deadline_ns = rand_deadline(t, tg->bounded);
	r.rt_mask = EB(EAGAIN) | EB(ESHUTDOWN);
	if (!issue(t, tg, &r) && r.wellformed)
		note_new_id(t, tg, "CALL_SUBMIT", r.img.submit.out_id);
}

static void op_burst(struct thr *t, const struct target *tg)
{
	int i, n = 1 + rnd(t, 70);

	for (i = 0; i < n && !atomic_load(&g_stop); i++) {
		struct req r;

		req_init(&r, C_SUBMIT);
		r.img.submit.deadline_ns = rand_deadline(t, tg->bounded);
		if (r.img.submit.deadline_ns > INT64_MAX)
			r.img.submit.deadline_ns = 0;
		if (tg->bounded && !r.img.submit.deadline_ns)
			r.img.submit.deadline_ns = 1;
		r.rt_mask = EB(EAGAIN) | EB(ESHUTDOWN);
		if (issue(t, tg, &r))
			break;
		note_new_id(t, tg, "CALL_SUBMIT", r.img.submit.out_id);
	}
}

static void op_run_id(struct thr *t, const struct target *tg, uint64_t id,
		      uint32_t flags, unsigned int abi_pct)
{
	struct req r;

	req_init(&r, C_RUN);
	r.abi_pct = abi_pct;
	r.img.run.id = id;
	r.img.run.flags = flags;
	if (tg->bounded && !id)
		r.img.run.flags |= CALLBOX_RUN_NONBLOCK;
	if (abi_pct)
		rand_out(t, tg, &r.img.run.out);
	r.rt_mask = EB(EBUSY) | EB(EINTR) | EB(ENOTRECOVERABLE) |
		    EB(ESHUTDOWN);
	if (r.img.run.flags & CALLBOX_RUN_NONBLOCK)
		r.rt_mask |= EB(EAGAIN);
	/*
	 * RUN names the call it chose in @out before it enters the guest:
	 * if a signal then restarts it, it continues that call, which
	 * another thread may have ended and consumed meanwhile (ESRCH),
	 * whatever this struct said at first.
	 */
	r.rt_mask |= EB(ESRCH);
	if (id || looks_restart(&r.img.run.out))
		r.rt_mask |= EB(ENOENT);
	issue(t, tg, &r);
	after_run(t, tg, &r);
}

static void op_run(struct thr *t, const struct target *tg,
		   unsigned int abi_pct)
{
	uint32_t flags = 0;
	unsigned int f = rnd(t, 100);

	if (f < 50)
		flags = CALLBOX_RUN_NONBLOCK;
	else if (f < 53)
		flags = 1u << (1 + rnd(t, 31));
	op_run_id(t, tg, chance(t, 50) ? 0 : pick_id(t, tg), flags, abi_pct);
}

static void op_wait_id(struct thr *t, const struct target *tg, uint64_t id,
		       uint64_t deadline, unsigned int abi_pct)
{
	struct req r;
	uint64_t now = now_ns();

	req_init(&r, C_WAIT);
	r.abi_pct = abi_pct;
	r.img.wait.id = id;
	r.img.wait.deadline_ns = deadline;
	r.rt_mask = EB(ENOENT) | EB(ESRCH) | EB(EINTR) |
		    (deadline ? EB(ETIMEDOUT) : 0);
	if (deadline > now && deadline <= (uint64_t)INT64_MAX)
		r.timeout_ns = deadline - now;
	issue(t, tg, &r);
	if (!r.ret && r.wellformed)
		check_info(t, tg, "CALL_WAIT", &r.img.wait.out, id, W_TERMINAL);
}

static void op_wait(struct thr *t, const struct target *tg,
		    unsigned int abi_pct)
{
	uint64_t dl;

	if (tg->bounded)
		dl = chance(t, 20) ? 1 : now_ns() + rnd(t, BOUNDED_NS);
	else
		dl = rand_deadline(t, false);
	op_wait_id(t, tg, pick_id(t, tg), dl, abi_pct);
}

static void op_get(struct thr *t, const struct target *tg,
		   unsigned int abi_pct)
{
	struct req r;
	uint64_t id = pick_id(t, tg);

	req_init(&r, C_GET);
	r.abi_pct = abi_pct;
	r.img.get.id = id;
	r.rt_mask = EB(ENOENT) | EB(ESRCH);
	if (!issue(t, tg, &r) && r.wellformed)
		check_info(t, tg, "CALL_GET", &r.img.get.out, id, W_ANY);
}

static void op_cancel(struct thr *t, const struct target *tg,
		      unsigned int abi_pct)
{
	struct req r;
	uint64_t id = pick_id(t, tg);

	req_init(&r, C_CANCEL);
	r.abi_pct = abi_pct;
	r.img.cancel.id = id;
	r.rt_mask = EB(EALREADY) | EB(ENOENT);
	if (!issue(t, tg, &r) && r.wellformed)
		note_won(t, tg, id);
}

/* ---- BATCH ---- */

/* Submit up to @want calls for a batch: how many, their ids in @own. */
static uint32_t batch_submit(struct thr *t, const struct target *tg,
			     uint64_t *own, uint32_t want)
{
	uint32_t n = 0;

	while (n < want && !atomic_load(&g_stop)) {
		struct req r;
		uint64_t dl;

		if (tg->bounded)
			dl = chance(t, 80) ? now_ns() + rnd(t, BOUNDED_NS) :
			     rand_deadline(t, true);
		else
			dl = chance(t, 50) ? 0 : rand_deadline(t, false);
		if (dl > INT64_MAX)
			dl = 0;
		req_init(&r, C_SUBMIT);
		r.img.submit.deadline_ns = dl;
		r.rt_mask = EB(EAGAIN) | EB(ESHUTDOWN);
		if (issue(t, tg, &r) || !r.wellformed)
			break;
		note_new_id(t, tg, "CALL_SUBMIT", r.img.submit.out_id);
		own[n++] = r.img.submit.out_id;
	}
	return n;
}

/* An id for entry @i of a batch, and what it may be (*@kind). */
static uint64_t batch_pick_id(struct thr *t, const struct target *tg,
			      const struct batch_ids *bi, uint32_t i,
			      const uint64_t *own, uint32_t nown,
			      uint8_t *kind)
{
	unsigned int r = rnd(t, 100);
	uint64_t id;

	if (r < 15 && nown) {
		*kind = BK_ISSUED;
		return own[rnd(t, nown)];
	}
	if (r < 50) {
		/* Every id in the ring was issued; 0 is a slot not set yet. */
		id = tg->ring && atomic_load(&tg->ring->n) ?
		     ring_pick(t, tg->ring) : 0;
		*kind = id ? BK_ISSUED : BK_NEVER;
		return id;
	}
	if (r < 62 && i) {
		uint32_t j = rnd(t, i);

		*kind = BK_KIND(bi->kind[j]);
		return bi->id[j];
	}
	if (r < 70) {
		id = ring_pick(t, tg->ring) + (chance(t, 50) ? 1 : -1);
		*kind = !id || id == UINT64_MAX ? BK_NEVER : BK_MAYBE;
		return id;
	}
	if (r < 75) {
		*kind = BK_MAYBE;
		return 1 + rnd(t, 4);
	}
	*kind = BK_NEVER;
	if (r < 81)
		return 0;
	if (r < 86)
		return UINT64_MAX;
	if (r < 90)
		return 1ull << 63;
	*kind = BK_MAYBE;
	return r < 95 ? ring_last(tg->ring) + 1000 : rnd64(t);
}

/*
 * The ids of a batch: mostly the calls it submitted (@own), in order,
 * with now and then another id instead or after them; else 1 to
 * CALLBOX_MAX_CALLS + 1 ids of any kind.
 */
static void batch_fill_ids(struct thr *t, const struct target *tg,
			   struct batch_ids *bi, const uint64_t *own,
			   uint32_t nown)
{
	bool in_order = nown && chance(t, 70);
	unsigned int r = rnd(t, 100);
	uint32_t i, n;

	memset(bi, 0, sizeof(*bi));
	if (in_order)
		n = nown + (chance(t, 20) ? 1 + rnd(t, 3) : 0);
	else if (r < 60)
		n = 1 + rnd(t, 8);
	else if (r < 88)
		n = 9 + rnd(t, CALLBOX_MAX_CALLS - 8);
	else if (r < 95)
		n = CALLBOX_MAX_CALLS;
	else
		n = CALLBOX_MAX_CALLS + 1;
	bi->n = n;
	for (i = 0; i < n; i++) {
		if (in_order && i < nown && !chance(t, 10)) {
			bi->id[i] = own[i];
			bi->kind[i] = BK_ISSUED;
		} else {
			bi->id[i] = batch_pick_id(t, tg, bi, i, own, nown,
						  &bi->kind[i]);
		}
	}
}

/* @done on input: 0, inside, at @nr or past it. */
static uint32_t batch_pick_done(struct thr *t, uint32_t nr)
{
	unsigned int r = rnd(t, 100);

	if (r < 80)
		return 0;
	if (r < 92)
		return rnd(t, nr);
	if (r < 96)
		return nr;
	return chance(t, 50) ? UINT32_MAX : nr + 1 + rnd(t, 100);
}

/*
 * Lay @bi out and point @b->ids at it: in the ids page (read-only during
 * the ioctl, now and then, or misaligned), starting in the unmapped page
 * before it, running into the one after it, or NULL, kernel or unmapped.
 * The ids the kernel cannot read are marked BK_FAULT.
 */
static void batch_place(struct thr *t, struct batch_ids *bi,
			struct callbox_call_batch *b)
{
	static const uintptr_t bad[] = {
		0, 8, 0xffff888000000000ull, (uintptr_t)-8,
	};
	uint8_t *page = t->area + IDS_PAGE * PAGE, *p;
	uint32_t n = bi->n, i, lo = 0, hi = n, off;
	unsigned int r = rnd(t, 100);

	bi->ro = false;
	if (r < 80) {
		off = rnd(t, PAGE - 8 * n + 1);
		if (chance(t, 85))
			off &= ~7u;
		p = page + off;
		bi->ro = r >= 70;
		bi->where = bi->ro ? "read-only" :
			    off & 7 ? "misaligned" : "normal";
	} else if (r < 88) {
		hi = rnd(t, n);		/* [0, hi) in the page */
		p = page + PAGE - 8 * hi;
		bi->where = "runs into an unmapped page";
	} else if (r < 93) {
		lo = 1 + rnd(t, n);	/* [0, lo) in the page before */
		p = page - 8 * lo;
		bi->where = "starts in an unmapped page";
	} else {
		i = rnd(t, 5);
		p = i < 4 ? (uint8_t *)bad[i] : page + PAGE + 8 * rnd(t, 64);
		hi = 0;
		bi->where = "bad";
	}
	for (i = 0; i < n; i++) {
		bi->kind[i] = BK_KIND(bi->kind[i]);
		if (i < lo || i >= hi)
			bi->kind[i] |= BK_FAULT;
		else
			memcpy(p + 8 * i, &bi->id[i], sizeof(bi->id[i]));
	}
	b->ids = (uintptr_t)p;
}

/*
 * What a well-formed BATCH may get: for the call at @done, or a later
 * one, the errors of RUN with its id (ENOENT only for an id that may
 * never have been issued, ESRCH only for one that may have been), and
 * EFAULT for an id the kernel cannot read; only EFAULT if it cannot read
 * @ids[@done] (or EINVAL, if @out names a call to continue: it cannot
 * tell whether that is @ids[@done]). @waits: not the worker's private
 * sandbox, where no other thread sets immediate_exit or shuts down.
 */
static void batch_expect(struct req *r, const struct batch_ids *bi,
			 bool waits)
{
	const struct callbox_call_batch *b = &r->img.batch;
	uint32_t i;

	r->rt_mask = EB(EBUSY) | EB(ENOTRECOVERABLE);
	if (waits)
		r->rt_mask |= EB(EINTR) | EB(ESHUTDOWN);
	r->rt_ok = true;
	if (batch_bad(b, bi) || b->nr > bi->n)
		return;		/* EINVAL, which issue() expects */
	if (bi->kind[b->done] & BK_FAULT) {
		r->rt_mask = EB(EFAULT) |
			     (looks_restart(&b->out) ? EB(EINVAL) : 0);
		r->rt_ok = false;
		return;
	}
	for (i = b->done; i < b->nr; i++) {
		if (bi->kind[i] & BK_FAULT) {
			r->rt_mask |= EB(EFAULT);
			break;
		}
		if (BK_KIND(bi->kind[i]) != BK_ISSUED)
			r->rt_mask |= EB(ENOENT);
		if (BK_KIND(bi->kind[i]) != BK_NEVER)
			r->rt_mask |= EB(ESRCH);
	}
}

/* Issue BATCH @r on the ids @bi, which batch_place() laid out. */
static int batch_issue(struct thr *t, const struct target *tg, struct req *r,
		       const struct batch_ids *bi, bool waits)
{
	uint8_t *page = t->area + IDS_PAGE * PAGE;

	r->bi = bi;
	batch_expect(r, bi, waits);
	if (bi->ro)
		mprotect(page, PAGE, PROT_READ);
	issue(t, tg, r);
	if (bi->ro)
		mprotect(page, PAGE, PROT_READ | PROT_WRITE);
	return r->ret;
}

/* Call @id ran to EXITED in a batch: a GET, or a WAIT that consumes it. */
static void batch_check_ran(struct thr *t, const struct target *tg,
			    uint64_t id, bool consume)
{
	struct callbox_call_info *out;
	const char *what;
	struct req g;

	if (consume) {
		req_init(&g, C_WAIT);
		g.img.wait.id = id;
		g.img.wait.deadline_ns = now_ns() + BOUNDED_NS;
		g.timeout_ns = BOUNDED_NS;
		/* Another WAIT may consume it first, or be writing it back. */
		g.rt_mask = EB(ESRCH) | EB(ETIMEDOUT) | EB(EINTR);
		out = &g.img.wait.out;
		what = "CALL_WAIT";
	} else {
		req_init(&g, C_GET);
		g.img.get.id = id;
		g.rt_mask = EB(ESRCH);
		out = &g.img.get.out;
		what = "CALL_GET";
	}
	if (issue(t, tg, &g) || !g.wellformed)
		return;
	check_info(t, tg, what, out, id, consume ? W_TERMINAL : W_ANY);
	if (out->state != CALLBOX_STATE_EXITED)
		report(t, &g_unexpected,
		       "%s on %s: call %" PRIu64 " ran to EXITED in a CALL_BATCH, yet state %u reason %u flags 0x%x",
		       what, tg->name, id, out->state, out->reason,
		       out->flags);
}

/* Was the id at @done among those the batch ran, from @from? */
static bool batch_ran_it(const struct batch_ids *bi, uint32_t from,
			 uint32_t done)
{
	uint32_t i;

	for (i = from; i < done; i++)
		if (bi->id[i] == bi->id[done])
			return true;
	return false;
}

static void after_batch(struct thr *t, const struct target *tg,
			struct req *r, const struct batch_ids *bi);

/* BATCH again on the ids of @r, from @from, with a zeroed @out. */
static void batch_rest(struct thr *t, const struct target *tg,
		       const struct req *r, const struct batch_ids *bi,
		       uint32_t from)
{
	struct req c;

	req_init(&c, C_BATCH);
	c.img.batch.ids = r->sent.batch.ids;
	c.img.batch.nr = r->sent.batch.nr;
	c.img.batch.done = from;
	batch_issue(t, tg, &c, bi, true);
	after_batch(t, tg, &c, bi);
}

/*
 * After a BATCH (@r, on the ids @bi): @done and @out as the header says,
 * and the calls it ran EXITED. Then continue an interrupted call, or a
 * host call and the rest of the batch, or the rest after a call that
 * ended, or leave them.
 */
static void after_batch(struct thr *t, const struct target *tg,
			struct req *r, const struct batch_ids *bi)
{
	const struct callbox_call_batch *s = &r->sent.batch;
	const struct callbox_call_batch *b = &r->img.batch;
	const struct callbox_call_info *out = &b->out;
	uint32_t done = b->done, i, nchk = 0;
	const char *why = NULL;
	uint64_t id;

	if (!r->wellformed || r->ret == -EBADF || r->ret == -ENOMEM ||
	    s->nr > bi->n)
		return;
	if (b->size != s->size || b->flags != s->flags || b->ids != s->ids ||
	    b->nr != s->nr)
		why = "a field it only reads changed";
	else if (done < s->done || done > s->nr || (r->ret && done == s->nr))
		why = "@done out of range";
	else if (r->s.pk == PK_RO && done != s->done)
		why = "@done moved in a read-only struct";
	else if (r->ret == -EFAULT && r->s.pk == PK_NORMAL &&
		 !(bi->kind[done] & BK_FAULT))
		why = "EFAULT, yet @ids[@done] can be read";
	else if (r->ret && r->ret != -EFAULT && (bi->kind[done] & BK_FAULT))
		why = "an error for an id it cannot read";
	else if (r->ret == -ENOENT && BK_KIND(bi->kind[done]) == BK_ISSUED)
		why = "ENOENT for @ids[@done], which was issued";
	else if (r->ret == -ESRCH && BK_KIND(bi->kind[done]) == BK_NEVER)
		why = "ESRCH for @ids[@done], which is never issued";
	else if (r->ret == -EINTR && looks_restart(out) &&
		 out->id != bi->id[done])
		why = "interrupted, and @out names another call";
	else if (!r->ret && done == s->nr && out->id != bi->id[s->nr - 1])
		why = "all ran, yet @out does not name the last id";
	else if (!r->ret && done == s->nr &&
		 out->state != CALLBOX_STATE_EXITED)
		why = "all ran, yet @out is not EXITED";
	else if (!r->ret && done < s->nr && out->id != bi->id[done])
		why = "@out does not name @ids[@done]";
	else if (!r->ret && done < s->nr && batch_ran_it(bi, s->done, done) &&
		 out->state != CALLBOX_STATE_EXITED)
		why = "stopped at a call it ran, yet @out is not EXITED";
	if (why) {
		char ids[600];

		batch_ids_str(ids, sizeof(ids), bi);
		report(t, &g_unexpected,
		       "CALL_BATCH on %s -> %s: %s: nr %u, done %u -> %u, "
		       "out.id %" PRIu64 " -> %" PRIu64 ", out.state %u -> %u, "
		       "reason %u, flags 0x%x%s",
		       tg->name, r->ret ? errname(-r->ret) : "0", why, s->nr,
		       s->done, done, (uint64_t)s->out.id, (uint64_t)out->id,
		       s->out.state, out->state, out->reason, out->flags, ids);
		return;
	}

	/* The calls before @done ran to EXITED, and stay so. */
	if (!t->child)
		atomic_fetch_add(&g_batch_ran, done - s->done);
	for (i = s->done; i < done && nchk < 12; i++) {
		unsigned int c = rnd(t, 100);

		if (c < 65) {
			batch_check_ran(t, tg, bi->id[i], c < 45);
			nchk++;
		}
	}

	if (r->ret == -EINTR && looks_restart(out) && t->depth < 4 &&
	    chance(t, 70)) {
		/* Interrupted (immediate_exit): continue as the ABI says. */
		struct req c;

		req_init(&c, C_BATCH);
		c.img = r->img;
		c.timeout_ns = r->timeout_ns;
		t->depth++;
		batch_issue(t, tg, &c, bi, true);
		after_batch(t, tg, &c, bi);
		t->depth--;
		return;
	}
	if (r->ret)
		return;
	check_info(t, tg, "CALL_BATCH", out, out->id, W_RUNRET);
	ring_add(tg->ring, out->id);
	if (!t->child) {
		if (done == s->nr)
			atomic_fetch_add(&g_batch_all, 1);
		else if (out->state <= CALLBOX_STATE_HOSTCALL)
			atomic_fetch_add(&g_batch_stop[out->state], 1);
	}
	if (done == s->nr || t->depth >= 5)
		return;
	id = out->id;
	t->depth++;
	if (out->state == CALLBOX_STATE_HOSTCALL) {
		/* Continue it with RUN, then batch the rest from @done + 1. */
		if (chance(t, 75)) {
			op_run_id(t, tg, chance(t, 50) ? id : 0, 0, 0);
			if (done + 1 < s->nr && chance(t, 70))
				batch_rest(t, tg, r, bi, done + 1);
		} else if (chance(t, 50)) {
			op_wait_id(t, tg, id, tg->bounded ?
				   now_ns() + rnd(t, BOUNDED_NS) :
				   rand_deadline(t, false), 0);
		}
	} else if (done + 1 < s->nr && chance(t, 40)) {
		/* It ended: the rest, as a runner that skips it would. */
		batch_rest(t, tg, r, bi, done + 1);
	}
	t->depth--;
}

/*
 * BATCH: calls it submits just before, mostly, mixed with other ids;
 * @done 0, inside, at or past @nr; @out empty, garbage, or naming a call
 * to continue (@ids[@done] now and then); @ids anywhere batch_place()
 * puts them.
 */
static void op_batch(struct thr *t, const struct target *tg,
		     unsigned int abi_pct)
{
	struct callbox_call_batch *b;
	struct batch_ids bi;
	uint64_t own[8];
	uint32_t nown = 0;
	struct req r;

	if (chance(t, 60))
		nown = batch_submit(t, tg, own, 1 + rnd(t, 8));
	/* Mostly a guest that ends every call, so that batches run on. */
	if (tg->gb && chance(t, 50))
		script_set(tg->gb->g.mem, SCRIPT_DONE);
	else if (chance(t, 30))
		set_behaviour(t, tg);
	batch_fill_ids(t, tg, &bi, own, nown);
	req_init(&r, C_BATCH);
	r.abi_pct = abi_pct;
	b = &r.img.batch;
	b->nr = bi.n;
	b->done = batch_pick_done(t, bi.n);
	rand_out(t, tg, &b->out);
	if (b->done < bi.n && chance(t, 5)) {
		/* A continuation, if it was interrupted in this thread. */
		b->out.id = bi.id[b->done];
		b->out.state = CALLBOX_STATE_ENTERED;
	}
	batch_place(t, &bi, b);
	batch_issue(t, tg, &r, &bi, true);
	after_batch(t, tg, &r, &bi);
}

/*
 * Put the guest's registers back at @rip, as raw_guest_rewind() and
 * raw_guest_restore() do, with every step watched: KVM_RUN with
 * immediate_exit (KVM finishes the exit it stopped at), then
 * KVM_SET_REGS.
 */
static void set_guest_entry(struct thr *t, const struct target *tg,
			    uint64_t rip)
{
	struct kvm_regs regs = { .rip = rip, .rflags = 2 };
	struct gbox *gb = tg->gb;

	if (!gb || gb->run == MAP_FAILED || gb->g.vm.vcpu_fd < 0)
		return;
	pthread_mutex_lock(&gb->rewind_lock);
	gb->run->immediate_exit = 1;
	inf_begin(t->inf, -1, "KVM_RUN (immediate_exit)", gb->g.vm.vcpu_fd,
		  NULL, NULL, 0);
	if (ioctl(gb->g.vm.vcpu_fd, KVM_RUN, 0) != -1 || errno != EINTR)
		report(t, &g_unexpected,
		       "KVM_RUN with immediate_exit on %s's vCPU: %s",
		       tg->name, strerror(errno));
	inf_end(t->inf);
	gb->run->immediate_exit = 0;
	inf_begin(t->inf, -1, "KVM_SET_REGS", gb->g.vm.vcpu_fd, NULL, NULL, 0);
	ioctl(gb->g.vm.vcpu_fd, KVM_SET_REGS, &regs);
	inf_end(t->inf);
	pthread_mutex_unlock(&gb->rewind_lock);
	if (!t->child)
		atomic_fetch_add(&g_rewinds, 1);
}

/* Put the guest back at its init, before a reset. */
static void rewind_guest(struct thr *t, const struct target *tg)
{
	set_guest_entry(t, tg, RAW_GUEST_INIT);
}

static void op_reset(struct thr *t, const struct target *tg,
		     unsigned int abi_pct)
{
	struct req r;

	if (chance(t, 60))
		rewind_guest(t, tg);
	req_init(&r, C_RESET);
	r.abi_pct = abi_pct;
	r.img.reset.deadline_ns = rand_deadline(t, tg->bounded);
	r.rt_mask = EB(EBUSY) | EB(EAGAIN) | EB(ESHUTDOWN);
	if (issue(t, tg, &r) || !r.wellformed)
		return;
	note_new_id(t, tg, "SANDBOX_RESET", r.img.reset.out_id);
	/* Run the init call (it goes first) and consume it, mostly. */
	if (chance(t, 70)) {
		t->depth++;
		op_run_id(t, tg, chance(t, 70) ? r.img.reset.out_id : 0,
			  CALLBOX_RUN_NONBLOCK, 0);
		op_wait_id(t, tg, r.img.reset.out_id,
			   now_ns() + rnd(t, BOUNDED_NS), 0);
		t->depth--;
	}
}

/*
 * One RESTORE step on restore *@id: 0 if the kernel took it, and then,
 * for BEGIN, the new restore's id in *@id (and in the target's ring, for
 * other threads to end).
 */
static int restore_step(struct thr *t, const struct target *tg, uint32_t op,
			uint64_t *id, unsigned int abi_pct)
{
	struct req r;

	req_init(&r, C_RESTORE);
	r.abi_pct = abi_pct;
	r.img.restore.op = op;
	r.img.restore.id = *id;
	/*
	 * COMMIT and ABANDON are EINVAL unless @id is the restore in
	 * progress: none may have begun, or another thread's COMMIT,
	 * ABANDON or SHUTDOWN ended it, and another may have begun since.
	 */
	if (op == CALLBOX_RESTORE_BEGIN)
		r.rt_mask = EB(EBUSY) | EB(ESHUTDOWN);
	else
		r.rt_mask = EB(EINVAL) | EB(ESHUTDOWN);
	issue(t, tg, &r);
	if (!r.ret && r.wellformed && op == CALLBOX_RESTORE_BEGIN) {
		if (r.img.restore.out_poisoned > 1)
			report(t, &g_unexpected,
			       "SANDBOX_RESTORE BEGIN on %s: out_poisoned %u",
			       tg->name, r.img.restore.out_poisoned);
		*id = r.img.restore.id;
		if (tg->ring)
			atomic_store(&tg->ring->restore_id, *id);
	}
	/* What the kernel did, even if it should not have (reported). */
	return r.ret;
}

/* An id for a lone COMMIT or ABANDON: the last begun, or any. */
static uint64_t pick_restore_id(struct thr *t, const struct target *tg)
{
	uint64_t last = tg->ring ? atomic_load(&tg->ring->restore_id) : 0;

	switch (rnd(t, 4)) {
	case 0:
		return last;
	case 1:
		return last ? last - 1 : 0;
	case 2:
		return rnd64(t);
	default:
		return rnd(t, 4);
	}
}

/*
 * A restore, as a runner puts the guest back to a snapshot taken at a
 * call boundary: BEGIN, the registers back where the script's loop
 * starts (its memory is as a call leaves it, but for the command byte,
 * which every call reads afresh), then COMMIT, or ABANDON as if that had
 * failed half way. Meanwhile the others' SYNC, RUN and RESET get EBUSY.
 * Sometimes a lone COMMIT or ABANDON, an unknown op, or a restore left
 * begun, for another thread's COMMIT or ABANDON, or a SHUTDOWN (the
 * recycler's, say), to end.
 */
static void op_restore(struct thr *t, const struct target *tg,
		       unsigned int abi_pct)
{
	unsigned int r = rnd(t, 100);
	uint64_t id = pick_restore_id(t, tg);

	if (r < 15) {
		restore_step(t, tg, chance(t, 70) ? CALLBOX_RESTORE_COMMIT :
				    CALLBOX_RESTORE_ABANDON, &id, abi_pct);
		return;
	}
	if (r < 22) {
		restore_step(t, tg, bad_restore_op(t), &id, abi_pct);
		return;
	}
	if (restore_step(t, tg, CALLBOX_RESTORE_BEGIN, &id, abi_pct))
		return;
	if (!tg->sole && chance(t, 3))
		return;
	if (chance(t, 70))
		set_guest_entry(t, tg, RAW_GUEST_CODE);
	/*
	 * Well-formed, so that only the chance above leaves one begun: the
	 * lone ones and the ABI probes try a malformed COMMIT and ABANDON.
	 */
	restore_step(t, tg, chance(t, 80) ? CALLBOX_RESTORE_COMMIT :
			    CALLBOX_RESTORE_ABANDON, &id, 0);
}

static void op_shutdown(struct thr *t, const struct target *tg,
			unsigned int abi_pct)
{
	struct req r;

	req_init(&r, C_SHUTDOWN);
	r.abi_pct = abi_pct;
	if (issue(t, tg, &r) || !r.wellformed)
		return;
	/* Once SHUTDOWN returned: no new call, and POLLHUP. */
	req_init(&r, C_SUBMIT);
	r.rt_mask = EB(ESHUTDOWN);
	r.rt_ok = false;
	issue(t, tg, &r);
	if (!tg->maybe_closed) {
		struct pollfd p = { .fd = tg->fd, .events = POLLIN };

		if (poll(&p, 1, 0) != 1 || !(p.revents & POLLHUP))
			report(t, &g_unexpected,
			       "%s polls 0x%x after SHUTDOWN returned",
			       tg->name, p.revents);
	}
}

static void op_poll(struct thr *t, const struct target *tg)
{
	short allowed = POLLIN | POLLRDNORM | POLLPRI | POLLHUP;
	struct pollfd p = { .fd = tg->fd, .events = POLLIN | POLLPRI };
	int ms = rnd(t, 20), ret;

	if (tg->maybe_closed)
		allowed |= POLLNVAL;
	inf_begin(t->inf, -1, "poll", tg->fd, NULL, NULL, ms * MS);
	ret = poll(&p, 1, ms);
	inf_end(t->inf);
	if (!t->child)
		atomic_fetch_add(&g_polls, 1);
	if (ret < 0 && errno != EINTR)
		report(t, &g_unexpected, "poll on %s: %s", tg->name,
		       strerror(errno));
	else if (ret > 0 && (p.revents & ~allowed))
		report(t, &g_unexpected, "poll on %s: revents 0x%x",
		       tg->name, p.revents);
}

static void op_epoll(struct thr *t, const struct target *tg)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLPRI },
			   got[4];
	int ep = t->w ? t->w->ep_fd : -1, ms = rnd(t, 10), i, n;

	if (ep < 0)
		return;
	if (chance(t, 20)) {
		epoll_ctl(ep, EPOLL_CTL_DEL, tg->fd, NULL);
	} else if (epoll_ctl(ep, EPOLL_CTL_ADD, tg->fd, &ev) &&
		   errno != EEXIST && !(tg->maybe_closed && errno == EBADF)) {
		report(t, &g_unexpected, "EPOLL_CTL_ADD of %s: %s",
		       tg->name, strerror(errno));
	}
	inf_begin(t->inf, -1, "epoll_wait", ep, NULL, NULL, ms * MS);
	n = epoll_wait(ep, got, 4, ms);
	inf_end(t->inf);
	if (n < 0 && errno != EINTR)
		report(t, &g_unexpected, "epoll_wait: %s", strerror(errno));
	for (i = 0; i < n; i++)
		if (got[i].events & ~(EPOLLIN | EPOLLRDNORM | EPOLLPRI |
				      EPOLLHUP | EPOLLERR))
			report(t, &g_unexpected, "epoll_wait: events 0x%x",
			       got[i].events);
}

/* One random operation on @tg. */
static void op_random(struct thr *t, const struct target *tg,
		      unsigned int abi_pct)
{
	unsigned int r = rnd(t, 1000);

	if (r < 140)
		op_sync(t, tg, abi_pct);
	else if (r < 270)
		op_submit(t, tg, abi_pct);
	else if (r < 400)
		op_run(t, tg, abi_pct);
	else if (r < 480)
		op_batch(t, tg, abi_pct);
	else if (r < 600)
		op_wait(t, tg, abi_pct);
	else if (r < 670)
		op_get(t, tg, abi_pct);
	else if (r < 760)
		op_cancel(t, tg, abi_pct);
	else if (r < 820)
		op_reset(t, tg, abi_pct);
	else if (r < 850)
		op_restore(t, tg, abi_pct);
	else if (r < 880)
		op_poll(t, tg);
	else if (r < 900)
		op_epoll(t, tg);
	else if (r < 990)
		set_behaviour(t, tg);
	else if (r < 996)
		op_burst(t, tg);
	else
		op_shutdown(t, tg, abi_pct);
}

/* ---- sequences ---- */

static void slot_target(struct slot *sl, struct target *tg)
{
	*tg = (struct target) {
		.fd = sl->fd, .inst = sl->inst, .gb = &sl->gb,
		.ring = &sl->ring, .name = "a slot",
	};
}

/* A dozen operations on a shared sandbox, or on a dup of it. */
static void seq_slot(struct worker *w)
{
	struct thr *t = &w->t;
	struct slot *sl = &g_slots[rnd(t, NR_SLOTS)];
	struct target tg;
	int i, n = 1 + rnd(t, 12);

	pthread_rwlock_rdlock(&sl->lock);
	slot_target(sl, &tg);
	if (chance(t, 15) && dup2(sl->fd, t->res + RES_DUP) >= 0) {
		tg.fd = t->res + RES_DUP;
		tg.name = "a dup of a slot";
	}
	for (i = 0; i < n && !atomic_load(&g_stop); i++)
		op_random(t, &tg, 8);
	/* The dup may outlive the slot's own fd. */
	if (tg.fd != sl->fd && chance(t, 50))
		close(tg.fd);
	pthread_rwlock_unlock(&sl->lock);
}

/* Open the worker's private sandbox, for the ABI probes. */
static bool priv_open(struct worker *w)
{
	if (w->priv_open)
		return true;
	if (gbox_open(&w->priv)) {
		gbox_close(&w->priv);
		return false;
	}
	w->priv_fd = bind_sandbox(w->priv.g.vm.vm_fd, w->priv.g.vm.vcpu_fd);
	if (w->priv_fd < 0) {
		report(&w->t, &g_unexpected, "binding a private sandbox: %s",
		       strerror(-w->priv_fd));
		gbox_close(&w->priv);
		return false;
	}
	w->priv_inst = new_inst();
	ring_reset(&w->priv_ring);
	w->priv_open = true;
	return true;
}

static void priv_close(struct worker *w)
{
	if (!w->priv_open)
		return;
	close(w->priv_fd);
	gbox_close(&w->priv);
	w->priv_open = false;
}

/*
 * Malformed requests on a private sandbox: each gets the errno of its
 * fault, and none has any effect (fdinfo's counts do not move). Then a
 * few well-formed ones with a long zero-tailed struct, which must work.
 */
static void seq_abi(struct worker *w)
{
	static const int pick[] = {
		C_SYNC, C_SUBMIT, C_RUN, C_WAIT, C_GET, C_CANCEL, C_RESET,
		C_SHUTDOWN, C_RESTORE, C_BATCH,
	};
	struct thr *t = &w->t;
	struct cb_fdinfo before, after;
	struct batch_ids bi;
	struct target tg;
	int i, n = 5 + rnd(t, 20);

	if (!priv_open(w))
		return;
	tg = (struct target) {
		.fd = w->priv_fd, .inst = w->priv_inst, .bounded = true,
		.sole = true, .gb = &w->priv, .ring = &w->priv_ring,
		.name = "a private sandbox",
	};
	if (fdinfo_read(0, w->priv_fd, &before)) {
		report(t, &g_unexpected, "reading the fdinfo of a sandbox");
		return;
	}
	for (i = 0; i < n; i++) {
		struct req r;

		req_init(&r, pick[rnd(t, sizeof(pick) / sizeof(pick[0]))]);
		r.force_bad = true;
		r.img.run.id = pick_id(t, &tg);	/* id of RUN, WAIT, GET, CANCEL */
		if (r.cmd == C_RUN)
			r.img.run.flags = CALLBOX_RUN_NONBLOCK;
		if (r.cmd == C_SYNC || r.cmd == C_SUBMIT || r.cmd == C_RESET)
			r.img.sync.deadline_ns = rand_deadline(t, true);
		if (r.cmd == C_WAIT)
			r.img.wait.deadline_ns = 1;
		if (r.cmd == C_RESTORE) {
			/* Over the id: an op it knows, so the probe is the fault. */
			r.img.restore.op = CALLBOX_RESTORE_BEGIN + rnd(t, 3);
			r.img.restore.out_poisoned = rnd(t, 3);
		}
		if (r.cmd == C_BATCH) {
			/* Over the id: a good @nr and @done, any @ids. */
			batch_fill_ids(t, &tg, &bi, NULL, 0);
			if (bi.n > CALLBOX_MAX_CALLS)
				bi.n = CALLBOX_MAX_CALLS;
			r.img.batch.nr = bi.n;
			r.img.batch.done = chance(t, 70) ? 0 : rnd(t, bi.n);
			batch_place(t, &bi, &r.img.batch);
		}
		/* What a well-formed one may get, if the fault is RO. */
		switch (r.cmd) {
		case C_SYNC:
			r.rt_mask = EB(ENOTRECOVERABLE) | EB(EBUSY) | EB(EAGAIN);
			break;
		case C_SUBMIT:
			r.rt_mask = EB(EAGAIN);
			break;
		case C_RESET:
			r.rt_mask = EB(EAGAIN) | EB(EBUSY);
			break;
		case C_RUN:
			r.rt_mask = EB(EAGAIN) | EB(ENOENT) | EB(ESRCH) |
				    EB(ENOTRECOVERABLE) | EB(EBUSY);
			break;
		case C_WAIT:
			r.rt_mask = EB(ENOENT) | EB(ESRCH) | EB(ETIMEDOUT);
			break;
		case C_GET:
			r.rt_mask = EB(ENOENT) | EB(ESRCH);
			break;
		case C_RESTORE:
			/* None is left begun here (tg.sole): none to end. */
			r.rt_mask = r.img.restore.op == CALLBOX_RESTORE_BEGIN ?
				    EB(EBUSY) : EB(EINVAL);
			break;
		}
		/* BATCH's, from its ids: batch_expect(). */
		if (r.cmd == C_BATCH)
			batch_issue(t, &tg, &r, &bi, false);
		else
			issue(t, &tg, &r);
		if (!r.ret && r.cmd == C_SHUTDOWN) {
			priv_close(w);	/* reported already */
			return;
		}
	}
	if (fdinfo_read(0, w->priv_fd, &after)) {
		report(t, &g_unexpected, "reading the fdinfo of a sandbox");
		return;
	}
	if (before.calls != after.calls || before.exited != after.exited ||
	    before.aborted != after.aborted ||
	    before.unconsumed != after.unconsumed ||
	    before.call_id != after.call_id || strcmp(before.state, after.state))
		report(t, &g_unexpected,
		       "failed ioctls had an effect: calls %" PRIu64 "->%" PRIu64
		       ", exited %" PRIu64 "->%" PRIu64 ", aborted %" PRIu64
		       "->%" PRIu64 ", unconsumed %" PRIu64 "->%" PRIu64
		       ", state %s->%s", before.calls, after.calls,
		       before.exited, after.exited, before.aborted,
		       after.aborted, before.unconsumed, after.unconsumed,
		       before.state, after.state);
}

/*
 * A long zero-tailed SYNC on the private sandbox, when it is idle and
 * healthy: it must succeed and exit.
 */
static void seq_long_struct(struct worker *w)
{
	struct thr *t = &w->t;
	struct target tg;
	union cmd_img img;
	struct callbox_call_sync *c;
	uint32_t size = chance(t, 50) ? 4096 : sizeof(*c) + 1 + rnd(t, 64);
	uint8_t *p = t->area + (size == 4096 ? 0 : rnd(t, PAGE) & ~7u);
	int ret, i;

	if (!priv_open(w))
		return;
	tg = (struct target) {
		.fd = w->priv_fd, .inst = w->priv_inst, .bounded = true,
		.sole = true, .gb = &w->priv, .ring = &w->priv_ring,
		.name = "a private sandbox",
	};
	script_set(w->priv.g.mem, SCRIPT_DONE);
	memset(p, 0, size);
	c = (struct callbox_call_sync *)p;
	c->size = size;
	memset(&img, 0, sizeof(img));
	img.sync = *c;
	inf_begin(t->inf, C_SYNC, NULL, tg.fd, &img, NULL, 0);
	ret = ioctl(tg.fd, CALLBOX_CALL_SYNC, p) ? -errno : 0;
	inf_end(t->inf);
	if (ret == -ENOTRECOVERABLE || ret == -EBUSY) {
		/* A probe left it so (a RESET's init call, say): mend it. */
		priv_close(w);
		return;
	}
	if (ret) {
		report(t, &g_unexpected,
		       "CALL_SYNC with a %u-byte zero-tailed struct on an idle sandbox: %s",
		       size, errname(-ret));
		return;
	}
	check_info(t, &tg, "CALL_SYNC (long struct)", &c->out, 0, W_TERMINAL);
	if (c->out.state != CALLBOX_STATE_EXITED ||
	    c->out.status != SCRIPT_STATUS)
		report(t, &g_unexpected,
		       "CALL_SYNC of DONE with a %u-byte struct: state %u reason %u status 0x%x",
		       size, c->out.state, c->out.reason, c->out.status);
	for (i = sizeof(*c); i < (int)size; i++)
		if (p[i]) {
			report(t, &g_unexpected,
			       "CALL_SYNC wrote byte %d of a %u-byte struct", i,
			       size);
			break;
		}
}

/* The kinds of fd SANDBOX_CREATE may be given. */
enum { FK_BADF, FK_NOT, FK_SLOT, FK_OTHER };

struct fd_kind {
	int fd, kind;
	const char *name;
};

/*
 * SANDBOX_CREATE with every kind of wrong fd, and on vCPUs bound or
 * free: the exact errno of each.
 */
static void seq_create(struct worker *w)
{
	struct thr *t = &w->t;
	struct slot *sl = &g_slots[rnd(t, NR_SLOTS)];
	int i, n = 4 + rnd(t, 8);

	pthread_rwlock_rdlock(&sl->lock);
	{
		const struct fd_kind vms[] = {
			{ sl->gb.g.vm.vm_fd, FK_SLOT, "the slot's VM" },
			{ w->other.vm_fd, FK_OTHER, "its own VM" },
			{ t->res + RES_CLOSED, FK_BADF, "a closed fd" },
			{ -1, FK_BADF, "-1" },
			{ INT_MAX, FK_BADF, "INT_MAX" },
			{ w->pipefd[0], FK_NOT, "a pipe" },
			{ w->null_fd, FK_NOT, "/dev/null" },
			{ w->other.kvm_fd, FK_NOT, "/dev/kvm" },
			{ g_dev_fd, FK_NOT, "/dev/callbox" },
			{ sl->fd, FK_NOT, "a sandbox" },
			{ sl->gb.g.vm.vcpu_fd, FK_NOT, "a vCPU" },
			{ w->stats_fd, FK_NOT, "a vCPU's stats fd" },
		};
		const struct fd_kind vcpus[] = {
			{ sl->gb.g.vm.vcpu_fd, FK_SLOT, "the slot's vCPU" },
			{ w->other.vcpu_fd, FK_OTHER, "its own vCPU" },
			{ t->res + RES_CLOSED, FK_BADF, "a closed fd" },
			{ -1, FK_BADF, "-1" },
			{ w->pipefd[1], FK_NOT, "a pipe" },
			{ w->null_fd, FK_NOT, "/dev/null" },
			{ w->other.kvm_fd, FK_NOT, "/dev/kvm" },
			{ g_dev_fd, FK_NOT, "/dev/callbox" },
			{ sl->fd, FK_NOT, "a sandbox" },
			{ sl->gb.g.vm.vm_fd, FK_NOT, "a VM" },
			{ w->stats_fd, FK_NOT, "a vCPU's stats fd" },
		};
		struct target dev = { .fd = g_dev_fd, .name = "/dev/callbox" };

		for (i = 0; i < n; i++) {
			const struct fd_kind *vm, *vcpu;
			struct req r;
			int fd;

			if (chance(t, 40)) {
				unsigned int k = rnd(t, 2);

				vm = &vms[k];
				vcpu = &vcpus[k];
			} else {
				vm = &vms[rnd(t, sizeof(vms) / sizeof(vms[0]))];
				vcpu = &vcpus[rnd(t, sizeof(vcpus) / sizeof(vcpus[0]))];
			}
			req_init(&r, C_CREATE);
			r.abi_pct = 15;
			r.img.create.vm_fd = vm->fd;
			r.img.create.vcpu_fd = vcpu->fd;
			if (vm->kind == FK_BADF) {
				r.rt_mask = EB(EBADF);
				r.rt_ok = false;
			} else if (vm->kind == FK_NOT) {
				r.rt_mask = EB(EINVAL);
				r.rt_ok = false;
			} else if (vcpu->kind == FK_BADF) {
				r.rt_mask = EB(EBADF);
				r.rt_ok = false;
			} else if (vcpu->kind != vm->kind) {
				r.rt_mask = EB(EINVAL);
				r.rt_ok = false;
			} else if (vm->kind == FK_SLOT) {
				/* Free only if a SHUTDOWN got it first. */
				r.rt_mask = EB(EBUSY);
			} else {
				r.rt_mask = 0;	/* its own: always free */
			}
			if (issue(t, &dev, &r) || !r.wellformed)
				continue;
			fd = r.img.create.out_sandbox_fd;
			if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC))
				report(t, &g_unexpected,
				       "a sandbox fd without FD_CLOEXEC");
			if (vm->kind == FK_OTHER) {
				struct req again;

				/* Bound now: a second one is EBUSY. */
				req_init(&again, C_CREATE);
				again.img.create = r.img.create;
				again.img.create.out_sandbox_fd = 0;
				again.rt_mask = EB(EBUSY);
				again.rt_ok = false;
				issue(t, &dev, &again);
				if (chance(t, 30)) {
					/* A guest that was never set up. */
					struct target o = {
						.fd = fd, .inst = new_inst(),
						.bounded = true,
						.name = "a sandbox of a bare vCPU",
					};

					op_sync(t, &o, 0);
				}
			}
			/* Shut down first: a child forked meanwhile holds it. */
			if (plain_shutdown(fd))
				report(t, &g_unexpected,
				       "SHUTDOWN of a new sandbox: %s",
				       strerror(errno));
			close(fd);
		}
	}
	pthread_rwlock_unlock(&sl->lock);
}

/* callbox's commands on fds of other kinds, and unknown commands. */
static void seq_wrongfd(struct worker *w)
{
	struct thr *t = &w->t;
	struct slot *sl = &g_slots[rnd(t, NR_SLOTS)];
	int i, n = 2 + rnd(t, 6);

	pthread_rwlock_rdlock(&sl->lock);
	for (i = 0; i < n; i++) {
		unsigned long nr;
		int fd, ret, e;
		void *p = chance(t, 50) ? (void *)t->area : NULL;
		const char *fdname;

		switch (rnd(t, 6)) {
		case 0:
			fd = w->pipefd[rnd(t, 2)];
			fdname = "a pipe";
			nr = cmds[rnd(t, NR_CMDS)].nr;
			break;
		case 1:
			fd = w->null_fd;
			fdname = "/dev/null";
			nr = cmds[rnd(t, NR_CMDS)].nr;
			break;
		case 2:
			fd = g_dev_fd;
			fdname = "/dev/callbox";
			nr = cmds[1 + rnd(t, NR_CMDS - 1)].nr;
			break;
		case 3:
			fd = sl->fd;
			fdname = "a sandbox";
			nr = CALLBOX_SANDBOX_CREATE;
			break;
		default:
			fd = chance(t, 50) ? sl->fd : g_dev_fd;
			fdname = fd == g_dev_fd ? "/dev/callbox" : "a sandbox";
			/* Unknown numbers; known ones with a size or type. */
			switch (rnd(t, 4)) {
			case 0:
				nr = _IO(CALLBOX_TYPE, CMD_LAST + 1 +
					 rnd(t, 0xff - CMD_LAST));
				break;
			case 1:
				nr = _IO(CALLBOX_TYPE, rnd(t, CALLBOX_CMD_BASE));
				break;
			case 2:
				nr = _IOWR(CALLBOX_TYPE, CALLBOX_CMD_BASE +
					   rnd(t, CMD_LAST - CALLBOX_CMD_BASE + 1),
					   24 + 8 * rnd(t, 6));
				break;
			default:
				nr = _IO(CALLBOX_TYPE + 1, CALLBOX_CMD_BASE +
					 rnd(t, CMD_LAST - CALLBOX_CMD_BASE + 1));
				break;
			}
			break;
		}
		memset(t->area, 0, 64);
		*(uint32_t *)t->area = 64;
		inf_begin(t->inf, -1, "an ioctl on the wrong fd", fd, NULL,
			  NULL, 0);
		ret = ioctl(fd, nr, p);
		e = errno;
		inf_end(t->inf);
		if (ret != -1 || e != ENOTTY)
			report(t, &g_unexpected,
			       "ioctl 0x%lx on %s -> %s (expected ENOTTY)", nr,
			       fdname, ret ? errname(e) : "success");
	}
	pthread_rwlock_unlock(&sl->lock);
}

/* ---- close races ---- */

struct helper {
	int i;
	struct thr t;
	pthread_t thread;
	struct target tg;
	int ops;
};

static uint8_t *area_new(void)
{
	uint8_t *a = mmap(NULL, AREA_PAGES * PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (a == MAP_FAILED)
		return NULL;
	mprotect(a + 2 * PAGE, PAGE, PROT_NONE);
	mprotect(a + 3 * PAGE, PAGE, PROT_READ);
	mprotect(a + 4 * PAGE, PAGE, PROT_NONE);
	mprotect(a + (IDS_PAGE + 1) * PAGE, PAGE, PROT_NONE);
	return a;
}

static void *helper_fn(void *arg)
{
	struct helper *h = arg;
	int i;

	h->t.inf->pid = getpid();
	h->t.inf->tid = my_tid();
	atomic_store(&g_helper_tid[h->t.widx][h->i], my_tid());
	for (i = 0; i < h->ops; i++) {
		op_random(&h->t, &h->tg, 8);
		if (chance(&h->t, 10))
			usleep(rnd(&h->t, 3000));
	}
	atomic_store(&g_helper_tid[h->t.widx][h->i], 0);
	return NULL;
}

/*
 * A sandbox of its own, used by NR_HELPERS threads while this one closes
 * its last fd (the helpers then only do what ends by itself), or closes
 * it and shuts the sandbox down through a dup, or shuts it down first.
 */
static void seq_close_race(struct worker *w)
{
	struct thr *t = &w->t;
	struct helper h[NR_HELPERS];
	struct idring ring;
	struct gbox gb;
	int fd, mode = rnd(t, 3), i, r0 = t->res + RES_RACE,
		r1 = t->res + RES_RACE_DUP;
	bool vcpu_kept = chance(t, 70);
	uint64_t inst = new_inst();

	if (gbox_open(&gb)) {
		gbox_close(&gb);
		return;
	}
	fd = bind_sandbox(gb.g.vm.vm_fd, gb.g.vm.vcpu_fd);
	if (fd < 0) {
		report(t, &g_unexpected, "binding a sandbox: %s",
		       strerror(-fd));
		gbox_close(&gb);
		return;
	}
	/* Numbers nobody else opens: a closed one stays closed. */
	if (dup2(fd, r0) < 0) {
		close(fd);
		gbox_close(&gb);
		return;
	}
	close(fd);
	if (mode == 1)
		dup2(r0, r1);
	ring_reset(&ring);
	if (!vcpu_kept) {
		/* The sandbox holds the vCPU and the VM by itself. */
		close(gb.g.vm.vcpu_fd);
		close(gb.g.vm.vm_fd);
		gb.g.vm.vcpu_fd = gb.g.vm.vm_fd = -1;
	}
	set_behaviour(t, &(struct target){ .gb = &gb });
	atomic_fetch_add(&g_races, 1);

	for (i = 0; i < NR_HELPERS; i++) {
		h[i].i = i;
		h[i].t = (struct thr) {
			.widx = t->widx, .role = "close-race helper",
			.rng = rnd64(t),
			.inf = &g_inf[t->widx * INF_PER_WORKER + 1 + i],
			.area = area_new(), .res = t->res, .w = w,
		};
		h[i].tg = (struct target) {
			.fd = r0, .inst = inst, .maybe_closed = true,
			.bounded = mode == 0, .gb = vcpu_kept ? &gb : NULL,
			.ring = &ring, .name = "a sandbox being closed",
		};
		h[i].ops = 4 + rnd(t, 16);
		if (!h[i].t.area ||
		    pthread_create(&h[i].thread, NULL, helper_fn, &h[i])) {
			if (h[i].t.area)
				munmap(h[i].t.area, AREA_PAGES * PAGE);
			h[i].t.area = NULL;
		}
	}

	usleep(rnd(t, 20000));
	switch (mode) {
	case 0:	/* the last fd goes while they use it */
		close(r0);
		break;
	case 1:	/* one of two goes; then SHUTDOWN through the other */
		close(r0);
		usleep(rnd(t, 20000));
		{
			struct target d = { .fd = r1, .inst = inst,
					    .name = "a dup of a sandbox being closed" };

			op_shutdown(t, &d, 0);
		}
		close(r1);
		break;
	default:	/* SHUTDOWN under them, then the close */
		{
			struct target d = { .fd = r0, .inst = inst,
					    .name = "a sandbox being shut down" };

			op_shutdown(t, &d, 0);
		}
		usleep(rnd(t, 5000));
		close(r0);
		break;
	}
	for (i = 0; i < NR_HELPERS; i++) {
		if (!h[i].t.area)
			continue;
		if (join_within(h[i].thread, 3 * STUCK_NS / MS)) {
			report(t, &g_stuck, "a close-race helper never ended");
			results_and_exit(false);
		}
		munmap(h[i].t.area, AREA_PAGES * PAGE);
	}
	gbox_close(&gb);
}

/* ---- fork ---- */

enum { CHILD_EXIT, CHILD_KILLED, CHILD_LINGER };

static void __attribute__((noreturn))
child_main(struct worker *w, struct slot *sl, int plan)
{
	struct thr *t = &w->t;
	struct target foreign, own;
	struct idring ring;
	struct gbox gb;
	int i, fd;

	t->child = true;
	t->role = "child";
	t->inf = &g_inf[t->widx * INF_PER_WORKER + 1 + NR_HELPERS];
	t->inf->pid = getpid();
	t->inf->tid = getpid();
	t->w = NULL;	/* no epoll of the parent's */

	/* The parent's sandbox: every command EIO, even malformed ones. */
	slot_target(sl, &foreign);
	foreign.foreign = true;
	foreign.gb = NULL;
	foreign.name = "the parent's sandbox";
	for (i = rnd(t, 4); i >= 0; i--)
		op_random(t, &foreign, 30);

	/* The parent's VM: EIO. */
	{
		struct target dev = { .fd = g_dev_fd, .name = "/dev/callbox" };
		struct req r;

		req_init(&r, C_CREATE);
		r.img.create.vm_fd = sl->gb.g.vm.vm_fd;
		r.img.create.vcpu_fd = sl->gb.g.vm.vcpu_fd;
		r.rt_mask = EB(EIO);
		r.rt_ok = false;
		issue(t, &dev, &r);
	}
	if (plan == CHILD_LINGER) {
		usleep(rnd(t, 50000));
		_exit(t->child_failed ? 3 : 0);
	}

	/* A sandbox of its own: it works. */
	if (gbox_open(&gb))
		_exit(t->child_failed ? 3 : 0);
	fd = bind_sandbox(gb.g.vm.vm_fd, gb.g.vm.vcpu_fd);
	if (fd < 0) {
		report(t, &g_unexpected, "binding a sandbox in a child: %s",
		       strerror(-fd));
		_exit(3);
	}
	ring_reset(&ring);
	own = (struct target) {
		.fd = fd, .inst = new_inst(), .bounded = plan == CHILD_EXIT,
		.gb = &gb, .ring = &ring, .name = "a child's sandbox",
	};
	for (i = rnd(t, 8); i >= 0; i--)
		op_random(t, &own, 5);
	if (plan == CHILD_KILLED) {
		/* Until the parent's SIGKILL: mostly a spin. */
		struct req r;

		if (chance(t, 70))
			script_set(gb.g.mem, SCRIPT_SPIN);
		for (;;) {
			req_init(&r, C_SYNC);
			r.rt_mask = EB(ENOTRECOVERABLE) | EB(EBUSY) |
				    EB(EINTR) | EB(EAGAIN) | EB(ESHUTDOWN);
			issue(t, &own, &r);
			if (r.ret == -ENOTRECOVERABLE)
				op_reset(t, &own, 0);
			if (r.ret == -ESHUTDOWN)	/* one of its ops did */
				pause();
		}
	}
	_exit(t->child_failed ? 3 : 0);
}

static void seq_fork(struct worker *w)
{
	struct thr *t = &w->t;
	struct slot *sl = &g_slots[rnd(t, NR_SLOTS)];
	struct inflight *ce = &g_inf[t->widx * INF_PER_WORKER + 1 + NR_HELPERS];
	int plan = rnd(t, 3), status = 0;
	uint64_t child_seed = rnd64(t), until;
	bool killed = false;
	pid_t pid, got;

	pthread_rwlock_rdlock(&sl->lock);
	atomic_store(&ce->start_ns, 0);
	atomic_store(&ce->child_failed, 0);
	pid = fork();
	if (!pid) {
		t->rng = child_seed;
		child_main(w, sl, plan);
	}
	pthread_rwlock_unlock(&sl->lock);
	if (pid < 0)
		return;
	atomic_fetch_add(&g_forks, 1);

	if (plan == CHILD_KILLED || chance(t, 20)) {
		usleep(rnd(t, 30000));
		kill(pid, SIGKILL);
		killed = true;
		atomic_fetch_add(&g_kills, 1);
	}
	until = now_ns() + STUCK_NS;
	for (;;) {
		got = waitpid(pid, &status, WNOHANG);
		if (got == pid || (got < 0 && errno != EINTR))
			break;
		if (now_ns() > until) {
			char path[64];

			report(t, &g_child_fail,
			       "child %d (plan %d) has not exited after %" PRIu64
			       " ms", pid, plan, (uint64_t)(STUCK_NS / MS));
			snprintf(path, sizeof(path), "/proc/%d/stack", pid);
			print_file(path, "    ");
			kill(pid, SIGKILL);
			killed = true;
			until = now_ns() + 3 * STUCK_NS;
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR &&
			       now_ns() < until)
				;
			break;
		}
		usleep(1000);
	}
	atomic_store(&ce->start_ns, 0);
	if (atomic_load(&ce->child_failed)) {
		report(t, &g_child_fail,
		       "child %d (plan %d) saw what it did not expect (above)",
		       pid, plan);
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && killed)
		return;
	report(t, &g_child_fail, "child %d (plan %d) ended with status 0x%x",
	       pid, plan, status);
}

/* ---- the threads ---- */

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct thr *t = &w->t;

	atomic_store(&w->tid, my_tid());
	t->inf->pid = getpid();
	t->inf->tid = my_tid();
	while (!atomic_load(&g_stop)) {
		unsigned int r = rnd(t, 100);

		atomic_fetch_add(&g_seqs, 1);
		if (r < 52)
			seq_slot(w);
		else if (r < 60)
			seq_abi(w);
		else if (r < 63)
			seq_long_struct(w);
		else if (r < 71)
			seq_create(w);
		else if (r < 85)
			seq_close_race(w);
		else if (r < 91)
			seq_fork(w);
		else
			seq_wrongfd(w);
	}
	atomic_store(&w->tid, 0);
	return NULL;
}

static int slot_open(struct slot *sl)
{
	int ret = gbox_open(&sl->gb);

	if (ret) {
		gbox_close(&sl->gb);
		return ret;
	}
	sl->fd = bind_sandbox(sl->gb.g.vm.vm_fd, sl->gb.g.vm.vcpu_fd);
	if (sl->fd < 0) {
		ret = sl->fd;
		gbox_close(&sl->gb);
		return ret;
	}
	sl->inst = new_inst();
	ring_reset(&sl->ring);
	return 0;
}

/*
 * Recycle slot @sl: shut it down and bind its vCPU to a new sandbox
 * (which SHUTDOWN's return promises is free), or close it as it is, calls
 * and all, and build a new guest.
 */
static void recycle(struct thr *t, struct slot *sl)
{
	struct timespec ts;
	struct target tg;
	int mode = rnd(t, 100), fd;

	slot_target(sl, &tg);
	tg.name = "a slot being recycled";
	if (mode < 60) {
		op_shutdown(t, &tg, 0);
		pthread_rwlock_wrlock(&sl->lock);
		fd = bind_sandbox(sl->gb.g.vm.vm_fd, sl->gb.g.vm.vcpu_fd);
		if (fd < 0) {
			report(t, &g_unexpected,
			       "SANDBOX_CREATE on a vCPU whose sandbox SHUTDOWN returned: %s",
			       strerror(-fd));
		} else {
			close(sl->fd);
			sl->fd = fd;
			sl->inst = new_inst();
			ring_reset(&sl->ring);
		}
	} else {
		/* A while for the sequences to end; then shut it down. */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += rnd(t, 500) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (pthread_rwlock_timedwrlock(&sl->lock, &ts)) {
			op_shutdown(t, &tg, 0);
			pthread_rwlock_wrlock(&sl->lock);
		}
		close(sl->fd);
		gbox_close(&sl->gb);
		if (slot_open(sl)) {
			report(t, &g_unexpected, "cannot rebuild a slot");
			atomic_store(&g_stop, true);
			/* Leave a valid, shut-down fd behind for the others. */
			sl->fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		}
	}
	pthread_rwlock_unlock(&sl->lock);
	atomic_fetch_add(&g_recycles, 1);
}

static struct thr g_recycler_thr;

static void *recycler_fn(void *arg)
{
	struct thr *t = &g_recycler_thr;
	int i = 0;

	t->inf->pid = getpid();
	t->inf->tid = my_tid();
	while (!atomic_load(&g_recycler_stop)) {
		usleep(30000 + rnd(t, 220000));
		recycle(t, &g_slots[i++ % NR_SLOTS]);
	}
	return NULL;
}

static void on_sigusr1(int sig)
{
	atomic_fetch_add(&g_sigs, 1);
}

static void *pinger_fn(void *arg)
{
	uint64_t rng = g_seed ^ 0x5157;

	while (!atomic_load(&g_pinger_stop)) {
		uint64_t pick = splitmix(&rng);
		int tid;

		usleep(1000 + splitmix(&rng) % 20000);
		/* A worker, or one of its close-race helpers. */
		if (pick % 3)
			tid = atomic_load(&g_workers[pick / 3 % NR_WORKERS].tid);
		else
			tid = atomic_load(&g_helper_tid[pick / 3 % NR_WORKERS]
						       [pick / 12 % NR_HELPERS]);
		if (tid)
			syscall(SYS_tgkill, getpid(), tid, SIGUSR1);
	}
	return NULL;
}

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
static void results_and_exit(bool finished)
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
