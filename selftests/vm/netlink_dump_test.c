// SPDX-License-Identifier: GPL-2.0
/*
 * The SANDBOX_GET dump of the "callbox" netlink family over a few hundred
 * sandboxes (one VM, one vCPU each), read in small pieces: each piece is
 * one dumpit round in the kernel. While another thread creates and closes
 * sandboxes, some dump must come back with NLM_F_DUMP_INTR (libnl:
 * nl_recvmsgs() returns -NLE_DUMP_INTR); with nothing changing, no dump
 * may have it, and every sandbox is listed exactly once.
 */
#include "nl_sandbox_util.h"

#define NR_SANDBOXES	300
#define DUMP_TRIES	20
/* Small pieces: the kernel sizes a dump's skb by our recvmsg() buffer. */
#define PIECE		4096

FIXTURE(many) {
	int dev_fd, kvm_fd, vm_fd;
	int nr;
	int fd[NR_SANDBOXES];
	uint64_t id[NR_SANDBOXES];
	int spare_vcpu;		/* for the churn */
	struct cbnl nl;
	pthread_t churn;
	bool churning;
	atomic_bool stop;
	atomic_ulong churned;
	atomic_int churn_err;
};

/* A socket whose every read is at most PIECE bytes, from the first on. */
static int open_small(struct cbnl *nl)
{
	int ret;

	nl->sk = nl_socket_alloc();
	if (!nl->sk)
		return -ENOMEM;
	nl_socket_disable_msg_peek(nl->sk);
	if (nl_socket_set_msg_buf_size(nl->sk, PIECE) < 0 ||
	    genl_connect(nl->sk) < 0) {
		ret = -EPROTO;
		goto fail;
	}
	ret = cbnl_ext_ack_on(nl->sk);
	if (ret)
		goto fail;
	nl->family = genl_ctrl_resolve(nl->sk, CALLBOX_NL_FAMILY_NAME);
	if (nl->family >= 0)
		return 0;
	ret = -ENOENT;
fail:
	nl_socket_free(nl->sk);
	nl->sk = NULL;
	return ret;
}

FIXTURE_SETUP(many)
{
	int i, vcpu, max, ret;

	self->nr = 0;
	self->vm_fd = self->kvm_fd = -1;
	self->spare_vcpu = -1;
	self->nl.sk = NULL;
	self->churning = false;
	self->dev_fd = open_or_skip(_metadata, "/dev/callbox");
	return_if_setup_skipped();
	self->kvm_fd = open_or_skip(_metadata, "/dev/kvm");
	return_if_setup_skipped();
	self->vm_fd = ioctl(self->kvm_fd, KVM_CREATE_VM, 0);
	ASSERT_LE(0, self->vm_fd);
	max = ioctl(self->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	ASSERT_LE(NR_SANDBOXES + 1, max) {
		TH_LOG("KVM allows only %d vCPUs", max);
	}
	for (i = 0; i < NR_SANDBOXES; i++) {
		vcpu = ioctl(self->vm_fd, KVM_CREATE_VCPU, i);
		ASSERT_LE(0, vcpu) {
			TH_LOG("vCPU %d: %s", i, strerror(errno));
		}
		ret = _sandbox_create(self->dev_fd, self->vm_fd, vcpu);
		/* The sandbox holds the vCPU. */
		close(vcpu);
		ASSERT_LE(0, ret) {
			TH_LOG("sandbox %d: %s", i, strerror(-ret));
		}
		self->fd[i] = ret;
		self->nr++;
		self->id[i] = cbnl_sandbox_id(ret);
		ASSERT_NE(0, self->id[i]);
	}
	self->spare_vcpu = ioctl(self->vm_fd, KVM_CREATE_VCPU, NR_SANDBOXES);
	ASSERT_LE(0, self->spare_vcpu);
	ret = open_small(&self->nl);
	ASSERT_EQ(0, ret) {
		TH_LOG("opening the callbox family: %s", strerror(-ret));
	}
}

FIXTURE_TEARDOWN(many)
{
	int i;

	if (self->churning) {
		atomic_store(&self->stop, true);
		pthread_join(self->churn, NULL);
	}
	cbnl_close(&self->nl);
	for (i = 0; i < self->nr; i++)
		close(self->fd[i]);
	if (self->spare_vcpu >= 0)
		close(self->spare_vcpu);
	if (self->vm_fd >= 0)
		close(self->vm_fd);
	if (self->kvm_fd >= 0)
		close(self->kvm_fd);
	if (self->dev_fd >= 0)
		close(self->dev_fd);
}

/* Sandboxes come and go on the spare vCPU until told to stop. */
static void *churn_fn(void *p)
{
	FIXTURE_DATA(many) *self = p;

	while (!atomic_load(&self->stop)) {
		int fd = _sandbox_create(self->dev_fd, self->vm_fd,
					 self->spare_vcpu);

		if (fd < 0) {
			atomic_store(&self->churn_err, -fd);
			break;
		}
		/* The last fd: the sandbox shuts down and goes. */
		close(fd);
		atomic_fetch_add(&self->churned, 1);
	}
	return NULL;
}

/* The reader takes its time over each sandbox: the churn goes on. */
static void slow_reader(struct cbnl_dump *d, void *arg)
{
	(void)d;
	(void)arg;
	usleep(200);
}

/*
 * What holds of every dump, interrupted or not: no kernel error, nothing
 * malformed, libnl's verdict as the flags say, ids strictly increasing
 * (none twice), and each of our sandboxes, alive throughout, there once.
 */
static void expect_dump_sane(struct __test_metadata *_metadata,
			     FIXTURE_DATA(many) *self, struct cbnl_dump *d,
			     int ret)
{
	uint32_t i, j;

	ASSERT_EQ(0, ret) {
		TH_LOG("dump: %s (%s)", strerror(-ret), d->r.msg);
	}
	EXPECT_STREQ("", d->r.bad);
	EXPECT_TRUE(d->r.done);
	EXPECT_EQ(d->r.dump_intr ? -NLE_DUMP_INTR : 0, d->r.nl_ret) {
		TH_LOG("NLM_F_DUMP_INTR %s, nl_recvmsgs() said %d",
		       d->r.dump_intr ? "set" : "not set", d->r.nl_ret);
	}
	EXPECT_EQ((uint32_t)d->r.nr_msgs, d->nr);
	for (i = 1; i < d->nr; i++) {
		EXPECT_LT(d->sb[i - 1].id, d->sb[i].id) {
			TH_LOG("entry %u: id %llu after %llu", i,
			       (unsigned long long)d->sb[i].id,
			       (unsigned long long)d->sb[i - 1].id);
			break;
		}
	}
	for (i = 0, j = 0; i < (uint32_t)self->nr; i++) {
		/* Both are sorted by id. */
		while (j < d->nr && d->sb[j].id < self->id[i])
			j++;
		EXPECT_TRUE(j < d->nr && d->sb[j].id == self->id[i]) {
			TH_LOG("sandbox %llu is missing from the dump",
			       (unsigned long long)self->id[i]);
			break;
		}
		EXPECT_EQ(CBNL_SANDBOX_ALWAYS, d->sb[j].present);
		EXPECT_EQ(CALLBOX_NL_SANDBOX_IDLE, d->sb[j].state);
		EXPECT_EQ((uint32_t)getpid(), d->sb[j].owner_pid);
	}
}

/* With nothing changing: never interrupted, every sandbox once. */
TEST_F_TIMEOUT(many, quiet_dump_is_whole, 300)
{
	uint64_t before, after;
	unsigned long pieces;
	int t, ret;

	return_if_setup_skipped();
	for (t = 0; t < DUMP_TRIES; t++) {
		struct cbnl_dump d = { .each = t & 1 ? slow_reader : NULL };

		ASSERT_EQ(0, cbnl_read_u64("/sys/class/misc/callbox/sandboxes", &before));
		pieces = cbnl_datagrams;
		ret = cbnl_dump(&self->nl, &d);
		pieces = cbnl_datagrams - pieces;
		ASSERT_EQ(0, cbnl_read_u64("/sys/class/misc/callbox/sandboxes", &after));
		expect_dump_sane(_metadata, self, &d, ret);
		EXPECT_FALSE(d.r.dump_intr) {
			TH_LOG("dump %d: NLM_F_DUMP_INTR with nothing changing",
			       t);
		}
		/* Every sandbox there is, each once (ids increase). */
		EXPECT_EQ(before, after);
		EXPECT_EQ(after, d.nr);
		/* It did come in pieces, none larger than asked for. */
		EXPECT_LT(4, pieces);
		EXPECT_GE(PIECE, d.r.max_seen_len);
		if (!t)
			TH_LOG("%u sandboxes in %lu pieces", d.nr, pieces);
		cbnl_dump_free(&d);
	}
}

/* While sandboxes come and go: some dump is flagged. */
TEST_F_TIMEOUT(many, churn_interrupts_dump, 300)
{
	int t, ret, flagged = 0;

	return_if_setup_skipped();
	ASSERT_EQ(0, pthread_create(&self->churn, NULL, churn_fn, self));
	self->churning = true;
	ASSERT_TRUE(WAIT_FOR(atomic_load(&self->churned) > 0));
	for (t = 0; t < DUMP_TRIES; t++) {
		struct cbnl_dump d = { .each = slow_reader };

		ret = cbnl_dump(&self->nl, &d);
		expect_dump_sane(_metadata, self, &d, ret);
		flagged += d.r.dump_intr;
		cbnl_dump_free(&d);
	}
	atomic_store(&self->stop, true);
	ASSERT_EQ(0, pthread_join(self->churn, NULL));
	self->churning = false;
	EXPECT_EQ(0, atomic_load(&self->churn_err)) {
		TH_LOG("the churn failed: %s",
		       strerror(atomic_load(&self->churn_err)));
	}
	TH_LOG("%d of %d dumps flagged; %lu sandboxes came and went", flagged,
	       DUMP_TRIES, atomic_load(&self->churned));
	EXPECT_LT(0, flagged);
}

/*
 * ==== A dump that fits in one message is whole by construction ====
 *
 * The kernel ends the dump in the round that found the last sandbox, so
 * NLMSG_DONE travels in the same datagram as the sandboxes: nothing that
 * happens after that datagram was built can flag it. (When the kernel
 * answered the last round with the records and DONE in a round of its
 * own, a sandbox that came or went between the reader's two recv()s
 * flagged every such dump: under real parallelism `callbox ps` lost all
 * its tries to a busy host.)
 */
#define FEW	4

FIXTURE(few) {
	int dev_fd, kvm_fd, vm_fd;
	int fd[FEW];
	int spare_vcpu;
	struct cbnl nl;
};

FIXTURE_SETUP(few)
{
	int i, vcpu, ret;

	self->vm_fd = self->kvm_fd = self->spare_vcpu = -1;
	for (i = 0; i < FEW; i++)
		self->fd[i] = -1;
	self->nl.sk = NULL;
	self->dev_fd = open_or_skip(_metadata, "/dev/callbox");
	return_if_setup_skipped();
	self->kvm_fd = open_or_skip(_metadata, "/dev/kvm");
	return_if_setup_skipped();
	self->vm_fd = ioctl(self->kvm_fd, KVM_CREATE_VM, 0);
	ASSERT_LE(0, self->vm_fd);
	for (i = 0; i < FEW; i++) {
		vcpu = ioctl(self->vm_fd, KVM_CREATE_VCPU, i);
		ASSERT_LE(0, vcpu);
		ret = _sandbox_create(self->dev_fd, self->vm_fd, vcpu);
		close(vcpu);
		ASSERT_LE(0, ret) {
			TH_LOG("sandbox %d: %s", i, strerror(-ret));
		}
		self->fd[i] = ret;
	}
	self->spare_vcpu = ioctl(self->vm_fd, KVM_CREATE_VCPU, FEW);
	ASSERT_LE(0, self->spare_vcpu);
	cbnl_open_ok(&self->nl);
}

FIXTURE_TEARDOWN(few)
{
	int i;

	cbnl_close(&self->nl);
	for (i = 0; i < FEW; i++)
		if (self->fd[i] >= 0)
			close(self->fd[i]);
	if (self->spare_vcpu >= 0)
		close(self->spare_vcpu);
	if (self->vm_fd >= 0)
		close(self->vm_fd);
	if (self->kvm_fd >= 0)
		close(self->kvm_fd);
	if (self->dev_fd >= 0)
		close(self->dev_fd);
}

TEST_F(few, small_dump_ends_in_its_first_datagram)
{
	struct nl_msg *msg;
	struct sockaddr_nl peer;
	unsigned char *buf = NULL;
	struct nlmsghdr *nlh;
	int len, sb, records = 0, done = 0, intr = 0;

	return_if_setup_skipped();
	msg = cbnl_get_msg(&self->nl, true);
	ASSERT_NE(NULL, msg);
	ASSERT_LE(0, nl_send_auto(self->nl.sk, msg));
	nlmsg_free(msg);
	len = nl_recv(self->nl.sk, &peer, &buf, NULL);
	ASSERT_LT(0, len) {
		TH_LOG("nl_recv: %s", nl_geterror(len));
	}
	/* A sandbox comes and goes after the first datagram was read. */
	sb = _sandbox_create(self->dev_fd, self->vm_fd, self->spare_vcpu);
	ASSERT_LE(0, sb);
	close(sb);

	for (nlh = (struct nlmsghdr *)buf; nlmsg_ok(nlh, len);
	     nlh = nlmsg_next(nlh, &len)) {
		intr += !!(nlh->nlmsg_flags & NLM_F_DUMP_INTR);
		if (nlh->nlmsg_type == NLMSG_DONE)
			done++;
		else if (nlh->nlmsg_type == self->nl.family)
			records++;
		else
			TH_LOG("unexpected message type %u", nlh->nlmsg_type);
	}
	free(buf);
	EXPECT_LE(FEW, records);
	EXPECT_EQ(1, done) {
		TH_LOG("NLMSG_DONE was not in the first datagram (%d sandboxes were)",
		       records);
	}
	EXPECT_EQ(0, intr);
	/* And nothing follows it. */
	EXPECT_EQ(-1, recv(nl_socket_get_fd(self->nl.sk), &peer, sizeof(peer),
			   MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
}

TEST_HARNESS_MAIN
