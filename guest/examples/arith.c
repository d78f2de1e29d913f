// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Example guest: integer arithmetic, i64 in and i64 out, so the host can
 * call every function here with callbox_call_int().
 *
 * The host's arguments are arbitrary, so the arithmetic is done on unsigned
 * values, which wrap modulo 2^64 where signed overflow would be undefined.
 */
#include <callbox/guest.h>

static void add(const struct callbox_wire_value *args,
		struct callbox_wire_writer *result)
{
	callbox_wire_put_i64(result, (int64_t)((uint64_t)args[0].i64 +
					       (uint64_t)args[1].i64));
}
CALLBOX_EXPORT(add, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64);

static void sub(const struct callbox_wire_value *args,
		struct callbox_wire_writer *result)
{
	callbox_wire_put_i64(result, (int64_t)((uint64_t)args[0].i64 -
					       (uint64_t)args[1].i64));
}
CALLBOX_EXPORT(sub, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64);

static void mul(const struct callbox_wire_value *args,
		struct callbox_wire_writer *result)
{
	callbox_wire_put_i64(result, (int64_t)((uint64_t)args[0].i64 *
					       (uint64_t)args[1].i64));
}
CALLBOX_EXPORT(mul, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64);

/* The cheapest call there is, for measuring the call path itself. */
static void noop(const struct callbox_wire_value *args,
		 struct callbox_wire_writer *result)
{
	(void)args;
	callbox_wire_put_i64(result, 0);
}
CALLBOX_EXPORT(noop, CALLBOX_WIRE_I64);

/*
 * Writes @n pages of the heap, as a request that uses memory does, and
 * returns how many it wrote: the benchmark measures what putting the
 * guest back costs against the pages a request dirtied.
 */
static void dirty(const struct callbox_wire_value *args,
		  struct callbox_wire_writer *result)
{
	int64_t n = args[0].i64, i;
	volatile uint8_t *p;

	p = n > 0 ? callbox_malloc((size_t)n * 4096) : NULL;
	if (!p) {
		callbox_wire_put_i64(result, 0);
		return;
	}
	for (i = 0; i < n; i++)
		p[i * 4096] = (uint8_t)i;
	callbox_free((void *)p);
	callbox_wire_put_i64(result, n);
}
CALLBOX_EXPORT(dirty, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64);

/* fib(0) = 0, fib(1) = 1, ...; 0 for n < 0; wraps modulo 2^64. */
static void fib(const struct callbox_wire_value *args,
		struct callbox_wire_writer *result)
{
	uint64_t a = 0, b = 1, t;
	int64_t n;

	for (n = args[0].i64; n > 0; n--) {
		t = a + b;
		a = b;
		b = t;
	}
	callbox_wire_put_i64(result, (int64_t)a);
}
CALLBOX_EXPORT(fib, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64);

static void sum6(const struct callbox_wire_value *args,
		 struct callbox_wire_writer *result)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < 6; i++)
		sum += (uint64_t)args[i].i64;
	callbox_wire_put_i64(result, (int64_t)sum);
}
CALLBOX_EXPORT(sum6, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64,
	       CALLBOX_WIRE_I64, CALLBOX_WIRE_I64, CALLBOX_WIRE_I64,
	       CALLBOX_WIRE_I64);
