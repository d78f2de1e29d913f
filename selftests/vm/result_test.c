// SPDX-License-Identifier: GPL-2.0
/*
 * A result is emptied on every failure: whatever a call's result held
 * before (garbage, even), after any failure it is VOID with no data, so
 * callbox_value_free() on it is safe; callbox_call_int()'s result is 0.
 * Each variant fails a call one way: before the guest runs (no such
 * function, bad arguments, an unknown id), in the guest, by a timeout,
 * a cancellation or a deadline, or by the wait's own deadline.
 */
#include <stdint.h>

#include <callbox/abi.h>
#include <callbox/callbox.h>

#include "sdk_util.h"

/* The way the call fails; it gets the result to fill. */
typedef int (*fail_fn)(struct __test_metadata *_metadata,
		       struct callbox_sandbox *sb,
		       struct callbox_wire_value *result);

static int fail_unknown_function(struct __test_metadata *_metadata,
				 struct callbox_sandbox *sb,
				 struct callbox_wire_value *result)
{
	(void)_metadata;
	return callbox_call(sb, "no_such_function", ONE(CALLBOX_STRING("x")), 1,
			    result);
}

static int fail_bad_args(struct __test_metadata *_metadata,
			 struct callbox_sandbox *sb,
			 struct callbox_wire_value *result)
{
	(void)_metadata;
	return callbox_call(sb, "reverse", ONE(CALLBOX_I64(1)), 1, result);
}

/* repeat() refuses a result longer than any buffer, with callbox_fail(). */
static int fail_in_guest(struct __test_metadata *_metadata,
			 struct callbox_sandbox *sb,
			 struct callbox_wire_value *result)
{
	struct callbox_wire_value args[2] = {
		CALLBOX_STRING("ab"), CALLBOX_U32(0xffffffff),
	};

	(void)_metadata;
	return callbox_call(sb, "repeat", args, 2, result);
}

/* spin() never returns: the variant's call timeout ends it. */
static int fail_call_timeout(struct __test_metadata *_metadata,
			     struct callbox_sandbox *sb,
			     struct callbox_wire_value *result)
{
	(void)_metadata;
	return callbox_call(sb, "spin", NULL, 0, result);
}

static int submit_reverse(struct __test_metadata *_metadata,
			  struct callbox_sandbox *sb, uint64_t deadline,
			  uint64_t *id)
{
	int ret = callbox_call_submit(sb, "reverse", ONE(CALLBOX_STRING("abc")), 1,
				      deadline, id);

	EXPECT_EQ(0, ret) {
		TH_LOG("submit: %s", callbox_sandbox_last_error(sb));
	}
	return ret;
}

static int fail_cancelled(struct __test_metadata *_metadata,
			  struct callbox_sandbox *sb,
			  struct callbox_wire_value *result)
{
	uint64_t id;

	if (submit_reverse(_metadata, sb, 0, &id))
		return 0;
	EXPECT_EQ(0, callbox_call_cancel(sb, id));
	return callbox_call_wait(sb, id, 0, result, NULL);
}

static int fail_deadline(struct __test_metadata *_metadata,
			 struct callbox_sandbox *sb,
			 struct callbox_wire_value *result)
{
	uint64_t id;

	if (submit_reverse(_metadata, sb, 1, &id))
		return 0;
	return callbox_call_wait(sb, id, 0, result, NULL);
}

/* The wait's own deadline passes: the call is still queued. */
static int fail_wait_deadline(struct __test_metadata *_metadata,
			      struct callbox_sandbox *sb,
			      struct callbox_wire_value *result)
{
	struct callbox_wire_value v;
	uint64_t id;
	int ret;

	if (submit_reverse(_metadata, sb, 0, &id))
		return 0;
	ret = callbox_call_wait(sb, id, callbox_deadline_after(10000000),
				result, NULL);
	/* Collect it, so the sandbox is clean for the next variant. */
	EXPECT_EQ(0, callbox_call_cancel(sb, id));
	EXPECT_EQ(-ECANCELED, callbox_call_wait(sb, id, 0, &v, NULL));
	return ret;
}

static int fail_unknown_id(struct __test_metadata *_metadata,
			   struct callbox_sandbox *sb,
			   struct callbox_wire_value *result)
{
	(void)_metadata;
	return callbox_call_wait(sb, 424242, 0, result, NULL);
}

FIXTURE(result) {
	struct callbox_sandbox *sb;
};

FIXTURE_VARIANT(result) {
	fail_fn fail;
	int ret;
	const char *guest;
	uint64_t call_timeout_ns;
};

FIXTURE_VARIANT_ADD(result, unknown_function) {
	fail_unknown_function, -ENOENT, "strings", 0,
};

FIXTURE_VARIANT_ADD(result, bad_args) {
	fail_bad_args, -EINVAL, "strings", 0,
};

FIXTURE_VARIANT_ADD(result, guest_failure) {
	fail_in_guest, -EREMOTEIO, "strings", 0,
};

/* The config's call timeout stops a guest that would spin forever. */
FIXTURE_VARIANT_ADD(result, call_timeout) {
	fail_call_timeout, -ETIMEDOUT, "spin", 200000000,
};

FIXTURE_VARIANT_ADD(result, cancelled) {
	fail_cancelled, -ECANCELED, "strings", 0,
};

FIXTURE_VARIANT_ADD(result, deadline) {
	fail_deadline, -ETIMEDOUT, "strings", 0,
};

FIXTURE_VARIANT_ADD(result, wait_deadline) {
	fail_wait_deadline, -ETIME, "strings", 0,
};

FIXTURE_VARIANT_ADD(result, unknown_id) {
	fail_unknown_id, -ENOENT, "strings", 0,
};

FIXTURE_SETUP(result)
{
	struct callbox_config cfg;

	callbox_config_init(&cfg);
	cfg.call_timeout_ns = variant->call_timeout_ns;
	self->sb = load(&cfg, variant->guest);
}

FIXTURE_TEARDOWN(result)
{
	callbox_sandbox_free(self->sb);
}

/*
 * A result full of garbage (a STRING whose data pointer is no allocation)
 * is emptied whatever the failure, so callbox_value_free() on it is safe.
 */
TEST_F(result, emptied_on_failure)
{
	struct callbox_wire_value r = {
		.type = CALLBOX_WIRE_STRING,
		.len = 7,
		.data = (const void *)(uintptr_t)0xdeadbeef,
	};
	int ret;

	ret = variant->fail(_metadata, self->sb, &r);
	EXPECT_EQ(variant->ret, ret) {
		TH_LOG("%s", callbox_sandbox_last_error(self->sb));
	}
	EXPECT_EQ(CALLBOX_WIRE_VOID, r.type);
	EXPECT_EQ(0, r.len);
	ASSERT_EQ(NULL, r.data) {
		TH_LOG("the garbage is still there: freeing it would crash");
	}
	callbox_value_free(&r);
	EXPECT_EQ(NULL, r.data);
}

/* callbox_call_int()'s result is 0 after a failure, whatever it held. */
TEST(int_result_zeroed_on_failure)
{
	struct callbox_sandbox *sb = load(NULL, "strings");
	int64_t r = 0x5555;

	EXPECT_EQ(-ENOENT, callbox_call_int(sb, "no_such_function", NULL, 0,
					    &r));
	EXPECT_EQ(0, r);
	r = 0x5555;
	/* reverse is not all i64. */
	EXPECT_EQ(-EINVAL, callbox_call_int(sb, "reverse", NULL, 0, &r));
	EXPECT_EQ(0, r);
	r = 0x5555;
	/* find(string, string) is i64, but its arguments are not. */
	EXPECT_EQ(-EINVAL, callbox_call_int(sb, "find", NULL, 0, &r));
	EXPECT_EQ(0, r);
	callbox_sandbox_free(sb);
}

TEST_HARNESS_MAIN
