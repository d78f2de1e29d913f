// SPDX-License-Identifier: GPL-2.0
/*
 * Who sees what through the "callbox" netlink family: a user without
 * CAP_SYS_ADMIN sees only the sandboxes its uid owns, and a sandbox it
 * may not see gets the very answer of one that does not exist; root sees
 * them all; only CAP_SYS_ADMIN may join the "events" group.
 *
 * The fixture, and the child that drops to another user, are in
 * nl_perm_util.h; readers in other namespaces are netlink_namespace_test's
 * concern.
 */
#include "nl_perm_util.h"

/* The two replies are the same refusal, to the byte that is shown. */
static void expect_same_refusal(struct __test_metadata *_metadata,
				const struct cbnl_reply *a,
				const struct cbnl_reply *b)
{
	EXPECT_EQ(a->error, b->error);
	EXPECT_EQ(a->has_msg, b->has_msg);
	EXPECT_STREQ(a->msg, b->msg);
	EXPECT_EQ(a->has_offs, b->has_offs);
	EXPECT_EQ(a->offs, b->offs);
	EXPECT_EQ(a->has_miss_type, b->has_miss_type);
	EXPECT_EQ(a->nr_msgs, b->nr_msgs);
}

/* ==== another uid sees none of root's sandboxes ==== */

static void child_looks_at_root(struct __test_metadata *_metadata,
				FIXTURE_DATA(perm) *self)
{
	struct cbnl_sandbox *sb = calloc(1, sizeof(*sb));
	struct cbnl_reply mine, absent;
	struct cbnl_dump d = { 0 };
	struct cbnl nl;
	uint32_t i;
	int ret;

	ASSERT_NE(NULL, sb);
	/* Its own socket: a socket keeps its opener's credentials. */
	cbnl_open_ok(&nl);

	ret = cbnl_dump(&nl, &d);
	ASSERT_EQ(0, ret) {
		TH_LOG("dump as uid %d: %s (%s)", NOBODY, strerror(-ret),
		       d.r.msg);
	}
	EXPECT_STREQ("", d.r.bad);
	for (i = 0; i < d.nr; i++) {
		EXPECT_EQ(NOBODY, d.sb[i].owner_uid) {
			TH_LOG("uid %d sees sandbox %llu of uid %u", NOBODY,
			       (unsigned long long)d.sb[i].id,
			       d.sb[i].owner_uid);
		}
		EXPECT_NE(self->root_id, d.sb[i].id);
	}
	cbnl_dump_free(&d);

	/* Root's sandbox, and an id that was never given. */
	ret = cbnl_get(&nl, self->root_id, sb, &mine);
	EXPECT_EQ(-ENOENT, ret);
	EXPECT_STREQ("no such sandbox", mine.msg);
	EXPECT_TRUE(mine.has_offs);
	EXPECT_EQ(CBNL_FIRST_ATTR_OFFS, mine.offs);
	ret = cbnl_get(&nl, self->root_id + 1000000, sb, &absent);
	EXPECT_EQ(-ENOENT, ret);
	expect_same_refusal(_metadata, &mine, &absent);
	cbnl_close(&nl);
	free(sb);
}

TEST_F(perm, other_uid_sees_nothing_of_root)
{
	struct cbnl_sandbox *sb;

	return_if_setup_skipped();
	child_wait(_metadata, child_start(_metadata, self, NOBODY, NOBODY,
					  child_looks_at_root));
	/* Root still sees its own. */
	sb = cbnl_get_ok(&self->nl, self->root_id);
	EXPECT_EQ(0, sb->owner_uid);
	free(sb);
}

/* ==== a sandbox of uid 65534: itself and root see it, whole ==== */

static void child_makes_one(struct __test_metadata *_metadata,
			    FIXTURE_DATA(perm) *self)
{
	struct callbox_call_info ci;
	struct cbnl_dump d = { 0 };
	struct cbnl_sandbox_head *h;
	struct cbnl_sandbox *sb;
	struct box b;
	struct cbnl nl;
	uint64_t id;
	uint32_t i;
	char go;
	int n;

	box_open(_metadata, &b, raw_guest_counter, sizeof(raw_guest_counter),
		 true);
	ASSERT_FALSE(_metadata->skip);
	id = cbnl_sandbox_id(b.fd);
	ASSERT_NE(0, id);
	call_sync(b.fd, 0, &ci);
	ASSERT_EQ(CALLBOX_STATE_EXITED, ci.state);
	cbnl_open_ok(&nl);

	sb = cbnl_get_ok(&nl, id);
	expect_child_sandbox(_metadata, sb, id, getpid(), NOBODY);
	free(sb);

	ASSERT_EQ(0, cbnl_dump(&nl, &d));
	EXPECT_STREQ("", d.r.bad);
	h = cbnl_dump_find(&d, id, &n);
	EXPECT_EQ(1, n);
	if (h) {
		EXPECT_EQ(NOBODY, h->owner_uid);
		EXPECT_EQ((uint32_t)getpid(), h->owner_pid);
	}
	for (i = 0; i < d.nr; i++)
		EXPECT_EQ(NOBODY, d.sb[i].owner_uid);
	cbnl_dump_free(&d);

	/* Root looks now; keep the sandbox until it has. */
	ASSERT_EQ(sizeof(id), write(self->from_child[1], &id, sizeof(id)));
	ASSERT_EQ(1, read(self->to_child[0], &go, 1));
	cbnl_close(&nl);
	box_close(&b);
}

TEST_F_TIMEOUT(perm, own_sandbox_seen_by_itself_and_root, 60)
{
	struct cbnl_dump d = { 0 };
	struct cbnl_sandbox *sb;
	uint64_t id;
	pid_t pid;
	int n;

	return_if_setup_skipped();
	pid = child_start(_metadata, self, NOBODY, NOBODY, child_makes_one);
	ASSERT_EQ(sizeof(id), read(self->from_child[0], &id, sizeof(id)));

	sb = cbnl_get_ok(&self->nl, id);
	expect_child_sandbox(_metadata, sb, id, pid, NOBODY);
	free(sb);
	ASSERT_EQ(0, cbnl_dump(&self->nl, &d));
	EXPECT_STREQ("", d.r.bad);
	cbnl_dump_find(&d, id, &n);
	EXPECT_EQ(1, n);
	cbnl_dump_find(&d, self->root_id, &n);
	EXPECT_EQ(1, n);
	cbnl_dump_free(&d);

	ASSERT_EQ(1, write(self->to_child[1], "g", 1));
	child_wait(_metadata, pid);
}

/*
 * A process whose real and effective uids differ (a setuid program): its
 * sandbox is owned by its effective uid (spec: "the creator's effective
 * uid"), and it sees the sandboxes of that uid, its own first.
 */
static void child_setuid_makes_one(struct __test_metadata *_metadata,
				   FIXTURE_DATA(perm) *self)
{
	struct cbnl_sandbox *sb = calloc(1, sizeof(*sb));
	struct callbox_call_info ci;
	struct cbnl_dump d = { 0 };
	struct cbnl_reply r;
	struct box b;
	struct cbnl nl;
	uint64_t id;
	int n, ret;

	ASSERT_NE(NULL, sb);
	ASSERT_EQ(NOBODY - 1, getuid());
	ASSERT_EQ(NOBODY, geteuid());
	box_open(_metadata, &b, raw_guest_counter, sizeof(raw_guest_counter),
		 true);
	ASSERT_FALSE(_metadata->skip);
	id = cbnl_sandbox_id(b.fd);
	ASSERT_NE(0, id);
	call_sync(b.fd, 0, &ci);
	cbnl_open_ok(&nl);

	ret = cbnl_get(&nl, id, sb, &r);
	EXPECT_EQ(0, ret) {
		TH_LOG("uid %d/%d cannot GET its own sandbox: %s (%s)",
		       NOBODY - 1, NOBODY, strerror(-ret), r.msg);
	}
	if (!ret)
		expect_child_sandbox(_metadata, sb, id, getpid(), NOBODY);
	ASSERT_EQ(0, cbnl_dump(&nl, &d));
	cbnl_dump_find(&d, id, &n);
	EXPECT_EQ(1, n) {
		TH_LOG("uid %d/%d does not dump its own sandbox", NOBODY - 1,
		       NOBODY);
	}
	cbnl_dump_free(&d);
	cbnl_close(&nl);
	box_close(&b);
	free(sb);
}

TEST_F_TIMEOUT(perm, setuid_process_sees_own_sandbox, 60)
{
	return_if_setup_skipped();
	child_wait(_metadata, child_start(_metadata, self, NOBODY - 1, NOBODY,
					  child_setuid_makes_one));
}

/* ==== the events group: CAP_SYS_ADMIN only ==== */

/* Join the group with a plain setsockopt: 0 or -errno. */
static int raw_join(int grp)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp,
		       sizeof(grp)))
		ret = -errno;
	close(fd);
	return ret;
}

static int events_group(struct cbnl *nl)
{
	return genl_ctrl_resolve_grp(nl->sk, CALLBOX_NL_FAMILY_NAME,
				     CALLBOX_NL_MCGRP_EVENTS);
}

static void child_joins_events(struct __test_metadata *_metadata,
			       FIXTURE_DATA(perm) *self)
{
	struct cbnl_events es;
	struct cbnl nl;
	int grp;

	cbnl_open_ok(&nl);
	/* The group is there for all to see ... */
	grp = events_group(&nl);
	ASSERT_LT(0, grp);
	cbnl_close(&nl);
	/* ... but not to join. */
	EXPECT_EQ(-EPERM, cbnl_events_open(&es, 0));
	EXPECT_EQ(-EPERM, raw_join(grp));
}

TEST_F(perm, events_need_cap_sys_admin)
{
	struct cbnl_events es;
	int grp;

	return_if_setup_skipped();
	child_wait(_metadata, child_start(_metadata, self, NOBODY, NOBODY,
					  child_joins_events));
	grp = events_group(&self->nl);
	ASSERT_LT(0, grp);
	EXPECT_EQ(0, raw_join(grp));
	ASSERT_EQ(0, cbnl_events_open(&es, 0));
	cbnl_events_close(&es);
}

/* Root hears of the other uid's sandbox, with that uid. */
static void child_runs_one_call(struct __test_metadata *_metadata,
				FIXTURE_DATA(perm) *self)
{
	struct callbox_call_info ci;
	struct box b;
	uint64_t id;

	box_open(_metadata, &b, raw_guest_counter, sizeof(raw_guest_counter),
		 true);
	ASSERT_FALSE(_metadata->skip);
	id = cbnl_sandbox_id(b.fd);
	ASSERT_NE(0, id);
	call_sync(b.fd, 0, &ci);
	ASSERT_EQ(CALLBOX_STATE_EXITED, ci.state);
	ASSERT_EQ(sizeof(id), write(self->from_child[1], &id, sizeof(id)));
	box_close(&b);
}

TEST_F_TIMEOUT(perm, events_carry_the_owner_uid, 60)
{
	static const struct {
		uint32_t type, from, to, flags;
	} want[] = {
		{ CALLBOX_NL_EVENT_SANDBOX_CREATE, 0, 0, 0 },
		{ CALLBOX_NL_EVENT_CALL_TRANSITION, 0, CALLBOX_STATE_QUEUED, 0 },
		{ CALLBOX_NL_EVENT_CALL_TRANSITION, CALLBOX_STATE_QUEUED,
		  CALLBOX_STATE_ENTERED, 0 },
		{ CALLBOX_NL_EVENT_CALL_TRANSITION, CALLBOX_STATE_ENTERED,
		  CALLBOX_STATE_EXITED, CALLBOX_CALL_GUEST_RAN },
		{ CALLBOX_NL_EVENT_SANDBOX_SHUTDOWN, 0, 0, 0 },
	};
	struct cbnl_events es;
	uint32_t i, k = 0;
	uint64_t id;
	pid_t pid;
	int ret;

	return_if_setup_skipped();
	ASSERT_EQ(0, cbnl_events_open(&es, 1 << 20));
	pid = child_start(_metadata, self, NOBODY, NOBODY,
			  child_runs_one_call);
	ASSERT_EQ(sizeof(id), read(self->from_child[0], &id, sizeof(id)));
	child_wait(_metadata, pid);
	/* Sent by a work item shortly after: wait for them, with a bound. */
	for (i = 0; i < 50; i++) {
		uint32_t n = 0, j;

		ret = cbnl_events_read(&es, 200, NULL, NULL);
		ASSERT_LE(0, ret);
		for (j = 0; j < es.nr; j++)
			n += es.ev[j].sandbox_id == id;
		if (n >= 5)
			break;
	}
	EXPECT_STREQ("", es.r.bad);
	for (i = 0; i < es.nr; i++) {
		const struct cbnl_event *e = &es.ev[i];

		EXPECT_NE(CALLBOX_NL_EVENT_LOST, e->type);
		if (e->sandbox_id != id)
			continue;
		ASSERT_GT(5, k);
		EXPECT_EQ(want[k].type, e->type);
		EXPECT_EQ(NOBODY, e->owner_uid);
		if (e->type == CALLBOX_NL_EVENT_CALL_TRANSITION) {
			EXPECT_EQ(1, e->call_id);
			EXPECT_EQ(want[k].from, e->from);
			EXPECT_EQ(want[k].to, e->to);
			EXPECT_EQ(want[k].flags, e->flags);
		}
		k++;
	}
	EXPECT_EQ(5, k);
	cbnl_events_close(&es);
}

TEST_HARNESS_MAIN
