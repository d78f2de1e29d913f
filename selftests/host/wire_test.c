// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of the typed-value wire format's writer (shared/wire.c), and of
 * round trips through writer and reader, compiled natively under ASan
 * and UBSan. The reader's error paths are wire_reader_test's.
 */
#include "wire_util.h"

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
