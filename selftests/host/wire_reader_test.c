// SPDX-License-Identifier: GPL-2.0
/*
 * The wire format's reader (shared/wire.c) fed hostile messages, one error
 * path each, compiled natively under ASan and UBSan. Each message is
 * copied into a heap buffer of exactly its size first, so that ASan
 * reports a read of even one byte past the end, which a bigger buffer
 * would hide.
 */
#include "wire_util.h"

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
TEST_HARNESS_MAIN
