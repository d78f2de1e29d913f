// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * A small vsnprintf() for the guest: integers, characters, strings and
 * pointers, no floating point. See callbox/format.h for what it supports.
 *
 * Output goes through struct fmt_out, which stores what fits and counts
 * everything, so truncation needs no special cases anywhere else. Padding
 * is counted rather than looped over once the buffer is full, so a huge
 * width costs no more than the buffer it fills.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <callbox/format.h>

struct fmt_out {
	char *buf;
	size_t cap;	/* bytes that may hold output: the buffer less the NUL */
	size_t len;	/* the length of the whole output so far */
};

enum {
	FMT_LEFT = 1 << 0,	/* '-' */
	FMT_ZERO = 1 << 1,	/* '0' */
	FMT_PLUS = 1 << 2,	/* '+' */
	FMT_SPACE = 1 << 3,	/* ' ' */
	FMT_ALT = 1 << 4,	/* '#' */
};

enum fmt_length {
	FMT_LEN_NONE,
	FMT_LEN_HH,
	FMT_LEN_H,
	FMT_LEN_L,
	FMT_LEN_LL,
	FMT_LEN_Z,
	FMT_LEN_J,
	FMT_LEN_T,
};

struct fmt_spec {
	unsigned int flags;
	size_t width;
	int prec;		/* -1 if none was given */
	enum fmt_length length;
};

static size_t fmt_room(const struct fmt_out *o)
{
	return o->len < o->cap ? o->cap - o->len : 0;
}

static void out_mem(struct fmt_out *o, const char *s, size_t n)
{
	size_t i, fit = fmt_room(o);

	if (fit > n)
		fit = n;
	for (i = 0; i < fit; i++)
		o->buf[o->len + i] = s[i];
	o->len += n;
}

static void out_pad(struct fmt_out *o, char c, size_t n)
{
	size_t i, fit = fmt_room(o);

	if (fit > n)
		fit = n;
	for (i = 0; i < fit; i++)
		o->buf[o->len + i] = c;
	o->len += n;
}

/* @n bytes of @s in a field of the spec's width; strings pad with spaces. */
static void out_field(struct fmt_out *o, const struct fmt_spec *spec,
		      const char *s, size_t n)
{
	size_t pad = spec->width > n ? spec->width - n : 0;

	if (!(spec->flags & FMT_LEFT))
		out_pad(o, ' ', pad);
	out_mem(o, s, n);
	if (spec->flags & FMT_LEFT)
		out_pad(o, ' ', pad);
}

/*
 * An integer of magnitude @mag, laid out as
 *
 *	[spaces] [sign] [0x] [zeros] digits [spaces]
 *
 * where the zeros make up the precision (the minimum number of digits) and,
 * with the '0' flag and no precision, the width. @sign is 0 for none.
 */
static void out_integer(struct fmt_out *o, const struct fmt_spec *spec,
			uintmax_t mag, char sign, unsigned int base,
			bool upper)
{
	const char *digit = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];		/* 22 octal digits for 64 bits */
	size_t nd = 0, zeros = 0, prefix = 0, total, pad;
	size_t prec = spec->prec < 0 ? 1 : (size_t)spec->prec;

	/* Precision 0 prints the value 0 as no digits at all. */
	if (mag || prec) {
		do {
			tmp[sizeof(tmp) - ++nd] = digit[mag % base];
			mag /= base;
		} while (mag);
	}
	if (nd < prec)
		zeros = prec - nd;
	if (spec->flags & FMT_ALT) {
		/* '#': octal starts with a 0; non-zero hex gets 0x. */
		if (base == 8 && !zeros && (!nd || tmp[sizeof(tmp) - nd] != '0'))
			zeros = 1;
		if (base == 16 && nd && tmp[sizeof(tmp) - nd] != '0')
			prefix = 2;
	}

	total = !!sign + prefix + zeros + nd;
	pad = spec->width > total ? spec->width - total : 0;
	if ((spec->flags & (FMT_LEFT | FMT_ZERO)) == FMT_ZERO &&
	    spec->prec < 0) {
		zeros += pad;
		pad = 0;
	}

	if (!(spec->flags & FMT_LEFT))
		out_pad(o, ' ', pad);
	if (sign)
		out_mem(o, &sign, 1);
	if (prefix)
		out_mem(o, upper ? "0X" : "0x", 2);
	out_pad(o, '0', zeros);
	out_mem(o, tmp + sizeof(tmp) - nd, nd);
	if (spec->flags & FMT_LEFT)
		out_pad(o, ' ', pad);
}

/*
 * A decimal width or precision. False if it exceeds INT_MAX, which C
 * leaves undefined and glibc reports as an error.
 */
static bool parse_number(const char **pp, int *val)
{
	const char *p = *pp;
	unsigned long v = 0;
	bool ok = true;

	for (; *p >= '0' && *p <= '9'; p++) {
		if (v <= INT_MAX)
			v = v * 10 + (unsigned long)(*p - '0');
		if (v > INT_MAX)
			ok = false;
	}
	*pp = p;
	*val = ok ? (int)v : 0;
	return ok;
}

static enum fmt_length parse_length(const char **pp)
{
	const char *p = *pp;
	enum fmt_length len = FMT_LEN_NONE;

	switch (*p) {
	case 'h':
		len = p[1] == 'h' ? FMT_LEN_HH : FMT_LEN_H;
		break;
	case 'l':
		len = p[1] == 'l' ? FMT_LEN_LL : FMT_LEN_L;
		break;
	case 'z':
		len = FMT_LEN_Z;
		break;
	case 'j':
		len = FMT_LEN_J;
		break;
	case 't':
		len = FMT_LEN_T;
		break;
	default:
		return FMT_LEN_NONE;
	}
	*pp = p + (len == FMT_LEN_HH || len == FMT_LEN_LL ? 2 : 1);
	return len;
}

static intmax_t signed_arg(va_list *ap, enum fmt_length len)
{
	switch (len) {
	case FMT_LEN_HH:
		return (signed char)va_arg(*ap, int);
	case FMT_LEN_H:
		return (short)va_arg(*ap, int);
	case FMT_LEN_L:
		return va_arg(*ap, long);
	case FMT_LEN_LL:
		return va_arg(*ap, long long);
	case FMT_LEN_Z:
		/* The signed type of size_t's width. */
		return (ptrdiff_t)va_arg(*ap, size_t);
	case FMT_LEN_J:
		return va_arg(*ap, intmax_t);
	case FMT_LEN_T:
		return va_arg(*ap, ptrdiff_t);
	default:
		return va_arg(*ap, int);
	}
}

static uintmax_t unsigned_arg(va_list *ap, enum fmt_length len)
{
	switch (len) {
	case FMT_LEN_HH:
		return (unsigned char)va_arg(*ap, unsigned int);
	case FMT_LEN_H:
		return (unsigned short)va_arg(*ap, unsigned int);
	case FMT_LEN_L:
		return va_arg(*ap, unsigned long);
	case FMT_LEN_LL:
		return va_arg(*ap, unsigned long long);
	case FMT_LEN_Z:
		return va_arg(*ap, size_t);
	case FMT_LEN_J:
		return va_arg(*ap, uintmax_t);
	case FMT_LEN_T:
		/* The unsigned type of ptrdiff_t's width. */
		return (size_t)va_arg(*ap, ptrdiff_t);
	default:
		return va_arg(*ap, unsigned int);
	}
}

static char sign_of(const struct fmt_spec *spec, bool negative)
{
	if (negative)
		return '-';
	if (spec->flags & FMT_PLUS)
		return '+';
	if (spec->flags & FMT_SPACE)
		return ' ';
	return 0;
}

int callbox_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct fmt_out o = { .buf = buf, .cap = size ? size - 1 : 0 };
	const char *p = fmt;
	bool error = false;
	va_list args;

	/*
	 * The helpers take a va_list by pointer, which &ap is not: a va_list
	 * parameter is an array decayed to a pointer on x86-64. A copy is a
	 * real va_list.
	 */
	va_copy(args, ap);

	while (*p && !error && o.len <= INT_MAX) {
		struct fmt_spec spec = { .prec = -1 };
		const char *start = p, *s;
		uintmax_t mag;
		intmax_t val;
		size_t n;
		char c, ch;
		int w;

		if (*p != '%') {
			while (*p && *p != '%')
				p++;
			out_mem(&o, start, p - start);
			continue;
		}

		for (p++;; p++) {
			if (*p == '-')
				spec.flags |= FMT_LEFT;
			else if (*p == '0')
				spec.flags |= FMT_ZERO;
			else if (*p == '+')
				spec.flags |= FMT_PLUS;
			else if (*p == ' ')
				spec.flags |= FMT_SPACE;
			else if (*p == '#')
				spec.flags |= FMT_ALT;
			else
				break;
		}

		if (*p == '*') {
			p++;
			w = va_arg(args, int);
			/* A negative width is '-' and its magnitude. */
			if (w == INT_MIN) {
				error = true;
			} else if (w < 0) {
				spec.flags |= FMT_LEFT;
				w = -w;
			}
		} else if (!parse_number(&p, &w)) {
			error = true;
		}
		spec.width = (size_t)w;

		if (*p == '.') {
			p++;
			if (*p == '*') {
				p++;
				spec.prec = va_arg(args, int);
				/* A negative precision is taken as omitted. */
				if (spec.prec < 0)
					spec.prec = -1;
			} else if (!parse_number(&p, &spec.prec)) {
				error = true;
			}
		}
		if (error)
			break;

		spec.length = parse_length(&p);

		c = *p;
		if (c)
			p++;
		switch (c) {
		case '%':
			/* glibc ignores flags and width here; so do we. */
			out_mem(&o, "%", 1);
			break;
		case 'c':
			ch = (char)va_arg(args, int);
			out_field(&o, &spec, &ch, 1);
			break;
		case 's':
			s = va_arg(args, const char *);
			if (spec.length == FMT_LEN_L) {
				/* %ls: a wide string, unsupported. */
				out_mem(&o, start, p - start);
				break;
			}
			if (!s)
				s = spec.prec < 0 || spec.prec >= 6 ? "(null)" : "";
			/* Read no further than the precision: s need not end. */
			for (n = 0; (spec.prec < 0 || n < (size_t)spec.prec) &&
			     s[n]; n++)
				;
			out_field(&o, &spec, s, n);
			break;
		case 'd':
		case 'i':
			val = signed_arg(&args, spec.length);
			/* Negated as unsigned: INT64_MIN has no positive. */
			mag = val < 0 ? -(uintmax_t)val : (uintmax_t)val;
			out_integer(&o, &spec, mag, sign_of(&spec, val < 0), 10,
				    false);
			break;
		case 'u':
		case 'o':
		case 'x':
		case 'X':
			mag = unsigned_arg(&args, spec.length);
			out_integer(&o, &spec, mag, 0,
				    c == 'u' ? 10 : c == 'o' ? 8 : 16, c == 'X');
			break;
		case 'p':
			/* As glibc: "(nil)", or %#lx that heeds '+' and ' '. */
			mag = (uintptr_t)va_arg(args, void *);
			if (!mag) {
				out_field(&o, &spec, "(nil)", 5);
				break;
			}
			spec.flags |= FMT_ALT;
			out_integer(&o, &spec, mag, sign_of(&spec, false), 16,
				    false);
			break;
		case 'n':
			/*
			 * Unsupported: a format that writes to memory is an
			 * exploit waiting to happen. The pointer is consumed,
			 * so that the arguments after it stay in step.
			 */
			(void)va_arg(args, void *);
			out_mem(&o, start, p - start);
			break;
		default:
			/*
			 * Unsupported (%f and the other floating-point
			 * conversions, unknown letters): copied as it stands,
			 * consuming no argument; see format.h.
			 */
			out_mem(&o, start, p - start);
			break;
		}
	}

	va_end(args);
	if (size)
		buf[o.len < o.cap ? o.len : o.cap] = '\0';
	return error || o.len > INT_MAX ? -1 : (int)o.len;
}

int callbox_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = callbox_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return ret;
}
