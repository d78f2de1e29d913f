// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * libcallbox: typed values as text, TYPE:VALUE, for command lines and
 * logs: callbox_value_parse() and callbox_value_format(). Every integer
 * type is range-checked through one parser, floats are read at their own
 * precision, and a value's text reads back as the same value. Files and
 * stdin are read for bytes:@FILE and bytes:@- only when the caller asks.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <callbox/callbox.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The TYPE: prefixes. "str" is there because it is what people type;
 * "string" because it is what the signatures say.
 */
static const struct {
	const char *prefix;
	uint8_t type;
} text_types[] = {
	{ "i32", CALLBOX_WIRE_I32 },
	{ "u32", CALLBOX_WIRE_U32 },
	{ "i64", CALLBOX_WIRE_I64 },
	{ "u64", CALLBOX_WIRE_U64 },
	{ "f32", CALLBOX_WIRE_F32 },
	{ "f64", CALLBOX_WIRE_F64 },
	{ "bool", CALLBOX_WIRE_BOOL },
	{ "str", CALLBOX_WIRE_STRING },
	{ "string", CALLBOX_WIRE_STRING },
	{ "bytes", CALLBOX_WIRE_BYTES },
};

static int text_fail(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int text_fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/*
 * Split an integer into its sign and magnitude, so that one parser serves
 * the range checks of all four integer types: strtoull() alone would take
 * "-1" as UINT64_MAX, and strtoll() cannot read the top half of u64. A
 * leading space or a second sign is refused, which strto*() would allow.
 */
static int text_integer(const char *s, bool *negative, uint64_t *magnitude)
{
	const char *p = s;
	char *end;

	*negative = *p == '-';
	if (*p == '-' || *p == '+')
		p++;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	errno = 0;
	*magnitude = strtoull(p, &end, 0);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	return 0;
}

static int text_signed(const char *s, uint8_t type, int64_t *out, char *err,
		       size_t errlen)
{
	int64_t min = type == CALLBOX_WIRE_I32 ? INT32_MIN : INT64_MIN;
	int64_t max = type == CALLBOX_WIRE_I32 ? INT32_MAX : INT64_MAX;
	uint64_t magnitude;
	bool negative;
	int ret;

	ret = text_integer(s, &negative, &magnitude);
	if (ret == -EINVAL)
		return text_fail(err, errlen, -EINVAL,
				 "'%s' is not an integer (decimal, 0x hex or 0 octal)",
				 s);
	/* -min, computed without overflowing for INT64_MIN. */
	if (!ret && (negative ? magnitude > (uint64_t)-(min + 1) + 1 :
				magnitude > (uint64_t)max))
		ret = -ERANGE;
	if (ret)
		return text_fail(err, errlen, -EINVAL,
				 "%s is out of range for %s (%" PRId64 " to %" PRId64 ")",
				 s, callbox_wire_type_name(type), min, max);
	/* Two's complement negation of the magnitude, as unsigned. */
	*out = negative ? (int64_t)(0 - magnitude) : (int64_t)magnitude;
	return 0;
}

static int text_unsigned(const char *s, uint8_t type, uint64_t *out,
			 char *err, size_t errlen)
{
	uint64_t max = type == CALLBOX_WIRE_U32 ? UINT32_MAX : UINT64_MAX;
	uint64_t magnitude;
	bool negative;
	int ret;

	ret = text_integer(s, &negative, &magnitude);
	if (ret == -EINVAL)
		return text_fail(err, errlen, -EINVAL,
				 "'%s' is not an integer (decimal, 0x hex or 0 octal)",
				 s);
	if (!ret && ((negative && magnitude) || magnitude > max))
		ret = -ERANGE;
	if (ret)
		return text_fail(err, errlen, -EINVAL,
				 "%s is out of range for %s (0 to %" PRIu64 ")",
				 s, callbox_wire_type_name(type), max);
	*out = magnitude;
	return 0;
}

/*
 * strtof() for f32 rather than strtod() and a cast: rounding twice could
 * give a different float. A value too large for the type is an error;
 * one too small to represent rounds to the nearest subnormal or zero, as
 * a C compiler does with the same literal.
 */
static int text_float(const char *s, uint8_t type,
		      struct callbox_wire_value *v, char *err, size_t errlen)
{
	bool overflow;
	char *end;

	if (!*s || *s == ' ' || (*s >= '\t' && *s <= '\r'))
		return text_fail(err, errlen, -EINVAL, "'%s' is not a number",
				 s);
	errno = 0;
	if (type == CALLBOX_WIRE_F32) {
		*v = CALLBOX_F32(strtof(s, &end));
		overflow = errno == ERANGE && __builtin_isinf(v->f32);
	} else {
		*v = CALLBOX_F64(strtod(s, &end));
		overflow = errno == ERANGE && __builtin_isinf(v->f64);
	}
	if (*end)
		return text_fail(err, errlen, -EINVAL,
				 "'%s' is not a number (e.g. 1.5, -2e10, 0x1p-3, inf, nan)",
				 s);
	if (overflow)
		return text_fail(err, errlen, -EINVAL,
				 "%s is out of range for %s", s,
				 callbox_wire_type_name(type));
	return 0;
}

/* A file's contents in a buffer of its own, never NULL even if empty. */
static int text_read_file(const char *path, uint8_t **data, uint32_t *len,
			  char *err, size_t errlen)
{
	bool is_stdin = !strcmp(path, "-");
	FILE *f = is_stdin ? stdin : fopen(path, "rb");
	size_t size = 0, room = 4096, n;
	uint8_t *buf = NULL, *bigger;
	int ret = 0;

	if (!f)
		return text_fail(err, errlen, -errno, "%s: %s", path,
				 strerror(errno));
	if (is_stdin)
		path = "stdin";
	for (;;) {
		if (size == room || !buf) {
			/*
			 * No message into the guest can be larger than the
			 * largest input buffer; stop there, not at ENOMEM.
			 */
			if (buf && room >= CALLBOX_IO_BUFFER_MAX) {
				ret = text_fail(err, errlen, -E2BIG,
						"%s: %llu MiB or more, more than the largest input buffer holds",
						path, CALLBOX_IO_BUFFER_MAX >> 20);
				break;
			}
			if (buf)
				room *= 2;
			bigger = realloc(buf, room);
			if (!bigger) {
				ret = text_fail(err, errlen, -ENOMEM,
						"%s: out of memory", path);
				break;
			}
			buf = bigger;
		}
		n = fread(buf + size, 1, room - size, f);
		size += n;
		if (n)
			continue;
		if (ferror(f))
			ret = text_fail(err, errlen, -EIO, "reading %s: %s",
					path, strerror(errno));
		break;
	}
	if (!is_stdin)
		fclose(f);
	if (ret) {
		free(buf);
		return ret;
	}
	*data = buf;
	*len = (uint32_t)size;
	return 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int text_hex(const char *s, uint8_t **data, uint32_t *len, char *err,
		    size_t errlen)
{
	size_t n = strlen(s), i;
	uint8_t *buf;

	if (n % 2)
		return text_fail(err, errlen, -EINVAL,
				 "%zu hex digits, an odd number: two make a byte",
				 n);
	for (i = 0; i < n; i++) {
		if (hex_digit(s[i]) < 0)
			return text_fail(err, errlen, -EINVAL,
					 "'%c' at position %zu of the hex is not a hex digit",
					 s[i], i + 1);
	}
	buf = malloc(n / 2 + 1);
	if (!buf)
		return text_fail(err, errlen, -ENOMEM, "out of memory");
	for (i = 0; i < n / 2; i++)
		buf[i] = (uint8_t)(hex_digit(s[2 * i]) << 4 |
				   hex_digit(s[2 * i + 1]));
	*data = buf;
	*len = (uint32_t)(n / 2);
	return 0;
}

/* The value of a STRING or BYTES @v, as a copy of its own. */
static int text_copy(struct callbox_wire_value *v, const void *p,
		     uint32_t len, char *err, size_t errlen)
{
	uint8_t *copy = malloc((size_t)len + 1);

	if (!copy)
		return text_fail(err, errlen, -ENOMEM, "out of memory");
	memcpy(copy, p, len);
	copy[len] = '\0';
	v->data = copy;
	v->len = len;
	return 0;
}

/*
 * The BYTES after "bytes:": @FILE, @- (stdin) or hex:HEX. Files and stdin
 * are read only if @flags allow it.
 */
static int text_bytes(const char *value, unsigned int flags,
		      struct callbox_wire_value *v, char *err, size_t errlen)
{
	bool is_stdin = !strcmp(value, "@-");
	uint8_t *data = NULL;
	uint32_t len = 0;
	int ret;

	if (is_stdin && !(flags & CALLBOX_VALUE_READ_STDIN))
		return text_fail(err, errlen, -EPERM,
				 "bytes:@- (stdin) is not allowed here");
	if (!is_stdin && value[0] == '@' && value[1] &&
	    !(flags & CALLBOX_VALUE_READ_FILES))
		return text_fail(err, errlen, -EPERM,
				 "bytes:@FILE (a file) is not allowed here");
	if (value[0] == '@' && value[1])
		ret = text_read_file(value + 1, &data, &len, err, errlen);
	else if (!strncmp(value, "hex:", 4))
		ret = text_hex(value + 4, &data, &len, err, errlen);
	else
		return text_fail(err, errlen, -EINVAL,
				 "bytes are given as bytes:@FILE, bytes:@- (stdin) or bytes:hex:HEX");
	if (ret)
		return ret;
	*v = CALLBOX_BYTES(data, len);
	return 0;
}

int callbox_value_parse(const char *text, unsigned int flags,
			struct callbox_wire_value *v, char *err, size_t errlen)
{
	const char *colon = strchr(text, ':'), *value;
	uint8_t type = CALLBOX_WIRE_VOID;
	size_t i, n;
	int ret;

	memset(v, 0, sizeof(*v));
	if (errlen)
		err[0] = '\0';
	/* No TYPE: is a bare integer, an i64, as before typed calls. */
	if (!colon) {
		bool negative;
		uint64_t magnitude;

		if (text_integer(text, &negative, &magnitude) == -EINVAL)
			return text_fail(err, errlen, -EINVAL,
					 "not a 64-bit integer; an ARG without TYPE: is an i64, and other types are given as TYPE:VALUE, e.g. str:%.20s",
					 text);
		*v = CALLBOX_I64(0);
		return text_signed(text, CALLBOX_WIRE_I64, &v->i64, err,
				   errlen);
	}
	n = (size_t)(colon - text);
	for (i = 0; i < ARRAY_SIZE(text_types); i++) {
		if (strlen(text_types[i].prefix) == n &&
		    !memcmp(text_types[i].prefix, text, n))
			type = text_types[i].type;
	}
	if (type == CALLBOX_WIRE_VOID)
		return text_fail(err, errlen, -EINVAL,
				 "unknown type '%.*s' (TYPE: is one of i32, u32, i64, u64, f32, f64, bool, str, string, bytes)",
				 (int)n, text);
	value = colon + 1;
	/* An empty string is a value; an empty number is a slip. */
	if (!*value && type != CALLBOX_WIRE_STRING)
		return text_fail(err, errlen, -EINVAL, "no value after '%.*s:'",
				 (int)n, text);

	v->type = type;
	switch (type) {
	case CALLBOX_WIRE_I32:
	case CALLBOX_WIRE_I64: {
		int64_t x = 0;

		ret = text_signed(value, type, &x, err, errlen);
		if (type == CALLBOX_WIRE_I32)
			v->i32 = (int32_t)x;
		else
			v->i64 = x;
		return ret;
	}
	case CALLBOX_WIRE_U32:
	case CALLBOX_WIRE_U64: {
		uint64_t x = 0;

		ret = text_unsigned(value, type, &x, err, errlen);
		if (type == CALLBOX_WIRE_U32)
			v->u32 = (uint32_t)x;
		else
			v->u64 = x;
		return ret;
	}
	case CALLBOX_WIRE_F32:
	case CALLBOX_WIRE_F64:
		return text_float(value, type, v, err, errlen);
	case CALLBOX_WIRE_BOOL:
		if (!strcmp(value, "true") || !strcmp(value, "1"))
			v->b = true;
		else if (strcmp(value, "false") && strcmp(value, "0"))
			return text_fail(err, errlen, -EINVAL,
					 "'%s' is not a bool: true, false, 1 or 0",
					 value);
		return 0;
	case CALLBOX_WIRE_STRING:
		return text_copy(v, value, (uint32_t)strlen(value), err,
				 errlen);
	default:	/* CALLBOX_WIRE_BYTES */
		return text_bytes(value, flags, v, err, errlen);
	}
}

/*
 * %.9g and %.17g are the fewest digits that always read back as the same
 * float and double.
 */
size_t callbox_value_format(const struct callbox_wire_value *v, char *buf,
			    size_t len)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *p = v->data;
	size_t i, n;
	int ret;

	switch (v->type) {
	case CALLBOX_WIRE_I32:
		ret = snprintf(buf, len, "%" PRId32, v->i32);
		break;
	case CALLBOX_WIRE_U32:
		ret = snprintf(buf, len, "%" PRIu32, v->u32);
		break;
	case CALLBOX_WIRE_I64:
		ret = snprintf(buf, len, "%" PRId64, v->i64);
		break;
	case CALLBOX_WIRE_U64:
		ret = snprintf(buf, len, "%" PRIu64, v->u64);
		break;
	case CALLBOX_WIRE_F32:
		ret = snprintf(buf, len, "%.9g", (double)v->f32);
		break;
	case CALLBOX_WIRE_F64:
		ret = snprintf(buf, len, "%.17g", v->f64);
		break;
	case CALLBOX_WIRE_BOOL:
		ret = snprintf(buf, len, "%s", v->b ? "true" : "false");
		break;
	case CALLBOX_WIRE_STRING:
		ret = snprintf(buf, len, "%.*s", (int)v->len,
			       (const char *)v->data);
		break;
	case CALLBOX_WIRE_BYTES:
		/* Like snprintf(): what fits, then a NUL; the whole length. */
		for (i = 0, n = 0; i < v->len; i++, n += 2) {
			if (n + 1 < len)
				buf[n] = digits[p[i] >> 4];
			if (n + 2 < len)
				buf[n + 1] = digits[p[i] & 15];
		}
		if (len)
			buf[n < len ? n : len - 1] = '\0';
		return n;
	default:	/* VOID, and nothing else can be formatted */
		ret = snprintf(buf, len, "%s", "");
		break;
	}
	return ret < 0 ? 0 : (size_t)ret;
}
