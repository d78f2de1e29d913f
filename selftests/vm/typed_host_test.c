// SPDX-License-Identifier: GPL-2.0
/*
 * Typed host functions through a real guest: the guest calls them by name
 * with typed arguments and gets typed results, and every way one can fail
 * (an error with or without a message, no such function, arguments or a
 * result of the wrong type, a result too big) reaches the guest as an
 * error it can handle; registration checks names and signatures, and the
 * set is fixed once the guest is loaded.
 */
#include <stdio.h>

#include <callbox/callbox.h>

#include "sdk_util.h"
#include "typed_host_fns.h"

FIXTURE(host) {
	struct callbox_sandbox *sb;
	struct host_counts n;
};

FIXTURE_SETUP(host)
{
	if (access("/dev/callbox", F_OK))
		SKIP(return, "/dev/callbox is missing");
	self->sb = load_with_host_fns(_metadata, "host", &self->n);
}

FIXTURE_TEARDOWN(host)
{
	callbox_sandbox_free(self->sb);
}

/* try_host(name, x): what the guest saw when it called name(x). */
static void expect_try_host(struct __test_metadata *_metadata,
			    struct callbox_sandbox *sb, const char *name,
			    int64_t x, const char *want)
{
	struct callbox_wire_value args[] = { CALLBOX_STRING(name),
					     CALLBOX_I64(x) }, r;

	ASSERT_EQ(0, callbox_call(sb, "try_host", args, 2, &r)) {
		TH_LOG("%s", callbox_sandbox_last_error(sb));
	}
	EXPECT_STREQ(want, (const char *)r.data);
	callbox_value_free(&r);
}

TEST_F(host, typed_host_functions)
{
	struct callbox_wire_value r;
	char want[256];

	expect_try_host(_metadata, self->sb, "transform", 21, "ok i64 42");
	expect_try_host(_metadata, self->sb, "nothing", 1, "ok void");

	/* Strings both ways, two host calls in one guest call. */
	r = CALLBOX_STRING("Ada");
	ASSERT_EQ(0, callbox_call(self->sb, "greet_twice", &r, 1, &r));
	EXPECT_STREQ("Hello, Hello, Ada!!", (const char *)r.data);
	callbox_value_free(&r);

	/* Many host calls in one guest call. */
	self->n.transform = 0;
	ASSERT_EQ(0, callbox_call(self->sb, "many_host_calls",
				  &CALLBOX_I64(500), 1, &r));
	EXPECT_EQ(2 * (499 * 500 / 2), r.i64);
	EXPECT_EQ(500, self->n.transform);

	/* Failures the guest sees, with the code and the message. */
	expect_try_host(_metadata, self->sb, "fails", 3,
			"error -33: no 3 for you");
	expect_try_host(_metadata, self->sb, "fails_silently", 3,
			"error 1234: the host function failed");
	snprintf(want, sizeof(want), "error %d: no host function named 'nope'",
		 -ENOENT);
	expect_try_host(_metadata, self->sb, "nope", 3, want);
	snprintf(want, sizeof(want),
		 "error %d: takes_string: argument 1 is i64, but the function takes string there (i64 takes_string(string))",
		 -EINVAL);
	expect_try_host(_metadata, self->sb, "takes_string", 3, want);
	snprintf(want, sizeof(want),
		 "error %d: lies: the host function returned 1 values, not one i64",
		 -EPROTO);
	expect_try_host(_metadata, self->sb, "lies", 3, want);
	snprintf(want, sizeof(want),
		 "error %d: too_big: the result does not fit the guest's 16384-byte input buffer",
		 -E2BIG);
	expect_try_host(_metadata, self->sb, "too_big", 3, want);

	/* The sandbox is healthy after all of that. */
	expect_try_host(_metadata, self->sb, "transform", -4, "ok i64 -8");
}

TEST(host_fn_registration_is_checked)
{
	struct callbox_sandbox *sb;
	char name[CALLBOX_FUNCTION_NAME_MAX + 1];

	sb = sandbox_new(NULL);
	EXPECT_EQ(0, callbox_sandbox_add_host_fn(sb, "f", " void ( ) ",
						 nothing, NULL));
	EXPECT_EQ(-EEXIST, callbox_sandbox_add_host_fn(sb, "f", "void()",
						       nothing, NULL));
	EXPECT_ERROR(sb, "host function f is registered already");
	EXPECT_EQ(-EINVAL, callbox_sandbox_add_host_fn(sb, "g", "i64(int)",
						       nothing, NULL));
	EXPECT_ERROR(sb, "host function g: signature \"i64(int)\": parameter 1: 'int' is not one of");
	EXPECT_EQ(-EINVAL, callbox_sandbox_add_host_fn(sb, "g", "i64(void)",
						       nothing, NULL));
	EXPECT_EQ(-EINVAL, callbox_sandbox_add_host_fn(sb, "g", "i64(i64",
						       nothing, NULL));
	EXPECT_EQ(-EINVAL, callbox_sandbox_add_host_fn(sb, "a b", "void()",
						       nothing, NULL));
	EXPECT_EQ(-EINVAL, callbox_sandbox_add_host_fn(sb, "", "void()",
						       nothing, NULL));
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	EXPECT_EQ(-EINVAL, callbox_sandbox_add_host_fn(sb, name, "void()",
						       nothing, NULL));
	EXPECT_EQ(-EINVAL, callbox_sandbox_add_host_fn(sb, "g", "void()",
						       NULL, NULL));
	callbox_sandbox_free(sb);
}

/* The set of host functions is fixed once the guest runs. */
TEST_F(host, no_host_fn_after_the_load)
{
	EXPECT_EQ(-EBUSY, callbox_sandbox_add_host_fn(self->sb, "late",
						      "void()", nothing, NULL));
	EXPECT_ERROR(self->sb, "before callbox_sandbox_load()");
}

TEST_HARNESS_MAIN
