/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A write that stalls: userfaultfd write-protection, for the suites that
 * hold an ioctl inside its write to userspace (stall_test, entry_test,
 * lsm_test). In the triples of callbox_util.h: _foo() returns 0 or
 * -errno, foo() asserts success.
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

#endif /* CALLBOX_SELFTEST_STALL_H */
