// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Example guest: integer arithmetic.
 *
 * The host's arguments are arbitrary, so the arithmetic is done on unsigned
 * values, which wrap modulo 2^64 where signed overflow would be undefined.
 */
#include <callbox/guest.h>

static int64_t add(const int64_t *args)
{
	return (int64_t)((uint64_t)args[0] + (uint64_t)args[1]);
}
CALLBOX_EXPORT(add, 2);

static int64_t sub(const int64_t *args)
{
	return (int64_t)((uint64_t)args[0] - (uint64_t)args[1]);
}
CALLBOX_EXPORT(sub, 2);

static int64_t mul(const int64_t *args)
{
	return (int64_t)((uint64_t)args[0] * (uint64_t)args[1]);
}
CALLBOX_EXPORT(mul, 2);

static int64_t noop(const int64_t *args)
{
	(void)args;
	return 0;
}
CALLBOX_EXPORT(noop, 0);

/* fib(0) = 0, fib(1) = 1, ...; 0 for n < 0; wraps modulo 2^64. */
static int64_t fib(const int64_t *args)
{
	uint64_t a = 0, b = 1, t;
	int64_t n;

	for (n = args[0]; n > 0; n--) {
		t = a + b;
		a = b;
		b = t;
	}
	return (int64_t)a;
}
CALLBOX_EXPORT(fib, 1);

static int64_t sum6(const int64_t *args)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < 6; i++)
		sum += (uint64_t)args[i];
	return (int64_t)sum;
}
CALLBOX_EXPORT(sum6, 6);
