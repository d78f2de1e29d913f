// SPDX-License-Identifier: GPL-2.0
/*
 * Guests that break the rules, through libcallbox: every malformed
 * message a hostile guest writes (a reply, a host call, an export table)
 * is an error with a clear message that leaves the host healthy; the
 * guest checks each call against its own table whatever the host did; a
 * reset keeps what is queued and what is not yet collected, and how a
 * call aborted; runners keep the order of submission.
 */
#include <pthread.h>
#include <stdio.h>

#include <callbox/callbox.h>

#include "sdk_util.h"
#include "typed_host_fns.h"

FIXTURE(hostile) {
	struct callbox_sandbox *sb;
	struct host_counts n;
};

FIXTURE_SETUP(hostile)
{
	if (access("/dev/callbox", F_OK))
		SKIP(return, "/dev/callbox is missing");
	self->sb = load_with_host_fns(_metadata, "hostile", &self->n);
}

FIXTURE_TEARDOWN(hostile)
{
	callbox_sandbox_free(self->sb);
}

/* The cases of selftests/guests/hostile.c's reply(), in its order. */
static const struct {
	int err;
	const char *needle;
} hostile_replies[] = {
	{ 0, NULL },					/* fine */
	{ -EBADMSG, "message length past the end of the buffer (value 16385" },
	{ -EBADMSG, "string length runs past the message end" },
	{ -EBADMSG, "string not NUL-terminated" },
	{ -EBADMSG, "unknown type tag (value 119" },
	{ -EBADMSG, "the guest returned i64, but the function is declared to return string" },
	{ -EBADMSG, "bad magic" },
	{ -EBADMSG, "holds 2 values, not one" },
	{ -EBADMSG, "holds no value" },
	{ -EBADMSG, "trailing bytes after the last value" },
	{ -EBADMSG, "NUL byte inside a string" },
	{ -EBADMSG, "string length runs past the message end (value 4294967295" },
	/* The first string's length swallows the second value's bytes. */
	{ -EBADMSG, "NUL byte inside a string (value 14" },
	{ -EBADMSG, "message length shorter than its header (value 5" },
	{ -EINVAL, "reply: the guest refused the call (status 2): (the guest left no readable message)" },
};

TEST_F(hostile, malformed_replies_are_errors)
{
	struct callbox_wire_value r;
	unsigned int c, round;

	/* Twice, so that every case also follows every other one. */
	for (round = 0; round < 2; round++) {
		for (c = 0; c < sizeof(hostile_replies) / sizeof(hostile_replies[0]); c++) {
			int ret = callbox_call(self->sb, "reply",
					       &CALLBOX_U32(c), 1, &r);

			EXPECT_EQ(hostile_replies[c].err, ret) {
				TH_LOG("case %u: %s", c,
				       callbox_sandbox_last_error(self->sb));
			}
			if (!ret) {
				EXPECT_STREQ("fine", (const char *)r.data);
				callbox_value_free(&r);
			} else {
				EXPECT_ERROR(self->sb, hostile_replies[c].needle);
				EXPECT_ERROR(self->sb, "reply: ");
			}
		}
	}
}

TEST_F(hostile, malformed_host_calls_are_answered)
{
	static const struct {
		int err;
		const char *needle;
	} cases[] = {
		{ -EINVAL, "host function name not NUL-terminated" },
		{ -EBADMSG, "transform: malformed arguments: bad magic" },
		{ -EBADMSG, "transform: malformed arguments: bytes length runs past the message end" },
		{ -ENOSYS, "unknown host call number 0x1234" },
		{ -ENOENT, "no host function named 'no_such_fn'" },
	};
	struct callbox_wire_value r;
	char want[32];
	unsigned int c;

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		ASSERT_EQ(0, callbox_call(self->sb, "raw_host_call",
					  &CALLBOX_U32(c), 1, &r)) {
			TH_LOG("case %u: %s", c, callbox_sandbox_last_error(self->sb));
		}
		snprintf(want, sizeof(want), "error %d: ", cases[c].err);
		EXPECT_EQ(0, strncmp(want, (const char *)r.data, strlen(want))) {
			TH_LOG("case %u: %s", c, r.data);
		}
		EXPECT_NE(NULL, strstr((const char *)r.data, cases[c].needle)) {
			TH_LOG("case %u: %s", c, r.data);
		}
		callbox_value_free(&r);
	}
	/* The host function never ran on any of those. */
	EXPECT_EQ(0, self->n.transform);
	ASSERT_EQ(0, callbox_call(self->sb, "ping", NULL, 0, &r));
	EXPECT_STREQ("pong", (const char *)r.data);
	callbox_value_free(&r);
}

/* The guest checks each call against its own table, whatever the host did. */
TEST_F(hostile, guest_checks_arguments_too)
{
	struct callbox_wire_value arg = CALLBOX_I64(5), r;

	ASSERT_EQ(0, callbox_call(self->sb, "target", &arg, 1, &r));
	EXPECT_STREQ("target ran", (const char *)r.data);
	callbox_value_free(&r);

	/* Now the guest's table says target takes a string. */
	ASSERT_EQ(0, callbox_call(self->sb, "mutate", &CALLBOX_U32(1), 1, &r));
	EXPECT_EQ(-EINVAL, callbox_call(self->sb, "target", &arg, 1, &r));
	EXPECT_ERROR(self->sb, "target: the guest refused the call (status 2): argument 1 is i64, but the function takes string there");

	/* ... and that it takes nothing. */
	ASSERT_EQ(0, callbox_call(self->sb, "mutate", &CALLBOX_U32(2), 1, &r));
	EXPECT_EQ(-EINVAL, callbox_call(self->sb, "target", &arg, 1, &r));
	EXPECT_ERROR(self->sb, "(status 2): 1 arguments given, but the function takes 0");
}

/*
 * A reset reloads the guest's memory but keeps the I/O buffers: the
 * arguments of a queued call, and the result of an ended call nobody has
 * collected yet, are both still there after it.
 */
TEST_F(hostile, reset_keeps_queued_arguments_and_uncollected_results)
{
	struct callbox_wire_value before = CALLBOX_STRING("ran before the reset");
	struct callbox_wire_value after = CALLBOX_STRING("queued across the reset");
	uint64_t id_before, id_spin, id_after;
	struct callbox_wire_value r;

	ASSERT_EQ(0, callbox_call_submit(self->sb, "echo_text", &before, 1, 0,
					 &id_before));
	ASSERT_EQ(0, callbox_call_run(self->sb, 0));
	ASSERT_EQ(0, callbox_call_submit(self->sb, "spin", NULL, 0,
					 callbox_deadline_after(200000000),
					 &id_spin));
	ASSERT_EQ(0, callbox_call_submit(self->sb, "echo_text", &after, 1, 0,
					 &id_after));

	/* The deadline stops the spin mid-call: the sandbox is poisoned. */
	ASSERT_EQ(0, callbox_call_run(self->sb, 0));
	EXPECT_EQ(-ETIMEDOUT, callbox_call_wait(self->sb, id_spin, 0, &r, NULL));
	/* A wait's message names the function too. */
	EXPECT_ERROR(self->sb, "spin: call ");
	EXPECT_EQ(-ENOTRECOVERABLE, callbox_call_run(self->sb, 0));

	ASSERT_EQ(0, callbox_sandbox_reset(self->sb)) {
		TH_LOG("%s", callbox_sandbox_last_error(self->sb));
	}
	ASSERT_EQ(0, callbox_call_run(self->sb, 0));
	ASSERT_EQ(0, callbox_call_wait(self->sb, id_after, 0, &r, NULL)) {
		TH_LOG("%s", callbox_sandbox_last_error(self->sb));
	}
	EXPECT_STREQ("queued across the reset", (const char *)r.data);
	callbox_value_free(&r);
	ASSERT_EQ(0, callbox_call_wait(self->sb, id_before, 0, &r, NULL));
	EXPECT_STREQ("ran before the reset", (const char *)r.data);
	callbox_value_free(&r);
}

/* Two runners still enter the calls in the order they were submitted. */
TEST_F_TIMEOUT(hostile, runners_keep_submission_order, 300)
{
	struct callbox_wire_value r;
	pthread_t runner[2];
	uint64_t id[15];
	int round, i;

	ASSERT_EQ(0, pthread_create(&runner[0], NULL, run_until_stopped,
				    self->sb));
	ASSERT_EQ(0, pthread_create(&runner[1], NULL, run_until_stopped,
				    self->sb));
	for (round = 0; round < 20; round++) {
		for (i = 0; i < 15; i++)
			ASSERT_EQ(0, callbox_call_submit(self->sb, "ticket",
							 NULL, 0, 0, &id[i]));
		for (i = 0; i < 15; i++) {
			ASSERT_EQ(0, callbox_call_wait(self->sb, id[i], 0, &r,
						       NULL));
			EXPECT_EQ((uint64_t)(round * 15 + i), r.u64) {
				TH_LOG("round %d: call %d entered as number %llu",
				       round, i, (unsigned long long)r.u64);
			}
		}
	}
	callbox_call_run_stop(self->sb);
	pthread_join(runner[0], NULL);
	pthread_join(runner[1], NULL);
}

/*
 * How a call aborted is kept with the call: a reset (which reloads the
 * mailbox) between the abort and the wait must not change what the wait
 * reports.
 */
TEST(abort_details_survive_a_reset)
{
	struct callbox_sandbox *sb;
	struct callbox_wire_value r;
	uint64_t id;

	if (access("/dev/callbox", F_OK))
		SKIP(return, "/dev/callbox is missing");
	sb = load(NULL, "fault");
	ASSERT_EQ(0, callbox_call_submit(sb, "null_deref", NULL, 0, 0, &id));
	ASSERT_EQ(0, callbox_call_run(sb, 0));
	ASSERT_EQ(0, callbox_sandbox_reset(sb)) {
		TH_LOG("%s", callbox_sandbox_last_error(sb));
	}
	EXPECT_EQ(-EIO, callbox_call_wait(sb, id, 0, &r, NULL));
	EXPECT_ERROR(sb, "null_deref: call ");
	EXPECT_ERROR(sb, "aborted by the guest, which reports CPU exception #PF page fault at rip 0x");
	EXPECT_ERROR(sb, ", address 0x0 (error 0x");
	callbox_sandbox_free(sb);
}

TEST(malformed_export_tables_fail_the_load)
{
	static const char *const needles[] = {
		NULL,
		"claims 4294967295 exports, more than the 128 that fit",
		"export 2 is malformed: the name is not NUL-terminated",
		"export 2 is malformed: bad: parameter 1 has type tag 153",
		"export 2 is malformed: bad: 200 parameters, more than 32",
		"export 2 is malformed: the name has byte 0x20 at 1",
		"the guest exports good twice",
		"claims 4097 exports, more than the 4096 that fit",
	};
	struct callbox_config cfg;
	struct callbox_sandbox *sb;
	unsigned int v;

	if (access("/dev/callbox", F_OK))
		SKIP(return, "/dev/callbox is missing");
	for (v = 1; v < sizeof(needles) / sizeof(needles[0]); v++) {
		callbox_config_init(&cfg);
		cfg.log_level = CALLBOX_LOG_TRACE;	/* hostile.c's switch */
		cfg.heap_size = v * 4096;
		/* The last one needs a buffer larger than 4096 exports. */
		if (v == sizeof(needles) / sizeof(needles[0]) - 1) {
			cfg.output_size = 1 << 20;
			cfg.max_calls = 1;
		}
		sb = sandbox_new(&cfg);
		load_into_err(EPROTO, sb, "hostile");
		EXPECT_ERROR(sb, needles[v]);
		callbox_sandbox_free(sb);
	}
}

TEST_HARNESS_MAIN
