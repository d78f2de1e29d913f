// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/callbox and sandbox creation: the device, the ioctl ABI, and every
 * kind of fd that is not a vCPU of the caller.
 */
#include <stddef.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "callbox_util.h"

FIXTURE(sandbox) {
	int dev_fd;
	struct raw_vm vm;
};

FIXTURE_SETUP(sandbox)
{
	self->dev_fd = open_or_skip(_metadata, "/dev/callbox");
	raw_vm_create_ok(&self->vm);
}

FIXTURE_TEARDOWN(sandbox)
{
	raw_vm_destroy(&self->vm);
	close(self->dev_fd);
}

TEST_F(sandbox, create_and_close)
{
	int fd = sandbox_create(self->dev_fd, self->vm.vm_fd,
				self->vm.vcpu_fd);

	/* The sandbox fd is close-on-exec, like KVM's fds. */
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(0, close(fd));
}

TEST_F(sandbox, unknown_ioctl)
{
	int fd = sandbox_create(self->dev_fd, self->vm.vm_fd,
				self->vm.vcpu_fd);
	struct callbox_call_sync call = { .size = sizeof(call) };

	EXPECT_EQ(-1, ioctl(self->dev_fd, _IO(CALLBOX_TYPE, 0xff), &call));
	EXPECT_EQ(ENOTTY, errno);
	/* A sandbox command on the device, and the reverse. */
	EXPECT_EQ(-1, ioctl(self->dev_fd, CALLBOX_CALL_SYNC, &call));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(fd, CALLBOX_SANDBOX_CREATE, &call));
	EXPECT_EQ(ENOTTY, errno);
	close(fd);
}

TEST_F(sandbox, create_abi)
{
	struct callbox_sandbox_create cmd = {
		.size = sizeof(cmd),
		.vm_fd = self->vm.vm_fd,
		.vcpu_fd = self->vm.vcpu_fd,
	};
	struct {
		struct callbox_sandbox_create cmd;
		uint64_t zeros;
	} longer = { .cmd = cmd };
	int lowest_free_fd = dup(0);

	close(lowest_free_fd);
	check_ioctl_abi(_metadata, self->dev_fd, CALLBOX_SANDBOX_CREATE, &cmd,
			sizeof(cmd),
			offsetof(struct callbox_sandbox_create, flags),
			offsetof(struct callbox_sandbox_create, __reserved));

	/* The failed probes had no side effect: no fd, no binding. */
	EXPECT_EQ(lowest_free_fd, dup(0));
	close(lowest_free_fd);

	/* A longer struct whose extra bytes are zero is fine. */
	longer.cmd.size = sizeof(longer);
	ASSERT_EQ(0, ioctl(self->dev_fd, CALLBOX_SANDBOX_CREATE, &longer));
	EXPECT_EQ(lowest_free_fd, longer.cmd.out_sandbox_fd);
	close(longer.cmd.out_sandbox_fd);
}

/* A vCPU serves one sandbox at a time; closing the sandbox frees it. */
TEST_F(sandbox, vcpu_bound_once)
{
	int fd = sandbox_create(self->dev_fd, self->vm.vm_fd,
				self->vm.vcpu_fd);

	sandbox_create_err(EBUSY, self->dev_fd, self->vm.vm_fd,
			   self->vm.vcpu_fd);
	close(fd);
	fd = sandbox_create(self->dev_fd, self->vm.vm_fd, self->vm.vcpu_fd);
	close(fd);
}

TEST_F(sandbox, bad_fds)
{
	int pipefd[2], file_fd, closed_fd, sb_fd;
	struct raw_vm other;

	/* Closed and negative fds. */
	closed_fd = dup(self->vm.vcpu_fd);
	close(closed_fd);
	sandbox_create_err(EBADF, self->dev_fd, self->vm.vm_fd, closed_fd);
	sandbox_create_err(EBADF, self->dev_fd, closed_fd, self->vm.vcpu_fd);
	sandbox_create_err(EBADF, self->dev_fd, self->vm.vm_fd, -1);
	sandbox_create_err(EBADF, self->dev_fd, -1, self->vm.vcpu_fd);

	/* Swapped: a vCPU fd is not a VM fd, a VM fd is not a vCPU fd. */
	sandbox_create_err(EINVAL, self->dev_fd, self->vm.vcpu_fd,
			   self->vm.vm_fd);
	sandbox_create_err(EINVAL, self->dev_fd, self->vm.vm_fd,
			   self->vm.vm_fd);

	/* /dev/kvm itself, a regular file, a pipe, the device itself. */
	sandbox_create_err(EINVAL, self->dev_fd, self->vm.kvm_fd,
			   self->vm.vcpu_fd);
	sandbox_create_err(EINVAL, self->dev_fd, self->vm.vm_fd,
			   self->vm.kvm_fd);
	file_fd = open("/proc/self/status", O_RDONLY);
	ASSERT_LE(0, file_fd);
	sandbox_create_err(EINVAL, self->dev_fd, file_fd, self->vm.vcpu_fd);
	sandbox_create_err(EINVAL, self->dev_fd, self->vm.vm_fd, file_fd);
	close(file_fd);
	ASSERT_EQ(0, pipe(pipefd));
	sandbox_create_err(EINVAL, self->dev_fd, self->vm.vm_fd, pipefd[0]);
	close(pipefd[0]);
	close(pipefd[1]);
	sandbox_create_err(EINVAL, self->dev_fd, self->vm.vm_fd,
			   self->dev_fd);

	/* A vCPU of another VM. */
	raw_vm_create_ok(&other);
	sandbox_create_err(EINVAL, self->dev_fd, self->vm.vm_fd,
			   other.vcpu_fd);
	sandbox_create_err(EINVAL, self->dev_fd, other.vm_fd,
			   self->vm.vcpu_fd);
	raw_vm_destroy(&other);

	/* The fds still work after all that. */
	sb_fd = sandbox_create(self->dev_fd, self->vm.vm_fd,
				 self->vm.vcpu_fd);
	close(sb_fd);
}

/* A VM created by another process: its mm is not ours. */
TEST_F(sandbox, vm_of_another_process)
{
	int sv[2], child_vm[2];
	struct msghdr msg = {};
	char cbuf[CMSG_SPACE(2 * sizeof(int))];
	struct cmsghdr *cmsg;
	struct iovec iov;
	char byte = 0;
	pid_t pid;
	int status;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct raw_vm vm;

		close(sv[0]);
		if (raw_vm_create(&vm))
			_exit(1);
		child_vm[0] = vm.vm_fd;
		child_vm[1] = vm.vcpu_fd;
		iov = (struct iovec) { .iov_base = &byte, .iov_len = 1 };
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(child_vm));
		memcpy(CMSG_DATA(cmsg), child_vm, sizeof(child_vm));
		_exit(sendmsg(sv[1], &msg, 0) == 1 ? 0 : 1);
	}
	close(sv[1]);
	iov = (struct iovec) { .iov_base = &byte, .iov_len = 1 };
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	ASSERT_EQ(1, recvmsg(sv[0], &msg, 0));
	cmsg = CMSG_FIRSTHDR(&msg);
	ASSERT_NE(NULL, cmsg);
	memcpy(child_vm, CMSG_DATA(cmsg), sizeof(child_vm));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, status);

	sandbox_create_err(EIO, self->dev_fd, child_vm[0], child_vm[1]);
	close(child_vm[0]);
	close(child_vm[1]);
	close(sv[0]);
}

/* A sandbox fd inherited by fork() is refused in the child. */
TEST_F(sandbox, used_after_fork)
{
	int fd = sandbox_create(self->dev_fd, self->vm.vm_fd,
				self->vm.vcpu_fd);
	struct callbox_call_info call;
	pid_t pid;
	int status;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(_call_sync(fd, 0, &call) == -EIO ? 0 : 1);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	close(fd);
}

/*
 * The sandbox keeps the vCPU (and so the VM) alive: closing the KVM fds
 * first, or the device, must not matter; and every order of closing is
 * clean.
 */
TEST_F(sandbox, close_order)
{
	struct raw_vm vm;
	int fd;

	raw_vm_create_ok(&vm);
	fd = sandbox_create(self->dev_fd, vm.vm_fd, vm.vcpu_fd);
	raw_vm_destroy(&vm);
	EXPECT_EQ(0, close(fd));

	raw_vm_create_ok(&vm);
	fd = sandbox_create(self->dev_fd, vm.vm_fd, vm.vcpu_fd);
	EXPECT_EQ(0, close(fd));
	raw_vm_destroy(&vm);
}

/* Many sandboxes in one process, each holding its own VM. */
TEST_F(sandbox, many)
{
	enum { N = 64 };
	struct raw_vm vms[N];
	int fds[N], i;

	for (i = 0; i < N; i++) {
		raw_vm_create_ok(&vms[i]);
		fds[i] = sandbox_create(self->dev_fd, vms[i].vm_fd,
					vms[i].vcpu_fd);
	}
	for (i = 0; i < N; i++) {
		raw_vm_destroy(&vms[i]);
		close(fds[i]);
	}
}

TEST_HARNESS_MAIN
