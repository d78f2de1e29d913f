// SPDX-License-Identifier: GPL-2.0
/*
 * What callbox shows when the owner process of a sandbox is killed. A
 * child process makes the sandbox and its call (it must: the vCPU runs
 * only in the address space that made it), and sends the sandbox fd here
 * (SCM_RIGHTS). Then it is killed: while its call runs in the guest
 * (ABORTED, KILLED), or while the call waits in HOSTCALL (its owner is
 * gone: OWNER_EXITED). If this process keeps the fd, the sandbox lives
 * on and shows that; if not, it goes with the child.
 */
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "inspect_box.h"

FIXTURE(killed) {
	struct cb_counters base;
	struct cb_objects obj_base;
	pid_t pid;
	int sock;
	int fd;		/* the sandbox, here; -1 once closed */
	int child_fd;	/* its number in the child */
	uint64_t id;
};

FIXTURE_VARIANT(killed) {
	bool hostcall;
	bool keep;
};

FIXTURE_VARIANT_ADD(killed, running) { .hostcall = false, .keep = false };
FIXTURE_VARIANT_ADD(killed, running_fd_kept) { .hostcall = false, .keep = true };
FIXTURE_VARIANT_ADD(killed, hostcall) { .hostcall = true, .keep = false };
FIXTURE_VARIANT_ADD(killed, hostcall_fd_kept) { .hostcall = true, .keep = true };

struct child_msg {
	int fd;
	int err;
};

static void *child_watch(void *p)
{
	void **a = p;
	int sock = (int)(intptr_t)a[1];

	while (!script_spinning(a[0]))
		usleep(1000);
	if (write(sock, "R", 1) != 1)
		_exit(20);
	return NULL;
}

/* The child: its own guest and sandbox; never returns. */
static void child_main(int sock, bool hostcall)
{
	struct child_msg msg = { .fd = -1 };
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { &msg, sizeof(msg) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	struct callbox_call_info c;
	struct raw_guest g;
	pthread_t t;
	void *args[2];
	uint64_t id;
	int dev;

	msg.err = raw_guest_create(&g, guest_script, sizeof(guest_script));
	dev = open("/dev/callbox", O_RDWR | O_CLOEXEC);
	if (!msg.err && dev < 0)
		msg.err = -errno;
	if (!msg.err) {
		msg.fd = _sandbox_create(dev, g.vm.vm_fd, g.vm.vcpu_fd);
		if (msg.fd < 0)
			msg.err = msg.fd;
	}
	if (msg.err) {
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
		sendmsg(sock, &mh, 0);
		_exit(10);
	}
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &msg.fd, sizeof(int));
	if (sendmsg(sock, &mh, 0) != sizeof(msg))
		_exit(11);

	script_set(g.mem, hostcall ? SCRIPT_HOSTCALL : SCRIPT_SPIN);
	if (hostcall) {
		if (_call_sync(msg.fd, 0, &c) || c.state != S_H)
			_exit(12);
		if (write(sock, "R", 1) != 1)
			_exit(13);
		for (;;)
			pause();
	}
	args[0] = g.mem;
	args[1] = (void *)(intptr_t)sock;
	if (pthread_create(&t, NULL, child_watch, args))
		_exit(14);
	/* RUN, which does not consume the call (CALL_SYNC would). */
	if (_call_submit(msg.fd, 0, &id))
		_exit(15);
	_call_run(msg.fd, id, 0, &c);	/* spins until killed */
	_exit(16);
}

FIXTURE_SETUP(killed)
{
	struct child_msg msg;
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &msg, sizeof(msg) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	int sv[2];

	self->pid = -1;
	self->sock = -1;
	self->fd = -1;
	if (!path_exists("/dev/callbox") || !path_exists("/dev/kvm"))
		SKIP(return, "/dev/callbox or /dev/kvm is missing");
	if (debugfs_ready())
		SKIP(return, "no debugfs");
	counters_read_ok(&self->base);
	objects_read_ok(&self->obj_base);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	self->pid = fork();
	ASSERT_LE(0, self->pid);
	if (!self->pid) {
		close(sv[0]);
		child_main(sv[1], variant->hostcall);
	}
	close(sv[1]);
	self->sock = sv[0];
	ASSERT_EQ(sizeof(msg), recvmsg(self->sock, &mh, 0));
	ASSERT_EQ(0, msg.err) {
		TH_LOG("the child's sandbox: %s", strerror(-msg.err));
	}
	cm = CMSG_FIRSTHDR(&mh);
	ASSERT_NE(NULL, cm);
	ASSERT_EQ(SCM_RIGHTS, cm->cmsg_type);
	memcpy(&self->fd, CMSG_DATA(cm), sizeof(int));
	self->child_fd = msg.fd;
	if (!variant->keep) {
		/* One fd of several: closing it changes nothing. */
		close(self->fd);
		self->fd = -1;
	}
}

FIXTURE_TEARDOWN(killed)
{
	if (self->pid > 0) {
		kill(self->pid, SIGKILL);
		waitpid(self->pid, NULL, 0);
	}
	if (self->fd >= 0)
		close(self->fd);
	if (self->sock >= 0)
		close(self->sock);
}

/*
 * Does "callbox ps --json ID" (netlink) give sandbox @id the owner pid
 * @pid? The CLI is where check.sh puts it, or $CALLBOX.
 */
static bool ps_owner_pid_is(uint64_t id, pid_t pid)
{
	const char *cli = getenv("CALLBOX") ?: "/bin/callbox";
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
		 "%s ps --json %llu | grep -q '^{\"id\":%llu,\"owner_pid\":%d,'",
		 cli, (unsigned long long)id, (unsigned long long)id, pid);
	return system(cmd) == 0;
}

TEST_F_TIMEOUT(killed, shows_and_goes, 60)
{
	uint32_t live_state = variant->hostcall ? S_H : S_E;
	uint32_t reason = variant->hostcall ? CALLBOX_ABORT_OWNER_EXITED :
					      CALLBOX_ABORT_KILLED;
	uint32_t states[] = { S_Q, S_E, S_H, S_A };
	struct callbox_call_info c;
	struct cb_counters now, d = { .sandboxes = 1, .total = 1 };
	struct cb_objects o;
	struct cb_fdinfo fi;
	struct dbg_call rows[2];
	struct dbg_recent rec[2];
	siginfo_t si;
	int status;
	char r;

	return_if_setup_skipped();
	ASSERT_EQ(1, read(self->sock, &r, 1));

	/* Alive: the child's fdinfo, debugfs and sysfs show its call. */
	fdinfo_read_ok(self->pid, self->child_fd, &fi);
	self->id = fi.sandbox_id;
	ASSERT_TRUE(sandbox_dir_exists(self->id));
	EXPECT_STREQ("running", fi.state);
	EXPECT_EQ(1, fi.call_id);
	EXPECT_STREQ(state_name(live_state), fi.call_state);
	ASSERT_EQ(1, dbg_calls_read(self->id, rows, 2));
	EXPECT_EQ(1, rows[0].id);
	EXPECT_STREQ(state_name(live_state), rows[0].state);
	EXPECT_STREQ(variant->hostcall ? "guest_ran" : "-", rows[0].flags);
	/* The child's only thread runs it. */
	EXPECT_EQ(variant->hostcall ? 0 : self->pid, rows[0].runner_tid);
	counters_read_ok(&now);
	d.entered = !variant->hostcall;
	d.hostcall = variant->hostcall;
	expect_counters(&self->base, &now, &d);
	EXPECT_TRUE(ps_owner_pid_is(self->id, self->pid));

	ASSERT_EQ(0, kill(self->pid, SIGKILL));
	/* Exited but not reaped: a zombie keeps its pid, yet it is gone. */
	ASSERT_EQ(0, waitid(P_PID, self->pid, &si, WEXITED | WNOWAIT));
	if (variant->keep)
		EXPECT_TRUE(ps_owner_pid_is(self->id, 0));
	ASSERT_EQ(self->pid, waitpid(self->pid, &status, 0));
	self->pid = -1;
	ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
		TH_LOG("the child ended with status 0x%x", status);
	}
	d.entered = d.hostcall = 0;
	d.aborted[reason] = 1;

	if (variant->keep) {
		/* The sandbox lives on here: fdinfo first, which reaps. */
		fdinfo_read_ok(0, self->fd, &fi);
		EXPECT_EQ(self->id, fi.sandbox_id);
		EXPECT_STREQ("poisoned", fi.state);
		EXPECT_EQ(0, fi.call_id);
		EXPECT_STREQ("NONE", fi.call_state);
		EXPECT_EQ(1, fi.calls);
		EXPECT_EQ(0, fi.exited);
		EXPECT_EQ(1, fi.aborted);
		EXPECT_EQ(1, fi.unconsumed);
		/* Not this process's sandbox: no ioctl, only inspection. */
		call_get_err(EIO, self->fd, 1, &c);
		/* Its owner is gone: no pid, which may name another now. */
		EXPECT_TRUE(ps_owner_pid_is(self->id, 0));

		c = (struct callbox_call_info) {
			.id = 1, .state = S_A, .reason = reason,
			.flags = F_RAN | F_POIS,
		};
		ASSERT_EQ(1, dbg_calls_read(self->id, rows, 2));
		expect_row_is_call(&rows[0], &c);
		EXPECT_EQ(0, rows[0].runner_tid);
		ASSERT_EQ(1, dbg_recent_read(self->id, rec, 2));
		expect_recent_is_call(&rec[0], &c);
		if (variant->hostcall) {
			expect_recent_states(&rec[0], states, 4, UINT64_MAX);
		} else {
			states[2] = S_A;
			expect_recent_states(&rec[0], states, 3, UINT64_MAX);
		}
		counters_read_ok(&now);
		expect_counters(&self->base, &now, &d);
		EXPECT_TRUE(sandbox_dir_exists(self->id));

		close(self->fd);
		self->fd = -1;
	}

	/* Gone with its last fd. */
	d.sandboxes = 0;
	counters_read_ok(&now);
	expect_counters(&self->base, &now, &d);
	expect_conserved(&now);
	EXPECT_FALSE(sandbox_dir_exists(self->id));
	objects_read_ok(&o);
	EXPECT_EQ(self->obj_base.sandboxes, o.sandboxes);
	EXPECT_EQ(self->obj_base.calls, o.calls);
}

/*
 * ==== Nothing dangles ====
 */

/* A sandbox lives as long as its file: one fd of two closed changes nothing. */
TEST_HARNESS_MAIN
