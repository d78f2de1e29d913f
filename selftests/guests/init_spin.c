// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * A guest whose init never ends, for call_test.c: only the load's own
 * limit, config.init_timeout_ns, stops it.
 */
#include <callbox/guest.h>

int callbox_guest_init(void)
{
	for (;;)
		asm volatile("pause");
}

static void ok(const struct callbox_wire_value *args,
	       struct callbox_wire_writer *result)
{
	(void)args;
	callbox_wire_put_i64(result, 7);
}
CALLBOX_EXPORT(ok, CALLBOX_WIRE_I64);
