// SPDX-License-Identifier: GPL-2.0
/*
 * A sandbox lives as long as its file, on raw guests: closing one fd copy
 * (dup(), fork(), SCM_RIGHTS, another file table) changes nothing, the
 * last release shuts it down, and CALLBOX_SANDBOX_SHUTDOWN does at once,
 * whatever fds exist, unbinding the vCPU before it returns and waking
 * every waiter.
 *
 * "A sandbox shuts down when CALLBOX_SANDBOX_SHUTDOWN is issued, or when
 * its file is released: its last fd is closed, in every process that has
 * one ... closing one fd of several (dup(), fork(), SCM_RIGHTS) changes
 * nothing." Whether the vCPU is bound tells whether the sandbox is alive.
 */
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "callbox_util.h"

BOX_FIXTURE(life, raw_guest_counter, true)

TEST_F(life, close_of_a_dup_changes_nothing)
{
	struct callbox_call_info c;
	int d;

	d = dup(self->b.fd);
	ASSERT_LE(0, d);
	ASSERT_EQ(0, close(d));
	EXPECT_EQ(0, poll_events(self->b.fd) & POLLHUP);
	EXPECT_EQ(-EBUSY, probe_bind(&self->b));
	call_sync(self->b.fd, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);

	/* The other way round: the original goes, the copy stays. */
	d = dup(self->b.fd);
	ASSERT_LE(0, d);
	ASSERT_EQ(0, close(self->b.fd));
	self->b.fd = d;
	EXPECT_EQ(-EBUSY, probe_bind(&self->b));
	call_sync(self->b.fd, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(2, c.status);

	/* The last close releases it. */
	ASSERT_EQ(0, close(self->b.fd));
	self->b.fd = -1;
	EXPECT_EQ(0, probe_bind(&self->b));
}

/* A child that holds copies of every fd until told to exit. */
static pid_t fork_holder(int *go_fd)
{
	int p[2];
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		char b;

		close(p[1]);
		_exit(read(p[0], &b, 1) < 0);
	}
	close(p[0]);
	*go_fd = p[1];
	return pid;
}

static int reap_holder(pid_t pid, int go_fd)
{
	int status;

	close(go_fd);	/* EOF: the child exits */
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(life, forked_copy_keeps_the_sandbox)
{
	int go;
	pid_t pid = fork_holder(&go);

	ASSERT_LT(0, pid);
	ASSERT_EQ(0, close(self->b.fd));
	self->b.fd = -1;
	/* The child's copy keeps the file, so the sandbox and its vCPU. */
	EXPECT_EQ(-EBUSY, probe_bind(&self->b));
	/* The child's exit closes the last fd. */
	ASSERT_EQ(0, reap_holder(pid, go));
	EXPECT_EQ(0, probe_bind(&self->b));
}

/*
 * "CALLBOX_SANDBOX_SHUTDOWN shuts the sandbox down now, whatever fds refer
 * to it ... When it returns ... the vCPU is unbound."
 */
TEST_F(life, shutdown_unbinds_whatever_fds_exist)
{
	struct callbox_call_info c;
	int go, fd2;
	pid_t pid = fork_holder(&go);

	ASSERT_LT(0, pid);
	sandbox_shutdown(self->b.fd);
	/* Our fd and the child's are open, and the vCPU is free. */
	fd2 = sandbox_create(self->b.dev_fd, self->b.guest.vm.vm_fd,
			     self->b.guest.vm.vcpu_fd);
	call_sync_err(ESHUTDOWN, self->b.fd, 0, &c);
	ASSERT_EQ(0, close(self->b.fd));
	self->b.fd = fd2;

	/* The old sandbox's release later does not unbind the new one. */
	ASSERT_EQ(0, reap_holder(pid, go));
	EXPECT_EQ(-EBUSY, probe_bind(&self->b));
	call_sync(self->b.fd, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);
}

/* An fd in flight in an SCM_RIGHTS message is one more copy. */
TEST_F(life, scm_rights_copy_keeps_the_sandbox)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {}, data = 'x';
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct callbox_call_info c;
	struct cmsghdr *cmsg;
	int sv[2], fd;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv));
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &self->b.fd, sizeof(int));
	ASSERT_EQ(1, sendmsg(sv[0], &msg, 0));

	/* Only the message holds the sandbox now. */
	ASSERT_EQ(0, close(self->b.fd));
	self->b.fd = -1;
	EXPECT_EQ(-EBUSY, probe_bind(&self->b));

	memset(cbuf, 0, sizeof(cbuf));
	msg.msg_controllen = sizeof(cbuf);
	ASSERT_EQ(1, recvmsg(sv[1], &msg, MSG_CMSG_CLOEXEC));
	cmsg = CMSG_FIRSTHDR(&msg);
	ASSERT_NE(NULL, cmsg);
	ASSERT_EQ(SCM_RIGHTS, cmsg->cmsg_type);
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	self->b.fd = fd;
	close(sv[0]);
	close(sv[1]);

	/* Same process, same mm: the received fd runs calls. */
	call_sync(self->b.fd, 0, &c);
	EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
	EXPECT_EQ(1, c.status);
	ASSERT_EQ(0, close(self->b.fd));
	self->b.fd = -1;
	EXPECT_EQ(0, probe_bind(&self->b));
}

/*
 * A thread with its own file table (unshare(CLONE_FILES)) holds its own
 * copy of the sandbox fd: closing the fd in one table changes nothing,
 * closing it in the last one releases the sandbox.
 */
struct unsharer {
	int fd;
	int to_main[2], to_thread[2];
	int unshare_ret, close_ret;
};

static void *unsharer_fn(void *p)
{
	struct unsharer *u = p;
	ssize_t n;
	char b = 0;

	u->unshare_ret = unshare(CLONE_FILES) ? -errno : 0;
	n = write(u->to_main[1], &b, 1);
	n = read(u->to_thread[0], &b, 1);	/* "close yours now" */
	u->close_ret = close(u->fd) ? -errno : 0;
	n = write(u->to_main[1], &b, 1);
	(void)n;
	return NULL;
}

static void unshare_case(struct __test_metadata *_metadata, struct box *b,
			 bool thread_closes_last)
{
	struct unsharer u = { .fd = b->fd };
	struct callbox_call_info c;
	pthread_t t;
	char x = 0;

	ASSERT_EQ(0, pipe(u.to_main));
	ASSERT_EQ(0, pipe(u.to_thread));
	ASSERT_EQ(0, pthread_create(&t, NULL, unsharer_fn, &u));
	ASSERT_EQ(1, read(u.to_main[0], &x, 1));
	ASSERT_EQ(0, u.unshare_ret);

	if (thread_closes_last) {
		ASSERT_EQ(0, close(b->fd));
		b->fd = -1;
		EXPECT_EQ(-EBUSY, probe_bind(b));
		ASSERT_EQ(1, write(u.to_thread[1], &x, 1));
		ASSERT_EQ(1, read(u.to_main[0], &x, 1));
		EXPECT_EQ(0, u.close_ret);
	} else {
		ASSERT_EQ(1, write(u.to_thread[1], &x, 1));
		ASSERT_EQ(1, read(u.to_main[0], &x, 1));
		EXPECT_EQ(0, u.close_ret);
		EXPECT_EQ(-EBUSY, probe_bind(b));
		call_sync(b->fd, 0, &c);
		EXPECT_EQ(CALLBOX_STATE_EXITED, c.state);
		ASSERT_EQ(0, close(b->fd));
		b->fd = -1;
	}
	/* The last fd is gone: released, the vCPU is free. */
	EXPECT_EQ(0, probe_bind(b));
	pthread_join(t, NULL);
	close(u.to_main[0]);
	close(u.to_main[1]);
	close(u.to_thread[0]);
	close(u.to_thread[1]);
}

TEST_F(life, unshared_table_closes_last)
{
	unshare_case(_metadata, &self->b, true);
}

TEST_F(life, unsharing_thread_closes_first)
{
	unshare_case(_metadata, &self->b, false);
}

/* "every waiter wakes with that answer": a WAIT on a QUEUED call. */
TEST_F_TIMEOUT(life, shutdown_wakes_waiter, 60)
{
	struct call_waiter w = { .fd = self->b.fd };
	uint64_t t0;

	call_submit(self->b.fd, 0, &w.id);
	ASSERT_EQ(0, pthread_create(&w.thread, NULL, call_waiter_fn, &w));
	usleep(100 * 1000);
	EXPECT_FALSE(atomic_load(&w.done));

	t0 = now_ns();
	sandbox_shutdown(self->b.fd);
	/* When SHUTDOWN returns, the vCPU is unbound. */
	EXPECT_EQ(0, probe_bind(&self->b));
	ASSERT_EQ(0, join_within(w.thread, 5000));
	TH_LOG("waiter woke %llu us after SHUTDOWN",
	       (unsigned long long)(now_ns() - t0) / 1000);
	EXPECT_GT(t0 + 1000 * MS, now_ns());
	EXPECT_EQ(0, w.ret);
	EXPECT_EQ(w.id, w.c.id);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, w.c.state);
	EXPECT_EQ(CALLBOX_ABORT_SANDBOX_CLOSED, w.c.reason);
	EXPECT_EQ(0, w.c.flags);	/* guest code never ran for it */
}

/* "Later ... RUN ... fail[s] with ESHUTDOWN": also a RUN already waiting. */
TEST_F_TIMEOUT(life, shutdown_wakes_idle_runner, 60)
{
	struct call_runner r = { .fd = self->b.fd };
	uint64_t t0;

	ASSERT_EQ(0, pthread_create(&r.thread, NULL, call_runner_fn, &r));
	usleep(100 * 1000);
	/* Waiting for a call to be submitted. */
	EXPECT_FALSE(atomic_load(&r.done));

	t0 = now_ns();
	sandbox_shutdown(self->b.fd);
	EXPECT_EQ(0, probe_bind(&self->b));
	ASSERT_EQ(0, join_within(r.thread, 5000));
	EXPECT_GT(t0 + 1000 * MS, now_ns());
	EXPECT_EQ(-ESHUTDOWN, r.ret);
}

/* "When it returns, every call has ended, no thread runs the guest". */
TEST_F_TIMEOUT(life, shutdown_while_running_unbinds, 60)
{
	struct call_runner r = { .fd = self->b.fd };
	struct callbox_call_info c;

	box_load(&self->b, guest_spinner, sizeof(guest_spinner));
	call_submit(self->b.fd, 0, &r.id);
	ASSERT_EQ(0, pthread_create(&r.thread, NULL, call_runner_fn, &r));
	ASSERT_TRUE(wait_for_state(self->b.fd, r.id, CALLBOX_STATE_ENTERED));
	usleep(20 * 1000);

	sandbox_shutdown(self->b.fd);
	call_get(self->b.fd, r.id, &c);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, c.state);
	EXPECT_EQ(CALLBOX_ABORT_SANDBOX_CLOSED, c.reason);
	EXPECT_EQ(0, probe_bind(&self->b));

	ASSERT_EQ(0, join_within(r.thread, 5000));
	EXPECT_EQ(0, r.ret);
	EXPECT_EQ(CALLBOX_STATE_ABORTED, r.c.state);
	EXPECT_EQ(CALLBOX_ABORT_SANDBOX_CLOSED, r.c.reason);
}

TEST_HARNESS_MAIN
