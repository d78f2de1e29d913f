// SPDX-License-Identifier: GPL-2.0
/*
 * Isolation around restores, snapshots and clones, from a second hostile
 * review: what one request leaves in the I/O buffers and the mailbox must
 * reach no other request, no clone and no snapshot; and a reset, restore,
 * snapshot or clone that fails half way must leave the sandbox refused or
 * as it was, never half built.
 *
 * "Nothing a request leaves in the guest reaches the next"
 * (CALLBOX_CONFIG_FRESH_CALLS); "no write of one is ever seen by another,
 * or by @parent" (callbox_sandbox_clone()); "Until that init has
 * succeeded, calls fail with -ENOTRECOVERABLE" (callbox_sandbox_reset()).
 *
 * Linked with -Wl,--wrap=ioctl: __wrap_ioctl() fails a chosen KVM ioctl,
 * for the error paths.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdarg.h>
#include <linux/kvm.h>
#include <callbox/abi.h>

#include "inspect_util.h"
#include "residue_util.h"

/* ---- fault injection ---- */
static volatile unsigned long fail_req;
static volatile int fail_count;
static volatile int fail_hits;

int __real_ioctl(int fd, unsigned long req, ...);
int __wrap_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fail_req && req == fail_req && fail_count > 0) {
		fail_count--;
		fail_hits++;
		errno = EIO;
		return -1;
	}
	return __real_ioctl(fd, req, arg);
}

static void inject(unsigned long req, int n)
{
	fail_hits = 0;
	fail_count = n;
	fail_req = req;
}

/* ---- helpers ---- */
#define SECRET	0x5ec2e75ec2e75ec2ll
#define MAGIC	0x0badc0de0badc0dell

static int64_t peek_(struct callbox_sandbox *sb, int64_t addr, int *ret)
{
	int64_t v = -1;

	*ret = callbox_call_int(sb, "peek", &addr, 1, &v);
	return v;
}

static int poke_(struct callbox_sandbox *sb, int64_t addr, int64_t value)
{
	int64_t args[2] = { addr, value }, v;

	return callbox_call_int(sb, "poke", args, 2, &v);
}

#define PEEK(sb, addr)							\
	({								\
		int __r;						\
		int64_t __v = peek_(sb, addr, &__r);			\
		ASSERT_EQ(0, __r) {					\
			TH_LOG("peek: %s", callbox_sandbox_last_error(sb)); \
		}							\
		__v;							\
	})
#define POKE(sb, addr, v)						\
	ASSERT_EQ(0, poke_(sb, addr, v)) {				\
		TH_LOG("poke: %s", callbox_sandbox_last_error(sb));	\
	}

static struct callbox_sandbox *load_residue(struct __test_metadata *_metadata,
					     uint64_t flags)
{
	struct callbox_config cfg;

	residue_config(&cfg);
	cfg.flags = flags;
	return load(&cfg, "residue");
}

/* The I/O area, as the mailbox publishes it. */
static uint64_t io_in(struct callbox_sandbox *sb, int64_t io_base,
		      uint32_t i)
{
	return callbox_io_input(io_base, CALLBOX_DEFAULT_IO_BUFFER,
				CALLBOX_DEFAULT_IO_BUFFER, i);
}

static uint64_t io_out(struct callbox_sandbox *sb, int64_t io_base,
		       uint32_t i)
{
	return callbox_io_output(io_base, CALLBOX_DEFAULT_IO_BUFFER,
				 CALLBOX_DEFAULT_IO_BUFFER, i);
}

#define IO_BASE(sb)							\
	PEEK(sb, CALLBOX_GPA_MAILBOX + offsetof(struct callbox_mailbox, io_base))

FIXTURE(iso) {
	int unused;
};

FIXTURE_SETUP(iso)
{
	if (access("/dev/callbox", F_OK))
		SKIP(return, "/dev/callbox is missing");
}

FIXTURE_TEARDOWN(iso)
{
}

/*
 * CALLBOX_CONFIG_FRESH_CALLS: sync calls, all in slot 0. The restore ran
 * after the next request had taken slot 0, whose buffers, "outstanding",
 * it kept whole, with what the previous request (and its guest code)
 * left past the new message. Now a fresh call's request is written after
 * its restore.
 */
TEST_F_TIMEOUT(iso, fresh_calls_same_slot_leak, 120)
{
	struct callbox_sandbox *sb = load_residue(_metadata,
						  CALLBOX_CONFIG_FRESH_CALLS);
	int64_t io_base, v;

	io_base = IO_BASE(sb);
	TH_LOG("io_base %#" PRIx64 ", slot 0 in %#" PRIx64 " out %#" PRIx64,
	       io_base, io_in(sb, io_base, 0), io_out(sb, io_base, 0));

	/* Request 1's guest code writes into its own output buffer. */
	POKE(sb, io_out(sb, io_base, 0) + 0x800, MAGIC);
	/* Request 2 (fresh) reads it. */
	v = PEEK(sb, io_out(sb, io_base, 0) + 0x800);
	EXPECT_EQ(0, v) {
		TH_LOG("guest-written output-buffer word of the previous request survived the fresh restore: %#" PRIx64,
		       (uint64_t)v);
	}
	/* Request 3: poke(heap, SECRET): SECRET is argument 2, bytes 22..29. */
	POKE(sb, 2 << 20, SECRET);
	/* Request 4 (fresh, 21-byte request) reads past its own message. */
	v = PEEK(sb, io_in(sb, io_base, 0) + 22);
	EXPECT_EQ(0, v) {
		TH_LOG("the previous request's argument survived the fresh restore: %#" PRIx64,
		       (uint64_t)v);
	}
	/* Held: an explicit restore, with slot 0 free, zeroes it. */
	POKE(sb, io_out(sb, io_base, 0) + 0x800, MAGIC);
	ASSERT_EQ(0, callbox_sandbox_restore(sb));
	EXPECT_EQ(0, PEEK(sb, io_out(sb, io_base, 0) + 0x800));
	callbox_sandbox_free(sb);
}

/*
 * Queued calls under FRESH_CALLS: a call run after call A rewrote A's
 * result before A's owner collected it, and read a queued call's
 * arguments, all in guest memory. Fresh calls are not submitted now:
 * "callbox_call_submit() fails with -EOPNOTSUPP".
 */
TEST_F_TIMEOUT(iso, fresh_calls_are_not_submitted, 120)
{
	struct callbox_sandbox *sb = load_residue(_metadata,
						  CALLBOX_CONFIG_FRESH_CALLS);
	uint64_t id = 0;

	EXPECT_EQ(-EOPNOTSUPP, callbox_call_submit(sb, "ok", NULL, 0, 0, &id));
	EXPECT_STREQ("ok: fresh calls (CALLBOX_CONFIG_FRESH_CALLS) are not submitted: use callbox_call()",
		     callbox_sandbox_last_error(sb));
	callbox_sandbox_free(sb);
}

/*
 * callbox_sandbox_clone(): "no write of one is ever seen by another". The
 * parent's own restore zeroes its free I/O buffers, but the snapshot held
 * them, and so did the clones' template: a clone read the parent's
 * request arguments and guest-written output, restore after restore. Now
 * no snapshot holds the I/O buffers or the mailbox's slots.
 */
TEST_F_TIMEOUT(iso, clone_sees_parent_io, 120)
{
	struct callbox_sandbox *sb = load_residue(_metadata, 0), *child;
	int64_t io_base, v;

	io_base = IO_BASE(sb);
	POKE(sb, io_out(sb, io_base, 0) + 0x800, MAGIC);
	POKE(sb, 2 << 20, SECRET);	/* SECRET at slot 0's input + 22 */
	ASSERT_EQ(0, callbox_sandbox_snapshot(sb));
	ASSERT_EQ(0, callbox_sandbox_restore(sb));
	EXPECT_EQ(0, PEEK(sb, io_in(sb, io_base, 0) + 22));
	EXPECT_EQ(0, PEEK(sb, io_out(sb, io_base, 0) + 0x800));

	ASSERT_EQ(0, callbox_sandbox_clone(sb, &child)) {
		TH_LOG("%s", callbox_sandbox_last_error(sb));
	}
	ASSERT_EQ(0, callbox_sandbox_restore(child));
	v = PEEK(child, io_in(child, io_base, 0) + 22);
	EXPECT_EQ(0, v) {
		TH_LOG("the clone, restored, reads the parent's request argument: %#" PRIx64,
		       (uint64_t)v);
	}
	v = PEEK(child, io_out(child, io_base, 0) + 0x800);
	EXPECT_EQ(0, v) {
		TH_LOG("the clone, restored, reads the parent's guest-written output: %#" PRIx64,
		       (uint64_t)v);
	}
	ASSERT_EQ(0, callbox_sandbox_restore(child));
	v = PEEK(child, io_in(child, io_base, 0) + 22);
	EXPECT_EQ(0, v) {
		TH_LOG("after a second restore too: %#" PRIx64, (uint64_t)v);
	}
	callbox_sandbox_free(sb);
	v = PEEK(child, io_in(child, io_base, 0) + 22);
	EXPECT_EQ(0, v) {
		TH_LOG("and after the parent is freed: %#" PRIx64, (uint64_t)v);
	}
	callbox_sandbox_free(child);
}

/*
 * The mailbox past the slots in use: a request wrote the chain link of a
 * batch (next_slot[]) and a slot past max_calls, and both reached the
 * next request, through fresh calls, restores and resets alike; only the
 * free slots below max_calls were zeroed.
 */
TEST_F_TIMEOUT(iso, mailbox_slots_and_links_are_put_back, 120)
{
	struct callbox_sandbox *sb = load_residue(_metadata,
						  CALLBOX_CONFIG_FRESH_CALLS);
	const int64_t link = CALLBOX_GPA_MAILBOX +
			     offsetof(struct callbox_mailbox, next_slot);
	const int64_t last_slot = CALLBOX_GPA_MAILBOX +
		offsetof(struct callbox_mailbox, slots[CALLBOX_MAX_SLOTS - 1]);
	const int64_t where[] = { link, link + 56, last_slot };
	unsigned int i;

	for (i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		ASSERT_EQ(0, PEEK(sb, where[i]));
		/* A fresh call, then a restore, then a reset. */
		POKE(sb, where[i], SECRET);
		EXPECT_EQ(0, PEEK(sb, where[i])) {
			TH_LOG("%#" PRIx64 " kept through a fresh call",
			       (uint64_t)where[i]);
		}
		POKE(sb, where[i], SECRET);
		ASSERT_EQ(0, callbox_sandbox_restore(sb));
		EXPECT_EQ(0, PEEK(sb, where[i])) {
			TH_LOG("%#" PRIx64 " kept through a restore",
			       (uint64_t)where[i]);
		}
		POKE(sb, where[i], SECRET);
		ASSERT_EQ(0, callbox_sandbox_reset(sb));
		EXPECT_EQ(0, PEEK(sb, where[i])) {
			TH_LOG("%#" PRIx64 " kept through a reset",
			       (uint64_t)where[i]);
		}
	}
	callbox_sandbox_free(sb);
}

/*
 * callbox_sandbox_reset(): "Until that init has succeeded, calls fail
 * with -ENOTRECOVERABLE." A reset that failed after memory was put back,
 * before the init (a vCPU ioctl failing in callbox_vm_boot_regs()), left
 * the sandbox ready and the kernel unpoisoned: the next call entered the
 * half-booted guest.
 */
TEST_F_TIMEOUT(iso, reset_fails_half_way, 120)
{
	struct callbox_sandbox *sb = load_residue(_metadata, 0);
	int64_t v;
	int ret;

	ASSERT_EQ(0, callbox_call_int(sb, "ok", NULL, 0, &v));
	inject(KVM_SET_REGS, 1);
	ret = callbox_sandbox_reset(sb);
	fail_req = 0;
	TH_LOG("reset with KVM_SET_REGS failing: %d (%s), hits %d", ret,
	       callbox_sandbox_last_error(sb), fail_hits);
	ASSERT_NE(0, ret);
	ret = callbox_call_int(sb, "ok", NULL, 0, &v);
	TH_LOG("next call: %d (%s) v=%" PRId64, ret,
	       callbox_sandbox_last_error(sb), v);
	EXPECT_EQ(-ENOTRECOVERABLE, ret);
	/* Recovers? */
	ASSERT_EQ(0, callbox_sandbox_reset(sb));
	ASSERT_EQ(0, callbox_call_int(sb, "ok", NULL, 0, &v));
	callbox_sandbox_free(sb);
}

/* A restore that fails half way, then one that succeeds: all back. */
TEST_F_TIMEOUT(iso, restore_fails_half_way, 120)
{
	struct callbox_sandbox *sb = load_residue(_metadata, 0), *child;
	int64_t args[2] = { MSR_STAR, 0x0013000800000000ll }, v, star;
	int ret;

	ASSERT_EQ(0, read_piece(sb, &pieces[0], &star));
	ASSERT_EQ(0, callbox_sandbox_clone(sb, &child));
	POKE(child, 2 << 20, SECRET);
	ASSERT_EQ(0, callbox_call_int(child, "write_msr", args, 2, &v));
	inject(KVM_SET_XSAVE, 1);
	ret = callbox_sandbox_restore(child);
	fail_req = 0;
	TH_LOG("restore with KVM_SET_XSAVE failing: %d (%s)", ret,
	       callbox_sandbox_last_error(child));
	EXPECT_NE(0, ret);
	EXPECT_EQ(-ENOTRECOVERABLE, callbox_call_int(child, "ok", NULL, 0, &v));
	ASSERT_EQ(0, callbox_sandbox_restore(child)) {
		TH_LOG("%s", callbox_sandbox_last_error(child));
	}
	EXPECT_EQ(0, PEEK(child, 2 << 20));
	ASSERT_EQ(0, read_piece(child, &pieces[0], &v));
	EXPECT_EQ(star, v);
	callbox_sandbox_free(child);
	callbox_sandbox_free(sb);
}

/* "On error the restore point stays as it was." */
TEST_F_TIMEOUT(iso, snapshot_fails_half_way, 120)
{
	struct callbox_sandbox *sb = load_residue(_metadata, 0);
	int ret;

	POKE(sb, 2 << 20, 1);
	ASSERT_EQ(0, callbox_sandbox_snapshot(sb));
	POKE(sb, 2 << 20, 2);
	POKE(sb, (2 << 20) + 0x1000, 2);
	inject(KVM_GET_XSAVE, 1);
	ret = callbox_sandbox_snapshot(sb);
	fail_req = 0;
	TH_LOG("snapshot with KVM_GET_XSAVE failing: %d (%s)", ret,
	       callbox_sandbox_last_error(sb));
	EXPECT_NE(0, ret);
	POKE(sb, 2 << 20, 3);
	ASSERT_EQ(0, callbox_sandbox_restore(sb));
	EXPECT_EQ(1, PEEK(sb, 2 << 20));
	EXPECT_EQ(0, PEEK(sb, (2 << 20) + 0x1000));
	/* And a snapshot after it takes everything. */
	POKE(sb, (2 << 20) + 0x1000, 4);
	ASSERT_EQ(0, callbox_sandbox_snapshot(sb));
	POKE(sb, (2 << 20) + 0x1000, 5);
	ASSERT_EQ(0, callbox_sandbox_restore(sb));
	EXPECT_EQ(4, PEEK(sb, (2 << 20) + 0x1000));
	callbox_sandbox_free(sb);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n++;
	if (d)
		closedir(d);
	return n;
}

/* A clone that fails half way leaves nothing behind; the next works. */
TEST_F_TIMEOUT(iso, clone_fails_half_way, 120)
{
	struct callbox_sandbox *sb = load_residue(_metadata, 0), *child;
	static const unsigned long reqs[] = {
		KVM_SET_XSAVE, KVM_CREATE_VCPU, KVM_SET_USER_MEMORY_REGION,
	};
	int before, ret;
	unsigned int i;
	int64_t v;

	ASSERT_EQ(0, callbox_sandbox_clone(sb, &child));
	callbox_sandbox_free(child);
	before = count_fds();
	for (i = 0; i < 3; i++) {
		inject(reqs[i], 1);
		ret = callbox_sandbox_clone(sb, &child);
		fail_req = 0;
		TH_LOG("clone with ioctl %#lx failing: %d (%s), child %p",
		       reqs[i], ret, callbox_sandbox_last_error(sb),
		       (void *)child);
		EXPECT_NE(0, ret);
		EXPECT_EQ(NULL, child);
		EXPECT_EQ(before, count_fds());
	}
	ASSERT_EQ(0, callbox_sandbox_clone(sb, &child));
	ASSERT_EQ(0, callbox_call_int(child, "ok", NULL, 0, &v));
	callbox_sandbox_free(child);
	EXPECT_EQ(before, count_fds());
	ASSERT_EQ(0, callbox_call_int(sb, "ok", NULL, 0, &v));
	callbox_sandbox_free(sb);
}

/*
 * The same half-way reset, then callbox_sandbox_snapshot():
 * "-ENOTRECOVERABLE if ... its last init failed". It made the half-booted
 * guest the restore point; now it is refused, and a restore to the old
 * one brings the sandbox back.
 */
TEST_F_TIMEOUT(iso, snapshot_after_half_way_reset, 120)
{
	struct callbox_sandbox *sb = load_residue(_metadata, 0);
	int64_t v;
	int ret;

	inject(KVM_SET_REGS, 1);
	ret = callbox_sandbox_reset(sb);
	fail_req = 0;
	ASSERT_NE(0, ret);
	ret = callbox_sandbox_snapshot(sb);
	TH_LOG("snapshot after the failed reset: %d (%s)", ret,
	       callbox_sandbox_last_error(sb));
	EXPECT_EQ(-ENOTRECOVERABLE, ret);
	ret = callbox_sandbox_restore(sb);
	TH_LOG("restore: %d", ret);
	ret = callbox_call_int(sb, "ok", NULL, 0, &v);
	TH_LOG("call after restoring to it: %d (%s)", ret,
	       callbox_sandbox_last_error(sb));
	EXPECT_EQ(0, ret);
	callbox_sandbox_free(sb);
}

static int fail_with_secret(struct callbox_sandbox *sb,
			    const struct callbox_wire_value *args,
			    struct callbox_wire_writer *result, void *opaque)
{
	(void)args;
	(void)result;
	(void)opaque;
	return callbox_host_fn_fail(sb, -EDOM, "SECRET-OF-REQUEST-A");
}

/*
 * What the mailbox holds of the last call (here a host call's error
 * message) went into a snapshot, so into clones, files and every fresh
 * call after it (a third hostile review). "The requests and results of
 * calls are never part of a restore point." (What the guest itself keeps
 * in its memory is the guest's state, and is.)
 */
TEST_F_TIMEOUT(iso, host_call_message_stays_out_of_snapshots, 120)
{
	const int64_t at = CALLBOX_GPA_MAILBOX +
			   offsetof(struct callbox_mailbox, hostcall) +
			   offsetof(struct callbox_hostcall, message);
	struct callbox_sandbox *sb, *child;
	struct callbox_config cfg;
	int64_t v;

	residue_config(&cfg);
	sb = sandbox_new(&cfg);
	ASSERT_EQ(0, callbox_sandbox_add_host_fn(sb, "wait", "i64()",
						 fail_with_secret, NULL));
	load_into(sb, "residue");
	ASSERT_EQ(0, callbox_call_int(sb, "host_wait", NULL, 0, &v));
	EXPECT_EQ(-EDOM, v);
	EXPECT_NE(0, PEEK(sb, at));
	ASSERT_EQ(0, callbox_sandbox_snapshot(sb));
	ASSERT_EQ(0, callbox_sandbox_restore(sb));
	EXPECT_EQ(0, PEEK(sb, at));
	ASSERT_EQ(0, callbox_sandbox_clone(sb, &child));
	EXPECT_EQ(0, PEEK(child, at));
	callbox_sandbox_free(child);

	/* A file, loaded: the guest's own memory, not the mailbox's call. */
	ASSERT_EQ(0, callbox_sandbox_save(sb, "/tmp/isolation_test.cbsnap"));
	child = sandbox_new(&cfg);
	ASSERT_EQ(0, callbox_sandbox_load_snapshot(child,
						   "/tmp/isolation_test.cbsnap"));
	EXPECT_EQ(0, PEEK(child, at));
	callbox_sandbox_free(child);
	unlink("/tmp/isolation_test.cbsnap");
	callbox_sandbox_free(sb);
}

TEST_HARNESS_MAIN
