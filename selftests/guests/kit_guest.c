// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * A guest written the way a user would write one, outside guest/, and
 * built with the kit: make guest SRC=selftests/guests/kit_guest.c
 */
#include <callbox/guest.h>

/* Uses the heap and the log, so the kit links the whole SDK. */
static int64_t triple(const int64_t *args)
{
	int64_t *cell = malloc(sizeof(*cell));
	int64_t result;

	if (!cell)
		callbox_abort_msg(1, "out of memory");
	*cell = 3 * args[0];
	callbox_logf(CALLBOX_LOG_INFO, "triple(%lld)", (long long)args[0]);
	result = *cell;
	free(cell);
	return result;
}
CALLBOX_EXPORT(triple, 1);
