// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of function signatures (lib/signature.c): checking typed
 * arguments against one, and vetting the export descriptors a hostile
 * guest publishes. Built under ASan and UBSan, with inputs in heap
 * buffers of exactly their size.
 */
#include "signature_util.h"

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
