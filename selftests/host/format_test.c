// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of the guest's formatter (guest/sdk/format.c), compiled natively
 * and compared against the host's snprintf(), which is glibc's: format.c
 * follows glibc where C leaves a choice ("(null)", "(nil)").
 *
 * Every comparison is made at full size and with the buffer cut short,
 * checking the NUL and that nothing is written past the size given.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <callbox/format.h>

/*
 * The 6.1 harness, and the TEST() wrappers it expands to in this file, have
 * unused parameters, which -Wextra -Werror would reject.
 */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"

#define BUF	640
#define CANARY	0x5a

enum trunc {
	TRUNC_ALL,	/* every size from 0 to the output's length + 1 */
	TRUNC_SOME,	/* sizes 0, half the output + 1, its length */
};

/* One call with a buffer of @size; the output's length is known: @want. */
static void same_at(struct __test_metadata *_metadata, int line,
		    const char *fmt, const char *want, int wn, size_t size,
		    va_list ap)
{
	char got[BUF + 32];
	size_t n, i;
	va_list aq;
	int gn;

	memset(got, CANARY, sizeof(got));
	va_copy(aq, ap);
	gn = callbox_vsnprintf(got, size, fmt, aq);
	va_end(aq);

	n = size ? ((size_t)wn < size - 1 ? (size_t)wn : size - 1) : 0;
	if (gn != wn || (size && (memcmp(got, want, n) || got[n]))) {
		TH_LOG("line %d: format \"%s\", size %zu: want %d \"%.*s\", got %d \"%.*s\"",
		       line, fmt, size, wn, (int)n, want, gn,
		       (int)(size ? strnlen(got, size) : 0), got);
		ASSERT_TRUE(false);
	}
	for (i = size; i < sizeof(got); i++) {
		if (got[i] != CANARY) {
			TH_LOG("line %d: format \"%s\", size %zu: wrote byte %zu",
			       line, fmt, size, i);
			ASSERT_TRUE(false);
		}
	}
}

static void vsame(struct __test_metadata *_metadata, int line,
		  enum trunc trunc, const char *fmt, va_list ap)
{
	char want[BUF];
	va_list aq;
	size_t size;
	int wn;

	va_copy(aq, ap);
	wn = vsnprintf(want, sizeof(want), fmt, aq);
	va_end(aq);
	if (wn < 0 || wn >= BUF - 1) {
		TH_LOG("line %d: format \"%s\": host output %d too long",
		       line, fmt, wn);
		ASSERT_TRUE(false);
	}

	same_at(_metadata, line, fmt, want, wn, BUF, ap);
	if (trunc == TRUNC_ALL) {
		for (size = 0; size <= (size_t)wn + 1; size++)
			same_at(_metadata, line, fmt, want, wn, size, ap);
	} else {
		same_at(_metadata, line, fmt, want, wn, 0, ap);
		same_at(_metadata, line, fmt, want, wn, wn / 2 + 1, ap);
		same_at(_metadata, line, fmt, want, wn, wn, ap);
	}
}

/* Compare with snprintf() at every buffer size; the format is checked. */
static void __attribute__((format(printf, 3, 4)))
same(struct __test_metadata *_metadata, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsame(_metadata, line, TRUNC_ALL, fmt, ap);
	va_end(ap);
}

/* The same, at a few buffer sizes, for formats built at run time. */
static void same_quick(struct __test_metadata *_metadata, int line,
		       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsame(_metadata, line, TRUNC_SOME, fmt, ap);
	va_end(ap);
}

#define SAME(fmt, ...) same(_metadata, __LINE__, fmt, ##__VA_ARGS__)

TEST(plain_text)
{
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-zero-length"
	SAME("");
#pragma GCC diagnostic pop
	SAME("hello");
	SAME("%%");
	SAME("100%% sure, %%%%");
	SAME("a\tb\nc");
}

TEST(signed_integers)
{
	SAME("%d", 0);
	SAME("%d", 1);
	SAME("%d", -1);
	SAME("%i", 123456789);
	SAME("%d", INT_MAX);
	SAME("%d", INT_MIN);
	SAME("%ld", LONG_MAX);
	SAME("%ld", LONG_MIN);
	SAME("%lld", LLONG_MAX);
	SAME("%lld", LLONG_MIN);
	SAME("%jd", INTMAX_MIN);
	SAME("%jd", INTMAX_MAX);
	SAME("%" PRId64 "|%" PRIu64, INT64_MIN, UINT64_MAX);
	SAME("%zd", (size_t)SIZE_MAX);
	SAME("%zd", (size_t)12345);
	SAME("%td", PTRDIFF_MIN);
	SAME("%td", PTRDIFF_MAX);
	SAME("%hd", 32767);
	SAME("%hd", -32768);
	SAME("%hd", 70000);
	SAME("%hhd", 127);
	SAME("%hhd", -128);
	SAME("%hhd", 300);
	SAME("%hhi", -129);
	SAME("%+d %+d %+d", 5, -5, 0);
	SAME("% d % d % d", 5, -5, 0);
	SAME("%5d|%-5d|%05d", 42, 42, 42);
	SAME("%5d|%-5d|%05d", -42, -42, -42);
	SAME("%+05d|% 05d|%-+5d", 42, 42, 42);
	SAME("%.0d|%.0d|%5.0d|%-5.0d", 0, 1, 0, 0);
	SAME("%+.0d|% .0d", 0, 0);
	SAME("%.1d|%.2d", 0, 0);
	SAME("%.5d|%.5d|%8.5d|%-8.5d", 42, -42, 42, -42);
	SAME("%30lld|%-30lld|", LLONG_MIN, LLONG_MIN);
	SAME("%030lld|%.25lld", LLONG_MIN, LLONG_MIN);
	SAME("%500d", 1);
	SAME("%-500d|", -1);
	SAME("%.400d", -3);
}

/*
 * Flags that C says to ignore, and that GCC warns about in a literal
 * format: their arguments are right, so only the warning is turned off.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
TEST(ignored_flags)
{
	SAME("%+ d|% +d", 5, 5);
	SAME("%08.5d|%-08.5d|%08.0d", 42, -42, 0);
	SAME("%0-8d|%-08d", 7, 7);
	SAME("%08.4x|%#08.4x|%08.0o", 0xabcu, 0xabcu, 0u);
	SAME("[%0*.*d]", 6, -1, -42);
	SAME("[%0*.*d]", 6, 2, -42);
	SAME("[%05s|%-05s|%05c]", "ab", "ab", 'c');
	SAME("[%+s|% s|%#s|%+c|%#c]", "ab", "ab", "ab", 'c', 'c');
	SAME("[%+u|% u|%+x|% X|%+o]", 5u, 5u, 5u, 5u, 5u);
	SAME("[%#d|%#i|%#u|%#c]", 5, -5, 5u, 'c');
	SAME("[%+p|% p|%#p|%020p|%.8p|%08.3p]", (void *)0x12, (void *)0x12,
	     (void *)0x12, (void *)0x12, (void *)0x12, (void *)0x12);
	SAME("[%+p|%020p|%.8p]", (void *)NULL, (void *)NULL, (void *)NULL);
}
#pragma GCC diagnostic pop

TEST(unsigned_integers)
{
	SAME("%u", 0u);
	SAME("%u", UINT_MAX);
	SAME("%lu", ULONG_MAX);
	SAME("%llu", ULLONG_MAX);
	SAME("%ju", UINTMAX_MAX);
	SAME("%zu", SIZE_MAX);
	SAME("%tu", (ptrdiff_t)-1);
	SAME("%hu", 65535);
	SAME("%hu", -1);
	SAME("%hhu", 255);
	SAME("%hhu", 256);
	SAME("%hhu", -1);
	SAME("%x|%X", 0xdeadbeefu, 0xdeadbeefu);
	SAME("%llx|%llX", ULLONG_MAX, 0x0123456789abcdefull);
	SAME("%o", 0u);
	SAME("%o", 8u);
	SAME("%llo", ULLONG_MAX);
	SAME("%lo", (unsigned long)INT64_MIN);
	SAME("%hhx|%hx", 0x1ff, 0x1ffff);
	SAME("%#x|%#X|%#o", 0u, 0u, 0u);
	SAME("%#x|%#X|%#o", 255u, 255u, 8u);
	SAME("%#.0x|%#.0o|%.0x|%.0o|%.0u", 0u, 0u, 0u, 0u, 0u);
	SAME("%#10x|%#-10x|%#010x|%#10.6x", 255u, 255u, 255u, 255u);
	SAME("%#5.3o|%#.3o|%#o|%#08o", 8u, 0u, 01234u, 7u);
	SAME("%#llo|%#llx|%#llX", ULLONG_MAX, ULLONG_MAX, ULLONG_MAX);
	SAME("%.0x|%5.0x|%-5.0X|", 0u, 0u, 0u);
	SAME("%08x|%-8x|%8.4x", 0xabcu, 0xabcu, 0xabcu);
	SAME("%zx|%tx|%jx", SIZE_MAX, PTRDIFF_MIN, UINTMAX_MAX);
}

TEST(characters_and_strings)
{
	/* Hidden from GCC, which warns of a NULL %s in a literal format. */
	const char *volatile null = NULL;
	const char unterminated[3] = { 'a', 'b', 'c' };

	SAME("%c", 'x');
	SAME("%c%c%c", 'a', 'b', 'c');
	SAME("[%c]", 0);
	SAME("[%c]", 255);
	SAME("[%5c|%-5c]", 'x', 'y');
	SAME("[%lc]", 'w');
	SAME("%s", "");
	SAME("%s", "hello, world");
	SAME("[%10s|%-10s]", "abc", "abc");
	SAME("[%2s|%-2s]", "abcdef", "abcdef");
	SAME("[%.3s|%.0s|%.10s]", "abcdef", "abcdef", "abcdef");
	SAME("[%8.3s|%-8.3s]", "abcdef", "abcdef");
	/* A precision lets %s read a buffer that has no NUL. */
	SAME("[%.3s|%.2s]", unterminated, unterminated);
	SAME("[%s]", null);
	SAME("[%10s|%-10s]", null, null);
	SAME("[%.6s|%.5s|%.0s|%.10s]", null, null, null, null);
	SAME("[%10.3s]", null);
	SAME("%s and %s and %d", "this", "that", 3);
}

TEST(pointers)
{
	int local;

	SAME("%p", (void *)0x1234);
	SAME("%p", &local);
	SAME("%p", (void *)UINTPTR_MAX);
	SAME("%p", (void *)NULL);
	SAME("[%20p|%-20p]", (void *)0xabc, (void *)0xabc);
	SAME("[%10p|%-10p]", (void *)NULL, (void *)NULL);
}

TEST(star_width_and_precision)
{
	SAME("[%*d]", 5, 42);
	SAME("[%*d]", -5, 42);
	SAME("[%-*d]", -5, 42);
	SAME("[%*d]", 0, 42);
	SAME("[%.*d]", 5, 42);
	SAME("[%.*d]", -1, 42);
	SAME("[%.*d]", 0, 0);
	SAME("[%.*d]", -5, 0);
	SAME("[%*.*d]", 8, 4, -42);
	SAME("[%*.*d]", -8, 4, -42);
	SAME("[%0*d]", 6, -42);
	SAME("[%*s|%.*s|%*.*s]", 6, "ab", 1, "ab", -6, 1, "ab");
	SAME("[%.*s]", -3, "abc");
	SAME("[%*c]", -3, 'z');
	SAME("[%*lld]", 25, LLONG_MIN);
	SAME("[%#*.*llx]", -25, 20, ULLONG_MAX);
}

TEST(mixed_arguments)
{
	SAME("%d %s %c %u %x %p %lld %zu %%", -1, "str", 'c', 3u, 0xffu,
	     (void *)16, LLONG_MIN, (size_t)77);
	/* More arguments than registers: the rest come from the stack. */
	SAME("%d %d %d %d %d %d %d %d %d %d %lld %s", 1, 2, 3, 4, 5, 6, 7, 8,
	     9, 10, LLONG_MAX, "end");
	SAME("%hhd %hd %d %ld %lld %zd %jd %td", -1, -1, -1, -1L, -1LL,
	     (size_t)-1, (intmax_t)-1, (ptrdiff_t)-1);
}

/* Start a conversion specification with the flags in bitmask @flags. */
static char *put_flags(char *f, unsigned int flags)
{
	static const char flag_chars[] = "-0+ #";
	unsigned int i;

	*f++ = '%';
	for (i = 0; i < 5; i++)
		if (flags & (1u << i))
			*f++ = flag_chars[i];
	return f;
}

/* Each at or next to a limit of one of the integer types. */
static const uint64_t sweep_values[] = {
	0, 1, 8, 0x80, 32768, 65535, 2147483648u, 4294967295u,
	0x0123456789abcdefull, INT64_MAX, (uint64_t)INT64_MIN, UINT64_MAX,
	(uint64_t)-129,
};

static const char *const sweep_lengths[] = {
	"hh", "h", "", "l", "ll", "z", "j", "t",
};

/* Every value through integer format @fmt, passed as its length's type. */
static void sweep_integer(struct __test_metadata *_metadata, const char *fmt,
			  unsigned int length)
{
	unsigned int v;

	for (v = 0; v < ARRAY_SIZE(sweep_values); v++) {
		uint64_t x = sweep_values[v];

		switch (length) {
		case 0:	/* hh, h and none: promoted to int */
		case 1:
		case 2:
			same_quick(_metadata, __LINE__, fmt, (int)x);
			break;
		case 3:
			same_quick(_metadata, __LINE__, fmt, (long)x);
			break;
		case 4:
			same_quick(_metadata, __LINE__, fmt, (long long)x);
			break;
		case 5:
			same_quick(_metadata, __LINE__, fmt, (size_t)x);
			break;
		case 6:
			same_quick(_metadata, __LINE__, fmt, (intmax_t)x);
			break;
		default:
			same_quick(_metadata, __LINE__, fmt, (ptrdiff_t)x);
			break;
		}
	}
}

/* Every flag combination, width and precision on every integer conversion. */
TEST(integer_sweep)
{
	static const char *const widths[] = { "", "1", "7", "23" };
	static const char *const precs[] = { "", ".", ".0", ".1", ".4", ".22" };
	static const char convs[] = "diuxXo";
	unsigned int k, l, c, count = 0;
	char fmt[32];

	for (k = 0; k < 32 * ARRAY_SIZE(widths) * ARRAY_SIZE(precs); k++) {
		unsigned int w = k / 32 % ARRAY_SIZE(widths);
		unsigned int p = k / 32 / ARRAY_SIZE(widths);
		char *f = put_flags(fmt, k % 32);

		for (l = 0; l < ARRAY_SIZE(sweep_lengths); l++) {
			for (c = 0; c < sizeof(convs) - 1; c++) {
				snprintf(f, fmt + sizeof(fmt) - f, "%s%s%s%c|",
					 widths[w], precs[p], sweep_lengths[l],
					 convs[c]);
				sweep_integer(_metadata, fmt, l);
				count++;
			}
		}
	}
	ASSERT_EQ(32 * 4 * 6 * 8 * 6, count);
}

/*
 * Pass the '*' arguments that format @fmt asks for (@width and @prec, if
 * not NULL), then @arg.
 */
#define SAME_STARS(fmt, width, prec, arg) do {				\
	if ((width) && (prec))						\
		same_quick(_metadata, __LINE__, fmt, *(width), *(prec), arg); \
	else if (width)							\
		same_quick(_metadata, __LINE__, fmt, *(width), arg);	\
	else if (prec)							\
		same_quick(_metadata, __LINE__, fmt, *(prec), arg);	\
	else								\
		same_quick(_metadata, __LINE__, fmt, arg);		\
} while (0)

/*
 * The non-integer conversions, and two integer ones, after the flags, width
 * and precision already in @fmt up to @spec.
 */
static void sweep_others(struct __test_metadata *_metadata, char *fmt,
			 char *spec, const int *width, const int *prec,
			 bool with_c)
{
	static const char *const strings[] = {
		NULL, "", "a", "hello", "a longer string here",
	};
	static const uintptr_t pointers[] = {
		0, 1, 0x1234, 0xdeadbeef, UINTPTR_MAX,
	};
	static const int ints[] = { 0, 1, -1, 99999, INT_MIN, INT_MAX };
	unsigned int v;

	if (with_c) {
		strcpy(spec, "c|");
		SAME_STARS(fmt, width, prec, 'q');
		SAME_STARS(fmt, width, prec, 0);
	}
	strcpy(spec, "s|");
	for (v = 0; v < ARRAY_SIZE(strings); v++)
		SAME_STARS(fmt, width, prec, strings[v]);
	strcpy(spec, "p|");
	for (v = 0; v < ARRAY_SIZE(pointers); v++)
		SAME_STARS(fmt, width, prec, (void *)pointers[v]);
	strcpy(spec, "d|");
	for (v = 0; v < ARRAY_SIZE(ints); v++)
		SAME_STARS(fmt, width, prec, ints[v]);
	strcpy(spec, "llx|");
	SAME_STARS(fmt, width, prec, 0x123456789ull);
}

/* The same for %c, %s and %p, and for '*' widths and precisions. */
TEST(other_sweep)
{
	static const char *const widths[] = { "", "1", "5", "12", "*" };
	static const char *const precs[] = { "", ".", ".0", ".2", ".8", ".*" };
	static const int stars[] = { -12, -1, 0, 3, 9 };
	unsigned int k, sw, sp;
	char fmt[32];

	for (k = 0; k < 32 * ARRAY_SIZE(widths) * ARRAY_SIZE(precs); k++) {
		unsigned int w = k / 32 % ARRAY_SIZE(widths);
		unsigned int p = k / 32 / ARRAY_SIZE(widths);
		bool star_w = !strcmp(widths[w], "*");
		bool star_p = !strcmp(precs[p], ".*");
		char *spec = put_flags(fmt, k % 32);

		spec += snprintf(spec, fmt + sizeof(fmt) - spec, "%s%s",
				 widths[w], precs[p]);
		for (sw = 0; sw < (star_w ? ARRAY_SIZE(stars) : 1); sw++) {
			for (sp = 0; sp < (star_p ? ARRAY_SIZE(stars) : 1); sp++) {
				/* A precision on %c is undefined. */
				sweep_others(_metadata, fmt, spec,
					     star_w ? &stars[sw] : NULL,
					     star_p ? &stars[sp] : NULL,
					     !precs[p][0]);
			}
		}
	}
}

TEST(unsupported_conversions_print_literally)
{
	char buf[64];
	int n = 5;

	ASSERT_EQ(4, callbox_snprintf(buf, sizeof(buf), "%f|%d", 1.5, 7));
	ASSERT_STREQ("%f|7", buf);
	ASSERT_EQ(14, callbox_snprintf(buf, sizeof(buf), "%8.3e %g %a %d",
				       1.0, 2.0, 3.0, -1));
	ASSERT_STREQ("%8.3e %g %a -1", buf);
	/* More doubles than SSE argument registers; ints still line up. */
	ASSERT_EQ(19, callbox_snprintf(buf, sizeof(buf),
				       "%f%f%f%f%f%f%f%f%d|%s", 1.0, 2.0, 3.0,
				       4.0, 5.0, 6.0, 7.0, 8.0, 9, "x"));
	ASSERT_STREQ("%f%f%f%f%f%f%f%f9|x", buf);
	/* %n writes nothing, and its pointer is consumed. */
	ASSERT_EQ(7, callbox_snprintf(buf, sizeof(buf), "ab%n|%d", &n, 42));
	ASSERT_STREQ("ab%n|42", buf);
	ASSERT_EQ(5, n);
	ASSERT_EQ(5, callbox_snprintf(buf, sizeof(buf), "%ls|%d", L"wide", 3));
	ASSERT_STREQ("%ls|3", buf);

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
	ASSERT_EQ(9, callbox_snprintf(buf, sizeof(buf), "%k|%-5y|%d", 1));
	ASSERT_STREQ("%k|%-5y|1", buf);
	/* A format that ends inside a conversion specification. */
	ASSERT_EQ(4, callbox_snprintf(buf, sizeof(buf), "ab%-", 1));
	ASSERT_STREQ("ab%-", buf);
	ASSERT_EQ(3, callbox_snprintf(buf, sizeof(buf), "ab%"));
	ASSERT_STREQ("ab%", buf);
	/* glibc ignores flags and width on %%. */
	ASSERT_EQ(3, callbox_snprintf(buf, sizeof(buf), "%5%%-3%%05%"));
	ASSERT_STREQ("%%%", buf);
#pragma GCC diagnostic pop
}

TEST(return_value_and_limits)
{
	char buf[16];

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-zero-length"
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wformat-overflow"
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
	/* Size 0: nothing written, not even through a NULL buffer. */
	ASSERT_EQ(5, callbox_snprintf(NULL, 0, "%d", 12345));
	ASSERT_EQ(0, callbox_snprintf(NULL, 0, ""));

	/* Huge widths are counted, not looped over. */
	memset(buf, CANARY, sizeof(buf));
	ASSERT_EQ(INT_MAX, callbox_snprintf(buf, 8, "%2147483647d", 1));
	ASSERT_STREQ("       ", buf);
	ASSERT_EQ(CANARY, buf[8]);
	ASSERT_EQ(INT_MAX, callbox_snprintf(buf, 8, "%-*d", INT_MAX, 1));
	ASSERT_STREQ("1      ", buf);
	ASSERT_EQ(INT_MAX, callbox_snprintf(buf, 8, "%.2147483647d", 1));
	ASSERT_STREQ("0000000", buf);

	/* Past INT_MAX, as glibc: -1, though the buffer is terminated. */
	ASSERT_EQ(-1, callbox_snprintf(buf, 8, "x%2147483647d", 1));
	ASSERT_STREQ("x      ", buf);
	ASSERT_EQ(-1, callbox_snprintf(buf, 8, "%2147483647d%d", 1, 2));
	/* glibc also gives -1 here, but only after padding for a second. */
	ASSERT_EQ(-1, callbox_snprintf(buf, 8, "%*d", INT_MIN, 1));

	ASSERT_EQ(-1, callbox_snprintf(buf, 8, "%2147483648d", 1));
	ASSERT_EQ(snprintf(buf, 8, "%2147483648d", 1),
		  callbox_snprintf(buf, 8, "%2147483648d", 1));
	ASSERT_EQ(-1, callbox_snprintf(buf, 8, "ab%.99999999999d", 1));
	ASSERT_STREQ("ab", buf);
#pragma GCC diagnostic pop
}

TEST_HARNESS_MAIN
