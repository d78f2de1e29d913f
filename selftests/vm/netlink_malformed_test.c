// SPDX-License-Identifier: GPL-2.0
/*
 * The "callbox" generic netlink family, through libnl-genl-3: a malformed
 * request (an id missing, of the wrong length or zero, an attribute the
 * request does not take, a sandbox that is not there or gone, a dump
 * with attributes) gets an errno and an extack message pointing at the
 * attribute, and leaves the socket usable. A command the family does not
 * have gets EOPNOTSUPP from the generic netlink core, which sets no
 * message.
 */
#include "nl_sandbox_util.h"

/* A sandbox of the scripted guest, and a socket to ask about it. */
FIXTURE(request) {
	struct box b;
	struct cbnl nl;
	uint64_t id;
};

FIXTURE_SETUP(request)
{
	self->nl.sk = NULL;
	box_open(_metadata, &self->b, guest_script, sizeof(guest_script),
		 true);
	return_if_setup_skipped();
	self->id = cbnl_sandbox_id(self->b.fd);
	ASSERT_NE(0, self->id);
	cbnl_open_ok(&self->nl);
}

FIXTURE_TEARDOWN(request)
{
	cbnl_close(&self->nl);
	box_close(&self->b);
}

/* Send @msg and read the verdict into @r; the kernel's -errno. */
static int send_raw(struct cbnl *nl, struct nl_msg *msg, struct cbnl_reply *r)
{
	return cbnl_transact(nl, msg, NULL, NULL, r);
}

#define new_msg(nl, dump)						\
	({								\
		struct nl_msg *__m = cbnl_get_msg(nl, dump);		\
		ASSERT_NE(NULL, __m);					\
		__m;							\
	})

/*
 * The verdict in @r is @err with extack message @text, pointing at the
 * attribute at @at (0: no offset), and no family message came.
 */
#define expect_refused(r, ret, err, text, at)				\
	do {								\
		EXPECT_EQ(-(err), ret) {				\
			TH_LOG("got %s (%s)", strerror(-(ret)), (r)->msg); \
		}							\
		EXPECT_STREQ("", (r)->bad);				\
		EXPECT_TRUE((r)->has_msg);				\
		EXPECT_STREQ(text, (r)->msg);				\
		EXPECT_EQ(!!(at), (r)->has_offs);			\
		if (at)						\
			EXPECT_EQ((uint32_t)(at), (r)->offs);		\
		EXPECT_EQ(0, (r)->nr_msgs);				\
	} while (0)

/* After a refusal the socket still works: nothing was left unread. */
#define expect_socket_sane(self)					\
	do {								\
		struct cbnl_sandbox *__s = cbnl_get_ok(&(self)->nl, (self)->id); \
		EXPECT_EQ((self)->id, __s->id);				\
		free(__s);						\
	} while (0)

TEST_F(request, missing_id)
{
	struct cbnl_reply r;
	int ret;

	return_if_setup_skipped();
	ret = send_raw(&self->nl, new_msg(&self->nl, false), &r);
	expect_refused(&r, ret, EINVAL, "missing attribute", 0);
	EXPECT_TRUE(r.has_miss_type);
	EXPECT_EQ(CALLBOX_NL_A_SANDBOX_ID, r.miss_type);
	expect_socket_sane(self);
}

/* An attribute beyond the set's last: rejected, not ignored. */
TEST_F(request, unknown_attribute)
{
	struct nl_msg *m;
	struct cbnl_reply r;
	int ret;

	return_if_setup_skipped();
	m = new_msg(&self->nl, false);
	ASSERT_EQ(0, nla_put_u64(m, CALLBOX_NL_A_SANDBOX_ID, self->id));
	ASSERT_EQ(0, nla_put_u64(m, CALLBOX_NL_A_SANDBOX_MAX + 1, 1));
	ret = send_raw(&self->nl, m, &r);
	expect_refused(&r, ret, EINVAL, "Unknown attribute type",
		       CBNL_FIRST_ATTR_OFFS + nla_total_size(8));
	expect_socket_sane(self);
}

/* An attribute of the set that the request does not take. */
TEST_F(request, reply_only_attribute)
{
	struct nl_msg *m;
	struct cbnl_reply r;
	int ret;

	return_if_setup_skipped();
	m = new_msg(&self->nl, false);
	ASSERT_EQ(0, nla_put_u64(m, CALLBOX_NL_A_SANDBOX_ID, self->id));
	ASSERT_EQ(0, nla_put_u32(m, CALLBOX_NL_A_SANDBOX_OWNER_UID, 0));
	ret = send_raw(&self->nl, m, &r);
	expect_refused(&r, ret, EINVAL, "Unsupported attribute",
		       CBNL_FIRST_ATTR_OFFS + nla_total_size(8));
	expect_socket_sane(self);
}

/* The id as a u32 (and as a u16, and empty): the wrong length. */
TEST_F(request, id_of_wrong_length)
{
	struct nl_msg *m;
	struct cbnl_reply r;
	int ret, i;

	return_if_setup_skipped();
	for (i = 0; i < 3; i++) {
		m = new_msg(&self->nl, false);
		if (i == 0)
			ret = nla_put_u32(m, CALLBOX_NL_A_SANDBOX_ID, self->id);
		else if (i == 1)
			ret = nla_put_u16(m, CALLBOX_NL_A_SANDBOX_ID, self->id);
		else
			ret = nla_put_flag(m, CALLBOX_NL_A_SANDBOX_ID);
		ASSERT_EQ(0, ret);
		ret = send_raw(&self->nl, m, &r);
		expect_refused(&r, ret, EINVAL, "invalid attribute length",
			       CBNL_FIRST_ATTR_OFFS);
	}
	expect_socket_sane(self);
}

/* Ids start at 1 (spec: checks: min: 1). */
TEST_F(request, id_zero)
{
	struct nl_msg *m;
	struct cbnl_reply r;
	int ret;

	return_if_setup_skipped();
	m = new_msg(&self->nl, false);
	ASSERT_EQ(0, nla_put_u64(m, CALLBOX_NL_A_SANDBOX_ID, 0));
	ret = send_raw(&self->nl, m, &r);
	expect_refused(&r, ret, ERANGE, "integer out of range",
		       CBNL_FIRST_ATTR_OFFS);
	expect_socket_sane(self);
}

/* Ids that name no sandbox: U64_MAX, and the next ones to be given. */
TEST_F(request, no_such_sandbox)
{
	uint64_t ids[] = { UINT64_MAX, UINT64_MAX - 1, (uint64_t)1 << 63,
			   0 /* self->id + 1000, below */ };
	struct cbnl_sandbox *sb = calloc(1, sizeof(*sb));
	struct cbnl_reply r;
	unsigned int i;
	int ret;

	return_if_setup_skipped();
	ASSERT_NE(NULL, sb);
	ids[3] = self->id + 1000;
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		ret = cbnl_get(&self->nl, ids[i], sb, &r);
		expect_refused(&r, ret, ENOENT, "no such sandbox",
			       CBNL_FIRST_ATTR_OFFS);
	}
	free(sb);
	expect_socket_sane(self);
}

/* A sandbox that has gone: the same as one that never was. */
TEST_F(request, gone_sandbox)
{
	struct cbnl_sandbox *sb = calloc(1, sizeof(*sb));
	struct cbnl_reply r;
	int ret;

	return_if_setup_skipped();
	ASSERT_NE(NULL, sb);
	close(self->b.fd);
	self->b.fd = -1;
	ret = cbnl_get(&self->nl, self->id, sb, &r);
	expect_refused(&r, ret, ENOENT, "no such sandbox", CBNL_FIRST_ATTR_OFFS);
	free(sb);
}

/*
 * A dump takes no attribute: the id is refused by the dump itself (its
 * error comes in the NLMSG_DONE), an unknown or malformed one already
 * when the dump starts (an NLMSG_ERROR).
 */
TEST_F(request, dump_with_attributes)
{
	struct nl_msg *m;
	struct cbnl_reply r;
	uint32_t at;
	int ret;

	return_if_setup_skipped();
	/*
	 * 6.1 puts only the message into a DONE; later kernels (6.12) the
	 * whole extended ack, with the offset of the attribute.
	 */
	m = new_msg(&self->nl, true);
	ASSERT_EQ(0, nla_put_u64(m, CALLBOX_NL_A_SANDBOX_ID, self->id));
	ret = send_raw(&self->nl, m, &r);
	at = r.has_offs ? CBNL_FIRST_ATTR_OFFS : 0;
	expect_refused(&r, ret, EINVAL, "Unsupported attribute", at);
	EXPECT_TRUE(r.done);

	m = new_msg(&self->nl, true);
	ASSERT_EQ(0, nla_put_u64(m, CALLBOX_NL_A_SANDBOX_MAX + 1, 1));
	ret = send_raw(&self->nl, m, &r);
	expect_refused(&r, ret, EINVAL, "Unknown attribute type",
		       CBNL_FIRST_ATTR_OFFS);

	m = new_msg(&self->nl, true);
	ASSERT_EQ(0, nla_put_u32(m, CALLBOX_NL_A_SANDBOX_ID, 1));
	ret = send_raw(&self->nl, m, &r);
	expect_refused(&r, ret, EINVAL, "invalid attribute length",
		       CBNL_FIRST_ATTR_OFFS);

	m = new_msg(&self->nl, true);
	ASSERT_EQ(0, nla_put_u32(m, CALLBOX_NL_A_SANDBOX_STATE, 1));
	ret = send_raw(&self->nl, m, &r);
	expect_refused(&r, ret, EINVAL, "Unsupported attribute",
		       CBNL_FIRST_ATTR_OFFS);
	EXPECT_FALSE(r.done);
	expect_socket_sane(self);
}

/*
 * Commands the family does not take as requests: the generic netlink core
 * refuses them before any callbox code runs.
 */
TEST_F(request, unknown_commands)
{
	uint8_t cmds[] = { 0, CALLBOX_NL_CMD_EVENT_NTF, CALLBOX_NL_CMD_MAX + 1,
			   255 };
	struct cbnl_reply r;
	unsigned int i;
	int ret;

	return_if_setup_skipped();
	for (i = 0; i < sizeof(cmds); i++) {
		struct nl_msg *m = nlmsg_alloc();

		ASSERT_NE(NULL, m);
		ASSERT_NE(NULL, genlmsg_put(m, NL_AUTO_PORT, NL_AUTO_SEQ,
					    self->nl.family, 0, 0, cmds[i],
					    CALLBOX_NL_FAMILY_VERSION));
		ASSERT_EQ(0, nla_put_u64(m, CALLBOX_NL_A_SANDBOX_ID, self->id));
		ret = send_raw(&self->nl, m, &r);
		EXPECT_EQ(-EOPNOTSUPP, ret) {
			TH_LOG("command %u: %s", cmds[i], strerror(-ret));
		}
		EXPECT_EQ(0, r.nr_msgs);
	}
	expect_socket_sane(self);
}

TEST_HARNESS_MAIN
