// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * libcallbox: the thin ioctl layer. One uapi struct, one syscall, -errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <callbox/callbox.h>

int callbox_open(void)
{
	int fd = open("/dev/callbox", O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int callbox_sandbox_create_fd(int dev_fd, int vm_fd, int vcpu_fd)
{
	struct callbox_sandbox_create cmd = {
		.size = sizeof(cmd),
		.vm_fd = vm_fd,
		.vcpu_fd = vcpu_fd,
	};

	if (ioctl(dev_fd, CALLBOX_SANDBOX_CREATE, &cmd))
		return -errno;
	return cmd.out_sandbox_fd;
}

/*
 * CALL_SYNC, RUN and BATCH take @out in and give it back: as an
 * interruption left it (EINTR, EOPNOTSUPP), it continues the parked
 * call; zeroed, or as any other outcome left it, it asks for something
 * new (the kernel ignores it then). So it is copied back on every return.
 */
int callbox_call_sync_fd(int sandbox_fd, uint64_t deadline_ns,
			 struct callbox_call_info *out)
{
	struct callbox_call_sync cmd = {
		.size = sizeof(cmd),
		.deadline_ns = deadline_ns,
		.out = *out,
	};
	int ret = ioctl(sandbox_fd, CALLBOX_CALL_SYNC, &cmd) ? -errno : 0;

	*out = cmd.out;
	return ret;
}

int callbox_call_submit_fd(int sandbox_fd, uint64_t deadline_ns, uint64_t *id)
{
	struct callbox_call_submit cmd = {
		.size = sizeof(cmd),
		.deadline_ns = deadline_ns,
	};

	if (ioctl(sandbox_fd, CALLBOX_CALL_SUBMIT, &cmd))
		return -errno;
	*id = cmd.out_id;
	return 0;
}

int callbox_call_run_fd(int sandbox_fd, uint64_t id, uint32_t flags,
			struct callbox_call_info *out)
{
	struct callbox_call_run cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.id = id,
		.out = *out,
	};
	int ret = ioctl(sandbox_fd, CALLBOX_CALL_RUN, &cmd) ? -errno : 0;

	*out = cmd.out;
	return ret;
}

int callbox_call_batch_fd(int sandbox_fd, const uint64_t *ids, uint32_t nr,
			  uint32_t *done, struct callbox_call_info *out)
{
	struct callbox_call_batch cmd = {
		.size = sizeof(cmd),
		.ids = (uintptr_t)ids,
		.nr = nr,
		.done = *done,
		.out = *out,
	};
	int ret = ioctl(sandbox_fd, CALLBOX_CALL_BATCH, &cmd) ? -errno : 0;

	/* The kernel writes @done back as calls end, errors or not. */
	*done = cmd.done;
	*out = cmd.out;
	return ret;
}

int callbox_call_wait_fd(int sandbox_fd, uint64_t id, uint64_t deadline_ns,
			 struct callbox_call_info *out)
{
	struct callbox_call_wait cmd = {
		.size = sizeof(cmd),
		.id = id,
		.deadline_ns = deadline_ns,
	};

	if (ioctl(sandbox_fd, CALLBOX_CALL_WAIT, &cmd))
		return -errno;
	*out = cmd.out;
	return 0;
}

int callbox_call_get_fd(int sandbox_fd, uint64_t id,
			struct callbox_call_info *out)
{
	struct callbox_call_get cmd = {
		.size = sizeof(cmd),
		.id = id,
	};

	if (ioctl(sandbox_fd, CALLBOX_CALL_GET, &cmd))
		return -errno;
	*out = cmd.out;
	return 0;
}

int callbox_call_cancel_fd(int sandbox_fd, uint64_t id)
{
	struct callbox_call_cancel cmd = {
		.size = sizeof(cmd),
		.id = id,
	};

	return ioctl(sandbox_fd, CALLBOX_CALL_CANCEL, &cmd) ? -errno : 0;
}

int callbox_sandbox_reset_fd(int sandbox_fd, uint64_t deadline_ns,
			     uint64_t *id)
{
	struct callbox_sandbox_reset cmd = {
		.size = sizeof(cmd),
		.deadline_ns = deadline_ns,
	};

	if (ioctl(sandbox_fd, CALLBOX_SANDBOX_RESET, &cmd))
		return -errno;
	*id = cmd.out_id;
	return 0;
}

int callbox_sandbox_restore_fd(int sandbox_fd, uint32_t op, uint64_t *id)
{
	struct callbox_sandbox_restore cmd = {
		.size = sizeof(cmd),
		.op = op,
		.id = *id,
	};

	if (ioctl(sandbox_fd, CALLBOX_SANDBOX_RESTORE, &cmd))
		return -errno;
	*id = cmd.id;
	return op == CALLBOX_RESTORE_BEGIN && cmd.out_poisoned;
}

int callbox_sandbox_shutdown_fd(int sandbox_fd)
{
	struct callbox_sandbox_shutdown cmd = { .size = sizeof(cmd) };

	return ioctl(sandbox_fd, CALLBOX_SANDBOX_SHUTDOWN, &cmd) ? -errno : 0;
}

uint64_t callbox_deadline_after(uint64_t ns)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec + ns;
}
