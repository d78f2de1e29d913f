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

int callbox_call_sync_fd(int sandbox_fd, struct callbox_call_sync *out)
{
	*out = (struct callbox_call_sync) { .size = sizeof(*out) };
	if (ioctl(sandbox_fd, CALLBOX_CALL_SYNC, out))
		return -errno;
	return 0;
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

void callbox_describe_call(const struct callbox_call_sync *c, char *buf,
			   size_t len)
{
	uint64_t d = c->out_detail;

	if (c->out_state == CALLBOX_STATE_EXITED) {
		snprintf(buf, len, "exited with status %" PRIu32,
			 c->out_status);
		return;
	}
	if (c->out_state != CALLBOX_STATE_ABORTED) {
		snprintf(buf, len, "in unexpected state %" PRIu32,
			 c->out_state);
		return;
	}

	switch (c->out_reason) {
	case CALLBOX_ABORT_GUEST_ABORT:
		snprintf(buf, len, "guest aborted with code %" PRIu64, d);
		break;
	case CALLBOX_ABORT_SHUTDOWN:
		snprintf(buf, len,
			 "guest shut down (triple fault: a CPU exception it could not handle)");
		break;
	case CALLBOX_ABORT_BAD_PORT:
		snprintf(buf, len,
			 "guest accessed I/O port 0x%" PRIx64 " outside the callbox ABI (only 4-byte OUT to 0x%x/0x%x is allowed)",
			 d, CALLBOX_PORT_DONE, CALLBOX_PORT_ABORT);
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
			 c->out_exit_reason,
			 callbox_exit_name(c->out_exit_reason));
		break;
	case CALLBOX_ABORT_INTERRUPTED:
		snprintf(buf, len,
			 "interrupted by a signal while the guest was running");
		break;
	case CALLBOX_ABORT_RUN_FAILED:
		snprintf(buf, len, "KVM_RUN failed: %s",
			 strerror((int)-(int64_t)d));
		break;
	default:
		snprintf(buf, len, "aborted for unknown reason %" PRIu32,
			 c->out_reason);
		break;
	}
}
