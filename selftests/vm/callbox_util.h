/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the callbox selftests that run in the test VM.
 *
 * Helper triple, as in the iommufd selftests: _foo() returns the raw
 * result, foo() asserts success, foo_err(errno, ...) asserts that exact
 * failure.
 */
#ifndef CALLBOX_SELFTEST_UTIL_H
#define CALLBOX_SELFTEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <linux/callbox.h>
#include <callbox/callbox.h>

#include "kselftest_harness.h"
#include "raw_guest.h"

/* Where the test VM's initramfs puts the example guests. */
#define GUEST_DIR "/guests"

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

/* The library's thin layer is exactly one ioctl per call: use it. */
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
	EXPECT_EQ(-(_errno), _sandbox_create(dev_fd, vm_fd, vcpu_fd))

static inline int _call_sync(int sandbox_fd, struct callbox_call_info *out)
{
	memset(out, 0, sizeof(*out));
	return callbox_call_sync_fd(sandbox_fd, 0, out);
}

#define call_sync_err(_errno, sandbox_fd)                               \
	({                                                              \
		struct callbox_call_info __c;                           \
		EXPECT_EQ(-(_errno), _call_sync(sandbox_fd, &__c));     \
	})

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

#endif /* CALLBOX_SELFTEST_UTIL_H */
