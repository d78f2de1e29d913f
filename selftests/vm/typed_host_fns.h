/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The typed host functions of typed_host_test.c and hostile_test.c: one of
 * each kind a guest can meet (a result of each type, a failure with and
 * without a message, a lie about the result's type, a result too big for
 * the guest), registered by name before the load.
 */
#ifndef CALLBOX_SELFTEST_TYPED_HOST_FNS_H
#define CALLBOX_SELFTEST_TYPED_HOST_FNS_H

#include <stdio.h>

#include <callbox/callbox.h>

#include "sdk_util.h"

struct host_counts {
	int transform;
};

/* A host function; it need not use every parameter. */
#define HOST_FN(name)							\
	static inline int						\
	name(struct callbox_sandbox *sb __attribute__((unused)),	\
	     const struct callbox_wire_value *args __attribute__((unused)), \
	     struct callbox_wire_writer *result __attribute__((unused)), \
	     void *opaque __attribute__((unused)))

HOST_FN(transform)
{
	struct host_counts *n = opaque;

	n->transform++;
	return callbox_wire_put_i64(result, 2 * args[0].i64);
}

HOST_FN(greeting)
{
	char text[256];

	snprintf(text, sizeof(text), "Hello, %s!", (const char *)args[0].data);
	return callbox_wire_put_string(result, text);
}

HOST_FN(fails)
{
	return callbox_host_fn_fail(sb, -EDOM, "no %lld for you",
				    (long long)args[0].i64);
}

HOST_FN(fails_silently)
{
	return 1234;
}

/* Declared to return i64, puts a string. */
HOST_FN(lies)
{
	return callbox_wire_put_string(result, "oops");
}

/* A result larger than the guest's input buffer. */
HOST_FN(too_big)
{
	static char big[CALLBOX_DEFAULT_IO_BUFFER + 1];

	memset(big, 'b', sizeof(big) - 1);
	/* The writer's error is the library's to report, not ours. */
	callbox_wire_put_string(result, big);
	return 0;
}

HOST_FN(nothing)
{
	return 0;
}

HOST_FN(takes_string)
{
	return callbox_wire_put_i64(result, args[0].len);
}

static inline void add_host_fns(struct __test_metadata *_metadata,
				struct callbox_sandbox *sb,
				struct host_counts *n)
{
	static const struct {
		const char *name, *signature;
		callbox_host_fn fn;
	} fns[] = {
		{ "transform", "i64(i64)", transform },
		{ "greeting", "string(string)", greeting },
		{ "fails", "i64(i64)", fails },
		{ "fails_silently", "i64(i64)", fails_silently },
		{ "lies", "i64(i64)", lies },
		{ "too_big", "string(i64)", too_big },
		{ "nothing", "void(i64)", nothing },
		{ "takes_string", "i64(string)", takes_string },
	};
	size_t i;

	/* Braces: ASSERT_EQ() { TH_LOG() } is two statements. */
	for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		ASSERT_EQ(0, callbox_sandbox_add_host_fn(sb, fns[i].name,
							 fns[i].signature,
							 fns[i].fn, n)) {
			TH_LOG("%s", callbox_sandbox_last_error(sb));
		}
	}
}

/* A sandbox with every host function above, and @guest loaded. */
static inline struct callbox_sandbox *
load_with_host_fns(struct __test_metadata *_metadata, const char *guest,
		   struct host_counts *n)
{
	struct callbox_sandbox *sb;

	memset(n, 0, sizeof(*n));
	sb = sandbox_new(NULL);
	add_host_fns(_metadata, sb, n);
	load_into(sb, guest);
	return sb;
}

#endif /* CALLBOX_SELFTEST_TYPED_HOST_FNS_H */
