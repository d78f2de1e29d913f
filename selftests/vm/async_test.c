// SPDX-License-Identifier: GPL-2.0
/*
 * Asynchronous calls through libcallbox: submitted calls run by a runner
 * thread keep each its own result until it is collected, a deadline holds
 * with no runner at all, and stopping the runners wakes a runner that
 * waits for work. callbox_call_run_all() runs them all in one batch, each
 * call with its own request (the guest follows the mailbox's chain), past
 * a cancelled call and through host calls.
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

/* Each call of a batch is served its own request: result i is i's. */
TEST(run_all_in_one_batch)
{
	struct callbox_sandbox *sb = load(NULL, "arith");
	struct callbox_wire_value args[2], res;
	struct callbox_outcome out;
	uint64_t ids[10];
	int i;

	for (i = 0; i < 10; i++) {
		args[0] = CALLBOX_I64(i);
		args[1] = CALLBOX_I64(1000);
		ASSERT_EQ(0, callbox_call_submit(sb, i % 2 ? "add" : "sub",
						 args, 2, 0, &ids[i]));
	}
	/* One cancelled in the middle: the batch goes on past it. */
	ASSERT_EQ(0, callbox_call_cancel(sb, ids[4]));
	EXPECT_EQ(10, callbox_call_run_all(sb, 0)) {
		TH_LOG("%s", callbox_sandbox_last_error(sb));
	}
	EXPECT_EQ(-ETIME, callbox_call_run_all(sb,
					       callbox_deadline_after(1000000)));
	for (i = 9; i >= 0; i--) {
		if (i == 4) {
			EXPECT_EQ(-ECANCELED, callbox_call_wait(sb, ids[i], 0,
								&res, &out));
			EXPECT_EQ(0, out.call.flags & CALLBOX_CALL_GUEST_RAN);
			continue;
		}
		ASSERT_EQ(0, callbox_call_wait(sb, ids[i], 0, &res, &out));
		EXPECT_EQ(i % 2 ? i + 1000 : i - 1000, res.i64);
	}
	callbox_sandbox_free(sb);
}

/* A call that makes a host call stops the batch; the rest go on after. */
TEST(run_all_through_host_calls)
{
	struct callbox_sandbox *sb = sandbox_new(NULL);
	struct callbox_wire_value arg, res;
	uint64_t ids[4];
	int i, ran = 0, ret;

	ASSERT_EQ(0, callbox_sandbox_add_host_fn(sb, "transform", "i64(i64)",
						 host_double, NULL));
	load_into(sb, "host");
	for (i = 0; i < 4; i++) {
		arg = CALLBOX_I64(i);
		ASSERT_EQ(0, callbox_call_submit(sb, "via_host", &arg, 1, 0,
						 &ids[i]));
	}
	while (ran < 4) {
		ret = callbox_call_run_all(sb, 0);
		ASSERT_LT(0, ret) {
			TH_LOG("%s", callbox_sandbox_last_error(sb));
		}
		ran += ret;
	}
	EXPECT_EQ(4, ran);
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, callbox_call_wait(sb, ids[i], 0, &res, NULL));
		EXPECT_EQ(2 * i + 1, res.i64);
	}
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
