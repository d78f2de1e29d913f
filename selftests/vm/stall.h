/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A write that stalls: userfaultfd write-protection, for the suites that
 * hold an ioctl inside its write to userspace (stall_test,
 * stall_reset_test, entry_test, lsm_test); and, at the end, a read that
 * stalls: userfaultfd's missing mode. In the triples of callbox_util.h:
 * _foo() returns 0 or -errno, foo() asserts success.
 *
 * The ioctl under test gets its struct alone in a page of its own, which
 * is registered with a userfaultfd in write-protect mode
 * (UFFDIO_REGISTER_MODE_WP) and then write-protected (UFFDIO_WRITEPROTECT,
 * on a page already populated: protection needs a present page). Reads
 * are not affected, so the ioctl copies its struct in as usual; its first
 * write back, a copy_to_user() in the kernel, takes a write-protect fault
 * that waits in handle_userfault() until this process answers on the
 * userfaultfd. Meanwhile the ioctl is frozen exactly inside that write,
 * with every lock and claim it holds there:
 *
 * - stall_ioctl() starts the ioctl, on a thread of its own, with its
 *   struct in the page: a raw ioctl(), since the struct is where the
 *   test put it;
 * - stall_wait() reads the fault's message: once it has, the ioctl is
 *   known to be inside its write;
 * - stall_release() lifts the protection, which also wakes the faulting
 *   thread: the write lands and the ioctl goes on;
 * - stall_fail() unmaps the page first, then wakes the thread: its fault
 *   is retried, finds no mapping, and the write fails with EFAULT, as if
 *   another thread had unmapped the struct.
 *
 * A signal for the stalled thread can end the wait too, and the write
 * then fails: no test signals a stalled thread. Every test releases or
 * fails its stall on every path, and stall_close(), in the teardown,
 * releases it again before it shuts the sandbox down (SHUTDOWN itself
 * waits for a thread that is writing back the struct of a call it starts)
 * and joins the ioctl's thread, within a bound: no thread is left behind
 * in the kernel.
 */
#ifndef CALLBOX_SELFTEST_STALL_H
#define CALLBOX_SELFTEST_STALL_H

#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "callbox_util.h"

struct stall {
	int uffd;
	void *page;		/* MAP_FAILED once stall_fail() unmapped it */
	size_t len;
	/* The ioctl whose struct is in the page, on a thread of its own. */
	pthread_t thread;
	bool started;		/* by stall_ioctl(), not joined yet */
	int fd;
	unsigned long cmd;
	int ret;		/* 0 or -errno */
	atomic_bool done;	/* the ioctl has returned */
};

/* An empty stall, which stall_close() accepts as it is. */
static inline void stall_init(struct stall *st)
{
	memset(st, 0, sizeof(*st));
	st->uffd = -1;
	st->page = MAP_FAILED;
}

/* The page and its userfaultfd; SKIPs if userfaultfd cannot protect. */
static inline void stall_open(struct __test_metadata *_metadata,
			      struct stall *st)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_PAGEFAULT_FLAG_WP,
	};
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_WP };

	stall_init(st);
	st->len = sysconf(_SC_PAGESIZE);
	st->uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (st->uffd < 0 && (errno == ENOSYS || errno == EPERM))
		SKIP(return, "userfaultfd: %s", strerror(errno));
	ASSERT_LE(0, st->uffd);
	if (ioctl(st->uffd, UFFDIO_API, &api)) {
		if (errno == EINVAL)
			SKIP(return, "userfaultfd has no write-protect mode");
		ASSERT_EQ(0, errno);
	}
	st->page = mmap(NULL, st->len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, st->page);
	memset(st->page, 0, st->len);	/* populated, so protectable */
	reg.range.start = (uintptr_t)st->page;
	reg.range.len = st->len;
	ASSERT_EQ(0, ioctl(st->uffd, UFFDIO_REGISTER, &reg)) {
		TH_LOG("UFFDIO_REGISTER (WP): %s", strerror(errno));
	}
}

static inline int _stall_protect(struct stall *st, bool on)
{
	struct uffdio_writeprotect wp = {
		.range = {
			.start = (uintptr_t)st->page,
			.len = st->len,
		},
		.mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	if (st->uffd < 0 || st->page == MAP_FAILED)
		return 0;
	return ioctl(st->uffd, UFFDIO_WRITEPROTECT, &wp) ? -errno : 0;
}

/* Write-protect the page: the next write to it stalls. */
#define stall_arm(st) \
	ASSERT_OK("UFFDIO_WRITEPROTECT", _stall_protect(st, true))

/* Has a write to the page stalled, within @ms? Consumes its message. */
static inline bool stall_wait(struct stall *st, int ms)
{
	struct pollfd pfd = { .fd = st->uffd, .events = POLLIN };
	struct uffd_msg msg;

	if (poll(&pfd, 1, ms) != 1 ||
	    read(st->uffd, &msg, sizeof(msg)) != sizeof(msg))
		return false;
	return msg.event == UFFD_EVENT_PAGEFAULT &&
	       (msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) &&
	       msg.arg.pagefault.address - (uintptr_t)st->page < st->len;
}

/* Let the stalled write (if any) land: lifting the protection wakes it. */
static inline int _stall_release(struct stall *st)
{
	return _stall_protect(st, false);
}

#define stall_release(st) \
	ASSERT_OK("lifting the write protection", _stall_release(st))

/* Make the stalled write fail with EFAULT: no page to write any more. */
static inline int _stall_fail(struct stall *st)
{
	struct uffdio_range range = {
		.start = (uintptr_t)st->page,
		.len = st->len,
	};

	if (munmap(st->page, st->len))
		return -errno;
	st->page = MAP_FAILED;
	return ioctl(st->uffd, UFFDIO_WAKE, &range) ? -errno : 0;
}

#define stall_fail(st) \
	ASSERT_OK("unmapping the stalled page", _stall_fail(st))

static inline void *stall_ioctl_fn(void *p)
{
	struct stall *st = p;

	st->ret = ioctl(st->fd, st->cmd, st->page) ? -errno : 0;
	atomic_store(&st->done, true);
	return NULL;
}

/* Start ioctl(@fd, @cmd) on a thread of its own, its struct the page. */
#define stall_ioctl(st, _fd, _cmd)					\
	({								\
		(st)->fd = (_fd);					\
		(st)->cmd = (_cmd);					\
		ASSERT_EQ(0, pthread_create(&(st)->thread, NULL,	\
					    stall_ioctl_fn, (st)));	\
		(st)->started = true;					\
	})

/* Has the ioctl returned? */
static inline bool stall_ioctl_done(struct stall *st)
{
	return atomic_load(&st->done);
}

/* Join the ioctl's thread if it ends within @ms: true if it did. */
static inline bool stall_ioctl_join(struct stall *st, unsigned int ms)
{
	if (!st->started)
		return true;
	if (join_within(st->thread, ms))
		return false;
	st->started = false;
	return true;
}

/*
 * However the test ended: let a stalled write land (first: SHUTDOWN
 * would wait for it), shut sandbox @sandbox_fd (if >= 0) down, which ends
 * every call and wakes every waiter, join the ioctl's thread within a
 * bound, and free the page. The caller's other threads can be joined
 * next: the sandbox is shut down.
 */
static inline void stall_close(struct __test_metadata *_metadata,
			       struct stall *st, int sandbox_fd)
{
	bool joined;

	_stall_release(st);
	if (sandbox_fd >= 0)
		_sandbox_shutdown(sandbox_fd);
	joined = stall_ioctl_join(st, 10000);
	/*
	 * No handler block on the EXPECT: after a failed ASSERT the harness
	 * leaves its trigger set, and the block would run.
	 */
	if (!joined)
		TH_LOG("the stalled ioctl's thread is still blocked after shutdown");
	EXPECT_TRUE(joined);
	if (st->page != MAP_FAILED)
		munmap(st->page, st->len);
	st->page = MAP_FAILED;
	if (st->uffd >= 0)
		close(st->uffd);
	st->uffd = -1;
}

/*
 * A stall test's teardown: close the stall @st, which shuts the sandbox
 * of @b down, then join the @n @runners the shutdown let go, and close
 * @b.
 */
static inline void stall_fixture_close(struct __test_metadata *_metadata,
				       struct stall *st, struct box *b,
				       struct call_runner *runners, int n)
{
	bool joined;
	int i;

	stall_close(_metadata, st, b->fd);
	for (i = 0; i < n; i++) {
		/* No handler block on the EXPECT, as in stall_close(). */
		joined = call_runner_join(&runners[i], 10000);
		if (!joined)
			TH_LOG("runner %d still blocked after shutdown", i);
		EXPECT_TRUE(joined);
	}
	box_close(b);
}

/* The test's guest, bound (a macro: a SKIP in box_open() ends the test). */
#define stall_guest(code)						\
	do {								\
		box_open(_metadata, &self->b, code, sizeof(code), true); \
		return_if_setup_skipped();				\
	} while (0)

/*
 * ---- a read that stalls ----
 *
 * The other direction, for an ioctl that must be held inside its copy
 * *from* userspace: KVM_SET_SIGNAL_MASK, which reads its argument with the
 * vCPU's mutex held, so that a KVM_RUN of callbox's waits for it
 * (entry_test). Two pages: the first is populated as usual; the second is
 * registered with a userfaultfd in missing mode
 * (UFFDIO_REGISTER_MODE_MISSING) and never touched, so the first access to
 * it, a read in the kernel too, waits in handle_userfault() until this
 * process answers. An argument may straddle the two: its head is read at
 * once, its tail stalls.
 *
 * - read_stall_ioctl() starts ioctl(fd, cmd, arg) on a thread of its own;
 * - read_stall_wait() reads the fault's message: once it has, the ioctl
 *   is known to be inside its read of the second page;
 * - read_stall_fill() gives the second page its contents (UFFDIO_COPY),
 *   one byte value throughout, which also wakes the faulting thread: the
 *   read goes on;
 * - read_stall_close(), in the teardown, makes a read still stalled fail
 *   instead (the second page is unmapped, then the thread woken: its
 *   fault is retried, finds no mapping, and the copy fails with EFAULT, so
 *   the ioctl changes nothing), and joins the thread within a bound.
 */
struct read_stall {
	int uffd;
	uint8_t *area;		/* two pages, MAP_FAILED if none */
	size_t page;		/* the page size */
	bool filled;		/* the second page has its contents */
	bool unmapped;		/* ... or is gone */
	/* The ioctl that reads from the area, on a thread of its own. */
	pthread_t thread;
	bool started;		/* by read_stall_ioctl(), not joined yet */
	int fd;
	unsigned long cmd;
	void *arg;
	int ret;		/* 0 or -errno */
	atomic_bool done;	/* the ioctl has returned */
};

/* An empty read stall, which read_stall_close() accepts as it is. */
static inline void read_stall_init(struct read_stall *rs)
{
	memset(rs, 0, sizeof(*rs));
	rs->uffd = -1;
	rs->area = MAP_FAILED;
}

/* The two pages and their userfaultfd; SKIPs without userfaultfd. */
static inline void read_stall_open(struct __test_metadata *_metadata,
				   struct read_stall *rs)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };

	read_stall_init(rs);
	rs->page = sysconf(_SC_PAGESIZE);
	rs->uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (rs->uffd < 0 && (errno == ENOSYS || errno == EPERM))
		SKIP(return, "userfaultfd: %s", strerror(errno));
	ASSERT_LE(0, rs->uffd);
	ASSERT_EQ(0, ioctl(rs->uffd, UFFDIO_API, &api)) {
		TH_LOG("UFFDIO_API: %s", strerror(errno));
	}
	rs->area = mmap(NULL, 2 * rs->page, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, rs->area);
	memset(rs->area, 0, rs->page);	/* the first page only */
	reg.range.start = (uintptr_t)rs->area + rs->page;
	reg.range.len = rs->page;
	ASSERT_EQ(0, ioctl(rs->uffd, UFFDIO_REGISTER, &reg)) {
		TH_LOG("UFFDIO_REGISTER (MISSING): %s", strerror(errno));
	}
}

/* The second page, whose first read stalls. */
static inline void *read_stall_page(struct read_stall *rs)
{
	return rs->area + rs->page;
}

/* Has a read of the second page stalled, within @ms? Consumes its message. */
static inline bool read_stall_wait(struct read_stall *rs, int ms)
{
	struct pollfd pfd = { .fd = rs->uffd, .events = POLLIN };
	struct uffd_msg msg;

	if (poll(&pfd, 1, ms) != 1 ||
	    read(rs->uffd, &msg, sizeof(msg)) != sizeof(msg))
		return false;
	return msg.event == UFFD_EVENT_PAGEFAULT &&
	       msg.arg.pagefault.address - (uintptr_t)read_stall_page(rs) <
	       rs->page;
}

/*
 * Give the second page its contents, @byte in every byte: the stalled
 * read goes on. (UFFDIO_COPY wants a page-aligned source: a page of its
 * own.)
 */
static inline int _read_stall_fill(struct read_stall *rs, uint8_t byte)
{
	struct uffdio_copy copy = {
		.dst = (uintptr_t)read_stall_page(rs),
		.len = rs->page,
	};
	void *src = mmap(NULL, rs->page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ret = 0;

	if (src == MAP_FAILED)
		return -errno;
	memset(src, byte, rs->page);
	copy.src = (uintptr_t)src;
	if (ioctl(rs->uffd, UFFDIO_COPY, &copy))
		ret = -errno;
	else
		rs->filled = true;
	munmap(src, rs->page);
	return ret;
}

#define read_stall_fill(rs, byte) \
	ASSERT_OK("UFFDIO_COPY", _read_stall_fill(rs, byte))

/* Make a stalled read fail with EFAULT: no second page any more. */
static inline int _read_stall_fail(struct read_stall *rs)
{
	struct uffdio_range range = {
		.start = (uintptr_t)read_stall_page(rs),
		.len = rs->page,
	};

	if (rs->uffd < 0 || rs->area == MAP_FAILED || rs->filled ||
	    rs->unmapped)
		return 0;
	if (munmap(read_stall_page(rs), rs->page))
		return -errno;
	rs->unmapped = true;
	return ioctl(rs->uffd, UFFDIO_WAKE, &range) ? -errno : 0;
}

static inline void *read_stall_ioctl_fn(void *p)
{
	struct read_stall *rs = p;

	rs->ret = ioctl(rs->fd, rs->cmd, rs->arg) ? -errno : 0;
	atomic_store(&rs->done, true);
	return NULL;
}

/* Start ioctl(@fd, @cmd, @arg) on a thread of its own; @arg in the area. */
#define read_stall_ioctl(rs, _fd, _cmd, _arg)				\
	({								\
		(rs)->fd = (_fd);					\
		(rs)->cmd = (_cmd);					\
		(rs)->arg = (_arg);					\
		ASSERT_EQ(0, pthread_create(&(rs)->thread, NULL,	\
					    read_stall_ioctl_fn, (rs))); \
		(rs)->started = true;					\
	})

/* Join the ioctl's thread if it ends within @ms: true if it did. */
static inline bool read_stall_join(struct read_stall *rs, unsigned int ms)
{
	if (!rs->started)
		return true;
	if (join_within(rs->thread, ms))
		return false;
	rs->started = false;
	return true;
}

/*
 * However the test ended: make a read still stalled fail, join the
 * ioctl's thread within a bound, and free the pages. First in a teardown:
 * the threads waiting for what the ioctl holds (the vCPU's mutex) can be
 * joined next.
 */
static inline void read_stall_close(struct __test_metadata *_metadata,
				    struct read_stall *rs)
{
	bool joined;

	_read_stall_fail(rs);
	joined = read_stall_join(rs, 10000);
	/* No handler block on the EXPECT: see stall_close(). */
	if (!joined)
		TH_LOG("the stalled reader's thread is still blocked");
	EXPECT_TRUE(joined);
	if (rs->area != MAP_FAILED)
		munmap(rs->area, rs->unmapped ? rs->page : 2 * rs->page);
	rs->area = MAP_FAILED;
	if (rs->uffd >= 0)
		close(rs->uffd);
	rs->uffd = -1;
}

#endif /* CALLBOX_SELFTEST_STALL_H */
