/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the callbox selftests that run in the test VM, at the
 * level of the kernel ABI: raw KVM guests, the callbox ioctls, and the
 * threads and polling the suites build on them. Two parts have headers
 * of their own, which this one includes at its end, so that every suite
 * has them: calls on threads of their own (call_thread_util.h), and the
 * small raw guests the suites run (guest_util.h). sdk_util.h has the
 * libcallbox (host SDK) level, starve_util.h the scheduler starvation.
 *
 * Helper triples, as in the iommufd selftests: for an operation foo,
 * _foo() does it and returns 0 or -errno (no assertions), foo() asserts
 * that it succeeds, and foo_err(errno, ...) checks that it fails with
 * exactly that errno (an EXPECT: the test goes on to its next check).
 * The checking forms are macros: they need the harness's _metadata, and
 * report the line of the test that used them. A test that deliberately
 * passes a malformed struct (EFAULT, a bad size or flag ...) issues the
 * raw ioctl() instead.
 */
#ifndef CALLBOX_SELFTEST_UTIL_H
#define CALLBOX_SELFTEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <linux/callbox.h>
#include <callbox/callbox.h>

#include "kselftest_harness.h"
#include "base_util.h"
#include "raw_guest.h"

/* Where the test VM's initramfs puts the example guests. */
#define GUEST_DIR "/guests"

/* Assert that @ret, 0 or -errno from @what, is 0; say why if not. */
#define ASSERT_OK(what, ret)						\
	({								\
		int __ok_ret = (ret);					\
		ASSERT_EQ(0, __ok_ret) {				\
			TH_LOG("%s: %s", what, strerror(-__ok_ret));	\
		}							\
	})

/*
 * This harness runs the test body even after FIXTURE_SETUP skipped (no
 * /dev/callbox, no /dev/kvm, no userfaultfd ...), and a SKIP in a helper
 * returns from the helper only: stop there.
 */
#define return_if_setup_skipped()					\
	do {								\
		if (_metadata->skip)					\
			return;						\
	} while (0)

static inline int open_or_skip(struct __test_metadata *_metadata,
			       const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT)
		SKIP(return -1, "%s is missing", path);
	ASSERT_LE(0, fd) {
		TH_LOG("open %s: %s", path, strerror(errno));
	}
	return fd;
}

/* The raw_guest.h helpers, asserting success. */
#define raw_vm_create_ok(vm)                                            \
	({                                                              \
		int __ret = raw_vm_create(vm);                          \
		if (__ret == -ENOENT)                                   \
			SKIP(return, "/dev/kvm is missing");            \
		ASSERT_EQ(0, __ret) {                                   \
			TH_LOG("creating a KVM VM: %s", strerror(-__ret)); \
		}                                                       \
	})

#define raw_guest_create_ok(g, code, len)                               \
	({                                                              \
		int __ret = raw_guest_create(g, code, len);             \
		if (__ret == -ENOENT)                                   \
			SKIP(return, "/dev/kvm is missing");            \
		ASSERT_EQ(0, __ret) {                                   \
			TH_LOG("creating a raw guest: %s", strerror(-__ret)); \
		}                                                       \
	})

/*
 * ---- the callbox ioctls ----
 *
 * Built on the library's thin layer, which is exactly one ioctl per call.
 * Each _foo() zeroes its @out first: a zeroed @out asks for a new call,
 * never the restart of an interrupted one, and after a failure the test
 * reads zeroes rather than a previous outcome.
 */

/* CALLBOX_SANDBOX_CREATE: the new sandbox fd, or -errno. */
#define _sandbox_create(dev_fd, vm_fd, vcpu_fd) \
	callbox_sandbox_create_fd(dev_fd, vm_fd, vcpu_fd)

#define sandbox_create(dev_fd, vm_fd, vcpu_fd)                          \
	({                                                              \
		int __fd = _sandbox_create(dev_fd, vm_fd, vcpu_fd);     \
		ASSERT_LE(0, __fd) {                                    \
			TH_LOG("CALLBOX_SANDBOX_CREATE: %s",            \
			       strerror(-__fd));                        \
		}                                                       \
		__fd;                                                   \
	})

#define sandbox_create_err(_errno, dev_fd, vm_fd, vcpu_fd) \
	({ EXPECT_EQ(-(_errno), _sandbox_create(dev_fd, vm_fd, vcpu_fd)); })

static inline int _call_sync(int fd, uint64_t deadline_ns,
			     struct callbox_call_info *out)
{
	memset(out, 0, sizeof(*out));
	return callbox_call_sync_fd(fd, deadline_ns, out);
}

#define call_sync(fd, deadline_ns, out) \
	ASSERT_OK("CALLBOX_CALL_SYNC", _call_sync(fd, deadline_ns, out))

#define call_sync_err(_errno, fd, deadline_ns, out) \
	({ EXPECT_EQ(-(_errno), _call_sync(fd, deadline_ns, out)); })

static inline int _call_submit(int fd, uint64_t deadline_ns, uint64_t *id)
{
	return callbox_call_submit_fd(fd, deadline_ns, id);
}

#define call_submit(fd, deadline_ns, id) \
	ASSERT_OK("CALLBOX_CALL_SUBMIT", _call_submit(fd, deadline_ns, id))

#define call_submit_err(_errno, fd, deadline_ns, id) \
	({ EXPECT_EQ(-(_errno), _call_submit(fd, deadline_ns, id)); })

static inline int _call_run(int fd, uint64_t id, uint32_t flags,
			    struct callbox_call_info *out)
{
	memset(out, 0, sizeof(*out));
	return callbox_call_run_fd(fd, id, flags, out);
}

#define call_run(fd, id, flags, out) \
	ASSERT_OK("CALLBOX_CALL_RUN", _call_run(fd, id, flags, out))

#define call_run_err(_errno, fd, id, flags, out) \
	({ EXPECT_EQ(-(_errno), _call_run(fd, id, flags, out)); })

static inline int _call_wait(int fd, uint64_t id, uint64_t deadline_ns,
			     struct callbox_call_info *out)
{
	memset(out, 0, sizeof(*out));
	return callbox_call_wait_fd(fd, id, deadline_ns, out);
}

#define call_wait(fd, id, deadline_ns, out) \
	ASSERT_OK("CALLBOX_CALL_WAIT", _call_wait(fd, id, deadline_ns, out))

#define call_wait_err(_errno, fd, id, deadline_ns, out) \
	({ EXPECT_EQ(-(_errno), _call_wait(fd, id, deadline_ns, out)); })

static inline int _call_get(int fd, uint64_t id,
			    struct callbox_call_info *out)
{
	memset(out, 0, sizeof(*out));
	return callbox_call_get_fd(fd, id, out);
}

#define call_get(fd, id, out) \
	ASSERT_OK("CALLBOX_CALL_GET", _call_get(fd, id, out))

#define call_get_err(_errno, fd, id, out) \
	({ EXPECT_EQ(-(_errno), _call_get(fd, id, out)); })

/* 0 if this cancellation won, -EALREADY if the call had ended. */
static inline int _call_cancel(int fd, uint64_t id)
{
	return callbox_call_cancel_fd(fd, id);
}

#define call_cancel(fd, id) \
	ASSERT_OK("CALLBOX_CALL_CANCEL", _call_cancel(fd, id))

#define call_cancel_err(_errno, fd, id) \
	({ EXPECT_EQ(-(_errno), _call_cancel(fd, id)); })

static inline int _sandbox_reset(int fd, uint64_t deadline_ns,
				 uint64_t *init_id)
{
	return callbox_sandbox_reset_fd(fd, deadline_ns, init_id);
}

#define sandbox_reset(fd, deadline_ns, init_id) \
	ASSERT_OK("CALLBOX_SANDBOX_RESET", \
		  _sandbox_reset(fd, deadline_ns, init_id))

#define sandbox_reset_err(_errno, fd, deadline_ns, init_id) \
	({ EXPECT_EQ(-(_errno), _sandbox_reset(fd, deadline_ns, init_id)); })

static inline int _sandbox_shutdown(int fd)
{
	return callbox_sandbox_shutdown_fd(fd);
}

#define sandbox_shutdown(fd) \
	ASSERT_OK("CALLBOX_SANDBOX_SHUTDOWN", _sandbox_shutdown(fd))

/*
 * The ioctl ABI checks every command gets: @buf is a valid struct of
 * @size bytes for ioctl @cmd on @fd; each probe hits one error path.
 * @reserved_off is 0 for a struct without a reserved field.
 */
static inline void check_ioctl_abi(struct __test_metadata *_metadata,
				   int fd, unsigned long cmd, void *buf,
				   size_t size, size_t flags_off,
				   size_t reserved_off)
{
	static uint8_t big[8192];

	ASSERT_LE(size + 8, sizeof(big));

	/* Too short: smaller than the first published size. */
	memcpy(big, buf, size);
	*(uint32_t *)big = size - 4;
	EXPECT_EQ(-1, ioctl(fd, cmd, big));
	EXPECT_EQ(EINVAL, errno);
	*(uint32_t *)big = 0;
	EXPECT_EQ(-1, ioctl(fd, cmd, big));
	EXPECT_EQ(EINVAL, errno);

	/* Longer, with a non-zero byte the kernel does not know. */
	memset(big, 0, sizeof(big));
	memcpy(big, buf, size);
	*(uint32_t *)big = size + 8;
	big[size + 7] = 1;
	EXPECT_EQ(-1, ioctl(fd, cmd, big));
	EXPECT_EQ(E2BIG, errno);

	/* Beyond a page, even all zero: never scanned (like clone3()). */
	memset(big, 0, sizeof(big));
	memcpy(big, buf, size);
	*(uint32_t *)big = 4097;
	EXPECT_EQ(-1, ioctl(fd, cmd, big));
	EXPECT_EQ(E2BIG, errno);
	*(uint32_t *)big = 0xffffffff;
	EXPECT_EQ(-1, ioctl(fd, cmd, big));
	EXPECT_EQ(E2BIG, errno);

	/* Unknown flag. */
	memcpy(big, buf, size);
	*(uint32_t *)(big + flags_off) = 1u << 31;
	EXPECT_EQ(-1, ioctl(fd, cmd, big));
	EXPECT_EQ(EINVAL, errno);

	/* Non-zero reserved field. */
	if (reserved_off) {
		memcpy(big, buf, size);
		*(uint32_t *)(big + reserved_off) = 1;
		EXPECT_EQ(-1, ioctl(fd, cmd, big));
		EXPECT_EQ(EINVAL, errno);
	}

	/* Bad pointer. */
	EXPECT_EQ(-1, ioctl(fd, cmd, (void *)8));
	EXPECT_EQ(EFAULT, errno);
}

/* ---- watching calls and vCPUs ---- */

/* Poll @cond for up to 10 s; its last value. */
#define WAIT_FOR(cond)							\
	({								\
		uint64_t __until = now_ns() + 10000000000ull;		\
		while (!(cond) && now_ns() < __until)			\
			usleep(500);					\
		(cond);							\
	})

/*
 * One of a vCPU's statistics, as KVM keeps them (KVM_GET_STATS_FD): open
 * it once, then read it as often as needed.
 */
struct vcpu_stat {
	int fd;
	off_t offset;
};

/* Find statistic @name of vCPU @vcpu_fd: 0, or -1 if KVM has no such. */
static inline int vcpu_stat_open(struct vcpu_stat *s, int vcpu_fd,
				 const char *name)
{
	struct kvm_stats_header h;
	struct kvm_stats_desc *d = NULL;
	size_t dsize;
	uint32_t i;

	s->fd = ioctl(vcpu_fd, KVM_GET_STATS_FD, NULL);
	if (s->fd < 0)
		return -1;
	if (pread(s->fd, &h, sizeof(h), 0) != sizeof(h))
		goto fail;
	dsize = sizeof(*d) + h.name_size;
	d = calloc(1, dsize);
	for (i = 0; d && i < h.num_desc; i++) {
		if (pread(s->fd, d, dsize, h.desc_offset + i * dsize) !=
		    (ssize_t)dsize)
			break;
		if (!strncmp(d->name, name, h.name_size)) {
			s->offset = h.data_offset + d->offset;
			free(d);
			return 0;
		}
	}
fail:
	free(d);
	close(s->fd);
	s->fd = -1;
	return -1;
}

static inline uint64_t vcpu_stat_read(const struct vcpu_stat *s)
{
	uint64_t v = 0;

	if (pread(s->fd, &v, sizeof(v), s->offset) != sizeof(v))
		return 0;
	return v;
}

/* The state of call @id now, 0 if GET fails. */
static inline uint32_t call_state(int fd, uint64_t id)
{
	struct callbox_call_info c;

	return _call_get(fd, id, &c) ? 0 : c.state;
}

/* Wait (up to 10 s) until call @id is in @state; true if it got there. */
static inline bool wait_for_state(int fd, uint64_t id, uint32_t state)
{
	return WAIT_FOR(call_state(fd, id) == state);
}

/* Wait (up to 10 s) until call @id has every flag of @flags. */
static inline bool wait_for_flags(int fd, uint64_t id, uint32_t flags)
{
	struct callbox_call_info c;

	return WAIT_FOR(!_call_get(fd, id, &c) && (c.flags & flags) == flags);
}

/* The sandbox fd's POLLIN and POLLPRI now (POLLHUP comes regardless). */
static inline short poll_events(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLPRI };

	return poll(&p, 1, 0) == 1 ? p.revents : 0;
}

/* ---- a raw guest with its sandbox ---- */

struct box {
	int dev_fd;
	struct raw_guest guest;
	int fd;			/* the sandbox, -1 if not bound */
	struct kvm_run *run;
	size_t run_size;
};

/* An empty box, which box_close() accepts as it is. */
static inline void box_init(struct box *b)
{
	b->dev_fd = -1;
	b->guest.vm = (struct raw_vm) { -1, -1, -1 };
	b->guest.mem = MAP_FAILED;
	b->fd = -1;
	b->run = MAP_FAILED;
}

/* A raw guest running @code, its kvm_run mapped, bound if @bind. */
static inline void box_open(struct __test_metadata *_metadata, struct box *b,
			    const uint8_t *code, size_t len, bool bind)
{
	box_init(b);
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

static inline void box_close(struct box *b)
{
	if (b->run != MAP_FAILED)
		munmap(b->run, b->run_size);
	if (b->fd >= 0)
		close(b->fd);
	raw_guest_destroy(&b->guest);
	if (b->dev_fd >= 0)
		close(b->dev_fd);
}

/*
 * A fixture that is one box running @code, bound at setup if @bind. The
 * suites that share a fixture by name share its definition here.
 */
#define BOX_FIXTURE(name, code, bind)					\
	FIXTURE(name) {							\
		struct box b;						\
	};								\
	FIXTURE_SETUP(name)						\
	{								\
		box_open(_metadata, &self->b, code, sizeof(code), bind); \
	}								\
	FIXTURE_TEARDOWN(name)						\
	{								\
		box_close(&self->b);					\
	}

/* Replace the guest's code, as userspace does before a reset. */
static inline void box_load(struct box *b, const uint8_t *code, size_t len)
{
	memcpy((uint8_t *)b->guest.mem + RAW_GUEST_CODE, code, len);
}

/*
 * Bind the box's vCPU to a new sandbox, as a probe: 0 if that worked (the
 * probe sandbox is closed again, which frees the vCPU), else -errno, e.g.
 * -EBUSY while another sandbox holds the vCPU.
 */
static inline int probe_bind(struct box *b)
{
	int fd = _sandbox_create(b->dev_fd, b->guest.vm.vm_fd,
				 b->guest.vm.vcpu_fd);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/* After what they build on: they include this header themselves too. */
#include "call_thread_util.h"
#include "guest_util.h"

#endif /* CALLBOX_SELFTEST_UTIL_H */
