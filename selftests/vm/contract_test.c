// SPDX-License-Identifier: GPL-2.0
/*
 * The contract of uapi/linux/callbox.h, one sentence per test, on raw
 * guests:
 *
 * - a failed ioctl has no side effect: each command with its struct in a
 *   read-only page fails with EFAULT and publishes, enters, consumes,
 *   installs and binds nothing;
 * - a sandbox lives as long as its file: closing one fd copy (dup(),
 *   fork(), SCM_RIGHTS, another file table) changes nothing, the last
 *   release shuts it down, CALLBOX_SANDBOX_SHUTDOWN does at once and
 *   unbinds the vCPU before it returns, waking every waiter;
 * - a parked call whose owner thread exited ends ABORTED (OWNER_EXITED, or
 *   the reason of a cancellation that had won), seen at once by every
 *   ioctl, and waiters wake;
 * - RESET's init call: first in line, the only call that may enter, and a
 *   failed init call poisons the sandbox; its extra place in the queue;
 * - status is 0 unless EXITED or HOSTCALL;
 * - kvm_run.exit_reason is reset before every entry;
 * - what may be bound: not a vCPU's statistics fd, not a vCPU with a
 *   signal mask (at CREATE and at every entry).
 */
#include <dirent.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include <callbox/callbox.h>

#include "callbox_util.h"

/* ---- raw guests (real mode, code at RAW_GUEST_CODE) ---- */

/* jmp $ : spins until something forces it out. */
static const uint8_t guest_spinner[] = {
	0xeb, 0xfe,			/* jmp $ */
};

/* Every call: a host call with HOSTCALL_VALUE, then DONE with it. */
#define HOSTCALL_VALUE	0x1234
static const uint8_t guest_hostcaller[] = {
	0x66, 0xb8, 0x34, 0x12, 0x00, 0x00,	/* 0: mov eax, 0x1234 */
	0xba, 0x08, 0xcb,		/* mov dx, CALLBOX_PORT_HOSTCALL */
	0x66, 0xef,			/* out dx, eax */
	0xba, 0x00, 0xcb,		/* mov dx, CALLBOX_PORT_DONE */
	0x66, 0xef,			/* out dx, eax */
	0xeb, 0xee,			/* jmp 0 */
};

/* The first call ends with DONE, the second spins for ever. */
static const uint8_t guest_done_then_spin[] = {
	0xba, 0x00, 0xcb,		/* mov dx, CALLBOX_PORT_DONE */
	0x66, 0xef,			/* out dx, eax */
	0xeb, 0xfe,			/* jmp $ */
};

/* An init (at RAW_GUEST_INIT) that gives up: the guest never gets ready. */
static const uint8_t guest_aborting_init[] = {
	0xba, 0x04, 0xcb,		/* mov dx, CALLBOX_PORT_ABORT */
	0x66, 0xef,			/* out dx, eax */
	0xeb, 0xfe,			/* jmp $ */
};

#define MS	(1000 * 1000ull)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ---- the thin layer, with a zeroed @out: a new call, never a restart ---- */

static int submit(int fd, uint64_t deadline_ns, uint64_t *id)
{
	return callbox_call_submit_fd(fd, deadline_ns, id);
}

static int run(int fd, uint64_t id, uint32_t flags,
	       struct callbox_call_info *c)
{
	memset(c, 0, sizeof(*c));
	return callbox_call_run_fd(fd, id, flags, c);
}

static int wait_call(int fd, uint64_t id, uint64_t deadline_ns,
		     struct callbox_call_info *c)
{
	memset(c, 0, sizeof(*c));
	return callbox_call_wait_fd(fd, id, deadline_ns, c);
}

static int get(int fd, uint64_t id, struct callbox_call_info *c)
{
	memset(c, 0, sizeof(*c));
	return callbox_call_get_fd(fd, id, c);
}

static int sync_call(int fd, uint64_t deadline_ns, struct callbox_call_info *c)
{
	memset(c, 0, sizeof(*c));
	return callbox_call_sync_fd(fd, deadline_ns, c);
}

static short poll_events(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLPRI };

	return poll(&p, 1, 0) == 1 ? p.revents : 0;
}

/* Wait (up to 10 s) until call @id is in @state; true if it got there. */
static bool wait_for_state(int fd, uint64_t id, uint32_t state)
{
	struct callbox_call_info c;
	int i;

	for (i = 0; i < 10000; i++) {
		if (get(fd, id, &c) == 0 && c.state == state)
			return true;
		usleep(1000);
	}
	return false;
}

/* Wait (up to 10 s) until call @id has every flag of @flags. */
static bool wait_for_flags(int fd, uint64_t id, uint32_t flags)
{
	struct callbox_call_info c;
	int i;

	for (i = 0; i < 10000; i++) {
		if (get(fd, id, &c) == 0 && (c.flags & flags) == flags)
			return true;
		usleep(1000);
	}
	return false;
}

/* Join @t if it ends within @ms; ETIMEDOUT if it is still blocked. */
static int join_within(pthread_t t, unsigned int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000l;
	if (ts.tv_nsec >= 1000000000l) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000l;
	}
	return pthread_timedjoin_np(t, NULL, &ts);
}

/* How many fds this process has open. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* A private copy of @len bytes of @src in a page then made read-only. */
static void *ro_copy(const void *src, size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memcpy(p, src, len);
	if (mprotect(p, page, PROT_READ)) {
		munmap(p, page);
		return NULL;
	}
	return p;
}

static void ro_free(void *p)
{
	munmap(p, sysconf(_SC_PAGESIZE));
}

/* ---- a raw guest with its sandbox ---- */

struct box {
	int dev_fd;
	struct raw_guest guest;
	int fd;
	struct kvm_run *run;
	size_t run_size;
};

static void box_open(struct __test_metadata *_metadata, struct box *b,
		     const uint8_t *code, size_t len, bool bind)
{
	b->fd = -1;
	b->run = MAP_FAILED;
	b->guest.vm = (struct raw_vm) { -1, -1, -1 };
	b->guest.mem = MAP_FAILED;
	b->dev_fd = open_or_skip(_metadata, "/dev/callbox");
	if (b->dev_fd < 0)
		return;
	raw_guest_create_ok(&b->guest, code, len);
	b->run = raw_guest_map_run(&b->guest, &b->run_size);
	ASSERT_NE(MAP_FAILED, b->run);
	if (bind)
		b->fd = sandbox_create(b->dev_fd, b->guest.vm.vm_fd,
				       b->guest.vm.vcpu_fd);
}

static void box_close(struct box *b)
{
	if (b->run != MAP_FAILED)
		munmap(b->run, b->run_size);
	if (b->fd >= 0)
		close(b->fd);
	raw_guest_destroy(&b->guest);
	if (b->dev_fd >= 0)
		close(b->dev_fd);
}

/* Replace the guest's code, as userspace does before a reset. */
static void box_load(struct box *b, const uint8_t *code, size_t len)
{
	memcpy((uint8_t *)b->guest.mem + RAW_GUEST_CODE, code, len);
}

/*
 * Bind the box's vCPU to a new sandbox, as a probe: 0 if that worked (the
 * probe sandbox is closed again, which frees the vCPU), else -errno, e.g.
 * -EBUSY while another sandbox holds the vCPU.
 */
static int probe_bind(struct box *b)
{
	int fd = _sandbox_create(b->dev_fd, b->guest.vm.vm_fd,
				 b->guest.vm.vcpu_fd);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/*
 * Put the guest back at its init as raw_guest_rewind() does, without the
 * RESET, for tests that issue the RESET themselves.
 */
static int box_rewind_regs(struct box *b)
{
	struct kvm_regs regs = { .rip = RAW_GUEST_INIT, .rflags = 2 };
	int ret, err;

	b->run->immediate_exit = 1;
	ret = ioctl(b->guest.vm.vcpu_fd, KVM_RUN, 0);
	err = errno;
	b->run->immediate_exit = 0;
	if (ret != -1 || err != EINTR)
		return ret ? -err : -EPROTO;
	if (ioctl(b->guest.vm.vcpu_fd, KVM_SET_REGS, &regs))
		return -errno;
	return 0;
}

/* ---- threads ---- */

/* Has the thread that sets *@done when it returns returned? */
static bool finished(bool *done)
{
	return __atomic_load_n(done, __ATOMIC_ACQUIRE);
}

struct waiter {
	int fd;
	uint64_t id;
	int ret;
	struct callbox_call_info c;
	bool done;	/* atomic */
};

static void *waiter_fn(void *p)
{
	struct waiter *w = p;

	w->ret = wait_call(w->fd, w->id, 0, &w->c);
	__atomic_store_n(&w->done, true, __ATOMIC_RELEASE);
	return NULL;
}

struct runner {
	int fd;
	uint64_t id;
	bool sync;	/* CALL_SYNC rather than RUN @id */
	int ret;
	struct callbox_call_info c;
	bool done;	/* atomic */
};

static void *runner_fn(void *p)
{
	struct runner *r = p;

	if (r->sync)
		r->ret = sync_call(r->fd, 0, &r->c);
	else
		r->ret = run(r->fd, r->id, 0, &r->c);
	__atomic_store_n(&r->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * ==== A failed ioctl has no side effect ====
 *
 * "A command that publishes something writes its reply to userspace
 * first: if the struct cannot be written back it fails with EFAULT and
 * nothing was published. A command that consumes a call consumes it only
 * once the outcome has been written back." RUN "writes the call's id and
 * state into @out before it enters the guest".
 *
 * Before each probe: call 1 has EXITED (status 1, not consumed) and,
 * with @queued, call 2 is QUEUED. The counter guest tells whether the
 * guest was entered: the n-th call it runs reports n.
 */
FIXTURE(efault) {
	struct box b;
};

FIXTURE_VARIANT(efault) {
	unsigned long cmd;
	size_t size;
	bool queued;
	size_t id_off;		/* where the struct's @id is, 0 for none */
	uint64_t id;
};

FIXTURE_VARIANT_ADD(efault, submit) {
	.cmd = CALLBOX_CALL_SUBMIT,
	.size = sizeof(struct callbox_call_submit),
	.queued = true,
};

/* CALL_SYNC runs only with nothing queued: no call 2 here. */
FIXTURE_VARIANT_ADD(efault, call_sync) {
	.cmd = CALLBOX_CALL_SYNC,
	.size = sizeof(struct callbox_call_sync),
	.queued = false,
};

FIXTURE_VARIANT_ADD(efault, reset) {
	.cmd = CALLBOX_SANDBOX_RESET,
	.size = sizeof(struct callbox_sandbox_reset),
	.queued = true,
};

FIXTURE_VARIANT_ADD(efault, run_id) {
	.cmd = CALLBOX_CALL_RUN,
	.size = sizeof(struct callbox_call_run),
	.queued = true,
	.id_off = offsetof(struct callbox_call_run, id),
	.id = 2,
};

FIXTURE_VARIANT_ADD(efault, run_oldest) {
	.cmd = CALLBOX_CALL_RUN,
	.size = sizeof(struct callbox_call_run),
	.queued = true,
	.id_off = offsetof(struct callbox_call_run, id),
	.id = 0,
};

FIXTURE_VARIANT_ADD(efault, wait_ended) {
	.cmd = CALLBOX_CALL_WAIT,
	.size = sizeof(struct callbox_call_wait),
	.queued = true,
	.id_off = offsetof(struct callbox_call_wait, id),
	.id = 1,
};

FIXTURE_VARIANT_ADD(efault, get) {
	.cmd = CALLBOX_CALL_GET,
	.size = sizeof(struct callbox_call_get),
	.queued = true,
	.id_off = offsetof(struct callbox_call_get, id),
	.id = 1,
};

FIXTURE_SETUP(efault)
{
	struct callbox_call_info c;
	uint64_t id;

	box_open(_metadata, &self->b, raw_guest_counter,
		 sizeof(raw_guest_counter), true);
	ASSERT_EQ(0, submit(self->b.fd, 0, &id));
	ASSERT_EQ(1, id);
	ASSERT_EQ(0, run(self->b.fd, id, 0, &c));
	ASSERT_EQ(CALLBOX_STATE_EXITED, c.state);
	ASSERT_EQ(1, c.status);
	if (variant->queued) {
		ASSERT_EQ(0, submit(self->b.fd, 0, &id));
		ASSERT_EQ(2, id);
	}
}

FIXTURE_TEARDOWN(efault)
{
	box_close(&self->b);
}

TEST_F(efault, read_only_struct_changes_nothing)
{
	struct callbox_call_info before[3], c;
	uint64_t n = variant->queued ? 2 : 1, id, i;
	uint8_t buf[128] = {};
	short events;
	void *ro;

	ASSERT_LE(variant->size, sizeof(buf));
	*(uint32_t *)buf = variant->size;
	if (variant->id_off)
		memcpy(buf + variant->id_off, &variant->id, sizeof(uint64_t));
	for (i = 1; i <= n; i++)
		ASSERT_EQ(0, get(self->b.fd, i, &before[i]));
	events = poll_events(self->b.fd);

	ro = ro_copy(buf, variant->size);
	ASSERT_NE(NULL, ro);
	EXPECT_EQ(-1, ioctl(self->b.fd, variant->cmd, ro));
	EXPECT_EQ(EFAULT, errno);
	ro_free(ro);

	/* Every call as it was: none consumed, none entered. */
	for (i = 1; i <= n; i++) {
		ASSERT_EQ(0, get(self->b.fd, i, &c)) {
			TH_LOG("call %llu is gone", (unsigned long long)i);
		}
		EXPECT_EQ(0, memcmp(&before[i], &c, sizeof(c))) {
			TH_LOG("call %llu: state %u flags %#x, was %u %#x",
			       (unsigned long long)i, c.state, c.flags,
			       before[i].state, before[i].flags);
		}
	}
	/* Nothing published: no call, no init call under the next id. */
	EXPECT_EQ(-ENOENT, get(self->b.fd, n + 1, &c));
	EXPECT_EQ(events, poll_events(self->b.fd));

	/* The queue is as it was, and the guest ran no call meanwhile. */
	if (variant->queued) {
		ASSERT_EQ(0, run(self->b.fd, 0, CALLBOX_RUN_NONBLOCK, &c));
		EXPECT_EQ(2, c.id);
		EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
		EXPECT_EQ(2, c.status);
	}
	EXPECT_EQ(-EAGAIN, run(self->b.fd, 0, CALLBOX_RUN_NONBLOCK, &c));

	/* The id the failed command would have given is the next one. */
	ASSERT_EQ(0, submit(self->b.fd, 0, &id));
	EXPECT_EQ(n + 1, id);
	ASSERT_EQ(0, run(self->b.fd, id, 0, &c));
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(n + 1, c.status);

	/* The ended call is still there for a WAIT that can write. */
	ASSERT_EQ(0, wait_call(self->b.fd, 1, 0, &c));
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);
	EXPECT_EQ(-ESRCH, get(self->b.fd, 1, &c));
}

/*
 * "A command that consumes a call consumes it only once the outcome has
 * been written back": and only if the outcome written says it ended.
 * CALL_SYNC's guest makes a host call; while the kernel writes that
 * HOSTCALL reply (held up by userfaultfd write-protection of the struct's
 * page), another thread shuts the sandbox down, which ends the call. The
 * reply says HOSTCALL, so the call must stay for GET and WAIT to tell how
 * it really ended.
 */
/*
 * Every call: a while in the guest (so that the test re-arms the page's
 * protection long before), then a host call, then DONE.
 */
static const uint8_t guest_slow_hostcaller[] = {
	0x66, 0xb9, 0x00, 0x00, 0x20, 0x00,	/* 0: mov ecx, 0x200000 */
	0x66, 0x49,			/* 1: dec ecx */
	0x75, 0xfc,			/* jnz 1b */
	0xba, 0x08, 0xcb,		/* mov dx, CALLBOX_PORT_HOSTCALL */
	0x66, 0xef,			/* out dx, eax */
	0xba, 0x00, 0xcb,		/* mov dx, CALLBOX_PORT_DONE */
	0x66, 0xef,			/* out dx, eax */
	0xeb, 0xea,			/* jmp 0 */
};

struct reply_race {
	int fd, uffd;
	struct callbox_call_sync *cmd;	/* alone in a write-protected page */
	int faults;
	bool hit;		/* the shutdown landed inside the reply */
	uint32_t state_then;	/* the call's state when it did */
};

static int reply_race_protect(struct reply_race *r, bool on)
{
	struct uffdio_writeprotect wp = {
		.range = {
			.start = (uintptr_t)r->cmd,
			.len = sysconf(_SC_PAGESIZE),
		},
		.mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	return ioctl(r->uffd, UFFDIO_WRITEPROTECT, &wp) ? -errno : 0;
}

static void *reply_race_fn(void *p)
{
	struct reply_race *r = p;
	struct callbox_call_info c;
	struct uffd_msg msg;
	struct pollfd pfd = { .fd = r->uffd, .events = POLLIN };
	uint64_t id, until;

	while (poll(&pfd, 1, 3000) == 1 &&
	       read(r->uffd, &msg, sizeof(msg)) == sizeof(msg)) {
		r->faults++;
		id = __atomic_load_n(&r->cmd->out.id, __ATOMIC_ACQUIRE);
		if (!id) {
			/* The publication's write: let it land, then re-arm. */
			reply_race_protect(r, false);
			until = now_ns() + 5000 * MS;
			while (!__atomic_load_n(&r->cmd->out.id,
						__ATOMIC_ACQUIRE) &&
			       now_ns() < until)
				;
			reply_race_protect(r, true);
			continue;
		}
		/* The reply's write: end the call while it is held up. */
		if (!get(r->fd, id, &c) &&
		    c.state == CALLBOX_STATE_HOSTCALL) {
			r->hit = true;
			callbox_sandbox_shutdown_fd(r->fd);
			get(r->fd, id, &c);
			r->state_then = c.state;
		}
		reply_race_protect(r, false);
		break;
	}
	reply_race_protect(r, false);
	return NULL;
}

FIXTURE(reply) {};
FIXTURE_SETUP(reply) {}
FIXTURE_TEARDOWN(reply) {}

TEST_F_TIMEOUT(reply, sync_consumes_only_what_its_reply_says_ended, 120)
{
	long page = sysconf(_SC_PAGESIZE);
	struct callbox_call_info c;
	int attempt, ret, hits = 0;

	for (attempt = 0; attempt < 10 && !hits; attempt++) {
		struct uffdio_api api = {
			.api = UFFD_API,
			.features = UFFD_FEATURE_PAGEFAULT_FLAG_WP,
		};
		struct uffdio_register reg = {
			.mode = UFFDIO_REGISTER_MODE_WP,
		};
		struct reply_race r = { .fd = -1 };
		struct box b;
		pthread_t t;

		box_open(_metadata, &b, guest_slow_hostcaller,
			 sizeof(guest_slow_hostcaller), true);
		if (b.dev_fd < 0)
			return;
		r.fd = b.fd;
		r.cmd = mmap(NULL, page, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, r.cmd);
		memset(r.cmd, 0, page);		/* populated, so protectable */
		r.cmd->size = sizeof(*r.cmd);
		r.uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
		if (r.uffd < 0 && (errno == ENOSYS || errno == EPERM))
			SKIP(return, "userfaultfd: %s", strerror(errno));
		ASSERT_LE(0, r.uffd);
		ASSERT_EQ(0, ioctl(r.uffd, UFFDIO_API, &api));
		reg.range.start = (uintptr_t)r.cmd;
		reg.range.len = page;
		ASSERT_EQ(0, ioctl(r.uffd, UFFDIO_REGISTER, &reg));
		ASSERT_EQ(0, reply_race_protect(&r, true));
		ASSERT_EQ(0, pthread_create(&t, NULL, reply_race_fn, &r));

		ret = ioctl(b.fd, CALLBOX_CALL_SYNC, r.cmd);
		ASSERT_EQ(0, pthread_join(t, NULL));
		if (r.hit) {
			hits++;
			EXPECT_EQ(0, ret);
			EXPECT_EQ(CALLBOX_STATE_HOSTCALL, r.cmd->out.state);
			EXPECT_EQ(CALLBOX_STATE_ABORTED, r.state_then);
			/* Not consumed: how it really ended is still known. */
			ASSERT_EQ(0, get(b.fd, r.cmd->out.id, &c));
			EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
			EXPECT_EQ(CALLBOX_ABORT_SANDBOX_CLOSED, c.reason);
			ASSERT_EQ(0, wait_call(b.fd, r.cmd->out.id, 0, &c));
			EXPECT_EQ(CALLBOX_ABORT_SANDBOX_CLOSED, c.reason);
		} else {
			TH_LOG("attempt %d: the reply was not held up (%d faults)",
			       attempt, r.faults);
		}
		close(r.uffd);
		munmap(r.cmd, page);
		box_close(&b);
	}
	EXPECT_EQ(1, hits);
}

/*
 * ==== Binding ====
 *
 * A vCPU's own checks at CALLBOX_SANDBOX_CREATE; the box's vCPU is not
 * bound at setup.
 */
FIXTURE(bind) {
	struct box b;
};

FIXTURE_SETUP(bind)
{
	box_open(_metadata, &self->b, raw_guest_counter,
		 sizeof(raw_guest_counter), false);
}

FIXTURE_TEARDOWN(bind)
{
	box_close(&self->b);
}

/* CREATE with an unwritable struct installs no fd and binds nothing. */
TEST_F(bind, create_efault)
{
	struct callbox_sandbox_create cmd = {
		.size = sizeof(cmd),
		.vm_fd = self->b.guest.vm.vm_fd,
		.vcpu_fd = self->b.guest.vm.vcpu_fd,
	};
	struct callbox_call_info c;
	int nfds, lowest, fd;
	void *ro;

	lowest = fcntl(0, F_DUPFD_CLOEXEC, 0);
	ASSERT_LE(0, lowest);
	close(lowest);
	nfds = count_fds();
	ASSERT_LT(0, nfds);

	ro = ro_copy(&cmd, sizeof(cmd));
	ASSERT_NE(NULL, ro);
	EXPECT_EQ(-1, ioctl(self->b.dev_fd, CALLBOX_SANDBOX_CREATE, ro));
	EXPECT_EQ(EFAULT, errno);
	ro_free(ro);

	EXPECT_EQ(nfds, count_fds());
	EXPECT_EQ(-1, fcntl(lowest, F_GETFD));
	EXPECT_EQ(EBADF, errno);

	/* The vCPU is free: a CREATE that can reply binds it. */
	fd = sandbox_create(self->b.dev_fd, self->b.guest.vm.vm_fd,
			    self->b.guest.vm.vcpu_fd);
	EXPECT_EQ(lowest, fd);
	ASSERT_EQ(0, sync_call(fd, 0, &c));
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);
	self->b.fd = fd;
}

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

	EXPECT_EQ(-EOPNOTSUPP, sync_call(self->b.fd, 0, &c));
	EXPECT_EQ(-ENOENT, get(self->b.fd, 1, &c));

	ASSERT_EQ(0, submit(self->b.fd, 0, &id));
	EXPECT_EQ(1, id);
	EXPECT_EQ(-EOPNOTSUPP, run(self->b.fd, id, 0, &c));
	EXPECT_EQ(-EOPNOTSUPP, run(self->b.fd, 0, CALLBOX_RUN_NONBLOCK, &c));
	ASSERT_EQ(0, get(self->b.fd, id, &c));
	EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
	EXPECT_EQ(0, c.flags);

	ASSERT_EQ(0, set_vcpu_sigmask(self->b.guest.vm.vcpu_fd, 0));
	ASSERT_EQ(0, run(self->b.fd, id, 0, &c));
	EXPECT_EQ(id, c.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);	/* the guest's first call */
	ASSERT_EQ(0, wait_call(self->b.fd, id, 0, &c));
}

/*
 * ==== Shutdown and close ====
 *
 * "A sandbox shuts down when CALLBOX_SANDBOX_SHUTDOWN is issued, or when
 * its file is released: its last fd is closed, in every process that has
 * one ... closing one fd of several (dup(), fork(), SCM_RIGHTS) changes
 * nothing." Whether the vCPU is bound tells whether the sandbox is alive.
 */
FIXTURE(life) {
	struct box b;
};

FIXTURE_SETUP(life)
{
	box_open(_metadata, &self->b, raw_guest_counter,
		 sizeof(raw_guest_counter), true);
}

FIXTURE_TEARDOWN(life)
{
	box_close(&self->b);
}

TEST_F(life, close_of_a_dup_changes_nothing)
{
	struct callbox_call_info c;
	int d;

	d = dup(self->b.fd);
	ASSERT_LE(0, d);
	ASSERT_EQ(0, close(d));
	EXPECT_EQ(0, poll_events(self->b.fd) & POLLHUP);
	EXPECT_EQ(-EBUSY, probe_bind(&self->b));
	ASSERT_EQ(0, sync_call(self->b.fd, 0, &c));
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);

	/* The other way round: the original goes, the copy stays. */
	d = dup(self->b.fd);
	ASSERT_LE(0, d);
	ASSERT_EQ(0, close(self->b.fd));
	self->b.fd = d;
	EXPECT_EQ(-EBUSY, probe_bind(&self->b));
	ASSERT_EQ(0, sync_call(self->b.fd, 0, &c));
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(2, c.status);

	/* The last close releases it. */
	ASSERT_EQ(0, close(self->b.fd));
	self->b.fd = -1;
	EXPECT_EQ(0, probe_bind(&self->b));
}

/* A child that holds copies of every fd until told to exit. */
static pid_t fork_holder(int *go_fd)
{
	int p[2];
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		char b;

		close(p[1]);
		_exit(read(p[0], &b, 1) < 0);
	}
	close(p[0]);
	*go_fd = p[1];
	return pid;
}

static int reap_holder(pid_t pid, int go_fd)
{
	int status;

	close(go_fd);	/* EOF: the child exits */
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(life, forked_copy_keeps_the_sandbox)
{
	int go;
	pid_t pid = fork_holder(&go);

	ASSERT_LT(0, pid);
	ASSERT_EQ(0, close(self->b.fd));
	self->b.fd = -1;
	/* The child's copy keeps the file, so the sandbox and its vCPU. */
	EXPECT_EQ(-EBUSY, probe_bind(&self->b));
	/* The child's exit closes the last fd. */
	ASSERT_EQ(0, reap_holder(pid, go));
	EXPECT_EQ(0, probe_bind(&self->b));
}

/*
 * "CALLBOX_SANDBOX_SHUTDOWN shuts the sandbox down now, whatever fds refer
 * to it ... When it returns ... the vCPU is unbound."
 */
TEST_F(life, shutdown_unbinds_whatever_fds_exist)
{
	struct callbox_call_info c;
	int go, fd2;
	pid_t pid = fork_holder(&go);

	ASSERT_LT(0, pid);
	ASSERT_EQ(0, callbox_sandbox_shutdown_fd(self->b.fd));
	/* Our fd and the child's are open, and the vCPU is free. */
	fd2 = sandbox_create(self->b.dev_fd, self->b.guest.vm.vm_fd,
			     self->b.guest.vm.vcpu_fd);
	EXPECT_EQ(-ESHUTDOWN, sync_call(self->b.fd, 0, &c));
	ASSERT_EQ(0, close(self->b.fd));
	self->b.fd = fd2;

	/* The old sandbox's release later does not unbind the new one. */
	ASSERT_EQ(0, reap_holder(pid, go));
	EXPECT_EQ(-EBUSY, probe_bind(&self->b));
	ASSERT_EQ(0, sync_call(self->b.fd, 0, &c));
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);
}

/* An fd in flight in an SCM_RIGHTS message is one more copy. */
TEST_F(life, scm_rights_copy_keeps_the_sandbox)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {}, data = 'x';
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct callbox_call_info c;
	struct cmsghdr *cmsg;
	int sv[2], fd;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv));
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &self->b.fd, sizeof(int));
	ASSERT_EQ(1, sendmsg(sv[0], &msg, 0));

	/* Only the message holds the sandbox now. */
	ASSERT_EQ(0, close(self->b.fd));
	self->b.fd = -1;
	EXPECT_EQ(-EBUSY, probe_bind(&self->b));

	memset(cbuf, 0, sizeof(cbuf));
	msg.msg_controllen = sizeof(cbuf);
	ASSERT_EQ(1, recvmsg(sv[1], &msg, MSG_CMSG_CLOEXEC));
	cmsg = CMSG_FIRSTHDR(&msg);
	ASSERT_NE(NULL, cmsg);
	ASSERT_EQ(SCM_RIGHTS, cmsg->cmsg_type);
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	self->b.fd = fd;
	close(sv[0]);
	close(sv[1]);

	/* Same process, same mm: the received fd runs calls. */
	ASSERT_EQ(0, sync_call(self->b.fd, 0, &c));
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);
	ASSERT_EQ(0, close(self->b.fd));
	self->b.fd = -1;
	EXPECT_EQ(0, probe_bind(&self->b));
}

/*
 * A thread with its own file table (unshare(CLONE_FILES)) holds its own
 * copy of the sandbox fd: closing the fd in one table changes nothing,
 * closing it in the last one releases the sandbox.
 */
struct unsharer {
	int fd;
	int to_main[2], to_thread[2];
	int unshare_ret, close_ret;
};

static void *unsharer_fn(void *p)
{
	struct unsharer *u = p;
	ssize_t n;
	char b = 0;

	u->unshare_ret = unshare(CLONE_FILES) ? -errno : 0;
	n = write(u->to_main[1], &b, 1);
	n = read(u->to_thread[0], &b, 1);	/* "close yours now" */
	u->close_ret = close(u->fd) ? -errno : 0;
	n = write(u->to_main[1], &b, 1);
	(void)n;
	return NULL;
}

static void unshare_case(struct __test_metadata *_metadata, struct box *b,
			 bool thread_closes_last)
{
	struct unsharer u = { .fd = b->fd };
	struct callbox_call_info c;
	pthread_t t;
	char x = 0;

	ASSERT_EQ(0, pipe(u.to_main));
	ASSERT_EQ(0, pipe(u.to_thread));
	ASSERT_EQ(0, pthread_create(&t, NULL, unsharer_fn, &u));
	ASSERT_EQ(1, read(u.to_main[0], &x, 1));
	ASSERT_EQ(0, u.unshare_ret);

	if (thread_closes_last) {
		ASSERT_EQ(0, close(b->fd));
		b->fd = -1;
		EXPECT_EQ(-EBUSY, probe_bind(b));
		ASSERT_EQ(1, write(u.to_thread[1], &x, 1));
		ASSERT_EQ(1, read(u.to_main[0], &x, 1));
		EXPECT_EQ(0, u.close_ret);
	} else {
		ASSERT_EQ(1, write(u.to_thread[1], &x, 1));
		ASSERT_EQ(1, read(u.to_main[0], &x, 1));
		EXPECT_EQ(0, u.close_ret);
		EXPECT_EQ(-EBUSY, probe_bind(b));
		ASSERT_EQ(0, sync_call(b->fd, 0, &c));
		EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
		ASSERT_EQ(0, close(b->fd));
		b->fd = -1;
	}
	/* The last fd is gone: released, the vCPU is free. */
	EXPECT_EQ(0, probe_bind(b));
	pthread_join(t, NULL);
	close(u.to_main[0]);
	close(u.to_main[1]);
	close(u.to_thread[0]);
	close(u.to_thread[1]);
}

TEST_F(life, unshared_table_closes_last)
{
	unshare_case(_metadata, &self->b, true);
}

TEST_F(life, unsharing_thread_closes_first)
{
	unshare_case(_metadata, &self->b, false);
}

/* "every waiter wakes with that answer": a WAIT on a QUEUED call. */
TEST_F_TIMEOUT(life, shutdown_wakes_waiter, 60)
{
	struct waiter w = { .fd = self->b.fd };
	uint64_t t0;
	pthread_t t;

	ASSERT_EQ(0, submit(self->b.fd, 0, &w.id));
	ASSERT_EQ(0, pthread_create(&t, NULL, waiter_fn, &w));
	usleep(100 * 1000);
	EXPECT_FALSE(finished(&w.done));

	t0 = now_ns();
	ASSERT_EQ(0, callbox_sandbox_shutdown_fd(self->b.fd));
	/* When SHUTDOWN returns, the vCPU is unbound. */
	EXPECT_EQ(0, probe_bind(&self->b));
	ASSERT_EQ(0, join_within(t, 5000));
	TH_LOG("waiter woke %llu us after SHUTDOWN",
	       (unsigned long long)(now_ns() - t0) / 1000);
	EXPECT_GT(t0 + 1000 * MS, now_ns());
	EXPECT_EQ(0, w.ret);
	EXPECT_EQ(w.id, w.c.id);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, w.c.state);
	EXPECT_EQ(CALLBOX_ABORT_SANDBOX_CLOSED, w.c.reason);
	EXPECT_EQ(0, w.c.flags);	/* guest code never ran for it */
}

/* "Later ... RUN ... fail[s] with ESHUTDOWN": also a RUN already waiting. */
TEST_F_TIMEOUT(life, shutdown_wakes_idle_runner, 60)
{
	struct runner r = { .fd = self->b.fd };
	uint64_t t0;
	pthread_t t;

	ASSERT_EQ(0, pthread_create(&t, NULL, runner_fn, &r));
	usleep(100 * 1000);
	/* Waiting for a call to be submitted. */
	EXPECT_FALSE(finished(&r.done));

	t0 = now_ns();
	ASSERT_EQ(0, callbox_sandbox_shutdown_fd(self->b.fd));
	EXPECT_EQ(0, probe_bind(&self->b));
	ASSERT_EQ(0, join_within(t, 5000));
	EXPECT_GT(t0 + 1000 * MS, now_ns());
	EXPECT_EQ(-ESHUTDOWN, r.ret);
}

/* "When it returns, every call has ended, no thread runs the guest". */
TEST_F_TIMEOUT(life, shutdown_while_running_unbinds, 60)
{
	struct runner r = { .fd = self->b.fd };
	struct callbox_call_info c;
	pthread_t t;

	box_load(&self->b, guest_spinner, sizeof(guest_spinner));
	ASSERT_EQ(0, submit(self->b.fd, 0, &r.id));
	ASSERT_EQ(0, pthread_create(&t, NULL, runner_fn, &r));
	ASSERT_TRUE(wait_for_state(self->b.fd, r.id, CALLBOX_STATE_ENTERED));
	usleep(20 * 1000);

	ASSERT_EQ(0, callbox_sandbox_shutdown_fd(self->b.fd));
	ASSERT_EQ(0, get(self->b.fd, r.id, &c));
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_EQ(CALLBOX_ABORT_SANDBOX_CLOSED, c.reason);
	EXPECT_EQ(0, probe_bind(&self->b));

	ASSERT_EQ(0, join_within(t, 5000));
	EXPECT_EQ(0, r.ret);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, r.c.state);
	EXPECT_EQ(CALLBOX_ABORT_SANDBOX_CLOSED, r.c.reason);
}

/*
 * ==== exit_reason is reset before every entry ====
 *
 * So a stale exit (the previous call's DONE, KVM_EXIT_IO) can never be
 * decoded as the new call's: while the second call spins in the guest,
 * the vCPU's mapped kvm_run says KVM_EXIT_UNKNOWN.
 */
TEST_F_TIMEOUT(life, exit_reason_reset_before_entry, 60)
{
	struct runner r = { .fd = self->b.fd };
	struct callbox_call_info c;
	int i, stale = 0;
	pthread_t t;

	box_load(&self->b, guest_done_then_spin,
		 sizeof(guest_done_then_spin));
	ASSERT_EQ(0, sync_call(self->b.fd, 0, &c));
	ASSERT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(KVM_EXIT_IO, c.exit_reason);
	ASSERT_EQ(KVM_EXIT_IO, self->b.run->exit_reason);

	ASSERT_EQ(0, submit(self->b.fd, 0, &r.id));
	ASSERT_EQ(0, pthread_create(&t, NULL, runner_fn, &r));
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
	ASSERT_EQ(0, get(self->b.fd, r.id, &c));
	EXPECT_EQ(CALLBOX_STATE_ENTERED, c.state);

	EXPECT_EQ(0, callbox_call_cancel_fd(self->b.fd, r.id));
	ASSERT_EQ(0, join_within(t, 5000));
	EXPECT_EQ(0, r.ret);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, r.c.state);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, r.c.reason);
}

/*
 * ==== A parked call whose owner thread has exited ====
 *
 * "can never be continued, so it ends ABORTED: with the reason of a
 * cancellation that had won, else CALLBOX_ABORT_OWNER_EXITED. Every ioctl
 * that looks at the call sees it ended at once; a thread blocked waiting
 * for it wakes within about 100 ms of the exit."
 *
 * The owner thread makes call 1 with CALL_SYNC and parks it: in HOSTCALL
 * (the host-caller guest), or ENTERED after a signal interrupted it in a
 * spinning guest (its handler never returns). It then waits to be told to
 * exit: pthread_exit() after a HOSTCALL, SYS_exit from the handler.
 */
static struct {
	int fd;
	uint64_t deadline_rel_ns;
	int parked[2], go[2];
	pthread_t thread;
	int ret;
	struct callbox_call_info c;
} owner;

static void owner_park(void)
{
	ssize_t n;
	char b = 0;

	n = write(owner.parked[1], &b, 1);
	n = read(owner.go[0], &b, 1);
	(void)n;
}

static void owner_on_signal(int sig)
{
	(void)sig;
	owner_park();
	syscall(SYS_exit, 0);	/* this thread only; the ioctl never restarts */
}

static void *owner_fn(void *p)
{
	uint64_t deadline = 0;

	(void)p;
	if (owner.deadline_rel_ns)
		deadline = now_ns() + owner.deadline_rel_ns;
	owner.ret = sync_call(owner.fd, deadline, &owner.c);
	owner_park();		/* "runs the host function" */
	pthread_exit(NULL);
}

/* Start the owner and return once call 1 is parked. */
static void owner_start(struct __test_metadata *_metadata, int fd,
			bool interrupted, uint64_t deadline_rel_ns)
{
	struct sigaction sa = { .sa_handler = owner_on_signal };
	struct callbox_call_info c;
	char b;

	owner.fd = fd;
	owner.deadline_rel_ns = deadline_rel_ns;
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, pipe(owner.parked));
	ASSERT_EQ(0, pipe(owner.go));
	ASSERT_EQ(0, pthread_create(&owner.thread, NULL, owner_fn, NULL));
	if (interrupted) {
		ASSERT_TRUE(wait_for_state(fd, 1, CALLBOX_STATE_ENTERED));
		ASSERT_EQ(0, pthread_kill(owner.thread, SIGUSR1));
	}
	ASSERT_EQ(1, read(owner.parked[0], &b, 1));
	ASSERT_EQ(0, get(fd, 1, &c));
	if (interrupted) {
		ASSERT_EQ(CALLBOX_STATE_ENTERED, c.state);
	} else {
		ASSERT_EQ(0, owner.ret);
		ASSERT_EQ(CALLBOX_STATE_HOSTCALL, owner.c.state);
		ASSERT_EQ(HOSTCALL_VALUE, owner.c.status);
		ASSERT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
	}
}

/* Let the owner exit without continuing its call; joined on return. */
static void owner_exit(struct __test_metadata *_metadata)
{
	char b = 0;

	ASSERT_EQ(1, write(owner.go[1], &b, 1));
	ASSERT_EQ(0, join_within(owner.thread, 10000));
}

FIXTURE(orphan) {
	struct box b;
};

FIXTURE_VARIANT(orphan) {
	const uint8_t *code;
	size_t len;
	bool interrupted;
};

FIXTURE_VARIANT_ADD(orphan, hostcall) {
	.code = guest_hostcaller,
	.len = sizeof(guest_hostcaller),
	.interrupted = false,
};

FIXTURE_VARIANT_ADD(orphan, interrupted) {
	.code = guest_spinner,
	.len = sizeof(guest_spinner),
	.interrupted = true,
};

FIXTURE_SETUP(orphan)
{
	box_open(_metadata, &self->b, variant->code, variant->len, true);
}

FIXTURE_TEARDOWN(orphan)
{
	box_close(&self->b);
}

static void expect_orphaned(struct __test_metadata *_metadata,
			    const struct callbox_call_info *c, uint32_t reason)
{
	EXPECT_EQ(1, c->id);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c->state);
	EXPECT_EQ(reason, c->reason);
	/* Stopped in the middle of the guest's call. */
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_POISONED, c->flags);
	EXPECT_EQ(0, c->status);
}

/* "Every ioctl that looks at the call sees it ended at once." */
TEST_F_TIMEOUT(orphan, get_sees_it_ended, 60)
{
	struct callbox_call_info c;

	owner_start(_metadata, self->b.fd, variant->interrupted, 0);
	owner_exit(_metadata);
	ASSERT_EQ(0, get(self->b.fd, 1, &c));
	expect_orphaned(_metadata, &c, CALLBOX_ABORT_OWNER_EXITED);
	EXPECT_EQ(POLLIN, poll_events(self->b.fd) & (POLLIN | POLLPRI));
	ASSERT_EQ(0, wait_call(self->b.fd, 1, 0, &c));
	expect_orphaned(_metadata, &c, CALLBOX_ABORT_OWNER_EXITED);
}

/*
 * After the exit the call has ended, so CANCEL "had already ended":
 * EALREADY, and the reason stays OWNER_EXITED.
 */
TEST_F_TIMEOUT(orphan, cancel_after_exit, 60)
{
	struct callbox_call_info c;

	owner_start(_metadata, self->b.fd, variant->interrupted, 0);
	owner_exit(_metadata);
	EXPECT_EQ(-EALREADY, callbox_call_cancel_fd(self->b.fd, 1));
	ASSERT_EQ(0, get(self->b.fd, 1, &c));
	expect_orphaned(_metadata, &c, CALLBOX_ABORT_OWNER_EXITED);
}

/*
 * A cancellation that won before the exit gives its reason: a parked
 * interrupted call ends at once, a HOSTCALL call when its owner exits.
 */
TEST_F_TIMEOUT(orphan, cancel_before_exit, 60)
{
	struct callbox_call_info c;

	owner_start(_metadata, self->b.fd, variant->interrupted, 0);
	EXPECT_EQ(0, callbox_call_cancel_fd(self->b.fd, 1));
	ASSERT_EQ(0, get(self->b.fd, 1, &c));
	if (variant->interrupted) {
		/* "A parked ENTERED call is aborted at once." */
		expect_orphaned(_metadata, &c, CALLBOX_ABORT_CANCELLED);
	} else {
		EXPECT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
		EXPECT_TRUE(c.flags & CALLBOX_CALL_CANCEL_PENDING);
	}
	owner_exit(_metadata);
	ASSERT_EQ(0, get(self->b.fd, 1, &c));
	expect_orphaned(_metadata, &c, CALLBOX_ABORT_CANCELLED);
	EXPECT_EQ(-EALREADY, callbox_call_cancel_fd(self->b.fd, 1));
}

/* "a thread blocked waiting for it wakes within about 100 ms of the exit" */
TEST_F_TIMEOUT(orphan, waiter_wakes_after_exit, 60)
{
	struct waiter w = { .fd = self->b.fd, .id = 1 };
	uint64_t t0, woke;
	pthread_t t;

	owner_start(_metadata, self->b.fd, variant->interrupted, 0);
	ASSERT_EQ(0, pthread_create(&t, NULL, waiter_fn, &w));
	usleep(100 * 1000);
	/* The owner lives: the call goes on. */
	EXPECT_FALSE(finished(&w.done));

	owner_exit(_metadata);
	t0 = now_ns();
	ASSERT_EQ(0, join_within(t, 5000)) {
		TH_LOG("the waiter still sleeps 5 s after the owner exited");
	}
	woke = now_ns() - t0;
	TH_LOG("waiter woke %llu ms after the owner was joined",
	       (unsigned long long)woke / MS);
	EXPECT_GT(1000 * MS, woke);
	EXPECT_EQ(0, w.ret);
	expect_orphaned(_metadata, &w.c, CALLBOX_ABORT_OWNER_EXITED);
}

/*
 * SHUTDOWN after the exit looks at a call that has already ended: it keeps
 * the reason it ended with ("Every ioctl that looks at the call sees it
 * ended at once"), as CANCEL does above, whether or not another ioctl
 * happened to look at it first.
 */
TEST_F_TIMEOUT(orphan, shutdown_after_exit, 60)
{
	struct callbox_call_info c;

	owner_start(_metadata, self->b.fd, variant->interrupted, 0);
	owner_exit(_metadata);
	ASSERT_EQ(0, callbox_sandbox_shutdown_fd(self->b.fd));
	ASSERT_EQ(0, get(self->b.fd, 1, &c));
	expect_orphaned(_metadata, &c, CALLBOX_ABORT_OWNER_EXITED);
}

/*
 * Nothing is stuck behind the orphan: the sandbox is poisoned
 * (ENOTRECOVERABLE, not EBUSY or a hang), RESET works, and after its init
 * call calls run again.
 */
TEST_F_TIMEOUT(orphan, reset_after_exit, 60)
{
	struct callbox_call_info c;

	owner_start(_metadata, self->b.fd, variant->interrupted, 0);
	owner_exit(_metadata);
	EXPECT_EQ(-ENOTRECOVERABLE, sync_call(self->b.fd, 0, &c));
	EXPECT_EQ(-ENOTRECOVERABLE,
		  run(self->b.fd, 0, CALLBOX_RUN_NONBLOCK, &c));

	box_load(&self->b, raw_guest_counter, sizeof(raw_guest_counter));
	ASSERT_EQ(0, raw_guest_reset(&self->b.guest, self->b.run,
				     self->b.fd));
	ASSERT_EQ(0, sync_call(self->b.fd, 0, &c));
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);
	ASSERT_EQ(0, get(self->b.fd, 1, &c));
	expect_orphaned(_metadata, &c, CALLBOX_ABORT_OWNER_EXITED);
}

/*
 * The deadline is a cancellation too: if it passed while the owner still
 * lived, the orphan ends with CALLBOX_ABORT_DEADLINE, and a WAIT issued
 * before returns. (A parked interrupted call ends at the deadline itself;
 * a HOSTCALL call only once its owner is gone.)
 */
TEST_F_TIMEOUT(orphan, deadline_won_before_exit, 60)
{
	struct waiter w = { .fd = self->b.fd, .id = 1 };
	pthread_t t;

	owner_start(_metadata, self->b.fd, variant->interrupted,
		    300 * MS);
	ASSERT_EQ(0, pthread_create(&t, NULL, waiter_fn, &w));
	if (variant->interrupted) {
		ASSERT_EQ(0, join_within(t, 5000));
		owner_exit(_metadata);
	} else {
		ASSERT_TRUE(wait_for_flags(self->b.fd, 1,
					   CALLBOX_CALL_CANCEL_PENDING));
		usleep(50 * 1000);
		EXPECT_FALSE(finished(&w.done));
		owner_exit(_metadata);
		ASSERT_EQ(0, join_within(t, 5000));
	}
	EXPECT_EQ(0, w.ret);
	expect_orphaned(_metadata, &w.c, CALLBOX_ABORT_DEADLINE);
}

/*
 * "Only one call runs on a sandbox at a time: a second caller waits for
 * the first, including while the first is interrupted" (and gets EBUSY if
 * "a call waits in HOSTCALL"); once the owner has exited it is not stuck:
 * it wakes and finds the sandbox poisoned.
 */
TEST_F_TIMEOUT(orphan, other_sync_caller_not_stuck, 60)
{
	struct runner r = { .fd = self->b.fd, .sync = true };
	uint64_t t0;
	pthread_t t;

	owner_start(_metadata, self->b.fd, variant->interrupted, 0);
	ASSERT_EQ(0, pthread_create(&t, NULL, runner_fn, &r));
	if (!variant->interrupted) {
		ASSERT_EQ(0, join_within(t, 5000));
		EXPECT_EQ(-EBUSY, r.ret);
		owner_exit(_metadata);
		return;
	}
	usleep(100 * 1000);
	EXPECT_FALSE(finished(&r.done));
	owner_exit(_metadata);
	t0 = now_ns();
	ASSERT_EQ(0, join_within(t, 5000));
	EXPECT_GT(1000 * MS, now_ns() - t0);
	EXPECT_EQ(-ENOTRECOVERABLE, r.ret);
}

/*
 * ==== status is 0 unless EXITED or HOSTCALL ====
 *
 * "@status: EXITED: the value the guest wrote to CALLBOX_PORT_DONE;
 * HOSTCALL: the value it wrote to CALLBOX_PORT_HOSTCALL; else 0": a call
 * that reached HOSTCALL with a value and then aborted reports 0, whatever
 * ended it.
 */
enum hostcall_end { BY_CANCEL, BY_DEADLINE, BY_SHUTDOWN, BY_OWNER_EXIT };

FIXTURE(hostabort) {
	struct box b;
};

FIXTURE_VARIANT(hostabort) {
	enum hostcall_end how;
	uint32_t reason;
};

FIXTURE_VARIANT_ADD(hostabort, cancel) {
	BY_CANCEL, CALLBOX_ABORT_CANCELLED,
};

FIXTURE_VARIANT_ADD(hostabort, deadline) {
	BY_DEADLINE, CALLBOX_ABORT_DEADLINE,
};

FIXTURE_VARIANT_ADD(hostabort, shutdown) {
	BY_SHUTDOWN, CALLBOX_ABORT_SANDBOX_CLOSED,
};

FIXTURE_VARIANT_ADD(hostabort, owner_exit) {
	BY_OWNER_EXIT, CALLBOX_ABORT_OWNER_EXITED,
};

FIXTURE_SETUP(hostabort)
{
	box_open(_metadata, &self->b, guest_hostcaller,
		 sizeof(guest_hostcaller), true);
}

FIXTURE_TEARDOWN(hostabort)
{
	box_close(&self->b);
}

TEST_F_TIMEOUT(hostabort, status_is_zero, 60)
{
	struct callbox_call_info c;
	int fd = self->b.fd;

	if (variant->how == BY_OWNER_EXIT) {
		owner_start(_metadata, fd, false, 0);
		owner_exit(_metadata);
	} else {
		uint64_t deadline = 0;

		if (variant->how == BY_DEADLINE)
			deadline = now_ns() + 200 * MS;
		ASSERT_EQ(0, sync_call(fd, deadline, &c));
		ASSERT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
		ASSERT_EQ(HOSTCALL_VALUE, c.status);
		if (variant->how == BY_CANCEL)
			ASSERT_EQ(0, callbox_call_cancel_fd(fd, c.id));
		if (variant->how != BY_SHUTDOWN) {
			/* Decided, not yet ended: still the host call's value. */
			ASSERT_TRUE(wait_for_flags(fd, c.id,
						   CALLBOX_CALL_CANCEL_PENDING));
			ASSERT_EQ(0, get(fd, c.id, &c));
			EXPECT_EQ(CALLBOX_STATE_HOSTCALL, c.state);
			EXPECT_EQ(HOSTCALL_VALUE, c.status);
			/* The host function returns and continues the call. */
			ASSERT_EQ(0, run(fd, c.id, 0, &c));
		} else {
			ASSERT_EQ(0, callbox_sandbox_shutdown_fd(fd));
			ASSERT_EQ(0, get(fd, c.id, &c));
		}
		EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
		EXPECT_EQ(0, c.status);
	}
	ASSERT_EQ(0, wait_call(fd, 1, 0, &c));
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_EQ(variant->reason, c.reason);
	EXPECT_EQ(0, c.status);
}

/*
 * ==== RESET and its init call ====
 *
 * "The kernel queues the guest's init call (flag CALLBOX_CALL_INIT) ahead
 * of every queued call and lifts the poison, but until the init call
 * EXITs the sandbox runs no other call (ENOTRECOVERABLE)."
 */
FIXTURE(reset) {
	struct box b;
};

FIXTURE_SETUP(reset)
{
	box_open(_metadata, &self->b, raw_guest_counter,
		 sizeof(raw_guest_counter), true);
}

FIXTURE_TEARDOWN(reset)
{
	box_close(&self->b);
}

TEST_F(reset, init_call_goes_first)
{
	struct callbox_call_info c;
	uint64_t a, init, b;
	int fd = self->b.fd;

	ASSERT_EQ(0, submit(fd, 0, &a));
	ASSERT_EQ(0, raw_guest_rewind(&self->b.guest, self->b.run, fd,
				      &init));
	EXPECT_EQ(a + 1, init);
	ASSERT_EQ(0, get(fd, init, &c));
	EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
	EXPECT_EQ(CALLBOX_CALL_INIT, c.flags);

	/* Submitting is fine; entering anything but the init call is not. */
	ASSERT_EQ(0, submit(fd, 0, &b));
	EXPECT_EQ(-ENOTRECOVERABLE, sync_call(fd, 0, &c));
	EXPECT_EQ(-ENOTRECOVERABLE, run(fd, a, 0, &c));
	EXPECT_EQ(-ENOTRECOVERABLE, run(fd, b, 0, &c));
	ASSERT_EQ(0, get(fd, a, &c));
	EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
	EXPECT_EQ(0, c.flags);

	/* RUN with id 0 takes the init call, then the queue in order. */
	ASSERT_EQ(0, run(fd, 0, CALLBOX_RUN_NONBLOCK, &c));
	EXPECT_EQ(init, c.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(CALLBOX_CALL_INIT | CALLBOX_CALL_GUEST_RAN, c.flags);
	ASSERT_EQ(0, run(fd, 0, CALLBOX_RUN_NONBLOCK, &c));
	EXPECT_EQ(a, c.id);
	EXPECT_EQ(1, c.status);
	EXPECT_EQ(0, c.flags & CALLBOX_CALL_INIT);
	ASSERT_EQ(0, run(fd, 0, CALLBOX_RUN_NONBLOCK, &c));
	EXPECT_EQ(b, c.id);
	EXPECT_EQ(2, c.status);
	ASSERT_EQ(0, wait_call(fd, init, 0, &c));
	EXPECT_EQ(CALLBOX_CALL_INIT | CALLBOX_CALL_GUEST_RAN, c.flags);
}

/* "EBUSY if ... an init call is pending"; once it has exited, no more. */
TEST_F(reset, reset_while_init_pending)
{
	struct callbox_call_info c;
	uint64_t init, id;
	int fd = self->b.fd;

	ASSERT_EQ(0, raw_guest_rewind(&self->b.guest, self->b.run, fd,
				      &init));
	EXPECT_EQ(-EBUSY, callbox_sandbox_reset_fd(fd, 0, &id));
	EXPECT_EQ(-ENOENT, get(fd, init + 1, &c));
	ASSERT_EQ(0, run(fd, init, 0, &c));
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	/* Ended, not yet consumed: no longer pending. */
	ASSERT_EQ(0, raw_guest_rewind(&self->b.guest, self->b.run, fd, &id));
	EXPECT_EQ(init + 1, id);
}

/*
 * "Init calls have places of their own, beyond CALLBOX_MAX_CALLS": 64
 * unconsumed calls stop SUBMIT but not RESET, unconsumed init calls take
 * none of the 64, and only 64 unconsumed init calls stop RESET.
 */
TEST_F_TIMEOUT(reset, init_calls_have_places_of_their_own, 120)
{
	struct callbox_call_info c;
	uint64_t ids[CALLBOX_MAX_CALLS], inits[CALLBOX_MAX_CALLS], id;
	int fd = self->b.fd, i;

	for (i = 0; i < CALLBOX_MAX_CALLS; i++)
		ASSERT_EQ(0, submit(fd, 0, &ids[i]));
	EXPECT_EQ(-EAGAIN, submit(fd, 0, &id));

	/* 64 init calls, each run to its end and left unconsumed. */
	for (i = 0; i < CALLBOX_MAX_CALLS; i++) {
		ASSERT_EQ(0, raw_guest_rewind(&self->b.guest, self->b.run, fd,
					      &inits[i]));
		ASSERT_EQ(0, run(fd, 0, CALLBOX_RUN_NONBLOCK, &c));
		ASSERT_EQ(inits[i], c.id);
		ASSERT_EQ(CALLBOX_STATE_EXITED, c.state);
	}
	EXPECT_EQ(-EAGAIN, submit(fd, 0, &id));
	EXPECT_EQ(-EAGAIN, callbox_sandbox_reset_fd(fd, 0, &id));

	/* Each kind frees its own places. */
	ASSERT_EQ(0, callbox_call_cancel_fd(fd, ids[0]));
	ASSERT_EQ(0, wait_call(fd, ids[0], 0, &c));
	EXPECT_EQ(-EAGAIN, callbox_sandbox_reset_fd(fd, 0, &id));
	ASSERT_EQ(0, submit(fd, 0, &ids[0]));
	ASSERT_EQ(0, wait_call(fd, inits[0], 0, &c));
	EXPECT_EQ(-EAGAIN, submit(fd, 0, &id));
	ASSERT_EQ(0, raw_guest_rewind(&self->b.guest, self->b.run, fd, &id));
}

/*
 * A RESET that cannot write its reply lifts no poison: "nothing was
 * published", and the sandbox stays as poisoned as it was.
 */
TEST_F(reset, reset_efault_keeps_poison)
{
	struct callbox_sandbox_reset cmd = { .size = sizeof(cmd) };
	struct callbox_call_info c;
	uint64_t init;
	int fd = self->b.fd;
	void *ro;

	/* Poison it: an init call cancelled before it ran. */
	ASSERT_EQ(0, raw_guest_rewind(&self->b.guest, self->b.run, fd,
				      &init));
	ASSERT_EQ(0, callbox_call_cancel_fd(fd, init));
	ASSERT_EQ(-ENOTRECOVERABLE, sync_call(fd, 0, &c));

	ro = ro_copy(&cmd, sizeof(cmd));
	ASSERT_NE(NULL, ro);
	EXPECT_EQ(-1, ioctl(fd, CALLBOX_SANDBOX_RESET, ro));
	EXPECT_EQ(EFAULT, errno);
	ro_free(ro);

	EXPECT_EQ(-ENOENT, get(fd, init + 1, &c));
	EXPECT_EQ(-ENOTRECOVERABLE, sync_call(fd, 0, &c));
	EXPECT_EQ(-ENOTRECOVERABLE, run(fd, 0, CALLBOX_RUN_NONBLOCK, &c));
	ASSERT_EQ(0, raw_guest_reset(&self->b.guest, self->b.run, fd));
	ASSERT_EQ(0, sync_call(fd, 0, &c));
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);
}

/*
 * "If it ends any other way, even cancelled before it ran, the sandbox is
 * poisoned again: a call never enters a guest that was not made ready for
 * it." The init call carries CALLBOX_CALL_POISONED ("an init call that did
 * not exit"); the call queued behind it never enters, until a reset whose
 * init call exits.
 */
enum init_end { INIT_CANCELLED, INIT_DEADLINE_PAST, INIT_DEADLINE_QUEUED,
		INIT_GUEST_ABORT };

FIXTURE(initfail) {
	struct box b;
};

FIXTURE_VARIANT(initfail) {
	enum init_end how;
	uint32_t reason;
	uint32_t flags;
};

FIXTURE_VARIANT_ADD(initfail, cancelled_queued) {
	INIT_CANCELLED, CALLBOX_ABORT_CANCELLED,
	CALLBOX_CALL_INIT | CALLBOX_CALL_POISONED,
};

/* "A deadline already past at submission aborts the call at once." */
FIXTURE_VARIANT_ADD(initfail, deadline_already_past) {
	INIT_DEADLINE_PAST, CALLBOX_ABORT_DEADLINE,
	CALLBOX_CALL_INIT | CALLBOX_CALL_POISONED,
};

FIXTURE_VARIANT_ADD(initfail, deadline_while_queued) {
	INIT_DEADLINE_QUEUED, CALLBOX_ABORT_DEADLINE,
	CALLBOX_CALL_INIT | CALLBOX_CALL_POISONED,
};

FIXTURE_VARIANT_ADD(initfail, guest_abort) {
	INIT_GUEST_ABORT, CALLBOX_ABORT_GUEST_ABORT,
	CALLBOX_CALL_INIT | CALLBOX_CALL_GUEST_RAN | CALLBOX_CALL_POISONED,
};

FIXTURE_SETUP(initfail)
{
	box_open(_metadata, &self->b, raw_guest_counter,
		 sizeof(raw_guest_counter), true);
}

FIXTURE_TEARDOWN(initfail)
{
	box_close(&self->b);
}

TEST_F_TIMEOUT(initfail, sandbox_poisoned_again, 60)
{
	uint8_t *init_code = (uint8_t *)self->b.guest.mem + RAW_GUEST_INIT;
	struct callbox_call_info c;
	uint64_t queued, init, deadline = 0;
	int fd = self->b.fd;

	ASSERT_EQ(0, submit(fd, 0, &queued));
	if (variant->how == INIT_DEADLINE_PAST)
		deadline = 1;
	if (variant->how == INIT_DEADLINE_QUEUED)
		deadline = now_ns() + 20 * MS;
	if (variant->how == INIT_GUEST_ABORT)
		memcpy(init_code, guest_aborting_init,
		       sizeof(guest_aborting_init));
	ASSERT_EQ(0, box_rewind_regs(&self->b));
	ASSERT_EQ(0, callbox_sandbox_reset_fd(fd, deadline, &init));
	EXPECT_EQ(queued + 1, init);

	switch (variant->how) {
	case INIT_CANCELLED:
		EXPECT_EQ(0, callbox_call_cancel_fd(fd, init));
		break;
	case INIT_DEADLINE_PAST:
		break;
	case INIT_DEADLINE_QUEUED:
		ASSERT_TRUE(wait_for_state(fd, init, CALLBOX_STATE_ABORTED));
		break;
	case INIT_GUEST_ABORT:
		ASSERT_EQ(0, run(fd, 0, CALLBOX_RUN_NONBLOCK, &c));
		EXPECT_EQ(init, c.id);
		break;
	}
	ASSERT_EQ(0, get(fd, init, &c));
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_EQ(variant->reason, c.reason);
	EXPECT_EQ(variant->flags, c.flags);

	/* Poisoned: nothing enters, the queued call included. */
	EXPECT_EQ(-ENOTRECOVERABLE, sync_call(fd, 0, &c));
	EXPECT_EQ(-ENOTRECOVERABLE, run(fd, queued, 0, &c));
	EXPECT_EQ(-ENOTRECOVERABLE, run(fd, 0, CALLBOX_RUN_NONBLOCK, &c));
	ASSERT_EQ(0, get(fd, queued, &c));
	EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
	EXPECT_EQ(0, c.flags);

	/* A reset whose init call exits; then the guest's first call. */
	memcpy(init_code, raw_guest_init, sizeof(raw_guest_init));
	ASSERT_EQ(0, raw_guest_reset(&self->b.guest, self->b.run, fd));
	ASSERT_EQ(0, run(fd, 0, CALLBOX_RUN_NONBLOCK, &c));
	EXPECT_EQ(queued, c.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);
}

TEST_HARNESS_MAIN
