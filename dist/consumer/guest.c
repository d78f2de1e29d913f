// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * The outside project's guest, built with the installed SDK only:
 * pkg-config --cflags / --libs callbox-guest.
 */
#include <callbox/guest.h>

static void add3(const struct callbox_wire_value *args,
		 struct callbox_wire_writer *result)
{
	callbox_wire_put_i64(result, (int64_t)((uint64_t)args[0].i64 +
					       (uint64_t)args[1].i64 +
					       (uint64_t)args[2].i64));
}
CALLBOX_EXPORT(add3, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64,
	       CALLBOX_WIRE_I64);
