// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of the typed-value wire format's codec (shared/wire.c),
 * compiled natively under ASan and UBSan.
 *
 * The reader is fed hostile messages. Each is copied into a heap buffer
 * of exactly its size first, so that ASan reports a read of even one byte
 * past the end, which a bigger buffer would hide.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <callbox/wire.h>

/*
 * The 6.1 harness, and the TEST() wrappers it expands to in this file, have
 * unused parameters, which -Wextra -Werror would reject.
 */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"

#define HDR	CALLBOX_WIRE_HEADER_SIZE
#define MIB	(1u << 20)

/* The header promises Linux's numbers without including <errno.h>. */
_Static_assert(CALLBOX_WIRE_E2BIG == E2BIG, "E2BIG");
_Static_assert(CALLBOX_WIRE_EINVAL == EINVAL, "EINVAL");
_Static_assert(CALLBOX_WIRE_EBADMSG == EBADMSG, "EBADMSG");

/* A fixed-seed PRNG (xorshift64*), so that failures reproduce. */
static uint64_t rng_state = 1;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* A copy of @p in a heap buffer of exactly @n bytes, for ASan to guard. */
static uint8_t *exact_copy(const void *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);

	if (q && n)
		memcpy(q, p, n);
	return q;
}

/* ---- hand-built messages, for the reader's error paths ---- */

struct raw {
	uint8_t b[512];
	size_t n;
};

static void raw_bytes(struct raw *m, const void *p, size_t n)
{
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void raw_u8(struct raw *m, uint8_t v)
{
	raw_bytes(m, &v, 1);
}

static void raw_u16(struct raw *m, uint16_t v)
{
	raw_bytes(m, &v, 2);
}

static void raw_u32(struct raw *m, uint32_t v)
{
	raw_bytes(m, &v, 4);
}

/* A header whose length is patched by raw_end(). */
static void raw_start(struct raw *m, uint16_t count)
{
	m->n = 0;
	raw_u32(m, CALLBOX_WIRE_MAGIC);
	raw_u16(m, CALLBOX_WIRE_VERSION);
	raw_u16(m, count);
	raw_u32(m, 0);
}

/* Set the header's length to the bytes written so far. */
static void raw_end(struct raw *m)
{
	uint32_t len = (uint32_t)m->n;

	memcpy(m->b + 8, &len, 4);
}

/* For expect_bad(): the error may be anywhere within the message. */
#define ANY_OFFSET	UINT32_MAX

/*
 * Decode @n bytes at @p (from an exact copy) to the end or the first
 * error; the error must be -EBADMSG, at @offset, with a message holding
 * @what. Returns the reader for further checks.
 */
static struct callbox_wire_reader
expect_bad(struct __test_metadata *_metadata, int line, const void *p,
	   size_t n, uint32_t offset, const char *what)
{
	struct callbox_wire_reader r;
	struct callbox_wire_value v;
	uint8_t *copy = exact_copy(p, n);
	int ret, values = 0;

	ASSERT_NE(NULL, copy);
	ret = callbox_wire_reader_init(&r, copy, n);
	while (!ret) {
		ret = callbox_wire_next(&r, &v);
		if (ret == 1) {
			values++;
			ret = 0;
		} else if (ret == 0) {
			TH_LOG("line %d: a bad message decoded (%d values)",
			       line, values);
			ret = 1;
		}
	}
	EXPECT_EQ(-EBADMSG, ret) TH_LOG("line %d", line);
	ASSERT_NE(NULL, r.err) TH_LOG("line %d: no error message", line);
	if (offset == ANY_OFFSET)
		offset = r.err_offset <= n ? r.err_offset : ANY_OFFSET;
	EXPECT_EQ(offset, r.err_offset)
		TH_LOG("line %d: \"%s\" (value %llu)", line, r.err,
		       (unsigned long long)r.err_value);
	EXPECT_NE(NULL, strstr(r.err, what))
		TH_LOG("line %d: \"%s\", expected \"%s\"", line, r.err, what);
	/* The error sticks. */
	EXPECT_EQ(-EBADMSG, callbox_wire_next(&r, &v));
	free(copy);
	return r;
}

#define EXPECT_BAD(p, n, offset, what) \
	expect_bad(_metadata, __LINE__, p, n, offset, what)

/* ---- values, for round trips ---- */

/* A value to put; STRING and BYTES point at their bytes. */
struct val {
	uint8_t type;
	uint64_t bits;
	const void *data;
	size_t len;
};

static int put_val(struct callbox_wire_writer *w, const struct val *v)
{
	switch (v->type) {
	case CALLBOX_WIRE_VOID:
		return callbox_wire_put_void(w);
	case CALLBOX_WIRE_I32:
		return callbox_wire_put_i32(w, (int32_t)v->bits);
	case CALLBOX_WIRE_U32:
		return callbox_wire_put_u32(w, (uint32_t)v->bits);
	case CALLBOX_WIRE_I64:
		return callbox_wire_put_i64(w, (int64_t)v->bits);
	case CALLBOX_WIRE_U64:
		return callbox_wire_put_u64(w, v->bits);
	case CALLBOX_WIRE_F32:
		return callbox_wire_put_f32_bits(w, (uint32_t)v->bits);
	case CALLBOX_WIRE_F64:
		return callbox_wire_put_f64_bits(w, v->bits);
	case CALLBOX_WIRE_BOOL:
		return callbox_wire_put_bool(w, v->bits);
	case CALLBOX_WIRE_STRING:
		return callbox_wire_put_string_n(w, v->data, v->len);
	case CALLBOX_WIRE_BYTES:
		return callbox_wire_put_bytes(w, v->data, v->len);
	}
	return -1;
}

/* What a decoded value should hold, in the member of its type. */
static bool same_val(const struct callbox_wire_value *got,
		     const struct val *want)
{
	if (got->type != want->type)
		return false;
	switch (want->type) {
	case CALLBOX_WIRE_VOID:
		return got->u64 == 0 && !got->data && !got->len;
	case CALLBOX_WIRE_I32:
		return got->i32 == (int32_t)want->bits && !got->data;
	case CALLBOX_WIRE_U32:
	case CALLBOX_WIRE_F32:
		return got->u32 == (uint32_t)want->bits && !got->data;
	case CALLBOX_WIRE_I64:
		return got->i64 == (int64_t)want->bits && !got->data;
	case CALLBOX_WIRE_U64:
	case CALLBOX_WIRE_F64:
		return got->u64 == want->bits && !got->data;
	case CALLBOX_WIRE_BOOL:
		return got->b == !!want->bits && got->u64 == !!want->bits;
	case CALLBOX_WIRE_STRING:
		/* The NUL after it is what makes @data a C string. */
		if (!got->data || got->data[got->len])
			return false;
		/* fall through */
	case CALLBOX_WIRE_BYTES:
		return got->u64 == 0 && got->len == want->len &&
		       (!want->len || !memcmp(got->data, want->data, want->len));
	}
	return false;
}

/*
 * Encode @n values into a buffer of exactly the needed size, decode them
 * back (from an exact copy) and compare. Returns the message's length.
 */
static size_t round_trip(struct __test_metadata *_metadata, int line,
			 const struct val *vals, size_t n)
{
	struct callbox_wire_writer w;
	struct callbox_wire_reader r;
	struct callbox_wire_value v;
	size_t need = HDR, i;
	uint8_t *buf;
	int64_t len;

	for (i = 0; i < n; i++) {
		need += 1 + (vals[i].type == CALLBOX_WIRE_STRING ||
			     vals[i].type == CALLBOX_WIRE_BYTES ?
			     4 + vals[i].len : 0);
		switch (vals[i].type) {
		case CALLBOX_WIRE_STRING:
			need += 1;	/* the NUL, which the length omits */
			break;
		case CALLBOX_WIRE_I32: case CALLBOX_WIRE_U32:
		case CALLBOX_WIRE_F32:
			need += 4;
			break;
		case CALLBOX_WIRE_I64: case CALLBOX_WIRE_U64:
		case CALLBOX_WIRE_F64:
			need += 8;
			break;
		case CALLBOX_WIRE_BOOL:
			need += 1;
			break;
		}
	}
	buf = malloc(need);
	ASSERT_NE(NULL, buf);
	callbox_wire_writer_init(&w, buf, need);
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, put_val(&w, &vals[i])) TH_LOG("line %d: value %zu",
							   line, i);
	len = callbox_wire_writer_finish(&w);
	ASSERT_EQ((int64_t)need, len) TH_LOG("line %d", line);

	ASSERT_EQ(0, callbox_wire_reader_init(&r, buf, need))
		TH_LOG("line %d: %s", line, r.err);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(1, callbox_wire_next(&r, &v))
			TH_LOG("line %d: value %zu: %s at %u", line, i, r.err,
			       r.err_offset);
		EXPECT_TRUE(same_val(&v, &vals[i]))
			TH_LOG("line %d: value %zu (%s) differs", line, i,
			       callbox_wire_type_name(vals[i].type));
	}
	ASSERT_EQ(0, callbox_wire_next(&r, &v)) TH_LOG("line %d: %s", line, r.err);
	EXPECT_EQ(0, callbox_wire_next(&r, &v));
	EXPECT_EQ(NULL, r.err);
	free(buf);
	return need;
}

#define ROUND_TRIP(vals, n) round_trip(_metadata, __LINE__, vals, n)

#define I32(x)	{ CALLBOX_WIRE_I32, (uint32_t)(int32_t)(x), NULL, 0 }
#define U32(x)	{ CALLBOX_WIRE_U32, (uint32_t)(x), NULL, 0 }
#define I64(x)	{ CALLBOX_WIRE_I64, (uint64_t)(int64_t)(x), NULL, 0 }
#define U64(x)	{ CALLBOX_WIRE_U64, (uint64_t)(x), NULL, 0 }
#define F32(x)	{ CALLBOX_WIRE_F32, (uint32_t)(x), NULL, 0 }
#define F64(x)	{ CALLBOX_WIRE_F64, (uint64_t)(x), NULL, 0 }
#define BOOL(x)	{ CALLBOX_WIRE_BOOL, (x), NULL, 0 }
#define STR(s)	{ CALLBOX_WIRE_STRING, 0, s, sizeof(s) - 1 }
#define BYTES(p, n) { CALLBOX_WIRE_BYTES, 0, p, n }
#define VOID	{ CALLBOX_WIRE_VOID, 0, NULL, 0 }

TEST(round_trip_every_type)
{
	static const uint8_t odd[] = { 0, 0xff, 0x80, 0, 1 };
	const struct val vals[] = {
		I32(INT32_MIN), I32(INT32_MAX), I32(0), I32(-1),
		U32(0), U32(UINT32_MAX),
		I64(INT64_MIN), I64(INT64_MAX), I64(-1),
		U64(0), U64(UINT64_MAX),
		F32(0x7fa00001),	/* signalling NaN with a payload */
		F32(0xffc12345),	/* negative quiet NaN with a payload */
		F32(0x80000000),	/* -0.0f */
		F32(0x7f800000), F32(0xff800000),	/* +-inf */
		F32(0x00000001),	/* the smallest subnormal */
		F64(0x7ff0000000000001ull),	/* signalling NaN, payload 1 */
		F64(0xfff8deadbeef0042ull),	/* quiet NaN with a payload */
		F64(0x8000000000000000ull),	/* -0.0 */
		F64(0x7ff0000000000000ull), F64(0xfff0000000000000ull),
		BOOL(true), BOOL(false),
		STR(""), STR("hello, wire"),
		BYTES(NULL, 0), BYTES(odd, sizeof(odd)),
		VOID,
	};

	ROUND_TRIP(vals, sizeof(vals) / sizeof(vals[0]));
}

/* The format, byte by byte: guards against drift in either direction. */
TEST(exact_encoding)
{
	static const uint8_t want[] = {
		0x43, 0x42, 0x57, 0x31,		/* "CBW1" */
		0x02, 0x00,			/* version 2 */
		0x05, 0x00,			/* 5 values */
		0x2c, 0x00, 0x00, 0x00,		/* 44 bytes */
		0x01, 0xfe, 0xff, 0xff, 0xff,	/* i32 -2 */
		0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f,
						/* f64 1.0 */
		0x07, 0x01,			/* bool true */
		0x08, 0x02, 0x00, 0x00, 0x00, 'h', 'i', 0x00,
						/* string "hi", NUL */
		0x09, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02,
						/* bytes 00 01 02, no NUL */
	};
	static const uint8_t three[] = { 0, 1, 2 };
	struct callbox_wire_writer w;
	struct callbox_wire_reader r;
	struct callbox_wire_value v;
	uint8_t buf[64];

	memset(buf, 0xaa, sizeof(buf));
	callbox_wire_writer_init(&w, buf, sizeof(buf));
	ASSERT_EQ(0, callbox_wire_put_i32(&w, -2));
	ASSERT_EQ(0, callbox_wire_put_f64(&w, 1.0));
	ASSERT_EQ(0, callbox_wire_put_bool(&w, true));
	ASSERT_EQ(0, callbox_wire_put_string(&w, "hi"));
	ASSERT_EQ(0, callbox_wire_put_bytes(&w, three, 3));
	ASSERT_EQ((int64_t)sizeof(want), callbox_wire_writer_finish(&w));
	EXPECT_EQ(0, memcmp(buf, want, sizeof(want)));
	/* Nothing written past the message. */
	EXPECT_EQ(0xaa, buf[sizeof(want)]);

	/* The float members alias the bits, for code that has SSE. */
	ASSERT_EQ(0, callbox_wire_reader_init(&r, want, sizeof(want)));
	ASSERT_EQ(1, callbox_wire_next(&r, &v));
	ASSERT_EQ(1, callbox_wire_next(&r, &v));
	EXPECT_EQ(CALLBOX_WIRE_F64, v.type);
	EXPECT_TRUE(v.f64 == 1.0);
}

TEST(float_conveniences_keep_bits)
{
	struct callbox_wire_writer w;
	struct callbox_wire_reader r;
	struct callbox_wire_value v;
	uint8_t buf[64];
	float nf = -NAN;
	double nd = NAN;
	uint32_t nf_bits;
	uint64_t nd_bits;

	memcpy(&nf_bits, &nf, 4);
	memcpy(&nd_bits, &nd, 8);
	callbox_wire_writer_init(&w, buf, sizeof(buf));
	ASSERT_EQ(0, callbox_wire_put_f32(&w, -0.0f));
	ASSERT_EQ(0, callbox_wire_put_f32(&w, nf));
	ASSERT_EQ(0, callbox_wire_put_f64(&w, -INFINITY));
	ASSERT_EQ(0, callbox_wire_put_f64(&w, nd));
	ASSERT_LT(0, callbox_wire_writer_finish(&w));

	ASSERT_EQ(0, callbox_wire_reader_init(&r, buf, sizeof(buf)));
	ASSERT_EQ(1, callbox_wire_next(&r, &v));
	EXPECT_EQ(0x80000000u, v.f32_bits);
	EXPECT_TRUE(v.f32 == 0.0f && signbit(v.f32));
	ASSERT_EQ(1, callbox_wire_next(&r, &v));
	EXPECT_EQ(nf_bits, v.f32_bits);
	EXPECT_TRUE(isnan(v.f32));
	ASSERT_EQ(1, callbox_wire_next(&r, &v));
	EXPECT_TRUE(isinf(v.f64) && v.f64 < 0);
	ASSERT_EQ(1, callbox_wire_next(&r, &v));
	EXPECT_EQ(nd_bits, v.f64_bits);
	EXPECT_EQ(0, callbox_wire_next(&r, &v));
}

TEST(one_mib_string_and_bytes)
{
	char *s = malloc(MIB);
	uint8_t *b = malloc(MIB);
	size_t i;

	ASSERT_NE(NULL, s);
	ASSERT_NE(NULL, b);
	for (i = 0; i < MIB; i++) {
		s[i] = 'a' + i % 26;
		b[i] = (uint8_t)rng();
	}
	{
		const struct val vals[] = {
			{ CALLBOX_WIRE_STRING, 0, s, MIB },
			{ CALLBOX_WIRE_BYTES, 0, b, MIB },
			I32(7),
		};

		/* The string has its NUL after it, the bytes do not. */
		EXPECT_EQ(HDR + (5 + MIB + 1) + (5 + MIB) + 5,
			  ROUND_TRIP(vals, sizeof(vals) / sizeof(vals[0])));
	}
	free(s);
	free(b);
}

TEST(empty_message_and_void)
{
	const struct val one_void[] = { VOID };

	EXPECT_EQ(HDR, ROUND_TRIP(NULL, 0));
	EXPECT_EQ(HDR + 1, ROUND_TRIP(one_void, 1));
}

TEST(max_values)
{
	struct val vals[CALLBOX_WIRE_MAX_VALUES];
	struct callbox_wire_writer w;
	uint8_t buf[1024];
	size_t i;

	ASSERT_EQ(33, CALLBOX_WIRE_MAX_VALUES);
	for (i = 0; i < CALLBOX_WIRE_MAX_VALUES; i++)
		vals[i] = (struct val)U64(i * 0x0101010101010101ull);
	ROUND_TRIP(vals, CALLBOX_WIRE_MAX_VALUES);

	/* The 34th is refused, even with room to spare, and it sticks. */
	callbox_wire_writer_init(&w, buf, sizeof(buf));
	for (i = 0; i < CALLBOX_WIRE_MAX_VALUES; i++)
		ASSERT_EQ(0, callbox_wire_put_void(&w));
	EXPECT_EQ(-EINVAL, callbox_wire_put_void(&w));
	EXPECT_EQ(-EINVAL, callbox_wire_put_i32(&w, 1));
	EXPECT_EQ(-EINVAL, callbox_wire_writer_finish(&w));
}

/* Every buffer too small by any amount: -E2BIG, no write out of bounds. */
TEST(writer_e2big_at_every_size)
{
	static const uint8_t blob[9] = { 1, 2, 3 };
	struct callbox_wire_writer w;
	size_t need, size;
	uint8_t *buf;
	int64_t ret;

	for (size = 0;; size++) {
		buf = size ? malloc(size) : NULL;
		ASSERT_TRUE(!size || buf);
		callbox_wire_writer_init(&w, buf, size);
		callbox_wire_put_i32(&w, -5);
		callbox_wire_put_u64(&w, 9);
		callbox_wire_put_bool(&w, false);
		callbox_wire_put_void(&w);
		callbox_wire_put_string(&w, "wire");
		callbox_wire_put_f32_bits(&w, 0x3f800000);
		callbox_wire_put_bytes(&w, blob, sizeof(blob));
		callbox_wire_put_f64_bits(&w, 0);
		ret = callbox_wire_writer_finish(&w);
		free(buf);
		if (ret >= 0)
			break;
		ASSERT_EQ(-E2BIG, ret) TH_LOG("size %zu", size);
		/* Once failed, every later call fails the same way. */
		EXPECT_EQ(-E2BIG, callbox_wire_put_void(&w));
		EXPECT_EQ(-E2BIG, callbox_wire_writer_finish(&w));
	}
	/* "wire" is 10 bytes: tag, length, 4 bytes and its NUL. */
	need = HDR + 5 + 9 + 2 + 1 + 10 + 5 + 14 + 9;
	EXPECT_EQ(need, size);
	EXPECT_EQ((int64_t)need, ret);

	/* A header alone does not fit in 11 bytes either. */
	buf = malloc(HDR - 1);
	callbox_wire_writer_init(&w, buf, HDR - 1);
	EXPECT_EQ(-E2BIG, callbox_wire_writer_finish(&w));
	free(buf);
}

TEST(writer_einval)
{
	struct callbox_wire_writer w;
	uint8_t buf[64];
	static const char nul[] = "a\0b";

	callbox_wire_writer_init(&w, buf, sizeof(buf));
	EXPECT_EQ(-EINVAL, callbox_wire_put_string_n(&w, nul, 3));
	EXPECT_EQ(-EINVAL, callbox_wire_put_i32(&w, 1));
	EXPECT_EQ(-EINVAL, callbox_wire_writer_finish(&w));

	/* Up to the NUL is fine: it is only excluded from the string. */
	callbox_wire_writer_init(&w, buf, sizeof(buf));
	EXPECT_EQ(0, callbox_wire_put_string_n(&w, nul, 1));
	EXPECT_EQ(0, callbox_wire_put_string_n(&w, NULL, 0));
	/* "a" and "", each with the NUL the writer adds. */
	EXPECT_EQ(HDR + 7 + 6, callbox_wire_writer_finish(&w));

	callbox_wire_writer_init(&w, buf, sizeof(buf));
	EXPECT_EQ(-EINVAL, callbox_wire_put_string(&w, NULL));

	callbox_wire_writer_init(&w, buf, sizeof(buf));
	EXPECT_EQ(-EINVAL, callbox_wire_put_bytes(&w, NULL, 1));

	callbox_wire_writer_init(&w, NULL, 16);
	EXPECT_EQ(-EINVAL, callbox_wire_writer_finish(&w));
}

/* Lengths beyond what a u32 holds are too big, and never read. */
TEST(writer_huge_length)
{
	struct callbox_wire_writer w;
	uint8_t buf[64];

	callbox_wire_writer_init(&w, buf, sizeof(buf));
	EXPECT_EQ(-E2BIG, callbox_wire_put_bytes(&w, buf,
						 (size_t)UINT32_MAX + 1));
	callbox_wire_writer_init(&w, buf, sizeof(buf));
	EXPECT_EQ(-E2BIG, callbox_wire_put_bytes(&w, buf, SIZE_MAX));
	callbox_wire_writer_init(&w, buf, sizeof(buf));
	EXPECT_EQ(-E2BIG, callbox_wire_put_bytes(&w, buf, UINT32_MAX));
}

/* A string gets exactly one NUL after it, which its length omits; bytes none. */
TEST(writer_nul_after_strings_only)
{
	static const uint8_t want[] = {
		0x08, 0x02, 0x00, 0x00, 0x00, 'a', 'b', 0x00,	/* "ab" */
		0x09, 0x02, 0x00, 0x00, 0x00, 'c', 'd',		/* bytes */
		0x08, 0x00, 0x00, 0x00, 0x00, 0x00,		/* "" */
		0x08, 0x02, 0x00, 0x00, 0x00, 'x', 'y', 0x00,	/* "xy" */
		0x09, 0x00, 0x00, 0x00, 0x00,			/* no bytes */
	};
	struct callbox_wire_writer w;
	uint8_t buf[64];

	memset(buf, 0xaa, sizeof(buf));
	callbox_wire_writer_init(&w, buf, sizeof(buf));
	ASSERT_EQ(0, callbox_wire_put_string(&w, "ab"));
	ASSERT_EQ(0, callbox_wire_put_bytes(&w, "cd", 2));
	ASSERT_EQ(0, callbox_wire_put_string(&w, ""));
	/* The NUL is the writer's own, not the caller's next byte. */
	ASSERT_EQ(0, callbox_wire_put_string_n(&w, "xyz", 2));
	ASSERT_EQ(0, callbox_wire_put_bytes(&w, NULL, 0));
	ASSERT_EQ((int64_t)(HDR + sizeof(want)), callbox_wire_writer_finish(&w));
	EXPECT_EQ(0, memcmp(buf + HDR, want, sizeof(want)));
	/* Nothing after the last bytes, not even a NUL. */
	EXPECT_EQ(0xaa, buf[HDR + sizeof(want)]);
}

/*
 * A string needs room for its NUL as well: it fits in exactly tag,
 * length, bytes and NUL, and one byte less is -E2BIG, where bytes of the
 * same length still fit. The buffers are exact heap copies, so ASan
 * catches a NUL written one past the end.
 */
TEST(writer_e2big_string_counts_terminator)
{
	static const char text[] = "the quick brown fox jumps over the lazy dog";
	static const size_t lens[] = { 0, 1, 5, sizeof(text) - 1 };
	struct callbox_wire_writer w;
	char str[sizeof(text)];
	size_t i, len, size;
	uint8_t *buf;
	int use_n;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		len = lens[i];
		size = HDR + 1 + 4 + len + 1;
		memcpy(str, text, len);
		str[len] = '\0';
		/* Both ways in: with a length, and up to the caller's NUL. */
		for (use_n = 0; use_n < 2; use_n++) {
			buf = malloc(size);
			ASSERT_NE(NULL, buf);
			callbox_wire_writer_init(&w, buf, size);
			EXPECT_EQ(0, use_n ?
				  callbox_wire_put_string_n(&w, text, len) :
				  callbox_wire_put_string(&w, str))
				TH_LOG("length %zu", len);
			EXPECT_EQ((int64_t)size, callbox_wire_writer_finish(&w));
			EXPECT_EQ(0, buf[size - 1]);
			free(buf);

			buf = malloc(size - 1);
			ASSERT_NE(NULL, buf);
			callbox_wire_writer_init(&w, buf, size - 1);
			EXPECT_EQ(-E2BIG, use_n ?
				  callbox_wire_put_string_n(&w, text, len) :
				  callbox_wire_put_string(&w, str))
				TH_LOG("length %zu", len);
			EXPECT_EQ(-E2BIG, callbox_wire_writer_finish(&w));
			free(buf);
		}

		buf = malloc(size - 1);
		ASSERT_NE(NULL, buf);
		callbox_wire_writer_init(&w, buf, size - 1);
		EXPECT_EQ(0, callbox_wire_put_bytes(&w, text, len));
		EXPECT_EQ((int64_t)(size - 1), callbox_wire_writer_finish(&w));
		free(buf);
	}
}

/* ---- the reader's error paths, one each ---- */

TEST(reader_buffer_below_header)
{
	struct raw m;

	raw_start(&m, 0);
	raw_end(&m);
	EXPECT_BAD(m.b, HDR - 1, 0, "shorter than the message header");
	EXPECT_BAD(m.b, 0, 0, "shorter than the message header");
}

TEST(reader_bad_magic)
{
	struct raw m;
	struct callbox_wire_reader r;

	raw_start(&m, 0);
	raw_end(&m);
	m.b[3] = 0x32;	/* "CBW2" */
	r = EXPECT_BAD(m.b, m.n, 0, "bad magic");
	EXPECT_EQ(0x32574243u, r.err_value);
}

TEST(reader_bad_version)
{
	struct raw m;
	struct callbox_wire_reader r;

	raw_start(&m, 0);
	raw_end(&m);
	/* Version 1 strings had no NUL: read as version 2 they would fail. */
	m.b[4] = 1;
	r = EXPECT_BAD(m.b, m.n, 4, "version");
	EXPECT_EQ(1, r.err_value);
	m.b[4] = 3;
	r = EXPECT_BAD(m.b, m.n, 4, "version");
	EXPECT_EQ(3, r.err_value);
	m.b[4] = 0;
	EXPECT_BAD(m.b, m.n, 4, "version");
	/* The high byte counts too: 0x0102 is not 2. */
	m.b[4] = 2;
	m.b[5] = 1;
	r = EXPECT_BAD(m.b, m.n, 4, "version");
	EXPECT_EQ(0x0102, r.err_value);
}

TEST(reader_count_over_max)
{
	struct raw m;
	struct callbox_wire_reader r;
	int i;

	raw_start(&m, CALLBOX_WIRE_MAX_VALUES + 1);
	for (i = 0; i < CALLBOX_WIRE_MAX_VALUES + 1; i++)
		raw_u8(&m, CALLBOX_WIRE_VOID);
	raw_end(&m);
	r = EXPECT_BAD(m.b, m.n, 6, "count");
	EXPECT_EQ(34, r.err_value);
	m.b[6] = 0xff;
	m.b[7] = 0xff;
	EXPECT_BAD(m.b, m.n, 6, "count");
}

TEST(reader_length_below_header)
{
	struct raw m;
	uint32_t len;

	raw_start(&m, 0);
	for (len = 0; len < HDR; len++) {
		memcpy(m.b + 8, &len, 4);
		EXPECT_BAD(m.b, m.n, 8, "shorter than its header");
	}
}

TEST(reader_length_past_buffer)
{
	struct raw m;
	struct callbox_wire_reader r;
	uint32_t len = UINT32_MAX;

	raw_start(&m, 1);
	raw_u8(&m, CALLBOX_WIRE_BOOL);
	raw_u8(&m, 1);
	raw_end(&m);
	m.b[8]++;
	r = EXPECT_BAD(m.b, m.n, 8, "past the end of the buffer");
	EXPECT_EQ(m.n + 1, r.err_value);
	memcpy(m.b + 8, &len, 4);
	EXPECT_BAD(m.b, m.n, 8, "past the end of the buffer");
}

/* A message cut short anywhere fails cleanly, however it is cut. */
TEST(reader_truncated_everywhere)
{
	static const uint8_t blob[] = { 9, 8, 7 };
	struct callbox_wire_writer w;
	struct callbox_wire_reader r;
	uint8_t msg[128], cut[128];
	uint32_t n, k;

	callbox_wire_writer_init(&w, msg, sizeof(msg));
	callbox_wire_put_i32(&w, 1);
	callbox_wire_put_string(&w, "abc");
	callbox_wire_put_void(&w);
	callbox_wire_put_u64(&w, 2);
	callbox_wire_put_bool(&w, true);
	callbox_wire_put_bytes(&w, blob, sizeof(blob));
	callbox_wire_put_f64_bits(&w, 3);
	ASSERT_LT(0, callbox_wire_writer_finish(&w));
	n = w.pos;

	for (k = 0; k < n; k++) {
		/* The header still says n bytes: the buffer is too short. */
		r = EXPECT_BAD(msg, k, k < HDR ? 0 : 8,
			       k < HDR ? "header" : "past the end of the buffer");
		/* Header fixed to say k bytes: the values run out. */
		if (k < HDR)
			continue;
		memcpy(cut, msg, k);
		memcpy(cut + 8, &k, 4);
		ASSERT_EQ(0, callbox_wire_reader_init(&r, cut, k));
		r = EXPECT_BAD(cut, k, ANY_OFFSET, "");
		EXPECT_LE(HDR, r.err_offset) TH_LOG("cut at %u: %s", k, r.err);
	}
}

TEST(reader_string_length_past_end)
{
	struct raw m;
	struct callbox_wire_reader r;

	raw_start(&m, 1);
	raw_u8(&m, CALLBOX_WIRE_STRING);
	raw_u32(&m, 4);
	raw_bytes(&m, "abc", 3);
	raw_end(&m);
	r = EXPECT_BAD(m.b, m.n, HDR + 1, "string length runs past");
	EXPECT_EQ(4, r.err_value);
	EXPECT_EQ(m.n, r.length);
}

TEST(reader_bytes_length_past_end)
{
	struct raw m;

	raw_start(&m, 1);
	raw_u8(&m, CALLBOX_WIRE_BYTES);
	raw_u32(&m, 1);
	raw_end(&m);
	EXPECT_BAD(m.b, m.n, HDR + 1, "bytes length runs past");

	/* The length field itself cut short. */
	raw_start(&m, 1);
	raw_u8(&m, CALLBOX_WIRE_BYTES);
	raw_u16(&m, 0);
	raw_end(&m);
	EXPECT_BAD(m.b, m.n, HDR + 1, "length field runs past");
}

/* Lengths at which offset + length would wrap a u32. */
TEST(reader_length_near_uint32_max)
{
	static const uint32_t lens[] = {
		UINT32_MAX, UINT32_MAX - 1, UINT32_MAX - 3, UINT32_MAX - 16,
		UINT32_MAX - HDR - 4, 0x80000000u,
	};
	struct callbox_wire_reader r;
	struct raw m;
	size_t i;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		raw_start(&m, 2);
		raw_u8(&m, CALLBOX_WIRE_I32);
		raw_u32(&m, 5);
		raw_u8(&m, i % 2 ? CALLBOX_WIRE_BYTES : CALLBOX_WIRE_STRING);
		raw_u32(&m, lens[i]);
		raw_bytes(&m, "xyzw", 4);
		raw_end(&m);
		r = EXPECT_BAD(m.b, m.n, HDR + 6, "length runs past");
		EXPECT_EQ(lens[i], r.err_value);
	}
}

TEST(reader_unknown_type_tag)
{
	struct callbox_wire_reader r;
	struct raw m;
	unsigned int tag;

	for (tag = CALLBOX_WIRE_TYPE_COUNT; tag < 256; tag++) {
		raw_start(&m, 2);
		raw_u8(&m, CALLBOX_WIRE_VOID);
		raw_u8(&m, tag);
		raw_u32(&m, 0);
		raw_end(&m);
		r = EXPECT_BAD(m.b, m.n, HDR + 1, "unknown type tag");
		EXPECT_EQ(tag, r.err_value);
	}
	EXPECT_STREQ("unknown", callbox_wire_type_name(CALLBOX_WIRE_TYPE_COUNT));
	EXPECT_STREQ("bytes", callbox_wire_type_name(CALLBOX_WIRE_BYTES));
}

TEST(reader_bool_not_0_or_1)
{
	struct callbox_wire_reader r;
	struct raw m;

	raw_start(&m, 1);
	raw_u8(&m, CALLBOX_WIRE_BOOL);
	raw_u8(&m, 2);
	raw_end(&m);
	r = EXPECT_BAD(m.b, m.n, HDR + 1, "bool");
	EXPECT_EQ(2, r.err_value);
	m.b[HDR + 1] = 0xff;
	EXPECT_BAD(m.b, m.n, HDR + 1, "bool");
}

TEST(reader_nul_in_string)
{
	struct raw m;

	raw_start(&m, 1);
	raw_u8(&m, CALLBOX_WIRE_STRING);
	raw_u32(&m, 4);
	raw_bytes(&m, "ab\0c", 4);
	raw_u8(&m, 0);
	raw_end(&m);
	/* At the NUL itself, though the terminator after it is right. */
	EXPECT_BAD(m.b, m.n, HDR + 5 + 2, "NUL byte inside");

	/*
	 * A NUL that the length counts is inside the string, even as its
	 * last byte: only the uncounted one after it is the terminator.
	 */
	raw_start(&m, 1);
	raw_u8(&m, CALLBOX_WIRE_STRING);
	raw_u32(&m, 3);
	raw_bytes(&m, "ab\0", 3);
	raw_u8(&m, 0);
	raw_end(&m);
	EXPECT_BAD(m.b, m.n, HDR + 5 + 2, "NUL byte inside");
}

/* The byte after a string's bytes must be its NUL, and nothing else. */
TEST(reader_string_not_nul_terminated)
{
	static const uint8_t bad[] = { 'x', 0x01, 0x80, 0xff };
	struct callbox_wire_reader r;
	struct raw m;
	size_t i;

	raw_start(&m, 1);
	raw_u8(&m, CALLBOX_WIRE_STRING);
	raw_u32(&m, 3);
	raw_bytes(&m, "abc", 3);
	raw_u8(&m, 0);
	raw_end(&m);
	for (i = 0; i < sizeof(bad); i++) {
		m.b[HDR + 8] = bad[i];
		/* Where the NUL should be, with the string's length. */
		r = EXPECT_BAD(m.b, m.n, HDR + 5 + 3, "string not NUL-terminated");
		EXPECT_EQ(3, r.err_value);
	}

	/* An empty string needs its NUL too. */
	raw_start(&m, 1);
	raw_u8(&m, CALLBOX_WIRE_STRING);
	raw_u32(&m, 0);
	raw_u8(&m, 'x');
	raw_end(&m);
	r = EXPECT_BAD(m.b, m.n, HDR + 5, "string not NUL-terminated");
	EXPECT_EQ(0, r.err_value);

	/*
	 * A version 1 string, which had no NUL, with a value after it under
	 * a version 2 header: the next value's tag is where the NUL goes.
	 */
	raw_start(&m, 2);
	raw_u8(&m, CALLBOX_WIRE_STRING);
	raw_u32(&m, 2);
	raw_bytes(&m, "hi", 2);
	raw_u8(&m, CALLBOX_WIRE_I32);
	raw_u32(&m, 7);
	raw_end(&m);
	r = EXPECT_BAD(m.b, m.n, HDR + 5 + 2, "string not NUL-terminated");
	EXPECT_EQ(2, r.err_value);
}

/* A string whose bytes end the message has no room left for its NUL. */
TEST(reader_string_no_room_for_nul)
{
	struct callbox_wire_reader r;
	struct raw m;

	raw_start(&m, 1);
	raw_u8(&m, CALLBOX_WIRE_STRING);
	raw_u32(&m, 3);
	raw_bytes(&m, "abc", 3);
	raw_end(&m);
	/* Where the NUL should be: the message's end. */
	r = EXPECT_BAD(m.b, m.n, HDR + 5 + 3, "string not NUL-terminated");
	EXPECT_EQ(3, r.err_value);
	EXPECT_EQ(m.n, r.err_offset);

	/*
	 * A NUL in the buffer just past the message's length does not
	 * count: the reader reads nothing beyond @length.
	 */
	raw_u8(&m, 0);
	r = EXPECT_BAD(m.b, m.n, HDR + 5 + 3, "string not NUL-terminated");
	EXPECT_EQ(3, r.err_value);

	/* The same for an empty string that ends at its length field. */
	raw_start(&m, 1);
	raw_u8(&m, CALLBOX_WIRE_STRING);
	raw_u32(&m, 0);
	raw_end(&m);
	r = EXPECT_BAD(m.b, m.n, HDR + 5, "string not NUL-terminated");
	EXPECT_EQ(0, r.err_value);
}

/* A decoded string can be used as a C string, in place. */
TEST(reader_string_is_c_string)
{
	struct callbox_wire_writer w;
	struct callbox_wire_reader r;
	struct callbox_wire_value v;
	uint8_t buf[64], *copy;
	int64_t len;

	callbox_wire_writer_init(&w, buf, sizeof(buf));
	ASSERT_EQ(0, callbox_wire_put_string(&w, "hello"));
	ASSERT_EQ(0, callbox_wire_put_string(&w, ""));
	len = callbox_wire_writer_finish(&w);
	ASSERT_LT(0, len);
	/* An exact copy: ASan checks that data[len] is inside it. */
	copy = exact_copy(buf, len);
	ASSERT_NE(NULL, copy);

	ASSERT_EQ(0, callbox_wire_reader_init(&r, copy, len));
	ASSERT_EQ(1, callbox_wire_next(&r, &v));
	EXPECT_EQ(CALLBOX_WIRE_STRING, v.type);
	EXPECT_EQ(5, v.len);
	EXPECT_EQ('\0', v.data[v.len]);
	EXPECT_EQ(v.len, strlen((const char *)v.data));
	EXPECT_STREQ("hello", (const char *)v.data);

	/* Even an empty one has data, pointing at its NUL. */
	ASSERT_EQ(1, callbox_wire_next(&r, &v));
	EXPECT_EQ(0, v.len);
	ASSERT_NE(NULL, v.data);
	EXPECT_STREQ("", (const char *)v.data);
	EXPECT_EQ(0, callbox_wire_next(&r, &v));
	free(copy);
}

TEST(reader_trailing_garbage)
{
	struct callbox_wire_reader r;
	struct raw m;

	raw_start(&m, 1);
	raw_u8(&m, CALLBOX_WIRE_I32);
	raw_u32(&m, 42);
	raw_bytes(&m, "zzz", 3);
	raw_end(&m);
	r = EXPECT_BAD(m.b, m.n, HDR + 5, "trailing bytes");
	EXPECT_EQ(3, r.err_value);

	/* Even one byte, and even with no values at all. */
	raw_start(&m, 0);
	raw_u8(&m, 0);
	raw_end(&m);
	EXPECT_BAD(m.b, m.n, HDR, "trailing bytes");
}

TEST(reader_fewer_values_than_count)
{
	struct callbox_wire_reader r;
	struct raw m;

	raw_start(&m, 3);
	raw_u8(&m, CALLBOX_WIRE_VOID);
	raw_u8(&m, CALLBOX_WIRE_BOOL);
	raw_u8(&m, 0);
	raw_end(&m);
	r = EXPECT_BAD(m.b, m.n, HDR + 3, "ends before its last value");
	EXPECT_EQ(1, r.err_value);
}

TEST(reader_fixed_value_past_end)
{
	struct raw m;

	raw_start(&m, 1);
	raw_u8(&m, CALLBOX_WIRE_I64);
	raw_u32(&m, 0);
	raw_u16(&m, 0);
	raw_end(&m);
	EXPECT_BAD(m.b, m.n, HDR, "value runs past the message end");
}

/* A buffer longer than the message is fine: only @length is read. */
TEST(reader_buffer_longer_than_message)
{
	struct callbox_wire_writer w;
	struct callbox_wire_reader r;
	struct callbox_wire_value v;
	uint8_t buf[64];

	memset(buf, 0xee, sizeof(buf));
	callbox_wire_writer_init(&w, buf, sizeof(buf));
	callbox_wire_put_string(&w, "x");
	ASSERT_EQ(HDR + 7, callbox_wire_writer_finish(&w));
	/* The writer wrote up to the NUL and not a byte more. */
	EXPECT_EQ(0, buf[HDR + 6]);
	EXPECT_EQ(0xee, buf[HDR + 7]);
	ASSERT_EQ(0, callbox_wire_reader_init(&r, buf, sizeof(buf)));
	ASSERT_EQ(1, callbox_wire_next(&r, &v));
	EXPECT_EQ(CALLBOX_WIRE_STRING, v.type);
	EXPECT_EQ(1, v.len);
	EXPECT_EQ(buf + HDR + 5, v.data);
	EXPECT_EQ(0, callbox_wire_next(&r, &v));
}

/*
 * Random messages round-trip; random corruptions of them either decode
 * or fail with -EBADMSG and a message, never anything else (ASan and
 * UBSan watch for the rest). A fixed seed keeps failures reproducible.
 */
TEST(random_round_trips_and_corruptions)
{
	static const char text[] = "the quick brown fox jumps over the lazy dog";
	struct val vals[CALLBOX_WIRE_MAX_VALUES];
	struct callbox_wire_writer w;
	struct callbox_wire_reader r;
	struct callbox_wire_value v;
	uint8_t msg[2048], *copy;
	int iter, i, n, ret, flips;
	size_t len;

	for (iter = 0; iter < 2000; iter++) {
		n = rng() % (CALLBOX_WIRE_MAX_VALUES + 1);
		for (i = 0; i < n; i++) {
			vals[i].type = rng() % CALLBOX_WIRE_TYPE_COUNT;
			vals[i].bits = rng();
			vals[i].data = NULL;
			vals[i].len = 0;
			switch (vals[i].type) {
			case CALLBOX_WIRE_VOID:
				vals[i].bits = 0;
				break;
			case CALLBOX_WIRE_I32: case CALLBOX_WIRE_U32:
			case CALLBOX_WIRE_F32:
				vals[i].bits = (uint32_t)vals[i].bits;
				break;
			case CALLBOX_WIRE_BOOL:
				vals[i].bits &= 1;
				break;
			case CALLBOX_WIRE_STRING:
			case CALLBOX_WIRE_BYTES:
				vals[i].data = text + rng() % 10;
				vals[i].len = rng() % 30;
				break;
			}
		}
		round_trip(_metadata, __LINE__, vals, n);

		callbox_wire_writer_init(&w, msg, sizeof(msg));
		for (i = 0; i < n; i++)
			put_val(&w, &vals[i]);
		ASSERT_LT(0, callbox_wire_writer_finish(&w));
		len = w.pos;
		for (flips = rng() % 4 + 1; flips; flips--)
			msg[rng() % len] ^= 1 << (rng() % 8);
		if (rng() % 4 == 0)
			len = rng() % (len + 1);
		copy = exact_copy(msg, len);
		ASSERT_NE(NULL, copy);
		ret = callbox_wire_reader_init(&r, copy, len);
		while (!ret)
			ret = callbox_wire_next(&r, &v) == 1 ? 0 : r.error ?: 1;
		if (ret != 1) {
			ASSERT_EQ(-EBADMSG, ret);
			ASSERT_NE(NULL, r.err);
			ASSERT_LE(r.err_offset, len);
		}
		free(copy);
	}
}

/*
 * callbox_wire_put_value() writes what the typed puts write, byte for
 * byte, and a tag that is no type is -EINVAL, sticky like every error.
 */
TEST(put_value_matches_the_typed_puts)
{
	static const uint8_t blob[] = { 0, 1, 0xff };
	const struct callbox_wire_value vals[] = {
		{ .type = CALLBOX_WIRE_VOID }, CALLBOX_I32(-7), CALLBOX_U32(7),
		CALLBOX_I64(INT64_MIN), CALLBOX_U64(UINT64_MAX),
		CALLBOX_F32_BITS(0x7fc00001), CALLBOX_F64_BITS(0x8000000000000000ull),
		CALLBOX_BOOL(true), CALLBOX_STRING("str"),
		CALLBOX_BYTES(blob, sizeof(blob)),
	};
	struct callbox_wire_value bad = { .type = CALLBOX_WIRE_TYPE_COUNT };
	uint8_t a[256], b[256];
	struct callbox_wire_writer wa, wb;
	size_t i;

	callbox_wire_writer_init(&wa, a, sizeof(a));
	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		ASSERT_EQ(0, callbox_wire_put_value(&wa, &vals[i]));
	}
	callbox_wire_writer_init(&wb, b, sizeof(b));
	callbox_wire_put_void(&wb);
	callbox_wire_put_i32(&wb, -7);
	callbox_wire_put_u32(&wb, 7);
	callbox_wire_put_i64(&wb, INT64_MIN);
	callbox_wire_put_u64(&wb, UINT64_MAX);
	callbox_wire_put_f32_bits(&wb, 0x7fc00001);
	callbox_wire_put_f64_bits(&wb, 0x8000000000000000ull);
	callbox_wire_put_bool(&wb, true);
	callbox_wire_put_string(&wb, "str");
	callbox_wire_put_bytes(&wb, blob, sizeof(blob));
	ASSERT_EQ(callbox_wire_writer_finish(&wb),
		  callbox_wire_writer_finish(&wa));
	EXPECT_EQ(0, memcmp(a, b, wa.pos));

	EXPECT_EQ(-EINVAL, callbox_wire_put_value(&wa, &bad));
	EXPECT_EQ(-EINVAL, callbox_wire_put_value(&wa, &vals[1]));
	EXPECT_EQ(-EINVAL, callbox_wire_writer_finish(&wa));
}

TEST_HARNESS_MAIN
