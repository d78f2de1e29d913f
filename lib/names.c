// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * libcallbox: the names of the kernel's numbers, as the CLI and the
 * inspection functions show them: call states, abort reasons and sandbox
 * states. Each name is the enum's, without its prefix: states in capitals
 * as uapi/linux/callbox.h draws them, the rest in lower case with '_', as
 * the kernel's sysfs files, debugfs and tracepoints name them.
 */
#include <linux/callbox_netlink.h>

#include <callbox/callbox.h>

#define NAME(table, i)							\
	((i) < sizeof(table) / sizeof((table)[0]) ? (table)[i] : NULL)

const char *callbox_call_state_name(uint32_t state)
{
	static const char *const names[] = {
		[CALLBOX_STATE_QUEUED] = "QUEUED",
		[CALLBOX_STATE_ENTERED] = "ENTERED",
		[CALLBOX_STATE_EXITED] = "EXITED",
		[CALLBOX_STATE_ABORTED] = "ABORTED",
		[CALLBOX_STATE_HOSTCALL] = "HOSTCALL",
	};

	return NAME(names, state);
}

const char *callbox_abort_reason_name(uint32_t reason)
{
	static const char *const names[] = {
		[CALLBOX_ABORT_NONE] = "none",
		[CALLBOX_ABORT_GUEST_ABORT] = "guest_abort",
		[CALLBOX_ABORT_SHUTDOWN] = "shutdown",
		[CALLBOX_ABORT_BAD_PORT] = "bad_port",
		[CALLBOX_ABORT_MMIO] = "mmio",
		[CALLBOX_ABORT_HALT] = "halt",
		[CALLBOX_ABORT_ENTRY_FAILED] = "entry_failed",
		[CALLBOX_ABORT_INTERNAL_ERROR] = "internal_error",
		[CALLBOX_ABORT_UNEXPECTED_EXIT] = "unexpected_exit",
		[CALLBOX_ABORT_KILLED] = "killed",
		[CALLBOX_ABORT_RUN_FAILED] = "run_failed",
		[CALLBOX_ABORT_CANCELLED] = "cancelled",
		[CALLBOX_ABORT_DEADLINE] = "deadline",
		[CALLBOX_ABORT_SANDBOX_CLOSED] = "sandbox_closed",
		[CALLBOX_ABORT_OWNER_EXITED] = "owner_exited",
	};

	return NAME(names, reason);
}

const char *callbox_sandbox_state_name(uint32_t state)
{
	static const char *const names[] = {
		[CALLBOX_NL_SANDBOX_IDLE] = "idle",
		[CALLBOX_NL_SANDBOX_RUNNING] = "running",
		[CALLBOX_NL_SANDBOX_POISONED] = "poisoned",
		[CALLBOX_NL_SANDBOX_SHUTDOWN] = "shutdown",
		[CALLBOX_NL_SANDBOX_RESTORING] = "restoring",
	};

	return NAME(names, state);
}
