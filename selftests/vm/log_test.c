// SPDX-License-Identifier: GPL-2.0
/*
 * Guest logs through libcallbox: what passes the configured threshold
 * arrives at the host's log function, in order and from the guest's init
 * too, formatted as the guest asked; a record that ignores the rules
 * arrives bounded and printable.
 */
#include <stdio.h>

#include <callbox/callbox.h>

#include "sdk_util.h"

struct log_capture {
	int n;
	unsigned int level[16];
	char message[16][CALLBOX_LOG_MESSAGE_MAX];
};

static void capture_log(struct callbox_sandbox *sb, unsigned int level,
			const char *message, void *opaque)
{
	struct log_capture *cap = opaque;

	(void)sb;
	if (cap->n < 16) {
		cap->level[cap->n] = level;
		snprintf(cap->message[cap->n], sizeof(cap->message[0]), "%s",
			 message);
	}
	cap->n++;
}

static struct callbox_sandbox *load_logging(struct __test_metadata *_metadata,
					    const char *guest,
					    unsigned int level,
					    struct log_capture *cap)
{
	struct callbox_config cfg;
	struct callbox_sandbox *sb;

	callbox_config_init(&cfg);
	cfg.log_level = level;
	sb = sandbox_new(&cfg);
	/* Before the load, which logs the guest's init. */
	callbox_sandbox_set_log_fn(sb, capture_log, cap);
	load_into(sb, guest);
	return sb;
}

/* Log levels: what passes the threshold arrives, in order, even from init. */
TEST(guest_logging)
{
	struct log_capture cap = {};
	struct callbox_sandbox *sb;
	int64_t r;

	sb = load_logging(_metadata, "host", CALLBOX_LOG_DEBUG, &cap);
	ASSERT_EQ(1, cap.n);
	EXPECT_EQ(CALLBOX_LOG_INFO, cap.level[0]);
	EXPECT_STREQ("host guest ready", cap.message[0]);

	ASSERT_EQ(0, callbox_call_int(sb, "log_levels", NULL, 0, &r));
	EXPECT_EQ(5, r);
	ASSERT_EQ(5, cap.n);	/* no trace message */
	EXPECT_EQ(CALLBOX_LOG_ERROR, cap.level[1]);
	EXPECT_STREQ("an error", cap.message[1]);
	EXPECT_EQ(CALLBOX_LOG_DEBUG, cap.level[4]);
	EXPECT_STREQ("a debug message", cap.message[4]);
	callbox_sandbox_free(sb);

	/* The default threshold: errors and warnings only. */
	cap = (struct log_capture) {};
	sb = load_logging(_metadata, "host", CALLBOX_LOG_WARN, &cap);
	ASSERT_EQ(0, callbox_call_int(sb, "log_levels", NULL, 0, &r));
	EXPECT_EQ(2, cap.n);
	callbox_sandbox_free(sb);

	/* Off. */
	cap = (struct log_capture) {};
	sb = load_logging(_metadata, "host", 0, &cap);
	ASSERT_EQ(0, callbox_call_int(sb, "log_levels", NULL, 0, &r));
	EXPECT_EQ(0, cap.n);
	callbox_sandbox_free(sb);
}

TEST(guest_logf)
{
	struct log_capture cap = {};
	struct callbox_sandbox *sb;
	int64_t n = -42, r;

	sb = load_logging(_metadata, "host", CALLBOX_LOG_INFO, &cap);
	ASSERT_EQ(0, callbox_call_int(sb, "log_formatted", &n, 1, &r));
	EXPECT_EQ(-42, r);
	ASSERT_EQ(2, cap.n);	/* the init message, then ours */
	EXPECT_STREQ("n = -42, hex 0xffffffffffffffd6, done", cap.message[1]);
	callbox_sandbox_free(sb);
}

/* A log record that ignores the rules arrives bounded and printable. */
TEST(hostile_log_record)
{
	struct log_capture cap = {};
	struct callbox_sandbox *sb;
	int64_t r;
	int i;

	sb = load_logging(_metadata, "fault", CALLBOX_LOG_TRACE, &cap);
	ASSERT_EQ(0, callbox_call_int(sb, "hostile_log", NULL, 0, &r));
	EXPECT_EQ(7, r);
	ASSERT_EQ(1, cap.n);	/* level 99 was dropped */
	EXPECT_EQ(CALLBOX_LOG_ERROR, cap.level[0]);
	ASSERT_EQ(CALLBOX_LOG_MESSAGE_MAX - 1, strlen(cap.message[0]));
	for (i = 0; i < CALLBOX_LOG_MESSAGE_MAX - 1; i++)
		ASSERT_EQ(i % 2 ? '?' : 'A', cap.message[0][i]);
	callbox_sandbox_free(sb);
}

TEST_HARNESS_MAIN
