// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Example guest: a function that never finishes, for tests of how the host
 * ends a call that does not end by itself.
 */
#include <callbox/guest.h>

/* Busy loop: the vCPU keeps running guest code and never exits. */
static int64_t spin(const int64_t *args)
{
	(void)args;
	for (;;)
		asm volatile("pause");
	return 0;	/* not reached */
}
CALLBOX_EXPORT(spin, 0);
