// SPDX-License-Identifier: GPL-2.0
/*
 * Asynchronous calls through libcallbox: submitted calls run by a runner
 * thread keep each its own result until it is collected, a deadline holds
 * with no runner at all, and stopping the runners wakes a runner that
 * waits for work.
 */
#include <pthread.h>

#include <callbox/callbox.h>

#include "sdk_util.h"

/* Results stay in their own slots while later calls run. */
TEST(async_results_keep)
{
	struct callbox_sandbox *sb = load(NULL, "arith");
	struct lib_runner r = { .sb = sb, .calls = 10 };
	struct callbox_outcome out;
	struct callbox_wire_value args[2], res;
	uint64_t ids[10];
	pthread_t t;
	int i;

	for (i = 0; i < 10; i++) {
		args[0] = CALLBOX_I64(i);
		args[1] = CALLBOX_I64(100);
		ASSERT_EQ(0, callbox_call_submit(sb, "add", args, 2, 0,
						 &ids[i]));
	}
	ASSERT_EQ(0, pthread_create(&t, NULL, lib_runner, &r));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, r.ret);
	/* Collect in reverse: each result is its own call's. */
	for (i = 9; i >= 0; i--) {
		ASSERT_EQ(0, callbox_call_wait(sb, ids[i], 0, &res, &out));
		EXPECT_EQ(CALLBOX_WIRE_I64, res.type);
		EXPECT_EQ(100 + i, res.i64);
		EXPECT_EQ(CALLBOX_STATE_EXITED, out.call.state);
	}
	EXPECT_EQ(-ESRCH, callbox_call_wait(sb, ids[0], 0, &res, NULL));
	callbox_sandbox_free(sb);
}

/* The deadline holds even when no runner ever comes; no result is read. */
TEST(async_deadline_without_runner)
{
	struct callbox_sandbox *sb = load(NULL, "arith");
	struct callbox_wire_value args[2] = { CALLBOX_I64(1), CALLBOX_I64(2) };
	struct callbox_wire_value res = CALLBOX_I64(12345);
	struct callbox_outcome out;
	uint64_t id;

	ASSERT_EQ(0, callbox_call_submit(sb, "add", args, 2,
					 callbox_deadline_after(20000000),
					 &id));
	EXPECT_EQ(-ETIMEDOUT, callbox_call_wait(sb, id, 0, &res, &out));
	EXPECT_EQ(CALLBOX_ABORT_DEADLINE, out.call.reason);
	EXPECT_EQ(0, out.call.flags & CALLBOX_CALL_GUEST_RAN);
	EXPECT_EQ(CALLBOX_WIRE_VOID, res.type);	/* emptied, not read */
	/* A runner now finds nothing to enter, and the guest is healthy. */
	EXPECT_EQ(-ETIME, callbox_call_run(sb, callbox_deadline_after(1000000)));
	EXPECT_EQ(0, callbox_call(sb, "add", args, 2, &res));
	EXPECT_EQ(3, res.i64);
	callbox_sandbox_free(sb);
}

TEST(run_stop_wakes_runner)
{
	struct callbox_sandbox *sb = load(NULL, "arith");
	struct lib_runner r = { .sb = sb, .calls = -1 };
	pthread_t t;

	ASSERT_EQ(0, pthread_create(&t, NULL, lib_runner, &r));
	usleep(50 * 1000);
	callbox_call_run_stop(sb);
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(-ESHUTDOWN, r.ret);
	callbox_sandbox_free(sb);
}

TEST_HARNESS_MAIN
