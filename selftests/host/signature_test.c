// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of function signatures (lib/signature.c): parsing the text a host
 * registers a function with, formatting a signature for messages, checking
 * typed arguments against one, and vetting the export descriptors a
 * hostile guest publishes.
 *
 * Built under ASan and UBSan. Inputs are copied into heap buffers of
 * exactly their size, so that a read of even one byte past the end is
 * reported, which a bigger buffer or a string literal would hide.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <callbox/abi.h>
#include <callbox/wire.h>

/*
 * The 6.1 harness, and the TEST() wrappers it expands to in this file, have
 * unused parameters, which -Wextra -Werror would reject.
 */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"

#include "signature.h"

#define POISON		0xa5

/* Every parameter type, in tag order: VOID is no parameter type. */
static const uint8_t param_types[] = {
	CALLBOX_WIRE_I32, CALLBOX_WIRE_U32, CALLBOX_WIRE_I64,
	CALLBOX_WIRE_U64, CALLBOX_WIRE_F32, CALLBOX_WIRE_F64,
	CALLBOX_WIRE_BOOL, CALLBOX_WIRE_STRING, CALLBOX_WIRE_BYTES,
};
#define NR_PARAM_TYPES	(sizeof(param_types) / sizeof(param_types[0]))

/* The names the header promises, indexed by tag, spelled out here again. */
static const char *const type_names[CALLBOX_WIRE_TYPE_COUNT] = {
	"void", "i32", "u32", "i64", "u64", "f32", "f64", "bool", "string",
	"bytes",
};

/*
 * A substring check that shows the whole message when it fails, since a
 * bare "strstr() != NULL" says nothing about what the message was.
 *
 * The harness runs a TH_LOG() after an ASSERT_*() in a for loop of its
 * own, so the pair is two statements: a loop body made of one must be
 * braced, or the TH_LOG() runs after the loop, with its index past the end.
 */
#define ASSERT_HAS(text, sub)						\
	ASSERT_NE(NULL, strstr((text), (sub)))				\
		TH_LOG("\"%s\" lacks \"%s\"", (text), (sub))

#define ASSERT_LACKS(text, sub)						\
	ASSERT_NULL(strstr((text), (sub)))				\
		TH_LOG("\"%s\" has \"%s\"", (text), (sub))

/* callbox_type_parse() on exactly @len bytes with no NUL after them. */
static int type_parse_exact(const char *name, size_t len)
{
	char *copy = malloc(len ? len : 1);
	int type;

	if (!copy)
		abort();
	memcpy(copy, name, len);
	type = callbox_type_parse(copy, len);
	free(copy);
	return type;
}

/*
 * callbox_signature_parse() on a heap copy of @text, into a poisoned @sig
 * so that any field the parser forgets to set shows.
 */
static int parse(const char *text, struct callbox_signature *sig,
		 char *err, size_t errlen)
{
	char *copy = strdup(text);
	int ret;

	if (!copy)
		abort();
	memset(sig, POISON, sizeof(*sig));
	memset(err, POISON, errlen);
	ret = callbox_signature_parse(copy, sig, err, errlen);
	free(copy);
	return ret;
}

/* Every rejected signature: -EINVAL, the text quoted back, and @why. */
#define ASSERT_PARSE_FAILS(text, why) do {				\
	struct callbox_signature __sig;					\
	char __err[1024], __quoted[600];					\
									\
	ASSERT_EQ(-EINVAL, parse((text), &__sig, __err,			\
				 sizeof(__err))) TH_LOG("%s", (text));	\
	ASSERT_LT(strlen(__err), sizeof(__err));			\
	snprintf(__quoted, sizeof(__quoted), "signature \"%s\": ",	\
		 (text));						\
	ASSERT_HAS(__err, __quoted);					\
	ASSERT_HAS(__err, (why));					\
} while (0)

/* A signature of @n parameters from @types, cycling through them. */
static void build_text(char *buf, size_t len, const char *ret,
		       unsigned int n)
{
	size_t used;
	unsigned int i;

	used = (size_t)snprintf(buf, len, "%s(", ret);
	for (i = 0; i < n; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
					 i ? ", " : "",
					 type_names[param_types[i % NR_PARAM_TYPES]]);
	snprintf(buf + used, len - used, ")");
}

static void make_sig(struct callbox_signature *sig, uint8_t ret,
		     const uint8_t *params, unsigned int n)
{
	memset(sig, 0, sizeof(*sig));
	sig->ret_type = ret;
	sig->nr_params = (uint8_t)n;
	/* memcpy() from NULL is undefined even for 0 bytes; UBSan says so. */
	if (n)
		memcpy(sig->params, params, n);
}

/* ---- callbox_type_parse() ---- */

TEST(type_parse_every_name)
{
	unsigned int type;

	for (type = 0; type < CALLBOX_WIRE_TYPE_COUNT; type++) {
		const char *name = type_names[type];

		/* The codec's names, which the parser uses, are ours too. */
		ASSERT_STREQ(name, callbox_wire_type_name(type));
		ASSERT_EQ((int)type, type_parse_exact(name, strlen(name)))
			TH_LOG("%s", name);
	}
}

TEST(type_parse_unknown)
{
	static const char *const names[] = {
		"", "int", "I64", "Void", "VOID", "i128", "u8", "float",
		"double", "str", "char", "unknown", "uint64_t", "_i64",
		" i64", "i64 ", "i 64",
	};
	unsigned int i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ASSERT_EQ(-1, type_parse_exact(names[i], strlen(names[i])))
			TH_LOG("\"%s\"", names[i]);
	}
}

TEST(type_parse_prefixes)
{
	/* Neither a prefix nor an extension of a name is that name. */
	static const char *const names[] = {
		"i6", "i", "string2", "strin", "stringstring", "i644",
		"voi", "voidx", "byte", "bytess", "boo", "bool1", "f", "f3",
		"f322", "u", "u64u64",
	};
	unsigned int i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ASSERT_EQ(-1, type_parse_exact(names[i], strlen(names[i])))
			TH_LOG("\"%s\"", names[i]);
	}
}

TEST(type_parse_length)
{
	/* Only the first @len bytes count, whatever follows them. */
	ASSERT_EQ(CALLBOX_WIRE_I64, callbox_type_parse("i64(i64)", 3));
	ASSERT_EQ(CALLBOX_WIRE_STRING, callbox_type_parse("string2", 6));
	ASSERT_EQ(CALLBOX_WIRE_BOOL, callbox_type_parse("boolean", 4));
	ASSERT_EQ(-1, callbox_type_parse("i64", 2));
	ASSERT_EQ(-1, callbox_type_parse("i64", 0));
	ASSERT_EQ(-1, callbox_type_parse("bytes", 4));

	/* A NUL inside the length is part of the name, so no match. */
	ASSERT_EQ(-1, type_parse_exact("i64\0", 4));
	ASSERT_EQ(-1, type_parse_exact("void\0\0\0\0", 8));

	/* No NUL at all: ASan reports any look past the last byte. */
	ASSERT_EQ(CALLBOX_WIRE_U32, type_parse_exact("u32", 3));
	ASSERT_EQ(CALLBOX_WIRE_BYTES, type_parse_exact("bytes", 5));
	ASSERT_EQ(-1, type_parse_exact("s", 1));
	ASSERT_EQ(-1, type_parse_exact("", 0));
}

/* ---- callbox_signature_parse() ---- */

TEST(parse_void)
{
	struct callbox_signature sig, zero;
	char err[128];

	memset(&zero, 0, sizeof(zero));
	ASSERT_EQ(0, parse("void()", &sig, err, sizeof(err)));
	ASSERT_STREQ("", err);
	/* All of it, the unused parameter slots too, not just the counts. */
	ASSERT_EQ(0, memcmp(&zero, &sig, sizeof(sig)));
}

TEST(parse_add)
{
	struct callbox_signature sig;
	char err[128];
	unsigned int i;

	ASSERT_EQ(0, parse("i64(i64, i64)", &sig, err, sizeof(err)));
	ASSERT_STREQ("", err);
	ASSERT_EQ(CALLBOX_WIRE_I64, sig.ret_type);
	ASSERT_EQ(2, sig.nr_params);
	ASSERT_EQ(CALLBOX_WIRE_I64, sig.params[0]);
	ASSERT_EQ(CALLBOX_WIRE_I64, sig.params[1]);
	for (i = 2; i < CALLBOX_MAX_PARAMS; i++) {
		ASSERT_EQ(0, sig.params[i]) TH_LOG("params[%u]", i);
	}

	ASSERT_EQ(0, parse("i64(i64,i64)", &sig, err, sizeof(err)));
	ASSERT_EQ(2, sig.nr_params);
}

TEST(parse_every_result_type)
{
	struct callbox_signature sig;
	char text[64], err[128];
	unsigned int type;

	for (type = 0; type < CALLBOX_WIRE_TYPE_COUNT; type++) {
		snprintf(text, sizeof(text), "%s(string)", type_names[type]);
		ASSERT_EQ(0, parse(text, &sig, err, sizeof(err)))
			TH_LOG("%s: %s", text, err);
		ASSERT_EQ(type, sig.ret_type);
		ASSERT_EQ(1, sig.nr_params);
		ASSERT_EQ(CALLBOX_WIRE_STRING, sig.params[0]);
	}
}

TEST(parse_every_param_type)
{
	struct callbox_signature sig;
	char err[128];
	unsigned int i;

	ASSERT_EQ(0, parse("bool(i32, u32, i64, u64, f32, f64, bool, string, bytes)",
			   &sig, err, sizeof(err))) TH_LOG("%s", err);
	ASSERT_EQ(CALLBOX_WIRE_BOOL, sig.ret_type);
	ASSERT_EQ(NR_PARAM_TYPES, sig.nr_params);
	for (i = 0; i < NR_PARAM_TYPES; i++) {
		ASSERT_EQ(param_types[i], sig.params[i]) TH_LOG("params[%u]", i);
	}
	for (; i < CALLBOX_MAX_PARAMS; i++) {
		ASSERT_EQ(0, sig.params[i]) TH_LOG("params[%u]", i);
	}
}

TEST(parse_whitespace)
{
	static const char *const texts[] = {
		" i64(i64, string)",
		"i64 (i64, string)",
		"i64( i64, string)",
		"i64(i64 , string)",
		"i64(i64,string )",
		"i64(i64, string) ",
		"\ti64\t(\ti64\t,\tstring\t)\t",
		" \t i64 \t ( \t i64 \t , \t string \t ) \t ",
	};
	struct callbox_signature sig;
	char err[128];
	unsigned int i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		ASSERT_EQ(0, parse(texts[i], &sig, err, sizeof(err)))
			TH_LOG("\"%s\": %s", texts[i], err);
		ASSERT_STREQ("", err);
		ASSERT_EQ(CALLBOX_WIRE_I64, sig.ret_type);
		ASSERT_EQ(2, sig.nr_params);
		ASSERT_EQ(CALLBOX_WIRE_I64, sig.params[0]);
		ASSERT_EQ(CALLBOX_WIRE_STRING, sig.params[1]);
	}

	/* Spaces inside an empty list, too. */
	ASSERT_EQ(0, parse(" void ( \t ) ", &sig, err, sizeof(err)));
	ASSERT_EQ(CALLBOX_WIRE_VOID, sig.ret_type);
	ASSERT_EQ(0, sig.nr_params);
}

TEST(parse_max_params)
{
	struct callbox_signature sig;
	char text[512], err[512];
	unsigned int i;

	build_text(text, sizeof(text), "u64", CALLBOX_MAX_PARAMS);
	ASSERT_EQ(0, parse(text, &sig, err, sizeof(err))) TH_LOG("%s", err);
	ASSERT_EQ(CALLBOX_WIRE_U64, sig.ret_type);
	ASSERT_EQ(CALLBOX_MAX_PARAMS, sig.nr_params);
	for (i = 0; i < CALLBOX_MAX_PARAMS; i++) {
		ASSERT_EQ(param_types[i % NR_PARAM_TYPES], sig.params[i])
			TH_LOG("params[%u]", i);
	}
}

TEST(parse_too_many_params)
{
	char text[512];

	build_text(text, sizeof(text), "u64", CALLBOX_MAX_PARAMS + 1);
	ASSERT_PARSE_FAILS(text, "more than 32");

	/* However many, and wherever the excess shows. */
	build_text(text, sizeof(text), "void", 40);
	ASSERT_PARSE_FAILS(text, "more than 32");
}

TEST(parse_unknown_result)
{
	ASSERT_PARSE_FAILS("int(i64)", "result type 'int'");
	ASSERT_PARSE_FAILS("i6(i64)", "result type 'i6'");
	ASSERT_PARSE_FAILS("string2()", "result type 'string2'");
	ASSERT_PARSE_FAILS("(i64)", "result type '('");
	/* The message lists what would have been accepted. */
	ASSERT_PARSE_FAILS("int(i64)",
			   "void, i32, u32, i64, u64, f32, f64, bool, string, bytes");
}

TEST(parse_unknown_param)
{
	ASSERT_PARSE_FAILS("i64(int)", "parameter 1: 'int'");
	ASSERT_PARSE_FAILS("i64(i64, i6)", "parameter 2: 'i6'");
	ASSERT_PARSE_FAILS("i64(i64, i64, string2)", "parameter 3: 'string2'");
	ASSERT_PARSE_FAILS("i64(i64, I64)", "parameter 2: 'I'");
	ASSERT_PARSE_FAILS("i64(int)",
			   "i32, u32, i64, u64, f32, f64, bool, string, bytes");
}

TEST(parse_void_param)
{
	ASSERT_PARSE_FAILS("void(void)", "parameter 1: 'void' is not one of");
	ASSERT_PARSE_FAILS("i64(i64, void)", "parameter 2: 'void' is not one of");

	/* The list of parameter types leaves void out. */
	{
		struct callbox_signature sig;
		char err[512];

		ASSERT_EQ(-EINVAL, parse("void(void)", &sig, err, sizeof(err)));
		ASSERT_LACKS(strstr(err, "is not one of"), "void");
	}
}

TEST(parse_missing_open)
{
	ASSERT_PARSE_FAILS("i64", "expected '(' after the result type");
	ASSERT_PARSE_FAILS("i64 i64)", "expected '(' after the result type");
	ASSERT_PARSE_FAILS("i64)", "expected '(' after the result type");
	ASSERT_PARSE_FAILS("i64[i64]", "expected '(' after the result type");
}

TEST(parse_missing_close)
{
	ASSERT_PARSE_FAILS("i64(i64", "expected ',' or ')' after parameter 1");
	ASSERT_PARSE_FAILS("i64(i64, string ",
			   "expected ',' or ')' after parameter 2");
	ASSERT_PARSE_FAILS("i64(i64 i64)",
			   "expected ',' or ')' after parameter 1");
	ASSERT_PARSE_FAILS("i64(i64;i64)",
			   "expected ',' or ')' after parameter 1");
	/* Nothing at all after the '(': the first parameter is missing. */
	ASSERT_PARSE_FAILS("i64(", "parameter 1: ''");
	ASSERT_PARSE_FAILS("i64( \t", "parameter 1: ''");
}

TEST(parse_trailing_text)
{
	ASSERT_PARSE_FAILS("void() x", "unexpected text after ')'");
	ASSERT_PARSE_FAILS("void())", "unexpected text after ')'");
	ASSERT_PARSE_FAILS("i64(i64)i64", "unexpected text after ')'");
	ASSERT_PARSE_FAILS("void()\n", "unexpected text after ')'");
	ASSERT_PARSE_FAILS("void();", "unexpected text after ')'");
}

TEST(parse_empty_params)
{
	ASSERT_PARSE_FAILS("i64(i64,,i64)", "parameter 2: ','");
	ASSERT_PARSE_FAILS("i64(i64, , i64)", "parameter 2: ','");
	ASSERT_PARSE_FAILS("i64(,i64)", "parameter 1: ','");
	ASSERT_PARSE_FAILS("i64(,)", "parameter 1: ','");
}

TEST(parse_trailing_comma)
{
	ASSERT_PARSE_FAILS("i64(i64,)", "parameter 2: ')'");
	ASSERT_PARSE_FAILS("i64(i64, string, )", "parameter 3: ')'");
	ASSERT_PARSE_FAILS("i64(i64,", "parameter 2: ''");
}

TEST(parse_empty)
{
	ASSERT_PARSE_FAILS("", "result type ''");
	ASSERT_PARSE_FAILS(" \t ", "result type ''");
	ASSERT_PARSE_FAILS("()", "result type '('");
}

TEST(parse_small_err)
{
	struct callbox_signature sig;
	char err[8], none = POISON;

	/* A short message buffer gets a truncated, terminated message. */
	ASSERT_EQ(-EINVAL, parse("i64(i64,,i64)", &sig, err, sizeof(err)));
	ASSERT_STREQ("signatu", err);

	/* No buffer at all: nothing is written, even on success. */
	ASSERT_EQ(-EINVAL, callbox_signature_parse("x()", &sig, &none, 0));
	ASSERT_EQ((char)POISON, none);
	ASSERT_EQ(0, callbox_signature_parse("void()", &sig, &none, 0));
	ASSERT_EQ((char)POISON, none);
}

/* ---- callbox_signature_format() ---- */

TEST(format_exact)
{
	struct callbox_signature sig;
	char buf[512];

	ASSERT_EQ(0, callbox_signature_parse("i64(i64, i64)", &sig, buf,
					     sizeof(buf)));
	callbox_signature_format(&sig, "add", buf, sizeof(buf));
	ASSERT_STREQ("i64 add(i64, i64)", buf);

	ASSERT_EQ(0, callbox_signature_parse("void()", &sig, buf,
					     sizeof(buf)));
	callbox_signature_format(&sig, "ping", buf, sizeof(buf));
	ASSERT_STREQ("void ping()", buf);

	ASSERT_EQ(0, callbox_signature_parse("string(bytes)", &sig, buf,
					     sizeof(buf)));
	callbox_signature_format(&sig, "hex", buf, sizeof(buf));
	ASSERT_STREQ("string hex(bytes)", buf);

	ASSERT_EQ(0, callbox_signature_parse(
			"void(i32, u32, i64, u64, f32, f64, bool, string, bytes)",
			&sig, buf, sizeof(buf)));
	callbox_signature_format(&sig, "all", buf, sizeof(buf));
	ASSERT_STREQ("void all(i32, u32, i64, u64, f32, f64, bool, string, bytes)",
		     buf);
}

TEST(format_max_params)
{
	struct callbox_signature sig;
	char text[512], expected[600], buf[512];

	/* Parsing and formatting agree: the text is the format's tail. */
	build_text(text, sizeof(text), "f64", CALLBOX_MAX_PARAMS);
	ASSERT_EQ(0, callbox_signature_parse(text, &sig, buf, sizeof(buf)));
	callbox_signature_format(&sig, "many", buf, sizeof(buf));
	snprintf(expected, sizeof(expected), "f64 many%s", text + 3);
	ASSERT_STREQ(expected, buf);
}

TEST(format_unknown_tags)
{
	struct callbox_signature sig;
	char buf[128];

	/* Tags no parser would produce still format, and safely. */
	make_sig(&sig, 200, (const uint8_t[]){ CALLBOX_WIRE_I32, 255 }, 2);
	callbox_signature_format(&sig, "odd", buf, sizeof(buf));
	ASSERT_STREQ("unknown odd(i32, unknown)", buf);
}

TEST(format_truncation)
{
	struct callbox_signature sig;
	char full[512];
	size_t len, full_len;

	ASSERT_EQ(0, callbox_signature_parse("string(i64, bytes, bool)", &sig,
					     full, sizeof(full)));
	callbox_signature_format(&sig, "name", full, sizeof(full));
	ASSERT_STREQ("string name(i64, bytes, bool)", full);
	full_len = strlen(full);

	/*
	 * Every size from 1 to more than enough, each into a heap buffer of
	 * exactly that size: always a terminated prefix of the whole.
	 */
	for (len = 1; len <= full_len + 2; len++) {
		char *buf = malloc(len);
		size_t want = len - 1 < full_len ? len - 1 : full_len;

		ASSERT_NE(NULL, buf);
		memset(buf, POISON, len);
		callbox_signature_format(&sig, "name", buf, len);
		ASSERT_EQ(want, strnlen(buf, len)) TH_LOG("len %zu", len);
		ASSERT_EQ(0, memcmp(full, buf, want)) TH_LOG("len %zu", len);
		free(buf);
	}
}

TEST(format_zero_len)
{
	struct callbox_signature sig;
	char buf[4];

	make_sig(&sig, CALLBOX_WIRE_VOID, NULL, 0);
	memset(buf, POISON, sizeof(buf));
	callbox_signature_format(&sig, "ping", buf, 0);
	ASSERT_EQ((char)POISON, buf[0]);
	/* Nothing is written, so there need not even be a buffer. */
	callbox_signature_format(&sig, "ping", NULL, 0);
}

/* ---- callbox_signature_check() ---- */

TEST(check_ok)
{
	struct callbox_signature sig;
	struct callbox_wire_value args[] = {
		CALLBOX_I32(-1), CALLBOX_U32(1), CALLBOX_I64(-2),
		CALLBOX_U64(2), CALLBOX_F32_BITS(0), CALLBOX_F64_BITS(0),
		CALLBOX_BOOL(true), CALLBOX_STRING("hi"),
		CALLBOX_BYTES("\0\1", 2),
	};
	char err[512];

	make_sig(&sig, CALLBOX_WIRE_VOID, param_types, NR_PARAM_TYPES);
	memset(err, POISON, sizeof(err));
	ASSERT_EQ(0, callbox_signature_check(&sig, "all", args, NR_PARAM_TYPES,
					     err, sizeof(err))) TH_LOG("%s", err);
	ASSERT_STREQ("", err);

	/* No parameters, no arguments, and no array needed either. */
	make_sig(&sig, CALLBOX_WIRE_I64, NULL, 0);
	memset(err, POISON, sizeof(err));
	ASSERT_EQ(0, callbox_signature_check(&sig, "ping", NULL, 0, err,
					     sizeof(err)));
	ASSERT_STREQ("", err);
}

TEST(check_wrong_count)
{
	static const uint8_t two_i64[] = { CALLBOX_WIRE_I64, CALLBOX_WIRE_I64 };
	struct callbox_wire_value args[3] = {
		CALLBOX_I64(1), CALLBOX_I64(2), CALLBOX_I64(3),
	};
	struct callbox_signature sig;
	char err[512];

	make_sig(&sig, CALLBOX_WIRE_I64, two_i64, 2);

	ASSERT_EQ(-EINVAL, callbox_signature_check(&sig, "add", args, 1, err,
						   sizeof(err)));
	ASSERT_STREQ("add: 1 argument given, but the function takes 2 (i64 add(i64, i64))",
		     err);

	ASSERT_EQ(-EINVAL, callbox_signature_check(&sig, "add", args, 3, err,
						   sizeof(err)));
	ASSERT_HAS(err, "add: ");
	ASSERT_HAS(err, "3 arguments given");
	ASSERT_HAS(err, "takes 2");
	ASSERT_HAS(err, "(i64 add(i64, i64))");

	ASSERT_EQ(-EINVAL, callbox_signature_check(&sig, "add", NULL, 0, err,
						   sizeof(err)));
	ASSERT_HAS(err, "0 arguments given");
	ASSERT_HAS(err, "(i64 add(i64, i64))");

	/* A function without parameters, given one. */
	make_sig(&sig, CALLBOX_WIRE_VOID, NULL, 0);
	ASSERT_EQ(-EINVAL, callbox_signature_check(&sig, "ping", args, 1, err,
						   sizeof(err)));
	ASSERT_STREQ("ping: 1 argument given, but the function takes 0 (void ping())",
		     err);
}

TEST(check_wrong_type_each_position)
{
	struct callbox_wire_value args[NR_PARAM_TYPES];
	struct callbox_signature sig;
	char err[512], want[300], text[256];
	unsigned int k, i;

	make_sig(&sig, CALLBOX_WIRE_BOOL, param_types, NR_PARAM_TYPES);
	callbox_signature_format(&sig, "all", text, sizeof(text));

	for (k = 0; k < NR_PARAM_TYPES; k++) {
		/* Right everywhere but at k, where the next type is. */
		uint8_t wrong = param_types[(k + 1) % NR_PARAM_TYPES];

		for (i = 0; i < NR_PARAM_TYPES; i++)
			args[i] = (struct callbox_wire_value){
				.type = i == k ? wrong : param_types[i],
			};
		ASSERT_EQ(-EINVAL, callbox_signature_check(&sig, "all", args,
							   NR_PARAM_TYPES,
							   err, sizeof(err)));
		ASSERT_HAS(err, "all: ");
		snprintf(want, sizeof(want), "argument %u is %s,", k + 1,
			 type_names[wrong]);
		ASSERT_HAS(err, want);
		snprintf(want, sizeof(want), "takes %s there",
			 type_names[param_types[k]]);
		ASSERT_HAS(err, want);
		snprintf(want, sizeof(want), "(%s)", text);
		ASSERT_HAS(err, want);
	}
}

TEST(check_wrong_type_message)
{
	static const uint8_t two_i64[] = { CALLBOX_WIRE_I64, CALLBOX_WIRE_I64 };
	struct callbox_wire_value args[2] = {
		CALLBOX_I64(1), CALLBOX_STRING("two"),
	};
	struct callbox_signature sig;
	char err[512];

	make_sig(&sig, CALLBOX_WIRE_I64, two_i64, 2);
	ASSERT_EQ(-EINVAL, callbox_signature_check(&sig, "add", args, 2, err,
						   sizeof(err)));
	ASSERT_STREQ("add: argument 2 is string, but the function takes i64 there (i64 add(i64, i64))",
		     err);

	/* Several wrong: the first is the one reported. */
	args[0] = CALLBOX_BOOL(false);
	ASSERT_EQ(-EINVAL, callbox_signature_check(&sig, "add", args, 2, err,
						   sizeof(err)));
	ASSERT_HAS(err, "argument 1 is bool,");
	ASSERT_LACKS(err, "argument 2");

	/* A value with no type tag at all is named, not indexed with. */
	args[0] = (struct callbox_wire_value){ .type = 0xff };
	ASSERT_EQ(-EINVAL, callbox_signature_check(&sig, "add", args, 2, err,
						   sizeof(err)));
	ASSERT_HAS(err, "argument 1 is unknown,");

	/* VOID is no argument either. */
	args[0] = (struct callbox_wire_value){ .type = CALLBOX_WIRE_VOID };
	ASSERT_EQ(-EINVAL, callbox_signature_check(&sig, "add", args, 2, err,
						   sizeof(err)));
	ASSERT_HAS(err, "argument 1 is void,");
}

TEST(check_longest_signature)
{
	/*
	 * The longest signature there is: the longest name, and the longest
	 * type names everywhere. The message must carry all of it, so the
	 * formatted text inside must not have been cut short.
	 */
	struct callbox_wire_value args[CALLBOX_MAX_PARAMS] = { 0 };
	uint8_t params[CALLBOX_MAX_PARAMS];
	struct callbox_signature sig;
	char name[CALLBOX_FUNCTION_NAME_MAX], text[1024], err[1024];
	unsigned int i;

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	memset(params, CALLBOX_WIRE_STRING, sizeof(params));
	make_sig(&sig, CALLBOX_WIRE_STRING, params, CALLBOX_MAX_PARAMS);
	callbox_signature_format(&sig, name, text, sizeof(text));
	ASSERT_EQ(7 + 63 + 1 + 32 * 6 + 31 * 2 + 1, strlen(text));

	for (i = 0; i < CALLBOX_MAX_PARAMS; i++)
		args[i].type = CALLBOX_WIRE_STRING;
	args[CALLBOX_MAX_PARAMS - 1].type = CALLBOX_WIRE_BYTES;
	ASSERT_EQ(-EINVAL, callbox_signature_check(&sig, name, args,
						   CALLBOX_MAX_PARAMS, err,
						   sizeof(err)));
	ASSERT_HAS(err, "argument 32 is bytes,");
	ASSERT_HAS(err, text);
	ASSERT_EQ(')', err[strlen(err) - 1]);
	ASSERT_EQ(')', err[strlen(err) - 2]);

	ASSERT_EQ(-EINVAL, callbox_signature_check(&sig, name, args, 1, err,
						   sizeof(err)));
	ASSERT_HAS(err, text);
}

TEST(check_small_err)
{
	struct callbox_signature sig;
	struct callbox_wire_value arg = CALLBOX_I64(1);
	char err[6], none = POISON;

	make_sig(&sig, CALLBOX_WIRE_VOID, NULL, 0);
	ASSERT_EQ(-EINVAL, callbox_signature_check(&sig, "ping", &arg, 1, err,
						   sizeof(err)));
	ASSERT_STREQ("ping:", err);

	ASSERT_EQ(-EINVAL, callbox_signature_check(&sig, "ping", &arg, 1,
						   &none, 0));
	ASSERT_EQ((char)POISON, none);
	ASSERT_EQ(0, callbox_signature_check(&sig, "ping", NULL, 0, &none, 0));
	ASSERT_EQ((char)POISON, none);
}

/* ---- callbox_signature_from_desc() ---- */

/* A valid export: i64 add(i64, i64), and poison wherever nothing counts. */
static void good_desc(struct callbox_export_desc *desc)
{
	memset(desc, POISON, sizeof(*desc));
	memset(desc->name, 0, sizeof(desc->name));
	strcpy(desc->name, "add");
	desc->ret_type = CALLBOX_WIRE_I64;
	desc->nr_params = 2;
	desc->params[0] = CALLBOX_WIRE_I64;
	desc->params[1] = CALLBOX_WIRE_I64;
}

/*
 * callbox_signature_from_desc() on a heap copy of @desc, with the name
 * going into a heap buffer of exactly the promised size.
 */
static int from_desc(const struct callbox_export_desc *desc,
		     struct callbox_signature *sig, char *name_out,
		     char *err, size_t errlen)
{
	struct callbox_export_desc *copy = malloc(sizeof(*copy));
	char *name = malloc(CALLBOX_FUNCTION_NAME_MAX);
	int ret;

	if (!copy || !name)
		abort();
	memcpy(copy, desc, sizeof(*copy));
	memset(name, POISON, CALLBOX_FUNCTION_NAME_MAX);
	memset(sig, POISON, sizeof(*sig));
	memset(err, POISON, errlen);
	ret = callbox_signature_from_desc(copy, sig, name, err, errlen);
	memcpy(name_out, name, CALLBOX_FUNCTION_NAME_MAX);
	free(name);
	free(copy);
	return ret;
}

/* Every rejected export: -EPROTO and a message that says @why. */
#define ASSERT_DESC_FAILS(desc, why) do {				\
	struct callbox_signature __sig;					\
	char __name[CALLBOX_FUNCTION_NAME_MAX], __err[512];		\
									\
	ASSERT_EQ(-EPROTO, from_desc((desc), &__sig, __name, __err,	\
				     sizeof(__err))) TH_LOG("%s", __err); \
	ASSERT_LT(strlen(__err), sizeof(__err));			\
	ASSERT_HAS(__err, (why));					\
} while (0)

TEST(desc_valid)
{
	struct callbox_export_desc desc;
	struct callbox_signature sig;
	char name[CALLBOX_FUNCTION_NAME_MAX], err[256];

	good_desc(&desc);
	ASSERT_EQ(0, from_desc(&desc, &sig, name, err, sizeof(err)))
		TH_LOG("%s", err);
	ASSERT_STREQ("", err);
	ASSERT_STREQ("add", name);
	ASSERT_EQ(CALLBOX_WIRE_I64, sig.ret_type);
	ASSERT_EQ(2, sig.nr_params);
	ASSERT_EQ(CALLBOX_WIRE_I64, sig.params[0]);
	ASSERT_EQ(CALLBOX_WIRE_I64, sig.params[1]);

	/* No parameters and no result. */
	good_desc(&desc);
	strcpy(desc.name, "ping");
	desc.ret_type = CALLBOX_WIRE_VOID;
	desc.nr_params = 0;
	ASSERT_EQ(0, from_desc(&desc, &sig, name, err, sizeof(err)))
		TH_LOG("%s", err);
	ASSERT_STREQ("ping", name);
	ASSERT_EQ(CALLBOX_WIRE_VOID, sig.ret_type);
	ASSERT_EQ(0, sig.nr_params);
}

TEST(desc_every_type_and_max_params)
{
	struct callbox_export_desc desc;
	struct callbox_signature sig;
	char name[CALLBOX_FUNCTION_NAME_MAX], err[256];
	unsigned int type, i;

	for (type = 0; type < CALLBOX_WIRE_TYPE_COUNT; type++) {
		good_desc(&desc);
		desc.ret_type = (uint8_t)type;
		desc.nr_params = CALLBOX_MAX_PARAMS;
		for (i = 0; i < CALLBOX_MAX_PARAMS; i++)
			desc.params[i] = param_types[(i + type) % NR_PARAM_TYPES];
		ASSERT_EQ(0, from_desc(&desc, &sig, name, err, sizeof(err)))
			TH_LOG("%s", err);
		ASSERT_EQ(type, sig.ret_type);
		ASSERT_EQ(CALLBOX_MAX_PARAMS, sig.nr_params);
		ASSERT_EQ(0, memcmp(desc.params, sig.params,
				    CALLBOX_MAX_PARAMS));
	}
}

TEST(desc_longest_name)
{
	struct callbox_export_desc desc;
	struct callbox_signature sig;
	char name[CALLBOX_FUNCTION_NAME_MAX], err[256];

	/* 63 characters and the NUL fill the name, and the output, exactly. */
	good_desc(&desc);
	memset(desc.name, 'x', sizeof(desc.name) - 1);
	desc.name[sizeof(desc.name) - 1] = '\0';
	ASSERT_EQ(0, from_desc(&desc, &sig, name, err, sizeof(err)))
		TH_LOG("%s", err);
	ASSERT_EQ(0, memcmp(desc.name, name, sizeof(desc.name)));

	/* Every printable byte but the space is allowed. */
	good_desc(&desc);
	strcpy(desc.name, "!~:.@_$Az09[]{}<>\"'\\");
	ASSERT_EQ(0, from_desc(&desc, &sig, name, err, sizeof(err)))
		TH_LOG("%s", err);
	ASSERT_STREQ(desc.name, name);
}

TEST(desc_name_unterminated)
{
	struct callbox_export_desc desc;

	good_desc(&desc);
	memset(desc.name, 'x', sizeof(desc.name));
	ASSERT_DESC_FAILS(&desc, "not NUL-terminated within 64 bytes");
}

TEST(desc_name_empty)
{
	struct callbox_export_desc desc;

	good_desc(&desc);
	memset(desc.name, 0, sizeof(desc.name));
	ASSERT_DESC_FAILS(&desc, "the name is empty");

	/* Bytes after the NUL do not make it a name. */
	memset(desc.name + 1, 'x', sizeof(desc.name) - 1);
	ASSERT_DESC_FAILS(&desc, "the name is empty");
}

TEST(desc_name_unprintable)
{
	static const struct {
		const char *name;
		const char *why;
	} cases[] = {
		{ "a b", "byte 0x20 at 1" },
		{ " ab", "byte 0x20 at 0" },
		{ "ab\t", "byte 0x09 at 2" },
		{ "a\nb", "byte 0x0a at 1" },
		{ "\x01", "byte 0x01 at 0" },
		{ "ab\x7f", "byte 0x7f at 2" },
		/* A negative char where char is signed: still caught. */
		{ "a\x80", "byte 0x80 at 1" },
		{ "\xff", "byte 0xff at 0" },
		{ "caf\xc3\xa9", "byte 0xc3 at 3" },
	};
	struct callbox_export_desc desc;
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		good_desc(&desc);
		strcpy(desc.name, cases[i].name);
		ASSERT_DESC_FAILS(&desc, cases[i].why);
		ASSERT_DESC_FAILS(&desc, "not printable ASCII");
	}
}

TEST(desc_bad_result)
{
	struct callbox_export_desc desc;

	good_desc(&desc);
	desc.ret_type = CALLBOX_WIRE_TYPE_COUNT;
	ASSERT_DESC_FAILS(&desc, "add: the result type tag 10 is no type");

	desc.ret_type = 0xff;
	ASSERT_DESC_FAILS(&desc, "add: the result type tag 255 is no type");
}

TEST(desc_too_many_params)
{
	struct callbox_export_desc desc;

	good_desc(&desc);
	memset(desc.params, CALLBOX_WIRE_I64, sizeof(desc.params));
	desc.nr_params = CALLBOX_MAX_PARAMS + 1;
	ASSERT_DESC_FAILS(&desc, "add: 33 parameters, more than 32");

	desc.nr_params = 0xff;
	ASSERT_DESC_FAILS(&desc, "add: 255 parameters, more than 32");
}

TEST(desc_void_param)
{
	struct callbox_export_desc desc;
	char why[128];
	unsigned int k;

	/* At each position, the last one included. */
	for (k = 0; k < CALLBOX_MAX_PARAMS; k++) {
		good_desc(&desc);
		desc.nr_params = CALLBOX_MAX_PARAMS;
		memset(desc.params, CALLBOX_WIRE_U32, sizeof(desc.params));
		desc.params[k] = CALLBOX_WIRE_VOID;
		snprintf(why, sizeof(why),
			 "add: parameter %u has type tag 0, which is no parameter type",
			 k + 1);
		ASSERT_DESC_FAILS(&desc, why);
	}
}

TEST(desc_param_tag_too_large)
{
	static const uint8_t tags[] = { CALLBOX_WIRE_TYPE_COUNT, 0x7f, 0xff };
	struct callbox_export_desc desc;
	char why[128];
	unsigned int i;

	for (i = 0; i < sizeof(tags); i++) {
		good_desc(&desc);
		desc.params[1] = tags[i];
		snprintf(why, sizeof(why),
			 "add: parameter 2 has type tag %u, which is no parameter type",
			 tags[i]);
		ASSERT_DESC_FAILS(&desc, why);
	}
}

TEST(desc_params_past_count_ignored)
{
	struct callbox_export_desc desc;
	struct callbox_signature sig;
	char name[CALLBOX_FUNCTION_NAME_MAX], err[256];

	/* Slots past nr_params are not parameters: their bytes don't count. */
	good_desc(&desc);
	desc.nr_params = 1;
	desc.params[1] = CALLBOX_WIRE_VOID;
	desc.params[2] = 0xff;
	ASSERT_EQ(0, from_desc(&desc, &sig, name, err, sizeof(err)))
		TH_LOG("%s", err);
	ASSERT_EQ(1, sig.nr_params);
}

TEST(desc_small_err)
{
	struct callbox_export_desc desc;
	struct callbox_signature sig;
	char name[CALLBOX_FUNCTION_NAME_MAX], err[5], none = POISON;

	good_desc(&desc);
	desc.ret_type = 0xff;
	ASSERT_EQ(-EPROTO, from_desc(&desc, &sig, name, err, sizeof(err)));
	ASSERT_STREQ("add:", err);

	ASSERT_EQ(-EPROTO, callbox_signature_from_desc(&desc, &sig, name,
						       &none, 0));
	ASSERT_EQ((char)POISON, none);
}

TEST_HARNESS_MAIN
