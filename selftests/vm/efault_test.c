// SPDX-License-Identifier: GPL-2.0
/*
 * A failed ioctl has no side effect, on raw guests: each command whose
 * struct is in a read-only page fails with EFAULT and publishes, enters,
 * consumes, installs, binds and un-poisons nothing; and a command consumes
 * a call only if the outcome it wrote back says the call ended.
 */
#include <dirent.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "callbox_util.h"

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

/*
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
	call_submit(self->b.fd, 0, &id);
	ASSERT_EQ(1, id);
	call_run(self->b.fd, id, 0, &c);
	ASSERT_EQ(CALLBOX_STATE_EXITED, c.state);
	ASSERT_EQ(1, c.status);
	if (variant->queued) {
		call_submit(self->b.fd, 0, &id);
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
		call_get(self->b.fd, i, &before[i]);
	events = poll_events(self->b.fd);

	ro = ro_copy(buf, variant->size);
	ASSERT_NE(NULL, ro);
	EXPECT_EQ(-1, ioctl(self->b.fd, variant->cmd, ro));
	EXPECT_EQ(EFAULT, errno);
	ro_free(ro);

	/* Every call as it was: none consumed, none entered. */
	for (i = 1; i <= n; i++) {
		ASSERT_EQ(0, _call_get(self->b.fd, i, &c)) {
			TH_LOG("call %llu is gone", (unsigned long long)i);
		}
		EXPECT_EQ(0, memcmp(&before[i], &c, sizeof(c))) {
			TH_LOG("call %llu: state %u flags %#x, was %u %#x",
			       (unsigned long long)i, c.state, c.flags,
			       before[i].state, before[i].flags);
		}
	}
	/* Nothing published: no call, no init call under the next id. */
	call_get_err(ENOENT, self->b.fd, n + 1, &c);
	EXPECT_EQ(events, poll_events(self->b.fd));

	/* The queue is as it was, and the guest ran no call meanwhile. */
	if (variant->queued) {
		call_run(self->b.fd, 0, CALLBOX_RUN_NONBLOCK, &c);
		EXPECT_EQ(2, c.id);
		EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
		EXPECT_EQ(2, c.status);
	}
	call_run_err(EAGAIN, self->b.fd, 0, CALLBOX_RUN_NONBLOCK, &c);

	/* The id the failed command would have given is the next one. */
	call_submit(self->b.fd, 0, &id);
	EXPECT_EQ(n + 1, id);
	call_run(self->b.fd, id, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(n + 1, c.status);

	/* The ended call is still there for a WAIT that can write. */
	call_wait(self->b.fd, 1, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);
	call_get_err(ESRCH, self->b.fd, 1, &c);
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
		if (!_call_get(r->fd, id, &c) &&
		    c.state == CALLBOX_STATE_HOSTCALL) {
			r->hit = true;
			_sandbox_shutdown(r->fd);
			_call_get(r->fd, id, &c);
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

		/* Raw: the struct must be this one, in the protected page. */
		ret = ioctl(b.fd, CALLBOX_CALL_SYNC, r.cmd);
		ASSERT_EQ(0, pthread_join(t, NULL));
		if (r.hit) {
			hits++;
			EXPECT_EQ(0, ret);
			EXPECT_EQ(CALLBOX_STATE_HOSTCALL, r.cmd->out.state);
			EXPECT_EQ(CALLBOX_STATE_ABORTED, r.state_then);
			/* Not consumed: how it really ended is still known. */
			call_get(b.fd, r.cmd->out.id, &c);
			EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
			EXPECT_EQ(CALLBOX_ABORT_SANDBOX_CLOSED, c.reason);
			call_wait(b.fd, r.cmd->out.id, 0, &c);
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
 * CALL_SYNC writes the new call's id back without a page fault when it
 * can, and with one when it must, then checks again what must hold at
 * entry. A struct in a page that fork() left copy-on-write (so write-
 * protected) takes the second way, and gets its id and outcome all the
 * same.
 */
TEST_F(reply, sync_reply_to_copy_on_write_page)
{
	long page = sysconf(_SC_PAGESIZE);
	struct callbox_call_sync *cmd;
	struct box b;
	pid_t child;
	unsigned int i;

	box_open(_metadata, &b, raw_guest_counter, sizeof(raw_guest_counter),
		 true);
	if (b.dev_fd < 0)
		return;
	cmd = mmap(NULL, page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, cmd);
	for (i = 1; i <= 3; i++) {
		*cmd = (struct callbox_call_sync) { .size = sizeof(*cmd) };
		child = fork();
		ASSERT_LE(0, child);
		if (!child) {
			pause();
			_exit(0);
		}
		EXPECT_EQ(0, ioctl(b.fd, CALLBOX_CALL_SYNC, cmd));
		EXPECT_EQ(i, cmd->out.id);
		EXPECT_EQ(CALLBOX_STATE_EXITED, cmd->out.state);
		EXPECT_EQ(i, cmd->out.status);
		kill(child, SIGKILL);
		ASSERT_EQ(child, waitpid(child, NULL, 0));
	}
	munmap(cmd, page);
	box_close(&b);
}

/*
 * ioctl @req on @b's sandbox fd with @arg, the page at @p read-only, and
 * writable again after: 0 or -errno (of the ioctl, or of mprotect()).
 */
static int head_ro_ioctl(const struct box *b, char *p, unsigned long req,
			 void *arg)
{
	long page = sysconf(_SC_PAGESIZE);
	int ret;

	if (mprotect(p, page, PROT_READ))
		return -errno;
	ret = ioctl(b->fd, req, arg) ? -errno : 0;
	if (mprotect(p, page, PROT_READ | PROT_WRITE))
		return -errno;
	return ret;
}

/*
 * "The reply with a call's outcome ... writes only the struct's output
 * fields, @out and BATCH's @done; RUN, BATCH, WAIT and GET write nothing
 * else, so their input fields may be read-only": each struct here starts
 * in a read-only page and has its output fields in the writable page
 * after it. CALL_SYNC, which writes its whole struct when it publishes its
 * call, fails with EFAULT and runs nothing; so does BATCH with @done in
 * the read-only page ("@done is written back as it came before any call
 * is entered").
 */
TEST_F(reply, input_fields_read_only)
{
	long page = sysconf(_SC_PAGESIZE);
	struct callbox_call_batch *batch;
	struct callbox_call_sync *sync;
	struct callbox_call_wait *wait;
	struct callbox_call_run *run;
	struct callbox_call_get *get;
	struct callbox_call_info c;
	uint64_t first, second;
	uint64_t ids[1];
	struct box b;
	char *p;

	box_open(_metadata, &b, raw_guest_counter, sizeof(raw_guest_counter),
		 true);
	if (b.dev_fd < 0)
		return;
	p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	call_submit(b.fd, 0, &first);
	call_submit(b.fd, 0, &second);

	run = (void *)(p + page - offsetof(struct callbox_call_run, out));
	*run = (struct callbox_call_run) { .size = sizeof(*run), .id = first };
	EXPECT_EQ(0, head_ro_ioctl(&b, p, CALLBOX_CALL_RUN, run));
	EXPECT_EQ(first, run->out.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, run->out.state);
	EXPECT_EQ(1, run->out.status);

	ids[0] = second;
	batch = (void *)(p + page - offsetof(struct callbox_call_batch, nr));
	*batch = (struct callbox_call_batch) {
		.size = sizeof(*batch),
		.ids = (uintptr_t)ids,
		.nr = 1,
	};
	EXPECT_EQ(0, head_ro_ioctl(&b, p, CALLBOX_CALL_BATCH, batch));
	EXPECT_EQ(1, batch->done);
	EXPECT_EQ(second, batch->out.id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, batch->out.state);
	EXPECT_EQ(2, batch->out.status);

	/* @done read-only: found out before the call is entered. */
	call_submit(b.fd, 0, &ids[0]);
	batch = (void *)(p + page - offsetof(struct callbox_call_batch, out));
	*batch = (struct callbox_call_batch) {
		.size = sizeof(*batch),
		.ids = (uintptr_t)ids,
		.nr = 1,
	};
	EXPECT_EQ(-EFAULT, head_ro_ioctl(&b, p, CALLBOX_CALL_BATCH, batch));
	call_get(b.fd, ids[0], &c);
	EXPECT_EQ(CALLBOX_STATE_QUEUED, c.state);
	call_cancel(b.fd, ids[0]);

	wait = (void *)(p + page - offsetof(struct callbox_call_wait, out));
	*wait = (struct callbox_call_wait) { .size = sizeof(*wait), .id = first };
	EXPECT_EQ(0, head_ro_ioctl(&b, p, CALLBOX_CALL_WAIT, wait));
	EXPECT_EQ(CALLBOX_STATE_EXITED, wait->out.state);
	EXPECT_EQ(1, wait->out.status);
	call_get_err(ESRCH, b.fd, first, &c);	/* WAIT consumed it */

	get = (void *)(p + page - offsetof(struct callbox_call_get, out));
	*get = (struct callbox_call_get) { .size = sizeof(*get), .id = second };
	EXPECT_EQ(0, head_ro_ioctl(&b, p, CALLBOX_CALL_GET, get));
	EXPECT_EQ(CALLBOX_STATE_EXITED, get->out.state);
	EXPECT_EQ(2, get->out.status);

	sync = (void *)(p + page - offsetof(struct callbox_call_sync, out));
	*sync = (struct callbox_call_sync) { .size = sizeof(*sync) };
	EXPECT_EQ(-EFAULT, head_ro_ioctl(&b, p, CALLBOX_CALL_SYNC, sync));
	/* Neither ran anything: the next call is the guest's third. */
	call_sync(b.fd, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(3, c.status);

	munmap(p, 2 * page);
	box_close(&b);
}

/* The box's vCPU is not bound at setup. */
BOX_FIXTURE(bind, raw_guest_counter, false)

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
	call_sync(fd, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);
	self->b.fd = fd;
}

BOX_FIXTURE(reset, raw_guest_counter, true)

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
	call_cancel(fd, init);
	ASSERT_EQ(-ENOTRECOVERABLE, _call_sync(fd, 0, &c));

	ro = ro_copy(&cmd, sizeof(cmd));
	ASSERT_NE(NULL, ro);
	EXPECT_EQ(-1, ioctl(fd, CALLBOX_SANDBOX_RESET, ro));
	EXPECT_EQ(EFAULT, errno);
	ro_free(ro);

	call_get_err(ENOENT, fd, init + 1, &c);
	call_sync_err(ENOTRECOVERABLE, fd, 0, &c);
	call_run_err(ENOTRECOVERABLE, fd, 0, CALLBOX_RUN_NONBLOCK, &c);
	ASSERT_EQ(0, raw_guest_reset(&self->b.guest, self->b.run, fd));
	call_sync(fd, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);
}

TEST_HARNESS_MAIN
