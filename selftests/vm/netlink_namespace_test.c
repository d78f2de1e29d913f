// SPDX-License-Identifier: GPL-2.0
/*
 * Who sees what through the "callbox" netlink family from other
 * namespaces. Pids and uids are shown as the reader's namespaces see
 * them: a reader in a pid namespace of its own, and one in a user
 * namespace that maps its uid 0 to 65534, see them so. The family is not
 * in other network namespaces (netnsok is false): sandboxes are not per
 * network.
 *
 * The fixture, and the child that drops to another user, are in
 * nl_perm_util.h; what another uid sees is netlink_perm_test's concern.
 */
#include "nl_perm_util.h"

/* ==== namespaces ==== */

/*
 * A reader in a pid namespace of its own (pid 1 there): root's sandbox
 * has an owner it cannot see (OWNER_PID 0), and a runner it cannot see
 * (no RUNNER_TID); its own sandbox's owner is pid 1.
 */
struct pidns_arg {
	uint64_t spinning_id;	/* root's sandbox, its call 1 running */
};

static struct pidns_arg pidns;

static void child_in_pidns(struct __test_metadata *_metadata,
			   FIXTURE_DATA(perm) *self)
{
	struct callbox_call_info ci;
	struct cbnl_sandbox *sb;
	struct box b;
	struct cbnl nl;
	uint64_t id;
	char go;

	ASSERT_EQ(1, getpid());
	cbnl_open_ok(&nl);
	sb = cbnl_get_ok(&nl, pidns.spinning_id);
	EXPECT_TRUE(CBNL_HAS(sb, CALLBOX_NL_A_SANDBOX_OWNER_PID));
	EXPECT_EQ(0, sb->owner_pid);
	EXPECT_EQ(0, sb->owner_uid);
	EXPECT_EQ(CALLBOX_NL_SANDBOX_RUNNING, sb->state);
	ASSERT_EQ(1, sb->nr_live);
	EXPECT_EQ(CALLBOX_STATE_ENTERED, sb->live[0].state);
	EXPECT_FALSE(CBNL_HAS(&sb->live[0], CALLBOX_NL_A_CALL_RUNNER_TID)) {
		TH_LOG("RUNNER_TID %u, of a thread this namespace cannot see",
		       sb->live[0].runner_tid);
	}
	free(sb);

	box_open(_metadata, &b, raw_guest_counter, sizeof(raw_guest_counter),
		 true);
	ASSERT_FALSE(_metadata->skip);
	id = cbnl_sandbox_id(b.fd);
	call_sync(b.fd, 0, &ci);
	sb = cbnl_get_ok(&nl, id);
	EXPECT_EQ(1, sb->owner_pid);
	free(sb);
	ASSERT_EQ(sizeof(id), write(self->from_child[1], &id, sizeof(id)));
	ASSERT_EQ(1, read(self->to_child[0], &go, 1));
	cbnl_close(&nl);
	box_close(&b);
}

TEST_F_TIMEOUT(perm, pid_namespace, 60)
{
	struct cbnl_runner runner = { .fd = -1 };
	struct cbnl_sandbox *sb;
	struct box spin;
	uint64_t id;
	pid_t pid;

	return_if_setup_skipped();
	box_open(_metadata, &spin, guest_script, sizeof(guest_script), true);
	pidns.spinning_id = cbnl_sandbox_id(spin.fd);
	ASSERT_NE(0, pidns.spinning_id);
	script_set(spin.guest.mem, SCRIPT_SPIN);
	runner.fd = spin.fd;
	cbnl_runner_start(&runner);
	ASSERT_TRUE(WAIT_FOR(script_spinning(spin.guest.mem)));
	ASSERT_TRUE(wait_for_state(spin.fd, 1, CALLBOX_STATE_ENTERED));

	/* Root, out here, sees the runner. */
	sb = cbnl_get_ok(&self->nl, pidns.spinning_id);
	ASSERT_EQ(1, sb->nr_live);
	EXPECT_EQ((uint32_t)atomic_load(&runner.tid), sb->live[0].runner_tid);
	EXPECT_EQ((uint32_t)getpid(), sb->owner_pid);
	free(sb);

	ASSERT_EQ(0, unshare(CLONE_NEWPID));
	pid = child_start(_metadata, self, 0, 0, child_in_pidns);
	ASSERT_EQ(sizeof(id), read(self->from_child[0], &id, sizeof(id)));
	sb = cbnl_get_ok(&self->nl, id);
	EXPECT_EQ((uint32_t)pid, sb->owner_pid);
	free(sb);
	ASSERT_EQ(1, write(self->to_child[1], "g", 1));
	child_wait(_metadata, pid);

	call_cancel(spin.fd, 1);
	EXPECT_TRUE(cbnl_runner_join(&runner, 10000));
	box_close(&spin);
}

/*
 * A reader in a user namespace whose uid 0 is 65534 outside: it is
 * 65534, no admin, and sees uids as its namespace maps them.
 */
static void child_in_userns(struct __test_metadata *_metadata,
			    FIXTURE_DATA(perm) *self)
{
	struct cbnl_sandbox *sb = calloc(1, sizeof(*sb));
	struct callbox_call_info ci;
	struct cbnl_events es;
	struct cbnl_reply r;
	struct box b;
	struct cbnl nl;
	uint64_t id;
	char c;

	ASSERT_NE(NULL, sb);
	ASSERT_EQ(0, unshare(CLONE_NEWUSER));
	ASSERT_EQ(1, write(self->from_child[1], "u", 1));
	ASSERT_EQ(1, read(self->to_child[0], &c, 1));
	/* Now mapped: become the namespace's root, 65534 outside. */
	ASSERT_EQ(0, setresgid(0, 0, 0));
	ASSERT_EQ(0, setgroups(0, NULL));
	ASSERT_EQ(0, setresuid(0, 0, 0));

	cbnl_open_ok(&nl);
	EXPECT_EQ(-ENOENT, cbnl_get(&nl, self->root_id, sb, &r));
	EXPECT_STREQ("no such sandbox", r.msg);
	EXPECT_EQ(-EPERM, cbnl_events_open(&es, 0));

	box_open(_metadata, &b, raw_guest_counter, sizeof(raw_guest_counter),
		 true);
	ASSERT_FALSE(_metadata->skip);
	id = cbnl_sandbox_id(b.fd);
	call_sync(b.fd, 0, &ci);
	free(sb);
	sb = cbnl_get_ok(&nl, id);
	expect_child_sandbox(_metadata, sb, id, getpid(), 0);
	free(sb);
	ASSERT_EQ(sizeof(id), write(self->from_child[1], &id, sizeof(id)));
	ASSERT_EQ(1, read(self->to_child[0], &c, 1));
	cbnl_close(&nl);
	box_close(&b);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

TEST_F_TIMEOUT(perm, user_namespace, 60)
{
	struct cbnl_sandbox *sb;
	char path[64], c;
	uint64_t id;
	pid_t pid;

	return_if_setup_skipped();
	pid = child_start(_metadata, self, 0, 0, child_in_userns);
	ASSERT_EQ(1, read(self->from_child[0], &c, 1));
	snprintf(path, sizeof(path), "/proc/%d/uid_map", pid);
	ASSERT_EQ(0, write_file(path, "0 65534 1\n"));
	snprintf(path, sizeof(path), "/proc/%d/gid_map", pid);
	ASSERT_EQ(0, write_file(path, "0 65534 1\n"));
	ASSERT_EQ(1, write(self->to_child[1], "g", 1));

	ASSERT_EQ(sizeof(id), read(self->from_child[0], &id, sizeof(id)));
	sb = cbnl_get_ok(&self->nl, id);
	expect_child_sandbox(_metadata, sb, id, pid, NOBODY);
	free(sb);
	ASSERT_EQ(1, write(self->to_child[1], "g", 1));
	child_wait(_metadata, pid);
}

/* Another network namespace has no callbox family. */
static void child_in_netns(struct __test_metadata *_metadata,
			   FIXTURE_DATA(perm) *self)
{
	struct cbnl nl;

	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	EXPECT_EQ(-ENOENT, cbnl_open(&nl));
}

TEST_F(perm, other_net_namespace)
{
	return_if_setup_skipped();
	child_wait(_metadata, child_start(_metadata, self, 0, 0,
					  child_in_netns));
}

TEST_HARNESS_MAIN
