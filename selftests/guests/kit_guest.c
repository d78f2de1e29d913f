// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * A guest written the way a user would write one, outside guest/, and
 * built with the kit: make guest SRC=selftests/guests/kit_guest.c
 */
#include <callbox/guest.h>

/* Uses the heap and the log, so the kit links the whole SDK. */
static void triple(const struct callbox_wire_value *args,
		   struct callbox_wire_writer *result)
{
	int64_t *cell = malloc(sizeof(*cell));

	if (!cell) {
		callbox_fail("out of memory");
		return;
	}
	/* Unsigned, so that it wraps rather than overflows. */
	*cell = (int64_t)(3 * (uint64_t)args[0].i64);
	callbox_logf(CALLBOX_LOG_INFO, "triple(%lld)", (long long)args[0].i64);
	callbox_wire_put_i64(result, *cell);
	free(cell);
}
CALLBOX_EXPORT(triple, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64);
