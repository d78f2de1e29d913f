/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the suites of who sees what through the "callbox" netlink family
 * share (netlink_perm_test, netlink_namespace_test): their fixture, with
 * root's sandbox and root's socket, a child that drops to another user
 * and reports whether its checks passed, and what a child shows of a
 * sandbox it made.
 *
 * The other user is a child that drops to uid and gid 65534 (nobody).
 * It runs guests too: the test VM's devtmpfs makes /dev/kvm 0600, so the
 * fixture opens it to everyone for the test's duration.
 */
#ifndef CALLBOX_NL_PERM_UTIL_H
#define CALLBOX_NL_PERM_UTIL_H

#include <grp.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "nl_sandbox_util.h"
#include "nl_events_util.h"

#define NOBODY	65534
#define BIT_OF(a)	(1u << (a))

FIXTURE(perm) {
	pid_t test_pid;		/* teardown runs in this process only */
	struct box b;		/* root's sandbox */
	uint64_t root_id;
	struct cbnl nl;
	bool kvm_opened;
	mode_t kvm_mode;
	int to_child[2], from_child[2];
};

FIXTURE_SETUP(perm)
{
	struct stat st;

	self->test_pid = getpid();
	self->nl.sk = NULL;
	self->kvm_opened = false;
	self->to_child[0] = self->to_child[1] = -1;
	self->from_child[0] = self->from_child[1] = -1;
	if (geteuid())
		SKIP(return, "needs root");
	box_open(_metadata, &self->b, raw_guest_counter,
		 sizeof(raw_guest_counter), true);
	return_if_setup_skipped();
	self->root_id = cbnl_sandbox_id(self->b.fd);
	ASSERT_NE(0, self->root_id);
	cbnl_open_ok(&self->nl);

	ASSERT_EQ(0, stat("/dev/kvm", &st));
	if ((st.st_mode & 0006) != 0006) {
		self->kvm_mode = st.st_mode & 07777;
		ASSERT_EQ(0, chmod("/dev/kvm", 0666));
		self->kvm_opened = true;
	}
	ASSERT_EQ(0, pipe(self->to_child));
	ASSERT_EQ(0, pipe(self->from_child));
}

FIXTURE_TEARDOWN(perm)
{
	/* A child whose ASSERT failed ends up here too: leave it all. */
	if (getpid() != self->test_pid)
		return;
	if (self->kvm_opened)
		chmod("/dev/kvm", self->kvm_mode);
	cbnl_close(&self->nl);
	box_close(&self->b);
	close(self->to_child[0]);
	close(self->to_child[1]);
	close(self->from_child[0]);
	close(self->from_child[1]);
}

/*
 * Fork a child with real uid @ruid, effective and saved uid @euid, and
 * gid NOBODY, no supplementary groups, which runs @fn and exits 0 if
 * every check passed.
 */
typedef void (*child_fn)(struct __test_metadata *_metadata,
			 FIXTURE_DATA(perm) *self);

static inline pid_t child_start(struct __test_metadata *_metadata,
				FIXTURE_DATA(perm) *self, uid_t ruid,
				uid_t euid, child_fn fn)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(ruid, euid, euid)) {
		TH_LOG("dropping privileges: %s", strerror(errno));
		_exit(2);
	}
	fn(_metadata, self);
	_exit(_metadata->passed ? 0 : 1);
}

static inline void child_wait(struct __test_metadata *_metadata, pid_t pid)
{
	int status;

	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status)) {
		TH_LOG("the child failed: status 0x%x", status);
	}
}

/* What a child shows of a sandbox it made and ran one call on. */
static inline void expect_child_sandbox(struct __test_metadata *_metadata,
					const struct cbnl_sandbox *sb,
					uint64_t id, pid_t pid, uid_t uid)
{
	uint32_t states[] = { CALLBOX_STATE_QUEUED, CALLBOX_STATE_ENTERED,
			      CALLBOX_STATE_EXITED };
	const struct cbnl_call *c = &sb->recent[0];
	uint32_t i;

	EXPECT_EQ(CBNL_SANDBOX_ALWAYS |
		  BIT_OF(CALLBOX_NL_A_SANDBOX_RECENT_CALL), sb->present);
	EXPECT_EQ(id, sb->id);
	EXPECT_EQ((uint32_t)pid, sb->owner_pid);
	EXPECT_EQ(uid, sb->owner_uid);
	EXPECT_EQ(CALLBOX_NL_SANDBOX_IDLE, sb->state);
	EXPECT_EQ(1, sb->calls);
	EXPECT_EQ(1, sb->exited);
	EXPECT_EQ(0, sb->aborted);
	EXPECT_LT(0, sb->age_ns);
	EXPECT_EQ(0, sb->nr_live);
	ASSERT_EQ(1, sb->nr_recent);
	EXPECT_EQ(CBNL_CALL_ALWAYS | BIT_OF(CALLBOX_NL_A_CALL_TRANSITION),
		  c->present);
	EXPECT_EQ(1, c->id);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c->state);
	EXPECT_EQ(CALLBOX_ABORT_NONE, c->reason);
	EXPECT_EQ(CALLBOX_CALL_GUEST_RAN, c->flags);
	EXPECT_EQ(3, c->transitions);
	ASSERT_EQ(3, c->nr_trans);
	for (i = 0; i < 3; i++)
		EXPECT_EQ(states[i], c->trans[i].state);
}

#endif /* CALLBOX_NL_PERM_UTIL_H */
