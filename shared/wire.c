// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * The typed-value wire format's codec; see callbox/wire.h for the format.
 *
 * Compiled into the guest SDK (freestanding, -mgeneral-regs-only) and
 * natively into host programs, so it uses nothing but its header and the
 * compiler's builtins, and touches floats only as integer bits.
 *
 * The reader's input is hostile. Every bounds check is written as a
 * comparison against what is left ("need <= length - pos", with pos <=
 * length always true), never as "pos + need <= length", which a length
 * near UINT32_MAX could wrap.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <callbox/wire.h>

/* The codec stores integers with plain copies: x86-64 is little-endian. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "callbox/wire.c assumes a little-endian machine"
#endif

#define HDR	CALLBOX_WIRE_HEADER_SIZE

/* Header field offsets, for the copies and for error reports. */
#define OFF_MAGIC	0
#define OFF_VERSION	4
#define OFF_COUNT	6
#define OFF_LENGTH	8

_Static_assert(CALLBOX_WIRE_MAX_VALUES <= UINT16_MAX, "count fits in a u16");

const char *callbox_wire_type_name(unsigned int type)
{
	static const char *const names[CALLBOX_WIRE_TYPE_COUNT] = {
		[CALLBOX_WIRE_VOID] = "void",
		[CALLBOX_WIRE_I32] = "i32",
		[CALLBOX_WIRE_U32] = "u32",
		[CALLBOX_WIRE_I64] = "i64",
		[CALLBOX_WIRE_U64] = "u64",
		[CALLBOX_WIRE_F32] = "f32",
		[CALLBOX_WIRE_F64] = "f64",
		[CALLBOX_WIRE_BOOL] = "bool",
		[CALLBOX_WIRE_STRING] = "string",
		[CALLBOX_WIRE_BYTES] = "bytes",
	};

	return type < CALLBOX_WIRE_TYPE_COUNT ? names[type] : "unknown";
}

/* ---- the writer ---- */

void callbox_wire_writer_init(struct callbox_wire_writer *w, void *buf,
			      size_t size)
{
	w->buf = buf;
	/* No message can be longer than its u32 length field says. */
	w->size = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
	w->pos = HDR;
	w->count = 0;
	w->error = 0;
	if (!buf && size)
		w->error = -CALLBOX_WIRE_EINVAL;
}

/*
 * Room for one more value of @payload bytes (after its tag)? Sets the
 * writer's error if not. @payload is a size_t so that a caller's huge
 * length is judged here rather than cut down on the way.
 */
static int writer_reserve(struct callbox_wire_writer *w, size_t payload)
{
	uint32_t room;

	if (w->error)
		return w->error;
	if (w->count >= CALLBOX_WIRE_MAX_VALUES)
		return w->error = -CALLBOX_WIRE_EINVAL;
	/* pos > size when even the header does not fit. */
	room = w->pos < w->size ? w->size - w->pos : 0;
	if (room < 1 || payload > room - 1)
		return w->error = -CALLBOX_WIRE_E2BIG;
	return 0;
}

static void writer_put(struct callbox_wire_writer *w, const void *p,
		       uint32_t n)
{
	if (n)
		__builtin_memcpy(w->buf + w->pos, p, n);
	w->pos += n;
}

/* One fixed-size value: reserve, then tag and payload. */
static int put_fixed(struct callbox_wire_writer *w, uint8_t type,
		     const void *p, uint32_t n)
{
	int ret = writer_reserve(w, n);

	if (ret)
		return ret;
	writer_put(w, &type, 1);
	writer_put(w, p, n);
	w->count++;
	return 0;
}

int callbox_wire_put_void(struct callbox_wire_writer *w)
{
	return put_fixed(w, CALLBOX_WIRE_VOID, NULL, 0);
}

int callbox_wire_put_i32(struct callbox_wire_writer *w, int32_t v)
{
	return put_fixed(w, CALLBOX_WIRE_I32, &v, 4);
}

int callbox_wire_put_u32(struct callbox_wire_writer *w, uint32_t v)
{
	return put_fixed(w, CALLBOX_WIRE_U32, &v, 4);
}

int callbox_wire_put_i64(struct callbox_wire_writer *w, int64_t v)
{
	return put_fixed(w, CALLBOX_WIRE_I64, &v, 8);
}

int callbox_wire_put_u64(struct callbox_wire_writer *w, uint64_t v)
{
	return put_fixed(w, CALLBOX_WIRE_U64, &v, 8);
}

int callbox_wire_put_f32_bits(struct callbox_wire_writer *w, uint32_t bits)
{
	return put_fixed(w, CALLBOX_WIRE_F32, &bits, 4);
}

int callbox_wire_put_f64_bits(struct callbox_wire_writer *w, uint64_t bits)
{
	return put_fixed(w, CALLBOX_WIRE_F64, &bits, 8);
}

int callbox_wire_put_bool(struct callbox_wire_writer *w, bool v)
{
	uint8_t byte = v ? 1 : 0;

	return put_fixed(w, CALLBOX_WIRE_BOOL, &byte, 1);
}

/*
 * A STRING or BYTES value: tag, u32 length, bytes, and for a STRING a NUL
 * terminator that the length does not count.
 */
static int put_counted(struct callbox_wire_writer *w, uint8_t type,
		       const void *p, size_t len)
{
	uint32_t nul = type == CALLBOX_WIRE_STRING ? 1 : 0;
	uint8_t zero = 0;
	uint32_t len32;
	int ret;

	if (w->error)
		return w->error;
	if (!p && len)
		return w->error = -CALLBOX_WIRE_EINVAL;
	/* 4 + len + 1 cannot wrap: a len this large fails the check anyway. */
	ret = writer_reserve(w, len > UINT32_MAX ? SIZE_MAX : 4 + len + nul);
	if (ret)
		return ret;
	len32 = (uint32_t)len;
	writer_put(w, &type, 1);
	writer_put(w, &len32, 4);
	writer_put(w, p, len32);
	writer_put(w, &zero, nul);
	w->count++;
	return 0;
}

/* Where the first NUL in @p[0..len) is, or @len; there is no memchr. */
static size_t nul_index(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!p[i])
			break;
	return i;
}

int callbox_wire_put_string_n(struct callbox_wire_writer *w, const char *s,
			      size_t len)
{
	if (w->error)
		return w->error;
	if (s && nul_index((const uint8_t *)s, len) != len)
		return w->error = -CALLBOX_WIRE_EINVAL;
	return put_counted(w, CALLBOX_WIRE_STRING, s, len);
}

int callbox_wire_put_string(struct callbox_wire_writer *w, const char *s)
{
	size_t len = 0;

	if (w->error)
		return w->error;
	if (!s)
		return w->error = -CALLBOX_WIRE_EINVAL;
	while (s[len])
		len++;
	return put_counted(w, CALLBOX_WIRE_STRING, s, len);
}

int callbox_wire_put_bytes(struct callbox_wire_writer *w, const void *p,
			   size_t len)
{
	return put_counted(w, CALLBOX_WIRE_BYTES, p, len);
}

int callbox_wire_put_value(struct callbox_wire_writer *w,
			   const struct callbox_wire_value *v)
{
	switch (v->type) {
	case CALLBOX_WIRE_VOID:
		return callbox_wire_put_void(w);
	case CALLBOX_WIRE_I32:
		return callbox_wire_put_i32(w, v->i32);
	case CALLBOX_WIRE_U32:
		return callbox_wire_put_u32(w, v->u32);
	case CALLBOX_WIRE_I64:
		return callbox_wire_put_i64(w, v->i64);
	case CALLBOX_WIRE_U64:
		return callbox_wire_put_u64(w, v->u64);
	case CALLBOX_WIRE_F32:
		return callbox_wire_put_f32_bits(w, v->f32_bits);
	case CALLBOX_WIRE_F64:
		return callbox_wire_put_f64_bits(w, v->f64_bits);
	case CALLBOX_WIRE_BOOL:
		return callbox_wire_put_bool(w, v->b);
	case CALLBOX_WIRE_STRING:
		return callbox_wire_put_string_n(w, (const char *)v->data,
						 v->len);
	case CALLBOX_WIRE_BYTES:
		return callbox_wire_put_bytes(w, v->data, v->len);
	}
	if (!w->error)
		w->error = -CALLBOX_WIRE_EINVAL;
	return w->error;
}

int64_t callbox_wire_writer_finish(struct callbox_wire_writer *w)
{
	uint32_t magic = CALLBOX_WIRE_MAGIC;
	uint16_t version = CALLBOX_WIRE_VERSION;
	uint16_t count = (uint16_t)w->count;

	if (w->error)
		return w->error;
	/* With no value put yet, nothing has checked that the header fits. */
	if (w->size < HDR)
		return w->error = -CALLBOX_WIRE_E2BIG;
	__builtin_memcpy(w->buf + OFF_MAGIC, &magic, 4);
	__builtin_memcpy(w->buf + OFF_VERSION, &version, 2);
	__builtin_memcpy(w->buf + OFF_COUNT, &count, 2);
	__builtin_memcpy(w->buf + OFF_LENGTH, &w->pos, 4);
	return w->pos;
}

/* ---- the reader ---- */

/*
 * Record the first error: @what must be a static string, as the reader
 * cannot format one; @offset and @value locate it for the host's message.
 */
uint32_t callbox_wire_writer_count(const struct callbox_wire_writer *w)
{
	return w->count;
}

uint32_t callbox_wire_reader_length(const struct callbox_wire_reader *r)
{
	return r->length;
}

uint32_t callbox_wire_reader_count(const struct callbox_wire_reader *r)
{
	return r->count;
}

static int reader_fail(struct callbox_wire_reader *r, const char *what,
		       uint32_t offset, uint64_t value)
{
	r->error = -CALLBOX_WIRE_EBADMSG;
	r->err = what;
	r->err_offset = offset;
	r->err_value = value;
	return r->error;
}

static uint16_t get_u16(const uint8_t *p)
{
	uint16_t v;

	__builtin_memcpy(&v, p, 2);
	return v;
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;

	__builtin_memcpy(&v, p, 4);
	return v;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v;

	__builtin_memcpy(&v, p, 8);
	return v;
}

int callbox_wire_reader_init(struct callbox_wire_reader *r, const void *buf,
			     size_t size)
{
	uint32_t magic, version, count, length;

	*r = (struct callbox_wire_reader){ .buf = buf };
	if (!buf || size < HDR)
		return reader_fail(r, "buffer shorter than the message header",
				   0, buf ? size : 0);
	magic = get_u32(r->buf + OFF_MAGIC);
	version = get_u16(r->buf + OFF_VERSION);
	count = get_u16(r->buf + OFF_COUNT);
	length = get_u32(r->buf + OFF_LENGTH);
	if (magic != CALLBOX_WIRE_MAGIC)
		return reader_fail(r, "bad magic", OFF_MAGIC, magic);
	if (version != CALLBOX_WIRE_VERSION)
		return reader_fail(r, "unsupported version", OFF_VERSION,
				   version);
	if (count > CALLBOX_WIRE_MAX_VALUES)
		return reader_fail(r, "value count over the maximum",
				   OFF_COUNT, count);
	if (length < HDR)
		return reader_fail(r, "message length shorter than its header",
				   OFF_LENGTH, length);
	if (length > size)
		return reader_fail(r, "message length past the end of the buffer",
				   OFF_LENGTH, length);
	r->length = length;
	r->count = count;
	r->pos = HDR;
	return 0;
}

/* Payload sizes of the fixed-size types; -1 for the counted ones. */
static const int8_t fixed_size[CALLBOX_WIRE_TYPE_COUNT] = {
	[CALLBOX_WIRE_VOID] = 0,
	[CALLBOX_WIRE_I32] = 4,
	[CALLBOX_WIRE_U32] = 4,
	[CALLBOX_WIRE_I64] = 8,
	[CALLBOX_WIRE_U64] = 8,
	[CALLBOX_WIRE_F32] = 4,
	[CALLBOX_WIRE_F64] = 8,
	[CALLBOX_WIRE_BOOL] = 1,
	[CALLBOX_WIRE_STRING] = -1,
	[CALLBOX_WIRE_BYTES] = -1,
};

int callbox_wire_next(struct callbox_wire_reader *r,
		      struct callbox_wire_value *v)
{
	uint32_t start = r->pos, pos, left, len;
	const uint8_t *p;
	uint8_t type;

	if (r->error)
		return r->error;
	if (r->index == r->count) {
		if (r->pos != r->length)
			return reader_fail(r, "trailing bytes after the last value",
					   r->pos, r->length - r->pos);
		return 0;
	}
	/* Invariant: HDR <= pos <= length <= the buffer's size. */
	if (start == r->length)
		return reader_fail(r, "message ends before its last value",
				   start, r->count - r->index);
	type = r->buf[start];
	if (type >= CALLBOX_WIRE_TYPE_COUNT)
		return reader_fail(r, "unknown type tag", start, type);
	pos = start + 1;
	left = r->length - pos;
	p = r->buf + pos;

	v->type = type;
	v->u64 = 0;
	v->data = NULL;
	v->len = 0;
	if (fixed_size[type] >= 0) {
		len = (uint32_t)fixed_size[type];
		if (len > left)
			return reader_fail(r, "value runs past the message end",
					   start, len);
		switch (type) {
		case CALLBOX_WIRE_I32:
		case CALLBOX_WIRE_U32:
		case CALLBOX_WIRE_F32:
			v->u32 = get_u32(p);
			break;
		case CALLBOX_WIRE_I64:
		case CALLBOX_WIRE_U64:
		case CALLBOX_WIRE_F64:
			v->u64 = get_u64(p);
			break;
		case CALLBOX_WIRE_BOOL:
			if (*p > 1)
				return reader_fail(r, "bool value not 0 or 1",
						   pos, *p);
			v->b = *p;
			break;
		}
		r->pos = pos + len;
	} else {
		if (left < 4)
			return reader_fail(r, "length field runs past the message end",
					   pos, left);
		len = get_u32(p);
		left -= 4;
		if (len > left)
			return reader_fail(r, type == CALLBOX_WIRE_STRING ?
					   "string length runs past the message end" :
					   "bytes length runs past the message end",
					   pos, len);
		v->data = p + 4;
		v->len = len;
		if (type == CALLBOX_WIRE_STRING) {
			uint32_t nul = (uint32_t)nul_index(v->data, len);

			if (nul != len)
				return reader_fail(r, "NUL byte inside a string",
						   pos + 4 + nul, len);
			/* len < left here, so the terminator is in bounds. */
			if (len == left || v->data[len])
				return reader_fail(r, "string not NUL-terminated",
						   pos + 4 + len, len);
			r->pos = pos + 4 + len + 1;
		} else {
			r->pos = pos + 4 + len;
		}
	}
	r->index++;
	return 1;
}
