// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the wire format's reader (shared/wire.c); built
 * and run by tools/fuzz.sh.
 *
 * Every input is decoded to its end or its first error, under ASan and
 * UBSan, which catch a read out of bounds. An input that decodes in full
 * also goes through a round-trip oracle: the encoding is canonical, so
 * writing the decoded values back must give the input's message byte for
 * byte, and decoding that must give the same values again. The writer is
 * checked on the way, at the exact size and one byte short. Any mismatch
 * abort()s, which libFuzzer reports as a crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <callbox/wire.h>

#define check(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "wire_fuzz: %s:%d: %s\n",	\
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

/* Encode @n values into exactly @size bytes; returns the buffer. */
static uint8_t *encode(const struct callbox_wire_value *vals, int n,
		       uint32_t size, int64_t *ret)
{
	struct callbox_wire_writer w;
	uint8_t *buf = malloc(size);
	int i;

	check(buf);
	callbox_wire_writer_init(&w, buf, size);
	for (i = 0; i < n; i++)
		callbox_wire_put_value(&w, &vals[i]);
	*ret = callbox_wire_writer_finish(&w);
	return buf;
}

static bool same_value(const struct callbox_wire_value *a,
		       const struct callbox_wire_value *b)
{
	return a->type == b->type && a->u64 == b->u64 && a->len == b->len &&
	       !a->data == !b->data &&
	       (!a->len || !memcmp(a->data, b->data, a->len));
}

/* Decode all of @buf into @vals; returns the count, or -1 on an error. */
static int decode(const uint8_t *buf, size_t size,
		  struct callbox_wire_value *vals,
		  struct callbox_wire_reader *r)
{
	int n = 0, ret;

	if (callbox_wire_reader_init(r, buf, size))
		return -1;
	while ((ret = callbox_wire_next(r, &vals[n])) == 1) {
		check(n < CALLBOX_WIRE_MAX_VALUES);
		check(vals[n].len == 0 ||
		      (vals[n].data >= buf &&
		       vals[n].data + vals[n].len <= buf + r->length));
		/* A string's NUL is inside the message too: a C string. */
		check(vals[n].type != CALLBOX_WIRE_STRING ||
		      (vals[n].data &&
		       vals[n].data + vals[n].len < buf + r->length &&
		       vals[n].data[vals[n].len] == 0));
		n++;
	}
	if (ret) {
		check(ret == -CALLBOX_WIRE_EBADMSG && r->err);
		check(r->err_offset <= size);
		/* Errors stick. */
		check(callbox_wire_next(r, &vals[n]) == ret);
		return -1;
	}
	check(callbox_wire_next(r, &vals[n]) == 0);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* One spare slot: decode() may write a failed value into it. */
	struct callbox_wire_value vals[CALLBOX_WIRE_MAX_VALUES + 1];
	struct callbox_wire_value again[CALLBOX_WIRE_MAX_VALUES + 1];
	struct callbox_wire_reader r, r2;
	uint8_t *buf;
	int64_t ret;
	int n, i;

	n = decode(data, size, vals, &r);
	if (n < 0)
		return 0;

	/* Canonical: the same bytes again, at exactly the same size. */
	buf = encode(vals, n, r.length, &ret);
	check(ret == r.length);
	check(!memcmp(buf, data, r.length));
	check(decode(buf, r.length, again, &r2) == n);
	for (i = 0; i < n; i++)
		check(same_value(&vals[i], &again[i]));
	free(buf);

	/* One byte short is too small, and says so. */
	buf = encode(vals, n, r.length - 1, &ret);
	check(ret == -CALLBOX_WIRE_E2BIG);
	free(buf);
	return 0;
}
