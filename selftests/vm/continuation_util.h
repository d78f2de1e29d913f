/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the continuation suites share (continuation_test,
 * continuation_hostcall_test): the three commands that run a call, each
 * with its request, size and where its @out is.
 */
#ifndef CALLBOX_CONTINUATION_UTIL_H
#define CALLBOX_CONTINUATION_UTIL_H

#include <stddef.h>

#include "callbox_util.h"

enum command { RUN, BATCH, SYNC };

static const struct {
	unsigned long request;
	size_t size, out;
} commands[] = {
	[RUN] = { CALLBOX_CALL_RUN, sizeof(struct callbox_call_run),
		  offsetof(struct callbox_call_run, out) },
	[BATCH] = { CALLBOX_CALL_BATCH, sizeof(struct callbox_call_batch),
		    offsetof(struct callbox_call_batch, out) },
	[SYNC] = { CALLBOX_CALL_SYNC, sizeof(struct callbox_call_sync),
		   offsetof(struct callbox_call_sync, out) },
};

#endif /* CALLBOX_CONTINUATION_UTIL_H */
