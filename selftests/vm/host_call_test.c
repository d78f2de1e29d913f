// SPDX-License-Identifier: GPL-2.0
/*
 * Host functions through libcallbox: the guest calls them back by name,
 * many times and nested in one guest call, with strings both ways; and a
 * call cancelled while its host function runs stops that function early.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <callbox/callbox.h>

#include "sdk_util.h"

/*
 * The host functions guest/examples/host.c calls, registered by name:
 * i64 transform(i64) doubles, i64 wait() takes as long as the host likes
 * (until its call is cancelled), string greeting(string) greets.
 */
struct host_state {
	volatile int started;		/* wait() is running */
	volatile int saw_cancel;	/* and learnt its call was cancelled */
};

/* A long host function that stops early when its call is cancelled. */
static int host_wait(struct callbox_sandbox *sb,
		     const struct callbox_wire_value *args,
		     struct callbox_wire_writer *result, void *opaque)
{
	struct host_state *st = opaque;
	int i;

	(void)args;
	st->started = 1;
	for (i = 0; i < 10000; i++) {
		if (callbox_host_fn_cancelled(sb)) {
			st->saw_cancel = 1;
			return callbox_host_fn_fail(sb, -ECANCELED,
						    "wait: the call was cancelled");
		}
		usleep(1000);
	}
	callbox_wire_put_i64(result, 0);
	return 0;
}

static int host_greeting(struct callbox_sandbox *sb,
			 const struct callbox_wire_value *args,
			 struct callbox_wire_writer *result, void *opaque)
{
	char *text;
	int ret;

	(void)opaque;
	if (asprintf(&text, "hello, %s", (const char *)args[0].data) < 0)
		return callbox_host_fn_fail(sb, -ENOMEM, "out of memory");
	ret = callbox_wire_put_string(result, text);
	free(text);
	return ret ? callbox_host_fn_fail(sb, -E2BIG, "greeting too long") : 0;
}

static void add_host_fns(struct __test_metadata *_metadata,
			 struct callbox_sandbox *sb, struct host_state *st)
{
	ASSERT_EQ(0, callbox_sandbox_add_host_fn(sb, "transform", "i64(i64)",
						 host_double, NULL));
	ASSERT_EQ(0, callbox_sandbox_add_host_fn(sb, "wait", "i64()",
						 host_wait, st));
	ASSERT_EQ(0, callbox_sandbox_add_host_fn(sb, "greeting",
						 "string(string)",
						 host_greeting, NULL));
}

/* The host guest, with its host functions registered before the load. */
static struct callbox_sandbox *load_host(struct __test_metadata *_metadata,
					 struct host_state *st)
{
	struct callbox_sandbox *sb = sandbox_new(NULL);

	add_host_fns(_metadata, sb, st);
	load_into(sb, "host");
	return sb;
}

TEST(host_calls)
{
	struct callbox_sandbox *sb;
	struct host_state st = {};
	int64_t n, r;

	sb = load_host(_metadata, &st);
	n = 20;
	EXPECT_EQ(0, callbox_call_int(sb, "via_host", &n, 1, &r));
	EXPECT_EQ(41, r);
	n = 100;	/* many host calls nested in one guest call */
	EXPECT_EQ(0, callbox_call_int(sb, "many_host_calls", &n, 1, &r));
	EXPECT_EQ(9900, r);
	EXPECT_EQ(0, callbox_call_int(sb, "via_host", &n, 1, &r));
	EXPECT_EQ(201, r);
	callbox_sandbox_free(sb);
}

/*
 * A string through two host calls nested in one guest call, the second
 * fed the first's result: strings travel both ways, and the guest keeps
 * its copy of the first result although the second reuses the buffer.
 */
TEST(host_call_strings)
{
	struct callbox_sandbox *sb;
	struct callbox_wire_value name = CALLBOX_STRING("world");
	struct callbox_wire_value r = {};
	struct host_state st = {};

	sb = load_host(_metadata, &st);
	ASSERT_EQ(0, callbox_call(sb, "greet_twice", &name, 1, &r)) {
		TH_LOG("%s", callbox_sandbox_last_error(sb));
	}
	ASSERT_EQ(CALLBOX_WIRE_STRING, r.type);
	EXPECT_STREQ("hello, hello, world", (const char *)r.data);
	EXPECT_EQ(strlen("hello, hello, world"), r.len);
	callbox_value_free(&r);
	callbox_sandbox_free(sb);
}

/* A host function found by the name the guest passes, with its result. */
TEST(host_call_by_name)
{
	struct callbox_sandbox *sb;
	struct callbox_wire_value args[2] = {
		CALLBOX_STRING("transform"), CALLBOX_I64(5),
	};
	struct callbox_wire_value r = {};
	struct host_state st = {};

	sb = load_host(_metadata, &st);
	ASSERT_EQ(0, callbox_call(sb, "try_host", args, 2, &r)) {
		TH_LOG("%s", callbox_sandbox_last_error(sb));
	}
	ASSERT_EQ(CALLBOX_WIRE_STRING, r.type);
	EXPECT_STREQ("ok i64 10", (const char *)r.data);
	callbox_value_free(&r);
	callbox_sandbox_free(sb);
}

/* Tests that wait on a guest get more than the default 30 s under TCG. */
FIXTURE(slow) {};
FIXTURE_SETUP(slow) {}
FIXTURE_TEARDOWN(slow) {}

/*
 * Cancel a call while its host function runs (Hyperlight cannot, its
 * issue #192): the host function learns it and stops early, the call ends
 * ABORTED, and the sandbox recovers with a reset.
 */
TEST_F_TIMEOUT(slow, cancel_during_host_function, 60)
{
	struct callbox_sandbox *sb;
	struct lib_runner r = { .calls = 1 };
	struct callbox_outcome out;
	struct callbox_wire_value v = CALLBOX_I64(12345);
	struct host_state st = {};
	int64_t n = 5, res;
	pthread_t t;
	uint64_t id;
	int i;

	sb = load_host(_metadata, &st);
	r.sb = sb;
	ASSERT_EQ(0, callbox_call_submit(sb, "wait_on_host", NULL, 0, 0, &id));
	ASSERT_EQ(0, pthread_create(&t, NULL, lib_runner, &r));
	for (i = 0; i < 10000 && !st.started; i++)
		usleep(1000);
	ASSERT_TRUE(st.started);

	EXPECT_EQ(0, callbox_call_cancel(sb, id));
	EXPECT_EQ(-ECANCELED, callbox_call_wait(sb, id, 0, &v, &out));
	EXPECT_EQ(CALLBOX_WIRE_VOID, v.type);	/* no result from a cancelled call */
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, r.ret);
	EXPECT_TRUE(st.saw_cancel);
	EXPECT_EQ(CALLBOX_ABORT_CANCELLED, out.call.reason);
	EXPECT_TRUE(out.call.flags & CALLBOX_CALL_GUEST_RAN);

	EXPECT_EQ(-ENOTRECOVERABLE, callbox_call_int(sb, "via_host", &n, 1,
						     &res));
	ASSERT_EQ(0, callbox_sandbox_reset(sb)) {
		TH_LOG("%s", callbox_sandbox_last_error(sb));
	}
	EXPECT_EQ(0, callbox_call_int(sb, "via_host", &n, 1, &res));
	EXPECT_EQ(11, res);
	callbox_sandbox_free(sb);
}

TEST_HARNESS_MAIN
