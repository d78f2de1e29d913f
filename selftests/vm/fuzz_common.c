// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl_fuzz: what every part uses: the errno sets, the command table, the
 * shared state, the random numbers, reports, and the raw guests behind
 * the sandboxes.
 */
#include "ioctl_fuzz.h"

uint64_t g_stuck_ns = 10 * 1000 * 1000 * 1000ull;

const int eb_errno[NR_EB] = {
	ENOTTY, EINVAL, E2BIG, EFAULT, EBADF, EIO, ENOMEM, EINTR, EBUSY,
	EOPNOTSUPP, ENOTRECOVERABLE, EAGAIN, ESHUTDOWN, ENOENT, ESRCH,
	ETIMEDOUT, EALREADY,
};

int eb_of(int err)
{
	int i;

	for (i = 0; i < NR_EB; i++)
		if (eb_errno[i] == err)
			return i;
	return -1;
}

const char *errname(int err)
{
	const char *n = strerrorname_np(err);

	return n ? n : "E?";
}

void mask_str(char *buf, size_t len, uint32_t mask, bool ok)
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

const struct cmd_info cmds[NR_CMDS] = {
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

const char *const sz_name[NR_SZ] = {
	"exact", "longer, zero tail", "longer, non-zero tail",
	"4096, zero tail", "4096, non-zero tail", "too short", "0", "4097",
	"huge",
};

const char *const pk_name[NR_PK] = {
	"normal", "read-only", "runs into an unmapped page", "bad",
};

/* ---- global state ---- */

struct inflight *g_inf;	/* MAP_SHARED: children use it too */

uint64_t g_seed;
int g_seconds;
int g_dev_fd = -1;
atomic_bool g_stop, g_recycler_stop, g_pinger_stop, g_watch_stop;
_Atomic uint64_t g_inst;
_Atomic uint64_t g_stuck_since;

pthread_mutex_t g_report_lock = PTHREAD_MUTEX_INITIALIZER;
atomic_int g_unexpected, g_stuck, g_child_fail, g_reports;

atomic_ulong g_stat[NR_CMDS][NR_EB + 2];	/* + ok, other */
atomic_ulong g_out_exited, g_out_hostcall, g_out_aborted[NR_REASONS];
atomic_ulong g_forks, g_kills, g_races, g_recycles, g_sigs, g_seqs;
atomic_ulong g_rewinds, g_polls;
/* BATCH: calls it ran to EXITED, batches that ran all, where they stopped. */
atomic_ulong g_batch_ran, g_batch_all;
atomic_ulong g_batch_stop[CALLBOX_STATE_HOSTCALL + 1];

/* ---- random ---- */

uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

struct slot g_slots[NR_SLOTS];

struct worker g_workers[NR_WORKERS];
/* The close-race helpers running now, for the pinger. */
atomic_int g_helper_tid[NR_WORKERS][NR_HELPERS];

uint64_t rnd64(struct thr *t)
{
	return splitmix(&t->rng);
}

uint64_t rnd(struct thr *t, uint64_t n)
{
	return n ? rnd64(t) % n : 0;
}

bool chance(struct thr *t, unsigned int pct)
{
	return rnd(t, 100) < pct;
}

pid_t my_tid(void)
{
	return syscall(SYS_gettid);
}

/* ---- reports ---- */

/*
 * A failure: printed (the first MAX_REPORTS) and counted in @counter. A
 * child writes to stderr itself and fails its exit status: the parent's
 * locks may be held in its copy of memory.
 */
void __attribute__((format(printf, 3, 4)))
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
void describe(char *buf, size_t len, int cmd, const char *what,
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

/* ---- sandboxes and guests ---- */

int gbox_open(struct gbox *gb)
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

void gbox_close(struct gbox *gb)
{
	if (gb->run != MAP_FAILED)
		munmap(gb->run, gb->run_size);
	gb->run = MAP_FAILED;
	raw_guest_destroy(&gb->g);
	pthread_mutex_destroy(&gb->rewind_lock);
}

/* A plain SANDBOX_CREATE, for setting up: the fd or -errno. */
int bind_sandbox(int vm_fd, int vcpu_fd)
{
	struct callbox_sandbox_create c = {
		.size = sizeof(c), .vm_fd = vm_fd, .vcpu_fd = vcpu_fd,
	};

	return ioctl(g_dev_fd, CALLBOX_SANDBOX_CREATE, &c) ? -errno :
		c.out_sandbox_fd;
}

int plain_shutdown(int fd)
{
	struct callbox_sandbox_shutdown c = { .size = sizeof(c) };

	return ioctl(fd, CALLBOX_SANDBOX_SHUTDOWN, &c) ? -errno : 0;
}

void ring_add(struct idring *r, uint64_t id)
{
	unsigned int n;

	if (!r || !id)
		return;
	n = atomic_fetch_add(&r->n, 1);
	atomic_store(&r->id[n % 16], id);
}

uint64_t ring_pick(struct thr *t, struct idring *r)
{
	unsigned int n = r ? atomic_load(&r->n) : 0;

	if (!n)
		return 1;
	return atomic_load(&r->id[rnd(t, n < 16 ? n : 16) % 16]);
}

uint64_t ring_last(struct idring *r)
{
	unsigned int n = r ? atomic_load(&r->n) : 0;

	return n ? atomic_load(&r->id[(n - 1) % 16]) : 0;
}

void ring_reset(struct idring *r)
{
	int i;

	for (i = 0; i < 16; i++)
		atomic_store(&r->id[i], 0);
	atomic_store(&r->n, 0);
	atomic_store(&r->restore_id, 0);
}

uint64_t new_inst(void)
{
	return atomic_fetch_add(&g_inst, 1) + 1;
}
