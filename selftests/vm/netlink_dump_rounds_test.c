// SPDX-License-Identifier: GPL-2.0
/*
 * The SANDBOX_GET dump round by round, over a raw netlink socket, so that
 * the test decides every datagram's size and when each round runs (the
 * first in the requester's sendmsg(), each next one in a recv()):
 *
 * - a dump whose records fill its message exactly: NLMSG_DONE then comes
 *   in a round of its own, and a sandbox that came and went before that
 *   round must flag it (netlink builds such a DONE without calling the
 *   dumpit, so the module must ask for that round itself);
 * - what a dump lists is decided by the requester's CAP_SYS_ADMIN, not by
 *   whichever task reads the later rounds;
 * - a dump that lists nothing is flagged like any other when sandboxes
 *   come and go during its walk.
 *
 * Found by a hostile review of the "one that fits in one message ends in
 * it" change; each test failed on the module before the fix.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <linux/capability.h>
#include <linux/genetlink.h>

#include "nl_util.h"

#define NR_SANDBOXES	300
#define OTHER_UID	1000
#define BIG_RECV	65536

FIXTURE(rounds) {
	int dev_fd, kvm_fd, vm_fd;
	int nr, fd[NR_SANDBOXES];
	int next_vcpu;
	int family;
};

static int new_vcpu(FIXTURE_DATA(rounds) *self)
{
	return ioctl(self->vm_fd, KVM_CREATE_VCPU, self->next_vcpu++);
}

/* A sandbox on a new vCPU, created with effective uid @euid. */
static int new_sandbox(FIXTURE_DATA(rounds) *self, uid_t euid)
{
	int vcpu = new_vcpu(self), fd;

	if (vcpu < 0)
		return -errno;
	/* The raw syscall: this thread only, as the kernel sees a task. */
	if (euid && syscall(SYS_setresuid, -1, euid, -1))
		return -errno;
	fd = _sandbox_create(self->dev_fd, self->vm_fd, vcpu);
	if (euid && syscall(SYS_setresuid, -1, 0, -1))
		return -errno;
	close(vcpu);
	return fd;
}

FIXTURE_SETUP(rounds)
{
	struct cbnl nl;
	int i;

	self->nr = 0;
	self->next_vcpu = 0;
	self->vm_fd = self->kvm_fd = -1;
	self->dev_fd = open_or_skip(_metadata, "/dev/callbox");
	return_if_setup_skipped();
	self->kvm_fd = open_or_skip(_metadata, "/dev/kvm");
	return_if_setup_skipped();
	self->vm_fd = ioctl(self->kvm_fd, KVM_CREATE_VM, 0);
	ASSERT_LE(0, self->vm_fd);
	for (i = 0; i < NR_SANDBOXES; i++) {
		self->fd[i] = new_sandbox(self, 0);
		ASSERT_LE(0, self->fd[i]) {
			TH_LOG("sandbox %d: %s", i, strerror(-self->fd[i]));
		}
		self->nr++;
	}
	cbnl_open_ok(&nl);
	self->family = nl.family;
	cbnl_close(&nl);
}

FIXTURE_TEARDOWN(rounds)
{
	int i;

	for (i = 0; i < self->nr; i++)
		close(self->fd[i]);
	if (self->vm_fd >= 0)
		close(self->vm_fd);
	if (self->kvm_fd >= 0)
		close(self->kvm_fd);
	if (self->dev_fd >= 0)
		close(self->dev_fd);
}

/* ---- raw netlink ---- */

static int raw_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A SANDBOX_GET, with @flags, and an ID attribute if @id is not 0. */
static int raw_get(int fd, int family, uint16_t flags, uint64_t id)
{
	struct {
		struct nlmsghdr n;
		struct genlmsghdr g;
		struct nlattr a;
		uint64_t id;
	} req = {
		.n = {
			.nlmsg_type = family,
			.nlmsg_flags = NLM_F_REQUEST | flags,
			.nlmsg_seq = 1,
		},
		.g = {
			.cmd = CALLBOX_NL_CMD_SANDBOX_GET,
			.version = CALLBOX_NL_FAMILY_VERSION,
		},
		.a = {
			.nla_len = NLA_HDRLEN + sizeof(uint64_t),
			.nla_type = CALLBOX_NL_A_SANDBOX_ID,
		},
		.id = id,
	};

	req.n.nlmsg_len = id ? sizeof(req) : NLMSG_LENGTH(GENL_HDRLEN);
	return send(fd, &req, req.n.nlmsg_len, 0) < 0 ? -errno : 0;
}

/* What one datagram held. */
struct dgram {
	int len, records, done, intr, error, record_bytes;
};

/* One recv() of at most @size bytes: 0 or -errno. */
static int raw_recv(int fd, int family, size_t size, int flags,
		    struct dgram *d)
{
	static char buf[BIG_RECV];
	struct nlmsghdr *n;
	int len;

	memset(d, 0, sizeof(*d));
	len = recv(fd, buf, size, flags);
	if (len < 0)
		return -errno;
	d->len = len;
	for (n = (struct nlmsghdr *)buf; NLMSG_OK(n, (unsigned int)len);
	     n = NLMSG_NEXT(n, len)) {
		d->intr += !!(n->nlmsg_flags & NLM_F_DUMP_INTR);
		if (n->nlmsg_type == NLMSG_DONE) {
			d->done++;
		} else if (n->nlmsg_type == NLMSG_ERROR) {
			d->error = ((struct nlmsgerr *)NLMSG_DATA(n))->error;
		} else if (n->nlmsg_type == family) {
			d->records++;
			d->record_bytes += NLMSG_ALIGN(n->nlmsg_len);
		}
	}
	return 0;
}

/* A whole dump: records, datagrams, and whether any message was flagged. */
struct dump {
	int records, dgrams, intr, done, error;
	int record_bytes;
};

static int raw_read_dump(int fd, int family, struct dump *r)
{
	struct dgram d;
	int ret;

	memset(r, 0, sizeof(*r));
	while (!r->done && !r->error) {
		ret = raw_recv(fd, family, BIG_RECV, 0, &d);
		if (ret)
			return ret;
		r->dgrams++;
		r->records += d.records;
		r->record_bytes += d.record_bytes;
		r->intr += d.intr;
		r->done = d.done;
		r->error = d.error;
	}
	return 0;
}

/*
 * Make this socket's dump messages exactly @size bytes: netlink sizes
 * them by the largest recv() the socket has made (above a page or so).
 * A GET of a sandbox that does not exist, read with @size.
 */
static int raw_set_message_size(int fd, int family, size_t size)
{
	struct dgram d;
	int ret = raw_get(fd, family, 0, UINT64_MAX);

	if (!ret)
		ret = raw_recv(fd, family, size, 0, &d);
	return ret ? ret : d.error == -ENOENT ? 0 : -EPROTO;
}

/*
 * Records that fill the dump's message to the byte (slack 0), or leave
 * the 20 bytes DONE takes (slack 20). With room, DONE is in the records'
 * datagram and nothing after it can flag it; without, it comes alone,
 * and a sandbox that came and went after the records must flag it.
 */
TEST_F(rounds, done_without_room_is_checked)
{
	struct dgram first, rest;
	struct dump whole;
	int slack, fd, sb;

	return_if_setup_skipped();
	fd = raw_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, raw_get(fd, self->family, NLM_F_DUMP, 0));
	ASSERT_EQ(0, raw_read_dump(fd, self->family, &whole));
	close(fd);
	ASSERT_EQ(self->nr, whole.records);
	TH_LOG("%d sandboxes take %d bytes of records", whole.records,
	       whole.record_bytes);

	for (slack = 0; slack <= 20; slack += 20) {
		fd = raw_open();
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, raw_set_message_size(fd, self->family,
						  whole.record_bytes + slack));
		/* The first round runs here, in sendmsg(). */
		ASSERT_EQ(0, raw_get(fd, self->family, NLM_F_DUMP, 0));
		sb = new_sandbox(self, 0);
		ASSERT_LE(0, sb);
		close(sb);
		ASSERT_EQ(0, raw_recv(fd, self->family, BIG_RECV, 0, &first));
		EXPECT_EQ(self->nr, first.records);
		EXPECT_EQ(0, first.intr);
		if (slack) {
			EXPECT_EQ(1, first.done) {
				TH_LOG("with %d bytes to spare, DONE was not with the records",
				       slack);
			}
		} else {
			EXPECT_EQ(0, first.done);
			ASSERT_EQ(0, raw_recv(fd, self->family, BIG_RECV, 0,
					      &rest));
			EXPECT_EQ(0, rest.records);
			EXPECT_EQ(1, rest.done);
			EXPECT_EQ(1, rest.intr) {
				TH_LOG("a DONE built after a sandbox came and went is not flagged");
			}
		}
		close(fd);
	}
}

/* Drop (or take back) CAP_SYS_ADMIN from this thread's effective set. */
static int cap_sys_admin(bool on)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -errno;
	if (on)
		d[0].effective |= 1u << CAP_SYS_ADMIN;
	else
		d[0].effective &= ~(1u << CAP_SYS_ADMIN);
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

/*
 * One sandbox of another uid, after ours (a later round). A requester
 * without CAP_SYS_ADMIN must not see it, whoever reads the rounds; one
 * with it must, whoever reads them.
 */
TEST_F(rounds, requester_decides_what_is_seen)
{
	struct dump r;
	int other, fd;

	return_if_setup_skipped();
	other = new_sandbox(self, OTHER_UID);
	ASSERT_LE(0, other);

	fd = raw_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, cap_sys_admin(false));
	ASSERT_EQ(0, raw_get(fd, self->family, NLM_F_DUMP, 0));
	ASSERT_EQ(0, cap_sys_admin(true));
	ASSERT_EQ(0, raw_read_dump(fd, self->family, &r));
	close(fd);
	EXPECT_LT(1, r.dgrams);
	EXPECT_EQ(self->nr, r.records) {
		TH_LOG("a requester without CAP_SYS_ADMIN got %d sandboxes; it owns %d",
		       r.records, self->nr);
	}

	fd = raw_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, raw_get(fd, self->family, NLM_F_DUMP, 0));
	ASSERT_EQ(0, cap_sys_admin(false));
	ASSERT_EQ(0, raw_read_dump(fd, self->family, &r));
	ASSERT_EQ(0, cap_sys_admin(true));
	close(fd);
	EXPECT_EQ(self->nr + 1, r.records) {
		TH_LOG("a requester with CAP_SYS_ADMIN got %d of %d sandboxes",
		       r.records, self->nr + 1);
	}
	close(other);
}

struct churn {
	FIXTURE_DATA(rounds) *self;
	int vcpu;
	atomic_bool stop;
	atomic_ulong churned;
};

static void *churn_fn(void *p)
{
	struct churn *c = p;

	while (!atomic_load(&c->stop)) {
		int fd = _sandbox_create(c->self->dev_fd, c->self->vm_fd,
					 c->vcpu);

		if (fd < 0)
			break;
		close(fd);
		atomic_fetch_add(&c->churned, 1);
	}
	return NULL;
}

/*
 * A requester of another uid, without capabilities, sees none of the
 * sandboxes: its dumps list nothing. While sandboxes come and go, some
 * such dump must still be flagged.
 */
#define EMPTY_TRIES	2000

TEST_F_TIMEOUT(rounds, empty_dump_is_flagged, 300)
{
	struct churn c = { .self = self };
	int t, fd, flagged = 0, listed = 0;
	pthread_t th;
	struct dump r;

	return_if_setup_skipped();
	c.vcpu = new_vcpu(self);
	ASSERT_LE(0, c.vcpu);
	ASSERT_EQ(0, pthread_create(&th, NULL, churn_fn, &c));
	ASSERT_TRUE(WAIT_FOR(atomic_load(&c.churned) > 0));
	ASSERT_EQ(0, syscall(SYS_setresuid, -1, OTHER_UID, -1));
	for (t = 0; t < EMPTY_TRIES && !flagged; t++) {
		fd = raw_open();
		if (fd < 0 || raw_get(fd, self->family, NLM_F_DUMP, 0) ||
		    raw_read_dump(fd, self->family, &r))
			break;
		close(fd);
		flagged += !!r.intr;
		listed += r.records;
	}
	ASSERT_EQ(0, syscall(SYS_setresuid, -1, 0, -1));
	atomic_store(&c.stop, true);
	pthread_join(th, NULL);
	close(c.vcpu);
	TH_LOG("%d dumps, %d flagged, %d records; %lu sandboxes came and went",
	       t, flagged, listed, atomic_load(&c.churned));
	EXPECT_EQ(0, listed);
	EXPECT_EQ(1, flagged);
}

TEST_HARNESS_MAIN
