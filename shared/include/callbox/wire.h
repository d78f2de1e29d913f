/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * The typed-value wire format: how the parameters and the result of a
 * typed call travel between host and guest in shared memory.
 *
 * Shared, unchanged, by the freestanding guest SDK and by the host; the
 * codec (shared/wire.c) is compiled into both. It allocates nothing:
 * the writer fills a caller's buffer, and the reader hands out values
 * that point into the buffer it reads.
 *
 * Version 2 of the format (version 1 had no NUL after a STRING). Everything is little-endian and unaligned;
 * there is no padding anywhere:
 *
 *	offset	size	field
 *	0	4	magic, CALLBOX_WIRE_MAGIC ("CBW1")
 *	4	2	version, CALLBOX_WIRE_VERSION
 *	6	2	count: values that follow, at most CALLBOX_WIRE_MAX_VALUES
 *	8	4	length: of the whole message in bytes, this header included
 *	12	...	@count values
 *
 * Each value is a one-byte type tag (&enum callbox_wire_type) and then
 * its payload:
 *
 *	VOID			nothing ("no return value")
 *	I32, U32, F32		4 bytes
 *	I64, U64, F64		8 bytes
 *	BOOL			1 byte, 0 or 1 and nothing else
 *	STRING			u32 byte length, then the bytes, with no NUL
 *				among them, then one NUL byte that the
 *				length does not count
 *	BYTES			u32 byte length, then the bytes
 *
 * F32 and F64 are IEEE 754 binary32 and binary64 bit patterns, copied as
 * they are: NaN payloads and the sign of zero survive the trip.
 *
 * The encoding is canonical: a set of values has exactly one encoding,
 * and the last value ends exactly at @length; the reader rejects any
 * message with bytes after it. A reader of a message from guest memory
 * treats it as hostile: every length and offset is checked before use,
 * without arithmetic that could wrap.
 *
 * Floating point and -mgeneral-regs-only: the guest SDK is compiled
 * without SSE registers, and there GCC rejects any function that takes or
 * returns a float or double. So the codec's interface carries floats as
 * their raw bits (callbox_wire_put_f32_bits(), &callbox_wire_value.f32_bits)
 * and never does float arithmetic. Code that has SSE (the host, and guest
 * programs, which keep SSE) may use the float-typed conveniences too: the
 * inline callbox_wire_put_f32() and callbox_wire_put_f64() below, and the
 * f32 and f64 members of &callbox_wire_value, which alias the bits.
 */
#ifndef CALLBOX_WIRE_H
#define CALLBOX_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CALLBOX_WIRE_MAGIC	0x31574243u	/* "CBW1" little-endian */
#define CALLBOX_WIRE_VERSION	2u
#define CALLBOX_WIRE_HEADER_SIZE	12u

/*
 * Up to 32 parameters, and one value more, so that a decoder of arguments
 * can tell "one too many" (and say so) from "as many as there may be".
 */
#define CALLBOX_WIRE_MAX_VALUES	(32 + 1)

/*
 * The errno values the codec returns, negated. The header must stay
 * freestanding, so it cannot take them from <errno.h>; these are Linux's
 * (x86-64, asm-generic) numbers, the same as E2BIG, EINVAL and EBADMSG on
 * the host, which its tests check.
 */
#define CALLBOX_WIRE_E2BIG	7
#define CALLBOX_WIRE_EINVAL	22
#define CALLBOX_WIRE_EBADMSG	74

/**
 * enum callbox_wire_type - the type tag of a value, its first byte
 * @CALLBOX_WIRE_VOID: no value; stands for "returns nothing"
 * @CALLBOX_WIRE_I32: int32_t
 * @CALLBOX_WIRE_U32: uint32_t
 * @CALLBOX_WIRE_I64: int64_t
 * @CALLBOX_WIRE_U64: uint64_t
 * @CALLBOX_WIRE_F32: float, as its IEEE 754 bits
 * @CALLBOX_WIRE_F64: double, as its IEEE 754 bits
 * @CALLBOX_WIRE_BOOL: bool
 * @CALLBOX_WIRE_STRING: text without NUL bytes, with a u32 length
 * @CALLBOX_WIRE_BYTES: any bytes, with a u32 length
 * @CALLBOX_WIRE_TYPE_COUNT: one past the last tag; not a tag
 */
enum callbox_wire_type {
	CALLBOX_WIRE_VOID = 0,
	CALLBOX_WIRE_I32 = 1,
	CALLBOX_WIRE_U32 = 2,
	CALLBOX_WIRE_I64 = 3,
	CALLBOX_WIRE_U64 = 4,
	CALLBOX_WIRE_F32 = 5,
	CALLBOX_WIRE_F64 = 6,
	CALLBOX_WIRE_BOOL = 7,
	CALLBOX_WIRE_STRING = 8,
	CALLBOX_WIRE_BYTES = 9,
	CALLBOX_WIRE_TYPE_COUNT
};

/**
 * struct callbox_wire_writer - builds one message in a caller's buffer
 * @buf: the buffer
 * @size: its size, capped at UINT32_MAX (the largest @length there is)
 * @pos: where the next value goes
 * @count: values written so far
 * @error: 0, or the first error, negated; once set every call returns it
 *
 * The fields are private to wire.c; they are here so that a writer can
 * live on the stack.
 */
struct callbox_wire_writer {
	uint8_t *buf;
	uint32_t size;
	uint32_t pos;
	uint32_t count;
	int error;
};

/**
 * struct callbox_wire_value - one decoded value
 * @type: its &enum callbox_wire_type
 * @i32: the value of an I32
 * @u32: the value of a U32
 * @i64: the value of an I64
 * @u64: the value of a U64
 * @f32_bits: the bits of an F32
 * @f64_bits: the bits of an F64
 * @f32: the same bits as a float; only for code built with SSE
 * @f64: the same bits as a double; only for code built with SSE
 * @b: the value of a BOOL
 * @data: STRING and BYTES: the bytes, inside the reader's buffer; a
 *	STRING is followed by a NUL there, so @data is a C string too.
 *	NULL for the other types.
 * @len: STRING and BYTES: how many bytes @data has; 0 for the others
 *
 * The reader zeroes the union before it fills it, so members of other
 * types read as 0.
 */
struct callbox_wire_value {
	uint8_t type;
	union {
		int32_t i32;
		uint32_t u32;
		int64_t i64;
		uint64_t u64;
		uint32_t f32_bits;
		uint64_t f64_bits;
		float f32;
		double f64;
		bool b;
	};
	const uint8_t *data;
	uint32_t len;
};

/*
 * Values to pass as arguments, e.g. in a compound literal:
 *
 *	(struct callbox_wire_value[]){ CALLBOX_I64(-1), CALLBOX_STRING("hi") }
 *
 * These are C (compound literals); C++ fills the struct itself.
 * CALLBOX_STRING() takes a NUL-terminated string and evaluates it once;
 * it is a statement expression, so it has no address: for one argument,
 * put it in a variable (or in a one-element array literal) first.
 * CALLBOX_F32() and CALLBOX_F64() take a float and a double, so only code
 * built with SSE can use them; CALLBOX_F32_BITS() and CALLBOX_F64_BITS()
 * take the bits.
 */
#define CALLBOX_WIRE_VALUE(tag, member, v)				\
	((struct callbox_wire_value){ .type = (tag), .member = (v) })
#define CALLBOX_I32(v)		CALLBOX_WIRE_VALUE(CALLBOX_WIRE_I32, i32, v)
#define CALLBOX_U32(v)		CALLBOX_WIRE_VALUE(CALLBOX_WIRE_U32, u32, v)
#define CALLBOX_I64(v)		CALLBOX_WIRE_VALUE(CALLBOX_WIRE_I64, i64, v)
#define CALLBOX_U64(v)		CALLBOX_WIRE_VALUE(CALLBOX_WIRE_U64, u64, v)
#define CALLBOX_F32(v)		CALLBOX_WIRE_VALUE(CALLBOX_WIRE_F32, f32, v)
#define CALLBOX_F64(v)		CALLBOX_WIRE_VALUE(CALLBOX_WIRE_F64, f64, v)
#define CALLBOX_F32_BITS(v)	CALLBOX_WIRE_VALUE(CALLBOX_WIRE_F32, f32_bits, v)
#define CALLBOX_F64_BITS(v)	CALLBOX_WIRE_VALUE(CALLBOX_WIRE_F64, f64_bits, v)
#define CALLBOX_BOOL(v)		CALLBOX_WIRE_VALUE(CALLBOX_WIRE_BOOL, b, v)
#define CALLBOX_BYTES(p, n)						\
	((struct callbox_wire_value){ .type = CALLBOX_WIRE_BYTES,	\
		.data = (const uint8_t *)(p), .len = (n) })
#define CALLBOX_STRING_N(s, n)						\
	((struct callbox_wire_value){ .type = CALLBOX_WIRE_STRING,	\
		.data = (const uint8_t *)(s), .len = (n) })
#define CALLBOX_STRING(s)						\
	({ const char *__callbox_s = (s);				\
	   CALLBOX_STRING_N(__callbox_s, __builtin_strlen(__callbox_s)); })

/**
 * callbox_wire_put_value() - append a value given as a struct
 * @w: the writer
 * @v: the value; STRING and BYTES take @v's data and len (a STRING's
 *	data need not be NUL-terminated, but may not contain a NUL). A
 *	type tag outside &enum callbox_wire_type is -CALLBOX_WIRE_EINVAL.
 *
 * Return: as for the other puts.
 */
int callbox_wire_put_value(struct callbox_wire_writer *w,
			   const struct callbox_wire_value *v);

/**
 * struct callbox_wire_reader - decodes one message, value by value
 * @buf: the message
 * @length: its length, from the header, checked to be within the buffer
 * @pos: where the next value starts
 * @count: values the header announces
 * @index: values returned so far
 * @error: 0, or -CALLBOX_WIRE_EBADMSG once the message was found
 *	malformed; every later call returns it
 * @err: what was wrong, a static string without offsets or numbers; NULL
 *	while there is no error
 * @err_offset: where in the message the problem is
 * @err_value: the offending number (a length, a tag, a count...) where
 *	@err says it has one, else 0
 *
 * A host reports an error with all three, e.g. printf("%s: %llu at offset
 * %u (message length %u)", r.err, r.err_value, r.err_offset, r.length).
 * The fields are private to wire.c otherwise.
 */
struct callbox_wire_reader {
	const uint8_t *buf;
	uint32_t length;
	uint32_t pos;
	uint16_t count;
	uint16_t index;
	int error;
	const char *err;
	uint32_t err_offset;
	uint64_t err_value;
};

/**
 * callbox_wire_writer_init() - start a message
 * @w: the writer
 * @buf: where the message goes; may be NULL if @size is 0
 * @size: the buffer's size in bytes
 *
 * A buffer too small for even the header is not an error yet: the first
 * put, or callbox_wire_writer_finish(), reports -CALLBOX_WIRE_E2BIG.
 */
void callbox_wire_writer_init(struct callbox_wire_writer *w, void *buf,
			      size_t size);

/*
 * The puts: each appends one value. Return: 0; or the writer's first
 * error, negated, which every later put and the finish return as well:
 * -CALLBOX_WIRE_E2BIG when the value does not fit in the buffer,
 * -CALLBOX_WIRE_EINVAL for a value past CALLBOX_WIRE_MAX_VALUES, a NUL in
 * a string or a NULL pointer with a non-zero length.
 */
int callbox_wire_put_void(struct callbox_wire_writer *w);
int callbox_wire_put_i32(struct callbox_wire_writer *w, int32_t v);
int callbox_wire_put_u32(struct callbox_wire_writer *w, uint32_t v);
int callbox_wire_put_i64(struct callbox_wire_writer *w, int64_t v);
int callbox_wire_put_u64(struct callbox_wire_writer *w, uint64_t v);
int callbox_wire_put_f32_bits(struct callbox_wire_writer *w, uint32_t bits);
int callbox_wire_put_f64_bits(struct callbox_wire_writer *w, uint64_t bits);
int callbox_wire_put_bool(struct callbox_wire_writer *w, bool v);

/**
 * callbox_wire_put_string() - append a NUL-terminated string
 * @w: the writer
 * @s: the string; its terminating NUL is not sent. NULL is -EINVAL.
 *
 * Return: as for the other puts.
 */
int callbox_wire_put_string(struct callbox_wire_writer *w, const char *s);

/**
 * callbox_wire_put_string_n() - append a string of known length
 * @w: the writer
 * @s: the bytes; may be NULL if @len is 0
 * @len: how many; any NUL among them is -EINVAL
 *
 * Return: as for the other puts.
 */
int callbox_wire_put_string_n(struct callbox_wire_writer *w, const char *s,
			      size_t len);

/**
 * callbox_wire_put_bytes() - append a byte string
 * @w: the writer
 * @p: the bytes; may be NULL if @len is 0
 * @len: how many
 *
 * Return: as for the other puts.
 */
int callbox_wire_put_bytes(struct callbox_wire_writer *w, const void *p,
			   size_t len);

/**
 * callbox_wire_writer_finish() - write the header, ending the message
 * @w: the writer
 *
 * Return: the message's length in bytes, header included; or the first
 * error of any put, negated (the buffer's contents are then undefined).
 * More puts after the finish make a longer message, to be finished again.
 */
int64_t callbox_wire_writer_finish(struct callbox_wire_writer *w);

/* How many values @w holds so far. */
uint32_t callbox_wire_writer_count(const struct callbox_wire_writer *w);

/**
 * callbox_wire_reader_init() - check a message's header
 * @r: the reader
 * @buf: the message; may be NULL if @size is 0
 * @size: how many bytes of it may be read; the message may be shorter
 *	(its header says how long it is) but not longer
 *
 * Checks the magic, the version, the count (at most
 * CALLBOX_WIRE_MAX_VALUES) and the length (a header at least, and within
 * @size). Nothing outside [@buf, @buf + @size) is ever read.
 *
 * Return: 0, or -CALLBOX_WIRE_EBADMSG with @r's err fields set.
 */
int callbox_wire_reader_init(struct callbox_wire_reader *r, const void *buf,
			     size_t size);

/*
 * After a successful callbox_wire_reader_init(): the message's length,
 * header included, and how many values its header announces.
 */
uint32_t callbox_wire_reader_length(const struct callbox_wire_reader *r);
uint32_t callbox_wire_reader_count(const struct callbox_wire_reader *r);

/**
 * callbox_wire_next() - decode the next value
 * @r: the reader, initialised successfully or not
 * @v: filled with the value when 1 is returned
 *
 * After the last value it checks that the message ends there, so a
 * message is known to be well formed only once this has returned 0.
 *
 * Return: 1 with a value in @v; 0 at the well-formed end of the message
 * (and again on every later call); or -CALLBOX_WIRE_EBADMSG with @r's err
 * fields set (and again on every later call).
 */
int callbox_wire_next(struct callbox_wire_reader *r,
		      struct callbox_wire_value *v);

/**
 * callbox_wire_type_name() - the name of a type tag, for messages
 * @type: a tag
 *
 * Return: "i32", "string" and so on, or "unknown" for no tag of
 * &enum callbox_wire_type.
 */
const char *callbox_wire_type_name(unsigned int type);

/*
 * Float-typed conveniences for code built with SSE: GCC would reject
 * these in the SDK (-mgeneral-regs-only), where __SSE2__ is not defined.
 */
#ifdef __SSE2__
static inline int callbox_wire_put_f32(struct callbox_wire_writer *w, float v)
{
	uint32_t bits;

	__builtin_memcpy(&bits, &v, sizeof(bits));
	return callbox_wire_put_f32_bits(w, bits);
}

static inline int callbox_wire_put_f64(struct callbox_wire_writer *w, double v)
{
	uint64_t bits;

	__builtin_memcpy(&bits, &v, sizeof(bits));
	return callbox_wire_put_f64_bits(w, bits);
}
#endif

#ifdef __cplusplus
}
#endif

#endif /* CALLBOX_WIRE_H */
