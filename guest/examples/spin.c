// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Example guest: a function that never finishes, for tests of how the host
 * ends a call that does not end by itself.
 */
#include <callbox/guest.h>

/*
 * Busy loop: the vCPU keeps running guest code and never exits. It never
 * returns, but an export needs a result type: i64, like spin_for().
 */
static void spin(const struct callbox_wire_value *args,
		 struct callbox_wire_writer *result)
{
	(void)args;
	(void)result;
	for (;;)
		asm volatile("pause");
}
CALLBOX_EXPORT(spin, CALLBOX_WIRE_I64);

/* Busy for a while, then return: a call long enough to be interrupted. */
static void spin_for(const struct callbox_wire_value *args,
		     struct callbox_wire_writer *result)
{
	volatile int64_t i;

	for (i = 0; i < args[0].i64; i++)
		asm volatile("pause");
	callbox_wire_put_i64(result, args[0].i64);
}
CALLBOX_EXPORT(spin_for, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64);
