// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of function signatures (lib/signature.c): the types, parsing the
 * text a host registers a function with, and formatting a signature for
 * messages. Checking typed arguments against one, and the export
 * descriptors a hostile guest publishes, are signature_check_test's.
 *
 * Built under ASan and UBSan. Inputs are copied into heap buffers of
 * exactly their size, so that a read of even one byte past the end is
 * reported, which a bigger buffer or a string literal would hide.
 */
#include "signature_util.h"

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

TEST_HARNESS_MAIN
