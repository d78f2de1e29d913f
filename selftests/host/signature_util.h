/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the signature suites share (signature_test, signature_check_test):
 * every type and its name, exact-size parsing, and signatures built by
 * hand.
 */
#ifndef CALLBOX_SIGNATURE_UTIL_H
#define CALLBOX_SIGNATURE_UTIL_H

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
static inline int type_parse_exact(const char *name, size_t len)
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
static inline int parse(const char *text, struct callbox_signature *sig,
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
static inline void build_text(char *buf, size_t len, const char *ret,
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

static inline void make_sig(struct callbox_signature *sig, uint8_t ret,
			    const uint8_t *params, unsigned int n)
{
	memset(sig, 0, sizeof(*sig));
	sig->ret_type = ret;
	sig->nr_params = (uint8_t)n;
	/* memcpy() from NULL is undefined even for 0 bytes; UBSan says so. */
	if (n)
		memcpy(sig->params, params, n);
}

#endif /* CALLBOX_SIGNATURE_UTIL_H */
