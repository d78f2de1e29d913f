// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Example guest: every type there is, echoed and added up, for anyone who
 * wants to see what a typed call looks like, and for the round-trip tests.
 *
 * Integer arithmetic is done on unsigned values, which wrap where signed
 * overflow would be undefined. Floating point is the program's own (guest
 * programs keep SSE; only the SDK does without).
 */
#include <callbox/guest.h>

/* echo_T(T) returns its argument, bit for bit. */
#define ECHO(name, type, put)						\
	static void name(const struct callbox_wire_value *args,	\
			 struct callbox_wire_writer *result)		\
	{								\
		put;							\
	}								\
	CALLBOX_EXPORT(name, type, type)

ECHO(echo_i32, CALLBOX_WIRE_I32, callbox_wire_put_i32(result, args[0].i32));
ECHO(echo_u32, CALLBOX_WIRE_U32, callbox_wire_put_u32(result, args[0].u32));
ECHO(echo_i64, CALLBOX_WIRE_I64, callbox_wire_put_i64(result, args[0].i64));
ECHO(echo_u64, CALLBOX_WIRE_U64, callbox_wire_put_u64(result, args[0].u64));
ECHO(echo_f32, CALLBOX_WIRE_F32,
     callbox_wire_put_f32_bits(result, args[0].f32_bits));
ECHO(echo_f64, CALLBOX_WIRE_F64,
     callbox_wire_put_f64_bits(result, args[0].f64_bits));
ECHO(echo_bool, CALLBOX_WIRE_BOOL, callbox_wire_put_bool(result, args[0].b));
ECHO(echo_string, CALLBOX_WIRE_STRING,
     callbox_wire_put_string_n(result, (const char *)args[0].data,
			       args[0].len));
ECHO(echo_bytes, CALLBOX_WIRE_BYTES,
     callbox_wire_put_bytes(result, args[0].data, args[0].len));

/* Takes nothing, returns nothing. */
static void nothing(const struct callbox_wire_value *args,
		    struct callbox_wire_writer *result)
{
	(void)args;
	(void)result;
}
CALLBOX_EXPORT(nothing, CALLBOX_WIRE_VOID);

/* add_T(T, T): the sum, wrapping for integers. */
#define ADD(name, type, put)						\
	static void name(const struct callbox_wire_value *args,	\
			 struct callbox_wire_writer *result)		\
	{								\
		put;							\
	}								\
	CALLBOX_EXPORT(name, type, type, type)

ADD(add_i32, CALLBOX_WIRE_I32,
    callbox_wire_put_i32(result, (int32_t)((uint32_t)args[0].i32 +
					   (uint32_t)args[1].i32)));
ADD(add_u32, CALLBOX_WIRE_U32,
    callbox_wire_put_u32(result, args[0].u32 + args[1].u32));
ADD(add_i64, CALLBOX_WIRE_I64,
    callbox_wire_put_i64(result, (int64_t)((uint64_t)args[0].i64 +
					   (uint64_t)args[1].i64)));
ADD(add_u64, CALLBOX_WIRE_U64,
    callbox_wire_put_u64(result, args[0].u64 + args[1].u64));
ADD(add_f32, CALLBOX_WIRE_F32,
    callbox_wire_put_f32(result, args[0].f32 + args[1].f32));
ADD(add_f64, CALLBOX_WIRE_F64,
    callbox_wire_put_f64(result, args[0].f64 + args[1].f64));

/* Logical and of two bools. */
static void and_bool(const struct callbox_wire_value *args,
		     struct callbox_wire_writer *result)
{
	callbox_wire_put_bool(result, args[0].b && args[1].b);
}
CALLBOX_EXPORT(and_bool, CALLBOX_WIRE_BOOL, CALLBOX_WIRE_BOOL,
	       CALLBOX_WIRE_BOOL);

/* The two strings one after the other. */
static void concat(const struct callbox_wire_value *args,
		   struct callbox_wire_writer *result)
{
	uint32_t len = args[0].len + args[1].len;
	char *s;

	/* The input buffer bounds both lengths far below 4 GiB. */
	s = malloc((size_t)len + 1);
	if (!s) {
		callbox_fail("no memory for %u bytes", len);
		return;
	}
	memcpy(s, args[0].data, args[0].len);
	memcpy(s + args[0].len, args[1].data, args[1].len + 1);
	callbox_wire_put_string_n(result, s, len);
	free(s);
}
CALLBOX_EXPORT(concat, CALLBOX_WIRE_STRING, CALLBOX_WIRE_STRING,
	       CALLBOX_WIRE_STRING);

/* The sum of the bytes, to check that every byte arrived. */
static void bytes_sum(const struct callbox_wire_value *args,
		      struct callbox_wire_writer *result)
{
	uint64_t sum = 0;
	uint32_t i;

	for (i = 0; i < args[0].len; i++)
		sum += args[0].data[i];
	callbox_wire_put_u64(result, sum);
}
CALLBOX_EXPORT(bytes_sum, CALLBOX_WIRE_U64, CALLBOX_WIRE_BYTES);

/* The most parameters a function may have: 32, all added up. */
#define I64 CALLBOX_WIRE_I64
static void sum32(const struct callbox_wire_value *args,
		  struct callbox_wire_writer *result)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < 32; i++)
		sum += (uint64_t)args[i].i64;
	callbox_wire_put_i64(result, (int64_t)sum);
}
CALLBOX_EXPORT(sum32, I64, I64, I64, I64, I64, I64, I64, I64, I64, I64, I64,
	       I64, I64, I64, I64, I64, I64, I64, I64, I64, I64, I64, I64, I64,
	       I64, I64, I64, I64, I64, I64, I64, I64, I64);
#undef I64

/*
 * One parameter of every type, described in words: shows that values of
 * mixed types and sizes arrive in order and intact.
 */
static void describe(const struct callbox_wire_value *args,
		     struct callbox_wire_writer *result)
{
	char text[512];

	callbox_snprintf(text, sizeof(text),
			 "i32 %d, u32 %u, i64 %lld, u64 %llu, f32 %#x, f64 %#llx, bool %s, string '%s' (%u), bytes %u",
			 args[0].i32, args[1].u32, (long long)args[2].i64,
			 (unsigned long long)args[3].u64, args[4].f32_bits,
			 (unsigned long long)args[5].f64_bits,
			 args[6].b ? "true" : "false",
			 (const char *)args[7].data, args[7].len, args[8].len);
	callbox_wire_put_string(result, text);
}
CALLBOX_EXPORT(describe, CALLBOX_WIRE_STRING, CALLBOX_WIRE_I32,
	       CALLBOX_WIRE_U32, CALLBOX_WIRE_I64, CALLBOX_WIRE_U64,
	       CALLBOX_WIRE_F32, CALLBOX_WIRE_F64, CALLBOX_WIRE_BOOL,
	       CALLBOX_WIRE_STRING, CALLBOX_WIRE_BYTES);

/* A result of @len bytes of 'x', to test what a result may be. */
static void make_string(const struct callbox_wire_value *args,
			struct callbox_wire_writer *result)
{
	char *s = malloc((size_t)args[0].u32 + 1);

	if (!s) {
		callbox_fail("no memory for %u bytes", args[0].u32);
		return;
	}
	memset(s, 'x', args[0].u32);
	callbox_wire_put_string_n(result, s, args[0].u32);
	free(s);
}
CALLBOX_EXPORT(make_string, CALLBOX_WIRE_STRING, CALLBOX_WIRE_U32);

/* Declares an i64 and returns a string: the runtime must catch it. */
static void lies_about_type(const struct callbox_wire_value *args,
			    struct callbox_wire_writer *result)
{
	(void)args;
	callbox_wire_put_string(result, "not an i64");
}
CALLBOX_EXPORT(lies_about_type, CALLBOX_WIRE_I64);
