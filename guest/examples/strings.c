// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * Example guest: string processing. Strings arrive NUL-terminated in the
 * call's input buffer; a result is built on the heap, put, and freed.
 */
#include <callbox/guest.h>

/* A copy to work on; NULL, with the call failed, if there is no memory. */
static char *copy_of(const struct callbox_wire_value *s)
{
	char *copy = malloc((size_t)s->len + 1);

	if (!copy) {
		callbox_fail("no memory for %u bytes", s->len);
		return NULL;
	}
	memcpy(copy, s->data, (size_t)s->len + 1);
	return copy;
}

/* The bytes in reverse order (a string is bytes here, not characters). */
static void reverse(const struct callbox_wire_value *args,
		    struct callbox_wire_writer *result)
{
	char *s = copy_of(&args[0]);
	uint32_t i, n = args[0].len;

	if (!s)
		return;
	for (i = 0; i < n / 2; i++) {
		char c = s[i];

		s[i] = s[n - 1 - i];
		s[n - 1 - i] = c;
	}
	callbox_wire_put_string_n(result, s, n);
	free(s);
}
CALLBOX_EXPORT(reverse, CALLBOX_WIRE_STRING, CALLBOX_WIRE_STRING);

/* ASCII letters in upper case, everything else as it is. */
static void to_upper(const struct callbox_wire_value *args,
		     struct callbox_wire_writer *result)
{
	char *s = copy_of(&args[0]);
	uint32_t i;

	if (!s)
		return;
	for (i = 0; i < args[0].len; i++)
		if (s[i] >= 'a' && s[i] <= 'z')
			s[i] -= 'a' - 'A';
	callbox_wire_put_string_n(result, s, args[0].len);
	free(s);
}
CALLBOX_EXPORT(to_upper, CALLBOX_WIRE_STRING, CALLBOX_WIRE_STRING);

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Words separated by blanks. */
static void word_count(const struct callbox_wire_value *args,
		       struct callbox_wire_writer *result)
{
	const char *s = (const char *)args[0].data;
	uint32_t words = 0, i;

	for (i = 0; i < args[0].len; i++)
		if (!is_space(s[i]) && (i == 0 || is_space(s[i - 1])))
			words++;
	callbox_wire_put_u32(result, words);
}
CALLBOX_EXPORT(word_count, CALLBOX_WIRE_U32, CALLBOX_WIRE_STRING);

/* Where @needle first occurs in @haystack, or -1. */
static void find(const struct callbox_wire_value *args,
		 struct callbox_wire_writer *result)
{
	const struct callbox_wire_value *h = &args[0], *n = &args[1];
	uint32_t i;

	if (n->len <= h->len) {
		for (i = 0; i <= h->len - n->len; i++) {
			if (!memcmp(h->data + i, n->data, n->len)) {
				callbox_wire_put_i64(result, i);
				return;
			}
		}
	}
	callbox_wire_put_i64(result, -1);
}
CALLBOX_EXPORT(find, CALLBOX_WIRE_I64, CALLBOX_WIRE_STRING,
	       CALLBOX_WIRE_STRING);

/* @s repeated @times times: a result larger than its arguments. */
static void repeat(const struct callbox_wire_value *args,
		   struct callbox_wire_writer *result)
{
	uint64_t len = (uint64_t)args[0].len * args[1].u32;
	uint32_t i;
	char *s;

	/* Larger than any output buffer can be: not worth a try. */
	if (len > CALLBOX_IO_BUFFER_MAX) {
		callbox_fail("a result of %llu bytes is too large",
			     (unsigned long long)len);
		return;
	}
	s = malloc(len + 1);
	if (!s) {
		callbox_fail("no memory for %llu bytes", (unsigned long long)len);
		return;
	}
	for (i = 0; len && i < args[1].u32; i++)
		memcpy(s + (uint64_t)i * args[0].len, args[0].data, args[0].len);
	callbox_wire_put_string_n(result, s, len);
	free(s);
}
CALLBOX_EXPORT(repeat, CALLBOX_WIRE_STRING, CALLBOX_WIRE_STRING,
	       CALLBOX_WIRE_U32);
