// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * libcallbox: the guest's log. A guest logs through a host call
 * (CALLBOX_HOSTCALL_LOG) with its record in the mailbox; the host filters
 * by its own threshold and hands the message, made printable, to the log
 * callback, or writes it to stderr.
 */
#include <stdio.h>

#include "sandbox.h"

static const char *const log_level_names[] = {
	[0] = "off",
	[CALLBOX_LOG_ERROR] = "error", [CALLBOX_LOG_WARN] = "warn",
	[CALLBOX_LOG_INFO] = "info", [CALLBOX_LOG_DEBUG] = "debug",
	[CALLBOX_LOG_TRACE] = "trace",
};

const char *callbox_log_level_name(unsigned int level)
{
	if (level >= sizeof(log_level_names) / sizeof(log_level_names[0]))
		return NULL;
	return log_level_names[level];
}

void callbox_sandbox_set_log_fn(struct callbox_sandbox *sb, callbox_log_fn fn,
				void *opaque)
{
	sb->log_fn = fn;
	sb->log_opaque = opaque;
}

/* Hand the guest's log record to the log callback, if its level passes. */
void sandbox_deliver_log(struct callbox_sandbox *sb)
{
	const struct callbox_log_record *rec = &sandbox_mailbox(sb)->log;
	char message[CALLBOX_LOG_MESSAGE_MAX];
	uint32_t level = rec->level;

	/* The guest filters too, but the threshold is the host's. */
	if (level < CALLBOX_LOG_ERROR || level > sb->cfg.log_level)
		return;
	sandbox_guest_string(rec->message, CALLBOX_LOG_MESSAGE_MAX, message,
			     sizeof(message));
	if (sb->log_fn)
		sb->log_fn(sb, level, message, sb->log_opaque);
	else
		fprintf(stderr, "callbox[%d] %s: %s\n", sb->sandbox_fd,
			callbox_log_level_name(level), message);
}
