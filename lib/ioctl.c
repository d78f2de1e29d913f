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

int callbox_call_sync_fd(int sandbox_fd, uint64_t deadline_ns,
			 struct callbox_call_info *out)
{
	/* A zeroed out: a new call, never the continuation of another. */
	struct callbox_call_sync cmd = {
		.size = sizeof(cmd),
		.deadline_ns = deadline_ns,
	};
	int ret = ioctl(sandbox_fd, CALLBOX_CALL_SYNC, &cmd) ? -errno : 0;

	/* After EINTR, out names the call left parked. */
	if (!ret || ret == -EINTR)
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
	};
	int ret = ioctl(sandbox_fd, CALLBOX_CALL_RUN, &cmd) ? -errno : 0;

	if (!ret || ret == -EINTR)
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

static const char *callbox_exit_name(uint32_t exit_reason)
{
	/* The KVM_EXIT_* values a guest is likely to produce. */
	static const char *const names[] = {
		[0] = "UNKNOWN", [1] = "EXCEPTION", [2] = "IO",
		[3] = "HYPERCALL", [4] = "DEBUG", [5] = "HLT", [6] = "MMIO",
		[7] = "IRQ_WINDOW_OPEN", [8] = "SHUTDOWN", [9] = "FAIL_ENTRY",
		[10] = "INTR", [17] = "INTERNAL_ERROR",
	};

	if (exit_reason < sizeof(names) / sizeof(names[0]) &&
	    names[exit_reason])
		return names[exit_reason];
	return "?";
}

void callbox_describe_call(const struct callbox_call_info *c, char *buf,
			   size_t len)
{
	uint64_t d = c->detail;

	switch (c->state) {
	case CALLBOX_STATE_EXITED:
		snprintf(buf, len, "exited with status %" PRIu32, c->status);
		return;
	case CALLBOX_STATE_QUEUED:
		snprintf(buf, len, "queued");
		return;
	case CALLBOX_STATE_ENTERED:
		snprintf(buf, len, "running in the guest");
		return;
	case CALLBOX_STATE_HOSTCALL:
		snprintf(buf, len, "waiting on host function %" PRIu32,
			 c->status);
		return;
	case CALLBOX_STATE_ABORTED:
		break;
	default:
		snprintf(buf, len, "in unknown state %" PRIu32, c->state);
		return;
	}

	switch (c->reason) {
	case CALLBOX_ABORT_GUEST_ABORT:
		snprintf(buf, len, "guest aborted with code %" PRIu64, d);
		break;
	case CALLBOX_ABORT_SHUTDOWN:
		snprintf(buf, len,
			 "guest shut down (triple fault: a CPU exception it could not handle)");
		break;
	case CALLBOX_ABORT_BAD_PORT:
		snprintf(buf, len,
			 "guest accessed I/O port 0x%" PRIx64 " outside the callbox ABI (only 4-byte OUT to 0x%x, 0x%x or 0x%x is allowed)",
			 d, CALLBOX_PORT_DONE, CALLBOX_PORT_ABORT,
			 CALLBOX_PORT_HOSTCALL);
		break;
	case CALLBOX_ABORT_MMIO:
		snprintf(buf, len,
			 "guest accessed guest-physical address 0x%" PRIx64 ", which has no memory",
			 d);
		break;
	case CALLBOX_ABORT_HALT:
		snprintf(buf, len, "guest halted (HLT) with nothing to wake it");
		break;
	case CALLBOX_ABORT_ENTRY_FAILED:
		snprintf(buf, len,
			 "CPU refused to enter the guest (hardware reason 0x%" PRIx64 ")",
			 d);
		break;
	case CALLBOX_ABORT_INTERNAL_ERROR:
		snprintf(buf, len,
			 "KVM could not emulate the guest (suberror %" PRIu64 ")",
			 d);
		break;
	case CALLBOX_ABORT_UNEXPECTED_EXIT:
		snprintf(buf, len, "unexpected KVM exit %" PRIu32 " (%s)",
			 c->exit_reason, callbox_exit_name(c->exit_reason));
		break;
	case CALLBOX_ABORT_KILLED:
		snprintf(buf, len, "the thread running the guest was killed");
		break;
	case CALLBOX_ABORT_CANCELLED:
		snprintf(buf, len, "cancelled (%s)",
			 c->flags & CALLBOX_CALL_GUEST_RAN ?
			 "the guest had started" : "the guest never ran");
		break;
	case CALLBOX_ABORT_DEADLINE:
		snprintf(buf, len, "deadline passed (%s)",
			 c->flags & CALLBOX_CALL_GUEST_RAN ?
			 "the guest had started" : "the guest never ran");
		break;
	case CALLBOX_ABORT_SANDBOX_CLOSED:
		snprintf(buf, len, "the sandbox was closed");
		break;
	case CALLBOX_ABORT_OWNER_EXITED:
		snprintf(buf, len,
			 "the thread that had to continue it exited (%s)",
			 c->state == CALLBOX_STATE_ABORTED &&
			 c->flags & CALLBOX_CALL_GUEST_RAN ?
			 "the guest had started" : "the guest never ran");
		break;
	case CALLBOX_ABORT_RUN_FAILED:
		snprintf(buf, len, "KVM_RUN failed: %s",
			 strerror((int)-(int64_t)d));
		break;
	default:
		snprintf(buf, len, "aborted for unknown reason %" PRIu32,
			 c->reason);
		break;
	}
}
