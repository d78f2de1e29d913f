/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the wire codec's suites share (wire_test, wire_reader_test): a
 * fixed-seed PRNG, exact-size copies for ASan to guard, hand-built
 * messages for the reader's error paths, and values for round trips.
 */
#ifndef CALLBOX_WIRE_UTIL_H
#define CALLBOX_WIRE_UTIL_H

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

static inline uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* A copy of @p in a heap buffer of exactly @n bytes, for ASan to guard. */
static inline uint8_t *exact_copy(const void *p, size_t n)
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

static inline void raw_bytes(struct raw *m, const void *p, size_t n)
{
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static inline void raw_u8(struct raw *m, uint8_t v)
{
	raw_bytes(m, &v, 1);
}

static inline void raw_u16(struct raw *m, uint16_t v)
{
	raw_bytes(m, &v, 2);
}

static inline void raw_u32(struct raw *m, uint32_t v)
{
	raw_bytes(m, &v, 4);
}

/* A header whose length is patched by raw_end(). */
static inline void raw_start(struct raw *m, uint16_t count)
{
	m->n = 0;
	raw_u32(m, CALLBOX_WIRE_MAGIC);
	raw_u16(m, CALLBOX_WIRE_VERSION);
	raw_u16(m, count);
	raw_u32(m, 0);
}

/* Set the header's length to the bytes written so far. */
static inline void raw_end(struct raw *m)
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
static inline struct callbox_wire_reader
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

static inline int put_val(struct callbox_wire_writer *w, const struct val *v)
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
static inline bool same_val(const struct callbox_wire_value *got,
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
static inline size_t round_trip(struct __test_metadata *_metadata, int line,
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

#endif /* CALLBOX_WIRE_UTIL_H */
