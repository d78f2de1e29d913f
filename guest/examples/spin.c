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

/* Busy for a while, then return: a call long enough to be interrupted. */
static int64_t spin_for(const int64_t *args)
{
	volatile int64_t i;

	for (i = 0; i < args[0]; i++)
		asm volatile("pause");
	return args[0];
}
CALLBOX_EXPORT(spin_for, 1);
